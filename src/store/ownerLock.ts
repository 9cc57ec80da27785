/**
 * One writer per storage directory.
 *
 * The owner holds `<dir>/owner.lock`, a small JSON file ({@link OwnerInfo}) created with `open(..., 'wx')`
 * (O_CREAT|O_EXCL: exactly one creator wins, on Windows too).
 *
 * Staleness: a lock whose owner is gone may be taken over. A lock is stale when
 *  - it was written on this host (`hostname` equals `os.hostname()`) and its pid no longer exists
 *    (`process.kill(pid, 0)` fails with ESRCH; EPERM means the process exists), or
 *  - it carries this process's own pid but no OwnerLock in this process holds it (a leftover of an earlier
 *    process that had the same pid, e.g. pid 1 in containers), or
 *  - it is unreadable/incomplete and older than {@link INCOMPLETE_LOCK_GRACE_MS} (a crash between creating
 *    and writing the file; a younger one may be a competitor still writing it, so it counts as held).
 *  A lock from another host is always treated as alive (its pid cannot be checked from here).
 *  Known limitation: if the owner died and an unrelated process later got the same pid (typically after a
 *  reboot), the lock looks alive; the error the caller reports names the pid and the lock file so the user
 *  can remove it. Deciding "stale" wrongly would let two writers corrupt the journal, so the check errs on
 *  the side of "alive".
 *
 * Taking over a stale lock is serialized through `owner.lock.break` (also created with 'wx'): under it the
 * lock is re-read and removed only if it is still the same stale lock, so two processes breaking the same
 * stale lock at once cannot both end up "owning" the directory.
 *
 * The lock is released by {@link OwnerLock.release} and, as a fallback, on the process 'exit' event (normal
 * exit, `process.exit()`, uncaught exceptions). Signals that kill the process (SIGKILL, an unhandled SIGTERM)
 * leave the file behind; the next owner detects it as stale.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mkdirPrivate, PRIVATE_FILE_MODE } from './fileModes';

export type OwnerKind = 'vscode' | 'cli';

/** Contents of `owner.lock`. */
export interface OwnerInfo {
  /** Process id of the owner. */
  pid: number;
  kind: OwnerKind;
  /** ISO-8601 time at which the lock was acquired. */
  startedAt: string;
  /** `os.hostname()` of the owner's machine. */
  hostname: string;
  /** Where the owner can be reached (e.g. the MCP URL), if it published one. */
  endpoint?: string;
}

/** Name of the lock file inside the storage directory. */
export const OWNER_LOCK_FILE = 'owner.lock';
/** How long an unreadable (half-written) lock or break file is presumed to be in use, in milliseconds. */
export const INCOMPLETE_LOCK_GRACE_MS = 10_000;

/** Lock files held by OwnerLock instances of this process. */
const heldFiles = new Set<string>();

/**
 * Whether a process with this pid exists on this machine (`process.kill(pid, 0)`: ESRCH = no, EPERM = yes).
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function parseOwner(text: string): OwnerInfo | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.pid) || (v.kind !== 'vscode' && v.kind !== 'cli')) return null;
  if (typeof v.startedAt !== 'string' || typeof v.hostname !== 'string') return null;
  if (v.endpoint !== undefined && typeof v.endpoint !== 'string') return null;
  const info: OwnerInfo = { pid: v.pid as number, kind: v.kind, startedAt: v.startedAt, hostname: v.hostname };
  if (typeof v.endpoint === 'string') info.endpoint = v.endpoint;
  return info;
}

/** Reads the lock file: `missing`, or the parsed owner (null if unreadable) and the file's mtime. */
function readLockFile(file: string): { missing: true } | { missing: false; owner: OwnerInfo | null; mtimeMs: number } {
  try {
    const text = fs.readFileSync(file, 'utf8');
    let mtimeMs = Date.now();
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
      // vanished between read and stat: treat as fresh
    }
    return { missing: false, owner: parseOwner(text), mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    throw err;
  }
}

function isStale(file: string, owner: OwnerInfo | null, mtimeMs: number): boolean {
  if (!owner) return Date.now() - mtimeMs > INCOMPLETE_LOCK_GRACE_MS;
  if (owner.hostname !== os.hostname()) return false;
  if (owner.pid === process.pid) return !heldFiles.has(file);
  return !isProcessAlive(owner.pid);
}

function sameOwner(a: OwnerInfo | null, b: OwnerInfo | null): boolean {
  return !!a && !!b && a.pid === b.pid && a.startedAt === b.startedAt && a.hostname === b.hostname;
}

function writeAndSync(fd: number, text: string): void {
  const data = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
  fs.fsyncSync(fd);
}

/** Creates `file` exclusively with `owner` as content. @returns false if it already exists. */
function createLockFile(file: string, owner: OwnerInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeAndSync(fd, JSON.stringify(owner));
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  return true;
}

