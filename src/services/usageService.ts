import { notFound } from '../core/errors';
import { Emitter, type Event } from '../core/event';
import type { UsageKind, UsageSample } from '../host/otlpDecode';
import type { SqlStore, SqlValue } from '../store/planRepository';
import type { PlanService } from './planService';

/** Token counts by type; a type the CLI never reported is absent. */
export type TokenCounts = Partial<Record<Exclude<UsageKind, 'costUsd'>, number>>;

/**
 * What was reported for a session, a task, a sprint or everything. `reported: false` means no CLI sent
 * usage for it: show "not reported", never 0. `costUsd` is null when tokens were reported but no cost
 * (Gemini CLI, Qwen Code report no cost).
 */
export interface UsageTotals {
  reported: boolean;
  tokens: TokenCounts;
  /** input + output (+ thought, tool) tokens, cache reads and writes not counted twice; null when not reported. */
  totalTokens: number | null;
  costUsd: number | null;
  /** CLIs that reported (`claude`, `qwen`, …), sorted. */
  sources: string[];
  /** Models named in the reports, sorted. */
  models: string[];
}

/** One line of a cost report: a terminal session with its task. */
export interface SessionUsage extends UsageTotals {
  sessionId: string;
  profile: string | null;
  taskId: string | null;
}

/** A task's usage over all its sessions. */
export interface TaskUsage extends UsageTotals {
  taskId: string;
  title: string;
  sprintId: string | null;
}

/** `baton cost` / `get_cost`: the total and the lines by task and by session, for one sprint or all. */
export interface CostReport {
  sprintId: string | null;
  total: UsageTotals;
  tasks: TaskUsage[];
  sessions: SessionUsage[];
}

type Row = { session_id: string; task_id: string | null; source: string; model: string | null; kind: string; value: number };

/**
 * Token and cost usage the agent CLIs report over OTLP (src/host/otlpReceiver.ts), attributed to the
 * terminal session that reported it, that session's task, and the task's sprint. Delta samples are added
 * up; a cumulative sample replaces the earlier one of the same session, series and start time (OTLP
 * metrics data model, "Sums": a cumulative point is the total since its start time; a new start time
 * means the counter restarted, so the totals of each start add up).
 */
export class UsageService {
  private readonly _onDidChangeUsage = new Emitter<{ sessionId: string; taskId: string | null }>();
  /** Fires after samples were stored for a session (throttled by the CLIs' export interval). */
  readonly onDidChangeUsage: Event<{ sessionId: string; taskId: string | null }> = this._onDidChangeUsage.event;

  constructor(private readonly db: SqlStore, private readonly plan: PlanService, private readonly redact: (text: string) => string) {}

  /**
   * Stores `samples` reported by terminal session `sessionId` (`run-3`), attributed to the session's task
   * as recorded when it started (a reviewer session's: the task it reviews). Model names and series keys pass secret redaction. Returns how many
   * samples were stored. @throws BatonError NOT_FOUND when the session is not one Baton recorded.
   */
  record(sessionId: string, samples: UsageSample[], now: Date = new Date()): number {
    const session = this.db.get<{ task_id: string | null }>('SELECT COALESCE(task_id, review_task_id) AS task_id FROM terminal_sessions WHERE id = ?', [sessionId]);
    if (!session) throw notFound(`No terminal session ${sessionId} is recorded: usage can only be reported for a session Baton started.`);
    if (!samples.length) return 0;
    const at = now.toISOString();
    this.db.transaction(tx => {
      for (const s of samples) {
        const series = this.redact(s.series);
        if (s.temporality === 'cumulative') tx.run('DELETE FROM usage_samples WHERE session_id = ? AND series = ? AND start_ns = ? AND temporality = ?', [sessionId, series, s.start, 'cumulative']);
        tx.run(
          'INSERT INTO usage_samples (session_id, task_id, source, model, kind, value, temporality, series, start_ns, time_ns, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [sessionId, session.task_id, s.source, s.model === null ? null : this.redact(s.model), s.kind, s.value, s.temporality, series, s.start, s.time, at],
        );
      }
    });
    this._onDidChangeUsage.fire({ sessionId, taskId: session.task_id });
    return samples.length;
  }

  /** Usage of one terminal session. */
  forSession(sessionId: string): UsageTotals {
    return totals(this.rows('WHERE session_id = ?', [sessionId]));
  }

  /** Usage of one task over all its sessions. @throws BatonError NOT_FOUND for an unknown task. */
  forTask(taskId: string): UsageTotals {
    const task = this.plan.resolveTask(taskId);
    return totals(this.rows('WHERE task_id = ?', [task.id]));
  }

