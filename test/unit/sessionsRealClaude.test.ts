/*
 * The MCP wiring against the real agent CLIs (installed by `bash scripts/setup-agents.sh` into
 * scripts/agents/node_modules; each test is skipped with a message when its CLI is missing; under CI=true a missing CLI fails). A real
 * Baton owner serves MCP over HTTP on 127.0.0.1; each CLI gets `wireMcp`'s arguments and environment in
 * a temporary HOME (the person's own configuration is never read or touched), with CI=true and no
 * terminal, and must report Baton's server as connected. None of the CLIs can reach its model here, so
 * nothing is asked of a model: the checks are the CLIs' own MCP listings and startup reports, and the
 * MCP sessions Baton's server saw.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { wireMcp } from '../../src/sessions/mcpWiring';
import { BUILTIN_PROFILES, type AgentProfile } from '../../src/sessions/profiles';
import { CLI_ARGS } from './helpers/cli';
import { openTestOwner } from './helpers/owner';
import { requirePresent, skipOutsideCi } from './helpers/required';

const BIN = path.resolve(__dirname, '../../scripts/agents/node_modules/.bin');
const bin = (name: string) => path.join(BIN, name);
const missing = (name: string): string | false =>
  fs.existsSync(bin(name)) ? false : `${path.relative(process.cwd(), bin(name))} is missing: run \`bash scripts/setup-agents.sh\` to test the real ${name} CLI`;

let owner: Awaited<ReturnType<typeof openTestOwner>>;
let url: string;
let token: string;

before(async () => {
  owner = await openTestOwner({ mcp: true });
  url = owner.mcpUrl!;
  token = owner.readToken()!;
});
after(async () => {
  await owner?.cleanup();
});

for (const cli of ['claude', 'gemini', 'qwen', 'codex']) {
  test(`${cli} CLI is installed (required: under CI=true a missing CLI fails instead of skipping its test)`, { skip: skipOutsideCi(missing(cli)) }, () => requirePresent(missing(cli)));
}

const profile = (id: string): AgentProfile => BUILTIN_PROFILES.find(p => p.id === id)!;

/** A fresh temp folder, removed after the test. */
function tmp(t: TestContext, prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A temp HOME, workspace and private session folder. */
function sandbox(t: TestContext, id: string): { home: string; workspace: string; sessionDir: string } {
  const root = tmp(t, `baton-real-${id}-`);
  const home = path.join(root, 'home');
  const workspace = path.join(root, 'workspace');
  const sessionDir = path.join(root, 'session');
  fs.mkdirSync(home);
  fs.mkdirSync(workspace);
  fs.mkdirSync(sessionDir, { mode: 0o700 });
  return { home, workspace, sessionDir };
}

/**
 * An environment that keeps nothing of the person's: PATH, a temp HOME, CI=true (no browser, no
 * prompts), no color; then `extra` (the wiring's variables).
 */
function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: home, USERPROFILE: home, TMPDIR: os.tmpdir(), LANG: 'C.UTF-8',
    CI: 'true', TERM: 'dumb', NO_COLOR: '1', NO_BROWSER: 'true', DISABLE_AUTOUPDATER: '1', ...extra,
  };
}

interface RunResult { code: number | null; stdout: string; stderr: string }

/**
 * Runs a command with no standard input; kills it after `timeoutMs`, as soon as `until(stdout)` holds,
 * or when `stop` is aborted.
 */
