import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BUILTIN_AGENT_PROFILES, extractAgentMention, parseAgentRef, readAgentLine } from '../../src/core/agent';
import { BUILTIN_PROFILES } from '../../src/sessions/profiles';
import { importMarkdownPlan } from '../../src/core/import/markdownPlan';
import type { Actor } from '../../src/core/model';
import { agentLine } from '../../src/ui/labels';
import { connectAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

// A task's `agent` (profile and optional role) and a sprint's default agent: the service and store,
// the MCP tools, and the markdown importer with its re-import merge.

const me: Actor = { kind: 'user', name: 'ada' };
let owner: Awaited<ReturnType<typeof openTestOwner>>;
before(async () => { owner = await openTestOwner({ mcp: true }); });
after(async () => { await owner.cleanup(); });

test('profile[:role] parsing: names of letters, digits, - _ . up to 64; bad values are named', () => {
  assert.deepEqual(parseAgentRef('codex'), { profile: 'codex', role: null });
  assert.deepEqual(parseAgentRef(' @claude:reviewer '), { profile: 'claude', role: 'reviewer' });
  assert.deepEqual(parseAgentRef('my-profile.v2:code_review'), { profile: 'my-profile.v2', role: 'code_review' });
  assert.throws(() => parseAgentRef('claude code'), /Agent profile must be a name .* got "claude code"/);
  assert.throws(() => parseAgentRef('claude:'), /Agent role must be a name .* got ""/);
  assert.throws(() => parseAgentRef('a'.repeat(65)), /Agent profile must be a name/);
  assert.throws(() => parseAgentRef(''), /got an empty text/);
  assert.deepEqual(readAgentLine('**Agent:** codex'), { kind: 'agent', agent: { profile: 'codex', role: null }, written: 'codex' });
  assert.equal(readAgentLine('The agent decides'), null);
  assert.equal(readAgentLine('Agent: none'), null);
  assert.equal(readAgentLine('Agent: the whole team')?.kind, 'bad');
  assert.deepEqual(extractAgentMention('Write the API @claude:reviewer'), { text: 'Write the API', agent: { profile: 'claude', role: 'reviewer' } });
  assert.deepEqual(extractAgentMention('@codex Write the API'), { text: 'Write the API', agent: { profile: 'codex', role: null } });
  assert.deepEqual(extractAgentMention('Ask @alice'), { text: 'Ask @alice', agent: null }, 'an unknown name is text');
  assert.deepEqual(extractAgentMention('mail bob@codex'), { text: 'mail bob@codex', agent: null }, 'not inside a word');
  assert.deepEqual(extractAgentMention('Ask @alice', ['alice']).agent, { profile: 'alice', role: null });
});

test('the core\'s list of built-in agent CLIs is the session profiles\' (without the plain shell)', () => {
  assert.deepEqual([...BUILTIN_AGENT_PROFILES].sort(), BUILTIN_PROFILES.map(p => p.id).filter(id => id !== 'shell').sort());
});

test('the tree\'s tooltip line says the task\'s agent, else the sprint\'s default, else nothing', () => {
  assert.equal(agentLine({ profile: 'codex', role: 'reviewer' }, { profile: 'claude', role: null }), 'Agent: codex:reviewer');
  assert.equal(agentLine(null, { profile: 'claude', role: null }), 'Agent: claude (the sprint\'s default)');
  assert.equal(agentLine(null, null), null);
});

test('a task\'s agent is created, changed and cleared, each change in the activity; a sprint gives the default', () => {
  const plan = owner.plan;
  const sprint = plan.createSprint({ name: 'Agents', agent: { profile: 'claude', role: null } }, me);
  assert.deepEqual(plan.getSprint(sprint.id).agent, { profile: 'claude', role: null });
  const t = plan.createTask({ title: 'Review the API', sprintId: sprint.id, agent: { profile: 'codex', role: 'reviewer' } }, me);
  assert.deepEqual(plan.getTask(t.id).agent, { profile: 'codex', role: 'reviewer' });
  assert.match(plan.listActivity({ taskId: t.id })[0].detail, /for agent codex:reviewer/);

  plan.updateTask(t.id, { agent: { profile: 'gemini', role: null } }, me);
  assert.deepEqual(plan.getTask(t.id).agent, { profile: 'gemini', role: null });
  assert.match(plan.listActivity({ taskId: t.id })[0].detail, /updated agent gemini/);
  plan.updateTask(t.id, { title: 'Review the API again' }, me);
  assert.deepEqual(plan.getTask(t.id).agent, { profile: 'gemini', role: null }, 'a patch without agent leaves it alone');
  plan.updateTask(t.id, { agent: null }, me);
  assert.equal(plan.getTask(t.id).agent, null);
  assert.match(plan.listActivity({ taskId: t.id })[0].detail, /updated agent none/);

  plan.updateSprint(sprint.id, { agent: { profile: 'qwen', role: 'planner' } }, me);
  assert.deepEqual(plan.getSprint(sprint.id).agent, { profile: 'qwen', role: 'planner' });
  assert.match(plan.listActivity({ limit: 1 })[0].detail, /default agent qwen:planner/);
  plan.updateSprint(sprint.id, { agent: null }, me);
  assert.equal(plan.getSprint(sprint.id).agent, null);
  assert.equal(plan.createTask({ title: 'No agent' }, me).agent, null);
});

test('bad agent names are refused naming the value, and nothing changes', () => {
  const plan = owner.plan;
  const t = plan.createTask({ title: 'Keep my agent', agent: { profile: 'codex', role: null } }, me);
  const before = plan.listActivity({ taskId: t.id }).length;
  assert.throws(() => plan.updateTask(t.id, { agent: { profile: 'co dex', role: null } }, me), /Agent profile must be a name .*"co dex"/);
  assert.throws(() => plan.updateTask(t.id, { agent: { profile: 'claude', role: 'rev/iewer' } }, me), /Agent role must be .*"rev\/iewer"/);
  assert.throws(() => plan.createTask({ title: 'x', agent: { profile: '', role: null } }, me), /Agent profile must be/);
  const secret = `ghp_${'a1B2c3D4e5'.repeat(3)}abcdef`;
  assert.throws(() => plan.updateTask(t.id, { agent: { profile: secret, role: null } }, me), /looks like a secret/);
  assert.deepEqual(plan.getTask(t.id).agent, { profile: 'codex', role: null });
  assert.equal(plan.listActivity({ taskId: t.id }).length, before);
});

test('MCP: create_task / update_task take "profile[:role]" or null, get_task and list_tasks show it, update_sprint sets the default', async () => {
  const c = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'agent-field');
  const sprint = owner.plan.createSprint({ name: 'MCP agents' }, me);
  const a = await c.call('create_task', { title: 'Implement', sprint_id: sprint.id, agent: 'claude' });
  assert.equal(a.agent, 'claude');
  const b = await c.call('update_task', { task_id: a.id, agent: 'codex:reviewer' });
  assert.equal(b.agent, 'codex:reviewer');
  assert.deepEqual(owner.plan.getTask(a.id).agent, { profile: 'codex', role: 'reviewer' });
  const listed = await c.call('list_tasks', { sprint_id: sprint.id });
  assert.equal(listed.tasks[0].agent, 'codex:reviewer');
  const s = await c.call('update_sprint', { sprint_id: sprint.id, agent: '@gemini' });
  assert.equal(s.agent, 'gemini');
  const details = await c.call('get_task', { task_id: a.id });
  assert.equal(details.agent, 'codex:reviewer');
  assert.equal(details.sprint.agent, 'gemini');
  assert.equal((await c.call('update_task', { task_id: a.id, agent: null })).agent, null);
  assert.equal((await c.call('update_sprint', { sprint_id: sprint.id, agent: null })).agent, null);
  assert.equal((await c.call('list_sprints')).sprints.find((x: { id: string }) => x.id === sprint.id).agent, null);
  await c.close();
});

