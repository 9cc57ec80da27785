import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AutopilotScheduler, recomputeDecision,
  type AgentRef, type AutopilotPlan, type AutopilotSettings, type AutopilotTask, type Decision, type HoldDecision, type StartDecision,
} from '../../src/core/autopilot';
import { BatonError } from '../../src/core/errors';
import type { TaskPriority, TaskStatus } from '../../src/core/model';
import { DependencyCycleError, TaskGraph } from '../../src/core/taskGraph';
import { rng } from './helpers/random';

const claude: AgentRef = { profile: 'claude', role: null };
const codex: AgentRef = { profile: 'codex', role: null };

function task(id: string, over: Partial<AutopilotTask> = {}): AutopilotTask {
  return { id, status: 'TODO', priority: 'medium', sprintId: null, position: 0, estimate: 1, agent: null, ...over };
}
const dep = (taskId: string, dependsOnId: string) => ({ taskId, dependsOnId });

function settings(over: Partial<AutopilotSettings> = {}): AutopilotSettings {
  return { maxParallel: 2, maxConsecutiveFailures: null, retryLimit: null, runBudget: {}, sprintBudget: {}, ...over };
}

function plan(tasks: AutopilotTask[], dependencies = [] as { taskId: string; dependsOnId: string }[], over: Partial<AutopilotPlan> = {}): AutopilotPlan {
  return { tasks, dependencies, sprints: [], workspaceAgent: claude, ...over };
}

const starts = (ds: Decision[]) => ds.filter((d): d is StartDecision => d.kind === 'start').map(d => d.taskId);
const holds = (ds: Decision[]) => ds.filter((d): d is HoldDecision => d.kind === 'hold');
const reasons = (ds: Decision[]) => ds.map(d => d.reason);

/** Completes a running task as a host would: the agent marks it DONE, then its session exits. */
function complete(s: AutopilotScheduler, id: string, usage = {}): void {
  s.setTaskStatus(id, 'DONE');
  assert.equal(s.sessionEnded(id, { outcome: 'ok', usage }), true);
}

test('5 tasks in two dependency levels, maxParallel 2: never more than 2 running, nothing before its dependencies are DONE', () => {
  // Level 1: A, B, C. Level 2: D waits for A and B; E waits for C.
  const s = new AutopilotScheduler(plan(
    [task('A', { position: 1 }), task('B', { position: 2 }), task('C', { position: 3 }), task('D', { position: 4 }), task('E', { position: 5 })],
    [dep('D', 'A'), dep('D', 'B'), dep('E', 'C')],
  ), settings());
  const done = new Set<string>();
  const order: string[] = [];
  const deps: Record<string, string[]> = { D: ['A', 'B'], E: ['C'] };
  for (let round = 0; round < 10 && done.size < 5; round++) {
    const started = starts(s.decide());
    for (const id of started) {
      for (const d of deps[id] ?? []) assert.ok(done.has(d), `${id} started before ${d} was DONE`);
      order.push(id);
    }
    const running = s.runningSessions().map(r => r.taskId);
    assert.ok(running.length <= 2, `running ${running.join(', ')}`);
    const first = running[0];
    complete(s, first);
    done.add(first);
  }
  assert.equal(done.size, 5);
  assert.deepEqual([...order].sort(), ['A', 'B', 'C', 'D', 'E'], 'each task started exactly once');
});

test('critical path first: the task on the longest remaining chain starts before a higher-priority short one', () => {
  // Chain A(2) → B(5) → C(3) = 10 h; X is critical priority but 1 h and alone.
  const s = new AutopilotScheduler(plan(
    [task('A', { estimate: 2 }), task('B', { estimate: 5 }), task('C', { estimate: 3 }), task('X', { estimate: 1, priority: 'critical' }), task('Y', { estimate: 4, priority: 'low' })],
    [dep('B', 'A'), dep('C', 'B')],
  ), settings({ maxParallel: 1 }));
  const ds = s.decide();
  assert.deepEqual(starts(ds), ['A']);
  assert.equal(ds[0].reason, 'started A on claude: ready, on the critical path (10 h remaining); agent: the workspace default');
  assert.equal(s.chainOf('A'), 10);
  assert.equal(s.criticalTotal(), 10);
  complete(s, 'A');
  // Now B's chain is 8 and still the longest; Y (4 h) beats X (1 h, critical priority) on chain.
  assert.deepEqual(starts(s.decide()), ['B']);
  complete(s, 'B');
  const next = s.decide();
  assert.deepEqual(starts(next), ['Y'], 'Y 4 h > C 3 h > X 1 h');
  assert.match(next[0].reason, /^started Y on claude: ready, on the critical path \(4 h remaining\)/);
});

