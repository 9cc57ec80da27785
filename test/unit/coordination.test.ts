import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { HUMAN } from '../../src/services/messageService';
import { connectAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

const ada: Actor = { kind: 'user', name: 'ada' };
let owner: Awaited<ReturnType<typeof openTestOwner>>;
let url: string;
let token: string;

before(async () => {
  owner = await openTestOwner({ mcp: true, tier: 'full' });
  url = owner.mcpUrl!;
  token = owner.readToken()!;
});
after(async () => { await owner.cleanup(); });

/** A fresh sprint holding only the given tasks, so claims are predictable. */
function sprintWith(name: string, ...titles: string[]) {
  const sprint = owner.plan.createSprint({ name }, ada);
  const tasks = titles.map(title => owner.plan.createTask({ title, sprintId: sprint.id, priority: 'critical' }, ada));
  return { sprint, tasks };
}

test('single session flow: start, pick task, progress 50, save context, progress 100, complete, end', async () => {
  const { sprint, tasks: [task] } = sprintWith('Single', 'Build the login page');
  const agent = await connectAgent(url, token, 'claude-code');
  const init = await agent.call('agent_init', { agent: 'claude-code', profile: 'claude', client_time: new Date().toISOString() });
  assert.match(init.session.id, /^A-\d+$/);
  assert.equal(init.health.store.ok, true);
  assert.equal(init.health.clock.ok, true);
  assert.ok(init.instructions.includes('ask_human'));
  const claimed = (await agent.call('claim_next_task', { sprint_id: sprint.id })).task;
  assert.equal(claimed.id, task.id);
  assert.equal(claimed.status, 'IN_PROGRESS');
  assert.equal((await agent.call('report_progress', { percent: 50 })).progress, 50, 'report_progress defaults to the claimed task');
  const saved = await agent.call('save_context', { context: { halfway: true, stepsDone: ['form markup'], nextSteps: ['validation'] } });
  assert.ok(saved.bytes <= saved.budget);
  assert.equal((await agent.call('report_progress', { percent: 100, note: 'validation done' })).progress, 100);
  const done = await agent.call('complete_task', { task_id: task.id, summary: 'Login page with validation' });
  assert.equal(done.status, 'DONE');
  const ended = await agent.call('end_session', {});
  assert.equal(ended.outcome, 'done');
  assert.equal(owner.services.sessions.get(init.session.id).status, 'ended');
  await agent.close();
});

test('multi-session handoff: session 1 saves {step: "API done"} and ends; session 2 (another CLI) resumes and completes', async () => {
  const { sprint, tasks: [task] } = sprintWith('Handoff', 'Payments API');
  const claude = await connectAgent(url, token, 'claude-code');
  await claude.call('agent_init', { profile: 'claude' });
  await claude.call('claim_next_task', { sprint_id: sprint.id });
  await claude.call('report_progress', { percent: 30 });
  await claude.call('save_context', { context: { step: 'API done', nextSteps: ['write tests', 'wire the webhook'] } });
  const end = await claude.call('end_session', {});
  assert.equal(end.outcome, 'handoff');
  assert.ok(end.handoff_id);
  assert.equal(end.task.status, 'TODO', 'the task is free for the next agent');
  await claude.close();

  const gemini = await connectAgent(url, token, 'gemini-cli');
  const init = await gemini.call('agent_init', { profile: 'gemini', task_id: task.id });
  assert.equal(init.task.status, 'IN_PROGRESS', 'INIT with a task starts it (workflow rule session.started)');
  assert.equal(init.memory.context.step, 'API done');
  assert.match(init.memory.from, /^claude-code#A-\d+ \(claude\)$/);
  assert.deepEqual(init.plan.slice(1, 3), ['write tests', 'wire the webhook']);
  const loaded = await gemini.call('load_context', { task_id: task.id });
  assert.equal(loaded.context.step, 'API done');
  assert.equal(loaded.kind, 'handoff');
  await gemini.call('report_progress', { percent: 100 });
  assert.equal((await gemini.call('complete_task', { task_id: task.id, summary: 'Webhook wired, tests green' })).status, 'DONE');
  await gemini.close();
});

test('handoff between profiles: a pack written by one CLI is accepted by a session of another', async () => {
  const { sprint, tasks: [task] } = sprintWith('Cross-profile', 'Search index');
  const codex = await connectAgent(url, token, 'codex');
  await codex.call('agent_init', { profile: 'codex', task_id: task.id });
  const pack = { version: 1, budget: 4096, bytes: 0, dropped: [], truncated: false, context: { currentTask: 'Search index', stepsDone: ['schema'], nextSteps: ['ranking'], decisions: { engine: 'sqlite fts5' } } };
  const end = await codex.call('end_session', { outcome: 'handoff', handoff: pack });
  assert.ok(end.handoff_id);
  await codex.close();
  const aider = await connectAgent(url, token, 'aider');
  const init = await aider.call('agent_init', { profile: 'aider' });
  assert.equal(init.suggestedTask.id, task.id);
  const claimed = (await aider.call('claim_next_task', { sprint_id: sprint.id })).task;
  assert.equal(claimed.id, task.id);
  const loaded = await aider.call('load_context', {});
  assert.deepEqual(loaded.context.decisions, { engine: 'sqlite fts5' });
  assert.match(owner.services.sessions.handoffMarkdown(task.id)!, /sqlite fts5/, 'the pack is readable by a person');
  await aider.close();
});

test('human intervention: the agent asks "Which database?", a person answers "Use PostgreSQL" through the inbox service, the waiting call returns it', async () => {
  const { sprint } = sprintWith('Ask', 'Persistence layer');
  const agent = await connectAgent(url, token, 'claude-code');
  await agent.call('agent_init', {});
  await agent.call('claim_next_task', { sprint_id: sprint.id });
  const opened = new Promise<string>(resolve => {
    const sub = owner.services.inbox.onDidChangeInbox(e => {
      if (e.change === 'opened') { sub.dispose(); resolve(e.request.id); }
    });
  });
  const waiting = agent.call('ask_human', { question: 'Which database?', options: ['PostgreSQL', 'SQLite'], wait_seconds: 60 }, { timeout: 90_000 });
  const requestId = await opened;
  assert.equal(owner.services.inbox.list().find(r => r.id === requestId)?.text, 'Which database?');
  owner.services.inbox.answer(requestId, 'Use PostgreSQL', ada);
  const answer = await waiting;
  assert.equal(answer.status, 'answered');
  assert.equal(answer.answer, 'Use PostgreSQL');
  assert.equal(answer.answered_by, 'ada');
  const task = owner.services.sessions.get(owner.services.sessions.list({ status: 'active' })[0].id).taskId!;
  assert.ok(owner.plan.listActivity({ taskId: task }).some(e => /answered: Use PostgreSQL/.test(e.detail)), 'the answer is on the task\'s activity log');
  await agent.close();
});

test('an unanswered request times out without being lost; cancelling a wait is clean', async () => {
  const agent = await connectAgent(url, token, 'qwen-code');
  const r = await agent.call('ask_human', { question: 'Can I drop the legacy table?', kind: 'approval', wait_seconds: 1 });
  assert.equal(r.status, 'open');
  assert.match(r.hint, /get_human_answer/);
  const controller = new AbortController();
  const pending = agent.callTool({ name: 'get_human_answer', arguments: { request_id: r.request_id, wait_seconds: 600 } }, undefined, { signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  await assert.rejects(pending);
  owner.services.inbox.approve(r.request_id, 'Yes, after the backup', ada);
  const after = await agent.call('get_human_answer', { request_id: r.request_id });
  assert.equal(after.status, 'approved');
  assert.equal(after.answer, 'Yes, after the backup');
  await agent.close();
});

test('pause, intervene and approve-to-ship reach the agent; workflow rules move status on events', async () => {
  const { sprint, tasks: [task] } = sprintWith('Oversight', 'Cache layer');
  const agent = await connectAgent(url, token, 'claude-code');
  await agent.call('agent_init', {});
  await agent.call('claim_next_task', { sprint_id: sprint.id });
  const { delivered } = owner.services.inbox.intervene(task.id, 'Use Redis, not memcached', ada);
  assert.equal(delivered, 1);
  const next = await agent.raw('get_task', { task_id: task.id });
  assert.match(next, /You have 1 unread message/);
  const inbox = await agent.call('check_messages', {});
  assert.equal(inbox.messages[0].body, 'Use Redis, not memcached');
  assert.doesNotMatch(await agent.raw('get_task', { task_id: task.id }), /unread message/);
  const reviewed = await agent.call('report_progress', { tests_passed: true });
  assert.equal(reviewed.status, 'IN_REVIEW', 'tests passing moves the task to review');
  const shipped = owner.services.inbox.approveTask(task.id, 'Good work, ship it', ada);
  assert.equal(shipped.status, 'DONE', 'a human approval moves it to DONE');
  const second = sprintWith('Pause', 'Migration');
  await agent.call('claim_next_task', { sprint_id: second.sprint.id });
  const paused = owner.services.inbox.pauseTask(second.tasks[0].id, 'needs architecture review', ada);
  assert.equal(paused.status, 'BLOCKED');
  const bodies = (await agent.call('check_messages', {})).messages.map((m: { body: string }) => m.body);
  assert.ok(bodies.includes('Approved to ship by ada: Good work, ship it'), 'the approval feedback reached the agent');
  assert.ok(bodies.some((b: string) => /paused by ada: needs architecture review/.test(b)), bodies.join(' | '));
  await agent.close();
});

test('messages: direct, to the human, and broadcast to a sprint; read and mark read', async () => {
  const { sprint } = sprintWith('Broadcast', 'Frontend', 'Backend');
  const a = await connectAgent(url, token, 'claude-code');
  const b = await connectAgent(url, token, 'gemini-cli');
  const c = await connectAgent(url, token, 'codex');
  const aInit = await a.call('agent_init', {});
  await a.call('claim_next_task', { sprint_id: sprint.id });
  await b.call('claim_next_task', { sprint_id: sprint.id });
  await c.call('agent_init', {});
  const sent = await c.call('send_message', { to: `sprint:${sprint.id}`, subject: 'API change', body: 'The /users endpoint now paginates.' });
  assert.equal(sent.recipients, 2, 'both sessions working in the sprint');
  assert.equal((await a.call('check_messages', {})).messages[0].subject, 'API change');
  assert.equal((await a.call('check_messages', {})).messages.length, 0, 'read messages are marked read');
  await b.call('send_message', { to: aInit.session.id, body: 'I took the backend' });
  assert.equal((await a.call('check_messages', {})).messages[0].body, 'I took the backend');
  await a.call('send_message', { to: 'human', body: 'FYI: frontend started' });
  assert.ok(owner.services.messages.read({ kind: 'user', id: 'human' }).some(m => m.body === 'FYI: frontend started'));
  await assert.rejects(a.call('send_message', { to: 'A-99999', body: 'x' }), /Unknown address "A-99999"/);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('context packing keeps within the budget and says what it dropped', async () => {
  const agent = await connectAgent(url, token, 'claude-code');
  await agent.call('agent_init', {});
  const huge = { currentTask: 'Refactor', stepsDone: Array.from({ length: 400 }, (_, i) => `step ${i}: changed module ${i} and its tests`), notes: 'x'.repeat(9000) };
  const r = await agent.call('save_context', { context: huge, task_id: owner.plan.allTasks()[0].id, mode: 'replace' });
  assert.ok(r.bytes <= 4096, `${r.bytes} bytes`);
  assert.ok(r.dropped.length > 0);
  assert.ok(r.dropped.some((d: { field: string }) => d.field === 'stepsDone'));
  await agent.close();
});

test('the core tier lists about a dozen tools (the agent loop and submit_review for reviewers); its size in tokens is small', async () => {
  const core = await openTestOwner({ mcp: true, tier: 'core' });
  try {
    const agent = await connectAgent(core.mcpUrl!, core.readToken()!, 'claude-code');
    const { tools } = await agent.listTools();
    const full = await connectAgent(url, token, 'claude-code');
    const all = (await full.listTools()).tools;
    const tokens = (list: unknown) => Math.round(JSON.stringify(list).length / 4);
    console.log(`core tier: ${tools.length} tools ≈ ${tokens(tools)} tokens; full tier: ${all.length} tools ≈ ${tokens(all)} tokens (characters / 4)`);
    assert.ok(tools.length >= 9 && tools.length <= 13, `${tools.length} core tools`);
    assert.ok(tokens(tools) < 4000, `core tier is ${tokens(tools)} tokens`);
    assert.ok(all.length > tools.length);
    await assert.rejects(agent.call('create_task', { title: 'x' }), /disabled|not found|not enabled/i);
    await Promise.all([agent.close(), full.close()]);
  } finally {
    await core.cleanup();
  }
});

test('the inbox survives a restart of the owner: the request stays open and answerable', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-restart-'));
  let first: Awaited<ReturnType<typeof openTestOwner>> | undefined = await openTestOwner({ mcp: true, dir });
  const agent = await connectAgent(first.mcpUrl!, first.readToken()!, 'claude-code');
  const asked = await agent.call('ask_human', { question: 'May I rename the public API?', kind: 'approval' });
  await agent.close();
  await first.close();
  first = undefined;
  const second = await openTestOwner({ mcp: true, dir });
  try {
    const open = second.services.inbox.list();
    assert.deepEqual(open.map(r => [r.id, r.status, r.text]), [[asked.request_id, 'open', 'May I rename the public API?']]);
    assert.equal(second.services.sessions.list({ status: 'active' }).length, 0, 'sessions of the dead owner were ended');
    const again = await connectAgent(second.mcpUrl!, second.readToken()!, 'claude-code');
    const waiting = again.call('get_human_answer', { request_id: asked.request_id, wait_seconds: 30 });
    setTimeout(() => second.services.inbox.reject(asked.request_id, 'Keep the name; add an alias', ada), 100);
    const r = await waiting;
    assert.equal(r.status, 'rejected');
    assert.equal(r.answer, 'Keep the name; add an alias');
    await again.close();
  } finally {
    await second.cleanup();
  }
});

test('every path that delivers or reads a message shows in the next call\'s unread notice (the count is kept in memory)', async () => {
  const { sprint, tasks: [task] } = sprintWith('Mailbox paths', 'Deliver everywhere');
  const agent = await connectAgent(url, token, 'claude-code');
  const other = await connectAgent(url, token, 'codex');
  const me = (await agent.call('agent_init', {})).session.id as string;
  await other.call('agent_init', {});
  await agent.call('claim_next_task', { sprint_id: sprint.id });
  const unread = async () => Number(/You have (\d+) unread/.exec(await agent.raw('get_task', { task_id: task.id }))?.[1] ?? 0);
  assert.equal(await unread(), 0);
  const { messages, inbox } = owner.services;
  const toHuman = await agent.call('send_message', { to: 'human', body: 'Which database?' });
  const paths: [string, () => unknown][] = [
    ['send_message from another agent', () => other.call('send_message', { to: me, body: 'I took the API part' })],
    ['a message from the person', () => messages.send({ from: { kind: 'user', id: HUMAN.id, name: 'ada' }, to: me, body: 'Hello' })],
    ['the person\'s reply', () => messages.reply(HUMAN, toHuman.message_id ?? toHuman.id, { kind: 'user', id: HUMAN.id, name: 'ada' }, 'Postgres')],
    ['an intervention', () => inbox.intervene(task.id, 'Keep the old endpoint', ada)],
    ['a pause', () => inbox.pauseTask(task.id, 'needs review', ada)],
  ];
  let expected = 0;
  for (const [what, send] of paths) {
    await send();
    expected++;
    assert.equal(await unread(), expected, `${what} is noticed on the next call`);
  }
  const [first] = messages.read({ kind: 'session', id: me }, { unreadOnly: true, markRead: false, limit: 1 });
  messages.markRead({ kind: 'session', id: me }, [first.id]);
  assert.equal(await unread(), expected - 1, 'a message marked read elsewhere is no longer counted');
  await agent.call('check_messages', {});
  assert.equal(await unread(), 0, 'check_messages reads them all');
  await other.call('send_message', { to: me, body: 'One more' });
  assert.equal(await unread(), 1, 'a message after check_messages is noticed');
  await agent.close();
  await other.close();
});

test('only the coordination repository writes agent sessions and message recipients (its in-memory copies depend on it)', () => {
  const root = path.join(__dirname, '../../src');
  const writers: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (/\.ts$/.test(entry.name) && !/coordinationRepository\.ts$|schema\.ts$/.test(file)) {
        if (/(INSERT|UPDATE|DELETE|REPLACE)[\s\S]{0,80}\b(agent_sessions|message_recipients)\b/i.test(fs.readFileSync(file, 'utf8'))) writers.push(path.relative(root, file));
      }
    }
  };
  walk(root);
  assert.deepEqual(writers, [], 'these files write the tables outside CoordinationRepository: drop its cached rows there too');
});

test('a claim and the claiming session\'s current task are one write (one journal record), and listeners hear of the session', async () => {
  const { sprint, tasks: [task] } = sprintWith('One record', 'Claim atomically');
  const agent = await connectAgent(url, token, 'claude-code');
  const me = (await agent.call('agent_init', {})).session.id as string;
  let heard = 0;
  const listening = owner.services.sessions.onDidChangeSessions(e => { if (e.sessionId === me) heard++; });
  const before = owner.db.seq;
  const claimed = (await agent.call('claim_next_task', { sprint_id: sprint.id })).task;
  assert.equal(claimed.id, task.id);
  assert.equal(owner.db.seq, before + 1, 'the claim and the session update share one record');
  assert.equal(owner.services.sessions.get(me).taskId, task.id);
  assert.equal(heard, 1, 'the session change is announced once');
  listening.dispose();
  await agent.close();
});
