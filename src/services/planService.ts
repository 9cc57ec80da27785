import { createHash, randomUUID } from 'node:crypto';
import { BatonError, conflict, invalid, notFound } from '../core/errors';
import { checkAgentRef, formatAgentRef, type AgentRef } from '../core/agent';
import { Emitter, type Event } from '../core/event';
import { importPlan as parsePlan } from '../core/import/detect';
import { sanitizeImportedPlan, type ImportedPlan } from '../core/import/importedPlan';
import {
  type Actor,
  type ActivityEntry,
  type Checkpoint,
  type Dependency,
  type EstimateUnit,
  type Note,
  type Sprint,
  type SprintState,
  type Task,
  type TaskPriority,
  type TaskStatus,
  ESTIMATE_UNITS,
  SPRINT_STATES,
  TASK_PRIORITIES,
} from '../core/model';
import { assertTransition, progressFromCheckpoints } from '../core/statusRules';
import { sortInSteps } from '../core/steps';
import { TaskGraph } from '../core/taskGraph';
import type { Baseline, PlanRepository, SqlWriter } from '../store/planRepository';
import { prepareImport, type ImportConflict, type ImportSnapshot, type PreparedImport } from './planImport';
import { sanitizePlanInSlices, TimeSlicer } from './slices';

export type { ImportConflict };

/** What changed, so views refresh only what they must. `taskIds`/`sprintIds` empty with `all` set means "reload everything". */
export interface PlanChange {
  taskIds: string[];
  sprintIds: string[];
  all?: boolean;
}

export interface TaskFilter {
  sprintId?: string | null;
  status?: TaskStatus[];
  assignee?: string;
  /** Only tasks in the ready set. */
  ready?: boolean;
  /** Case-insensitive match in title or description. */
  text?: string;
  parentId?: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  /** Offset of the next page, or null when this was the last. */
  nextOffset: number | null;
}

export interface TaskRef {
  id: string;
  title: string;
  status: TaskStatus;
}

export interface TaskDetails {
  task: Task;
  sprint: Sprint | null;
  checkpoints: Checkpoint[];
  notes: Note[];
  dependsOn: TaskRef[];
  dependents: TaskRef[];
  /** Unfinished dependencies. */
  waitingOn: TaskRef[];
  ready: boolean;
  subtasks: TaskRef[];
  activity: ActivityEntry[];
}

export interface NewTask {
  title: string;
  description?: string;
  priority?: TaskPriority;
  estimate?: number | null;
  estimateUnit?: EstimateUnit;
  assignee?: string | null;
  sprintId?: string | null;
  parentId?: string | null;
  dependsOn?: string[];
  checkpoints?: string[];
  /** Which agent does it (`{ profile, role }`); null or absent = the sprint's or workspace's default. */
  agent?: AgentRef | null;
}

/** A task's changes; absent fields are left alone, `agent: null` clears the agent. */
export type TaskPatch = Partial<Pick<Task, 'title' | 'description' | 'priority' | 'estimate' | 'estimateUnit' | 'assignee' | 'sprintId' | 'parentId' | 'agent'>>;

export interface NewSprint {
  name: string;
  goal?: string;
  startDate?: string | null;
  endDate?: string | null;
  state?: SprintState;
  /** The default agent of the sprint's tasks; null clears it. */
  agent?: AgentRef | null;
}

export interface ImportReport {
  source: string;
  format: ImportedPlan['format'];
  sprints: { created: number; updated: number; unchanged: number };
  tasks: { created: number; updated: number; unchanged: number };
  checkpoints: { created: number; updated: number; unchanged: number };
  dependencies: { created: number };
  skipped: ImportedPlan['skipped'];
  /** Tasks imported earlier from this source that the document no longer has (kept, not deleted). */
  noLongerInSource: TaskRef[];
  /**
   * Fields changed both in Baton and in the plan since the last import (or, for rows imported before
   * baselines existed, possibly changed): Baton's value was kept, the plan's is given here.
   */
  conflicts: ImportConflict[];
}

export interface PlanServiceOptions {
  /**
   * Parses a plan document off the event loop (the owner passes one that runs the importers in a worker
   * thread, `host/importWorker.ts`); must return what `core/import/detect.importPlan` returns for the same
   * text, or reject with its error. Default: parses on the calling thread.
   */
  parseDocument?: (content: string, name: string) => Promise<ImportedPlan>;
}

/**
 * Lets another service route and follow status moves made through `setStatus` / `setStatusMany` (the
 * review pipeline: `services/reviewService.ts`). Claims and imports do not pass through it.
 */
export interface StatusHook {
  /**
   * Before a move is written, after the transition rules allowed `to`: returns the status to write
   * instead (e.g. DONE → IN_REVIEW for a task that must be reviewed first), or `to`. Throws a BatonError
   * to refuse the move (nothing changes).
   */
  route(task: Task, to: TaskStatus, actor: Actor): TaskStatus;
  /** Inside the move's transaction, after the task row was written (`task` as it was before). */
  within(tx: SqlWriter, task: Task, requested: TaskStatus, written: TaskStatus, actor: Actor): void;
  /** After the move committed and listeners heard of it. */
  after(task: Task, requested: TaskStatus, written: TaskStatus, actor: Actor): void;
}

export interface StatusCounts {
  ready: number;
  byStatus: Record<TaskStatus, number>;
  total: number;
}

const MAX_TITLE = 500;
/** Longest stretch, in milliseconds, an asynchronous import computes before giving the event loop a turn. */
const SLICE_MS = 8;
/** Rows per statement group while an asynchronous import stages its rows (a transaction takes groups until its slice is spent). */
const STAGE_ROWS = 50;
/** New tasks per transaction while an asynchronous import publishes them (hidden until its final transaction). */
const PUBLISH_ROWS = 1000;
/** Most tasks whose checkpoints, notes and activity `getTaskDetails` keeps between writes. */
const MAX_CACHED_RECORDS = 64;
const MAX_TEXT = 200_000;
const PRIORITY_RANK: Record<TaskPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/**
 * The plan's use cases: sprints, tasks, dependencies, checkpoints, notes, context, status, claims,
 * imports and the activity log. The VS Code UI, the MCP tools and the `baton` CLI all call these,
 * so every rule lives here once. Every method validates its input and throws `BatonError` (or
 * `InvalidTransitionError`/`DependencyCycleError` from the core) before changing anything; every
 * change is one durable transaction and fires `onDidChangePlan` after it commits.
 */
export class PlanService {
  private readonly _onDidChangePlan = new Emitter<PlanChange>();
  /** Fires after any committed change to sprints, tasks, dependencies, checkpoints, notes or context. */
  readonly onDidChangePlan: Event<PlanChange> = this._onDidChangePlan.event;

  /** Checkpoints, notes and activity of recently read tasks (see `taskRecords`), by task id and activity limit. */
  private readonly records = new Map<string, Pick<TaskDetails, 'checkpoints' | 'notes' | 'activity'>>();

  /** See `plan()`; `byId` and `sprints` are read on first use (`taskMap()`, `sprintList()`). */
  private cache: { tasks: Task[]; graph: TaskGraph; dependencies: Dependency[]; byId?: Map<string, Task>; sprints?: Sprint[] } | undefined;

  /**
   * @param sanitize applied to every free text taken from outside (descriptions, notes, context,
   *   summaries) before it is stored; the owner passes secret redaction (`core/redaction.ts`).
   */
  constructor(
    private readonly repo: PlanRepository,
    private readonly now: () => Date = () => new Date(),
    private readonly sanitize: (text: string) => string = text => text,
    options: PlanServiceOptions = {},
  ) {
    this.parseDocument = options.parseDocument ?? (async (content, name) => parsePlan(content, name));
    // An import stopped between publishing its batches and its final transaction left hidden rows: remove them.
    if (repo.hasUnfinishedPublish()) repo.transaction(tx => repo.discardUnfinishedPublish(tx));
  }

  /** True while an asynchronous import publishes its new tasks in batches (see `publishNewTasksInBatches`). */
  private publishing = false;

  private readonly parseDocument: (content: string, name: string) => Promise<ImportedPlan>;
  /** Increases with every committed change (see `changed`): an import planned across event-loop turns checks it before writing. */
  private generation = 0;
  /** The import running through `importDocumentAsync`, if any: imports run one at a time. */
  private importQueue: Promise<unknown> = Promise.resolve();

  dispose(): void {
    this._onDidChangePlan.dispose();
  }

  private statusHook: StatusHook | undefined;

  /** Installs the hook status moves pass through (one at a time; `undefined` removes it). */
  setStatusHook(hook: StatusHook | undefined): void {
    this.statusHook = hook;
  }

  // ------------------------------------------------------------------ reads

  listSprints(): Sprint[] {
    return this.sprintList().map(s => ({ ...s }));
  }

  getSprint(id: string): Sprint {
    const sprint = this.repo.getSprint(id);
    if (!sprint) throw notFound(`No sprint with id "${id}".`);
    return sprint;
  }

