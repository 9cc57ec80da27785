import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';

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
