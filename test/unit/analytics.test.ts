import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  addDays, burndown, forecast, historyFromActivity, velocity, FORECAST_MIN_COMPLETIONS, FORECAST_MIN_DAYS,
  type HistoryEvent, type TaskFact,
} from '../../src/core/analytics';
import type { ActivityEntry, Actor, Sprint } from '../../src/core/model';
import { AnalyticsService } from '../../src/services/analyticsService';
import { PlanService } from '../../src/services/planService';
import { DurableDatabase } from '../../src/store/durableDatabase';
import { PlanRepository } from '../../src/store/planRepository';
import { STATE_MIGRATIONS } from '../../src/store/schema';
import { isSprintStats } from '../../src/shared/analytics';

const me: Actor = { kind: 'user', name: 'ada' };
const dirs: string[] = [];
const dbs: DurableDatabase[] = [];
after(() => {
  for (const db of dbs) db.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A real plan (durable store) whose clock the test sets: the activity history is recorded by the real use cases. */
async function recordedPlan() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-analytics-'));
  dirs.push(dir);
  const db = await DurableDatabase.open(dir, { migrations: STATE_MIGRATIONS });
  dbs.push(db);
  let now = new Date('2026-11-02T09:00:00Z');
  const clock = () => now;
  const service = new PlanService(new PlanRepository(db), clock);
  return { plan: service, analytics: new AnalyticsService(service, clock), at: (iso: string) => { now = new Date(iso); } };
}

const sprint = (over: Partial<Sprint>): Sprint => ({
  id: 'S-1', name: 'One', goal: '', startDate: null, endDate: null, state: 'active', position: 0, sourceKey: null, agent: null,
  createdAt: '2026-11-01T00:00:00Z', updatedAt: '2026-11-01T00:00:00Z', ...over,
});
const task = (id: string, over: Partial<TaskFact>): TaskFact => ({
  id, sprintId: 'S-1', status: 'TODO', estimate: null, estimateUnit: 'hours', createdAt: '2026-11-01T08:00:00Z', ...over,
});

test('burndown of a recorded sprint: remaining per day, the ideal line, and scope added, re-estimated, moved out and deleted mid-sprint', async () => {
  const { plan, analytics, at } = await recordedPlan();
  const s = plan.createSprint({ name: 'Sprint 1', startDate: '2026-11-02', endDate: '2026-11-06', state: 'active' }, me);
  const a = plan.createTask({ title: 'A', sprintId: s.id, estimate: 3 }, me);
  const b = plan.createTask({ title: 'B', sprintId: s.id, estimate: 5 }, me);
  const c = plan.createTask({ title: 'C', sprintId: s.id, estimate: 2 }, me);
  const d = plan.createTask({ title: 'D (no estimate)', sprintId: s.id }, me);
  const e = plan.createTask({ title: 'E (points)', sprintId: s.id, estimate: 4, estimateUnit: 'points' }, me);
  at('2026-11-02T15:00:00Z');
  plan.startTask(a.id, me);
  plan.completeTask(a.id, 'done', me);
  at('2026-11-03T10:00:00Z');
  const f = plan.createTask({ title: 'F (added on day 2)', sprintId: s.id, estimate: 4 }, me);
  at('2026-11-03T11:00:00Z');
  plan.updateTask(b.id, { estimate: 8 }, me);
  at('2026-11-04T10:00:00Z');
  plan.startTask(b.id, me);
  plan.completeTask(b.id, 'done', me);
  plan.updateTask(c.id, { sprintId: null }, me);
  at('2026-11-05T10:00:00Z');
  plan.deleteTask(f.id, me);
  at('2026-11-06T10:00:00Z');

  const stats = analytics.stats({ sprintId: s.id });
  assert.ok(isSprintStats(stats));
  const bd = stats.burndown!;
  assert.equal(bd.unit, 'hours', 'most estimated tasks are in hours');
  assert.deepEqual(bd.unestimated, [d.id]);
  assert.deepEqual(bd.otherUnit, [e.id], 'the points task is left out of an hours burndown, and said so');
  assert.deepEqual(bd.points.map(p => [p.date, p.remaining, p.done, p.scope, p.ideal, p.unestimatedOpen]), [
    ['2026-11-02', 7, 3, 10, 10, 1],
    ['2026-11-03', 14, 3, 17, 7.5, 1],
    ['2026-11-04', 4, 11, 15, 5, 1],
    ['2026-11-05', 0, 11, 11, 2.5, 1],
    ['2026-11-06', 0, 11, 11, 0, 1],
  ]);
  assert.deepEqual(bd.scopeChanges, [
    { date: '2026-11-03', taskId: f.id, kind: 'added', delta: 4 },
    { date: '2026-11-03', taskId: b.id, kind: 'reestimated', delta: 3 },
    { date: '2026-11-04', taskId: c.id, kind: 'removed', delta: -2 },
    { date: '2026-11-05', taskId: f.id, kind: 'removed', delta: -4 },
  ]);
  assert.deepEqual(stats.sprint, { id: s.id, name: 'Sprint 1', state: 'active', startDate: '2026-11-02', endDate: '2026-11-06', tasksDone: 2, tasksTotal: 4 });
  assert.equal(stats.forecast.kind, 'insufficient', 'four days and two completions are not enough to forecast');
  assert.match((stats.forecast as { reason: string }).reason, /only 4 days of history before today \(7 needed\)/);
});

test('an empty plan: no sprint, no burndown, no velocity, and "not enough history" instead of a date', async () => {
  const { analytics } = await recordedPlan();
  const stats = analytics.stats();
  assert.equal(stats.sprint, null);
  assert.equal(stats.burndown, null);
  assert.deepEqual(stats.velocity, { unit: 'hours', sprints: [], average: null });
  assert.deepEqual(stats.forecast, {
    kind: 'insufficient', reason: 'Not enough history for a forecast: only 0 days of history before today (7 needed).',
    days: 0, completions: 0, minDays: FORECAST_MIN_DAYS, minCompletions: FORECAST_MIN_COMPLETIONS,
  });
  assert.throws(() => analytics.stats({ sprintId: 'S-9' }), /No sprint with id "S-9"/);
});

test('a sprint without start date or starting later has no burndown points, and says why', () => {
  assert.match(burndown(sprint({}), [], [], '2026-11-02').note!, /no start date/);
  const later = burndown(sprint({ startDate: '2026-12-01', endDate: '2026-12-14' }), [], [], '2026-11-02');
  assert.deepEqual(later.points, []);
  assert.equal(later.note, 'The sprint starts on 2026-12-01.');
});

test('a points sprint burns down in points; an open-ended one runs to today without ideal line; cancelling removes scope', () => {
  const tasks = [
    task('T-1', { estimate: 5, estimateUnit: 'points', status: 'DONE' }),
    task('T-2', { estimate: 3, estimateUnit: 'points', status: 'CANCELLED' }),
    task('T-3', { estimate: 8, estimateUnit: 'hours' }),
  ];
  const history: HistoryEvent[] = [
    { at: '2026-11-01T08:00:00Z', taskId: 'T-1', kind: 'created', sprintId: 'S-1', estimate: 5 },
    { at: '2026-11-01T08:00:00Z', taskId: 'T-2', kind: 'created', sprintId: 'S-1', estimate: 3 },
    { at: '2026-11-01T08:00:00Z', taskId: 'T-3', kind: 'created', sprintId: 'S-1', estimate: 8 },
    { at: '2026-11-02T09:00:00Z', taskId: 'T-1', kind: 'status', from: 'TODO', to: 'IN_PROGRESS' },
    { at: '2026-11-03T09:00:00Z', taskId: 'T-1', kind: 'status', from: 'IN_PROGRESS', to: 'DONE' },
    { at: '2026-11-03T12:00:00Z', taskId: 'T-2', kind: 'status', from: 'TODO', to: 'CANCELLED' },
  ];
  const bd = burndown(sprint({ startDate: '2026-11-01' }), tasks, history, '2026-11-03');
  assert.equal(bd.unit, 'points');
  assert.deepEqual(bd.otherUnit, ['T-3']);
  assert.deepEqual(bd.points.map(p => [p.date, p.remaining, p.done, p.ideal]), [
    ['2026-11-01', 8, 0, null], ['2026-11-02', 8, 0, null], ['2026-11-03', 0, 5, null],
  ]);
  assert.deepEqual(bd.scopeChanges, [{ date: '2026-11-03', taskId: 'T-2', kind: 'removed', delta: -3 }]);
});

test('history is read from activity entries as PlanService writes them, older entries (no recorded estimate) included', () => {
  const entry = (id: number, action: string, taskId: string | null, detail: string, sprintId: string | null = 'S-1'): ActivityEntry =>
    ({ id, at: `2026-11-0${id}T10:00:00Z`, actor: me, action, taskId, sprintId, detail });
  const events = historyFromActivity([
    entry(4, 'task.deleted', null, 'deleted task T-2 "B, estimate 9 hours", estimate 2 points'),
    entry(1, 'task.created', 'T-1', 'created task "A"'),
    entry(2, 'task.updated', 'T-1', 'updated title, estimate 5, sprint S-2'),
    entry(3, 'task.updated', 'T-1', 'updated estimate 5 → none, sprint backlog'),
    entry(5, 'task.status', 'T-1', 'TODO → DONE (checked in plan.md)'),
    entry(6, 'task.status', 'T-1', 'status stays DONE'),
    entry(7, 'task.note', 'T-1', 'noted: TODO → DONE'),
  ]);
  assert.deepEqual(events.map(e => ({ ...e, at: e.at.slice(0, 10) })), [
    { at: '2026-11-01', taskId: 'T-1', kind: 'created', sprintId: 'S-1' },
    { at: '2026-11-02', taskId: 'T-1', kind: 'estimate', to: 5 },
    { at: '2026-11-02', taskId: 'T-1', kind: 'sprint', to: 'S-2' },
    { at: '2026-11-03', taskId: 'T-1', kind: 'estimate', from: 5, to: null },
    { at: '2026-11-03', taskId: 'T-1', kind: 'sprint', to: null },
    { at: '2026-11-04', taskId: 'T-2', kind: 'deleted', sprintId: 'S-1', estimate: 2 },
    { at: '2026-11-05', taskId: 'T-1', kind: 'status', from: 'TODO', to: 'DONE' },
  ]);
});

test('velocity: completed estimate per closed sprint, oldest first, in the dominant unit; one sprint; open sprints left out', () => {
  const sprints = [sprint({ id: 'S-1', state: 'completed', endDate: '2026-10-14' }), sprint({ id: 'S-2', state: 'completed' }), sprint({ id: 'S-3', state: 'active' })];
  const tasks = [
    task('T-1', { sprintId: 'S-1', estimate: 3, estimateUnit: 'points', status: 'DONE' }),
    task('T-2', { sprintId: 'S-1', estimate: 5, estimateUnit: 'points', status: 'TODO' }),
    task('T-3', { sprintId: 'S-1', estimate: 2, estimateUnit: 'points', status: 'CANCELLED' }),
    task('T-4', { sprintId: 'S-1', status: 'DONE' }),
    task('T-5', { sprintId: 'S-2', estimate: 8, estimateUnit: 'points', status: 'DONE' }),
    task('T-6', { sprintId: 'S-2', estimate: 6, estimateUnit: 'hours', status: 'DONE' }),
    task('T-7', { sprintId: 'S-3', estimate: 13, estimateUnit: 'points', status: 'DONE' }),
  ];
  const v = velocity(sprints, tasks);
  assert.equal(v.unit, 'points');
  assert.deepEqual(v.sprints.map(e => [e.sprintId, e.completed, e.committed, e.tasksDone, e.tasksTotal]), [
    ['S-1', 3, 8, 2, 3],
    ['S-2', 8, 8, 2, 2],
  ]);
  assert.equal(v.average, 5.5);
  const one = velocity(sprints, tasks, 1);
  assert.deepEqual(one.sprints.map(e => e.sprintId), ['S-2']);
  assert.equal(one.unit, 'hours', 'one task in each unit: a tie goes to hours, the default unit');
  assert.equal(one.average, 6);
});

/** `days` days of history before `today`, with `perDay(i)` tasks completed on day i (oldest first). */
function throughputHistory(today: string, days: number, perDay: (i: number) => number): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  let n = 0;
  for (let i = 0; i < days; i++) {
    const day = addDays(today, i - days);
    out.push({ at: `${day}T08:00:00Z`, taskId: `T-x${n}`, kind: 'created', sprintId: null });
    for (let k = 0; k < perDay(i); k++) out.push({ at: `${day}T12:00:00Z`, taskId: `T-${n++}`, kind: 'status', from: 'IN_PROGRESS', to: 'DONE' });
  }
  return out;
}

