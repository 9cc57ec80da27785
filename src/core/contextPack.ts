/**
 * Work context that agents save so that another session, possibly of another CLI (Claude Code,
 * Gemini CLI, Codex, …), can resume the task: validated, packed to a size budget, merged when an
 * agent saves incrementally, parsed back from a handoff pack, and rendered as markdown for people.
 *
 * Sizes are in bytes: the UTF-8 length of `JSON.stringify(context)` (no spaces). Lengths of
 * strings are in characters, i.e. Unicode code points (an emoji is one character; strings are
 * never cut inside a surrogate pair).
 *
 * Packing rules ({@link packContext}), Baton's own, in this order:
 * 0. Always: a string that looks like a log or a file dump — more than
 *    {@link DUMP_MAX_CHARS} (2000) characters or more than {@link DUMP_MAX_LINES} (40) lines —
 *    is replaced by a summary such as `[omitted: 1234 lines of text, 56789 chars]`. Whole files and
 *    logs never go into a pack, whatever the budget.
 * Then, only while the context is over the budget, each step going only as far as needed:
 * 1. Long strings are truncated with `…`, longest first: `currentTask` to
 *    {@link CURRENT_TASK_MAX_CHARS} (300) characters, every other string (list items, decisions,
 *    custom facts, decision keys) to {@link ITEM_MAX_CHARS} (500). `notes` has its own step (4).
 * 2. The oldest `stepsDone` are dropped, down to the newest {@link STEPS_KEPT} (5).
 * 3. `files` beyond the first {@link FILES_KEPT} (10) are dropped, last first.
 * 4. `notes` is truncated with `…`, down to {@link NOTES_MIN_CHARS} (200) characters.
 * 5. Custom extra keys are dropped, largest first (by serialized size; ties by key name).
 * 6. Last resort, when the kept fields alone exceed the budget: the remaining `files`, then `notes`
 *    (truncated further, then removed), the remaining `stepsDone` (oldest first), the oldest
 *    `decisions`, the last `openQuestions`, the last `nextSteps`, and finally `currentTask`
 *    (truncated, then removed). `{}` always fits.
 * Empty lists (`files: []`) and empty `decisions` carry nothing and are left out of a pack.
 * So `currentTask`, `nextSteps`, `openQuestions` and `decisions` are kept first, then the newest
 * `stepsDone`; older steps, files past the first ten, long notes and custom keys go before them. Every replacement, truncation or removal is
 * reported in `dropped` (field, count, reason). The result is deterministic and never exceeds the
 * budget; packing a packed context again with the same budget changes nothing.
 *
 * Secrets: this module does not redact. Redact first (`redaction.ts`), then pack, so that the
 * markers' length is counted in the budget.
 *
 * Pure: no I/O.
 */
import { z } from 'zod';
import { invalid } from './errors';
import { issuePath } from './schemaIssues';

/** What an agent saves; every field optional; extra keys hold small custom facts. */
export interface WorkContext {
  /** One-line statement of the task being worked. */
  currentTask?: string;
  /** Summaries of steps done, newest last. */
  stepsDone?: string[];
  /** Next steps, in order. */
  nextSteps?: string[];
  /** Decisions taken: a list, or a map of decision → why. */
  decisions?: { decision: string; why?: string }[] | Record<string, string>;
  openQuestions?: string[];
  /** Paths touched (names only, never contents). */
  files?: string[];
  /** Free-text summary. */
  notes?: string;
  /** Small custom facts: strings, numbers, booleans, null, short arrays and objects of these. */
  [extra: string]: unknown;
}

/** One thing that packing replaced, truncated or removed. */
export interface DroppedItem {
  /** Top-level field of the context (`stepsDone`, `notes`, or a custom key). */
  field: string;
  /** How many items or strings of that field were affected. */
  count: number;
  /** What was done and why, e.g. `oldest steps dropped to fit 4096 bytes`. */
  reason: string;
}

/** A work context packed to a budget: the form stored and handed from one agent to another. */
export interface PackedContext {
  version: 1;
  context: WorkContext;
  /** UTF-8 byte length of `JSON.stringify(context)`; never more than `budget`. */
  bytes: number;
  /** The budget in bytes it was packed to. */
  budget: number;
  dropped: DroppedItem[];
  /** True when anything was replaced, truncated or dropped (`dropped` is not empty). */
  truncated: boolean;
}

export const DEFAULT_CONTEXT_BUDGET = 4096;
/** Smallest budget accepted, in bytes. */
export const MIN_CONTEXT_BUDGET = 64;
/** A string longer than this (in characters) is a dump and is replaced by a summary. */
export const DUMP_MAX_CHARS = 2000;
/** A string of more lines than this is a dump and is replaced by a summary. */
export const DUMP_MAX_LINES = 40;
export const CURRENT_TASK_MAX_CHARS = 300;
export const ITEM_MAX_CHARS = 500;
export const STEPS_KEPT = 5;
export const FILES_KEPT = 10;
export const NOTES_MIN_CHARS = 200;
/** Custom facts may nest objects and arrays this deep at most. */
export const MAX_EXTRA_DEPTH = 32;

