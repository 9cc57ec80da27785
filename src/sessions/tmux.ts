/**
 * Helpers to run agent sessions inside tmux, so that they outlive the VS Code window.
 *
 * Baton uses its own tmux server (socket `-L baton` by default, or `-S <path>`), started with
 * `-f /dev/null`, so it never touches the user's tmux server or reads their configuration. Every
 * call goes through `execFile` (no shell); arguments that tmux itself would parse specially (a
 * trailing `;`, `#` in formats) are escaped.
 *
 * Requires tmux ≥ 3.0 (`new-session -e`). No `vscode` imports here.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Socket name used when the caller gives none (`tmux -L baton`). */
export const DEFAULT_TMUX_SOCKET = 'baton';
/** Prefix of every tmux session Baton creates. */
export const TMUX_SESSION_PREFIX = 'baton-';
/** Default `history-limit` (lines of scrollback kept per pane). */
export const DEFAULT_HISTORY_LIMIT = 50_000;

const EXEC_TIMEOUT_MS = 10_000;
const NAME_RE = /^[A-Za-z0-9_-]{1,200}$/;

/** A tmux command failed; `stderr` holds tmux's message. */
export class TmuxError extends Error {
  override readonly name = 'TmuxError';
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

let cachedBinary: string | undefined;

/** Absolute path of the tmux executable (PATH first, then the usual install places), or `'tmux'` when none is found. */
export function tmuxBinary(): string {
  if (cachedBinary) return cachedBinary;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin', '/opt/homebrew/bin', '/opt/local/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = path.join(dir, 'tmux');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return (cachedBinary = file);
    } catch {
      // keep looking
    }
  }
  return 'tmux';
}

/** `['-L', name]` or `['-S', path]` for a socket name or path (a value containing `/` is a path). */
export function tmuxSocketArgs(socket: string = DEFAULT_TMUX_SOCKET): string[] {
  return socket.includes('/') ? ['-S', socket] : ['-L', socket];
}

/**
 * Environment for tmux client commands: only what tmux needs. A server started by such a command
 * inherits it as its global environment, so panes get this plus the session's own `-e` variables
 * and nothing else from Baton's process. `TMUX` is left out so tmux never thinks it is nested.
 */
function tmuxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TMPDIR', 'TMUX_TMPDIR']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  return env;
}

/**
 * Runs `tmux <socket args> <args>` with execFile.
 * @returns stdout.
 * @throws TmuxError with tmux's stderr when tmux exits non-zero or cannot be run.
 */
export function runTmux(args: string[], socket?: string, options: { timeoutMs?: number } = {}): Promise<string> {
  const full = [...tmuxSocketArgs(socket), ...args];
  return new Promise((resolve, reject) => {
    execFile(tmuxBinary(), full, { env: tmuxEnv(), timeout: options.timeoutMs ?? EXEC_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const code = typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null;
        const msg = (stderr || '').trim() || error.message;
        reject(new TmuxError(`tmux ${args[0] ?? ''} failed: ${msg}`, stderr || '', code));
        return;
      }
      resolve(stdout);
    });
  });
}

/** True when the error says there is no tmux server on the socket or no such session/pane. */
export function isNoSessionError(err: unknown): boolean {
  if (!(err instanceof TmuxError)) return false;
  return /no server running|error connecting to|can't find (session|window|pane)|no such (session|window|pane)|session not found|no current (session|target)/i.test(err.stderr || err.message);
}

let cachedVersion: Promise<{ major: number; minor: number; text: string } | null> | undefined;

/** The installed tmux version (`tmux -V`), or null when tmux cannot be run. Cached per process. */
export function tmuxVersion(): Promise<{ major: number; minor: number; text: string } | null> {
  cachedVersion ??= new Promise((resolve) => {
    execFile(tmuxBinary(), ['-V'], { timeout: EXEC_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout) => {
      if (error) return resolve(null);
      const m = /(\d+)\.(\d+)/.exec(stdout);
      resolve(m ? { major: Number(m[1]), minor: Number(m[2]), text: stdout.trim() } : null);
    });
  });
  return cachedVersion;
}

