/**
 * A process running in a pseudo-terminal, on top of node-pty.
 *
 * node-pty is a native module: it is loaded lazily by {@link loadNodePty} so that a missing or
 * incompatible binary only disables terminal sessions instead of breaking the extension.
 * No `vscode` imports here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as NodePty from 'node-pty';

/** The node-pty module's type. */
export type NodePtyModule = typeof import('node-pty');

/** Something to call to stop listening. */
export interface Disposable {
  dispose(): void;
}

/** VS Code-style event: call with a listener, get a {@link Disposable} back. */
export type Event<T> = (listener: (e: T) => void) => Disposable;

/**
 * Minimal event emitter. A listener that throws does not stop the others; the error goes to
 * `console.error` (the emitter is called from node-pty and child-process callbacks, where a throw
 * would crash the host).
 */
export class Emitter<T> {
  private listeners: Array<(e: T) => void> = [];

  /** Subscribes a listener. */
  readonly event: Event<T> = (listener) => {
    this.listeners.push(listener);
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  };

  /** Calls every listener with `value`. */
  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch (err) {
        console.error('[baton] terminal session listener failed:', err);
      }
    }
  }

  /** Number of listeners (for tests). */
  get size(): number {
    return this.listeners.length;
  }

  /** Removes every listener. */
  dispose(): void {
    this.listeners = [];
  }
}

let cachedPty: { pty: NodePtyModule } | { error: string } | undefined;

/**
 * Loads node-pty with `require` inside try/catch, once per process.
 *
 * @returns `{ pty }` when the module and its native binary load, else `{ error }` with a message
 *   saying why (missing module, binary built for another Node ABI, …). Never throws.
 */
export function loadNodePty(): { pty: NodePtyModule } | { error: string } {
  if (cachedPty) return cachedPty;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pty = require('node-pty') as NodePtyModule;
    if (typeof pty?.spawn !== 'function') throw new Error('the module has no spawn function');
    cachedPty = { pty };
  } catch (err) {
    cachedPty = { error: `node-pty could not be loaded, so agent terminals are unavailable: ${err instanceof Error ? err.message : String(err)}` };
  }
  return cachedPty;
}

/** Why a process could not be started: `ENOENT` command not found, `EACCES` not executable, `ENOCWD` bad working directory, `EFAIL` node-pty refused. */
export type SpawnErrorCode = 'ENOENT' | 'EACCES' | 'ENOCWD' | 'EFAIL';

/** Thrown when a command cannot be started; the message names the command and the reason. */
export class SpawnError extends Error {
  override readonly name = 'SpawnError';
  constructor(
    message: string,
    /** Machine-readable reason. */
    readonly code: SpawnErrorCode,
    /** The command as given. */
    readonly command: string,
  ) {
    super(message);
  }
}

function isExecutableFile(file: string): 'ok' | 'missing' | 'noexec' {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return 'missing';
    if (process.platform === 'win32') return 'ok';
    fs.accessSync(file, fs.constants.X_OK);
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'noexec' : 'missing';
  }
}

/**
 * Finds the executable that `command` names, the way `execvp` would with `env.PATH`.
 *
 * @param command a bare name searched on PATH, or a path (relative paths resolve against `cwd`).
 * @param env the environment the process will get; its PATH (default `/usr/bin:/bin`) is searched.
 * @param cwd working directory for relative paths and empty PATH entries.
 * @returns the absolute path of the executable.
 * @throws SpawnError `ENOENT` when nothing is found, `EACCES` when the file exists but is not executable.
 */
