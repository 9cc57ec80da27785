import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CURRENT_TASK_MAX_CHARS,
  DEFAULT_CONTEXT_BUDGET,
  FILES_KEPT,
  ITEM_MAX_CHARS,
  STEPS_KEPT,
  mergeContexts,
  packContext,
  parseHandoffPack,
  renderContextMarkdown,
  type PackedContext,
  type WorkContext,
} from '../../src/core/contextPack';
import { rng } from './helpers/random';

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
const chars = (s: string) => [...s].length;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;


test('packContext: a small context is kept as it is', () => {
  const context: WorkContext = {
    currentTask: 'Add the handoff tool to the MCP server',
    stepsDone: ['schema', 'service'],
    nextSteps: ['tests', 'docs'],
    decisions: [{ decision: 'store packs as JSON', why: 'any CLI can read them' }, { decision: 'no compression' }],
    openQuestions: ['budget per profile?'],
    files: ['src/services/sessionService.ts'],
    notes: 'Half way there 🚀',
    step: 'API done',
    attempts: 2,
    green: false,
    meta: { owner: 'ada', tags: ['mcp', 'handoff'], none: null },
  };
  const pack = packContext(context);
  assert.deepEqual(pack, { version: 1, context, bytes: bytesOf(context), budget: DEFAULT_CONTEXT_BUDGET, dropped: [], truncated: false });
  assert.equal(DEFAULT_CONTEXT_BUDGET, 4096);
  // known fields come first in a fixed order, custom keys after them in their own order
  const shuffled = { zeta: 1, notes: 'n', alpha: 2, currentTask: 't', files: ['f'] };
  assert.deepEqual(Object.keys(packContext(shuffled).context), ['currentTask', 'files', 'notes', 'zeta', 'alpha']);
  // decisions as a map are kept as a map; undefined keys are ignored; empty lists left out
  const p2 = packContext({ decisions: { db: 'sql.js: no native build' }, notes: undefined, files: [] });
  assert.deepEqual(p2.context, { decisions: { db: 'sql.js: no native build' } });
});

test('packContext: logs and file dumps are replaced by a summary whatever the budget', () => {
  const log = Array.from({ length: 120 }, (_, i) => `[build] step ${i} ok`).join('\n');
  const file = 'x'.repeat(2500);
  const pack = packContext({ currentTask: 'fix the build', notes: log, extra: { output: [file, 'short'] }, stepsDone: ['ran tests'] }, 16384);
  assert.equal(pack.context.notes, `[omitted: 120 lines of text, ${log.length} chars]`);
  assert.deepEqual(pack.context.extra, { output: ['[omitted: 1 line of text, 2500 chars]', 'short'] });
  assert.deepEqual(pack.dropped.map(d => [d.field, d.count]), [['notes', 1], ['extra', 1]]);
  assert.match(pack.dropped[0].reason, /dump/);
  assert.equal(pack.truncated, true);
  // 40 lines and 2000 chars are still fine
  const ok = Array.from({ length: 40 }, () => 'y'.repeat(10)).join('\n');
  assert.equal(packContext({ notes: ok }).context.notes, ok);
  assert.equal(packContext({ notes: 'z'.repeat(2000) }).context.notes, 'z'.repeat(2000));
});

test('packContext: over budget, long strings are cut before anything is dropped, longest first', () => {
  const context = {
    currentTask: 'T'.repeat(400),
    stepsDone: ['s'.repeat(1500), 'short step'],
    nextSteps: ['n'.repeat(600)],
  };
  const full = bytesOf(context);
  // just over budget: only the longest string is cut, nothing is dropped
  const pack = packContext(context, full - 10);
  assert.equal(pack.context.stepsDone![0], 's'.repeat(ITEM_MAX_CHARS - 1) + '…');
  assert.equal(pack.context.stepsDone![1], 'short step');
  assert.equal(pack.context.currentTask, context.currentTask);
  assert.deepEqual(pack.dropped, [{ field: 'stepsDone', count: 1, reason: `long text truncated to ${ITEM_MAX_CHARS} chars to fit ${full - 10} bytes` }]);
  // tighter: all three are cut (currentTask to 300), still nothing dropped
  const tight = packContext(context, 1400);
  assert.equal(tight.context.currentTask, 'T'.repeat(CURRENT_TASK_MAX_CHARS - 1) + '…');
  assert.equal(tight.context.nextSteps![0], 'n'.repeat(ITEM_MAX_CHARS - 1) + '…');
  assert.deepEqual(tight.dropped.map(d => [d.field, d.count]), [['stepsDone', 1], ['nextSteps', 1], ['currentTask', 1]]);
  assert.ok(tight.bytes <= 1400);
});

