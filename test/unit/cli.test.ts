import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { samplePlansDir } from './helpers/owner';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';

const repo = path.resolve(__dirname, '../..');
const cliArgs = CLI_ARGS;
let workspace: string;
let env: NodeJS.ProcessEnv;
let sandbox: ReturnType<typeof makeCliSandbox>;

before(() => {
  sandbox = makeCliSandbox();
  ({ workspace } = sandbox);
  fs.copyFileSync(path.join(samplePlansDir, 'orchestron-implementation-plan.md'), path.join(workspace, 'PLAN.md'));
  env = sandbox.env;
});
after(() => {
  sandbox.remove();
});

function baton(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args, '--workspace', workspace], { env, encoding: 'utf8', cwd: repo });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('baton import shows what was imported; importing again updates nothing and duplicates nothing', () => {
  const first = baton('import', path.join(workspace, 'PLAN.md'));
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /Imported PLAN\.md \(markdown\)/);
  assert.match(first.out, /sprints: \d+ new/);
  const tasks = JSON.parse(baton('tasks', '--json').out);
  const again = baton('import', path.join(workspace, 'PLAN.md'));
  assert.match(again.out, /tasks: 0 new, 0 updated/);
  assert.equal(JSON.parse(baton('tasks', '--json').out).length, tasks.length);
});

test('baton tasks and sprints print the plan', () => {
  const sprints = JSON.parse(baton('sprints', '--json').out);
  assert.equal(sprints[0].name, 'Phase 1: MCP Server Implementation');
  const text = baton('tasks').out;
  assert.match(text, /Phase 1: MCP Server Implementation\n {2}\[ \] T-1 +Implement OrchestronMCPServer class/);
  const ready = JSON.parse(baton('tasks', '--json', '--ready').out);
  assert.ok(ready.length > 0);
  assert.ok(ready.every((t: { status: string }) => t.status === 'TODO'));
});

test('bad input: a missing file or a bad workspace is a clear error with exit code 1', () => {
  const missing = baton('import', path.join(workspace, 'nope.md'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /No such file: .*nope\.md/);
  const bad = spawnSync(process.execPath, [...cliArgs, 'tasks', '--workspace', path.join(workspace, 'missing-dir')], { env, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is not a folder/);
});

test('baton serve owns the state; the CLI and `baton mcp` go through its endpoint', async () => {
  const serve: ChildProcess = spawn(process.execPath, [...cliArgs, 'serve', '--workspace', workspace], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      serve.stdout!.on('data', d => {
        out += d;
        const m = /Baton MCP server: (\S+)/.exec(out);
        if (m && /Bearer token in: /.test(out)) resolve(m[1]);
      });
      serve.on('exit', code => reject(new Error(`serve exited with ${code}`)));
      setTimeout(() => reject(new Error('serve did not start')), 20000);
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    // While serve holds the lock, the CLI works through its MCP endpoint.
    const listed = baton('tasks', '--json', '--ready');
    assert.equal(listed.code, 0, listed.err);
    // An agent that speaks only stdio: `baton mcp` proxies to the owner.
    const client = new Client({ name: 'stdio-agent', version: '1' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [...cliArgs, 'mcp', '--workspace', workspace], env: env as Record<string, string>, cwd: repo }));
    const claim = await client.callTool({ name: 'claim_next_task', arguments: {} });
    const claimed = JSON.parse((claim.content as { text: string }[])[0].text).task;
    assert.equal(claimed.status, 'IN_PROGRESS');
    await client.close();
    const after = JSON.parse(baton('tasks', '--json', '--status', 'IN_PROGRESS').out);
    assert.deepEqual(after.map((t: { id: string }) => t.id), [claimed.id]);
  } finally {
    serve.kill('SIGTERM');
    await new Promise(r => serve.once('exit', r));
  }
  // With no owner running, `baton mcp` becomes the owner itself.
  const client = new Client({ name: 'stdio-agent', version: '1' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [...cliArgs, 'mcp', '--workspace', workspace], env: env as Record<string, string>, cwd: repo }));
  const list = await client.callTool({ name: 'list_tasks', arguments: { status: ['IN_PROGRESS'] } });
  assert.equal(JSON.parse((list.content as { text: string }[])[0].text).total, 1);
  await client.close();
});
