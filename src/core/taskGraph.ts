import type { Dependency, TaskStatus } from './model';
import { drain, STEP_SIZE } from './steps';

/** The minimum a graph algorithm needs to know about a task. */
export interface GraphTask {
  id: string;
  status: TaskStatus;
  /** Duration used for the critical path (hours or points; any consistent unit). Null counts as 0. */
  estimate: number | null;
}

/** Thrown when adding a dependency would close a cycle. `cycle` lists task ids, first = last. */
export class DependencyCycleError extends Error {
  constructor(readonly cycle: string[], describe: (id: string) => string = id => id) {
    super(`Adding this dependency would create a cycle: ${cycle.map(describe).join(' → ')}`);
    this.name = 'DependencyCycleError';
  }
}

/** Statuses that satisfy a dependency: work that waits on a task may start once it is DONE or CANCELLED. */
export function satisfiesDependency(status: TaskStatus): boolean {
  return status === 'DONE' || status === 'CANCELLED';
}

/**
 * The task dependency graph: a DAG where an edge `taskId → dependsOnId` means "taskId waits for dependsOnId".
 *
 * Built once from a snapshot of tasks and dependencies; cheap to rebuild (O(V + E)). Unknown ids in
 * dependencies are ignored. All traversals are iterative, so deep chains do not overflow the stack.
 */
export class TaskGraph {
  private readonly tasks = new Map<string, GraphTask>();
  /** taskId → ids it depends on */
  private readonly prerequisites = new Map<string, Set<string>>();
  /** taskId → ids that depend on it */
  private readonly dependents = new Map<string, Set<string>>();

  constructor(tasks: Iterable<GraphTask>, dependencies: Iterable<Dependency>) {
    drain(this.filling(tasks, dependencies));
  }

  /**
   * The same graph as `new TaskGraph(tasks, dependencies)`, built in steps (a yield every
   * {@link STEP_SIZE} tasks or edges), for plans large enough that building it at once would stall the
   * event loop (see src/core/steps.ts).
   */
  static *build(tasks: Iterable<GraphTask>, dependencies: Iterable<Dependency>): Generator<void, TaskGraph, void> {
    const graph = new TaskGraph([], []);
    yield* graph.filling(tasks, dependencies);
    return graph;
  }

  private *filling(tasks: Iterable<GraphTask>, dependencies: Iterable<Dependency>): Generator<void, void, void> {
    let k = 0;
    for (const t of tasks) {
      this.tasks.set(t.id, t);
      this.prerequisites.set(t.id, new Set());
      this.dependents.set(t.id, new Set());
      if (++k % STEP_SIZE === 0) yield;
    }
    for (const d of dependencies) {
      if (++k % STEP_SIZE === 0) yield;
      if (!this.tasks.has(d.taskId) || !this.tasks.has(d.dependsOnId)) continue;
      this.prerequisites.get(d.taskId)!.add(d.dependsOnId);
      this.dependents.get(d.dependsOnId)!.add(d.taskId);
    }
  }

  /**
   * Replaces the graph's copy of a task it holds (same id; its status or estimate changed), in place:
   * the edges stay, so this is O(1) instead of rebuilding the graph. A task the graph does not hold is
   * ignored (adding tasks changes the structure: build a new graph).
   */
  updateTask(task: GraphTask): void {
    if (this.tasks.has(task.id)) this.tasks.set(task.id, task);
  }

  /** Ids `taskId` directly depends on. */
  dependenciesOf(taskId: string): string[] {
    return [...(this.prerequisites.get(taskId) ?? [])];
  }

  /** Ids that directly depend on `taskId`. */
  dependentsOf(taskId: string): string[] {
    return [...(this.dependents.get(taskId) ?? [])];
  }