test('MCP: a bad agent value is -32602 with a readable message, and the task keeps its agent', async () => {
  const t = owner.plan.createTask({ title: 'Strict', agent: { profile: 'aider', role: null } }, me);
  const rpc = async (body: object, session?: string) => fetch(owner.mcpUrl!, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${owner.readToken()}`,
      'MCP-Protocol-Version': '2025-06-18', ...(session ? { 'Mcp-Session-Id': session } : {}),
    },
    body: JSON.stringify(body),
  });
  const init = await rpc({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  const session = init.headers.get('mcp-session-id')!;
  await init.text();
  await (await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
  const call = async (args: object) => {
    const r = await rpc({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'update_task', arguments: args } }, session);
    const text = await r.text();
    const json = text.startsWith('{') ? JSON.parse(text) : JSON.parse(text.split('\n').find(l => l.startsWith('data: '))!.slice(6));
    return json;
  };
  const bad = await call({ task_id: t.id, agent: 'claude code' });
  assert.equal(bad.error?.code, -32602, JSON.stringify(bad));
  assert.match(bad.error.message, /agent: agent must be "profile" or "profile:role"/);
  const role = await call({ task_id: t.id, agent: 'claude:re viewer' });
  assert.equal(role.error?.code, -32602);
  const typed = await call({ task_id: t.id, agent: { profile: 'claude' } });
  assert.equal(typed.error?.code, -32602);
  assert.deepEqual(owner.plan.getTask(t.id).agent, { profile: 'aider', role: null });

  // A 2025-11-25 client gets the same message as an isError result.
  const client = new Client({ name: 'sdk', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(owner.mcpUrl!), { requestInit: { headers: { Authorization: `Bearer ${owner.readToken()}` } } }));
  const r = await client.callTool({ name: 'create_task', arguments: { title: 'x', agent: 'a:b:c' } });
  assert.equal(r.isError, true);
  assert.match((r.content as { text: string }[])[0].text, /agent must be "profile" or "profile:role"/);
  await client.close();
});

const PLAN = `# Plan

## Sprint 1: Core
Agent: claude

### A1: Set up the database @codex
Pick and configure.

### A2: Write the API (3 hours) @claude:reviewer
Expose the endpoints.
Agent: gemini

### A3: Add caching
**Agent:** qwen:perf
Cache hot reads.

### A4: Talk to @alice
- Agent: the whole team
- Depends on: A1

## Sprint 2: Docs
- [ ] Write the guide @aider
- [ ] Review the guide
  Agent: @gemini:reviewer

| Task | Hours | Agent |
|---|---|---|
| Bench | 2 | codex:perf |
`;

test('plans: Agent: lines, @profile[:role] mentions, an Agent column, and a sprint default; bad values are skipped with the reason', () => {
  const plan = importMarkdownPlan(PLAN, 'plan.md');
  const [core, docs] = plan.sprints;
  assert.deepEqual(core.agent, { profile: 'claude', role: null });
  assert.equal(docs.agent, undefined);
  const got = (s: typeof core) => s.tasks.map(t => [t.title, t.agent ? `${t.agent.profile}${t.agent.role ? `:${t.agent.role}` : ''}` : null]);
  assert.deepEqual(got(core), [
    ['A1: Set up the database', 'codex'],
    ['A2: Write the API', 'claude:reviewer'], // the heading's mention comes first
    ['A3: Add caching', 'qwen:perf'],
    ['A4: Talk to @alice', null],
  ]);
  assert.deepEqual(got(docs), [['Write the guide', 'aider'], ['Review the guide', 'gemini:reviewer'], ['Bench', 'codex:perf']]);
  assert.equal(core.tasks[1].estimate, 3, 'the estimate is still read');
  assert.equal(core.tasks[1].description, 'Expose the endpoints.', 'Agent: lines leave the description');
  assert.equal(core.tasks[2].description, 'Cache hot reads.');
  assert.deepEqual(core.tasks[3].dependsOn, ['sprint-1/a1']);
  assert.match(core.tasks[3].description, /Agent: the whole team/, 'a bad value stays in the description');
  const skipped = plan.skipped.find(s => /whole team/.test(s.text));
  assert.ok(skipped, JSON.stringify(plan.skipped));
  assert.equal(skipped.line, 18);
  assert.match(skipped.reason, /agent "the whole team" not read: Agent profile must be a name/);
  // Profiles passed in by the caller make their bare mentions count.
  const custom = importMarkdownPlan('## Sprint 1: X\n### A1: Talk to @alice\n', 'p.md', { agentProfiles: ['alice'] });
  assert.deepEqual(custom.sprints[0].tasks[0].agent, { profile: 'alice', role: null });
});

test('import stores agents (sync and async paths); a re-import merges agent three ways', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-agent-import-'));
  const o = await openTestOwner({ dir });
  try {
    const report = await o.plan.importDocumentAsync(PLAN, 'docs/plan.md', me);
    assert.equal(report.tasks.created, 7);
    const byTitle = (title: string) => o.plan.allTasks().find(t => t.title.endsWith(title))!;
    assert.deepEqual(byTitle('Set up the database').agent, { profile: 'codex', role: null });
    assert.deepEqual(byTitle('Review the guide').agent, { profile: 'gemini', role: 'reviewer' });
    assert.equal(byTitle('Talk to @alice').agent, null);
    const core = o.plan.listSprints().find(s => s.name.endsWith('Core'))!;
    assert.deepEqual(core.agent, { profile: 'claude', role: null });

    // Baton changes A1's agent; the plan changes A3's and the sprint's: each side's change is kept.
    o.plan.updateTask(byTitle('Set up the database').id, { agent: { profile: 'aider', role: null } }, me);
    const next = PLAN.replace('**Agent:** qwen:perf', '**Agent:** qwen:tuning').replace('Agent: claude\n', 'Agent: codex\n');
    const again = o.plan.importDocument(next, 'docs/plan.md', me);
    assert.deepEqual(again.conflicts, []);
    assert.deepEqual(byTitle('Set up the database').agent, { profile: 'aider', role: null }, 'Baton\'s change stays');
    assert.deepEqual(byTitle('Add caching').agent, { profile: 'qwen', role: 'tuning' }, 'the plan\'s change is taken');
    assert.deepEqual(o.plan.getSprint(core.id).agent, { profile: 'codex', role: null });

    // Both sides change the same task's agent: Baton's stays, the conflict is reported.
    o.plan.updateTask(byTitle('Add caching').id, { agent: { profile: 'claude', role: null } }, me);
    const third = o.plan.importDocument(next.replace('qwen:tuning', 'gemini'), 'docs/plan.md', me);
    assert.deepEqual(third.conflicts.map(c => [c.field, c.baton, c.plan]), [['agent', 'claude', 'gemini']]);
    assert.deepEqual(byTitle('Add caching').agent, { profile: 'claude', role: null });

    // The synchronous path stores them too.
    const sync = o.plan.importDocument('## Sprint 9: Sync\n### S1: One thing @qwen:fixer\n', 'other.md', me);
    assert.equal(sync.tasks.created, 1);
    assert.deepEqual(byTitle('One thing').agent, { profile: 'qwen', role: 'fixer' });
  } finally {
    await o.cleanup();
  }
});
