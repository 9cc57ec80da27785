/*
 * A scripted model server for testing the real agent CLIs offline. It listens on 127.0.0.1 (node:http, no
 * dependencies) and answers, streaming (server-sent events) when the CLI asks for it, the model APIs the
 * CLIs speak:
 *
 * - Anthropic Messages (`POST /v1/messages`, `…/count_tokens`) for Claude Code (`ANTHROPIC_BASE_URL`);
 *   stream events message_start, content_block_start/delta/stop, message_delta, message_stop
 *   (https://docs.anthropic.com/en/api/messages-streaming), `tool_use` blocks.
 * - OpenAI Responses (`POST /v1/responses`) for Codex (`model_providers.<name>.base_url`, `wire_api =
 *   "responses"`); `function_call` output items, `response.completed` with usage
 *   (https://platform.openai.com/docs/api-reference/responses-streaming).
 * - OpenAI Chat Completions (`POST /v1/chat/completions`) for Qwen Code (`--openai-base-url`);
 *   `tool_calls` deltas, a final usage chunk, `[DONE]`.
 * - Gemini `models/<m>:streamGenerateContent?alt=sse` / `:generateContent` / `:countTokens` for Gemini CLI
 *   (`GOOGLE_GEMINI_BASE_URL`); `functionCall` parts, `usageMetadata`.
 *
 * A script is a list of turns. Each request that offers tools (the agent's own loop) gets the next turn:
 * tool calls or a final text. Tool calls name the tool as Baton registers it (`claim_next_task`); the
 * server finds the name the CLI exposes it under (`mcp__baton__claim_next_task`, `mcp_baton_…`, …) among
 * the tools in that request, by suffix. A request without tools (titles, summaries, next-speaker checks
 * the CLIs make on the side) is an aside: answered with text, it does not use a turn. After the last turn
 * every request gets a short final text.
 *
 * Every request is recorded with the tool results the CLI fed back (parsed from each API's history
 * format), and every answer with the token usage it reported, so tests can assert what the agent saw and
 * later work can attribute tokens.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The model APIs the server speaks. */
export type ModelApi = 'anthropic' | 'responses' | 'chat' | 'gemini';

/** One tool call of a turn. `args` may be computed from what the agent has seen so far. */
export interface ScriptedToolCall {
  /** The tool's name as the MCP server registers it, e.g. `claim_next_task`. */
  tool: string;
  args?: Record<string, unknown> | ((seen: ScriptState) => Record<string, unknown>);
}

/** One answer of the model: tool calls, or a final text (which ends the agent's loop). */
export type ScriptTurn = { tools: ScriptedToolCall[]; text?: string } | { text: string };

/** A tool result the CLI sent back to the model. */
export interface ToolResultSeen {
  /** The call id the server gave (Gemini: the function name when the CLI sends no id). */
  callId: string;
  /** The name the CLI exposes the tool under, when known. */
  name?: string;
  /** The tool output as text (JSON parts are stringified). */
  output: string;
  isError: boolean;
}

/** One request the server received. */
export interface RecordedRequest {
  api: ModelApi | 'other';
  method: string;
  path: string;
  /** Parsed JSON body (null when not JSON). */
  body: any;
  /** Tool names offered in the request. */
  tools: string[];
  /** Tool results found in the request's history. */
  toolResults: ToolResultSeen[];
  /** Turn index answered (0-based), or null for asides and non-model calls. */
  turn: number | null;
  stream: boolean;
  /** The usage reported in the answer (null when the answer had none). */
  usage: { inputTokens: number; outputTokens: number } | null;
  /** The tool calls answered, with the exposed names and final arguments. */
  calls: { callId: string; name: string; args: Record<string, unknown> }[];
  /** Set when the request could not be answered as scripted (the answer was an HTTP error). */
  error?: string;
}

