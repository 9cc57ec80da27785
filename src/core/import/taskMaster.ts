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
 * Invalid JSON or a wrong shape throws an Error whose message names what is wrong
 * (`tasks.json: expected "tasks" to be an array in tag "master"`). Pure: no I/O.
 */
import type { TaskPriority, TaskStatus } from '../model';
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

function optionalString(obj: Json, field: string, where: string): string {
  const value = obj[field];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') fail(`expected "${field}" to be a string in ${where}`);
  return value.trim();
}

/** Task and subtask ids are numbers in Task Master; numeric strings are accepted too. */
function readId(obj: Json, where: string): string {
  const id = obj.id;
  if (typeof id === 'number' && Number.isInteger(id) && id >= 0) return String(id);
  if (typeof id === 'string' && /^\d+$/.test(id.trim())) return String(Number(id.trim()));
  return fail(`expected "id" to be a number in ${where}`);
}

function readDependencies(obj: Json, where: string): (number | string)[] {
  const deps = obj.dependencies;
  if (deps === undefined || deps === null) return [];
  if (!Array.isArray(deps)) fail(`expected "dependencies" to be an array in ${where}`);
  return deps.map(dep => {
    if (typeof dep === 'number' || typeof dep === 'string') return dep;
    return fail(`expected dependencies to be numbers or strings in ${where}`);
  });
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

function importTag(tag: string, value: unknown, skipped: SkippedItem[]): ImportedSprint | null {
  const where = `tag "${tag}"`;
  if (!isObject(value)) fail(`expected tag "${tag}" to be an object with a "tasks" array`);
  const tasks = value.tasks;
  if (!Array.isArray(tasks)) fail(`expected "tasks" to be an array in ${where}`);
  const metadata = value.metadata ?? value.meta;
  const goal = isObject(metadata) && typeof metadata.description === 'string' ? metadata.description.trim() : '';
  const sprintKey = `tm/${tag}`;

  const known = new Set<string>();
  const pending: Pending[] = [];
  const imported: ImportedTask[] = [];

  tasks.forEach((raw, index) => {
    const at = `task #${index + 1} of ${where}`;
    if (!isObject(raw)) fail(`expected ${at} to be an object`);
    const id = readId(raw, at);
    const taskWhere = `task ${id} of ${where}`;
    if (known.has(id)) fail(`duplicate task id ${id} in ${where}`);
    known.add(id);
    const title = optionalString(raw, 'title', taskWhere);
    if (!title) fail(`expected "title" to be a non-empty string in ${taskWhere}`);
    const { status, note } = mapStatus(optionalString(raw, 'status', taskWhere));
    const task: ImportedTask = {
      key: `${sprintKey}/${id}`,
      title,
      description: describe({
        description: optionalString(raw, 'description', taskWhere),
        details: optionalString(raw, 'details', taskWhere),
        testStrategy: optionalString(raw, 'testStrategy', taskWhere),
        note,
      }),
      status,
      priority: mapPriority(optionalString(raw, 'priority', taskWhere)),
      estimate: null,
      estimateUnit: 'hours',
      checkpoints: [],
      dependsOn: [],
      children: [],
    };
    pending.push({ task, ref: id, deps: readDependencies(raw, taskWhere), parentId: null });

    const subtasks = raw.subtasks ?? [];
    if (!Array.isArray(subtasks)) fail(`expected "subtasks" to be an array in ${taskWhere}`);
    subtasks.forEach((rawSub, subIndex) => {
      const subAt = `subtask #${subIndex + 1} of ${taskWhere}`;
      if (!isObject(rawSub)) fail(`expected ${subAt} to be an object`);
      const subId = readId(rawSub, subAt);
      const ref = `${id}.${subId}`;
      const subWhere = `subtask ${ref} of ${where}`;
      if (known.has(ref)) fail(`duplicate subtask id ${ref} in ${where}`);
      known.add(ref);
      const subTitle = optionalString(rawSub, 'title', subWhere);
      if (!subTitle) fail(`expected "title" to be a non-empty string in ${subWhere}`);
      const sub = mapStatus(optionalString(rawSub, 'status', subWhere));
      const child: ImportedTask = {
        key: `${sprintKey}/${ref}`,
        title: subTitle,
        description: describe({
          description: optionalString(rawSub, 'description', subWhere),
          details: optionalString(rawSub, 'details', subWhere),
          testStrategy: optionalString(rawSub, 'testStrategy', subWhere),
          note: sub.note,
        }),
        status: sub.status,
        priority: rawSub.priority === undefined ? task.priority : mapPriority(optionalString(rawSub, 'priority', subWhere)),
        estimate: null,
        estimateUnit: 'hours',
        checkpoints: [],
        dependsOn: [],
        children: [],
      };
      task.children.push(child);
      pending.push({ task: child, ref, deps: readDependencies(rawSub, subWhere), parentId: id });
    });
    imported.push(task);
  });

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
    const sprint = importTag(LEGACY_TAG, data, skipped);
    if (sprint) sprints.push(sprint);
    const meta = isObject(data.meta) ? data.meta : isObject(data.metadata) ? data.metadata : null;
    if (meta && typeof meta.projectName === 'string' && meta.projectName.trim()) title = meta.projectName.trim();
  } else {
    const tags = Object.keys(data);
    if (tags.length === 0) fail('no tags found (expected e.g. { "master": { "tasks": [...] } })');
    for (const tag of tags) {
      const sprint = importTag(tag, data[tag], skipped);
      if (sprint) sprints.push(sprint);
    }
  }

  return { source, format: 'taskmaster', title, sprints, backlog: [], skipped };
}
