/*
 * A stable MCP address (issue "Trust" item 6): the workspace keeps its port and token across reloads
 * and restarts, so agents reattached from tmux and copied configurations keep reaching Baton.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { connectAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

test('a reopened owner (window reload, serve restart) serves on the same address and token: an agent configured with them reconnects', async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-port-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await openTestOwner({ mcp: true, dir, reusePort: true });
  const url = first.mcpUrl!;
  const token = first.readToken()!;
  const agent = await connectAgent(url, token, 'reattached');
  await agent.call('create_task', { title: 'Survives a reload' });
  await agent.close();
  await first.close();

  const second = await openTestOwner({ mcp: true, dir, reusePort: true });
  try {
    assert.equal(second.mcpUrl, url, 'same port');
    assert.equal(second.readToken(), token, 'same token');
    // This test process's fetch pool may still hold a keep-alive socket to the closed owner; the first
    // request on it fails without reaching anyone (an agent process restarted by tmux has no such socket).
    let again: Awaited<ReturnType<typeof connectAgent>> | undefined;
    for (let attempt = 0; !again; attempt++) {
      try {
        again = await connectAgent(url, token, 'reattached');
      } catch (error) {
        if (attempt >= 2 || !/fetch failed/.test(String(error))) throw error;
      }
    }
    const { tasks } = await again.call('list_tasks', {});
    assert.deepEqual(tasks.map((x: { title: string }) => x.title), ['Survives a reload'], "the agent's next call succeeds");
    await again.close();
  } finally {
    await second.close();
  }
});

test('when the recorded port is taken by someone else, the owner serves on a free port, says so, and keeps that one next time', async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-port-busy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await openTestOwner({ mcp: true, dir, reusePort: true });
  const port = Number(new URL(first.mcpUrl!).port);
  await first.close();
  const squatter = net.createServer();
  await new Promise<void>(resolve => squatter.listen(port, '127.0.0.1', () => resolve()));
  try {
    const second = await openTestOwner({ mcp: true, dir, reusePort: true });
    const moved = Number(new URL(second.mcpUrl!).port);
    assert.notEqual(moved, port);
    assert.equal(fs.readFileSync(path.join(dir, 'mcp-port'), 'utf8').trim(), String(moved), 'the new port is recorded');
    await second.close();
    const third = await openTestOwner({ mcp: true, dir, reusePort: true });
    assert.equal(Number(new URL(third.mcpUrl!).port), moved, 'and kept');
    await third.close();
  } finally {
    await new Promise<void>(resolve => squatter.close(() => resolve()));
  }
});