/**
 * Removes the lock file if (still) stale, serialized by `owner.lock.break`.
 * @returns true if the lock file is gone now (removed or already missing), false if it is held.
 */
function breakStaleLock(file: string): boolean {
  const breakFile = `${file}.break`;
  let fd: number | null = null;
  for (let attempt = 0; attempt < 2 && fd === null; attempt++) {
    try {
      fd = fs.openSync(breakFile, 'wx', PRIVATE_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(breakFile).mtimeMs;
      } catch {
        continue; // just released by the other breaker: try again
      }
      if (age <= INCOMPLETE_LOCK_GRACE_MS) return false; // someone else is taking over right now
      fs.rmSync(breakFile, { force: true }); // left behind by a breaker that died
    }
  }
  if (fd === null) return false;
  try {
    const current = readLockFile(file);
    if (current.missing) return true;
    if (!isStale(file, current.owner, current.mtimeMs)) return false;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(breakFile, { force: true });
  }
}

/**
 * Exclusive ownership of a storage directory. Obtain with {@link OwnerLock.tryAcquire}; release with
 * {@link OwnerLock.release} (also released automatically when the process exits normally).
 */
export class OwnerLock {
  private current: OwnerInfo;
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(
    /** Absolute path of the storage directory. */
    readonly dir: string,
    /** Absolute path of the lock file. */
    readonly file: string,
    owner: OwnerInfo,
  ) {
    this.current = owner;
    heldFiles.add(file);
    process.on('exit', this.onExit);
  }

  /**
   * Tries to become the owner of `dir` (created if missing). Does not wait.
   * @param info `kind` of the process; `pid` defaults to `process.pid`; optional `endpoint` to publish.
   * @returns the lock, or null if another live process (or another OwnerLock in this process) holds it.
   * @throws on I/O errors other than the lock file already existing (e.g. EACCES, ENOSPC).
   */
  static tryAcquire(dir: string, info: { kind: OwnerKind; pid?: number; endpoint?: string }): OwnerLock | null {
    dir = path.resolve(dir);
    mkdirPrivate(dir);
    const file = path.join(dir, OWNER_LOCK_FILE);
    const owner: OwnerInfo = {
      pid: info.pid ?? process.pid,
      kind: info.kind,
      startedAt: new Date().toISOString(),
      hostname: os.hostname(),
    };
    if (info.endpoint !== undefined) owner.endpoint = info.endpoint;
    if (heldFiles.has(file)) return null;
    if (createLockFile(file, owner)) return new OwnerLock(dir, file, owner);
    // Exists: take it over if stale, then retry exactly once.
    if (!breakStaleLock(file)) return null;
    return createLockFile(file, owner) ? new OwnerLock(dir, file, owner) : null;
  }

  /**
   * Reads who holds (or last held) the lock of `dir`, without judging whether it is alive.
   * @returns the owner, or null if there is no lock file or it cannot be parsed.
   */
  static readOwner(dir: string): OwnerInfo | null {
    try {
      return parseOwner(fs.readFileSync(path.join(path.resolve(dir), OWNER_LOCK_FILE), 'utf8'));
    } catch {
      return null;
    }
  }

  /** The content this lock wrote (a copy). */
  get info(): OwnerInfo {
    return { ...this.current };
  }

  /** False after release(). */
  get held(): boolean {
    return !this.released;
  }

  /**
   * Publishes (or with undefined, removes) the owner's endpoint in the lock file. The file is replaced
   * atomically (temp file + rename), so readers never see a partial file.
   * @throws Error if the lock was released or the lock file no longer belongs to this owner; I/O errors.
   */
  updateEndpoint(endpoint: string | undefined): void {
    if (this.released) throw new Error('Baton: owner lock already released');
    const onDisk = readLockFile(this.file);
    if (onDisk.missing || !sameOwner(onDisk.owner, this.current)) {
      throw new Error(`Baton: ${this.file} no longer belongs to this process`);
    }
    const next: OwnerInfo = { ...this.current };
    if (endpoint === undefined) delete next.endpoint;
    else next.endpoint = endpoint;
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', PRIVATE_FILE_MODE);
    try {
      writeAndSync(fd, JSON.stringify(next));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.current = next;
  }

  /**
   * Gives up ownership: deletes the lock file if it still holds this owner's pid and start time (a lock
   * taken over by someone else is left alone). Idempotent; never throws.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldFiles.delete(this.file);
    process.removeListener('exit', this.onExit);
    try {
      const onDisk = readLockFile(this.file);
      if (!onDisk.missing && sameOwner(onDisk.owner, this.current)) fs.rmSync(this.file, { force: true });
    } catch {
      // nothing sensible to do while releasing
    }
  }
}
