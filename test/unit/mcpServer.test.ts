import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { openTestOwner } from './helpers/owner';

let owner: Awaited<ReturnType<typeof openTestOwner>>;
let url: string;
let token: string;

before(async () => {
  owner = await openTestOwner({ mcp: true, maxBodyBytes: 64 * 1024 });
  url = owner.mcpUrl!;
  token = owner.readToken()!;
});
after(async () => { await owner.cleanup(); });

/** A real MCP client from the SDK over Streamable HTTP, as an agent would connect. */
async function agent(name: string): Promise<Client & { call<T = any>(tool: string, args?: object): Promise<T> }> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return Object.assign(client, {
    async call(tool: string, args: object = {}) {
      const r = await client.callTool({ name: tool, arguments: args as Record<string, unknown> });
      const text = (r.content as { text: string }[])[0].text;
      if (r.isError) throw new Error(text);
      return JSON.parse(text);
    },
  });
}

const initBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const post = (headers: Record<string, string>, body = initBody) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers }, body });

test('lists the plan tools', async () => {
  const c = await agent('lister');
  const { tools } = await c.listTools();
  const names = tools.map(t => t.name).sort();
  for (const n of ['add_dependency', 'add_note', 'claim_next_task', 'complete_task', 'create_task', 'get_sprint', 'get_task', 'list_sprints', 'list_tasks', 'remove_dependency', 'set_checkpoint', 'set_progress', 'update_task', 'update_context']) {
    assert.ok(names.includes(n), `missing tool ${n}`);
  }
  await c.close();
});

test('create, list with pagination, update, add/remove dependency, progress, complete', async () => {
  const c = await agent('worker');
  const sprint = owner.plan.createSprint({ name: 'MCP sprint' }, { kind: 'user', name: 'ada' });
  const a = await c.call('create_task', { title: 'Design schema', sprint_id: sprint.id, estimate: 3, checkpoints: ['ERD', 'Migrations'] });
  const b = await c.call('create_task', { title: 'Write API', sprint_id: sprint.id, depends_on: [a.id] });
  assert.equal(a.status, 'TODO');
  const page1 = await c.call('list_tasks', { sprint_id: sprint.id, limit: 1 });
  assert.equal(page1.tasks.length, 1);
  assert.equal(page1.total, 2);
  assert.equal(page1.next_offset, 1);
  const page2 = await c.call('list_tasks', { sprint_id: sprint.id, limit: 1, offset: 1 });
  assert.equal(page2.tasks[0].id, b.id);
  assert.equal(page2.next_offset, null);
  const updated = await c.call('update_task', { task_id: a.id, priority: 'high', status: 'IN_PROGRESS' });
  assert.equal(updated.status, 'IN_PROGRESS');
  assert.equal(updated.assignee, 'worker#' + updated.assignee.split('#')[1]);
  assert.equal((await c.call('set_checkpoint', { task_id: a.id, checkpoint: 1 })).progress, 50);
  await c.call('add_note', { task_id: a.id, text: 'ERD reviewed' });
  await assert.rejects(c.call('add_dependency', { task_id: a.id, depends_on: b.id }), /cycle: T-\d+ "Design schema" → T-\d+ "Write API" → T-\d+ "Design schema"/);
  await c.call('complete_task', { task_id: a.id, summary: 'Schema merged' });
  const details = await c.call('get_task', { task_id: b.id });
  assert.equal(details.ready, true);
  assert.deepEqual(details.waiting_on, []);
  await c.call('remove_dependency', { task_id: b.id, depends_on: a.id });
  assert.deepEqual((await c.call('get_task', { task_id: b.id })).depends_on, []);
  // MCP changes reach the service's listeners (the tree) at once.
  let fired = 0;
  const sub = owner.plan.onDidChangePlan(() => fired++);
  await c.call('add_note', { task_id: b.id, text: 'hello' });
  sub.dispose();
  assert.equal(fired, 1);
  await c.close();
});

