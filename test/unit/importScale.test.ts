import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { importMarkdownPlan } from '../../src/core/import/markdownPlan';
import { allTasks } from '../../src/core/import/importedPlan';
import { CHUNK_CHARS, MAX_NESTING, flattenLine, prepareDocument } from '../../src/core/import/markdownChunks';
import { openTestOwner } from './helpers/owner';

const me: Actor = { kind: 'user', name: 'ada' };
let owner: Awaited<ReturnType<typeof openTestOwner>>;
before(async () => { owner = await openTestOwner(); });
after(async () => { await owner.cleanup(); });

/** A Task Master tasks.json of `n` tasks, each depending on the one before (a chain of n-1 edges). */
export function taskMasterChain(n: number): string {
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: i + 1, title: `Task ${i + 1}`, description: `Step ${i + 1} of the chain`, status: 'pending', priority: 'medium',
    dependencies: i === 0 ? [] : [i],
  }));
  return JSON.stringify({ master: { tasks, metadata: { description: 'chain' } } });
}

// The timeout is a generous bound (the quadratic import took about an hour at this size), not a benchmark.
test('a 10k-task dependency chain imports with every edge, in order, and re-imports unchanged', { timeout: 120_000 }, () => {
  const n = 10_000;
  const report = owner.plan.importDocument(taskMasterChain(n), 'chain/tasks.json', me);
  assert.equal(report.tasks.created, n);
  assert.equal(report.dependencies.created, n - 1);
  assert.deepEqual(report.skipped, []);
  const ready = owner.plan.readyTasks();
  assert.equal(ready.length, 1, 'only the head of the chain is ready');
  const again = owner.plan.importDocument(taskMasterChain(n), 'chain/tasks.json', me);
  assert.equal(again.tasks.unchanged, n);
  assert.equal(again.dependencies.created, 0);
});

test('a batch that closes a cycle refuses only the closing edge and names the cycle', () => {
  const tasks = [
    { id: 1, title: 'A', status: 'pending', dependencies: [3] },
    { id: 2, title: 'B', status: 'pending', dependencies: [1] },
    { id: 3, title: 'C', status: 'pending', dependencies: [2] },
    { id: 4, title: 'D', status: 'pending', dependencies: [3] },
  ];
  const report = owner.plan.importDocument(JSON.stringify({ tasks }), 'cycle/tasks.json', me);
  assert.equal(report.tasks.created, 4);
  assert.equal(report.dependencies.created, 3);
  const refused = report.skipped.filter(s => /close a cycle/.test(s.reason));
  assert.equal(refused.length, 1);
  assert.match(refused[0].text, /^C → /);
});

// Linear, checked by behaviour: the list is read in chunks (several lists of the same items), and every
// one of the 100k items is a task on its own line, in order. The timeout only guards against the
// quadratic line scan coming back (47 s at this size), it is not a benchmark.
test('a 100k-item checklist parses with every item on its own line number', { timeout: 60_000 }, () => {
  const n = 100_000;
  const text = '## Sprint 1: Big\n\n' + Array.from({ length: n }, (_, i) => `- [ ] Item ${i + 1}`).join('\n') + '\n';
  assert.ok(prepareDocument(text).chunks.length > 1, 'the list spans several chunks');
  const plan = importMarkdownPlan(text, 'big.md');
  const tasks = allTasks(plan);
  assert.equal(tasks.length, n);
  assert.equal(plan.sprints.length, 1);
  const wrong = tasks.findIndex((t, i) => t.line !== i + 3 || t.title !== `Item ${i + 1}`);
  assert.equal(wrong, -1, `item ${wrong + 1} is on its own line with its own title`);
  assert.equal(new Set(tasks.map(t => t.key)).size, n);
  assert.deepEqual(plan.skipped, []);
});

test('100k checklist items under one task are its 100k checkpoints', { timeout: 60_000 }, () => {
  const n = 100_000;
  const text = '## Sprint 1\n### 1.1 Big task\n' + Array.from({ length: n }, (_, i) => `- [${i % 2 ? 'x' : ' '}] Check ${i + 1}`).join('\n') + '\n';
  const [big] = allTasks(importMarkdownPlan(text, 'big.md'));
  assert.equal(big.checkpoints.length, n);
  assert.equal(big.checkpoints.filter(c => c.done).length, n / 2);
  assert.equal(big.checkpoints[n - 1].title, `Check ${n}`);
});

// ---------------------------------------------------------------------------------------------
// Deep nesting: `marked` recurses per level (2.2 MB nested took 24 s and 1.36 GB; 4 MB overflowed the stack)
// ---------------------------------------------------------------------------------------------

/** `## Sprint 1` then a checklist nested one level deeper per line (`- [ ] item 0`, `  - [ ] item 1`, …) up to `bytes`. */
function nestedChecklist(bytes: number): { text: string; depth: number } {
  const parts = ['## Sprint 1', ''];
  let size = 0;
  let depth = 0;
  while (size < bytes) {
    const line = `${'  '.repeat(depth)}- [ ] item ${depth}`;
    parts.push(line);
    size += line.length + 1;
    depth++;
  }
  return { text: parts.join('\n') + '\n', depth };
}

