/*
 * State from the agents' own hooks: the per-session wiring of each built-in profile (files and flags,
 * nothing of the person's touched), `baton hook` over the real loopback receiver (a wrong token refused),
 * a real session whose agent reports through `baton hook`, the state detector's hook/screen rules, and the
 * real Claude Code CLI running its hooks offline.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import {
  CLAUDE_HOOK_EVENTS, GEMINI_HOOK_EVENTS, QWEN_HOOK_EVENTS, HOOK_COMMAND_ENV, HOOK_ENDPOINT_FILE, HOOK_TOKEN_ENV, HookReceiver, newHookToken,
  stateFromHookEvent, wireAgentHooks, type HookEvent, type HookTarget,
} from '../../src/sessions/agentHooks';
import { HookRunner } from '../../src/sessions/hooks';
import { wireMcp } from '../../src/sessions/mcpWiring';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager, type LiveSession } from '../../src/sessions/sessionManager';
import { ManualScheduler, StateDetector } from '../../src/sessions/stateDetector';
import { killTmuxServer, tmuxBinary } from '../../src/sessions/tmux';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { CLI_ARGS } from './helpers/cli';
import { startModelServer } from './helpers/modelServer';
import { openTestOwner } from './helpers/owner';
import { missingBinary, requirePresent, skipOutsideCi } from './helpers/required';

const { parse: parseToml } = require('smol-toml') as typeof SmolToml;
const profile = (id: string): AgentProfile => BUILTIN_PROFILES.find(p => p.id === id)!;
const CLAUDE = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin/claude');
const GEMINI = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin/gemini');
const QWEN = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin/qwen');

function tmp(t: TestContext, prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under `dir` with its content, to show nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[path.join(e.parentPath, e.name)] = fs.readFileSync(path.join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

function target(storageDir: string, token = 'T'.repeat(43)): HookTarget {
  return { command: '/usr/bin/node', args: ['/opt/baton/dist/cli.js'], storageDir, sessionId: 'run-7', token };
}

test('Claude Code: --settings=<session>/claude-hooks.json runs `baton hook <event>` for each event; the token only in the environment', t => {
  const root = tmp(t, 'baton-hooks-claude-');
  const sessionDir = path.join(root, 'session');
  const token = newHookToken();
  const wired = wireAgentHooks(profile('claude'), target(path.join(root, 'storage'), token), sessionDir);
  const file = path.join(sessionDir, 'claude-hooks.json');
  assert.deepEqual(wired.args, [`--settings=${file}`]);
  assert.deepEqual(wired.files, [file]);
  assert.equal(wired.coverage, 'full');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const settings = JSON.parse(fs.readFileSync(file, 'utf8')) as { hooks: Record<string, { hooks: { type: string; command: string; timeout: number }[] }[]> };
  assert.deepEqual(Object.keys(settings.hooks).sort(), [...CLAUDE_HOOK_EVENTS].sort());
  for (const event of CLAUDE_HOOK_EVENTS) {
    const [hook] = settings.hooks[event][0].hooks;
    assert.equal(hook.type, 'command');
    assert.equal(hook.command, `/usr/bin/node /opt/baton/dist/cli.js hook --storage ${path.join(root, 'storage')} --session run-7 ${event}`);
  }
  assert.equal(wired.env[HOOK_TOKEN_ENV], token);
  assert.ok(!fs.readFileSync(file, 'utf8').includes(token), 'the token is not in the file');
  assert.ok(!wired.args.join(' ').includes(token) && !wired.description.includes(token));
});

test("Codex: -c notify=[… 'notify'] (valid TOML); the person's own notify program is chained, their config.toml untouched", t => {
  const root = tmp(t, 'baton-hooks-codex-');
  const codexHome = path.join(root, 'codex');
  fs.mkdirSync(codexHome);
  const plain = wireAgentHooks({ ...profile('codex'), env: { CODEX_HOME: codexHome } }, target(path.join(root, 'storage')), path.join(root, 's1'));
  assert.equal(plain.coverage, 'partial');
  assert.equal(plain.args[0], '-c');
  const notify = parseToml(plain.args[1]).notify as string[];
  assert.deepEqual(notify, ['/usr/bin/node', '/opt/baton/dist/cli.js', 'hook', '--storage', path.join(root, 'storage'), '--session', 'run-7', 'notify']);
  assert.deepEqual(plain.files, []);

  fs.writeFileSync(path.join(codexHome, 'config.toml'), 'model = "o3"\nnotify = ["notify-send", "Codex"]\n');
  const before = snapshot(codexHome);
  const chained = wireAgentHooks({ ...profile('codex'), env: { CODEX_HOME: codexHome } }, target(path.join(root, 'storage')), path.join(root, 's2'));
  const argv = parseToml(chained.args[1]).notify as string[];
  assert.deepEqual(argv.slice(-3), ['--chain', JSON.stringify(['notify-send', 'Codex']), 'notify']);
  assert.deepEqual(snapshot(codexHome), before);
});

test("Gemini CLI: the hooks go into the per-session settings copy after the person's own; ~/.gemini untouched", t => {
  const root = tmp(t, 'baton-hooks-gemini-');
  const realHome = path.join(root, 'home');
  fs.mkdirSync(path.join(realHome, '.gemini'), { recursive: true });
  const theirs = { hooks: { AfterAgent: [{ hooks: [{ type: 'command', command: 'say done' }] }] }, ui: { theme: 'dark' } };
  fs.writeFileSync(path.join(realHome, '.gemini', 'settings.json'), `// mine\n${JSON.stringify(theirs)}`);
  const before = snapshot(realHome);
  const sessionDir = path.join(root, 'session');
  const gemini = { ...profile('gemini'), env: { GEMINI_CLI_HOME: realHome } };
  const mcp = wireMcp(gemini, { url: 'http://127.0.0.1:1/mcp', token: 'x'.repeat(43) }, sessionDir, root);
  const wired = wireAgentHooks(gemini, target(path.join(root, 'storage')), sessionDir, mcp.env.GEMINI_CLI_HOME);
  assert.equal(wired.coverage, 'full');
  const copy = JSON.parse(fs.readFileSync(wired.files[0], 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]>; ui: unknown; mcpServers: unknown };
  assert.ok(wired.files[0].startsWith(sessionDir));
  assert.deepEqual(Object.keys(copy.hooks).sort(), [...GEMINI_HOOK_EVENTS].sort());
  assert.equal(copy.hooks.AfterAgent[0].hooks[0].command, 'say done', "the person's hook stays first");
  assert.match(copy.hooks.AfterAgent[1].hooks[0].command, /hook --storage .* --session run-7 AfterAgent$/);
  assert.deepEqual(copy.ui, { theme: 'dark' });
  assert.ok(copy.mcpServers);
  assert.deepEqual(snapshot(realHome), before);
  // Without the copy (Baton's MCP server off) Gemini CLI is not wired.
  assert.equal(wireAgentHooks(gemini, target(path.join(root, 'storage')), path.join(root, 'other')).coverage, 'none');
});

test("Qwen Code: QWEN_HOME=<session>/qwen-home, a copy of the person's settings plus the hooks, other entries linked; ~/.qwen untouched", t => {
  const root = tmp(t, 'baton-hooks-qwen-');
  const realDir = path.join(root, 'home', '.qwen');
  fs.mkdirSync(realDir, { recursive: true });
  fs.writeFileSync(path.join(realDir, 'settings.json'), JSON.stringify({ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'say stopped' }] }] }, model: { name: 'qwen3' } }));
  fs.writeFileSync(path.join(realDir, 'oauth_creds.json'), '{"secret":1}');
  const before = snapshot(path.join(root, 'home'));
  const sessionDir = path.join(root, 'session');
  const wired = wireAgentHooks({ ...profile('qwen'), env: { QWEN_HOME: realDir } }, target(path.join(root, 'storage')), sessionDir);
  const home = path.join(sessionDir, 'qwen-home');
  assert.equal(wired.coverage, 'full');
  assert.equal(wired.env.QWEN_HOME, home);
  assert.deepEqual(wired.args, []);
  assert.deepEqual(wired.files, [path.join(home, 'settings.json')]);
  const copy = JSON.parse(fs.readFileSync(wired.files[0], 'utf8')) as { hooks: Record<string, { hooks: { command: string; timeout?: number }[] }[]>; model: unknown };
  assert.deepEqual(Object.keys(copy.hooks).sort(), [...QWEN_HOOK_EVENTS].sort());
  assert.equal(copy.hooks.Stop[0].hooks[0].command, 'say stopped');
  assert.match(copy.hooks.Stop[1].hooks[0].command, /hook --storage .* --session run-7 Stop$/);
  assert.deepEqual(copy.model, { name: 'qwen3' });
  assert.equal(fs.readlinkSync(path.join(home, 'oauth_creds.json')), path.join(realDir, 'oauth_creds.json'));
  assert.deepEqual(snapshot(path.join(root, 'home')), before);
});

test('Aider and the shell get no flags: the hook command and token in the environment only', t => {
  const root = tmp(t, 'baton-hooks-other-');
  for (const id of ['aider', 'shell']) {
    const wired = wireAgentHooks(profile(id), target(path.join(root, 'storage')), path.join(root, id));
    assert.deepEqual(wired.args, [], id);
    assert.deepEqual(wired.files, [], id);
    assert.equal(wired.coverage, 'none', id);
    assert.deepEqual(JSON.parse(wired.env[HOOK_COMMAND_ENV]), ['/usr/bin/node', '/opt/baton/dist/cli.js', 'hook', '--storage', path.join(root, 'storage'), '--session', 'run-7']);
  }
});

test('events map to states: approval, input, working, idle, done; unrelated notifications change nothing', () => {
  const cases: [string, unknown, ReturnType<typeof stateFromHookEvent>][] = [
    ['Notification', { hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' }, { state: 'waiting', detail: 'approval' }],
    ['PermissionRequest', { hook_event_name: 'PermissionRequest', tool_name: 'Bash' }, { state: 'waiting', detail: 'approval' }],
    ['Notification', { notification_type: 'idle_prompt', message: 'Claude is waiting for your input' }, { state: 'waiting', detail: 'input' }],
    ['Notification', { notification_type: 'auth_success' }, null],
    ['Notification', { hook_event_name: 'Notification', notification_type: 'ToolPermission' }, { state: 'waiting', detail: 'approval' }],
    ['UserPromptSubmit', { hook_event_name: 'UserPromptSubmit', prompt: 'go' }, { state: 'working', detail: null }],
    ['PreToolUse', {}, { state: 'working', detail: null }],
    ['BeforeTool', null, { state: 'working', detail: null }],
    ['Stop', { hook_event_name: 'Stop' }, { state: 'idle', detail: null }],
    ['AfterAgent', {}, { state: 'idle', detail: null }],
    ['SessionEnd', { reason: 'exit' }, { state: 'idle', detail: 'done' }],
    ['notify', { type: 'agent-turn-complete', 'turn-id': '1', 'last-assistant-message': 'Done.' }, { state: 'idle', detail: null }],
    ['SubagentStop', {}, null],
  ];
  for (const [event, payload, expected] of cases) assert.deepEqual(stateFromHookEvent(event, payload), expected, `${event} ${JSON.stringify(payload)}`);
});

test('detector: a hook state holds against the screen while fresh; Codex-style (untilOutput) yields to new output', () => {
  const clock = new ManualScheduler();
  let line = '';
  const d = new StateDetector({ lastLine: () => line }, { scheduler: clock, quietMs: 100, idleAfterMs: 1000 });
  d.feed('thinking…\n');
  assert.equal(d.state, 'working');
  assert.equal(d.source, 'screen');
  d.fromHook('waiting', 'approval', 5000);
  assert.deepEqual([d.state, d.source, d.detail], ['waiting', 'hooks', 'approval']);
  line = 'still drawing';
  d.feed('spinner frame\n');
  clock.advance(2000);
  assert.deepEqual([d.state, d.source], ['waiting', 'hooks'], 'the screen is ignored while the hook event is fresh');
  clock.advance(4000);
  d.feed('more output\n');
  assert.deepEqual([d.state, d.source, d.detail], ['working', 'screen', null], 'after holdMs the screen decides again');
  d.fromHook('idle', null, 60_000, true);
  clock.advance(10_000);
  assert.deepEqual([d.state, d.source], ['idle', 'hooks']);
  d.feed('the person typed a new prompt; output again\n');
  assert.deepEqual([d.state, d.source], ['working', 'screen']);
  d.exit(0);
  d.fromHook('working', null, 1000);
  assert.equal(d.state, 'exited');
});

// ---- over the real path: the loopback receiver, `baton hook` from source, a live session ----

let owner: Awaited<ReturnType<typeof openTestOwner>>;
let workspace: string;
let manager: SessionManager;
const agentHome = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-hooks-home-'));
const reporting: AgentProfile = {
  id: 'reporting', label: 'Reporting agent', command: process.execPath, args: [path.resolve(__dirname, 'fixtures/hook-reporting-agent.js')], prompt: 'none', mcp: 'env-only',
};
const offlineClaude: AgentProfile = {
  ...profile('claude'), id: 'claude-offline', command: CLAUDE, args: ['-p', 'say hello'],
  env: { HOME: agentHome, ANTHROPIC_API_KEY: 'sk-ant-offline-test', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', CI: 'true', DISABLE_AUTOUPDATER: '1' },
};

const qwenDir = path.join(agentHome, 'qwen');
fs.mkdirSync(qwenDir);
fs.writeFileSync(path.join(qwenDir, 'settings.json'), JSON.stringify({ security: { auth: { selectedType: 'openai' } } }));
const offlineQwen: AgentProfile = {
  ...profile('qwen'), id: 'qwen-offline', command: QWEN, args: ['-p', 'say hello'],
  env: { HOME: agentHome, QWEN_HOME: qwenDir, OPENAI_API_KEY: 'sk-offline-test', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_MODEL: 'offline', CI: 'true' },
};

const geminiHome = path.join(agentHome, 'gemini');
fs.mkdirSync(path.join(geminiHome, '.gemini'), { recursive: true });
fs.writeFileSync(path.join(geminiHome, '.gemini', 'settings.json'), JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }));
const offlineGemini: AgentProfile = {
  ...profile('gemini'), id: 'gemini-offline', command: GEMINI, args: ['-p', 'say hello'],
  env: { HOME: agentHome, GEMINI_CLI_HOME: geminiHome, GEMINI_API_KEY: 'offline-test', GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:9', GEMINI_CLI_TRUST_WORKSPACE: 'true', CI: 'true' },
};

before(async () => {
  owner = await openTestOwner({ mcp: true });
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-hooks-ws-'));
  const pty = loadNodePty();
  manager = new SessionManager({
    workspaceDir: workspace, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [...BUILTIN_PROFILES, reporting, offlineClaude, offlineQwen, offlineGemini],
    settings: () => ({ bufferBytes: 256 * 1024, useTmux: false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 3, cols: 100, rows: 30 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => ({ url: owner.mcpUrl!, token: owner.readToken()! }),
    hookCommand: { command: process.execPath, args: CLI_ARGS },
    pty: () => ('error' in pty ? pty.error : pty.pty),
    log: () => undefined,
  });
});
after(async () => {
  await manager.shutdown();
  manager.dispose();
  await owner.cleanup();
  fs.rmSync(workspace, { recursive: true, force: true });
  fs.rmSync(agentHome, { recursive: true, force: true });
});

async function until(what: string, fn: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

const stateOf = (s: LiveSession) => [s.terminal.state, s.terminal.stateSource, s.terminal.stateDetail];

/** Runs `baton sessions --storage <owner's> …` from source; resolves to its stdout. */
function batonSessions(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, 'sessions', '--storage', owner.storageDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', c => (out += c));
    child.stderr.on('data', c => (err += c));
    child.on('close', code => (code === 0 ? resolve(out) : reject(new Error(`baton sessions exited ${code}: ${err}`))));
  });
}

