import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WORKFLOW_RULES, parseWorkflowRules, statusForEvent } from '../../src/core/workflowRules';

test('parseWorkflowRules: valid rules from settings are kept; unknown keys are ignored', () => {
  assert.deepEqual(parseWorkflowRules([]), []);
  assert.deepEqual(parseWorkflowRules(DEFAULT_WORKFLOW_RULES), DEFAULT_WORKFLOW_RULES);
  const rules = parseWorkflowRules([{ on: 'checkpoints.completed', to: 'IN_REVIEW', note: 'mine' }, { on: 'tests.passed', from: ['IN_PROGRESS'], to: 'DONE' }]);
  assert.deepEqual(rules, [{ on: 'checkpoints.completed', to: 'IN_REVIEW' }, { on: 'tests.passed', from: ['IN_PROGRESS'], to: 'DONE' }]);
  assert.equal(statusForEvent(rules, 'tests.passed', 'IN_PROGRESS'), 'DONE');
  assert.equal(statusForEvent(rules, 'tests.passed', 'TODO'), null, '"from" limits the rule');
});

test('parseWorkflowRules: a bad rule is named (1-based) with what is wrong', () => {
  const bad = (value: unknown) => {
    try {
      parseWorkflowRules(value);
    } catch (error) {
      return (error as Error).message;
    }
    return assert.fail(`accepted ${JSON.stringify(value)}`);
  };
  assert.equal(bad({ on: 'tests.passed' }), 'Workflow rules must be a list of { on, from?, to } objects.');
  assert.equal(bad(['tests.passed']), 'Workflow rule 1 must be an object like { "on": "tests.passed", "to": "IN_REVIEW" }.');
  assert.equal(bad([{ on: 'tests.passed', to: 'DONE' }, { on: 'deployed', to: 'DONE' }]),
    'Workflow rule 2: "on" must be one of session.started, tests.passed, checkpoints.completed, approval.granted, got "deployed".');
  assert.equal(bad([{ on: 'tests.passed', to: 'SHIPPED' }]), 'Workflow rule 1: "to" must be one of TODO, IN_PROGRESS, IN_REVIEW, DONE, BLOCKED, CANCELLED, got "SHIPPED".');
  assert.equal(bad([{ on: 'tests.passed' }]), 'Workflow rule 1: "to" must be one of TODO, IN_PROGRESS, IN_REVIEW, DONE, BLOCKED, CANCELLED, got undefined.');
  const fromList = 'Workflow rule 1: "from" must be a list of statuses (TODO, IN_PROGRESS, IN_REVIEW, DONE, BLOCKED, CANCELLED).';
  assert.equal(bad([{ on: 'tests.passed', from: 'TODO', to: 'DONE' }]), fromList);
  assert.equal(bad([{ on: 'tests.passed', from: ['TODO', 'LATER'], to: 'DONE' }]), `${fromList.slice(0, -1)}; "LATER" is not one.`);
});
