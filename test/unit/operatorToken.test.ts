import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { HookRunner } from '../../src/sessions/hooks';
import type { AgentProfile, McpStyle } from '../../src/sessions/profiles';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { SessionManager, type SessionExit } from '../../src/sessions/sessionManager';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { connectAgent, type ScriptedAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

// Item 1 of issue 7: no agent can act as the person. The agents' token (the one `baton serve` prints and
// every launched session gets) never reaches an operator tool, whatever the client asks for; only the
// operator token (a separate 0600 file no session is given) does.

const repo = path.resolve(__dirname, '../..');
const cliArgs = ['--import', 'tsx', path.join(repo, 'src/cli/main.ts')];
/** The person's tools: none of them may be listed or callable with the agents' token. */
const OPERATOR_TOOLS = ['answer_request', 'reject_request', 'approve', 'pause_task', 'intervene', 'list_inbox', 'list_activity', 'autopilot', 'hand_over', 'land_task', 'get_task_diff'];
const PLAN = `# Plan

### Sprint 1: Core

#### T1: Set up the database
Pick it.

#### T2: Write the API
Expose it.
`;

let home: string;
let workspace: string;
let serve: ChildProcess;
let serveOut = '';
let url: string;
let agentsTokenFile: string;
let agentsToken: string;
let operatorToken: string;
const clients: ScriptedAgent[] = [];

async function client(token: string, name: string, headers: Record<string, string> = {}): Promise<ScriptedAgent> {
  const c = await connectAgent(url, token, name, headers);
  clients.push(c);
  return c;
}

/**
 * What any agent could do before: initialize with the agents' token asking for the operator tier, then
 * call `tool`. Returns the tool's answer as JSON, or the error's message.
 */
async function escalate(tool: string, args: object): Promise<string> {
  try {
    const c = await client(agentsToken, 'escalating-agent', { 'X-Baton-Tools': 'operator' });
    return JSON.stringify(await c.call(tool, args));
  } catch (error) {
    return (error as Error).message;
  }
}
const REFUSED = /Forbidden: X-Baton-Tools: operator needs the operator token/;

/** A raw JSON-RPC POST to the endpoint: status, body and the session id it answered with. */
async function post(token: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; sessionId: string | null }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), sessionId: res.headers.get('mcp-session-id') };
}

const initialize = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name, version: '1' } } });

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-home-'));
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-ws-'));
  fs.writeFileSync(path.join(workspace, 'PLAN.md'), PLAN);
  const env = { ...process.env, BATON_HOME: home };
  serve = spawn(process.execPath, [...cliArgs, 'serve', '--tools', 'full', '--workspace', workspace], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  serve.stderr!.on('data', d => (err += d));
  serve.stdout!.on('data', d => (serveOut += d));
  ({ url, tokenFile: agentsTokenFile } = await new Promise<{ url: string; tokenFile: string }>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /Baton MCP server: (\S+)\nBearer token in: (.+)\n/.exec(serveOut);
      if (m) { clearInterval(timer); resolve({ url: m[1], tokenFile: m[2].trim() }); }
    }, 50);
    serve.once('exit', code => { clearInterval(timer); reject(new Error(`serve exited with ${code}: ${err}`)); });
  }));
  agentsToken = fs.readFileSync(agentsTokenFile, 'utf8').trim();
  const endpoint = JSON.parse(fs.readFileSync(path.join(path.dirname(agentsTokenFile), 'mcp-endpoint.json'), 'utf8'));
  assert.equal(endpoint.tokenFile, agentsTokenFile, 'serve prints the agents\' token file');
  assert.ok(endpoint.operatorTokenFile, 'the endpoint names the operator token file');
  operatorToken = fs.readFileSync(endpoint.operatorTokenFile, 'utf8').trim();
  assert.equal(fs.statSync(endpoint.operatorTokenFile).mode & 0o777, 0o600, 'the operator token file is readable by the user only');
  assert.notEqual(operatorToken, agentsToken);
  assert.ok(operatorToken.length >= 32);
  const op = await client(operatorToken, 'test-operator');
  assert.equal((await op.call('import_plan', { source: 'PLAN.md', content: PLAN })).tasks.created, 2);
});

