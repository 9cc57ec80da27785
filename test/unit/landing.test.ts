import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BatonError } from '../../src/core/errors';
import type { Actor } from '../../src/core/model';
import { readEndpoint } from '../../src/host/endpoint';
import { WorkspaceOwner } from '../../src/host/workspaceOwner';
import { DEFAULT_LANDING_SETTINGS, Lander, type LandingSettings } from '../../src/sessions/landing';
import { WorktreeManager } from '../../src/sessions/worktrees';
import { resolveStorageDir } from '../../src/store/storageLocation';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { connectAgent } from './helpers/agent';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';
import { openTestOwner } from './helpers/owner';

// Landing a session's branch, with real git repositories and worktrees in temp folders, a real owner
// (durable store, plan, terminal-session records) and, at the end, the `baton` CLI against a live owner.

const ada: Actor = { kind: 'user', name: 'ada' };
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_')));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd, env: cleanEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}
const head = (cwd: string, ref = 'HEAD') => git(cwd, 'rev-parse', ref).trim();

function commitFile(cwd: string, file: string, content: string, message = `edit ${file}`): string {
  fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
  fs.writeFileSync(path.join(cwd, file), content);
  git(cwd, 'add', '-A');
  git(cwd, 'commit', '-q', '-m', message);
  return head(cwd);
}

interface Fixture {
  repo: string;
  owner: Awaited<ReturnType<typeof openTestOwner>>;
  sessions: TerminalSessionRepository;
  worktrees: WorktreeManager;
  settings: LandingSettings;
  lander: Lander;
  /** Ids of the sessions that count as running. */
  live: Set<string>;
  /** A task with an ended (or, with `live`, running) session in its own worktree. */
  session(title: string, options?: { live?: boolean }): Promise<{ taskId: string; sessionId: string; branch: string; worktree: string }>;
}

async function fixture(t: TestContext, settings: Partial<LandingSettings> = {}, options: { reviews?: boolean } = {}): Promise<Fixture> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'baton-land-')));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'Ada');
  git(repo, 'config', 'user.email', 'ada@example.invalid');
  git(repo, 'config', 'commit.gpgsign', 'false');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hello\n');
  fs.writeFileSync(path.join(repo, 'shared.txt'), 'one\ntwo\nthree\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'first');
  const owner = await openTestOwner();
  t.after(async () => {
    await owner.cleanup();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const sessions = new TerminalSessionRepository(owner.db);
  const worktrees = new WorktreeManager(repo);
  const live = new Set<string>();
  const current: LandingSettings = { ...DEFAULT_LANDING_SETTINGS, ...settings };
  const lander = new Lander({
    workspaceDir: repo, plan: owner.plan, sessions, settings: () => current, isLive: r => live.has(r.id),
    ...(options.reviews ? { reviews: owner.services.reviews } : {}),
  });
  t.after(() => lander.dispose());
  return {
    repo, owner, sessions, worktrees, settings: current, lander, live,
    async session(title, options = {}) {
      const task = owner.plan.createTask({ title }, ada);
      const num = sessions.nextNumber();
      const sessionId = `run-${num}`;
      const wt = await worktrees.create({ taskId: task.id, sessionId });
      sessions.insert(num, {
        id: sessionId, profile: 'claude', title, command: 'claude', taskId: task.id, cwd: wt.path, worktree: wt.path, branch: wt.branch,
        tmuxSession: null, pid: null, state: 'exited', startedAt: new Date().toISOString(), endedAt: new Date().toISOString(), exitCode: 0, endReason: 'exited', lastOutput: '',
      });
      if (options.live) live.add(sessionId);
      return { taskId: task.id, sessionId, branch: wt.branch, worktree: wt.path };
    },
  };
}

function assertConflict(message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BatonError, `expected a BatonError, got ${String(error)}`);
    assert.equal(error.code, 'CONFLICT');
    assert.match(error.message, message);
    return true;
  };
}

