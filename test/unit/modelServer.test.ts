/*
 * The scripted model server of helpers/modelServer.ts on its own (no agent CLI needed): each API's
 * streaming and plain answers, tool names found by suffix (prefixes, Codex's namespaces, Qwen Code's
 * tool_call bridge), tool results read back from each API's history format, asides, usage.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesTool, parseToolOutput, startModelServer, type ScriptTurn } from './helpers/modelServer';

/** The `data:` payloads (and `event:` names) of a server-sent events body. */
function events(text: string): { event?: string; data: any }[] {
  return text.split('\n\n').filter(b => b.trim()).map(block => {
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)![1];
    return { event, data: data === '[DONE]' ? '[DONE]' : JSON.parse(data) };
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; text: string; type: string }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
}

const script = (): ScriptTurn[] => [
  { tools: [{ tool: 'claim_next_task', args: {} }] },
  { tools: [{ tool: 'complete_task', args: seen => ({ task_id: seen.lastResult('claim_next_task').task.id, summary: 'ok' }) }] },
  { text: 'All done.' },
];

test('matchesTool: the registered name, or it after a prefix ending in _ . / -', () => {
  for (const n of ['claim_next_task', 'mcp__baton__claim_next_task', 'mcp_baton_claim_next_task', 'mcp__baton/claim_next_task']) assert.ok(matchesTool(n, 'claim_next_task'), n);
  for (const n of ['xclaim_next_task', 'claim_next_tasks', 'mcp__batonclaim_next_task']) assert.ok(!matchesTool(n, 'claim_next_task'), n);
});

test('parseToolOutput: JSON, JSON after a preamble (Codex) or inside a wrapper (Gemini CLI), else the text', () => {
  assert.deepEqual(parseToolOutput('{"a":1}'), { a: 1 });
  assert.deepEqual(parseToolOutput('Wall time: 0.02 seconds\nOutput:\n{\n "a": [1]\n}'), { a: [1] });
  assert.deepEqual(parseToolOutput('<untrusted_context>\n{"a":2}\n</untrusted_context>'), { a: 2 });
  assert.equal(parseToolOutput('Error: no such task'), 'Error: no such task');
});

test('Anthropic Messages: streamed tool_use with the exposed name, the tool result read back, usage, count_tokens, asides', async t => {
  const s = await startModelServer(script());
  t.after(() => s.close());
  const tools = [{ name: 'Bash' }, { name: 'mcp__baton__claim_next_task' }, { name: 'mcp__baton__complete_task' }];
  assert.equal((await fetch(`${s.url}/api/hello`, { method: 'HEAD' })).status, 200);
  assert.deepEqual(JSON.parse((await post(`${s.url}/v1/messages/count_tokens`, { messages: [] })).text).input_tokens > 0, true);

  // An aside (no tools: a title request) is answered with text and uses no turn.
  const aside = JSON.parse((await post(`${s.url}/v1/messages`, { messages: [{ role: 'user', content: 'title?' }] })).text);
  assert.equal(aside.content[0].type, 'text');
  assert.equal(s.turnsServed(), 0);

  const r1 = await post(`${s.url}/v1/messages?beta=true`, { stream: true, tools, messages: [{ role: 'user', content: 'go' }] });
  assert.match(r1.type, /text\/event-stream/);
  const e1 = events(r1.text);
  assert.deepEqual(e1.map(e => e.event), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  assert.deepEqual(e1.map(e => e.data.type), e1.map(e => e.event), 'each event names its type twice, as the API does');
  const use = e1[1].data.content_block;
  assert.deepEqual([use.type, use.name], ['tool_use', 'mcp__baton__claim_next_task']);
  assert.equal(e1[4].data.delta.stop_reason, 'tool_use');
  assert.ok(e1[0].data.message.usage.input_tokens > 0 && e1[4].data.usage.output_tokens > 0);

  const history = [
    { role: 'user', content: 'go' },
    { role: 'assistant', content: [{ type: 'tool_use', id: use.id, name: use.name, input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: '{"task":{"id":"T-7"}}' }] }] },
  ];
  const e2 = events((await post(`${s.url}/v1/messages`, { stream: true, tools, messages: history })).text);
  assert.equal(e2[1].data.content_block.name, 'mcp__baton__complete_task');
  assert.deepEqual(JSON.parse(e2[2].data.delta.partial_json), { task_id: 'T-7', summary: 'ok' }, 'arguments computed from the fed-back result');
  assert.deepEqual(s.lastResult('claim_next_task'), { task: { id: 'T-7' } });

  const e3 = events((await post(`${s.url}/v1/messages`, { stream: true, tools, messages: history })).text);
  assert.equal(e3[2].data.delta.text, 'All done.');
  assert.equal(e3[4].data.delta.stop_reason, 'end_turn');
  assert.equal(s.turnsServed(), 3);
  // After the script: a final text, and no more turns.
  assert.equal(JSON.parse((await post(`${s.url}/v1/messages`, { tools, messages: history })).text).content[0].text, 'Done.');
  assert.equal(s.turnsServed(), 3);
  assert.ok(s.totalUsage('agent').inputTokens < s.totalUsage().inputTokens, 'the aside counts in all, not in agent');
});