test('forecast: a steady throughput gives exact dates; the chance of finishing by the sprint end follows', () => {
  const today = '2026-11-20';
  const history = throughputHistory(today, 10, () => 2); // two tasks done every day for 10 days
  const f = forecast(history, today, { id: 'S-1', endDate: '2026-11-22', remaining: 5 }, 11);
  assert.equal(f.kind, 'forecast');
  if (f.kind !== 'forecast') return;
  assert.deepEqual(f.basis, { ...f.basis, from: '2026-11-10', to: '2026-11-19', days: 10, completions: 20, trials: 10_000, seed: 1 });
  assert.match(f.basis.method, /Monte Carlo throughput sampling \(Vacanti/);
  assert.deepEqual(f.sprint, { scope: 'S-1', remainingTasks: 5, p50: '2026-11-23', p85: '2026-11-23', chanceByEnd: 0 }, '5 tasks at 2 a day take 3 days from tomorrow');
  assert.deepEqual(f.plan, { scope: 'plan', remainingTasks: 11, p50: '2026-11-26', p85: '2026-11-26', chanceByEnd: null });
  const byEnd = forecast(history, today, { id: 'S-1', endDate: '2026-11-23', remaining: 5 }, 0);
  assert.equal(byEnd.kind === 'forecast' && byEnd.sprint!.chanceByEnd, 1);
  assert.deepEqual(byEnd.kind === 'forecast' && byEnd.plan, { scope: 'plan', remainingTasks: 0, p50: today, p85: today, chanceByEnd: null });
});

test('forecast: a varying throughput gives a range (p50 ≤ p85), the same for the same seed', () => {
  const today = '2026-11-20';
  const history = throughputHistory(today, 20, i => [0, 0, 1, 3, 1][i % 5]);
  const one = forecast(history, today, null, 30, { trials: 2000 });
  const two = forecast(history, today, null, 30, { trials: 2000 });
  assert.deepEqual(one, two, 'seeded: the same history gives the same forecast');
  assert.ok(one.kind === 'forecast');
  if (one.kind !== 'forecast') return;
  assert.equal(one.basis.completions, 20);
  assert.equal(one.sprint, null);
  // 30 tasks at 1 a day on average take about 30 days; the 85 % date is later than the 50 % one.
  assert.ok(one.plan.p50! >= addDays(today, 22) && one.plan.p50! <= addDays(today, 38), one.plan.p50!);
  assert.ok(one.plan.p85! > one.plan.p50!);
});

test('forecast refuses to guess: too few days, or too few completions, are reported as such', () => {
  const today = '2026-11-20';
  const short = forecast(throughputHistory(today, 6, () => 3), today, null, 5);
  assert.equal(short.kind, 'insufficient');
  assert.match(short.kind === 'insufficient' ? short.reason : '', /only 6 days of history before today \(7 needed\)/);
  const quiet = forecast(throughputHistory(today, 10, i => (i < 4 ? 1 : 0)), today, null, 5);
  assert.equal(quiet.kind, 'insufficient');
  assert.match(quiet.kind === 'insufficient' ? quiet.reason : '', /only 4 tasks completed in the last 10 days \(5 needed\)/);
  const today10 = forecast(throughputHistory(addDays(today, 1), 1, () => 9), today, null, 5);
  assert.equal(today10.kind, 'insufficient', "today's completions are not history yet");
});