/** Everything a refused landing must leave as it was. */
function snapshot(repo: string, branch: string, worktree: string) {
  return {
    main: head(repo, 'refs/heads/main'), branch: head(repo, `refs/heads/${branch}`),
    repoStatus: git(repo, 'status', '--porcelain=v1', '--untracked-files=all'), worktreeStatus: git(worktree, 'status', '--porcelain=v1', '--untracked-files=all'),
    worktrees: git(repo, 'worktree', 'list', '--porcelain'), files: fs.readFileSync(path.join(repo, 'shared.txt'), 'utf8'),
  };
}

test('diff: the files the branch changed against the merge base, with status letters; the base is the upstream the worktree recorded', async t => {
  const f = await fixture(t);
  const s = await f.session('Diff me');
  commitFile(s.worktree, 'src/new.ts', 'export const x = 1;\n');
  fs.writeFileSync(path.join(s.worktree, 'shared.txt'), 'one\nTWO\nthree\n');
  git(s.worktree, 'mv', 'README.md', 'READ.md');
  git(s.worktree, 'commit', '-q', '-am', 'change');
  commitFile(f.repo, 'other.txt', 'main moved on\n'); // not part of the branch's diff
  fs.writeFileSync(path.join(s.worktree, 'scratch.txt'), 'not committed\n');

  const d = await f.lander.diff(s.taskId);
  assert.equal(d.branch, s.branch);
  assert.equal(d.base, 'main');
  assert.equal(d.baseSource, 'upstream');
  assert.equal(d.ahead, 2);
  assert.equal(d.behind, 1);
  assert.equal(d.landed, false);
  assert.equal(d.uncommitted, 1);
  assert.deepEqual(d.files.sort((a, b) => a.path.localeCompare(b.path)), [
    { status: 'R', oldPath: 'README.md', path: 'READ.md' },
    { status: 'M', path: 'shared.txt' },
    { status: 'A', path: 'src/new.ts' },
  ]);
  assert.equal(await f.lander.fileAt(d.mergeBase, 'shared.txt'), 'one\ntwo\nthree\n');
  assert.equal(await f.lander.fileAt(d.branchCommit, 'shared.txt'), 'one\nTWO\nthree\n');
  assert.equal(await f.lander.fileAt(d.mergeBase, 'src/new.ts'), '');
});

test('merge: fast-forward moves main and the checkout, records the landing, and releases the worktree and branch', async t => {
  const f = await fixture(t);
  const s = await f.session('Add feature');
  const tip = commitFile(s.worktree, 'feature.txt', 'feature\n');

  const r = await f.lander.land(s.taskId, 'merge', ada);
  assert.equal(r.outcome, 'fast-forward');
  assert.equal(r.commit, tip);
  assert.equal(head(f.repo, 'refs/heads/main'), tip);
  assert.equal(fs.readFileSync(path.join(f.repo, 'feature.txt'), 'utf8'), 'feature\n', "the person's checkout has the work");
  assert.equal(git(f.repo, 'status', '--porcelain').trim(), '');
  assert.ok(!fs.existsSync(s.worktree), 'worktree released');
  assert.equal(git(f.repo, 'branch', '--list', s.branch).trim(), '', 'branch deleted: its commits are on main');
  assert.match(r.release ?? '', /Removed worktree/);

  const activity = f.owner.plan.listActivity({ taskId: s.taskId });
  const entry = activity.find(a => a.action === 'task.landed');
  assert.ok(entry, 'activity entry recorded');
  assert.equal(entry.actor.name, 'ada');
  assert.match(entry.detail, new RegExp(`Landed ${s.branch} into main \\(fast-forward\\)`));
  const landing = JSON.parse(f.sessions.get(s.sessionId)!.landing!);
  assert.deepEqual({ mode: landing.mode, outcome: landing.outcome, commit: landing.commit, base: landing.base, by: landing.by }, { mode: 'merge', outcome: 'fast-forward', commit: tip, base: 'main', by: 'ada' });
  await assert.rejects(f.lander.diff(s.taskId), /no longer exists/);
});

