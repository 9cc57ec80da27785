/**
 * Crash-safe SQLite storage for Baton on top of sql.js.
 *
 * sql.js keeps the whole database in (wasm) memory and can only serialize it as a whole (`db.export()`,
 * tens of milliseconds and a second full copy in memory at ~50 MB). Exporting on every write would make each
 * write cost O(database size), so durability comes from a write-ahead *logical journal* instead:
 *
 *  - Every write goes through {@link DurableDatabase.transaction}. Its statements run on the in-memory
 *    database inside BEGIN/COMMIT; on success ONE journal record (the statements and their parameters) is
 *    appended to `state.journal` and flushed to disk (`fs.writeSync` + `fs.fdatasyncSync`) before
 *    `transaction()` returns. Returning normally IS the acknowledgment: from then on the write survives the
 *    process being killed (SIGKILL) at any instant. The cost is O(size of the transaction), independent of
 *    the database size.
 *  - From time to time the whole database is written as a snapshot (`state.db`) and the journal is rotated.
 *    A snapshot is triggered when the journal exceeds `max(snapshotMinJournalBytes, databaseSize / 2)`, so
 *    for every byte of snapshot written at least half a byte of journal was written: the amortized cost per
 *    journal byte stays constant however large the database grows.
 *  - On open, the newest valid snapshot is loaded and the journal records newer than it are replayed.
 *
 * Files in the storage directory:
 *  - `state.db`            last snapshot (a normal SQLite file; `_baton_meta.seq` = last record it contains)
 *  - `state.db.bak`        previous good snapshot
 *  - `state.journal.prev`  records written between the previous snapshot and the last one
 *  - `state.journal`       records written since the last snapshot (the one being appended to)
 *  - `state.db.sha256`     SHA-256 of the last snapshots written (JSON `{ v: 1, snapshots: [{ seq, bytes,
 *                          sha256 }] }`, newest first, at most 4), replaced atomically before each snapshot
 *                          is renamed into place, so every `state.db` / `state.db.bak` written since has its
 *                          checksum listed at every instant. A snapshot whose SHA-256 is not listed is damaged
 *                          (a flipped byte that `PRAGMA integrity_check` cannot see), unless it is older than
 *                          every listed one (written before checksums existed). Missing file = old format:
 *                          snapshots are then checked by `integrity_check` only.
 *  - `state.seq`           the last acknowledged record number (`<16 digits> <crc32 of them, 8 hex>\n`),
 *                          rewritten in place after each acknowledged write. On open, acknowledged records
 *                          above what the journals still hold were cut (journal truncated, deleted or
 *                          damaged at its end) and are reported as lost, with their count. It is written
 *                          after the record's fdatasync and not itself synced per write (it is synced at each
 *                          snapshot and on close): it survives process crashes (SIGKILL) and can only lag
 *                          after a power loss, so the loss count can be too low, never too high. Missing =
 *                          old format: no count.
 *  - `*.tmp`               in-flight temporary files (removed on open)
 *  - `*.corrupt-<time>`    damaged files set aside by recovery (never deleted automatically)
 *
 * Invariant: `state.db.bak` + `state.journal.prev` + `state.journal` reconstruct every acknowledged write at
 * every instant, including in the middle of a snapshot, so losing/damaging `state.db` never loses data.
 *
 * Snapshot steps (each rename is atomic; the directory is fsynced so they reach the disk in order):
 *  1. export → write `state.db.tmp` → fsync.
 *  2. hard-link `state.db` → `state.db.bak.tmp` → rename over `state.db.bak` (an improvement over renaming
 *     `state.db` away: `state.db` never disappears, so a crash here never looks like a damaged database;
 *     filesystems without hard links fall back to renaming `state.db` → `state.db.bak`).
 *  3. rename `state.db.tmp` → `state.db`; fsync the directory.
 *  4. rotate: close `state.journal`, rename it over `state.journal.prev`, open a fresh `state.journal`;
 *     fsync the directory.
 *  When the on-disk `state.db` is not a snapshot this process loaded or wrote (it was missing or damaged at
 *  open), step 2 instead makes `state.db.bak` a copy of the NEW snapshot after step 3, because the old
 *  `state.db.bak` is not covered by the journals that remain after the rotation.
 *
 * Journal record format (one line per record, UTF-8):
 *     `<length>\t<crc32 hex, 8 lowercase digits>\t<json>\n`
 *  where `length` is the byte length of `<json>` and the CRC-32 (IEEE) is computed over those bytes; json is
 *  `{ "seq": n, "v": schemaVersion, "stmts": [[sql, params|null], ...], "m"?: 1 }` (`m` marks a migration).
 *  Parameters are JSON values; a `Uint8Array` is encoded as `{ "$b64": "<base64>" }` and a non-finite number
 *  as `{ "$num": "NaN" | "Infinity" | "-Infinity" }`. A record that fails any check (length, CRC, JSON,
 *  shape) ends the readable part of a journal: it is the unacknowledged tail of a crash.
 *
 * DETERMINISM REQUIREMENT: records are replayed by re-executing their statements, so a statement must
 * produce the same effect when re-run on the same data. Callers must pass timestamps, ids, random values,
 * etc. as parameters. SQL that obviously reads the clock or a random source (`random()`, `randomblob()`,
 * `'now'`, `CURRENT_TIMESTAMP/DATE/TIME`, `datetime()`-style calls without arguments) is rejected with an
 * Error, both in transactions and in migrations (a `DEFAULT CURRENT_TIMESTAMP` column would make every later
 * INSERT non-deterministic). The check is best-effort; the rule applies regardless.
 *
 * Other rules enforced:
 *  - Only {@link DurableDatabase.transaction} may write: {@link DurableDatabase.all} and `get` refuse a statement
 *    whose compiled program writes (checked once per SQL text, see `assertReadOnly`), so a write sneaked
 *    through them fails instead of silently bypassing the journal.
 *  - Transaction control (`BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/END`), `ATTACH/DETACH` and `VACUUM` are
 *    rejected inside `tx.run`.
 *  - If any `tx.run` throws, the whole transaction is rolled back and `transaction()` rethrows that error,
 *    even if the callback caught it (a half-applied statement could not be replayed faithfully). Use
 *    UPSERT (`INSERT ... ON CONFLICT`) instead of try/catch around a failing INSERT.
 *  - Connection settings are fixed by this class (`foreign_keys` per options, default off) so live and replay
 *    behave identically; do not change connection pragmas. Tables named `_baton_*` are reserved.
 *
 * ONE WRITER: this class does not lock the directory. The caller must hold the {@link OwnerLock} of the
 * directory (see ./ownerLock.ts) for as long as the DurableDatabase is open; two processes appending to the
 * same journal would corrupt it.
 *
 * Platform notes: durability relies on fsync reaching stable storage. On Linux and Windows it does; on macOS
 * `fsync` does not flush the drive cache (node exposes no F_FULLFSYNC), which protects against process
 * crashes (the requirement) but not fully against power loss. Directory fsync is not supported on Windows
 * and is skipped there (NTFS journals metadata).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { createHash } from 'crypto';
import type { Database, SqlJsStatic, Statement } from 'sql.js';
import { loadSqlJs } from './sqlJsLoader';
import { mkdirPrivate, PRIVATE_FILE_MODE, tightenStateFolder } from './fileModes';

/** A value that can be bound to a `?`/`:name` placeholder. Booleans, bigint, undefined, Dates are rejected. */
export type SqlParam = string | number | null | Uint8Array;
/**
 * Positional (`?`, `?NNN`) parameters as an array, or named parameters as an object whose keys include the
 * prefix used in the SQL (`{ ':id': 1 }` for `:id`, `{ '$id': 1 }` for `$id`, `{ '@id': 1 }` for `@id`).
 */
export type SqlParams = SqlParam[] | Record<string, SqlParam>;

/** A schema migration. `version`s are 1, 2, 3, ... in order; `sql` may hold several statements. */
export interface Migration {
  version: number;
  description: string;
  /** DDL/DML run inside one transaction; must not contain transaction control and must be deterministic. */
  sql: string;
}

export type LogLevel = 'info' | 'warn' | 'error';

export interface DurableDatabaseOptions {
  /** All migrations the code knows, ascending from version 1 without gaps. May be empty. */
  migrations: Migration[];
  /** Receives diagnostics (recovery events as 'warn', failed background snapshots as 'error'). */
  log?: (level: LogLevel, message: string) => void;
  /** Minimum journal size in bytes before an automatic snapshot is taken. Default 1 MiB (1048576). */
  snapshotMinJournalBytes?: number;
  /**
   * `PRAGMA foreign_keys` for the connection, live and during replay alike. Default false (SQLite's default;
   * Baton's schema documents references without enforcing them). Must stay the same for a given directory,
   * since replay has to behave exactly like the original run. When true, migrations run with foreign keys
   * off and are followed by `PRAGMA foreign_key_check` (SQLite's documented procedure for schema changes),
   * so table rebuilds in migrations do not cascade.
   */
  foreignKeys?: boolean;
}

/** What {@link DurableDatabase.open} had to do to bring the database back. All-zero/empty = clean open. */
export interface RecoveryReport {
  /** The base snapshot was `state.db.bak` because `state.db` was missing or damaged. */
  usedBackup: boolean;
  /** Paths (absolute) where damaged files were set aside (`*.corrupt-<time>`); never deleted. */
  corruptFiles: string[];
  /** Journal records re-applied on top of the base snapshot. */
  replayedRecords: number;
  /** Bytes cut from the end of journal files (unacknowledged, partially written records). */
  tornTailBytes: number;
  /** Some acknowledged writes could not be restored (gap in record numbers or a record failed to apply). */
  lostRecords: boolean;
  /** Records that were present but failed to apply during replay (included in `lostRecords`). */
  failedRecords: number;
  /**
   * Acknowledged changes known to be lost: records cut from the end of the journal (counted against
   * `state.seq`), gaps in record numbers, and records that failed to apply. 0 when nothing was lost or
   * the count is unknown (files of an older Baton without `state.seq`; `lostRecords` is still set then).
   */
  lostChanges: number;
  /** Migrations applied during this open. */
  migrationsApplied: number;
  /** Human-readable description of each event, suitable for showing to the user. */
  messages: string[];
}

