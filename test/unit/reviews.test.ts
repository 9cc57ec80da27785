import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Actor, Task } from '../../src/core/model';
import { readEndpoint } from '../../src/host/endpoint';
import type { ReviewStarted } from '../../src/services/reviewService';
import { ReviewRepository } from '../../src/store/reviewRepository';
import { resolveStorageDir } from '../../src/store/storageLocation';
import { connectAgent, type ScriptedAgent } from './helpers/agent';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';
import { openTestOwner } from './helpers/owner';

// Review pipelines end to end: a real owner (durable store, MCP over HTTP), scripted agents as real MCP
// clients (implementer and reviewers), the person as the operator (MCP with the operator token, and the
// `baton` CLI as a separate process against the same owner).

const ada: Actor = { kind: 'user', name: 'ada' };
let sandbox: ReturnType<typeof makeCliSandbox>;
let owner: Awaited<ReturnType<typeof openTestOwner>>;
let url: string;
let token: string;
let operator: ScriptedAgent;
const started: ReviewStarted[] = [];
const clients: ScriptedAgent[] = [];

before(async () => {
  sandbox = makeCliSandbox();
  process.env.BATON_HOME = sandbox.home; // resolveStorageDir registers the workspace where the CLI will look
  const dir = resolveStorageDir(sandbox.workspace);
  owner = await openTestOwner({ mcp: true, tier: 'full', dir });
  url = owner.mcpUrl!;
  token = owner.readToken()!;
  operator = await connectAgent(url, fs.readFileSync(readEndpoint(dir)!.operatorTokenFile!, 'utf8').trim(), 'baton-cli');
  clients.push(operator);
  owner.services.reviews.onDidStartReview(e => started.push(e));
});
after(async () => {
  await Promise.all(clients.map(c => c.close().catch(() => undefined)));
  await owner.cleanup();
  sandbox.remove();
});

async function agent(name: string, profile: string): Promise<ScriptedAgent> {
  const a = await connectAgent(url, token, name);
  clients.push(a);
  await a.call('agent_init', { agent: name, profile });
  return a;
}

/** A task with its own pipeline, taken by a fresh implementer session (claude) that is returned with it. */
async function taskWithPipeline(title: string, pipeline: string): Promise<{ task: Task; implementer: ScriptedAgent }> {
  const task = owner.plan.createTask({ title, description: `Do ${title}.` }, ada);
  assert.deepEqual(await operator.call('set_review_pipeline', { target: task.id, pipeline }), { target: task.id, spec: pipeline });
  const implementer = await connectAgent(url, token, 'claude-code');
  clients.push(implementer);
  const init = await implementer.call('agent_init', { profile: 'claude', task_id: task.id });
  assert.equal(init.task.status, 'IN_PROGRESS');
  return { task, implementer };
}

const approve = (score: number, summary = 'Does what the task asks; tests cover it.') => ({ score, verdict: 'approve', summary, strengths: ['small, clear change'] });

/** Runs `baton …` against the owner (its endpoint, as the person). */
function baton(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [...CLI_ARGS, ...args, '--workspace', sandbox.workspace], { env: sandbox.env, encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out: stdout, err: stderr });
    });
  });
}

test('completion with a pipeline goes to IN_REVIEW and opens a round; an agent cannot finish it or approve the gate', async () => {
  const { task, implementer } = await taskWithPipeline('Login form', 'implement: claude -> review: codex, gemini -> gate: human');
  const done = await implementer.call('complete_task', { task_id: task.id, summary: 'Form with validation; tests in test/login.test.ts' });
  assert.equal(done.status, 'IN_REVIEW', 'complete_task sends a task with a review pipeline to review, not DONE');
  const event = started.find(e => e.task.id === task.id);
  assert.ok(event, 'onDidStartReview fired for the later session-start step');
  assert.deepEqual(event.round.reviewers, ['codex', 'gemini']);
  assert.equal(event.round.round, 1);

  const shown = await implementer.call('get_task', { task_id: task.id });
  assert.equal(shown.summary, 'Form with validation; tests in test/login.test.ts');
  assert.equal(shown.review.pipeline, 'implement: claude -> review: codex, gemini -> gate: human');
  assert.equal(shown.review.pipeline_from, 'task');
  assert.deepEqual(shown.review.rounds[0].waiting_for, ['codex', 'gemini']);

  await assert.rejects(implementer.call('complete_task', { task_id: task.id, summary: 'really done' }), /is in review \(round 1, waiting for reviews from codex, gemini\): it becomes DONE when its gate \(human\) passes/);
  await assert.rejects(implementer.call('update_task', { task_id: task.id, status: 'DONE', title: 'Renamed' }), /is in review/);
  assert.equal(owner.plan.getTask(task.id).title, 'Login form', 'a refused status move changes no field either');
  const { tools } = await implementer.listTools();
  const names = tools.map(t => t.name);
  assert.ok(names.includes('submit_review') && names.includes('get_reviews'));
  for (const operatorOnly of ['approve', 'answer_request', 'reject_request', 'set_review_pipeline']) assert.ok(!names.includes(operatorOnly), `agents do not get ${operatorOnly}`);
  const submit = tools.find(t => t.name === 'submit_review')!;
  assert.equal(submit.annotations?.readOnlyHint, false);
  assert.equal(submit.annotations?.openWorldHint, false);
  assert.equal(owner.plan.getTask(task.id).status, 'IN_REVIEW');
});