test('merge: a diverged base gets a merge commit of both; merge-commit strategy makes one even when a fast-forward is possible; ff-only refuses', async t => {
  const f = await fixture(t);
  const s = await f.session('Diverged');
  const branchTip = commitFile(s.worktree, 'feature.txt', 'feature\n');
  const mainTip = commitFile(f.repo, 'other.txt', 'other\n');

  f.settings.mergeStrategy = 'ff-only';
  await assert.rejects(f.lander.land(s.taskId, 'merge', ada), assertConflict(/Cannot fast-forward main.*rebase/));
  assert.equal(head(f.repo, 'refs/heads/main'), mainTip);

  f.settings.mergeStrategy = 'ff-or-merge';
  const r = await f.lander.land(s.taskId, 'merge', ada);
  assert.equal(r.outcome, 'merge-commit');
  const merge = head(f.repo, 'refs/heads/main');
  assert.deepEqual(git(f.repo, 'rev-list', '--parents', '-n', '1', merge).trim().split(' ').slice(1), [mainTip, branchTip]);
  assert.match(git(f.repo, 'log', '-1', '--format=%s%n%b%an', merge), new RegExp(`Merge branch '${s.branch}' into main[\\s\\S]*${s.taskId} Diverged[\\s\\S]*Ada`));
  assert.ok(fs.existsSync(path.join(f.repo, 'feature.txt')) && fs.existsSync(path.join(f.repo, 'other.txt')));

  const s2 = await f.session('Forced merge commit');
  const tip2 = commitFile(s2.worktree, 'second.txt', 'second\n');
  f.settings.mergeStrategy = 'merge-commit';
  const r2 = await f.lander.land(s2.taskId, 'merge', ada);
  assert.equal(r2.outcome, 'merge-commit');
  assert.deepEqual(git(f.repo, 'rev-list', '--parents', '-n', '1', 'main').trim().split(' ').slice(1), [merge, tip2]);
});

test('rebase: the branch is replayed onto the moved base and main fast-forwards to it (linear history)', async t => {
  const f = await fixture(t);
  const s = await f.session('Rebase me');
  commitFile(s.worktree, 'feature.txt', 'feature\n', 'feature one');
  commitFile(s.worktree, 'feature2.txt', 'feature 2\n', 'feature two');
  const mainTip = commitFile(f.repo, 'other.txt', 'other\n');

  const r = await f.lander.land(s.taskId, 'rebase', ada);
  assert.equal(r.outcome, 'rebased');
  const tip = head(f.repo, 'refs/heads/main');
  assert.equal(r.commit, tip);
  assert.deepEqual(git(f.repo, 'log', '--format=%s', `${mainTip}..main`).trim().split('\n'), ['feature two', 'feature one']);
  assert.equal(git(f.repo, 'rev-list', '--merges', '--count', 'main').trim(), '0');
  assert.equal(fs.readFileSync(path.join(f.repo, 'feature2.txt'), 'utf8'), 'feature 2\n');
  assert.ok(!fs.existsSync(s.worktree));
  assert.equal(git(f.repo, 'worktree', 'list').trim().split('\n').length, 1, 'the trial worktree is gone too');
});

test('keep: nothing moves; the decision is in the activity log and the session record; the worktree stays', async t => {
  const f = await fixture(t);
  const s = await f.session('Keep me');
  const tip = commitFile(s.worktree, 'feature.txt', 'feature\n');
  const main = head(f.repo, 'refs/heads/main');
  const r = await f.lander.land(s.taskId, 'keep', ada);
  assert.equal(r.outcome, 'kept');
  assert.equal(head(f.repo, 'refs/heads/main'), main);
  assert.equal(head(f.repo, `refs/heads/${s.branch}`), tip);
  assert.ok(fs.existsSync(s.worktree));
  assert.ok(f.owner.plan.listActivity({ taskId: s.taskId }).some(a => a.action === 'task.kept' && a.detail.includes(s.branch)));
  assert.equal(JSON.parse(f.sessions.get(s.sessionId)!.landing!).outcome, 'kept');
});

