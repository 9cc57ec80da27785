/**
 * Sprint analytics: burndown, velocity and a Monte Carlo completion forecast, computed from the plan's
 * current tasks and its activity history. Pure: no I/O, no store, no `vscode`; the caller passes what
 * it read (services/analyticsService.ts) and "today".
 *
 * Days are UTC calendar days (YYYY-MM-DD, the first 10 characters of Baton's ISO timestamps). A day's
 * figure is the state at the end of that day (for today: now).
 */

import {
  type ActivityEntry,
  type EstimateUnit,
  type Sprint,
  type Task,
  type TaskStatus,
  TASK_STATUSES,
} from './model';
import type {
  Burndown,
  BurndownPoint,
  Forecast,
  ForecastRange,
  ScopeChange,
  Velocity,
  VelocityEntry,
} from '../shared/analytics';

/** What analytics need of a task (a subset of {@link Task}). */
export type TaskFact = Pick<Task, 'id' | 'sprintId' | 'status' | 'estimate' | 'estimateUnit' | 'createdAt'>;

/**
 * One recorded change of a task, parsed from the activity log by {@link historyFromActivity}.
 * `undefined` in an optional field means "the log did not record it" (older entries), unlike `null`.
 */
export type HistoryEvent =
  | { at: string; taskId: string; kind: 'created'; sprintId: string | null; estimate?: number | null }
  | { at: string; taskId: string; kind: 'status'; from: TaskStatus; to: TaskStatus }
  | { at: string; taskId: string; kind: 'estimate'; from?: number | null; to: number | null }
  | { at: string; taskId: string; kind: 'sprint'; to: string | null }
  | { at: string; taskId: string; kind: 'deleted'; sprintId: string | null; estimate?: number | null };

/** The activity actions {@link historyFromActivity} reads (the service reads only these rows). */
export const HISTORY_ACTIONS = ['task.created', 'task.status', 'task.updated', 'task.deleted'] as const;

const STATUS_SET = new Set<string>(TASK_STATUSES);
const num = (s: string): number | null => (s === 'none' ? null : Number(s));
const ESTIMATE_SUFFIX = /, (?:estimate (\d+(?:\.\d+)?) (?:hours|points)|no estimate)$/;

/**
 * Turns activity entries (any order) into history events, oldest first. Reads the one-line details
 * PlanService writes: `task.status` "TODO → DONE…", `task.updated` "updated …, estimate 3 → 5, sprint S-2",
 * `task.created` "created task "…", estimate 5 hours" (or ", no estimate"), `task.deleted`
 * "deleted task T-4 "…", estimate 2 points". Entries it cannot read ("status stays DONE", other actions) are skipped.
 */
export function historyFromActivity(entries: readonly ActivityEntry[]): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const sorted = [...entries].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id));
  for (const e of sorted) {
    if (e.action === 'task.status' && e.taskId) {
      const m = /^([A-Z_]+) → ([A-Z_]+)/.exec(e.detail);
      if (m && STATUS_SET.has(m[1]) && STATUS_SET.has(m[2])) {
        out.push({ at: e.at, taskId: e.taskId, kind: 'status', from: m[1] as TaskStatus, to: m[2] as TaskStatus });
      }
    } else if (e.action === 'task.updated' && e.taskId) {
      const est = /(?:^updated |, )estimate (?:(none|\d+(?:\.\d+)?) → )?(none|\d+(?:\.\d+)?)(?=,|$)/.exec(e.detail);
      if (est) out.push({ at: e.at, taskId: e.taskId, kind: 'estimate', ...(est[1] !== undefined ? { from: num(est[1]) } : {}), to: num(est[2]) });
      const sp = /(?:^updated |, )sprint (S-\d+|backlog)(?=,|$)/.exec(e.detail);
      if (sp) out.push({ at: e.at, taskId: e.taskId, kind: 'sprint', to: sp[1] === 'backlog' ? null : sp[1] });
    } else if (e.action === 'task.created' && e.taskId) {
      const m = ESTIMATE_SUFFIX.exec(e.detail);
      out.push({ at: e.at, taskId: e.taskId, kind: 'created', sprintId: e.sprintId, ...(m ? { estimate: m[1] ? Number(m[1]) : null } : {}) });
    } else if (e.action === 'task.deleted') {
      const id = /^deleted task (T-\d+)/.exec(e.detail);
      if (!id) continue;
      const m = ESTIMATE_SUFFIX.exec(e.detail);
      out.push({ at: e.at, taskId: id[1], kind: 'deleted', sprintId: e.sprintId, ...(m ? { estimate: m[1] ? Number(m[1]) : null } : {}) });
    }
  }
  return out;
}

