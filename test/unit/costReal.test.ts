/*
 * End to end with the real agent CLIs: Baton's SessionManager starts each on a task (headless, its model
 * the scripted model server of helpers/modelServer.ts), with the MCP and telemetry wiring; the CLI exports
 * its token (and, Claude Code only, cost) metrics to the owner's OTLP receiver with the session's token;
 * `baton cost --json` (a separate process, through the owner) shows the tokens the model server reported,
 * on the task and in its sprint. Skipped with a message when a CLI is missing; fails under CI=true.
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

const BIN = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin');
const user = { kind: 'user', name: 'ada' } as const;

/**
 * How `cli` runs headless against the scripted model server (as in agentLoopReal.test.ts), with what it
 * needs written in `home`: arguments in the profile's place, arguments before the prompt, environment.
 */
function headlessLaunch(cli: string, home: string, workspace: string, modelUrl: string): { args: string[]; promptArgs: string[]; env: Record<string, string> } {
  switch (cli) {
    case 'claude':
      return {
        args: ['-p', '--output-format', 'stream-json', '--verbose', '--allowedTools', 'mcp__baton'], promptArgs: ['--'],
        env: { ANTHROPIC_BASE_URL: modelUrl, ANTHROPIC_API_KEY: 'sk-ant-offline-test', ENABLE_TOOL_SEARCH: 'false' },
      };
    case 'codex':
      fs.mkdirSync(path.join(home, '.codex'), { recursive: true });
      return {
        args: [
          '-c', `model_providers.scripted={name="scripted",base_url="${modelUrl}/v1",env_key="SCRIPTED_MODEL_KEY",wire_api="responses"}`,
          '-c', 'model_provider="scripted"', '-c', 'model="scripted-model"', 'exec', '--json', '--skip-git-repo-check',
        ],
        promptArgs: ['--'], env: { SCRIPTED_MODEL_KEY: 'offline-test', CODEX_HOME: path.join(home, '.codex') },
      };
    case 'gemini':
      fs.mkdirSync(path.join(home, '.gemini'), { recursive: true });
      fs.writeFileSync(path.join(home, '.gemini', 'trustedFolders.json'), JSON.stringify({ [workspace]: 'TRUST_FOLDER' }));
      fs.writeFileSync(path.join(home, '.gemini', 'settings.json'), JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }));
      return {
        args: ['--approval-mode', 'yolo', '--output-format', 'stream-json', '-m', 'gemini-2.5-flash'], promptArgs: ['-p'],
        env: { GOOGLE_GEMINI_BASE_URL: modelUrl, GEMINI_API_KEY: 'offline-test', GEMINI_CLI_HOME: home },
      };
    case 'qwen':
      return {
        args: ['--approval-mode', 'yolo', '--output-format', 'stream-json', '--auth-type', 'openai', '--openai-api-key', 'offline-test', '--openai-base-url', `${modelUrl}/v1`, '-m', 'scripted-model'],
        promptArgs: [], env: { QWEN_CODE_SUPPRESS_YOLO_WARNING: '1' },
      };
    default:
      throw new Error(`no headless launch for ${cli}`);
  }
}

/** What each CLI reports: Claude Code tokens and cost; the others tokens only. */
const REPORTS_COST: Record<string, boolean> = { claude: true, codex: false, gemini: false, qwen: false };
const LABEL: Record<string, string> = { claude: 'Claude Code', codex: 'Codex', gemini: 'Gemini CLI', qwen: 'Qwen Code' };

for (const cli of Object.keys(REPORTS_COST)) {
const COMMAND = path.join(BIN, cli);
const missing = missingBinary(COMMAND, `run \`bash scripts/setup-agents.sh\` to test cost reporting with the real ${cli} CLI`);

test(`${cli}: a session Baton starts on a task reports its tokens${REPORTS_COST[cli] ? ' and cost' : ' (no cost)'} over OTLP; \`baton cost --json\` shows the model server's token counts on the task and its sprint`, { skip: skipOutsideCi(missing), timeout: 120_000 }, async t => {
  requirePresent(missing);
  const pty = loadNodePty();
  if ('error' in pty) throw new Error(`node-pty is needed for sessions: ${pty.error}`);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `baton-cost-${cli}-`)));
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
    { tools: [{ tool: 'agent_init', args: { agent: `scripted-${cli}`, profile: cli, task_id: task.id } }] },
    { tools: [{ tool: 'complete_task', args: { task_id: task.id, summary: 'Done, with its cost counted' } }] },
    { text: 'The task is complete.' },
  ]);
  t.after(() => models.close());

  const launch = headlessLaunch(cli, home, workspace, models.url);
  const headless: AgentProfile = {
    ...BUILTIN_PROFILES.find(p => p.id === cli)!, command: COMMAND, args: launch.args, promptArgs: launch.promptArgs,
    env: { HOME: home, USERPROFILE: home, CI: 'true', NO_COLOR: '1', NO_BROWSER: 'true', DISABLE_AUTOUPDATER: '1', ...launch.env },
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
  const live = await manager.start({ profileId: cli, taskId: task.id });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit in 90 s:\n${manager.readOutput(live.record.id, 40).join('\n')}\n${models.summary()}`)), 90_000).unref());
  const exit = await Promise.race([exited, timeout]);
  const served = models.totalUsage();
  t.diagnostic(`exit ${exit.exitCode}; model usage ${JSON.stringify(served)}\n${models.summary()}\n${logs.filter(l => /report/.test(l)).join('\n')}`);
  assert.equal(exit.exitCode, 0, exit.session.lastOutput);
  assert.equal(owner.plan.getTask(task.id).status, 'DONE');
  assert.ok(logs.some(l => l.startsWith(`[Sessions] ${live.record.id}: ${LABEL[cli]} reports tokens`)), logs.join('\n'));

  const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...CLI_ARGS, 'cost', '--sprint', sprint.id, '--json', '--workspace', workspace],
    { env: { ...process.env, BATON_HOME: batonHome }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout))));
  const report = JSON.parse(out);
  const line = report.tasks.find((x: any) => x.task_id === task.id);
  assert.ok(line, out);
  // The CLI's token counts are the usage the scripted model server reported, every request summed.
  assert.equal(line.tokens.input, served.inputTokens, out);
  assert.equal(line.tokens.output, served.outputTokens, out);
  assert.equal(line.reported, true);
  if (REPORTS_COST[cli]) assert.ok(typeof line.cost_usd === 'number' && line.cost_usd > 0, `Claude Code prices the tokens: ${out}`);
  else assert.equal(line.cost_usd, null, `${cli} reports no cost: null, never 0`);
  assert.deepEqual(line.sources, [cli]);
  assert.equal(report.total.tokens.input, served.inputTokens, "the sprint's total is its one session's");
  const session = report.sessions.find((s: any) => s.session_id === live.record.id);
  assert.equal(session.task_id, task.id);
  assert.equal(session.total_tokens, served.inputTokens + served.outputTokens);
  assert.ok(!report.tasks.some((x: any) => x.task_id === other.id), 'a task without sessions has no line');
  // The text form says the same, for people.
  const text = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...CLI_ARGS, 'cost', '--workspace', workspace],
    { env: { ...process.env, BATON_HOME: batonHome }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))));
  assert.match(text, new RegExp(`${task.id}  Fix the parser \\(costed\\): [\\d,]+ tokens \\(${served.inputTokens.toLocaleString('en-US')} in, ${served.outputTokens} out[^)]*\\) · ${REPORTS_COST[cli] ? '\\$\\d' : 'cost not reported'}`));
});
}