test('priority breaks ties between equal chains, then sprint order, then plan order', () => {
  const s = new AutopilotScheduler(plan(
    [
      task('P1', { sprintId: 'S-2', position: 1 }),
      task('P2', { sprintId: 'S-1', position: 9 }),
      task('P3', { sprintId: 'S-1', position: 2 }),
      task('P4', { sprintId: 'S-2', position: 0, priority: 'high' }),
      task('P5', { position: 0 }),
    ],
    [], { sprints: [{ id: 'S-1', position: 1, agent: null }, { id: 'S-2', position: 2, agent: null }] },
  ), settings({ maxParallel: 5 }));
  const ds = s.decide();
  // P4 (high) first; then S-1 (P3 pos 2, P2 pos 9), then S-2's P1, then the backlog's P5.
  assert.deepEqual(starts(ds), ['P4', 'P3', 'P2', 'P1', 'P5']);
  assert.match(ds[0].reason, /on the critical path/);
});

test('a diamond DAG: the join waits for both sides and says so, then starts once both are DONE', () => {
  // D waits for B and C, which both wait for A.
  const s = new AutopilotScheduler(plan(
    [task('A'), task('B', { estimate: 3 }), task('C', { estimate: 1 }), task('D')],
    [dep('B', 'A'), dep('C', 'A'), dep('D', 'B'), dep('D', 'C')],
  ), settings({ maxParallel: 4 }));
  assert.deepEqual(starts(s.decide()), ['A']);
  complete(s, 'A');
  const ds = s.decide();
  assert.deepEqual(starts(ds), ['B', 'C'], 'B (chain 4) before C (chain 2)');
  complete(s, 'C');
  const after = s.decide();
  assert.deepEqual(starts(after), []);
  assert.ok(reasons(after).includes('not started D: waits for B'), reasons(after).join(' | '));
  assert.equal(s.explain('D'), 'not started D: waits for B');
  complete(s, 'B');
  assert.deepEqual(starts(s.decide()), ['D']);
  assert.deepEqual(s.runningSessions().map(r => r.taskId), ['D']);
});

