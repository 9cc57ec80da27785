import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdirPrivate, writeFilePrivate } from './fileModes';

/**
 * Where a workspace's Baton state lives, shared by the extension and the `baton` CLI.
 *
 * The extension keeps state in VS Code's workspace storage (`ExtensionContext.storageUri`), whose path
 * the CLI cannot compute. So whoever first creates a workspace's storage folder records it in a small
 * per-user registry, `$BATON_HOME/workspaces/<hash>.json` (BATON_HOME defaults to `~/.baton`; the hash
 * is SHA-256 of the workspace folder's real path), and everyone else finds it there.
 */
export function batonHome(): string {
  return process.env.BATON_HOME || path.join(os.homedir(), '.baton');
}

function workspaceKey(workspaceDir: string): string {
  let real = path.resolve(workspaceDir);
  try {
    real = fs.realpathSync(real);
  } catch {
    // not created yet: use the resolved path
  }
  return createHash('sha256').update(real).digest('hex').slice(0, 16);
}

function registryFile(workspaceDir: string): string {
  return path.join(batonHome(), 'workspaces', `${workspaceKey(workspaceDir)}.json`);
}

/** The registered storage folder of a workspace, or null when none is registered (or it was deleted). */
export function findStorageDir(workspaceDir: string): string | null {
  try {
    const entry = JSON.parse(fs.readFileSync(registryFile(workspaceDir), 'utf8')) as { storageDir?: string };
    return entry.storageDir && fs.existsSync(entry.storageDir) ? entry.storageDir : null;
  } catch {
    return null;
  }
}

/**
 * The storage folder to use for `workspaceDir`: the registered one if it exists; otherwise `preferred`
 * (the extension passes its workspace storage) or `$BATON_HOME/workspaces/<hash>/`, which is then
 * created and registered. Throws when the folder cannot be created (the message names the path).
 */
export function resolveStorageDir(workspaceDir: string, preferred?: string): string {
  const existing = findStorageDir(workspaceDir);
  if (existing) return existing;
  const dir = preferred ?? path.join(batonHome(), 'workspaces', workspaceKey(workspaceDir));
  mkdirPrivate(dir);
  const file = registryFile(workspaceDir);
  mkdirPrivate(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFilePrivate(tmp, JSON.stringify({ workspace: path.resolve(workspaceDir), storageDir: dir, registeredAt: new Date().toISOString() }, null, 2));
  fs.renameSync(tmp, file);
  return dir;
}
