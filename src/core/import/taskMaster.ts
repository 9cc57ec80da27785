/**
 * Imports Task Master's `.taskmaster/tasks/tasks.json` into an {@link ImportedPlan}.
 *
 * Two shapes exist:
 * - tagged (Task Master >= 0.17): `{ "master": { "tasks": [...], "metadata": {...} }, "feature-x": {...} }`;
 * - legacy: `{ "tasks": [...], "meta": {...} }`, read as the single tag `master`.
 *
 * Mapping
 * - Each tag becomes a sprint: key `tm/<tag>`, name = tag, goal = `metadata.description`. A tag
 *   without tasks is reported in `skipped`, not emitted.
 * - Each task becomes a task with key `tm/<tag>/<id>`; its subtasks become `children` with key
 *   `tm/<tag>/<parent>.<sub>`.
 * - Status: pending→TODO, in-progress→IN_PROGRESS, review→IN_REVIEW, done→DONE, blocked→BLOCKED,
 *   cancelled→CANCELLED, deferred→TODO with a note in the description; anything else → TODO with a note.
 * - Priority: high / medium / low / critical; anything else → medium. A subtask without a priority
 *   takes its parent's.
 * - Description: `description`, then `details`, then `Test strategy: <testStrategy>`.
 * - Dependencies: a task's numbers (or numeric strings) are task ids of the same tag; `"12.3"` names
 *   subtask 3 of task 12. In a subtask, a number is a sibling subtask id (falling back to a task id
 *   of the tag when the parent has no such subtask) and `"12.3"` is explicit. Dependencies on
 *   unknown ids (or on the task itself) go to `skipped` with a reason.
 * - Task Master has no estimates: `estimate` is null.
 *
 * Invalid JSON or a wrong shape throws an Error whose message names what is wrong, by its path in
 * the file (`tasks.json: master.tasks[3].dependencies[0]: expected a task id (a number or a string),
 * got an object`); the shape is checked with a zod schema. Unknown fields are ignored. Pure: no I/O.
 */
import { z } from 'zod';
import type { TaskPriority, TaskStatus } from '../model';
import { describeValue, issuePath } from '../schemaIssues';
import type { ImportedPlan, ImportedSprint, ImportedTask, SkippedItem } from './importedPlan';

const FILE = 'tasks.json';
const LEGACY_TAG = 'master';

const STATUS: Record<string, TaskStatus> = {
  pending: 'TODO',
  todo: 'TODO',
  'in-progress': 'IN_PROGRESS',
  in_progress: 'IN_PROGRESS',
  review: 'IN_REVIEW',
  done: 'DONE',
  completed: 'DONE',
  blocked: 'BLOCKED',
  deferred: 'TODO',
  cancelled: 'CANCELLED',
  canceled: 'CANCELLED',
};

