import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { connectAgent, type ScriptedAgent } from './helpers/agent';

// The human side of the `baton` CLI (inbox, answer, approve, reject, intervene, pause, watch) against a
// running `baton serve`: every command goes through serve's MCP endpoint, as the operator.

const repo = path.resolve(__dirname, '../..');
const cliArgs = ['--import', 'tsx', path.join(repo, 'src/cli/main.ts')];
const FULL = { 'X-Baton-Tools': 'full' };
const PLAN = `# Tiny plan

### Sprint 1: Core

#### T1: Set up the database
Pick and configure the database.

#### T2: Write the API
Expose the endpoints.

#### T3: Add caching
Cache hot reads.
`;

let home: string;
let workspace: string;
let env: NodeJS.ProcessEnv;
let serve: ChildProcess | null = null;
let url: string;
let token: string;
let operatorToken: string;
const agents: ScriptedAgent[] = [];
let operator: ScriptedAgent;

interface Run { code: number | null; out: string; err: string }

/** Runs `baton …` in the temp workspace without blocking the event loop (agents' calls stay live). */
function baton(...args: string[]): Promise<Run> {
  return new Promise(resolve => {
    execFile(process.execPath, [...cliArgs, ...args, '--workspace', workspace], { env, cwd: repo, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await baton(...args);
  assert.equal(r.code, 0, `baton ${args.join(' ')} failed: ${r.err}`);
  return r.out;
}

interface InboxRow { id: string; kind: string; agentName: string; taskId: string | null; text: string; options: string[]; status: string; answer: string | null }

/**
 * Waits until an agent's request with this text is open in the inbox (its ask_human call is in flight).
 * Polls through a direct operator MCP client: cheaper than a `baton` process per poll.
 */
async function waitForRequest(text: string): Promise<InboxRow> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { requests } = await operator.call('list_inbox');
    const row = (requests as InboxRow[]).find(r => r.text === text);
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`no inbox request "${text}" appeared: ${JSON.stringify(requests)}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

async function stopServe(): Promise<number | null> {
  if (!serve) return null;
  const s = serve;
  serve = null;
  if (s.exitCode !== null || s.signalCode !== null) return s.exitCode;
  const exited = new Promise<number | null>(r => s.once('exit', code => r(code)));
  s.kill('SIGTERM');
  return exited;
}

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-home-'));
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-ws-'));
  fs.writeFileSync(path.join(workspace, 'PLAN.md'), PLAN);
  env = { ...process.env, BATON_HOME: home };
  const imported = await ok('import', path.join(workspace, 'PLAN.md'));
  assert.match(imported, /tasks: 3 new/);

  serve = spawn(process.execPath, [...cliArgs, 'serve', '--tools', 'full', '--workspace', workspace], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  const started = await new Promise<{ url: string; tokenFile: string }>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${err}`)), 20_000);
    serve!.stderr!.on('data', d => (err += d));
    serve!.stdout!.on('data', d => {
      out += d;
      const m = /Baton MCP server: (\S+)\nBearer token in: (.+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], tokenFile: m[2].trim() });
      }
    });
    serve!.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
  url = started.url;
  token = fs.readFileSync(started.tokenFile, 'utf8').trim();
  // The person's credential: the operator token file the endpoint names (never the agents' token serve prints).
  const endpoint = JSON.parse(fs.readFileSync(path.join(path.dirname(started.tokenFile), 'mcp-endpoint.json'), 'utf8'));
  operatorToken = fs.readFileSync(endpoint.operatorTokenFile, 'utf8').trim();
  operator = await connectAgent(url, operatorToken, 'test-operator');
  agents.push(operator);
});

after(async () => {
  await Promise.all(agents.map(a => a.close().catch(() => undefined)));
  await stopServe();
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(workspace, { recursive: true, force: true });
});

async function agent(name: string): Promise<ScriptedAgent> {
  const a = await connectAgent(url, token, name, FULL);
  agents.push(a);
  await a.call('agent_init', { agent: name });
  return a;
}

let alice: ScriptedAgent;
let aliceTask: string;

