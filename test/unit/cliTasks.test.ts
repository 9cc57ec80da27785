import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { connectAgent } from './helpers/agent';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';

// The task side of the `baton` CLI (show, note, status, done, context, checkpoint, dep, messages), the
// global --workspace option, and many `baton` commands started at once: real processes, real state.

const repo = path.resolve(__dirname, '../..');
const cliArgs = CLI_ARGS;
const PLAN = `# Tiny plan

### Sprint 1: Core

#### T1: Set up the database
Pick and configure the database.

#### T2: Write the API
Expose the endpoints.

#### T3: Add caching
Cache hot reads.
`;

let workspace: string;
let env: NodeJS.ProcessEnv;
let sandbox: ReturnType<typeof makeCliSandbox>;

before(() => {
  sandbox = makeCliSandbox();
  ({ workspace } = sandbox);
  fs.writeFileSync(path.join(workspace, 'PLAN.md'), PLAN);
  env = sandbox.env;
});
after(() => {
  sandbox.remove();
});

/** `baton ARGS` run from the repository (not the workspace): the workspace comes from --workspace. */
function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { env, encoding: 'utf8', cwd: repo, input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function ok(...args: string[]): string {
  const r = run([...args, '--workspace', workspace]);
  assert.equal(r.code, 0, `baton ${args.join(' ')}: ${r.err}`);
  return r.out;
}

test('--workspace works before the subcommand (like git -C) and after it', () => {
  const before = run(['--workspace', workspace, 'import', path.join(workspace, 'PLAN.md')]);
  assert.equal(before.code, 0, before.err);
  assert.match(before.out, /tasks: 3 new/);
  const short = run(['-w', workspace, 'tasks', '--json']);
  assert.equal(short.code, 0, short.err);
  assert.equal(JSON.parse(short.out).length, 3);
  const afterIt = run(['tasks', '--json', '--workspace', workspace]);
  assert.deepEqual(JSON.parse(afterIt.out), JSON.parse(short.out));
  const bad = run(['--workspace', path.join(workspace, 'missing'), 'tasks']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /is not a folder/);
});

test('the quick operations work on the CLI, and baton show prints the task whole', () => {
  assert.match(ok('note', 'T-2', 'Use', 'REST,', 'not', 'GraphQL'), /T-2: note N-\S+ added/);
  assert.match(ok('dep', 'add', 'T-2', 'T-1'), /T-2 depends on: T-1/);
  assert.match(ok('dep', 'add', 'T-3', 'T-2'), /T-3 depends on: T-2/);
  const cycle = run(['dep', 'add', 'T-1', 'T-3', '--workspace', workspace]);
  assert.equal(cycle.code, 1);
  assert.match(cycle.err, /cycle/i);
  assert.match(ok('dep', 'remove', 'T-3', 'T-2'), /T-3 depends on: nothing/);
  assert.match(ok('checkpoint', 'add', 'T-2', 'Design', 'the', 'routes'), /T-2: checkpoint 1\. Design the routes added/);
  ok('checkpoint', 'add', 'T-2', 'Write the handlers');
  assert.match(ok('checkpoint', 'tick', 'T-2', '1'), /checked; progress 50%/);
  ok('context', 'append', 'T-2', '## Decisions\nREST with JSON bodies.');
  const piped = run(['context', 'append', 'T-2', '-w', workspace], 'Auth: bearer tokens.\n');
  assert.equal(piped.code, 0, piped.err);
  // A refused move changes nothing and says why.
  const refused = run(['done', 'T-2', '--summary', 'too early', '--workspace', workspace]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /cannot move from TODO to DONE/);
  const badStatus = run(['status', 'T-2', 'FINISHED', '--workspace', workspace]);
  assert.equal(badStatus.code, 1);
  assert.match(badStatus.err, /status/i);
  assert.match(ok('status', 'T-1', 'in-progress'), /T-1 is IN_PROGRESS/);
  assert.match(ok('done', 'T-1', '--summary', 'Postgres 16 configured'), /T-1 is DONE/);
  assert.match(ok('status', 'T-2', 'IN_PROGRESS', '--note', 'starting the API'), /T-2 is IN_PROGRESS/);

  const text = ok('show', 'T-2');
  assert.match(text, /^T-2 {2}.*Write the API\n/);
  assert.match(text, /status IN_PROGRESS/);
  assert.match(text, /Expose the endpoints\./);
  assert.match(text, /depends on: T-1\n/);
  assert.match(text, /Checkpoints \(1\/2\)\n {2}\[x\] 1\. Design the routes\n {2}\[ \] 2\. Write the handlers/);
  assert.match(text, /Context\n[\s\S]*REST with JSON bodies\.[\s\S]*Auth: bearer tokens\./);
  assert.match(text, /Notes \(2\)[\s\S]*Use REST, not GraphQL[\s\S]*starting the API/);
  assert.match(text, /Activity\n/);
  const json = JSON.parse(ok('show', 'T-2', '--json'));
  assert.equal(json.id, 'T-2');
  assert.deepEqual(json.depends_on.map((d: { id: string }) => d.id), ['T-1']);
  assert.equal(json.checkpoints.length, 2);
  assert.equal(json.notes.length, 2);
  assert.ok(json.activity.length > 0);
  const done = JSON.parse(ok('show', '1', '--json'));
  assert.equal(done.status, 'DONE');
  assert.equal(done.summary, 'Postgres 16 configured');
  const missing = run(['show', 'T-99', '--workspace', workspace]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /T-99/);
});

test('baton activity: the log oldest first, of the plan or one task, the newest --limit entries; a bad --limit is refused', () => {
  const all = JSON.parse(ok('activity', '--json'));
  assert.ok(all.length > 0);
  const times = all.map((e: { at: string }) => e.at);
  assert.deepEqual(times, [...times].sort(), 'oldest first');
  const t2 = JSON.parse(ok('activity', '--task', 'T-2', '--json'));
  assert.ok(t2.length > 0 && t2.every((e: { task_id: string }) => e.task_id === 'T-2'));
  assert.ok(t2.some((e: { detail: string }) => /TODO → IN_PROGRESS/.test(e.detail)), JSON.stringify(t2));
  const last = JSON.parse(ok('activity', '--task', 'T-2', '--limit', '1', '--json'));
  assert.deepEqual(last, t2.slice(-1), 'the newest entry');
  assert.match(ok('activity', '--task', 'T-2'), /T-2 {2}.*IN_PROGRESS/);
  const bad = run(['activity', '--limit', '0', '--workspace', workspace]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--limit must be a whole number from 1 to 500/);
});

test('16 baton commands started at once all succeed (they wait their turn for the state)', async () => {
  const started = Date.now();
  const runs = await Promise.all(Array.from({ length: 16 }, (_, i) => new Promise<{ code: number | null; out: string; err: string }>(resolve => {
    execFile(process.execPath, [...cliArgs, 'note', 'T-3', `parallel note ${i}`, '--workspace', workspace], { env, cwd: repo, encoding: 'utf8', timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out: stdout, err: stderr }));
  })));
  const failed = runs.filter(r => r.code !== 0);
  assert.equal(failed.length, 0, `failed: ${failed.map(r => r.err).join(' | ')} (after ${Date.now() - started} ms)`);
  const notes = JSON.parse(ok('show', 'T-3', '--json')).notes.map((n: { text: string }) => n.text).sort();
  assert.deepEqual(notes, Array.from({ length: 16 }, (_, i) => `parallel note ${i}`).sort());
});