test('conflicts are refused with the files listed, for merge and rebase, and nothing changes (heads, worktrees, checkout)', async t => {
  const f = await fixture(t);
  const s = await f.session('Conflicting');
  commitFile(s.worktree, 'shared.txt', 'one\nbranch\nthree\n');
  commitFile(s.worktree, 'clean.txt', 'no conflict here\n');
  commitFile(f.repo, 'shared.txt', 'one\nmain\nthree\n');
  const before = snapshot(f.repo, s.branch, s.worktree);

  await assert.rejects(f.lander.land(s.taskId, 'merge', ada), assertConflict(/conflicts in 1 file: shared\.txt\. Nothing was merged/));
  assert.deepEqual(snapshot(f.repo, s.branch, s.worktree), before);
  await assert.rejects(f.lander.land(s.taskId, 'rebase', ada), assertConflict(/Rebasing .* conflicts in 1 file: shared\.txt/));
  assert.deepEqual(snapshot(f.repo, s.branch, s.worktree), before);
  assert.ok(!f.owner.plan.listActivity({ taskId: s.taskId }).some(a => a.action === 'task.landed'));
  assert.equal(f.sessions.get(s.sessionId)!.landing, null);
});

test('uncommitted changes are refused: in the session worktree always, in the base checkout when they touch the files landing changes', async t => {
  const f = await fixture(t);
  const s = await f.session('Dirty');
  commitFile(s.worktree, 'shared.txt', 'one\nbranch\nthree\n');
  fs.writeFileSync(path.join(s.worktree, 'wip.txt'), 'work in progress\n');
  let before = snapshot(f.repo, s.branch, s.worktree);
  await assert.rejects(f.lander.land(s.taskId, 'merge', ada), assertConflict(/worktree .* has uncommitted changes \(1 file: wip\.txt\): commit or stash them first/));
  assert.deepEqual(snapshot(f.repo, s.branch, s.worktree), before);
  fs.rmSync(path.join(s.worktree, 'wip.txt'));

  fs.writeFileSync(path.join(f.repo, 'shared.txt'), 'my local edit\n');
  before = snapshot(f.repo, s.branch, s.worktree);
  await assert.rejects(f.lander.land(s.taskId, 'merge', ada), assertConflict(/has uncommitted changes to 1 file landing .* changes: shared\.txt\. Commit or stash them first/));
  assert.deepEqual(snapshot(f.repo, s.branch, s.worktree), before);

  // An edit to a file the landing does not touch stays as it is.
  git(f.repo, 'checkout', '--', 'shared.txt');
  fs.writeFileSync(path.join(f.repo, 'README.md'), 'my local readme\n');
  const r = await f.lander.land(s.taskId, 'merge', ada);
  assert.equal(r.outcome, 'fast-forward');
  assert.equal(fs.readFileSync(path.join(f.repo, 'README.md'), 'utf8'), 'my local readme\n');
  assert.equal(fs.readFileSync(path.join(f.repo, 'shared.txt'), 'utf8'), 'one\nbranch\nthree\n');
});

test('a session still running: its work lands, its worktree stays until it ends; a base not checked out anywhere moves by ref', async t => {
  const f = await fixture(t);
  git(f.repo, 'checkout', '-q', '-b', 'elsewhere'); // the person works on another branch: main is checked out nowhere
  git(f.repo, 'checkout', '-q', 'main');
  const s = await f.session('Live', { live: true });
  const tip = commitFile(s.worktree, 'feature.txt', 'feature\n');
  git(f.repo, 'checkout', '-q', 'elsewhere');
  const r = await f.lander.land(s.taskId, 'merge', ada);
  assert.equal(r.outcome, 'fast-forward');
  assert.equal(head(f.repo, 'refs/heads/main'), tip);
  assert.equal(head(f.repo, 'HEAD'), head(f.repo, 'refs/heads/elsewhere'), "the person's checkout is untouched");
  assert.ok(fs.existsSync(s.worktree));
  assert.match(r.release ?? '', /stays while session .* runs in it/);
});

