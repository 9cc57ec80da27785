import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { openTakingOver } from '../../src/host/workspaceOwner';
import { resolveStorageDir } from '../../src/store/storageLocation';
import { connectAgent } from './helpers/agent';
import { samplePlansDir } from './helpers/owner';

const repo = path.resolve(__dirname, '../..');
const cli = ['--import', 'tsx', path.join(repo, 'src/cli/main.ts')];

test('VS Code takes over from `baton serve` on the same address; agents keep working', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-home-'));
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-ws-'));
  const env = { ...process.env, BATON_HOME: home };
  fs.copyFileSync(path.join(samplePlansDir, 'orchestron-implementation-plan.md'), path.join(workspace, 'PLAN.md'));
  assert.equal(spawnSync(process.execPath, [...cli, 'import', path.join(workspace, 'PLAN.md'), '-w', workspace], { env }).status, 0);
  const serve = spawn(process.execPath, [...cli, 'serve', '-w', workspace], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  serve.stdout.on('data', d => (out += d));
  const exited = new Promise<number | null>(resolve => serve.on('exit', resolve));
  const previousHome = process.env.BATON_HOME;
  process.env.BATON_HOME = home;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /Baton MCP server: (\S+)/.exec(out);
        if (m) { clearInterval(timer); resolve(m[1]); }
      }, 50);
      setTimeout(() => { clearInterval(timer); reject(new Error(`serve did not start: ${out}`)); }, 20_000);
    });
    const storageDir = resolveStorageDir(workspace);
    const token = fs.readFileSync(path.join(storageDir, 'mcp-token'), 'utf8').trim();
    const before = await connectAgent(url, token, 'claude-code');
    const claimed = (await before.call('claim_next_task', {})).task;
    await before.close();

    const { owner, tookOverFrom } = await openTakingOver({
      storageDir, kind: 'vscode', version: 'test', log: () => undefined, mcp: { port: 0, maxBodyBytes: 1024 * 1024, tier: 'core' },
    });
    try {
      assert.equal(tookOverFrom?.pid, serve.pid);
      assert.equal(owner.mcpUrl, url, 'the same address');
      assert.equal(await exited, 0, 'serve handed over and exited cleanly');
      assert.match(out, /VS Code took over this workspace/);
      assert.equal(owner.plan.getTask(claimed.id).status, 'IN_PROGRESS', 'the state carried over');
      const after = await connectAgent(url, token, 'claude-code');
      assert.equal((await after.call('get_task', { task_id: claimed.id })).status, 'IN_PROGRESS');
      await after.close();
    } finally {
      await owner.close();
    }
  } finally {
    if (previousHome === undefined) delete process.env.BATON_HOME; else process.env.BATON_HOME = previousHome;
    serve.kill('SIGTERM');
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
