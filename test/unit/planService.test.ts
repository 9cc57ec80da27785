import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { after, before, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { WorkspaceOwner } from '../../src/host/workspaceOwner';
import { openTestOwner, samplePlansDir } from './helpers/owner';

const me: Actor = { kind: 'user', name: 'ada' };
const agent: Actor = { kind: 'agent', name: 'claude#1' };
let owner: Awaited<ReturnType<typeof openTestOwner>>;
before(async () => { owner = await openTestOwner(); });
after(async () => { await owner.cleanup(); });

test('tasks flow TODO → IN_PROGRESS → DONE with activity of who did what', () => {
  const plan = owner.plan;
  const sprint = plan.createSprint({ name: 'Sprint 1', goal: 'Ship login' }, me);
  const a = plan.createTask({ title: 'Schema', sprintId: sprint.id, estimate: 3 }, me);
  const b = plan.createTask({ title: 'API', sprintId: sprint.id, estimate: 5, dependsOn: [a.id] }, me);
  assert.deepEqual(plan.readyTasks().map(t => t.id), [a.id]);
  assert.throws(() => plan.startTask(b.id, me), /waits for "T-1 Schema"/);
  assert.throws(() => plan.completeTask(a.id, 'done', me), /cannot move from TODO to DONE/);
  plan.startTask(a.id, agent);
  assert.equal(plan.getTask(a.id).assignee, 'claude#1');
  plan.completeTask(a.id, 'Tables and migrations in place', agent);
  assert.equal(plan.getTask(a.id).summary, 'Tables and migrations in place');
  assert.equal(plan.getTask(a.id).progress, 100);
  assert.deepEqual(plan.readyTasks().map(t => t.id), [b.id]);
  const activity = plan.listActivity({ taskId: a.id });
  assert.deepEqual(activity.map(e => e.actor.name).reverse(), ['ada', 'claude#1', 'claude#1']);
  assert.match(activity[0].detail, /IN_PROGRESS → DONE: Tables and migrations/);
});

test('a dependency cycle is refused with the cycle named by title, and nothing is stored', () => {
  const plan = owner.plan;
  const x = plan.createTask({ title: 'X' }, me);
  const y = plan.createTask({ title: 'Y', dependsOn: [x.id] }, me);
  const z = plan.createTask({ title: 'Z', dependsOn: [y.id] }, me);
  const before = plan.listDependencies().length;
  assert.throws(() => plan.addDependency(x.id, z.id, me), new RegExp(`${x.id} "X" → ${z.id} "Z" → ${y.id} "Y" → ${x.id} "X"`));
  assert.equal(plan.listDependencies().length, before);
});

test('notes, context append/replace, checkpoints drive progress', () => {
  const plan = owner.plan;
  const t = plan.createTask({ title: 'Docs', checkpoints: ['Outline', 'Draft', 'Review', 'Publish'] }, me);
  plan.addNote(t.id, 'Found a performance issue with indexes', agent);
  plan.updateContext(t.id, '## Dependencies\n- Requires Redis', 'append', agent);
  plan.updateContext(t.id, 'More', 'append', agent);
  assert.equal(plan.getTask(t.id).context, '## Dependencies\n- Requires Redis\n\nMore');
  plan.updateContext(t.id, 'Fresh', 'replace', agent);
  assert.equal(plan.getTask(t.id).context, 'Fresh');
  assert.equal(plan.setCheckpoint(t.id, '2', true, agent).progress, 25);
  assert.equal(plan.setCheckpoint(t.id, 'Outline', true, agent).progress, 50);
  assert.throws(() => plan.setProgress(t.id, 80, agent), /progress follows them/);
  assert.throws(() => plan.setCheckpoint(t.id, 'Nope', true, agent), /no checkpoint "Nope"; its checkpoints are 1. Outline/);
  const details = plan.getTaskDetails(t.id);
  assert.equal(details.notes[0].text, 'Found a performance issue with indexes');
  assert.equal(details.checkpoints.filter(c => c.done).length, 2);
});

test('task details read again after each kind of write show that write (details are kept between writes only)', () => {
  const plan = owner.plan;
  const t = plan.createTask({ title: 'Cached details', checkpoints: ['One', 'Two'] }, me);
  const first = plan.getTaskDetails(t.id, 20);
  assert.equal(first.notes.length, 0);
  first.checkpoints[0].title = 'changed by a caller'; // callers get copies
  first.notes.push({ id: 'N-x', taskId: t.id, author: me, text: 'not stored', createdAt: '' });
  assert.equal(plan.getTaskDetails(t.id, 20).checkpoints[0].title, 'One');
  assert.deepEqual(plan.getTaskDetails(t.id, 20).notes, []);
  const note = plan.addNote(t.id, 'Found the cause', agent);
  assert.deepEqual(plan.getTaskDetails(t.id, 20).notes.map(n => n.text), ['Found the cause']);
  assert.equal(plan.getTask(t.id).updatedAt, note.createdAt);
  assert.deepEqual(plan.resolveTask(t.id), plan.getTask(t.id), 'the cached task (resolveTask) is the stored row (getTask)');
  plan.setCheckpoint(t.id, '1', true, agent);
  const after = plan.getTaskDetails(t.id, 20);
  assert.deepEqual(after.checkpoints.map(c => c.done), [true, false]);
  assert.equal(after.task.progress, 50);
  assert.match(after.activity[0].detail, /One/);
  plan.startTask(t.id, agent);
  assert.equal(plan.getTaskDetails(t.id, 20).task.status, 'IN_PROGRESS');
  assert.equal(plan.getTaskDetails(t.id, 1).activity.length, 1, 'another activity limit reads its own page');
  assert.equal(plan.resolveTask(String(Number(t.id.slice(2)))).status, 'IN_PROGRESS');
});

test('bulk status change is all-or-nothing', () => {
  const plan = owner.plan;
  const a = plan.createTask({ title: 'bulk A' }, me);
  const b = plan.createTask({ title: 'bulk B' }, me);
  plan.startTask(a.id, me);
  assert.throws(() => plan.setStatusMany([a.id, b.id], 'IN_REVIEW', me), /No task was changed: .*bulk B.* cannot move from TODO to IN_REVIEW/);
  assert.equal(plan.getTask(a.id).status, 'IN_PROGRESS');
  plan.setStatusMany([a.id, b.id], 'CANCELLED', me);
  assert.equal(plan.getTask(b.id).status, 'CANCELLED');
});

test('bad input names what was wrong and changes nothing', () => {
  const plan = owner.plan;
  const count = plan.allTasks().length;
  assert.throws(() => plan.createTask({ title: '   ' }, me), /Task title must be a non-empty text/);
  assert.throws(() => plan.createTask({ title: 'x', estimate: -1 }, me), /Estimate must be a number from 0/);
  assert.throws(() => plan.createTask({ title: 'x', sprintId: 'S-999' }, me), /No sprint with id "S-999"/);
  assert.throws(() => plan.createTask({ title: 'x', dependsOn: ['T-999'] }, me), /No task with id "T-999"/);
  assert.throws(() => plan.createSprint({ name: 'x', startDate: '2026-13-45' }, me), /startDate must be a date/);
  assert.equal(plan.allTasks().length, count);
});

test('claiming hands out each ready task once, most urgent first', () => {
  const plan = owner.plan;
  const low = plan.createTask({ title: 'claim low', priority: 'low' }, me);
  const high = plan.createTask({ title: 'claim high', priority: 'critical' }, me);
  const first = plan.claimNextReadyTask({ kind: 'agent', name: 'a1' })!;
  assert.equal(first.id, high.id);
  assert.equal(first.status, 'IN_PROGRESS');
  assert.equal(first.assignee, 'a1');
  assert.deepEqual(first, plan.getTask(first.id), 'the claimed task as cached is the stored row');
  const claimed = new Set([first.id]);
  for (let next = plan.claimNextReadyTask({ kind: 'agent', name: 'a2' }); next; next = plan.claimNextReadyTask({ kind: 'agent', name: 'a2' })) {
    assert.ok(!claimed.has(next.id));
    claimed.add(next.id);
  }
  assert.ok(claimed.has(low.id));
  assert.equal(plan.readyTasks().length, 0);
});

test('re-importing a plan updates instead of duplicating, and keeps work done in Baton', async () => {
  const fresh = await openTestOwner();
  try {
    const plan = fresh.plan;
    const file = path.join(samplePlansDir, 'orchestration-v1-readiness-plan.md');
    const text = fs.readFileSync(file, 'utf8');
    const first = plan.importDocument(text, 'docs/plan.md', me);
    assert.ok(first.tasks.created > 0);
    const tasks = plan.allTasks().length;
    const checkpoints = plan.listCheckpoints().length;
    const someTask = plan.allTasks()[0];
    plan.startTask(someTask.id, me);
    const again = plan.importDocument(text, 'docs/plan.md', me);
    assert.equal(again.tasks.created, 0);
    assert.equal(again.sprints.created, 0);
    assert.equal(again.checkpoints.created, 0);
    assert.equal(plan.allTasks().length, tasks);
    assert.equal(plan.listCheckpoints().length, checkpoints);
    assert.equal(plan.getTask(someTask.id).status, 'IN_PROGRESS', 're-import keeps status changed in Baton');
    // An edited document: a renamed task is updated in place, a checked item completes its checkpoint.
    const edited = text.replace('#### A1: Quick Update Commands', '#### A1: Quick Update Commands (renamed)');
    const third = plan.importDocument(edited, 'docs/plan.md', me);
    assert.equal(third.tasks.created, 0);
    assert.equal(third.tasks.updated, 1);
    assert.ok(plan.allTasks().some(t => t.title === 'A1: Quick Update Commands (renamed)'));
    // A different source name is a different document.
    assert.ok(plan.importDocument(text, 'other.md', me).tasks.created > 0);
  } finally {
    await fresh.cleanup();
  }
});

test('state survives closing and reopening the owner', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-reopen-'));
  const open = () => WorkspaceOwner.open({ storageDir: dir, kind: 'cli', version: 'test', log: () => undefined, mcp: null });
  const a = await open();
  a.plan.createTask({ title: 'persisted' }, me);
  await assert.rejects(open(), /owned by another process/);
  await a.close();
  const b = await open();
  assert.deepEqual(b.plan.allTasks().map(t => t.title), ['persisted']);
  await b.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