const ELLIPSIS = '…';
const LIST_FIELDS = ['stepsDone', 'nextSteps', 'openQuestions', 'files'] as const;
/** Output order of the known fields; custom keys follow in their input order. */
const KNOWN_ORDER = ['currentTask', 'stepsDone', 'nextSteps', 'decisions', 'openQuestions', 'files', 'notes'] as const;
const KNOWN = new Set<string>(KNOWN_ORDER);
const PACK_KEYS = new Set(['version', 'context', 'bytes', 'budget', 'dropped', 'truncated']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Decisions = { decision: string; why?: string }[] | Record<string, string>;

/** A validated, copied context: known fields typed, custom keys in input order. */
interface Normalized {
  currentTask?: string;
  stepsDone?: string[];
  nextSteps?: string[];
  decisions?: Decisions;
  openQuestions?: string[];
  files?: string[];
  notes?: string;
  extras: [string, Json][];
}

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
const jsonBytes = (value: unknown): number => utf8Bytes(JSON.stringify(value));

function charCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The first `chars` characters (code points) of `text`, as a UTF-16 index. */
function codePointIndex(text: string, chars: number): number {
  let i = 0;
  for (let n = 0; n < chars && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i;
}

/** `text` cut to at most `max` characters, the last being `…`; unchanged when it is short enough. */
function truncate(text: string, max: number): string {
  if (text.length <= max || codePointIndex(text, max) >= text.length) return text;
  if (max <= 1) return max === 1 ? ELLIPSIS : '';
  return text.slice(0, codePointIndex(text, max - 1)) + ELLIPSIS;
}

/** Whether `text` has more than `max` characters (looks at no more than `max + 1` of them). */
const longerThan = (text: string, max: number): boolean => text.length > max && codePointIndex(text, max) < text.length;

function lineCount(text: string): number {
  if (!text) return 0;
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n - 1 : n;
}

/** The summary that replaces a dump, or null when `text` is not one. */
function dumpSummary(text: string): string | null {
  const lines = lineCount(text);
  if (lines <= DUMP_MAX_LINES && !longerThan(text, DUMP_MAX_CHARS)) return null;
  const chars = charCount(text);
  return `[omitted: ${lines} ${lines === 1 ? 'line' : 'lines'} of text, ${chars} chars]`;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(where: string, message: string): never {
  throw invalid(`Invalid work context: ${where} ${message}`);
}

function checkKey(key: string, where: string): void {
  if (key === '__proto__') fail(`${where}.__proto__`, 'is not allowed as a key');
}

/** `got <what>` for zod messages, as {@link describe} says it (`got number`, `got an array`). */
const got = (issue: { input?: unknown }) => `got ${describe(issue.input)}`;
const text = z.string({ error: issue => `must be a string, ${got(issue)}` });
const StringList = z.array(text, { error: issue => `must be an array of strings, ${got(issue)}` });
const DecisionItem = z.strictObject({ decision: text, why: text.optional() }, {
  error: issue => (issue.code === 'unrecognized_keys' ? 'is not allowed (a decision has only "decision" and "why")' : `must be an object { decision, why? }, ${got(issue)}`),
});
const DecisionList = z.array(DecisionItem);
const DecisionMap = z.record(z.string(), text);

/**
 * `schema.parse(value)`, or a BatonError naming the first bad field under `where`
 * (`context.stepsDone[1] must be a string, got number`; an unknown key is named itself).
 */
function check<T>(schema: z.ZodType<T>, value: unknown, where: string, failWith: (where: string, message: string) => never = fail): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  return failWith(issuePath(path, where), issue.message);
}

/** A copy of `value` without the keys whose value is undefined (they are ignored everywhere). */
function defined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function decisionsOf(value: unknown, where: string): Decisions {
  if (Array.isArray(value)) return check(DecisionList, value.map(item => (isPlainObject(item) ? defined(item) : item)), where);
  if (isPlainObject(value)) {
    for (const key of Object.keys(value)) checkKey(key, where);
    return check(DecisionMap, defined(value), where);
  }
  fail(where, `must be an array of { decision, why? } or an object of decision → why, got ${describe(value)}`);
}

/** A copy of a custom fact, validated as JSON: finite numbers, no functions, no cycles. */
function jsonOf(value: unknown, where: string, depth: number, ancestors: Set<object>): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) fail(where, `must be a finite number, got ${value}`);
      return value;
    case 'function':
      fail(where, 'is a function (only strings, numbers, booleans, null, arrays and objects are allowed)');
    case 'symbol':
    case 'bigint':
    case 'undefined':
      fail(where, `is ${typeof value} (only strings, numbers, booleans, null, arrays and objects are allowed)`);
  }
  if (value === null) return null;
  if (ancestors.has(value as object)) fail(where, 'is cyclic (it contains itself)');
  if (depth >= MAX_EXTRA_DEPTH) fail(where, `nests deeper than ${MAX_EXTRA_DEPTH} levels`);
  ancestors.add(value as object);
  try {
    if (Array.isArray(value)) return value.map((item, i) => jsonOf(item, `${where}[${i}]`, depth + 1, ancestors));
    if (!isPlainObject(value)) fail(where, `must be a plain object, got ${Object.prototype.toString.call(value)}`);
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value)) {
      checkKey(key, where);
      if (value[key] === undefined) continue;
      out[key] = jsonOf(value[key], `${where}.${key}`, depth + 1, ancestors);
    }
    return out;
  } finally {
    ancestors.delete(value as object);
  }
}

