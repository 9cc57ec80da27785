/**
 * The autopilot scheduler: decides which ready tasks to start sessions on, on which agent, and says why
 * for every task it starts or holds back. Pure and deterministic (no clock, no I/O, no `vscode`): a host
 * feeds it events (plan changes, session starts and ends, lease lapses, pause/resume, settings) and calls
 * `decide()`; the same event sequence always gives the same decisions.
 *
 * The scheduler behind autopilot (issue 8, §1); `src/orchestration/autopilotRunner.ts` hosts it over sessions.
 */
import { invalid, notFound } from './errors';
import { TASK_PRIORITIES, TASK_STATUSES, type Dependency, type TaskPriority, type TaskStatus } from './model';
import { DependencyCycleError, satisfiesDependency } from './taskGraph';

import type { AgentRef } from './agent';

/** Which agent does a task: the task's and sprint's `agent` field (`src/core/agent.ts`); `role` null = none. */
export type { AgentRef };

/** What the scheduler needs to know about a task. */
export interface AutopilotTask {
  id: string;
  status: TaskStatus;
  priority: TaskPriority;
  /** The task's sprint, or null for the backlog (ordered after every sprint). */
  sprintId: string | null;
  /** Order within its sprint (plan order), ascending. */
  position: number;
  /** Remaining work in the plan's `estimateUnit` (hours or points); null counts as 0. */
  estimate: number | null;
  /** The task's own agent; null means the sprint's default, else the workspace's. */
  agent: AgentRef | null;
}

/** A sprint: its order among sprints and its default agent (null: the workspace's). */
export interface AutopilotSprint {
  id: string;
  position: number;
  agent: AgentRef | null;
}

/** The plan the scheduler starts from. Dependencies read "taskId waits for dependsOnId". */
export interface AutopilotPlan {
  tasks: AutopilotTask[];
  dependencies: Dependency[];
  sprints: AutopilotSprint[];
  /** The default agent when neither the task nor its sprint names one; null: none. */
  workspaceAgent: AgentRef | null;
  /** Unit of every estimate, used in the reasons ("h" or "points"). Default `hours`. */
  estimateUnit?: 'hours' | 'points';
}

/**
 * A budget: each limit is optional (null or absent = no limit). `agentHours` = hours of agent session
 * time, `tokens` = model tokens (input + output, as the CLIs report them), `costUsd` = US dollars.
 * A limit is reached when the usage reported so far is at or above it.
 */
export interface Budget {
  agentHours?: number | null;
  tokens?: number | null;
  costUsd?: number | null;
}

/** How autopilot runs; `maxParallel` is `baton.sessions.maxParallel`. */
export interface AutopilotSettings {
  /** Most sessions autopilot keeps running at once (integer ≥ 0). */
  maxParallel: number;
  /** Stop starting sessions after this many sessions in a row fail (integer ≥ 1); null: never. */
  maxConsecutiveFailures: number | null;
  /** How many times a task may be started again after a session that did not finish it (failed, lapsed, or ended leaving it TODO); integer ≥ 0; null: no limit. */
  retryLimit: number | null;
  /** Limits over the whole run (since the scheduler was created or `startRun()`). */
  runBudget: Budget;
  /** Limits per sprint (usage of the sessions on that sprint's tasks); backlog tasks have none. */
  sprintBudget: Budget;
}

/** Usage reported by sessions: hours of agent time, tokens, US dollars. Only reported amounts are summed. */
export interface Usage {
  agentHours: number;
  tokens: number;
  costUsd: number;
}

/** One usage report; a field the CLI does not report is left out (never sent as 0). */
export type UsageReport = Partial<Usage>;

/** Why a task (or autopilot as a whole) is not starting anything. */
export type HoldCause =
  | 'waiting' | 'no-agent' | 'retry-limit' | 'sprint-budget'
  | 'paused' | 'failures' | 'run-budget' | 'capacity';

/** Start a session on `taskId` with `agent`; `agentFrom` says where the agent came from. */
export interface StartDecision {
  kind: 'start';
  taskId: string;
  agent: AgentRef;
  agentFrom: 'task' | 'sprint' | 'workspace';
  /** Remaining work on the task's longest chain of unfinished dependents, itself included (estimate unit). */
  chain: number;
  /** e.g. `started T-7 on claude: ready, on the critical path (9 h remaining)`. */
  reason: string;
}

/** Something not started: a task (`taskId`), a sprint's tasks (`sprintId`), or every task (both null). */
export interface HoldDecision {
  kind: 'hold';
  taskId: string | null;
  sprintId: string | null;
  cause: HoldCause;
  /** e.g. `not started T-9: waits for T-4`, `not starting new sessions: paused by the person`. */
  reason: string;
}

export type Decision = StartDecision | HoldDecision;

/** A session autopilot started and that has not ended yet. `sessionId` is null until `sessionStarted`. */
export interface RunningSession {
  taskId: string;
  agent: AgentRef;
  sessionId: string | null;
}

/** The scheduler's whole state as plain JSON (`toJSON` / `fromJSON`); version 1. */
export interface AutopilotState {
  version: 1;
  settings: AutopilotSettings;
  estimateUnit: 'hours' | 'points';
  workspaceAgent: AgentRef | null;
  sprints: AutopilotSprint[];
  tasks: AutopilotTask[];
  dependencies: Dependency[];
  running: RunningSession[];
  /** Sessions per task id that did not finish it (failed, lapsed, or ended with it TODO); counts against `retryLimit`. */
  failures: Record<string, number>;
  consecutiveFailures: number;
  paused: boolean;
  usage: { run: Usage; sprints: Record<string, Usage> };
  /** The last reason reported per subject (task id, `sprint:<id>`, `*stop`, `*capacity`), so nothing is said twice. */
  reported: Record<string, string>;
}

const PRIORITY_RANK: Record<TaskPriority, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const EPSILON = 1e-9;

// ---------------------------------------------------------------------------------------------
// Validation

function validAgent(agent: unknown, what: string): AgentRef | null {
  if (agent === null || agent === undefined) return null;
  const a = agent as { profile?: unknown; role?: unknown };
  if (typeof a !== 'object' || typeof a.profile !== 'string' || a.profile.trim() === '') {
    throw invalid(`${what}: agent must be null or { profile: non-empty string, role: string | null }`);
  }
  if (a.role !== undefined && a.role !== null && (typeof a.role !== 'string' || a.role.trim() === '')) {
    throw invalid(`${what}: agent role must be a non-empty string or null`);
  }
  return { profile: a.profile, role: typeof a.role === 'string' ? a.role : null };
}