test('packContext: oldest steps go first, newest are kept; priority fields stay whole', () => {
  const stepsDone = Array.from({ length: 200 }, (_, i) => `step ${i}: implemented part ${i} of the feature`);
  const context = {
    currentTask: 'Ship the feature',
    stepsDone,
    nextSteps: ['review', 'release'],
    openQuestions: ['flag name?'],
    decisions: [{ decision: 'behind a flag', why: 'safe rollout' }],
  };
  const pack = packContext(context, 2048);
  assert.ok(pack.bytes <= 2048);
  const kept = pack.context.stepsDone!;
  assert.ok(kept.length >= STEPS_KEPT && kept.length < 200);
  assert.deepEqual(kept, stepsDone.slice(200 - kept.length), 'the newest steps are kept, in order');
  assert.deepEqual(pack.dropped, [{ field: 'stepsDone', count: 200 - kept.length, reason: 'oldest steps dropped to fit 2048 bytes' }]);
  for (const key of ['currentTask', 'nextSteps', 'openQuestions', 'decisions'] as const) assert.deepEqual(pack.context[key], context[key]);
});

test('packContext: then files past the first ten, then notes, then custom keys largest first', () => {
  const context = {
    currentTask: 'Refactor the store',
    stepsDone: Array.from({ length: 8 }, (_, i) => `step ${i}`),
    files: Array.from({ length: 40 }, (_, i) => `src/store/module${i}/index.ts`),
    notes: 'Notes about the refactor. '.repeat(60).trim(),
    small: 'keep me',
    medium: { list: Array.from({ length: 20 }, (_, i) => `item ${i}`) },
    large: { text: 'L'.repeat(480), more: 'M'.repeat(400) },
  };
  const pack = packContext(context, 1000);
  assert.ok(pack.bytes <= 1000, String(pack.bytes));
  assert.deepEqual(pack.context.stepsDone, context.stepsDone.slice(8 - STEPS_KEPT));
  assert.deepEqual(pack.context.files, context.files.slice(0, FILES_KEPT).slice(0, pack.context.files?.length ?? 0));
  const fields = pack.dropped.map(d => d.field);
  assert.deepEqual(fields.slice(0, 4), ['stepsDone', 'files', 'notes', 'large']);
  assert.ok(!('large' in pack.context));
  assert.match(pack.dropped.find(d => d.field === 'notes')!.reason, /notes truncated from 1559 to \d+ chars/);
  assert.ok(pack.context.notes!.endsWith('…'));
  assert.equal(pack.context.small, 'keep me', 'the smallest custom key is the last to go');
});

test('packContext: a tiny budget keeps the current task as long as it can, and always fits', () => {
  const context = {
    currentTask: 'Migrate every 🚀 service to the new queue and verify the dashboards',
    nextSteps: ['a'.repeat(400), 'b'],
    decisions: { queue: 'sqs' },
    notes: 'n'.repeat(300),
  };
  const pack = packContext(context, 64);
  assert.ok(pack.bytes <= 64);
  assert.ok(typeof pack.context.currentTask === 'string' && pack.context.currentTask.endsWith('…'));
  assert.ok(context.currentTask.startsWith(pack.context.currentTask!.slice(0, -1)));
  assert.deepEqual(Object.keys(pack.context), ['currentTask']);
  assert.deepEqual(pack.dropped.map(d => d.field), ['notes', 'decisions', 'nextSteps', 'currentTask']);
  assert.equal(pack.dropped[0].reason, 'notes dropped to fit 64 bytes');
});