export function resolveCommand(command: string, env: Record<string, string | undefined>, cwd: string): string {
  if (!command) throw new SpawnError('Cannot start an agent: the command is empty', 'ENOENT', command);
  const win = process.platform === 'win32';
  const exts = win ? (env.PATHEXT ?? env.Pathext ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean) : [''];
  const candidates = (base: string) => (win && path.extname(base) ? [base, ...exts.map((e) => base + e)] : exts.map((e) => base + e));
  let sawNoExec: string | undefined;
  const tryFile = (file: string): string | undefined => {
    for (const c of candidates(file)) {
      const r = isExecutableFile(c);
      if (r === 'ok') return c;
      if (r === 'noexec') sawNoExec ??= c;
    }
    return undefined;
  };
  if (command.includes('/') || (win && command.includes('\\'))) {
    const found = tryFile(path.resolve(cwd, command));
    if (found) return found;
  } else {
    const pathVar = env.PATH ?? env.Path ?? (win ? '' : '/usr/bin:/bin');
    for (const dir of pathVar.split(path.delimiter)) {
      const found = tryFile(path.resolve(cwd, dir || '.', command));
      if (found) return found;
    }
  }
  if (sawNoExec) throw new SpawnError(`Cannot start "${command}": ${sawNoExec} is not executable (permission denied)`, 'EACCES', command);
  if (command.includes('/')) throw new SpawnError(`Cannot start "${command}": no such file (${path.resolve(cwd, command)})`, 'ENOENT', command);
  const shownPath = (env.PATH ?? env.Path ?? '').slice(0, 400);
  throw new SpawnError(`Cannot start "${command}": command not found on PATH (${shownPath || 'PATH is empty'})`, 'ENOENT', command);
}

/** Options of {@link PtyProcess.spawn}. */
export interface PtySpawnOptions {
  /** Working directory; must exist. */
  cwd: string;
  /** Complete environment of the process (not merged with `process.env`). */
  env: Record<string, string>;
  /** Terminal size in character cells. */
  cols: number;
  rows: number;
  /** TERM name (default `xterm-256color`). */
  name?: string;
  /** The node-pty module; default {@link loadNodePty}. */
  pty?: NodePtyModule;
}

/** How a pty process ended. `exitCode` is 128 + signal when a signal killed it (as shells report it). */
export interface PtyExit {
  exitCode: number;
  /** The signal number that ended the process, if any. */
  signal?: number;
}

/** node-pty prints this in the child and exits 1 when `execvp` fails after the fork. */
const EXEC_FAILED_RE = /^(execvp\(3\)|chdir\(2\)) failed\.?: (.*)/;

/**
 * One process in a pseudo-terminal.
 *
 * Data arrives as UTF-8 strings through {@link onData}; {@link onExit} fires once, after the last
 * data. Writing to or resizing an exited process does nothing.
 */
export class PtyProcess {
  private readonly dataEmitter = new Emitter<string>();
  private readonly exitEmitter = new Emitter<PtyExit>();
  private exitInfo: PtyExit | undefined;
  private failure: string | undefined;
  private firstData = true;
  /** Resolves when the process has exited. */
  readonly whenExited: Promise<PtyExit>;
  private resolveExit!: (e: PtyExit) => void;

  private constructor(
    private readonly term: NodePty.IPty,
    /** The command as given to {@link spawn}. */
    readonly command: string,
  ) {
    this.whenExited = new Promise((resolve) => (this.resolveExit = resolve));
    term.onData((data) => {
      if (this.firstData) {
        this.firstData = false;
        const m = EXEC_FAILED_RE.exec(data);
        if (m) this.failure = `Cannot start "${command}": ${m[2].trim()}`;
      }
      this.dataEmitter.fire(data);
    });
    term.onExit(({ exitCode, signal }) => {
      let code = exitCode;
      if (signal) code = exitCode || 128 + signal;
      // node-pty exits 1 after printing "execvp(3) failed"; report it like a shell does.
      if (this.failure && exitCode === 1) code = /No such file/i.test(this.failure) ? 127 : 126;
      this.exitInfo = signal ? { exitCode: code, signal } : { exitCode: code };
      this.exitEmitter.fire(this.exitInfo);
      this.resolveExit(this.exitInfo);
      this.dataEmitter.dispose();
      this.exitEmitter.dispose();
    });
  }