test('OpenAI Responses: a namespaced MCP tool (Codex) is called with namespace and inner name; function_call_output read back', async t => {
  const s = await startModelServer(script());
  t.after(() => s.close());
  const tools = [{ type: 'function', name: 'exec_command' }, { type: 'namespace', name: 'mcp__baton', tools: [{ type: 'function', name: 'claim_next_task' }, { type: 'function', name: 'complete_task' }] }];
  const e1 = events((await post(`${s.url}/v1/responses`, { stream: true, tools, input: [] })).text);
  assert.deepEqual(e1.map(e => e.event), ['response.created', 'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done', 'response.completed']);
  const call = e1[4].data.item;
  assert.deepEqual([call.type, call.namespace, call.name, call.arguments], ['function_call', 'mcp__baton', 'claim_next_task', '{}']);
  assert.ok(e1[5].data.response.usage.total_tokens > 0);
  const input = [call, { type: 'function_call_output', call_id: call.call_id, output: 'Wall time: 0.01 seconds\nOutput:\n{"task":{"id":"T-3"}}' }];
  const e2 = events((await post(`${s.url}/v1/responses`, { stream: true, tools, input })).text);
  assert.deepEqual(JSON.parse(e2[4].data.item.arguments), { task_id: 'T-3', summary: 'ok' });
  const e3 = events((await post(`${s.url}/v1/responses`, { stream: true, tools, input })).text);
  assert.equal(e3.find(e => e.event === 'response.output_item.done')!.data.item.content[0].text, 'All done.');
});

test('Chat Completions: tool_calls deltas, usage chunk and [DONE]; a deferred tool goes through the tool_call bridge (Qwen Code)', async t => {
  const s = await startModelServer(script());
  t.after(() => s.close());
  const fn = (name: string) => ({ type: 'function', function: { name } });
  const reminder = { role: 'user', content: [{ type: 'text', text: '- "mcp__baton__claim_next_task": "…"\n- "mcp__baton__complete_task": "…"' }] };
  const tools = [fn('read_file'), fn('tool_search'), fn('tool_call')];
  const e1 = events((await post(`${s.url}/v1/chat/completions`, { stream: true, tools, messages: [reminder] })).text);
  assert.equal(e1.at(-1)!.data, '[DONE]');
  const start = e1.find(e => e.data.choices?.[0]?.delta?.tool_calls?.[0]?.id)!.data.choices[0].delta.tool_calls[0];
  const args = e1.filter(e => e.data.choices?.[0]?.delta?.tool_calls).map(e => e.data.choices[0].delta.tool_calls[0].function.arguments).join('');
  assert.equal(start.function.name, 'tool_call');
  assert.deepEqual(JSON.parse(args), { name: 'mcp__baton__claim_next_task', arguments: {} });
  assert.equal(e1.find(e => e.data.choices?.[0]?.finish_reason)!.data.choices[0].finish_reason, 'tool_calls');
  assert.ok(e1.at(-2)!.data.usage.prompt_tokens > 0);
  const messages = [reminder, { role: 'assistant', tool_calls: [{ id: start.id, type: 'function', function: { name: 'tool_call', arguments: args } }] }, { role: 'tool', tool_call_id: start.id, content: '{"task":{"id":"T-9"}}' }];
  const e2 = events((await post(`${s.url}/v1/chat/completions`, { stream: true, tools, messages })).text);
  const args2 = e2.filter(e => e.data.choices?.[0]?.delta?.tool_calls).map(e => e.data.choices[0].delta.tool_calls[0].function.arguments).join('');
  assert.deepEqual(JSON.parse(args2), { name: 'mcp__baton__complete_task', arguments: { task_id: 'T-9', summary: 'ok' } });
  assert.equal(s.results[0].name, 'mcp__baton__claim_next_task', 'the result is recorded under the deferred tool, not the bridge');
});