// ---------------------------------------------------------------- dates

/** The UTC day (YYYY-MM-DD) of an ISO timestamp or date. */
export const dayOf = (iso: string): string => iso.slice(0, 10);
/** `day` plus `n` days (UTC). */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
/** Whole days from `a` to `b` (negative when `b` is earlier). */
export const daysBetween = (a: string, b: string): number =>
  Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);

const round = (x: number): number => Math.round(x * 100) / 100;

/**
 * The unit most of `tasks`' estimates are in (by count of estimated tasks); `hours` when none is
 * estimated or on a tie (hours is the default unit of a new task).
 */
export function dominantUnit(tasks: readonly Pick<Task, 'estimate' | 'estimateUnit'>[]): EstimateUnit {
  let hours = 0, points = 0;
  for (const t of tasks) if (t.estimate !== null) { if (t.estimateUnit === 'points') points++; else hours++; }
  return points > hours ? 'points' : 'hours';
}

// ---------------------------------------------------------------- burndown

interface TaskState { exists: boolean; sprintId: string | null; status: TaskStatus; estimate: number | null }

/** A task's state changes in time order: its first state, then one per event (see {@link replay}). */
type Timeline = { id: string; states: { at: string; state: TaskState }[] };

/**
 * Rebuilds each task's states over time from its current row and its history. What the log did not
 * record is inferred, never made up beyond this: the first status is the first move's `from` (else the
 * current status); the first sprint is the one it was created in (else, without moves, the current one;
 * with moves but no creation entry, none); the first estimate is the first re-estimate's `from`, else
 * the estimate recorded at creation, else the current one (without re-estimates) or the first
 * re-estimate's value. A deleted task's last state is its sprint and recorded estimate when deleted.
 */
function replay(tasks: readonly TaskFact[], history: readonly HistoryEvent[]): Timeline[] {
  const byTask = new Map<string, HistoryEvent[]>();
  for (const e of history) {
    const list = byTask.get(e.taskId);
    if (list) list.push(e); else byTask.set(e.taskId, [e]);
  }
  const current = new Map(tasks.map(t => [t.id, t]));
  const ids = new Set<string>([...current.keys(), ...byTask.keys()]);
  const out: Timeline[] = [];
  for (const id of ids) {
    const events = byTask.get(id) ?? [];
    const task = current.get(id);
    const created = events.find(e => e.kind === 'created') as Extract<HistoryEvent, { kind: 'created' }> | undefined;
    const deleted = events.find(e => e.kind === 'deleted') as Extract<HistoryEvent, { kind: 'deleted' }> | undefined;
    if (!task && !deleted) continue; // history of a task that no longer exists and whose deletion is not in it
    const statuses = events.filter(e => e.kind === 'status') as Extract<HistoryEvent, { kind: 'status' }>[];
    const estimates = events.filter(e => e.kind === 'estimate') as Extract<HistoryEvent, { kind: 'estimate' }>[];
    const moves = events.filter(e => e.kind === 'sprint');
    const finalEstimate = task ? task.estimate : deleted!.estimate !== undefined ? deleted!.estimate : estimates.length ? estimates[estimates.length - 1].to : null;
    const finalSprint = task ? task.sprintId : deleted!.sprintId;
    const finalStatus: TaskStatus = task ? task.status : statuses.length ? statuses[statuses.length - 1].to : 'TODO';
    const first: TaskState = {
      exists: true,
      sprintId: created ? created.sprintId : moves.length ? null : finalSprint,
      status: statuses.length ? statuses[0].from : finalStatus,
      estimate: estimates.length
        ? estimates[0].from !== undefined ? estimates[0].from : created?.estimate !== undefined ? created.estimate : estimates[0].to
        : created?.estimate !== undefined && !task ? created.estimate : finalEstimate,
    };
    const states: Timeline['states'] = [{ at: created?.at ?? task?.createdAt ?? '', state: first }];
    let s = first;
    for (const e of events) {
      if (e.kind === 'created') continue;
      if (e.kind === 'status') s = { ...s, status: e.to };
      else if (e.kind === 'estimate') s = { ...s, estimate: e.to };
      else if (e.kind === 'sprint') s = { ...s, sprintId: e.to };
      else s = { ...s, exists: false };
      states.push({ at: e.at, state: s });
    }
    out.push({ id, states });
  }
  return out;
}

