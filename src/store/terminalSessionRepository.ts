import type { SqlStore, SqlValue, SqlWriter } from './planRepository';

/** A record of an agent CLI Baton ran in a terminal: kept as history after it ends. */
export interface TerminalSessionRecord {
  /** `run-1`, `run-2`… */
  id: string;
  profile: string;
  title: string;
  /** The command line (without secrets). */
  command: string;
  taskId: string | null;
  cwd: string;
  worktree: string | null;
  branch: string | null;
  tmuxSession: string | null;
  pid: number | null;
  state: string;
  startedAt: string;
  endedAt: string | null;
  exitCode: number | null;
  /** `exited`, `stopped`, `window-closed`, `owner-restarted`, … */
  endReason: string | null;
  /** The last lines of output (ANSI-free), kept when the session ends. */
  lastOutput: string;
  /**
   * How the session's branch was landed, as JSON `{ mode, outcome, commit, base, branch, at, by }`
   * (sessions/landing.ts); null until it is.
   */
  landing?: string | null;
  /** For a reviewer session (which holds no task): the task it reviews; else null. */
  reviewTaskId?: string | null;
}

type Row = Record<string, SqlValue>;
const COLUMNS: Record<keyof Omit<TerminalSessionRecord, 'id'>, string> = {
  profile: 'profile', title: 'title', command: 'command', taskId: 'task_id', cwd: 'cwd', worktree: 'worktree', branch: 'branch',
  tmuxSession: 'tmux_session', pid: 'pid', state: 'state', startedAt: 'started_at', endedAt: 'ended_at', exitCode: 'exit_code',
  endReason: 'end_reason', lastOutput: 'last_output', landing: 'landing', reviewTaskId: 'review_task_id',
};

function toRecord(r: Row): TerminalSessionRecord {
  return {
    id: r.id as string, profile: r.profile as string, title: r.title as string, command: r.command as string, taskId: r.task_id as string | null,
    cwd: r.cwd as string, worktree: r.worktree as string | null, branch: r.branch as string | null, tmuxSession: r.tmux_session as string | null,
    pid: r.pid as number | null, state: r.state as string, startedAt: r.started_at as string, endedAt: r.ended_at as string | null,
    exitCode: r.exit_code as number | null, endReason: r.end_reason as string | null, lastOutput: r.last_output as string,
    landing: (r.landing as string | null | undefined) ?? null,
    reviewTaskId: (r.review_task_id as string | null | undefined) ?? null,
  };
}

/** SQL for terminal session records (the `terminal_sessions` table). */
export class TerminalSessionRepository {
  constructor(private readonly db: SqlStore) {}

  nextNumber(): number {
    return (this.db.get<{ n: number | null }>('SELECT MAX(num) AS n FROM terminal_sessions')?.n ?? 0) + 1;
  }

  insert(num: number, r: TerminalSessionRecord): void {
    this.db.transaction((tx: SqlWriter) => tx.run(
      `INSERT INTO terminal_sessions (id, num, profile, title, command, task_id, cwd, worktree, branch, tmux_session, pid, state, started_at, ended_at, exit_code, end_reason, last_output, review_task_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.id, num, r.profile, r.title, r.command, r.taskId, r.cwd, r.worktree, r.branch, r.tmuxSession, r.pid, r.state, r.startedAt, r.endedAt, r.exitCode, r.endReason, r.lastOutput, r.reviewTaskId ?? null],
    ));
  }

  update(id: string, patch: Partial<Omit<TerminalSessionRecord, 'id'>>): void {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as [keyof typeof COLUMNS, SqlValue][];
    if (!entries.length) return;
    this.db.transaction(tx => tx.run(`UPDATE terminal_sessions SET ${entries.map(([k]) => `${COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`, [...entries.map(([, v]) => v), id]));
  }

  get(id: string): TerminalSessionRecord | undefined {
    const r = this.db.get<Row>('SELECT * FROM terminal_sessions WHERE id = ?', [id]);
    return r && toRecord(r);
  }

  /** Sessions not ended (running, or left running in tmux by an earlier window). */
  listLive(): TerminalSessionRecord[] {
    return this.db.all<Row>('SELECT * FROM terminal_sessions WHERE ended_at IS NULL ORDER BY num').map(toRecord);
  }

  /** Every session of a task, newest first. */
  listForTask(taskId: string): TerminalSessionRecord[] {
    return this.db.all<Row>('SELECT * FROM terminal_sessions WHERE task_id = ? ORDER BY num DESC', [taskId]).map(toRecord);
  }

  /** Ids of the tasks that have a session with a branch (for the tree's "Land Task…" menu). */
  tasksWithBranch(): Set<string> {
    return new Set(this.db.all<{ task_id: string }>('SELECT DISTINCT task_id FROM terminal_sessions WHERE task_id IS NOT NULL AND branch IS NOT NULL').map(r => r.task_id));
  }

  /** History, newest first. */
  listHistory(limit = 50): TerminalSessionRecord[] {
    return this.db.all<Row>('SELECT * FROM terminal_sessions WHERE ended_at IS NOT NULL ORDER BY num DESC LIMIT ?', [limit]).map(toRecord);
  }
}