function run(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number; until?: (out: string) => boolean; stop?: AbortSignal }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    options.stop?.addEventListener('abort', () => child.kill('SIGTERM'));
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.on('data', d => {
      stdout += d;
      if (options.until?.(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first `{"type":"system","subtype":"init",…}` line of a stream-json output. */
function initEvent(out: string): { mcp_servers: { name: string; status: string }[]; tools: string[] } {
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line);
    if (event.type === 'system' && event.subtype === 'init') return event;
  }
  throw new Error(`no init event in:\n${out.slice(0, 2000)}`);
}

/**
 * Runs `codex exec` with the wired arguments against a dead model provider (it connects its MCP servers at
 * startup, then waits for the network) until Baton's owner sees a new MCP session or `waitMs` passes.
 */
async function codexExecUntilConnected(wiredArgs: string[], env: NodeJS.ProcessEnv, cwd: string, waitMs: number): Promise<{ connected: string[]; ms: number; result: RunResult }> {
  const before = sessionCount();
  const exec = [
    ...wiredArgs, 'exec', '--json', '--skip-git-repo-check',
    '-c', 'model_providers.dead={name="dead",base_url="http://127.0.0.1:9/v1",env_key="DEAD_KEY",wire_api="responses"}',
    '-c', 'model_provider="dead"', '-c', 'model="none"', 'say hi',
  ];
  const stop = new AbortController();
  const child = run(bin('codex'), exec, { env: { ...env, DEAD_KEY: 'none' }, cwd, timeoutMs: waitMs + 15_000, stop: stop.signal });
  const t0 = Date.now();
  while (sessionCount() <= before && Date.now() - t0 < waitMs) await new Promise(r => setTimeout(r, 100));
  const connected = owner.services.sessions.list().slice(0, sessionCount() - before).map(s => s.agentName);
  const ms = Date.now() - t0;
  stop.abort();
  return { connected, ms, result: await child };
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
const sessionCount = () => owner.services.sessions.list().length;

test('claude: `claude mcp list` reports Baton\'s server from the wired --mcp-config file as connected', { skip: missing('claude'), timeout: 120_000 }, async t => {
  const { home, workspace, sessionDir } = sandbox(t, 'claude');
  const wired = wireMcp(profile('claude'), { url, token }, sessionDir, workspace);
  const env = cleanEnv(home, wired.env);
  const version = await run(bin('claude'), ['--version'], { env, cwd: workspace });
  t.diagnostic(`claude ${version.stdout.trim()}; ${wired.description}`);

  // `claude mcp list` takes no --mcp-config (verified: "unknown option", and `claude --mcp-config=… mcp
  // list` ignores it), so the server entry of the very file the wiring wrote goes into the temp HOME's
  // user config, and `mcp list` health-checks it.
  const entry = JSON.parse(fs.readFileSync(wired.files[0], 'utf8')).mcpServers.baton;
  const added = await run(bin('claude'), ['mcp', 'add-json', '--scope', 'user', 'baton', JSON.stringify(entry)], { env, cwd: workspace });
  assert.equal(added.code, 0, added.stderr + added.stdout);
  const list = await run(bin('claude'), ['mcp', 'list'], { env, cwd: workspace });
  t.diagnostic(`claude mcp list:\n${list.stdout.trim()}`);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^baton: ${url.replace(/[./]/g, '\\$&')} \\(HTTP\\) - [✔✓] Connected$`, 'm'));
});

test('claude: started with exactly the wired arguments, it connects to Baton\'s server before anything else', { skip: missing('claude'), timeout: 120_000 }, async t => {
  const { home, workspace, sessionDir } = sandbox(t, 'claude2');
  const wired = wireMcp(profile('claude'), { url, token }, sessionDir, workspace);
  const before = sessionCount();
  // As the session manager builds it: profile args, wiring args, prompt args, prompt. -p with stream-json
  // prints the startup report (MCP servers and their status) before it fails for want of a login.
  const args = ['-p', '--output-format', 'stream-json', '--verbose', ...profile('claude').args, ...wired.args, ...profile('claude').promptArgs!, '-say hi'];
  const r = await run(bin('claude'), args, { env: cleanEnv(home, wired.env), cwd: workspace });
  const init = initEvent(r.stdout);
  t.diagnostic(`claude init: mcp_servers=${JSON.stringify(init.mcp_servers)}; ${init.tools.filter(x => x.startsWith('mcp__baton__')).length} Baton tools`);
  assert.deepEqual(init.mcp_servers.find(s => s.name === 'baton')?.status, 'connected');
  assert.ok(init.tools.includes('mcp__baton__list_tasks'), 'Baton\'s tools are offered to the model');
  assert.ok(sessionCount() > before, 'Baton saw an MCP session');
});

test('gemini: `gemini mcp list` with the wired environment reports Baton\'s server as connected', { skip: missing('gemini'), timeout: 120_000 }, async t => {
  const { home, workspace, sessionDir } = sandbox(t, 'gemini');
  // The person's ~/.gemini (in the temp HOME): a setting of theirs, and this workspace trusted (Gemini CLI
  // connects no MCP server in an untrusted folder; trust is the person's choice, kept in their file).
  const realDir = path.join(home, '.gemini');
  fs.mkdirSync(realDir);
  const userSettings = JSON.stringify({ ui: { hideBanner: true } });
  fs.writeFileSync(path.join(realDir, 'settings.json'), userSettings);
  fs.writeFileSync(path.join(realDir, 'trustedFolders.json'), JSON.stringify({ [workspace]: 'TRUST_FOLDER' }));
  const wired = wireMcp({ ...profile('gemini'), env: { GEMINI_CLI_HOME: home } }, { url, token }, sessionDir, workspace);
  const env = cleanEnv(home, wired.env);
  const version = await run(bin('gemini'), ['--version'], { env, cwd: workspace });
  t.diagnostic(`gemini ${version.stdout.trim()}; ${wired.description}`);
  const list = await run(bin('gemini'), ['mcp', 'list'], { env, cwd: workspace });
  const out = stripAnsi(list.stdout + list.stderr);
  t.diagnostic(`gemini mcp list:\n${out.trim()}`);
  assert.match(out, new RegExp(`[✓✔] baton: ${url.replace(/[./]/g, '\\$&')} \\(http\\) - Connected`));
  assert.equal(fs.readFileSync(path.join(realDir, 'settings.json'), 'utf8'), userSettings, "the person's settings are untouched");
});

test('qwen: started with exactly the wired --mcp-config, it reports Baton\'s server as connected; `qwen mcp list` agrees', { skip: missing('qwen'), timeout: 120_000 }, async t => {
  const { home, workspace, sessionDir } = sandbox(t, 'qwen');
  const wired = wireMcp(profile('qwen'), { url, token }, sessionDir, workspace);
  const env = cleanEnv(home, wired.env);
  const version = await run(bin('qwen'), ['--version'], { env, cwd: workspace });
  t.diagnostic(`qwen ${version.stdout.trim()}; ${wired.description}`);
  // Headless with stream-json prints the startup report first; the model provider is a dead local port.
  const before = sessionCount();
  const args = [...wired.args, '--output-format', 'stream-json', '--auth-type', 'openai', '--openai-api-key', 'none', '--openai-base-url', 'http://127.0.0.1:9/v1', '-m', 'none', 'say hi'];
  const r = await run(bin('qwen'), args, { env, cwd: workspace, until: out => out.includes('"subtype":"init"') && out.split('\n').length > 1 });
  const init = initEvent(r.stdout);
  t.diagnostic(`qwen init: mcp_servers=${JSON.stringify(init.mcp_servers)}`);
  assert.deepEqual(init.mcp_servers.find(s => s.name === 'baton')?.status, 'connected');
  assert.ok(init.tools.includes('mcp__baton__list_tasks'));
  assert.ok(sessionCount() > before, 'Baton saw an MCP session');

  // `qwen mcp list` takes no --mcp-config: list the wired file's entry from the temp HOME's user settings.
  fs.mkdirSync(path.join(home, '.qwen'), { recursive: true });
  fs.copyFileSync(wired.files[0], path.join(home, '.qwen', 'settings.json'));
  const list = await run(bin('qwen'), ['mcp', 'list'], { env, cwd: workspace });
  const out = stripAnsi(list.stdout);
  t.diagnostic(`qwen mcp list:\n${out.trim()}`);
  assert.match(out, new RegExp(`[✓✔] baton: ${url.replace(/[./]/g, '\\$&')} \\(http\\) - Connected`));
});

test('codex: `codex mcp list` with the wired -c overrides shows Baton\'s Streamable HTTP server; codex connects to it', { skip: missing('codex'), timeout: 120_000 }, async t => {
  const { home, workspace, sessionDir } = sandbox(t, 'codex');
  const wired = wireMcp({ ...profile('codex'), env: { CODEX_HOME: path.join(home, '.codex') } }, { url, token }, sessionDir, workspace);
  const env = cleanEnv(home, wired.env);
  const version = await run(bin('codex'), ['--version'], { env, cwd: workspace });
  t.diagnostic(`${version.stdout.trim()}; ${wired.description}`);
  const list = await run(bin('codex'), [...wired.args, 'mcp', 'list', '--json'], { env, cwd: workspace });
  assert.equal(list.code, 0, list.stderr);
  const servers = JSON.parse(list.stdout) as { name: string; enabled: boolean; transport: { type: string; url: string; bearer_token_env_var: string }; auth_status: string }[];
  const baton = servers.find(s => s.name === 'baton');
  t.diagnostic(`codex mcp list --json: ${JSON.stringify(baton)}`);
  assert.ok(baton?.enabled);
  assert.deepEqual({ type: baton.transport.type, url: baton.transport.url, env: baton.transport.bearer_token_env_var, auth: baton.auth_status },
    { type: 'streamable_http', url, env: 'BATON_MCP_TOKEN', auth: 'bearer_token' });

  // `codex mcp list` does not connect; `codex exec` does at startup (the model provider is a dead local
  // port, so it then waits for the network until stopped).
  const started = await codexExecUntilConnected(wired.args, env, workspace, 30_000);
  t.diagnostic(`codex exec connected as ${JSON.stringify(started.connected)} after ${started.ms} ms`);
  assert.ok(started.connected.length > 0, 'codex opened an MCP session with Baton (bearer token from BATON_MCP_TOKEN)');
});

test('codex: wired through `baton mcp --storage` (stdio), it reaches the real state although Codex drops BATON_HOME from a stdio server\'s environment', { skip: missing('codex'), timeout: 120_000 }, async t => {
  const { home, workspace, sessionDir } = sandbox(t, 'codex-stdio');
  const stdioFallback = { command: process.execPath, args: [...CLI_ARGS, 'mcp', '--workspace', workspace, '--storage', owner.storageDir] };
  const wired = wireMcp({ ...profile('codex'), mcpTransport: 'stdio', env: { CODEX_HOME: path.join(home, '.codex') } }, { url, token, stdioFallback }, sessionDir, workspace);
  // BATON_HOME would point at another registry: Codex does not pass it on, and `baton mcp` must not need it.
  const env = cleanEnv(home, { ...wired.env, BATON_HOME: path.join(home, 'elsewhere') });
  const started = await codexExecUntilConnected(wired.args, env, workspace, 45_000);
  t.diagnostic(`${wired.description}; connected after ${started.ms} ms`);
  assert.ok(started.connected.length > 0, `codex reached Baton's state through the stdio proxy\n${started.result.stderr.slice(-2000)}`);
  assert.equal(fs.existsSync(path.join(home, 'elsewhere', 'workspaces')), false, 'no second, empty state');
});
