import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BatonError, invalid, notFound } from '../core/errors';
import { mkdirPrivate } from './fileModes';

/** Folder under the storage directory that holds artifact contents. */
export const BLOBS_DIR = 'artifacts';

const SHA256 = /^[0-9a-f]{64}$/;
const TMP_SUFFIX = '.tmp';

/** The SHA-256 (lowercase hex) of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Checks that `sha256` is a SHA-256 in hex (64 digits; upper case is accepted) and returns it in lower
 * case. Every path the store builds goes through this, so a "hash" can never name another file.
 * @throws BatonError INVALID_ARGUMENT otherwise.
 */
export function normalizeSha256(sha256: string): string {
  const sha = typeof sha256 === 'string' ? sha256.toLowerCase() : '';
  if (!SHA256.test(sha)) throw invalid(`"${String(sha256).slice(0, 80)}" is not a SHA-256 hash (64 hexadecimal digits).`);
  return sha;
}

/**
 * Content-addressed file store for artifact contents under `<storageDir>/artifacts/`: each content is
 * one file `artifacts/<first 2 hex digits>/<sha256>`, so identical content is stored once whatever its
 * name. Writes are atomic and durable (temp file → fsync → rename → fsync the folder): a crash leaves
 * either the whole file or none (plus, at worst, a `*.tmp` file that {@link removeTempFiles} clears).
 *
 * The store knows nothing about which artifact rows use a content; `ArtifactService` decides when a
 * content may be deleted. Synchronous on purpose: a `put` and the row insert that follows it run
 * without an `await` in between, so no other call of the same process interleaves.
 */
export class BlobStore {
  readonly root: string;

  constructor(storageDir: string) {
    this.root = path.join(storageDir, BLOBS_DIR);
  }

  /** Where the content `sha256` is (or would be) stored. @throws BatonError INVALID_ARGUMENT for a malformed hash. */
  path(sha256: string): string {
    const sha = normalizeSha256(sha256);
    return path.join(this.root, sha.slice(0, 2), sha);
  }

  /**
   * Stores `bytes` under their SHA-256. When a file with that hash and the same size exists, nothing is
   * written (`existed: true`); a file of the wrong size (damaged outside Baton) is replaced.
   */
  put(bytes: Uint8Array): { sha256: string; size: number; existed: boolean } {
    const sha = sha256Hex(bytes);
    const file = this.path(sha);
    const size = bytes.byteLength;
    const current = statOrUndefined(file);
    if (current?.isFile() && current.size === size) return { sha256: sha, size, existed: true };

    const dir = path.dirname(file);
    const createdDir = !fs.existsSync(dir);
    mkdirPrivate(dir);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}${TMP_SUFFIX}`;
    try {
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        let off = 0;
        while (off < size) off += fs.writeSync(fd, bytes, off, size - off);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      throw error;
    }
    fsyncDir(dir);
    if (createdDir) fsyncDir(this.root);
    return { sha256: sha, size, existed: false };
  }

  /**
   * The content stored under `sha256`, checked against its hash.
   * @throws BatonError NOT_FOUND when there is none; UNAVAILABLE when the file no longer matches its hash.
   */
  get(sha256: string): Buffer {
    const sha = normalizeSha256(sha256);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.path(sha));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`No artifact content with sha256 ${sha}.`);
      throw error;
    }
    if (sha256Hex(bytes) !== sha) {
      throw new BatonError('UNAVAILABLE', `The stored content ${sha} is damaged (its bytes no longer match the hash).`);
    }
    return bytes;
  }

  has(sha256: string): boolean {
    return statOrUndefined(this.path(sha256))?.isFile() ?? false;
  }

  /** Removes the content `sha256`; returns false when there was none. */
  delete(sha256: string): boolean {
    const file = this.path(sha256);
    try {
      fs.unlinkSync(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Hashes of every stored content (for garbage collection). */
  list(): string[] {
    const out: string[] = [];
    for (const shard of readDirOrEmpty(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of readDirOrEmpty(path.join(this.root, shard))) {
        if (SHA256.test(name) && name.startsWith(shard)) out.push(name);
      }
    }
    return out.sort();
  }

  /** Deletes `*.tmp` files left by a write that crashed half-way; returns how many. */
  removeTempFiles(): number {
    let removed = 0;
    for (const shard of readDirOrEmpty(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of readDirOrEmpty(path.join(this.root, shard))) {
        if (name.endsWith(TMP_SUFFIX)) {
          fs.rmSync(path.join(this.root, shard, name), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function readDirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
}

/** Makes a rename in `dir` durable. No-op where folders cannot be fsynced (Windows). */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EBADF' && code !== 'EISDIR') throw error;
  } finally {
    fs.closeSync(fd);
  }
}
