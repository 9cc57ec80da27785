import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allTasks, countPlan, type ImportedPlan, type ImportedTask } from '../../src/core/import/importedPlan';
import { importTaskMaster } from '../../src/core/import/taskMaster';
import { importPlan } from '../../src/core/import/detect';

const FIXTURE = path.join(__dirname, 'fixtures', 'taskmaster-tasks.json');
const readFixture = (): string => fs.readFileSync(FIXTURE, 'utf8');

const task = (plan: ImportedPlan, key: string): ImportedTask => {
  const found = allTasks(plan).find(t => t.key === key);
  assert.ok(found, `task ${key}`);
  return found;
};

test('tagged tasks.json: exact counts', () => {
  const plan = importTaskMaster(readFixture(), '.taskmaster/tasks/tasks.json');
  assert.equal(plan.format, 'taskmaster');
  assert.equal(plan.source, '.taskmaster/tasks/tasks.json');
  assert.equal(plan.title, null);
  assert.deepEqual(countPlan(plan), {
    sprints: 2, // tags "master" and "feature-auth"
    tasks: 17, // master: 7 tasks + 2 subtasks of 1 + 3 subtasks of 2 = 12; feature-auth: 2 tasks + 3 subtasks of 2 = 5
    checkpoints: 0, // Task Master has no checkpoints
    skipped: 2, // master task 6 → 99 and feature-auth subtask 2.3 → "2.9" name unknown tasks
  });
  assert.deepEqual(plan.backlog, []);
});

test('tagged tasks.json: tags become sprints, tasks and subtasks keep their ids in keys', () => {
  const plan = importTaskMaster(readFixture(), 'tasks.json');
  assert.deepEqual(plan.sprints.map(s => [s.key, s.name, s.goal, s.tasks.length]), [
    ['tm/master', 'master', 'Tasks for master context', 7],
    ['tm/feature-auth', 'feature-auth', 'OAuth login for the dashboard', 2],
  ]);
  assert.deepEqual(allTasks(plan).map(t => t.key), [
    'tm/master/1', 'tm/master/1.1', 'tm/master/1.2',
    'tm/master/2', 'tm/master/2.1', 'tm/master/2.2', 'tm/master/2.3',
    'tm/master/3', 'tm/master/4', 'tm/master/5', 'tm/master/6', 'tm/master/7',
    'tm/feature-auth/1', 'tm/feature-auth/2', 'tm/feature-auth/2.1', 'tm/feature-auth/2.2', 'tm/feature-auth/2.3',
  ]);
  const storage = task(plan, 'tm/master/2');
  assert.equal(storage.title, 'Implement SQLite storage layer');
  assert.equal(
    storage.description,
    'Persist sprints, tasks and dependencies with sql.js.\n\n' +
      'One repository per aggregate; schema migrations carry a version number.\n\n' +
      'Test strategy: Repository tests against an in-memory database.',
  );
  assert.deepEqual(storage.children.map(c => [c.key, c.title, c.status]), [
    ['tm/master/2.1', 'Design the schema', 'DONE'],
    ['tm/master/2.2', 'Write migrations', 'TODO'],
    ['tm/master/2.3', 'Repository classes', 'TODO'],
  ]);
  assert.ok(allTasks(plan).every(t => t.estimate === null && t.estimateUnit === 'hours' && t.line === undefined));
});

test('tagged tasks.json: statuses and priorities are mapped', () => {
  const plan = importTaskMaster(readFixture(), 'tasks.json');
  const master = plan.sprints[0].tasks;
  assert.deepEqual(master.map(t => [t.status, t.priority]), [
    ['DONE', 'high'], // done
    ['IN_PROGRESS', 'high'], // in-progress
    ['TODO', 'medium'], // pending
    ['TODO', 'low'], // deferred
    ['IN_REVIEW', 'medium'], // review
    ['CANCELLED', 'low'], // cancelled
    ['BLOCKED', 'critical'], // blocked; critical is kept
  ]);
  assert.match(task(plan, 'tm/master/4').description, /Deferred in Task Master\.$/);
  // Subtasks without a priority take their parent's.
  assert.equal(task(plan, 'tm/master/2.2').priority, 'high');
});

test('tagged tasks.json: dependencies resolve to keys in the same tag; unknown ones are skipped', () => {
  const plan = importTaskMaster(readFixture(), 'tasks.json');
  const deps = Object.fromEntries(allTasks(plan).filter(t => t.dependsOn.length > 0).map(t => [t.key, t.dependsOn]));
  assert.deepEqual(deps, {
    'tm/master/1.2': ['tm/master/1.1'], // subtask number → sibling subtask
    'tm/master/2': ['tm/master/1'],
    'tm/master/2.2': ['tm/master/2.1'],
    'tm/master/2.3': ['tm/master/2.2', 'tm/master/1.2'], // "2.2" and "1.2" strings name subtasks
    'tm/master/3': ['tm/master/2'],
    'tm/master/4': ['tm/master/2', 'tm/master/3'],
    'tm/master/5': ['tm/master/3'],
    'tm/master/7': ['tm/master/4'],
    'tm/feature-auth/2': ['tm/feature-auth/1'], // ids are per tag
    'tm/feature-auth/2.2': ['tm/feature-auth/2.1'],
  });
  assert.deepEqual(plan.skipped, [
    { line: null, text: 'Legacy file sync (6) → 99', reason: 'dependency on unknown task 99 in tag "master"' },
    { line: null, text: 'Refresh tokens (2.3) → 2.9', reason: 'dependency on unknown task 2.9 in tag "feature-auth"' },
  ]);
});

