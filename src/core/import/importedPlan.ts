/**
 * The neutral result of importing a plan document (a markdown plan, a Task Master `tasks.json`).
 *
 * Importers are pure: they take text and return an `ImportedPlan`; a service applies it to the
 * database. Every sprint, task and checkpoint carries a `key` that is derived from the document
 * itself (sprint kind + identifier, task identifier or title slug), never from its position alone
 * or from a random id, so importing the same document again yields the same keys and the service
 * can update what it created before instead of creating duplicates.
 */
import type { AgentRef } from '../agent';
import type { EstimateUnit, TaskPriority, TaskStatus } from '../model';

export interface ImportedCheckpoint {
  /** `<task key>#<slug of title>`, deduplicated with `-2`, `-3` within the task. */
  key: string;
  title: string;
  done: boolean;
}

export interface ImportedTask {
  /**
   * Stable across re-imports of the same document and unique within the plan, e.g. `sprint-a/a1`,
   * `sprint-a/a1.1`, `phase-1/implement-session-tracking`, `tm/master/12`, `tm/master/12.3`.
   */
  key: string;
  title: string;
  /** Markdown. Holds what the source said beyond the title, including estimate wording that was converted. */
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  /** In `estimateUnit`; null when the source gives none. Days are converted to hours (x8). */
  estimate: number | null;
  estimateUnit: EstimateUnit;
  checkpoints: ImportedCheckpoint[];
  /** Keys of other tasks in the same plan that this task waits for. */
  dependsOn: string[];
  /** Which agent does it (`Agent: codex`, `@claude:reviewer`); absent or null when the plan names none. */
  agent?: AgentRef | null;
  /** Subtasks (e.g. `#### A1.1` under `#### A1`, Task Master subtasks). */
  children: ImportedTask[];
  /** 1-based line of the source where the task is defined (markdown only). */
  line?: number;
}

export interface ImportedSprint {
  /** e.g. `sprint-a`, `phase-1`, `week-1`, `tm/master`. */
  key: string;
  name: string;
  goal: string;
  /** The default agent of the sprint's tasks (an `Agent:` line under the sprint heading); absent or null when none. */
  agent?: AgentRef | null;
  tasks: ImportedTask[];
  /** 1-based line of the sprint's first heading (markdown only). */
  line?: number;
}

/** Something in the source that looked like plan content but was not imported, and why. */
export interface SkippedItem {
  /** 1-based source line, or null when the source has no lines (JSON). */
  line: number | null;
  text: string;
  reason: string;
}

export interface ImportedPlan {
  /** Where the text came from (a file name or path), as given by the caller. */
  source: string;
  format: 'markdown' | 'taskmaster';
  /** The document's title (first h1 for markdown), or null. */
  title: string | null;
  sprints: ImportedSprint[];
  /** Tasks that belong to no sprint. */
  backlog: ImportedTask[];
  skipped: SkippedItem[];
  /** Present (true) when the text was UTF-8 mis-decoded as Latin-1 / Windows-1252 and was repaired first. */
  encodingRepaired?: true;
}

export interface PlanCounts {
  sprints: number;
  /** All tasks, subtasks (children) included, in sprints and backlog. */
  tasks: number;
  checkpoints: number;
  skipped: number;
}

/** Counts what a plan holds, for previews ("3 sprints, 24 tasks, 12 checkpoints, 2 skipped"). */
export function countPlan(plan: ImportedPlan): PlanCounts {
  let tasks = 0;
  let checkpoints = 0;
  const visit = (list: readonly ImportedTask[]): void => {
    for (const task of list) {
      tasks++;
      checkpoints += task.checkpoints.length;
      visit(task.children);
    }
  };
  for (const sprint of plan.sprints) visit(sprint.tasks);
  visit(plan.backlog);
  return { sprints: plan.sprints.length, tasks, checkpoints, skipped: plan.skipped.length };
}

/** Every task of the plan, depth first in document order (children right after their parent). */
export function allTasks(plan: ImportedPlan): ImportedTask[] {
  const out: ImportedTask[] = [];
  const visit = (list: readonly ImportedTask[]): void => {
    for (const task of list) {
      out.push(task);
      visit(task.children);
    }
  };
  for (const sprint of plan.sprints) visit(sprint.tasks);
  visit(plan.backlog);
  return out;
}

/**
 * The same plan with every text taken from the document passed through `clean` (secret redaction):
 * source, title, sprint names, goals, keys and agents, task titles, descriptions, keys and dependency keys,
 * checkpoint titles and keys, and the skipped items' text. `clean` must be deterministic, so a
 * re-import of the same document finds the same keys.
 */
export function sanitizeImportedPlan(plan: ImportedPlan, clean: (text: string) => string): ImportedPlan {
  // Agent names are plain names; one that redaction would alter (it looked like a secret) is dropped.
  const agent = (a: AgentRef | null | undefined): AgentRef | null | undefined =>
    !a ? a : clean(a.profile) === a.profile && (a.role === null || clean(a.role) === a.role) ? a : null;
  const task = (t: ImportedTask): ImportedTask => ({
    ...t,
    ...(t.agent !== undefined ? { agent: agent(t.agent) } : {}),
    key: clean(t.key), title: clean(t.title), description: clean(t.description),
    dependsOn: t.dependsOn.map(clean),
    checkpoints: t.checkpoints.map(c => ({ ...c, key: clean(c.key), title: clean(c.title) })),
    children: t.children.map(task),
  });
  return {
    ...plan,
    source: clean(plan.source),
    title: plan.title === null ? null : clean(plan.title),
    sprints: plan.sprints.map(s => ({ ...s, ...(s.agent !== undefined ? { agent: agent(s.agent) } : {}), key: clean(s.key), name: clean(s.name), goal: clean(s.goal), tasks: s.tasks.map(task) })),
    backlog: plan.backlog.map(task),
    skipped: plan.skipped.map(s => ({ ...s, text: clean(s.text) })),
  };
}