test('baton messages shows what agents sent the person and marks it read', async () => {
  const serve: ChildProcess = spawn(process.execPath, [...cliArgs, 'serve', '--workspace', workspace], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const started = await new Promise<{ url: string; tokenFile: string }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 20_000);
      serve.stdout!.on('data', d => {
        out += d;
        const m = /Baton MCP server: (\S+)\nBearer token in: (.+)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ url: m[1], tokenFile: m[2].trim() });
        }
      });
      serve.once('exit', code => reject(new Error(`serve exited with ${code}`)));
    });
    const agent = await connectAgent(started.url, fs.readFileSync(started.tokenFile, 'utf8').trim(), 'claude-code', {});
    try {
      await agent.call('agent_init', { agent: 'alice' });
      await agent.call('send_message', { to: 'human', subject: 'Schema question', body: 'Should users have soft delete?', task_id: 'T-3' });
      const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...cliArgs, 'messages', '--workspace', workspace], { env, cwd: repo, encoding: 'utf8' },
        (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))));
      assert.match(out, /M-\d+ +from alice\S* \(T-3\)/);
      assert.match(out, /Schema question\n\s+Should users have soft delete\?/);
      const again = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...cliArgs, 'messages', '--workspace', workspace], { env, cwd: repo, encoding: 'utf8' },
        (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))));
      assert.equal(again, 'No messages.\n');
      const all = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...cliArgs, 'messages', '--all', '--json', '--workspace', workspace], { env, cwd: repo, encoding: 'utf8' },
        (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))));
      assert.equal(JSON.parse(all).length, 1);
    } finally {
      await agent.close();
    }
  } finally {
    const exited = new Promise(r => serve.once('exit', r));
    serve.kill('SIGTERM');
    await exited;
  }
});
