/**
 * The first part of the host ⇄ webview protocol (issue 9): what Baton's sprint analytics return
 * (burndown, velocity, forecast). Plain JSON-serialisable data, computed by `src/core/analytics.ts`
 * and served by `src/services/analyticsService.ts`; the dashboard webview imports only `src/shared`.
 * Dates are ISO calendar dates (YYYY-MM-DD, UTC days); amounts are in the `unit` named next to them.
 */

/** The unit an amount is in: estimate hours, story points, or (forecasts) a count of tasks. */
export type AmountUnit = 'hours' | 'points' | 'tasks';

/** One change of a sprint's scope after its first day (see {@link Burndown}). */
export interface ScopeChange {
  date: string;
  taskId: string;
  /** added: entered the sprint; removed: left it (moved, deleted or cancelled); reestimated: its estimate changed. */
  kind: 'added' | 'removed' | 'reestimated';
  /** Change of the sprint's total estimate (negative for removals); null when the estimate is not known (e.g. a deleted task's). */
  delta: number | null;
}

/** One day of a burndown: the state at the end of that UTC day (or now, for today). */
export interface BurndownPoint {
  date: string;
  /** Estimate of the sprint's tasks that are not DONE or CANCELLED. */
  remaining: number;
  /** Estimate of the sprint's DONE tasks. */
  done: number;
  /** remaining + done: the sprint's scope that day. */
  scope: number;
  /** The ideal line that day (linear from the scope at the end of the first day to 0 on the end date); null without an end date. */
  ideal: number | null;
  /** Open tasks in the sprint that day without an estimate in `unit` (not counted in `remaining`). */
  unestimatedOpen: number;
}

/** A sprint's burndown from its start date to its end date or today, whichever comes first. */
export interface Burndown {
  sprintId: string;
  unit: 'hours' | 'points';
  start: string | null;
  end: string | null;
  points: BurndownPoint[];
  scopeChanges: ScopeChange[];
  /** Tasks of the sprint (now) that have no estimate: not counted in any amount. */
  unestimated: string[];
  /** Tasks of the sprint (now) estimated in the other unit: not counted either. */
  otherUnit: string[];
  /** Why there are no points, when there are none (no start date, starts in the future). */
  note: string | null;
}

/** Completed work of one closed sprint. */
export interface VelocityEntry {
  sprintId: string;
  name: string;
  endDate: string | null;
  /** Estimate (in {@link Velocity.unit}) of the sprint's DONE tasks. */
  completed: number;
  /** Estimate of all its tasks but CANCELLED ones (what was committed, as it ended). */
  committed: number;
  tasksDone: number;
  tasksTotal: number;
}

/** Velocity over the last closed (state `completed`) sprints, oldest first. */
export interface Velocity {
  unit: 'hours' | 'points';
  sprints: VelocityEntry[];
  /** Mean of `completed` over `sprints`; null when there are none. */
  average: number | null;
}

/** When some remaining work will be done, at 50 % and 85 % confidence. */
export interface ForecastRange {
  /** What is forecast: a sprint's id or `plan` (every open task). */
  scope: string;
  /** Open tasks (not DONE or CANCELLED) left. */
  remainingTasks: number;
  /** Date by which half of the simulated futures finished (null when under `cap` days they did not). */
  p50: string | null;
  /** Date by which 85 % of them finished. */
  p85: string | null;
  /** Share (0–1) of futures finished by the sprint's end date; null for the plan or a sprint without end date. */
  chanceByEnd: number | null;
}

/** How a forecast was made, so it can be explained next to its dates. */
export interface ForecastBasis {
  method: string;
  /** First and last day of the throughput history sampled (UTC). */
  from: string;
  to: string;
  days: number;
  /** Tasks completed in those days. */
  completions: number;
  /** Simulated futures. */
  trials: number;
  seed: number;
}

/** A forecast, or why none is given. */
export type Forecast =
  | { kind: 'forecast'; unit: 'tasks'; basis: ForecastBasis; sprint: ForecastRange | null; plan: ForecastRange }
  | { kind: 'insufficient'; reason: string; days: number; completions: number; minDays: number; minCompletions: number };

/** Everything `baton stats` and the dashboard's Sprints page show. */
export interface SprintStats {
  /** The day the figures are for (UTC). */
  today: string;
  sprint: { id: string; name: string; state: string; startDate: string | null; endDate: string | null; tasksDone: number; tasksTotal: number } | null;
  burndown: Burndown | null;
  velocity: Velocity;
  forecast: Forecast;
}

/** True when `v` looks like a {@link SprintStats} (the webview checks messages from the host with it). */
export function isSprintStats(v: unknown): v is SprintStats {
  if (!v || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  const f = s.forecast as Record<string, unknown> | undefined;
  return typeof s.today === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s.today)
    && (s.sprint === null || typeof s.sprint === 'object')
    && (s.burndown === null || (typeof s.burndown === 'object' && Array.isArray((s.burndown as Burndown).points)))
    && !!s.velocity && Array.isArray((s.velocity as Velocity).sprints)
    && !!f && (f.kind === 'forecast' || f.kind === 'insufficient');
}
