import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DurableDatabase, STORE_FILES, crc32Ieee, type DurableDatabaseOptions } from '../../src/store/durableDatabase';
import { loadSqlJs, locateSqlWasm } from '../../src/store/sqlJsLoader';
import { TEST_MIGRATIONS, cleanupTmpDirs, copyDir, dirContents, payloadFor, tmpDir } from './helpers/storeTestUtils';

after(cleanupTmpDirs);

const opts = (extra: Partial<DurableDatabaseOptions> = {}): DurableDatabaseOptions => ({
  migrations: TEST_MIGRATIONS,
  ...extra,
});

function insertRows(db: DurableDatabase, from: number, to: number, size = 50): void {
  for (let n = from; n <= to; n++) {
    db.transaction((tx) => tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [n, payloadFor(n, size)]));
  }
}

function rowNumbers(db: DurableDatabase): number[] {
  return db.all<{ n: number }>('SELECT n FROM rows ORDER BY n').map((r) => r.n);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function integrity(db: DurableDatabase): string {
  return String(db.get<{ integrity_check: string }>('PRAGMA integrity_check')?.integrity_check);
}

test('sql.js loader: cached, finds the wasm file', async () => {
  assert.match(locateSqlWasm(), /sql-wasm\.wasm$/);
  const a = await loadSqlJs();
  const b = await loadSqlJs();
  assert.equal(a, b);
});

test('CRC-32 fallback matches zlib', () => {
  for (const text of ['', 'a', '123456789', 'Baton journal ✓ ünïcode'.repeat(20)]) {
    const data = Buffer.from(text);
    assert.equal(crc32Ieee(data), zlib.crc32(data) >>> 0);
  }
  assert.equal(crc32Ieee(Buffer.from('123456789')), 0xcbf43926); // the standard check value
});

test('migrations from an empty directory; reopen keeps data; a newer schema is refused untouched', async () => {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts());
  assert.equal(db.schemaVersion, 2);
  assert.equal(db.recovery.migrationsApplied, 2);
  assert.equal(db.get<{ user_version: number }>('PRAGMA user_version')?.user_version, 2);
  const tables = db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map((r) => r.name);
  assert.deepEqual(tables.filter((t) => !t.startsWith('sqlite_')), ['_baton_meta', 'blobs', 'notes', 'rows']);
  insertRows(db, 1, 3);
  db.close();
  assert.ok(fs.existsSync(path.join(dir, STORE_FILES.db)));

  // Reopen with only the first migration known: refused, nothing changed.
  const before = dirContents(dir);
  await assert.rejects(
    DurableDatabase.open(dir, { migrations: TEST_MIGRATIONS.slice(0, 1) }),
    /schema version 2.*only knows versions up to 1.*newer Baton/s,
  );
  assert.deepEqual(dirContents(dir), before);

  // Reopen with all migrations: data kept, nothing re-applied.
  const again = await DurableDatabase.open(dir, opts());
  assert.equal(again.recovery.migrationsApplied, 0);
  assert.deepEqual(again.recovery.messages, []);
  assert.deepEqual(rowNumbers(again), [1, 2, 3]);

  // A third migration added later is applied on top.
  again.close();
  const third = await DurableDatabase.open(dir, {
    migrations: [...TEST_MIGRATIONS, { version: 3, description: 'index', sql: 'CREATE INDEX rows_payload ON rows(payload);' }],
  });
  assert.equal(third.schemaVersion, 3);
  assert.equal(third.recovery.migrationsApplied, 1);
  assert.deepEqual(rowNumbers(third), [1, 2, 3]);
  third.close();
});

test('a failing migration is rolled back and reported', async () => {
  const dir = tmpDir();
  await assert.rejects(
    DurableDatabase.open(dir, {
      migrations: [...TEST_MIGRATIONS, { version: 3, description: 'broken', sql: 'CREATE TABLE ok1 (a); CREATE TABLE rows (dup);' }],
    }),
    /migration 3 \(broken\) failed/,
  );
  const db = await DurableDatabase.open(dir, opts());
  assert.equal(db.schemaVersion, 2);
  assert.equal(db.get("SELECT name FROM sqlite_master WHERE name = 'ok1'"), undefined);
  db.close();
});

test('malformed migration lists and non-deterministic migration SQL are rejected', async () => {
  const dir = tmpDir();
  await assert.rejects(DurableDatabase.open(dir, { migrations: [TEST_MIGRATIONS[1]] }), /versions 1, 2, 3/);
  await assert.rejects(
    DurableDatabase.open(dir, {
      migrations: [{ version: 1, description: 'x', sql: 'CREATE TABLE t (at TEXT DEFAULT CURRENT_TIMESTAMP)' }],
    }),
    /non-deterministic/,
  );
});

