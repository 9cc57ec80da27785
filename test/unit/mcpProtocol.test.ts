import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  CallToolResultSchema, ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { CORE_TOOLS, createBatonMcpServer, type ToolTier } from '../../src/mcp/batonMcpServer';
import { openTestOwner } from './helpers/owner';
import { rng } from './helpers/random';

let owner: Awaited<ReturnType<typeof openTestOwner>>;
let url: string;
let token: string;
const ada = { kind: 'user' as const, name: 'ada' };

before(async () => {
  owner = await openTestOwner({ mcp: true, tier: 'full' });
  url = owner.mcpUrl!;
  token = owner.readToken()!;
});
after(async () => { await owner.cleanup(); });

/** A real SDK client over Streamable HTTP (it negotiates the SDK's latest protocol version, 2025-11-25). */
async function httpClient(name = 'protocol-test'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

/** A real SDK client on an in-memory transport to a Baton server of the given tier (the operator tier is not reachable over HTTP with the agents' token). */
async function tierClient(tier: ToolTier): Promise<Client> {
  const server = createBatonMcpServer(owner.services, { version: 'test', tier, mcpSessionId: () => undefined, operatorName: 'ada' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: `tier-${tier}`, version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

type RpcAnswer = { status: number; body: any };

/** A raw JSON-RPC session over HTTP at a chosen protocol version (to send what an SDK client would not). */
async function rawSession(protocolVersion = '2025-06-18') {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  const parse = async (r: Response): Promise<RpcAnswer> => {
    const text = await r.text();
    const data = text.split('\n').find(l => l.startsWith('data: '));
    return { status: r.status, body: text ? JSON.parse(data ? data.slice(6) : text) : null };
  };
  const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
  const sid = init.headers.get('mcp-session-id')!;
  assert.equal((await parse(init)).body.result.protocolVersion, protocolVersion);
  const h = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': protocolVersion };
  await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) }).then(r => r.text());
  let id = 1;
  return {
    /** Sends a body as it is (a string is sent verbatim). */
    async send(body: unknown): Promise<RpcAnswer> {
      return parse(await fetch(url, { method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body) }));
    },
    async rpc(method: string, params?: unknown): Promise<any> {
      return (await this.send({ jsonrpc: '2.0', id: id++, method, ...(params === undefined ? {} : { params }) })).body;
    },
    close: () => fetch(url, { method: 'DELETE', headers: h }).then(r => r.text()),
  };
}