test('Gemini: streamGenerateContent (alt=sse) with functionCall parts, functionResponse read back, countTokens, a JSON aside', async t => {
  const s = await startModelServer(script());
  t.after(() => s.close());
  const tools = [{ functionDeclarations: [{ name: 'read_file' }, { name: 'mcp_baton_claim_next_task' }, { name: 'mcp_baton_complete_task' }] }];
  const base = `${s.url}/v1beta/models/gemini-2.5-flash`;
  assert.ok(JSON.parse((await post(`${base}:countTokens`, { contents: [] })).text).totalTokens > 0);
  const check = JSON.parse((await post(`${base}:generateContent`, { contents: [], generationConfig: { responseMimeType: 'application/json' } })).text);
  assert.deepEqual(JSON.parse(check.candidates[0].content.parts[0].text).next_speaker, 'user');
  const e1 = events((await post(`${base}:streamGenerateContent?alt=sse`, { tools, contents: [{ role: 'user', parts: [{ text: 'go' }] }] })).text);
  const call = e1[0].data.candidates[0].content.parts[0].functionCall;
  assert.equal(call.name, 'mcp_baton_claim_next_task');
  assert.ok(e1[0].data.usageMetadata.totalTokenCount > 0);
  const contents = [{ role: 'model', parts: [{ functionCall: call }] }, { role: 'user', parts: [{ functionResponse: { id: call.id, name: call.name, response: { output: '{"task":{"id":"T-4"}}' } } }] }];
  const e2 = events((await post(`${base}:streamGenerateContent?alt=sse`, { tools, contents })).text);
  assert.deepEqual(e2[0].data.candidates[0].content.parts[0].functionCall.args, { task_id: 'T-4', summary: 'ok' });
});

test('a request sent before the MCP tools are there, offering WaitForMcpServers (Claude Code\'s TUI), gets a call to it and uses no turn', async t => {
  const s = await startModelServer([{ tools: [{ tool: 'agent_init' }] }]);
  t.after(() => s.close());
  const early = JSON.parse((await post(`${s.url}/v1/messages`, { tools: [{ name: 'Bash' }, { name: 'WaitForMcpServers' }], messages: [] })).text);
  assert.deepEqual(early.content.map((c: any) => c.name), ['WaitForMcpServers']);
  assert.equal(s.turnsServed(), 0);
  const later = JSON.parse((await post(`${s.url}/v1/messages`, { tools: [{ name: 'WaitForMcpServers' }, { name: 'mcp__baton__agent_init' }], messages: [] })).text);
  assert.deepEqual(later.content.map((c: any) => c.name), ['mcp__baton__agent_init']);
  assert.equal(s.turnsServed(), 1);
});

test('a turn calling a tool the request does not offer is answered HTTP 400 naming the offered tools, and recorded', async t => {
  const s = await startModelServer([{ tools: [{ tool: 'agent_init' }] }]);
  t.after(() => s.close());
  const r = await post(`${s.url}/v1/messages`, { tools: [{ name: 'Bash' }], messages: [] });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.text).error.message, /calls agent_init, but the request offers no such tool \(offered: Bash\)/);
  assert.match(s.requests[0].error!, /agent_init/);
  assert.equal(s.turnsServed(), 0);
});