test('baton.land.onApprove: the review gate approving the task lands its branch; a conflict is noted in its activity instead', async t => {
  const f = await fixture(t, { onApprove: 'rebase' }, { reviews: true });
  const agent: Actor = { kind: 'agent', name: 'claude#run-1' };
  const approve = async (taskId: string) => {
    f.owner.services.reviews.setPipeline(taskId, 'implement: claude -> gate: human', ada);
    f.owner.plan.startTask(taskId, agent);
    assert.equal(f.owner.plan.completeTask(taskId, 'done', agent).status, 'IN_REVIEW');
    const round = f.owner.services.reviews.details(taskId).rounds[0];
    f.owner.services.inbox.approve(round.requestId!, undefined, ada);
    assert.equal(f.owner.plan.getTask(taskId).status, 'DONE');
  };
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 100 && !ok(); i++) await new Promise(resolve => setTimeout(resolve, 50));
    assert.ok(ok(), what);
  };

  const s = await f.session('Approved work');
  commitFile(s.worktree, 'feature.txt', 'feature\n');
  const mainTip = commitFile(f.repo, 'other.txt', 'other\n');
  await approve(s.taskId);
  await until('landed after approval', () => f.owner.plan.listActivity({ taskId: s.taskId }).some(a => a.action === 'task.landed'));
  assert.equal(git(f.repo, 'rev-list', '--count', `${mainTip}..main`).trim(), '1', 'rebased onto main: one new commit, no merge');
  assert.equal(fs.readFileSync(path.join(f.repo, 'feature.txt'), 'utf8'), 'feature\n');
  assert.equal(f.owner.plan.listActivity({ taskId: s.taskId }).find(a => a.action === 'task.landed')!.actor.name, 'baton');

  const c = await f.session('Conflicting approved work');
  commitFile(c.worktree, 'shared.txt', 'branch\n');
  commitFile(f.repo, 'shared.txt', 'main\n');
  const before = head(f.repo, 'refs/heads/main');
  await approve(c.taskId);
  await until('refusal noted', () => f.owner.plan.listActivity({ taskId: c.taskId }).some(a => a.action === 'task.land_refused'));
  assert.match(f.owner.plan.listActivity({ taskId: c.taskId }).find(a => a.action === 'task.land_refused')!.detail, /approved but not landed: .*conflicts in 1 file: shared\.txt/);
  assert.equal(head(f.repo, 'refs/heads/main'), before);
});

test('startPoint (baton.worktrees.startFrom = dependency-branch): a dependency done but not landed gives its branch; once landed, the base', async t => {
  const f = await fixture(t);
  const dep = await f.session('Foundation');
  commitFile(dep.worktree, 'foundation.txt', 'base layer\n');
  f.owner.plan.startTask(dep.taskId, ada);
  f.owner.plan.completeTask(dep.taskId, 'foundation laid', ada);
  const next = f.owner.plan.createTask({ title: 'Built on top', dependsOn: [dep.taskId] }, ada);
  const start = await f.lander.startPoint(next.id);
  assert.deepEqual(start, { baseRef: dep.branch, baseBranch: 'main', dependency: dep.taskId });
  const wt = await f.worktrees.create({ taskId: next.id, sessionId: 'run-99', baseRef: start!.baseRef, baseBranch: start!.baseBranch });
  assert.equal(fs.readFileSync(path.join(wt.path, 'foundation.txt'), 'utf8'), 'base layer\n', "the dependency's work is there");
  assert.equal(git(f.repo, 'config', `branch.${wt.branch}.merge`).trim(), 'refs/heads/main', 'it still lands into main');

  await f.lander.land(dep.taskId, 'merge', ada);
  assert.equal(await f.lander.startPoint(next.id), null, 'landed: start from the updated base');
});

