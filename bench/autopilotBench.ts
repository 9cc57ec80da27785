/**
 * Autopilot's decision cost per completion event (issue 8, "Done means"): a plan of n tasks (a layered
 * random DAG, seeded: each task waits for up to 3 of the 50 tasks before it; estimates 0.5–8 h; four
 * priorities; 10 sprints; 20% of tasks name their own agent) is run with maxParallel 8. Each completion
 * event = the oldest running task goes DONE, its session ends ok with usage, and autopilot decides what to
 * start. Measured per event, in the same run and in lockstep:
 *  - incremental: `AutopilotScheduler.setTaskStatus` + `sessionEnded` + `decide()` (the ready set and the
 *    critical-path chains updated from the event; `decide()` also words the per-task reasons);
 *  - from scratch: the same event applied to the plain state, then `recomputeDecision(state)` (rebuild the
 *    graph, count waits, rank every task in reverse topological order, sort the startable tasks).
 * The incremental run goes first over the whole plan (n events) and records what it started; the from-scratch
 * run then replays the first `events` of them and must pick the same tasks at every event (a mismatch
 * throws). They run one after the other, not interleaved, so the from-scratch run's garbage does not land
 * in the incremental timings. Times in ms (hrtime).
 */
import {
  AutopilotScheduler, recomputeDecision,
  type AutopilotPlan, type AutopilotState, type AutopilotTask,
} from '../src/core/autopilot';
import type { TaskPriority } from '../src/core/model';
import { rng } from '../test/unit/helpers/random';
import { int, markdownTable, ms, nowMs, ratio, summarize, type LatencyStats } from './stats';

export interface AutopilotBenchOptions {
  /** Plan sizes (tasks). */
  sizes: number[];
  /** Completion events measured per size (capped at the size). */
  events: number;
  maxParallel: number;
  log: (line: string) => void;
}

export interface AutopilotSizeResult {
  tasks: number;
  dependencies: number;
  events: number;
  /** Building the scheduler from the plan, once (ms). */
  buildMs: number;
  /** Per event over the events measured from scratch too. */
  incremental: LatencyStats;
  /** Per event over the whole run (all n tasks completed). */
  incrementalWholeRun: LatencyStats;
  fromScratch: LatencyStats;
}

export interface AutopilotBenchResult {
  maxParallel: number;
  sizes: AutopilotSizeResult[];
}

const PRIORITIES: TaskPriority[] = ['low', 'medium', 'high', 'critical'];

/** The bench's plan of `n` tasks (see the module comment), the same for the same seed. */
export function benchPlan(n: number, seed = 42): AutopilotPlan {
  const rand = rng(seed);
  const sprintCount = 10;
  const perSprint = Math.ceil(n / sprintCount);
  const tasks: AutopilotTask[] = [];
  const dependencies: { taskId: string; dependsOnId: string }[] = [];
  for (let i = 0; i < n; i++) {
    tasks.push({
      id: `T-${i + 1}`, status: 'TODO', priority: PRIORITIES[Math.floor(rand() * 4)],
      sprintId: `S-${Math.floor(i / perSprint) + 1}`, position: i % perSprint,
      estimate: 0.5 + Math.round(rand() * 15) / 2, agent: rand() < 0.2 ? { profile: 'codex', role: null } : null,
    });
    const deps = new Set<number>();
    for (let k = 0; k < 3 && i > 0; k++) if (rand() < 0.6) deps.add(i - 1 - Math.floor(rand() * Math.min(i, 50)));
    for (const d of deps) dependencies.push({ taskId: `T-${i + 1}`, dependsOnId: `T-${d + 1}` });
  }
  const sprints = Array.from({ length: sprintCount }, (_, i) => ({ id: `S-${i + 1}`, position: i + 1, agent: null }));
  return { tasks, dependencies, sprints, workspaceAgent: { profile: 'claude', role: null } };
}