const rawDump = /^\s*\[\s*\{|"code":\s*"invalid_type"|"path":\s*\[/;

test('fuzz: 600 seeded malformed tools/call requests from a real SDK client over HTTP never get -32603 nor a raw zod dump', async () => {
  const client = await httpClient('fuzzer');
  const tools = (await client.listTools()).tools;
  const random = rng(20260701);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const scalar = (): unknown => pick([
    () => null, () => true, () => -1, () => 1e308, () => 3.5, () => '', () => 'x'.repeat(Math.floor(random() * 300)),
    () => 'T-999999', () => '__proto__', () => [], () => ({}), () => [1, 'a', null], () => ({ nested: { deep: [{}] } }),
  ])();
  const argumentsOf = (tool: (typeof tools)[number]): unknown => {
    const props = Object.keys((tool.inputSchema as { properties?: object }).properties ?? {});
    switch (Math.floor(random() * 6)) {
      case 0: return scalar(); // not an object at all
      case 1: return Object.fromEntries(props.map(p => [p, scalar()])); // every field the wrong type (usually)
      case 2: return { [`${pick(props.length ? props : ['x'])}_typo`]: scalar() }; // unknown key
      case 3: return JSON.parse(`{"__proto__": {"polluted": true}${props.length ? `, "${props[0]}": ${JSON.stringify(scalar())}` : ''}}`);
      case 4: return { ...Object.fromEntries(props.slice(0, 1).map(p => [p, scalar()])), extra: scalar() };
      default: return Array.from({ length: 3 }, scalar);
    }
  };
  const counts = { protocolErrors: 0, toolErrors: 0, ok: 0 };
  for (let i = 0; i < 600; i++) {
    const tool = pick(tools);
    const name = random() < 0.05 ? pick([42, null, 'no_such_tool', '']) : tool.name;
    if (tool.name === 'ask_human' || tool.name === 'get_human_answer' || tool.name === 'end_session') continue; // waits / ends the session
    const params = { name, arguments: argumentsOf(tool) };
    try {
      const r = await client.request({ method: 'tools/call', params: params as never }, CallToolResultSchema);
      if (r.isError) {
        counts.toolErrors++;
        const text = (r.content[0] as { text: string }).text;
        assert.doesNotMatch(text, rawDump, `raw zod dump for ${JSON.stringify(params).slice(0, 200)}: ${text.slice(0, 300)}`);
      } else counts.ok++;
    } catch (error) {
      const e = error as { code?: number; message: string };
      assert.equal(e.code, -32602, `${JSON.stringify(params).slice(0, 200)} → ${e.code} ${e.message.slice(0, 300)}`);
      assert.doesNotMatch(e.message.replace(/^MCP error -32602: /, ''), rawDump);
      counts.protocolErrors++;
    }
  }
  assert.ok(counts.protocolErrors > 50 && counts.toolErrors > 50, JSON.stringify(counts));
  await client.close();
});

test('invalid arguments: -32602 naming the field for 2025-06-18 clients, a readable isError result for 2025-11-25 clients; unknown tools are -32602 for both', async () => {
  const raw = await rawSession('2025-06-18');
  const bad = await raw.rpc('tools/call', { name: 'get_task', arguments: { task_id: 5 } });
  assert.equal(bad.error.code, -32602);
  assert.equal(bad.error.message, 'Invalid arguments for tool get_task: task_id: expected string, received number');
  const typo = await raw.rpc('tools/call', { name: 'create_task', arguments: { title: 'x', taskTitle: 'typo' } });
  assert.equal(typo.error.code, -32602);
  assert.match(typo.error.message, /unknown key "taskTitle"/);
  const notObject = await raw.rpc('tools/call', { name: 'get_task', arguments: 'T-1' });
  assert.deepEqual(notObject.error, { code: -32602, message: 'Invalid params for tools/call: params.arguments: expected an object, received string' });
  const unknown = await raw.rpc('tools/call', { name: 'no_such_tool', arguments: {} });
  assert.equal(unknown.error.code, -32602);
  assert.match(unknown.error.message, /Unknown tool: no_such_tool/);
  const badPrompt = await raw.rpc('prompts/get', { name: 'baton_init', arguments: { role: 5 } });
  assert.deepEqual(badPrompt.error, { code: -32602, message: 'Invalid params for prompts/get: params.arguments.role: expected string, received number' });
  // Execution errors stay tool results.
  const missing = await raw.rpc('tools/call', { name: 'get_task', arguments: { task_id: 'T-99999' } });
  assert.equal(missing.result.isError, true);
  await raw.close();

  const client = await httpClient();
  const r = await client.callTool({ name: 'get_task', arguments: { task_id: 5 } });
  assert.equal(r.isError, true);
  assert.match((r.content as { text: string }[])[0].text, /task_id/);
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e: { code: number; message: string }) => e.code === -32602 && /Unknown tool/.test(e.message));
  await client.close();
});

test('__proto__ keys in tool arguments are refused, not dropped', async () => {
  const raw = await rawSession('2025-06-18');
  const before = owner.plan.allTasks().length;
  const answer = await raw.send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_task","arguments":{"title":"proto","__proto__":{"isAdmin":true}}}}');
  assert.equal(answer.body.error.code, -32602);
  assert.match(answer.body.error.message, /arguments\.__proto__: the key "__proto__" is not allowed/);
  const nested = await raw.send('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"save_context","arguments":{"context":{"a":{"__proto__":{}}}}}}');
  assert.match(nested.body.error.message, /arguments\.context\.a\.__proto__/);
  assert.equal(owner.plan.allTasks().length, before, 'nothing was created');
  await raw.close();
});

test('an empty JSON-RPC batch is an Invalid Request (-32600)', async () => {
  const raw = await rawSession();
  const answer = await raw.send('[]');
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.code, -32600);
  assert.equal(answer.body.id, null);
  await raw.close();
});