/** Runs `baton hook` from source with `env`; resolves to its exit code and stderr. */
function batonHook(args: string[], env: Record<string, string>, stdin: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [...CLI_ARGS, 'hook', ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', c => (stderr += c));
    child.on('close', code => resolve({ code, stderr }));
    child.stdin.end(stdin);
  });
}

test('a session whose agent reports through `baton hook`: waiting for approval, working, idle — from hooks, not the screen', async () => {
  const s = await manager.start({ profileId: 'reporting' });
  assert.equal(s.hookCoverage, 'none', 'env-only: the agent reports itself');
  await until('waiting for approval', () => s.terminal.stateDetail === 'approval');
  assert.deepEqual(stateOf(s), ['waiting', 'hooks', 'approval']);
  await until('the output after the event', () => s.terminal.readText().includes('working on it'));
  await new Promise(r => setTimeout(r, 2000));
  assert.deepEqual(stateOf(s), ['waiting', 'hooks', 'approval'], 'output the screen would call working does not override the hook');
  assert.match(s.terminal.readText(), /\[hook Notification exit 0\]/);
  s.terminal.write('yes\r');
  await until('idle from the Stop hook', () => s.terminal.state === 'idle' && s.terminal.stateSource === 'hooks');
  await until('the agent to go on after its hook', () => s.terminal.readText().includes('still writing output'));
  await new Promise(r => setTimeout(r, 2000));
  assert.match(s.terminal.readText(), /\[hook PreToolUse exit 0\][\s\S]*\[hook Stop exit 0\]/);
  assert.deepEqual(stateOf(s), ['idle', 'hooks', null]);
  assert.equal(s.record.state, 'idle', 'the record follows');
  const listed = await batonSessions(['--json']);
  const mine = (JSON.parse(listed) as { id: string; state: string; source: string; detail: string | null; hooks: string }[]).find(x => x.id === s.record.id);
  assert.deepEqual(mine && [mine.state, mine.source, mine.detail, mine.hooks], ['idle', 'hooks', null, 'none'], '`baton sessions --json` says the hooks decided');
  assert.match(await batonSessions([]), new RegExp(`${s.record.id}\\s+idle\\s+from hooks`));
  s.terminal.write('bye\r');
});