/** Validates and copies a work context; `where` names it in errors (`context`, `older`). */
function normalize(input: unknown, where: string): Normalized {
  if (!isPlainObject(input)) fail(where, `must be an object, got ${describe(input)}`);
  const out: Normalized = { extras: [] };
  for (const key of Object.keys(input)) {
    checkKey(key, where);
    const value = input[key];
    if (value === undefined) continue;
    const at = `${where}.${key}`;
    switch (key) {
      case 'currentTask':
      case 'notes':
        out[key] = check(text, value, at);
        break;
      case 'stepsDone':
      case 'nextSteps':
      case 'openQuestions':
      case 'files':
        out[key] = check(StringList, value, at);
        break;
      case 'decisions':
        out.decisions = decisionsOf(value, at);
        break;
      default:
        out.extras.push([key, jsonOf(value, at, 0, new Set())]);
    }
  }
  return out;
}

/** The WorkContext of a normalized context: known fields in {@link KNOWN_ORDER}, then custom keys. */
function toContext(n: Normalized): WorkContext {
  const out: WorkContext = {};
  for (const key of KNOWN_ORDER) if (n[key] !== undefined) out[key] = n[key] as never;
  for (const [key, value] of n.extras) out[key] = value;
  return out;
}

/** Empty lists and empty decisions carry nothing and are left out of a pack. */
function withoutEmpty(n: Normalized): Normalized {
  for (const field of LIST_FIELDS) if (n[field]?.length === 0) n[field] = undefined;
  if (n.decisions && (Array.isArray(n.decisions) ? n.decisions.length : Object.keys(n.decisions).length) === 0) n.decisions = undefined;
  return n;
}

/**
 * A copy of the containers that packing changes (lists, decisions, the extras list); strings and
 * custom values are shared, as packing never mutates them (it maps them to new values).
 */
function cloneNormalized(n: Normalized): Normalized {
  const out: Normalized = { ...n, extras: n.extras.map(([key, value]) => [key, value]) };
  for (const field of LIST_FIELDS) if (n[field]) out[field] = n[field]!.slice();
  if (n.decisions) out.decisions = Array.isArray(n.decisions) ? n.decisions.map(d => ({ ...d })) : { ...n.decisions };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------

/** Applies `fn` to every string of a JSON value (object keys excluded), returning a copy. */
function mapStrings(value: Json, fn: (s: string) => string): Json {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map(v => mapStrings(v, fn));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value)) out[key] = mapStrings(value[key], fn);
    return out;
  }
  return value;
}

/** Every string of a normalized context, with the top-level field it belongs to. */
function forEachString(n: Normalized, fn: (field: string, s: string, set: (v: string) => void) => void): void {
  if (n.currentTask !== undefined) fn('currentTask', n.currentTask, v => (n.currentTask = v));
  if (n.notes !== undefined) fn('notes', n.notes, v => (n.notes = v));
  for (const field of LIST_FIELDS) {
    const list = n[field];
    if (list) list.forEach((s, i) => fn(field, s, v => (list[i] = v)));
  }
  if (Array.isArray(n.decisions)) {
    for (const d of n.decisions) {
      fn('decisions', d.decision, v => (d.decision = v));
      if (d.why !== undefined) fn('decisions', d.why, v => (d.why = v));
    }
  } else if (n.decisions) {
    const record = n.decisions;
    const rebuilt: Record<string, string> = {};
    let changedKeys = false;
    for (const key of Object.keys(record)) {
      let k = key;
      fn('decisions', key, v => {
        k = v;
        changedKeys = true;
      });
      fn('decisions', record[key], v => (record[key] = v));
      if (!(k in rebuilt)) rebuilt[k] = record[key];
    }
    if (changedKeys) n.decisions = rebuilt;
  }
  n.extras = n.extras.map(([key, value]) => [key, mapStrings(value, s => {
    let out = s;
    fn(key, s, v => (out = v));
    return out;
  })]);
}

