import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Migration } from '../../../src/store/durableDatabase';

/** Migrations used by the store tests and the storeWriter child process. */
export const TEST_MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'rows',
    sql: 'CREATE TABLE rows (n INTEGER PRIMARY KEY, payload TEXT NOT NULL);',
  },
  {
    version: 2,
    description: 'blobs and notes',
    sql: `CREATE TABLE blobs (id TEXT PRIMARY KEY, data BLOB);
          CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, at TEXT NOT NULL);`,
  },
];

/** Deterministic payload of row `n`: `"<n>:"` followed by filler up to `size` characters. */
export function payloadFor(n: number, size: number): string {
  const head = `${n}:`;
  return head + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(size / 36)).slice(0, Math.max(0, size - head.length));
}

const created: string[] = [];

/** A fresh temporary directory, removed by {@link cleanupTmpDirs}. */
export function tmpDir(prefix = 'baton-store-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function cleanupTmpDirs(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Copies the regular files of `src` into a new temporary directory (what a crash would leave on disk). */
export function copyDir(src: string): string {
  const dst = tmpDir('baton-store-copy-');
  for (const name of fs.readdirSync(src)) {
    const from = path.join(src, name);
    if (fs.statSync(from).isFile()) fs.copyFileSync(from, path.join(dst, name));
  }
  return dst;
}

/** name → file contents for every file in `dir` (for "nothing changed" assertions). */
export function dirContents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) out[name] = fs.readFileSync(path.join(dir, name)).toString('base64');
  return out;
}