  getTask(id: string): Task {
    const task = this.repo.getTask(id);
    if (!task) throw notFound(`No task with id "${id}".`);
    return task;
  }

  /** All tasks in plan order (sprint position, then task position). */
  allTasks(): Task[] {
    return [...this.plan().tasks];
  }

  /** Tasks matching `filter`, paginated (`limit` 1–500, default 100). */
  listTasks(filter: TaskFilter = {}, page: { offset?: number; limit?: number } = {}): Page<Task> {
    const offset = page.offset ?? 0;
    const limit = page.limit ?? 100;
    if (!Number.isInteger(offset) || offset < 0) throw invalid(`offset must be a whole number ≥ 0, got ${offset}.`);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid(`limit must be a whole number from 1 to 500, got ${limit}.`);
    let tasks = this.plan().tasks;
    const ready = filter.ready ? new Set(this.plan().graph.readyTasks()) : null;
    const text = filter.text?.toLowerCase();
    tasks = tasks.filter(
      t =>
        (filter.sprintId === undefined || t.sprintId === filter.sprintId) &&
        (filter.parentId === undefined || t.parentId === filter.parentId) &&
        (!filter.status?.length || filter.status.includes(t.status)) &&
        (filter.assignee === undefined || t.assignee === filter.assignee) &&
        (!ready || ready.has(t.id)) &&
        (!text || t.title.toLowerCase().includes(text) || t.description.toLowerCase().includes(text)),
    );
    const items = tasks.slice(offset, offset + limit);
    return { items, total: tasks.length, nextOffset: offset + limit < tasks.length ? offset + limit : null };
  }

  /** Everything about one task, for the details view and agents. */
  getTaskDetails(id: string, activityLimit = 50): TaskDetails {
    const task = this.cachedTask(id);
    if (!task) throw notFound(`No task with id "${id}".`);
    const tasks = this.plan().tasks;
    const byId = this.taskMap();
    const graph = this.plan().graph;
    const ref = (tid: string): TaskRef => {
      const t = byId.get(tid)!;
      return { id: t.id, title: t.title, status: t.status };
    };
    const { checkpoints, notes, activity } = this.taskRecords(id, activityLimit);
    return {
      task,
      sprint: task.sprintId ? this.cachedSprint(task.sprintId) ?? null : null,
      checkpoints,
      notes,
      dependsOn: graph.dependenciesOf(id).map(ref),
      dependents: graph.dependentsOf(id).map(ref),
      waitingOn: graph.waitingOn(id).map(ref),
      ready: task.status === 'TODO' && graph.dependenciesSatisfied(id),
      subtasks: tasks.filter(t => t.parentId === id).map(t => ref(t.id)),
      activity,
    };
  }

  /**
   * A task's checkpoints, notes and newest `activityLimit` activity entries (copies), from `records` when this
   * plan has not changed since they were read (every write of checkpoints, notes and activity goes through this
   * service and ends in `changed`, which drops them all), else from the store.
   */
  private taskRecords(id: string, activityLimit: number): Pick<TaskDetails, 'checkpoints' | 'notes' | 'activity'> {
    const key = `${id}\n${activityLimit}`;
    let r = this.records.get(key);
    if (!r) {
      r = {
        checkpoints: this.repo.listCheckpoints(id),
        notes: this.repo.listNotes(id),
        activity: activityLimit > 0 ? this.repo.listActivity({ taskId: id, limit: activityLimit }) : [],
      };
      if (this.records.size >= MAX_CACHED_RECORDS) this.records.clear();
      this.records.set(key, r);
    }
    return {
      checkpoints: r.checkpoints.map(c => ({ ...c })),
      notes: r.notes.map(n => ({ ...n, author: { ...n.author } })),
      activity: r.activity.map(a => ({ ...a, actor: { ...a.actor } })),
    };
  }

  /**
   * The part of `getTaskDetails` a claim answers with: the task's checkpoints and its dependencies (refs),
   * without reading notes, activity, subtasks or the sprint. @throws BatonError NOT_FOUND for an unknown id.
   */
  taskOutline(id: string): { checkpoints: Checkpoint[]; dependsOn: TaskRef[] } {
    const byId = this.taskMap();
    if (!byId.has(id)) throw notFound(`No task with id "${id}".`);
    const dependsOn = this.plan().graph.dependenciesOf(id).map(tid => {
      const t = byId.get(tid)!;
      return { id: t.id, title: t.title, status: t.status };
    });
    return { checkpoints: this.repo.listCheckpoints(id), dependsOn };
  }

  listCheckpoints(taskId?: string): Checkpoint[] {
    return this.repo.listCheckpoints(taskId);
  }

  listDependencies() {
    return this.repo.listDependencies();
  }

  /**
   * The dependencies from the plan's cache: the same array until the plan's shape changes (a
   * dependency, task or sprint added, moved or removed), so a caller can tell by reference whether it
   * has to look again. Read-only: callers must not mutate it.
   */
  cachedDependencies(): readonly Dependency[] {
    return this.plan().dependencies;
  }

  /** The ready set (TODO with all dependencies done or cancelled), most urgent first. */
  readyTasks(sprintId?: string): Task[] {
    const tasks = this.plan().tasks;
    const ready = new Set(this.plan().graph.readyTasks());
    return this.byUrgency(tasks.filter(t => ready.has(t.id) && (sprintId === undefined || t.sprintId === sprintId)));
  }

  /** The chain of unfinished tasks with the largest total estimate (see `TaskGraph.criticalPath`). */
  criticalPath(): { tasks: Task[]; total: number } {
    const tasks = this.plan().tasks;
    const byId = new Map(tasks.map(t => [t.id, t]));
    const { taskIds, total } = this.plan().graph.criticalPath();
    return { tasks: taskIds.map(id => byId.get(id)!), total };
  }

  statusCounts(): StatusCounts {
    const tasks = this.plan().tasks;
    const byStatus: Record<TaskStatus, number> = { TODO: 0, IN_PROGRESS: 0, IN_REVIEW: 0, DONE: 0, BLOCKED: 0, CANCELLED: 0 };
    for (const t of tasks) byStatus[t.status]++;
    return { ready: this.plan().graph.readyTasks().length, byStatus, total: tasks.length };
  }

  /** Progress of a sprint: done tasks / all tasks not cancelled, and the same weighted by estimate. */
  sprintProgress(sprintId: string): { done: number; total: number; percent: number; estimateDone: number; estimateTotal: number } {
    const tasks = this.plan().tasks.filter(t => t.sprintId === sprintId && t.status !== 'CANCELLED');
    const done = tasks.filter(t => t.status === 'DONE');
    const sum = (ts: Task[]) => ts.reduce((s, t) => s + (t.estimate ?? 0), 0);
    return {
      done: done.length,
      total: tasks.length,
      percent: tasks.length ? Math.round((done.length / tasks.length) * 100) : 0,
      estimateDone: sum(done),
      estimateTotal: sum(tasks),
    };
  }

  listActivity(filter: { taskId?: string; limit?: number; beforeId?: number; afterId?: number } = {}): ActivityEntry[] {
    return this.repo.listActivity({ ...filter, limit: filter.limit ?? 100 });
  }

  /** Every activity entry with one of `actions`, oldest first, in one read (analytics' history; see core/analytics.ts). */
  activityOfActions(actions: readonly string[]): ActivityEntry[] {
    return this.repo.listActivityOfActions(actions);
  }

