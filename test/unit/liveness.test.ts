import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { leaseState } from '../../src/core/lease';
import { LeaseService, type LeaseLapse } from '../../src/services/leaseService';
import { HUMAN } from '../../src/services/messageService';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { connectAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

const ada: Actor = { kind: 'user', name: 'ada' };
type Owner = Awaited<ReturnType<typeof openTestOwner>>;

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Waits until `check` holds (polling), or fails naming `what` after `ms`. */
async function until(what: string, check: () => boolean, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A fresh sprint holding only the given tasks, so claims are predictable. */
function sprintWith(owner: Owner, name: string, ...titles: string[]) {
  const sprint = owner.plan.createSprint({ name }, ada);
  const tasks = titles.map(title => owner.plan.createTask({ title, sprintId: sprint.id, priority: 'critical' }, ada));
  return { sprint, tasks };
}

/**
 * A bare MCP client over plain HTTP, as scripts and some CLIs speak it: POSTs only, never opens the
 * GET event stream, never sends DELETE. Each call is its own request.
 */
async function rawClient(owner: Owner, name: string) {
  const url = owner.mcpUrl!;
  const base = { Authorization: `Bearer ${owner.readToken()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  let sessionId = '';
  let nextId = 1;
  const post = async (body: object) => {
    const res = await fetch(url, { method: 'POST', headers: { ...base, ...(sessionId ? { 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': '2025-06-18' } : {}) }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, sessionId: res.headers.get('mcp-session-id'), text };
  };
  const init = await post({ jsonrpc: '2.0', id: nextId++, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name, version: '1' } } });
  assert.equal(init.status, 200, init.text);
  sessionId = init.sessionId!;
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  return {
    sessionId,
    /** Calls a tool; returns the HTTP status and the parsed tool answer (when 200). */
    async call(tool: string, args: object = {}): Promise<{ status: number; result?: any }> {
      const r = await post({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: tool, arguments: args } });
      if (r.status !== 200) return { status: r.status };
      const line = r.text.split('\n').find(l => l.startsWith('data: '));
      const message = JSON.parse(line ? line.slice(6) : r.text);
      return { status: 200, result: message.result?.isError ? { error: message.result.content[0].text } : JSON.parse(message.result.content[0].text) };
    },
  };
}

// ------------------------------------------------------------------ item 4: idle MCP sessions

test('an MCP client that exits without DELETE is closed after the idle timeout: gone from the session count, its agent session ended "disconnected", no broadcast reaches it', async () => {
  const owner = await openTestOwner({ mcp: true, sessionIdleSeconds: 1, claimLeaseSeconds: 3600 });
  try {
    const watcher = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'watcher');
    const w = (await watcher.call('agent_init', {})).session.id;
    const ghost = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'claude-code');
    const g = (await ghost.call('agent_init', {})).session.id;
    assert.equal(owner.mcp!.sessionCount, 2);
    await ghost.close(); // what `claude mcp list`, `-p` runs and scripts do: exit, no DELETE

    await until('the ghost session to expire', () => owner.mcp!.sessionCount === 1);
    const ended = owner.services.sessions.get(g);
    assert.equal(ended.status, 'ended');
    assert.equal(ended.endReason, 'disconnected');
    assert.deepEqual(owner.services.sessions.list({ status: 'active' }).map(s => s.id), [w], 'the Sessions view lists only the live agent as connected');

    const sent = owner.services.messages.send({ from: { kind: 'user', id: HUMAN.id, name: 'ada' }, to: 'all', body: 'Stand-up in 5 minutes' });
    assert.equal(sent.recipients, 1, 'a broadcast reaches the live agent only');
    assert.equal(owner.services.messages.unreadCount({ kind: 'session', id: g }), 0, 'the ghost got nothing');
    assert.match(await watcher.raw('list_tasks', {}), /1 unread message/);
    await watcher.close();
  } finally {
    await owner.cleanup();
  }
});

test('an open GET event stream keeps an MCP session alive past the idle timeout; a client without one expires', async () => {
  const owner = await openTestOwner({ mcp: true, sessionIdleSeconds: 1, claimLeaseSeconds: 3600 });
  try {
    const streaming = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'gemini-cli'); // the SDK client holds the GET stream open
    const s = (await streaming.call('agent_init', {})).session.id;
    const bare = await rawClient(owner, 'script');
    assert.equal(owner.mcp!.sessionCount, 2);
    await sleep(2_500);
    assert.equal(owner.mcp!.sessionCount, 1, 'the bare client expired, the streaming one did not');
    assert.equal((await bare.call('list_tasks')).status, 404, 'the expired session is unknown: the client must initialize again');
    assert.ok(Array.isArray((await streaming.call('list_tasks', {})).tasks), 'the streaming client still works');
    assert.equal(owner.services.sessions.get(s).status, 'active');
    await streaming.close();
  } finally {
    await owner.cleanup();
  }
});

test('a long-polling POST (ask_human waiting) keeps its MCP session alive; the idle clock starts when it returns', async () => {
  const owner = await openTestOwner({ mcp: true, sessionIdleSeconds: 1, claimLeaseSeconds: 3600 });
  try {
    const agent = await rawClient(owner, 'poller');
    const asked = await agent.call('ask_human', { question: 'Which database?', wait_seconds: 3 });
    assert.equal(asked.status, 200);
    assert.equal(asked.result.status, 'open', 'nobody answered within 3 s, 3 × the idle timeout');
    assert.equal((await agent.call('list_tasks')).status, 200, 'the session outlived its idle timeout while the call was open');
    await sleep(1_600);
    assert.equal((await agent.call('list_tasks')).status, 404, 'idle after the call: expired');
  } finally {
    await owner.cleanup();
  }
});

/** Vanished clients in the memory test; `LIVENESS_GHOSTS=2000` reproduces the figure (slow on a small machine). */
const GHOSTS = Number(process.env.LIVENESS_GHOSTS ?? 200);

test(`${GHOSTS} MCP clients that vanish without DELETE are all expired: the session map empties and their memory is freed`, async () => {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const heapMb = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  /** Opens GHOSTS sessions the way `claude mcp list` does (initialize, list, exit without DELETE). */
  const haunt = async (owner: Owner) => {
    for (let done = 0; done < GHOSTS; done += 20) {
      await Promise.all(Array.from({ length: Math.min(20, GHOSTS - done) }, async (_, i) => {
        const client = await rawClient(owner, `mcp-list-${done + i}`);
        assert.equal((await client.call('list_tasks')).status, 200);
      }));
    }
  };
  // As on main: sessions never expire (an idle timeout far beyond the test).
  const kept = await openTestOwner({ mcp: true, sessionIdleSeconds: 3600, claimLeaseSeconds: 3600 });
  let keptMb: number;
  const base = heapMb();
  try {
    await haunt(kept);
    assert.equal(kept.mcp!.sessionCount, GHOSTS);
    keptMb = heapMb() - base;
  } finally {
    await kept.cleanup();
  }
  const owner = await openTestOwner({ mcp: true, sessionIdleSeconds: 3, claimLeaseSeconds: 3600 });
  try {
    const base2 = heapMb();
    const started = Date.now();
    await haunt(owner);
    const took = Date.now() - started;
    await until('every vanished session to expire', () => owner.mcp!.sessionCount === 0, 30_000);
    await sleep(200);
    const leftMb = heapMb() - base2;
    assert.equal(owner.mcp!.sessionCount, 0, 'the session map is empty');
    assert.equal(owner.services.sessions.list({ status: 'active', limit: GHOSTS + 10 }).length, 0, 'every agent session ended');
    // Figures for the report (not asserted: heap sizes and timings vary by machine and run).
    console.log(`[liveness] ${GHOSTS} vanished sessions (${took} ms to open): heap +${keptMb.toFixed(1)} MB while they are kept, ${leftMb >= 0 ? '+' : ''}${leftMb.toFixed(1)} MB after they expired`);
  } finally {
    await owner.cleanup();
  }
});

// ------------------------------------------------------------------ item 5: claims are leases

test('a claim is a lease: the agent claims, saves context and vanishes; the lease lapses → TODO unassigned, handoff pack kept, activity says why, the person is told, an event fires', async () => {
  const owner = await openTestOwner({ mcp: true, sessionIdleSeconds: 1, claimLeaseSeconds: 1 });
  try {
    const lapses: LeaseLapse[] = [];
    owner.leases.onDidLapse(l => lapses.push(l));
    const { sprint, tasks: [task] } = sprintWith(owner, 'Lease', 'Payments API');
    const ghost = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'claude-code');
    const g = (await ghost.call('agent_init', { profile: 'claude' })).session.id;
    assert.equal((await ghost.call('claim_next_task', { sprint_id: sprint.id })).task.id, task.id);
    await ghost.call('save_context', { context: { stepsDone: ['schema'], nextSteps: ['wire the webhook'] } });
    await ghost.close();

    await until('the task to go back to TODO', () => owner.plan.getTask(task.id).status === 'TODO');
    const back = owner.plan.getTask(task.id);
    assert.equal(back.assignee, null);
    const activity = owner.plan.listActivity({ taskId: task.id, limit: 10 });
    assert.ok(activity.some(e => new RegExp(`IN_PROGRESS → TODO: lease expired: ${g} \\(claude-code\\) gone since \\d{4}-\\d\\d-\\d\\dT`).test(e.detail)), JSON.stringify(activity.map(e => e.detail)));
    const toHuman = owner.services.messages.read(HUMAN);
    assert.ok(toHuman.some(m => m.taskId === task.id && /back to To Do/.test(m.body) && m.body.includes(g)), 'the person got a message');
    assert.equal(lapses.length, 1);
    assert.equal(lapses[0].taskId, task.id);
    assert.ok(lapses[0].handoffId);
    assert.equal(owner.services.sessions.get(g).endReason, 'disconnected');

    const next = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'gemini-cli');
    const init = await next.call('agent_init', { task_id: task.id });
    assert.equal(init.memory.kind, 'handoff', 'the next agent resumes from the kept pack');
    assert.deepEqual(init.memory.context.stepsDone, ['schema']);
    assert.deepEqual(init.memory.context.nextSteps, ['wire the webhook']);
    await next.close();
  } finally {
    await owner.cleanup();
  }
});

test('a live agent keeps its claim: one that keeps calling (no stream), and one that holds its event stream open without calling', async () => {
  const owner = await openTestOwner({ mcp: true, sessionIdleSeconds: 1, claimLeaseSeconds: 1 });
  try {
    const { sprint, tasks: [first, second] } = sprintWith(owner, 'Live', 'Caller task', 'Streamer task');
    const caller = await rawClient(owner, 'caller');
    assert.equal((await caller.call('claim_next_task', { sprint_id: sprint.id })).result.task.id, first.id);
    const streamer = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'streamer');
    assert.equal((await streamer.call('claim_next_task', { sprint_id: sprint.id })).task.id, second.id);
    for (let i = 0; i < 10; i++) {
      await sleep(300);
      assert.equal((await caller.call('report_progress', { percent: (i + 1) * 5 })).status, 200);
    }
    assert.equal(owner.leases.sweep().length, 0);
    for (const t of [first, second]) {
      const now = owner.plan.getTask(t.id);
      assert.equal(now.status, 'IN_PROGRESS', `${t.id} is still claimed after 3 × its lease`);
      assert.match(now.assignee ?? '', /#A-\d+$/);
    }
    await streamer.close();
  } finally {
    await owner.cleanup();
  }
});

test('after an owner restart, claims of the sessions it ended lapse a lease later, the same way', async () => {
  const first = await openTestOwner({ mcp: true, claimLeaseSeconds: 3600 });
  const dir = first.storageDir;
  const { sprint, tasks: [httpTask, stdioTask] } = sprintWith(first, 'Restart', 'Search index', 'Ranking');
  const agent = await connectAgent(first.mcpUrl!, first.readToken()!, 'codex');
  const a = (await agent.call('agent_init', {})).session.id;
  await agent.call('claim_next_task', { sprint_id: sprint.id });
  // An agent on `baton mcp` (stdio): its record stays active when that owner dies with it.
  const stdio = first.services.sessions.connect({ agentName: 'aider' });
  first.plan.claimNextReadyTask(first.services.sessions.actorOf(stdio), { sprintId: sprint.id });
  await agent.close();
  await first.close(); // the owner goes away (window reload, `baton serve` stopped) with both claims held

  const owner = await openTestOwner({ dir, mcp: true, claimLeaseSeconds: 1 });
  try {
    assert.equal(owner.services.sessions.get(a).endReason, 'disconnected', 'the HTTP session ended when the owner closed its transport');
    assert.equal(owner.services.sessions.get(stdio.id).endReason, 'owner-restarted');
    for (const t of [httpTask, stdioTask]) assert.equal(owner.plan.getTask(t.id).status, 'IN_PROGRESS', 'a full lease from the restart first');
    await until('both tasks to go back to TODO', () => [httpTask, stdioTask].every(t => owner.plan.getTask(t.id).status === 'TODO'));
    assert.ok(owner.plan.listActivity({ taskId: httpTask.id, limit: 5 }).some(e => e.detail.includes(`lease expired: ${a} (codex)`)));
    assert.ok(owner.plan.listActivity({ taskId: stdioTask.id, limit: 5 }).some(e => e.detail.includes(`lease expired: ${stdio.id} (aider)`)));
    for (const t of [httpTask, stdioTask]) {
      assert.equal(owner.services.sessions.loadContext({ taskId: t.id })?.saved.kind, 'handoff', 'a handoff pack names the task for the next agent');
    }
  } finally {
    await owner.cleanup();
  }
});

test('a claim held by a terminal session lasts while its process runs and lapses a lease after it stops', async () => {
  const owner = await openTestOwner({ claimLeaseSeconds: 3600 });
  try {
    const { tasks: [task] } = sprintWith(owner, 'Terminal', 'Refactor the parser');
    const proc = spawn('sleep', ['60'], { stdio: 'ignore' });
    const runs = new TerminalSessionRepository(owner.db);
    runs.insert(runs.nextNumber(), {
      id: 'run-1', profile: 'claude', title: 'Claude', command: 'claude', taskId: task.id, cwd: owner.storageDir, worktree: null, branch: null,
      tmuxSession: null, pid: proc.pid!, state: 'working', startedAt: new Date().toISOString(), endedAt: null, exitCode: null, endReason: null, lastOutput: '',
    });
    const agent: Actor = { kind: 'agent', name: 'claude#run-1' };
    owner.plan.startTask(task.id, agent);
    let now = Date.now();
    const leases = new LeaseService(owner.plan, owner.services.sessions, owner.services.messages, { leaseMs: 60_000, now: () => new Date(now) });
    leases.useProbes({ terminal: id => { const r = runs.get(id); return r && { running: !r.endedAt && proc.exitCode === null && proc.signalCode === null, endedAt: r.endedAt ? Date.parse(r.endedAt) : null }; } });
    now += 3_600_000;
    assert.equal(leases.sweep().length, 0, 'an hour later the process still runs: still claimed');
    proc.kill();
    await new Promise(resolve => proc.once('exit', resolve));
    runs.update('run-1', { state: 'exited', endedAt: new Date(now).toISOString() });
    now += 59_000;
    assert.equal(leases.sweep().length, 0, 'within the lease after it stopped');
    now += 1_000;
    const [lapse] = leases.sweep();
    assert.equal(lapse.taskId, task.id);
    assert.equal(lapse.holder, 'run-1 (claude)');
    assert.equal(owner.plan.getTask(task.id).status, 'TODO');
    leases.dispose();
  } finally {
    await owner.cleanup();
  }
});

test('the lease rule (injected clock): held while any holder is alive, lapses exactly a lease after the latest sign of life', () => {
  const lease = 60_000;
  const at = Date.parse('2026-01-01T00:00:00Z');
  assert.deepEqual(leaseState([{ label: 'A-1 (x)', alive: true, lastSeenAt: at }], lease, at + 10 * lease), { lapsed: false, expiresAt: null });
  const gone = [{ label: 'A-1 (x)', alive: false, lastSeenAt: at }, { label: 'run-2 (y)', alive: false, lastSeenAt: at + 5_000 }];
  assert.deepEqual(leaseState(gone, lease, at + 64_999), { lapsed: false, expiresAt: at + 65_000 });
  assert.deepEqual(leaseState(gone, lease, at + 65_000), { lapsed: true, holder: 'run-2 (y)', goneSince: at + 5_000 });
  assert.deepEqual(leaseState([...gone, { label: 'A-3 (z)', alive: true, lastSeenAt: at }], lease, at + 65_000), { lapsed: false, expiresAt: null });
  assert.throws(() => leaseState(gone, 0, at), /positive/);
});

// ------------------------------------------------------------------ item 7: agent_init is all-or-nothing

test('agent_init is all-or-nothing: an unknown, finished, cancelled, blocked or not-ready task is refused and the session is not renamed', async () => {
  const owner = await openTestOwner({ mcp: true });
  try {
    const { tasks: [done, cancelled, blocked, prerequisite, waiting, ready] } = sprintWith(owner, 'Init', 'Done', 'Cancelled', 'Blocked', 'Prerequisite', 'Waiting', 'Ready');
    owner.plan.startTask(done.id, ada);
    owner.plan.completeTask(done.id, 'shipped', ada);
    owner.plan.setStatus(cancelled.id, 'CANCELLED', ada);
    owner.plan.setStatus(blocked.id, 'BLOCKED', ada, { note: 'needs architecture review' });
    owner.plan.addDependency(waiting.id, prerequisite.id, ada);
    const agent = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'claude-code');
    const id = (await agent.call('agent_init', {})).session.id;
    const refusals: [string, RegExp][] = [
      ['T-99999', /T-99999/], [done.id, /is DONE/], [cancelled.id, /is CANCELLED/], [blocked.id, /is BLOCKED/],
      [waiting.id, new RegExp(`not ready: it waits for ${prerequisite.id}`)],
    ];
    for (const [taskId, message] of refusals) {
      await assert.rejects(agent.call('agent_init', { agent: 'renamed', profile: 'p', role: 'r', task_id: taskId }), message);
      const s = owner.services.sessions.get(id);
      assert.deepEqual([s.agentName, s.profile, s.role, s.taskId], ['claude-code', null, null, null], `nothing changed after ${taskId}`);
    }
    assert.equal(owner.plan.getTask(done.id).status, 'DONE');
    assert.equal(owner.plan.getTask(blocked.id).status, 'BLOCKED');
    assert.equal(owner.plan.getTask(waiting.id).status, 'TODO');
    assert.equal(owner.plan.getTask(waiting.id).assignee, null);

    const init = await agent.call('agent_init', { agent: 'renamed', task_id: ready.id });
    assert.equal(init.session.agent, 'renamed');
    assert.equal(init.task.status, 'IN_PROGRESS');
    assert.equal(owner.plan.getTask(ready.id).assignee, `renamed#${id}`);

    const other = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'qwen-code');
    await assert.rejects(other.call('agent_init', { agent: 'thief', task_id: ready.id }), /claimed by renamed#A-\d+, which is still connected/);
    await other.close();
    await agent.close();
  } finally {
    await owner.cleanup();
  }
});

// ------------------------------------------------------------------ the `baton serve` flags

test('baton serve --idle-timeout and --lease: a vanished agent\'s session ends and its task goes back to TODO; bad values are refused by name', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const repo = path.resolve(__dirname, '../..');
  const cli = ['--import', 'tsx', path.join(repo, 'src/cli/main.ts')];
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-home-'));
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-ws-'));
  const env = { ...process.env, BATON_HOME: home };
  const { spawnSync } = await import('node:child_process');
  const bad = spawnSync(process.execPath, [...cli, 'serve', '--workspace', workspace, '--lease', 'soon'], { env, encoding: 'utf8', cwd: repo });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--lease takes whole seconds from 1 to 604800, got "soon"/);
  const serve = spawn(process.execPath, [...cli, 'serve', '--workspace', workspace, '--tools', 'full', '--idle-timeout', '1', '--lease', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: repo });
  try {
    const { url, tokenFile } = await new Promise<{ url: string; tokenFile: string }>((resolve, reject) => {
      let out = '';
      serve.stdout!.on('data', d => {
        out += d;
        const m = /Baton MCP server: (\S+)\nBearer token in: (\S+)/.exec(out);
        if (m) resolve({ url: m[1], tokenFile: m[2] });
      });
      serve.on('exit', code => reject(new Error(`serve exited with ${code}`)));
      setTimeout(() => reject(new Error('serve did not start')), 20_000);
    });
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    const watcher = await connectAgent(url, token, 'watcher');
    const task = await watcher.call('create_task', { title: 'Flaky test' });
    const ghost = await connectAgent(url, token, 'claude-code');
    const g = (await ghost.call('agent_init', {})).session.id;
    assert.equal((await ghost.call('claim_next_task', {})).task.id, task.id);
    await ghost.close();
    const deadline = Date.now() + 10_000;
    let state: { status: string; sessions: { id: string; status: string; ended: string | null }[] };
    do {
      await sleep(200);
      state = { status: (await watcher.call('get_task', { task_id: task.id })).status, sessions: (await watcher.call('list_sessions', { active_only: false })).sessions };
    } while ((state.status !== 'TODO' || state.sessions.find(s => s.id === g)?.status !== 'ended') && Date.now() < deadline);
    assert.equal(state.status, 'TODO');
    const ended = state.sessions.find(s => s.id === g);
    assert.deepEqual({ status: ended?.status, ended: ended?.ended }, { status: 'ended', ended: 'disconnected' });
    await watcher.close();
  } finally {
    serve.kill('SIGTERM');
    await new Promise(r => serve.once('exit', r));
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