const PRIORITIES: readonly TaskPriority[] = ['low', 'medium', 'high', 'critical'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(message: string): never {
  throw new Error(`${FILE}: ${message}`);
}

/** `"…"` (cut at 40 characters), `3`, `true`, `an array`, `nothing`, … for error messages. */
function got(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeValue(value);
}

/** Optional text: absent or null reads as "". */
const text = z.string({ error: issue => `expected a string, got ${got(issue.input)}` }).nullish().transform(v => (v ?? '').trim());
/** Task and subtask ids are whole numbers in Task Master; numeric strings are accepted too. */
const idError = (issue: { input?: unknown }) => `expected a whole number, got ${got(issue.input)}`;
const id = z.union([
  z.number({ error: idError }).int({ error: idError }).nonnegative({ error: idError }),
  z.string({ error: idError }).regex(/^\s*\d+\s*$/, { error: idError }),
], { error: idError }).transform(v => String(Number(typeof v === 'string' ? v.trim() : v)));
const title = z.string({ error: issue => `expected a non-empty string, got ${got(issue.input)}` })
  .transform(v => v.trim())
  .refine(v => v !== '', { error: 'expected a non-empty string, got an empty one' });
const dependencies = z.array(
  z.union([z.number(), z.string()], { error: issue => `expected a task id (a number or a string), got ${got(issue.input)}` }),
  { error: issue => `expected an array of task ids, got ${got(issue.input)}` },
).nullish().transform(v => v ?? []);
const fields = {
  id, title, status: text, description: text, details: text, testStrategy: text, dependencies,
  /** Kept raw: a subtask without a priority takes its parent's. */
  priority: text.optional(),
};
const SubtaskSchema = z.object(fields, { error: issue => `expected a subtask object, got ${got(issue.input)}` });
const TaskSchema = z.object({
  ...fields,
  subtasks: z.array(SubtaskSchema, { error: issue => `expected an array of subtasks, got ${got(issue.input)}` }).nullish().transform(v => v ?? []),
}, { error: issue => `expected a task object, got ${got(issue.input)}` });
/** One tag of tasks.json (or the whole legacy file): `{ tasks: [...], metadata?: { description? } }`. */
const TagSchema = z.object({
  tasks: z.array(TaskSchema, { error: issue => `expected an array of tasks, got ${got(issue.input)}` }),
  metadata: z.unknown().optional(),
  meta: z.unknown().optional(),
}, { error: issue => `expected an object with a "tasks" array, got ${got(issue.input)}` });
type Tag = z.infer<typeof TagSchema>;

/**
 * A tag checked against {@link TagSchema}; `root` is its path in the file (`master`, or `` for the
 * legacy shape). @throws Error `tasks.json: <path>: <what was expected>` for the first problem, with
 * how many more there are.
 */
function readTag(value: unknown, root: string): Tag {
  const parsed = TagSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [first, ...rest] = parsed.error.issues;
  const where = issuePath(first.path, root) || '(the top level)';
  return fail(`${where}: ${first.message}${rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : ''}`);
}

interface Status {
  status: TaskStatus;
  note: string | null;
}

function mapStatus(raw: string): Status {
  const value = raw.toLowerCase();
  if (!value) return { status: 'TODO', note: null };
  const status = STATUS[value];
  if (value === 'deferred') return { status: 'TODO', note: 'Deferred in Task Master.' };
  if (status) return { status, note: null };
  return { status: 'TODO', note: `Task Master status: ${raw}.` };
}

function mapPriority(raw: string): TaskPriority {
  const value = raw.toLowerCase() as TaskPriority;
  return PRIORITIES.includes(value) ? value : 'medium';
}

function describe(parts: { description: string; details: string; testStrategy: string; note: string | null }): string {
  return [
    parts.description,
    parts.details,
    parts.testStrategy ? `Test strategy: ${parts.testStrategy}` : '',
    parts.note ?? '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** A task or subtask with its raw dependencies, resolved once all ids of the tag are known. */
interface Pending {
  task: ImportedTask;
  /** `12` or `12.3`. */
  ref: string;
  deps: (number | string)[];
  /** Parent task id for a subtask, else null. */
  parentId: string | null;
}

function importTag(tag: string, data: Tag, skipped: SkippedItem[]): ImportedSprint | null {
  const where = `tag "${tag}"`;
  const metadata = data.metadata ?? data.meta;
  const goal = isObject(metadata) && typeof metadata.description === 'string' ? metadata.description.trim() : '';
  const sprintKey = `tm/${tag}`;

  const known = new Set<string>();
  const pending: Pending[] = [];
  const imported: ImportedTask[] = [];

  for (const raw of data.tasks) {
    const id = raw.id;
    if (known.has(id)) fail(`duplicate task id ${id} in ${where}`);
    known.add(id);
    const { status, note } = mapStatus(raw.status);
    const task: ImportedTask = {
      key: `${sprintKey}/${id}`,
      title: raw.title,
      description: describe({ description: raw.description, details: raw.details, testStrategy: raw.testStrategy, note }),
      status,
      priority: mapPriority(raw.priority ?? ''),
      estimate: null,
      estimateUnit: 'hours',
      checkpoints: [],
      dependsOn: [],
      children: [],
    };
    pending.push({ task, ref: id, deps: raw.dependencies, parentId: null });

    for (const rawSub of raw.subtasks) {
      const ref = `${id}.${rawSub.id}`;
      if (known.has(ref)) fail(`duplicate subtask id ${ref} in ${where}`);
      known.add(ref);
      const sub = mapStatus(rawSub.status);
      const child: ImportedTask = {
        key: `${sprintKey}/${ref}`,
        title: rawSub.title,
        description: describe({ description: rawSub.description, details: rawSub.details, testStrategy: rawSub.testStrategy, note: sub.note }),
        status: sub.status,
        priority: rawSub.priority === undefined ? task.priority : mapPriority(rawSub.priority),
        estimate: null,
        estimateUnit: 'hours',
        checkpoints: [],
        dependsOn: [],
        children: [],
      };
      task.children.push(child);
      pending.push({ task: child, ref, deps: rawSub.dependencies, parentId: id });
    }
    imported.push(task);
  }

  for (const item of pending) {
    const seen = new Set<string>();
    for (const dep of item.deps) {
      const target = resolveDependency(dep, item.parentId, known);
      const text = `${item.task.title} (${item.ref}) → ${String(dep)}`;
      if (target === null) {
        skipped.push({ line: null, text, reason: `dependency on unknown task ${String(dep)} in ${where}` });
      } else if (target === item.ref) {
        skipped.push({ line: null, text, reason: `task ${item.ref} depends on itself` });
      } else if (!seen.has(target)) {
        seen.add(target);
        item.task.dependsOn.push(`${sprintKey}/${target}`);
      }
    }
  }

  if (imported.length === 0) {
    skipped.push({ line: null, text: `tag "${tag}"`, reason: 'tag has no tasks' });
    return null;
  }
  return { key: sprintKey, name: tag, goal, tasks: imported };
}

/** The `12` / `12.3` reference a dependency names, or null when no such task exists in the tag. */
function resolveDependency(dep: number | string, parentId: string | null, known: ReadonlySet<string>): string | null {
  const text = String(dep).trim();
  if (/^\d+\.\d+$/.test(text)) {
    const [task, sub] = text.split('.');
    const ref = `${Number(task)}.${Number(sub)}`;
    return known.has(ref) ? ref : null;
  }
  if (!/^\d+$/.test(text)) return null;
  const id = String(Number(text));
  if (parentId !== null && known.has(`${parentId}.${id}`)) return `${parentId}.${id}`;
  return known.has(id) ? id : null;
}

/**
 * Imports a Task Master `tasks.json` (tagged or legacy). `source` names where the text came from.
 * Throws an Error naming the problem when the text is not JSON or not a Task Master file.
 */
export function importTaskMaster(json: string, source: string): ImportedPlan {
  let data: unknown;
  try {
    data = JSON.parse(json.replace(/^\uFEFF/, ''));
  } catch (error) {
    fail(`not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(data)) fail('expected an object with tags (or a "tasks" array) at the top level');

  const skipped: SkippedItem[] = [];
  const sprints: ImportedSprint[] = [];
  let title: string | null = null;

  // Legacy single-list format (a tag that happens to be named "tasks" is an object holding "tasks").
  if ('tasks' in data && !(isObject(data.tasks) && 'tasks' in data.tasks)) {
    const sprint = importTag(LEGACY_TAG, readTag(data, ''), skipped);
    if (sprint) sprints.push(sprint);
    const meta = isObject(data.meta) ? data.meta : isObject(data.metadata) ? data.metadata : null;
    if (meta && typeof meta.projectName === 'string' && meta.projectName.trim()) title = meta.projectName.trim();
  } else {
    const tags = Object.keys(data);
    if (tags.length === 0) fail('no tags found (expected e.g. { "master": { "tasks": [...] } })');
    for (const tag of tags) {
      const sprint = importTag(tag, readTag(data[tag], issuePath([tag])), skipped);
      if (sprint) sprints.push(sprint);
    }
  }

  return { source, format: 'taskmaster', title, sprints, backlog: [], skipped };
}