/** Step 0: dumps replaced by summaries, counted per field. */
function replaceDumps(n: Normalized): Map<string, number> {
  const counts = new Map<string, number>();
  forEachString(n, (field, s, set) => {
    const summary = dumpSummary(s);
    if (summary === null) return;
    set(summary);
    counts.set(field, (counts.get(field) ?? 0) + 1);
  });
  return counts;
}

interface Plan {
  /** Step 1: how many of the long strings (longest first) are truncated. */
  truncated: number;
  /** Step 2: oldest stepsDone dropped. */
  stepsDropped: number;
  /** Steps 3 and 6: files kept (from the first). */
  filesKept: number;
  /** Steps 4 and 6: notes cut to this many characters (0: removed); undefined: untouched. */
  notesChars?: number;
  /** Step 5: custom keys dropped, in the largest-first order. */
  extrasDropped: number;
  /** Step 6. */
  decisionsDropped: number;
  openQuestionsKept: number;
  nextStepsKept: number;
  currentTaskChars?: number;
}

/** A string that step 1 may truncate: its field, its length and its rank in traversal order. */
interface LongString {
  field: string;
  chars: number;
  order: number;
}

class Packer {
  readonly base: Normalized;
  /** The strings longer than their limit, longest first (ties: traversal order). */
  readonly longStrings: LongString[] = [];
  /** Custom keys in the order step 5 drops them (set by step 5). */
  extrasOrder: string[] = [];

  constructor(base: Normalized, readonly budget: number) {
    this.base = base;
    let order = 0;
    forEachString(cloneNormalized(base), (field, s) => {
      const max = field === 'currentTask' ? CURRENT_TASK_MAX_CHARS : field === 'notes' ? Infinity : ITEM_MAX_CHARS;
      const chars = charCount(s);
      if (chars > max) this.longStrings.push({ field, chars, order });
      order++;
    });
    this.longStrings.sort((a, b) => b.chars - a.chars || a.order - b.order);
  }

  /** Traversal ranks of the strings to truncate when `count` are: the `count` longest. */
  private truncatedOrders(count: number): Set<number> {
    return new Set(this.longStrings.slice(0, count).map(s => s.order));
  }

  build(plan: Plan): WorkContext {
    const n = cloneNormalized(this.base);
    if (plan.truncated > 0) {
      const cut = this.truncatedOrders(plan.truncated);
      let order = 0;
      forEachString(n, (field, s, set) => {
        if (cut.has(order)) set(truncate(s, field === 'currentTask' ? CURRENT_TASK_MAX_CHARS : ITEM_MAX_CHARS));
        order++;
      });
    }
    if (n.stepsDone && plan.stepsDropped > 0) n.stepsDone = n.stepsDone.slice(plan.stepsDropped);
    if (n.files) n.files = n.files.slice(0, plan.filesKept);
    if (n.notes !== undefined && plan.notesChars !== undefined) n.notes = plan.notesChars > 0 ? truncate(n.notes, plan.notesChars) : undefined;
    if (plan.extrasDropped > 0) {
      const gone = new Set(this.extrasOrder.slice(0, plan.extrasDropped));
      n.extras = n.extras.filter(([key]) => !gone.has(key));
    }
    if (n.decisions && plan.decisionsDropped > 0) {
      n.decisions = Array.isArray(n.decisions)
        ? n.decisions.slice(plan.decisionsDropped)
        : Object.fromEntries(Object.entries(n.decisions).slice(plan.decisionsDropped));
    }
    if (n.openQuestions) n.openQuestions = n.openQuestions.slice(0, plan.openQuestionsKept);
    if (n.nextSteps) n.nextSteps = n.nextSteps.slice(0, plan.nextStepsKept);
    if (n.currentTask !== undefined && plan.currentTaskChars !== undefined) {
      n.currentTask = plan.currentTaskChars > 0 ? truncate(n.currentTask, plan.currentTaskChars) : undefined;
    }
    return toContext(withoutEmpty(n));
  }

  decisionsCount(): number {
    const d = this.base.decisions;
    return d ? (Array.isArray(d) ? d.length : Object.keys(d).length) : 0;
  }

  bytes(plan: Plan): number {
    return jsonBytes(this.build(plan));
  }

  fits(plan: Plan): boolean {
    return this.bytes(plan) <= this.budget;
  }

  /**
   * The smallest value in [lo, hi] of a plan parameter for which the context fits (`hi` when none
   * does), given that bytes never increase as the parameter grows (binary search).
   */
  least(plan: Plan, lo: number, hi: number, set: (p: Plan, v: number) => Plan): number {
    if (lo >= hi || this.fits(set(plan, lo))) return lo;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.fits(set(plan, mid))) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The largest value in [lo, hi] for which it fits (`lo` when none does); bytes grow with it. */
  most(plan: Plan, lo: number, hi: number, set: (p: Plan, v: number) => Plan): number {
    if (lo >= hi || this.fits(set(plan, hi))) return hi;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.fits(set(plan, mid))) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function checkBudget(budget: unknown, where: string): number {
  if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < MIN_CONTEXT_BUDGET) {
    throw invalid(`Invalid ${where}: must be an integer number of bytes >= ${MIN_CONTEXT_BUDGET}, got ${typeof budget === 'number' ? budget : describe(budget)}`);
  }
  return budget;
}

