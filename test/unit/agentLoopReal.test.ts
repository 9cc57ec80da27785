/*
 * The whole agent loop with the real agent CLIs, offline. Each CLI (installed by `bash
 * scripts/setup-agents.sh` into scripts/agents/node_modules; skipped with a message when missing, failing
 * under CI=true) runs headless in a temporary HOME, wired to a real Baton owner's MCP server with
 * `wireMcp` and the built-in profile, its model endpoint pointed at the scripted model server of
 * helpers/modelServer.ts on 127.0.0.1. Twice each:
 *
 * - run directly: the script makes the model call agent_init → claim_next_task → report_progress →
 *   complete_task, then answer in text;
 * - started by Baton's SessionManager on a task (node-pty, the wiring, the task prompt as the profile
 *   delivers it): agent_init with the task's id → report_progress → complete_task, then text;
 * - and their interactive TUIs as Baton starts them by default (the person's configuration in the temp
 *   HOME: onboarding done, the folder trusted, the model provider; Gemini CLI asks before Baton's first
 *   tool and the test answers "Allow all server tools for this session").
 *
 * The tests assert what happened in Baton's state (task DONE with the note and the summary, the agent
 * session holding the task), what the CLI fed back to the model (the tools' real answers), and that the
 * CLI's own token count is the usage the server reported. `BATON_MODEL_DUMP=<dir>` keeps every request
 * each CLI sent (to see what a new CLI version asks for).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { wireMcp, type McpWiring } from '../../src/sessions/mcpWiring';
import { HookRunner } from '../../src/sessions/hooks';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager, type SessionExit } from '../../src/sessions/sessionManager';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { startModelServer, type ModelServer, type ScriptTurn } from './helpers/modelServer';
import { openTestOwner } from './helpers/owner';
import { requirePresent, skipOutsideCi } from './helpers/required';

const BIN = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin');
const bin = (name: string) => path.join(BIN, name);
const missing = (name: string): string | false =>
  fs.existsSync(bin(name)) ? false : `${path.relative(process.cwd(), bin(name))} is missing: run \`bash scripts/setup-agents.sh\` to test the real ${name} CLI`;
const user = { kind: 'user', name: 'ada' } as const;

let owner: Awaited<ReturnType<typeof openTestOwner>>;

before(async () => {
  owner = await openTestOwner({ mcp: true });
});
after(async () => {
  await owner?.cleanup();
});

const profile = (id: string): AgentProfile => BUILTIN_PROFILES.find(p => p.id === id)!;

/** A temp HOME and workspace, removed after the test. */
function sandbox(t: TestContext, id: string): { root: string; home: string; workspace: string; sessionDir: string } {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `baton-loop-${id}-`)));
  t.after(async () => {
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    // A stopped TUI's helper processes may still write their logs (chats, telemetry) for a moment.
    if (id.startsWith('tui-')) {
      await new Promise(r => setTimeout(r, 2000));
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    }
  });
  const home = path.join(root, 'home');
  const workspace = path.join(root, 'workspace');
  const sessionDir = path.join(root, 'session');
  fs.mkdirSync(home);
  fs.mkdirSync(workspace);
  fs.mkdirSync(sessionDir, { mode: 0o700 });
  return { root, home, workspace, sessionDir };
}

/** Only PATH and a temp HOME of the person's environment, CI=true, no color; then `extra`. */
function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: home, USERPROFILE: home, TMPDIR: os.tmpdir(), LANG: 'C.UTF-8',
    CI: 'true', TERM: 'dumb', NO_COLOR: '1', NO_BROWSER: 'true', DISABLE_AUTOUPDATER: '1', ...extra,
  };
}

interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** Runs a command with no standard input; kills it after `timeoutMs`. */
function run(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const NOTE = 'Scripted progress: the parser handles empty input';
const SUMMARY = 'Scripted summary: parser fixed, tests pass';

/** The loop every CLI is driven through; the task id comes from claim_next_task's real answer. */
function loopScript(cli: string): ScriptTurn[] {
  const claimed = (seen: { lastResult(tool: string): any }) => {
    const task = seen.lastResult('claim_next_task')?.task;
    if (!task?.id) throw new Error(`claim_next_task answered no task: ${JSON.stringify(seen.lastResult('claim_next_task'))}`);
    return task.id as string;
  };
  return [
    { tools: [{ tool: 'agent_init', args: { agent: `scripted-${cli}`, profile: cli, client_time: new Date().toISOString() } }] },
    { tools: [{ tool: 'claim_next_task', args: {} }] },
    { tools: [{ tool: 'report_progress', args: seen => ({ task_id: claimed(seen), percent: 50, note: NOTE }) }] },
    { tools: [{ tool: 'complete_task', args: seen => ({ task_id: claimed(seen), summary: SUMMARY }) }] },
    { text: 'The task is complete.' },
  ];
}

/** A ready task in a fresh sprint of the shared owner. */
function readyTask(cli: string) {
  const sprint = owner.plan.createSprint({ name: `Loop ${cli}` }, user);
  return owner.plan.createTask({ title: `Fix the parser (${cli})`, sprintId: sprint.id, priority: 'high' }, user);
}

/**
 * Asserts the loop in Baton's state and in what the CLI fed back to the model: the session registered as
 * `scripted-<cli>` with profile `cli` holds the task, which is DONE with the note and the summary.
 */
function assertLoop(t: TestContext, cli: string, taskId: string, models: ModelServer, result: RunResult, options: { turns?: number; claimed?: boolean; usage?: boolean; assignee?: string } = {}): void {
  const { turns = 5, claimed = true, usage = true, assignee } = options;
  const diag = `model requests:\n${models.summary()}\n--- exit ${result.code ?? result.signal} after ${result.ms} ms\n--- stdout:\n${result.stdout.slice(-3000)}\n--- stderr:\n${result.stderr.slice(-3000)}`;
  t.diagnostic(`${cli}: ${models.turnsServed()} turns in ${result.ms} ms; usage ${JSON.stringify(models.totalUsage())}\n${models.summary()}`);
  assert.equal(models.turnsServed(), turns, `all ${turns} turns were asked for\n${diag}`);
  assert.deepEqual(models.requests.filter(r => r.api !== 'other' && r.error).map(r => r.error), [], 'every model request was answered as scripted');
  const task = owner.plan.getTask(taskId);
  assert.equal(task.status, 'DONE', diag);
  assert.equal(task.summary, SUMMARY);
  const details = owner.plan.getTaskDetails(taskId);
  assert.ok(details.notes.some(n => n.text === NOTE), `the progress note is stored\n${JSON.stringify(details.notes)}`);
  const session = owner.services.sessions.list().find(s => s.agentName === `scripted-${cli}`);
  assert.ok(session, `a session registered as scripted-${cli}: ${JSON.stringify(owner.services.sessions.list())}`);
  assert.equal(session.profile, cli);
  assert.equal(session.taskId, taskId);
  assert.equal(task.assignee, assignee ?? `scripted-${cli}#${session.id}`);
  // What the CLI fed back: the tools' real answers.
  if (claimed) assert.equal(models.lastResult('claim_next_task')?.task?.id, taskId, 'the claim answer reached the model');
  else assert.equal(models.lastResult('agent_init')?.task?.id, taskId, 'agent_init took the session\'s task');
  assert.equal(models.lastResult('report_progress')?.progress, 50);
  assert.equal(models.lastResult('complete_task')?.status, 'DONE');
  assert.equal(result.code, 0, diag);
  // The CLI's own token count (its final JSON event) is the sum of the usage the server reported.
  if (usage) assert.deepEqual(reportedUsage(result.stdout), models.totalUsage('agent'), 'the CLI counted the tokens the model reported');
}

/**
 * The token usage a CLI reports at the end of its JSON output: the last `result` event's `usage` (Claude
 * Code, Qwen Code) or `stats` (Gemini CLI), or Codex's last `turn.completed` event's `usage`.
 */
function reportedUsage(stdout: string): { inputTokens: number; outputTokens: number } | null {
  let usage: { inputTokens: number; outputTokens: number } | null = null;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let event: any;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (event.type !== 'result' && event.type !== 'turn.completed') continue;
    const u = event.usage ?? event.stats;
    if (u && typeof u.input_tokens === 'number') usage = { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
  }
  return usage;
}

for (const cli of ['claude', 'codex', 'gemini', 'qwen']) {
  test(`${cli} CLI is installed (required: under CI=true a missing CLI fails instead of skipping its loop)`, { skip: skipOutsideCi(missing(cli)) }, () => requirePresent(missing(cli)));
}

/** Starts the scripted model server for `cli`'s loop; closed after the test. */
async function models(t: TestContext, cli: string, script: ScriptTurn[] = loopScript(cli)): Promise<ModelServer> {
  const server = await startModelServer(script);
  t.after(async () => {
    // BATON_MODEL_DUMP=<dir> keeps every request each CLI sent (to see what a new CLI version asks for).
    if (process.env.BATON_MODEL_DUMP) fs.writeFileSync(path.join(process.env.BATON_MODEL_DUMP, `${cli}-requests.json`), JSON.stringify(server.requests, null, 1));
    await server.close();
  });
  return server;
}

function wire(id: string, sessionDir: string, workspace: string, env?: Record<string, string>): McpWiring {
  return wireMcp({ ...profile(id), ...(env ? { env } : {}) }, { url: owner.mcpUrl!, token: owner.readToken()! }, sessionDir, workspace);
}

/** How a CLI runs headless against the scripted model server (what each needed, found by trying). */
interface OfflineLaunch {
  /** Arguments in the profile's place (before the MCP wiring's). */
  args: string[];
  /** Arguments before the prompt. */
  promptArgs: string[];
  /** Environment: the model endpoint and a dummy key. */
  env: Record<string, string>;
  /** The profile's own environment the MCP wiring reads (CODEX_HOME, GEMINI_CLI_HOME). */
  profileEnv: Record<string, string>;
  /** The model API the CLI speaks. */
  api: string;
}

/**
 * The headless launch of `cli` against `server`, with what it needs in `home` written there:
 *
 * - Claude Code: `-p` with stream-json, `--allowedTools mcp__baton` (MCP tools need permission),
 *   `ANTHROPIC_BASE_URL`, a dummy `ANTHROPIC_API_KEY`, and `ENABLE_TOOL_SEARCH=false` (it otherwise
 *   defers MCP tools behind its ToolSearch tool; a refused request makes it resend them all).
 * - Codex: `exec --json --skip-git-repo-check` with a `-c model_providers.scripted={…, wire_api =
 *   "responses"}` provider whose key comes from `env_key`.
 * - Gemini CLI: `-p` with `--approval-mode yolo`, `GOOGLE_GEMINI_BASE_URL`, `GEMINI_API_KEY`, the
 *   workspace trusted, and `security.auth.selectedType: "gemini-api-key"` in the settings (with the base
 *   URL alone 0.61 picks a "gateway" sign-in its non-interactive mode rejects: "Invalid auth method selected.").
 * - Qwen Code: a positional prompt (one-shot) with `--approval-mode yolo --auth-type openai
 *   --openai-api-key … --openai-base-url …`; its MCP tools are deferred, called through `tool_call`.
 */
function offline(cli: string, home: string, workspace: string, server: ModelServer): OfflineLaunch {
  switch (cli) {
    case 'claude':
      return {
        api: 'Anthropic Messages', args: ['-p', '--output-format', 'stream-json', '--verbose', '--allowedTools', 'mcp__baton'], promptArgs: ['--'],
        env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'sk-ant-offline-test', ENABLE_TOOL_SEARCH: 'false' }, profileEnv: {},
      };
    case 'codex':
      fs.mkdirSync(path.join(home, '.codex'), { recursive: true }); // Codex refuses a CODEX_HOME that does not exist
      return {
        api: 'Responses',
        args: [
          '-c', `model_providers.scripted={name="scripted",base_url="${server.url}/v1",env_key="SCRIPTED_MODEL_KEY",wire_api="responses"}`,
          '-c', 'model_provider="scripted"', '-c', 'model="scripted-model"', 'exec', '--json', '--skip-git-repo-check',
        ],
        promptArgs: ['--'], env: { SCRIPTED_MODEL_KEY: 'offline-test' }, profileEnv: { CODEX_HOME: path.join(home, '.codex') },
      };
    case 'gemini': {
      // The person's ~/.gemini (in the temp HOME): the workspace trusted (Gemini CLI connects no MCP server
      // in an untrusted folder) and the API-key sign-in chosen.
      fs.mkdirSync(path.join(home, '.gemini'), { recursive: true });
      fs.writeFileSync(path.join(home, '.gemini', 'trustedFolders.json'), JSON.stringify({ [workspace]: 'TRUST_FOLDER' }));
      fs.writeFileSync(path.join(home, '.gemini', 'settings.json'), JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }));
      return {
        api: 'Gemini', args: ['--approval-mode', 'yolo', '--output-format', 'stream-json', '-m', 'gemini-2.5-flash'], promptArgs: ['-p'],
        env: { GOOGLE_GEMINI_BASE_URL: server.url, GEMINI_API_KEY: 'offline-test' }, profileEnv: { GEMINI_CLI_HOME: home },
      };
    }
    case 'qwen':
      return {
        api: 'Chat Completions',
        args: ['--approval-mode', 'yolo', '--output-format', 'stream-json', '--auth-type', 'openai', '--openai-api-key', 'offline-test', '--openai-base-url', `${server.url}/v1`, '-m', 'scripted-model'],
        promptArgs: [], env: { QWEN_CODE_SUPPRESS_YOLO_WARNING: '1' }, profileEnv: {},
      };
    default:
      throw new Error(`no offline launch for ${cli}`);
  }
}

