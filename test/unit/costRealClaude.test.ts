/*
 * End to end with the real Claude Code: Baton's SessionManager starts it on a task (headless, its model the
 * scripted model server of helpers/modelServer.ts), with the MCP and telemetry wiring; Claude Code exports
 * its token and cost metrics to the owner's OTLP receiver with the session's token; `baton cost --json`
 * (a separate process, through the owner) shows the tokens the model server reported, on the task and in
 * its sprint. Skipped with a message when Claude Code is missing; fails under CI=true.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { HookRunner } from '../../src/sessions/hooks';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager, type SessionExit } from '../../src/sessions/sessionManager';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { resolveStorageDir } from '../../src/store/storageLocation';
import { CLI_ARGS } from './helpers/cli';
import { startModelServer } from './helpers/modelServer';
import { openTestOwner } from './helpers/owner';
import { missingBinary, requirePresent, skipOutsideCi } from './helpers/required';

const CLAUDE = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin/claude');
const missing = missingBinary(CLAUDE, 'run `bash scripts/setup-agents.sh` to test cost reporting with the real Claude Code');
const user = { kind: 'user', name: 'ada' } as const;

test('claude: a session Baton starts on a task reports its tokens and cost over OTLP; `baton cost --json` shows the model server\'s token counts on the task and its sprint', { skip: skipOutsideCi(missing), timeout: 120_000 }, async t => {
  requirePresent(missing);
  const pty = loadNodePty();
  if ('error' in pty) throw new Error(`node-pty is needed for sessions: ${pty.error}`);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'baton-cost-')));
  const home = path.join(root, 'home');
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(home);
  fs.mkdirSync(workspace);
  const batonHome = path.join(root, 'baton-home');
  const savedHome = process.env.BATON_HOME;
  process.env.BATON_HOME = batonHome; // where the CLI below finds this workspace's owner
  const owner = await openTestOwner({ mcp: true, dir: resolveStorageDir(workspace) });
  t.after(async () => {
    await owner.cleanup();
    if (savedHome === undefined) delete process.env.BATON_HOME;
    else process.env.BATON_HOME = savedHome;
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 });
  });
  const sprint = owner.plan.createSprint({ name: 'Costed sprint' }, user);
  const task = owner.plan.createTask({ title: 'Fix the parser (costed)', sprintId: sprint.id }, user);
  const other = owner.plan.createTask({ title: 'Not started', sprintId: sprint.id }, user);
  const models = await startModelServer([
    { tools: [{ tool: 'agent_init', args: { agent: 'scripted-claude', profile: 'claude', task_id: task.id } }] },
    { tools: [{ tool: 'complete_task', args: { task_id: task.id, summary: 'Done, with its cost counted' } }] },
    { text: 'The task is complete.' },
  ]);
  t.after(() => models.close());

  const headless: AgentProfile = {
    ...BUILTIN_PROFILES.find(p => p.id === 'claude')!, command: CLAUDE,
    args: ['-p', '--output-format', 'stream-json', '--verbose', '--allowedTools', 'mcp__baton'], promptArgs: ['--'],
    env: { HOME: home, CI: 'true', NO_COLOR: '1', DISABLE_AUTOUPDATER: '1', ANTHROPIC_BASE_URL: models.url, ANTHROPIC_API_KEY: 'sk-ant-offline-test', ENABLE_TOOL_SEARCH: 'false' },
  };
  const logs: string[] = [];
  const manager = new SessionManager({
    workspaceDir: workspace, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [headless],
    settings: () => ({ bufferBytes: 256 * 1024, useTmux: false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 1, cols: 160, rows: 50 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => owner.agentEndpoint(),
    telemetryEndpoint: () => owner.telemetryEndpoint(),
    pty: () => pty.pty, log: (_level, message) => logs.push(message),
  });
  t.after(async () => {
    await manager.shutdown();
    manager.dispose();
  });
  const exited = new Promise<SessionExit>(resolve => manager.onDidExit(resolve));
  const live = await manager.start({ profileId: 'claude', taskId: task.id });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit in 90 s:\n${manager.readOutput(live.record.id, 40).join('\n')}\n${models.summary()}`)), 90_000).unref());
  const exit = await Promise.race([exited, timeout]);
  const served = models.totalUsage();
  t.diagnostic(`exit ${exit.exitCode}; model usage ${JSON.stringify(served)}\n${models.summary()}\n${logs.filter(l => /report/.test(l)).join('\n')}`);
  assert.equal(exit.exitCode, 0, exit.session.lastOutput);
  assert.equal(owner.plan.getTask(task.id).status, 'DONE');
  assert.ok(logs.some(l => l.includes(`${live.record.id}: Claude Code reports tokens and cost to ${owner.telemetryEndpoint()!.url}`)), logs.join('\n'));

  const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...CLI_ARGS, 'cost', '--sprint', sprint.id, '--json', '--workspace', workspace],
    { env: { ...process.env, BATON_HOME: batonHome }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout))));
  const report = JSON.parse(out);
  const line = report.tasks.find((x: any) => x.task_id === task.id);
  assert.ok(line, out);
  // Claude Code's token counts are the usage the scripted model server reported, every request summed.
  assert.equal(line.tokens.input, served.inputTokens, out);
  assert.equal(line.tokens.output, served.outputTokens, out);
  assert.equal(line.reported, true);
  assert.ok(typeof line.cost_usd === 'number' && line.cost_usd > 0, `Claude Code prices the tokens: ${out}`);
  assert.deepEqual(line.sources, ['claude']);
  assert.equal(report.total.tokens.input, served.inputTokens, "the sprint's total is its one session's");
  const session = report.sessions.find((s: any) => s.session_id === live.record.id);
  assert.equal(session.task_id, task.id);
  assert.equal(session.total_tokens, served.inputTokens + served.outputTokens);
  assert.ok(!report.tasks.some((x: any) => x.task_id === other.id), 'a task without sessions has no line');
  // The text form says the same, for people.
  const text = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...CLI_ARGS, 'cost', '--workspace', workspace],
    { env: { ...process.env, BATON_HOME: batonHome }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))));
  assert.match(text, new RegExp(`${task.id}  Fix the parser \\(costed\\): [\\d,]+ tokens \\(${served.inputTokens.toLocaleString('en-US')} in, ${served.outputTokens} out\\) · \\$\\d`));
});