test('a 4 MB list nested 2,000 levels deep imports without overflowing the stack; the flattened part is reported', { timeout: 60_000 }, () => {
  const { text, depth } = nestedChecklist(4_000_000);
  assert.ok(text.length >= 4_000_000 && depth > 1900);
  const plan = importMarkdownPlan(text, 'deep.md');
  assert.equal(plan.sprints.length, 1);
  assert.equal(plan.sprints[0].tasks[0].title, 'item 0');
  assert.equal(plan.sprints[0].tasks[0].line, 3);
  // Line 3 + 31 holds `item 31`: 31 levels of indentation plus its marker and space is the first line
  // past the bound (the count over-estimates the nesting `marked` would build, never under-estimates it).
  assert.deepEqual(plan.skipped, [{
    line: 3 + MAX_NESTING - 1,
    text: `- [ ] item ${MAX_NESTING - 1}`,
    reason: `nested deeper than ${MAX_NESTING} levels (lists or quotes): ${depth - MAX_NESTING + 1} lines from here were read at level ${MAX_NESTING}`,
  }]);
});

test('nesting without indentation (`- - - … x`, `>>>> … x`) is bounded too', { timeout: 60_000 }, () => {
  for (const line of ['- '.repeat(2_000_000) + 'x', '>'.repeat(1_000_000) + ' x', '> - '.repeat(500_000) + 'x']) {
    const plan = importMarkdownPlan(`## Sprint 1\n### 1.1 Task\n${line}\n`, 'deep.md');
    assert.equal(allTasks(plan).length, 1);
    assert.equal(plan.skipped.length, 1);
    assert.equal(plan.skipped[0].line, 3);
    assert.match(plan.skipped[0].reason, /^nested deeper than 32 levels/);
  }
});

test('a 2.2 MB list of many shallow nested lists imports every top-level item', { timeout: 60_000 }, () => {
  const n = 40_000;
  const text = '## Sprint 1\n\n' + Array.from({ length: n }, (_, i) => `- [ ] Task ${i}\n  - detail\n    - more\n      - [ ] check`).join('\n') + '\n';
  assert.ok(text.length > 2_200_000);
  const plan = importMarkdownPlan(text, 'wide.md');
  const tasks = allTasks(plan);
  assert.equal(tasks.length, n);
  assert.equal(tasks[n - 1].line, 3 + 4 * (n - 1));
  assert.deepEqual(plan.skipped, []);
});

test('flattenLine keeps the text and the last marker, within the bound; shallow lines are untouched', () => {
  assert.equal(flattenLine('      - [ ] shallow', 8), null);
  assert.equal(flattenLine(`${' '.repeat(40)}- [ ] deep`, 8), `${' '.repeat(14)}- [ ] deep`);
  assert.equal(flattenLine('- - - - - - - - - - x', 8), '- - - - - - x');
  assert.equal(flattenLine('>>>>>>>>>>>> x', 8), '>>>>>>> > x');
});

test('chunks: cut only before a heading or top-level list item outside code, every line kept, line numbers right', () => {
  const block = ['# Part', '', '```', '# not a heading', '- not an item', '```', 'para', '- item', '  - nested', ''].join('\n');
  const src = block.repeat(200);
  const prepared = prepareDocument(src, 500);
  assert.ok(prepared.chunks.length > 5);
  assert.equal(prepared.chunks.map(c => c.text).join(''), src);
  const lines = src.split('\n');
  for (const chunk of prepared.chunks) {
    assert.equal(chunk.text.split('\n')[0], lines[chunk.line - 1]);
    assert.match(chunk.text, /^(# Part|- item)\n/);
  }
  assert.equal(prepared.headings.length, 200);
  assert.ok(CHUNK_CHARS >= 4096);
  // `2. bar` right after a paragraph line continues the paragraph: never a place to cut.
  assert.deepEqual(prepareDocument('foo\n2. bar\n1. one\n\n3. three\n', 1).chunks.map(c => c.text), ['foo\n2. bar\n', '1. one\n\n', '3. three\n']);
});

test('a reference link defined at the end of a large document resolves in a title at its start', () => {
  const filler = Array.from({ length: 20_000 }, (_, i) => `- [ ] filler ${i}`).join('\n');
  const text = `## Sprint 1\n- [ ] Read [the spec][spec]\n${filler}\n\n[spec]: https://example.com/spec\n`;
  assert.ok(prepareDocument(text).chunks.length > 1);
  const plan = importMarkdownPlan(text, 'links.md');
  assert.equal(plan.sprints[0].tasks[0].title, 'Read the spec');
});

test('the demo plan imports with its dependency edges: the service gets a DAG, not 18 ready tasks', () => {
  const file = path.resolve(__dirname, '../../resources/sample-plans/orchestration-v1-readiness-plan.md');
  const report = owner.plan.importDocument(fs.readFileSync(file, 'utf8'), 'demo/readiness.md', me);
  assert.equal(report.tasks.created, 18);
  assert.equal(report.dependencies.created, 8);
  assert.deepEqual(report.skipped.filter(s => /dependenc/.test(s.reason)), []);
  // (The owner is shared with the tests above: keep this plan's tasks by their titles.)
  const ready = owner.plan.readyTasks().filter(t => /^[A-F]\d|^(Runner|Execution|Streaming|Sandbox|Result) /.test(t.title));
  // A1, A1.1, B1, C1, D1 and the 5 Sprint F components are ready; A1.2, A1.3, B2, C2, D2, D3, E1, E2 wait.
  assert.equal(ready.length, 10);
  assert.ok(!ready.some(t => t.title.startsWith('E2')));
});
