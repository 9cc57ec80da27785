import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { ReviewerLauncher } from '../../src/orchestration/reviewers';
import { HookRunner } from '../../src/sessions/hooks';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager } from '../../src/sessions/sessionManager';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { openTestOwner } from './helpers/owner';
import { requirePresent, skipOutsideCi } from './helpers/required';

// Review pipelines start their reviewer sessions (issue 8 §2): a real owner, a real SessionManager on
// node-pty with git worktrees in a real repository, and cheap agents. The implementer is a shell; the
// reviewer is a shell that writes where it runs, which review it is on and the prompt it was given.

const loaded = loadNodePty();
const noPty = 'error' in loaded ? `node-pty is unavailable: ${loaded.error}` : false;
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' });
}

test('node-pty is available (required: under CI=true a missing component fails)', { skip: skipOutsideCi(noPty) }, () => requirePresent(noPty));

test('a completed task opens its review round and the reviewers start in the implementer\'s worktree with the diff and the checklist', { skip: noPty }, async () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'baton-reviewers-')));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const repo = path.join(root, 'repo');
  const out = path.join(root, 'out');
  fs.mkdirSync(repo);
  fs.mkdirSync(out);
  git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), '# app\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'first');

  const implementer: AgentProfile = { id: 'sh-agent', label: 'Shell agent', command: '/bin/sh', prompt: 'none', mcp: 'env-only', args: ['-c', 'read x'] };
  const reviewer: AgentProfile = {
    id: 'sh-reviewer', label: 'Shell reviewer', command: '/bin/sh', prompt: 'argument', mcp: 'env-only', env: { OUT: out },
    // sh -c SCRIPT PROMPT: the prompt is $0.
    args: ['-c', 'printf "%s\\n%s\\n" "$PWD" "$BATON_REVIEW_TASK_ID" > "$OUT/$BATON_SESSION_ID.where"; printf "%s" "$0" > "$OUT/$BATON_SESSION_ID.prompt"; read x'],
  };
  const owner = await openTestOwner();
  cleanups.push(() => owner.cleanup());
  const manager = new SessionManager({
    workspaceDir: repo, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [...BUILTIN_PROFILES, implementer, reviewer],
    settings: () => ({ bufferBytes: 64 * 1024, useTmux: false, useWorktrees: true, worktreeCleanup: 'keep', maxParallel: 4, cols: 100, rows: 30 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => null,
    pty: () => ('error' in loaded ? loaded.error : loaded.pty),
    log: () => undefined,
  });
  cleanups.push(async () => { await manager.shutdown(); manager.dispose(); });
  const launcher = new ReviewerLauncher({ plan: owner.plan, reviews: owner.services.reviews, sessions: manager, workspaceDir: repo, log: () => undefined });
  cleanups.push(() => launcher.dispose());
  owner.services.reviews.setWorkspacePipeline('implement: sh-agent -> review: sh-reviewer, no-such-cli -> gate: human');

  const ada: Actor = { kind: 'user', name: 'ada' };
  const task = owner.plan.createTask({ title: 'Add a greeting', description: 'Print hello.' }, ada);
  const impl = await manager.start({ profileId: 'sh-agent', taskId: task.id });
  assert.ok(impl.record.worktree, 'the implementer works in a worktree');
  // The implementer's work on its branch.
  fs.writeFileSync(path.join(impl.record.worktree!, 'hello.txt'), 'hello, reviewers\n');
  git(impl.record.worktree!, 'add', '.');
  git(impl.record.worktree!, 'commit', '-q', '-m', 'greeting');
  const agentActor: Actor = { kind: 'agent', name: `sh-agent#${impl.record.id}` };
  owner.plan.setStatus(task.id, 'DONE', agentActor, { summary: 'Added hello.txt' });
  assert.equal(owner.plan.getTask(task.id).status, 'IN_REVIEW', 'completion opened the review');

  await launcher.whenIdle();
  const reviewers = manager.list().filter(s => s.profile.id === 'sh-reviewer');
  assert.equal(reviewers.length, 1, 'one reviewer session for the one known reviewer profile');
  const r = reviewers[0];
  assert.match(r.record.title, new RegExp(`review of ${task.id}`));
  assert.equal(r.record.taskId, null, 'a reviewer claims nothing');
  const where = path.join(out, `${r.record.id}.where`);
  for (const until = Date.now() + 10_000; !fs.existsSync(path.join(out, `${r.record.id}.prompt`)) && Date.now() < until;) await new Promise(res => setTimeout(res, 50));
  await new Promise(res => setTimeout(res, 100));
  const [cwd, reviewOf] = fs.readFileSync(where, 'utf8').trim().split('\n');
  assert.equal(fs.realpathSync(cwd), fs.realpathSync(impl.record.worktree!), 'the reviewer runs in the implementer\'s worktree');
  assert.equal(reviewOf, task.id);
  const prompt = fs.readFileSync(path.join(out, `${r.record.id}.prompt`), 'utf8');
  assert.match(prompt, /Add a greeting/);
  assert.match(prompt, /Changes against main/);
  assert.match(prompt, /\+hello, reviewers/, 'the diff of the branch against its base');
  assert.match(prompt, /submit_review/);
  assert.match(prompt, /Checklist/);
  assert.equal(owner.plan.getTask(task.id).status, 'IN_REVIEW', 'still in review while the reviewers work');
  const activity = owner.plan.listActivity({ taskId: task.id, limit: 50 }).map(e => `${e.action}: ${e.detail}`);
  assert.ok(activity.some(a => a.startsWith('review.started: started sh-reviewer as reviewer') && a.includes(impl.record.branch!)), activity.join('\n'));
  assert.ok(activity.some(a => a.startsWith('review.notStarted: not started reviewer no-such-cli')), activity.join('\n'));
});