after(async () => {
  await Promise.all(clients.map(c => c.close().catch(() => undefined)));
  if (serve.exitCode === null && serve.signalCode === null) {
    const exited = new Promise(r => serve.once('exit', r));
    serve.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(workspace, { recursive: true, force: true });
});

test('the agents\' token with X-Baton-Tools: operator is refused with 403 naming why; no operator tool is listed or callable', async () => {
  await assert.rejects(client(agentsToken, 'sneaky', { 'X-Baton-Tools': 'operator' }), /Forbidden: X-Baton-Tools: operator needs the operator token/);
  const raw = await post(agentsToken, initialize('sneaky-raw'), { 'X-Baton-Tools': 'operator' });
  assert.equal(raw.status, 403);
  assert.match(JSON.parse(raw.text).error.message, /X-Baton-Tools: operator needs the operator token/);

  // Without the header (or asking for the tier it has) the agent gets the tier Baton grants (full here).
  for (const headers of [{}, { 'X-Baton-Tools': 'full' }] as Record<string, string>[]) {
    const agent = await client(agentsToken, 'agent', headers);
    const names = (await agent.listTools()).tools.map(t => t.name);
    assert.ok(names.includes('add_note') && names.includes('claim_next_task'), `full tier: ${names.join(', ')}`);
    assert.deepEqual(names.filter(n => OPERATOR_TOOLS.includes(n)), [], 'no operator tool is listed');
    for (const tool of OPERATOR_TOOLS) await assert.rejects(agent.call(tool, {}), /not found|Unknown tool/i, `${tool} is not callable`);
  }
});

test('an agent cannot approve its own ask_human request nor ship its own task', async () => {
  const agent = await client(agentsToken, 'self-approver');
  await agent.call('agent_init', { agent: 'self-approver' });
  const taskId: string = (await agent.call('claim_next_task')).task.id;
  const asked = await agent.call('ask_human', { question: 'May I delete prod?', kind: 'approval', wait_seconds: 0 });
  assert.equal(asked.status, 'open');
  await assert.rejects(agent.call('approve', { id: asked.request_id }), /not found|Unknown tool/i);
  await assert.rejects(agent.call('answer_request', { request_id: asked.request_id, answer: 'yes' }), /not found|Unknown tool/i);
  assert.match(await escalate('approve', { id: asked.request_id }), REFUSED);
  assert.equal((await agent.call('report_progress', { tests_passed: true })).status, 'IN_REVIEW');
  await assert.rejects(agent.call('approve', { id: taskId }), /not found|Unknown tool/i);
  assert.match(await escalate('approve', { id: taskId }), REFUSED);

  const op = await client(operatorToken, 'test-operator');
  const open = (await op.call('list_inbox')).requests.find((r: { id: string }) => r.id === asked.request_id);
  assert.equal(open.status, 'open', 'the request is still waiting for the person');
  assert.equal((await agent.call('get_task', { task_id: taskId })).status, 'IN_REVIEW', 'the task was not shipped');
  assert.equal((await agent.call('get_human_answer', { request_id: asked.request_id })).status, 'open');
});

test('an agent cannot call hand_over: baton serve keeps running and serving', async () => {
  const agent = await client(agentsToken, 'usurper');
  await assert.rejects(agent.call('hand_over', { to: 'vscode' }), /not found|Unknown tool/i);
  assert.match(await escalate('hand_over', { to: 'vscode' }), REFUSED);
  const hijack = await post(agentsToken, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'hand_over', arguments: {} } }, { 'X-Baton-Tools': 'operator' });
  assert.equal(hijack.status, 400, 'a tools/call without a session is no way in either');
  await new Promise(r => setTimeout(r, 500));
  assert.equal(serve.exitCode, null, 'serve did not exit');
  assert.doesNotMatch(serveOut, /took over/);
  assert.equal((await agent.call('list_tasks')).tasks.length, 2);
});

test('a session opened with the operator token does not answer the agents\' token', async () => {
  const opened = await post(operatorToken, initialize('person'));
  assert.equal(opened.status, 200);
  assert.ok(opened.sessionId);
  const stolen = await post(agentsToken, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'Mcp-Session-Id': opened.sessionId });
  assert.equal(stolen.status, 403);
  assert.match(JSON.parse(stolen.text).error.message, /opened with another token/);
});

test('the operator token gets the person\'s tools: answers, approves to ship, and an agent may ask for less, never more', async () => {
  const op = await client(operatorToken, 'test-operator');
  const names = (await op.listTools()).tools.map(t => t.name);
  for (const tool of OPERATOR_TOOLS) assert.ok(names.includes(tool), `${tool} is listed for the operator`);
  const { requests } = await op.call('list_inbox');
  const open = requests.find((r: { status: string }) => r.status === 'open');
  assert.equal((await op.call('approve', { id: open.id, feedback: 'no' })).status, 'approved');
  const inReview = (await op.call('list_tasks', { status: ['IN_REVIEW'] })).tasks[0];
  assert.equal((await op.call('approve', { id: inReview.id })).status, 'DONE');

  const lowered = await client(agentsToken, 'frugal', { 'X-Baton-Tools': 'core' });
  const coreNames = (await lowered.listTools()).tools.map(t => t.name);
  assert.ok(!coreNames.includes('add_note') && coreNames.includes('claim_next_task'), 'an agent may ask for a lower tier');
});