test('write, close, reopen: data is there', async () => {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts());
  insertRows(db, 1, 100);
  db.transaction((tx) => {
    tx.run('UPDATE rows SET payload = ? WHERE n = ?', ['changed', 5]);
    tx.run('DELETE FROM rows WHERE n > ?', [90]);
  });
  db.close();
  const again = await DurableDatabase.open(dir, opts());
  assert.deepEqual(rowNumbers(again), range(1, 90));
  assert.equal(again.get<{ payload: string }>('SELECT payload FROM rows WHERE n = 5')?.payload, 'changed');
  assert.equal(again.recovery.replayedRecords, 0);
  again.close();
});

test('write without close: journal replay restores everything (all param kinds)', async () => {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts());
  insertRows(db, 1, 20);
  const blob = new Uint8Array([0, 1, 2, 250, 255]);
  db.transaction((tx) => {
    tx.run('INSERT INTO blobs (id, data) VALUES (:id, :data)', { ':id': 'b1', ':data': blob });
    tx.run('INSERT INTO blobs (id, data) VALUES (?, ?)', ['nul', null]);
    tx.run('INSERT INTO notes (text, at) VALUES (?, ?)', ['ünïcødé ✓ "quoted"\n\ttabbed', '2025-01-01T00:00:00Z']);
    tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [1000, String(Number.POSITIVE_INFINITY)]);
  });
  const id = db.transaction((tx) => tx.run('INSERT INTO notes (text, at) VALUES (?, ?)', ['second', 'x']).lastInsertRowid);
  assert.equal(id, 2);
  const crashCopy = copyDir(dir); // what a SIGKILL right now would leave behind
  db.close();

  const recovered = await DurableDatabase.open(crashCopy, opts());
  assert.equal(recovered.recovery.replayedRecords, 20 + 2); // migrations were snapshotted at the first open
  assert.equal(recovered.recovery.lostRecords, false);
  assert.deepEqual(rowNumbers(recovered), [...range(1, 20), 1000]);
  const b1 = recovered.get<{ data: Uint8Array }>('SELECT data FROM blobs WHERE id = ?', ['b1']);
  assert.deepEqual(Array.from(b1!.data), Array.from(blob));
  assert.equal(recovered.get<{ data: null }>("SELECT data FROM blobs WHERE id = 'nul'")?.data, null);
  assert.deepEqual(
    recovered.all('SELECT id, text FROM notes ORDER BY id'),
    [{ id: 1, text: 'ünïcødé ✓ "quoted"\n\ttabbed' }, { id: 2, text: 'second' }],
  );
  assert.equal(recovered.seq, db.seq);
  assert.equal(integrity(recovered), 'ok');
  // The recovery snapshot was taken: opening again replays nothing.
  recovered.close();
  const third = await DurableDatabase.open(crashCopy, opts());
  assert.equal(third.recovery.replayedRecords, 0);
  assert.deepEqual(rowNumbers(third), [...range(1, 20), 1000]);
  third.close();
});

test('transaction rollback: errors, swallowed errors, async callbacks; nothing journaled', async () => {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts());
  insertRows(db, 1, 1);
  const journalBefore = db.journalSizeBytes;
  const seqBefore = db.seq;

  assert.throws(
    () =>
      db.transaction((tx) => {
        tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [2, 'two']);
        throw new Error('boom');
      }),
    /boom/,
  );
  // The callback swallows a failing statement: the transaction still fails as a whole.
  assert.throws(
    () =>
      db.transaction((tx) => {
        tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [3, 'three']);
        try {
          tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [1, 'duplicate']);
        } catch {
          // ignored on purpose
        }
        return 'done';
      }),
    /UNIQUE constraint failed/,
  );
  assert.throws(() => db.transaction(async (tx) => tx.run('INSERT INTO rows VALUES (4, ?)', ['x'])), /synchronous/);
  assert.throws(() => db.transaction((tx) => tx.run('INSERT INTO rows VALUES (5, ?)', [true as unknown as number])), TypeError);
  assert.throws(() => db.transaction((tx) => tx.run("INSERT INTO notes (text, at) VALUES ('x', datetime('now'))")), /non-deterministic/);
  assert.throws(() => db.transaction((tx) => tx.run('INSERT INTO rows VALUES (6, random())')), /non-deterministic/);
  assert.throws(() => db.transaction((tx) => tx.run('COMMIT')), /not allowed inside a transaction/);
  assert.throws(() => db.transaction(() => db.transaction(() => 1)), /nested/);
  // Writes outside transaction() are refused.
  assert.throws(() => db.all('INSERT INTO rows (n, payload) VALUES (7, ?)', ['x']), /readonly/);
  for (const write of ['UPDATE rows SET payload = 1', 'DELETE FROM rows', 'REPLACE INTO rows (n, payload) VALUES (1, 2)',
    'WITH gone AS (SELECT 1) DELETE FROM rows', 'CREATE TABLE sneaky (x)', 'DROP TABLE rows', 'CREATE INDEX rows_p ON rows(payload)',
    'PRAGMA user_version = 99', 'VACUUM']) {
    assert.throws(() => db.get(write), /readonly/, `${write} is refused outside transaction()`);
  }
  db.get('SELECT 1 AS one; DELETE FROM rows'); // a read runs its first statement only
  // Reads that sort (ephemeral tables) or read settings are reads.
  assert.deepEqual(db.all<{ n: number }>('SELECT n FROM rows ORDER BY payload DESC, n').map(r => r.n), [1]);
  assert.equal(typeof db.get<{ user_version: number }>('PRAGMA user_version')!.user_version, 'number');

  assert.deepEqual(rowNumbers(db), [1]);
  assert.equal(db.journalSizeBytes, journalBefore);
  assert.equal(db.seq, seqBefore);
  // A read-only transaction writes no record.
  assert.equal(db.transaction((tx) => tx.get<{ c: number }>('SELECT COUNT(*) AS c FROM rows')?.c), 1);
  assert.equal(db.journalSizeBytes, journalBefore);
  // And the database keeps working.
  insertRows(db, 2, 3);
  const copy = copyDir(dir);
  db.close();
  const recovered = await DurableDatabase.open(copy, opts());
  assert.deepEqual(rowNumbers(recovered), [1, 2, 3]);
  recovered.close();
});