test('packContext: validates its input and names the bad field', () => {
  const cases: [unknown, RegExp][] = [
    [null, /context must be an object, got null/],
    [[1, 2], /context must be an object, got an array/],
    ['text', /context must be an object, got string/],
    [{ currentTask: 42 }, /context\.currentTask must be a string, got number/],
    [{ stepsDone: ['ok', 3] }, /context\.stepsDone\[1\] must be a string, got number/],
    [{ files: 'a.ts' }, /context\.files must be an array of strings/],
    [{ decisions: [{ decision: 'x', why: 1 }] }, /context\.decisions\[0\]\.why must be a string/],
    [{ decisions: [{ why: 'no decision' }] }, /context\.decisions\[0\]\.decision must be a string/],
    [{ decisions: [{ decision: 'x', when: 'today' }] }, /context\.decisions\[0\]\.when is not allowed/],
    [{ decisions: { db: 3 } }, /context\.decisions\.db must be a string/],
    [{ decisions: 'sqlite' }, /context\.decisions must be an array/],
    [{ callback: () => 1 }, /context\.callback is a function/],
    [{ deep: { list: [1, { f() {} }] } }, /context\.deep\.list\[1\]\.f is a function/],
    [{ n: NaN }, /context\.n must be a finite number, got NaN/],
    [{ n: { m: Infinity } }, /context\.n\.m must be a finite number, got Infinity/],
    [{ big: 10n }, /context\.big is bigint/],
    [{ list: [undefined] }, /context\.list\[0\] is undefined/],
    [{ when: new Date(0) }, /context\.when must be a plain object/],
    [JSON.parse('{"__proto__": {"x": 1}}'), /__proto__ is not allowed/],
  ];
  for (const [input, message] of cases) assert.throws(() => packContext(input), message, String(message));
  const cyclic: Record<string, unknown> = { a: { b: {} } };
  (cyclic.a as Record<string, Record<string, unknown>>).b.back = cyclic.a;
  assert.throws(() => packContext(cyclic), /context\.a\.b\.back is cyclic/);
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 40; i++) deep = { d: deep };
  assert.throws(() => packContext({ deep }), /nests deeper than 32 levels/);
  // shared (not cyclic) references are fine
  const shared = { x: 1 };
  assert.deepEqual(packContext({ a: shared, b: [shared, shared] }).context, { a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] });
  for (const budget of [0, 10, 63, 100.5, NaN, Infinity]) assert.throws(() => packContext({}, budget), /budgetBytes/);
});

test('packContext: does not modify its input and is deterministic', () => {
  const input = { currentTask: 'x'.repeat(500), stepsDone: Array.from({ length: 50 }, (_, i) => `s${i}`.repeat(20)), extra: { a: 'b'.repeat(900) } };
  const snapshot = structuredClone(input);
  const a = packContext(input, 1024);
  const b = packContext(input, 1024);
  assert.deepEqual(input, snapshot);
  assert.deepEqual(a, b);
  assert.deepEqual(packContext(a.context, 1024), { ...a, dropped: [], truncated: false }, 'packing a pack again changes nothing');
});

/** `kept` is `original`, `original` cut with '…', or the summary that replaced it as a dump. */
function keptFrom(kept: string, original: string | undefined): boolean {
  if (original === undefined) return false;
  return kept === original || (kept.endsWith('…') && original.startsWith(kept.slice(0, -1))) || /^\[omitted: \d+ lines? of text, \d+ chars\]$/.test(kept);
}

function withoutEmptyLists(context: Record<string, unknown>): Record<string, unknown> {
  const out = { ...context };
  for (const key of ['stepsDone', 'nextSteps', 'openQuestions', 'files', 'decisions']) {
    const v = out[key];
    if (v && typeof v === 'object' && Object.keys(v).length === 0) delete out[key];
  }
  return out;
}