  /**
   * The path that adding `taskId → dependsOnId` would close, or null when the edge keeps the graph acyclic.
   * The returned cycle starts and ends with `taskId`: [taskId, dependsOnId, …, taskId].
   * A self-dependency is the cycle [taskId, taskId]. Breadth-first, so the shortest such cycle is named.
   */
  findCycle(taskId: string, dependsOnId: string): string[] | null {
    if (taskId === dependsOnId) return [taskId, taskId];
    // A cycle exists iff taskId is reachable from dependsOnId by following prerequisites.
    const previous = new Map<string, string>();
    const queue = [dependsOnId];
    const seen = new Set(queue);
    for (let head = 0; head < queue.length; head++) {
      const current = queue[head];
      for (const next of this.prerequisites.get(current) ?? []) {
        if (seen.has(next)) continue;
        previous.set(next, current);
        if (next === taskId) {
          const path = [taskId];
          let step: string | undefined = taskId;
          while (step !== dependsOnId) {
            step = previous.get(step!)!;
            path.push(step);
          }
          // path is taskId ← … ← dependsOnId; the cycle reads taskId → dependsOnId → … → taskId.
          return [taskId, ...path.slice(1).reverse(), taskId];
        }
        seen.add(next);
        queue.push(next);
      }
    }
    return null;
  }

  /**
   * Adds a batch of edges `taskId → dependsOnId`, keeping the graph acyclic, and returns the edges refused
   * with the cycle each would close (in the order given). Linear in the graph's size when the batch closes
   * no cycle: all edges are added, then one Kahn pass (Kahn 1962) checks the whole graph. Only when that
   * pass leaves nodes unsorted are the new edges among those nodes (the only ones that can lie on a cycle)
   * taken out and re-added one by one, in the given order, with `findCycle` (breadth-first per edge).
   * Edges naming an unknown task, or already present, are ignored.
   */
  addEdges(edges: readonly Dependency[]): { edge: Dependency; cycle: string[] }[] {
    return drain(this.addingEdges(edges));
  }

  /** {@link addEdges} in steps (a yield every {@link STEP_SIZE} edges or nodes sorted), same result. */
  *addingEdges(edges: readonly Dependency[]): Generator<void, { edge: Dependency; cycle: string[] }[], void> {
    const added: Dependency[] = [];
    const refused: { edge: Dependency; cycle: string[] }[] = [];
    let k = 0;
    for (const e of edges) {
      if (++k % STEP_SIZE === 0) yield;
      if (!this.tasks.has(e.taskId) || !this.tasks.has(e.dependsOnId)) continue;
      if (e.taskId === e.dependsOnId) { refused.push({ edge: e, cycle: [e.taskId, e.taskId] }); continue; }
      const deps = this.prerequisites.get(e.taskId)!;
      if (deps.has(e.dependsOnId)) continue;
      deps.add(e.dependsOnId);
      this.dependents.get(e.dependsOnId)!.add(e.taskId);
      added.push(e);
    }
    const sorted = new Set(yield* this.topologicalOrderOfAcyclicPart());
    if (sorted.size === this.tasks.size) return refused;
    const suspect = added.filter(e => !sorted.has(e.taskId) && !sorted.has(e.dependsOnId));
    for (const e of suspect) {
      this.prerequisites.get(e.taskId)!.delete(e.dependsOnId);
      this.dependents.get(e.dependsOnId)!.delete(e.taskId);
    }
    for (const e of suspect) {
      const cycle = this.findCycle(e.taskId, e.dependsOnId);
      if (cycle) { refused.push({ edge: e, cycle }); continue; }
      this.prerequisites.get(e.taskId)!.add(e.dependsOnId);
      this.dependents.get(e.dependsOnId)!.add(e.taskId);
    }
    const order = new Map(edges.map((e, i) => [e, i]));
    return refused.sort((a, b) => order.get(a.edge)! - order.get(b.edge)!);
  }

  /** Kahn's pass over the graph: the ids that lie on no cycle nor downstream of one, prerequisites first. */
  private *topologicalOrderOfAcyclicPart(): Generator<void, string[], void> {
    const remaining = new Map<string, number>();
    for (const [id, deps] of this.prerequisites) remaining.set(id, deps.size);
    yield;
    const queue = [...this.tasks.keys()].filter(id => remaining.get(id) === 0);
    yield;
    for (let head = 0; head < queue.length; head++) {
      if (head % STEP_SIZE === STEP_SIZE - 1) yield;
      for (const dependent of this.dependents.get(queue[head])!) {
        const left = remaining.get(dependent)! - 1;
        remaining.set(dependent, left);
        if (left === 0) queue.push(dependent);
      }
    }
    return queue;
  }