test("resumePoint: a task's next session goes on from its earlier session's unlanded branch, so landing brings both sessions' commits; none once landed", async t => {
  const f = await fixture(t);
  const first = await f.session('Farewell');
  const firstCommit = commitFile(first.worktree, 'farewell.txt', 'Bye\n', 'first attempt');
  // The session ended: its worktree goes, its branch (with a commit on no other branch) stays.
  await f.worktrees.release(first.worktree, 'preserve-and-remove');
  assert.equal(fs.existsSync(first.worktree), false);
  const resume = await f.lander.resumePoint(first.taskId);
  assert.deepEqual(resume, { baseRef: firstCommit, baseBranch: 'main', branch: first.branch, sessionId: first.sessionId });
  // The next session (a reviewer asked for changes) starts there, as SessionManager does with it.
  const num = f.sessions.nextNumber();
  const wt = await f.worktrees.create({ taskId: first.taskId, sessionId: `run-${num}`, baseRef: resume!.baseRef, baseBranch: resume!.baseBranch });
  f.sessions.insert(num, {
    id: `run-${num}`, profile: 'claude', title: 'Farewell', command: 'claude', taskId: first.taskId, cwd: wt.path, worktree: wt.path, branch: wt.branch,
    tmuxSession: null, pid: null, state: 'exited', startedAt: new Date(Date.now() + 1000).toISOString(), endedAt: null, exitCode: 0, endReason: 'exited', lastOutput: '',
  });
  assert.equal(fs.readFileSync(path.join(wt.path, 'farewell.txt'), 'utf8'), 'Bye\n', "the first session's work is there");
  commitFile(wt.path, 'farewell.txt', 'Goodbye, and thank you.\n', 'the fix');
  await f.lander.land(first.taskId, 'merge', ada);
  const subjects = git(f.repo, 'log', '--format=%s', 'main').trim().split('\n');
  assert.deepEqual(subjects.slice(0, 2), ['the fix', 'first attempt'], 'main has both sessions\' commits');
  assert.equal(await f.lander.resumePoint(first.taskId), null, 'landed: nothing to go on from');
  const fresh = f.owner.plan.createTask({ title: 'Never started' }, ada);
  assert.equal(await f.lander.resumePoint(fresh.id), null, 'no session branch: the base');
});

test('a branch without upstream lands into the workspace checkout; a branch already in its base is "already landed" and released', async t => {
  const f = await fixture(t);
  const s = await f.session('Older session');
  const tip = commitFile(s.worktree, 'feature.txt', 'feature\n');
  git(f.repo, 'branch', '--unset-upstream', s.branch);
  const d = await f.lander.diff(s.taskId);
  assert.deepEqual([d.base, d.baseSource], ['main', 'checkout']);
  git(f.repo, 'merge', '-q', '--ff-only', s.branch); // the person merged it by hand
  const r = await f.lander.land(s.taskId, 'rebase', ada);
  assert.equal(r.outcome, 'already-landed');
  assert.equal(r.commit, tip);
  assert.ok(!fs.existsSync(s.worktree), 'worktree released');
});

test("a reviewer session still running in the task's worktree keeps it there after landing", async t => {
  const f = await fixture(t);
  const s = await f.session('Reviewed in place');
  commitFile(s.worktree, 'feature.txt', 'feature\n');
  const num = f.sessions.nextNumber();
  f.sessions.insert(num, {
    id: `run-${num}`, profile: 'codex', title: 'review', command: 'codex', taskId: null, cwd: s.worktree, worktree: null, branch: null,
    tmuxSession: null, pid: process.pid, state: 'idle', startedAt: new Date().toISOString(), endedAt: null, exitCode: null, endReason: null, lastOutput: '',
  });
  f.live.add(`run-${num}`);
  const r = await f.lander.land(s.taskId, 'merge', ada);
  assert.equal(r.outcome, 'fast-forward');
  assert.ok(fs.existsSync(s.worktree));
  assert.match(r.release ?? '', new RegExp(`stays while session run-${num} runs in it`));
});