test('`baton hook` with a wrong or missing token is refused and changes nothing', async () => {
  const s = await manager.start({ profileId: 'shell' });
  await until('the shell to settle', () => s.terminal.state === 'waiting' || s.terminal.state === 'idle', 15_000);
  const before = stateOf(s);
  const args = ['--storage', owner.storageDir, '--session', s.record.id, 'Notification'];
  const payload = JSON.stringify({ hook_event_name: 'Notification', notification_type: 'permission_prompt' });
  const wrong = await batonHook(args, { [HOOK_TOKEN_ENV]: newHookToken() }, payload);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused the hook event \(401\)/);
  const missing = await batonHook(args, { [HOOK_TOKEN_ENV]: '' }, payload);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /BATON_HOOK_TOKEN is not set/);
  // Another session's token does not work for this one.
  const other = await manager.start({ profileId: 'shell' });
  const otherToken = fs.readFileSync(path.join(owner.storageDir, 'sessions', other.record.id, 'hook-token'), 'utf8');
  assert.equal((await batonHook(args, { [HOOK_TOKEN_ENV]: otherToken }, payload)).code, 1);
  assert.deepEqual(stateOf(s), before);
  assert.equal(s.terminal.stateSource, 'screen');
  // The endpoint file is private, and a browser (Origin header) is refused even with the right token.
  const endpoint = path.join(owner.storageDir, HOOK_ENDPOINT_FILE);
  assert.equal(fs.statSync(endpoint).mode & 0o777, 0o600);
  const { url } = JSON.parse(fs.readFileSync(endpoint, 'utf8')) as { url: string };
  const token = fs.readFileSync(path.join(owner.storageDir, 'sessions', s.record.id, 'hook-token'), 'utf8');
  const browser = await fetch(`${url}/hook/${s.record.id}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, Origin: 'https://evil.example' }, body: '{"event":"Stop"}' });
  assert.equal(browser.status, 403);
  // With its own token the event is accepted.
  const ok = await batonHook(args, { [HOOK_TOKEN_ENV]: token }, payload);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(stateOf(s), ['waiting', 'hooks', 'approval']);
  await manager.stop(s.record.id);
  await manager.stop(other.record.id);
});

test('HookReceiver: unknown sessions and bad bodies are refused', async t => {
  const dir = tmp(t, 'baton-hook-receiver-');
  const seen: HookEvent[] = [];
  const receiver = new HookReceiver(dir, e => (seen.push(e), { state: 'idle', source: 'hooks' }));
  const url = await receiver.start();
  t.after(() => receiver.stop());
  receiver.register('run-1', 'secret-token-of-run-1');
  const post = (session: string, body: string, token = 'secret-token-of-run-1') =>
    fetch(`${url}/hook/${session}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body });
  assert.equal((await post('run-2', '{"event":"Stop"}')).status, 401);
  assert.equal((await post('run-1', 'not json')).status, 400);
  assert.equal((await post('run-1', '{"event":"bad name!"}')).status, 400);
  assert.equal((await post('run-1', '{"event":"Stop","payload":{"a":1}}')).status, 200);
  assert.deepEqual(seen, [{ sessionId: 'run-1', event: 'Stop', payload: { a: 1 } }]);
  receiver.unregister('run-1');
  assert.equal((await post('run-1', '{"event":"Stop"}')).status, 401);
});

