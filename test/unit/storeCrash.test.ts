/**
 * kill -9 durability: a child process writes rows in a loop and prints `ack <n>` after each transaction()
 * returns; it is killed with SIGKILL at a random moment (often in the middle of a journal append or a
 * snapshot, since snapshots are frequent with a 4 KiB threshold). Every acknowledged row must be there.
 * Each directory is killed repeatedly, so every child also has to recover from the previous kill.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DurableDatabase, type RecoveryReport } from '../../src/store/durableDatabase';
import { OwnerLock } from '../../src/store/ownerLock';
import { TEST_MIGRATIONS, cleanupTmpDirs, copyDir, tmpDir } from './helpers/storeTestUtils';

after(cleanupTmpDirs);

const writer = path.join(__dirname, 'helpers', 'storeWriter.ts');
const SNAPSHOT_MIN_JOURNAL_BYTES = 4096;

interface RunResult {
  pid: number;
  readyMax: number;
  /** undefined if killed before the database was open */
  readyRecovery: RecoveryReport | undefined;
  lastAck: number;
  acks: number;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs the writer and kills it `killAfterAckMs` after its first ack, or, when `killAfterSpawnMs` is given,
 * that long after spawning (which may land before, during or after open/recovery).
 */
function runAndKill(dir: string, payloadBytes: number, killAfterSpawnMs?: number, mode: 'sync' | 'group' = 'sync'): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(payloadBytes), String(SNAPSHOT_MIN_JOURNAL_BYTES), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    let output = '';
    let readyMax = -1;
    let readyRecovery: RecoveryReport | undefined;
    let lastAck = 0;
    let acks = 0;
    let killTimer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000); // generous: a loaded CI machine starts tsx slowly
    if (killAfterSpawnMs !== undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterSpawnMs);
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('ack ')) {
          const n = Number(line.slice(4));
          assert.ok(n > lastAck, `acks increase (${n} after ${lastAck})`);
          lastAck = n;
          acks++;
          if (!killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), 50 + Math.random() * 550);
        } else if (line.startsWith('ready ')) {
          const m = /^ready (\d+) (.*)$/.exec(line)!;
          readyMax = Number(m[1]);
          readyRecovery = JSON.parse(m[2]) as RecoveryReport;
        } else {
          output += line + '\n';
        }
      }
    });
    child.on('error', reject);
    // 'close', not 'exit': acks the child wrote just before the kill may still be in the pipe at 'exit'.
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      if (!readyRecovery && killAfterSpawnMs === undefined) return reject(new Error(`writer did not start: ${output}`));
      resolve({ pid: child.pid!, readyMax, readyRecovery, lastAck, acks, signal, output });
    });
  });
}

/**
 * Checks the killed directory: every acknowledged row (up to `mustHave`) is there, and at most one row
 * beyond `base` (the most a kill can leave: the one transaction in flight). `base` is the higher of the
 * acknowledged count and the rows already there before this writer (an earlier writer's in-flight row
 * that reached the disk stays, and the next writer goes on from it).
 */