test('automatic snapshots keep the journal bounded; files always reconstruct everything', async () => {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts({ snapshotMinJournalBytes: 4096 }));
  for (let n = 1; n <= 400; n++) {
    db.transaction((tx) => tx.run('INSERT INTO rows (n, payload) VALUES (?, ?)', [n, payloadFor(n, 300)]));
    const limit = Math.max(4096, db.sizeBytes() / 2) + 1024;
    assert.ok(db.journalSizeBytes <= limit, `journal ${db.journalSizeBytes} > ${limit}`);
    if (n % 37 === 0) {
      // Losing state.db at any point is covered by state.db.bak + both journals.
      const copy = copyDir(dir);
      fs.rmSync(path.join(copy, STORE_FILES.db));
      const r = await DurableDatabase.open(copy, opts());
      assert.deepEqual(rowNumbers(r), range(1, n));
      assert.equal(r.recovery.lostRecords, false);
      r.close();
    }
  }
  assert.ok(fs.existsSync(path.join(dir, STORE_FILES.backup)));
  assert.ok(fs.existsSync(path.join(dir, STORE_FILES.prevJournal)));
  db.close();
  assert.equal(fs.statSync(path.join(dir, STORE_FILES.journal)).size, 0);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

async function dbWithBackup(): Promise<string> {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts());
  insertRows(db, 1, 10);
  db.snapshot();
  insertRows(db, 11, 20);
  db.snapshot();
  insertRows(db, 21, 30); // only in state.journal
  const copy = copyDir(dir); // crash image: state.db, .bak, both journals
  db.close();
  return copy;
}

for (const damage of ['garbage', 'truncated', 'empty'] as const) {
  test(`damaged state.db (${damage}) is recovered from state.db.bak + journals`, async () => {
    const dir = await dbWithBackup();
    const file = path.join(dir, STORE_FILES.db);
    const original = fs.readFileSync(file);
    if (damage === 'garbage') {
      const bytes = Buffer.from(original);
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 7919) & 0xff;
      fs.writeFileSync(file, bytes);
    } else if (damage === 'truncated') {
      fs.truncateSync(file, Math.floor(original.length / 2));
    } else {
      fs.writeFileSync(file, '');
    }
    const damagedBytes = fs.readFileSync(file);
    const logs: string[] = [];
    const db = await DurableDatabase.open(dir, opts({ log: (level, m) => logs.push(`${level}: ${m}`) }));
    assert.equal(db.recovery.usedBackup, true);
    assert.equal(db.recovery.lostRecords, false);
    assert.equal(db.recovery.corruptFiles.length, 1);
    assert.match(path.basename(db.recovery.corruptFiles[0]), /^state\.db\.corrupt-/);
    assert.deepEqual(fs.readFileSync(db.recovery.corruptFiles[0]), damagedBytes); // kept aside, unchanged
    assert.match(db.recovery.messages[0], /recovered its database from the last good copy/);
    assert.ok(logs.some((l) => l.startsWith('warn: Baton recovered')));
    assert.deepEqual(rowNumbers(db), range(1, 30));
    assert.equal(integrity(db), 'ok');
    insertRows(db, 31, 32);
    db.close();
    const again = await DurableDatabase.open(dir, opts());
    assert.deepEqual(again.recovery.messages, []);
    assert.deepEqual(rowNumbers(again), range(1, 32));
    // The new state.db.bak is good too.
    again.close();
    fs.rmSync(path.join(dir, STORE_FILES.db));
    const fromBak = await DurableDatabase.open(dir, opts());
    assert.deepEqual(rowNumbers(fromBak), range(1, 32));
    fromBak.close();
  });
}