/** A random work context: random sizes, huge strings, deep objects, unicode and emoji. */
function randomContext(rand: () => number): Record<string, unknown> {
  const int = (n: number) => Math.floor(rand() * n);
  const alphabets = ['abcdefghij klmnop', 'ÄÖÜ éèê ß', '日本語のテキスト', '🚀✅🔥👩‍💻🇫🇷', 'line\nbreak\t"quote"\\', '\u0001\u001f control'];
  const str = (): string => {
    const r = rand();
    const len = r < 0.6 ? int(40) : r < 0.85 ? int(700) : r < 0.95 ? int(3000) : int(60000);
    const alphabet = [...alphabets[int(alphabets.length)]];
    const out: string[] = [];
    for (let i = 0; i < Math.min(len, 3000); i++) out.push(alphabet[int(alphabet.length)]);
    const chunk = out.join('');
    // huge strings (logs, file dumps) repeat a random chunk: as good a test, much cheaper to make
    return len > 3000 ? chunk.repeat(Math.ceil(len / 3000)) : chunk;
  };
  const list = () => Array.from({ length: rand() < 0.2 ? int(300) : int(12) }, str);
  const json = (depth: number): unknown => {
    const r = rand();
    if (depth > 0 && r < 0.3) return Array.from({ length: int(5) }, () => json(depth - 1));
    if (depth > 0 && r < 0.6) return Object.fromEntries(Array.from({ length: int(5) }, (_, i) => [`k${i}`, json(depth - 1)]));
    if (r < 0.75) return str();
    if (r < 0.85) return rand() * 1e6 - 5e5;
    if (r < 0.95) return rand() < 0.5;
    return null;
  };
  const c: Record<string, unknown> = {};
  if (rand() < 0.8) c.currentTask = str();
  if (rand() < 0.8) c.stepsDone = list();
  if (rand() < 0.7) c.nextSteps = list();
  if (rand() < 0.5) c.openQuestions = list();
  if (rand() < 0.5) c.files = Array.from({ length: int(60) }, (_, i) => `src/dir${i % 7}/file-${i}-${str().slice(0, 10)}.ts`);
  if (rand() < 0.5) {
    c.decisions = rand() < 0.5
      ? Array.from({ length: int(10) }, () => (rand() < 0.5 ? { decision: str() } : { decision: str(), why: str() }))
      : Object.fromEntries(Array.from({ length: int(10) }, (_, i) => [`d${i}-${str().slice(0, 5)}`, str()]));
  }
  if (rand() < 0.6) c.notes = str();
  for (let i = int(6); i > 0; i--) c[`extra${i}`] = json(int(20));
  return c;
}

test('packContext: property — any context, any budget from 256 to 16384, always fits and reports what it did', () => {
  const rand = rng(7);
  for (let round = 0; round < 400; round++) {
    const input = randomContext(rand);
    const budget = 256 + Math.floor(rand() * (16384 - 256 + 1));
    const pack = packContext(input, budget);
    const label = `round ${round}, budget ${budget}`;
    assert.equal(pack.version, 1);
    assert.equal(pack.budget, budget);
    assert.equal(pack.bytes, bytesOf(pack.context), label);
    assert.ok(pack.bytes <= budget, `${label}: ${pack.bytes} bytes`);
    assert.equal(pack.truncated, pack.dropped.length > 0);
    for (const d of pack.dropped) assert.ok(d.count > 0 && d.field && d.reason, `${label}: ${JSON.stringify(d)}`);
    const text = JSON.stringify(pack.context);
    assert.ok(!LONE_SURROGATE.test(text), `${label}: no string cut inside a surrogate pair`);
    // no dump survives: every string is at most 2000 chars and 40 lines
    JSON.parse(text, (_key, value) => {
      if (typeof value === 'string') assert.ok(chars(value) <= 2000 && value.split('\n').length <= 41, label);
      return value;
    });
    // the kept steps are the newest ones, in order; the kept next steps and questions the first ones
    const steps = (input.stepsDone as string[] | undefined) ?? [];
    const keptSteps = pack.context.stepsDone ?? [];
    assert.ok(keptSteps.every((s, i) => keptFrom(s, steps[steps.length - keptSteps.length + i])), label);
    for (const field of ['nextSteps', 'openQuestions', 'files'] as const) {
      const original = (input[field] as string[] | undefined) ?? [];
      assert.ok((pack.context[field] ?? []).every((s, i) => keptFrom(s, original[i])), `${label}: ${field}`);
    }
    if (typeof input.currentTask === 'string' && pack.context.currentTask !== undefined) assert.ok(keptFrom(pack.context.currentTask, input.currentTask), label);
    // when nothing was dropped, the context is the input (less empty lists)
    if (!pack.truncated) assert.deepEqual(pack.context, withoutEmptyLists(input), label);
    // deterministic, stable when packed again, and readable back as a handoff pack
    assert.deepEqual(packContext(input, budget), pack, label);
    const again = packContext(pack.context, budget);
    assert.deepEqual(again.context, pack.context, `${label}: packing again changes nothing`);
    assert.deepEqual(again.dropped, []);
    assert.deepEqual(parseHandoffPack(JSON.stringify(pack)), pack, label);
    assert.equal(typeof renderContextMarkdown(pack), 'string');
  }
});