test('importing the same tasks.json twice yields identical keys', () => {
  const first = importTaskMaster(readFixture(), 'tasks.json');
  const second = importTaskMaster(readFixture(), 'tasks.json');
  assert.deepEqual(second, first);
  const keys = allTasks(first).map(t => t.key);
  assert.equal(new Set(keys).size, keys.length);
});

test('legacy tasks.json ({ "tasks": [...] }) is read as the tag "master"', () => {
  const legacy = JSON.stringify({
    meta: { projectName: 'Legacy Project', version: '1.0.0' },
    tasks: [
      { id: 1, title: 'Parse PRD', description: 'Read the PRD.', status: 'done', priority: 'high', dependencies: [] },
      {
        id: 2,
        title: 'Generate tasks',
        description: 'From the PRD.',
        details: 'Use the model.',
        testStrategy: 'Snapshot the output.',
        status: 'pending',
        dependencies: [1, 3],
        subtasks: [{ id: 1, title: 'Prompt', status: 'in-progress', dependencies: [] }],
      },
    ],
  });
  const plan = importTaskMaster(legacy, 'tasks.json');
  assert.equal(plan.title, 'Legacy Project');
  assert.deepEqual(countPlan(plan), { sprints: 1, tasks: 3, checkpoints: 0, skipped: 1 });
  assert.deepEqual(plan.sprints.map(s => [s.key, s.name, s.goal]), [['tm/master', 'master', '']]);
  const generate = task(plan, 'tm/master/2');
  assert.deepEqual([generate.priority, generate.dependsOn], ['medium', ['tm/master/1']]);
  assert.equal(generate.description, 'From the PRD.\n\nUse the model.\n\nTest strategy: Snapshot the output.');
  assert.deepEqual(task(plan, 'tm/master/2.1').status, 'IN_PROGRESS');
  assert.equal(plan.skipped[0].reason, 'dependency on unknown task 3 in tag "master"');
});

test('a tag without tasks is reported, not emitted', () => {
  const plan = importTaskMaster(JSON.stringify({ master: { tasks: [{ id: 1, title: 'Only' }] }, empty: { tasks: [] } }), 'tasks.json');
  assert.deepEqual(plan.sprints.map(s => s.key), ['tm/master']);
  assert.deepEqual(plan.skipped, [{ line: null, text: 'tag "empty"', reason: 'tag has no tasks' }]);
});

test('invalid JSON or a wrong shape throws an Error naming what is wrong', () => {
  const cases: [string, RegExp | string][] = [
    ['{ "master": ', /^tasks\.json: not valid JSON/],
    ['[]', 'tasks.json: expected an object with tags (or a "tasks" array) at the top level'],
    ['{}', 'tasks.json: no tags found (expected e.g. { "master": { "tasks": [...] } })'],
    ['{ "master": { "tasks": {} } }', 'tasks.json: master.tasks: expected an array of tasks, got an object'],
    ['{ "tasks": 3 }', 'tasks.json: tasks: expected an array of tasks, got 3'],
    ['{ "master": [] }', 'tasks.json: master: expected an object with a "tasks" array, got an array'],
    ['{ "master": { "tasks": [ { "title": "No id" } ] } }', 'tasks.json: master.tasks[0].id: expected a whole number, got nothing'],
    ['{ "master": { "tasks": [ { "id": 1 } ] } }', 'tasks.json: master.tasks[0].title: expected a non-empty string, got nothing'],
    ['{ "master": { "tasks": [ { "id": 1, "title": " " } ] } }', 'tasks.json: master.tasks[0].title: expected a non-empty string, got an empty one'],
    ['{ "master": { "tasks": [ { "id": 1, "title": "a" }, { "id": 1, "title": "b" } ] } }', 'tasks.json: duplicate task id 1 in tag "master"'],
    ['{ "master": { "tasks": [ { "id": 1, "title": "a", "dependencies": 2 } ] } }', 'tasks.json: master.tasks[0].dependencies: expected an array of task ids, got 2'],
    ['{ "master": { "tasks": [ { "id": 1, "title": "a" }, { "id": 2, "title": "b", "dependencies": [1, { "id": 1 }] } ] } }',
      'tasks.json: master.tasks[1].dependencies[1]: expected a task id (a number or a string), got an object'],
    ['{ "feature x": { "tasks": [ 7, { "id": 1.5, "title": "a", "status": 5 } ] } }',
      'tasks.json: ["feature x"].tasks[0]: expected a task object, got 7 (and 2 more problems)'],
    ['{ "master": { "tasks": [ { "id": 1, "title": "a", "subtasks": [ { "id": "x", "title": "s" } ] } ] } }',
      'tasks.json: master.tasks[0].subtasks[0].id: expected a whole number, got "x"'],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => importTaskMaster(json, 'tasks.json'), (error: unknown) => {
      assert.ok(error instanceof Error);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    }, json);
  }
});

test('importPlan chooses the importer by extension, then by content', () => {
  assert.equal(importPlan(readFixture(), '.taskmaster/tasks/tasks.json').format, 'taskmaster');
  assert.equal(importPlan(readFixture(), 'TASKS.JSON').format, 'taskmaster');
  assert.equal(importPlan(readFixture(), 'tasks-export').format, 'taskmaster'); // no extension, JSON content
  const markdown = importPlan('# Plan\n\n## Sprint 1\n- [ ] Do it\n', 'docs/plan.md');
  assert.equal(markdown.format, 'markdown');
  assert.deepEqual(countPlan(markdown), { sprints: 1, tasks: 1, checkpoints: 0, skipped: 0 });
  assert.equal(importPlan('{ not json } - [ ] item\n', 'notes').format, 'markdown');
  assert.throws(() => importPlan('# not json', 'tasks.json'), /^Error: tasks\.json: not valid JSON/);
});