/**
 * Validates a work context and packs it to `budgetBytes` (see the module doc for the rules and
 * their order).
 *
 * @param input a {@link WorkContext}: a plain object whose known fields have their declared types
 *   and whose custom keys hold JSON values (strings, finite numbers, booleans, null, arrays, plain
 *   objects; at most {@link MAX_EXTRA_DEPTH} levels deep). Keys whose value is `undefined` are
 *   ignored.
 * @param budgetBytes the largest UTF-8 byte length of `JSON.stringify(context)`; an integer
 *   >= {@link MIN_CONTEXT_BUDGET}; default {@link DEFAULT_CONTEXT_BUDGET}.
 * @returns a new {@link PackedContext} (the input is not modified); `bytes <= budget` always.
 * @throws BatonError (INVALID_ARGUMENT) naming the bad field, e.g. `context.stepsDone[3] must be a
 *   string, got number`, for a non-object, a wrong type, a function, a cycle, a non-finite number or
 *   a bad budget.
 */
export function packContext(input: unknown, budgetBytes: number = DEFAULT_CONTEXT_BUDGET): PackedContext {
  const budget = checkBudget(budgetBytes, 'budgetBytes');
  const base = normalize(input, 'context');
  const dropped: DroppedItem[] = [];
  const fitText = `to fit ${budget} bytes`;

  for (const [field, count] of replaceDumps(base)) {
    dropped.push({ field, count, reason: `log or file dump replaced by a summary (text over ${DUMP_MAX_CHARS} chars or ${DUMP_MAX_LINES} lines is never kept)` });
  }

  const packer = new Packer(base, budget);
  const count = (list?: readonly unknown[]) => list?.length ?? 0;
  let plan: Plan = {
    truncated: 0,
    stepsDropped: 0,
    filesKept: count(base.files),
    extrasDropped: 0,
    decisionsDropped: 0,
    openQuestionsKept: count(base.openQuestions),
    nextStepsKept: count(base.nextSteps),
  };

  if (!packer.fits(plan)) {
    // 1. long strings, longest first
    plan = { ...plan, truncated: packer.least(plan, 0, packer.longStrings.length, (p, v) => ({ ...p, truncated: v })) };
    const cut = packer.longStrings.slice(0, plan.truncated);
    const perField = new Map<string, number>();
    for (const s of cut) perField.set(s.field, (perField.get(s.field) ?? 0) + 1);
    for (const [field, n] of perField) {
      const max = field === 'currentTask' ? CURRENT_TASK_MAX_CHARS : ITEM_MAX_CHARS;
      dropped.push({ field, count: n, reason: `long text truncated to ${max} chars ${fitText}` });
    }

    // 2. oldest steps, down to the newest STEPS_KEPT
    const steps = count(base.stepsDone);
    plan = { ...plan, stepsDropped: packer.least(plan, 0, Math.max(0, steps - STEPS_KEPT), (p, v) => ({ ...p, stepsDropped: v })) };
    if (plan.stepsDropped) dropped.push({ field: 'stepsDone', count: plan.stepsDropped, reason: `oldest steps dropped ${fitText}` });

    // 3. files beyond the first FILES_KEPT
    const files = count(base.files);
    const filesFloor = Math.min(FILES_KEPT, files);
    plan = { ...plan, filesKept: packer.most(plan, filesFloor, files, (p, v) => ({ ...p, filesKept: v })) };
    if (plan.filesKept < files) dropped.push({ field: 'files', count: files - plan.filesKept, reason: `files beyond the first ${FILES_KEPT} dropped ${fitText}` });

    // 4. notes, down to NOTES_MIN_CHARS
    const notesChars = base.notes === undefined ? 0 : charCount(base.notes);
    // one entry for notes, placed where notes were first cut, its reason set at the end
    const notesEntry: DroppedItem = { field: 'notes', count: 1, reason: '' };
    if (notesChars > NOTES_MIN_CHARS && !packer.fits(plan)) {
      plan = { ...plan, notesChars: packer.most(plan, NOTES_MIN_CHARS, notesChars, (p, v) => ({ ...p, notesChars: v })) };
      if (plan.notesChars! < notesChars) dropped.push(notesEntry);
    }

    // 5. custom keys, largest first
    if (base.extras.length && !packer.fits(plan)) {
      const current = packer.build(plan);
      const sized = base.extras.map(([key]) => ({ key, bytes: jsonBytes({ [key]: current[key] }) }));
      sized.sort((a, b) => b.bytes - a.bytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      packer.extrasOrder = sized.map(s => s.key);
      plan = { ...plan, extrasDropped: packer.least(plan, 0, sized.length, (p, v) => ({ ...p, extrasDropped: v })) };
      for (const s of sized.slice(0, plan.extrasDropped)) {
        dropped.push({ field: s.key, count: 1, reason: `custom key dropped (largest first, ${s.bytes} bytes) ${fitText}` });
      }
    }

    // 6. last resort
    if (!packer.fits(plan)) {
      const keptFiles = plan.filesKept;
      plan = { ...plan, filesKept: packer.most(plan, 0, keptFiles, (p, v) => ({ ...p, filesKept: v })) };
      if (plan.filesKept < keptFiles) dropped.push({ field: 'files', count: keptFiles - plan.filesKept, reason: `remaining files dropped ${fitText}` });
    }
    if (base.notes !== undefined && !packer.fits(plan)) {
      const from = plan.notesChars ?? notesChars;
      plan = { ...plan, notesChars: packer.most(plan, 0, Math.min(from, NOTES_MIN_CHARS), (p, v) => ({ ...p, notesChars: v })) };
    }
    if (plan.notesChars !== undefined && plan.notesChars < notesChars) {
      notesEntry.reason = plan.notesChars === 0 ? `notes dropped ${fitText}` : `notes truncated from ${notesChars} to ${plan.notesChars} chars ${fitText}`;
      if (!dropped.includes(notesEntry)) dropped.push(notesEntry);
    }
    if (!packer.fits(plan)) {
      const before = plan.stepsDropped;
      plan = { ...plan, stepsDropped: packer.least(plan, before, steps, (p, v) => ({ ...p, stepsDropped: v })) };
      if (plan.stepsDropped > before) dropped.push({ field: 'stepsDone', count: plan.stepsDropped - before, reason: `remaining steps dropped, oldest first, ${fitText}` });
    }
    if (!packer.fits(plan)) {
      const decisions = packer.decisionsCount();
      plan = { ...plan, decisionsDropped: packer.least(plan, 0, decisions, (p, v) => ({ ...p, decisionsDropped: v })) };
      if (plan.decisionsDropped) dropped.push({ field: 'decisions', count: plan.decisionsDropped, reason: `oldest decisions dropped ${fitText}` });
    }
    if (!packer.fits(plan)) {
      const questions = count(base.openQuestions);
      plan = { ...plan, openQuestionsKept: packer.most(plan, 0, questions, (p, v) => ({ ...p, openQuestionsKept: v })) };
      if (plan.openQuestionsKept < questions) dropped.push({ field: 'openQuestions', count: questions - plan.openQuestionsKept, reason: `last open questions dropped ${fitText}` });
    }
    if (!packer.fits(plan)) {
      const next = count(base.nextSteps);
      plan = { ...plan, nextStepsKept: packer.most(plan, 0, next, (p, v) => ({ ...p, nextStepsKept: v })) };
      if (plan.nextStepsKept < next) dropped.push({ field: 'nextSteps', count: next - plan.nextStepsKept, reason: `last next steps dropped ${fitText}` });
    }
    if (base.currentTask !== undefined && !packer.fits(plan)) {
      const chars = Math.min(charCount(base.currentTask), CURRENT_TASK_MAX_CHARS);
      plan = { ...plan, currentTaskChars: packer.most(plan, 0, chars, (p, v) => ({ ...p, currentTaskChars: v })) };
      dropped.push({
        field: 'currentTask',
        count: 1,
        reason: plan.currentTaskChars ? `current task truncated to ${plan.currentTaskChars} chars ${fitText}` : `current task dropped ${fitText}`,
      });
    }
  }

  const context = packer.build(plan);
  const bytes = jsonBytes(context);
  if (bytes > budget) throw new Error(`packContext: internal error, ${bytes} bytes packed for a budget of ${budget}`);
  return { version: 1, context, bytes, budget, dropped, truncated: dropped.length > 0 };
}

// ---------------------------------------------------------------------------------------------
// Handoff packs
// ---------------------------------------------------------------------------------------------

function packFail(field: string, message: string): never {
  throw invalid(`Invalid handoff pack: ${field} ${message}`);
}

const wholeNumber = (what: string) => z.number({ error: issue => `must be ${what}, ${got(issue)}` });
/** The envelope of a {@link PackedContext} (its `context` is checked by {@link packContext}). */
const PackEnvelope = z.object({
  version: z.literal(1, {
    error: issue => `must be 1 (this Baton reads handoff packs of version 1), got ${JSON.stringify(issue.input) ?? describe(issue.input)}`,
  }),
  context: z.custom<Record<string, unknown>>(isPlainObject, { error: issue => `must be an object, ${got(issue)}` }),
  budget: wholeNumber(`an integer number of bytes >= ${MIN_CONTEXT_BUDGET}`)
    .int({ error: issue => `must be an integer number of bytes >= ${MIN_CONTEXT_BUDGET}, got ${String(issue.input)}` })
    .min(MIN_CONTEXT_BUDGET, { error: issue => `must be an integer number of bytes >= ${MIN_CONTEXT_BUDGET}, got ${String(issue.input)}` })
    .optional(),
  bytes: wholeNumber('a number of bytes').min(0, { error: 'must be a number of bytes, got a negative number' }).optional(),
  truncated: z.boolean({ error: issue => `must be a boolean, ${got(issue)}` }).optional(),
  dropped: z.array(
    z.object({
      field: text,
      count: wholeNumber('a whole number >= 0')
        .int({ error: issue => `must be a whole number >= 0, got ${String(issue.input)}` })
        .min(0, { error: issue => `must be a whole number >= 0, got ${String(issue.input)}` }),
      reason: text,
    }, { error: issue => `must be an object { field, count, reason }, ${got(issue)}` }),
    { error: issue => `must be an array, ${got(issue)}` },
  ).optional(),
});

/**
 * Reads a handoff pack written by any agent or profile, and returns it validated and packed.
 *
 * @param input a {@link PackedContext} — as an object or as its JSON text — or a plain
 *   {@link WorkContext}, which is then packed with {@link DEFAULT_CONTEXT_BUDGET}. An object is read
 *   as a PackedContext when it has `version` and `context` and no keys other than those of a
 *   PackedContext (`version`, `context`, `bytes`, `budget`, `dropped`, `truncated`). Of a
 *   PackedContext only `version` (must be 1) and `context` are required; `budget` defaults to
 *   {@link DEFAULT_CONTEXT_BUDGET}; `bytes` is recomputed, never trusted; the context is packed
 *   again to the budget (a writer that overshot it is corrected), and what that drops is added to
 *   the pack's `dropped`.
 * @throws BatonError (INVALID_ARGUMENT) naming the bad field: invalid JSON, an unsupported
 *   `version`, a `context` that is not a valid work context (`context.files[2] must be a string`),
 *   a bad `budget`, `dropped[1].count`, `truncated`, …
 */
export function parseHandoffPack(input: unknown): PackedContext {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw invalid(`Invalid handoff pack: not valid JSON (${(error as Error).message})`);
    }
  }
  if (!isPlainObject(value)) packFail('(the pack)', `must be an object (a packed context or a work context), got ${describe(value)}`);
  const keys = Object.keys(value);
  const isPack = 'version' in value && 'context' in value && keys.every(k => PACK_KEYS.has(k));
  if (!isPack) return packContext(value);

  const pack = check(PackEnvelope, value, '', packFail);
  const budget = pack.budget ?? DEFAULT_CONTEXT_BUDGET;
  const given: DroppedItem[] = (pack.dropped ?? []).map(({ field, count, reason }) => ({ field, count, reason }));
  let repacked: PackedContext;
  try {
    repacked = packContext(value.context, budget);
  } catch (error) {
    throw invalid((error as Error).message.replace(/^Invalid work context:/, 'Invalid handoff pack:'));
  }
  const dropped = [...given, ...repacked.dropped];
  return { ...repacked, dropped, truncated: dropped.length > 0 || pack.truncated === true };
}