/** Result of {@link WriteTx.run}. */
export interface RunResult {
  /** Rows inserted/updated/deleted by the statement(s) (sum over statements in `sql`). */
  changes: number;
  /** `last_insert_rowid()` after the statement(s); read it before the transaction runs another statement. */
  readonly lastInsertRowid: number;
}

/** Handle passed to the {@link DurableDatabase.transaction} callback. Valid only during that callback. */
export interface WriteTx {
  /**
   * Executes `sql` (several `;`-separated statements are allowed only without `params`) and records it in
   * the transaction's journal record.
   * @throws Error on SQL errors, on non-deterministic or forbidden SQL, or TypeError on invalid params. Any
   *   throw dooms the whole transaction (see the module docs).
   */
  run(sql: string, params?: SqlParams): RunResult;
  /** Reads inside the transaction (sees its uncommitted changes). See {@link DurableDatabase.all}. */
  all<T = Record<string, unknown>>(sql: string, params?: SqlParams): T[];
  /** First row or undefined. See {@link DurableDatabase.get}. */
  get<T = Record<string, unknown>>(sql: string, params?: SqlParams): T | undefined;
}

/** File names used inside the storage directory. */
export const STORE_FILES = {
  db: 'state.db',
  backup: 'state.db.bak',
  journal: 'state.journal',
  prevJournal: 'state.journal.prev',
  journalTmp: 'state.journal.tmp',
  dbTmp: 'state.db.tmp',
  backupTmp: 'state.db.bak.tmp',
  checksums: 'state.db.sha256',
  checksumsTmp: 'state.db.sha256.tmp',
  ackedSeq: 'state.seq',
} as const;

const DEFAULT_SNAPSHOT_MIN_JOURNAL_BYTES = 1024 * 1024;
const META_TABLE = '_baton_meta';

type EncodedParam = string | number | null | { $b64: string } | { $num: string };
type EncodedParams = EncodedParam[] | Record<string, EncodedParam>;
type EncodedStmt = [string, EncodedParams | null];

interface JournalRecord {
  seq: number;
  v: number;
  stmts: EncodedStmt[];
  m?: 1;
}

// ---------------------------------------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;

/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init/xorout 0xFFFFFFFF — the checksum of zlib, gzip
 * and PNG), computed with the classic byte-wise table algorithm (Sarwate 1988) as given in the sample code
 * of RFC 1952 section 8 and the PNG specification, Annex D. Used when `zlib.crc32` is unavailable
 * (node < 20.15 / < 22.2).
 * @returns the checksum as an unsigned 32-bit integer.
 */
export function crc32Ieee(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const crc32: (data: Uint8Array) => number =
  typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) >>> 0 : crc32Ieee;

// ---------------------------------------------------------------------------------------------------------
// Parameter validation / encoding
// ---------------------------------------------------------------------------------------------------------

function checkParam(value: unknown, where: string): SqlParam {
  if (value === null || typeof value === 'string' || typeof value === 'number' || value instanceof Uint8Array) {
    return value;
  }
  throw new TypeError(
    `Baton: SQL parameter ${where} has unsupported type ${value === undefined ? 'undefined' : typeof value}` +
      ' (allowed: string, number, null, Uint8Array)',
  );
}

function encodeParam(value: SqlParam): EncodedParam {
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $num: String(value) };
  if (value instanceof Uint8Array) {
    return { $b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  return value;
}

/** Validates params and returns their journal encoding (null when there are none). */
function encodeParams(params: SqlParams | undefined | null): EncodedParams | null {
  if (params === undefined || params === null) return null;
  if (Array.isArray(params)) return params.map((p, i) => encodeParam(checkParam(p, `#${i + 1}`)));
  if (typeof params !== 'object' || params instanceof Uint8Array) {
    throw new TypeError('Baton: SQL params must be an array or a plain object');
  }
  const out: Record<string, EncodedParam> = {};
  for (const [key, value] of Object.entries(params)) out[key] = encodeParam(checkParam(value, `'${key}'`));
  return out;
}

/** Validates params without encoding them (reads). @throws TypeError */
function checkParams(params: SqlParams | undefined): void {
  if (params === undefined || params === null) return;
  if (Array.isArray(params)) params.forEach((p, i) => checkParam(p, `#${i + 1}`));
  else if (typeof params !== 'object' || params instanceof Uint8Array) {
    throw new TypeError('Baton: SQL params must be an array or a plain object');
  } else for (const [key, value] of Object.entries(params)) checkParam(value, `'${key}'`);
}

function decodeParam(value: EncodedParam): SqlParam {
  if (value !== null && typeof value === 'object') {
    if ('$b64' in value) {
      const buf = Buffer.from(value.$b64, 'base64');
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return Number(value.$num);
  }
  return value;
}

function decodeParams(params: EncodedParams | null): SqlParams | undefined {
  if (params === null) return undefined;
  if (Array.isArray(params)) return params.map(decodeParam);
  const out: Record<string, SqlParam> = {};
  for (const [key, value] of Object.entries(params)) out[key] = decodeParam(value);
  return out;
}

function isEncodedParam(value: unknown): value is EncodedParam {
  if (value === null || typeof value === 'string' || typeof value === 'number') return true;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const v = (value as Record<string, unknown>)[keys[0]];
  return (keys[0] === '$b64' || keys[0] === '$num') && typeof v === 'string';
}

function isEncodedParams(value: unknown): value is EncodedParams | null {
  if (value === null) return true;
  if (Array.isArray(value)) return value.every(isEncodedParam);
  return typeof value === 'object' && Object.values(value as object).every(isEncodedParam);
}

// ---------------------------------------------------------------------------------------------------------
// SQL guards
// ---------------------------------------------------------------------------------------------------------

const NON_DETERMINISTIC =
  /\b(?:random|randomblob)\s*\(|\bcurrent_(?:timestamp|date|time)\b|'now'|"now"|\b(?:date|time|datetime|julianday|unixepoch)\s*\(\s*\)|\bstrftime\s*\(\s*'[^']*'\s*\)/i;
const FORBIDDEN_IN_TX = /^\s*(?:BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|ATTACH|DETACH|VACUUM)\b/i;

function assertDeterministic(sql: string): void {
  const m = NON_DETERMINISTIC.exec(sql);
  if (m) {
    throw new Error(
      `Baton: non-deterministic SQL (${m[0].trim()}) is not allowed in journaled writes: pass the value ` +
        'as a parameter instead (statements are re-executed when the journal is replayed)',
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Journal reading
// ---------------------------------------------------------------------------------------------------------

const TAB = 0x09;
const NEWLINE = 0x0a;

function isRecord(value: unknown): value is JournalRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(r.seq) &&
    (r.seq as number) > 0 &&
    Number.isSafeInteger(r.v) &&
    (r.v as number) >= 0 &&
    (r.m === undefined || r.m === 1) &&
    Array.isArray(r.stmts) &&
    r.stmts.every(
      (s: unknown) => Array.isArray(s) && s.length === 2 && typeof s[0] === 'string' && isEncodedParams(s[1]),
    )
  );
}

/** Parses one record starting at `pos`; returns it and the offset after its newline, or null if invalid. */
function parseRecordAt(buf: Buffer, pos: number): { record: JournalRecord; end: number } | null {
  let i = pos;
  let length = 0;
  while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39 && i - pos < 12) length = length * 10 + (buf[i++] - 0x30);
  if (i === pos || i >= buf.length || buf[i] !== TAB) return null;
  const crcStart = i + 1;
  const crcEnd = crcStart + 8;
  if (crcEnd >= buf.length || buf[crcEnd] !== TAB) return null;
  const crcText = buf.toString('latin1', crcStart, crcEnd);
  if (!/^[0-9a-f]{8}$/.test(crcText)) return null;
  const jsonStart = crcEnd + 1;
  const jsonEnd = jsonStart + length;
  if (jsonEnd >= buf.length || buf[jsonEnd] !== NEWLINE) return null;
  const json = buf.subarray(jsonStart, jsonEnd);
  if (crc32(json) !== parseInt(crcText, 16)) return null;
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    return null;
  }
  return isRecord(value) ? { record: value, end: jsonEnd + 1 } : null;
}

interface JournalContents {
  name: string;
  exists: boolean;
  size: number;
  records: JournalRecord[];
  /** Length of the valid prefix; bytes after it are a torn tail (or damage). */
  validBytes: number;
  /** A valid record exists after the invalid one: damage in the middle, not just a torn tail. */
  validRecordsAfterDamage: boolean;
}

function readJournal(dir: string, name: string): JournalContents {
  const buf = readStoreFile(path.join(dir, name));
  if (buf === null) return { name, exists: false, size: 0, records: [], validBytes: 0, validRecordsAfterDamage: false };
  const records: JournalRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const parsed = parseRecordAt(buf, pos);
    if (!parsed) break;
    records.push(parsed.record);
    pos = parsed.end;
  }
  let validRecordsAfterDamage = false;
  if (pos < buf.length) {
    for (let nl = buf.indexOf(NEWLINE, pos); nl !== -1 && nl + 1 < buf.length; nl = buf.indexOf(NEWLINE, nl + 1)) {
      if (parseRecordAt(buf, nl + 1)) {
        validRecordsAfterDamage = true;
        break;
      }
    }
  }
  return { name, exists: true, size: buf.length, records, validBytes: pos, validRecordsAfterDamage };
}

// ---------------------------------------------------------------------------------------------------------
// File helpers
// ---------------------------------------------------------------------------------------------------------

/**
 * Reads a file of the storage directory whole; null if it does not exist.
 * @throws Error naming the path when it is a directory (or another non-file), other I/O errors as they are.
 */
function readStoreFile(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EISDIR') {
      throw new Error(
        `Baton: ${file} is a directory, not a file of Baton's state; move it out of the way and reopen ` +
          '(no file was changed).',
      );
    }
    throw err;
  }
}