test('both snapshots damaged: rebuilt from the journals, the missing part reported as lost', async () => {
  const dir = await dbWithBackup();
  fs.writeFileSync(path.join(dir, STORE_FILES.db), 'junk');
  fs.writeFileSync(path.join(dir, STORE_FILES.backup), 'junk');
  const db = await DurableDatabase.open(dir, opts());
  assert.equal(db.recovery.corruptFiles.length, 2);
  assert.equal(db.recovery.lostRecords, true);
  assert.match(db.recovery.messages.join('\n'), /missing; those changes are lost/);
  // Records 1..12 (2 migrations + rows 1..10) lived only in the damaged snapshots; replaying the rest
  // without the schema fails, so the store ends up empty but usable and migrated.
  assert.equal(db.schemaVersion, 2);
  insertRows(db, 100, 100);
  assert.deepEqual(rowNumbers(db), [100]);
  db.close();
});

test('torn journal tail is ignored, reported and truncated; later writes work', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  insertRows(db, 1, 5);
  const dir = copyDir(src);
  db.close();
  const journal = path.join(dir, STORE_FILES.journal);
  const content = fs.readFileSync(journal);
  const lastLine = content.subarray(content.lastIndexOf(0x0a, content.length - 2) + 1);
  const half = lastLine.subarray(0, Math.floor(lastLine.length / 2));
  fs.appendFileSync(journal, half);

  const recovered = await DurableDatabase.open(dir, opts());
  assert.equal(recovered.recovery.tornTailBytes, half.length);
  assert.equal(recovered.recovery.lostRecords, false);
  assert.equal(recovered.recovery.usedBackup, false);
  assert.match(recovered.recovery.messages.join('\n'), /incomplete \(unacknowledged\) write/);
  assert.deepEqual(rowNumbers(recovered), range(1, 5));
  insertRows(recovered, 6, 8);
  const copy = copyDir(dir);
  recovered.close();
  const again = await DurableDatabase.open(copy, opts());
  assert.equal(again.recovery.tornTailBytes, 0);
  assert.deepEqual(rowNumbers(again), range(1, 8));
  again.close();
});

test('damage in the middle of a journal: copy kept aside, gap reported', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  insertRows(db, 1, 6);
  const dir = copyDir(src);
  db.close();
  const journal = path.join(dir, STORE_FILES.journal);
  const lines = fs.readFileSync(journal, 'utf8').split('\n');
  lines[4] = lines[4].replace('payload', 'pAyload'); // corrupt record 5 (CRC mismatch)
  fs.writeFileSync(journal, lines.join('\n'));
  const recovered = await DurableDatabase.open(dir, opts());
  assert.equal(recovered.recovery.lostRecords, true);
  assert.ok(recovered.recovery.corruptFiles.some((f) => path.basename(f).startsWith('state.journal.corrupt-')));
  assert.match(recovered.recovery.messages.join('\n'), /damaged at byte/);
  assert.deepEqual(rowNumbers(recovered), range(1, 4)); // records after the damage are not replayed
  recovered.close();
});

test('interrupted snapshot leftovers (.tmp files) are cleaned up on open', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  insertRows(db, 1, 3);
  const dir = copyDir(src);
  db.close();
  fs.writeFileSync(path.join(dir, STORE_FILES.dbTmp), 'half a snapshot');
  const recovered = await DurableDatabase.open(dir, opts());
  assert.deepEqual(rowNumbers(recovered), range(1, 3));
  assert.equal(fs.existsSync(path.join(dir, STORE_FILES.dbTmp)), false);
  recovered.close();
});

