import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TaskStatus } from '../../src/core/model';
import { DependencyCycleError, TaskGraph, type GraphTask } from '../../src/core/taskGraph';

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