test('two concurrent claimers never get the same task', async () => {
  const sprint = owner.plan.createSprint({ name: 'Claim race' }, { kind: 'user', name: 'ada' });
  for (let i = 0; i < 20; i++) owner.plan.createTask({ title: `race ${i}`, sprintId: sprint.id }, { kind: 'user', name: 'ada' });
  const [x, y] = await Promise.all([agent('claude'), agent('gemini')]);
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? x : y).call('claim_next_task', { sprint_id: sprint.id })));
  const ids = results.filter(r => r.task).map(r => r.task.id);
  assert.equal(ids.length, 20, 'each ready task is claimed exactly once');
  assert.equal(new Set(ids).size, 20, 'no task was handed out twice');
  assert.equal(results.filter(r => r.task === null).length, 10);
  await Promise.all([x.close(), y.close()]);
});

test('malformed arguments get a clear error and change nothing', async () => {
  const c = await agent('sloppy');
  const before = JSON.stringify(owner.plan.allTasks());
  const beforeActivity = owner.plan.listActivity({ limit: 1 })[0]?.id;
  const bad = [
    ['create_task', { title: '' }, /title/],
    ['create_task', { title: 'x', estimate: -3 }, /estimate/],
    ['create_task', { title: 'x', taskTitle: 'typo' }, /taskTitle|Unrecognized/i],
    ['update_task', { task_id: 'T-1', status: 'FINISHED' }, /status/],
    ['update_task', { task_id: 'T-99999', title: 'ghost' }, /No task with id or title "T-99999"/],
    ['create_task', { title: 'x', depends_on: ['T-99999'] }, /T-99999/],
    ['list_tasks', { limit: 100000 }, /limit/],
  ] as const;
  for (const [tool, args, message] of bad) {
    const r = await c.callTool({ name: tool, arguments: args as Record<string, unknown> }).then(
      res => ({ isError: !!res.isError, text: (res.content as { text: string }[])[0].text }),
      (e: Error) => ({ isError: true, text: e.message }),
    );
    assert.ok(r.isError, `${tool} ${JSON.stringify(args)} should fail`);
    assert.match(r.text, message);
  }
  assert.equal(JSON.stringify(owner.plan.allTasks()), before, 'no task changed');
  assert.equal(owner.plan.listActivity({ limit: 1 })[0]?.id, beforeActivity, 'nothing was logged');
  // A move the status rules refuse: nothing else in the same call is applied either.
  const t = owner.plan.createTask({ title: 'rules' }, { kind: 'user', name: 'ada' });
  const snapshot = JSON.stringify(owner.plan.getTask(t.id));
  await assert.rejects(c.call('update_task', { task_id: t.id, title: 'renamed', status: 'DONE' }), /cannot move from TODO to DONE/);
  assert.equal(JSON.stringify(owner.plan.getTask(t.id)), snapshot);
  owner.plan.deleteTask(t.id, { kind: 'user', name: 'ada' });
  await c.close();
});

test('transport security: bad Host or Origin 403, no token 401, oversized body 413', async () => {
  const auth = { Authorization: `Bearer ${token}` };
  assert.equal((await post({ ...auth })).status, 200);
  assert.equal((await post({ ...auth, Origin: 'http://evil.example' })).status, 403);
  assert.equal((await post({ ...auth, Origin: 'null' })).status, 403);
  assert.equal((await post({})).status, 401);
  assert.equal((await post({ Authorization: 'Bearer wrong-token' })).status, 401);
  assert.equal((await post({ ...auth }, JSON.stringify({ pad: 'x'.repeat(70 * 1024) }))).status, 413);
  // Host is checked on the raw request (fetch does not let us forge it).
  const http = await import('node:http');
  const status = await new Promise<number>((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: u.port, path: '/mcp', method: 'POST', headers: { Host: `evil.example:${u.port}`, ...auth, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' } }, res => { res.resume(); resolve(res.statusCode!); });
    req.on('error', reject);
    req.end(initBody);
  });
  assert.equal(status, 403);
  // A chunked body with no Content-Length is cut off at the limit too.
  const chunked = await new Promise<number>((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: u.port, path: '/mcp', method: 'POST', headers: { ...auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, res => { res.resume(); resolve(res.statusCode!); });
    req.on('error', () => resolve(-1));
    for (let i = 0; i < 80; i++) req.write('x'.repeat(1024));
    req.end();
    void reject;
  });
  assert.equal(chunked, 413);
});
