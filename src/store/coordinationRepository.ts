import type { SqlStore, SqlValue, SqlWriter } from './planRepository';

export type AgentSessionStatus = 'active' | 'ended';

/** An agent that connected to Baton (launched by Baton or not). */
export interface AgentSession {
  /** `A-<n>` */
  id: string;
  agentName: string;
  profile: string | null;
  role: string | null;
  taskId: string | null;
  mcpSessionId: string | null;
  status: AgentSessionStatus;
  startedAt: string;
  lastSeenAt: string;
  endedAt: string | null;
  /** `done`, `handoff`, `abandoned`, `disconnected`, `owner-restarted` */
  endReason: string | null;
}

export type ContextKind = 'checkpoint' | 'handoff';

/** A saved, packed context (see `core/contextPack.ts`); `pack` is the PackedContext JSON. */
export interface SavedContext {
  id: string;
  sessionId: string | null;
  taskId: string | null;
  kind: ContextKind;
  pack: string;
  dropped: string;
  bytes: number;
  createdAt: string;
  resumedBy: string | null;
  resumedAt: string | null;
}

export type HumanRequestKind = 'question' | 'approval' | 'blocked';
export type HumanRequestStatus = 'open' | 'answered' | 'approved' | 'rejected' | 'withdrawn';

/** Something an agent asks of the human: a question, an approval of what it intends to do, or a blocker. */
export interface HumanRequest {
  /** `Q-<n>` */
  id: string;
  kind: HumanRequestKind;
  sessionId: string | null;
  agentName: string;
  taskId: string | null;
  text: string;
  options: string[];
  status: HumanRequestStatus;
  answer: string | null;
  answeredBy: string | null;
  answeredAt: string | null;
  createdAt: string;
}

export type RecipientKind = 'session' | 'user';

export interface Message {
  /** `M-<n>` */
  id: string;
  from: { kind: 'session' | 'user' | 'system'; id: string; name: string };
  taskId: string | null;
  sprintId: string | null;
  subject: string;
  body: string;
  createdAt: string;
}

export interface ReceivedMessage extends Message {
  recipient: { kind: RecipientKind; id: string };
  readAt: string | null;
}

type Row = Record<string, SqlValue>;
const str = (v: SqlValue) => v as string;
const opt = (v: SqlValue) => (v === null || v === undefined ? null : (v as string));

const toSession = (r: Row): AgentSession => ({
  id: str(r.id), agentName: str(r.agent_name), profile: opt(r.profile), role: opt(r.role), taskId: opt(r.task_id),
  mcpSessionId: opt(r.mcp_session_id), status: str(r.status) as AgentSessionStatus, startedAt: str(r.started_at),
  lastSeenAt: str(r.last_seen_at), endedAt: opt(r.ended_at), endReason: opt(r.end_reason),
});
const toContext = (r: Row): SavedContext => ({
  id: str(r.id), sessionId: opt(r.session_id), taskId: opt(r.task_id), kind: str(r.kind) as ContextKind, pack: str(r.pack),
  dropped: str(r.dropped), bytes: r.bytes as number, createdAt: str(r.created_at), resumedBy: opt(r.resumed_by), resumedAt: opt(r.resumed_at),
});
const toRequest = (r: Row): HumanRequest => ({
  id: str(r.id), kind: str(r.kind) as HumanRequestKind, sessionId: opt(r.session_id), agentName: str(r.agent_name), taskId: opt(r.task_id),
  text: str(r.text), options: JSON.parse(str(r.options)) as string[], status: str(r.status) as HumanRequestStatus, answer: opt(r.answer),
  answeredBy: opt(r.answered_by), answeredAt: opt(r.answered_at), createdAt: str(r.created_at),
});
const toMessage = (r: Row): ReceivedMessage => ({
  id: str(r.id), from: { kind: str(r.from_kind) as Message['from']['kind'], id: str(r.from_id), name: str(r.from_name) },
  taskId: opt(r.task_id), sprintId: opt(r.sprint_id), subject: str(r.subject), body: str(r.body), createdAt: str(r.created_at),
  recipient: { kind: str(r.recipient_kind) as RecipientKind, id: str(r.recipient_id) }, readAt: opt(r.read_at),
});

