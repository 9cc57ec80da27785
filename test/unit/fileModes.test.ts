/*
 * Baton's state is the user's alone (issue "Trust" item 3): every file it writes about a workspace is
 * created 0600 and every folder 0700, whatever the umask lets through, and a state folder left by an
 * older Baton (0755 / 0644) is tightened when it is opened.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { WorkspaceOwner } from '../../src/host/workspaceOwner';
import { resolveStorageDir } from '../../src/store/storageLocation';
import { tightenTree } from '../../src/store/fileModes';

/** Every file and folder under `root` whose mode gives anything to group or others: "path 0644". */
function loose(root: string): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) out.push(`${path.relative(root, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  visit(root);
  return out;
}

const user = { kind: 'user' as const, name: 'tester' };

test('state files are 0600 and state folders 0700 after a full run (state, journals, snapshots, checksums, artifacts, tokens, endpoint, lock, registry)', async t => {
  const previous = process.umask(0o022);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'baton-modes-')));
  const home = path.join(root, 'home');
  const savedHome = process.env.BATON_HOME;
  process.env.BATON_HOME = home;
  t.after(() => {
    process.umask(previous);
    if (savedHome === undefined) delete process.env.BATON_HOME; else process.env.BATON_HOME = savedHome;
    fs.rmSync(root, { recursive: true, force: true });
  });
  const workspace = path.join(root, 'ws');
  fs.mkdirSync(workspace);
  const storageDir = resolveStorageDir(workspace);
  const owner = await WorkspaceOwner.open({ storageDir, kind: 'cli', version: 'test', log: () => undefined, mcp: { port: 0, maxBodyBytes: 65536, tier: 'full' } });
  try {
    const task = owner.plan.createTask({ title: 'Modes' }, user);
    owner.plan.addNote(task.id, 'a note', user);
    owner.services.artifacts.store({ name: 'report.md', content: '# report', taskId: task.id }, user);
    owner.db.snapshot();
    owner.plan.addNote(task.id, 'after the snapshot', user);
    owner.db.snapshot(); // a second snapshot makes state.db.bak and state.journal.prev
    assert.deepEqual(loose(storageDir), [], 'every file 0600, every folder 0700 while open');
  } finally {
    await owner.close();
  }
  assert.deepEqual(loose(storageDir), [], 'every file 0600, every folder 0700 after close');
  assert.deepEqual(loose(home), [], "the registry in BATON_HOME too");
  assert.ok(fs.readdirSync(storageDir).some(f => f.startsWith('state.db')), 'the run wrote state');
});

test('a state folder left by an older Baton (0755 folders, 0644 files) is tightened when opened', async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-old-modes-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await WorkspaceOwner.open({ storageDir: dir, kind: 'cli', version: 'test', log: () => undefined });
  first.plan.createTask({ title: 'Old' }, user);
  first.db.snapshot();
  await first.close();
  // What older versions left: world-readable state.
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, f)).isFile()) fs.chmodSync(path.join(dir, f), 0o644);
  assert.notDeepEqual(loose(dir), []);
  const again = await WorkspaceOwner.open({ storageDir: dir, kind: 'cli', version: 'test', log: () => undefined });
  try {
    assert.deepEqual(loose(dir), []);
    assert.equal(again.plan.allTasks()[0].title, 'Old', 'nothing stored is lost');
  } finally {
    await again.close();
  }
});

test('tightenTree keeps the owner\'s bits, strips group and others, and follows no symbolic link', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-tighten-'));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-outside-'));
  try {
    fs.writeFileSync(path.join(dir, 'a'), 'x', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'run.sh'), 'x', { mode: 0o755 });
    fs.writeFileSync(path.join(outside, 'theirs'), 'x', { mode: 0o644 });
    fs.chmodSync(path.join(outside, 'theirs'), 0o644);
    fs.symlinkSync(outside, path.join(dir, 'link'));
    fs.chmodSync(dir, 0o755);
    assert.equal(tightenTree(dir), 3);
    assert.equal(fs.statSync(path.join(dir, 'a')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'run.sh')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(outside, 'theirs')).mode & 0o777, 0o644, 'nothing outside is touched');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  }
});