/** One snapshot's checksum as listed in `state.db.sha256`. */
interface SnapshotChecksum {
  seq: number;
  bytes: number;
  sha256: string;
}

/** SHA-256 (hex) of `data`, hashed 1 MiB at a time with a turn of the event loop between the pieces. */
async function sha256HexInSlices(data: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  const piece = 1 << 20;
  for (let off = 0; off < data.length; off += piece) {
    hash.update(data.subarray(off, Math.min(off + piece, data.length)));
    if (off + piece < data.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return hash.digest('hex');
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads `state.db.sha256`. `entries` is null when the file is missing (old format) or unreadable (then
 * `error` says why and snapshots are checked as in the old format, with a warning).
 */
function readChecksums(dir: string): { entries: SnapshotChecksum[] | null; error?: string } {
  const buf = readStoreFile(path.join(dir, STORE_FILES.checksums));
  if (buf === null) return { entries: null };
  try {
    const value = JSON.parse(buf.toString('utf8')) as { v?: unknown; snapshots?: unknown };
    const list = value.snapshots;
    if (
      value.v === 1 &&
      Array.isArray(list) &&
      list.length > 0 &&
      list.every(
        (e: SnapshotChecksum) =>
          Number.isSafeInteger(e?.seq) && Number.isSafeInteger(e?.bytes) && /^[0-9a-f]{64}$/.test(String(e?.sha256)),
      )
    ) {
      return { entries: list as SnapshotChecksum[] };
    }
  } catch {
    // fall through
  }
  return { entries: null, error: `${STORE_FILES.checksums} is unreadable` };
}

/** Replaces `state.db.sha256` atomically (tmp + fsync + rename + directory fsync). */
function writeChecksums(dir: string, entries: SnapshotChecksum[]): void {
  const tmp = path.join(dir, STORE_FILES.checksumsTmp);
  writeFileDurable(tmp, Buffer.from(JSON.stringify({ v: 1, snapshots: entries }) + '\n', 'utf8'));
  fs.renameSync(tmp, path.join(dir, STORE_FILES.checksums));
  fsyncDir(dir);
}

/** `state.seq` content for `seq`: 16 digits, a space, the CRC-32 of the digits (8 hex), newline (26 bytes). */
function encodeAckedSeq(seq: number): Buffer {
  const digits = String(seq).padStart(16, '0');
  return Buffer.from(`${digits} ${crc32(Buffer.from(digits, 'latin1')).toString(16).padStart(8, '0')}\n`, 'latin1');
}

/** Reads `state.seq`: the number, null when missing (old format), or an error text when damaged. */
function readAckedSeq(dir: string): { seq: number | null; error?: string } {
  const buf = readStoreFile(path.join(dir, STORE_FILES.ackedSeq));
  if (buf === null) return { seq: null };
  const m = /^(\d{16}) ([0-9a-f]{8})\n$/.exec(buf.toString('latin1'));
  if (m && crc32(Buffer.from(m[1], 'latin1')) === parseInt(m[2], 16)) return { seq: Number(m[1]) };
  return { seq: null, error: `${STORE_FILES.ackedSeq} is damaged` };
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/** Writes `data` to `file` (replacing it) and fsyncs it. */
function writeFileDurable(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file, 'w', PRIVATE_FILE_MODE);
  try {
    writeAll(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes renames/creations in `dir` durable. No-op where directories cannot be fsynced (Windows). */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return;
    throw err;
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EBADF') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

function removeIfExists(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function fileTimestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Returns a path `<file>.corrupt-<time>` (with a counter if taken) that does not exist yet. */
function corruptPath(file: string, stamp: string): string {
  let candidate = `${file}.corrupt-${stamp}`;
  for (let n = 2; fs.existsSync(candidate); n++) candidate = `${file}.corrupt-${stamp}-${n}`;
  return candidate;
}

/** Checks a snapshot file and opens it; returns an error description instead when it is not usable. */
function loadSnapshot(SQL: SqlJsStatic, bytes: Uint8Array): { db: Database; seq: number } | { error: string } {
  if (bytes.length < 512) return { error: `file too small (${bytes.length} bytes)` };
  const header = Buffer.from(bytes.buffer, bytes.byteOffset, 100);
  if (header.toString('latin1', 0, 16) !== 'SQLite format 3\u0000') return { error: 'not an SQLite file' };
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pageCount = header.readUInt32BE(28);
  const headerCountValid = header.readUInt32BE(24) === header.readUInt32BE(92);
  if (headerCountValid && pageCount > 0 && pageCount * pageSize !== bytes.length) {
    return { error: `size ${bytes.length} bytes does not match header (${pageCount} pages of ${pageSize})` };
  }
  let db: Database;
  try {
    db = new SQL.Database(bytes);
  } catch (err) {
    return { error: (err as Error).message };
  }
  try {
    const check = db.exec('PRAGMA integrity_check');
    const rows = check[0]?.values ?? [];
    if (rows.length !== 1 || rows[0][0] !== 'ok') {
      db.close();
      return { error: `integrity check failed: ${rows.slice(0, 3).map((r) => String(r[0])).join('; ')}` };
    }
    const meta = db.exec(`SELECT value FROM ${META_TABLE} WHERE key = 'seq'`);
    const seq = Number(meta[0]?.values[0]?.[0]);
    if (!Number.isSafeInteger(seq) || seq < 0) {
      db.close();
      return { error: 'snapshot has no valid sequence number' };
    }
    return { db, seq };
  } catch (err) {
    db.close();
    return { error: (err as Error).message };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function validateMigrations(migrations: Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(
        `Baton: migrations must have versions 1, 2, 3, ... in order; entry ${i} has version ${m.version}`,
      );
    }
    assertDeterministic(m.sql);
  });
}

// ---------------------------------------------------------------------------------------------------------
// DurableDatabase
// ---------------------------------------------------------------------------------------------------------

/**
 * A sql.js database whose acknowledged writes survive crashes. See the module documentation for the
 * design, file layout and the rules statements must follow. Not safe for concurrent use by several
 * processes (hold the directory's OwnerLock); within a process all methods are synchronous except open().
 */
export class DurableDatabase {
  /** Absolute path of the storage directory. */
  readonly dir: string;
  /** What open() had to do (recovery, replay, migrations). */
  readonly recovery: RecoveryReport;

  private db: Database;
  private readonly log: (level: LogLevel, message: string) => void;
  private readonly minJournalBytes: number;
  private readonly foreignKeys: boolean;
  private journalFd: number | null = null;
  private journalBytes = 0;
  private _seq: number;
  /** seq contained in the on-disk state.db if this process loaded or wrote it; null if unknown/missing. */
  private dbFileSeq: number | null;
  private inTransaction = false;
  private closed = false;
  /** Set when the journal may hold garbage we could not remove; writes are refused from then on. */
  private broken: Error | null = null;
  private nextAutoSnapshotAt = 0;
  /** Highest record number known to be on disk (group commit). */
  private syncedSeq: number;
  /** > 0 inside {@link groupCommit}: appends skip fdatasync. */
  private deferDepth = 0;
  /** Bumped whenever the journal fd is about to be closed (after a synchronous flush). */
  private journalGeneration = 0;
  /** Group-commit fdatasyncs issued and not returned yet (at most {@link MAX_FLUSHES_IN_FLIGHT}). */
  private flushesInFlight = 0;
  /** Highest record number an issued group-commit fdatasync covers (the record was appended before the call). */
  private issuedSeq: number;
  /** A group-commit flush is scheduled for the end of this event-loop turn. */
  private flushScheduled = false;
  /**
   * Callers of {@link durable} waiting for their records, in call order (so `seq` ascends): each is released
   * by the first fdatasync that covers its record, not by the end of the whole flush loop.
   */
  private durableWaiters: { seq: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** A deferred write may have made an automatic snapshot due. */
  private snapshotWanted = false;
  /** The background snapshot being written, if any (see {@link startBackgroundSnapshot}). */
  private backgroundSnapshot: Promise<void> | null = null;
  /** Bumped by every snapshot; a background snapshot finishes only if no other started after it. */
  private snapshotEpoch = 0;
  /** Journal lines appended since a background snapshot's export (copied into the next journal at its rotation). */
  private tailSinceExport: Buffer[] | null = null;
  /**
   * fd of `state.seq` (last acknowledged record number), rewritten in place after each synced write: per
   * write outside group commit, once per group-commit flush (with the number that flush covered).
   */
  private ackedSeqFd: number | null = null;
  /** Entries of `state.db.sha256` (newest first). */
  private checksums: SnapshotChecksum[] = [];
  /** Checksum of the on-disk `state.db` when this process loaded or wrote it. */
  private dbFileChecksum: SnapshotChecksum | null = null;
  /** Prepared statements by SQL text, least recently used first (see {@link statement}). */
  private readonly statements = new Map<string, Statement>();
  /** SQL texts run through `tx.run` that hold exactly one statement (so their prepared statement can be reused). */
  /** SQL texts `assertReadOnly` found read-only. */
  private readonly readOnlySql = new Set<string>();
  private readonly singleStatements = new Set<string>();
  /** Result column names of cached statements (sql.js's getAsObject reads and decodes them for every row). */
  private readonly columnNames = new WeakMap<Statement, string[]>();

  private constructor(
    dir: string,
    db: Database,
    seq: number,
    dbFileSeq: number | null,
    recovery: RecoveryReport,
    options: DurableDatabaseOptions,
  ) {
    this.dir = dir;
    this.db = db;
    this._seq = seq;
    this.syncedSeq = seq;
    this.issuedSeq = seq;
    this.dbFileSeq = dbFileSeq;
    this.recovery = recovery;
    this.log = options.log ?? (() => undefined);
    this.minJournalBytes = options.snapshotMinJournalBytes ?? DEFAULT_SNAPSHOT_MIN_JOURNAL_BYTES;
    this.foreignKeys = options.foreignKeys ?? false;
  }

  /**
   * Opens (creating if needed) the database stored in `dir`: loads the newest valid snapshot
   * (`state.db`, else `state.db.bak`, else an empty database), replays the journals, applies pending
   * migrations, and takes a fresh snapshot if anything had to be replayed, repaired or migrated.
   * Damaged files are renamed to `<name>.corrupt-<time>`; torn journal tails are truncated (a journal damaged
   * in the middle is first copied aside). A snapshot whose SHA-256 is not the one recorded in
   * `state.db.sha256` counts as damaged; acknowledged records (per `state.seq`) missing from the journals are
   * counted in `recovery.lostChanges` and the journal is copied aside. `recovery` describes all of this.
   *
   * @param dir storage directory (created if missing).
   * @throws TypeError for an invalid `snapshotMinJournalBytes`. Error if migrations are malformed (versions
   *   not 1..n, non-deterministic SQL); if the stored schema
   *   version is newer than the newest migration (the message says so; no file is changed in this case); if a
   *   migration fails (it is rolled back; earlier migrations stay applied); on I/O errors other than
   *   missing files (e.g. EACCES); Error naming the path when a state file is a directory (no file changed).
   */
  static async open(dir: string, options: DurableDatabaseOptions): Promise<DurableDatabase> {
    validateMigrations(options.migrations);
    const min = options.snapshotMinJournalBytes;
    if (min !== undefined && !(Number.isFinite(min) && min >= 0)) {
      throw new TypeError(`Baton: snapshotMinJournalBytes must be a non-negative number (got ${min})`);
    }
    const SQL = await loadSqlJs();
    dir = path.resolve(dir);
    // Folders left open by older versions are tightened; tightenStateFolder reads the folder's mode first, so
    // it runs before mkdirPrivate, which tightens only the folder itself.
    tightenStateFolder(dir);
    mkdirPrivate(dir);
    const log = options.log ?? (() => undefined);
    const foreignKeys = options.foreignKeys ?? false;
    const recovery: RecoveryReport = {
      usedBackup: false,
      corruptFiles: [],
      replayedRecords: 0,
      tornTailBytes: 0,
      lostRecords: false,
      failedRecords: 0,
      lostChanges: 0,
      migrationsApplied: 0,
      messages: [],
    };
    const note = (message: string) => {
      recovery.messages.push(message);
      log('warn', message);
    };
    // File changes are collected and applied only after the schema-version check, so refusing to open a
    // database from a newer Baton leaves every file untouched.
    const fileActions: Array<() => void> = [];
    const stamp = fileTimestamp();

    // 1. Base snapshot (checked against state.db.sha256 when it exists).
    const checksums = readChecksums(dir);
    if (checksums.error) log('warn', `${checksums.error}; snapshots are checked by integrity_check only until the next snapshot.`);
    const acked = readAckedSeq(dir);
    if (acked.error) log('warn', `${acked.error}; lost acknowledged changes cannot be counted at this open.`);
    let db: Database | null = null;
    let baseSeq = 0;
    let dbFileSeq: number | null = null;
    let dbFileChecksum: SnapshotChecksum | null = null;
    for (const name of [STORE_FILES.db, STORE_FILES.backup]) {
      const file = path.join(dir, name);
      const bytes = readStoreFile(file);
      if (bytes === null) continue;
      const sha256 = sha256Hex(bytes);
      let loaded = loadSnapshot(SQL, bytes);
      const listed = checksums.entries;
      if ('db' in loaded && listed && !listed.some((e) => e.sha256 === sha256 && e.bytes === bytes.length)) {
        // Not listed: damaged, unless it predates checksums (older than every listed snapshot).
        if (loaded.seq >= Math.min(...listed.map((e) => e.seq))) {
          loaded.db.close();
          loaded = { error: `its SHA-256 does not match ${STORE_FILES.checksums}: its content changed after it was written` };
        }
      }
      if ('db' in loaded) {
        db = loaded.db;
        baseSeq = loaded.seq;
        if (name === STORE_FILES.db) {
          dbFileSeq = loaded.seq;
          dbFileChecksum = { seq: loaded.seq, bytes: bytes.length, sha256 };
        } else {
          recovery.usedBackup = true;
        }
        break;
      }
      note(`${name} is damaged (${loaded.error}).`);
      const aside = corruptPath(file, stamp);
      recovery.corruptFiles.push(aside);
      fileActions.push(() => fs.renameSync(file, aside));
    }
    if (recovery.usedBackup && recovery.corruptFiles.length === 0) {
      note(`${STORE_FILES.db} is missing; using ${STORE_FILES.backup}.`);
    }
    const hadAnySnapshot = db !== null || recovery.corruptFiles.length > 0;
    if (!db) db = new SQL.Database();
    let maxSeq = baseSeq;

    try {
      db.run(`PRAGMA foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
      db.run(IN_MEMORY_PRAGMAS);
      db.run(`CREATE TABLE IF NOT EXISTS ${META_TABLE} (key TEXT PRIMARY KEY, value)`);

      // 2. Journals.
      const journals = [readJournal(dir, STORE_FILES.prevJournal), readJournal(dir, STORE_FILES.journal)];
      for (const j of journals) for (const r of j.records) maxSeq = Math.max(maxSeq, r.seq);
      // Acknowledged records (state.seq) that no journal holds any more were cut from the journal's end.
      const cutAcknowledged = acked.seq !== null && acked.seq > maxSeq ? acked.seq - maxSeq : 0;
      for (const j of journals) {
        if (j.validBytes < j.size) {
          const torn = j.size - j.validBytes;
          const file = path.join(dir, j.name);
          if (j.name === STORE_FILES.prevJournal && dbFileSeq !== null && cutAcknowledged === 0) {
            // Every record of state.journal.prev is already in state.db; the damage costs nothing now and
            // the file is replaced at the next snapshot.
            log('info', `${j.name} is damaged at byte ${j.validBytes}, but ${STORE_FILES.db} already holds all of its changes.`);
            continue;
          }
          recovery.tornTailBytes += torn;
          if (j.validRecordsAfterDamage || cutAcknowledged > 0) {
            const aside = corruptPath(file, stamp);
            recovery.corruptFiles.push(aside);
            recovery.lostRecords = true;
            note(
              `${j.name} is damaged at byte ${j.validBytes}` +
                (j.validRecordsAfterDamage ? ' with readable records after the damage' : '') +
                `; a copy was kept as ${path.basename(aside)}.`,
            );
            fileActions.push(() => fs.copyFileSync(file, aside));
          } else {
            note(`${j.name} ended with ${torn} bytes of an incomplete (unacknowledged) write; they were discarded.`);
          }
          fileActions.push(() => {
            const fd = fs.openSync(file, 'r+');
            try {
              fs.ftruncateSync(fd, j.validBytes);
              fs.fsyncSync(fd);
            } finally {
              fs.closeSync(fd);
            }
          });
        }
      }
      if (cutAcknowledged > 0) {
        recovery.lostRecords = true;
        recovery.lostChanges += cutAcknowledged;
        const current = journals[1];
        if (!journals.some((j) => j.validBytes < j.size)) {
          const file = path.join(dir, current.name);
          if (current.exists) {
            const aside = corruptPath(file, stamp);
            recovery.corruptFiles.push(aside);
            fileActions.push(() => fs.copyFileSync(file, aside));
            note(
              `${current.name} ends at record ${maxSeq} but records up to ${acked.seq} were acknowledged: it was ` +
                `truncated or replaced; a copy was kept as ${path.basename(aside)}.`,
            );
          } else {
            note(`${current.name} is missing but records up to ${acked.seq} were acknowledged.`);
          }
        }
        note(
          `${cutAcknowledged} acknowledged change${cutAcknowledged === 1 ? ' was' : 's were'} lost ` +
            `(journal records ${maxSeq + 1}..${acked.seq}).`,
        );
      }

      // 3. Replay. Records are applied inside one outer transaction with a SAVEPOINT each (a record that
      // fails is undone on its own); in sql.js a COMMIT per record would make replay ~6x slower.
      const seen = new Set<number>();
      const pending = journals
        .flatMap((j) => j.records)
        .filter((r) => r.seq > baseSeq && !seen.has(r.seq) && seen.add(r.seq))
        .sort((a, b) => a.seq - b.seq);
      let expected = baseSeq + 1;
      let outerOpen = false;
      for (const record of pending) {
        if (record.seq !== expected) {
          recovery.lostRecords = true;
          recovery.lostChanges += record.seq - expected;
          note(
            `Journal records ${expected}..${record.seq - 1} are missing; those changes are lost` +
              (hadAnySnapshot ? '.' : ' (no snapshot was found).'),
          );
        }
        try {
          if (record.m === 1 && foreignKeys) {
            // needs foreign keys off, which cannot change inside a transaction
            if (outerOpen) db.run('COMMIT');
            outerOpen = false;
            applyMigrationRecord(db, record);
          } else {
            if (!outerOpen) db.run('BEGIN');
            outerOpen = true;
            applyRecordInSavepoint(db, record);
          }
          recovery.replayedRecords++;
          const version = readUserVersion(db);
          if (version !== record.v) {
            note(`Journal record ${record.seq} was written at schema version ${record.v} but replayed at ${version}.`);
          }
        } catch (err) {
          recovery.failedRecords++;
          recovery.lostChanges++;
          recovery.lostRecords = true;
          note(`Journal record ${record.seq} could not be re-applied (${(err as Error).message}); it was skipped.`);
        }
        expected = record.seq + 1;
      }
      if (outerOpen) db.run('COMMIT');

      // 4. Schema version check (before touching any file).
      const storedVersion = readUserVersion(db);
      const knownVersion = options.migrations.length;
      if (storedVersion > knownVersion) {
        throw new Error(
          `Baton: the database in ${dir} has schema version ${storedVersion}, but this version of Baton only ` +
            `knows versions up to ${knownVersion}. It was written by a newer Baton; please update Baton. ` +
            'No files were changed.',
        );
      }

      // 5. Apply the file changes decided above and clear leftovers of interrupted snapshots.
      for (const action of fileActions) action();
      removeIfExists(path.join(dir, STORE_FILES.dbTmp));
      removeIfExists(path.join(dir, STORE_FILES.backupTmp));
      removeIfExists(path.join(dir, STORE_FILES.checksumsTmp));
      removeIfExists(path.join(dir, STORE_FILES.journalTmp));
      if (fileActions.length > 0) fsyncDir(dir);
    } catch (err) {
      db.close();
      throw err;
    }

    const store = new DurableDatabase(dir, db, maxSeq, dbFileSeq, recovery, options);
    store.checksums = checksums.entries ?? [];
    store.dbFileChecksum = dbFileChecksum;
    try {
      store.openJournal();
      store.openAckedSeq();
      // 6. Migrations (journaled like any other write).
      for (const migration of options.migrations) {
        if (migration.version <= store.schemaVersion) continue;
        try {
          store.commitStatements([[migration.sql, null]], migration.version);
        } catch (err) {
          throw new Error(
            `Baton: migration ${migration.version} (${migration.description}) failed and was rolled back: ` +
              (err as Error).message,
          );
        }
        recovery.migrationsApplied++;
        log('info', `Applied migration ${migration.version}: ${migration.description}`);
      }
    } catch (err) {
      store.closeWithoutSnapshot();
      throw err;
    }

    // 7. Consolidate.
    if (
      recovery.usedBackup ||
      recovery.corruptFiles.length > 0 ||
      recovery.replayedRecords > 0 ||
      recovery.tornTailBytes > 0 ||
      recovery.lostRecords ||
      recovery.migrationsApplied > 0
    ) {
      try {
        store.snapshot();
      } catch (err) {
        log('error', `Snapshot after open failed (changes stay safe in the journal): ${(err as Error).message}`);
      }
    }
    if (recovery.usedBackup || recovery.corruptFiles.length > 0 || recovery.lostRecords) {
      const summary =
        (recovery.usedBackup
          ? 'Baton recovered its database from the last good copy'
          : recovery.corruptFiles.length > 0
            ? 'Baton repaired its database'
            : 'Baton opened its database') +
        ` (${recovery.replayedRecords} journaled changes re-applied)` +
        (recovery.lostChanges > 0
          ? `; ${recovery.lostChanges} acknowledged change${recovery.lostChanges === 1 ? '' : 's'} could not be restored`
          : recovery.lostRecords
            ? '; some recent changes could not be restored'
            : '; no acknowledged changes were lost') +
        (recovery.corruptFiles.length > 0
          ? `. Damaged files were kept: ${recovery.corruptFiles.map((f) => path.basename(f)).join(', ')}.`
          : '.');
      recovery.messages.unshift(summary);
      log(recovery.lostRecords ? 'error' : 'warn', summary);
    }
    return store;
  }

  /** Number of the last committed journal record (0 for a new database). Increases by 1 per write transaction. */
  get seq(): number {
    return this._seq;
  }

  /**
   * True while a write transaction (or a migration) runs: reads then see its uncommitted changes, which a
   * rollback may still undo, so in-memory caches of rows must not keep what they read meanwhile.
   */
  get writing(): boolean {
    return this.inTransaction;
  }

  /** Current schema version (`PRAGMA user_version`) = version of the last applied migration. */
  get schemaVersion(): number {
    this.assertOpen();
    return readUserVersion(this.db);
  }

  /** Bytes currently in `state.journal` (resets to 0 after each snapshot). */
  get journalSizeBytes(): number {
    return this.journalBytes;
  }

  /** Approximate size of the database in bytes (`page_count * page_size`). @throws Error if closed. */
  sizeBytes(): number {
    this.assertOpen();
    const r = this.db.exec('PRAGMA page_count; PRAGMA page_size');
    return Number(r[0].values[0][0]) * Number(r[1].values[0][0]);
  }

  /**
   * Runs `fn` as one atomic, durable write transaction and returns its result.
   *
   * All statements executed through `tx.run` are applied to the in-memory database inside BEGIN/COMMIT.
   * If `fn` returns normally, one journal record holding those statements and parameters is appended to
   * `state.journal` and flushed to disk before this method returns: a normal return means the write is
   * durable. A transaction that ran no statements writes nothing. Afterwards a snapshot may be taken
   * automatically (its failure is logged, not thrown: the write is already safe in the journal).
   *
   * `fn` must be synchronous and must not call transaction(), snapshot() or close().
   *
   * @throws whatever `fn` or a failed `tx.run` threw (after ROLLBACK; nothing is journaled); TypeError if `fn`
   *   returns a Promise; Error if the database is closed, a transaction is already running, or the journal
   *   cannot be written (the in-memory changes are rolled back, so memory never runs ahead of the disk).
   */
  transaction<T>(fn: (tx: WriteTx) => T): T {
    this.assertWritable();
    if (this.inTransaction) throw new Error('Baton: transaction() cannot be nested or called during a snapshot');
    this.ensureJournal();
    const stmts: EncodedStmt[] = [];
    let active = true;
    let failure: { error: unknown } | null = null;
    const tx: WriteTx = {
      run: (sql, params) => {
        if (!active) throw new Error('Baton: WriteTx used after its transaction ended');
        if (failure) throw new Error('Baton: an earlier statement of this transaction failed; it will be rolled back');
        try {
          assertDeterministic(sql);
          const encoded = encodeParams(params);
          const result = this.execute(sql, params, true);
          stmts.push([sql, encoded]);
          return result;
        } catch (err) {
          failure = { error: err };
          throw err;
        }
      },
      all: (sql, params) => {
        if (!active) throw new Error('Baton: WriteTx used after its transaction ended');
        return this.all(sql, params);
      },
      get: (sql, params) => {
        if (!active) throw new Error('Baton: WriteTx used after its transaction ended');
        return this.get(sql, params);
      },
    };

    this.inTransaction = true;
    let result: T;
    try {
      this.runCached('BEGIN');
      try {
        result = fn(tx);
        if (isThenable(result)) {
          Promise.resolve(result).catch(() => undefined);
          throw new TypeError('Baton: the transaction callback must be synchronous (it returned a Promise)');
        }
        if (failure) throw (failure as { error: unknown }).error;
        if (stmts.length === 0) {
          this.runCached('COMMIT');
        } else {
          this.appendAndCommit({ seq: this._seq + 1, v: this.userVersion(), stmts });
        }
      } catch (err) {
        rollbackQuietly(this.db);
        throw err;
      }
    } finally {
      active = false;
      this.inTransaction = false;
    }
    if (stmts.length > 0) {
      if (this.deferDepth > 0) this.snapshotWanted = true;
      else this.maybeAutoSnapshot();
    }
    return result;
  }

  /**
   * Group commit. Runs `fn` synchronously; transactions it runs append their journal record but do not wait
   * for `fdatasync`, so they return before their record is on disk and are NOT acknowledged yet: the caller
   * must `await` {@link durable} before telling anyone the write happened. Writes of concurrent callers
   * queued while one fdatasync runs are flushed together by the next one. An automatic snapshot such a
   * write makes due runs after the flush that acknowledges it (on a later event-loop turn), not inside it.
   * Transactions outside `groupCommit` behave as documented in {@link transaction} (synced on return).
   * @returns what `fn` returned (a Promise is returned as is; only its synchronous part is covered).
   */
  groupCommit<T>(fn: () => T): T {
    this.deferDepth++;
    try {
      return fn();
    } finally {
      this.deferDepth--;
    }
  }

  /**
   * Resolves once every record appended so far is on disk. Group commit, pipelined: with no flush running,
   * an `fdatasync` is issued at once; writes made while flushes run get one flush beside them, issued at the
   * end of the event-loop turn (`setImmediate`) so all writes of that turn share it (a running fdatasync
   * covers only what was appended before it started), up to {@link MAX_FLUSHES_IN_FLIGHT} at once; beyond
   * that they wait for one to return and share the next. Each caller is released by the first
   * fdatasync that covers its records. Immediately resolved when nothing is pending. A due automatic snapshot
   * is scheduled after the flush that acknowledged the write.
   * @throws (rejects) Error when fdatasync fails; the database then refuses further writes (reopen it).
   */
  durable(): Promise<void> {
    if (this.syncedSeq >= this._seq) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.durableWaiters.push({ seq: this._seq, resolve, reject }));
    if (this.flushesInFlight === 0) {
      this.issueFlush(); // nothing running: no reason to wait (a lone writer's latency)
    } else if (!this.flushScheduled && this.issuedSeq < this._seq) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.issueFlush();
      });
    }
    return done;
  }

  /**
   * Issues one fdatasync for every record appended so far, unless a running one covers them or too many run.
   * Only when someone waits in {@link durable}, unless `early` (a group-commit record just appended, before
   * its caller asks).
   */
  private issueFlush(early = false): void {
    this.releaseWaiters(this.syncedSeq); // a snapshot or close() may have synced them meanwhile
    if (this.broken) {
      // After a failed fdatasync a later one may succeed without the lost pages: never acknowledge again.
      this.rejectWaiters(new Error(`Baton: the journal could not be flushed to disk: ${this.broken.message}`));
      return;
    }
    if ((!early && this.durableWaiters.length === 0) || this.issuedSeq >= this._seq || this.flushesInFlight >= MAX_FLUSHES_IN_FLIGHT) return;
    const fd = this.journalFd;
    if (this.closed || fd === null) {
      // close() and journal rotation sync the journal first (syncJournalNow): only a failed final sync leaves waiters.
      this.rejectWaiters(new Error('Baton: the journal was closed before the write was flushed to disk'));
      return;
    }
    const target = this._seq;
    const generation = this.journalGeneration;
    this.issuedSeq = target;
    this.flushesInFlight++;
    fs.fdatasync(fd, (err) => {
      this.flushesInFlight--;
      // A snapshot or close() may have synced and closed this fd meanwhile: then the records are on disk.
      if (err && generation === this.journalGeneration && !this.closed) {
        this.broken = err;
        this.rejectWaiters(new Error(`Baton: the journal could not be flushed to disk: ${err.message}`));
        return;
      }
      if (target > this.syncedSeq) {
        this.syncedSeq = target;
        if (generation === this.journalGeneration && !this.closed) this.recordAcked(target);
      }
      this.releaseWaiters(this.syncedSeq);
      if (this.snapshotWanted) setImmediate(() => this.runWantedSnapshot());
      this.issueFlush(); // writes that waited for a free flush
    });
  }

  private rejectWaiters(err: Error): void {
    const waiting = this.durableWaiters;
    this.durableWaiters = [];
    for (const w of waiting) w.reject(err);
  }

  /** Resolves the {@link durable} callers whose records are covered (record number ≤ `seq`). */
  private releaseWaiters(seq: number): void {
    let n = 0;
    while (n < this.durableWaiters.length && this.durableWaiters[n].seq <= seq) n++;
    if (n === 0) return;
    const released = this.durableWaiters.splice(0, n);
    for (const w of released) w.resolve();
  }

  /**
   * Runs a read query and returns all rows as objects keyed by column name. Reads the in-memory database
   * (no I/O). `sql` must be a single statement; writes are rejected (`attempt to write a readonly database`)
   * unless called through a {@link WriteTx}.
   * @throws Error on SQL errors or if the database is closed; TypeError on invalid params.
   */
  all<T = Record<string, unknown>>(sql: string, params?: SqlParams): T[] {
    this.assertOpen();
    checkParams(params);
    this.assertReadOnly(sql);
    const stmt = this.statement(sql);
    try {
      if (params) stmt.bind(params);
      const rows: T[] = [];
      while (stmt.step()) rows.push(this.rowObject(stmt) as T);
      return rows;
    } finally {
      stmt.reset();
    }
  }

  /** Like {@link all} but returns only the first row, or undefined if there is none. */
  get<T = Record<string, unknown>>(sql: string, params?: SqlParams): T | undefined {
    this.assertOpen();
    checkParams(params);
    this.assertReadOnly(sql);
    const stmt = this.statement(sql);
    try {
      if (params) stmt.bind(params);
      return stmt.step() ? (this.rowObject(stmt) as T) : undefined;
    } finally {
      stmt.reset();
    }
  }

  /**
   * Writes a snapshot now (export → `state.db.tmp` → fsync → rotate `state.db` to `state.db.bak` → rename →
   * rotate journals; see the module docs) if anything changed since the last one; otherwise does nothing.
   * Cost is proportional to the database size (it exports the whole database).
   * @throws Error on I/O errors (the files stay in a recoverable state at every step), if closed, or if
   *   called inside a transaction.
   */
  snapshot(): void {
    this.assertOpen();
    if (this.inTransaction) throw new Error('Baton: snapshot() cannot run inside a transaction');
    if (this.dbFileSeq !== null && this.dbFileSeq === this._seq) return;
    this.writeSnapshot();
  }

  /**
   * Takes a final snapshot (if anything changed), closes the journal and frees the in-memory database.
   * Idempotent. A failing final snapshot is logged ('error') and not thrown: the data is durable in the
   * journal and is replayed on the next open.
   * @throws Error only if called inside a transaction.
   */
  close(): void {
    if (this.closed) return;
    if (this.inTransaction) throw new Error('Baton: close() cannot run inside a transaction');
    if (!this.broken) {
      try {
        this.snapshot();
      } catch (err) {
        this.log('error', `Final snapshot failed (changes stay safe in the journal): ${(err as Error).message}`);
      }
    }
    this.closeWithoutSnapshot();
  }

  // -------------------------------------------------------------------------------------------------------
  // internals
  // -------------------------------------------------------------------------------------------------------

  private closeWithoutSnapshot(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.journalFd !== null) {
      try {
        this.syncJournalNow();
      } catch (err) {
        this.log('error', `Could not flush the journal on close: ${(err as Error).message}`);
      }
      try {
        fs.closeSync(this.journalFd);
      } catch {
        // ignore
      }
      this.journalFd = null;
    }
    if (this.ackedSeqFd !== null) {
      try {
        fs.fdatasyncSync(this.ackedSeqFd);
        fs.closeSync(this.ackedSeqFd);
      } catch {
        // ignore
      }
      this.ackedSeqFd = null;
    }
    this.statements.clear(); // db.close() finalizes them
    this.db.close();
  }

  /**
   * The prepared statement for `sql` (its first statement), prepared once and reused: sql.js's `prepare`
   * costs as much as running a small query. Callers bind, step, and must `reset()` it when done (never
   * `free()`); statements are not re-entrant, so no caller may run the same SQL while stepping it.
   * At most {@link STATEMENT_CACHE_SIZE} are kept, the least recently used finalized first. SQLite
   * re-prepares a cached statement by itself when the schema changed (sqlite3_prepare_v2).
   */
  private statement(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (stmt) {
      this.statements.delete(sql); // re-inserted below: most recently used last
    } else {
      stmt = this.db.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, old] = this.statements.entries().next().value as [string, Statement];
        this.statements.delete(oldest);
        old.free();
      }
    }
    this.statements.set(sql, stmt);
    return stmt;
  }

  /**
   * The current row of `stmt` as an object keyed by column name, like sql.js's `getAsObject` (a later
   * column of the same name wins) but with the names read once per prepared statement.
   */
  private rowObject(stmt: Statement): Record<string, unknown> {
    const values = stmt.get();
    let names = this.columnNames.get(stmt);
    if (!names || names.length !== values.length) {
      names = stmt.getColumnNames();
      this.columnNames.set(stmt, names);
    }
    const row: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) row[names[i]] = values[i];
    return row;
  }

  /** Finalizes every cached statement (before a migration changes the schema they were prepared for). */
  private clearStatements(): void {
    for (const stmt of this.statements.values()) stmt.free();
    this.statements.clear();
    this.singleStatements.clear();
  }

  /** Runs a parameterless statement through the cache (BEGIN, COMMIT, pragmas of the write path). */
  private runCached(sql: string): void {
    const stmt = this.statement(sql);
    try {
      while (stmt.step()) {
        // no rows wanted
      }
    } finally {
      stmt.reset();
    }
  }

  /** `PRAGMA user_version`, through the statement cache. */
  private userVersion(): number {
    const stmt = this.statement('PRAGMA user_version');
    try {
      stmt.step();
      return Number(stmt.get()[0]);
    } finally {
      stmt.reset();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Baton: the database is closed');
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.broken) {
      throw new Error(`Baton: the database journal could not be repaired after an I/O error (${this.broken.message}); reopen the database`);
    }
  }

  /**
   * Refuses a read (`all`/`get`) whose statement would write. Its EXPLAIN program is checked once per SQL
   * text (then remembered): a write transaction (`Transaction` with p2 ≠ 0, as sqlite3_stmt_readonly decides;
   * sql.js does not export that) or an opcode that writes the file (`WRITING_OPCODES`) is refused, which is
   * what `PRAGMA query_only` refused. This replaces `PRAGMA query_only`, whose every
   * toggle (twice per transaction) expired all prepared statements, so each query after a write was
   * compiled again. @throws Error "attempt to write a readonly database …" for a writing statement.
   */
  private assertReadOnly(sql: string): void {
    if (this.readOnlySql.has(sql)) return;
    let explained: Statement | undefined;
    try {
      explained = this.db.prepare(`EXPLAIN ${sql}`);
    } catch {
      return; // not explainable (a syntax error, or already an EXPLAIN): preparing it reports the real error
    }
    try {
      while (explained.step()) {
        const [, opcode, , p2] = explained.get() as [number, string, number, number];
        if ((opcode === 'Transaction' && p2 !== 0) || WRITING_OPCODES.has(opcode)) {
          throw new Error(`attempt to write a readonly database: all() and get() only read; write through transaction() (${sql.trim().slice(0, 80)})`);
        }
      }
    } finally {
      explained.free();
    }
    if (this.readOnlySql.size >= 4 * STATEMENT_CACHE_SIZE) this.readOnlySql.clear(); // SQL built per call
    this.readOnlySql.add(sql);
  }

  /** Executes possibly several statements (params only for a single one). */
  private execute(sql: string, params: SqlParams | undefined, userTx: boolean): RunResult {
    if (!this.singleStatements.has(sql)) {
      const result = executeOn(this.db, sql, params, userTx);
      if (this.singleStatements.size >= 4 * STATEMENT_CACHE_SIZE) this.singleStatements.clear(); // SQL built per call
      if (countStatements(this.db, sql) === 1) this.singleStatements.add(sql);
      return result;
    }
    // A single statement run before (and so already checked against FORBIDDEN_IN_TX): reuse its prepared form.
    const stmt = this.statement(sql);
    try {
      if (params) stmt.bind(params);
      while (stmt.step()) {
        // results of a statement run for its side effects are ignored
      }
    } finally {
      stmt.reset();
    }
    return runResult(this.db, this.db.getRowsModified());
  }

  private openJournal(): void {
    const file = path.join(this.dir, STORE_FILES.journal);
    const existed = fs.existsSync(file);
    this.journalFd = fs.openSync(file, 'a', PRIVATE_FILE_MODE);
    this.journalBytes = fs.fstatSync(this.journalFd).size;
    if (!existed) fsyncDir(this.dir);
  }

  /** Opens `state.seq` and records the current sequence number in it (synced). */
  private openAckedSeq(): void {
    this.ackedSeqFd = fs.openSync(path.join(this.dir, STORE_FILES.ackedSeq), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    this.writeAckedSeq();
    fs.fdatasyncSync(this.ackedSeqFd);
  }

  /** Rewrites `state.seq` in place (same length every time) with the last acknowledged record number. */
  private writeAckedSeq(seq = this._seq): void {
    if (this.ackedSeqFd === null) return;
    const data = encodeAckedSeq(seq);
    let off = 0;
    while (off < data.length) off += fs.writeSync(this.ackedSeqFd, data, off, data.length - off, off);
  }

  private ensureJournal(): void {
    if (this.journalFd === null) this.openJournal();
  }

  /**
   * Journals + commits a migration's statements as one record (`m: 1`) that also sets user_version. With
   * foreign keys enabled, they are switched off around it and checked afterwards.
   */
  private commitStatements(stmts: EncodedStmt[], migrationVersion: number): void {
    this.assertWritable();
    this.ensureJournal();
    const all: EncodedStmt[] = [...stmts, [`PRAGMA user_version = ${migrationVersion}`, null]];
    this.clearStatements(); // prepared for the old schema (SQLite would re-prepare them, but column lists may change)
    this.inTransaction = true;
    try {
      if (this.foreignKeys) this.db.run('PRAGMA foreign_keys = OFF');
      this.db.run('BEGIN');
      try {
        for (const [sql, params] of all) executeOn(this.db, sql, decodeParams(params), true);
        if (this.foreignKeys) assertNoForeignKeyViolations(this.db);
        this.appendAndCommit({ seq: this._seq + 1, v: migrationVersion, stmts: all, m: 1 });
      } catch (err) {
        rollbackQuietly(this.db);
        throw err;
      }
    } finally {
      this.inTransaction = false;
      if (this.foreignKeys) this.db.run('PRAGMA foreign_keys = ON');
    }
  }

  /**
   * Appends `record` to the journal, flushes it, then COMMITs. Called inside BEGIN; on any failure the
   * journal is cut back to its previous length (so no record exists for a rolled-back transaction) and
   * the error is rethrown for the caller to ROLLBACK. If cutting back fails, the instance is marked broken.
   */
  private appendAndCommit(record: JournalRecord): void {
    const json = Buffer.from(JSON.stringify(record), 'utf8');
    const line = Buffer.concat([
      Buffer.from(`${json.length}\t${crc32(json).toString(16).padStart(8, '0')}\t`, 'latin1'),
      json,
      Buffer.from('\n', 'latin1'),
    ]);
    const fd = this.journalFd;
    if (fd === null) throw new Error('Baton: journal is not open');
    const before = this.journalBytes;
    const deferred = this.deferDepth > 0;
    try {
      writeAll(fd, line);
      if (!deferred) fs.fdatasyncSync(fd);
      this.runCached('COMMIT');
    } catch (err) {
      try {
        fs.ftruncateSync(fd, before);
        fs.fdatasyncSync(fd);
      } catch (truncErr) {
        this.broken = truncErr as Error;
        this.log('error', `Baton: could not undo a failed journal append: ${(truncErr as Error).message}`);
      }
      throw err;
    }
    this.journalBytes = before + line.length;
    this.tailSinceExport?.push(line);
    this._seq = record.seq;
    if (deferred) {
      // state.seq is written once per group-commit flush, after its fdatasync (issueFlush). With no flush
      // running, this record's starts now: the caller's remaining work (its answer) overlaps the disk's.
      if (this.flushesInFlight === 0) this.issueFlush(true);
      return;
    }
    this.syncedSeq = record.seq; // fdatasync covered every earlier record too
    this.recordAcked(record.seq);
  }

  /**
   * Writes `seq` to `state.seq` (records up to it are on disk). A failure is logged, not thrown: the writes
   * themselves are durable; only the count of lost changes after a later damage would be low.
   */
  private recordAcked(seq: number): void {
    try {
      this.writeAckedSeq(seq);
    } catch (err) {
      this.log('warn', `Could not update ${STORE_FILES.ackedSeq}: ${(err as Error).message}`);
    }
  }

  /**
   * Takes the automatic snapshot deferred by group commit (on its own event-loop turn, after the flush that
   * acknowledged the write). A flush still running is harmless: the snapshot first syncs the journal itself.
   */
  private runWantedSnapshot(): void {
    if (this.closed || this.broken || this.inTransaction || !this.snapshotWanted) return;
    this.snapshotWanted = false;
    this.maybeAutoSnapshot(true);
  }

  /** Makes every appended record durable synchronously (before the journal fd is closed or replaced). */
  private syncJournalNow(): void {
    if (this.journalFd !== null && this.syncedSeq < this._seq) {
      fs.fdatasyncSync(this.journalFd);
      this.recordAcked(this._seq); // group-commit records a flush had not reached yet
    }
    this.syncedSeq = this._seq;
    this.journalGeneration++; // a flush still queued for the old fd must not count its failure (EBADF)
  }

  /**
   * Takes the automatic snapshot when the journal has grown enough (see the module docs). `background`
   * (group-commit callers, who do not wait for it): only the export and its checksum run in this turn; the
   * file is written and fsynced by the thread pool and the renames run in a later turn (see
   * {@link startBackgroundSnapshot}). Otherwise (plain {@link transaction} callers, who expect the journal
   * bounded when it returns) the whole snapshot runs now.
   */
  private maybeAutoSnapshot(background = false): void {
    if (this.backgroundSnapshot) return; // one at a time; the next write checks again once it is done
    if (this.journalBytes <= this.minJournalBytes || this.journalBytes < this.nextAutoSnapshotAt) return;
    const threshold = Math.max(this.minJournalBytes, this.sizeBytes() / 2);
    if (this.journalBytes <= threshold) return;
    const failed = (err: unknown) => {
      this.nextAutoSnapshotAt = this.journalBytes + threshold;
      this.log('error', `Automatic snapshot failed (changes stay safe in the journal): ${(err as Error).message}`);
    };
    try {
      if (background) {
        this.backgroundSnapshot = this.startBackgroundSnapshot().then(() => { this.nextAutoSnapshotAt = 0; }, failed)
          .finally(() => { this.backgroundSnapshot = null; });
      } else {
        this.writeSnapshot();
        this.nextAutoSnapshotAt = 0;
      }
    } catch (err) {
      failed(err);
    }
  }

  /**
   * Resolves when no background snapshot is running (at once when none is). For tests and for callers
   * that want the journal rotated before they go on; never rejects (a failed snapshot is logged).
   */
  snapshotSettled(): Promise<void> {
    return this.backgroundSnapshot ?? Promise.resolve();
  }

  /**
   * The first half of every snapshot: stamps the sequence number into the database and exports it, with
   * its checksum. Synchronous (sql.js's export is), proportional to the database size.
   */
  private exportSnapshot(): { seq: number; bytes: Uint8Array } {
    const seq = this._seq;
    this.db.run(`INSERT OR REPLACE INTO ${META_TABLE} (key, value) VALUES ('seq', ?)`, [seq]);
    const bytes = this.db.export();
    this.tailSinceExport = [];
    return { seq, bytes };
  }

  /**
   * A snapshot that does not hold the event loop while its file is written: the export runs now, then
   * `state.db.tmp` is written and fsynced asynchronously (libuv's thread pool) while writes go on, then
   * one later turn lists the checksum and renames (as {@link writeSnapshot} does). Writes made meanwhile
   * stay in the journal, which becomes `state.journal.prev` at the rotation: open replays every journal
   * record newer than the snapshot it loads, from either journal, so they are kept. A synchronous
   * snapshot or close() meanwhile supersedes it (`snapshotEpoch`): it then renames nothing (its temp file
   * was unlinked by the synchronous one, so their writes never mix).
   * @throws (rejects) Error on I/O errors (the files stay in a recoverable state at every step).
   */
  private async startBackgroundSnapshot(): Promise<void> {
    const epoch = ++this.snapshotEpoch;
    const exported = this.exportSnapshot();
    const tmpPath = path.join(this.dir, STORE_FILES.dbTmp);
    removeIfExists(tmpPath);
    try {
      const snap = { ...exported, checksum: { seq: exported.seq, bytes: exported.bytes.length, sha256: await sha256HexInSlices(exported.bytes) } };
      const handle = await fs.promises.open(tmpPath, 'w', PRIVATE_FILE_MODE);
      try {
        await handle.writeFile(snap.bytes);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if (epoch !== this.snapshotEpoch || this.closed || this.broken) return; // superseded: see above
      this.finishSnapshot(snap);
    } catch (err) {
      if (epoch === this.snapshotEpoch) {
        this.tailSinceExport = null;
        if (!this.closed) removeIfExists(tmpPath);
      }
      throw err;
    }
  }

  private writeSnapshot(): void {
    this.snapshotEpoch++; // supersedes a background snapshot still writing its file
    const tmpPath = path.join(this.dir, STORE_FILES.dbTmp);
    const exported = this.exportSnapshot();
    const snap = { ...exported, checksum: { seq: exported.seq, bytes: exported.bytes.length, sha256: sha256Hex(exported.bytes) } };
    try {
      removeIfExists(tmpPath); // a new file: a background snapshot's writes go to the unlinked one
      writeFileDurable(tmpPath, snap.bytes);
    } catch (err) {
      try {
        removeIfExists(tmpPath);
      } catch {
        // ignore; removed on next open
      }
      throw err;
    }
    this.finishSnapshot(snap);
  }

  /**
   * The second half of every snapshot, once `state.db.tmp` holds `snap` on disk: lists its checksum, rotates
   * `state.db` to `state.db.bak`, renames the temp file into place and rotates the journals (module docs).
   */
  private finishSnapshot(snap: { seq: number; bytes: Uint8Array; checksum: SnapshotChecksum }): void {
    const { seq, checksum } = snap;
    const dir = this.dir;
    const dbPath = path.join(dir, STORE_FILES.db);
    const tmpPath = path.join(dir, STORE_FILES.dbTmp);
    const dbIsKnownGood = this.dbFileSeq !== null && fs.existsSync(dbPath);
    // Listed before the rename: new snapshot, current state.db (the next state.db.bak), older entries
    // (the current state.db.bak until step 2).
    const entries = [checksum, ...(dbIsKnownGood && this.dbFileChecksum ? [this.dbFileChecksum] : []), ...this.checksums]
      .filter((e, i, all) => all.findIndex((o) => o.sha256 === e.sha256) === i)
      .slice(0, 4);
    try {
      writeChecksums(dir, entries);
    } catch (err) {
      try {
        removeIfExists(tmpPath);
      } catch {
        // ignore; removed on next open
      }
      throw err;
    }
    this.checksums = entries;
    if (dbIsKnownGood) this.replaceBackupFrom(dbPath, true);
    fs.renameSync(tmpPath, dbPath);
    if (!dbIsKnownGood) this.replaceBackupFrom(dbPath, false);
    fsyncDir(dir);
    this.dbFileSeq = seq;
    this.dbFileChecksum = checksum;
    if (this.ackedSeqFd !== null) fs.fdatasyncSync(this.ackedSeqFd);

    // Rotate journals: state.journal becomes state.journal.prev (replacing the older one). Records written
    // after the export (a background snapshot) are not in the new state.db: the new journal starts with a
    // copy of them, so state.db.bak + state.journal.prev + state.journal still hold every record after the
    // next rotation too (open drops the duplicates).
    const tail = this.tailSinceExport;
    this.tailSinceExport = null;
    const tailBytes = tail && tail.length > 0 ? Buffer.concat(tail) : null;
    if (this.journalFd !== null) {
      this.syncJournalNow();
      fs.closeSync(this.journalFd);
      this.journalFd = null;
    }
    const journalPath = path.join(dir, STORE_FILES.journal);
    const journalTmp = path.join(dir, STORE_FILES.journalTmp);
    if (tailBytes) writeFileDurable(journalTmp, tailBytes);
    if (fs.existsSync(journalPath)) fs.renameSync(journalPath, path.join(dir, STORE_FILES.prevJournal));
    if (tailBytes) fs.renameSync(journalTmp, journalPath);
    this.journalFd = fs.openSync(journalPath, 'a', PRIVATE_FILE_MODE);
    this.journalBytes = tailBytes ? tailBytes.length : 0;
    fsyncDir(dir);
  }

  /**
   * Makes `state.db.bak` a copy of `source` atomically: hard link to `state.db.bak.tmp`, then rename. Without
   * hard-link support: rename `source` itself when `allowMove`, else copy + fsync.
   */
  private replaceBackupFrom(source: string, allowMove: boolean): void {
    const bak = path.join(this.dir, STORE_FILES.backup);
    const bakTmp = path.join(this.dir, STORE_FILES.backupTmp);
    removeIfExists(bakTmp);
    try {
      fs.linkSync(source, bakTmp);
    } catch {
      if (allowMove) {
        fs.renameSync(source, bak);
        return;
      }
      fs.copyFileSync(source, bakTmp);
      fsyncFile(bakTmp);
    }
    fs.renameSync(bakTmp, bak);
    // rename() is a no-op when both names already link the same file; do not leave the extra name behind.
    removeIfExists(bakTmp);
  }
}

// ---------------------------------------------------------------------------------------------------------
// shared helpers operating on a sql.js Database
// ---------------------------------------------------------------------------------------------------------

/**
 * Connection settings for sql.js's database, which lives in an emulated in-memory file system (MEMFS): every
 * statement outside a transaction would otherwise take and drop a file lock and re-read the file header,
 * every write would create, write and delete a `-journal` file, and sorts would spill to temp files there,
 * all through that emulation (most of a small query's cost). Exclusive locking keeps the one connection's
 * lock; the rollback journal kept in memory still gives ROLLBACK; temp tables and sorts stay in memory.
 * Durability does not depend on any of them: it is Baton's own journal (see the module docs).
 */
const IN_MEMORY_PRAGMAS = 'PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = MEMORY; PRAGMA temp_store = MEMORY;';

/** Most prepared statements a DurableDatabase keeps (see `statement`); Baton's code uses about a hundred distinct queries. */
const STATEMENT_CACHE_SIZE = 256;
/**
 * Most group-commit fdatasyncs running at once (see `DurableDatabase.durable`): enough that writes arriving
 * during a flush need not wait for it, well below libuv's thread pool (4) so other file I/O keeps a thread.
 */
const MAX_FLUSHES_IN_FLIGHT = 2;

/**
 * Opcodes a read may not contain besides a write `Transaction` (which every write to a table or the schema
 * starts with): VACUUM, virtual-table writes and schema-cookie changes. Inserts into a sort's ephemeral
 * tables are not writes (`Insert`/`IdxInsert` appear in plain SELECTs), and connection settings (flag
 * pragmas, `Expire`) stay allowed, as they were under `PRAGMA query_only`.
 */
const WRITING_OPCODES = new Set(['Vacuum', 'VUpdate', 'SetCookie', 'ParseSchema', 'CreateBtree', 'Destroy']);

/** How many statements `sql` holds (prepares each, runs none). */
function countStatements(db: Database, sql: string): number {
  let count = 0;
  for (const stmt of db.iterateStatements(sql)) {
    count++;
    stmt.free();
  }
  return count;
}

function readUserVersion(db: Database): number {
  return Number(db.exec('PRAGMA user_version')[0].values[0][0]);
}

function rollbackQuietly(db: Database): void {
  try {
    db.run('ROLLBACK');
  } catch {
    // no transaction active (e.g. BEGIN itself failed)
  }
}

function assertNoForeignKeyViolations(db: Database): void {
  const violations = db.exec('PRAGMA foreign_key_check');
  if (violations.length > 0 && violations[0].values.length > 0) {
    const first = violations[0].values[0];
    throw new Error(`foreign key violation after migration (table ${String(first[0])}, rowid ${String(first[1])})`);
  }
}

/**
 * Executes every statement in `sql`, binding `params` (only allowed when `sql` is one statement).
 * @returns total changes and the last insert rowid.
 */
function executeOn(db: Database, sql: string, params: SqlParams | undefined, guard: boolean): RunResult {
  let count = 0;
  let changes = 0;
  for (const stmt of db.iterateStatements(sql)) {
    try {
      count++;
      if (guard && FORBIDDEN_IN_TX.test(stmt.getSQL())) {
        throw new Error(`Baton: '${stmt.getSQL().trim().split(/\s+/)[0]}' is not allowed inside a transaction`);
      }
      if (params) {
        if (count > 1) throw new Error('Baton: parameters can only be used with a single SQL statement');
        stmt.bind(params);
      }
      while (stmt.step()) {
        // results of a statement run for its side effects are ignored
      }
      changes += db.getRowsModified();
    } finally {
      stmt.free();
    }
  }
  return runResult(db, changes);
}

/**
 * A statement's {@link RunResult}; `last_insert_rowid()` is asked only when `lastInsertRowid` is read
 * (few callers want it, and asking costs a statement per write), so read it before the next statement.
 */
function runResult(db: Database, changes: number): RunResult {
  return {
    changes,
    get lastInsertRowid() {
      return Number(db.exec('SELECT last_insert_rowid()')[0].values[0][0]);
    },
  };
}

/** Re-applies one journal record inside the caller's transaction; on error only this record is undone. */
function applyRecordInSavepoint(db: Database, record: JournalRecord): void {
  db.run('SAVEPOINT baton_replay');
  try {
    for (const [sql, params] of record.stmts) executeOn(db, sql, decodeParams(params), false);
  } catch (err) {
    db.run('ROLLBACK TO baton_replay');
    db.run('RELEASE baton_replay');
    throw err;
  }
  db.run('RELEASE baton_replay');
}

/** Re-applies a migration record in its own transaction with foreign keys off (when they are enabled). */
function applyMigrationRecord(db: Database, record: JournalRecord): void {
  db.run('PRAGMA foreign_keys = OFF');
  try {
    db.run('BEGIN');
    try {
      for (const [sql, params] of record.stmts) executeOn(db, sql, decodeParams(params), false);
      assertNoForeignKeyViolations(db);
      db.run('COMMIT');
    } catch (err) {
      rollbackQuietly(db);
      throw err;
    }
  } finally {
    db.run('PRAGMA foreign_keys = ON');
  }
}