  /** Finds a task by id (`T-12`, `t12`, `12`) or, failing that, by a unique title match. */
  resolveTask(ref: string): Task {
    const trimmed = ref.trim();
    const m = /^(?:t-?)?(\d+)$/i.exec(trimmed);
    const byId = this.cachedTask(m ? `T-${m[1]}` : trimmed);
    if (byId) return byId;
    const lower = trimmed.toLowerCase();
    const matches = this.plan().tasks.filter(t => t.title.toLowerCase() === lower);
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) throw invalid(`"${ref}" matches ${matches.length} tasks (${matches.map(t => t.id).join(', ')}); use the id.`);
    throw notFound(`No task with id or title "${ref}".`);
  }

  // ------------------------------------------------------------------ sprints

  createSprint(input: NewSprint, actor: Actor): Sprint {
    const name = this.requireText('Sprint name', input.name, MAX_TITLE);
    this.checkDate('startDate', input.startDate);
    this.checkDate('endDate', input.endDate);
    this.checkDateOrder(input.startDate ?? null, input.endDate ?? null);
    if (input.state !== undefined && !SPRINT_STATES.includes(input.state)) {
      throw invalid(`Sprint state must be one of ${SPRINT_STATES.join(', ')}, got "${input.state}".`);
    }
    const at = this.stamp();
    const num = this.repo.nextSprintNumber();
    const sprint: Sprint = {
      id: `S-${num}`, name, goal: input.goal ?? '', startDate: input.startDate ?? null, endDate: input.endDate ?? null,
      state: input.state ?? 'planned', position: this.repo.listSprints().length, sourceKey: null,
      agent: this.checkAgent(input.agent), createdAt: at, updatedAt: at,
    };
    this.repo.transaction(tx => {
      this.repo.insertSprint(tx, num, sprint);
      this.log(tx, actor, 'sprint.created', null, sprint.id, `created sprint "${name}"`);
    });
    this.changed([], [sprint.id], false, true);
    return sprint;
  }

  updateSprint(id: string, patch: Partial<NewSprint>, actor: Actor): Sprint {
    const sprint = this.getSprint(id);
    const next: Partial<Sprint> = {};
    if (patch.name !== undefined) next.name = this.requireText('Sprint name', patch.name, MAX_TITLE);
    if (patch.goal !== undefined) next.goal = patch.goal;
    if (patch.startDate !== undefined) { this.checkDate('startDate', patch.startDate); next.startDate = patch.startDate; }
    if (patch.endDate !== undefined) { this.checkDate('endDate', patch.endDate); next.endDate = patch.endDate; }
    if (patch.state !== undefined) {
      if (!SPRINT_STATES.includes(patch.state)) throw invalid(`Sprint state must be one of ${SPRINT_STATES.join(', ')}, got "${patch.state}".`);
      next.state = patch.state;
    }
    if (patch.agent !== undefined) next.agent = this.checkAgent(patch.agent);
    this.checkDateOrder(next.startDate !== undefined ? next.startDate : sprint.startDate, next.endDate !== undefined ? next.endDate : sprint.endDate);
    next.updatedAt = this.stamp();
    const notes: string[] = [];
    if (next.startDate !== undefined && next.startDate !== sprint.startDate) notes.push(`start ${next.startDate ?? 'none'}`);
    if (next.endDate !== undefined && next.endDate !== sprint.endDate) notes.push(`end ${next.endDate ?? 'none'}`);
    if (next.state !== undefined && next.state !== sprint.state) notes.push(`state ${sprint.state} → ${next.state}`);
    if (next.agent !== undefined) notes.push(`default agent ${next.agent ? formatAgentRef(next.agent) : 'none'}`);
    const agentNote = notes.map(n => `, ${n}`).join('');
    this.repo.transaction(tx => {
      this.repo.updateSprint(tx, id, next);
      this.log(tx, actor, 'sprint.updated', null, id, `updated sprint "${sprint.name}"${agentNote}`);
    });
    this.changed([], [id], false, true);
    return this.getSprint(id);
  }

  // ------------------------------------------------------------------ tasks

  createTask(input: NewTask, actor: Actor): Task {
    const title = this.requireText('Task title', input.title, MAX_TITLE);
    const description = this.sanitize(this.optionalText('description', input.description));
    const priority = this.checkPriority(input.priority ?? 'medium');
    const estimate = this.checkEstimate(input.estimate ?? null);
    const estimateUnit = this.checkUnit(input.estimateUnit ?? 'hours');
    const sprintId = input.sprintId ?? null;
    if (sprintId !== null) this.getSprint(sprintId);
    let parentId = input.parentId ?? null;
    if (parentId !== null) parentId = this.getTask(parentId).id;
    const dependsOn = (input.dependsOn ?? []).map(ref => this.getTask(ref).id);
    const checkpoints = (input.checkpoints ?? []).map(c => this.requireText('Checkpoint title', c, MAX_TITLE));
    const agent = this.checkAgent(input.agent);
    const at = this.stamp();
    const num = this.repo.nextTaskNumber();
    const task: Task = {
      id: `T-${num}`, title, description, status: 'TODO', priority, estimate, estimateUnit,
      assignee: input.assignee?.trim() ? this.sanitize(input.assignee.trim()) : null, sprintId, parentId, position: this.repo.nextTaskPosition(sprintId),
      progress: 0, context: '', summary: null, sourceKey: null, agent, createdAt: at, updatedAt: at,
      completedAt: null,
    };
    this.repo.transaction(tx => {
      this.repo.insertTask(tx, num, task);
      for (const dep of dependsOn) this.repo.insertDependency(tx, { taskId: task.id, dependsOnId: dep });
      checkpoints.forEach((c, i) =>
        this.repo.insertCheckpoint(tx, { id: this.newId('C'), taskId: task.id, title: c, done: false, position: i, sourceKey: null }),
      );
      this.log(tx, actor, 'task.created', task.id, sprintId, `created task "${title}"${agent ? ` for agent ${formatAgentRef(agent)}` : ''}, ${estimateNote(task)}`);
    });
    this.changed([task.id], sprintId ? [sprintId] : [], false, true);
    return task;
  }

  updateTask(id: string, patch: TaskPatch, actor: Actor): Task {
    const task = this.getTask(id);
    const next: Partial<Task> = {};
    const changes: string[] = [];
    if (patch.title !== undefined) { next.title = this.requireText('Task title', patch.title, MAX_TITLE); changes.push('title'); }
    if (patch.description !== undefined) { next.description = this.sanitize(this.optionalText('description', patch.description)); changes.push('description'); }
    if (patch.priority !== undefined) { next.priority = this.checkPriority(patch.priority); changes.push(`priority ${patch.priority}`); }
    if (patch.estimate !== undefined) { next.estimate = this.checkEstimate(patch.estimate); changes.push(`estimate ${task.estimate ?? 'none'} → ${next.estimate ?? 'none'}`); }
    if (patch.estimateUnit !== undefined) { next.estimateUnit = this.checkUnit(patch.estimateUnit); changes.push(`unit ${patch.estimateUnit}`); }
    if (patch.assignee !== undefined) { next.assignee = patch.assignee?.trim() ? this.sanitize(patch.assignee.trim()) : null; changes.push(`assignee ${next.assignee ?? 'none'}`); }
    if (patch.sprintId !== undefined) {
      if (patch.sprintId !== null) this.getSprint(patch.sprintId);
      next.sprintId = patch.sprintId;
      if (patch.sprintId !== task.sprintId) next.position = this.repo.nextTaskPosition(patch.sprintId);
      changes.push(`sprint ${patch.sprintId ?? 'backlog'}`);
    }
    if (patch.parentId !== undefined) {
      if (patch.parentId !== null) this.checkParent(id, patch.parentId);
      next.parentId = patch.parentId;
      changes.push(`parent ${patch.parentId ?? 'none'}`);
    }
    if (patch.agent !== undefined) { next.agent = this.checkAgent(patch.agent); changes.push(`agent ${next.agent ? formatAgentRef(next.agent) : 'none'}`); }
    if (!changes.length) return task;
    next.updatedAt = this.stamp();
    this.repo.transaction(tx => {
      this.repo.updateTask(tx, id, next);
      this.log(tx, actor, 'task.updated', id, next.sprintId ?? task.sprintId, `updated ${changes.join(', ')}`);
    });
    this.changed([id], [task.sprintId, next.sprintId].filter((s): s is string => !!s), false, next.sprintId !== undefined || next.parentId !== undefined || next.position !== undefined);
    return this.getTask(id);
  }

  deleteTask(id: string, actor: Actor): void {
    const task = this.getTask(id);
    this.repo.transaction(tx => {
      this.repo.deleteTask(tx, task);
      this.log(tx, actor, 'task.deleted', null, task.sprintId, `deleted task ${task.id} "${task.title}", ${estimateNote(task)}`);
    });
    this.changed([id], task.sprintId ? [task.sprintId] : [], true);
  }

  /**
   * Moves a task to `status` following the transition rules (`statusRules.ts`).
   * Moving to IN_PROGRESS assigns the task to `actor` when it has no assignee.
   * @throws InvalidTransitionError for a move the rules refuse (nothing changes).
   */
  setStatus(id: string, status: TaskStatus, actor: Actor, options: { note?: string; summary?: string; within?: (tx: SqlWriter) => void } = {}): Task {
    const task = this.getTask(id);
    this.checkTransition(task, status);
    const hook = this.statusHook;
    const written = hook ? hook.route(task, status, actor) : status;
    if (written !== status) this.checkTransition(task, written);
    if (task.status === status && written === status && options.note === undefined && options.summary === undefined) return task;
    this.repo.transaction(tx => {
      this.applyStatus(tx, task, written, actor, options);
      hook?.within(tx, task, status, written, actor);
      options.within?.(tx);
    });
    this.changed([id], task.sprintId ? [task.sprintId] : []);
    hook?.after(task, status, written, actor);
    return this.getTask(id);
  }

  /** Checks, without changing anything, that task `id` may move to `status`; throws like `setStatus` would. */
  checkStatusChange(id: string, status: TaskStatus, actor?: Actor): void {
    const task = this.getTask(id);
    this.checkTransition(task, status);
    if (actor && this.statusHook) {
      const written = this.statusHook.route(task, status, actor); // route only decides; it changes nothing
      if (written !== status) this.checkTransition(task, written);
    }
  }

  /**
   * Sets the status of several tasks at once: all moves are checked first, and if any is refused
   * none is made, and the error lists every refusal.
   */
  setStatusMany(ids: string[], status: TaskStatus, actor: Actor): Task[] {
    if (!ids.length) throw invalid('No tasks given.');
    const unique = [...new Set(ids)];
    const tasks = unique.map(id => this.getTask(id));
    const problems: string[] = [];
    for (const t of tasks) {
      try {
        this.checkTransition(t, status);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    const hook = this.statusHook;
    const routed = new Map<string, TaskStatus>();
    for (const t of tasks) {
      try {
        const written = hook ? hook.route(t, status, actor) : status;
        if (written !== status) this.checkTransition(t, written);
        routed.set(t.id, written);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    if (problems.length) {
      throw new BatonError('INVALID_ARGUMENT', `No task was changed: ${problems.join(' ')}`);
    }
    const moved = tasks.filter(t => !(t.status === status && routed.get(t.id) === status));
    this.repo.transaction(tx => {
      for (const t of moved) {
        this.applyStatus(tx, t, routed.get(t.id)!, actor, {});
        hook?.within(tx, t, status, routed.get(t.id)!, actor);
      }
    });
    this.changed(unique, [...new Set(tasks.map(t => t.sprintId).filter((s): s is string => !!s))]);
    for (const t of moved) hook?.after(t, status, routed.get(t.id)!, actor);
    return unique.map(id => this.getTask(id));
  }

  /**
   * Checks, changing nothing, that an agent may take task `id` by its id (INIT with a task) under the
   * rules of `claimNextReadyTask`: a TODO task must be ready (every dependency done or cancelled);
   * a task already being worked on (IN_PROGRESS, IN_REVIEW) may be continued; a DONE, CANCELLED or
   * BLOCKED task is not claimable (a finished task has nothing left to do; a blocked one waits for
   * the person). @throws BatonError INVALID_ARGUMENT saying why; NOT_FOUND for an unknown task.
   */
  checkClaimable(id: string): Task {
    const task = this.getTask(id);
    const label = `${task.id} "${task.title}"`;
    if (task.status === 'DONE' || task.status === 'CANCELLED') {
      throw invalid(`${label} is ${task.status}: there is nothing left to claim. Call claim_next_task for a ready task.`);
    }
    if (task.status === 'BLOCKED') {
      throw invalid(`${label} is BLOCKED: it waits for the person to unblock it. Call claim_next_task for a ready task, or ask_human.`);
    }
    if (task.status === 'TODO' && !this.plan().graph.dependenciesSatisfied(task.id)) { // the ready set's test (TaskGraph.readyTasks)
      const byId = new Map(this.plan().tasks.map(t => [t.id, t]));
      const waiting = this.plan().graph.waitingOn(task.id).map(d => `${d} "${byId.get(d)?.title ?? d}"`);
      throw invalid(`${label} is not ready: it waits for ${waiting.join(', ')}. Call claim_next_task for a ready task.`);
    }
    return task;
  }

  /** Starts work: TODO/BLOCKED/IN_REVIEW → IN_PROGRESS, assigned to `actor`. */
  startTask(id: string, actor: Actor): Task {
    return this.setStatus(id, 'IN_PROGRESS', actor);
  }

  /**
   * Marks a task DONE with a summary of what was done (from IN_PROGRESS or IN_REVIEW). With a review
   * pipeline in force (the status hook) the task goes to IN_REVIEW instead and its reviewers are asked.
   */
  completeTask(id: string, summary: string, actor: Actor): Task {
    const text = this.requireText('Summary', summary, MAX_TEXT); // requireText redacts
    return this.setStatus(id, 'DONE', actor, { summary: text });
  }

  /**
   * Atomically claims the most urgent ready task for `actor` (an agent session or person): it becomes
   * IN_PROGRESS and assigned to `actor.name`. Two claimers never get the same task: the pick and the
   * update happen in one synchronous transaction on the single writer. Returns null when nothing is ready.
   * `options.within` runs inside that transaction after the claim (same store, e.g. the claiming session's
   * bookkeeping), so both are one atomic write; if it throws, the claim is rolled back too.
   */
  claimNextReadyTask(actor: Actor, options: { sprintId?: string; within?: (tx: SqlWriter, taskId: string) => void } = {}): Task | null {
    if (options.sprintId !== undefined && !this.cachedSprint(options.sprintId)) throw notFound(`No sprint with id "${options.sprintId}".`);
    const next = this.mostUrgentReady(options.sprintId);
    if (!next) return null;
    let written: Task | undefined;
    this.repo.transaction(tx => {
      written = { ...next, ...this.applyStatus(tx, next, 'IN_PROGRESS', actor, { assign: true }) }; // the row as updateTask left it
      options.within?.(tx, next.id);
    });
    this.changed([next.id], next.sprintId ? [next.sprintId] : [], false, false, undefined, written && [written]);
    return this.cachedTask(next.id) ?? this.getTask(next.id);
  }

  // ------------------------------------------------------------------ notes and context

  /** Adds a timestamped note to a task's log. */
  addNote(id: string, text: string, actor: Actor): Note {
    const task = this.cachedTask(id);
    if (!task) throw notFound(`No task with id "${id}".`);
    const body = this.requireText('Note', text, MAX_TEXT); // requireText redacts
    const note: Note = { id: this.newId('N'), taskId: id, author: actor, text: body, createdAt: this.stamp() };
    this.repo.transaction(tx => {
      this.repo.insertNote(tx, note);
      this.repo.updateTask(tx, id, { updatedAt: note.createdAt });
      this.log(tx, actor, 'task.note', id, task.sprintId, `noted: ${oneLine(body)}`);
    });
    this.changed([id], [], false, false, undefined, [{ ...task, updatedAt: note.createdAt }]); // the row as updateTask left it
    return note;
  }

  /** Appends to (`mode: 'append'`, separated by a blank line) or replaces the task's working context. */
  updateContext(id: string, text: string, mode: 'append' | 'replace', actor: Actor): Task {
    const task = this.getTask(id);
    const body = this.sanitize(this.optionalText('context', text));
    if (mode !== 'append' && mode !== 'replace') throw invalid(`mode must be "append" or "replace", got "${mode}".`);
    if (mode === 'append' && !body.trim()) throw invalid('Nothing to append: the text is empty.');
    const context = mode === 'append' && task.context ? `${task.context}\n\n${body}` : body;
    if (context.length > MAX_TEXT) throw invalid(`The context would be ${context.length} characters; the limit is ${MAX_TEXT}.`);
    this.repo.transaction(tx => {
      this.repo.updateTask(tx, id, { context, updatedAt: this.stamp() });
      this.log(tx, actor, mode === 'append' ? 'task.context.appended' : 'task.context.replaced', id, task.sprintId,
        mode === 'append' ? `added to context: ${oneLine(body)}` : 'replaced the context');
    });
    this.changed([id], []);
    return this.getTask(id);
  }

  // ------------------------------------------------------------------ dependencies

  /**
   * Makes `taskId` wait for `dependsOnId`.
   * @throws DependencyCycleError naming the cycle (by task titles) when the edge would close one.
   */
  addDependency(taskId: string, dependsOnId: string, actor: Actor): void {
    const task = this.getTask(taskId);
    const prerequisite = this.getTask(dependsOnId);
    const tasks = this.plan().tasks;
    const byId = new Map(tasks.map(t => [t.id, t]));
    this.plan().graph.assertCanAdd(task.id, prerequisite.id, id => `${id} "${byId.get(id)?.title ?? id}"`);
    if (this.repo.listDependencies().some(d => d.taskId === task.id && d.dependsOnId === prerequisite.id)) return;
    this.repo.transaction(tx => {
      this.repo.insertDependency(tx, { taskId: task.id, dependsOnId: prerequisite.id });
      this.log(tx, actor, 'task.dependency.added', task.id, task.sprintId, `now waits for ${prerequisite.id} "${prerequisite.title}"`);
    });
    this.changed([task.id, prerequisite.id], [], false, true);
  }

  removeDependency(taskId: string, dependsOnId: string, actor: Actor): void {
    const task = this.getTask(taskId);
    const prerequisite = this.getTask(dependsOnId);
    if (!this.repo.listDependencies().some(d => d.taskId === task.id && d.dependsOnId === prerequisite.id)) {
      throw notFound(`${task.id} does not depend on ${prerequisite.id}.`);
    }
    this.repo.transaction(tx => {
      this.repo.deleteDependency(tx, { taskId: task.id, dependsOnId: prerequisite.id });
      this.log(tx, actor, 'task.dependency.removed', task.id, task.sprintId, `no longer waits for ${prerequisite.id} "${prerequisite.title}"`);
    });
    this.changed([task.id, prerequisite.id], [], false, true);
  }

  // ------------------------------------------------------------------ checkpoints and progress

  addCheckpoint(taskId: string, title: string, actor: Actor): Checkpoint {
    const task = this.getTask(taskId);
    const text = this.requireText('Checkpoint title', title, MAX_TITLE);
    const existing = this.repo.listCheckpoints(taskId);
    const checkpoint: Checkpoint = { id: this.newId('C'), taskId, title: text, done: false, position: existing.length, sourceKey: null };
    this.repo.transaction(tx => {
      this.repo.insertCheckpoint(tx, checkpoint);
      this.repo.updateTask(tx, taskId, { progress: progressFromCheckpoints([...existing, checkpoint]) ?? 0, updatedAt: this.stamp() });
      this.log(tx, actor, 'task.checkpoint.added', taskId, task.sprintId, `added checkpoint "${text}"`);
    });
    this.changed([taskId], []);
    return checkpoint;
  }

  /**
   * Marks a checkpoint done or not; `checkpoint` is its id, its 1-based number, or its exact title.
   * The task's progress follows. Returns the task.
   */
  setCheckpoint(taskId: string, checkpoint: string, done: boolean, actor: Actor): Task {
    const task = this.getTask(taskId);
    const all = this.repo.listCheckpoints(taskId);
    if (!all.length) throw invalid(`${task.id} has no checkpoints.`);
    const n = /^\d+$/.test(checkpoint) ? Number(checkpoint) : NaN;
    const target =
      all.find(c => c.id === checkpoint) ?? (n >= 1 && n <= all.length ? all[n - 1] : undefined) ??
      all.find(c => c.title.toLowerCase() === checkpoint.trim().toLowerCase());
    if (!target) {
      throw notFound(`${task.id} has no checkpoint "${checkpoint}"; its checkpoints are ${all.map((c, i) => `${i + 1}. ${c.title}`).join('; ')}.`);
    }
    if (target.done === done) return task;
    const progress = progressFromCheckpoints(all.map(c => (c.id === target.id ? { done } : c)))!;
    this.repo.transaction(tx => {
      this.repo.updateCheckpoint(tx, target.id, { done });
      this.repo.updateTask(tx, taskId, { progress, updatedAt: this.stamp() });
      this.log(tx, actor, 'task.checkpoint', taskId, task.sprintId, `${done ? 'checked' : 'unchecked'} "${target.title}" (${progress}%)`);
    });
    this.changed([taskId], []);
    return this.getTask(taskId);
  }

  /** Sets progress (0–100) of a task without checkpoints; with checkpoints, progress follows them. */
  setProgress(taskId: string, percent: number, actor: Actor): Task {
    const task = this.getTask(taskId);
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw invalid(`Progress must be a number from 0 to 100, got ${percent}.`);
    if (this.repo.listCheckpoints(taskId).length) {
      throw invalid(`${task.id} has checkpoints, so its progress follows them; mark checkpoints done instead.`);
    }
    const progress = Math.round(percent);
    this.repo.transaction(tx => {
      this.repo.updateTask(tx, taskId, { progress, updatedAt: this.stamp() });
      this.log(tx, actor, 'task.progress', taskId, task.sprintId, `progress ${progress}%`);
    });
    this.changed([taskId], []);
    return this.getTask(taskId);
  }

  // ------------------------------------------------------------------ import

  /**
   * Parses a plan document (markdown, or Task Master `tasks.json` when `source` ends in `.json`) and
   * applies it with `importPlan`. `source` identifies the document across re-imports (a
   * workspace-relative path). Throws a BatonError naming the problem when the document cannot be read.
   */
  /** The source name of a document to import, after the checks both import paths share. @throws BatonError naming what is wrong. */
  private checkDocument(content: string, source: string): string {
    const name = this.requireText('Source name', source, 1000);
    if (!content.trim()) throw invalid(`Cannot import ${name}: the document is empty; nothing was imported.`);
    if (content.includes('\u0000')) {
      throw invalid(`Cannot import ${name}: it is not text (it contains NUL characters: a binary file, or UTF-16 read without its byte-order mark); nothing was imported.`);
    }
    return name;
  }

  importDocument(content: string, source: string, actor: Actor): ImportReport {
    const name = this.checkDocument(content, source);
    let plan: ImportedPlan;
    try {
      plan = parsePlan(content, name);
    } catch (error) {
      throw invalid(`Cannot import ${name}: ${(error as Error).message}`);
    }
    return this.importPlan(plan, name, content, actor);
  }

  /**
   * `importDocument` for hosts that serve others meanwhile (the MCP `import_plan` tool, `baton import`,
   * VS Code's Import Plan): the same result, but the event loop is never held for long. The document is
   * parsed by `parseDocument` (a worker thread in the owner), then redacted, read against the database
   * and merged in slices of about `SLICE_MS` milliseconds with `setImmediate` between them. Only when
   * every row is planned and checked (so no write can fail on the input) are the new rows written ahead,
   * in small transactions, into staging tables no reader or writer looks at (`import_stage_*`, and a new
   * generation of baselines); ONE final transaction then publishes them (`INSERT … SELECT`), applies the
   * updates and puts the baselines in force. So the import is atomic and durable — after a crash it is
   * either wholly there or not at all (leftover staging is cleared by the next import) — and other
   * writers, which run between the slices in their own transactions, are never inside the import's
   * transaction nor rolled back with it. A plan change by anyone else meanwhile (`generation`) makes the
   * import plan again against the new state (up to 3 times; the last attempt runs in one go). Imports run
   * one at a time, in call order. Memory: the parsed plan and the planned rows, proportional to the
   * document. What still runs in one turn: the final transaction (proportional to the rows created).
   * @throws BatonError like `importDocument`.
   */
  importDocumentAsync(content: string, source: string, actor: Actor): Promise<ImportReport> {
    const run = this.importQueue.then(() => this.runImportAsync(content, source, actor));
    this.importQueue = run.catch(() => undefined);
    return run;
  }

  private async runImportAsync(content: string, source: string, actor: Actor): Promise<ImportReport> {
    const name = this.checkDocument(content, source);
    let parsed: ImportedPlan;
    try {
      parsed = await this.parseDocument(content, name);
    } catch (error) {
      throw invalid(`Cannot import ${name}: ${(error as Error).message}`);
    }
    const slicer = new TimeSlicer(SLICE_MS);
    const plan = await sanitizePlanInSlices(parsed, this.sanitize, slicer);
    source = this.sanitize(name);
    const sha = sha256(content);
    await this.cleanUpImports(slicer);
    for (let attempt = 1; ; attempt++) {
      await slicer.pause();
      const at = this.stamp();
      const generation = this.generation;
      const importId = `${at}/${randomUUID().slice(0, 8)}`;
      const steps = this.planImport(plan, source, sha, at);
      let step = steps.next();
      if (attempt >= 3) {
        // Others kept writing meanwhile: plan and write this last attempt in one go.
        while (!step.done) step = steps.next();
        const report = this.writeImport(step.value, plan, source, at, importId, actor);
        await this.repo.durable();
        await this.cleanUpImports(slicer);
        return report;
      }
      let stale = false;
      while (!step.done && !stale) {
        if (slicer.due()) {
          await slicer.pause();
          stale = this.generation !== generation; // someone changed the plan meanwhile: plan again
        }
        if (!stale) step = steps.next();
      }
      if (stale || !step.done) continue;
      const prepared = step.value;
      // Write ahead, in slices, what only the final transaction makes visible; others may write in between.
      // Each transaction takes chunks of STAGE_ROWS rows until the slice is spent.
      const chunks = this.stagingChunks(prepared, STAGE_ROWS);
      for (let next = 0; next < chunks.length;) {
        if (slicer.due()) {
          await slicer.pause();
          if (this.generation !== generation) { stale = true; break; }
        }
        this.repo.deferredTransaction(tx => {
          do chunks[next++](tx, importId); while (next < chunks.length && !slicer.due());
        });
      }
      if (!stale && slicer.due()) {
        await slicer.pause();
        stale = this.generation !== generation;
      }
      if (stale) {
        await this.cleanUpImports(slicer);
        continue;
      }
      const nextCache = await this.cacheAfterImportInSlices(prepared, at, slicer);
      await slicer.pause();
      if (this.generation !== generation) {
        await this.cleanUpImports(slicer);
        continue;
      }
      const report = prepared.newTasks.length === 0
        ? this.publishImport(prepared, plan, source, at, importId, actor, undefined, undefined, nextCache)
        : await this.publishNewTasksInBatches(prepared, importId, at, generation, slicer,
          () => this.publishImport(prepared, plan, source, at, importId, actor, undefined, undefined, nextCache, true));
      if (!report) {
        await this.cleanUpImports(slicer);
        continue;
      }
      await this.repo.durable();
      await this.cleanUpImports(slicer);
      return report;
    }
  }

  /**
   * Publishes the staged new tasks of an import in batches of `PUBLISH_ROWS` (each task with its
   * checkpoints and the edges it starts), one transaction per batch, with a turn of the event loop
   * between batches when the slice is spent, while the repository hides them from every reader
   * (`PlanRepository.hideTasks`) until `finish` (the import's final transaction, run in the turn of the
   * last check) shows them; returns its report. Returns null when the plan changed meanwhile
   * (`generation`): the batches are then taken back and the import plans again.
   * A crash between the batches and the final transaction leaves rows that the next start removes
   * (`discardUnfinishedPublish`), so an import is still wholly there or not at all.
   */
  private async publishNewTasksInBatches(
    p: PreparedImport, importId: string, at: string, generation: number, slicer: TimeSlicer, finish: () => ImportReport,
  ): Promise<ImportReport | null> {
    let nextNum = 0;
    for (const [num] of p.newTasks) nextNum = Math.max(nextNum, num + 1);
    this.repo.hideTasks(new Set(p.newTasks.map(([, t]) => t.id)), nextNum);
    this.publishing = true;
    const published: [number, number][] = [];
    let complete = false;
    try {
      for (let range = this.repo.nextStagedTaskRange(importId, 0, PUBLISH_ROWS); ;) {
        if (!range) { complete = true; break; }
        const [first, last] = range;
        this.repo.deferredTransaction(tx => this.repo.publishStagedTasks(tx, importId, at, first, last));
        published.push(range);
        range = this.repo.nextStagedTaskRange(importId, last, PUBLISH_ROWS);
        if (range && slicer.due()) await slicer.pause();
        if (this.generation !== generation) break;
      }
      // In the same turn as the last check: nobody can have written since.
      if (complete) return finish();
    } finally {
      if (!complete) {
        // Someone changed the plan (or a batch failed): take the batches back; they stay hidden until gone.
        for (const [first, last] of published) {
          await slicer.tick();
          this.repo.deferredTransaction(tx => this.repo.unpublishStagedTasks(tx, importId, first, last));
        }
        this.repo.hideTasks(null);
        this.publishing = false;
        this.cache = undefined; // it was read while the batches were hidden
      }
    }
    return null;
  }

  /**
   * Removes what earlier imports left behind, in slices: staged rows of an import that did not finish
   * (the process stopped, or the import was planned again) and baselines no import has in force.
   */
  private async cleanUpImports(slicer: TimeSlicer): Promise<void> {
    while (this.repo.hasStaging()) {
      await slicer.tick();
      this.repo.deferredTransaction(tx => {
        while (this.repo.clearSomeStaging(tx, STAGE_ROWS * 4) > 0 && !slicer.due()) { /* until the slice is spent */ }
      });
    }
    for (const generation of this.repo.staleBaselineGenerations()) {
      while (this.repo.deferredTransaction(tx => this.repo.deleteBaselineGeneration(tx, generation, STAGE_ROWS)) > 0) await slicer.tick();
    }
  }

  /**
   * Applies an imported plan idempotently: sprints, tasks and checkpoints are matched by
   * `<source>#<key>`, so importing the same document again updates instead of duplicating. A re-import
   * merges three ways per field (the plan as last imported, the plan now, Baton now; see
   * `planImport.ts`): what was changed in Baton stays unless the plan changed it too, and a field both
   * changed keeps Baton's value and is listed in `conflicts`. A re-import never reopens a task nor
   * unchecks a checkpoint, and tasks that vanished from the document are reported, not deleted.
   * `content` is the raw file text, remembered by hash to tell an unchanged file. Synchronous: it holds
   * the event loop for the whole import (see `importDocumentAsync` for hosts that serve others meanwhile).
   */
  importPlan(plan: ImportedPlan, source: string, content: string, actor: Actor): ImportReport {
    if (this.publishing) throw conflict('Another import is being published; try again in a moment.');
    // Everything from the document is outside text: redact it all before anything is compared or stored.
    plan = sanitizeImportedPlan(plan, this.sanitize);
    source = this.sanitize(source);
    const at = this.stamp();
    const steps = this.planImport(plan, source, sha256(content), at);
    let step = steps.next();
    while (!step.done) step = steps.next();
    return this.writeImport(step.value, plan, source, at, `${at}/${randomUUID().slice(0, 8)}`, actor);
  }

  /** Stages, publishes and cleans up a prepared import in one transaction (the synchronous path). */
  private writeImport(prepared: PreparedImport & { snapshot: ImportSnapshot }, plan: ImportedPlan, source: string, at: string, importId: string, actor: Actor): ImportReport {
    const nextCache = this.cacheAfterImport(prepared, at);
    return this.publishImport(prepared, plan, source, at, importId, actor, tx => {
      this.repo.clearStaging(tx);
      for (const chunk of this.stagingChunks(prepared, Number.MAX_SAFE_INTEGER)) chunk(tx, importId);
    }, tx => {
      this.repo.clearStaging(tx);
      for (const generation of this.repo.staleBaselineGenerations()) this.repo.deleteBaselineGeneration(tx, generation, Number.MAX_SAFE_INTEGER);
    }, nextCache);
  }

  /**
   * Reads what Baton holds for `source` before an import is planned, a page at a time: a generator that
   * yields between pages (`prepareImport`'s driver decides when to give the event loop a turn). Uses the
   * cached task list and graph when there is one.
   */
  private *importSnapshot(source: string): Generator<void, ImportSnapshot, void> {
    const prefix = `${source}#`;
    const PAGE = 200;
    let tasks: readonly Task[];
    let dependencies: readonly Dependency[];
    if (this.cache) {
      ({ tasks, dependencies } = this.cache);
    } else {
      const allTasks: Task[] = [];
      for (let after = 0; ;) {
        const page = this.repo.pageTasks(after, PAGE);
        for (const t of page.rows) allTasks.push(t);
        if (page.last === null || page.rows.length < PAGE) break;
        after = page.last;
        yield;
      }
      const deps: Dependency[] = [];
      for (let after = 0; ;) {
        const page = this.repo.pageDependencies(after, PAGE * 5);
        for (const d of page.rows) deps.push(d);
        if (page.last === null || page.rows.length < PAGE * 5) break;
        after = page.last;
        yield;
      }
      tasks = allTasks;
      dependencies = deps;
    }
    const tasksBySourceKey = new Map<string, Task>();
    for (const t of tasks) if (t.sourceKey?.startsWith(prefix)) tasksBySourceKey.set(t.sourceKey, t);
    yield;
    const checkpointsByTask = new Map<string, Checkpoint[]>();
    const checkpointBySourceKey = new Map<string, Checkpoint>();
    for (let after = 0; ;) {
      const page = this.repo.pageCheckpointsOfSourcePrefix(prefix, after, PAGE);
      for (const c of page.rows) {
        const list = checkpointsByTask.get(c.taskId) ?? [];
        list.push(c);
        checkpointsByTask.set(c.taskId, list);
        if (c.sourceKey?.startsWith(prefix)) checkpointBySourceKey.set(c.sourceKey, c);
      }
      if (page.last === null || page.rows.length < PAGE) break;
      after = page.last;
      yield;
    }
    const baselines = new Map<string, Baseline>();
    for (let after = 0; ;) {
      const page = this.repo.pageBaselines(source, after, PAGE);
      for (const [key, b] of page.rows) baselines.set(key, b);
      if (page.last === null || page.rows.length < PAGE) break;
      after = page.last;
      yield;
    }
    const last = this.repo.getImport(source);
    const sprints = this.repo.listSprints();
    return {
      tasksBySourceKey,
      sprintsBySourceKey: new Map(sprints.filter(s => s.sourceKey?.startsWith(prefix)).map(s => [s.sourceKey!, s])),
      checkpointBySourceKey,
      checkpointsByTask,
      baselines,
      allTasks: tasks,
      dependencies,
      nextSprintNum: this.repo.nextSprintNumber(),
      nextTaskNum: this.repo.nextTaskNumber(),
      sprintCount: sprints.length,
      backlogStart: this.repo.nextTaskPosition(null),
      lastImport: last ? { contentSha256: last.contentSha256, importedAt: last.importedAt } : null,
    };
  }

  /** Reads the snapshot and plans the import, as one generator (see `importSnapshot`, `prepareImport`). */
  private *planImport(plan: ImportedPlan, source: string, sha: string, at: string): Generator<void, PreparedImport & { snapshot: ImportSnapshot }, void> {
    const snapshot = yield* this.importSnapshot(source);
    return { ...(yield* prepareImport(plan, source, sha, at, snapshot)), snapshot };
  }

  /**
   * The task list and graph as they are once `p` is published, built from the snapshot it was planned on
   * (valid because nothing changed the plan since: see `generation`), so readers after a large import
   * do not reload every task in one go. Same order as `PlanRepository.listTasks`.
   */
  private cacheAfterImport(p: PreparedImport & { snapshot: ImportSnapshot }, at: string): NonNullable<PlanService['cache']> {
    const steps = this.cacheAfterImportSteps(p, at);
    let step = steps.next();
    while (!step.done) step = steps.next();
    return step.value;
  }

  /** `cacheAfterImport` with a turn of the event loop between its steps when the slice is spent. */
  private async cacheAfterImportInSlices(p: PreparedImport & { snapshot: ImportSnapshot }, at: string, slicer: TimeSlicer): Promise<NonNullable<PlanService['cache']>> {
    const steps = this.cacheAfterImportSteps(p, at);
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      if (slicer.due()) await slicer.pause();
    }
  }

  /** The steps of `cacheAfterImport` (a generator: it yields between the list, its order and the graph). */
  private *cacheAfterImportSteps(p: PreparedImport & { snapshot: ImportSnapshot }, at: string): Generator<void, NonNullable<PlanService['cache']>, void> {
    const patches = new Map(p.taskUpdates);
    const tasks = p.snapshot.allTasks.map(t => {
      const patch = patches.get(t.id);
      return patch ? { ...t, ...patch } : t;
    });
    for (const [, t] of p.newTasks) tasks.push({ ...t, updatedAt: at });
    const sprintPos = new Map<string, number>(this.repo.listSprints().map(s => [s.id, s.position]));
    for (const [, s] of p.newSprints) sprintPos.set(s.id, s.position);
    yield;
    // Sort keys computed once per task: backlog (or unknown sprint) last, sprint position, position, number.
    const keys = tasks.map((t, i) => {
      const sp = t.sprintId === null ? undefined : sprintPos.get(t.sprintId);
      return { i, backlog: sp === undefined ? 1 : 0, sprint: sp ?? 0, position: t.position, num: taskNumber(t.id) };
    });
    yield* sortInSteps(keys, (a, b) => a.backlog - b.backlog || a.sprint - b.sprint || a.position - b.position || a.num - b.num);
    const sorted = keys.map(k => tasks[k.i]);
    tasks.length = 0;
    for (const t of sorted) tasks.push(t);
    yield;
    const dependencies = [...p.snapshot.dependencies, ...p.dependencies];
    return { tasks, graph: yield* TaskGraph.build(tasks, dependencies), dependencies };
  }

  /**
   * The import's final transaction: publishes the staged rows (`PlanRepository.publishStaged`), applies
   * the sprint, task and checkpoint updates, puts the new baselines in force and logs the import, then
   * tells listeners. The staged copies are cleared afterwards (`cleanUpImports`): publishing only reads
   * the rows of this import's id, so leftovers are never published twice. `before`/`after` run inside the same transaction (the synchronous path stages there).
   * Nothing in it depends on the input being valid: everything was planned and checked before.
   */
  private publishImport(
    p: PreparedImport, plan: ImportedPlan, source: string, at: string, importId: string, actor: Actor,
    before?: (tx: SqlWriter) => void, after?: (tx: SqlWriter) => void, nextCache?: PlanService['cache'], batched = false,
  ): ImportReport {
    const report: ImportReport = { source, format: plan.format, ...p.report };
    try {
      this.repo.deferredTransaction(tx => {
        before?.(tx);
        for (const [num, sprint] of p.newSprints) this.repo.insertSprint(tx, num, sprint);
        for (const [id, patch] of p.sprintUpdates) this.repo.updateSprint(tx, id, patch);
        if (!batched) {
          this.repo.publishStaged(tx, importId, at);
        } else {
          // The new tasks went out in batches with their checkpoints and edges: what is left are the
          // checkpoints and edges of tasks that existed before (taken from memory, not from staging).
          const isNew = new Set(p.newTasks.map(([, t]) => t.id));
          for (const c of p.newCheckpoints) if (!isNew.has(c.taskId)) this.repo.insertCheckpoint(tx, c);
          this.repo.insertDependencies(tx, p.dependencies.filter(d => !isNew.has(d.taskId)));
        }
        for (const [id, patch] of p.taskUpdates) this.repo.updateTask(tx, id, patch);
        for (const [id, patch] of p.checkpointUpdates) this.repo.updateCheckpoint(tx, id, patch);
        for (const e of p.statusLog) this.log(tx, actor, 'task.status', e.taskId, e.sprintId, e.detail);
        this.repo.upsertImport(tx, source, plan.format, p.contentSha256, at, importId);
        const r = report;
        this.log(tx, actor, 'plan.imported', null, null,
          `imported ${source}: sprints +${r.sprints.created}/~${r.sprints.updated}, tasks +${r.tasks.created}/~${r.tasks.updated}, ` +
          `checkpoints +${r.checkpoints.created}/~${r.checkpoints.updated}, ${r.skipped.length} skipped` +
          (r.conflicts.length ? `, ${r.conflicts.length} conflicts kept Baton's value` : ''));
        after?.(tx);
      });
    } catch (error) {
      if (batched) {
        // The batches stay hidden; take them back now (the next start would otherwise).
        try {
          this.repo.transaction(tx => this.repo.discardUnfinishedPublish(tx));
        } catch { /* left for discardUnfinishedPublish at the next start */ }
        this.repo.hideTasks(null);
        this.publishing = false;
      }
      throw error;
    }
    if (batched) {
      this.repo.hideTasks(null); // in the turn of the commit, before anyone reads
      this.publishing = false;
    }
    this.changed(p.changedTasks, p.changedSprints, true, false, nextCache);
    return report;
  }

  /**
   * The staging writes of a prepared import (new tasks, checkpoints, dependency edges, baselines) as
   * transactions of at most `rows` rows each, in the order they must run (parents before subtasks).
   */
  private stagingChunks(p: PreparedImport, rows: number): ((tx: SqlWriter, importId: string) => void)[] {
    const out: ((tx: SqlWriter, importId: string) => void)[] = [];
    const split = <T>(list: readonly T[], write: (tx: SqlWriter, importId: string, part: readonly T[]) => void) => {
      for (let i = 0; i < list.length; i += rows) {
        const part = list.slice(i, i + rows);
        out.push((tx, importId) => write(tx, importId, part));
      }
    };
    split(p.newTasks, (tx, id, part) => this.repo.stageTasks(tx, id, part));
    split(p.newCheckpoints, (tx, id, part) => this.repo.stageCheckpoints(tx, id, part));
    split(p.dependencies, (tx, id, part) => this.repo.stageDependencies(tx, id, part));
    split(p.baselines, (tx, id, part) => this.repo.insertBaselines(tx, id, part));
    return out;
  }

  /**
   * Records an entry in the activity log for things other services do (answers, decisions, handoffs),
   * so a task's history tells the whole story. `detail` is sanitized like any outside text.
   */
  recordActivity(actor: Actor, action: string, taskId: string | null, detail: string): void {
    const task = taskId ? this.getTask(taskId) : undefined;
    this.repo.transaction(tx => this.log(tx, actor, action, task?.id ?? null, task?.sprintId ?? null, this.sanitize(detail)));
    this.changed(task ? [task.id] : [], []);
  }

  // ------------------------------------------------------------------ internals

  private graph(tasks: Task[]): TaskGraph {
    return new TaskGraph(tasks, this.repo.listDependencies());
  }

  /**
   * All tasks and their dependency graph, read once and reused until the next committed change
   * (`changed()` drops it). Every write goes through this service, so the cache cannot go stale;
   * callers must not mutate the returned objects.
   */
  private plan(): { tasks: Task[]; graph: TaskGraph; dependencies: Dependency[]; byId?: Map<string, Task>; sprints?: Sprint[] } {
    if (!this.cache) {
      const tasks = this.repo.listTasks();
      const dependencies = this.repo.listDependencies();
      this.cache = { tasks, graph: new TaskGraph(tasks, dependencies), dependencies };
    }
    return this.cache;
  }

  /**
   * A copy of task `id` from the cached plan (the committed state, kept in step by `changed`), or undefined:
   * a read without a sql.js query. Not for use inside a transaction that may have changed the task.
   */
  private cachedTask(id: string): Task | undefined {
    const t = this.taskMap().get(id);
    return t && { ...t, agent: t.agent && { ...t.agent } };
  }

  /** A copy of sprint `id` from the cached sprint list, or undefined (like `cachedTask`). */
  private cachedSprint(id: string): Sprint | undefined {
    const s = this.sprintList().find(sprint => sprint.id === id);
    return s && { ...s, agent: s.agent && { ...s.agent } };
  }

  /** The cached tasks by id (built once per cached plan; callers must not mutate it). */
  private taskMap(): Map<string, Task> {
    const plan = this.plan();
    plan.byId ??= new Map(plan.tasks.map(t => [t.id, t]));
    return plan.byId;
  }

  /**
   * The sprints in plan order, kept with the cached plan: every sprint write (create, update, import) drops
   * the cache (`changed` with `structural` or `all`), task writes keep it. Callers must not mutate them.
   */
  private sprintList(): Sprint[] {
    const plan = this.plan();
    plan.sprints ??= this.repo.listSprints();
    return plan.sprints;
  }

  private byUrgency(tasks: Task[]): Task[] {
    return [...tasks].sort(this.urgencyOrder());
  }

  /** Most urgent first: priority, then sprint position (backlog last), task position, task number. */
  private urgencyOrder(): (a: Task, b: Task) => number {
    const sprintPos = new Map(this.sprintList().map(s => [s.id, s.position]));
    return (a, b) =>
      PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
      (a.sprintId ? sprintPos.get(a.sprintId) ?? 1e9 : 1e9) - (b.sprintId ? sprintPos.get(b.sprintId) ?? 1e9 : 1e9) ||
      a.position - b.position ||
      taskNumber(a.id) - taskNumber(b.id);
  }

  /** `readyTasks(sprintId)[0]` without sorting the whole ready set (one pass), or undefined when none is ready. */
  private mostUrgentReady(sprintId?: string): Task | undefined {
    const { tasks, graph } = this.plan();
    const order = this.urgencyOrder();
    let best: Task | undefined;
    for (const t of tasks) {
      if (sprintId !== undefined && t.sprintId !== sprintId) continue;
      // The ready set's test (TaskGraph.readyTasks), only for the tasks in question; the graph's statuses are the cached tasks'.
      if (t.status !== 'TODO' || !graph.dependenciesSatisfied(t.id)) continue;
      if (!best || order(t, best) < 0) best = t;
    }
    return best;
  }

  private checkTransition(task: Task, to: TaskStatus): void {
    const tasks = this.plan().tasks;
    const byId = new Map(tasks.map(t => [t.id, t]));
    const waitingOn = this.plan().graph.waitingOn(task.id).map(id => `${id} ${byId.get(id)!.title}`);
    assertTransition(`${task.id} "${task.title}"`, task.status, to, { waitingOn });
  }

  private applyStatus(
    tx: SqlWriter, task: Task, status: TaskStatus, actor: Actor,
    options: { note?: string; summary?: string; assign?: boolean },
  ): Partial<Task> {
    const at = this.stamp();
    const patch: Partial<Task> = { status, updatedAt: at };
    if (status === 'IN_PROGRESS' && (options.assign || !task.assignee)) patch.assignee = actor.name;
    if (status === 'DONE') {
      patch.completedAt = at;
      if (!this.repo.listCheckpoints(task.id).length) patch.progress = 100;
    } else if (task.status === 'DONE') {
      patch.completedAt = null;
    }
    if (options.summary !== undefined) patch.summary = options.summary;
    this.repo.updateTask(tx, task.id, patch);
    const detail = task.status === status ? `status stays ${status}` : `${task.status} → ${status}`;
    const why = options.summary ?? options.note;
    this.log(tx, actor, 'task.status', task.id, task.sprintId,
      why ? `${detail}: ${oneLine(this.sanitize(why))}` : patch.assignee && patch.assignee !== task.assignee ? `${detail}, assigned to ${patch.assignee}` : detail);
    if (options.note) {
      this.repo.insertNote(tx, { id: this.newId('N'), taskId: task.id, author: actor, text: this.sanitize(options.note), createdAt: at });
    }
    return patch;
  }

  private checkParent(taskId: string, parentId: string): void {
    const parent = this.getTask(parentId);
    for (let at: Task | undefined = parent; at; at = at.parentId ? this.repo.getTask(at.parentId) : undefined) {
      if (at.id === taskId) throw invalid(`${parent.id} cannot be the parent of ${taskId}: it is ${taskId} itself or one of its subtasks.`);
    }
  }

  private log(tx: SqlWriter, actor: Actor, action: string, taskId: string | null, sprintId: string | null, detail: string): void {
    this.repo.insertActivity(tx, { at: this.stamp(), actor, action, taskId, sprintId, detail });
  }

  /**
   * After a committed change: drops the cached task list and graph when the plan's shape changed
   * (`all`, or `structural`: tasks added, moved or deleted, dependencies or sprints changed), else
   * refreshes just the changed tasks in place (re-read from the store, or taken from `written` when the
   * caller knows the row exactly), then tells listeners.
   */
  private changed(taskIds: string[], sprintIds: string[], all = false, structural = false, nextCache?: PlanService['cache'], written?: Task[]): void {
    this.generation++;
    this.records.clear();
    if (nextCache) {
      this.cache = nextCache;
    } else if (all || structural || !this.cache) {
      this.cache = undefined;
    } else if (taskIds.length) {
      const fresh = new Map<string, Task>();
      const known = new Map((written ?? []).map(t => [t.id, t]));
      for (const id of taskIds) {
        const task = known.get(id) ?? this.repo.getTask(id);
        if (!task) {
          this.cache = undefined;
          break;
        }
        fresh.set(id, task);
      }
      if (this.cache) {
        const { graph, dependencies, sprints, byId } = this.cache;
        // A new array (callers may still hold the old one) with just the changed entries replaced.
        const tasks = this.cache.tasks.slice();
        for (const task of fresh.values()) {
          const old = byId?.get(task.id);
          let at = old ? tasks.indexOf(old) : -1;
          if (at < 0) at = tasks.findIndex(t => t.id === task.id);
          if (at >= 0) tasks[at] = task;
          graph.updateTask(task); // same edges: only statuses/estimates move
          byId?.set(task.id, task); // same ids: the map is private to this service, updated in place
        }
        this.cache = { tasks, graph, dependencies, sprints, byId }; // a task write leaves the sprints as they were
      }
    }
    this._onDidChangePlan.fire({ taskIds, sprintIds, all });
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private newId(prefix: string): string {
    return `${prefix}-${randomUUID().slice(0, 8)}`;
  }

  private requireText(what: string, value: unknown, max: number): string {
    if (typeof value !== 'string' || !value.trim()) throw invalid(`${what} must be a non-empty text.`);
    const text = value.trim();
    if (text.length > max) throw invalid(`${what} is ${text.length} characters; the limit is ${max}.`);
    // Titles, names, summaries, notes and sources all come from outside: they pass redaction here.
    return this.sanitize(text);
  }

  private optionalText(what: string, value: unknown): string {
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') throw invalid(`${what} must be text.`);
    if (value.length > MAX_TEXT) throw invalid(`${what} is ${value.length} characters; the limit is ${MAX_TEXT}.`);
    return value;
  }

  /** A validated, redacted copy of an agent (null when none); throws INVALID_ARGUMENT naming a bad name. */
  private checkAgent(agent: AgentRef | null | undefined): AgentRef | null {
    if (agent === undefined || agent === null) return null;
    if (typeof agent !== 'object') throw invalid(`Agent must be { profile, role }, got ${JSON.stringify(agent)}.`);
    const checked = checkAgentRef(agent);
    // Names come from outside like any text; a name that redaction alters is refused, not stored altered.
    const profile = this.sanitize(checked.profile);
    const role = checked.role === null ? null : this.sanitize(checked.role);
    if (profile !== checked.profile || role !== checked.role) throw invalid('Agent name looks like a secret; refused.');
    return { profile, role };
  }

  private checkPriority(p: TaskPriority): TaskPriority {
    if (!TASK_PRIORITIES.includes(p)) throw invalid(`Priority must be one of ${TASK_PRIORITIES.join(', ')}, got "${p}".`);
    return p;
  }

  private checkUnit(u: EstimateUnit): EstimateUnit {
    if (!ESTIMATE_UNITS.includes(u)) throw invalid(`Estimate unit must be one of ${ESTIMATE_UNITS.join(', ')}, got "${u}".`);
    return u;
  }

  private checkEstimate(e: number | null): number | null {
    if (e === null) return null;
    if (typeof e !== 'number' || !Number.isFinite(e) || e < 0 || e > 100_000) {
      throw invalid(`Estimate must be a number from 0 to 100000 (hours or story points), got ${e}.`);
    }
    return e;
  }

  /** Refuses anything but a real calendar date as YYYY-MM-DD (2026-02-30 too), naming the field and the value. */
  private checkDate(what: string, d: string | null | undefined): void {
    if (d === undefined || d === null) return;
    const ok = typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(d))
      && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;
    if (!ok) throw invalid(`${what} must be a date as YYYY-MM-DD, got "${d}".`);
  }
  /** A sprint's end may not come before its start. */
  private checkDateOrder(start: string | null, end: string | null): void {
    if (start && end && end < start) throw invalid(`Sprint endDate ${end} is before its startDate ${start}.`);
  }
}

/** `estimate 5 hours` or `no estimate`: how created and deleted tasks' activity entries record the estimate (core/analytics.ts reads it). */
function estimateNote(t: Task): string {
  return t.estimate === null ? 'no estimate' : `estimate ${t.estimate} ${t.estimateUnit}`;
}

function oneLine(text: string, max = 120): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function taskNumber(id: string): number {
  const n = Number(id.replace(/^T-/, ''));
  return Number.isFinite(n) ? n : 0;
}