/** What the script's argument functions see. */
export interface ScriptState {
  requests: readonly RecordedRequest[];
  /** Every tool result seen so far, latest last, without duplicates (the history repeats in each request). */
  results: readonly ToolResultSeen[];
  /** The latest result of a tool by its registered name (`claim_next_task`), parsed as JSON when it is JSON. */
  lastResult(tool: string): any;
}

export interface ModelServer extends ScriptState {
  /** `http://127.0.0.1:<port>` (no trailing slash, no path). */
  url: string;
  /** How many scripted turns have been answered. */
  turnsServed(): number;
  /**
   * Sum of the token usage the server reported: on every answer (`all`, the default), or only on the
   * agent's own requests (`agent`: those offering tools, i.e. the turns and the answers after the script).
   */
  totalUsage(which?: 'all' | 'agent'): { inputTokens: number; outputTokens: number };
  /** A short log of the requests, for test diagnostics. */
  summary(): string;
  close(): Promise<void>;
}

/**
 * Starts a scripted model server on 127.0.0.1 at a free port. `finalText` answers every request after
 * the script's last turn; `idPrefix` starts every tool call id (`<idPrefix>call_N`). Never throws on bad requests: it answers HTTP 400/404 with an error JSON and
 * records the request with `error`.
 */
export async function startModelServer(script: ScriptTurn[], options: { finalText?: string; model?: string; idPrefix?: string } = {}): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  const results: ToolResultSeen[] = [];
  const issued = new Map<string, string>(); // call id → exposed tool name
  let turn = 0;
  let ids = 0;
  const model = options.model ?? 'scripted-model';
  const finalText = options.finalText ?? 'Done.';
  // Call ids are `<idPrefix>call_N`: a router in front of several servers finds which one a conversation is with.
  const idPrefix = options.idPrefix ?? '';

  const state: ScriptState = {
    requests,
    results,
    lastResult(tool: string) {
      for (let i = results.length - 1; i >= 0; i--) {
        const r = results[i];
        if (r.name && matchesTool(r.name, tool)) return parseToolOutput(r.output);
      }
      return undefined;
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let body: any = null;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : null;
      } catch {
        body = null;
      }
      const api = apiOf(req.method ?? 'GET', url.pathname);
      const rec: RecordedRequest = { api: api ?? 'other', method: req.method ?? 'GET', path: url.pathname + url.search, body, tools: [], toolResults: [], turn: null, stream: false, usage: null, calls: [] };
      requests.push(rec);
      try {
        answer(api, url, body, raw.length, rec, res);
      } catch (error) {
        rec.error = (error as Error).message;
        if (!res.headersSent) sendJson(res, 400, { error: { type: 'invalid_request_error', message: rec.error } });
        else res.end();
      }
    });
  });

  function answer(api: ModelApi | null, url: URL, body: any, bytes: number, rec: RecordedRequest, res: http.ServerResponse): void {
    const p = url.pathname;
    if (api === null && rec.method === 'HEAD') return void res.writeHead(200).end(); // reachability probes (Claude Code's HEAD /api/hello)
    if (api === null) {
      if (/\/models\/?$/.test(p)) return sendJson(res, 200, { data: [{ id: model, type: 'model', display_name: model, object: 'model' }], object: 'list', has_more: false });
      rec.error = `no such endpoint: ${rec.method} ${rec.path}`;
      return sendJson(res, 404, { error: { type: 'not_found_error', message: rec.error } });
    }
    if (api === 'anthropic' && p.endsWith('/count_tokens')) return sendJson(res, 200, { input_tokens: tokens(bytes) });
    if (api === 'gemini' && p.endsWith(':countTokens')) return sendJson(res, 200, { totalTokens: tokens(bytes) });

    rec.tools = toolNames(api, body);
    rec.toolResults = toolResultsOf(api, body, issued);
    for (const r of rec.toolResults) {
      if (!results.some(x => x.callId === r.callId && x.output === r.output)) results.push(r);
    }
    rec.stream = api === 'gemini' ? p.includes(':streamGenerateContent') : body?.stream === true;

    // The reply: the next turn for the agent's own requests (they offer tools), text for asides.
    let reply: { text?: string; calls: { callId: string; name: string; args: Record<string, unknown> }[] };
    if (rec.tools.length === 0) {
      reply = { text: asideText(api, body), calls: [] };
    } else if (turn < script.length && needsWait(rec.tools, body, script[turn])) {
      // The MCP server is still connecting (Claude Code's TUI sends its first request before): wait for it,
      // as its own model would, without using a turn.
      const callId = `${idPrefix}call_${++ids}`;
      issued.set(callId, WAIT_TOOL);
      reply = { calls: [{ callId, name: WAIT_TOOL, args: {} }] };
    } else if (turn < script.length) {
      const t = script[turn];
      const calls = 'tools' in t ? t.tools.map(c => {
        const args = typeof c.args === 'function' ? c.args(state) : (c.args ?? {});
        const callId = `${idPrefix}call_${++ids}`;
        const bridged = bridgedName(rec.tools, body, c.tool);
        if (bridged) {
          // A deferred tool, reached through the CLI's bridge tool as its own model would.
          issued.set(callId, bridged);
          return { callId, name: BRIDGE_TOOL, args: { name: bridged, arguments: args } };
        }
        const name = exposedName(rec.tools, c.tool);
        issued.set(callId, name);
        return { callId, name, args };
      }) : [];
      rec.turn = turn++;
      reply = { text: t.text, calls };
    } else {
      reply = { text: finalText, calls: [] };
    }
    rec.calls = reply.calls;
    const usage = { inputTokens: tokens(bytes), outputTokens: tokens(JSON.stringify(reply).length) };
    rec.usage = usage;
    const write = rec.stream ? sse(res, api) : null;
    switch (api) {
      case 'anthropic': return anthropic(reply, usage, write, res);
      case 'responses': return responses(reply, usage, write, res);
      case 'chat': return chat(reply, usage, write, res);
      case 'gemini': return gemini(reply, usage, write, res);
    }
  }

  function nextId(prefix: string): string {
    return `${prefix}_${++ids}`;
  }

  function anthropic(reply: Reply, usage: Usage, write: Writer | null, res: http.ServerResponse): void {
    const id = nextId('msg');
    const content: any[] = [];
    if (reply.text) content.push({ type: 'text', text: reply.text });
    for (const c of reply.calls) content.push({ type: 'tool_use', id: c.callId, name: c.name, input: c.args });
    const stop = reply.calls.length ? 'tool_use' : 'end_turn';
    const u = { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (!write) return sendJson(res, 200, { id, type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null, usage: u });
    write('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...u, output_tokens: 1 } } });
    content.forEach((block, index) => {
      if (block.type === 'text') {
        write('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        write('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
      } else {
        write('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        write('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      write('content_block_stop', { type: 'content_block_stop', index });
    });
    write('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.outputTokens } });
    write('message_stop', { type: 'message_stop' });
    res.end();
  }

  function responses(reply: Reply, usage: Usage, write: Writer | null, res: http.ServerResponse): void {
    const id = nextId('resp');
    const output: any[] = [];
    if (reply.text) output.push({ type: 'message', id: nextId('msg'), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: reply.text, annotations: [] }] });
    for (const c of reply.calls) {
      const slash = c.name.indexOf('/');
      const name = slash < 0 ? { name: c.name } : { namespace: c.name.slice(0, slash), name: c.name.slice(slash + 1) };
      output.push({ type: 'function_call', id: nextId('fc'), call_id: c.callId, ...name, arguments: JSON.stringify(c.args), status: 'completed' });
    }
    const u = {
      input_tokens: usage.inputTokens, input_tokens_details: { cached_tokens: 0 },
      output_tokens: usage.outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: usage.inputTokens + usage.outputTokens,
    };
    const response = { id, object: 'response', created_at: Math.floor(Date.now() / 1000), status: 'completed', model, output, usage: u };
    if (!write) return sendJson(res, 200, response);
    write('response.created', { type: 'response.created', response: { ...response, status: 'in_progress', output: [], usage: null } });
    output.forEach((item, output_index) => {
      write('response.output_item.added', { type: 'response.output_item.added', output_index, item: item.type === 'message' ? { ...item, status: 'in_progress', content: [] } : { ...item, status: 'in_progress', arguments: '' } });
      if (item.type === 'message') {
        write('response.output_text.delta', { type: 'response.output_text.delta', item_id: item.id, output_index, content_index: 0, delta: item.content[0].text });
        write('response.output_text.done', { type: 'response.output_text.done', item_id: item.id, output_index, content_index: 0, text: item.content[0].text });
      } else {
        write('response.function_call_arguments.delta', { type: 'response.function_call_arguments.delta', item_id: item.id, output_index, delta: item.arguments });
        write('response.function_call_arguments.done', { type: 'response.function_call_arguments.done', item_id: item.id, output_index, arguments: item.arguments });
      }
      write('response.output_item.done', { type: 'response.output_item.done', output_index, item });
    });
    write('response.completed', { type: 'response.completed', response });
    res.end();
  }

  function chat(reply: Reply, usage: Usage, write: Writer | null, res: http.ServerResponse): void {
    const id = nextId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    const finish = reply.calls.length ? 'tool_calls' : 'stop';
    const u = { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
    const toolCalls = reply.calls.map((c, index) => ({ index, id: c.callId, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }));
    if (!write) {
      return sendJson(res, 200, {
        id, object: 'chat.completion', created, model, usage: u,
        choices: [{ index: 0, finish_reason: finish, message: { role: 'assistant', content: reply.text ?? null, ...(toolCalls.length ? { tool_calls: toolCalls.map(({ index: _i, ...c }) => c) } : {}) } }],
      });
    }
    const chunk = (delta: object, finish_reason: string | null = null) =>
      write(null, { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason }] });
    chunk({ role: 'assistant', content: '' });
    if (reply.text) chunk({ content: reply.text });
    for (const c of toolCalls) {
      chunk({ tool_calls: [{ index: c.index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] });
      chunk({ tool_calls: [{ index: c.index, function: { arguments: c.function.arguments } }] });
    }
    chunk({}, finish);
    write(null, { id, object: 'chat.completion.chunk', created, model, choices: [], usage: u });
    res.write('data: [DONE]\n\n');
    res.end();
  }

  function gemini(reply: Reply, usage: Usage, write: Writer | null, res: http.ServerResponse): void {
    const parts: any[] = [];
    if (reply.text) parts.push({ text: reply.text });
    for (const c of reply.calls) parts.push({ functionCall: { id: c.callId, name: c.name, args: c.args } });
    const usageMetadata = { promptTokenCount: usage.inputTokens, candidatesTokenCount: usage.outputTokens, totalTokenCount: usage.inputTokens + usage.outputTokens };
    const answer = { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion: model, responseId: nextId('gem') };
    if (!write) return sendJson(res, 200, answer);
    write(null, answer);
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    turnsServed: () => turn,
    totalUsage: (which: 'all' | 'agent' = 'all') => requests.filter(r => which === 'all' || r.tools.length > 0).reduce((sum, r) => ({
      inputTokens: sum.inputTokens + (r.usage?.inputTokens ?? 0), outputTokens: sum.outputTokens + (r.usage?.outputTokens ?? 0),
    }), { inputTokens: 0, outputTokens: 0 }),
    summary: () => requests.map(r => `${r.method} ${r.path} [${r.api}${r.stream ? ', stream' : ''}] tools=${r.tools.length} results=${r.toolResults.length} ` +
      `turn=${r.turn ?? '-'}${r.calls.length ? ` calls=${r.calls.map(c => (c.name === BRIDGE_TOOL ? `${c.name}→${String(c.args.name)}` : c.name)).join(',')}` : ''}${r.error ? ` ERROR ${r.error}` : ''}`).join('\n'),
    close: () => new Promise<void>(resolve => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

type Reply = { text?: string; calls: { callId: string; name: string; args: Record<string, unknown> }[] };
type Usage = { inputTokens: number; outputTokens: number };
type Writer = (event: string | null, data: object) => void;

/** Which API a request is for, from its path; null for anything else. */
function apiOf(method: string, path: string): ModelApi | null {
  if (method !== 'POST') return null;
  if (/\/messages(\/count_tokens)?$/.test(path)) return 'anthropic';
  if (/\/responses$/.test(path)) return 'responses';
  if (/\/chat\/completions$/.test(path)) return 'chat';
  if (/\/models\/[^/]+:(streamGenerateContent|generateContent|countTokens)$/.test(path)) return 'gemini';
  return null;
}

/** Token counts the server reports: about four bytes a token, at least 1 (a stand-in, deterministic per request). */
function tokens(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4));
}

/** Whether the exposed tool name `name` is the registered tool `tool` (same name, or a prefix ending in `_`, `.` or `/`). */
export function matchesTool(name: string, tool: string): boolean {
  return name === tool || (name.endsWith(tool) && /[_./-]$/.test(name.slice(0, -tool.length)));
}

/**
 * Qwen Code's bridge for deferred tools: it offers its MCP tools only by name, in a reminder in the
 * conversation, and the model calls `tool_call` with `{ name, arguments }` (Claude Code defers them too,
 * behind `ToolSearch`; its tests turn that off with ENABLE_TOOL_SEARCH=false).
 */
const BRIDGE_TOOL = 'tool_call';

/**
 * The deferred name of `tool` when the request does not offer it but offers {@link BRIDGE_TOOL} and
 * names it (quoted) somewhere in its conversation; else null.
 */
function bridgedName(offered: string[], body: unknown, tool: string): string | null {
  if (offered.some(n => matchesTool(n, tool)) || !offered.includes(BRIDGE_TOOL)) return null;
  const text = JSON.stringify(body);
  const quoted = /\\"([A-Za-z0-9_.-]+)\\"/g;
  for (let m = quoted.exec(text); m; m = quoted.exec(text)) if (m[1] !== tool && matchesTool(m[1], tool)) return m[1];
  return null;
}

/** Claude Code's tool for MCP servers still connecting ("their tools are not yet in your tool list"). */
const WAIT_TOOL = 'WaitForMcpServers';

/** Whether `turn` calls a tool the request neither offers nor bridges, and the request offers {@link WAIT_TOOL}. */
function needsWait(offered: string[], body: unknown, turn: ScriptTurn): boolean {
  if (!('tools' in turn) || !offered.includes(WAIT_TOOL)) return false;
  return turn.tools.some(c => !offered.some(n => matchesTool(n, c.tool)) && !bridgedName(offered, body, c.tool));
}

/** The name among `offered` that exposes `tool`. @throws Error naming the offered tools when none does. */
function exposedName(offered: string[], tool: string): string {
  const found = offered.filter(n => matchesTool(n, tool)).sort((a, b) => a.length - b.length)[0];
  if (!found) throw new Error(`the script calls ${tool}, but the request offers no such tool (offered: ${offered.join(', ')})`);
  return found;
}

/**
 * A tool output as JSON when it is JSON, or holds one JSON value between a preamble and a trailer (Codex
 * feeds back `Wall time: … seconds\nOutput:\n{…}`, Gemini CLI `<untrusted_context>\n{…}\n</untrusted_context>`);
 * else the text itself.
 */
export function parseToolOutput(text: string): unknown {
  const start = text.search(/^[[{]/m);
  const end = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']')) + 1;
  for (const candidate of [text, start >= 0 && end > start ? text.slice(start, end) : null]) {
    if (candidate === null) continue;
    try {
      return JSON.parse(candidate);
    } catch {
      // not JSON
    }
  }
  return text;
}

/** The tool names a request offers. */
function toolNames(api: ModelApi, body: any): string[] {
  const tools: any[] = Array.isArray(body?.tools) ? body.tools : [];
  const names: string[] = [];
  for (const t of tools) {
    if (api === 'gemini') {
      for (const f of t.functionDeclarations ?? t.function_declarations ?? []) if (f?.name) names.push(f.name);
    } else if (api === 'chat') {
      if (t?.function?.name) names.push(t.function.name);
    } else if (api === 'responses') {
      if (t?.type === 'function' && t.name) names.push(t.name);
      // Tools grouped in a namespace (Codex puts each MCP server's tools in one: `mcp__baton`) are
      // called with `namespace` and the inner name; recorded here as `<namespace>/<name>`.
      if (t?.type === 'namespace' && Array.isArray(t.tools)) for (const s of t.tools) if (s?.name) names.push(`${t.name}/${s.name}`);
    } else if (t?.name) {
      names.push(t.name);
    }
  }
  return names;
}

/** Text of a tool result in any of the APIs' shapes (a string, content blocks, or JSON). */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(v => (typeof v === 'string' ? v : v?.text ?? JSON.stringify(v))).join('\n');
  return JSON.stringify(value);
}

/** The tool results in a request's history. */
function toolResultsOf(api: ModelApi, body: any, issued: Map<string, string>): ToolResultSeen[] {
  const out: ToolResultSeen[] = [];
  if (api === 'anthropic') {
    for (const m of body?.messages ?? []) {
      if (m.role !== 'user' || !Array.isArray(m.content)) continue;
      for (const b of m.content) {
        if (b?.type === 'tool_result') out.push({ callId: b.tool_use_id, name: issued.get(b.tool_use_id), output: textOf(b.content), isError: b.is_error === true });
      }
    }
  } else if (api === 'responses') {
    for (const item of Array.isArray(body?.input) ? body.input : []) {
      if (item?.type === 'function_call_output') {
        const output = item.output;
        const text = typeof output === 'object' && output !== null && !Array.isArray(output) ? textOf(output.content ?? output) : textOf(output);
        out.push({ callId: item.call_id, name: issued.get(item.call_id), output: text, isError: output?.success === false });
      }
    }
  } else if (api === 'chat') {
    for (const m of body?.messages ?? []) {
      if (m.role === 'tool') out.push({ callId: m.tool_call_id, name: issued.get(m.tool_call_id), output: textOf(m.content), isError: false });
    }
  } else {
    for (const c of body?.contents ?? []) {
      for (const part of c.parts ?? []) {
        const fr = part?.functionResponse;
        if (!fr) continue;
        const response = fr.response ?? {};
        const output = response.output ?? response.content ?? response.error ?? response;
        out.push({ callId: fr.id ?? fr.name, name: fr.name ?? (fr.id ? issued.get(fr.id) : undefined), output: textOf(output), isError: response.error !== undefined });
      }
    }
  }
  return out;
}

/** The answer to an aside (a request without tools): JSON when the request asks for JSON (Gemini's checks), else a short text. */
function asideText(api: ModelApi, body: any): string {
  if (api === 'gemini' && body?.generationConfig?.responseMimeType === 'application/json') return JSON.stringify({ next_speaker: 'user', reasoning: 'The model finished its turn.' });
  return 'Scripted session';
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts a server-sent events answer; the writer sends one event (`event:` line only for Anthropic and Responses). */
function sse(res: http.ServerResponse, api: ModelApi): Writer {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  return (event, data) => {
    res.write(`${event && (api === 'anthropic' || api === 'responses') ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  };
}
