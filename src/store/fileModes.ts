import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * File modes of everything Baton keeps about a workspace (state, journals, snapshots, checksums,
 * artifacts, tokens, the endpoint and lock files, the per-user registry): readable by the user only.
 * Modes given at creation are filtered by the process umask, which can only remove bits, so these
 * are upper bounds that a permissive umask cannot widen.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** `fs.mkdirSync(dir, { recursive: true })` with every folder it creates at 0700; an existing `dir` is tightened to 0700. */
export function mkdirPrivate(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE);
}

/** Writes `data` to `file` created (or truncated) at 0600; an existing file with a looser mode is tightened first. */
export function writeFilePrivate(file: string, data: string | Uint8Array, flag: 'w' | 'wx' = 'w'): void {
  fs.writeFileSync(file, data, { mode: PRIVATE_FILE_MODE, flag });
  tighten(file, PRIVATE_FILE_MODE);
}

/**
 * Tightens `dir` with `tightenTree` unless it is already private (no group or other bits): Baton makes
 * every folder 0700 from the start, so only a folder an older Baton (or VS Code's workspace storage)
 * created 0755 needs the walk, and opening a large storage folder does not walk it every time.
 * Returns how many entries were changed.
 */
export function tightenStateFolder(dir: string): number {
  try {
    if ((fs.statSync(dir).mode & 0o077) === 0) return 0;
  } catch {
    return 0;
  }
  return tightenTree(dir);
}

/**
 * Tightens a state folder made by an older Baton (0755 folders, 0644 files): the folder and every
 * folder below it to 0700, every regular file to 0600. Symbolic links are not followed. Returns how
 * many entries were changed. Errors on single entries (removed meanwhile) are ignored.
 */
export function tightenTree(dir: string): number {
  let changed = 0;
  const visit = (p: string, isDir: boolean) => {
    if (tighten(p, isDir ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE)) changed++;
    if (!isDir) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(p, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) visit(path.join(p, e.name), true);
      else if (e.isFile()) visit(path.join(p, e.name), false);
    }
  };
  visit(dir, true);
  return changed;
}

/**
 * Removes the group and other permission bits of `p` (a file 0644 becomes 0600, a folder 0755 becomes
 * 0700; the owner's own bits are kept); true when it changed anything. `_mode` documents the intent.
 */
function tighten(p: string, _mode: number): boolean {
  try {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink() || (st.mode & 0o077) === 0) return false;
    fs.chmodSync(p, st.mode & 0o700);
    return true;
  } catch {
    return false;
  }
}