test('with baton.mcp.toolTier core, X-Baton-Tools: full is refused; the owner refuses operator as the agents\' tier', async () => {
  const owner = await openTestOwner({ mcp: true, tier: 'core' });
  try {
    const token = owner.readToken()!;
    await assert.rejects(connectAgent(owner.mcpUrl!, token, 'greedy', { 'X-Baton-Tools': 'full' }), /Forbidden: X-Baton-Tools: full is above the \\"core\\" tier/);
    const agent = await connectAgent(owner.mcpUrl!, token, 'modest');
    assert.ok(!(await agent.listTools()).tools.some(t => t.name === 'add_note'), 'core tier');
    await agent.close();
    owner.setAgentTier('full');
    const later = await connectAgent(owner.mcpUrl!, token, 'later', { 'X-Baton-Tools': 'full' });
    assert.ok((await later.listTools()).tools.some(t => t.name === 'add_note'), 'the new setting applies to new sessions');
    await later.close();
    assert.throws(() => owner.setAgentTier('operator' as never), /must be core or full/);
  } finally {
    await owner.cleanup();
  }
  await assert.rejects(openTestOwner({ mcp: true, tier: 'operator' as never }), /tool tier must be core or full, got "operator"/);
});

test('launched sessions get the agents\' token only: no operator token in their environment, arguments or files', async () => {
  const owner = await openTestOwner({ mcp: true, tier: 'core' });
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-launch-ws-'));
  const pty = loadNodePty();
  const styles: McpStyle[] = ['claude', 'qwen', 'gemini', 'codex', 'env-only'];
  const profiles: AgentProfile[] = styles.map(mcp => ({
    id: `dump-${mcp}`, label: `Dump (${mcp})`, command: process.execPath, args: [path.resolve(__dirname, 'fixtures/dump-launch.js')], prompt: 'none', mcp,
    env: { BATON_TEST_DUMP: path.join(ws, `${mcp}.json`) },
  }));
  const manager = new SessionManager({
    workspaceDir: ws, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db), profiles: () => profiles,
    settings: () => ({ bufferBytes: 64 * 1024, useTmux: false, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 8, cols: 80, rows: 24 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => owner.agentEndpoint(),
    pty: () => ('error' in pty ? pty.error : pty.pty),
    log: () => undefined,
  });
  try {
    const endpoint = JSON.parse(fs.readFileSync(path.join(owner.storageDir, 'mcp-endpoint.json'), 'utf8'));
    const operator = fs.readFileSync(endpoint.operatorTokenFile, 'utf8').trim();
    const agents = owner.readToken()!;
    for (const profile of profiles) {
      const exited = new Promise<SessionExit>(resolve => {
        const sub = manager.onDidExit(e => { if (e.session.profile === profile.id) { sub.dispose(); resolve(e); } });
      });
      const session = await manager.start({ profileId: profile.id });
      assert.equal((await exited).exitCode, 0);
      const launch = fs.readFileSync(profile.env!.BATON_TEST_DUMP, 'utf8');
      const sessionDir = path.join(owner.storageDir, 'sessions', session.record.id);
      const files = listFiles(sessionDir).map(f => fs.readFileSync(f, 'utf8'));
      const everything = [launch, ...files].join('\n');
      assert.ok(everything.includes(agents), `${profile.id} is wired with the agents' token`);
      assert.ok(!everything.includes(operator), `${profile.id}'s environment, arguments or files hold the operator token`);
      // What the session holds cannot be raised to the person's tier.
      const { env } = JSON.parse(launch) as { env: Record<string, string> };
      const token = env.BATON_MCP_TOKEN ?? agents;
      assert.equal(token, agents);
      await assert.rejects(connectAgent(owner.mcpUrl!, token, profile.id, { 'X-Baton-Tools': 'operator' }), /Forbidden: X-Baton-Tools: operator/);
    }
  } finally {
    await manager.shutdown();
    manager.dispose();
    await owner.cleanup();
    fs.rmSync(ws, { recursive: true, force: true });
  }
});

/** Regular files under `dir`, not following symbolic links (Gemini's home links to the person's real files). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

test('a changed baton.mcp.toolTier reaches agent sessions already open (tools/list_changed), never above the setting nor below what one asked for', async () => {
  const owner = await openTestOwner({ mcp: true, tier: 'core' });
  try {
    const token = owner.readToken()!;
    const live = await connectAgent(owner.mcpUrl!, token, 'live');
    const frugal = await connectAgent(owner.mcpUrl!, token, 'frugal', { 'X-Baton-Tools': 'core' });
    let told = 0;
    const { ToolListChangedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    live.setNotificationHandler(ToolListChangedNotificationSchema, () => { told++; });
    await live.listTools(); // opens nothing by itself; the notification comes on the SDK's GET stream
    assert.ok(!(await live.listTools()).tools.some(t => t.name === 'add_note'));
    owner.setAgentTier('full');
    assert.ok((await live.listTools()).tools.some(t => t.name === 'add_note'), 'the open session now has the full tier');
    assert.ok(!(await frugal.listTools()).tools.some(t => t.name === 'add_note'), 'the session that asked for core keeps core');
    const deadline = Date.now() + 5_000;
    while (!told && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
    assert.ok(told >= 1, 'the open session was sent notifications/tools/list_changed');
    owner.setAgentTier('core');
    assert.ok(!(await live.listTools()).tools.some(t => t.name === 'add_note'), 'and back to core');
    assert.ok(!(await live.listTools()).tools.some(t => ['approve', 'answer_request', 'hand_over'].includes(t.name)), 'never an operator tool');
    await live.close();
    await frugal.close();
  } finally {
    await owner.cleanup();
  }
});
