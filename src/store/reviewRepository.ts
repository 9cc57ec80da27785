import type { SqlStore, SqlWriter } from './planRepository';
import type { ReviewFinding, ReviewVerdict } from '../core/reviewPipeline';

/** A pipeline set on a task or a sprint (`review_pipelines`, schema migration 6). */
export interface StoredPipeline {
  targetKind: 'task' | 'sprint';
  targetId: string;
  spec: string;
  updatedAt: string;
}

export const ROUND_STATES = ['reviewing', 'awaiting_gate', 'changes_requested', 'approved', 'rejected', 'cancelled', 'overridden'] as const;
export type RoundState = (typeof ROUND_STATES)[number];

/** One review round of a task: opened when its completion sent it to review. */
export interface ReviewRound {
  taskId: string;
  /** 1, 2, … per task. */
  round: number;
  /** The pipeline in force when the round opened (canonical text). */
  spec: string;
  /** The reviewer slots (`profile[:role]`), in pipeline order. */
  reviewers: string[];
  /** `human`, `auto` or `score>=N`. */
  gate: string;
  state: RoundState;
  /** The Inbox approval request (`Q-n`) of a human gate, once asked. */
  requestId: string | null;
  /** Who completed the task (actor name), told when changes are requested. */
  implementer: string | null;
  /** Why the round ended (one line), or null while open. */
  outcome: string | null;
  startedAt: string;
  endedAt: string | null;
}

/** One submitted review. */
export interface ReviewRecord {
  /** `RV-<n>`. */
  id: string;
  taskId: string;
  round: number;
  /** The reviewer slot it fills (`profile[:role]`). */
  reviewer: string;
  sessionId: string | null;
  /** The submitting agent as an actor name (`codex#A-4`). */
  agentName: string;
  score: number;
  verdict: ReviewVerdict;
  summary: string;
  strengths: string[];
  criticalGaps: string[];
  recommendations: string[];
  findings: ReviewFinding[];
  /** The review's markdown stored as a task artifact (`AR-n`). */
  artifactId: string | null;
  createdAt: string;
}

interface RoundRow {
  task_id: string; round: number; spec: string; reviewers: string; gate: string; state: string; request_id: string | null;
  implementer: string | null; outcome: string | null; started_at: string; ended_at: string | null;
}
interface ReviewRow {
  id: string; task_id: string; round: number; reviewer: string; session_id: string | null; agent_name: string; score: number;
  verdict: string; body: string; artifact_id: string | null; created_at: string;
}

const toRound = (r: RoundRow): ReviewRound => ({
  taskId: r.task_id, round: r.round, spec: r.spec, reviewers: JSON.parse(r.reviewers) as string[], gate: r.gate, state: r.state as RoundState,
  requestId: r.request_id, implementer: r.implementer, outcome: r.outcome, startedAt: r.started_at, endedAt: r.ended_at,
});
const toReview = (r: ReviewRow): ReviewRecord => {
  const body = JSON.parse(r.body) as Pick<ReviewRecord, 'summary' | 'strengths' | 'criticalGaps' | 'recommendations' | 'findings'>;
  return {
    id: r.id, taskId: r.task_id, round: r.round, reviewer: r.reviewer, sessionId: r.session_id, agentName: r.agent_name, score: r.score,
    verdict: r.verdict as ReviewVerdict, summary: body.summary, strengths: body.strengths, criticalGaps: body.criticalGaps,
    recommendations: body.recommendations, findings: body.findings, artifactId: r.artifact_id, createdAt: r.created_at,
  };
};

/**
 * SQL for review pipelines, rounds and reviews (schema migration 6). The only module that knows these
 * tables' columns; writes take the caller's transaction writer, so a round can open in the same
 * transaction as the status move that asked for it.
 */
export class ReviewRepository {
  /**
   * Committed pipelines by `kind:id` (null: none set) and rounds by task, read once and kept: every
   * get_task and every status change asks for them. Only this class writes `review_pipelines` and
   * `review_rounds`, and each of its writes drops the entries it touches; nothing is kept from a read made
   * while a transaction runs (it may see uncommitted rows that a rollback undoes).
   */
  private readonly pipelineCache = new Map<string, StoredPipeline | null>();
  private readonly roundCache = new Map<string, ReviewRound[]>();

  constructor(private readonly db: SqlStore) {}

  /** Whether a value read now is committed (no transaction running), so it may be kept. */
  private get settled(): boolean {
    return this.db.writing === false;
  }

  transaction<T>(fn: (tx: SqlWriter) => T): T {
    return this.db.transaction(fn);
  }