const CLIS = ['claude', 'codex', 'gemini', 'qwen'];

for (const cli of CLIS) {
  test(`${cli}: run headless with the wired arguments, it drives agent_init → claim_next_task → report_progress → complete_task against the scripted model`, { skip: missing(cli), timeout: 90_000 }, async t => {
    const { home, workspace, sessionDir } = sandbox(t, cli);
    const task = readyTask(cli);
    const server = await models(t, cli);
    const launch = offline(cli, home, workspace, server);
    const wired = wire(cli, sessionDir, workspace, Object.keys(launch.profileEnv).length ? launch.profileEnv : undefined);
    t.diagnostic(`${launch.api} API; ${wired.description}`);
    const args = [...profile(cli).args, ...launch.args, ...wired.args, ...launch.promptArgs, 'Work on the next Baton task.'];
    const result = await run(bin(cli), args, { env: cleanEnv(home, { ...launch.profileEnv, ...wired.env, ...launch.env }), cwd: workspace, timeoutMs: 60_000 });
    assertLoop(t, cli, task.id, server, result);
  });
}

/**
 * Baton's SessionManager for one profile on the shared owner (node-pty, no tmux, no worktrees), shut
 * down after the test. @throws Error when node-pty cannot load.
 */
function sessionManager(t: TestContext, workspace: string, storageDir: string, agent: AgentProfile): SessionManager {
  const pty = loadNodePty();
  if ('error' in pty) throw new Error(`node-pty is needed for sessions: ${pty.error}`);
  const manager = new SessionManager({
    workspaceDir: workspace, storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [agent],
    settings: () => ({ bufferBytes: 256 * 1024, useTmux: false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 1, cols: 160, rows: 50 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => ({ url: owner.mcpUrl!, token: owner.readToken()! }),
    pty: () => pty.pty, log: () => undefined,
  });
  t.after(async () => {
    await manager.shutdown();
    manager.dispose();
  });
  return manager;
}

/**
 * The loop of a session Baton starts on a task: the task is IN_PROGRESS and assigned to the session, and
 * its prompt names it; the agent takes it with agent_init's task_id (nothing to claim).
 */
function sessionScript(cli: string, taskId: string): ScriptTurn[] {
  return [
    { tools: [{ tool: 'agent_init', args: { agent: `scripted-${cli}`, profile: cli, task_id: taskId } }] },
    { tools: [{ tool: 'report_progress', args: { percent: 50, note: NOTE } }] },
    { tools: [{ tool: 'complete_task', args: { task_id: taskId, summary: SUMMARY } }] },
    { text: 'The task is complete.' },
  ];
}

for (const cli of CLIS) {
  test(`${cli}: started by Baton's SessionManager on a task (node-pty, the wiring, the task prompt), it runs the loop to DONE and exits`, { skip: missing(cli), timeout: 90_000 }, async t => {
    const { root, home, workspace } = sandbox(t, `session-${cli}`);
    const task = readyTask(`session-${cli}`);
    // Same shape as the headless runs above; the model is told which task it holds.
    const server = await models(t, cli, sessionScript(cli, task.id));
    const launch = offline(cli, home, workspace, server);
    // The built-in profile, headless: its command from scripts/agents, the launch's arguments, a temp HOME.
    const headless: AgentProfile = {
      ...profile(cli), command: bin(cli), args: launch.args, promptArgs: launch.promptArgs,
      env: { HOME: home, USERPROFILE: home, CI: 'true', NO_COLOR: '1', NO_BROWSER: 'true', DISABLE_AUTOUPDATER: '1', ...launch.profileEnv, ...launch.env },
    };
    const manager = sessionManager(t, workspace, path.join(root, 'storage'), headless);
    const exited = new Promise<SessionExit>(resolve => manager.onDidExit(resolve));
    const t0 = Date.now();
    const live = await manager.start({ profileId: cli, taskId: task.id });
    assert.equal(owner.plan.getTask(task.id).assignee, `${cli}#${live.record.id}`, 'the session holds the task from the start');
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit in 60 s; output:\n${manager.readOutput(live.record.id, 40).join('\n')}\n${server.summary()}`)), 60_000).unref());
    const exit = await Promise.race([exited, timeout]);
    const result: RunResult = { code: exit.exitCode, signal: null, stdout: exit.session.lastOutput, stderr: '', ms: Date.now() - t0 };
    // Output comes through the terminal (wrapped at its width), so the CLI's JSON token report is not parsed here.
    // The task stays assigned to the terminal session that Baton started on it (agent_init with its
    // task_id does not reassign it): the MCP session and the terminal session are not linked today.
    assertLoop(t, cli, task.id, server, result, { turns: 4, claimed: false, usage: false, assignee: `${cli}#${live.record.id}` });
    assert.ok(JSON.stringify(server.requests.find(r => r.turn === 0)?.body).includes(`You are working on Baton task ${task.id}: ${task.title}.`), "Baton's task prompt reached the model");
    assert.equal(exit.unfinishedTask, null, 'Baton sees the task finished when the session ends');
    assert.equal(manager.history(5).find(h => h.id === live.record.id)?.exitCode, 0, 'the terminal session is recorded with its exit');
  });
}

test('claude: the interactive TUI Baton starts by default (`claude -- "<task prompt>"`) runs the loop to DONE and then waits for the person', { skip: missing('claude'), timeout: 90_000 }, async t => {
  const { root, home, workspace } = sandbox(t, 'tui-claude');
  const task = readyTask('tui-claude');
  const server = await models(t, 'claude', sessionScript('claude', task.id));
  const key = 'sk-ant-offline-test-0123456789abcdef';
  // What a person who has used Claude Code has in ~/.claude.json: onboarding done, this API key approved,
  // this folder trusted; and Baton's tools allowed in their settings.
  fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify({
    hasCompletedOnboarding: true, theme: 'dark', customApiKeyResponses: { approved: [key.slice(-20)], rejected: [] },
    projects: { [workspace]: { hasTrustDialogAccepted: true, allowedTools: [] } },
  }));
  fs.mkdirSync(path.join(home, '.claude'));
  fs.writeFileSync(path.join(home, '.claude', 'settings.json'), JSON.stringify({ permissions: { allow: ['mcp__baton'] } }));
  const tui: AgentProfile = {
    ...profile('claude'), command: bin('claude'),
    env: { HOME: home, DISABLE_AUTOUPDATER: '1', ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: key, ENABLE_TOOL_SEARCH: 'false' },
  };
  const manager = sessionManager(t, workspace, path.join(root, 'storage'), tui);
  const t0 = Date.now();
  const live = await manager.start({ profileId: 'claude', taskId: task.id });
  const screen = () => manager.readOutput(live.record.id, 40).join('\n');
  // Done when the final answer is on screen above an empty input line (the TUI then waits for the person).
  while (!(server.turnsServed() === 4 && /The task is complete\.[\s\S]*^\s*❯\s*$/m.test(screen()))) {
    if (Date.now() - t0 > 60_000) throw new Error(`state ${live.terminal.state}, ${server.turnsServed()} turns; screen:\n${screen()}\n${server.summary()}`);
    await new Promise(r => setTimeout(r, 100));
  }
  const ms = Date.now() - t0;
  t.diagnostic(`done after ${ms} ms, detector state ${live.terminal.state}; screen:\n${screen()}`);
  assert.ok(server.requests.some(r => r.calls.some(c => c.name === 'WaitForMcpServers')), 'the TUI asked the model before Baton\'s server had connected; the model waited for it');
  assertLoop(t, 'claude', task.id, server, { code: 0, signal: null, stdout: '', stderr: '', ms }, { turns: 4, claimed: false, usage: false, assignee: `claude#${live.record.id}` });
  // The person ends the session; Baton records how it ended (before the temp HOME it writes in is removed).
  const exited = new Promise<SessionExit>(resolve => manager.onDidExit(resolve));
  await manager.stop(live.record.id);
  const exit = await exited;
  assert.equal(exit.unfinishedTask, null, 'nothing left unfinished');
});

test('codex: the interactive TUI Baton starts by default (`codex -- "<task prompt>"`) runs the loop to DONE in a trusted folder, asking no approval for Baton\'s tools', { skip: missing('codex'), timeout: 90_000 }, async t => {
  const { root, home, workspace } = sandbox(t, 'tui-codex');
  const task = readyTask('tui-codex');
  const server = await models(t, 'codex', sessionScript('codex', task.id));
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome);
  // The person's config.toml: the model provider, and this folder trusted.
  fs.writeFileSync(path.join(codexHome, 'config.toml'), [
    'model_provider = "scripted"', 'model = "scripted-model"',
    `[model_providers.scripted]`, `name = "scripted"`, `base_url = "${server.url}/v1"`, `env_key = "SCRIPTED_MODEL_KEY"`, `wire_api = "responses"`,
    `[projects.${JSON.stringify(workspace)}]`, 'trust_level = "trusted"', '',
  ].join('\n'));
  const tui: AgentProfile = { ...profile('codex'), command: bin('codex'), env: { HOME: home, CODEX_HOME: codexHome, SCRIPTED_MODEL_KEY: 'offline-test' } };
  const manager = sessionManager(t, workspace, path.join(root, 'storage'), tui);
  const t0 = Date.now();
  const live = await manager.start({ profileId: 'codex', taskId: task.id });
  const screen = () => manager.readOutput(live.record.id, 40).join('\n');
  // Done when the final answer is on screen above the input box (the TUI then waits for the person).
  while (!(server.turnsServed() === 4 && /The task is complete\.[\s\S]*Ask Codex to do anything/.test(screen()))) {
    if (Date.now() - t0 > 60_000) throw new Error(`state ${live.terminal.state}, ${server.turnsServed()} turns; screen:\n${screen()}\n${server.summary()}`);
    await new Promise(r => setTimeout(r, 100));
  }
  const ms = Date.now() - t0;
  t.diagnostic(`done after ${ms} ms, detector state ${live.terminal.state}; screen:\n${screen()}`);
  // Codex 0.169 in a trusted folder (approval policy "on-request") runs MCP tools without readOnlyHint
  // without asking; the screen shows each call.
  assert.match(screen(), /Called baton\.agent_init[\s\S]*Called baton\.report_progress[\s\S]*Called baton\.complete_task/);
  assertLoop(t, 'codex', task.id, server, { code: 0, signal: null, stdout: '', stderr: '', ms }, { turns: 4, claimed: false, usage: false, assignee: `codex#${live.record.id}` });
  const exited = new Promise<SessionExit>(resolve => manager.onDidExit(resolve));
  await manager.stop(live.record.id);
  assert.equal((await exited).unfinishedTask, null, 'nothing left unfinished');
});