/**
 * A sprint's burndown: for each day from its start date to its end date (or today, if earlier), the
 * estimate remaining (tasks not DONE or CANCELLED), done and in scope, and the ideal line from the scope
 * at the end of the first day down to 0 on the end date. Amounts are in the sprint's dominant unit
 * ({@link dominantUnit} of its current tasks); tasks estimated in the other unit and tasks without
 * estimate are left out of the amounts and listed (`otherUnit`, `unestimated`; open unestimated tasks are
 * counted per day). Scope changes after the first day (tasks added, removed — moved out, deleted or
 * cancelled — or re-estimated) are listed with their effect on the total. History: see {@link replay}.
 * @param today the current UTC day (YYYY-MM-DD)
 */
export function burndown(sprint: Sprint, tasks: readonly TaskFact[], history: readonly HistoryEvent[], today: string): Burndown {
  const inSprintNow = tasks.filter(t => t.sprintId === sprint.id);
  const unit = dominantUnit(inSprintNow);
  const unitOf = new Map(tasks.map(t => [t.id, t.estimateUnit]));
  const result: Burndown = {
    sprintId: sprint.id, unit, start: sprint.startDate, end: sprint.endDate, points: [], scopeChanges: [],
    unestimated: inSprintNow.filter(t => t.estimate === null).map(t => t.id),
    otherUnit: inSprintNow.filter(t => t.estimate !== null && t.estimateUnit !== unit).map(t => t.id),
    note: null,
  };
  const start = sprint.startDate;
  if (!start) return { ...result, note: 'The sprint has no start date: set one to see its burndown.' };
  if (start > today) return { ...result, note: `The sprint starts on ${start}.` };
  const last = sprint.endDate && sprint.endDate < today ? sprint.endDate : today;
  if (last < start) return { ...result, note: `The sprint ends (${sprint.endDate}) before it starts (${start}).` };

  // Every task's state changes in time order; a task in the other unit never counts.
  const changes: { at: string; id: string; before: TaskState | null; after: TaskState }[] = [];
  for (const tl of replay(tasks, history)) {
    const u = unitOf.get(tl.id);
    if (u !== undefined && u !== unit) continue;
    let before: TaskState | null = null;
    for (const { at, state } of tl.states) { changes.push({ at, id: tl.id, before, after: state }); before = state; }
  }
  changes.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  const member = (s: TaskState | null): s is TaskState => !!s && s.exists && s.sprintId === sprint.id && s.status !== 'CANCELLED';
  let remaining = 0, done = 0, unestimatedOpen = 0;
  const apply = (s: TaskState | null, sign: 1 | -1) => {
    if (!member(s)) return;
    if (s.estimate === null) { if (s.status !== 'DONE') unestimatedOpen += sign; }
    else if (s.status === 'DONE') done += sign * s.estimate;
    else remaining += sign * s.estimate;
  };
  const days = daysBetween(start, last) + 1;
  const length = sprint.endDate ? daysBetween(start, sprint.endDate) : null;
  let baseline = 0;
  let i = 0;
  for (let d = 0; d < days; d++) {
    const date = addDays(start, d);
    for (; i < changes.length && dayOf(changes[i].at) <= date; i++) {
      const c = changes[i];
      apply(c.before, -1);
      apply(c.after, 1);
      if (d > 0) {
        const was = member(c.before), is = member(c.after);
        const change = (kind: ScopeChange['kind'], delta: number | null): void => { result.scopeChanges.push({ date, taskId: c.id, kind, delta }); };
        if (!was && is) change('added', c.after.estimate);
        else if (was && !is) change('removed', c.before!.estimate === null ? null : -c.before!.estimate);
        else if (was && is && c.before!.estimate !== c.after.estimate) change('reestimated', (c.after.estimate ?? 0) - (c.before!.estimate ?? 0));
      }
    }
    if (d === 0) baseline = remaining + done;
    const ideal = length === null ? null : length <= 0 ? 0 : round(Math.max(0, baseline * (1 - d / length)));
    const point: BurndownPoint = { date, remaining: round(remaining), done: round(done), scope: round(remaining + done), ideal, unestimatedOpen };
    result.points.push(point);
  }
  return result;
}

