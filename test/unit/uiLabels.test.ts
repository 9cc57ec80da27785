import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateTotal, plural, statusLabel } from '../../src/ui/labels';

test('pickers show statuses as words, not IN_PROGRESS', () => {
  assert.equal(statusLabel('IN_PROGRESS'), 'In progress');
  assert.equal(statusLabel('TODO'), 'To do');
  assert.equal(statusLabel('IN_REVIEW'), 'In review');
});

test('counts are singular for one ("1 agent") and estimates carry their unit', () => {
  assert.equal(plural(1, 'agent', 'agents'), '1 agent');
  assert.equal(plural(3, 'agent', 'agents'), '3 agents');
  assert.equal(estimateTotal(15, ['hours', 'hours']), '15 hours');
  assert.equal(estimateTotal(1, ['points']), '1 point');
  assert.equal(estimateTotal(8, ['hours', 'points']), '8 (hours and points mixed)');
});
