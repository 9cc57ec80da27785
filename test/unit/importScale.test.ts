import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { importMarkdownPlan } from '../../src/core/import/markdownPlan';
import { allTasks } from '../../src/core/import/importedPlan';
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

test('a 100k-item checklist parses with every item on its own line number', () => {
  const n = 100_000;
  const text = '## Sprint 1: Big\n\n' + Array.from({ length: n }, (_, i) => `- [ ] Item ${i + 1}`).join('\n') + '\n';
  const plan = importMarkdownPlan(text, 'big.md');
  const tasks = allTasks(plan);
  assert.equal(tasks.length, n);
  assert.equal(tasks[n - 1].line, n + 2);
  assert.equal(tasks[0].line, 3);
});
