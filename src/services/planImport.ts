/**
 * The planning half of a plan import: given an imported plan (already redacted) and a snapshot of what
 * Baton holds for the same source, computes every write the import makes and its report, without
 * touching the database. `PlanService` runs it (in slices, see `prepareImport`'s yields) and then
 * applies the result in one durable transaction.
 *
 * Re-imports merge three ways, per field, like `git merge-file` / diff3 (Khanna, Kuper & Pierce, "A
 * Formal Investigation of Diff3", 2007): the plan as last imported (the *baseline*, stored per source
 * key in `import_baselines`), the plan now, and Baton now.
 *  - plan unchanged since the baseline → Baton's value stays;
 *  - Baton unchanged since the baseline → the plan's value is taken;
 *  - both changed to different values → Baton's value stays and the field is reported as a conflict.
 * Fields: task title, description, priority, estimate (with its unit), agent, sprint, parent, position
 * (merged silently); sprint name, goal and default agent; checkpoint title. A baseline from before
 * agents were imported has none: its agent counts as none. Completion follows the existing rules: a task the
 * plan newly marks done becomes DONE unless Baton has it DONE or CANCELLED (CANCELLED is reported), a
 * re-import never reopens a task nor unchecks a checkpoint, and a checkpoint the plan newly checks is
 * checked.
 *
 * Rows imported before baselines existed (databases from before schema version 4) have none; their
 * baseline is inferred so the first re-import after the upgrade reverts nothing: when the document is
 * byte-identical to the last import of the source, the baseline is the plan itself (nothing changed in
 * the plan, so Baton's values all stay); otherwise, for a row Baton has not touched since that import
 * (`updatedAt` ≤ the import's time; checkpoints cannot be renamed in Baton), Baton's current value is
 * the baseline; otherwise the baseline is unknown and every field where the plan and Baton differ keeps
 * Baton's value and is reported as a conflict.
 */
import { createHash } from 'node:crypto';
import { formatAgentRef, type AgentRef } from '../core/agent';
import type { ImportedPlan, ImportedTask } from '../core/import/importedPlan';
import type { Checkpoint, Dependency, EstimateUnit, Sprint, Task, TaskPriority, TaskStatus } from '../core/model';
import { progressFromCheckpoints } from '../core/statusRules';
import { TaskGraph } from '../core/taskGraph';
import type { Baseline } from '../store/planRepository';

export type { Baseline };

/** A field Baton kept although the plan changed it too (or the baseline was unknown). */
export interface ImportConflict {
  /** The task (for checkpoint conflicts, the checkpoint's task); null for a sprint's field. */
  taskId: string | null;
  /** The sprint, for `sprint.name` / `sprint.goal` conflicts. */
  sprintId?: string;
  /** `title`, `description`, `priority`, `estimate`, `agent`, `sprint`, `parent`, `status`, `checkpoint`, `sprint.name`, `sprint.goal`, `sprint.agent`. */
  field: string;
  /** Baton's value, which was kept (descriptions and goals shortened to 200 characters). */
  baton: string | number | null;
  /** The plan's value, which was not applied. */
  plan: string | number | null;
}

/** What Baton holds for one source, read before planning. */
export interface ImportSnapshot {
  tasksBySourceKey: Map<string, Task>;
  sprintsBySourceKey: Map<string, Sprint>;
  checkpointBySourceKey: Map<string, Checkpoint>;
  /** Every checkpoint of the tasks imported from this source (imported or added in Baton), by task id. */
  checkpointsByTask: Map<string, Checkpoint[]>;
  baselines: Map<string, Baseline>;
  /** Every task and dependency edge of the plan (cycle checks, parent checks). */
  allTasks: readonly Task[];
  dependencies: readonly Dependency[];
  nextSprintNum: number;
  nextTaskNum: number;
  sprintCount: number;
  backlogStart: number;
  /** The last import of this source, if any. */
  lastImport: { contentSha256: string; importedAt: string } | null;
}

export interface ImportCounts { created: number; updated: number; unchanged: number }