// ---------------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------------

/** Concatenation without duplicates, first occurrence kept (order preserved). */
function union<T>(a: readonly T[], b: readonly T[], key: (item: T) => string = item => JSON.stringify(item)): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of [...a, ...b]) {
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}

function mergeJson(older: Json, newer: Json): Json {
  if (Array.isArray(older) && Array.isArray(newer)) return union(older, newer);
  if (older && newer && typeof older === 'object' && typeof newer === 'object' && !Array.isArray(older) && !Array.isArray(newer)) {
    const out: { [key: string]: Json } = { ...older };
    for (const key of Object.keys(newer)) out[key] = key in older ? mergeJson(older[key], newer[key]) : newer[key];
    return out;
  }
  return newer;
}

function decisionList(d: Decisions): { decision: string; why?: string }[] {
  return Array.isArray(d) ? d : Object.entries(d).map(([decision, why]) => ({ decision, why }));
}

function mergeDecisions(older: Decisions, newer: Decisions): Decisions {
  if (!Array.isArray(older) && !Array.isArray(newer)) return { ...older, ...newer };
  // one decision per text: the first position is kept, the newer `why` wins
  const out = new Map<string, { decision: string; why?: string }>();
  for (const d of [...decisionList(older), ...decisionList(newer)]) {
    const previous = out.get(d.decision);
    out.set(d.decision, d.why === undefined && previous ? previous : { ...d });
  }
  return [...out.values()];
}