test('missing task, context and session resources are -32002 (resource not found), like artifacts', async () => {
  const client = await httpClient();
  for (const uri of ['baton://task/T-99999', 'baton://context/T-99999', 'baton://session/A-99999/context']) {
    await assert.rejects(client.readResource({ uri }), (e: { code: number; message: string }) => {
      assert.equal(e.code, -32002, uri);
      assert.match(e.message, /No (task|agent session) with id/);
      return true;
    });
  }
  await client.close();
});

test('a bogus cursor is -32602 on every list', async () => {
  const raw = await rawSession('2025-06-18');
  for (const method of ['resources/list', 'tools/list', 'prompts/list', 'resources/templates/list']) {
    const answer = await raw.rpc(method, { cursor: 'bogus' });
    assert.equal(answer.error?.code, -32602, method);
    assert.match(answer.error.message, /Invalid cursor "bogus"/);
  }
  const forged = await raw.rpc('resources/list', { cursor: `b1.${Buffer.from('{"section":99,"after":null}').toString('base64url')}` });
  assert.equal(forged.error.code, -32602);
  const tool = await raw.rpc('tools/call', { name: 'list_sessions', arguments: { cursor: 'bogus' } });
  assert.equal(tool.error.code, -32602);
  assert.match(tool.error.message, /cursor: not a cursor of this list/);
  await raw.close();
});

test('resources/list pages through every task (beyond 200) and session (beyond 50) with nextCursor, stable while tasks are added', async () => {
  const made = Array.from({ length: 230 }, (_, i) => owner.plan.createTask({ title: `paged ${i}` }, ada).id);
  const madeSessions = Array.from({ length: 60 }, (_, i) => owner.services.sessions.connect({ agentName: `pager-${i}` }).id);
  const client = await httpClient('pager');
  const uris: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.listResources(cursor ? { cursor } : {});
    uris.push(...page.resources.map(r => r.uri));
    cursor = page.nextCursor;
    if (pages++ === 1) owner.plan.createTask({ title: 'added while paging' }, ada); // lands after the pages already read
    assert.ok(pages < 50, 'pagination ends');
  } while (cursor);
  assert.ok(pages >= 3, `${pages} pages`);
  assert.equal(new Set(uris).size, uris.length, 'no resource listed twice');
  for (const id of made) assert.ok(uris.includes(`baton://task/${id}`), `task ${id} listed`);
  for (const id of madeSessions) assert.ok(uris.includes(`baton://session/${id}/context`), `session ${id} listed`);
  const every = owner.plan.allTasks().map(t => `baton://task/${t.id}`);
  assert.deepEqual(uris.filter(u => u.startsWith('baton://task/')).sort(), [...every].sort(), 'every task, including the one added while paging');
  for (const id of madeSessions) owner.services.sessions.disconnect(id);
  await client.close();
});

test('list_sessions and list_inbox paginate with an opaque cursor and nextCursor, in a stable order', async () => {
  const ids = Array.from({ length: 7 }, (_, i) => owner.services.sessions.connect({ agentName: `lister-${i}` }).id);
  const client = await httpClient('session-lister');
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const r = await client.callTool({ name: 'list_sessions', arguments: { limit: 3, ...(cursor ? { cursor } : {}) } });
    const page = JSON.parse((r.content as { text: string }[])[0].text);
    assert.ok(page.sessions.length <= 3);
    seen.push(...page.sessions.map((s: { id: string }) => s.id));
    cursor = page.nextCursor;
    if (cursor) assert.doesNotMatch(cursor, /^\d+$/, 'opaque, not an offset');
  } while (cursor);
  assert.equal(new Set(seen).size, seen.length);
  const nums = seen.map(id => Number(id.slice(2)));
  assert.deepEqual(nums, [...nums].sort((a, b) => b - a), 'newest first');
  for (const id of ids) assert.ok(seen.includes(id));
  await client.close();

  const asker = owner.services.sessions.connect({ agentName: 'asker' });
  const asked = Array.from({ length: 5 }, (_, i) => owner.services.inbox.ask({ kind: 'question', text: `question ${i}?`, session: asker }).id);
  const operator = await tierClient('operator');
  const requests: string[] = [];
  cursor = undefined;
  do {
    const r = await operator.callTool({ name: 'list_inbox', arguments: { limit: 2, ...(cursor ? { cursor } : {}) } });
    const page = JSON.parse((r.content as { text: string }[])[0].text);
    requests.push(...page.requests.map((q: { id: string }) => q.id));
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(requests.slice(-5), asked, 'open requests oldest first, each once');
  for (const id of asked) owner.services.inbox.answer(id, 'ok', ada);
  owner.services.sessions.disconnect(asker.id);
  for (const id of ids) owner.services.sessions.disconnect(id);
  await operator.close();
});