const noClaude = missingBinary(CLAUDE, 'run `bash scripts/setup-agents.sh` to test the real Claude Code CLI');
test('real Claude Code: its SessionStart and UserPromptSubmit hooks run offline and set the session state from hooks', { skip: skipOutsideCi(noClaude), timeout: 120_000 }, async () => {
  requirePresent(noClaude);
  const s = await manager.start({ profileId: 'claude-offline', taskId: null });
  assert.equal(s.hookCoverage, 'full');
  const settings = path.join(owner.storageDir, 'sessions', s.record.id, 'claude-hooks.json');
  assert.ok(fs.existsSync(settings));
  await until('working from the UserPromptSubmit hook (no model reachable)', () => s.terminal.stateSource === 'hooks' && s.terminal.state === 'working', 90_000);
  assert.deepEqual(stateOf(s), ['working', 'hooks', null]);
  await manager.stop(s.record.id);
});

const noQwen = missingBinary(QWEN, 'run `bash scripts/setup-agents.sh` to test the real Qwen Code CLI');
test('real Qwen Code: its hooks (through QWEN_HOME) run offline and set the session state from hooks', { skip: skipOutsideCi(noQwen), timeout: 120_000 }, async () => {
  requirePresent(noQwen);
  const seen: string[] = [];
  const sub = manager.onDidChangeState(e => {
    if (e.session.profile.id === 'qwen-offline') seen.push(`${e.state}/${e.session.terminal.stateSource}`);
  });
  try {
    const s = await manager.start({ profileId: 'qwen-offline', taskId: null });
    assert.equal(s.hookCoverage, 'full');
    await until('working from the UserPromptSubmit hook (no model reachable)', () => seen.includes('working/hooks'), 90_000);
    assert.deepEqual(fs.readdirSync(qwenDir).sort(), ['settings.json'], "the person's (here: the test's) ~/.qwen gets no new settings");
    if (manager.list().some(x => x.record.id === s.record.id)) await manager.stop(s.record.id);
  } finally {
    sub.dispose();
  }
});
const noGemini = missingBinary(GEMINI, 'run `bash scripts/setup-agents.sh` to test the real Gemini CLI');
test('real Gemini CLI: its hooks (in the per-session settings copy) run offline and set the session state from hooks', { skip: skipOutsideCi(noGemini), timeout: 120_000 }, async () => {
  requirePresent(noGemini);
  const seen: string[] = [];
  const sub = manager.onDidChangeState(e => {
    if (e.session.profile.id === 'gemini-offline') seen.push(`${e.state}/${e.session.terminal.stateSource}`);
  });
  try {
    const s = await manager.start({ profileId: 'gemini-offline', taskId: null });
    assert.equal(s.hookCoverage, 'full');
    await until('working from the BeforeAgent hook (no model reachable)', () => seen.includes('working/hooks'), 90_000);
    assert.equal(fs.readFileSync(path.join(geminiHome, '.gemini', 'settings.json'), 'utf8'), JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }), "the person's (here: the test's) settings unchanged");
    if (manager.list().some(x => x.record.id === s.record.id)) await manager.stop(s.record.id);
  } finally {
    sub.dispose();
  }
});

