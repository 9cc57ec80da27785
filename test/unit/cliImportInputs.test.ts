import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';
import { openTestOwner } from './helpers/owner';

const execFileAsync = promisify(execFile);

const repo = path.resolve(__dirname, '../..');
const cliArgs = CLI_ARGS;
let workspace: string;
let env: NodeJS.ProcessEnv;
let sandbox: ReturnType<typeof makeCliSandbox>;

before(() => {
  sandbox = makeCliSandbox();
  ({ workspace } = sandbox);
  env = sandbox.env;
});
after(() => {
  sandbox.remove();
});

function baton(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args, '--workspace', workspace], { env, encoding: 'utf8', cwd: repo, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const write = (name: string, data: string | Buffer) => { const p = path.join(workspace, name); fs.writeFileSync(p, data); return p; };

test('baton import refuses devices, directories, oversized, empty and binary files, naming the path, and stores nothing', () => {
  const cases: [string, RegExp][] = [
    ['/dev/zero', /\/dev\/zero is not a regular file/],
    [workspace, /is a directory/],
    [write('big.md', '## Sprint 1: Big\n\n' + '- [ ] item\n'.repeat(120_000)), /accepts plan files up to 1048576 bytes/],
    [write('empty.md', ''), /empty\.md is empty \(0 bytes\)/],
    [write('blob.md', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])), /blob\.md is not a text file/],
  ];
  for (const [file, message] of cases) {
    const r = baton('import', file);
    assert.notEqual(r.code, 0, `${file} should fail`);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /EISDIR|at Object\./);
  }
  const tasks = baton('tasks', '--json');
  assert.equal(tasks.code, 0, tasks.err);
  assert.deepEqual(JSON.parse(tasks.out), []);
});

test('baton import reads a UTF-16 plan with a byte-order mark', () => {
  const text = '## Sprint 1: Login\n\n- [ ] Build the login page\n- [ ] Café menu — done\n';
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  const r = baton('import', write('utf16.md', le), '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).tasks.created, 2);
  const titles = (JSON.parse(baton('tasks', '--json').out) as { title: string }[]).map(t => t.title);
  assert.deepEqual(titles, ['Build the login page', 'Café menu — done']);
});

test("baton import obeys the running owner's request limit (baton.mcp.maxRequestBytes), saying so before sending anything", async () => {
  assert.equal(baton('tasks').code, 0); // registers the workspace's storage
  const registry = path.join(sandbox.home, 'workspaces');
  const entry = fs.readdirSync(registry).find(f => f.endsWith('.json'))!;
  const storageDir = JSON.parse(fs.readFileSync(path.join(registry, entry), 'utf8')).storageDir as string;
  // A VS Code owner whose person lowered the limit to 4 KB.
  const owner = await openTestOwner({ mcp: true, dir: storageDir, maxBodyBytes: 4096 });
  try {
    const run = (...args: string[]) => execFileAsync(process.execPath, [...cliArgs, ...args, '--workspace', workspace], { env, cwd: repo, timeout: 60_000 })
      .then(r => ({ code: 0, out: r.stdout, err: r.stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }));
    const big = await run('import', write('owner-big.md', '## Sprint 1: Big\n\n' + '- [ ] item\n'.repeat(600)));
    assert.notEqual(big.code, 0);
    assert.match(big.err, /owner-big\.md is \d+ bytes: baton import accepts plan files up to 4096 bytes/);
    assert.doesNotMatch(big.err, /413|fetch failed/);
    const small = await run('import', write('owner-small.md', '## Sprint 1: Small\n\n- [ ] Only item\n'));
    assert.equal(small.code, 0, small.err);
    assert.ok(owner.services.plan.allTasks().some(t => t.title === 'Only item'), 'imported through the owner');
  } finally {
    await owner.close();
  }
});