  /** Throws DependencyCycleError when `taskId → dependsOnId` would close a cycle. */
  assertCanAdd(taskId: string, dependsOnId: string, describe?: (id: string) => string): void {
    const cycle = this.findCycle(taskId, dependsOnId);
    if (cycle) throw new DependencyCycleError(cycle, describe);
  }

  /** True when every dependency of the task is DONE or CANCELLED. */
  dependenciesSatisfied(taskId: string): boolean {
    for (const dep of this.prerequisites.get(taskId) ?? []) {
      if (!satisfiesDependency(this.tasks.get(dep)!.status)) return false;
    }
    return true;
  }

  /** The ready set: TODO tasks whose dependencies are all satisfied, in the order tasks were given. */
  readyTasks(): string[] {
    const ready: string[] = [];
    for (const [id, task] of this.tasks) {
      if (task.status === 'TODO' && this.dependenciesSatisfied(id)) ready.push(id);
    }
    return ready;
  }

  /** Unsatisfied dependencies of a task (ids), i.e. what it is still waiting for. */
  waitingOn(taskId: string): string[] {
    return this.dependenciesOf(taskId).filter(dep => !satisfiesDependency(this.tasks.get(dep)!.status));
  }

  /**
   * Topological order (prerequisites first), by Kahn's algorithm (Kahn 1962, "Topological sorting of
   * large networks"); ties keep the order tasks were given. The graph is kept acyclic by `assertCanAdd`,
   * but if a cycle slipped in (e.g. edited database), its members are appended at the end.
   */
  topologicalOrder(): string[] {
    const remaining = new Map<string, number>();
    for (const [id, deps] of this.prerequisites) remaining.set(id, deps.size);
    const order: string[] = [];
    const queue = [...this.tasks.keys()].filter(id => remaining.get(id) === 0);
    for (let head = 0; head < queue.length; head++) {
      const id = queue[head];
      order.push(id);
      for (const dependent of this.dependents.get(id)!) {
        const left = remaining.get(dependent)! - 1;
        remaining.set(dependent, left);
        if (left === 0) queue.push(dependent);
      }
    }
    if (order.length < this.tasks.size) {
      const placed = new Set(order);
      for (const id of this.tasks.keys()) if (!placed.has(id)) order.push(id);
    }
    return order;
  }

  /**
   * The critical path of the unfinished work: the chain of dependent tasks with the largest total
   * remaining estimate (the longest path in the DAG, weights on nodes; CPM, Kelley & Walker 1959).
   * DONE and CANCELLED tasks weigh 0 and are left out of the result. Returns ids in execution order
   * (prerequisites first) and the total, in the estimate's unit. Empty when nothing remains.
   */
  criticalPath(): { taskIds: string[]; total: number } {
    const weight = (id: string) => {
      const t = this.tasks.get(id)!;
      return satisfiesDependency(t.status) ? 0 : Math.max(0, t.estimate ?? 0);
    };
    const finish = new Map<string, number>();
    const via = new Map<string, string | null>();
    for (const id of this.topologicalOrder()) {
      let best = 0;
      let bestPrev: string | null = null;
      for (const dep of this.prerequisites.get(id)!) {
        const f = finish.get(dep);
        if (f !== undefined && f > best) {
          best = f;
          bestPrev = dep;
        }
      }
      finish.set(id, best + weight(id));
      via.set(id, bestPrev);
    }
    let end: string | null = null;
    let total = 0;
    for (const [id, f] of finish) {
      const unfinished = !satisfiesDependency(this.tasks.get(id)!.status);
      if (unfinished && (f > total || end === null)) {
        end = id;
        total = f;
      }
    }
    if (end === null) return { taskIds: [], total: 0 };
    const path: string[] = [];
    for (let at: string | null = end; at !== null; at = via.get(at) ?? null) {
      if (!satisfiesDependency(this.tasks.get(at)!.status)) path.push(at);
    }
    return { taskIds: path.reverse(), total };
  }
}