function validTask(t: AutopilotTask): AutopilotTask {
  if (!t || typeof t.id !== 'string' || t.id === '') throw invalid('task: id must be a non-empty string');
  if (!(TASK_STATUSES as readonly string[]).includes(t.status)) throw invalid(`task ${t.id}: unknown status "${String(t.status)}"; statuses: ${TASK_STATUSES.join(', ')}`);
  if (!(TASK_PRIORITIES as readonly string[]).includes(t.priority)) throw invalid(`task ${t.id}: unknown priority "${String(t.priority)}"; priorities: ${TASK_PRIORITIES.join(', ')}`);
  if (typeof t.position !== 'number' || !Number.isFinite(t.position)) throw invalid(`task ${t.id}: position must be a finite number`);
  if (t.estimate !== null && (typeof t.estimate !== 'number' || !Number.isFinite(t.estimate) || t.estimate < 0)) {
    throw invalid(`task ${t.id}: estimate must be null or a number ≥ 0`);
  }
  if (t.sprintId !== null && (typeof t.sprintId !== 'string' || t.sprintId === '')) throw invalid(`task ${t.id}: sprintId must be null or a non-empty string`);
  return { id: t.id, status: t.status, priority: t.priority, sprintId: t.sprintId, position: t.position, estimate: t.estimate, agent: validAgent(t.agent, `task ${t.id}`) };
}

function validBudget(b: Budget | undefined, what: string): Budget {
  const out: Budget = {};
  for (const key of ['agentHours', 'tokens', 'costUsd'] as const) {
    const v = b?.[key];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(`${what}.${key} must be null or a number > 0`);
    out[key] = v;
  }
  return out;
}

function validSettings(s: AutopilotSettings): AutopilotSettings {
  if (!s || !Number.isInteger(s.maxParallel) || s.maxParallel < 0) throw invalid('settings.maxParallel must be an integer ≥ 0');
  if (s.maxConsecutiveFailures !== null && (!Number.isInteger(s.maxConsecutiveFailures) || s.maxConsecutiveFailures < 1)) {
    throw invalid('settings.maxConsecutiveFailures must be null or an integer ≥ 1');
  }
  if (s.retryLimit !== null && (!Number.isInteger(s.retryLimit) || s.retryLimit < 0)) throw invalid('settings.retryLimit must be null or an integer ≥ 0');
  return {
    maxParallel: s.maxParallel, maxConsecutiveFailures: s.maxConsecutiveFailures, retryLimit: s.retryLimit,
    runBudget: validBudget(s.runBudget, 'settings.runBudget'), sprintBudget: validBudget(s.sprintBudget, 'settings.sprintBudget'),
  };
}