  /**
   * Starts `command` with `args` in a new pseudo-terminal.
   *
   * The command is looked up on `options.env.PATH` first, so a missing command fails here with a
   * clear message instead of a process that prints "execvp(3) failed" and exits.
   *
   * @throws SpawnError naming the command: `ENOENT` (not found), `EACCES` (not executable),
   *   `ENOCWD` (working directory missing), `EFAIL` (node-pty unavailable or refused).
   */
  static spawn(command: string, args: string[], options: PtySpawnOptions): PtyProcess {
    let cwdOk = false;
    try {
      cwdOk = fs.statSync(options.cwd).isDirectory();
    } catch {
      cwdOk = false;
    }
    if (!cwdOk) throw new SpawnError(`Cannot start "${command}": working directory ${options.cwd} does not exist`, 'ENOCWD', command);
    resolveCommand(command, options.env, options.cwd);
    let ptyModule = options.pty;
    if (!ptyModule) {
      const loaded = loadNodePty();
      if ('error' in loaded) throw new SpawnError(`Cannot start "${command}": ${loaded.error}`, 'EFAIL', command);
      ptyModule = loaded.pty;
    }
    let term: NodePty.IPty;
    try {
      term = ptyModule.spawn(command, args, {
        name: options.name ?? 'xterm-256color',
        cols: checkSize(options.cols, 'cols'),
        rows: checkSize(options.rows, 'rows'),
        cwd: options.cwd,
        env: { ...options.env },
        encoding: 'utf8',
      });
    } catch (err) {
      throw new SpawnError(`Cannot start "${command}": ${err instanceof Error ? err.message : String(err)}`, 'EFAIL', command);
    }
    return new PtyProcess(term, command);
  }

  /** Process id of the process in the terminal. */
  get pid(): number {
    return this.term.pid;
  }

  /** Current size in character cells. */
  get cols(): number {
    return this.term.cols;
  }

  get rows(): number {
    return this.term.rows;
  }

  /** How the process ended, or `undefined` while it runs. */
  get exited(): PtyExit | undefined {
    return this.exitInfo;
  }

  /** When the exec after the fork failed (node-pty's "execvp(3) failed"), a message naming the command; the exit code is then 127 (not found) or 126. */
  get spawnFailure(): string | undefined {
    return this.failure;
  }

  /** Output of the terminal, as UTF-8 strings. */
  readonly onData: Event<string> = (listener) => this.dataEmitter.event(listener);

  /** Fires once when the process has exited and its output has been read. */
  readonly onExit: Event<PtyExit> = (listener) => this.exitEmitter.event(listener);

  /** Sends input to the terminal (keystrokes: `\r` is Enter, `\x03` is Ctrl-C). Ignored after exit. */
  write(data: string): void {
    if (this.exitInfo) return;
    this.term.write(data);
  }

  /** Resizes the terminal (sends SIGWINCH). Ignored after exit. @throws RangeError for sizes that are not positive integers. */
  resize(cols: number, rows: number): void {
    checkSize(cols, 'cols');
    checkSize(rows, 'rows');
    if (this.exitInfo) return;
    try {
      this.term.resize(cols, rows);
    } catch {
      // the pty may close between the check and the call
    }
  }

  /** Stops reading the program's output until {@link resume}: a program writing more then blocks (flow control). Ignored after exit. */
  pause(): void {
    if (this.exitInfo) return;
    this.term.pause();
  }

  /** Reads the program's output again after {@link pause}. Ignored after exit. */
  resume(): void {
    if (this.exitInfo) return;
    this.term.resume();
  }

  /** Sends a signal to the process (default SIGHUP, as closing a terminal does). Ignored after exit. */
  kill(signal?: NodeJS.Signals): void {
    if (this.exitInfo) return;
    try {
      this.term.kill(signal);
    } catch {
      // already gone
    }
  }
}

function checkSize(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0 || n > 10_000) throw new RangeError(`Terminal ${what} must be a positive integer, got ${n}`);
  return n;
}