test('foreignKeys option: cascades live and in replay; migrations rebuild tables without cascading', async () => {
  const m1 = {
    version: 1,
    description: 'parent/child',
    sql: `CREATE TABLE parent (id TEXT PRIMARY KEY, name TEXT);
          CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parent(id) ON DELETE CASCADE);`,
  };
  const m2 = {
    version: 2,
    description: 'rebuild parent with a new column',
    sql: `CREATE TABLE parent_new (id TEXT PRIMARY KEY, name TEXT, color TEXT NOT NULL DEFAULT 'blue');
          INSERT INTO parent_new (id, name) SELECT id, name FROM parent;
          DROP TABLE parent;
          ALTER TABLE parent_new RENAME TO parent;`,
  };
  const src = tmpDir();
  const first = await DurableDatabase.open(src, { migrations: [m1], foreignKeys: true });
  first.transaction((tx) => {
    tx.run('INSERT INTO parent VALUES (?, ?), (?, ?)', ['p1', 'one', 'p2', 'two']);
    tx.run('INSERT INTO child VALUES (?, ?), (?, ?), (?, ?)', ['c1', 'p1', 'c2', 'p1', 'c3', 'p2']);
  });
  assert.throws(() => first.transaction((tx) => tx.run('INSERT INTO child VALUES (?, ?)', ['bad', 'nope'])), /FOREIGN KEY/);
  const dir = copyDir(src);
  first.close();

  const db = await DurableDatabase.open(dir, { migrations: [m1, m2], foreignKeys: true });
  assert.equal(db.recovery.replayedRecords, 1);
  assert.equal(db.recovery.migrationsApplied, 1);
  assert.equal(db.get<{ c: number }>('SELECT COUNT(*) AS c FROM child')?.c, 3, 'migration did not cascade');
  db.transaction((tx) => tx.run('DELETE FROM parent WHERE id = ?', ['p2']));
  assert.deepEqual(db.all<{ id: string }>('SELECT id FROM child ORDER BY id').map((r) => r.id), ['c1', 'c2']);
  const crash = copyDir(dir);
  db.close();

  // Without state.db, everything after state.db.bak (the migration record too) is replayed.
  fs.rmSync(path.join(crash, STORE_FILES.db));
  const replayed = await DurableDatabase.open(crash, { migrations: [m1, m2], foreignKeys: true });
  assert.equal(replayed.recovery.usedBackup, true);
  assert.equal(replayed.recovery.lostRecords, false);
  assert.ok(replayed.recovery.replayedRecords >= 3);
  assert.equal(replayed.schemaVersion, 2);
  assert.deepEqual(replayed.all<{ id: string }>('SELECT id FROM child ORDER BY id').map((r) => r.id), ['c1', 'c2']);
  assert.deepEqual(replayed.all('SELECT id, color FROM parent'), [{ id: 'p1', color: 'blue' }]);
  replayed.close();
});

// ---------------------------------------------------------------------------------------------------------
// Corruption said honestly (issue 7, item 10)
// ---------------------------------------------------------------------------------------------------------

/** Flips one byte of the first occurrence of `needle` in `file` (inside stored data, not the header). */
function flipByteOf(file: string, needle: string): void {
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf(Buffer.from(needle));
  assert.ok(at > 0, `${needle} is in ${path.basename(file)}`);
  bytes[at] ^= 0x01;
  fs.writeFileSync(file, bytes);
}

test('a flipped byte inside state.db (passes integrity_check) is detected by its checksum; state.db.bak + journals restore it', async () => {
  const dir = await dbWithBackup();
  const file = path.join(dir, STORE_FILES.db);
  flipByteOf(file, payloadFor(15, 50)); // row 15's payload: a data page, invisible to integrity_check
  const damaged = fs.readFileSync(file);
  const db = await DurableDatabase.open(dir, opts());
  assert.equal(db.recovery.usedBackup, true);
  assert.equal(db.recovery.lostRecords, false);
  assert.match(db.recovery.messages.join('\n'), /state\.db is damaged \(its SHA-256 does not match state\.db\.sha256/);
  assert.equal(db.recovery.corruptFiles.length, 1);
  assert.deepEqual(fs.readFileSync(db.recovery.corruptFiles[0]), damaged);
  assert.deepEqual(rowNumbers(db), range(1, 30));
  assert.equal(db.get<{ payload: string }>('SELECT payload FROM rows WHERE n = 15')?.payload, payloadFor(15, 50));
  db.close();
});

test('files of an older Baton (no state.db.sha256, no state.seq) open without a false alarm and get checksums', async () => {
  const dir = await dbWithBackup();
  fs.rmSync(path.join(dir, STORE_FILES.checksums));
  fs.rmSync(path.join(dir, STORE_FILES.ackedSeq));
  const old = await DurableDatabase.open(dir, opts());
  assert.equal(old.recovery.lostRecords, false);
  assert.equal(old.recovery.usedBackup, false);
  assert.deepEqual(rowNumbers(old), range(1, 30));
  insertRows(old, 31, 31);
  old.close(); // snapshot: the old state.db becomes state.db.bak and is listed in state.db.sha256
  assert.ok(fs.existsSync(path.join(dir, STORE_FILES.checksums)));
  fs.writeFileSync(path.join(dir, STORE_FILES.db), 'junk');
  const fromBak = await DurableDatabase.open(dir, opts());
  assert.equal(fromBak.recovery.usedBackup, true);
  assert.equal(fromBak.recovery.lostRecords, false, fromBak.recovery.messages.join('\n'));
  assert.deepEqual(rowNumbers(fromBak), range(1, 31));
  fromBak.close();
});

test('a flipped byte in the last journal record: the acknowledged change is reported lost, the file kept', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  insertRows(db, 1, 5);
  const dir = copyDir(src);
  db.close();
  const journal = path.join(dir, STORE_FILES.journal);
  flipByteOf(journal, payloadFor(5, 50));
  const damaged = fs.readFileSync(journal);
  const recovered = await DurableDatabase.open(dir, opts());
  assert.equal(recovered.recovery.lostRecords, true);
  assert.equal(recovered.recovery.lostChanges, 1);
  const text = recovered.recovery.messages.join('\n');
  assert.doesNotMatch(text, /unacknowledged/);
  assert.match(text, /1 acknowledged change was lost/);
  assert.match(recovered.recovery.messages[0], /1 acknowledged change could not be restored/);
  const kept = recovered.recovery.corruptFiles.find((f) => path.basename(f).startsWith('state.journal.corrupt-'));
  assert.ok(kept, text);
  assert.deepEqual(fs.readFileSync(kept), damaged);
  assert.deepEqual(rowNumbers(recovered), range(1, 4));
  recovered.close();
  const again = await DurableDatabase.open(dir, opts()); // reported once, not at every open
  assert.deepEqual(again.recovery.messages, []);
  again.close();
});