/**
 * SQL for coordination: agent sessions, saved contexts and handoff packs, the human inbox and messages.
 * Writes take the transaction's writer, like `PlanRepository`.
 */
export class CoordinationRepository {
  /**
   * Committed session rows by id, and unread counts by mailbox (`kind:id`), read once and kept: every MCP
   * tool call looks up its session and counts its unread messages. Only this class writes
   * `agent_sessions` and `message_recipients` (no triggers, foreign keys do not cascade), and each of its
   * writes drops the entries it touches; nothing is kept from a read made while a transaction runs (it may
   * see uncommitted rows that a rollback undoes).
   */
  private readonly sessionCache = new Map<string, AgentSession>();
  private readonly unreadCache = new Map<string, number>();

  constructor(private readonly db: SqlStore) {}

  /** Whether a value read now is committed (no transaction running), so it may be kept. */
  private get settled(): boolean {
    return this.db.writing === false;
  }

  transaction<T>(fn: (tx: SqlWriter) => T): T {
    return this.db.transaction(fn);
  }

  private nextNum(table: string): number {
    return (this.db.get<{ n: number | null }>(`SELECT MAX(num) AS n FROM ${table}`)?.n ?? 0) + 1;
  }

  // ---- sessions
  nextSessionNumber(): number { return this.nextNum('agent_sessions'); }
  insertSession(tx: SqlWriter, num: number, s: AgentSession): void {
    this.sessionCache.delete(s.id);
    tx.run(
      `INSERT INTO agent_sessions (id, num, agent_name, profile, role, task_id, mcp_session_id, status, started_at, last_seen_at, ended_at, end_reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [s.id, num, s.agentName, s.profile, s.role, s.taskId, s.mcpSessionId, s.status, s.startedAt, s.lastSeenAt, s.endedAt, s.endReason],
    );
  }
  updateSession(tx: SqlWriter, id: string, patch: Partial<Omit<AgentSession, 'id'>>): void {
    const columns: Record<string, string> = {
      agentName: 'agent_name', profile: 'profile', role: 'role', taskId: 'task_id', mcpSessionId: 'mcp_session_id', status: 'status',
      startedAt: 'started_at', lastSeenAt: 'last_seen_at', endedAt: 'ended_at', endReason: 'end_reason',
    };
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (!entries.length) return;
    this.sessionCache.delete(id);
    tx.run(`UPDATE agent_sessions SET ${entries.map(([k]) => `${columns[k]} = ?`).join(', ')} WHERE id = ?`,
      [...entries.map(([, v]) => v as SqlValue), id]);
  }
  /** One session by id (a copy: changing it changes nothing stored or cached). */
  getSession(id: string): AgentSession | undefined {
    const cached = this.sessionCache.get(id);
    if (cached) return { ...cached };
    const r = this.db.get<Row>('SELECT * FROM agent_sessions WHERE id = ?', [id]);
    if (!r) return undefined;
    const session = toSession(r);
    if (this.settled) this.sessionCache.set(id, { ...session });
    return session;
  }
  /** Sessions newest first; `beforeNum` continues a page after the session numbered just above it. */
  listSessions(filter: { status?: AgentSessionStatus; taskId?: string; limit?: number; beforeNum?: number } = {}): AgentSession[] {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.status) { where.push('status = ?'); params.push(filter.status); }
    if (filter.beforeNum !== undefined) { where.push('num < ?'); params.push(filter.beforeNum); }
    if (filter.taskId) { where.push('task_id = ?'); params.push(filter.taskId); }
    return this.db.all<Row>(
      `SELECT * FROM agent_sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY num DESC LIMIT ?`,
      [...params, filter.limit ?? 500],
    ).map(toSession);
  }

  // ---- contexts
  insertContext(tx: SqlWriter, c: SavedContext): void {
    tx.run(
      `INSERT INTO contexts (id, session_id, task_id, kind, pack, dropped, bytes, created_at, resumed_by, resumed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [c.id, c.sessionId, c.taskId, c.kind, c.pack, c.dropped, c.bytes, c.createdAt, c.resumedBy, c.resumedAt],
    );
  }
  markResumed(tx: SqlWriter, id: string, sessionId: string, at: string): void {
    tx.run('UPDATE contexts SET resumed_by = ?, resumed_at = ? WHERE id = ?', [sessionId, at, id]);
  }
  /** The newest context saved for a task (any session), or by a session. */
  latestContext(filter: { taskId?: string; sessionId?: string; kind?: ContextKind }): SavedContext | undefined {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.taskId) { where.push('task_id = ?'); params.push(filter.taskId); }
    if (filter.sessionId) { where.push('session_id = ?'); params.push(filter.sessionId); }
    if (filter.kind) { where.push('kind = ?'); params.push(filter.kind); }
    const r = this.db.get<Row>(`SELECT * FROM contexts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT 1`, params);
    return r && toContext(r);
  }
  getContext(id: string): SavedContext | undefined {
    const r = this.db.get<Row>('SELECT * FROM contexts WHERE id = ?', [id]);
    return r && toContext(r);
  }
  listContexts(filter: { taskId?: string; limit?: number }): SavedContext[] {
    return this.db.all<Row>(
      `SELECT * FROM contexts ${filter.taskId ? 'WHERE task_id = ?' : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`,
      filter.taskId ? [filter.taskId, filter.limit ?? 50] : [filter.limit ?? 50],
    ).map(toContext);
  }