test('agent comes from the task, else its sprint, else the workspace; with none, the task is not started and the reason says so', () => {
  const s = new AutopilotScheduler(plan(
    [
      task('T-1', { agent: { profile: 'gemini', role: 'reviewer' }, sprintId: 'S-1', estimate: 4 }),
      task('T-2', { sprintId: 'S-1', estimate: 3 }),
      task('T-3', { sprintId: 'S-2', estimate: 2 }),
      task('T-4', { estimate: 1 }),
    ],
    [], { sprints: [{ id: 'S-1', position: 1, agent: codex }, { id: 'S-2', position: 2, agent: null }], workspaceAgent: null },
  ), settings({ maxParallel: 4 }));
  const ds = s.decide();
  const byId = new Map(ds.filter((d): d is StartDecision => d.kind === 'start').map(d => [d.taskId, d]));
  assert.deepEqual(byId.get('T-1')?.agent, { profile: 'gemini', role: 'reviewer' });
  assert.match(byId.get('T-1')!.reason, /^started T-1 on gemini:reviewer: ready/);
  assert.equal(byId.get('T-2')?.agentFrom, 'sprint');
  assert.match(byId.get('T-2')!.reason, /on codex: .*agent: sprint S-1's default$/);
  assert.ok(!byId.has('T-3') && !byId.has('T-4'));
  const none = holds(ds).filter(h => h.cause === 'no-agent').map(h => h.taskId);
  assert.deepEqual(none.sort(), ['T-3', 'T-4']);
  assert.ok(reasons(ds).includes('not started T-3: no agent — set one on the task, its sprint or the workspace'));
  // Said once, not on every decision.
  assert.deepEqual(holds(s.decide()).filter(h => h.cause === 'no-agent'), []);
  s.setWorkspaceAgent(claude);
  const later = s.decide();
  assert.deepEqual(starts(later).sort(), ['T-3', 'T-4']);
  assert.ok(later.every(d => d.kind !== 'start' || d.agentFrom === 'workspace'));
});

test('N sessions failing in a row stops new starts and says why; resume tries again', () => {
  const tasks = ['A', 'B', 'C', 'D', 'E'].map((id, i) => task(id, { position: i }));
  const s = new AutopilotScheduler(plan(tasks), settings({ maxParallel: 1, maxConsecutiveFailures: 2 }));
  assert.deepEqual(starts(s.decide()), ['A']);
  s.sessionEnded('A', { outcome: 'failed' });
  assert.deepEqual(starts(s.decide()), ['A'], 'A is ready again and first in plan order');
  s.sessionEnded('A', { outcome: 'failed' });
  const ds = s.decide();
  assert.deepEqual(starts(ds), []);
  assert.ok(reasons(ds).includes('not starting new sessions: 2 sessions in a row failed (limit 2); resume to try again'), reasons(ds).join(' | '));
  assert.deepEqual(reasons(s.decide()), [], 'the stop is said once');
  s.resume();
  assert.deepEqual(starts(s.decide()), ['A']);
  complete(s, 'A');
  assert.deepEqual(starts(s.decide()), ['B'], 'an ok session resets the streak');
});

test('a run budget stops new starts with the reason; running sessions are not counted twice', () => {
  const tasks = ['A', 'B', 'C', 'D'].map((id, i) => task(id, { position: i }));
  const s = new AutopilotScheduler(plan(tasks), settings({ maxParallel: 2, runBudget: { agentHours: 3 } }));
  assert.deepEqual(starts(s.decide()), ['A', 'B']);
  complete(s, 'A', { agentHours: 1.5, tokens: 20_000 });
  assert.deepEqual(starts(s.decide()), ['C']);
  s.recordUsage('B', { agentHours: 1 });
  complete(s, 'B', { agentHours: 0.75 });
  const ds = s.decide();
  assert.deepEqual(starts(ds), []);
  assert.ok(reasons(ds).includes('not starting new sessions: run budget reached (3.3 of 3 agent-hours used)'), reasons(ds).join(' | '));
  assert.deepEqual(s.usage().run, { agentHours: 3.25, tokens: 20_000, costUsd: 0 });
  s.startRun();
  assert.deepEqual(starts(s.decide()), ['D'], 'a new run starts with a fresh run budget');
});

test('a sprint budget holds only that sprint\'s tasks, and says so once', () => {
  const s = new AutopilotScheduler(plan(
    [task('A', { sprintId: 'S-1', position: 1 }), task('B', { sprintId: 'S-1', position: 2 }), task('C', { sprintId: 'S-2', position: 1 })],
    [], { sprints: [{ id: 'S-1', position: 1, agent: null }, { id: 'S-2', position: 2, agent: null }] },
  ), settings({ maxParallel: 1, sprintBudget: { costUsd: 2 } }));
  assert.deepEqual(starts(s.decide()), ['A']);
  complete(s, 'A', { costUsd: 2.5 });
  const ds = s.decide();
  assert.deepEqual(starts(ds), ['C'], 'S-1 is over its budget; S-2 is not');
  assert.ok(reasons(ds).includes('not starting tasks of sprint S-1: sprint budget reached ($2.50 of $2.00 spent)'), reasons(ds).join(' | '));
  complete(s, 'C');
  assert.deepEqual(starts(s.decide()), []);
  assert.match(s.explain('B'), /sprint S-1's budget is reached/);
  s.setSettings(settings({ maxParallel: 1, sprintBudget: { costUsd: 10 } }));
  assert.deepEqual(starts(s.decide()), ['B'], 'raising the budget lets it go on');
});

test('a lapsed claim frees the task and autopilot starts it again, up to the retry limit', () => {
  const s = new AutopilotScheduler(plan([task('A', { estimate: 5 }), task('B')]), settings({ maxParallel: 1, retryLimit: 1 }));
  assert.deepEqual(starts(s.decide()), ['A']);
  s.sessionStarted('A', 'sess-1');
  s.setTaskStatus('A', 'IN_PROGRESS');
  s.claimLapsed('A', 'sess-1');
  assert.deepEqual(s.runningSessions(), []);
  assert.deepEqual(starts(s.decide()), ['A'], 'first retry');
  s.sessionStarted('A', 'sess-2');
  assert.equal(s.sessionEnded('A', { outcome: 'failed', sessionId: 'sess-1' }), false, 'a late exit of the old session does not end the new one');
  s.setTaskStatus('A', 'IN_PROGRESS');
  s.claimLapsed('A', 'sess-2');
  const ds = s.decide();
  assert.deepEqual(starts(ds), ['B']);
  assert.ok(reasons(ds).includes('not started A: retry limit reached (2 session(s) did not finish it; 1 retry allowed)'), reasons(ds).join(' | '));
});

test('a session that ends "ok" but leaves its task To Do counts against the retry limit, so autopilot does not loop on it', () => {
  const s = new AutopilotScheduler(plan([task('A', { estimate: 3 }), task('B')]), settings({ maxParallel: 1, retryLimit: 0, maxConsecutiveFailures: 1 }));
  assert.deepEqual(starts(s.decide()), ['A']);
  s.sessionEnded('A', { outcome: 'ok' });
  const ds = s.decide();
  assert.deepEqual(starts(ds), ['B'], 'not A again; and an ok end is no failure streak');
  assert.ok(reasons(ds).includes('not started A: retry limit reached (1 session(s) did not finish it; 0 retries allowed)'), reasons(ds).join(' | '));
});

test('pause stops new starts (running sessions go on); resume starts again', () => {
  const s = new AutopilotScheduler(plan([task('A'), task('B'), task('C')]), settings({ maxParallel: 1 }));
  assert.deepEqual(starts(s.decide()), ['A']);
  s.pause();
  complete(s, 'A');
  const ds = s.decide();
  assert.deepEqual(starts(ds), []);
  assert.deepEqual(reasons(ds), ['not starting new sessions: paused by the person']);
  assert.equal(s.stopped()?.cause, 'paused');
  s.resume();
  assert.deepEqual(starts(s.decide()), ['B']);
});

test('maxParallel is never exceeded and the capacity note names how many ready tasks wait', () => {
  const s = new AutopilotScheduler(plan(['A', 'B', 'C', 'D'].map(id => task(id))), settings({ maxParallel: 2 }));
  const ds = s.decide();
  assert.equal(starts(ds).length, 2);
  assert.ok(reasons(ds).includes('not started 2 ready task(s): 2 of 2 sessions running (baton.sessions.maxParallel)'));
  assert.deepEqual(s.decide(), [], 'asking again starts nothing (the started tasks are running) and says nothing new');
  s.addTask(task('E'));
  assert.deepEqual(s.decide(), [], 'still full: the capacity note is not repeated at every event');
  s.setSettings(settings({ maxParallel: 3 }));
  assert.equal(starts(s.decide()).length, 1);
});

test('serialization round-trip mid-run: the restored scheduler starts nothing twice and goes on where it was', () => {
  const s = new AutopilotScheduler(plan(
    [task('A', { position: 1 }), task('B', { position: 2 }), task('C', { position: 3 }), task('D', { position: 4 })],
    [dep('D', 'A')],
  ), settings({ maxParallel: 2, maxConsecutiveFailures: 3, sprintBudget: {}, runBudget: { tokens: 1e6 } }));
  assert.deepEqual(starts(s.decide()), ['A', 'B']);
  s.sessionStarted('A', 'sess-A');
  s.sessionEnded('B', { outcome: 'failed', usage: { tokens: 500 } });
  const json = JSON.parse(JSON.stringify(s.toJSON()));
  const r = AutopilotScheduler.fromJSON(json);
  assert.deepEqual(r.toJSON(), s.toJSON());
  assert.deepEqual(r.runningSessions(), [{ taskId: 'A', agent: claude, sessionId: 'sess-A' }]);
  const ds = r.decide();
  assert.deepEqual(starts(ds), ['B'], 'A is still running: only B (ready again after its failure) starts');
  assert.deepEqual(starts(r.decide()), []);
  complete(r, 'A');
  assert.deepEqual(starts(r.decide()), ['C'], 'C and the now ready D tie on chain and priority: plan order picks C');
  complete(r, 'B');
  assert.deepEqual(starts(r.decide()), ['D']);
  assert.deepEqual(starts(r.decide()), []);
});

test('bad input is refused with an error naming what was wrong, and changes nothing', () => {
  assert.throws(() => new AutopilotScheduler(plan([task('A')]), settings({ maxParallel: -1 })), /settings\.maxParallel must be an integer ≥ 0/);
  assert.throws(() => new AutopilotScheduler(plan([task('A'), task('A')]), settings()), /task A appears twice/);
  assert.throws(() => new AutopilotScheduler(plan([task('A')], [dep('A', 'Z')]), settings()), /task Z is not in the plan/);
  assert.throws(() => new AutopilotScheduler(plan([task('A', { sprintId: 'S-9' })]), settings()), /names sprint S-9/);
  assert.throws(() => new AutopilotScheduler(plan([task('A', { estimate: -1 })]), settings()), /task A: estimate must be null or a number ≥ 0/);
  assert.throws(() => new AutopilotScheduler(plan([task('A')]), settings({ runBudget: { costUsd: 0 } })), /settings\.runBudget\.costUsd must be null or a number > 0/);
  const s = new AutopilotScheduler(plan([task('A'), task('B')], [dep('B', 'A')]), settings());
  const before = JSON.stringify(s.toJSON());
  assert.throws(() => s.addDependency(dep('A', 'B')), (e: unknown) => e instanceof DependencyCycleError && /A → B → A/.test(e.message));
  assert.throws(() => s.setTaskStatus('Q', 'DONE'), (e: unknown) => e instanceof BatonError && e.code === 'NOT_FOUND' && /task Q/.test(e.message));
  assert.throws(() => s.setTaskStatus('A', 'FINISHED' as TaskStatus), /unknown status "FINISHED"/);
  assert.throws(() => s.recordUsage('A', { tokens: -5 }), /usage of A\.tokens must be a number ≥ 0/);
  assert.throws(() => s.sessionStarted('A', 'x'), /task A has no autopilot session/);
  assert.equal(JSON.stringify(s.toJSON()), before);
  assert.throws(() => AutopilotScheduler.fromJSON({ ...s.toJSON(), version: 2 as 1 }), /unknown version 2/);
});

// ---------------------------------------------------------------------------------------------
// The incremental answer equals a from-scratch recomputation after random event sequences.

const STATUSES: TaskStatus[] = ['TODO', 'IN_PROGRESS', 'IN_REVIEW', 'DONE', 'BLOCKED', 'CANCELLED'];
const PRIORITIES: TaskPriority[] = ['low', 'medium', 'high', 'critical'];

function randomPlan(rand: () => number, n: number): AutopilotPlan {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const sprints = [{ id: 'S-1', position: 1, agent: null }, { id: 'S-2', position: 2, agent: codex }];
  const tasks: AutopilotTask[] = [];
  const dependencies: { taskId: string; dependsOnId: string }[] = [];
  for (let i = 0; i < n; i++) {
    tasks.push(task(`T-${i}`, {
      status: rand() < 0.7 ? 'TODO' : pick(STATUSES), priority: pick(PRIORITIES), sprintId: pick([null, 'S-1', 'S-2']),
      position: Math.floor(rand() * 5), estimate: rand() < 0.1 ? null : Math.round(rand() * 80) / 10,
      agent: rand() < 0.2 ? claude : null,
    }));
    // Edges only to earlier tasks keep the plan acyclic.
    for (let k = 0; k < 3 && i > 0; k++) if (rand() < 0.4) dependencies.push(dep(`T-${i}`, `T-${Math.floor(rand() * i)}`));
  }
  return { tasks, dependencies, sprints, workspaceAgent: rand() < 0.5 ? claude : null };
}

function assertMatchesFromScratch(s: AutopilotScheduler, where: string): void {
  const state = s.toJSON();
  const ref = recomputeDecision(state);
  assert.deepEqual(s.nextStarts(), ref.starts, `${where}: starts`);
  assert.deepEqual(s.readyTasks(), ref.ready, `${where}: ready set`);
  for (const [id, chain] of ref.chains) assert.equal(s.chainOf(id), chain, `${where}: chain of ${id}`);
  const unfinished = state.tasks.filter(t => t.status !== 'DONE' && t.status !== 'CANCELLED').map(t => ref.chains.get(t.id)!);
  assert.equal(s.criticalTotal(), Math.max(0, ...unfinished), `${where}: critical path length`);
}

test('incremental decisions equal a from-scratch recomputation on random plans after random events (seeded)', () => {
  for (let seed = 1; seed <= 25; seed++) {
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const p = randomPlan(rand, 20 + Math.floor(rand() * 40));
    const s = new AutopilotScheduler(p, settings({
      maxParallel: 1 + Math.floor(rand() * 4), maxConsecutiveFailures: 4, retryLimit: 1,
      runBudget: { agentHours: 40 }, sprintBudget: { tokens: 60_000 },
    }));
    let nextId = p.tasks.length;
    const started = new Set<string>();
    assertMatchesFromScratch(s, `seed ${seed} start`);
    for (let step = 0; step < 150; step++) {
      const ids = s.toJSON().tasks.map(t => t.id);
      const running = s.runningSessions().map(r => r.taskId);
      const r = ids.length === 0 ? 0.9 : rand();
      if (r < 0.25) {
        for (const d of s.decide()) if (d.kind === 'start') {
          assert.ok(!running.includes(d.taskId), `seed ${seed}: ${d.taskId} started while running`);
          started.add(d.taskId);
        }
      } else if (r < 0.45 && running.length) {
        const id = pick(running);
        if (rand() < 0.7) s.setTaskStatus(id, 'DONE');
        s.sessionEnded(id, { outcome: rand() < 0.7 ? 'ok' : 'failed', usage: { agentHours: rand() * 2, tokens: Math.floor(rand() * 10_000) } });
      } else if (r < 0.55 && running.length) {
        s.claimLapsed(pick(running));
      } else if (r < 0.68) {
        s.setTaskStatus(pick(ids), pick(STATUSES));
      } else if (r < 0.74) {
        const chosen = pick(ids);
        const t = s.toJSON().tasks.find(x => x.id === chosen)!;
        s.updateTask({ ...t, estimate: Math.round(rand() * 80) / 10, priority: pick(PRIORITIES), sprintId: pick([null, 'S-1', 'S-2']) });
      } else if (r < 0.82) {
        try { s.addDependency(dep(pick(ids), pick(ids))); } catch (e) { assert.ok(e instanceof DependencyCycleError, String(e)); }
      } else if (r < 0.87) {
        const edges = s.toJSON().dependencies;
        if (edges.length) s.removeDependency(pick(edges));
      } else if (r < 0.91) {
        s.addTask(task(`T-${nextId++}`, { priority: pick(PRIORITIES), estimate: Math.round(rand() * 50) / 10, sprintId: pick([null, 'S-1', 'S-2']) }));
      } else if (r < 0.94) {
        const id = pick(ids);
        if (!running.includes(id)) s.removeTask(id);
      } else if (r < 0.96) {
        s.setWorkspaceAgent(rand() < 0.5 ? null : codex);
      } else if (r < 0.98) {
        if (rand() < 0.5) s.pause(); else s.resume();
      } else {
        s.setSprint({ id: 'S-1', position: rand() < 0.5 ? 1 : 3, agent: rand() < 0.5 ? null : claude });
      }
      assertMatchesFromScratch(s, `seed ${seed} step ${step}`);
      assert.ok(s.runningSessions().length <= s.toJSON().settings.maxParallel, `seed ${seed}: maxParallel exceeded`);
      if (step % 50 === 49) {
        const restored = AutopilotScheduler.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
        assert.deepEqual(restored.nextStarts(), s.nextStarts(), `seed ${seed} step ${step}: restored scheduler decides the same`);
      }
    }
    assert.ok(started.size > 0, `seed ${seed}: something started`);
  }
});

test('the critical path length agrees with TaskGraph.criticalPath while nothing is finished, and after completing in dependency order', () => {
  for (let seed = 100; seed < 110; seed++) {
    const rand = rng(seed);
    const p = randomPlan(rand, 60);
    for (const t of p.tasks) t.status = 'TODO';
    const s = new AutopilotScheduler(p, settings({ maxParallel: 3 }));
    const graph = () => new TaskGraph(s.toJSON().tasks, s.toJSON().dependencies);
    // Summed forwards there and backwards here: equal up to float rounding.
    assert.equal(Math.round(s.criticalTotal() * 1e6), Math.round(graph().criticalPath().total * 1e6), `seed ${seed}`);
    for (let i = 0; i < 20; i++) {
      const [first] = s.runningSessions().length ? s.runningSessions() : [];
      if (!first) { s.decide(); continue; }
      complete(s, first.taskId);
      s.decide();
      // Completing only ready tasks never leaves a finished task between unfinished ones: both definitions agree.
      assert.equal(Math.round(s.criticalTotal() * 1e6), Math.round(graph().criticalPath().total * 1e6), `seed ${seed} step ${i}`);
    }
  }
});
