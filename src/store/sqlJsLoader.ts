/**
 * Loads the sql.js (SQLite compiled to WebAssembly) runtime exactly once per process.
 *
 * Where the `.wasm` file comes from:
 *  1. `path.join(__dirname, 'sql-wasm.wasm')` — the production layout: esbuild bundles all code into
 *     `dist/extension.js` / `dist/cli.js` and copies `sql-wasm.wasm` next to them, so `__dirname` is `dist/`.
 *  2. `require.resolve('sql.js/dist/sql-wasm.wasm')` — running from sources (tests via tsx), where
 *     `__dirname` is `src/store/` and the file lives in `node_modules/sql.js/dist/`.
 *
 * The bytes are read here and handed to sql.js as `wasmBinary`, so emscripten never has to locate or fetch
 * anything itself, and a missing file produces one clear error listing the paths that were tried.
 */
import * as fs from 'fs';
import * as path from 'path';
import initSqlJs from 'sql.js';
import type { SqlJsStatic } from 'sql.js';

export type { SqlJsStatic };

let cached: Promise<SqlJsStatic> | undefined;

/**
 * Returns the absolute path of `sql-wasm.wasm` that {@link loadSqlJs} uses.
 * @throws Error if the file is found in neither location (message lists both candidates).
 */
export function locateSqlWasm(): string {
  const tried: string[] = [];
  const nextToBundle = path.join(__dirname, 'sql-wasm.wasm');
  tried.push(nextToBundle);
  if (fs.existsSync(nextToBundle)) return nextToBundle;
  try {
    const resolved = require.resolve('sql.js/dist/sql-wasm.wasm');
    if (fs.existsSync(resolved)) return resolved;
    tried.push(resolved);
  } catch (err) {
    tried.push(`require.resolve('sql.js/dist/sql-wasm.wasm') failed: ${(err as Error).message}`);
  }
  throw new Error(`Baton: cannot find sql-wasm.wasm (tried: ${tried.join('; ')})`);
}

/**
 * Initializes sql.js once and returns the cached module on every later call (also while the first
 * initialization is still in flight). If initialization fails, the cache is cleared so a later call retries.
 * @returns the sql.js module (`Database` and `Statement` constructors).
 * @throws (rejects) if the wasm file cannot be found/read or WebAssembly instantiation fails.
 */
export function loadSqlJs(): Promise<SqlJsStatic> {
  if (!cached) {
    cached = (async () => {
      const wasmPath = locateSqlWasm();
      const bytes = fs.readFileSync(wasmPath);
      const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      return initSqlJs({ wasmBinary, locateFile: () => wasmPath });
    })();
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}