test('baton inbox lists an agent\'s question; baton answer wakes the waiting agent with the answer', async () => {
  alice = await agent('alice');
  aliceTask = (await alice.call('claim_next_task')).task.id;
  assert.match(aliceTask, /^T-\d+$/);

  const asking = alice.call('ask_human', { question: 'Which database?', options: ['PostgreSQL', 'SQLite'], wait_seconds: 30 }, { timeout: 40_000 });
  await waitForRequest('Which database?');
  const [text, json] = await Promise.all([ok('inbox'), ok('inbox', '--json')]);
  assert.match(text, new RegExp(`^Q-1 +alice#A-\\d+ asks \\(${aliceTask}\\) — \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\n {6}Which database\\?\n {6}options: PostgreSQL \\| SQLite\n$`));
  const rows = JSON.parse(json) as InboxRow[];
  assert.equal(rows.length, 1);
  assert.deepEqual(
    { id: rows[0].id, kind: rows[0].kind, status: rows[0].status, taskId: rows[0].taskId, text: rows[0].text, options: rows[0].options },
    { id: 'Q-1', kind: 'question', status: 'open', taskId: aliceTask, text: 'Which database?', options: ['PostgreSQL', 'SQLite'] },
  );
  assert.match(rows[0].agentName, /^alice#A-\d+$/);

  assert.equal(await ok('answer', 'Q-1', 'Use', 'PostgreSQL'), 'Q-1 answered: Use PostgreSQL\n');
  const result = await asking;
  assert.equal(result.request_id, 'Q-1');
  assert.equal(result.status, 'answered');
  assert.equal(result.answer, 'Use PostgreSQL');
  assert.equal(result.answered_by, os.userInfo().username, 'the CLI answers as the person, not as an agent');

  const [empty, all] = await Promise.all([ok('inbox'), ok('inbox', '--all')]);
  assert.equal(empty, 'The inbox is empty: no agent is waiting for you.\n');
  assert.match(all, /^Q-1 .*\n {6}Which database\?\n {6}options: PostgreSQL \| SQLite\n {6}→ answered: Use PostgreSQL \(.+\)\n$/);
});

test('baton approve Q-… approves an approval request; baton reject Q-… rejects it with the reason', async () => {
  // Two approval requests from the same agent in flight at once.
  const approving = alice.call('ask_human', { question: 'May I drop the legacy table?', kind: 'approval', wait_seconds: 30 }, { timeout: 40_000 });
  const toApprove = (await waitForRequest('May I drop the legacy table?')).id;
  const rejecting = alice.call('ask_human', { question: 'May I rewrite it in Rust?', kind: 'approval', wait_seconds: 30 }, { timeout: 40_000 });
  const toReject = (await waitForRequest('May I rewrite it in Rust?')).id;
  assert.deepEqual([toApprove, toReject], ['Q-2', 'Q-3']);
  const inbox = await ok('inbox');
  assert.match(inbox, new RegExp(`^${toApprove} +alice#A-\\d+ asks to approve \\(${aliceTask}\\)`, 'm'));
  assert.match(inbox, new RegExp(`^${toReject} +alice#A-\\d+ asks to approve \\(${aliceTask}\\)`, 'm'));

  const [approvedOut, rejectedOut, noReason] = await Promise.all([
    ok('approve', toApprove, '--feedback', 'go ahead'),
    ok('reject', toReject, '--reason', 'Stay in TypeScript'),
    baton('reject', toReject),
  ]);
  assert.equal(approvedOut, `${toApprove} approved\n`);
  assert.equal(rejectedOut, `${toReject} rejected: Stay in TypeScript\n`);
  assert.equal(noReason.code, 1, 'reject needs a reason');
  assert.match(noReason.err, /--reason/);

  const approved = await approving;
  assert.deepEqual([approved.request_id, approved.status, approved.answer], [toApprove, 'approved', 'go ahead']);
  const rejected = await rejecting;
  assert.deepEqual([rejected.request_id, rejected.status, rejected.answer], [toReject, 'rejected', 'Stay in TypeScript']);
});

test('baton intervene reaches the agent on the task; baton pause blocks it and tells the agent why', async () => {
  const out = await ok('intervene', aliceTask, '--message', 'Use Redis');
  assert.equal(out, `${aliceTask}: delivered to 1 agent session(s) and noted on the task\n`);
  // The agent's next call tells it there is mail; check_messages returns the intervention.
  assert.match(await alice.raw('get_task', { task_id: aliceTask }), /You have 1 unread message/);
  const { messages } = await alice.call('check_messages');
  assert.equal(messages.length, 1);
  assert.deepEqual(
    { body: messages[0].body, subject: messages[0].subject, task_id: messages[0].task_id, from: messages[0].from },
    { body: 'Use Redis', subject: 'Intervention', task_id: aliceTask, from: os.userInfo().username },
  );

  // The reason is echoed as it is stored: redacted (issue "Trust" item 2).
  const leaked = 'ghp_' + 'R8s7fKq2Lm4Np6Tx9Zb1Cd3Ef5Gh7Jk9Lm2N';
  assert.equal(await ok('pause', aliceTask, '--reason', `needs architecture review; token ${leaked}`), `${aliceTask} paused (BLOCKED): needs architecture review; token [REDACTED:github-token]\n`);
  const blocked = JSON.parse(await ok('tasks', '--json', '--status', 'BLOCKED')) as { id: string; status: string }[];
  assert.deepEqual(blocked.map(t => [t.id, t.status]), [[aliceTask, 'BLOCKED']]);
  const told = (await alice.call('check_messages')).messages;
  assert.equal(told.length, 1);
  assert.match(told[0].body, /paused .*needs architecture review/);
});

test('baton approve T-… approves a task in review to ship: DONE', async () => {
  const bob = await agent('bob');
  const bobTask = (await bob.call('claim_next_task')).task.id;
  assert.notEqual(bobTask, aliceTask);
  const progressed = await bob.call('report_progress', { tests_passed: true });
  assert.equal(progressed.status, 'IN_REVIEW');
  const todo = ['T-1', 'T-2', 'T-3'].find(t => t !== aliceTask && t !== bobTask)!;

  const [shipped, refused] = await Promise.all([ok('approve', bobTask, '--feedback', 'ship it'), baton('approve', todo)]);
  assert.equal(shipped, `${bobTask} approved to ship: DONE\n`);
  // A task that is neither in progress nor in review cannot be approved to ship.
  assert.equal(refused.code, 1);
  assert.equal(refused.err, `baton: ${todo} is TODO; only work in progress or in review can be approved to ship.\n`);

  const tasks = JSON.parse(await ok('tasks', '--json')) as { id: string; status: string }[];
  assert.deepEqual(Object.fromEntries(tasks.map(t => [t.id, t.status])), { [aliceTask]: 'BLOCKED', [bobTask]: 'DONE', [todo]: 'TODO' });
  const { messages } = await bob.call('check_messages');
  assert.ok(messages.some((m: { body: string }) => /ship it/.test(m.body)), JSON.stringify(messages));
});

test('baton watch prints new activity as it happens and stops cleanly on SIGINT', async () => {
  const watch = spawn(process.execPath, [...cliArgs, 'watch', '--interval', '200', '--workspace', workspace], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(r => watch.once('exit', (code, signal) => r({ code, signal })));
  let out = '';
  let err = '';
  watch.stderr!.on('data', d => (err += d));
  const seen = (re: RegExp, ms: number) => new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      watch.stdout!.off('data', onData);
      if (error) reject(error);
      else resolve();
    };
    const onData = (d: Buffer) => {
      out += d;
      if (re.test(out)) done();
    };
    const timer = setTimeout(() => done(new Error(`watch printed no ${re} within ${ms} ms; stdout: ${out}; stderr: ${err}`)), ms);
    watch.stdout!.on('data', onData);
    if (re.test(out)) done();
  });
  try {
    // The backlog first (the latest entries, oldest first), up to the approval just given…
    await seen(/IN_REVIEW → DONE/, 15_000);
    assert.match(out, /Q-1 answered: Use PostgreSQL/);
    assert.doesNotMatch(out, /watch me/);
    // …then what happens while it watches.
    await alice.call('add_note', { task_id: aliceTask, text: 'watch me' });
    await seen(/watch me/, 15_000);
    const lines = out.split('\n').filter(l => l.includes('watch me'));
    assert.equal(lines.length, 1, 'each entry printed once');
    assert.match(lines[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  alice#A-\\d+  ${aliceTask}  noted: watch me$`));
  } finally {
    watch.kill('SIGINT');
  }
  const { code, signal } = await exited;
  assert.equal(signal, null, `watch was killed by ${signal} instead of stopping cleanly; stderr: ${err}`);
  assert.equal(code, 0, err);
});

test('errors: an unknown request or an already answered one exits 1 with a clear message', async () => {
  const [unknown, again] = await Promise.all([baton('answer', 'Q-999', 'x'), baton('answer', 'Q-1', 'again')]);
  assert.deepEqual(unknown, { code: 1, out: '', err: 'baton: No inbox request with id "Q-999".\n' });
  assert.equal(again.code, 1);
  assert.equal(again.out, '');
  assert.equal(again.err, `baton: Q-1 is already answered by ${os.userInfo().username}.\n`);
});

test('without serve, the CLI becomes the owner for the command: an open request survives serve stopping', async () => {
  // An agent asks without waiting and gets no answer yet: the request stays open.
  const pending = await alice.call('ask_human', { question: 'Is the cache TTL 60 s?', kind: 'blocked', wait_seconds: 0 });
  assert.equal(pending.status, 'open');
  const id: string = pending.request_id;
  assert.equal(id, 'Q-4');
  await Promise.all(agents.splice(0).map(a => a.close().catch(() => undefined)));

  assert.equal(await stopServe(), 0, 'serve stops cleanly on SIGTERM');
  assert.equal(fs.readdirSync(home, { recursive: true }).some(f => String(f).endsWith('mcp-endpoint.json')), false, 'serve withdrew its endpoint');
  const text = await ok('inbox');
  assert.match(text, new RegExp(`^${id} +alice#A-\\d+ is blocked \\(${aliceTask}\\) — .*\n {6}Is the cache TTL 60 s\\?\n$`));

  // In local mode the person can still answer; the whole history is there.
  assert.equal(await ok('answer', id, '120 s'), `${id} answered: 120 s\n`);
  const all = JSON.parse(await ok('inbox', '--all', '--json')) as InboxRow[];
  assert.deepEqual(
    all.map(r => [r.id, r.status, r.answer]).sort(),
    [['Q-1', 'answered', 'Use PostgreSQL'], ['Q-2', 'approved', 'go ahead'], ['Q-3', 'rejected', 'Stay in TypeScript'], [id, 'answered', '120 s']],
  );
});
