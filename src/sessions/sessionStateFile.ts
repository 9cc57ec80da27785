import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFilePrivate } from '../store/fileModes';

/**
 * A terminal session's live state as the window running it publishes it, in
 * `<storageDir>/sessions/<id>/state.json` (0600), so `baton sessions` can show it without the window.
 */
export interface PublishedSessionState {
  id: string;
  profile: string;
  title: string;
  task_id: string | null;
  /** `starting`, `working`, `waiting`, `idle`, `exited`. */
  state: string;
  /** Who decided `state`: the agent's own hooks or the screen heuristics. */
  source: 'hooks' | 'screen';
  /** `approval`, `input` or `done` when a hook said so; null otherwise. */
  detail: string | null;
  /** How much the agent's hooks report: `full`, `partial` or `none` (not wired). */
  hooks: string;
  pid: number | null;
  tmux_session: string | null;
  started_at: string;
  /** ISO time of this publication. */
  updated_at: string;
  /** Process id of the window (extension host) running the session. */
  owner_pid: number;
}

const FILE = 'state.json';

/** Writes `state` atomically into the session's folder. */
export function publishSessionState(storageDir: string, state: PublishedSessionState): void {
  const dir = path.join(storageDir, 'sessions', state.id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, FILE);
  writeFilePrivate(`${file}.tmp`, JSON.stringify(state, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * Every published session state under `<storageDir>/sessions`, oldest session first. A session whose
 * window is gone (its `owner_pid` no longer runs) and which had not exited is reported with
 * `state: 'unknown'` (its tmux session may still run; the next window reattaches it). Unreadable files
 * are skipped.
 */
export function readSessionStates(storageDir: string): PublishedSessionState[] {
  let ids: string[];
  try {
    ids = fs.readdirSync(path.join(storageDir, 'sessions'));
  } catch {
    return [];
  }
  const out: PublishedSessionState[] = [];
  for (const id of ids) {
    try {
      const s = JSON.parse(fs.readFileSync(path.join(storageDir, 'sessions', id, FILE), 'utf8')) as PublishedSessionState;
      if (s.state !== 'exited' && !running(s.owner_pid)) s.state = 'unknown';
      out.push(s);
    } catch {
      // no state published (older session) or unreadable
    }
  }
  const num = (id: string) => Number(/\d+$/.exec(id)?.[0] ?? 0);
  return out.sort((a, b) => num(a.id) - num(b.id));
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