test('a journal truncated at a record boundary: the cut acknowledged changes are counted and the file kept', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  insertRows(db, 1, 8);
  const dir = copyDir(src);
  db.close();
  const journal = path.join(dir, STORE_FILES.journal);
  const lines = fs.readFileSync(journal, 'utf8').split('\n');
  fs.writeFileSync(journal, lines.slice(0, 5).join('\n') + '\n'); // keep rows 1..5, cut 6..8
  const recovered = await DurableDatabase.open(dir, opts());
  assert.equal(recovered.recovery.lostChanges, 3);
  assert.match(recovered.recovery.messages.join('\n'), /state\.journal ends at record \d+ but records up to \d+ were acknowledged/);
  assert.match(recovered.recovery.messages.join('\n'), /3 acknowledged changes were lost/);
  const kept = recovered.recovery.corruptFiles.find((f) => path.basename(f).startsWith('state.journal.corrupt-'));
  assert.ok(kept);
  assert.equal(fs.readFileSync(kept, 'utf8').split('\n').length, 6);
  assert.deepEqual(rowNumbers(recovered), range(1, 5));
  recovered.close();
});

test('a deleted journal: the acknowledged changes it held are counted as lost', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  insertRows(db, 1, 3);
  db.snapshot();
  insertRows(db, 4, 7);
  const dir = copyDir(src);
  db.close();
  fs.rmSync(path.join(dir, STORE_FILES.journal));
  const recovered = await DurableDatabase.open(dir, opts());
  assert.equal(recovered.recovery.lostChanges, 4);
  assert.match(recovered.recovery.messages.join('\n'), /state\.journal is missing but records up to \d+ were acknowledged/);
  assert.deepEqual(rowNumbers(recovered), range(1, 3));
  recovered.close();
});

test('a damaged state.journal.prev while state.db is fine raises no alarm', async () => {
  const dir = await dbWithBackup();
  const prev = path.join(dir, STORE_FILES.prevJournal);
  const lines = fs.readFileSync(prev, 'utf8').split('\n');
  lines[1] = lines[1].replace('payload', 'pAyload');
  fs.writeFileSync(prev, lines.join('\n'));
  const logs: string[] = [];
  const db = await DurableDatabase.open(dir, opts({ log: (level, m) => logs.push(`${level}: ${m}`) }));
  assert.deepEqual(db.recovery.messages, []);
  assert.equal(db.recovery.lostRecords, false);
  assert.deepEqual(db.recovery.corruptFiles, []);
  assert.ok(!logs.some((l) => l.startsWith('warn') || l.startsWith('error')), logs.join('\n'));
  assert.deepEqual(rowNumbers(db), range(1, 30));
  db.close();
});

for (const name of [STORE_FILES.db, STORE_FILES.journal] as const) {
  test(`${name} being a directory gives a clear error naming the path, and nothing is changed`, async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, name));
    const before = fs.readdirSync(dir).sort();
    await assert.rejects(DurableDatabase.open(dir, opts()), (err: Error) => {
      assert.doesNotMatch(err.message, /EISDIR/);
      assert.ok(err.message.includes(path.join(dir, name)), err.message);
      assert.match(err.message, /is a directory/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir).sort(), before);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Group commit (issue 7, item 14)
// ---------------------------------------------------------------------------------------------------------

test('group commit: concurrent writes share one fdatasync, are on disk when durable() resolves, and the snapshot they make due runs after', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts({ snapshotMinJournalBytes: 4096 }));
  const nodeFs = require('node:fs') as typeof fs; // the module object itself (import * gives read-only getters)
  const realSync = nodeFs.fdatasyncSync;
  const realAsync = nodeFs.fdatasync;
  let syncCalls = 0;
  let asyncCalls = 0;
  nodeFs.fdatasyncSync = (fd) => { syncCalls++; realSync(fd); };
  nodeFs.fdatasync = ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => { asyncCalls++; realAsync(fd, cb); }) as typeof fs.fdatasync;
  try {
    // 20 "callers" in the same turn, as concurrent MCP calls are: each writes, then waits for its flush.
    const acks = Array.from({ length: 20 }, (_, k) => {
      db.groupCommit(() => insertRows(db, k + 1, k + 1, 5000));
      return db.durable();
    });
    assert.equal(syncCalls, 0, 'no write waited for its own fdatasync');
    // All 20 records are still in the journal although a snapshot became due (journal > database / 2).
    assert.ok(db.journalSizeBytes >= 20 * 5000 && db.journalSizeBytes > db.sizeBytes() / 2, 'no snapshot inside a write');
    await Promise.all(acks);
    // The first caller's flush starts at once; the 19 writes made while it runs share the next one.
    assert.equal(asyncCalls, 2, 'two fdatasyncs for 20 writes');
    const image = copyDir(src); // what a kill -9 right after the acknowledgments would leave
    const crashed = await DurableDatabase.open(image, opts());
    assert.deepEqual(rowNumbers(crashed), range(1, 20));
    crashed.close();
    await new Promise((r) => setImmediate(r));
    await db.snapshotSettled(); // it runs in the background: its file is written off the event loop
    assert.equal(db.journalSizeBytes, 0, 'the due snapshot ran after the acknowledgment');
    // Nothing pending: durable() resolves without a flush.
    await db.durable();
    assert.equal(asyncCalls, 2);
  } finally {
    nodeFs.fdatasyncSync = realSync;
    nodeFs.fdatasync = realAsync;
    db.close();
  }
});

