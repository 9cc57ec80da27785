import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BatonError } from '../../src/core/errors';
import { WorktreeManager, type WorktreeInfo } from '../../src/sessions/worktrees';

/** The environment without GIT_* variables, so a surrounding git process cannot redirect ours. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_')));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd, env: cleanEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const gitOk = (cwd: string, ...args: string[]): boolean => {
  try {
    git(cwd, ...args);
    return true;
  } catch {
    return false;
  }
};

/** A repository with one commit (README.md, src/a.txt) on `main`, in a fresh temp folder. */
function makeRepo(t: TestContext): { root: string; repo: string; logs: string[]; manager: WorktreeManager } {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'baton-wt-')));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hello\n');
  fs.writeFileSync(path.join(repo, 'src', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(repo, '.gitignore'), 'node_modules/\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'first');
  const logs: string[] = [];
  const manager = new WorktreeManager(repo, { log: (level, msg) => logs.push(`${level}: ${msg}`), now: () => new Date('2025-03-04T05:06:07.890Z') });
  return { root, repo, logs, manager };
}

function assertBaton(code: BatonError['code'], message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BatonError, `expected a BatonError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

const registry = (repo: string): WorktreeInfo[] =>
  (JSON.parse(fs.readFileSync(path.join(repo, '.git', 'baton-worktrees.json'), 'utf8')) as { worktrees: WorktreeInfo[] }).worktrees;

const listedPaths = (repo: string): string[] =>
  git(repo, 'worktree', 'list', '--porcelain').split('\n').filter(l => l.startsWith('worktree ')).map(l => l.slice('worktree '.length));

test('create: two sessions get distinct branches and folders, recorded in the registry', async t => {
  const { root, repo, manager } = makeRepo(t);
  const a = await manager.create({ taskId: 'T-12', sessionId: 'session-a' });
  const b = await manager.create({ taskId: null, sessionId: 'session-b' });

  assert.match(a.branch, /^baton\/t-12-[0-9a-f]{4}$/);
  assert.match(b.branch, /^baton\/free-[0-9a-f]{4}$/);
  assert.notEqual(a.path, b.path);
  assert.equal(manager.baseDir, path.join(root, '.baton-worktrees', 'repo'));
  assert.equal(a.path, path.join(manager.baseDir, a.branch.replace('/', '-')));
  assert.equal(fs.readFileSync(path.join(a.path, 'README.md'), 'utf8'), 'hello\n');
  assert.equal(git(a.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim(), a.branch);
  assert.equal(git(b.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim(), b.branch);
  assert.equal(a.baseCommit, git(repo, 'rev-parse', 'HEAD').trim());
  assert.equal(a.createdAt, '2025-03-04T05:06:07.890Z');

  const recorded = registry(repo);
  assert.deepEqual(recorded.map(r => [r.sessionId, r.taskId, r.branch, r.path]).sort(), [
    ['session-a', 'T-12', a.branch, a.path],
    ['session-b', null, b.branch, b.path],
  ]);
  assert.deepEqual(await manager.inspect(a.path), { dirty: false, untracked: 0, changed: 0, unpushedCommits: 0 });
  assert.deepEqual((await manager.list()).map(w => w.sessionId).sort(), ['session-a', 'session-b']);
});

test('create: clear errors for a folder that is no repository, a repository without commits, a bad base, a taken branch', async t => {
  const { root, repo, manager } = makeRepo(t);
  const plain = path.join(root, 'plain');
  fs.mkdirSync(plain);
  await assert.rejects(new WorktreeManager(plain).create({ taskId: 'T-1', sessionId: 's' }), assertBaton('INVALID_ARGUMENT', /not a git repository/));
  await assert.rejects(new WorktreeManager(path.join(root, 'nowhere')).create({ taskId: 'T-1', sessionId: 's' }), assertBaton('INVALID_ARGUMENT', /not a git repository/));

  const empty = path.join(root, 'empty');
  fs.mkdirSync(empty);
  git(empty, 'init', '-q');
  await assert.rejects(new WorktreeManager(empty).create({ taskId: 'T-1', sessionId: 's' }), assertBaton('INVALID_ARGUMENT', /no commits yet/));

  await assert.rejects(manager.create({ taskId: 'T-1', sessionId: 's', baseRef: 'no-such-branch' }), assertBaton('INVALID_ARGUMENT', /does not name a commit/));
  await assert.rejects(manager.create({ taskId: 'T-1', sessionId: 's', baseRef: '--upload-pack=x' }), assertBaton('INVALID_ARGUMENT', /Invalid base ref/));

  const first = await manager.create({ taskId: 'T-1', sessionId: 's' });
  await assert.rejects(manager.create({ taskId: 'T-1', sessionId: 's' }), assertBaton('CONFLICT', new RegExp(`Branch ${first.branch} already exists.*already has a worktree`)));
  assert.equal(registry(repo).length, 1, 'a refused create leaves the registry as it was');
});

test('create: starts from baseRef; a branch left over by an earlier session is never reused', async t => {
  const { repo, manager } = makeRepo(t);
  const first = git(repo, 'rev-parse', 'HEAD').trim();
  fs.writeFileSync(path.join(repo, 'README.md'), 'second\n');
  git(repo, 'commit', '-q', '-am', 'second');

  const old = await manager.create({ taskId: 'T-3', sessionId: 'again', baseRef: first });
  assert.equal(old.baseCommit, first);
  assert.equal(fs.readFileSync(path.join(old.path, 'README.md'), 'utf8'), 'hello\n');
  // Keep the branch (a commit on it) but drop the worktree, as an earlier session would have.
  fs.writeFileSync(path.join(old.path, 'x.txt'), 'x\n');
  git(old.path, 'add', 'x.txt');
  git(old.path, 'commit', '-q', '-m', 'x');
  const released = await manager.release(old.path, 'preserve-and-remove');
  assert.equal(released.removed, true);

  const again = await manager.create({ taskId: 'T-3', sessionId: 'again' });
  assert.notEqual(again.branch, old.branch);
  assert.ok(again.branch.startsWith(`${old.branch}`), `${again.branch} extends ${old.branch}`);
  assert.equal(git(repo, 'show', `${old.branch}:x.txt`), 'x\n', 'the earlier branch is untouched');
});

test('preserve-and-remove: uncommitted and untracked work is committed, kept on the branch and a ref, and the folder is removed', async t => {
  const { repo, manager } = makeRepo(t);
  const a = await manager.create({ taskId: 'T-12', sessionId: 'session-a' });
  const b = await manager.create({ taskId: 'T-13', sessionId: 'session-b' });
  fs.writeFileSync(path.join(a.path, 'README.md'), 'changed by the agent\n');
  fs.mkdirSync(path.join(a.path, 'notes'));
  fs.writeFileSync(path.join(a.path, 'notes', 'new.txt'), 'brand new\n');
  fs.mkdirSync(path.join(a.path, 'node_modules'));
  fs.writeFileSync(path.join(a.path, 'node_modules', 'ignored.js'), 'ignored\n');

  assert.deepEqual(await manager.inspect(a.path), { dirty: true, untracked: 1, changed: 1, unpushedCommits: 0 });
  const result = await manager.release(a.path, 'preserve-and-remove');

  assert.equal(result.removed, true);
  assert.ok(result.preserved);
  const { branch, ref, commit, files } = result.preserved;
  assert.equal(branch, a.branch);
  assert.equal(ref, `refs/baton/preserved/${a.branch}-20250304T050607Z`);
  assert.equal(files, 2);
  assert.equal(git(repo, 'rev-parse', ref).trim(), commit);
  assert.equal(git(repo, 'rev-parse', `refs/heads/${branch}`).trim(), commit);
  assert.ok(result.message.includes(`branch ${branch} (ref ${ref}), commit ${commit}`), result.message);

  assert.equal(fs.existsSync(a.path), false, 'the folder is gone');
  assert.ok(!listedPaths(repo).includes(a.path), 'git no longer lists it');
  assert.equal(git(repo, 'show', `${ref}:README.md`), 'changed by the agent\n');
  assert.equal(git(repo, 'show', `${branch}:notes/new.txt`), 'brand new\n');
  assert.equal(gitOk(repo, 'cat-file', '-e', `${ref}:node_modules/ignored.js`), false, 'ignored files are not work');
  assert.equal(git(repo, 'log', '-1', '--format=%an <%ae>|%s', commit).trim(), 'Baton <baton@localhost>|baton: preserve uncommitted work of session session-a (task T-12)');

  assert.deepEqual(registry(repo).map(r => r.sessionId), ['session-b']);
  assert.ok(fs.existsSync(b.path), 'the other session is untouched');

  // A person can check it out.
  git(repo, 'checkout', '-q', branch);
  assert.equal(fs.readFileSync(path.join(repo, 'notes', 'new.txt'), 'utf8'), 'brand new\n');
});

test('remove-if-clean: a dirty worktree is kept with the reason; a clean one goes with its branch', async t => {
  const { repo, manager } = makeRepo(t);
  const dirty = await manager.create({ taskId: 'T-1', sessionId: 'dirty' });
  const clean = await manager.create({ taskId: 'T-2', sessionId: 'clean' });
  fs.writeFileSync(path.join(dirty.path, 'scratch.txt'), 'wip\n');
  fs.appendFileSync(path.join(dirty.path, 'src', 'a.txt'), 'more\n');

  const kept = await manager.release(dirty.path, 'remove-if-clean');
  assert.equal(kept.removed, false);
  assert.equal(kept.preserved, null);
  assert.match(kept.message, /Kept worktree .*1 changed file, 1 untracked file/);
  assert.ok(fs.existsSync(path.join(dirty.path, 'scratch.txt')));
  assert.ok(gitOk(repo, 'show-ref', '--verify', `refs/heads/${dirty.branch}`));
  assert.ok(registry(repo).some(r => r.sessionId === 'dirty'), 'still registered');

  const removed = await manager.release(clean.path, 'remove-if-clean');
  assert.equal(removed.removed, true);
  assert.equal(removed.preserved, null);
  assert.match(removed.message, /Removed worktree .* and its branch/);
  assert.equal(fs.existsSync(clean.path), false);
  assert.equal(gitOk(repo, 'show-ref', '--verify', `refs/heads/${clean.branch}`), false, 'branch deleted');
  assert.deepEqual(registry(repo).map(r => r.sessionId), ['dirty']);

  const keep = await manager.release(dirty.path, 'keep');
  assert.deepEqual({ removed: keep.removed, preserved: keep.preserved }, { removed: false, preserved: null });
  assert.match(keep.message, new RegExp(`Kept worktree ${dirty.path} \\(branch ${dirty.branch}\\)`));
  assert.ok(fs.existsSync(path.join(dirty.path, 'scratch.txt')));
});

test('commits made in a worktree that are on no other branch are kept, and go once merged', async t => {
  const { repo, manager } = makeRepo(t);
  const w = await manager.create({ taskId: 'T-7', sessionId: 'committer' });
  fs.writeFileSync(path.join(w.path, 'feature.txt'), 'feature\n');
  git(w.path, 'add', 'feature.txt');
  git(w.path, 'commit', '-q', '-m', 'feature');
  const sha = git(w.path, 'rev-parse', 'HEAD').trim();

  assert.deepEqual(await manager.inspect(w.path), { dirty: false, untracked: 0, changed: 0, unpushedCommits: 1 });
  const kept = await manager.release(w.path, 'remove-if-clean');
  assert.equal(kept.removed, false);
  assert.match(kept.message, /1 commit on no other branch/);
  assert.ok(fs.existsSync(w.path));

  const result = await manager.release(w.path, 'preserve-and-remove');
  assert.equal(result.removed, true);
  assert.deepEqual(result.preserved, { branch: w.branch, ref: `refs/baton/preserved/${w.branch}-20250304T050607Z`, commit: sha, files: 0 });
  assert.equal(git(repo, 'show', `${w.branch}:feature.txt`), 'feature\n');

  // Once the work is on another branch, the worktree and its branch can go.
  const merged = await manager.create({ taskId: 'T-8', sessionId: 'merged' });
  fs.writeFileSync(path.join(merged.path, 'done.txt'), 'done\n');
  git(merged.path, 'add', 'done.txt');
  git(merged.path, 'commit', '-q', '-m', 'done');
  git(repo, 'merge', '-q', '--ff-only', merged.branch);
  assert.equal((await manager.inspect(merged.path)).unpushedCommits, 0);
  const gone = await manager.release(merged.path, 'preserve-and-remove');
  assert.equal(gone.removed, true);
  assert.equal(gone.preserved, null);
  assert.equal(gitOk(repo, 'show-ref', '--verify', `refs/heads/${merged.branch}`), false);
  assert.equal(git(repo, 'show', 'main:done.txt'), 'done\n');
});

test('preserve-and-remove on a detached HEAD gives the work a branch', async t => {
  const { repo, manager } = makeRepo(t);
  const w = await manager.create({ taskId: 'T-9', sessionId: 'detached' });
  git(w.path, 'checkout', '-q', '--detach');
  fs.writeFileSync(path.join(w.path, 'loose.txt'), 'loose\n');
  git(w.path, 'add', 'loose.txt');
  git(w.path, 'commit', '-q', '-m', 'loose commit');
  fs.writeFileSync(path.join(w.path, 'uncommitted.txt'), 'u\n');

  const result = await manager.release(w.path, 'preserve-and-remove');
  assert.equal(result.removed, true);
  assert.ok(result.preserved);
  assert.match(result.preserved.branch, new RegExp(`^${w.branch}-detached-`));
  assert.equal(git(repo, 'show', `${result.preserved.ref}:loose.txt`), 'loose\n');
  assert.equal(git(repo, 'show', `${result.preserved.branch}:uncommitted.txt`), 'u\n');
  assert.equal(gitOk(repo, 'show-ref', '--verify', `refs/heads/${w.branch}`), false, 'the empty session branch is deleted');
});

test('orphans after a crash: found with their status, reattached, cleaned up', async t => {
  const { repo, manager } = makeRepo(t);
  const dead = await manager.create({ taskId: 'T-5', sessionId: 'S-dead' });
  const live = await manager.create({ taskId: 'T-6', sessionId: 'S-live' });
  fs.writeFileSync(path.join(dead.path, 'unsaved.txt'), 'unsaved work\n');
  // A worktree under baseDir that the registry does not know (a crash between git and the registry).
  const strayPath = path.join(manager.baseDir, 'stray');
  git(repo, 'worktree', 'add', '-q', '-b', 'baton/stray', strayPath);
  // And one whose folder someone deleted.
  const vanished = await manager.create({ taskId: 'T-4', sessionId: 'S-vanished' });
  fs.rmSync(vanished.path, { recursive: true, force: true });

  // A fresh manager, as after a restart.
  const restarted = new WorktreeManager(repo, { now: () => new Date('2025-03-05T00:00:00Z') });
  const orphans = await restarted.findOrphans(new Set(['S-live']));
  const byPath = new Map(orphans.map(o => [o.path, o]));
  assert.equal(orphans.length, 3, JSON.stringify(orphans, null, 2));
  assert.ok(!byPath.has(live.path));
  assert.deepEqual(byPath.get(dead.path), {
    path: dead.path, branch: dead.branch, sessionId: 'S-dead', taskId: 'T-5', createdAt: dead.createdAt,
    reason: 'dead-session', missing: false, status: { dirty: true, untracked: 1, changed: 0, unpushedCommits: 0 },
  });
  assert.deepEqual(byPath.get(fs.realpathSync(strayPath)), {
    path: fs.realpathSync(strayPath), branch: 'baton/stray', sessionId: null, taskId: null, createdAt: null,
    reason: 'unregistered', missing: false, status: { dirty: false, untracked: 0, changed: 0, unpushedCommits: 0 },
  });
  const vanishedOrphan = byPath.get(vanished.path);
  assert.equal(vanishedOrphan?.missing, true);
  assert.equal(vanishedOrphan?.status, null);

  // Reattach the dead session's worktree to a new session: no longer an orphan.
  const reattached = await restarted.reattach(byPath.get(dead.path)!, 'S-new');
  assert.equal(reattached.sessionId, 'S-new');
  assert.equal(reattached.branch, dead.branch);
  assert.ok(registry(repo).some(r => r.path === dead.path && r.sessionId === 'S-new'));
  assert.ok(!(await restarted.findOrphans(new Set(['S-live', 'S-new']))).some(o => o.path === dead.path));
  await assert.rejects(restarted.reattach(vanishedOrphan!, 'S-x'), assertBaton('NOT_FOUND', /folder is gone/));

  // The new session ends too; cleanup preserves the unsaved file.
  const [again] = (await restarted.findOrphans(new Set(['S-live']))).filter(o => o.path === dead.path);
  const cleaned = await restarted.cleanup(again);
  assert.equal(cleaned.removed, true);
  assert.ok(cleaned.preserved);
  assert.equal(cleaned.preserved.ref, `refs/baton/preserved/${dead.branch}-20250305T000000Z`);
  assert.equal(git(repo, 'show', `${cleaned.preserved.ref}:unsaved.txt`), 'unsaved work\n');
  assert.match(git(repo, 'log', '-1', '--format=%s', cleaned.preserved.commit), /session S-new \(task T-5\)/);
  assert.equal(fs.existsSync(dead.path), false);

  // The clean unregistered one goes with its branch; the vanished one is pruned.
  const stray = await restarted.cleanup(byPath.get(fs.realpathSync(strayPath))!);
  assert.equal(stray.removed, true);
  assert.equal(stray.preserved, null);
  assert.equal(gitOk(repo, 'show-ref', '--verify', 'refs/heads/baton/stray'), false);
  const pruned = await restarted.cleanup(vanishedOrphan!);
  assert.equal(pruned.removed, true);
  assert.match(pruned.message, /already gone/);
  assert.equal(gitOk(repo, 'show-ref', '--verify', `refs/heads/${vanished.branch}`), false);

  assert.deepEqual(await restarted.findOrphans(new Set(['S-live'])), []);
  assert.deepEqual(registry(repo).map(r => r.sessionId), ['S-live']);
  assert.deepEqual(listedPaths(repo).sort(), [repo, live.path].sort());
});

test('release refuses the main worktree and paths that are not worktrees', async t => {
  const { root, repo, manager } = makeRepo(t);
  await assert.rejects(manager.release(repo, 'preserve-and-remove'), assertBaton('INVALID_ARGUMENT', /main worktree/));
  await assert.rejects(manager.release(path.join(root, 'elsewhere'), 'remove-if-clean'), assertBaton('NOT_FOUND', /not a worktree/));
  // A worktree of the user's own, outside baseDir, is not Baton's to remove.
  const own = path.join(root, 'own');
  git(repo, 'worktree', 'add', '-q', '-b', 'mine', own);
  await assert.rejects(manager.release(own, 'preserve-and-remove'), assertBaton('INVALID_ARGUMENT', /not a Baton worktree/));
  await assert.rejects(manager.inspect(path.join(root, 'elsewhere')), assertBaton('NOT_FOUND', /not a worktree/));
  assert.ok(fs.existsSync(own));
});

test('a nested repository that cannot be committed keeps the worktree', async t => {
  const { manager } = makeRepo(t);
  const w = await manager.create({ taskId: 'T-10', sessionId: 'nested' });
  const nested = path.join(w.path, 'vendor', 'lib');
  fs.mkdirSync(nested, { recursive: true });
  git(nested, 'init', '-q');
  fs.writeFileSync(path.join(nested, 'code.txt'), 'nested work\n');

  const result = await manager.release(w.path, 'preserve-and-remove');
  // git records the nested repository as a gitlink, not its files: its folder must stay.
  if (result.removed) {
    assert.fail(`the worktree holding a nested repository was removed: ${result.message}`);
  }
  assert.ok(fs.existsSync(path.join(nested, 'code.txt')));
  assert.match(result.message, /Kept worktree .*nested git repository \(vendor\/lib\/\)/);
  assert.equal(result.preserved, null);
  assert.equal((await manager.inspect(w.path)).dirty, true);
});