// ---------------------------------------------------------------- velocity

/**
 * Velocity: estimate completed (DONE tasks) per closed sprint (state `completed`), for the last `count`
 * of them in plan order, oldest first, with what was committed (all but CANCELLED tasks) and task counts.
 * From the tasks' current state (a closed sprint's tasks rarely change). One unit for all: the dominant
 * unit of those sprints' tasks; tasks in the other unit or without estimate add to the counts only.
 */
export function velocity(sprints: readonly Sprint[], tasks: readonly TaskFact[], count = 6): Velocity {
  const closed = sprints.filter(s => s.state === 'completed').slice(-Math.max(0, count));
  const ids = new Set(closed.map(s => s.id));
  const theirs = tasks.filter(t => t.sprintId !== null && ids.has(t.sprintId));
  const unit = dominantUnit(theirs);
  const entries: VelocityEntry[] = closed.map(s => ({
    sprintId: s.id, name: s.name, endDate: s.endDate, completed: 0, committed: 0, tasksDone: 0, tasksTotal: 0,
  }));
  const byId = new Map(entries.map(e => [e.sprintId, e]));
  for (const t of theirs) {
    if (t.status === 'CANCELLED') continue;
    const e = byId.get(t.sprintId!)!;
    e.tasksTotal++;
    if (t.status === 'DONE') e.tasksDone++;
    if (t.estimate === null || t.estimateUnit !== unit) continue;
    e.committed += t.estimate;
    if (t.status === 'DONE') e.completed += t.estimate;
  }
  for (const e of entries) { e.completed = round(e.completed); e.committed = round(e.committed); }
  return {
    unit, sprints: entries,
    average: entries.length ? round(entries.reduce((n, e) => n + e.completed, 0) / entries.length) : null,
  };
}

// ---------------------------------------------------------------- forecast

/** Days of throughput history a forecast samples at most (the most recent ones, ending yesterday). */
export const FORECAST_WINDOW_DAYS = 30;
/** Fewest days of history for a forecast: a week, so that quiet days (weekends) are in the sample. */
export const FORECAST_MIN_DAYS = 7;
/** Fewest tasks completed in that history for a forecast. */
export const FORECAST_MIN_COMPLETIONS = 5;
/** Simulated futures per forecast. */
export const FORECAST_TRIALS = 10_000;
/** A simulated future still unfinished after this many days counts as not finishing. */
export const FORECAST_CAP_DAYS = 3650;

/**
 * Mulberry32, a small seeded 32-bit PRNG (Tommy Ettinger, public domain): the same seed gives the same
 * sequence, so forecasts (and their tests) are reproducible. Returns numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Tasks completed per day (moves to DONE in the history) over the sampled window: the last
 * {@link FORECAST_WINDOW_DAYS} days before today, starting no earlier than the history's first day.
 * Days without completions count as 0 (they are part of the throughput). Empty when no day is in it.
 */
export function dailyThroughput(history: readonly HistoryEvent[], today: string): { from: string; to: string; counts: number[] } {
  const to = addDays(today, -1);
  let first: string | null = null;
  for (const e of history) { const d = dayOf(e.at); if (first === null || d < first) first = d; }
  if (first === null || first > to) return { from: today, to, counts: [] };
  const windowStart = addDays(to, -(FORECAST_WINDOW_DAYS - 1));
  const from = first > windowStart ? first : windowStart;
  const counts = new Array<number>(daysBetween(from, to) + 1).fill(0);
  for (const e of history) {
    if (e.kind !== 'status' || e.to !== 'DONE') continue;
    const d = dayOf(e.at);
    if (d >= from && d <= to) counts[daysBetween(from, d)]++;
  }
  return { from, to, counts };
}