  getPipeline(targetKind: 'task' | 'sprint', targetId: string): StoredPipeline | undefined {
    const key = `${targetKind}:${targetId}`;
    const cached = this.pipelineCache.get(key);
    if (cached !== undefined) return cached ? { ...cached } : undefined;
    const r = this.db.get<{ spec: string; updated_at: string }>('SELECT spec, updated_at FROM review_pipelines WHERE target_kind = ? AND target_id = ?', [targetKind, targetId]);
    const found = r ? { targetKind, targetId, spec: r.spec, updatedAt: r.updated_at } : null;
    if (this.settled) this.pipelineCache.set(key, found);
    return found ? { ...found } : undefined;
  }

  /** Sets (spec) or clears (null) the pipeline of a task or sprint. */
  setPipeline(tx: SqlWriter, targetKind: 'task' | 'sprint', targetId: string, spec: string | null, at: string): void {
    this.pipelineCache.delete(`${targetKind}:${targetId}`);
    if (spec === null) {
      tx.run('DELETE FROM review_pipelines WHERE target_kind = ? AND target_id = ?', [targetKind, targetId]);
    } else {
      tx.run(`INSERT INTO review_pipelines (target_kind, target_id, spec, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (target_kind, target_id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`, [targetKind, targetId, spec, at]);
    }
  }

  /** The task's newest round, or undefined when it was never reviewed. */
  latestRound(taskId: string): ReviewRound | undefined {
    return this.listRounds(taskId).at(-1);
  }

  /** The task's rounds, oldest first (copies: callers may change them). */
  listRounds(taskId: string): ReviewRound[] {
    let rounds = this.roundCache.get(taskId);
    if (!rounds) {
      rounds = this.db.all<RoundRow>('SELECT * FROM review_rounds WHERE task_id = ? ORDER BY round', [taskId]).map(toRound);
      if (this.settled) this.roundCache.set(taskId, rounds);
    }
    return rounds.map(r => ({ ...r, reviewers: [...r.reviewers] }));
  }

  /** Every round in one of `states` (all tasks), oldest first. */
  roundsIn(states: readonly RoundState[]): ReviewRound[] {
    return this.db.all<RoundRow>(`SELECT * FROM review_rounds WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY started_at`, [...states]).map(toRound);
  }

  /** The round whose human gate asked Inbox request `requestId`. */
  roundOfRequest(requestId: string): ReviewRound | undefined {
    const r = this.db.get<RoundRow>('SELECT * FROM review_rounds WHERE request_id = ?', [requestId]);
    return r && toRound(r);
  }

  insertRound(tx: SqlWriter, r: ReviewRound): void {
    this.roundCache.delete(r.taskId);
    tx.run(`INSERT INTO review_rounds (task_id, round, spec, reviewers, gate, state, request_id, implementer, outcome, started_at, ended_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [r.taskId, r.round, r.spec, JSON.stringify(r.reviewers), r.gate, r.state, r.requestId, r.implementer, r.outcome, r.startedAt, r.endedAt]);
  }

  updateRound(tx: SqlWriter, taskId: string, round: number, patch: Partial<Pick<ReviewRound, 'state' | 'requestId' | 'outcome' | 'endedAt'>>): void {
    this.roundCache.delete(taskId);
    const cols: Record<string, string> = { state: 'state', requestId: 'request_id', outcome: 'outcome', endedAt: 'ended_at' };
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (!entries.length) return;
    tx.run(`UPDATE review_rounds SET ${entries.map(([k]) => `${cols[k]} = ?`).join(', ')} WHERE task_id = ? AND round = ?`,
      [...entries.map(([, v]) => v as string | null), taskId, round]);
  }

  nextReviewNumber(): number {
    return (this.db.get<{ n: number | null }>('SELECT MAX(num) AS n FROM reviews')?.n ?? 0) + 1;
  }

  insertReview(tx: SqlWriter, num: number, r: ReviewRecord): void {
    const body = JSON.stringify({ summary: r.summary, strengths: r.strengths, criticalGaps: r.criticalGaps, recommendations: r.recommendations, findings: r.findings });
    tx.run(`INSERT INTO reviews (id, num, task_id, round, reviewer, session_id, agent_name, score, verdict, body, artifact_id, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [r.id, num, r.taskId, r.round, r.reviewer, r.sessionId, r.agentName, r.score, r.verdict, body, r.artifactId, r.createdAt]);
  }

  /** Reviews of a task, oldest first; of one round when `round` is given. */
  listReviews(taskId: string, round?: number): ReviewRecord[] {
    return (round === undefined
      ? this.db.all<ReviewRow>('SELECT * FROM reviews WHERE task_id = ? ORDER BY num', [taskId])
      : this.db.all<ReviewRow>('SELECT * FROM reviews WHERE task_id = ? AND round = ? ORDER BY num', [taskId, round])).map(toReview);
  }
}
