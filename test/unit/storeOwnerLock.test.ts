import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OWNER_LOCK_FILE, OwnerLock, isProcessAlive, type OwnerInfo } from '../../src/store/ownerLock';
import { cleanupTmpDirs, tmpDir } from './helpers/storeTestUtils';

after(cleanupTmpDirs);

const probe = path.join(__dirname, 'helpers', 'storeLockProbe.ts');
function runProbe(dir: string, mode: 'try' | 'exit'): string {
  return execFileSync(process.execPath, ['--import', 'tsx', probe, dir, mode], { encoding: 'utf8' }).trim();
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  assert.ok(child.pid && !isProcessAlive(child.pid));
  return child.pid!;
}

function writeLock(dir: string, owner: Partial<OwnerInfo>): void {
  const full: OwnerInfo = { pid: 1, kind: 'vscode', startedAt: new Date().toISOString(), hostname: os.hostname(), ...owner };
  fs.writeFileSync(path.join(dir, OWNER_LOCK_FILE), JSON.stringify(full));
}

test('acquire, contents, second acquire refused (same and other process), release', () => {
  const dir = tmpDir();
  const lock = OwnerLock.tryAcquire(dir, { kind: 'vscode' });
  assert.ok(lock);
  const owner = OwnerLock.readOwner(dir);
  assert.equal(owner?.pid, process.pid);
  assert.equal(owner?.kind, 'vscode');
  assert.equal(owner?.hostname, os.hostname());
  assert.ok(!Number.isNaN(Date.parse(owner!.startedAt)));

  assert.equal(OwnerLock.tryAcquire(dir, { kind: 'cli' }), null);
  assert.equal(runProbe(dir, 'try'), 'busy');

  lock.release();
  lock.release(); // idempotent
  assert.equal(fs.existsSync(path.join(dir, OWNER_LOCK_FILE)), false);
  assert.equal(OwnerLock.readOwner(dir), null);
  assert.equal(runProbe(dir, 'try'), 'acquired');
  const again = OwnerLock.tryAcquire(dir, { kind: 'cli' });
  assert.ok(again);
  again.release();
});

test('stale lock of a dead pid is taken over; other hosts and live pids are respected', () => {
  const dir = tmpDir();
  writeLock(dir, { pid: deadPid() });
  const lock = OwnerLock.tryAcquire(dir, { kind: 'cli' });
  assert.ok(lock, 'stale lock taken over');
  assert.equal(OwnerLock.readOwner(dir)?.pid, process.pid);
  lock.release();

  writeLock(dir, { pid: deadPid(), hostname: `not-${os.hostname()}` });
  assert.equal(OwnerLock.tryAcquire(dir, { kind: 'cli' }), null, 'other host = alive');

  writeLock(dir, { pid: process.ppid }); // alive
  assert.equal(OwnerLock.tryAcquire(dir, { kind: 'cli' }), null);

  // Our own pid, but no OwnerLock here holds it: a leftover of an earlier process with the same pid.
  writeLock(dir, { pid: process.pid, startedAt: '2000-01-01T00:00:00.000Z' });
  const own = OwnerLock.tryAcquire(dir, { kind: 'cli' });
  assert.ok(own);
  own.release();
});

test('an incomplete lock file is respected while young and taken over when old', () => {
  const dir = tmpDir();
  const file = path.join(dir, OWNER_LOCK_FILE);
  fs.writeFileSync(file, '');
  assert.equal(OwnerLock.tryAcquire(dir, { kind: 'cli' }), null);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
  // A break file left behind by a crashed breaker is ignored once old too.
  fs.writeFileSync(`${file}.break`, '');
  fs.utimesSync(`${file}.break`, old, old);
  const lock = OwnerLock.tryAcquire(dir, { kind: 'cli' });
  assert.ok(lock);
  assert.equal(fs.existsSync(`${file}.break`), false);
  lock.release();
});

test('release leaves a lock that someone else has taken over; updateEndpoint', () => {
  const dir = tmpDir();
  const lock = OwnerLock.tryAcquire(dir, { kind: 'vscode', endpoint: 'http://127.0.0.1:1/mcp' });
  assert.ok(lock);
  assert.equal(OwnerLock.readOwner(dir)?.endpoint, 'http://127.0.0.1:1/mcp');
  lock.updateEndpoint('http://127.0.0.1:2/mcp');
  assert.equal(OwnerLock.readOwner(dir)?.endpoint, 'http://127.0.0.1:2/mcp');
  assert.equal(lock.info.endpoint, 'http://127.0.0.1:2/mcp');
  lock.updateEndpoint(undefined);
  assert.equal(OwnerLock.readOwner(dir)?.endpoint, undefined);
  assert.equal(OwnerLock.readOwner(dir)?.pid, process.pid);

  writeLock(dir, { pid: process.ppid, kind: 'cli' });
  assert.throws(() => lock.updateEndpoint('x'), /no longer belongs/);
  lock.release();
  assert.equal(OwnerLock.readOwner(dir)?.pid, process.ppid);
  assert.equal(lock.held, false);
});

test('the lock is released when the owning process exits without release()', () => {
  const dir = tmpDir();
  assert.equal(runProbe(dir, 'exit'), 'acquired');
  assert.equal(fs.existsSync(path.join(dir, OWNER_LOCK_FILE)), false);
});