test('submit_review refuses bad reviews and wrong reviewers, naming why, and stores nothing', async () => {
  const { task, implementer } = await taskWithPipeline('Search box', 'review: codex -> gate: human');
  const codex = await agent('codex-mcp-client', 'codex');
  await assert.rejects(codex.call('submit_review', { task_id: task.id, ...approve(9) }), /is IN_PROGRESS with no open review round: only a task in review can be reviewed/);
  await implementer.call('complete_task', { task_id: task.id, summary: 'Search box done' });

  await assert.rejects(codex.call('submit_review', { task_id: task.id, ...approve(11) }), /score/);
  await assert.rejects(codex.call('submit_review', { task_id: task.id, score: 4, verdict: 'request_changes', summary: 'Not good.' }), /request_changes verdict must say what to change/);
  await assert.rejects(codex.call('submit_review', { task_id: task.id, ...approve(8), findings: [{ file: 'src/search.ts', line: 0, message: 'x' }] }), /line/);
  await assert.rejects(codex.call('submit_review', { task_id: task.id, ...approve(8), verdict: 'lgtm' }), /verdict/);
  const qwen = await agent('qwen-code', 'qwen');
  await assert.rejects(qwen.call('submit_review', { task_id: task.id, ...approve(9) }), /waits for reviews from codex; this session is qwen/);
  await assert.rejects(implementer.call('submit_review', { task_id: task.id, ...approve(10) }), /implemented T-\d+; a reviewer must be another session/);
  assert.equal(owner.services.reviews.details(task.id).rounds[0].reviews.length, 0, 'no refused review was stored');
  assert.equal(owner.services.artifacts.list({ taskId: task.id }).total, 0);

  const ok = await codex.call('submit_review', { task_id: task.id, ...approve(9) });
  assert.match(ok.review_id, /^RV-\d+$/);
  await assert.rejects(codex.call('submit_review', { task_id: task.id, ...approve(9) }), /already reviewed round 1|already has every review/);
});

