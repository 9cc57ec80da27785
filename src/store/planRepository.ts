import type {
  Actor,
  ActivityEntry,
  Checkpoint,
  Dependency,
  EstimateUnit,
  Note,
  Sprint,
  SprintState,
  Task,
  TaskPriority,
  TaskStatus,
} from '../core/model';
import type { AgentRef } from '../core/agent';

/**
 * One imported row's values as its plan had them at the last import (`import_baselines`), for
 * three-way re-imports (services/planImport.ts). Descriptions are kept as hashes.
 */
export type Baseline =
  | { kind: 'task'; title: string; description: string; priority: TaskPriority; estimate: number | null; estimateUnit: EstimateUnit; sprintId: string | null; parentId: string | null; position: number; status: TaskStatus; agent?: AgentRef | null }
  | { kind: 'sprint'; name: string; goal: string; agent?: AgentRef | null }
  | { kind: 'checkpoint'; title: string; done: boolean };

/** A SQL parameter as sql.js binds it. */
export type SqlValue = string | number | null | Uint8Array;

/** What the repositories need from a database: reads, and writes inside a durable transaction. */
export interface SqlStore {
  all<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): T[];
  get<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): T | undefined;
  transaction<T>(fn: (tx: SqlWriter) => T): T;
  /** Group commit (DurableDatabase): transactions run inside skip their own fdatasync until `durable()`. */
  groupCommit?<T>(fn: () => T): T;
  /** Resolves once every committed transaction is on disk. */
  durable?(): Promise<void>;
  /**
   * True while a write transaction runs (DurableDatabase): what is read then may still be rolled back.
   * A store without it is treated as always writing by the caches that ask (they then keep nothing).
   */
  readonly writing?: boolean;
}
export interface SqlWriter {
  run(sql: string, params?: SqlValue[]): { changes: number };
}

interface SprintRow {
  id: string; name: string; goal: string; start_date: string | null; end_date: string | null; state: string;
  position: number; source_key: string | null; created_at: string; updated_at: string;
  agent_profile: string | null; agent_role: string | null;
}
interface TaskRow {
  id: string; title: string; description: string; status: string; priority: string; estimate: number | null;
  estimate_unit: string; assignee: string | null; sprint_id: string | null; parent_id: string | null; position: number;
  progress: number; context: string; summary: string | null; source_key: string | null; created_at: string;
  updated_at: string; completed_at: string | null; agent_profile: string | null; agent_role: string | null;
}

/** The agent stored in `agent_profile` / `agent_role` (null when no profile). */
const toAgent = (profile: string | null | undefined, role: string | null | undefined): AgentRef | null =>
  profile ? { profile, role: role ?? null } : null;

