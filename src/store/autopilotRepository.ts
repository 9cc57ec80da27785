import type { SqlStore, SqlValue } from './planRepository';

/** Autopilot's stored switch: on/off, who set it when, and the scheduler's counters (JSON, see `AutopilotCounters`). */
export interface AutopilotRecord {
  enabled: boolean;
  /** JSON text of the scheduler's counters; `{}` when none were saved yet. */
  counters: string;
  /** ISO 8601; null when autopilot was never switched in this workspace. */
  updatedAt: string | null;
  updatedBy: string | null;
}

/**
 * A session autopilot started: `endedAt` null while it runs. `outcome` once ended: `ok` (its task
 * finished), `failed` (it ended without finishing it), `interrupted` (the window's closing ended it).
 */
export interface AutopilotRun {
  sessionId: string;
  taskId: string;
  /** `profile` or `profile:role`. */
  agent: string;
  /** Why autopilot started it (the activity entry's text). */
  reason: string;
  startedAt: string;
  endedAt: string | null;
  outcome: 'ok' | 'failed' | 'interrupted' | null;
}

type Row = Record<string, SqlValue>;

function toRun(r: Row): AutopilotRun {
  return {
    sessionId: r.session_id as string, taskId: r.task_id as string, agent: r.agent as string, reason: r.reason as string,
    startedAt: r.started_at as string, endedAt: r.ended_at as string | null, outcome: r.outcome as AutopilotRun['outcome'],
  };
}

/** SQL for autopilot's state (the `autopilot` and `autopilot_runs` tables, migration 7). */
export class AutopilotRepository {
  constructor(private readonly db: SqlStore) {}

  /** The stored switch; off with no counters when never set. */
  get(): AutopilotRecord {
    const r = this.db.get<Row>('SELECT enabled, counters, updated_at, updated_by FROM autopilot WHERE id = 1');
    if (!r) return { enabled: false, counters: '{}', updatedAt: null, updatedBy: null };
    return { enabled: r.enabled === 1, counters: r.counters as string, updatedAt: r.updated_at as string, updatedBy: r.updated_by as string };
  }

  /** Sets the switch (and, when given, the counters) in one transaction. */
  setEnabled(enabled: boolean, at: string, by: string, counters?: string): void {
    this.db.transaction(tx => tx.run(
      `INSERT INTO autopilot (id, enabled, counters, updated_at, updated_by) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, updated_by = excluded.updated_by${counters !== undefined ? ', counters = excluded.counters' : ''}`,
      [enabled ? 1 : 0, counters ?? '{}', at, by],
    ));
  }

  /** Saves the scheduler's counters (JSON text), leaving the switch as it is. */
  saveCounters(counters: string, at: string): void {
    this.db.transaction(tx => tx.run(
      `INSERT INTO autopilot (id, enabled, counters, updated_at, updated_by) VALUES (1, 0, ?, ?, 'autopilot')
       ON CONFLICT(id) DO UPDATE SET counters = excluded.counters`,
      [counters, at],
    ));
  }

  /** Records a session autopilot just started (open until `endRun`). */
  insertRun(run: Omit<AutopilotRun, 'endedAt' | 'outcome'>): void {
    this.db.transaction(tx => tx.run(
      'INSERT INTO autopilot_runs (session_id, task_id, agent, reason, started_at, ended_at, outcome) VALUES (?, ?, ?, ?, ?, NULL, NULL)',
      [run.sessionId, run.taskId, run.agent, run.reason, run.startedAt],
    ));
  }

  /** Marks a run ended (once: an ended run keeps its first outcome). Returns whether it was open. */
  endRun(sessionId: string, outcome: 'ok' | 'failed' | 'interrupted', at: string): boolean {
    return this.db.transaction(tx => tx.run(
      'UPDATE autopilot_runs SET ended_at = ?, outcome = ? WHERE session_id = ? AND ended_at IS NULL', [at, outcome, sessionId],
    ).changes > 0);
  }

  /** Runs not ended yet, oldest first. */
  listOpen(): AutopilotRun[] {
    return this.db.all<Row>('SELECT * FROM autopilot_runs WHERE ended_at IS NULL ORDER BY started_at, session_id').map(toRun);
  }

  /** The newest runs first, at most `limit`. */
  listRecent(limit = 20): AutopilotRun[] {
    return this.db.all<Row>('SELECT * FROM autopilot_runs ORDER BY started_at DESC, session_id DESC LIMIT ?', [limit]).map(toRun);
  }

  /** How many sessions autopilot started on `taskId` failed so far (each a retry when it starts again). */
  failedRunsOf(taskId: string): number {
    return this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM autopilot_runs WHERE task_id = ? AND outcome = 'failed'", [taskId])?.n ?? 0;
  }
}