async function verify(dir: string, payloadBytes: number, mustHave: number, base = mustHave): Promise<number> {
  const copy = copyDir(dir); // keep the killed directory as it is for the next child to recover
  const db = await DurableDatabase.open(copy, { migrations: TEST_MIGRATIONS });
  try {
    assert.equal(db.recovery.lostRecords, false, db.recovery.messages.join('\n'));
    assert.equal(db.get<{ integrity_check: string }>('PRAGMA integrity_check')?.integrity_check, 'ok');
    const stats = db.get<{ c: number; lo: number; hi: number }>('SELECT COUNT(*) AS c, MIN(n) AS lo, MAX(n) AS hi FROM rows')!;
    const max = stats.hi ?? 0;
    assert.ok(max >= mustHave, `acknowledged row ${mustHave} missing (max n = ${max})`);
    assert.ok(max <= base + 1, `rows beyond the one in-flight transaction (max ${max}, acked ${mustHave}, there before ${base})`);
    assert.equal(stats.c, max, 'rows 1..max without holes');
    if (max > 0) assert.equal(stats.lo, 1);
    const bad = db.get<{ c: number }>(
      "SELECT COUNT(*) AS c FROM rows WHERE length(payload) != ? OR substr(payload, 1, length(n) + 1) != n || ':'",
      [payloadBytes],
    )!;
    assert.equal(bad.c, 0, 'payloads intact');
    assert.equal(db.get<{ c: number }>('SELECT COUNT(*) AS c FROM notes')!.c, Math.floor(max / 7), 'notes committed with their rows');
    return max;
  } finally {
    db.close();
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

test('acknowledged writes survive SIGKILL at random moments (30 kills, 3 payload sizes, plain and group-commit writes)', { timeout: 400_000 }, async () => {
  const ROUNDS = 10;
  const lanes = [100, 2_000, 30_000].map((payloadBytes) => ({ payloadBytes, dir: tmpDir('baton-crash-') }));
  let kills = 0;
  let totalAcks = 0;
  let tornTails = 0;
  let replays = 0;
  let killedBeforeReady = 0;
  // Two lanes run concurrently to keep the wall time down on small machines.
  const runLane = async (lane: { payloadBytes: number; dir: string }): Promise<void> => {
    let highestAcked = 0;
    let lastMax = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Every third round the kill is timed from spawn, so it may hit open/recovery/the recovery snapshot.
      const early = round % 3 === 2;
      // Odd rounds write as the owner does (group commit), so the kill may hit a background snapshot.
      const r = await runAndKill(lane.dir, lane.payloadBytes, early ? 250 + Math.random() * 600 : undefined, round % 2 === 1 ? 'group' : 'sync');
      assert.equal(r.signal, 'SIGKILL', `writer ended on its own: ${r.output}`);
      assert.ok(early || r.acks > 0, `writer acknowledged nothing: ${r.output}`);
      if (r.readyRecovery) {
        assert.ok(r.readyMax >= highestAcked, `child saw max ${r.readyMax} < acknowledged ${highestAcked}`);
        assert.equal(r.readyRecovery.lostRecords, false, r.readyRecovery.messages.join('\n'));
        assert.equal(r.readyRecovery.usedBackup, false, r.readyRecovery.messages.join('\n'));
        if (r.readyRecovery.tornTailBytes > 0) tornTails++;
        if (r.readyRecovery.replayedRecords > 0) replays++;
      } else {
        killedBeforeReady++;
      }
      highestAcked = Math.max(highestAcked, r.lastAck);
      // The killed writer's lock is still on disk and is stale.
      if (r.readyRecovery) assert.equal(OwnerLock.readOwner(lane.dir)?.pid, r.pid);
      // The rows there before this writer: what it saw at open, else what the last check found.
      const before = r.readyRecovery ? r.readyMax : lastMax;
      lastMax = await verify(lane.dir, lane.payloadBytes, highestAcked, Math.max(highestAcked, before, r.lastAck));
      kills++;
      totalAcks += r.acks;
    }
    const lock = OwnerLock.tryAcquire(lane.dir, { kind: 'cli' });
    assert.ok(lock, 'stale lock of the killed writer is taken over');
    lock.release();
  };
  await Promise.all([runLane(lanes[0]).then(() => runLane(lanes[2])), runLane(lanes[1])]);
  assert.equal(kills, 3 * ROUNDS);
  const sizes = lanes.map((l) => Math.round(fs.statSync(path.join(l.dir, 'state.db')).size / 1024));
  console.log(
    `# ${kills} kills (${killedBeforeReady} before open finished), ${totalAcks} acknowledged writes, ` +
      `${replays} opens replayed the journal, ${tornTails} found a torn tail; final db sizes ${sizes.join(' / ')} KiB`,
  );
});
