import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { AutopilotRunner, type AutopilotRunnerSettings, type AutopilotStop } from '../../src/orchestration/autopilotRunner';
import { HookRunner } from '../../src/sessions/hooks';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager } from '../../src/sessions/sessionManager';
import { killTmuxServer, tmuxBinary } from '../../src/sessions/tmux';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { openTestOwner } from './helpers/owner';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';
import { resolveStorageDir } from '../../src/store/storageLocation';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requirePresent, skipOutsideCi } from './helpers/required';

// Autopilot (issue 8 §1) against a real owner (durable store, leases), a real SessionManager on node-pty
// and a real, cheap agent: a shell that says which task it has, reads one line and exits with it as its
// exit code. The test plays the agent's part: it completes the task through the plan (as complete_task
// would) and then answers 0, or answers 1 to fail, or stops the session (it dies).

const ada: Actor = { kind: 'user', name: 'ada' };
const agent: AgentProfile = {
  id: 'sh-agent', label: 'Shell agent', command: '/bin/sh', prompt: 'none', mcp: 'env-only',
  args: ['-c', 'echo "agent on $BATON_TASK_ID"; read code; exit "$code"'],
};
const socket = `baton-autopilot-test-${process.pid}`;
const loaded = loadNodePty();
const noPty = 'error' in loaded ? `node-pty is unavailable: ${loaded.error}` : false;
const noTmux = (() => {
  const v = spawnSync(tmuxBinary(), ['-V'], { encoding: 'utf8' });
  return v.error || v.status !== 0 ? 'tmux is not installed (apt-get install tmux)' : false;
})();

const defaults: AutopilotRunnerSettings = { maxParallel: 2, maxConsecutiveFailures: 3, retryLimit: 2, budgetAgentHours: null, defaultAgent: null };

interface Rig {
  owner: Awaited<ReturnType<typeof openTestOwner>>;
  manager: SessionManager;
  runner: AutopilotRunner;
  stops: AutopilotStop[];
  /** Closes everything but the state folder (a window reload): tmux sessions keep running. */
  close(): Promise<void>;
}
const cleanups: (() => Promise<void>)[] = [];

async function openRig(options: { mcp?: boolean; dir?: string; workspace?: string; useTmux?: boolean; settings?: Partial<AutopilotRunnerSettings>; claimLeaseSeconds?: number } = {}): Promise<Rig> {
  const owner = await openTestOwner({ mcp: options.mcp, dir: options.dir, claimLeaseSeconds: options.claimLeaseSeconds });
  const workspace = options.workspace ?? fs.mkdtempSync(path.join(os.tmpdir(), 'baton-autopilot-ws-'));
  if (!options.workspace) cleanups.push(async () => fs.rmSync(workspace, { recursive: true, force: true }));
  const manager = new SessionManager({
    workspaceDir: workspace, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [...BUILTIN_PROFILES, agent],
    settings: () => ({ bufferBytes: 64 * 1024, useTmux: options.useTmux ?? false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 2, cols: 100, rows: 30 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => null,
    pty: () => ('error' in loaded ? loaded.error : loaded.pty),
    log: () => undefined,
    tmuxSocket: socket,
  });
  await manager.restore();
  const settings = { ...defaults, ...options.settings };
  const runner = new AutopilotRunner({ plan: owner.plan, sessions: manager, autopilot: owner.services.autopilot, leases: owner.leases, commit: owner.db, settings: () => settings, log: () => undefined });
  const stops: AutopilotStop[] = [];
  runner.onDidStop(s => stops.push(s));
  await runner.start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    runner.dispose();
    await manager.shutdown();
    manager.dispose();
    await owner.close();
  };
  cleanups.push(async () => {
    await close();
    fs.rmSync(owner.storageDir, { recursive: true, force: true });
  });
  return { owner, manager, runner, stops, close };
}

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  if (!noTmux) await killTmuxServer(socket).catch(() => undefined);
});