export interface PreparedReport {
  sprints: ImportCounts;
  tasks: ImportCounts;
  checkpoints: ImportCounts;
  dependencies: { created: number };
  skipped: ImportedPlan['skipped'];
  noLongerInSource: { id: string; title: string; status: TaskStatus }[];
  conflicts: ImportConflict[];
}

/** Every write of one import, in the order they are applied. */
export interface PreparedImport {
  report: PreparedReport;
  newSprints: [number, Sprint][];
  sprintUpdates: [string, Partial<Sprint>][];
  newTasks: [number, Task][];
  taskUpdates: [string, Partial<Task>][];
  newCheckpoints: Checkpoint[];
  checkpointUpdates: [string, { title?: string; done?: boolean; position?: number; taskId?: string }][];
  dependencies: Dependency[];
  baselines: [string, Baseline][];
  /** `task.status` activity entries for tasks the plan completed. */
  statusLog: { taskId: string; sprintId: string | null; detail: string }[];
  changedTasks: string[];
  changedSprints: string[];
  contentSha256: string;
}

const MAX_TITLE = 500;
/** Items between two yields of `prepareImport`; the driver decides from the clock whether to give the event loop a turn. */
const YIELD_EVERY = 64;

/** First 32 hex digits of SHA-256: how descriptions are kept in baselines (equality is all a merge needs). */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function short(text: string): string {
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

const estimateText = (estimate: number | null, unit: EstimateUnit): string | null => (estimate === null ? null : `${estimate} ${unit}`);

/** An agent as text for merging and conflicts (`claude:reviewer`), null when none (or a baseline from before agents). */
function agentText(agent: AgentRef | null | undefined): string | null {
  return agent ? formatAgentRef(agent) : null;
}

/**
 * Which side a field takes in a three-way merge: 'same' (plan and Baton agree), 'baton' (only Baton
 * changed it), 'plan' (only the plan changed it) or 'conflict' (both changed it, or the baseline is
 * unknown and they differ). Values are compared with `===`.
 */
export function mergeSide<T>(base: T | typeof UNKNOWN, plan: T, baton: T): 'same' | 'baton' | 'plan' | 'conflict' {
  if (plan === baton) return 'same';
  if (base === UNKNOWN) return 'conflict';
  if (plan === base) return 'baton';
  if (baton === base) return 'plan';
  return 'conflict';
}
/** Marks a baseline value as not known (see the module docs). */
export const UNKNOWN: unique symbol = Symbol('unknown baseline');

/**
 * Plans the import of `plan` (already redacted) from `source` into what `snapshot` describes. A
 * generator: it yields every few dozen items so a driver can give the event loop a turn, and returns
 * the writes and the report. Reads nothing but its arguments; `at` stamps every row it creates or changes.
 */
export function* prepareImport(
  plan: ImportedPlan, source: string, contentSha256: string, at: string, snapshot: ImportSnapshot,
): Generator<void, PreparedImport, void> {
  const prefix = `${source}#`;
  const report: PreparedReport = {
    sprints: { created: 0, updated: 0, unchanged: 0 },
    tasks: { created: 0, updated: 0, unchanged: 0 },
    checkpoints: { created: 0, updated: 0, unchanged: 0 },
    dependencies: { created: 0 },
    skipped: [...plan.skipped],
    noLongerInSource: [],
    conflicts: [],
  };
  const out: PreparedImport = {
    report, newSprints: [], sprintUpdates: [], newTasks: [], taskUpdates: [], newCheckpoints: [], checkpointUpdates: [],
    dependencies: [], baselines: [], statusLog: [], changedTasks: [], changedSprints: [], contentSha256,
  };
  const unchangedDocument = snapshot.lastImport?.contentSha256 === contentSha256;
  const untouchedSinceImport = (updatedAt: string) => !!snapshot.lastImport && updatedAt <= snapshot.lastImport.importedAt;
  let sprintNum = snapshot.nextSprintNum;
  let taskNum = snapshot.nextTaskNum;
  let sprintPosition = snapshot.sprintCount;
  let counter = 0;
  const seenTasks = new Set<string>();
  const keyToId = new Map<string, string>();
  const created: Task[] = [];
  const changedTaskSet = new Set<string>();
  // Final parent of every task, to refuse a merged parent that would make a task its own ancestor.
  const parentOf = new Map<string, string | null>(snapshot.allTasks.map(t => [t.id, t.parentId]));
  // Final task and done state of every checkpoint of this source's tasks, for progress.
  const checkpointState = new Map<string, { taskId: string; done: boolean }>();
  for (const list of snapshot.checkpointsByTask.values()) for (const c of list) checkpointState.set(c.id, { taskId: c.taskId, done: c.done });
  const progressTasks = new Set<string>();
  // Every import writes a whole new generation of baselines (see `PlanRepository.insertBaselines`).
  const setBaseline = (key: string, value: Baseline) => { out.baselines.push([key, value]); };
  const conflict = (c: ImportConflict) => report.conflicts.push(c);
  const markTask = (id: string) => { if (!changedTaskSet.has(id)) { changedTaskSet.add(id); out.changedTasks.push(id); } };

  const upsertSprint = (name: string, goal: string, key: string, agent: AgentRef | null): string => {
    const sourceKey = prefix + key;
    name = name.slice(0, MAX_TITLE);
    const existing = snapshot.sprintsBySourceKey.get(sourceKey);
    setBaseline(sourceKey, { kind: 'sprint', name, goal, agent });
    if (!existing) {
      const id = `S-${sprintNum}`;
      out.newSprints.push([sprintNum++, {
        id, name, goal, startDate: null, endDate: null, state: 'planned', position: sprintPosition++, sourceKey, agent,
        createdAt: at, updatedAt: at,
      }]);
      report.sprints.created++;
      out.changedSprints.push(id);
      return id;
    }
    const stored = snapshot.baselines.get(sourceKey);
    const base = stored?.kind === 'sprint' ? stored
      : unchangedDocument ? { name, goal, agent }
      : untouchedSinceImport(existing.updatedAt) ? { name: existing.name, goal: existing.goal, agent: existing.agent } : null;
    const patch: Partial<Sprint> = {};
    const nameSide = mergeSide(base ? base.name : UNKNOWN, name, existing.name);
    if (nameSide === 'plan') patch.name = name;
    else if (nameSide === 'conflict') conflict({ taskId: null, sprintId: existing.id, field: 'sprint.name', baton: existing.name, plan: name });
    const goalSide = mergeSide(base ? base.goal : UNKNOWN, goal, existing.goal);
    if (goalSide === 'plan') patch.goal = goal;
    else if (goalSide === 'conflict') conflict({ taskId: null, sprintId: existing.id, field: 'sprint.goal', baton: short(existing.goal), plan: short(goal) });
    const agentSide = mergeSide(base ? agentText(base.agent) : UNKNOWN, agentText(agent), agentText(existing.agent));
    if (agentSide === 'plan') patch.agent = agent;
    else if (agentSide === 'conflict') conflict({ taskId: null, sprintId: existing.id, field: 'sprint.agent', baton: agentText(existing.agent), plan: agentText(agent) });
    if (Object.keys(patch).length) {
      out.sprintUpdates.push([existing.id, { ...patch, updatedAt: at }]);
      report.sprints.updated++;
      out.changedSprints.push(existing.id);
    } else {
      report.sprints.unchanged++;
    }
    return existing.id;
  };

  // Would making `parentId` the parent of `id` put `id` among its own ancestors?
  const closesParentCycle = (id: string, parentId: string | null): boolean => {
    for (let at: string | null | undefined = parentId, steps = 0; at; at = parentOf.get(at), steps++) {
      if (at === id || steps > parentOf.size) return true;
    }
    return false;
  };

  const upsertTask = (item: ImportedTask, sprintId: string | null, parentId: string | null, position: number) => {
    const sourceKey = prefix + item.key;
    const title = item.title.slice(0, MAX_TITLE);
    const description = item.description;
    const descriptionHash = textHash(description);
    seenTasks.add(sourceKey);
    const existing = snapshot.tasksBySourceKey.get(sourceKey);
    const planValues: Baseline & { kind: 'task' } = {
      kind: 'task', title, description: descriptionHash, priority: item.priority, estimate: item.estimate,
      estimateUnit: item.estimateUnit, sprintId, parentId, position, status: item.status, agent: item.agent ?? null,
    };
    setBaseline(sourceKey, planValues);
    let id: string;
    let checkpointBase: 'plan' | 'baton';
    if (!existing) {
      id = `T-${taskNum}`;
      const task: Task = {
        id, title, description, status: item.status, priority: item.priority,
        estimate: item.estimate, estimateUnit: item.estimateUnit, assignee: null, sprintId, parentId, position,
        progress: progressFromCheckpoints(item.checkpoints) ?? (item.status === 'DONE' ? 100 : 0), context: '', summary: null,
        sourceKey, agent: item.agent ?? null, createdAt: at, updatedAt: at, completedAt: item.status === 'DONE' ? at : null,
      };
      out.newTasks.push([taskNum++, task]);
      created.push(task);
      parentOf.set(id, parentId);
      report.tasks.created++;
      out.changedTasks.push(id);
      checkpointBase = 'plan';
    } else {
      id = existing.id;
      const stored = snapshot.baselines.get(sourceKey);
      const base: (Baseline & { kind: 'task' }) | null = stored?.kind === 'task' ? stored
        : unchangedDocument ? planValues
        : untouchedSinceImport(existing.updatedAt)
          ? { kind: 'task', title: existing.title, description: textHash(existing.description), priority: existing.priority, estimate: existing.estimate,
              estimateUnit: existing.estimateUnit, sprintId: existing.sprintId, parentId: existing.parentId, position: existing.position, status: existing.status,
              agent: existing.agent }
          : null;
      checkpointBase = unchangedDocument ? 'plan' : 'baton';
      const b = <K extends keyof typeof planValues>(k: K) => (base ? base[k] : UNKNOWN);
      const patch: Partial<Task> = {};
      const field = <K extends 'title' | 'priority'>(k: K, planValue: Task[K]) => {
        const side = mergeSide<unknown>(b(k), planValue, existing[k]);
        if (side === 'plan') patch[k] = planValue;
        else if (side === 'conflict') conflict({ taskId: id, field: k, baton: existing[k], plan: planValue });
      };
      field('title', title);
      const descSide = mergeSide(b('description'), descriptionHash, textHash(existing.description));
      if (descSide === 'plan') patch.description = description;
      else if (descSide === 'conflict') conflict({ taskId: id, field: 'description', baton: short(existing.description), plan: short(description) });
      field('priority', item.priority);
      const planAgent = item.agent ?? null;
      const agentSide = mergeSide(base ? agentText(base.agent) : UNKNOWN, agentText(planAgent), agentText(existing.agent));
      if (agentSide === 'plan') patch.agent = planAgent;
      else if (agentSide === 'conflict') conflict({ taskId: id, field: 'agent', baton: agentText(existing.agent), plan: agentText(planAgent) });
      const estimateKey = (e: number | null, u: EstimateUnit) => `${e}|${u}`;
      const estSide = mergeSide(base ? estimateKey(base.estimate, base.estimateUnit) : UNKNOWN, estimateKey(item.estimate, item.estimateUnit), estimateKey(existing.estimate, existing.estimateUnit));
      if (estSide === 'plan') { patch.estimate = item.estimate; patch.estimateUnit = item.estimateUnit; }
      else if (estSide === 'conflict') conflict({ taskId: id, field: 'estimate', baton: estimateText(existing.estimate, existing.estimateUnit), plan: estimateText(item.estimate, item.estimateUnit) });
      const sprintSide = mergeSide(b('sprintId'), sprintId, existing.sprintId);
      if (sprintSide === 'plan') patch.sprintId = sprintId;
      else if (sprintSide === 'conflict') conflict({ taskId: id, field: 'sprint', baton: existing.sprintId, plan: sprintId });
      const finalSprint = patch.sprintId !== undefined ? patch.sprintId : existing.sprintId;
      // Position follows the sprint: a task that moved with the plan takes the plan's place in it.
      if (patch.sprintId !== undefined) {
        if (existing.position !== position) patch.position = position;
      } else if (finalSprint === sprintId && mergeSide(b('position'), position, existing.position) === 'plan') {
        patch.position = position;
      }
      const parentSide = mergeSide(b('parentId'), parentId, existing.parentId);
      if (parentSide === 'plan' && closesParentCycle(id, parentId)) {
        conflict({ taskId: id, field: 'parent', baton: existing.parentId, plan: parentId });
      } else if (parentSide === 'plan') {
        patch.parentId = parentId;
        parentOf.set(id, parentId);
      } else if (parentSide === 'conflict') {
        conflict({ taskId: id, field: 'parent', baton: existing.parentId, plan: parentId });
      }
      if (item.status === 'DONE' && existing.status !== 'DONE') {
        // The plan newly marks it done: unknown baselines follow the rule from before baselines (complete it).
        const planNewlyDone = !base || base.status !== 'DONE';
        if (planNewlyDone && existing.status === 'CANCELLED') {
          conflict({ taskId: id, field: 'status', baton: 'CANCELLED', plan: 'DONE' });
        } else if (planNewlyDone) {
          patch.status = 'DONE';
          patch.completedAt = at;
          out.statusLog.push({ taskId: id, sprintId: finalSprint, detail: `${existing.status} → DONE (checked in ${source})` });
        }
      }
      if (Object.keys(patch).length) {
        out.taskUpdates.push([id, { ...patch, updatedAt: at }]);
        report.tasks.updated++;
        markTask(id);
      } else {
        report.tasks.unchanged++;
      }
      if (snapshot.checkpointsByTask.get(id)?.length) progressTasks.add(id);
    }
    keyToId.set(item.key, id);
    // checkpoints
    item.checkpoints.forEach((c, i) => {
      const cKey = prefix + c.key;
      setBaseline(cKey, { kind: 'checkpoint', title: c.title, done: c.done });
      const found = snapshot.checkpointBySourceKey.get(cKey);
      if (!found) {
        const checkpoint: Checkpoint = { id: `C-${textHash(`${at}\u0000${cKey}`).slice(0, 12)}`, taskId: id, title: c.title, done: c.done, position: i, sourceKey: cKey };
        out.newCheckpoints.push(checkpoint);
        checkpointState.set(checkpoint.id, { taskId: id, done: c.done });
        report.checkpoints.created++;
        if (existing) progressTasks.add(id);
        return;
      }
      const stored = snapshot.baselines.get(cKey);
      const base = stored?.kind === 'checkpoint' ? stored
        : checkpointBase === 'plan' ? { title: c.title, done: c.done } : null;
      const patch: { title?: string; done?: boolean; position?: number; taskId?: string } = {};
      // Checkpoints cannot be renamed in Baton, so without a baseline Baton's title is the last imported one.
      const titleSide = mergeSide(base ? base.title : found.title, c.title, found.title);
      if (titleSide === 'plan') patch.title = c.title;
      else if (titleSide === 'conflict') conflict({ taskId: found.taskId, field: 'checkpoint', baton: found.title, plan: c.title });
      const planNewlyChecked = c.done && (!base || !base.done);
      if (planNewlyChecked && !found.done) patch.done = true;
      if (found.position !== i) patch.position = i;
      if (found.taskId !== id) { patch.taskId = id; progressTasks.add(found.taskId); }
      if (Object.keys(patch).length) {
        out.checkpointUpdates.push([found.id, patch]);
        const state = checkpointState.get(found.id);
        if (state) { state.taskId = id; state.done = patch.done ?? state.done; } else checkpointState.set(found.id, { taskId: id, done: patch.done ?? found.done });
        report.checkpoints.updated++;
        progressTasks.add(id);
      } else {
        report.checkpoints.unchanged++;
      }
    });
  };

  // Depth first, children right after their parent (parents are inserted before their subtasks).
  function* visit(item: ImportedTask, sprintId: string | null, parentId: string | null, position: number): Generator<void, void, void> {
    upsertTask(item, sprintId, parentId, position);
    if (++counter % YIELD_EVERY === 0) yield;
    const id = keyToId.get(item.key)!;
    for (let i = 0; i < item.children.length; i++) yield* visit(item.children[i], sprintId, id, i);
  }
  for (const s of plan.sprints) {
    const sprintId = upsertSprint(s.name, s.goal, s.key, s.agent ?? null);
    for (let i = 0; i < s.tasks.length; i++) yield* visit(s.tasks[i], sprintId, null, i);
  }
  for (let i = 0; i < plan.backlog.length; i++) {
    const t = plan.backlog[i];
    const existing = snapshot.tasksBySourceKey.get(prefix + t.key);
    yield* visit(t, null, null, existing?.sprintId === null ? existing.position : snapshot.backlogStart + i);
  }

  // Progress of existing tasks whose checkpoints changed, from their final checkpoints.
  if (progressTasks.size) {
    const byTask = new Map<string, { done: boolean }[]>();
    for (const s of checkpointState.values()) {
      if (!progressTasks.has(s.taskId)) continue;
      const list = byTask.get(s.taskId) ?? [];
      list.push(s);
      byTask.set(s.taskId, list);
    }
    const current = new Map<string, number>();
    for (const t of snapshot.tasksBySourceKey.values()) current.set(t.id, t.progress);
    for (const id of progressTasks) {
      if (!current.has(id)) continue; // created by this import: progress set at creation
      const progress = progressFromCheckpoints(byTask.get(id) ?? []);
      if (progress === null || progress === current.get(id)) continue;
      const update = out.taskUpdates.find(([tid]) => tid === id);
      if (update) update[1].progress = progress;
      else out.taskUpdates.push([id, { progress }]);
      markTask(id);
    }
    yield;
  }

  // Dependencies, after every task exists: one graph, one batch (linear unless the batch closes a cycle).
  const existingDeps = new Set(snapshot.dependencies.map(d => `${d.taskId}>${d.dependsOnId}`));
  const wanted: { item: ImportedTask; depKey: string; edge: Dependency }[] = [];
  const collect = (root: ImportedTask) => {
    const stack = [root];
    while (stack.length) {
      const item = stack.pop()!;
      const id = keyToId.get(item.key)!;
      for (const depKey of item.dependsOn) {
        const depId = keyToId.get(depKey);
        if (!depId) {
          report.skipped.push({ line: item.line ?? null, text: `${item.title} → ${depKey}`, reason: 'dependency on a task not in this plan' });
          continue;
        }
        if (existingDeps.has(`${id}>${depId}`)) continue;
        existingDeps.add(`${id}>${depId}`);
        wanted.push({ item, depKey, edge: { taskId: id, dependsOnId: depId } });
      }
      for (let i = item.children.length - 1; i >= 0; i--) stack.push(item.children[i]);
    }
  };
  for (const s of plan.sprints) s.tasks.forEach(collect);
  plan.backlog.forEach(collect);
  yield;
  if (wanted.length) {
    const graph = yield* TaskGraph.build([...snapshot.allTasks, ...created], snapshot.dependencies);
    yield;
    const refused = new Map((yield* graph.addingEdges(wanted.map(w => w.edge))).map(r => [r.edge, r.cycle]));
    yield;
    for (const w of wanted) {
      const cycle = refused.get(w.edge);
      if (cycle) {
        report.skipped.push({ line: w.item.line ?? null, text: `${w.item.title} → ${w.depKey}`, reason: `dependency would close a cycle (${cycle.join(' → ')})` });
        continue;
      }
      out.dependencies.push(w.edge);
      report.dependencies.created++;
    }
  }
  for (const t of snapshot.tasksBySourceKey.values()) {
    if (!seenTasks.has(t.sourceKey!)) report.noLongerInSource.push({ id: t.id, title: t.title, status: t.status });
  }
  return out;
}