test('group commit: writes made while a flush runs get their own flush beside it (at most 2 at once), each caller is released by the first that covers it, state.seq names only flushed records', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  const nodeFs = require('node:fs') as typeof fs;
  const realAsync = nodeFs.fdatasync;
  const held: (() => void)[] = []; // fdatasyncs issued and not yet let finish, oldest first
  nodeFs.fdatasync = ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    held.push(() => realAsync(fd, cb));
  }) as typeof fs.fdatasync;
  const ackedSeq = () => Number(fs.readFileSync(path.join(src, STORE_FILES.ackedSeq), 'latin1').slice(0, 16));
  const settled = (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
  const turn = () => new Promise((r) => setImmediate(r));
  const write = (n: number) => {
    db.groupCommit(() => insertRows(db, n, n));
    return db.durable();
  };
  try {
    const before = db.seq;
    const first = write(1);
    assert.equal(held.length, 1, 'with no flush running, flush 1 is issued at once');
    const second = write(2); // appended while flush 1 runs: flush 1 does not cover it
    await turn();
    assert.equal(held.length, 2, 'flush 2 issued beside flush 1, at the end of the turn');
    const third = write(3);
    await turn();
    assert.equal(held.length, 2, 'no third flush while two run');
    assert.equal(ackedSeq(), before, 'state.seq is not advanced before a flush returns');
    held.shift()!();
    assert.equal(await settled(first), true, 'the first caller is acknowledged by flush 1');
    assert.equal(await settled(second), false, 'the second caller waits for flush 2');
    assert.equal(ackedSeq(), before + 1, 'state.seq holds what flush 1 covered');
    assert.equal(held.length, 2, 'flush 3 issued when flush 1 returned');
    held.shift()!();
    assert.equal(await settled(second), true);
    assert.equal(await settled(third), false);
    assert.equal(ackedSeq(), before + 2);
    held.shift()!();
    assert.equal(await settled(third), true);
    assert.equal(ackedSeq(), before + 3);
    const crashed = await DurableDatabase.open(copyDir(src), opts());
    assert.deepEqual(rowNumbers(crashed), [1, 2, 3]);
    assert.equal(crashed.recovery.lostRecords, false);
    crashed.close();
  } finally {
    nodeFs.fdatasync = realAsync;
    for (const release of held) release();
    db.close();
  }
});

test('group commit: the flush starts when the record is appended, before the caller asks; after a failed fdatasync no later one acknowledges anything', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  const nodeFs = require('node:fs') as typeof fs;
  const realAsync = nodeFs.fdatasync;
  const held: ((err?: NodeJS.ErrnoException) => void)[] = [];
  nodeFs.fdatasync = ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    held.push(err => (err ? cb(err) : realAsync(fd, cb)));
  }) as typeof fs.fdatasync;
  try {
    db.groupCommit(() => insertRows(db, 1, 1));
    assert.equal(held.length, 1, 'the fdatasync is issued with the append, while the caller still builds its answer');
    const first = db.durable();
    assert.equal(held.length, 1, 'durable() waits for the flush already running');
    held.shift()!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await assert.rejects(first, /could not be flushed to disk: EIO/);
    // The disk "recovers": a later fdatasync would succeed, but the pages of the failed one may be gone.
    assert.throws(() => db.groupCommit(() => insertRows(db, 2, 2)), /reopen/);
    await assert.rejects(db.durable(), /could not be flushed to disk: EIO/);
    assert.equal(held.length, 0, 'no fdatasync is issued after the failure');
  } finally {
    nodeFs.fdatasync = realAsync;
    for (const release of held) release();
    db.close();
  }
});