function runSize(n: number, events: number, maxParallel: number): AutopilotSizeResult {
  const plan = benchPlan(n);
  const settings = { maxParallel, maxConsecutiveFailures: 3, retryLimit: 2, runBudget: {}, sprintBudget: {} };
  const usage = { agentHours: 0.5, tokens: 12_000, costUsd: 0.4 };
  const measured = Math.min(events, n);

  // 1. Incremental, over the whole plan (every task completed in turn); the starts of each event are kept.
  const b0 = nowMs();
  const scheduler = new AutopilotScheduler(plan, settings);
  const buildMs = nowMs() - b0;
  const initial: AutopilotState = scheduler.toJSON();
  const first = scheduler.decide().filter(d => d.kind === 'start').map(d => d.taskId);
  const queue = [...first];
  const completed: string[] = [];
  const startedAfter: string[][] = [];
  const incremental: number[] = [];
  while (queue.length) {
    const id = queue.shift()!;
    const t0 = nowMs();
    scheduler.setTaskStatus(id, 'DONE');
    scheduler.sessionEnded(id, { outcome: 'ok', usage });
    const decided = scheduler.decide();
    incremental.push(nowMs() - t0);
    const started = decided.filter(d => d.kind === 'start').map(d => d.taskId);
    completed.push(id);
    startedAfter.push(started);
    queue.push(...started);
  }
  if (completed.length !== n) throw new Error(`autopilot bench: only ${completed.length} of ${n} tasks completed`);

  // 2. From scratch, replaying the same events on the plain state for the first `measured` events.
  const state = initial;
  const index = new Map(state.tasks.map((t, i) => [t.id, i]));
  for (const id of first) state.running.push({ taskId: id, agent: { profile: 'claude', role: null }, sessionId: null });
  const fromScratch: number[] = [];
  for (let e = 0; e < measured; e++) {
    const id = completed[e];
    const t1 = nowMs();
    state.tasks[index.get(id)!] = { ...state.tasks[index.get(id)!], status: 'DONE' };
    state.running = state.running.filter(r => r.taskId !== id);
    state.consecutiveFailures = 0;
    const run = state.usage.run;
    run.agentHours += usage.agentHours; run.tokens += usage.tokens; run.costUsd += usage.costUsd;
    const recomputed = recomputeDecision(state);
    fromScratch.push(nowMs() - t1);
    const b = recomputed.starts.map(d => d.taskId);
    if (b.join() !== startedAfter[e].join()) {
      throw new Error(`autopilot bench: after completing ${id}, incremental started [${startedAfter[e]}] but from scratch [${b}]`);
    }
    for (const s of recomputed.starts) state.running.push({ taskId: s.taskId, agent: s.agent, sessionId: null });
  }
  return {
    tasks: n, dependencies: plan.dependencies.length, events: measured, buildMs,
    incremental: summarize(incremental.slice(0, measured)), incrementalWholeRun: summarize(incremental), fromScratch: summarize(fromScratch),
  };
}

/** Runs every size (after a short untimed warm-up at the smallest) and returns the per-event latencies. */
export function runAutopilotBench(o: AutopilotBenchOptions): AutopilotBenchResult {
  runSize(Math.min(...o.sizes), Math.min(200, o.events), o.maxParallel);
  const sizes: AutopilotSizeResult[] = [];
  for (const n of o.sizes) {
    o.log(`  ${int(n)} tasks…`);
    sizes.push(runSize(n, o.events, o.maxParallel));
  }
  return { maxParallel: o.maxParallel, sizes };
}

/** The markdown table for the report. */
export function autopilotTable(r: AutopilotBenchResult): string {
  return [
    `### Autopilot: decision cost per completion event (maxParallel ${r.maxParallel}; layered random DAG, seeded)`,
    '',
    'Event = a running task goes DONE, its session ends, autopilot decides what to start. Incremental = ' +
    '`AutopilotScheduler` (ready set and critical-path chains updated from the event); from scratch = ' +
    '`recomputeDecision` on the same state (graph rebuilt, every task re-ranked), replaying the first events of the incremental run; ' +
    'both picked the same tasks at every event. "events" = events compared; the whole run completes every task.',
    '',
    markdownTable(
      ['tasks', 'dependencies', 'events', 'build', 'incremental mean, whole run', 'incremental p50', 'incremental p99', 'incremental mean', 'from scratch p50', 'from scratch p99', 'from scratch mean', 'from scratch / incremental (p50)', 'from scratch / incremental (mean)'],
      r.sizes.map(s => [
        int(s.tasks), int(s.dependencies), int(s.events), `${ms(s.buildMs)} ms`, `${ms(s.incrementalWholeRun.mean)} ms (${int(s.incrementalWholeRun.n)} events)`,
        `${ms(s.incremental.p50)} ms`, `${ms(s.incremental.p99)} ms`, `${ms(s.incremental.mean)} ms`,
        `${ms(s.fromScratch.p50)} ms`, `${ms(s.fromScratch.p99)} ms`, `${ms(s.fromScratch.mean)} ms`,
        ratio(s.fromScratch.p50 / s.incremental.p50), ratio(s.fromScratch.mean / s.incremental.mean),
      ]),
    ),
  ].join('\n');
}