  /**
   * The cost report for sprint `sprintId` (its tasks' sessions; by the tasks' current sprint) or for
   * everything (null): every terminal session and every task that has sessions, with "not reported"
   * (`reported: false`) for those whose CLI sent nothing. @throws BatonError NOT_FOUND for an unknown sprint.
   */
  report(sprintId: string | null = null): CostReport {
    const sprint = sprintId ? this.plan.getSprint(sprintId) : null;
    const sessions = this.db.all<{ id: string; profile: string; task_id: string | null }>(
      sprint
        ? 'SELECT s.id, s.profile, COALESCE(s.task_id, s.review_task_id) AS task_id FROM terminal_sessions s JOIN tasks t ON t.id = COALESCE(s.task_id, s.review_task_id) WHERE t.sprint_id = ? ORDER BY s.num'
        : 'SELECT id, profile, COALESCE(task_id, review_task_id) AS task_id FROM terminal_sessions ORDER BY num',
      sprint ? [sprint.id] : [],
    );
    const rows = sprint
      ? this.rows('WHERE task_id IN (SELECT id FROM tasks WHERE sprint_id = ?)', [sprint.id])
      : this.rows('', []);
    const bySession = group(rows, r => r.session_id);
    const byTask = group(rows, r => r.task_id);
    const taskIds = [...new Set(sessions.map(s => s.task_id).filter((t): t is string => t !== null))];
    return {
      sprintId: sprint?.id ?? null,
      total: totals(rows),
      sessions: sessions.map(s => ({ sessionId: s.id, profile: s.profile, taskId: s.task_id, ...totals(bySession.get(s.id) ?? []) })),
      tasks: taskIds.map(id => {
        const task = this.plan.getTask(id);
        return { taskId: id, title: task.title, sprintId: task.sprintId ?? null, ...totals(byTask.get(id) ?? []) };
      }),
    };
  }

  dispose(): void {
    this._onDidChangeUsage.dispose();
  }

  private rows(where: string, params: SqlValue[]): Row[] {
    return this.db.all<Row>(`SELECT session_id, task_id, source, model, kind, value FROM usage_samples ${where}`, params);
  }
}

function group<K>(rows: Row[], key: (r: Row) => K): Map<K, Row[]> {
  const map = new Map<K, Row[]>();
  for (const r of rows) {
    const k = key(r);
    const list = map.get(k);
    if (list) list.push(r);
    else map.set(k, [r]);
  }
  return map;
}

/** Sums rows into totals (dollar amounts rounded to a millionth, the CLIs' own precision). */
export function totals(rows: Row[]): UsageTotals {
  if (!rows.length) return { reported: false, tokens: {}, totalTokens: null, costUsd: null, sources: [], models: [] };
  const tokens: TokenCounts = {};
  let cost: number | null = null;
  for (const r of rows) {
    if (r.kind === 'costUsd') cost = (cost ?? 0) + r.value;
    else tokens[r.kind as keyof TokenCounts] = (tokens[r.kind as keyof TokenCounts] ?? 0) + r.value;
  }
  const totalTokens = (tokens.input ?? 0) + (tokens.output ?? 0) + (tokens.thought ?? 0) + (tokens.tool ?? 0);
  return {
    reported: true, tokens, totalTokens, costUsd: cost === null ? null : Math.round(cost * 1e6) / 1e6,
    sources: [...new Set(rows.map(r => r.source))].sort(), models: [...new Set(rows.map(r => r.model).filter((m): m is string => !!m))].sort(),
  };
}

/**
 * One line for people: `12.0k tokens (12,005 in, 9 out) · $0.0482`, `tokens only: … · cost not reported`,
 * or `not reported` when the CLI sent nothing.
 */
export function formatUsage(u: UsageTotals): string {
  if (!u.reported) return 'not reported';
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const parts = [`${n(u.tokens.input ?? 0)} in`, `${n(u.tokens.output ?? 0)} out`];
  if (u.tokens.cacheRead) parts.push(`${n(u.tokens.cacheRead)} cache read`);
  if (u.tokens.cacheCreation) parts.push(`${n(u.tokens.cacheCreation)} cache write`);
  if (u.tokens.thought) parts.push(`${n(u.tokens.thought)} thinking`);
  const cost = u.costUsd === null ? 'cost not reported' : `$${u.costUsd.toFixed(u.costUsd < 1 ? 4 : 2)}`;
  return `${n(u.totalTokens ?? 0)} tokens (${parts.join(', ')}) · ${cost}`;
}