  // ---- human requests
  nextRequestNumber(): number { return this.nextNum('human_requests'); }
  insertRequest(tx: SqlWriter, num: number, q: HumanRequest): void {
    tx.run(
      `INSERT INTO human_requests (id, num, kind, session_id, agent_name, task_id, text, options, status, answer, answered_by, answered_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [q.id, num, q.kind, q.sessionId, q.agentName, q.taskId, q.text, JSON.stringify(q.options), q.status, q.answer, q.answeredBy, q.answeredAt, q.createdAt],
    );
  }
  resolveRequest(tx: SqlWriter, id: string, status: HumanRequestStatus, answer: string | null, by: string, at: string): void {
    tx.run('UPDATE human_requests SET status = ?, answer = ?, answered_by = ?, answered_at = ? WHERE id = ?', [status, answer, by, at, id]);
  }
  getRequest(id: string): HumanRequest | undefined {
    const r = this.db.get<Row>('SELECT * FROM human_requests WHERE id = ?', [id]);
    return r && toRequest(r);
  }
  /**
   * Requests newest first, or oldest first with `oldestFirst`; `afterNum` continues a page past the
   * request with that number (in the listing's order).
   */
  listRequests(filter: { status?: HumanRequestStatus[]; taskId?: string; limit?: number; oldestFirst?: boolean; afterNum?: number } = {}): HumanRequest[] {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.status?.length) { where.push(`status IN (${filter.status.map(() => '?').join(', ')})`); params.push(...filter.status); }
    if (filter.taskId) { where.push('task_id = ?'); params.push(filter.taskId); }
    if (filter.afterNum !== undefined) { where.push(filter.oldestFirst ? 'num > ?' : 'num < ?'); params.push(filter.afterNum); }
    return this.db.all<Row>(
      `SELECT * FROM human_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY num ${filter.oldestFirst ? 'ASC' : 'DESC'} LIMIT ?`,
      [...params, filter.limit ?? 200],
    ).map(toRequest);
  }

  // ---- messages
  nextMessageNumber(): number { return this.nextNum('messages'); }
  insertMessage(tx: SqlWriter, num: number, m: Message, recipients: { kind: RecipientKind; id: string }[]): void {
    tx.run(
      `INSERT INTO messages (id, num, from_kind, from_id, from_name, task_id, sprint_id, subject, body, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [m.id, num, m.from.kind, m.from.id, m.from.name, m.taskId, m.sprintId, m.subject, m.body, m.createdAt],
    );
    for (const r of recipients) {
      this.unreadCache.delete(`${r.kind}:${r.id}`);
      tx.run('INSERT OR IGNORE INTO message_recipients (message_id, recipient_kind, recipient_id, read_at) VALUES (?, ?, ?, NULL)', [m.id, r.kind, r.id]);
    }
  }
  /** A mailbox's messages, oldest first (`newestFirst`: the latest `limit` ones, newest first). */
  inbox(recipient: { kind: RecipientKind; id: string }, options: { unreadOnly?: boolean; limit?: number; taskId?: string; newestFirst?: boolean }): ReceivedMessage[] {
    const where = ['r.recipient_kind = ?', 'r.recipient_id = ?'];
    const params: SqlValue[] = [recipient.kind, recipient.id];
    if (options.unreadOnly) where.push('r.read_at IS NULL');
    if (options.taskId) { where.push('m.task_id = ?'); params.push(options.taskId); }
    return this.db.all<Row>(
      `SELECT m.*, r.recipient_kind, r.recipient_id, r.read_at FROM message_recipients r JOIN messages m ON m.id = r.message_id
       WHERE ${where.join(' AND ')} ORDER BY m.num ${options.newestFirst ? 'DESC' : ''} LIMIT ?`,
      [...params, options.limit ?? 100],
    ).map(toMessage);
  }
  /** One message as a recipient has it (with its read time), or undefined when it is not in that mailbox. */
  getReceived(recipient: { kind: RecipientKind; id: string }, messageId: string): ReceivedMessage | undefined {
    const row = this.db.get<Row>(
      `SELECT m.*, r.recipient_kind, r.recipient_id, r.read_at FROM message_recipients r JOIN messages m ON m.id = r.message_id
       WHERE r.recipient_kind = ? AND r.recipient_id = ? AND m.id = ?`,
      [recipient.kind, recipient.id, messageId],
    );
    return row && toMessage(row);
  }
  unreadCount(recipient: { kind: RecipientKind; id: string }): number {
    const key = `${recipient.kind}:${recipient.id}`;
    const cached = this.unreadCache.get(key);
    if (cached !== undefined) return cached;
    const n = this.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM message_recipients WHERE recipient_kind = ? AND recipient_id = ? AND read_at IS NULL',
      [recipient.kind, recipient.id],
    )!.n;
    if (this.settled) this.unreadCache.set(key, n);
    return n;
  }
  markRead(tx: SqlWriter, recipient: { kind: RecipientKind; id: string }, messageIds: string[], at: string): number {
    this.unreadCache.delete(`${recipient.kind}:${recipient.id}`);
    let changed = 0;
    for (const id of messageIds) {
      changed += tx.run(
        'UPDATE message_recipients SET read_at = ? WHERE message_id = ? AND recipient_kind = ? AND recipient_id = ? AND read_at IS NULL',
        [at, id, recipient.kind, recipient.id],
      ).changes;
    }
    return changed;
  }
  listMessages(filter: { taskId?: string; limit?: number }): Message[] {
    return this.db.all<Row>(
      `SELECT * FROM messages ${filter.taskId ? 'WHERE task_id = ?' : ''} ORDER BY num DESC LIMIT ?`,
      filter.taskId ? [filter.taskId, filter.limit ?? 100] : [filter.limit ?? 100],
    ).map(r => {
      const { recipient: _r, readAt: _a, ...m } = toMessage({ ...r, recipient_kind: 'user', recipient_id: '', read_at: null });
      return m;
    });
  }
}