test('group commit: a snapshot taken while a flush is running neither fails the flush nor loses writes', async () => {
  const src = tmpDir();
  const db = await DurableDatabase.open(src, opts());
  const acks: Promise<void>[] = [];
  for (let k = 1; k <= 5; k++) {
    db.groupCommit(() => insertRows(db, k, k));
    acks.push(db.durable());
  }
  db.snapshot(); // closes and replaces the journal fd the flush is using
  db.groupCommit(() => insertRows(db, 6, 6));
  acks.push(db.durable());
  await Promise.all(acks);
  insertRows(db, 7, 7);
  const image = copyDir(src);
  const crashed = await DurableDatabase.open(image, opts());
  assert.deepEqual(rowNumbers(crashed), range(1, 7));
  assert.equal(crashed.recovery.lostRecords, false);
  crashed.close();
  db.close();
});

// ---------------------------------------------------------------------------------------------------------
// Background snapshots (issue 7, items 8 and 14: a snapshot does not hold the event loop while it writes)
// ---------------------------------------------------------------------------------------------------------

/** Group-commit writes of rows `from..to` (each acknowledged), as the owner makes them. */
async function groupRows(db: DurableDatabase, from: number, to: number, size = 2000): Promise<void> {
  for (let n = from; n <= to; n++) {
    db.groupCommit(() => insertRows(db, n, n, size));
    await db.durable();
  }
}

/** Opens a copy of `dir` (optionally without state.db, as if it were lost) and returns its rows and report. */
async function reopenCopy(dir: string, dropDb: boolean): Promise<{ rows: number[]; lost: boolean }> {
  const copy = copyDir(dir);
  if (dropDb) fs.rmSync(path.join(copy, STORE_FILES.db));
  const r = await DurableDatabase.open(copy, opts());
  try {
    return { rows: rowNumbers(r), lost: r.recovery.lostRecords };
  } finally {
    r.close();
  }
}

test('background snapshot: writes made while its file is written are kept, also after state.db is lost, over several rotations', async () => {
  const dir = tmpDir();
  const db = await DurableDatabase.open(dir, opts({ snapshotMinJournalBytes: 4096 }));
  let n = 0;
  for (let round = 1; round <= 4; round++) {
    // Write until a snapshot is due; it starts after the flush that acknowledges the write (setImmediate).
    const seqBefore = fs.existsSync(path.join(dir, STORE_FILES.db)) ? fs.statSync(path.join(dir, STORE_FILES.db)).mtimeMs : 0;
    while (db.journalSizeBytes <= Math.max(4096, db.sizeBytes() / 2)) await groupRows(db, ++n, n);
    await new Promise((r) => setImmediate(r));
    // While its file is being written, more acknowledged writes land (they stay in the journal).
    const during = n;
    await groupRows(db, n + 1, n + 3);
    n += 3;
    await db.snapshotSettled();
    const after = fs.statSync(path.join(dir, STORE_FILES.db)).mtimeMs;
    assert.notEqual(after, seqBefore, `round ${round}: a snapshot was written`);
    assert.ok(db.journalSizeBytes > 0, `round ${round}: the writes after the export (${during + 1}..${n}) start the new journal`);
    for (const dropDb of [false, true]) {
      const r = await reopenCopy(dir, dropDb);
      assert.deepEqual(r.rows, range(1, n), `round ${round}, state.db ${dropDb ? 'lost' : 'kept'}: every acknowledged row`);
      assert.equal(r.lost, false);
    }
  }
  db.close();
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file is left');
  const reopened = await DurableDatabase.open(dir, opts());
  assert.deepEqual(rowNumbers(reopened), range(1, n));
  assert.equal(reopened.recovery.replayedRecords, 0, 'close() took the final snapshot');
  reopened.close();
});

test('background snapshot: close() or a snapshot() while it writes supersedes it; nothing is lost or half-renamed', async () => {
  for (const interrupt of ['close', 'snapshot'] as const) {
    const dir = tmpDir();
    const db = await DurableDatabase.open(dir, opts({ snapshotMinJournalBytes: 4096 }));
    let n = 0;
    while (db.journalSizeBytes <= Math.max(4096, db.sizeBytes() / 2)) await groupRows(db, ++n, n);
    await new Promise((r) => setImmediate(r)); // the background snapshot has exported and is writing
    insertRows(db, n + 1, n + 1);
    n++;
    if (interrupt === 'close') {
      db.close();
      await new Promise((r) => setTimeout(r, 50)); // let the superseded write finish
    } else {
      db.snapshot();
      await db.snapshotSettled();
      insertRows(db, n + 1, n + 1);
      n++;
      db.close();
    }
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], `${interrupt}: no temp file is left`);
    const r = await DurableDatabase.open(dir, opts());
    assert.deepEqual(rowNumbers(r), range(1, n), interrupt);
    assert.equal(r.recovery.replayedRecords, 0, `${interrupt}: the last snapshot holds everything`);
    assert.equal(r.recovery.corruptFiles.length, 0);
    r.close();
  }
});