test('packContext: property — priority fields survive while lower ones are dropped', () => {
  const rand = rng(99);
  for (let round = 0; round < 150; round++) {
    const task = 'Task ' + round + ' ' + '✅'.repeat(Math.floor(rand() * 50));
    const input = {
      currentTask: task,
      nextSteps: ['next ' + round],
      openQuestions: ['question ' + round],
      decisions: [{ decision: 'decision ' + round }],
      stepsDone: Array.from({ length: 1 + Math.floor(rand() * 400) }, (_, i) => `done ${i} ` + 'x'.repeat(Math.floor(rand() * 200))),
      files: Array.from({ length: Math.floor(rand() * 100) }, (_, i) => `file${i}.ts`),
      notes: 'note '.repeat(Math.floor(rand() * 400)),
      blob: { text: 'b'.repeat(Math.floor(rand() * 1500)) },
    };
    const budget = 512 + Math.floor(rand() * 8000);
    const pack = packContext(input, budget);
    assert.ok(pack.bytes <= budget);
    // these are small, so with budget >= 512 they are never touched
    assert.equal(pack.context.currentTask, task);
    assert.deepEqual(pack.context.nextSteps, input.nextSteps);
    assert.deepEqual(pack.context.openQuestions, input.openQuestions);
    assert.deepEqual(pack.context.decisions, input.decisions);
    const kept = pack.context.stepsDone ?? [];
    assert.ok(kept.length > 0, 'the newest step is kept');
    assert.ok(kept.every((s, i) => keptFrom(s, input.stepsDone[input.stepsDone.length - kept.length + i])));
    // the blob (a custom key) goes before the newest steps do
    if (kept.length < Math.min(STEPS_KEPT, input.stepsDone.length)) assert.ok(!('blob' in pack.context));
  }
});

test('parseHandoffPack: reads packs written by any agent, as object or JSON text', () => {
  const pack = packContext({ currentTask: 'resume me', stepsDone: ['a', 'b'], hint: 'look at src/x.ts' }, 2048);
  assert.deepEqual(parseHandoffPack(pack), pack);
  assert.deepEqual(parseHandoffPack(JSON.stringify(pack)), pack);
  assert.deepEqual(parseHandoffPack(JSON.stringify(pack, null, 2)), pack);
  // a minimal pack from another tool: only version and context; bytes is recomputed
  const minimal = parseHandoffPack({ version: 1, context: { nextSteps: ['x'] }, bytes: 99999 });
  assert.deepEqual(minimal, { version: 1, context: { nextSteps: ['x'] }, bytes: 19, budget: DEFAULT_CONTEXT_BUDGET, dropped: [], truncated: false });
  // a plain WorkContext is packed
  assert.deepEqual(parseHandoffPack({ currentTask: 'plain' }), packContext({ currentTask: 'plain' }));
  assert.deepEqual(parseHandoffPack('{"currentTask":"plain"}'), packContext({ currentTask: 'plain' }));
  // a work context that happens to have a "version" custom key is still a work context
  assert.deepEqual(parseHandoffPack({ version: 2, context: 'prod', currentTask: 't' }).context, { currentTask: 't', version: 2, context: 'prod' });
  // a writer that overshot its budget is corrected, and its own dropped list is kept
  const overshot = { version: 1, budget: 300, context: { stepsDone: Array.from({ length: 50 }, (_, i) => `step ${i}`) }, dropped: [{ field: 'notes', count: 1, reason: 'cut by the writer' }], truncated: true };
  const fixed = parseHandoffPack(overshot);
  assert.ok(fixed.bytes <= 300);
  assert.deepEqual(fixed.dropped[0], { field: 'notes', count: 1, reason: 'cut by the writer' });
  assert.equal(fixed.dropped[1].field, 'stepsDone');
  assert.equal(fixed.truncated, true);
});