async function until(rig: Rig, what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await rig.runner.whenIdle();
    if (cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}\nactivity:\n${decisions(rig).join('\n')}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

/** Autopilot's activity entries, oldest first, as `action task: detail`. */
function decisions(rig: Rig): string[] {
  return rig.owner.plan.listActivity({ limit: 1000 }).filter(e => e.action.startsWith('autopilot.')).reverse()
    .map(e => `${e.action} ${e.taskId ?? '-'}: ${e.detail}`);
}

/** Task ids autopilot's live sessions work on. */
function running(rig: Rig): string[] {
  return rig.manager.list().filter(s => s.terminal.state !== 'exited').map(s => s.record.taskId!).sort();
}

function sessionOn(rig: Rig, taskId: string) {
  const s = rig.manager.list().find(l => l.record.taskId === taskId && l.terminal.state !== 'exited');
  assert.ok(s, `a session runs on ${taskId}`);
  return s;
}

/** The agent finishes its task (as complete_task would) and its CLI exits 0. */
async function finish(rig: Rig, taskId: string): Promise<void> {
  const s = sessionOn(rig, taskId);
  rig.owner.plan.completeTask(taskId, 'done by the shell agent', { kind: 'agent', name: s.record.id });
  await rig.manager.send(s.record.id, '0');
}

test('node-pty is installed (required: under CI=true its absence fails)', { skip: skipOutsideCi(noPty) }, () => requirePresent(noPty));

test('off by default; on: up to maxParallel sessions on ready tasks, critical path first, then priority; a finished task starts the next', { skip: noPty }, async () => {
  const rig = await openRig();
  const { plan, services } = rig.owner;
  const sprint = plan.createSprint({ name: 'Build', agent: { profile: 'sh-agent', role: null } }, ada);
  const mk = (title: string, estimate: number, priority: 'low' | 'medium' | 'high' | 'critical' = 'medium') =>
    plan.createTask({ title, estimate, priority, sprintId: sprint.id }, ada);
  const a = mk('Schema', 5, 'low');
  const b = mk('Logo', 1, 'critical');
  const c = mk('Docs', 1, 'low');
  const d = mk('API on the schema', 3);
  const e = mk('Lint', 1, 'medium');
  plan.addDependency(d.id, a.id, ada);
  const orphan = plan.createTask({ title: 'Nobody\'s', priority: 'critical' }, ada); // backlog, no agent anywhere
  await rig.runner.whenIdle();

  assert.equal(services.autopilot.status().enabled, false, 'off by default');
  assert.deepEqual(running(rig), [], 'nothing starts while off');
  assert.deepEqual(decisions(rig), []);

  const status = services.autopilot.set(true, ada);
  assert.equal(status.enabled, true);
  await until(rig, 'two sessions', () => running(rig).length === 2);
  assert.deepEqual(running(rig), [a.id, b.id].sort(), 'the critical path (Schema → API, 8 h) first, then priority critical');
  assert.equal(plan.getTask(a.id).status, 'IN_PROGRESS');
  assert.match(plan.getTask(a.id).assignee ?? '', /^sh-agent#run-\d+$/);
  const told = decisions(rig);
  assert.ok(told.some(t => t.startsWith(`autopilot.on -: autopilot turned on by ada`)), told.join('\n'));
  assert.ok(told.some(t => t.startsWith(`autopilot.started ${a.id}: started ${a.id} on sh-agent: ready, on the critical path (8 h remaining); agent: sprint ${sprint.id}'s default`)), told.join('\n'));
  assert.ok(told.some(t => t.startsWith(`autopilot.started ${b.id}: started ${b.id} on sh-agent: ready, priority critical`)), told.join('\n'));
  assert.ok(told.includes(`autopilot.held ${d.id}: not started ${d.id}: waits for ${a.id}`), told.join('\n'));
  assert.ok(told.includes(`autopilot.held ${orphan.id}: not started ${orphan.id}: no agent — set one on the task, its sprint or the workspace`), told.join('\n'));
  assert.ok(told.some(t => /autopilot\.held -: not started 2 ready task\(s\): 2 of 2 sessions running/.test(t)), told.join('\n'));
  assert.equal(services.autopilot.status().host?.running.length, 2);

  // B is done: the next by priority (Lint, medium) starts, not Docs (low), and never D (waits for A).
  await finish(rig, b.id);
  await until(rig, 'Lint starts', () => running(rig).includes(e.id));
  assert.deepEqual(running(rig), [a.id, e.id].sort());
  assert.ok(decisions(rig).some(t => t.startsWith(`autopilot.ended ${b.id}: session run-`) && t.includes(`${b.id} is DONE`)));

  // A is done: D (3 h chain) is ready now and goes before Docs (1 h).
  await finish(rig, a.id);
  await until(rig, 'D starts', () => running(rig).includes(d.id));
  assert.deepEqual(running(rig), [d.id, e.id].sort());
  assert.equal(plan.getTask(c.id).status, 'TODO', 'Docs waits for a free slot');

  // Off: running sessions go on, nothing new starts.
  services.autopilot.set(false, ada);
  await finish(rig, e.id);
  await until(rig, 'Lint ends', () => !running(rig).includes(e.id));
  assert.deepEqual(running(rig), [d.id]);
  assert.equal(plan.getTask(c.id).status, 'TODO', 'off: Docs is not started');
  assert.ok(decisions(rig).some(t => t.startsWith('autopilot.off -: autopilot turned off by ada')));
  await finish(rig, d.id);
  await until(rig, 'all ended', () => running(rig).length === 0);
  await rig.close();
});

test('on/off and its sessions survive a reload (tmux): nothing starts twice, and it goes on after', { skip: noPty || noTmux }, async () => {
  const first = await openRig({ useTmux: true, settings: { defaultAgent: { profile: 'sh-agent', role: null } } });
  const dir = first.owner.storageDir;
  const plan1 = first.owner.plan;
  const [x, y, z] = ['X', 'Y', 'Z'].map(t => plan1.createTask({ title: t, estimate: 1 }, ada));
  first.owner.services.autopilot.set(true, ada);
  await until(first, 'two sessions', () => running(first).length === 2);
  const before = running(first);
  const sessionIds = first.manager.list().map(s => s.record.id).sort();
  assert.deepEqual(before, [x.id, y.id], 'the workspace default agent takes tasks naming none; plan order breaks the tie');
  assert.ok(decisions(first).some(t => t.includes('agent: the workspace default')));
  const startedBefore = decisions(first).filter(t => t.startsWith('autopilot.started')).length;
  await first.close();

  const second = await openRig({ dir, useTmux: true, settings: { defaultAgent: { profile: 'sh-agent', role: null } } });
  assert.equal(second.owner.services.autopilot.status().enabled, true, 'still on after the reload');
  assert.deepEqual(second.manager.list().map(s => s.record.id).sort(), sessionIds, 'the same sessions, reattached; none new');
  assert.deepEqual(second.runner.hostStatus().running.map(r => r.taskId).sort(), before, 'autopilot knows it runs them');
  assert.equal(decisions(second).filter(t => t.startsWith('autopilot.started')).length, startedBefore, 'nothing started twice');
  assert.equal(second.owner.plan.getTask(z.id).status, 'TODO', 'Z waits for a free slot');

  await finish(second, x.id);
  await until(second, 'Z starts', () => running(second).includes(z.id));
  assert.deepEqual(running(second), [y.id, z.id]);
  await finish(second, y.id);
  await finish(second, z.id);
  await until(second, 'all ended', () => running(second).length === 0);
  await second.close();
});

test('a dead session frees its task through the claim lease; autopilot starts it again up to the retry limit', { skip: noPty }, async () => {
  const rig = await openRig({ claimLeaseSeconds: 0.5, settings: { maxParallel: 1, retryLimit: 1, maxConsecutiveFailures: 5 } });
  const { plan } = rig.owner;
  const t = plan.createTask({ title: 'Flaky', agent: { profile: 'sh-agent', role: null } }, ada);
  rig.owner.services.autopilot.set(true, ada);
  await until(rig, 'first session', () => running(rig).includes(t.id));
  const first = sessionOn(rig, t.id).record.id;
  await rig.manager.stop(first); // the agent dies: the task stays IN_PROGRESS until its lease lapses
  await until(rig, 'second session', () => running(rig).includes(t.id) && sessionOn(rig, t.id).record.id !== first);
  const second = sessionOn(rig, t.id).record.id;
  let told = decisions(rig);
  assert.ok(told.some(l => l.startsWith(`autopilot.ended ${t.id}: session ${first} on ${t.id} failed`) && l.includes('the claim lease gives it back')), told.join('\n'));
  assert.ok(told.some(l => l.startsWith(`autopilot.started ${t.id}:`) && l.includes('(retry 1 of 1)')), told.join('\n'));
  assert.ok(plan.listActivity({ taskId: t.id, limit: 100 }).some(e => /lease expired/.test(e.detail)), 'the lease gave the task back');

  await rig.manager.stop(second);
  await until(rig, 'retry limit told', () => decisions(rig).some(l => l.includes(`not started ${t.id}: retry limit reached`)));
  assert.deepEqual(running(rig), []);
  assert.equal(plan.getTask(t.id).status, 'TODO');
  told = decisions(rig);
  assert.equal(told.filter(l => l.startsWith(`autopilot.started ${t.id}`)).length, 2, 'started twice: once and one retry');
  await rig.close();
});

test('N sessions in a row failing stop it with the reason; turning it on again resumes', { skip: noPty }, async () => {
  const rig = await openRig({ settings: { maxParallel: 1, maxConsecutiveFailures: 2, retryLimit: 5 } });
  const { plan, services } = rig.owner;
  const sh = { profile: 'sh-agent', role: null };
  const [p, q, r] = ['P', 'Q', 'R'].map(title => plan.createTask({ title, agent: sh }, ada));
  services.autopilot.set(true, ada);
  for (const id of [p.id, q.id]) {
    await until(rig, `${id} starts`, () => running(rig).includes(id));
    await rig.manager.send(sessionOn(rig, id).record.id, '1'); // fails: exit 1, its task unfinished
    await until(rig, `${id} ends`, () => !running(rig).includes(id));
  }
  await until(rig, 'stopped', () => rig.stops.length > 0);
  assert.equal(rig.stops[0].cause, 'failures');
  assert.match(rig.stops[0].reason, /not starting new sessions: 2 sessions in a row failed \(limit 2\)/);
  assert.ok(decisions(rig).some(l => l.startsWith('autopilot.stopped -: not starting new sessions: 2 sessions in a row failed')));
  assert.ok(decisions(rig).some(l => l.startsWith(`autopilot.ended ${p.id}:`) && l.includes('failed (exit code 1)')));
  assert.deepEqual(running(rig), [], 'R is not started');
  assert.equal(plan.getTask(r.id).status, 'TODO');
  assert.match(services.autopilot.status().host?.stopped ?? '', /2 sessions in a row failed/);
  await rig.close();

  // The streak is stored: a restart does not quietly start again.
  const again = await openRig({ dir: rig.owner.storageDir, settings: { maxParallel: 1, maxConsecutiveFailures: 2, retryLimit: 5 } });
  assert.equal(again.owner.services.autopilot.status().enabled, true);
  assert.match(again.owner.services.autopilot.status().host?.stopped ?? '', /2 sessions in a row failed/);
  assert.deepEqual(running(again), []);
  assert.equal(again.owner.plan.getTask(r.id).status, 'TODO');
  assert.equal(decisions(again).filter(l => l.startsWith('autopilot.stopped')).length, 1, 'said once, not again after the restart');

  again.owner.services.autopilot.set(true, ada); // the person looked and resumes
  await until(again, 'R starts', () => running(again).includes(r.id));
  await finish(again, r.id);
  await until(again, 'R ends', () => running(again).length === 0);
  await again.close();
});

test('agent hours budget: reached, autopilot stops starting and says so', { skip: noPty }, async () => {
  const rig = await openRig({ settings: { maxParallel: 1, budgetAgentHours: 1e-7 } });
  const { plan, services } = rig.owner;
  const sh = { profile: 'sh-agent', role: null };
  const [u, v] = ['U', 'V'].map(title => plan.createTask({ title, agent: sh }, ada));
  services.autopilot.set(true, ada);
  await until(rig, 'U starts', () => running(rig).includes(u.id));
  await new Promise(res => setTimeout(res, 50));
  await finish(rig, u.id);
  await until(rig, 'budget stop', () => rig.stops.length > 0);
  assert.equal(rig.stops[0].cause, 'run-budget');
  assert.match(rig.stops[0].reason, /run budget reached \(.* agent-hours used\)/);
  assert.equal(plan.getTask(v.id).status, 'TODO');
  await rig.close();
});

test('baton autopilot on|off|status [--json]: through the owner; a window opening the workspace later acts on the stored switch', { skip: noPty }, async () => {
  const sandbox = makeCliSandbox();
  cleanups.push(async () => sandbox.remove());
  const baton = async (...args: string[]) => (await promisify(execFile)(process.execPath, [...CLI_ARGS, ...args, '-w', sandbox.workspace], { env: sandbox.env, encoding: 'utf8' })).stdout;
  const off = JSON.parse(await baton('autopilot', 'status', '--json'));
  assert.equal(off.enabled, false, 'off by default');
  assert.equal(off.host, null, 'no window runs sessions');
  const on = await baton('autopilot', 'on');
  assert.match(on, /^Autopilot is ON \(turned on by .+\)/);
  assert.match(on, /No VS Code window runs agent sessions for this workspace/);
  await assert.rejects(baton('autopilot', 'sideways'), /autopilot takes on, off or status, got "sideways"/);

  // The window opens the workspace (its owner serves MCP, as VS Code does): autopilot is on, so it starts.
  const home = process.env.BATON_HOME;
  process.env.BATON_HOME = sandbox.home;
  const storageDir = resolveStorageDir(sandbox.workspace);
  if (home === undefined) delete process.env.BATON_HOME; else process.env.BATON_HOME = home;
  const rig = await openRig({ mcp: true, dir: storageDir, workspace: sandbox.workspace, settings: { defaultAgent: { profile: 'sh-agent', role: null } } });
  const t = rig.owner.plan.createTask({ title: 'Started by autopilot' }, ada);
  await until(rig, 'a session on the task', () => running(rig).includes(t.id));
  const status = JSON.parse(await baton('autopilot', 'status', '--json'));
  assert.equal(status.enabled, true);
  assert.deepEqual(status.host.running.map((r: { taskId: string }) => r.taskId), [t.id]);
  assert.ok(status.recent.some((e: { detail: string }) => e.detail.startsWith(`started ${t.id} on sh-agent: ready`)));
  const text = await baton('autopilot', 'status');
  assert.match(text, /Sessions: 1 of 2 running \(T-\d+ on sh-agent run-\d+\)/);
  assert.match(text, /Latest decisions:\n.*started T-\d+ on sh-agent/);

  assert.match(await baton('autopilot', 'off'), /^Autopilot is OFF \(turned off by /);
  await rig.runner.whenIdle();
  assert.equal(rig.runner.isOn, false, 'the window heard the switch');
  const t2 = rig.owner.plan.createTask({ title: 'Not started while off' }, ada);
  await finish(rig, t.id);
  await until(rig, 'the session ends', () => running(rig).length === 0);
  assert.equal(rig.owner.plan.getTask(t2.id).status, 'TODO');
  await rig.close();
});

test("the person's own sessions count toward baton.sessions.maxParallel", { skip: noPty }, async () => {
  const rig = await openRig({ settings: { maxParallel: 2, defaultAgent: { profile: 'sh-agent', role: null } } });
  const mine = await rig.manager.start({ profileId: 'sh-agent' }); // no task: the person's shell
  const [k, l] = ['K', 'L'].map(title => rig.owner.plan.createTask({ title }, ada));
  rig.owner.services.autopilot.set(true, ada);
  await until(rig, 'one autopilot session', () => running(rig).filter(Boolean).length === 1);
  assert.deepEqual(running(rig).filter(Boolean), [k.id], 'one slot left beside the person\'s session');
  assert.ok(decisions(rig).some(t => /not started 1 ready task\(s\)/.test(t)));
  await rig.manager.send(mine.record.id, '0');
  await until(rig, 'L starts once the person\'s session ends', () => running(rig).includes(l.id));
  await finish(rig, k.id);
  await finish(rig, l.id);
  await until(rig, 'all ended', () => running(rig).filter(Boolean).length === 0);
  await rig.close();
});

test('a reload without tmux ends its sessions: interrupted, not failed; the tasks come back through the lease and start again', { skip: noPty }, async () => {
  const settings = { maxParallel: 1, maxConsecutiveFailures: 1, retryLimit: 0, defaultAgent: { profile: 'sh-agent', role: null } };
  const first = await openRig({ claimLeaseSeconds: 0.5, settings });
  const m = first.owner.plan.createTask({ title: 'M' }, ada);
  first.owner.services.autopilot.set(true, ada);
  await until(first, 'M starts', () => running(first).includes(m.id));
  const before = sessionOn(first, m.id).record.id;
  await first.close();

  const second = await openRig({ dir: first.owner.storageDir, claimLeaseSeconds: 0.5, settings });
  await until(second, 'M starts again', () => running(second).includes(m.id));
  assert.notEqual(sessionOn(second, m.id).record.id, before);
  const told = decisions(second);
  assert.ok(told.some(t => t.startsWith(`autopilot.ended ${m.id}: session ${before} on ${m.id} ended when the window closed`)), told.join('\n'));
  assert.ok(!told.some(t => t.startsWith('autopilot.stopped')), `not a failure: the streak of 1 did not stop it\n${told.join('\n')}`);
  await finish(second, m.id);
  await until(second, 'M ends', () => running(second).length === 0);
  await second.close();
});
