/**
 * Child process for the kill -9 durability test.
 *
 * Usage: node --import tsx storeWriter.ts <dir> <payloadBytes> <snapshotMinJournalBytes> [sync|group]
 *
 * Takes the owner lock of <dir> (taking over the stale lock of a killed predecessor), opens the database
 * (recovering whatever the previous kill left), prints `ready <max n> <recovery json>`, then inserts rows
 * n = max+1, max+2, ... one per transaction forever, printing `ack <n>` after each transaction() returns
 * (`sync`, the default) or, with `group`, after each group-commit write's durable() resolved, as the owner
 * acknowledges MCP writes; automatic snapshots then run in the background, between the writes.
 * The parent kills it with SIGKILL at a random moment.
 */
import * as fs from 'node:fs';
import { DurableDatabase } from '../../../src/store/durableDatabase';
import { OwnerLock } from '../../../src/store/ownerLock';
import { TEST_MIGRATIONS, payloadFor } from './storeTestUtils';

function out(line: string): void {
  const data = Buffer.from(line + '\n');
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(1, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

async function main(): Promise<void> {
  const [dir, payloadArg, minJournalArg, mode = 'sync'] = process.argv.slice(2);
  const payloadBytes = Number(payloadArg);
  // A predecessor killed while it was taking over a stale lock leaves `owner.lock.break` behind, which is
  // respected while young (OwnerLock's grace period): wait it out as a restarting owner would.
  let lock = OwnerLock.tryAcquire(dir, { kind: 'cli' });
  for (const until = Date.now() + 12_000; !lock && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 100));
    lock = OwnerLock.tryAcquire(dir, { kind: 'cli' });
  }
  if (!lock) {
    out(`locked ${JSON.stringify(OwnerLock.readOwner(dir))}`);
    process.exit(3);
  }
  const db = await DurableDatabase.open(dir, {
    migrations: TEST_MIGRATIONS,
    snapshotMinJournalBytes: Number(minJournalArg),
  });
  let n = db.get<{ n: number | null }>('SELECT MAX(n) AS n FROM rows')?.n ?? 0;
  out(`ready ${n} ${JSON.stringify(db.recovery)}`);
  const stopAt = Date.now() + 20_000; // safety net if the parent never kills us
  while (Date.now() < stopAt) {
    n++;
    const row = n;
    const write = () => db.transaction((tx) => {
      tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [row, payloadFor(row, payloadBytes)]);
      if (row % 7 === 0) tx.run('INSERT INTO notes (text, at) VALUES (?, ?)', [`note ${row}`, new Date(row * 1000).toISOString()]);
    });
    if (mode === 'group') {
      db.groupCommit(write);
      await db.durable();
    } else {
      write();
    }
    out(`ack ${row}`);
  }
  db.close();
  lock.release();
}

main().catch((err) => {
  out(`error ${(err as Error).stack}`);
  process.exit(2);
});
