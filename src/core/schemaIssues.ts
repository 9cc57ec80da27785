/**
 * Readable messages from `zod` validation issues, for the shapes Baton reads from settings and files
 * (workflow rules, profiles, Task Master's tasks.json, handoff packs). Pure: no I/O.
 */
import type { z } from 'zod';

/**
 * A zod issue path written as a person would: `tasks[3].dependencies[0]` (numbers as `[n]`, keys
 * dotted, a key that is not a plain identifier quoted as `["my key"]`), after `root` when given.
 */
export function issuePath(path: readonly PropertyKey[], root = ''): string {
  let out = root;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

/** How a value reads in an error: `null`, `an array`, `an object`, `a string`, `a number`, … */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/**
 * The issues of a failed `safeParse` as `path: message` lines, joined by `; `, e.g. `tasks[3].dependencies[0]: expected a number or string,
 * got an object`. Messages set on the schema are kept as they are.
 */
export function readableZodError(error: z.ZodError, root = ''): string {
  return error.issues.map(issue => {
    const where = issuePath(issue.path, root);
    const message = issue.message.replace(/^Invalid input: /, '');
    return where ? `${where}: ${message}` : message;
  }).join('; ');
}