test('errors: a task without a session branch, an unknown mode', async t => {
  const f = await fixture(t);
  const task = f.owner.plan.createTask({ title: 'No session' }, ada);
  await assert.rejects(f.lander.land(task.id, 'merge', ada), /has no session branch/);
  await assert.rejects(f.lander.land(task.id, 'squash' as never, ada), /must be merge, rebase, keep/);
});

test('baton land and baton diff through a live owner; an agent (agent token) cannot call land_task', async t => {
  const sandbox = makeCliSandbox();
  const repo = sandbox.workspace;
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'Ada');
  git(repo, 'config', 'user.email', 'ada@example.invalid');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hello\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'first');
  const previousHome = process.env.BATON_HOME;
  process.env.BATON_HOME = sandbox.home;
  const storageDir = resolveStorageDir(repo);
  const owner = await WorkspaceOwner.open({
    storageDir, kind: 'cli', version: 'test', log: () => undefined, workspaceDir: repo,
    mcp: { port: 0, maxBodyBytes: 1024 * 1024, tier: 'full', reuseRecordedPort: false },
  });
  t.after(async () => {
    await owner.close();
    if (previousHome === undefined) delete process.env.BATON_HOME;
    else process.env.BATON_HOME = previousHome;
    fs.rmSync(path.join(repo, '..', '.baton-worktrees'), { recursive: true, force: true });
    sandbox.remove();
  });
  const task = owner.plan.createTask({ title: 'CLI landing' }, ada);
  const sessions = new TerminalSessionRepository(owner.db);
  const num = sessions.nextNumber();
  const wt = await new WorktreeManager(repo).create({ taskId: task.id, sessionId: `run-${num}` });
  sessions.insert(num, {
    id: `run-${num}`, profile: 'claude', title: 'x', command: 'claude', taskId: task.id, cwd: wt.path, worktree: wt.path, branch: wt.branch,
    tmuxSession: null, pid: null, state: 'exited', startedAt: new Date().toISOString(), endedAt: new Date().toISOString(), exitCode: 0, endReason: 'exited', lastOutput: '',
  });
  const tip = commitFile(wt.path, 'cli.txt', 'from the CLI\n');

  const agent = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'sneaky-agent');
  t.after(() => agent.close().catch(() => undefined));
  await assert.rejects(agent.call('land_task', { task_id: task.id, mode: 'merge' }), /land_task/);
  assert.notEqual(head(repo, 'refs/heads/main'), tip, 'the agent landed nothing');

  const cli = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>(resolve => {
    execFile(process.execPath, [...CLI_ARGS, ...args, '--workspace', repo], { env: sandbox.env, encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
  assert.ok(readEndpoint(storageDir), 'the owner is live');
  const diff = await cli('diff', task.id, '--json');
  assert.equal(diff.code, 0, diff.stderr);
  const d = JSON.parse(diff.stdout);
  assert.deepEqual({ branch: d.branch, base: d.base, ahead: d.ahead, files: d.files }, { branch: wt.branch, base: 'main', ahead: 1, files: [{ status: 'A', path: 'cli.txt' }] });
  const text = await cli('diff', task.id);
  assert.match(text.stdout, new RegExp(`${task.id}: ${wt.branch} → main: 1 commit\\(s\\) ahead, 0 behind\\n[\\s\\S]*A  cli\\.txt`));

  const both = await cli('land', task.id, '--merge', '--rebase');
  assert.equal(both.code, 1);
  assert.match(both.stderr, /Give one of --merge, --rebase, --keep/);

  const landed = await cli('land', task.id, '--merge', '--json');
  assert.equal(landed.code, 0, landed.stderr);
  const r = JSON.parse(landed.stdout);
  assert.equal(r.outcome, 'fast-forward');
  assert.equal(r.commit, tip);
  assert.equal(head(repo, 'refs/heads/main'), tip);
  assert.ok(owner.plan.listActivity({ taskId: task.id }).some(a => a.action === 'task.landed' && a.actor.kind === 'user'));
});
