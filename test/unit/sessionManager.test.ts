import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { HookRunner } from '../../src/sessions/hooks';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager, type SessionExit } from '../../src/sessions/sessionManager';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { openTestOwner } from './helpers/owner';

const scripted = path.resolve(__dirname, 'fixtures/scripted-agent.js');
const ada: Actor = { kind: 'user', name: 'ada' };
let owner: Awaited<ReturnType<typeof openTestOwner>>;
let workspace: string;
let manager: SessionManager;

/** A profile running the scripted agent: works, asks a question, waits for input, exits with code 3. */
const scriptedProfile: AgentProfile = {
  id: 'scripted', label: 'Scripted agent', command: process.execPath, args: [scripted], prompt: 'none', mcp: 'env-only',
};

before(async () => {
  owner = await openTestOwner({ mcp: true });
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-sessions-ws-'));
  const pty = loadNodePty();
  manager = new SessionManager({
    workspaceDir: workspace,
    storageDir: owner.storageDir,
    plan: owner.plan,
    repo: new TerminalSessionRepository(owner.db),
    profiles: () => [...BUILTIN_PROFILES, scriptedProfile],
    settings: () => ({ bufferBytes: 256 * 1024, useTmux: false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 3, cols: 100, rows: 30 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => ({ url: owner.mcpUrl!, token: owner.readToken()! }),
    pty: () => ('error' in pty ? pty.error : pty.pty),
    log: () => undefined,
  });
});
after(async () => {
  await manager.shutdown();
  manager.dispose();
  await owner.cleanup();
  fs.rmSync(workspace, { recursive: true, force: true });
});

function exitOf(id: string): Promise<SessionExit> {
  return new Promise(resolve => {
    const sub = manager.onDidExit(e => {
      if (e.session.id === id) { sub.dispose(); resolve(e); }
    });
  });
}

test('N sessions at once on N ready tasks: task status and assignment follow; the limit holds', async () => {
  const sprint = owner.plan.createSprint({ name: 'Parallel' }, ada);
  const tasks = ['A', 'B', 'C', 'D'].map(t => owner.plan.createTask({ title: `Task ${t}`, sprintId: sprint.id, priority: 'critical' }, ada));
  const started = await manager.startReadyTasks('scripted');
  assert.equal(started.length, 3, 'maxParallel is 3');
  const taskIds = started.map(s => s.record.taskId);
  assert.deepEqual(new Set(taskIds), new Set(tasks.slice(0, 3).map(t => t.id)));
  for (const s of started) {
    const task = owner.plan.getTask(s.record.taskId!);
    assert.equal(task.status, 'IN_PROGRESS');
    assert.equal(task.assignee, `scripted#${s.record.id}`);
  }
  assert.equal((await manager.startReadyTasks('scripted')).length, 0, 'no room left');
  // Each waits for input; answer all, and each exits with code 3 leaving its task unfinished for the person.
  const exits = started.map(s => exitOf(s.record.id));
  await Promise.all(started.map(s => waitForState(s.record.id, 'waiting')));
  for (const s of started) await manager.send(s.record.id, 'SQLite');
  const ended = await Promise.all(exits);
  for (const e of ended) {
    assert.equal(e.exitCode, 3);
    assert.equal(e.unfinishedTask?.status, 'IN_PROGRESS', 'never silently marked done');
    assert.match(e.session.lastOutput, /Using SQLite/);
  }
  assert.equal(manager.list().length, 0);
  const history = manager.history(10).map(h => h.id);
  for (const s of started) assert.ok(history.includes(s.record.id));
});

test('a session on a task gets the task as its prompt; a missing command says how to install it', async () => {
  const task = owner.plan.createTask({ title: 'Write the changelog', description: 'Summarize the release', checkpoints: ['draft', 'review'] }, ada);
  const prompt = manager.taskPrompt(task.id);
  assert.match(prompt, new RegExp(`Baton task ${task.id}: Write the changelog`));
  assert.match(prompt, /agent_init/);
  assert.match(prompt, /1\. \[ \] draft/);
  const missing: AgentProfile = { id: 'nope', label: 'Nope', command: 'definitely-not-installed-cli', args: [], prompt: 'none', mcp: 'env-only', install: 'npm install -g nope-cli' };
  const m2 = new SessionManager({ ...(manager as any).options, profiles: () => [missing] });
  await assert.rejects(m2.start({ profileId: 'nope' }), /not installed.*npm install -g nope-cli/s);
  assert.equal(owner.plan.getTask(task.id).status, 'TODO', 'nothing changed');
});

async function waitForState(id: string, state: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (manager.get(id).terminal.state !== state) {
    if (Date.now() > deadline) throw new Error(`${id} did not reach ${state} (is ${manager.get(id).terminal.state}); output:\n${manager.readOutput(id, 20).join('\n')}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

test('a session in its own worktree: uncommitted work is preserved at the ref Baton reports when it ends', async () => {
  const { execFileSync } = await import('node:child_process');
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-wt-repo-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), '# demo\n');
  git('add', '.');
  git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'init');
  // An "agent" that edits a tracked file and adds a new one, then exits without committing.
  const editor: AgentProfile = {
    id: 'editor', label: 'Editor agent', command: '/bin/sh', prompt: 'none', mcp: 'env-only',
    args: ['-c', 'echo "changed by the agent" >> README.md; echo "new work" > notes.txt; echo done'],
  };
  const pty = loadNodePty();
  const m = new SessionManager({
    ...(manager as any).options, workspaceDir: repo, profiles: () => [editor],
    settings: () => ({ bufferBytes: 65536, useTmux: false, useWorktrees: true, worktreeCleanup: 'preserve-and-remove', maxParallel: 2, cols: 80, rows: 24 }),
    pty: () => ('error' in pty ? pty.error : pty.pty),
  });
  const task = owner.plan.createTask({ title: 'Edit the readme' }, ada);
  const exited = new Promise<SessionExit>(resolve => m.onDidExit(resolve));
  const s = await m.start({ profileId: 'editor', taskId: task.id });
  assert.ok(s.record.worktree && s.record.branch?.startsWith('baton/'), `worktree ${s.record.worktree} on ${s.record.branch}`);
  assert.notEqual(s.record.cwd, repo);
  const exit = await exited;
  assert.ok(!fs.existsSync(s.record.worktree!), 'the worktree folder is removed');
  const ref = /refs\/baton\/preserved\/\S+?(?=[),\s]|$)/.exec(exit.worktreeMessage ?? '')?.[0] ?? s.record.branch!;
  assert.match(exit.worktreeMessage ?? '', /baton\//, exit.worktreeMessage ?? '');
  assert.equal(git('show', `${ref}:notes.txt`), 'new work');
  assert.match(git('show', `${ref}:README.md`), /changed by the agent/);
  assert.equal(fs.readFileSync(path.join(repo, 'README.md'), 'utf8'), '# demo\n', 'the main checkout is untouched');
  m.dispose();
  fs.rmSync(repo, { recursive: true, force: true });
});

test('agent definitions in .claude/agents are usable as the role of a session', async () => {
  fs.mkdirSync(path.join(workspace, '.claude', 'agents'), { recursive: true });
  fs.writeFileSync(path.join(workspace, '.claude', 'agents', 'reviewer.md'), '---\nname: reviewer\ndescription: Reviews changes for bugs\nmodel: sonnet\n---\nRead the diff carefully and list every bug you find.\n');
  const { definitions } = manager.agentDefinitions();
  assert.deepEqual(definitions.map(d => d.name), ['reviewer']);
  const task = owner.plan.createTask({ title: 'Review the payment code' }, ada);
  const s = await manager.start({ profileId: 'scripted', taskId: task.id, role: 'reviewer' });
  assert.match(s.record.title, /Scripted agent \(reviewer\) · T-\d+ Review the payment code/);
  assert.match(manager.taskPrompt(task.id, 'reviewer'), /role "reviewer"/);
  await assert.rejects(manager.start({ profileId: 'scripted', role: 'nobody' }), /No agent definition "nobody".*found: reviewer/);
  await manager.stop(s.record.id);
});