const tmuxVersion = spawnSync(tmuxBinary(), ['-V'], { encoding: 'utf8' });
const noTmux = tmuxVersion.status === 0 && /(\d+)\./.exec(tmuxVersion.stdout) && Number(/(\d+)\./.exec(tmuxVersion.stdout)![1]) >= 3 ? false : 'tmux 3.0 or later is not installed';
test('tmux: after a window reload the reattached session reports through its hooks again (same token, the new receiver)', { skip: skipOutsideCi(noTmux), timeout: 90_000 }, async t => {
  requirePresent(noTmux);
  const socket = `baton-hooks-test-${process.pid}`;
  const pty = loadNodePty();
  const make = () => new SessionManager({
    workspaceDir: workspace, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [reporting],
    settings: () => ({ bufferBytes: 65536, useTmux: true, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 3, cols: 100, rows: 30 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => ({ url: owner.mcpUrl!, token: owner.readToken()! }),
    hookCommand: { command: process.execPath, args: CLI_ARGS }, tmuxSocket: socket,
    pty: () => ('error' in pty ? pty.error : pty.pty), log: () => undefined,
  });
  t.after(() => killTmuxServer(socket));
  const first = make();
  const s = await first.start({ profileId: 'reporting' });
  assert.ok(s.terminal.tmuxSession);
  await until('waiting for approval', () => s.terminal.stateDetail === 'approval');
  await first.shutdown();
  first.dispose();
  assert.ok(!fs.existsSync(path.join(owner.storageDir, HOOK_ENDPOINT_FILE)), 'the receiver went with the window');
  const closed = await batonHook(['--storage', owner.storageDir, '--session', s.record.id, 'Stop'], { [HOOK_TOKEN_ENV]: newHookToken() }, '{}');
  assert.equal(closed.code, 0, 'no window to tell does not fail the agent\'s hook');
  assert.match(closed.stderr, /No Baton hook receiver runs/);

  const second = make();
  t.after(async () => {
    await second.shutdown();
    second.dispose();
  });
  const [again] = await second.restore();
  assert.equal(again.record.id, s.record.id);
  again.terminal.write('yes\r');
  await until('idle from the Stop hook after the reload', () => again.terminal.state === 'idle' && again.terminal.stateSource === 'hooks');
  await until('the hook output', () => again.terminal.readText().includes('[hook Stop exit 0]'));
  again.terminal.write('bye\r');
});

test('real Claude Code TUI against a scripted model: its permission dialog is "waiting for approval" from hooks, its finished turn "idle" from hooks', { skip: skipOutsideCi(noClaude), timeout: 120_000 }, async t => {
  requirePresent(noClaude);
  const home = tmp(t, 'baton-hooks-claude-tui-');
  const server = await startModelServer([{ tools: [{ tool: 'Bash', args: { command: 'touch hooks-test.txt', description: 'Create a file' } }] }, { text: 'Finished.' }]);
  t.after(() => server.close());
  const key = 'sk-ant-offline-test-0123456789abcdef';
  fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify({
    hasCompletedOnboarding: true, theme: 'dark', customApiKeyResponses: { approved: [key.slice(-20)], rejected: [] },
    projects: { [fs.realpathSync(workspace)]: { hasTrustDialogAccepted: true, allowedTools: [] }, [workspace]: { hasTrustDialogAccepted: true, allowedTools: [] } },
  }));
  const tui: AgentProfile = {
    ...profile('claude'), id: 'claude-tui', command: CLAUDE, args: ['--permission-mode', 'default'],
    env: { HOME: home, DISABLE_AUTOUPDATER: '1', ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: key, ENABLE_TOOL_SEARCH: 'false' },
  };
  const pty = loadNodePty();
  const logs: string[] = [];
  const tuiManager = new SessionManager({
    workspaceDir: workspace, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [tui],
    settings: () => ({ bufferBytes: 256 * 1024, useTmux: false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 1, cols: 160, rows: 50 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => null, hookCommand: { command: process.execPath, args: CLI_ARGS },
    pty: () => ('error' in pty ? pty.error : pty.pty), log: (_level, message) => logs.push(message),
  });
  t.after(async () => {
    await tuiManager.shutdown();
    tuiManager.dispose();
  });
  // On a task, so the prompt goes last (after `--`, behind the wired --settings).
  const task = owner.plan.createTask({ title: 'Print a word with Bash' }, { kind: 'user', name: 'ada' });
  const s = await tuiManager.start({ profileId: 'claude-tui', taskId: task.id });
  const screen = () => tuiManager.readOutput(s.record.id, 40).join('\n');
  try {
    await until('the permission dialog, from hooks', () => s.terminal.stateDetail === 'approval' && s.terminal.stateSource === 'hooks', 60_000);
    s.terminal.write('\r');
    await until('the finished turn, idle from the Stop hook', () => s.terminal.state === 'idle' && s.terminal.stateSource === 'hooks' && /Finished\./.test(screen()), 60_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; state ${stateOf(s).join('/')}; log:\n${logs.join('\n')}\nscreen:\n${screen()}\n${server.summary()}`);
  }
  assert.ok(fs.existsSync(path.join(workspace, 'hooks-test.txt')), 'the approved command ran');
});