/** True when a usable tmux (≥ 3.0) is installed. Never throws. */
export async function tmuxAvailable(): Promise<boolean> {
  const v = await tmuxVersion();
  return v !== null && v.major >= 3;
}

/**
 * The tmux session name for a Baton session id: `baton-` + the id with every character other than
 * letters, digits, `_` and `-` replaced by `_` (tmux forbids `.` and `:` in names).
 */
export function tmuxSessionName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120);
  return TMUX_SESSION_PREFIX + (safe || 'session');
}

function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new TypeError(`Invalid tmux session name "${name}": use letters, digits, "_" and "-" only`);
  return name;
}

/** Exact-match target for a session (`=name`), so `baton-1` never matches `baton-12`. */
function sessionTarget(name: string): string {
  return `=${checkName(name)}`;
}

/** Pane target: the active pane of the session's active window. */
function paneTarget(name: string): string {
  return `=${checkName(name)}:`;
}

/**
 * Escapes one argv element for tmux's own command parsing: an argument ending in `;` would end
 * the tmux command (and start another), so its `;` is written `\;`.
 */
export function escapeTmuxArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** Options of {@link newTmuxSession}. */
export interface NewTmuxSessionOptions {
  /** Working directory of the command. */
  cwd: string;
  /** Environment of the command (added to the server's minimal environment; `TMUX`/`TMUX_PANE` are skipped). */
  env: Record<string, string>;
  /** Initial window size in character cells. */
  cols: number;
  rows: number;
  /** Socket name or path (default `baton`). */
  socket?: string;
  /** Lines of scrollback kept (default 50 000). */
  historyLimit?: number;
}

/**
 * Creates a detached tmux session running `command args` directly (no shell in between).
 *
 * The server is configured for Baton: no status line, no prefix key (every key goes to the agent),
 * short escape-time (Escape reaches the agent at once), `remain-on-exit on` so the exit status can
 * be read after the command ends (`paneExitStatus`), a large `history-limit`, and a `pane-died` hook
 * that ends attached clients when the command exits.
 *
 * @throws TypeError for an invalid session name; TmuxError when tmux fails (e.g. duplicate session:
 *   "duplicate session: baton-…").
 */