const BUILT_IN_SLASH_COMMANDS = [
  // Gemini CLI and Qwen Code (which show MCP prompts as /<name>), Claude Code, Codex.
  'about', 'auth', 'bug', 'chat', 'clear', 'compress', 'copy', 'directory', 'docs', 'editor', 'extensions', 'help', 'ide', 'init',
  'mcp', 'memory', 'privacy', 'quit', 'restore', 'settings', 'stats', 'theme', 'tools', 'vim', 'summary', 'agents', 'approval-mode',
  'add-dir', 'compact', 'config', 'cost', 'doctor', 'export', 'hooks', 'login', 'logout', 'model', 'permissions', 'pr_comments',
  'review', 'status', 'terminal-setup', 'upgrade', 'resume', 'context', 'new', 'diff', 'mention', 'approvals', 'prompts', 'handoff', 'report',
];

test('prompts are named baton_init, baton_handoff and baton_report, clear of every CLI built-in slash command', async () => {
  const client = await httpClient();
  const names = (await client.listPrompts()).prompts.map(p => p.name).sort();
  assert.deepEqual(names, ['baton_handoff', 'baton_init', 'baton_report']);
  for (const n of names) assert.ok(!BUILT_IN_SLASH_COMMANDS.includes(n), n);
  const init = await client.getPrompt({ name: 'baton_init', arguments: { task_id: 'T-1' } });
  assert.match((init.messages[0].content as { text: string }).text, /agent_init/);
  await client.close();
});

test('every tool of every tier declares readOnly/destructive/idempotent/openWorld hints, truthfully', async () => {
  const byTier: Record<string, Map<string, Record<string, unknown>>> = {};
  for (const tier of ['core', 'full', 'operator'] as const) {
    const client = await tierClient(tier);
    const tools = (await client.listTools()).tools;
    byTier[tier] = new Map(tools.map(t => [t.name, t.annotations ?? {}]));
    for (const t of tools) {
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
        assert.equal(typeof (t.annotations as Record<string, unknown> | undefined)?.[hint], 'boolean', `${tier}: ${t.name} lacks ${hint}`);
      }
      assert.equal(t.annotations!.openWorldHint, false, t.name);
      if (t.annotations!.readOnlyHint) assert.equal(t.annotations!.destructiveHint, false, `${t.name}: read-only cannot be destructive`);
    }
    await client.close();
  }
  assert.deepEqual([...byTier.core.keys()].sort(), [...CORE_TOOLS].sort());
  const hints = byTier.operator;
  for (const name of ['list_tasks', 'get_task', 'list_sprints', 'get_sprint', 'list_sessions', 'list_artifacts', 'load_context', 'get_human_answer', 'list_inbox', 'list_activity']) {
    assert.equal(hints.get(name)!.readOnlyHint, true, `${name} is read-only`);
  }
  for (const name of ['create_task', 'update_task', 'claim_next_task', 'add_note', 'complete_task', 'check_messages', 'answer_request', 'approve', 'delete_artifact']) {
    assert.equal(hints.get(name)!.readOnlyHint, false, `${name} writes`);
  }
  for (const name of ['delete_artifact', 'remove_dependency', 'update_task']) assert.equal(hints.get(name)!.destructiveHint, true, `${name} is destructive`);
  for (const name of ['create_task', 'add_note', 'store_artifact', 'claim_next_task']) assert.equal(hints.get(name)!.destructiveHint, false, `${name} only adds`);
  assert.equal(hints.get('claim_next_task')!.idempotentHint, false);
  assert.equal(hints.get('set_checkpoint')!.idempotentHint, true);
  // check_messages really is not read-only: it marks messages read.
  const agentSession = owner.services.sessions.connect({ agentName: 'reader' });
  owner.services.messages.send({ from: { kind: 'user', id: 'human', name: 'ada' }, to: agentSession.id, body: 'hi' });
  assert.equal(owner.services.messages.unreadCount({ kind: 'session', id: agentSession.id }), 1);
  owner.services.messages.read({ kind: 'session', id: agentSession.id }, { unreadOnly: true, markRead: true, limit: 10 });
  assert.equal(owner.services.messages.unreadCount({ kind: 'session', id: agentSession.id }), 0);
  owner.services.sessions.disconnect(agentSession.id);
});