function simulate(samples: readonly number[], remaining: number, seed: number, trials: number): number[] {
  const rand = mulberry32(seed);
  const out = new Array<number>(trials);
  for (let t = 0; t < trials; t++) {
    let days = 0, done = 0;
    while (done < remaining && days < FORECAST_CAP_DAYS) { days++; done += samples[Math.floor(rand() * samples.length)]; }
    out[t] = done >= remaining ? days : Infinity;
  }
  return out.sort((a, b) => a - b);
}

function range(scope: string, remaining: number, samples: readonly number[], today: string, end: string | null, seed: number, trials: number): ForecastRange {
  if (remaining === 0) return { scope, remainingTasks: 0, p50: today, p85: today, chanceByEnd: end === null ? null : 1 };
  const days = simulate(samples, remaining, seed, trials);
  const at = (q: number) => { const d = days[Math.ceil(q * trials) - 1]; return Number.isFinite(d) ? addDays(today, d) : null; };
  let chance: number | null = null;
  if (end !== null) {
    const limit = daysBetween(today, end);
    chance = Math.round((days.filter(d => d <= limit).length / trials) * 1000) / 1000;
  }
  return { scope, remainingTasks: remaining, p50: at(0.5), p85: at(0.85), chanceByEnd: chance };
}

/**
 * When the open tasks of a sprint and of the whole plan will be done: a Monte Carlo simulation over the
 * recorded daily throughput — the "throughput sampling" forecast of D. Vacanti, *When Will It Be Done?*
 * (2015): each simulated future draws one past day's completed-task count (with replacement) for each
 * day from tomorrow on, until the remaining task count is reached; the 50th and 85th percentiles of the
 * finishing days are the dates given. Counts tasks, not estimates (unestimated tasks need no guess).
 * Without {@link FORECAST_MIN_DAYS} days of history and {@link FORECAST_MIN_COMPLETIONS} completions in
 * them, answers `insufficient` instead of a date.
 * @param sprint the sprint to forecast with its open task count, or null for the plan only
 * @param planRemaining open tasks of the whole plan
 */
export function forecast(
  history: readonly HistoryEvent[], today: string,
  sprint: { id: string; endDate: string | null; remaining: number } | null, planRemaining: number,
  options: { seed?: number; trials?: number } = {},
): Forecast {
  const seed = options.seed ?? 1;
  const trials = options.trials ?? FORECAST_TRIALS;
  const { from, to, counts } = dailyThroughput(history, today);
  const completions = counts.reduce((a, b) => a + b, 0);
  if (counts.length < FORECAST_MIN_DAYS || completions < FORECAST_MIN_COMPLETIONS) {
    const why = counts.length < FORECAST_MIN_DAYS
      ? `only ${counts.length} day${counts.length === 1 ? '' : 's'} of history before today (${FORECAST_MIN_DAYS} needed)`
      : `only ${completions} task${completions === 1 ? '' : 's'} completed in the last ${counts.length} days (${FORECAST_MIN_COMPLETIONS} needed)`;
    return { kind: 'insufficient', reason: `Not enough history for a forecast: ${why}.`, days: counts.length, completions, minDays: FORECAST_MIN_DAYS, minCompletions: FORECAST_MIN_COMPLETIONS };
  }
  return {
    kind: 'forecast', unit: 'tasks',
    basis: {
      method: 'Monte Carlo throughput sampling (Vacanti, When Will It Be Done?): each simulated day from tomorrow draws the tasks completed on a random past day',
      from, to, days: counts.length, completions, trials, seed,
    },
    sprint: sprint ? range(sprint.id, sprint.remaining, counts, today, sprint.endDate, seed, trials) : null,
    plan: range('plan', planRemaining, counts, today, null, seed + 1, trials),
  };
}

/** Open = not DONE and not CANCELLED (what a forecast counts as remaining). */
export const isOpen = (t: Pick<Task, 'status'>): boolean => t.status !== 'DONE' && t.status !== 'CANCELLED';