test('gemini: the interactive TUI Baton starts by default (`gemini -i "<task prompt>"`) asks before Baton\'s first tool; allowed for the session, it runs the loop to DONE', { skip: missing('gemini'), timeout: 90_000 }, async t => {
  const { root, home, workspace } = sandbox(t, 'tui-gemini');
  const task = readyTask('tui-gemini');
  const server = await models(t, 'gemini', sessionScript('gemini', task.id));
  const launch = offline('gemini', home, workspace, server); // the folder trusted, the API-key sign-in chosen
  const tui: AgentProfile = { ...profile('gemini'), command: bin('gemini'), env: { HOME: home, ...launch.profileEnv, ...launch.env } };
  const manager = sessionManager(t, workspace, path.join(root, 'storage'), tui);
  const t0 = Date.now();
  const live = await manager.start({ profileId: 'gemini', taskId: task.id });
  const screen = () => manager.readOutput(live.record.id, 60).join('\n');
  const until = async (what: string, done: () => boolean) => {
    while (!done()) {
      if (Date.now() - t0 > 60_000) throw new Error(`no ${what}: state ${live.terminal.state}, ${server.turnsServed()} turns; screen:\n${screen()}\n${server.summary()}`);
      await new Promise(r => setTimeout(r, 100));
    }
  };
  await until('approval prompt', () => /Allow execution of MCP tool "agent_init" from server "baton"\?[\s\S]*Allow all server tools for this session/.test(screen()));
  t.diagnostic(`approval asked after ${Date.now() - t0} ms; detector state ${live.terminal.state}`);
  assert.equal(owner.services.sessions.list().some(s => s.taskId === task.id), false, 'nothing ran before the person allowed it');
  live.terminal.write('3'); // "Allow all server tools for this session"
  await until('final answer', () => server.turnsServed() === 4 && /The task is complete\./.test(screen()));
  const ms = Date.now() - t0;
  t.diagnostic(`done after ${ms} ms; screen:\n${screen()}`);
  assertLoop(t, 'gemini', task.id, server, { code: 0, signal: null, stdout: '', stderr: '', ms }, { turns: 4, claimed: false, usage: false, assignee: `gemini#${live.record.id}` });
  const exited = new Promise<SessionExit>(resolve => manager.onDidExit(resolve));
  await manager.stop(live.record.id);
  assert.equal((await exited).unfinishedTask, null, 'nothing left unfinished');
});