test('parseHandoffPack: rejects malformed packs and names the bad field', () => {
  const cases: [unknown, RegExp][] = [
    ['{not json', /not valid JSON/],
    ['[1,2]', /must be an object/],
    [42, /must be an object/],
    [{ version: 2, context: {} }, /version must be 1/],
    [{ version: '1', context: {} }, /version must be 1/],
    [{ version: 1, context: [] }, /context must be an object, got an array/],
    [{ version: 1, context: { files: ['a', 2] } }, /Invalid handoff pack: context\.files\[1\] must be a string/],
    [{ version: 1, context: {}, budget: 5 }, /budget/],
    [{ version: 1, context: {}, bytes: -1 }, /bytes must be a number/],
    [{ version: 1, context: {}, truncated: 'yes' }, /truncated must be a boolean/],
    [{ version: 1, context: {}, dropped: {} }, /dropped must be an array/],
    [{ version: 1, context: {}, dropped: [{ field: 'x', count: 1.5, reason: 'r' }] }, /dropped\[0\]\.count must be a whole number/],
    [{ version: 1, context: {}, dropped: [{ field: 'x', count: 1 }] }, /dropped\[0\]\.reason must be a string/],
    [{ stepsDone: [1] }, /context\.stepsDone\[0\] must be a string/],
  ];
  for (const [input, message] of cases) assert.throws(() => parseHandoffPack(input), message, String(message));
});

test('parseHandoffPack: messages name the field by its path and say what was expected and got', () => {
  const message = (input: unknown) => {
    try {
      parseHandoffPack(input);
    } catch (error) {
      return (error as Error).message;
    }
    return assert.fail(`accepted ${JSON.stringify(input)}`);
  };
  assert.equal(message({ version: 1, context: {}, dropped: [{ field: 'x', count: 1, reason: 'r' }, { field: 'y', count: -2, reason: 'r' }] }),
    'Invalid handoff pack: dropped[1].count must be a whole number >= 0, got -2');
  assert.equal(message({ version: 1, context: {}, dropped: [7] }), 'Invalid handoff pack: dropped[0] must be an object { field, count, reason }, got number');
  assert.equal(message({ version: 1, context: {}, budget: 5 }), 'Invalid handoff pack: budget must be an integer number of bytes >= 64, got 5');
  assert.equal(message({ version: 1, context: {}, budget: '4096' }), 'Invalid handoff pack: budget must be an integer number of bytes >= 64, got string');
  assert.equal(message({ version: 1, context: { decisions: { 'use sqlite': 3 } } }), 'Invalid handoff pack: context.decisions["use sqlite"] must be a string, got number');
  assert.equal(message({ version: 1, context: { decisions: [{ decision: 'x' }, { decision: 'y', when: 'today' }] } }),
    'Invalid handoff pack: context.decisions[1].when is not allowed (a decision has only "decision" and "why")');
  // Keys whose value is undefined are ignored, in decisions too.
  assert.deepEqual(packContext({ decisions: [{ decision: 'x', why: undefined, when: undefined }] }).context, { decisions: [{ decision: 'x' }] });
});

test('mergeContexts: newer scalars win, lists are concatenated without duplicates', () => {
  const older: WorkContext = {
    currentTask: 'Build the API',
    stepsDone: ['schema', 'routes'],
    nextSteps: ['auth', 'tests', 'docs'],
    openQuestions: ['rate limits?'],
    files: ['src/api.ts', 'src/db.ts'],
    notes: 'old notes',
    step: 'routes done',
    attempts: 1,
    meta: { owner: 'ada', tags: ['api'] },
  };
  const newer: WorkContext = {
    stepsDone: ['routes', 'auth'],
    nextSteps: ['tests', 'release'],
    files: ['src/auth.ts', 'src/api.ts'],
    notes: 'auth done',
    step: 'API done',
    meta: { tags: ['api', 'auth'], reviewer: 'grace' },
  };
  const snapshot = structuredClone([older, newer]);
  const merged = mergeContexts(older, newer);
  assert.deepEqual(merged, {
    currentTask: 'Build the API',
    stepsDone: ['schema', 'routes', 'auth'],
    nextSteps: ['tests', 'docs', 'release'], // "auth" is done now
    openQuestions: ['rate limits?'],
    files: ['src/api.ts', 'src/db.ts', 'src/auth.ts'],
    notes: 'auth done',
    step: 'API done',
    attempts: 1,
    meta: { owner: 'ada', tags: ['api', 'auth'], reviewer: 'grace' },
  });
  assert.deepEqual([older, newer], snapshot, 'inputs unchanged');
  assert.deepEqual(mergeContexts({}, {}), {});
  assert.deepEqual(mergeContexts({ currentTask: 'a' }, { currentTask: 'b' }), { currentTask: 'b' });
});