test('request_changes sends the task back to IN_PROGRESS with the findings for the implementer; the next completion opens round 2', async () => {
  const { task, implementer } = await taskWithPipeline('Payments webhook', 'review: codex, gemini -> gate: score>=7');
  await implementer.call('complete_task', { task_id: task.id, summary: 'Webhook handler' });
  const codex = await agent('codex-mcp-client', 'codex');
  const gemini = await agent('gemini-cli', 'gemini');
  const first = await codex.call('submit_review', { task_id: task.id, ...approve(8) });
  assert.equal(first.round_state, 'reviewing');
  assert.deepEqual(first.waiting_for, ['gemini']);
  assert.equal(owner.plan.getTask(task.id).status, 'IN_REVIEW', 'one reviewer of two answered: still in review');
  const second = await gemini.call('submit_review', {
    task_id: task.id, score: 4, verdict: 'request_changes', summary: 'The signature is not checked.',
    critical_gaps: ['Webhook signature is never verified'],
    findings: [{ file: 'src/webhook.ts', line: 42, severity: 'critical', message: 'verify the Stripe-Signature header before parsing' }],
  });
  assert.equal(second.round_state, 'changes_requested');
  assert.equal(second.task.status, 'IN_PROGRESS');
  const t = await implementer.call('get_task', { task_id: task.id });
  const note = t.notes.map((n: { text: string }) => n.text).join('\n');
  assert.match(note, /Review round 1: gemini requested changes/);
  assert.match(note, /src\/webhook\.ts:42 \(critical\): verify the Stripe-Signature header/);
  assert.match(note, /critical gap: Webhook signature is never verified/);
  const { messages } = await implementer.call('check_messages');
  const told = messages.find((m: { subject: string }) => m.subject === 'Changes requested');
  assert.ok(told, 'the implementer (still connected) is told');
  assert.match(told.body, /src\/webhook\.ts:42/);
  assert.equal(t.assignee, owner.plan.getTask(task.id).assignee, 'the task stays with its implementer');

  const again = await implementer.call('complete_task', { task_id: task.id, summary: 'Signature verified, test added' });
  assert.equal(again.status, 'IN_REVIEW');
  await codex.call('submit_review', { task_id: task.id, ...approve(9) });
  const last = await gemini.call('submit_review', { task_id: task.id, ...approve(8, 'Signature now verified.') });
  assert.equal(last.round, 2);
  assert.equal(last.task.status, 'DONE', 'round 2: both approve and the lowest score 8 ≥ 7 passes the rule gate');
  const rounds = owner.services.reviews.details(task.id).rounds;
  assert.deepEqual(rounds.map(r => r.state), ['changes_requested', 'approved']);
});

