/*
 * `baton mcp` as the agents' way in ("Trust" items 6 and 13): the stdio proxy follows the workspace's owner
 * across restarts on any port (a window reload whose port was taken), and never becomes a second, empty
 * owner when the agent CLI dropped BATON_HOME from its environment.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';

type Sandbox = ReturnType<typeof makeCliSandbox>;

/** Starts `baton serve` for the sandbox's workspace; resolves with its process and MCP URL. */
async function serve(box: Sandbox): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...CLI_ARGS, 'serve', '--workspace', box.workspace, '--tools', 'full'], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', d => {
      out += d;
      const m = /Baton MCP server: (\S+)/.exec(out);
      if (m && /Bearer token in: /.test(out)) resolve(m[1]);
    });
    child.stderr!.on('data', d => (err += d));
    child.on('exit', code => reject(new Error(`baton serve exited with ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`baton serve did not start: ${err}`)), 30_000);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise(r => child.once('exit', r));
  };
  return { child, url, stop };
}

/** An MCP client that reaches Baton as Baton wires its tmux sessions: through `baton mcp` over stdio. */
async function stdioAgent(box: Sandbox, extra: string[] = []): Promise<Client> {
  const client = new Client({ name: 'reattached-agent', version: '1' });
  // The agent CLI starts the proxy in its own working folder.
  await client.connect(new StdioClientTransport({
    command: process.execPath, args: [...CLI_ARGS, 'mcp', '--workspace', box.workspace, ...extra], env: box.env as Record<string, string>, cwd: box.workspace, stderr: 'pipe',
  }));
  return client;
}

const text = (result: unknown) => JSON.parse(((result as { content: { text: string }[] }).content)[0].text);

test('an agent wired through `baton mcp` keeps working when its owner restarts on the same port, on another port, or comes back while a call waits', { timeout: 180_000 }, async t => {
  const box = makeCliSandbox();
  let owner = await serve(box);
  t.after(() => owner.stop());
  const agent = await stdioAgent(box);
  await agent.callTool({ name: 'create_task', arguments: { title: 'Before the reload' } });

  // 1. A restart on the same address: the new owner does not know the MCP session (HTTP 404).
  await owner.stop();
  owner = await serve(box);
  const same = text(await agent.callTool({ name: 'list_tasks', arguments: {} }));
  assert.deepEqual(same.tasks.map((x: { title: string }) => x.title), ['Before the reload'], 'the next call succeeds on a new session');

  // 2. The recorded port is taken while the owner is away: the new owner moves, the agent follows.
  const port = Number(new URL(owner.url).port);
  await owner.stop();
  // Someone else's server on the port: it accepts connections and never answers.
  const sockets = new Set<net.Socket>();
  const squatter = net.createServer(socket => sockets.add(socket));
  await new Promise<void>(resolve => squatter.listen(port, '127.0.0.1', () => resolve()));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    squatter.close();
  });
  owner = await serve(box);
  assert.notEqual(Number(new URL(owner.url).port), port, 'the owner had to take another port');
  const created = text(await agent.callTool({ name: 'create_task', arguments: { title: 'After the move' } }));
  assert.equal(created.title, 'After the move');

  // 3. A call made while no owner runs waits for one (a window reloading) instead of failing.
  await owner.stop();
  const waiting = agent.callTool({ name: 'list_tasks', arguments: {} });
  await new Promise(r => setTimeout(r, 1500));
  owner = await serve(box);
  const listed = text(await waiting);
  assert.deepEqual(listed.tasks.map((x: { title: string }) => x.title).sort(), ['After the move', 'Before the reload']);
  await agent.close();
  await owner.stop();
  t.after(() => box.remove());
});

test('`baton mcp` never creates an empty owner: without BATON_HOME it refuses, naming the registry; with --storage it reaches the real state', { timeout: 120_000 }, async t => {
  const box = makeCliSandbox();
  const seeded = spawnSync(process.execPath, [...CLI_ARGS, 'import', writePlan(box.workspace), '--workspace', box.workspace], { env: box.env, encoding: 'utf8' });
  assert.equal(seeded.status, 0, seeded.stderr);
  const storageDir = registeredStorage(box.home);

  // What Codex does to a stdio server: a fixed list of variables, BATON_HOME not among them.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-nohome-'));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const dropped: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home };
  const refused = spawnSync(process.execPath, [...CLI_ARGS, 'mcp', '--workspace', box.workspace], { env: dropped, encoding: 'utf8', input: '', timeout: 60_000 });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /No Baton state is registered for .* in .*\.baton; baton mcp creates none/);
  assert.equal(fs.existsSync(path.join(home, '.baton', 'workspaces')), false, 'no empty state was created');

  // Baton wires the storage folder on the command line, so no variable is needed.
  const agent = new Client({ name: 'codex-like', version: '1' });
  await agent.connect(new StdioClientTransport({
    command: process.execPath, args: [...CLI_ARGS, 'mcp', '--workspace', box.workspace, '--storage', storageDir], env: dropped as Record<string, string>, cwd: box.workspace,
  }));
  const listed = text(await agent.callTool({ name: 'list_tasks', arguments: {} }));
  assert.deepEqual(listed.tasks.map((x: { title: string }) => x.title), ['Seeded task'], 'the real state, not an empty one');
  await agent.close();
  t.after(() => box.remove());
});

function writePlan(workspace: string): string {
  const file = path.join(workspace, 'plan.md');
  fs.writeFileSync(file, '## Sprint 1: Seed\n\n- [ ] Seeded task\n');
  return file;
}

function registeredStorage(home: string): string {
  const registry = path.join(home, 'workspaces');
  const entry = fs.readdirSync(registry).find(f => f.endsWith('.json'))!;
  return JSON.parse(fs.readFileSync(path.join(registry, entry), 'utf8')).storageDir;
}