test('mergeContexts: decisions merge by text, maps key by key', () => {
  assert.deepEqual(
    mergeContexts(
      { decisions: [{ decision: 'use sql.js', why: 'no native deps' }, { decision: 'JSON packs' }] },
      { decisions: [{ decision: 'JSON packs', why: 'any CLI reads them' }, { decision: 'use sql.js' }, { decision: 'MCP over HTTP' }] },
    ).decisions,
    [{ decision: 'use sql.js', why: 'no native deps' }, { decision: 'JSON packs', why: 'any CLI reads them' }, { decision: 'MCP over HTTP' }],
  );
  assert.deepEqual(mergeContexts({ decisions: { db: 'sqlite', ui: 'tree' } }, { decisions: { ui: 'webview' } }).decisions, { db: 'sqlite', ui: 'webview' });
  assert.deepEqual(mergeContexts({ decisions: { db: 'sqlite' } }, { decisions: [{ decision: 'ui' }] }).decisions, [{ decision: 'db', why: 'sqlite' }, { decision: 'ui' }]);
  assert.throws(() => mergeContexts({}, { stepsDone: [1] } as unknown as WorkContext), /newer\.stepsDone\[0\] must be a string/);
  assert.throws(() => mergeContexts(null as unknown as WorkContext, {}), /older must be an object/);
});

test('mergeContexts + packContext: incremental saves accumulate and stay within budget', () => {
  let context: WorkContext = { currentTask: 'Long task' };
  for (let i = 0; i < 100; i++) {
    context = packContext(mergeContexts(context, { stepsDone: [`step ${i}`], nextSteps: [`step ${i + 1}`] }), 1024).context;
    assert.ok(bytesOf(context) <= 1024);
  }
  assert.equal(context.stepsDone![context.stepsDone!.length - 1], 'step 99');
  assert.deepEqual(context.nextSteps, ['step 100']);
});

test('renderContextMarkdown: headings per section and what was dropped at the end', () => {
  const pack: PackedContext = packContext(
    {
      currentTask: 'Ship the handoff tool',
      stepsDone: Array.from({ length: 30 }, (_, i) => `step ${i}`),
      nextSteps: ['write tests', 'multi\nline step'],
      decisions: [{ decision: 'JSON packs', why: 'portable' }, { decision: 'no zip' }],
      openQuestions: ['budget per CLI?'],
      files: ['src/a.ts', 'weird `name`.ts'],
      notes: 'Remember the **edge case**.',
      step: 'API done',
      config: { retries: 3 },
    },
    400,
  );
  const md = renderContextMarkdown(pack, 'Handoff for T-12');
  const sections = md.split('\n').filter(l => l.startsWith('#'));
  assert.deepEqual(sections, ['# Handoff for T-12', '## Next steps', '## Open questions', '## Decisions', '## Steps done', '## Files', '## Notes', '## Other facts', '## Left out to fit']);
  assert.match(md, /\*\*Current task:\*\* Ship the handoff tool/);
  assert.match(md, /1\. write tests\n2\. multi\n {3}line step/);
  assert.match(md, /- JSON packs — portable\n- no zip/);
  assert.match(md, /- `src\/a\.ts`\n- ``weird `name`\.ts``/);
  assert.match(md, /- \*\*step:\*\* API done\n- \*\*config:\*\* `\{"retries":3\}`/);
  assert.match(md, /- \*\*stepsDone\*\* \(\d+\): oldest steps dropped to fit 400 bytes/);
  assert.ok(md.trimEnd().endsWith(`_${pack.bytes} of 400 bytes._`));
  assert.ok(md.indexOf('## Left out to fit') > md.indexOf('## Other facts'));
  // defaults: title, and an empty context
  const empty = renderContextMarkdown(packContext({}));
  assert.match(empty, /^# Work context\n\n_No context saved\._/);
  assert.ok(!empty.includes('Left out'));
  assert.match(renderContextMarkdown(packContext({ decisions: { db: 'sqlite' } })), /- \*\*db:\*\* sqlite/);
});