/**
 * Folds a newer save of an agent's context into the older one (an agent saving incrementally).
 *
 * - Scalars (`currentTask`, `notes`, custom strings/numbers/booleans/null): the newer value wins
 *   when it is present.
 * - Lists (`stepsDone`, `nextSteps`, `openQuestions`, `files`, custom arrays): older then newer,
 *   duplicates removed, first occurrence kept, so `stepsDone` keeps its order. A next step that is
 *   now in `stepsDone` is removed from `nextSteps`.
 * - `decisions`: two maps are merged key by key (newer wins); otherwise lists (a map read as
 *   `{ decision: key, why: value }`) are merged by decision text, newer `why` winning.
 * - Custom objects are merged key by key with these same rules.
 *
 * Pure: returns a new object; the inputs are validated like {@link packContext}'s (errors name
 * `older.…` or `newer.…`) and are not modified. Nothing is packed: pack the result.
 */
export function mergeContexts(older: WorkContext, newer: WorkContext): WorkContext {
  const a = normalize(older, 'older');
  const b = normalize(newer, 'newer');
  const out: Normalized = { extras: [] };
  out.currentTask = b.currentTask ?? a.currentTask;
  out.notes = b.notes ?? a.notes;
  for (const field of LIST_FIELDS) {
    if (a[field] || b[field]) out[field] = union(a[field] ?? [], b[field] ?? [], s => s);
  }
  if (out.nextSteps && out.stepsDone) {
    const done = new Set(out.stepsDone);
    out.nextSteps = out.nextSteps.filter(step => !done.has(step));
  }
  if (a.decisions && b.decisions) out.decisions = mergeDecisions(a.decisions, b.decisions);
  else out.decisions = b.decisions ?? a.decisions;
  const newerExtras = new Map(b.extras);
  for (const [key, value] of a.extras) {
    out.extras.push([key, newerExtras.has(key) ? mergeJson(value, newerExtras.get(key)!) : value]);
    newerExtras.delete(key);
  }
  for (const [key, value] of newerExtras) out.extras.push([key, value]);
  return toContext(out);
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/** A list item's text, its continuation lines indented under the marker. */
function item(text: string, indent: number): string {
  return text.replace(/\r?\n/g, `\n${' '.repeat(indent)}`);
}

function inlineCode(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map(run => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function factLine(key: string, value: unknown): string {
  if (typeof value === 'string') return `- **${key}:** ${item(value, 2)}`;
  const json = JSON.stringify(value);
  if (json.length <= 120) return `- **${key}:** ${inlineCode(json)}`;
  return `- **${key}:**\n\n  \`\`\`json\n${JSON.stringify(value, null, 2).replace(/^/gm, '  ')}\n  \`\`\``;
}

/**
 * Renders a packed context as markdown for people: a `#` title (default `Work context`), the
 * current task, then one `##` section per non-empty field — Next steps, Open questions, Decisions,
 * Steps done, Files, Notes, Other facts (custom keys) — and at the end a "Left out to fit" section
 * listing `dropped`, and the size (`N of M bytes`). Tolerates a pack whose fields are missing.
 */
export function renderContextMarkdown(pack: PackedContext, title?: string): string {
  const c: WorkContext = pack?.context ?? {};
  const out: string[] = [`# ${title?.trim() || 'Work context'}`, ''];
  const section = (heading: string, lines: string[]) => {
    if (lines.length) out.push(`## ${heading}`, '', ...lines, '');
  };
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

  if (typeof c.currentTask === 'string' && c.currentTask) out.push(`**Current task:** ${c.currentTask}`, '');
  section('Next steps', strings(c.nextSteps).map((s, i) => `${i + 1}. ${item(s, 3)}`));
  section('Open questions', strings(c.openQuestions).map(s => `- ${item(s, 2)}`));
  const decisions = Array.isArray(c.decisions)
    ? c.decisions.filter(d => d && typeof d.decision === 'string').map(d => `- ${item(d.decision, 2)}${d.why ? ` — ${item(d.why, 2)}` : ''}`)
    : isPlainObject(c.decisions)
      ? Object.entries(c.decisions).map(([k, v]) => `- **${k}:** ${item(String(v), 2)}`)
      : [];
  section('Decisions', decisions);
  section('Steps done', strings(c.stepsDone).map((s, i) => `${i + 1}. ${item(s, 3)}`));
  section('Files', strings(c.files).map(f => `- ${inlineCode(f)}`));
  if (typeof c.notes === 'string' && c.notes) section('Notes', [c.notes]);
  section('Other facts', Object.keys(c).filter(k => !KNOWN.has(k)).map(k => factLine(k, c[k])));
  if (out.length === 2) out.push('_No context saved._', '');

  const dropped = Array.isArray(pack?.dropped) ? pack.dropped : [];
  section('Left out to fit', dropped.map(d => `- **${d.field}** (${d.count}): ${d.reason}`));
  if (typeof pack?.bytes === 'number' && typeof pack?.budget === 'number') out.push(`_${pack.bytes} of ${pack.budget} bytes._`, '');
  return out.join('\n').replace(/\n+$/, '\n');
}