function validUsage(u: UsageReport | undefined, what: string): UsageReport {
  const out: UsageReport = {};
  for (const key of ['agentHours', 'tokens', 'costUsd'] as const) {
    const v = u?.[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`${what}.${key} must be a number ≥ 0 when reported`);
    out[key] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Wording shared by the incremental scheduler and the from-scratch reference

const emptyUsage = (): Usage => ({ agentHours: 0, tokens: 0, costUsd: 0 });

function num(x: number): string {
  const r = Math.round(x * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}

/** `claude`, or `claude:reviewer` with a role. */
export function agentLabel(agent: AgentRef): string {
  return agent.role ? `${agent.profile}:${agent.role}` : agent.profile;
}

function unitLabel(unit: 'hours' | 'points'): string {
  return unit === 'hours' ? 'h' : 'points';
}

/** The first budget limit `used` reaches, worded, or null. */
function budgetReached(budget: Budget, used: Usage): string | null {
  if (budget.agentHours != null && used.agentHours >= budget.agentHours) return `${num(used.agentHours)} of ${num(budget.agentHours)} agent-hours used`;
  if (budget.tokens != null && used.tokens >= budget.tokens) return `${Math.round(used.tokens).toLocaleString('en-US')} of ${Math.round(budget.tokens).toLocaleString('en-US')} tokens used`;
  if (budget.costUsd != null && used.costUsd >= budget.costUsd) return `$${used.costUsd.toFixed(2)} of $${budget.costUsd.toFixed(2)} spent`;
  return null;
}

function startReason(taskId: string, agent: AgentRef, from: StartDecision['agentFrom'], sprintId: string | null,
  priority: TaskPriority, chain: number, critical: number, unit: 'hours' | 'points'): string {
  const u = unitLabel(unit);
  const why = critical > EPSILON && chain >= critical - EPSILON
    ? `on the critical path (${num(critical)} ${u} remaining)`
    : `priority ${priority}, ${num(chain)} ${u} on its longest chain (critical path ${num(critical)} ${u})`;
  const source = from === 'task' ? '' : from === 'sprint' ? `; agent: sprint ${sprintId}'s default` : '; agent: the workspace default';
  return `started ${taskId} on ${agentLabel(agent)}: ready, ${why}${source}`;
}

function waitsReason(taskId: string, waitingFor: string[]): string {
  const shown = waitingFor.slice(0, 3).join(', ');
  const more = waitingFor.length > 3 ? ` and ${waitingFor.length - 3} more` : '';
  return `not started ${taskId}: waits for ${shown}${more}`;
}

function stopReason(paused: boolean, consecutive: number, settings: AutopilotSettings, runUsage: Usage): { cause: HoldCause; reason: string } | null {
  if (paused) return { cause: 'paused', reason: 'not starting new sessions: paused by the person' };
  const limit = settings.maxConsecutiveFailures;
  if (limit !== null && consecutive >= limit) {
    return { cause: 'failures', reason: `not starting new sessions: ${consecutive} sessions in a row failed (limit ${limit}); resume to try again` };
  }
  const budget = budgetReached(settings.runBudget, runUsage);
  if (budget) return { cause: 'run-budget', reason: `not starting new sessions: run budget reached (${budget})` };
  return null;
}

/** Ordering of ready tasks: longest chain first, then priority, then sprint order, then plan order, then id. */
interface OrderKey {
  id: string;
  chain: number;
  priority: number;
  sprintPosition: number;
  position: number;
}

function compareKeys(a: OrderKey, b: OrderKey): number {
  if (a.chain !== b.chain) return b.chain - a.chain;
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.sprintPosition !== b.sprintPosition) return a.sprintPosition - b.sprintPosition;
  if (a.position !== b.position) return a.position - b.position;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A binary min-heap with a comparator (entries invalidated lazily by their owners). */
class Heap<T> {
  items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number { return this.items.length; }
  peek(): T | undefined { return this.items[0]; }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
  /** Keeps only entries `keep` accepts and rebuilds the heap (O(n log n)). */
  compact(keep: (x: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items = [];
    for (const x of kept) this.push(x);
  }
}

// ---------------------------------------------------------------------------------------------
// The incremental scheduler

interface Node {
  task: AutopilotTask;
  /** Ids this task waits for. */
  deps: Set<string>;
  /** Ids waiting for this task. */
  dependents: Set<string>;
  /** How many of `deps` are not DONE/CANCELLED. */
  waiting: number;
  /** Longest chain of unfinished work from this task through its unfinished dependents (0 when finished). */
  chain: number;
  chainVersion: number;
  /** The startable-heap entry that is current for this task, or null when it is not startable. */
  entry: StartEntry | null;
}

interface StartEntry extends OrderKey { live: boolean }
interface ChainEntry { id: string; chain: number; version: number }

/**
 * The autopilot scheduler. Feed it events; call `decide()` to get what to start now and why anything is not
 * started. Starts that `decide()` returns count as running until `sessionEnded` or `claimLapsed` for that
 * task, so a task is never started twice and at most `maxParallel` sessions run.
 *
 * Order (issue 8): critical path first — each ready task is ranked by its *chain*, the remaining estimate
 * on the longest path from it through its unfinished dependents (CPM, Kelley & Walker 1959, as
 * `TaskGraph.criticalPath`, computed backwards); finished tasks leave the remaining-work graph, since nothing
 * waits on them any more. Ties: priority (critical > high > medium > low), then sprint position (backlog
 * last), then plan position, then id. A task is *ready* when it is TODO and every dependency is DONE or
 * CANCELLED; it is *startable* when it is also not running, has an agent (its own, else its sprint's, else
 * the workspace's), has not failed more than `retryLimit` times, and its sprint's budget is not reached.
 *
 * Incremental cost, n tasks, e edges, d(t) = degree of t:
 *  - a completion event (`setTaskStatus(t, 'DONE')` + `sessionEnded`) is O(d(t) · log n) plus re-ranking
 *    the unfinished prerequisites of t (none in a plan run in dependency order), plus, in the next
 *    `decide()`, the in-degree of each dependent of t to word what it still waits for;
 *  - `decide()` is O((k + s) · log n) for k tasks started and s stale heap entries skipped (amortized
 *    O(log n) each), plus O(degree) per task touched since the last call for the per-task reasons, plus
 *    O(number of sprints) for the sprint-budget notes;
 *  - an estimate change or a new edge re-ranks only the unfinished ancestors whose chain changes;
 *  - adding an edge checks for a cycle by a breadth-first search (O(n + e) worst case);
 *  - changing the workspace agent, a sprint or the settings re-checks the tasks concerned (O(n) worst).
 * `toJSON` and `fromJSON` are O(n + e). `recomputeDecision` is the same decision from scratch, O(n log n + e).
 *
 * Errors: bad input throws a `BatonError` (INVALID_ARGUMENT, or NOT_FOUND for an unknown task or sprint id)
 * naming what was wrong, and changes nothing; a dependency that would close a cycle throws
 * `DependencyCycleError` naming the cycle.
 */
export class AutopilotScheduler {
  private settings: AutopilotSettings;
  private readonly estimateUnit: 'hours' | 'points';
  private workspaceAgent: AgentRef | null;
  private readonly sprints = new Map<string, AutopilotSprint>();
  private readonly nodes = new Map<string, Node>();
  /** sprint id ('' for the backlog) → ids of its tasks. */
  private readonly bySprint = new Map<string, Set<string>>();
  private readonly running = new Map<string, RunningSession>();
  private readonly failures = new Map<string, number>();
  private consecutiveFailures = 0;
  private paused = false;
  private runUsage: Usage = emptyUsage();
  private readonly sprintUsage = new Map<string, Usage>();
  private readonly overBudgetSprints = new Set<string>();
  private readonly reported = new Map<string, string>();
  /** Tasks whose per-task reason may have changed since the last `decide()`. */
  private readonly dirty = new Set<string>();
  private readonly startable = new Heap<StartEntry>((a, b) => compareKeys(a, b) < 0);
  private startableCount = 0;
  /** Source of chain-heap entry versions (unique across tasks, so a re-added id never matches an old entry). */
  private versions = 0;
  private readonly chains = new Heap<ChainEntry>((a, b) => a.chain > b.chain || (a.chain === b.chain && a.id < b.id));

  /**
   * Builds the scheduler from a plan (O(n + e) plus the ranking). Throws on an invalid task, sprint or
   * setting, a duplicate id, a task naming an unknown sprint, a dependency naming an unknown task, or a cycle.
   */
  constructor(plan: AutopilotPlan, settings: AutopilotSettings) {
    this.settings = validSettings(settings);
    const unit = plan.estimateUnit ?? 'hours';
    if (unit !== 'hours' && unit !== 'points') throw invalid(`plan.estimateUnit must be "hours" or "points", not "${String(unit)}"`);
    this.estimateUnit = unit;
    this.workspaceAgent = validAgent(plan.workspaceAgent, 'workspace');
    for (const s of plan.sprints ?? []) {
      const sprint = this.validSprint(s);
      if (this.sprints.has(sprint.id)) throw invalid(`sprint ${sprint.id} appears twice in the plan`);
      this.sprints.set(sprint.id, sprint);
    }
    for (const raw of plan.tasks ?? []) {
      const task = validTask(raw);
      if (this.nodes.has(task.id)) throw invalid(`task ${task.id} appears twice in the plan`);
      this.checkSprint(task);
      this.nodes.set(task.id, { task, deps: new Set(), dependents: new Set(), waiting: 0, chain: 0, chainVersion: 0, entry: null });
      this.sprintSet(task.sprintId).add(task.id);
    }
    for (const d of plan.dependencies ?? []) {
      const [a, b] = this.edgeNodes(d);
      if (a.deps.has(d.dependsOnId)) continue;
      a.deps.add(d.dependsOnId);
      b.dependents.add(d.taskId);
      if (!satisfiesDependency(b.task.status)) a.waiting++;
    }
    this.rankAll();
    for (const id of this.sprints.keys()) this.updateSprintBudget(id, false);
    for (const [id, node] of this.nodes) {
      this.refresh(id);
      if (node.waiting === 0) this.dirty.add(id);
    }
  }

  // -- Events: the plan -----------------------------------------------------------------------

  /** A task's status changed (the store's word: claims, completions, reopenings, lease give-backs). */
  setTaskStatus(taskId: string, status: TaskStatus): void {
    const node = this.node(taskId);
    if (!(TASK_STATUSES as readonly string[]).includes(status)) throw invalid(`task ${taskId}: unknown status "${String(status)}"; statuses: ${TASK_STATUSES.join(', ')}`);
    const wasFinished = satisfiesDependency(node.task.status);
    node.task = { ...node.task, status };
    const finished = satisfiesDependency(status);
    if (finished !== wasFinished) {
      for (const d of node.dependents) {
        const dep = this.nodes.get(d)!;
        dep.waiting += finished ? -1 : 1;
        this.refresh(d);
        this.dirty.add(d);
      }
      this.rerank([taskId]);
    }
    if (finished) this.reported.delete(taskId);
    this.refresh(taskId);
    this.dirty.add(taskId);
  }

  /**
   * A task's fields changed (priority, sprint, position, estimate, agent, status): replaces the scheduler's
   * copy. Throws NOT_FOUND for an unknown task.
   */
  updateTask(task: AutopilotTask): void {
    const next = validTask(task);
    const node = this.node(next.id);
    this.checkSprint(next);
    const prev = node.task;
    if (prev.status !== next.status) this.setTaskStatus(next.id, next.status);
    if (prev.sprintId !== next.sprintId) {
      this.sprintSet(prev.sprintId).delete(next.id);
      this.sprintSet(next.sprintId).add(next.id);
    }
    node.task = next;
    if ((prev.estimate ?? 0) !== (next.estimate ?? 0)) this.rerank([next.id]);
    this.refresh(next.id);
    this.dirty.add(next.id);
  }

  /** A task was added (no dependencies yet; add them with `addDependency`). Throws if the id exists. */
  addTask(task: AutopilotTask): void {
    const t = validTask(task);
    if (this.nodes.has(t.id)) throw invalid(`task ${t.id} already exists`);
    this.checkSprint(t);
    this.nodes.set(t.id, { task: t, deps: new Set(), dependents: new Set(), waiting: 0, chain: 0, chainVersion: 0, entry: null });
    this.sprintSet(t.sprintId).add(t.id);
    this.rerank([t.id]);
    this.refresh(t.id);
    this.dirty.add(t.id);
  }

  /** A task was removed, with its dependencies. Throws if autopilot has a session running on it. */
  removeTask(taskId: string): void {
    const node = this.node(taskId);
    if (this.running.has(taskId)) throw invalid(`task ${taskId} has a running autopilot session; end it before removing the task`);
    for (const dep of [...node.deps]) this.removeDependency({ taskId, dependsOnId: dep });
    for (const d of [...node.dependents]) this.removeDependency({ taskId: d, dependsOnId: taskId });
    this.unlist(node);
    this.sprintSet(node.task.sprintId).delete(taskId);
    this.nodes.delete(taskId);
    this.failures.delete(taskId);
    this.reported.delete(taskId);
    this.dirty.delete(taskId);
  }

  /** `taskId` now waits for `dependsOnId`. Already present: nothing changes. Throws on a cycle or an unknown id. */
  addDependency(dep: Dependency): void {
    const [a, b] = this.edgeNodes(dep);
    if (a.deps.has(dep.dependsOnId)) return;
    const cycle = this.findCycle(dep.taskId, dep.dependsOnId);
    if (cycle) throw new DependencyCycleError(cycle);
    a.deps.add(dep.dependsOnId);
    b.dependents.add(dep.taskId);
    if (!satisfiesDependency(b.task.status)) {
      a.waiting++;
      this.refresh(dep.taskId);
      this.dirty.add(dep.taskId);
    }
    this.rerank([dep.dependsOnId]);
  }

  /** `taskId` no longer waits for `dependsOnId`. Absent: nothing changes. Throws NOT_FOUND for an unknown task. */
  removeDependency(dep: Dependency): void {
    const a = this.node(dep.taskId);
    const b = this.node(dep.dependsOnId);
    if (!a.deps.delete(dep.dependsOnId)) return;
    b.dependents.delete(dep.taskId);
    if (!satisfiesDependency(b.task.status)) {
      a.waiting--;
      this.refresh(dep.taskId);
      this.dirty.add(dep.taskId);
    }
    this.rerank([dep.dependsOnId]);
  }

  /** A sprint was added or changed (position, default agent). */
  setSprint(sprint: AutopilotSprint): void {
    const s = this.validSprint(sprint);
    this.sprints.set(s.id, s);
    this.updateSprintBudget(s.id, false);
    this.refreshGroup(this.sprintSet(s.id));
  }

  /** A sprint was removed. Throws if a task still belongs to it. */
  removeSprint(sprintId: string): void {
    if (!this.sprints.has(sprintId)) throw notFound(`sprint ${sprintId} is not in the plan`);
    const members = this.sprintSet(sprintId);
    if (members.size > 0) throw invalid(`sprint ${sprintId} still has ${members.size} task(s); move or remove them first`);
    this.sprints.delete(sprintId);
    this.bySprint.delete(sprintId);
    this.overBudgetSprints.delete(sprintId);
    this.reported.delete(`sprint:${sprintId}`);
  }

  /** The workspace's default agent changed (null: none). */
  setWorkspaceAgent(agent: AgentRef | null): void {
    this.workspaceAgent = validAgent(agent, 'workspace');
    this.refreshGroup(this.nodes.keys());
  }

  /** New settings (maxParallel, failure and retry limits, budgets). */
  setSettings(settings: AutopilotSettings): void {
    this.settings = validSettings(settings);
    for (const id of this.sprints.keys()) this.updateSprintBudget(id, false);
    this.refreshGroup(this.nodes.keys());
  }

  // -- Events: sessions and the person -------------------------------------------------------

  /** The host launched the session `decide()` asked for: records its id. Throws if the task is not running. */
  sessionStarted(taskId: string, sessionId: string): void {
    const r = this.running.get(taskId);
    if (!r) throw notFound(`task ${taskId} has no autopilot session waiting to start`);
    if (typeof sessionId !== 'string' || sessionId === '') throw invalid(`sessionStarted(${taskId}): sessionId must be a non-empty string`);
    r.sessionId = sessionId;
  }

  /** Usage reported while a session runs (hours of agent time, tokens, USD), counted against the budgets. */
  recordUsage(taskId: string, usage: UsageReport): void {
    const u = validUsage(usage, `usage of ${taskId}`);
    const node = this.node(taskId);
    add(this.runUsage, u);
    const sprintId = node.task.sprintId;
    if (sprintId !== null) {
      const used = this.sprintUsage.get(sprintId) ?? emptyUsage();
      add(used, u);
      this.sprintUsage.set(sprintId, used);
      this.updateSprintBudget(sprintId, true);
    }
  }

  /**
   * A session on `taskId` ended. `ok` resets the failure streak; `failed` adds to it. A failed session, or
   * one that ends with its task still TODO (it gave the task back unfinished), counts against the task's
   * `retryLimit` — so deliver the task's status change (e.g. DONE) before its session's end. Usage, if given, is recorded. When `sessionId` is given and
   * differs from the running session's (a late exit of an older session), only the usage counts.
   * Returns whether a running session was ended.
   */
  sessionEnded(taskId: string, end: { outcome: 'ok' | 'failed'; sessionId?: string; usage?: UsageReport }): boolean {
    this.node(taskId);
    if (end?.outcome !== 'ok' && end?.outcome !== 'failed') throw invalid(`sessionEnded(${taskId}): outcome must be "ok" or "failed"`);
    const usage = validUsage(end.usage, `usage of ${taskId}`);
    if (Object.keys(usage).length) this.recordUsage(taskId, usage);
    const r = this.running.get(taskId);
    if (!r || (end.sessionId !== undefined && r.sessionId !== null && r.sessionId !== end.sessionId)) return false;
    this.running.delete(taskId);
    const node = this.nodes.get(taskId)!;
    if (end.outcome === 'failed' || node.task.status === 'TODO') this.failures.set(taskId, (this.failures.get(taskId) ?? 0) + 1);
    if (end.outcome === 'failed') this.consecutiveFailures++;
    else this.consecutiveFailures = 0;
    this.refresh(taskId);
    this.dirty.add(taskId);
    return true;
  }

  /**
   * The claim lease on `taskId` lapsed (its session died): the session counts as failed and the task, if
   * IN_PROGRESS, goes back to TODO, so autopilot may start it again up to `retryLimit`.
   */
  claimLapsed(taskId: string, sessionId?: string): void {
    const node = this.node(taskId);
    this.sessionEnded(taskId, { outcome: 'failed', sessionId });
    if (node.task.status === 'IN_PROGRESS') this.setTaskStatus(taskId, 'TODO');
  }

  /** The person paused autopilot: nothing new starts; running sessions go on. */
  pause(): void { this.paused = true; }

  /** The person resumed autopilot; this also clears the failure streak that stopped it. */
  resume(): void {
    this.paused = false;
    this.consecutiveFailures = 0;
  }

  /** A new run: run usage and the failure streak start from zero (sprint usage and task failures stay). */
  startRun(): void {
    this.runUsage = emptyUsage();
    this.consecutiveFailures = 0;
  }

  // -- Decisions ------------------------------------------------------------------------------

  /**
   * What to do now: start decisions (best first, at most maxParallel − running), then the reasons
   * for what is not started — said once per change, so each decision can be an activity entry:
   * a global stop (paused, N failures in a row, run budget), a sprint whose budget is reached, ready tasks
   * left over for lack of a free slot, and per task: waits for a dependency, no agent, retry limit.
   * The starts returned are running from now on (until `sessionEnded` / `claimLapsed`).
   */
  decide(): Decision[] {
    const out: Decision[] = [];
    const starts = this.nextStarts();
    for (const s of starts) {
      const node = this.nodes.get(s.taskId)!;
      this.running.set(s.taskId, { taskId: s.taskId, agent: s.agent, sessionId: null });
      this.reported.delete(s.taskId);
      this.dirty.delete(s.taskId);
      this.unlist(node);
      out.push(s);
    }
    for (const sprintId of this.sprints.keys()) {
      const key = `sprint:${sprintId}`;
      if (!this.overBudgetSprints.has(sprintId)) { this.reported.delete(key); continue; }
      const budget = budgetReached(this.settings.sprintBudget, this.sprintUsage.get(sprintId) ?? emptyUsage())!;
      this.note(out, key, { kind: 'hold', taskId: null, sprintId, cause: 'sprint-budget', reason: `not starting tasks of sprint ${sprintId}: sprint budget reached (${budget})` });
    }
    for (const id of this.dirty) {
      const node = this.nodes.get(id);
      if (!node) continue;
      const hold = this.taskHold(id, node);
      if (hold) this.note(out, id, hold);
      else this.reported.delete(id);
    }
    this.dirty.clear();
    const stop = stopReason(this.paused, this.consecutiveFailures, this.settings, this.runUsage);
    if (stop) this.note(out, '*stop', { kind: 'hold', taskId: null, sprintId: null, ...stop });
    else this.reported.delete('*stop');
    if (!stop && this.startableCount > 0) {
      const max = this.settings.maxParallel;
      // Said when autopilot becomes full with ready tasks left over, not again at every event while it stays so.
      this.note(out, '*capacity', { kind: 'hold', taskId: null, sprintId: null, cause: 'capacity',
        reason: `not started ${this.startableCount} ready task(s): ${this.running.size} of ${max} sessions running (baton.sessions.maxParallel)` }, 'full');
    } else {
      this.reported.delete('*capacity');
    }
    return out;
  }

  /** The starts `decide()` would return now, without committing them (same order and reasons). */
  nextStarts(): StartDecision[] {
    if (stopReason(this.paused, this.consecutiveFailures, this.settings, this.runUsage)) return [];
    const free = this.settings.maxParallel - this.running.size;
    const taken: StartEntry[] = [];
    while (taken.length < free && this.startableCount > taken.length) {
      const e = this.startable.pop();
      if (!e) break;
      if (e.live) taken.push(e);
    }
    for (const e of taken) this.startable.push(e);
    const critical = this.criticalTotal();
    return taken.map(e => {
      const node = this.nodes.get(e.id)!;
      const { agent, from } = this.agentFor(node.task)!;
      return { kind: 'start', taskId: e.id, agent, agentFrom: from, chain: node.chain,
        reason: startReason(e.id, agent, from, node.task.sprintId, node.task.priority, node.chain, critical, this.estimateUnit) };
    });
  }

  /** Why a task is or is not started now, in the decisions' wording (O(degree)). Throws NOT_FOUND. */
  explain(taskId: string): string {
    const node = this.node(taskId);
    if (this.running.has(taskId)) return `${taskId} is running on ${agentLabel(this.running.get(taskId)!.agent)}`;
    if (node.task.status !== 'TODO') return `${taskId} is ${node.task.status}`;
    const hold = this.taskHold(taskId, node);
    if (hold) return hold.reason;
    const sprintId = node.task.sprintId;
    if (sprintId !== null && this.overBudgetSprints.has(sprintId)) return `not started ${taskId}: sprint ${sprintId}'s budget is reached`;
    const stop = stopReason(this.paused, this.consecutiveFailures, this.settings, this.runUsage);
    if (stop) return stop.reason;
    return `${taskId} is ready; ${this.running.size} of ${this.settings.maxParallel} sessions running`;
  }

  /** The longest remaining chain of unfinished work from `taskId` (estimate unit; 0 when finished). */
  chainOf(taskId: string): number { return this.node(taskId).chain; }

  /** The remaining critical path's length (estimate unit): the longest chain over unfinished tasks. */
  criticalTotal(): number {
    for (;;) {
      const top = this.chains.peek();
      if (!top) return 0;
      const node = this.nodes.get(top.id);
      if (node && node.chainVersion === top.version && !satisfiesDependency(node.task.status)) return top.chain;
      this.chains.pop();
    }
  }

  /** Ready tasks (TODO, every dependency DONE or CANCELLED), in plan insertion order. O(n). */
  readyTasks(): string[] {
    const out: string[] = [];
    for (const [id, n] of this.nodes) if (n.task.status === 'TODO' && n.waiting === 0) out.push(id);
    return out;
  }

  /** Sessions autopilot started that have not ended. */
  runningSessions(): RunningSession[] { return [...this.running.values()].map(r => ({ ...r, agent: { ...r.agent } })); }

  /** Usage so far this run and per sprint (hours of agent time, tokens, USD). */
  usage(): { run: Usage; sprints: Record<string, Usage> } {
    return { run: { ...this.runUsage }, sprints: Object.fromEntries([...this.sprintUsage].map(([k, v]) => [k, { ...v }])) };
  }

  /** Whether autopilot would start nothing now regardless of the tasks, and why (null: not stopped). */
  stopped(): { cause: HoldCause; reason: string } | null {
    return stopReason(this.paused, this.consecutiveFailures, this.settings, this.runUsage);
  }

  // -- Persistence ----------------------------------------------------------------------------

  /** The whole state as plain JSON (O(n + e)); `fromJSON` gives back a scheduler that decides the same. */
  toJSON(): AutopilotState {
    const tasks: AutopilotTask[] = [];
    const dependencies: Dependency[] = [];
    for (const [id, n] of this.nodes) {
      tasks.push(cloneTask(n.task));
      for (const d of n.deps) dependencies.push({ taskId: id, dependsOnId: d });
    }
    return {
      version: 1,
      settings: JSON.parse(JSON.stringify(this.settings)) as AutopilotSettings,
      estimateUnit: this.estimateUnit,
      workspaceAgent: this.workspaceAgent ? { ...this.workspaceAgent } : null,
      sprints: [...this.sprints.values()].map(s => ({ ...s, agent: s.agent ? { ...s.agent } : null })),
      tasks,
      dependencies,
      running: this.runningSessions(),
      failures: Object.fromEntries(this.failures),
      consecutiveFailures: this.consecutiveFailures,
      paused: this.paused,
      usage: this.usage(),
      reported: Object.fromEntries(this.reported),
    };
  }

  /**
   * A scheduler from `toJSON` output (e.g. after a restart). Running sessions stay running, so nothing
   * is started twice. Throws INVALID_ARGUMENT for an unknown version or inconsistent state.
   */
  static fromJSON(state: AutopilotState): AutopilotScheduler {
    if (!state || state.version !== 1) throw invalid(`autopilot state: unknown version ${String(state?.version)}; expected 1`);
    const s = new AutopilotScheduler(
      { tasks: state.tasks, dependencies: state.dependencies, sprints: state.sprints, workspaceAgent: state.workspaceAgent, estimateUnit: state.estimateUnit },
      state.settings,
    );
    for (const r of state.running ?? []) {
      const node = s.nodes.get(r.taskId);
      if (!node) throw invalid(`autopilot state: running session on unknown task ${r.taskId}`);
      const agent = validAgent(r.agent, `running session on ${r.taskId}`);
      if (!agent) throw invalid(`autopilot state: running session on ${r.taskId} has no agent`);
      s.running.set(r.taskId, { taskId: r.taskId, agent, sessionId: r.sessionId ?? null });
      s.unlist(node);
    }
    for (const [id, n] of Object.entries(state.failures ?? {})) {
      if (!Number.isInteger(n) || n < 0) throw invalid(`autopilot state: failures of ${id} must be an integer ≥ 0`);
      if (s.nodes.has(id)) s.failures.set(id, n);
    }
    if (!Number.isInteger(state.consecutiveFailures) || state.consecutiveFailures < 0) throw invalid('autopilot state: consecutiveFailures must be an integer ≥ 0');
    s.consecutiveFailures = state.consecutiveFailures;
    s.paused = state.paused === true;
    s.runUsage = { ...emptyUsage(), ...validUsage(state.usage?.run, 'autopilot state: usage.run') };
    for (const [id, u] of Object.entries(state.usage?.sprints ?? {})) {
      s.sprintUsage.set(id, { ...emptyUsage(), ...validUsage(u, `autopilot state: usage of sprint ${id}`) });
    }
    for (const [k, v] of Object.entries(state.reported ?? {})) if (typeof v === 'string') s.reported.set(k, v);
    for (const id of s.sprints.keys()) s.updateSprintBudget(id, false);
    s.refreshGroup(s.nodes.keys());
    s.dirty.clear();
    return s;
  }

  // -- Internals ------------------------------------------------------------------------------

  private node(taskId: string): Node {
    const n = this.nodes.get(taskId);
    if (!n) throw notFound(`task ${taskId} is not in the autopilot's plan`);
    return n;
  }

  private edgeNodes(d: Dependency): [Node, Node] {
    if (!d || typeof d.taskId !== 'string' || typeof d.dependsOnId !== 'string') throw invalid('dependency must be { taskId, dependsOnId } with string ids');
    if (d.taskId === d.dependsOnId) throw new DependencyCycleError([d.taskId, d.taskId]);
    const a = this.nodes.get(d.taskId);
    const b = this.nodes.get(d.dependsOnId);
    if (!a) throw notFound(`dependency ${d.taskId} → ${d.dependsOnId}: task ${d.taskId} is not in the plan`);
    if (!b) throw notFound(`dependency ${d.taskId} → ${d.dependsOnId}: task ${d.dependsOnId} is not in the plan`);
    return [a, b];
  }

  private validSprint(s: AutopilotSprint): AutopilotSprint {
    if (!s || typeof s.id !== 'string' || s.id === '') throw invalid('sprint: id must be a non-empty string');
    if (typeof s.position !== 'number' || !Number.isFinite(s.position)) throw invalid(`sprint ${s.id}: position must be a finite number`);
    return { id: s.id, position: s.position, agent: validAgent(s.agent, `sprint ${s.id}`) };
  }

  private checkSprint(t: AutopilotTask): void {
    if (t.sprintId !== null && !this.sprints.has(t.sprintId)) throw notFound(`task ${t.id} names sprint ${t.sprintId}, which is not in the plan`);
  }

  private sprintSet(sprintId: string | null): Set<string> {
    const key = sprintId ?? '';
    let set = this.bySprint.get(key);
    if (!set) this.bySprint.set(key, (set = new Set()));
    return set;
  }

  /** Breadth-first from `dependsOnId` along "waits for" edges; a path to `taskId` closes a cycle. */
  private findCycle(taskId: string, dependsOnId: string): string[] | null {
    const previous = new Map<string, string>();
    const queue = [dependsOnId];
    const seen = new Set(queue);
    for (let head = 0; head < queue.length; head++) {
      for (const next of this.nodes.get(queue[head])!.deps) {
        if (seen.has(next)) continue;
        previous.set(next, queue[head]);
        if (next === taskId) {
          const path = [taskId];
          for (let step = taskId; step !== dependsOnId;) path.push((step = previous.get(step)!));
          return [taskId, ...path.slice(1).reverse(), taskId];
        }
        seen.add(next);
        queue.push(next);
      }
    }
    return null;
  }

  private agentFor(task: AutopilotTask): { agent: AgentRef; from: StartDecision['agentFrom'] } | null {
    if (task.agent) return { agent: task.agent, from: 'task' };
    const sprintAgent = task.sprintId === null ? null : this.sprints.get(task.sprintId)?.agent ?? null;
    if (sprintAgent) return { agent: sprintAgent, from: 'sprint' };
    if (this.workspaceAgent) return { agent: this.workspaceAgent, from: 'workspace' };
    return null;
  }

  /** The per-task reason a TODO task is not startable (waits, no agent, retry limit), or null. */
  private taskHold(id: string, node: Node): HoldDecision | null {
    if (node.task.status !== 'TODO' || this.running.has(id)) return null;
    const hold = (cause: HoldCause, reason: string): HoldDecision => ({ kind: 'hold', taskId: id, sprintId: node.task.sprintId, cause, reason });
    if (node.waiting > 0) {
      const waitingFor = [...node.deps].filter(d => !satisfiesDependency(this.nodes.get(d)!.task.status));
      return hold('waiting', waitsReason(id, waitingFor));
    }
    const failed = this.failures.get(id) ?? 0;
    const limit = this.settings.retryLimit;
    if (limit !== null && failed > limit) return hold('retry-limit', `not started ${id}: retry limit reached (${failed} session(s) did not finish it; ${limit} retr${limit === 1 ? 'y' : 'ies'} allowed)`);
    if (!this.agentFor(node.task)) return hold('no-agent', `not started ${id}: no agent — set one on the task, its sprint or the workspace`);
    return null;
  }

  private isStartable(id: string, node: Node): boolean {
    const t = node.task;
    if (t.status !== 'TODO' || node.waiting > 0 || this.running.has(id)) return false;
    const limit = this.settings.retryLimit;
    if (limit !== null && (this.failures.get(id) ?? 0) > limit) return false;
    if (t.sprintId !== null && this.overBudgetSprints.has(t.sprintId)) return false;
    return this.agentFor(t) !== null;
  }

  /** Puts the task in the startable heap with its current key, or takes it out. O(log n). */
  private refresh(id: string): void {
    const node = this.nodes.get(id)!;
    if (!this.isStartable(id, node)) { this.unlist(node); return; }
    const t = node.task;
    const key: StartEntry = {
      id, chain: node.chain, priority: PRIORITY_RANK[t.priority],
      sprintPosition: t.sprintId === null ? Infinity : this.sprints.get(t.sprintId)!.position, position: t.position, live: true,
    };
    const e = node.entry;
    if (e && compareKeys(e, key) === 0) return;
    this.unlist(node);
    node.entry = key;
    this.startable.push(key);
    this.startableCount++;
    if (this.startable.size > 64 && this.startable.size > 4 * this.startableCount) this.startable.compact(x => x.live);
  }

  private unlist(node: Node): void {
    if (!node.entry) return;
    node.entry.live = false;
    node.entry = null;
    this.startableCount--;
  }

  private refreshGroup(ids: Iterable<string>): void {
    for (const id of ids) {
      this.refresh(id);
      this.dirty.add(id);
    }
  }

  /** Recomputes whether a sprint's budget is reached; when that changes (and `refresh`), re-checks its tasks. */
  private updateSprintBudget(sprintId: string, refresh: boolean): void {
    const over = budgetReached(this.settings.sprintBudget, this.sprintUsage.get(sprintId) ?? emptyUsage()) !== null;
    if (over === this.overBudgetSprints.has(sprintId)) return;
    if (over) this.overBudgetSprints.add(sprintId);
    else this.overBudgetSprints.delete(sprintId);
    if (refresh) for (const id of this.sprintSet(sprintId)) this.refresh(id);
  }

  private computeChain(node: Node): number {
    if (satisfiesDependency(node.task.status)) return 0;
    let best = 0;
    for (const d of node.dependents) {
      const dep = this.nodes.get(d)!;
      if (!satisfiesDependency(dep.task.status) && dep.chain > best) best = dep.chain;
    }
    return Math.max(0, node.task.estimate ?? 0) + best;
  }

  /**
   * Recomputes the chains of `seeds` and, wherever one changes, of its unfinished prerequisites, until
   * nothing changes (a worklist; terminates because the graph is acyclic).
   */
  private rerank(seeds: Iterable<string>): void {
    const queue: string[] = [];
    const queued = new Set<string>();
    for (const id of seeds) if (this.nodes.has(id) && !queued.has(id)) { queued.add(id); queue.push(id); }
    for (let head = 0; head < queue.length; head++) {
      const id = queue[head];
      queued.delete(id);
      const node = this.nodes.get(id)!;
      const chain = this.computeChain(node);
      if (chain === node.chain) continue;
      const finished = satisfiesDependency(node.task.status);
      node.chain = chain;
      node.chainVersion = ++this.versions;
      if (!finished && chain > 0) this.chains.push({ id, chain, version: node.chainVersion });
      this.refresh(id);
      for (const p of node.deps) {
        if (queued.has(p) || satisfiesDependency(this.nodes.get(p)!.task.status)) continue;
        queued.add(p);
        queue.push(p);
      }
    }
    if (this.chains.size > 64 && this.chains.size > 4 * this.nodes.size) {
      this.chains.compact(e => { const n = this.nodes.get(e.id); return !!n && n.chainVersion === e.version; });
    }
  }

  /** Ranks every task from scratch (reverse topological order); used once when building. */
  private rankAll(): void {
    const order = topologicalOrder(this.nodes);
    for (let i = order.length - 1; i >= 0; i--) {
      const node = this.nodes.get(order[i])!;
      node.chain = this.computeChain(node);
      node.chainVersion = ++this.versions;
      if (!satisfiesDependency(node.task.status) && node.chain > 0) this.chains.push({ id: order[i], chain: node.chain, version: node.chainVersion });
    }
  }

  /** Emits `d` unless the same thing (`same`, default its reason) was the last said about `key`. */
  private note(out: Decision[], key: string, d: HoldDecision, same: string = d.reason): void {
    if (this.reported.get(key) === same) return;
    this.reported.set(key, same);
    out.push(d);
  }
}

function add(into: Usage, u: UsageReport): void {
  into.agentHours += u.agentHours ?? 0;
  into.tokens += u.tokens ?? 0;
  into.costUsd += u.costUsd ?? 0;
}

function cloneTask(t: AutopilotTask): AutopilotTask {
  return { ...t, agent: t.agent ? { ...t.agent } : null };
}

/** Kahn's order over the nodes (prerequisites first); throws DependencyCycleError naming a node on a cycle. */
function topologicalOrder(nodes: Map<string, { deps: Set<string>; dependents: Set<string> }>): string[] {
  const remaining = new Map<string, number>();
  const queue: string[] = [];
  for (const [id, n] of nodes) {
    remaining.set(id, n.deps.size);
    if (n.deps.size === 0) queue.push(id);
  }
  for (let head = 0; head < queue.length; head++) {
    for (const d of nodes.get(queue[head])!.dependents) {
      const left = remaining.get(d)! - 1;
      remaining.set(d, left);
      if (left === 0) queue.push(d);
    }
  }
  if (queue.length < nodes.size) {
    const stuck = [...nodes.keys()].filter(id => remaining.get(id)! > 0);
    throw new DependencyCycleError([...stuck.slice(0, 5), stuck[0]]);
  }
  return queue;
}

/**
 * The starts autopilot would make now, recomputed from scratch from a saved state: builds the graph,
 * counts waits, ranks every unfinished task by its chain in reverse topological order, filters the
 * startable tasks and sorts them (O(n log n + e)). The incremental `AutopilotScheduler.nextStarts()` must
 * give the same answer; tests and the bench compare the two. Throws as `AutopilotScheduler.fromJSON` would.
 */
export function recomputeDecision(state: AutopilotState): { starts: StartDecision[]; chains: Map<string, number>; ready: string[] } {
  const settings = state.settings;
  const sprints = new Map(state.sprints.map(s => [s.id, s]));
  const nodes = new Map<string, { task: AutopilotTask; deps: Set<string>; dependents: Set<string> }>();
  for (const t of state.tasks) nodes.set(t.id, { task: t, deps: new Set(), dependents: new Set() });
  for (const d of state.dependencies) {
    const a = nodes.get(d.taskId), b = nodes.get(d.dependsOnId);
    if (!a || !b) throw invalid(`dependency ${d.taskId} → ${d.dependsOnId} names an unknown task`);
    a.deps.add(d.dependsOnId);
    b.dependents.add(d.taskId);
  }
  const finished = (id: string) => satisfiesDependency(nodes.get(id)!.task.status);
  const chains = new Map<string, number>();
  const order = topologicalOrder(nodes);
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i];
    const n = nodes.get(id)!;
    if (finished(id)) { chains.set(id, 0); continue; }
    let best = 0;
    for (const d of n.dependents) if (!finished(d) && chains.get(d)! > best) best = chains.get(d)!;
    chains.set(id, Math.max(0, n.task.estimate ?? 0) + best);
  }
  let critical = 0;
  for (const id of order) if (!finished(id) && chains.get(id)! > critical) critical = chains.get(id)!;
  const running = new Set(state.running.map(r => r.taskId));
  const sprintUsage = state.usage.sprints;
  const agentFor = (t: AutopilotTask): { agent: AgentRef; from: StartDecision['agentFrom'] } | null => {
    if (t.agent) return { agent: t.agent, from: 'task' };
    const sa = t.sprintId === null ? null : sprints.get(t.sprintId)?.agent ?? null;
    if (sa) return { agent: sa, from: 'sprint' };
    return state.workspaceAgent ? { agent: state.workspaceAgent, from: 'workspace' } : null;
  };
  const ready: string[] = [];
  const candidates: OrderKey[] = [];
  for (const [id, n] of nodes) {
    const t = n.task;
    if (t.status !== 'TODO' || [...n.deps].some(d => !finished(d))) continue;
    ready.push(id);
    if (running.has(id)) continue;
    if (settings.retryLimit !== null && (state.failures[id] ?? 0) > settings.retryLimit) continue;
    if (t.sprintId !== null && budgetReached(settings.sprintBudget, sprintUsage[t.sprintId] ?? emptyUsage())) continue;
    if (!agentFor(t)) continue;
    candidates.push({ id, chain: chains.get(id)!, priority: PRIORITY_RANK[t.priority],
      sprintPosition: t.sprintId === null ? Infinity : sprints.get(t.sprintId)!.position, position: t.position });
  }
  if (stopReason(state.paused, state.consecutiveFailures, settings, state.usage.run)) return { starts: [], chains, ready };
  candidates.sort(compareKeys);
  const free = Math.max(0, settings.maxParallel - running.size);
  const starts = candidates.slice(0, free).map((k): StartDecision => {
    const t = nodes.get(k.id)!.task;
    const { agent, from } = agentFor(t)!;
    return { kind: 'start', taskId: k.id, agent, agentFrom: from, chain: k.chain,
      reason: startReason(k.id, agent, from, t.sprintId, t.priority, k.chain, critical, state.estimateUnit) };
  });
  return { starts, chains, ready };
}

