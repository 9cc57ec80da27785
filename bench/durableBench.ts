/**
 * Durable-write latency vs state size: one small acknowledged write through DurableDatabase (journal append +
 * fdatasync) at ~1 MB and ~50 MB of state, against the whole-file approach a naive sql.js app uses per write
 * (export → write temp → fsync → rename), and the cost of a snapshot with how often one is triggered.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DurableDatabase } from '../src/store/durableDatabase';
import { STATE_MIGRATIONS } from '../src/store/schema';
import { loadSqlJs } from '../src/store/sqlJsLoader';
import { nowMs, summarize, type LatencyStats } from './stats';

export interface DurableBenchOptions {
  sizesMb: number[];
  smallWrites: number;
  /** Whole-file writes per size: index-matched with sizesMb. */
  wholeFileWrites: number[];
  snapshots: number;
  log: (line: string) => void;
}

export interface DurableSizeResult {
  targetMb: number;
  dbBytes: number;
  notes: number;
  fill: { ms: number; transactions: number; autoSnapshots: number };
  journal: LatencyStats & { bytesPerWrite: number };
  wholeFile: LatencyStats;
  snapshot: LatencyStats;
  /** Journal bytes at which an automatic snapshot triggers: max(1 MiB, db size / 2). */
  snapshotThresholdBytes: number;
  /** Small writes like the measured one between two automatic snapshots. */
  writesPerSnapshot: number;
  /** Snapshot cost spread over those writes, ms per write. */
  amortizedSnapshotMs: number;
}

const NOTE_TEXT = (i: number) =>
  `Note ${i}: `.padEnd(1024, 'The agent recorded what it changed, why, which tests cover it and what remains open. ');
const SMALL_TEXT = 'Checked the retry path; the timeout is configurable and the test covers both branches.';
const STAMP = '2025-01-01T00:00:00.000Z';
const NOTE_SQL = 'INSERT INTO notes (id, task_id, author_kind, author_name, text, created_at) VALUES (?, ?, ?, ?, ?, ?)';

function writeFileSynced(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function benchSize(targetMb: number, wholeFileWrites: number, o: DurableBenchOptions): Promise<DurableSizeResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `baton-bench-db-${targetMb}mb-`));
  const naiveDir = fs.mkdtempSync(path.join(os.tmpdir(), `baton-bench-naive-${targetMb}mb-`));
  const db = await DurableDatabase.open(dir, { migrations: STATE_MIGRATIONS, log: () => undefined });
  try {
    db.transaction(tx => tx.run(
      'INSERT INTO tasks (id, num, title, position, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      ['T-1', 1, 'Notes sink', 0, STAMP, STAMP],
    ));

    // Fill with ~1 KB notes in big transactions until the database reaches the target size.
    const target = targetMb * 1024 * 1024;
    let notes = 0;
    let transactions = 0;
    let autoSnapshots = 0;
    const batch = Math.max(50, Math.min(1000, Math.round(target / 1100 / 10)));
    const fill0 = nowMs();
    while (db.sizeBytes() < target) {
      const before = db.journalSizeBytes;
      db.transaction(tx => {
        for (let k = 0; k < batch; k++, notes++) tx.run(NOTE_SQL, [`N-fill-${notes}`, 'T-1', 'agent', 'bench', NOTE_TEXT(notes), STAMP]);
      });
      transactions++;
      if (db.journalSizeBytes < before) autoSnapshots++;
    }
    const fillMs = nowMs() - fill0;
    db.snapshot(); // start the measurement with an empty journal
    const dbBytes = db.sizeBytes();
    o.log(`  ${targetMb} MB: filled ${notes} notes (${(dbBytes / 1048576).toFixed(1)} MB) in ${(fillMs / 1000).toFixed(1)} s, ${autoSnapshots} automatic snapshots on the way`);

    // One small acknowledged write, N times.
    const journal0 = db.journalSizeBytes;
    const samples: number[] = [];
    for (let i = 0; i < o.smallWrites; i++) {
      const t0 = nowMs();
      db.transaction(tx => tx.run(NOTE_SQL, [`N-small-${i}`, 'T-1', 'agent', 'bench', SMALL_TEXT, STAMP]));
      samples.push(nowMs() - t0);
    }
    const bytesPerWrite = (db.journalSizeBytes - journal0) / o.smallWrites;
    const journal = { ...summarize(samples), bytesPerWrite };

    // Snapshot cost at this size (each preceded by one small write so there is something to snapshot).
    const snaps: number[] = [];
    for (let i = 0; i < o.snapshots; i++) {
      db.transaction(tx => tx.run(NOTE_SQL, [`N-snap-${i}`, 'T-1', 'agent', 'bench', SMALL_TEXT, STAMP]));
      const t0 = nowMs();
      db.snapshot();
      snaps.push(nowMs() - t0);
    }
    const snapshot = summarize(snaps);
    const snapshotThresholdBytes = Math.max(1024 * 1024, dbBytes / 2);
    const writesPerSnapshot = snapshotThresholdBytes / bytesPerWrite;

    // The naive whole-file approach on a copy of the same database: insert, export, write temp, fsync, rename.
    const SQL = await loadSqlJs();
    const naive = new SQL.Database(fs.readFileSync(path.join(dir, 'state.db')));
    const naiveFile = path.join(naiveDir, 'state.db');
    const naiveTmp = path.join(naiveDir, 'state.db.tmp');
    const whole: number[] = [];
    try {
      for (let i = 0; i < wholeFileWrites; i++) {
        const t0 = nowMs();
        naive.run(NOTE_SQL, [`N-naive-${i}`, 'T-1', 'agent', 'bench', SMALL_TEXT, STAMP]);
        writeFileSynced(naiveTmp, naive.export());
        fs.renameSync(naiveTmp, naiveFile);
        whole.push(nowMs() - t0);
      }
    } finally {
      naive.close();
    }

    return {
      targetMb, dbBytes, notes,
      fill: { ms: fillMs, transactions, autoSnapshots },
      journal,
      wholeFile: summarize(whole),
      snapshot,
      snapshotThresholdBytes,
      writesPerSnapshot,
      amortizedSnapshotMs: snapshot.p50 / writesPerSnapshot,
    };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(naiveDir, { recursive: true, force: true });
  }
}

export async function runDurableBench(o: DurableBenchOptions): Promise<DurableSizeResult[]> {
  const results: DurableSizeResult[] = [];
  for (let i = 0; i < o.sizesMb.length; i++) results.push(await benchSize(o.sizesMb[i], o.wholeFileWrites[i], o));
  return results;
}
