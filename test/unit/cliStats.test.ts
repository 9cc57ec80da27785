import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';
import { isSprintStats } from '../../src/shared/analytics';

// `baton sprint` (create, dates, state) and `baton stats`: real processes over real state.

const repo = path.resolve(__dirname, '../..');
let sandbox: ReturnType<typeof makeCliSandbox>;
before(() => { sandbox = makeCliSandbox(); });
after(() => { sandbox.remove(); });

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [...CLI_ARGS, ...args, '--workspace', sandbox.workspace], { env: sandbox.env, encoding: 'utf8', cwd: repo });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function ok(...args: string[]): string {
  const r = run(...args);
  assert.equal(r.code, 0, `baton ${args.join(' ')}: ${r.err}`);
  return r.out;
}

test('baton sprint new / baton sprint S-1 --start --end --state: dates and state are set, bad ones refused with nothing changed', () => {
  const created = JSON.parse(ok('sprint', 'new', 'Sprint', 'One', '--goal', 'Ship it', '--json'));
  assert.equal(created.name, 'Sprint One');
  assert.equal(created.state, 'planned');
  const text = ok('sprint', created.id, '--start', '2026-12-01', '--end', '2026-12-14', '--state', 'active');
  assert.match(text, new RegExp(`Updated ${created.id} +Sprint One .*\\[active\\]  2026-12-01 → 2026-12-14`));

  const backwards = run('sprint', created.id, '--end', '2026-11-30');
  assert.notEqual(backwards.code, 0);
  assert.match(backwards.err, /endDate 2026-11-30 is before its startDate 2026-12-01/);
  const unreal = run('sprint', created.id, '--start', '2026-02-30');
  assert.notEqual(unreal.code, 0);
  assert.match(unreal.err, /startDate must be a date as YYYY-MM-DD, got "2026-02-30"/);
  const shape = run('sprint', created.id, '--start', 'tomorrow');
  assert.notEqual(shape.code, 0);
  assert.match(shape.err, /--start must be a date as YYYY-MM-DD or "none", got "tomorrow"/);
  assert.match(run('sprint', created.id).err, /Nothing to change/);

  const [now] = JSON.parse(ok('sprints', '--json'));
  assert.deepEqual([now.start_date, now.end_date, now.state], ['2026-12-01', '2026-12-14', 'active'], 'the refused changes left the sprint as it was');
  const cleared = JSON.parse(ok('sprint', created.id, '--end', 'none', '--json'));
  assert.equal(cleared.end_date, null);
});

test('baton stats prints the burndown, velocity and forecast (text and JSON)', () => {
  const s = JSON.parse(ok('sprint', 'new', 'Today', '--start', new Date().toISOString().slice(0, 10), '--state', 'active', '--json'));
  const json = JSON.parse(ok('stats', '--sprint', s.id, '--json'));
  assert.ok(isSprintStats(json));
  assert.equal(json.sprint!.id, s.id);
  assert.equal(json.burndown!.points.length, 1, 'a sprint starting today has one day so far');
  assert.equal(json.forecast.kind, 'insufficient');
  const text = ok('stats', '--sprint', s.id);
  assert.match(text, /Burndown \(hours\)\n  date +remaining +done +scope +ideal +unestimated\n  \d{4}-\d{2}-\d{2} +0 +0 +0 +–/);
  assert.match(text, /Velocity \(hours completed per closed sprint\)\n  No closed sprints yet\./);
  assert.match(text, /Forecast\n  Not enough history for a forecast: only 0 days of history before today \(7 needed\)\./);
  const unknown = run('stats', '--sprint', 'S-99');
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.err, /No sprint with id "S-99"/);
});
