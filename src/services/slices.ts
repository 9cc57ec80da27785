/**
 * Cooperative slicing for long computations on the event loop: work runs until a time budget is spent,
 * then gives the event loop a turn (`setImmediate`, so pending I/O — other clients' requests — runs
 * first), as in the "yield to the event loop" pattern of Node's guide "Don't Block the Event Loop"
 * (nodejs.org/en/learn/asynchronous-work/dont-block-the-event-loop, "Partitioning").
 */
import { performance } from 'node:perf_hooks';
import { sanitizeImportedPlan, type ImportedPlan, type ImportedTask } from '../core/import/importedPlan';

/** Tells when a slice of `budgetMs` milliseconds is spent, and ends it. */
export class TimeSlicer {
  private start = performance.now();
  constructor(private readonly budgetMs: number) {}

  /** True once the current slice has run for `budgetMs` or more. */
  due(): boolean {
    return performance.now() - this.start >= this.budgetMs;
  }

  /** Ends the slice: resolves on a later event-loop turn (after pending I/O), starting a new slice. */
  async pause(): Promise<void> {
    await new Promise<void>(resolve => setImmediate(resolve));
    this.start = performance.now();
  }

  /** Ends the slice only if it is due. */
  async tick(): Promise<void> {
    if (this.due()) await this.pause();
  }
}

/**
 * `sanitizeImportedPlan` in slices: each top-level task (with its subtasks) is redacted on its own and
 * the event loop gets a turn whenever `slicer` says the slice is spent. Same result as
 * `sanitizeImportedPlan(plan, clean)`.
 */
export async function sanitizePlanInSlices(plan: ImportedPlan, clean: (text: string) => string, slicer: TimeSlicer): Promise<ImportedPlan> {
  const cleanTasks = async (tasks: readonly ImportedTask[]): Promise<ImportedTask[]> => {
    const out: ImportedTask[] = [];
    for (const task of tasks) {
      out.push(sanitizeImportedPlan({ ...plan, sprints: [], backlog: [task], skipped: [] }, clean).backlog[0]);
      await slicer.tick();
    }
    return out;
  };
  const head = sanitizeImportedPlan({ ...plan, sprints: plan.sprints.map(s => ({ ...s, tasks: [] })), backlog: [] }, clean);
  await slicer.tick();
  const sprints = [];
  for (let i = 0; i < plan.sprints.length; i++) sprints.push({ ...head.sprints[i], tasks: await cleanTasks(plan.sprints[i].tasks) });
  return { ...head, sprints, backlog: await cleanTasks(plan.backlog) };
}