export async function newTmuxSession(name: string, command: string, args: string[], options: NewTmuxSessionOptions): Promise<void> {
  checkName(name);
  const { socket } = options;
  const historyLimit = Math.max(100, Math.floor(options.historyLimit ?? DEFAULT_HISTORY_LIMIT));
  const envArgs: string[] = [];
  for (const [k, v] of Object.entries(options.env)) {
    if (k === 'TMUX' || k === 'TMUX_PANE' || !k || k.includes('=') || v === undefined) continue;
    envArgs.push('-e', escapeTmuxArg(`${k}=${v}`));
  }
  // With one argument tmux runs it through `sh -c`; `env -- command` keeps a zero-argument command out of the shell.
  const argv = args.length === 0 ? ['env', '--', command] : [command, ...args];
  const version = await tmuxVersion();
  const globals: string[][] = [
    ['set-option', '-g', 'history-limit', String(historyLimit)],
    ['set-window-option', '-g', 'remain-on-exit', 'on'],
    ['set-option', '-g', 'status', 'off'],
    ['set-option', '-g', 'prefix', 'None'],
    ['set-option', '-g', 'prefix2', 'None'],
    ['set-option', '-s', 'escape-time', '10'],
    ['set-option', '-g', 'set-titles', 'off'],
  ];
  const atLeast = (minor: number) => version !== null && (version.major > 3 || (version.major === 3 && version.minor >= minor));
  // The window takes the size of the most recently active client: the pty that attaches (tmux's default since 3.1).
  if (atLeast(1)) globals.push(['set-option', '-g', 'window-size', 'latest']);
  if (atLeast(3)) {
    // Leave the dead pane's last line alone instead of writing "Pane is dead (status …)" into it.
    globals.push(['set-window-option', '-g', 'remain-on-exit-format', '']);
  }
  const chain: string[] = ['-f', '/dev/null', 'start-server'];
  for (const g of globals) chain.push(';', ...g);
  chain.push(
    ';',
    'new-session', '-d', '-s', name,
    '-x', String(options.cols), '-y', String(options.rows),
    '-c', escapeTmuxArg(options.cwd.replace(/#/g, '##')),
    ...envArgs,
    '--', ...argv.map(escapeTmuxArg),
  );
  await runTmux(chain, socket);
  // Best effort (window hooks need tmux ≥ 3.2): end attached clients when the command exits, so the
  // owner notices at once; TerminalSession also polls, so nothing depends on this.
  await runTmux(['set-hook', '-t', paneTarget(name), 'pane-died', `detach-client -s ${sessionTarget(name)}`], socket).catch(() => undefined);
}

/**
 * The command and arguments that attach a client to the session, to run in a pty (node-pty):
 * `tmux -L baton -u attach-session -t =name`. The window follows the size of the most recently
 * active client (`window-size latest`, tmux's default), i.e. the pty's size; `-u` forces UTF-8.
 * Run it with `TMUX` unset in the environment.
 */
export function attachArgs(name: string, socket?: string): { command: string; args: string[] } {
  return { command: tmuxBinary(), args: [...tmuxSocketArgs(socket), '-u', 'attach-session', '-t', sessionTarget(name)] };
}

/** Options of {@link captureScrollback}. */
export interface CaptureOptions {
  socket?: string;
  /** Join wrapped lines (`-J`, default true). */
  join?: boolean;
  /** Keep colours and attributes as escape sequences (`-e`, default false). */
  escapes?: boolean;
  /** Which part: `all` (history then screen, default), `history` (only lines scrolled off), `screen` (only the visible rows). */
  part?: 'all' | 'history' | 'screen';
}

/**
 * The pane's text: up to `lines` lines of history plus the visible screen, via
 * `capture-pane -p -S -<lines> [-J]` (the visible rows are included, trailing blank rows too).
 *
 * @returns lines, oldest first.
 * @throws TmuxError when the session does not exist.
 */
export async function captureScrollback(name: string, lines: number, options: CaptureOptions = {}): Promise<string[]> {
  const part = options.part ?? 'all';
  if (part === 'history') {
    // With no history, "-E -1" is clamped to the first visible row: ask how much history there is.
    const size = Number((await runTmux(['display-message', '-p', '-t', paneTarget(name), '#{history_size}'], options.socket)).trim());
    if (!(size > 0) || lines <= 0) return [];
  }
  const args = ['capture-pane', '-p', '-t', paneTarget(name)];
  if (options.join ?? true) args.push('-J');
  if (options.escapes) args.push('-e');
  if (part === 'screen') args.push('-S', '0');
  else args.push('-S', String(-Math.max(0, Math.floor(lines))));
  if (part === 'history') args.push('-E', '-1');
  const out = await runTmux(args, options.socket);
  const result = out.split('\n');
  if (result.length > 0 && result[result.length - 1] === '') result.pop();
  return result;
}

/** True when the session exists on the socket (dead panes included). Never throws for a missing server. */
export async function sessionAlive(name: string, socket?: string): Promise<boolean> {
  try {
    await runTmux(['has-session', '-t', sessionTarget(name)], socket);
    return true;
  } catch (err) {
    if (err instanceof TmuxError) return false;
    throw err;
  }
}

/** State of a session's pane. */
export interface PaneStatus {
  /** The command has exited (the pane stays because of `remain-on-exit`). */
  dead: boolean;
  /** Exit status when it exited normally; null while alive or when unknown / killed by a signal. */
  exitCode: number | null;
  /** Signal number that killed it, when tmux reports one (tmux ≥ 3.3). */
  signal: number | null;
  /** pid of the pane's process (the agent). */
  pid: number | null;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Reads `#{pane_dead}`, `#{pane_dead_status}`, `#{pane_dead_signal}` and `#{pane_pid}`.
 *
 * tmux can see the pane die (its pty closes) before it has reaped the process, and tmux 3.3 can
 * miss the SIGCHLD entirely (it then never records the status). When the pane is dead without a
 * status this nudges the server with SIGCHLD and asks again, a few times over ~300 ms.
 *
 * @returns null when the session (or the server) does not exist.
 */
export async function paneExitStatus(name: string, socket?: string): Promise<PaneStatus | null> {
  for (let attempt = 0; ; attempt++) {
    let out: string;
    try {
      out = await runTmux(['display-message', '-p', '-t', paneTarget(name), '#{session_name}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}\t#{pane_pid}\t#{pid}'], socket);
    } catch (err) {
      if (isNoSessionError(err)) return null;
      throw err;
    }
    const [session, dead, status, signal, pid, serverPid] = out.replace(/\n$/, '').split('\t');
    // tmux 3.3 answers a display-message for a missing target with empty formats and status 0.
    if (session !== name) return null;
    const result: PaneStatus = {
      dead: dead === '1',
      exitCode: status !== undefined && status !== '' ? Number(status) : null,
      signal: signal !== undefined && signal !== '' ? Number(signal) : null,
      pid: pid ? Number(pid) : null,
    };
    if (!result.dead || result.exitCode !== null || result.signal !== null || attempt >= 6) return result;
    const spid = Number(serverPid);
    if (spid > 0) {
      try {
        process.kill(spid, 'SIGCHLD');
      } catch {
        // server gone: the next query says so
      }
    }
    await delay(50);
  }
}

/** Kills the session (its process gets SIGHUP). @returns false when there was no such session. */
export async function killTmuxSession(name: string, socket?: string): Promise<boolean> {
  try {
    await runTmux(['kill-session', '-t', sessionTarget(name)], socket);
    return true;
  } catch (err) {
    if (isNoSessionError(err)) return false;
    throw err;
  }
}

/** Sends tmux key names (`Enter`, `C-c`, `Escape`, …, or literal text with `literal`) to the session's pane. */
export async function sendTmuxKeys(name: string, keys: string[], socket?: string, literal = false): Promise<void> {
  await runTmux(['send-keys', '-t', paneTarget(name), ...(literal ? ['-l'] : []), ...keys.map(escapeTmuxArg)], socket);
}

/** A Baton tmux session as listed by {@link listBatonSessions}. */
export interface TmuxSessionInfo {
  name: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Number of attached clients. */
  attachedClients: number;
  /** The command has exited (status readable with `paneExitStatus`). */
  paneDead: boolean;
  panePid: number | null;
}

/** Sessions named `baton-…` on the socket; [] when no server runs. */
export async function listBatonSessions(socket?: string): Promise<TmuxSessionInfo[]> {
  let out: string;
  try {
    out = await runTmux(['list-sessions', '-F', '#{session_name}\t#{session_created}\t#{session_attached}\t#{pane_dead}\t#{pane_pid}'], socket);
  } catch (err) {
    if (isNoSessionError(err)) return [];
    throw err;
  }
  const sessions: TmuxSessionInfo[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [name, created, attached, dead, pid] = line.split('\t');
    if (!name.startsWith(TMUX_SESSION_PREFIX)) continue;
    sessions.push({ name, createdAt: Number(created) * 1000, attachedClients: Number(attached) || 0, paneDead: dead === '1', panePid: pid ? Number(pid) : null });
  }
  return sessions;
}

/** Kills the whole tmux server on the socket (every session on it). No error when none runs. */
export async function killTmuxServer(socket?: string): Promise<void> {
  try {
    await runTmux(['kill-server'], socket);
  } catch (err) {
    if (!isNoSessionError(err)) throw err;
  }
}
