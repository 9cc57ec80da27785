import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TASK_STATUSES } from '../../src/core/model';
import { assertTransition, canTransition, InvalidTransitionError, parseTaskStatus, progressFromCheckpoints } from '../../src/core/statusRules';

test('the main line TODO → IN_PROGRESS → IN_REVIEW → DONE is allowed', () => {
  assert.ok(canTransition('TODO', 'IN_PROGRESS'));
  assert.ok(canTransition('IN_PROGRESS', 'IN_REVIEW'));
  assert.ok(canTransition('IN_REVIEW', 'DONE'));
  assert.ok(canTransition('IN_PROGRESS', 'DONE'));
});

test('skipping work is refused with a message naming both statuses and the allowed moves', () => {
  assert.throws(() => assertTransition('T-1 "Write docs"', 'TODO', 'DONE'), (e: unknown) => {
    assert.ok(e instanceof InvalidTransitionError);
    assert.match(e.message, /T-1 "Write docs" cannot move from TODO to DONE/);
    assert.match(e.message, /IN_PROGRESS, BLOCKED, CANCELLED/);
    return true;
  });
  assert.ok(!canTransition('CANCELLED', 'DONE'));
  assert.ok(!canTransition('TODO', 'IN_REVIEW'));
});

test('BLOCKED and CANCELLED are reachable from open work; done work can be reopened', () => {
  for (const s of ['TODO', 'IN_PROGRESS', 'IN_REVIEW'] as const) {
    assert.ok(canTransition(s, 'BLOCKED'));
    assert.ok(canTransition(s, 'CANCELLED'));
  }
  assert.ok(canTransition('DONE', 'TODO'));
  assert.ok(canTransition('CANCELLED', 'TODO'));
  for (const s of TASK_STATUSES) assert.ok(canTransition(s, s), 'staying put is a no-op');
});

test('starting or finishing work that waits on unfinished dependencies is refused', () => {
  assert.throws(() => assertTransition('T-2', 'TODO', 'IN_PROGRESS', { waitingOn: ['T-1 Schema'] }), /waits for "T-1 Schema"/);
  assert.throws(() => assertTransition('T-2', 'IN_PROGRESS', 'DONE', { waitingOn: ['T-1 Schema'] }), /cannot move to DONE/);
  assert.doesNotThrow(() => assertTransition('T-2', 'TODO', 'BLOCKED', { waitingOn: ['T-1 Schema'] }));
});

test('statuses are parsed from common spellings', () => {
  assert.equal(parseTaskStatus('in progress'), 'IN_PROGRESS');
  assert.equal(parseTaskStatus('completed'), 'DONE');
  assert.equal(parseTaskStatus('Review'), 'IN_REVIEW');
  assert.equal(parseTaskStatus('canceled'), 'CANCELLED');
  assert.throws(() => parseTaskStatus('nearly'), /"nearly" is not a task status; use one of TODO, IN_PROGRESS/);
});

test('progress follows checkpoints', () => {
  assert.equal(progressFromCheckpoints([]), null);
  assert.equal(progressFromCheckpoints([{ done: true }, { done: false }, { done: false }]), 33);
  assert.equal(progressFromCheckpoints([{ done: true }, { done: true }]), 100);
});