test('a rule gate passes to DONE when every reviewer approves at or above the score, and sends it back below it', async () => {
  const pass = await taskWithPipeline('Rate limiter', 'review: codex -> gate: score>=8');
  await pass.implementer.call('complete_task', { task_id: pass.task.id, summary: 'Token bucket' });
  const codex = await agent('codex-mcp-client', 'codex');
  const r = await codex.call('submit_review', { task_id: pass.task.id, ...approve(8) });
  assert.equal(r.task.status, 'DONE');
  assert.equal(owner.plan.getTask(pass.task.id).completedAt !== null, true);

  const low = await taskWithPipeline('Cache eviction', 'review: codex -> gate: score>=8');
  await low.implementer.call('complete_task', { task_id: low.task.id, summary: 'LRU' });
  const codex2 = await agent('codex-mcp-client', 'codex');
  const below = await codex2.call('submit_review', { task_id: low.task.id, ...approve(7, 'Works, but the eviction test is thin.'), recommendations: ['test eviction under concurrent writes'] });
  assert.equal(below.task.status, 'IN_PROGRESS');
  assert.match(owner.services.reviews.details(low.task.id).rounds[0].outcome!, /lowest score 7\/10 is below the gate's 8/);
});

test('a human gate asks the person in the Inbox with the reviews attached; only the operator\'s approval makes it DONE; a rejection sends it back', async () => {
  const { task, implementer } = await taskWithPipeline('Export CSV', 'review: codex, gemini -> gate: human');
  await implementer.call('complete_task', { task_id: task.id, summary: 'CSV export with escaping' });
  const codex = await agent('codex-mcp-client', 'codex');
  const gemini = await agent('gemini-cli', 'gemini');
  await codex.call('submit_review', { task_id: task.id, ...approve(9) });
  const last = await gemini.call('submit_review', { task_id: task.id, ...approve(8, 'Escaping handled; quotes tested.') });
  assert.equal(last.round_state, 'awaiting_gate');
  assert.match(last.request_id, /^Q-\d+$/);
  assert.equal(last.task.status, 'IN_REVIEW', 'every reviewer approved, but the person has not');

  const { requests } = await operator.call('list_inbox');
  const request = requests.find((q: { id: string }) => q.id === last.request_id);
  assert.equal(request.kind, 'approval');
  assert.equal(request.taskId, task.id);
  assert.match(request.text, /codex \(codex-mcp-client#A-\d+\): 9\/10, approve/);
  assert.match(request.text, /gemini \(gemini-cli#A-\d+\): 8\/10, approve — Escaping handled; quotes tested\. \[AR-\d+\]/);

  await assert.rejects(implementer.call('complete_task', { task_id: task.id, summary: 'ship it' }), /waiting for the person's approval \(Q-\d+\)/);
  await assert.rejects(gemini.call('submit_review', { task_id: task.id, ...approve(10) }), /already reviewed|already has every review/);
  assert.equal(owner.plan.getTask(task.id).status, 'IN_REVIEW', 'no agent call passed the gate');

  const approved = await baton('approve', last.request_id, '--feedback', 'Looks good');
  assert.equal(approved.code, 0, approved.err);
  assert.equal(owner.plan.getTask(task.id).status, 'DONE', 'the person\'s approval (operator, via the CLI) makes it DONE');
  assert.equal(owner.services.reviews.details(task.id).rounds[0].state, 'approved');

  const other = await taskWithPipeline('Import XLSX', 'review: codex -> gate: human');
  await other.implementer.call('complete_task', { task_id: other.task.id, summary: 'XLSX import' });
  const codex3 = await agent('codex-mcp-client', 'codex');
  const waiting = await codex3.call('submit_review', { task_id: other.task.id, ...approve(9) });
  await operator.call('reject_request', { request_id: waiting.request_id, note: 'Dates come out in the wrong time zone.' });
  assert.equal(owner.plan.getTask(other.task.id).status, 'IN_PROGRESS');
  const note = owner.plan.getTaskDetails(other.task.id).notes.map(n => n.text).join('\n');
  assert.match(note, /did not approve \(Q-\d+\): Dates come out in the wrong time zone\./);
});

test('a pipeline without reviewers goes straight to its gate: the person approves in the Inbox', async () => {
  const { task, implementer } = await taskWithPipeline('Release notes', 'implement: claude -> gate: human');
  const done = await implementer.call('complete_task', { task_id: task.id, summary: 'Notes written' });
  assert.equal(done.status, 'IN_REVIEW');
  const round = owner.services.reviews.details(task.id).rounds[0];
  assert.equal(round.state, 'awaiting_gate');
  assert.match(owner.services.inbox.get(round.requestId!).text, /no reviewers in the pipeline/);
  await operator.call('approve', { id: round.requestId! });
  assert.equal(owner.plan.getTask(task.id).status, 'DONE');
  const plain = owner.plan.createTask({ title: 'No pipeline here' }, ada);
  const t = await implementer.call('get_task', { task_id: plain.id });
  assert.equal(t.review, undefined, 'a task without pipeline or reviews has no review key (fewer tokens)');
});

test('the person marking a task done sends it to review; the person can also end a review by marking it done', async () => {
  const sprint = owner.plan.createSprint({ name: 'Reviewed sprint' }, ada);
  owner.services.reviews.setPipeline(sprint.id, 'review: codex', ada);
  const task = owner.plan.createTask({ title: 'Settings page', sprintId: sprint.id }, ada);
  owner.plan.startTask(task.id, ada);
  assert.equal(owner.plan.completeTask(task.id, 'Settings page done', ada).status, 'IN_REVIEW', 'the sprint\'s pipeline applies');
  assert.equal(owner.services.reviews.details(task.id).pipeline!.source, 'sprint');
  assert.equal(owner.plan.setStatus(task.id, 'DONE', ada).status, 'DONE', 'the person may end the review');
  assert.equal(owner.services.reviews.details(task.id).rounds[0].state, 'overridden');

  const off = owner.plan.createTask({ title: 'Typo fix', sprintId: sprint.id }, ada);
  owner.services.reviews.setPipeline(off.id, 'none', ada);
  owner.plan.startTask(off.id, ada);
  assert.equal(owner.plan.completeTask(off.id, 'fixed', ada).status, 'DONE', '"none" on the task switches the sprint\'s review off');
});

test('reviews are stored as redacted task artifacts and shown by baton show and baton review', async () => {
  const { task, implementer } = await taskWithPipeline('Audit log', 'review: codex -> gate: score>=6');
  await implementer.call('complete_task', { task_id: task.id, summary: 'Audit log table and writer' });
  const codex = await agent('codex-mcp-client', 'codex');
  const secret = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
  const r = await codex.call('submit_review', {
    task_id: task.id, score: 5, verdict: 'request_changes', summary: `Rows are not append-only. I tested with ${secret}.`,
    findings: [{ file: 'src/audit.ts', line: 17, severity: 'major', message: 'UPDATE allowed on audit rows' }],
  });
  const { info, bytes } = owner.services.artifacts.read(r.artifact_id);
  assert.equal(info.taskId, task.id);
  assert.equal(info.mediaType, 'text/markdown');
  const md = bytes.toString('utf8');
  assert.match(md, /# Review of T-\d+ "Audit log" — round 1/);
  assert.match(md, /\*\*Score:\*\* 5\/10 · \*\*Verdict:\*\* request_changes/);
  assert.match(md, /`src\/audit\.ts:17` — UPDATE allowed on audit rows/);
  assert.ok(!md.includes(secret) && !JSON.stringify(owner.services.reviews.details(task.id)).includes(secret), 'the token is redacted everywhere');

  const shown = await baton('show', task.id);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /\nReview\n  pipeline: review: codex -> gate: score>=6 \(task\)\n  round 1: changes requested · gate score>=6 · reviewers codex/);
  assert.match(shown.out, /RV-\d+ codex \(codex-mcp-client#A-\d+\): 5\/10 request_changes \[AR-\d+\]/);
  assert.match(shown.out, /- src\/audit\.ts:17 \(major\): UPDATE allowed on audit rows/);
  const listed = await baton('review', task.id);
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.out, /round 1: changes requested/);
  const set = await baton('pipeline', task.id, 'review: codex, gemini -> gate: human');
  assert.equal(set.code, 0, set.err);
  assert.match(set.out, /review pipeline "review: codex, gemini -> gate: human"/);
  const bad = await baton('pipeline', task.id, 'review: codex -> gate: someday');
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /gate must be "human", "auto" or "score>=N"/);
});

test('the reviewer prompt carries the worktree\'s diff against the base branch and the checklist', async () => {
  const repoDir = fs.mkdtempSync(path.join(sandbox.home, 'wt-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoDir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repoDir, 'app.ts'), 'export const a = 1;\n');
  git('add', '.');
  git('commit', '-qm', 'base');
  git('checkout', '-qb', 'baton/task');
  fs.writeFileSync(path.join(repoDir, 'app.ts'), 'export const a = 2;\n');
  git('commit', '-qam', 'change');
  const { task, implementer } = await taskWithPipeline('Bump a', 'review: codex -> gate: human');
  await implementer.call('complete_task', { task_id: task.id, summary: 'a is 2 now' });
  const prompt = await owner.services.reviews.reviewerPrompt(task.id, 'codex', { cwd: repoDir, base: 'main' });
  assert.match(prompt, /-export const a = 1;\n\+export const a = 2;/);
  assert.match(prompt, /app\.ts \| 2 \+-/);
  assert.match(prompt, /a is 2 now/);
  assert.match(prompt, /Final verdict: approve, or request_changes/);
  assert.match(prompt, new RegExp(`submit_review with task_id "${task.id}"`));
});

test('review rounds and pipelines read from the cache stay the committed ones: a rolled-back write leaves no trace, a committed one shows at once', async () => {
  const o = await openTestOwner();
  try {
    const repo = new ReviewRepository(o.db);
    const task = o.plan.createTask({ title: 'Cached reviews' }, { kind: 'user', name: 'ada' });
    const round = { taskId: task.id, round: 1, spec: 'review: codex', reviewers: ['codex'], gate: 'auto', state: 'reviewing' as const,
      requestId: null, implementer: 'claude#A-1', outcome: null, startedAt: '2026-12-02T10:00:00.000Z', endedAt: null };
    assert.deepEqual(repo.listRounds(task.id), []); // now cached as "none"
    assert.equal(repo.getPipeline('task', task.id), undefined);
    assert.throws(() => repo.transaction(tx => {
      repo.insertRound(tx, round);
      repo.setPipeline(tx, 'task', task.id, 'review: codex', round.startedAt);
      assert.equal(repo.listRounds(task.id).length, 1, 'inside the transaction its own write is seen');
      throw new Error('rolled back');
    }), /rolled back/);
    assert.deepEqual(repo.listRounds(task.id), [], 'nothing of the rolled-back round is kept');
    assert.equal(repo.getPipeline('task', task.id), undefined, 'nor of its pipeline');
    repo.transaction(tx => repo.insertRound(tx, round));
    assert.equal(repo.latestRound(task.id)?.state, 'reviewing');
    repo.transaction(tx => repo.updateRound(tx, task.id, 1, { state: 'approved', outcome: 'approved by codex' }));
    assert.equal(repo.latestRound(task.id)?.state, 'approved');
    const copy = repo.listRounds(task.id);
    copy[0].reviewers.push('changed by a caller');
    assert.deepEqual(repo.listRounds(task.id)[0].reviewers, ['codex'], 'callers get copies');
  } finally {
    await o.cleanup();
  }
});