const toSprint = (r: SprintRow): Sprint => ({
  id: r.id, name: r.name, goal: r.goal, startDate: r.start_date, endDate: r.end_date, state: r.state as SprintState,
  position: r.position, sourceKey: r.source_key, agent: toAgent(r.agent_profile, r.agent_role), createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const toTask = (r: TaskRow): Task => ({
  id: r.id, title: r.title, description: r.description, status: r.status as TaskStatus, priority: r.priority as TaskPriority,
  estimate: r.estimate, estimateUnit: r.estimate_unit as EstimateUnit, assignee: r.assignee, sprintId: r.sprint_id,
  parentId: r.parent_id, position: r.position, progress: r.progress, context: r.context, summary: r.summary,
  sourceKey: r.source_key, agent: toAgent(r.agent_profile, r.agent_role), createdAt: r.created_at, updatedAt: r.updated_at,
  completedAt: r.completed_at,
});

/** A patch's entries as `[column, value]` pairs; `agent` becomes `agent_profile` and `agent_role`. */
function patchColumns(patch: Record<string, unknown>, columns: Record<string, string>): [string, SqlValue][] {
  const out: [string, SqlValue][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === 'agent') {
      const agent = value as AgentRef | null;
      out.push(['agent_profile', agent?.profile ?? null], ['agent_role', agent?.role ?? null]);
    } else {
      out.push([columns[key], value as SqlValue]);
    }
  }
  return out;
}

const TASK_COLUMNS: Record<keyof Omit<Task, 'id' | 'createdAt' | 'agent'>, string> = {
  title: 'title', description: 'description', status: 'status', priority: 'priority', estimate: 'estimate',
  estimateUnit: 'estimate_unit', assignee: 'assignee', sprintId: 'sprint_id', parentId: 'parent_id', position: 'position',
  progress: 'progress', context: 'context', summary: 'summary', sourceKey: 'source_key', updatedAt: 'updated_at',
  completedAt: 'completed_at',
};
const SPRINT_COLUMNS: Record<keyof Omit<Sprint, 'id' | 'createdAt' | 'agent'>, string> = {
  name: 'name', goal: 'goal', startDate: 'start_date', endDate: 'end_date', state: 'state', position: 'position',
  sourceKey: 'source_key', updatedAt: 'updated_at',
};

/**
 * SQL for the plan aggregate: sprints, tasks, dependencies, checkpoints, notes, activity and imports.
 * The only module that knows these tables' columns. Writes take the transaction's writer, so a use case
 * in the service commits all of its changes durably at once or none of them.
 */
export class PlanRepository {
  constructor(private readonly db: SqlStore) {}

  /**
   * Ids of tasks an import is publishing in batches (see `PlanService.importDocumentAsync`): their rows are
   * already in `tasks` (with their checkpoints and dependency edges) but no reader may see them until the
   * import's final transaction. Every read below leaves them out; `nextTaskNumber` does not (their numbers
   * are taken).
   */
  private hidden: ReadonlySet<string> | null = null;

  /** While tasks are hidden: the lowest task number not taken by them (see {@link nextTaskNumber}). */
  private reservedNum = 0;

  /**
   * Hides the given task ids from every read (null: shows them again). See {@link hidden}. `nextNum`: the
   * lowest task number above all of theirs, which {@link nextTaskNumber} never goes below meanwhile (a task
   * created by someone else must not take the number of a task not published yet).
   */
  hideTasks(ids: ReadonlySet<string> | null, nextNum = 0): void {
    this.hidden = ids && ids.size > 0 ? ids : null;
    this.reservedNum = this.hidden ? nextNum : 0;
  }
  private visible = (row: { id: string }): boolean => !this.hidden?.has(row.id);
  private visibleEdge = (row: { task_id: string; depends_on_id: string }): boolean =>
    !this.hidden || (!this.hidden.has(row.task_id) && !this.hidden.has(row.depends_on_id));
  private visibleCheckpoint = (row: Record<string, SqlValue>): boolean => !this.hidden?.has(row.task_id as string);

  transaction<T>(fn: (tx: SqlWriter) => T): T {
    return this.db.transaction(fn);
  }
  /**
   * A transaction whose fdatasync runs off the event loop when the store has group commit: committed on
   * return but durable only once `durable()` resolves (callers await it before reporting success).
   */
  deferredTransaction<T>(fn: (tx: SqlWriter) => T): T {
    const db = this.db;
    return db.groupCommit ? db.groupCommit(() => db.transaction(fn)) : db.transaction(fn);
  }
  /** Resolves once every committed transaction is on disk (immediately for stores without group commit). */
  durable(): Promise<void> {
    return this.db.durable ? this.db.durable() : Promise.resolve();
  }

  // ---- sprints
  listSprints(): Sprint[] {
    return this.db.all<SprintRow>('SELECT * FROM sprints ORDER BY position, num').map(toSprint);
  }
  getSprint(id: string): Sprint | undefined {
    const row = this.db.get<SprintRow>('SELECT * FROM sprints WHERE id = ?', [id]);
    return row && toSprint(row);
  }
  findSprintBySourceKey(sourceKey: string): Sprint | undefined {
    const row = this.db.get<SprintRow>('SELECT * FROM sprints WHERE source_key = ?', [sourceKey]);
    return row && toSprint(row);
  }
  nextSprintNumber(): number {
    return (this.db.get<{ n: number | null }>('SELECT MAX(num) AS n FROM sprints')?.n ?? 0) + 1;
  }
  insertSprint(tx: SqlWriter, num: number, s: Sprint): void {
    tx.run(
      `INSERT INTO sprints (id, num, name, goal, start_date, end_date, state, position, source_key, created_at, updated_at,
         agent_profile, agent_role)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [s.id, num, s.name, s.goal, s.startDate, s.endDate, s.state, s.position, s.sourceKey, s.createdAt, s.updatedAt,
        s.agent?.profile ?? null, s.agent?.role ?? null],
    );
  }
  updateSprint(tx: SqlWriter, id: string, patch: Partial<Omit<Sprint, 'id' | 'createdAt'>>): void {
    const entries = patchColumns(patch, SPRINT_COLUMNS);
    if (!entries.length) return;
    tx.run(
      `UPDATE sprints SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`,
      [...entries.map(([, v]) => v), id],
    );
  }

  // ---- tasks
  listTasks(): Task[] {
    return this.db
      .all<TaskRow>(`SELECT t.* FROM tasks t LEFT JOIN sprints s ON s.id = t.sprint_id
                     ORDER BY s.position IS NULL, s.position, t.position, t.num`)
      .filter(this.visible)
      .map(toTask);
  }
  getTask(id: string): Task | undefined {
    const row = this.db.get<TaskRow>('SELECT * FROM tasks WHERE id = ?', [id]);
    return row && this.visible(row) ? toTask(row) : undefined;
  }
  findTaskBySourceKey(sourceKey: string): Task | undefined {
    const row = this.db.get<TaskRow>('SELECT * FROM tasks WHERE source_key = ?', [sourceKey]);
    return row && this.visible(row) ? toTask(row) : undefined;
  }
  tasksWithSourcePrefix(prefix: string): Task[] {
    return this.db
      .all<TaskRow>("SELECT * FROM tasks WHERE substr(source_key, 1, length(?)) = ? ORDER BY num", [prefix, prefix])
      .filter(this.visible)
      .map(toTask);
  }
  nextTaskNumber(): number {
    return Math.max((this.db.get<{ n: number | null }>('SELECT MAX(num) AS n FROM tasks')?.n ?? 0) + 1, this.reservedNum);
  }
  nextTaskPosition(sprintId: string | null): number {
    const row = this.db.get<{ p: number | null }>(
      'SELECT MAX(position) AS p FROM tasks WHERE sprint_id IS ?', [sprintId],
    );
    return (row?.p ?? -1) + 1;
  }
  insertTask(tx: SqlWriter, num: number, t: Task): void {
    tx.run(
      `INSERT INTO tasks (id, num, title, description, status, priority, estimate, estimate_unit, assignee, sprint_id,
         parent_id, position, progress, context, summary, source_key, created_at, updated_at, completed_at, agent_profile, agent_role)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [t.id, num, t.title, t.description, t.status, t.priority, t.estimate, t.estimateUnit, t.assignee, t.sprintId,
        t.parentId, t.position, t.progress, t.context, t.summary, t.sourceKey, t.createdAt, t.updatedAt, t.completedAt,
        t.agent?.profile ?? null, t.agent?.role ?? null],
    );
  }
  /**
   * Inserts many tasks (`[num, task]` pairs, in order) with one multi-row INSERT per 50 rows, so a large
   * import does not pay one statement per task. Parents must come before their subtasks.
   */
  insertTasks(tx: SqlWriter, rows: readonly (readonly [number, Task])[]): void {
    for (let i = 0; i < rows.length; i += 50) {
      const chunk = rows.slice(i, i + 50);
      tx.run(
        `INSERT INTO tasks (id, num, title, description, status, priority, estimate, estimate_unit, assignee, sprint_id,
           parent_id, position, progress, context, summary, source_key, created_at, updated_at, completed_at, agent_profile, agent_role)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap(([num, t]) => [t.id, num, t.title, t.description, t.status, t.priority, t.estimate, t.estimateUnit,
          t.assignee, t.sprintId, t.parentId, t.position, t.progress, t.context, t.summary, t.sourceKey, t.createdAt,
          t.updatedAt, t.completedAt, t.agent?.profile ?? null, t.agent?.role ?? null]),
      );
    }
  }
  updateTask(tx: SqlWriter, id: string, patch: Partial<Omit<Task, 'id' | 'createdAt'>>): void {
    const entries = patchColumns(patch, TASK_COLUMNS);
    if (!entries.length) return;
    tx.run(
      `UPDATE tasks SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`,
      [...entries.map(([, v]) => v), id],
    );
  }
  /** Deletes a task with its checkpoints, notes and dependency edges; its subtasks move up to its parent. */
  deleteTask(tx: SqlWriter, task: Task): void {
    tx.run('UPDATE tasks SET parent_id = ? WHERE parent_id = ?', [task.parentId, task.id]);
    tx.run('DELETE FROM checkpoints WHERE task_id = ?', [task.id]);
    tx.run('DELETE FROM notes WHERE task_id = ?', [task.id]);
    tx.run('DELETE FROM dependencies WHERE task_id = ? OR depends_on_id = ?', [task.id, task.id]);
    tx.run('DELETE FROM tasks WHERE id = ?', [task.id]);
  }

  // ---- dependencies
  listDependencies(): Dependency[] {
    return this.db.all<{ task_id: string; depends_on_id: string }>('SELECT * FROM dependencies').filter(this.visibleEdge).map(r => ({
      taskId: r.task_id, dependsOnId: r.depends_on_id,
    }));
  }
  insertDependency(tx: SqlWriter, d: Dependency): void {
    tx.run('INSERT OR IGNORE INTO dependencies (task_id, depends_on_id) VALUES (?, ?)', [d.taskId, d.dependsOnId]);
  }
  /** Inserts many dependency edges with one multi-row INSERT per 400 edges (duplicates are ignored). */
  insertDependencies(tx: SqlWriter, deps: readonly Dependency[]): void {
    for (let i = 0; i < deps.length; i += 400) {
      const chunk = deps.slice(i, i + 400);
      tx.run(
        `INSERT OR IGNORE INTO dependencies (task_id, depends_on_id) VALUES ${chunk.map(() => '(?, ?)').join(', ')}`,
        chunk.flatMap(d => [d.taskId, d.dependsOnId]),
      );
    }
  }
  deleteDependency(tx: SqlWriter, d: Dependency): number {
    return tx.run('DELETE FROM dependencies WHERE task_id = ? AND depends_on_id = ?', [d.taskId, d.dependsOnId]).changes;
  }

  // ---- checkpoints
  listCheckpoints(taskId?: string): Checkpoint[] {
    // One task's few rows are sorted here: sql.js runs this lookup ten times slower with an ORDER BY, though
    // the index gives the order (measured: 12 µs against 1 µs per call, on every claim and get_task).
    const rows = taskId
      ? this.db.all<Record<string, SqlValue>>('SELECT * FROM checkpoints WHERE task_id = ?', [taskId]).sort((a, b) => (a.position as number) - (b.position as number))
      : this.db.all<Record<string, SqlValue>>('SELECT * FROM checkpoints ORDER BY task_id, position');
    return rows.filter(this.visibleCheckpoint).map(r => ({
      id: r.id as string, taskId: r.task_id as string, title: r.title as string, done: r.done === 1,
      position: r.position as number, sourceKey: r.source_key as string | null,
    }));
  }
  findCheckpointBySourceKey(sourceKey: string): Checkpoint | undefined {
    const r = this.db.get<Record<string, SqlValue>>('SELECT * FROM checkpoints WHERE source_key = ?', [sourceKey]);
    if (!r || !this.visibleCheckpoint(r)) return undefined;
    return {
      id: r.id as string, taskId: r.task_id as string, title: r.title as string, done: r.done === 1,
      position: r.position as number, sourceKey: r.source_key as string | null,
    };
  }
  insertCheckpoint(tx: SqlWriter, c: Checkpoint): void {
    tx.run('INSERT INTO checkpoints (id, task_id, title, done, position, source_key) VALUES (?, ?, ?, ?, ?, ?)', [
      c.id, c.taskId, c.title, c.done ? 1 : 0, c.position, c.sourceKey,
    ]);
  }
  updateCheckpoint(tx: SqlWriter, id: string, patch: { title?: string; done?: boolean; position?: number; taskId?: string }): void {
    const sets: string[] = [];
    const params: SqlValue[] = [];
    if (patch.title !== undefined) { sets.push('title = ?'); params.push(patch.title); }
    if (patch.done !== undefined) { sets.push('done = ?'); params.push(patch.done ? 1 : 0); }
    if (patch.position !== undefined) { sets.push('position = ?'); params.push(patch.position); }
    if (patch.taskId !== undefined) { sets.push('task_id = ?'); params.push(patch.taskId); }
    if (sets.length) tx.run(`UPDATE checkpoints SET ${sets.join(', ')} WHERE id = ?`, [...params, id]);
  }

  // ---- notes
  listNotes(taskId: string): Note[] {
    return this.db
      .all<Record<string, string>>('SELECT * FROM notes WHERE task_id = ? ORDER BY created_at, rowid', [taskId])
      .map(r => ({
        id: r.id, taskId: r.task_id, author: { kind: r.author_kind as Actor['kind'], name: r.author_name },
        text: r.text, createdAt: r.created_at,
      }));
  }
  insertNote(tx: SqlWriter, n: Note): void {
    tx.run('INSERT INTO notes (id, task_id, author_kind, author_name, text, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      n.id, n.taskId, n.author.kind, n.author.name, n.text, n.createdAt,
    ]);
  }

  // ---- activity
  insertActivity(tx: SqlWriter, e: Omit<ActivityEntry, 'id'>): void {
    tx.run('INSERT INTO activity (at, actor_kind, actor_name, action, task_id, sprint_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      e.at, e.actor.kind, e.actor.name, e.action, e.taskId, e.sprintId, e.detail,
    ]);
  }
  listActivity(filter: { taskId?: string; limit: number; beforeId?: number; afterId?: number }): ActivityEntry[] {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.afterId !== undefined) { where.push('id > ?'); params.push(filter.afterId); }
    if (filter.taskId) { where.push('task_id = ?'); params.push(filter.taskId); }
    if (filter.beforeId !== undefined) { where.push('id < ?'); params.push(filter.beforeId); }
    const sql = `SELECT * FROM activity ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.all<Record<string, SqlValue>>(sql, [...params, filter.limit]).map(r => ({
      id: r.id as number, at: r.at as string, actor: { kind: r.actor_kind as Actor['kind'], name: r.actor_name as string },
      action: r.action as string, taskId: r.task_id as string | null, sprintId: r.sprint_id as string | null,
      detail: r.detail as string,
    }));
  }

  /** Every activity entry with one of `actions`, oldest first: one query (a scan of the table), for analytics. */
  listActivityOfActions(actions: readonly string[]): ActivityEntry[] {
    if (!actions.length) return [];
    return this.db.all<Record<string, SqlValue>>(
      `SELECT * FROM activity WHERE action IN (${actions.map(() => '?').join(', ')}) ORDER BY id`, [...actions],
    ).map(r => ({
      id: r.id as number, at: r.at as string, actor: { kind: r.actor_kind as Actor['kind'], name: r.actor_name as string },
      action: r.action as string, taskId: r.task_id as string | null, sprintId: r.sprint_id as string | null,
      detail: r.detail as string,
    }));
  }

  // ---- paged reads (for work done in slices): rows after `afterRowid` in rowid order, at most `limit`
  /** A page of tasks in rowid order; `last` is the rowid to continue after (null when the page is empty). */
  pageTasks(afterRowid: number, limit: number): { rows: Task[]; last: number | null } {
    const rows = this.db.all<TaskRow & { _r: number }>('SELECT rowid AS _r, * FROM tasks WHERE rowid > ? ORDER BY rowid LIMIT ?', [afterRowid, limit]);
    return { rows: rows.filter(this.visible).map(toTask), last: rows.length ? rows[rows.length - 1]._r : null };
  }
  /** A page of dependency edges in rowid order (see `pageTasks`). */
  pageDependencies(afterRowid: number, limit: number): { rows: Dependency[]; last: number | null } {
    const rows = this.db.all<{ _r: number; task_id: string; depends_on_id: string }>(
      'SELECT rowid AS _r, task_id, depends_on_id FROM dependencies WHERE rowid > ? ORDER BY rowid LIMIT ?', [afterRowid, limit]);
    return { rows: rows.filter(this.visibleEdge).map(r => ({ taskId: r.task_id, dependsOnId: r.depends_on_id })), last: rows.length ? rows[rows.length - 1]._r : null };
  }
  /** A page of the checkpoints of tasks whose source key starts with `prefix` (imported or added in Baton). */
  pageCheckpointsOfSourcePrefix(prefix: string, afterRowid: number, limit: number): { rows: Checkpoint[]; last: number | null } {
    const rows = this.db.all<Record<string, SqlValue>>(
      `SELECT c.rowid AS _r, c.* FROM checkpoints c JOIN tasks t ON t.id = c.task_id
       WHERE substr(t.source_key, 1, length(?)) = ? AND c.rowid > ? ORDER BY c.rowid LIMIT ?`, [prefix, prefix, afterRowid, limit]);
    return {
      rows: rows.filter(this.visibleCheckpoint).map(r => ({
        id: r.id as string, taskId: r.task_id as string, title: r.title as string, done: r.done === 1,
        position: r.position as number, sourceKey: r.source_key as string | null,
      })),
      last: rows.length ? rows[rows.length - 1]._r as number : null,
    };
  }
  /** A page of the baselines in force for `source` (the generation `imports.baseline_id` names), with their source keys. */
  pageBaselines(source: string, afterRowid: number, limit: number): { rows: [string, Baseline][]; last: number | null } {
    const rows = this.db.all<{ _r: number; source_key: string; kind: string; fields: string }>(
      `SELECT b.rowid AS _r, b.source_key, b.kind, b.fields FROM import_baselines b JOIN imports i ON i.baseline_id = b.import_id
       WHERE i.source = ? AND b.rowid > ? ORDER BY b.rowid LIMIT ?`, [source, afterRowid, limit]);
    return {
      rows: rows.map(r => [r.source_key, { ...JSON.parse(r.fields), kind: r.kind } as Baseline]),
      last: rows.length ? rows[rows.length - 1]._r : null,
    };
  }

  // ---- import baselines (the plan as last imported, per source key; see services/planImport.ts)
  /** Writes baselines of generation `importId` (invisible until `upsertImport` names it), one statement per 200. */
  insertBaselines(tx: SqlWriter, importId: string, rows: readonly (readonly [string, Baseline])[]): void {
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200);
      tx.run(
        `INSERT OR REPLACE INTO import_baselines (import_id, source_key, kind, fields) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap(([key, b]) => {
          const { kind, ...fields } = b;
          return [importId, key, kind, JSON.stringify(fields)];
        }),
      );
    }
  }
  /**
   * Generations of baselines no import has in force (replaced ones, and those of imports that never
   * finished). Found by skipping through the primary key's index, one probe per generation.
   */
  staleBaselineGenerations(): string[] {
    const inForce = new Set(this.db.all<{ id: string }>('SELECT baseline_id AS id FROM imports WHERE baseline_id IS NOT NULL').map(r => r.id));
    const stale: string[] = [];
    for (let after = ''; ;) {
      const row = this.db.get<{ id: string }>('SELECT import_id AS id FROM import_baselines WHERE import_id > ? ORDER BY import_id LIMIT 1', [after]);
      if (!row) return stale;
      if (!inForce.has(row.id)) stale.push(row.id);
      after = row.id;
    }
  }
  /** Deletes up to `limit` baselines of generation `importId`; returns how many (call again until 0). */
  deleteBaselineGeneration(tx: SqlWriter, importId: string, limit: number): number {
    return tx.run(
      'DELETE FROM import_baselines WHERE rowid IN (SELECT rowid FROM import_baselines WHERE import_id = ? LIMIT ?)', [importId, limit]).changes;
  }

  // ---- import staging: rows written ahead in slices, published by one INSERT … SELECT
  /** Stages new tasks of import `importId` (one statement per 100). Parents before subtasks. */
  stageTasks(tx: SqlWriter, importId: string, rows: readonly (readonly [number, Task])[]): void {
    for (let i = 0; i < rows.length; i += 100) {
      const chunk = rows.slice(i, i + 100);
      tx.run(
        `INSERT INTO import_stage_tasks (import_id, id, num, title, description, status, priority, estimate, estimate_unit,
           sprint_id, parent_id, position, progress, source_key, created_at, completed_at, agent_profile, agent_role)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap(([num, t]) => [importId, t.id, num, t.title, t.description, t.status, t.priority, t.estimate, t.estimateUnit,
          t.sprintId, t.parentId, t.position, t.progress, t.sourceKey, t.createdAt, t.completedAt, t.agent?.profile ?? null,
          t.agent?.role ?? null]),
      );
    }
  }
  /** Stages new checkpoints of import `importId` (one statement per 150). */
  stageCheckpoints(tx: SqlWriter, importId: string, rows: readonly Checkpoint[]): void {
    for (let i = 0; i < rows.length; i += 150) {
      const chunk = rows.slice(i, i + 150);
      tx.run(
        `INSERT INTO import_stage_checkpoints (import_id, id, task_id, title, done, position, source_key)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap(c => [importId, c.id, c.taskId, c.title, c.done ? 1 : 0, c.position, c.sourceKey]),
      );
    }
  }
  /** Stages new dependency edges of import `importId` (one statement per 300). */
  stageDependencies(tx: SqlWriter, importId: string, deps: readonly Dependency[]): void {
    for (let i = 0; i < deps.length; i += 300) {
      const chunk = deps.slice(i, i + 300);
      tx.run(
        `INSERT INTO import_stage_dependencies (import_id, task_id, depends_on_id) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
        chunk.flatMap(d => [importId, d.taskId, d.dependsOnId]),
      );
    }
  }
  /**
   * Moves import `importId`'s staged rows into tasks, checkpoints and dependencies (three INSERT … SELECT,
   * in staging order), stamping tasks `updatedAt`. Staged rows of other imports are ignored.
   */
  publishStaged(tx: SqlWriter, importId: string, updatedAt: string): void {
    tx.run(
      `INSERT INTO tasks (id, num, title, description, status, priority, estimate, estimate_unit, assignee, sprint_id, parent_id,
         position, progress, context, summary, source_key, created_at, updated_at, completed_at, agent_profile, agent_role)
       SELECT id, num, title, description, status, priority, estimate, estimate_unit, NULL, sprint_id, parent_id,
         position, progress, '', NULL, source_key, created_at, ?, completed_at, agent_profile, agent_role
       FROM import_stage_tasks WHERE import_id = ? ORDER BY rowid`, [updatedAt, importId]);
    tx.run(
      `INSERT INTO checkpoints (id, task_id, title, done, position, source_key)
       SELECT id, task_id, title, done, position, source_key FROM import_stage_checkpoints WHERE import_id = ? ORDER BY rowid`, [importId]);
    tx.run(
      `INSERT OR IGNORE INTO dependencies (task_id, depends_on_id)
       SELECT task_id, depends_on_id FROM import_stage_dependencies WHERE import_id = ? ORDER BY rowid`, [importId]);
  }
  /**
   * The next batch of staged tasks of `importId` after rowid `after`: the rowid range `[first, last]` of at
   * most `rows` tasks in staging order (parents before subtasks), or null when none is left. For
   * {@link publishStagedTasks}.
   */
  nextStagedTaskRange(importId: string, after: number, rows: number): [number, number] | null {
    const r = this.db.get<{ first: number | null; last: number | null }>(
      `SELECT MIN(r) AS first, MAX(r) AS last FROM
         (SELECT rowid AS r FROM import_stage_tasks WHERE import_id = ? AND rowid > ? ORDER BY rowid LIMIT ?)`, [importId, after, rows]);
    return r && r.first !== null && r.last !== null ? [r.first, r.last] : null;
  }
  /**
   * Publishes one batch of staged new tasks (rowids `first..last`) with their checkpoints and the dependency
   * edges they start (each edge goes out with its dependent task; staging order puts prerequisites first).
   * The caller hides these ids (`hideTasks`) until the import's final transaction.
   */
  publishStagedTasks(tx: SqlWriter, importId: string, updatedAt: string, first: number, last: number): void {
    const inBatch = 'task_id IN (SELECT id FROM import_stage_tasks WHERE import_id = ? AND rowid BETWEEN ? AND ?)';
    tx.run(
      `INSERT INTO tasks (id, num, title, description, status, priority, estimate, estimate_unit, assignee, sprint_id, parent_id,
         position, progress, context, summary, source_key, created_at, updated_at, completed_at, agent_profile, agent_role)
       SELECT id, num, title, description, status, priority, estimate, estimate_unit, NULL, sprint_id, parent_id,
         position, progress, '', NULL, source_key, created_at, ?, completed_at, agent_profile, agent_role
       FROM import_stage_tasks WHERE import_id = ? AND rowid BETWEEN ? AND ? ORDER BY rowid`, [updatedAt, importId, first, last]);
    tx.run(
      `INSERT INTO checkpoints (id, task_id, title, done, position, source_key)
       SELECT id, task_id, title, done, position, source_key FROM import_stage_checkpoints
       WHERE import_id = ? AND ${inBatch} ORDER BY rowid`, [importId, importId, first, last]);
    tx.run(
      `INSERT OR IGNORE INTO dependencies (task_id, depends_on_id)
       SELECT task_id, depends_on_id FROM import_stage_dependencies WHERE import_id = ? AND ${inBatch} ORDER BY rowid`,
      [importId, importId, first, last]);
  }
  /** Takes back a batch {@link publishStagedTasks} published (the import is planned again). */
  unpublishStagedTasks(tx: SqlWriter, importId: string, first: number, last: number): void {
    const ids = 'SELECT id FROM import_stage_tasks WHERE import_id = ? AND rowid BETWEEN ? AND ?';
    tx.run(`DELETE FROM dependencies WHERE task_id IN (${ids})`, [importId, first, last]);
    tx.run(`DELETE FROM checkpoints WHERE task_id IN (${ids})`, [importId, first, last]);
    tx.run(`DELETE FROM tasks WHERE id IN (${ids})`, [importId, first, last]);
  }
  /**
   * Removes the tasks (with their checkpoints and edges) that batches of an import published but whose
   * final transaction never ran (the process stopped in between): staged rows of an import id no
   * `imports.baseline_id` names, whose task row is the one staged (same id, source key and creation time).
   * Returns how many tasks were removed.
   */
  discardUnfinishedPublish(tx: SqlWriter): number {
    const orphans = `SELECT s.id FROM import_stage_tasks s JOIN tasks t ON t.id = s.id AND t.source_key IS s.source_key AND t.created_at = s.created_at
      WHERE s.import_id NOT IN (SELECT baseline_id FROM imports WHERE baseline_id IS NOT NULL)`;
    tx.run(`DELETE FROM dependencies WHERE task_id IN (${orphans})`);
    tx.run(`DELETE FROM checkpoints WHERE task_id IN (${orphans})`);
    return tx.run(`DELETE FROM tasks WHERE id IN (${orphans})`).changes;
  }
  /** True when an import's batches were published but not its final transaction (see {@link discardUnfinishedPublish}). */
  hasUnfinishedPublish(): boolean {
    return !!this.db.get(`SELECT 1 AS x FROM import_stage_tasks s JOIN tasks t ON t.id = s.id AND t.source_key IS s.source_key AND t.created_at = s.created_at
      WHERE s.import_id NOT IN (SELECT baseline_id FROM imports WHERE baseline_id IS NOT NULL) LIMIT 1`);
  }
  /** Empties the staging tables (SQLite's truncate: cheap however many rows they hold). */
  clearStaging(tx: SqlWriter): void {
    tx.run('DELETE FROM import_stage_tasks');
    tx.run('DELETE FROM import_stage_checkpoints');
    tx.run('DELETE FROM import_stage_dependencies');
  }
  /** Deletes up to `limit` staged rows of each staging table; returns how many (call again until 0). */
  clearSomeStaging(tx: SqlWriter, limit: number): number {
    let n = 0;
    for (const table of ['import_stage_tasks', 'import_stage_checkpoints', 'import_stage_dependencies']) {
      n += tx.run(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} LIMIT ?)`, [limit]).changes;
    }
    return n;
  }
  /** True when the staging tables hold rows (an import that did not finish). */
  hasStaging(): boolean {
    return !!this.db.get(
      'SELECT 1 AS x FROM import_stage_tasks UNION ALL SELECT 1 FROM import_stage_checkpoints UNION ALL SELECT 1 FROM import_stage_dependencies LIMIT 1');
  }

  // ---- imports
  /** Every imported document, oldest import first (`importedAt` is the last import's ISO time). */
  listImports(): { source: string; format: string; contentSha256: string; importedAt: string }[] {
    return this.db.all<Record<string, string>>('SELECT * FROM imports ORDER BY imported_at, source')
      .map(r => ({ source: r.source, format: r.format, contentSha256: r.content_sha256, importedAt: r.imported_at }));
  }
  getImport(source: string): { source: string; format: string; contentSha256: string; importedAt: string; baselineId: string | null } | undefined {
    const r = this.db.get<Record<string, string>>('SELECT * FROM imports WHERE source = ?', [source]);
    return r && { source: r.source, format: r.format, contentSha256: r.content_sha256, importedAt: r.imported_at, baselineId: r.baseline_id ?? null };
  }
  /** Records an import of `source`; `baselineId` puts that generation of baselines in force. */
  upsertImport(tx: SqlWriter, source: string, format: string, sha256: string, at: string, baselineId: string): void {
    tx.run(
      `INSERT INTO imports (source, format, content_sha256, imported_at, baseline_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(source) DO UPDATE SET format = excluded.format, content_sha256 = excluded.content_sha256,
         imported_at = excluded.imported_at, baseline_id = excluded.baseline_id`,
      [source, format, sha256, at, baselineId],
    );
  }
}