test('qwen: the interactive TUI Baton starts by default (`qwen -i "<task prompt>"`), with Baton\'s tools allowed in the person\'s settings, runs the loop to DONE', { skip: missing('qwen'), timeout: 90_000 }, async t => {
  const { root, home, workspace } = sandbox(t, 'tui-qwen');
  const task = readyTask('tui-qwen');
  const server = await models(t, 'qwen', sessionScript('qwen', task.id));
  // The person's ~/.qwen/settings.json: the OpenAI-compatible sign-in and Baton's tools allowed (without
  // that, its default "auto" mode asks an LLM classifier, here the scripted server, which cannot answer).
  fs.mkdirSync(path.join(home, '.qwen'));
  fs.writeFileSync(path.join(home, '.qwen', 'settings.json'), JSON.stringify({
    security: { auth: { selectedType: 'openai' } }, model: { name: 'scripted-model' }, permissions: { allow: ['mcp__baton'] },
  }));
  // QWEN_CODE_LEGACY_MCP_BLOCKING=1: Qwen Code 0.24 connects its MCP servers in the background and submits
  // the prompt at once, so on a busy machine its first request can come without Baton's tools; this makes
  // it connect them before the first prompt.
  const tui: AgentProfile = {
    ...profile('qwen'), command: bin('qwen'),
    env: { HOME: home, OPENAI_API_KEY: 'offline-test', OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_MODEL: 'scripted-model', QWEN_CODE_LEGACY_MCP_BLOCKING: '1' },
  };
  const manager = sessionManager(t, workspace, path.join(root, 'storage'), tui);
  const t0 = Date.now();
  const live = await manager.start({ profileId: 'qwen', taskId: task.id });
  const screen = () => manager.readOutput(live.record.id, 60).join('\n');
  while (!(server.turnsServed() === 4 && /The task is complete\.[\s\S]*Type your message or @path\/to\/file/.test(screen()))) {
    if (Date.now() - t0 > 60_000) throw new Error(`state ${live.terminal.state}, ${server.turnsServed()} turns; screen:\n${screen()}\n${server.summary()}`);
    await new Promise(r => setTimeout(r, 100));
  }
  const ms = Date.now() - t0;
  t.diagnostic(`done after ${ms} ms, detector state ${live.terminal.state}`);
  assertLoop(t, 'qwen', task.id, server, { code: 0, signal: null, stdout: '', stderr: '', ms }, { turns: 4, claimed: false, usage: false, assignee: `qwen#${live.record.id}` });
  const exited = new Promise<SessionExit>(resolve => manager.onDidExit(resolve));
  await manager.stop(live.record.id);
  assert.equal((await exited).unfinishedTask, null, 'nothing left unfinished');
});