test('resources/subscribe: an agent hears notifications/resources/updated when its task changes, and list_changed when tasks are added or removed', async () => {
  const mine = owner.plan.createTask({ title: 'watched' }, ada);
  const other = owner.plan.createTask({ title: 'not watched' }, ada);
  const client = await httpClient('watcher');
  assert.equal(client.getServerCapabilities()?.resources?.subscribe, true);
  const updated: string[] = [];
  let listChanged = 0;
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, n => { updated.push(n.params.uri); });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => { listChanged++; });
  await client.subscribeResource({ uri: `baton://task/${mine.id}` });
  await assert.rejects(client.subscribeResource({ uri: 'baton://task/T-99999' }), (e: { code: number }) => e.code === -32002);
  const waitFor = async (done: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !done(); i++) await new Promise(r => setTimeout(r, 20));
    assert.ok(done(), what);
  };
  await new Promise(r => setTimeout(r, 100)); // the client's GET stream for server notifications opens
  owner.plan.addNote(other.id, 'unrelated', ada);
  owner.plan.addNote(mine.id, 'progress', ada);
  await waitFor(() => updated.length > 0, 'resources/updated arrives');
  assert.deepEqual(updated, [`baton://task/${mine.id}`], 'only the subscribed task');
  const agent = await httpClient('editor');
  await agent.callTool({ name: 'update_task', arguments: { task_id: mine.id, title: 'watched, renamed' } });
  await waitFor(() => updated.length > 1, 'a change over MCP by another agent is heard too');
  const changesBefore = listChanged;
  const added = owner.plan.createTask({ title: 'new task' }, ada);
  await waitFor(() => listChanged > changesBefore, 'resources/list_changed after a task is added');
  const afterAdd = listChanged;
  owner.plan.deleteTask(added.id, ada);
  await waitFor(() => listChanged > afterAdd, 'resources/list_changed after a task is removed');
  await client.unsubscribeResource({ uri: `baton://task/${mine.id}` });
  const count = updated.length;
  owner.plan.addNote(mine.id, 'after unsubscribe', ada);
  await new Promise(r => setTimeout(r, 150));
  assert.equal(updated.length, count, 'no notification after unsubscribe');
  await Promise.all([client.close(), agent.close()]);
});

test('a tier change on a connected session sends one notifications/tools/list_changed and changes tools/list', async () => {
  const server = createBatonMcpServer(owner.services, { version: 'test', tier: 'core', mcpSessionId: () => undefined });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'tiered', version: '1.0.0' });
  await client.connect(clientSide);
  assert.equal(client.getServerCapabilities()?.tools?.listChanged, true);
  let changed = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
  assert.equal((await client.listTools()).tools.length, CORE_TOOLS.length);
  server.setToolTier('full');
  const full = (await client.listTools()).tools.map(t => t.name);
  assert.ok(full.includes('create_task') && full.length > CORE_TOOLS.length);
  assert.equal(changed, 1, 'one notification for the whole change');
  server.setToolTier('full');
  assert.equal(changed, 1, 'no change, no notification');
  server.setToolTier('core');
  assert.equal((await client.listTools()).tools.length, CORE_TOOLS.length);
  assert.equal(changed, 2);
  assert.throws(() => server.setToolTier('operator' as never), /core or full/);
  await client.close();
});
