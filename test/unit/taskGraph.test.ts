import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TaskStatus } from '../../src/core/model';
import { DependencyCycleError, TaskGraph, type GraphTask } from '../../src/core/taskGraph';
import { sortInSteps, STEP_SIZE } from '../../src/core/steps';

const t = (id: string, status: TaskStatus = 'TODO', estimate: number | null = 1): GraphTask => ({ id, status, estimate });
const dep = (taskId: string, dependsOnId: string) => ({ taskId, dependsOnId });

test('a dependency that closes a cycle is refused, naming the cycle in order', () => {
  // A waits for B, B waits for C; C waiting for A would close A → B → C → A.
  const g = new TaskGraph([t('A'), t('B'), t('C')], [dep('A', 'B'), dep('B', 'C')]);
  assert.deepEqual(g.findCycle('C', 'A'), ['C', 'A', 'B', 'C']);
  assert.throws(() => g.assertCanAdd('C', 'A', id => `task ${id}`), (e: unknown) => {
    assert.ok(e instanceof DependencyCycleError);
    assert.deepEqual(e.cycle, ['C', 'A', 'B', 'C']);
    assert.match(e.message, /task C → task A → task B → task C/);
    return true;
  });
  assert.equal(g.findCycle('A', 'C'), null, 'a transitive edge in the same direction is fine');
});

test('self-dependency is a cycle of one', () => {
  const g = new TaskGraph([t('A')], []);
  assert.deepEqual(g.findCycle('A', 'A'), ['A', 'A']);
});

test('ready set: TODO tasks whose dependencies are all DONE or CANCELLED', () => {
  const g = new TaskGraph(
    [t('A', 'DONE'), t('B', 'CANCELLED'), t('C'), t('D'), t('E', 'IN_PROGRESS'), t('F')],
    [dep('C', 'A'), dep('C', 'B'), dep('D', 'E'), dep('F', 'C')],
  );
  assert.deepEqual(g.readyTasks(), ['C']);
  assert.deepEqual(g.waitingOn('D'), ['E']);
  assert.deepEqual(g.waitingOn('F'), ['C']);
});

test('topological order puts prerequisites first and keeps given order for ties', () => {
  const g = new TaskGraph([t('D'), t('C'), t('B'), t('A')], [dep('D', 'C'), dep('C', 'A'), dep('B', 'A')]);
  const order = g.topologicalOrder();
  assert.deepEqual(order, ['A', 'C', 'B', 'D']);
});

test('critical path is the longest chain of remaining estimates', () => {
  // A(3) → B(2) → D(4) = 9 ; A(3) → C(5) → D(4) = 12 ; E(10) alone = 10
  const g = new TaskGraph(
    [t('A', 'TODO', 3), t('B', 'TODO', 2), t('C', 'TODO', 5), t('D', 'TODO', 4), t('E', 'TODO', 10)],
    [dep('B', 'A'), dep('C', 'A'), dep('D', 'B'), dep('D', 'C')],
  );
  assert.deepEqual(g.criticalPath(), { taskIds: ['A', 'C', 'D'], total: 12 });
});

test('critical path ignores finished work', () => {
  const g = new TaskGraph([t('A', 'DONE', 100), t('B', 'TODO', 2), t('C', 'TODO', 1)], [dep('B', 'A'), dep('C', 'B')]);
  assert.deepEqual(g.criticalPath(), { taskIds: ['B', 'C'], total: 3 });
  assert.deepEqual(new TaskGraph([t('A', 'DONE')], []).criticalPath(), { taskIds: [], total: 0 });
});

test('deep chains do not overflow the stack', () => {
  const n = 20000;
  const tasks = Array.from({ length: n }, (_, i) => t(`T${i}`));
  const deps = Array.from({ length: n - 1 }, (_, i) => dep(`T${i + 1}`, `T${i}`));
  const g = new TaskGraph(tasks, deps);
  assert.equal(g.findCycle('T0', `T${n - 1}`)!.length, n + 1);
  assert.equal(g.criticalPath().taskIds.length, n);
});

test('sortInSteps sorts like Array.prototype.sort (stable), in steps, at sizes around its run length', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const n of [0, 1, 5, STEP_SIZE - 1, STEP_SIZE, STEP_SIZE + 1, 3 * STEP_SIZE + 17, 9 * STEP_SIZE]) {
    const items = Array.from({ length: n }, (_, i) => ({ key: Math.floor(rand() * 50), i }));
    const expected = [...items].sort((a, b) => a.key - b.key);
    let steps = 0;
    const work = sortInSteps(items, (a, b) => a.key - b.key);
    let r = work.next();
    while (!r.done) { steps++; r = work.next(); }
    assert.deepEqual(r.value.map(x => x.i), expected.map(x => x.i), `n = ${n}: same order, ties kept in input order`);
    assert.equal(r.value, items, 'sorted in place');
    if (n > 2 * STEP_SIZE) assert.ok(steps >= Math.floor(n / STEP_SIZE), `n = ${n}: paused ${steps} times`);
  }
});

test('TaskGraph.build and addingEdges give what the constructor and addEdges give, pausing on large plans', () => {
  const n = 3 * STEP_SIZE + 5;
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `T-${i + 1}`, status: 'TODO' as const, estimate: 1 }));
  const chain = tasks.slice(1).map((t, i) => ({ taskId: t.id, dependsOnId: tasks[i].id }));
  const built = TaskGraph.build(tasks, chain.slice(0, 100));
  let steps = 0;
  let r = built.next();
  while (!r.done) { steps++; r = built.next(); }
  assert.ok(steps >= 3, `building paused ${steps} times`);
  const stepped = r.value;
  const direct = new TaskGraph(tasks, chain.slice(0, 100));
  // The rest of the chain plus one edge closing a cycle (T-1 waits for T-50).
  const more = [...chain.slice(100), { taskId: 'T-1', dependsOnId: 'T-50' }];
  const refusedDirect = direct.addEdges(more);
  const adding = stepped.addingEdges(more);
  let a = adding.next();
  steps = 0;
  while (!a.done) { steps++; a = adding.next(); }
  assert.ok(steps >= 3, `adding edges paused ${steps} times`);
  assert.deepEqual(a.value, refusedDirect);
  assert.equal(a.value.length, 1);
  assert.deepEqual(a.value[0].cycle.slice(0, 2), ['T-1', 'T-50']);
  for (const id of ['T-1', 'T-2', `T-${n}`]) assert.deepEqual(stepped.dependenciesOf(id), direct.dependenciesOf(id));
  assert.deepEqual(stepped.readyTasks(), direct.readyTasks());
});
