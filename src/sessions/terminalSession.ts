/**
 * One running agent CLI in a terminal: directly under node-pty, or inside a tmux session (attached
 * through node-pty) so that it survives the VS Code window.
 *
 * The VS Code Pseudoterminal adapter is built on top of this class; nothing here imports `vscode`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { DEFAULT_SCROLLBACK_LINES, OutputBuffer } from './outputBuffer';
import { Emitter, type Event, type NodePtyModule, PtyProcess, resolveCommand, SpawnError } from './ptyProcess';
import { type DetectorOptions, type SessionState, type StateDetail, type StateSource, StateDetector } from './stateDetector';
import {
  attachArgs,
  captureScrollback,
  killTmuxSession,
  newTmuxSession,
  paneExitStatus,
  sendTmuxKeys,
  sessionAlive,
  tmuxAvailable,
  tmuxSessionName,
  DEFAULT_TMUX_SOCKET,
} from './tmux';

/** What {@link TerminalSession.start} needs. */
export interface TerminalSessionSpec {
  /** Baton's id of the session; under tmux the session is named `tmuxSessionName(id)` (`baton-<id>`). */
  id: string;
  /** Executable, looked up on `env.PATH` (never through a shell). */
  command: string;
  args: string[];
  /** Working directory; must exist. */
  cwd: string;
  /** Complete environment of the agent (not merged with Baton's own). */
  env: Record<string, string>;
  /** Terminal size in character cells. */
  cols: number;
  rows: number;
  /** Run inside a tmux session on Baton's own tmux server, so the agent outlives the window. */
  useTmux: boolean;
  /** tmux socket name (`-L`) or path (`-S`, contains a `/`); default `baton`. */
  tmuxSocket?: string;
  /** Capacity of the output buffer in bytes (see {@link OutputBuffer}). */
  bufferBytes: number;
  /** Overrides of the state detector's options (patterns, timings, scheduler). */
  detector?: Partial<DetectorOptions>;
  /** The node-pty module (from `loadNodePty()`). */
  pty: NodePtyModule;
  /** Under tmux: milliseconds between checks that the agent is still running (default 500). */
  tmuxPollMs?: number;
  /** Under tmux: scrollback lines kept by tmux (default 50 000). */
  historyLimit?: number;
  /** Lines of scrollback the output buffer's terminal keeps, and on reattach the lines of tmux history copied into it (default 2 000). */
  scrollbackLines?: number;
}

/** What {@link TerminalSession.reattach} needs: a spec (command and args unused) plus the tmux session name. */
export type ReattachSpec = Omit<TerminalSessionSpec, 'command' | 'args' | 'useTmux'> &
  Partial<Pick<TerminalSessionSpec, 'command' | 'args' | 'useTmux'>> & { tmuxSession: string };

/** How a session ended. */
export interface SessionExit {
  /**
   * Exit status of the agent; 128 + n when killed by signal n; null when unknown (under tmux: the
   * session was killed, or vanished, before its status could be read).
   */
  exitCode: number | null;
  /** Signal number that ended the agent, when known. */
  signal?: number;
  /** Why it ended, when Baton knows more than the code (e.g. the command could not be executed). */
  message?: string;
}

/** Payload of {@link TerminalSession.onStateChange}. */
export interface StateChange {
  state: SessionState;
  previous: SessionState;
}

/** Options of {@link TerminalSession.stop}. */
export interface StopOptions {
  /** Milliseconds to wait after Ctrl-C before forcing (SIGTERM then SIGKILL, or killing the tmux session). Default 3 000. */
  timeoutMs?: number;
}

const DEFAULT_POLL_MS = 500;
/** Output (UTF-16 units) waiting to be parsed by the buffer's terminal above which the pty is paused… */
const PAUSE_PENDING_CHARS = 1024 * 1024;
/** …and at or below which it is resumed. */
const RESUME_PENDING_CHARS = 128 * 1024;
/**
 * Longest single pause (ms). node-pty waits for its socket to close before reporting an exit, and destroys a
 * socket that stays open 200 ms after the program ended — with the unread output in it. A pause never
 * outlasts that, so a program that ends while paused still delivers its last output; flow control
 * then pauses again on the next chunk if the backlog is still large.
 */
const MAX_PAUSE_MS = 100;
/** How long a dead pane may lack an exit status (tmux lost the SIGCHLD) before the exit is reported as unknown. */
const DEAD_WITHOUT_STATUS_MS = 3_000;

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The notice a tmux client prints when it leaves, after restoring the terminal's main screen
 * ("[detached (from session baton-1)]", "[exited]", …). Kept out of the buffer and the detector (the
 * terminal UI still gets it). It follows `ESC [ ? 1049 l`, in the same chunk or at the start of the next.
 */
const TMUX_NOTICE = String.raw`(?:\x1b\[[0-9;]*t)?\[(?:detached|exited|server exited|lost tty|terminated|killed)[^\]\r\n]*\]\r?\n?`;
const TMUX_NOTICE_AT_START_RE = new RegExp(`^${TMUX_NOTICE}`);
const TMUX_NOTICE_AFTER_EXIT_RE = new RegExp(`(\\x1b\\[\\?1049l)${TMUX_NOTICE}`, 'g');

/**
 * A running (or finished) agent CLI.
 *
 * - Output goes to {@link onData} (raw, for a terminal UI), into a bounded {@link OutputBuffer}
 *   ({@link readLines}, {@link readText}) and into a {@link StateDetector} ({@link state}, {@link onStateChange}).
 * - Input: {@link write} for text, {@link sendKeys} for named keys.
 * - Ending: {@link onExit} fires once; {@link stop} ends the agent; {@link detach} (tmux) leaves it running.
 *
 * Under tmux the agent runs in session `tmuxSession` on Baton's tmux server and a `tmux attach`
 * client runs in the pty; `pid` is the agent's pid (the pane's), and the exit code is read from
 * tmux (`pane_dead_status`) when the pane dies.
 */
export class TerminalSession {
  /** Baton's id of the session. */
  readonly id: string;
  /** Name of the tmux session, or undefined when running directly under node-pty. */
  readonly tmuxSession: string | undefined;
  /** Resolves once with the exit (also delivered by {@link onExit}). */
  readonly whenExited: Promise<SessionExit>;

  private readonly socket: string | undefined;
  private readonly buffer: OutputBuffer;
  private readonly detector: StateDetector;
  private readonly dataEmitter = new Emitter<string>();
  private readonly stateEmitter = new Emitter<StateChange>();
  private readonly exitEmitter = new Emitter<SessionExit>();
  private resolveExit!: (e: SessionExit) => void;
  private client: PtyProcess | undefined;
  private agentPid: number | undefined;
  private exitInfo: SessionExit | undefined;
  private cols: number;
  private rows: number;
  private applicationCursor = false;
  /** The pty is paused until the buffer has parsed its backlog (flow control). */
  private paused = false;
  private pauseTimer: ReturnType<typeof setTimeout> | undefined;
  /** The exit is known and is reported once the buffer has parsed the last output. */
  private exiting = false;
  /** The tmux client has left its alternate screen (it is exiting): its notice follows. */
  private clientLeaving = false;
  private detachedFlag = false;
  private stopReason: string | undefined;
  private stopping = false;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private checking = false;
  private recheck = false;
  private deadSince: number | undefined;
  private attachTimes: number[] = [];

  private constructor(
    private readonly spec: ReattachSpec | TerminalSessionSpec,
    tmuxName: string | undefined,
  ) {
    this.id = spec.id;
    this.tmuxSession = tmuxName;
    this.socket = spec.tmuxSocket;
    this.cols = spec.cols;
    this.rows = spec.rows;
    // Under tmux the attach client draws the pane on the alternate screen: keep it on the main one so
    // lines scrolling off the pane reach the scrollback, as they do in tmux's own history.
    this.buffer = new OutputBuffer(spec.bufferBytes, { cols: spec.cols, rows: spec.rows, scrollback: spec.scrollbackLines ?? DEFAULT_SCROLLBACK_LINES, mainScreenOnly: tmuxName !== undefined });
    this.detector = new StateDetector(this.buffer, spec.detector, (state, previous) => this.stateEmitter.fire({ state, previous }));
    this.whenExited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /**
   * Starts the agent: directly in a node-pty pseudo-terminal, or (`useTmux`) in a new detached tmux
   * session `baton-<id>` that a `tmux attach` client in a node-pty terminal shows.
   *
   * @throws SpawnError naming the command when it cannot be started (not found on `env.PATH`, not
   *   executable, missing working directory); Error when `useTmux` is set but tmux ≥ 3.0 is missing
   *   or a tmux session for this id already exists (reattach to it, or stop it, instead); RangeError
   *   for bad sizes.
   */
  static async start(spec: TerminalSessionSpec): Promise<TerminalSession> {
    checkSpec(spec);
    if (!spec.useTmux) {
      const proc = PtyProcess.spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, cols: spec.cols, rows: spec.rows, pty: spec.pty });
      const session = new TerminalSession(spec, undefined);
      session.client = proc;
      session.agentPid = proc.pid;
      proc.onData((d) => session.handleData(d));
      proc.onExit((e) => session.finishExit({ exitCode: e.exitCode, ...(e.signal ? { signal: e.signal } : {}), ...(proc.spawnFailure ? { message: proc.spawnFailure } : {}) }));
      return session;
    }
    if (!(await tmuxAvailable())) throw new Error(`Cannot start "${spec.command}" in tmux: tmux 3.0 or later is not installed`);
    if (!isDirectory(spec.cwd)) throw new SpawnError(`Cannot start "${spec.command}": working directory ${spec.cwd} does not exist`, 'ENOCWD', spec.command);
    resolveCommand(spec.command, spec.env, spec.cwd);
    const name = tmuxSessionName(spec.id);
    if (await sessionAlive(name, spec.tmuxSocket)) {
      throw new Error(`A tmux session ${name} already exists on socket ${spec.tmuxSocket ?? DEFAULT_TMUX_SOCKET}: reattach to it or stop it first`);
    }
    await newTmuxSession(name, spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      cols: spec.cols,
      rows: spec.rows,
      socket: spec.tmuxSocket,
      historyLimit: spec.historyLimit,
    });
    const session = new TerminalSession(spec, name);
    try {
      const status = await paneExitStatus(name, spec.tmuxSocket);
      session.agentPid = status?.pid ?? undefined;
      session.attachClient();
    } catch (err) {
      session.detector.dispose();
      await killTmuxSession(name, spec.tmuxSocket).catch(() => false);
      throw err;
    }
    session.startPolling();
    return session;
  }

  /**
   * Attaches to an existing Baton tmux session (after a window reload, or after the process that
   * owned it died). The buffer is seeded with the pane's scrollback (`captureScrollback`) so
   * `readLines` includes earlier output; the seeded text is not replayed through `onData` (read it
   * with `readText()`), while the tmux client redraws the screen itself. When the agent has already
   * exited, no client is attached: the session is returned with its output, and `onExit`/`state`
   * report the exit code read from tmux just after this call resolves; the tmux session is then removed.
   *
   * @throws Error when tmux is missing or the session does not exist; RangeError for bad sizes.
   */
  static async reattach(spec: ReattachSpec): Promise<TerminalSession> {
    checkSpec(spec);
    if (!(await tmuxAvailable())) throw new Error(`Cannot reattach to ${spec.tmuxSession}: tmux 3.0 or later is not installed`);
    const name = spec.tmuxSession;
    const status = await paneExitStatus(name, spec.tmuxSocket);
    if (!status) throw new Error(`Cannot reattach: tmux session ${name} does not exist on socket ${spec.tmuxSocket ?? DEFAULT_TMUX_SOCKET}`);
    const lines = spec.scrollbackLines ?? DEFAULT_SCROLLBACK_LINES;
    if (status.dead) {
      const all = await captureScrollback(name, lines, { socket: spec.tmuxSocket });
      while (all.length > 0 && all[all.length - 1].trim() === '') all.pop();
      const session = new TerminalSession(spec, name);
      session.agentPid = status.pid ?? undefined;
      session.seed(all.join('\r\n'));
      await session.settled();
      setImmediate(() => void session.checkPane());
      return session;
    }
    // History joined (logical lines), then the visible rows as they are, so that the client's redraw
    // (cursor-addressed from the top of the last `rows` lines) lands on the same lines.
    const history = await captureScrollback(name, lines, { socket: spec.tmuxSocket, part: 'history' });
    const screen = await captureScrollback(name, 0, { socket: spec.tmuxSocket, part: 'screen', join: false });
    const session = new TerminalSession(spec, name);
    session.agentPid = status.pid ?? undefined;
    session.seed([...history, ...screen].join('\r\n'));
    await session.settled(); // readLines() shows the earlier output as soon as this resolves
    try {
      session.attachClient();
    } catch (err) {
      session.detector.dispose();
      throw err;
    }
    session.startPolling();
    return session;
  }

  /** Raw output (escape sequences included), for the terminal UI. */
  readonly onData: Event<string> = (listener) => this.dataEmitter.event(listener);

  /** State changes from the detector: `starting → working → waiting/idle → … → exited`. */
  readonly onStateChange: Event<StateChange> = (listener) => this.stateEmitter.event(listener);

  /** Fires once when the agent has ended. */
  readonly onExit: Event<SessionExit> = (listener) => this.exitEmitter.event(listener);

  /** Current state (see {@link SessionState}). */
  get state(): SessionState {
    return this.detector.state;
  }

  /** Who decided {@link state}: the agent's own hooks or the screen heuristics. */
  get stateSource(): StateSource {
    return this.detector.source;
  }

  /** What the agent's hook said beyond the state (`approval`, `input`, `done`), null from the screen. */
  get stateDetail(): StateDetail {
    return this.detector.detail;
  }

  /** A state reported by the agent CLI's hooks; see {@link StateDetector.fromHook}. */
  reportHookState(state: Exclude<SessionState, 'exited' | 'starting'>, detail: StateDetail, holdMs: number, untilOutput = false): void {
    this.detector.fromHook(state, detail, holdMs, untilOutput);
  }

  /** Exit code: undefined while running, null when it ended with an unknown code. */
  get exitCode(): number | null | undefined {
    return this.exitInfo ? this.exitInfo.exitCode : undefined;
  }

  /** The full exit information once ended. */
  get exit(): SessionExit | undefined {
    return this.exitInfo;
  }

  /** pid of the agent (under tmux: the pane's process, not the attach client). */
  get pid(): number | undefined {
    return this.agentPid;
  }

  /** Terminal size in cells. */
  get size(): { cols: number; rows: number } {
    return { cols: this.cols, rows: this.rows };
  }

  /** True while a terminal shows the agent (direct: until exit; tmux: while the attach client runs). */
  get attached(): boolean {
    return this.client !== undefined && !this.client.exited;
  }

  /** True after {@link detach}: this object no longer follows the agent. */
  get detached(): boolean {
    return this.detachedFlag;
  }

  /** Bytes of output seen and held by the buffer. */
  get bufferStats(): { totalBytes: number; heldBytes: number; maxBytes: number } {
    return { totalBytes: this.buffer.totalBytes, heldBytes: this.buffer.heldBytes, maxBytes: this.buffer.maxBytes };
  }

  /**
   * Sends text to the agent as typed input (`\r` is Enter). Returns false (and sends nothing) when
   * no terminal is attached: the agent exited, or the session was detached.
   */
  write(text: string): boolean {
    const client = this.client;
    if (!client || client.exited || this.exitInfo || this.detachedFlag) return false;
    this.detector.noteInput(text);
    client.write(text);
    return true;
  }

  /**
   * Sends named keys, in order: `Enter`, `Escape`, `Tab`, `BTab`, `Backspace`, `Space`, `Up`,
   * `Down`, `Left`, `Right`, `Home`, `End`, `PageUp`, `PageDown`, `Insert`, `Delete`, `F1`–`F12`,
   * `C-<key>` (Ctrl, e.g. `C-c`), `M-<key>` (Alt/Meta), or a single character.
   * @throws Error for an unknown key name (nothing is sent).
   * @returns false when no terminal is attached.
   */
  sendKeys(keys: string[]): boolean {
    return this.write(encodeKeys(keys, { applicationCursor: this.applicationCursor }));
  }

  /**
   * The last `n` lines of output as plain text, as the terminal shows them (see {@link OutputBuffer.lines}):
   * output parsed so far, which lags the newest output by a tick at most (see {@link settled});
   * everything once the session has exited.
   */
  readLines(n: number): string[] {
    return this.buffer.lines(n);
  }

  /** Resolves once all output received so far is on the screen that {@link readLines} and the state detector read. */
  settled(): Promise<void> {
    return this.buffer.flush();
  }

  /** All held raw output (bounded by `bufferBytes`), e.g. to replay into a new terminal view. */
  readText(): string {
    return this.buffer.text();
  }

  /** Same as {@link readText}: the held raw output, to replay into a terminal view that opens late. */
  rawOutput(): string {
    return this.buffer.text();
  }

  /** Resizes the terminal (and, under tmux, the window through the attached client). @throws RangeError for bad sizes. */
  resize(cols: number, rows: number): void {
    checkSize(cols, 'cols');
    checkSize(rows, 'rows');
    this.cols = cols;
    this.rows = rows;
    this.buffer.resize(cols, rows);
    this.client?.resize(cols, rows);
  }

  /**
   * Ends the agent gracefully: Ctrl-C (twice, 200 ms apart), then after `timeoutMs` SIGTERM and
   * SIGKILL (direct), or kills the tmux session and then the pane's process if still alive (tmux).
   * @returns the exit (also delivered by {@link onExit}).
   */
  async stop(options: StopOptions = {}): Promise<SessionExit> {
    if (this.exitInfo) return this.exitInfo;
    const timeoutMs = options.timeoutMs ?? 3_000;
    this.stopping = true;
    if (this.tmuxSession) {
      const name = this.tmuxSession;
      this.startPolling();
      await sendTmuxKeys(name, ['C-c'], this.socket).catch(() => undefined);
      if (await this.waitExit(200)) return this.exitInfo!;
      await sendTmuxKeys(name, ['C-c'], this.socket).catch(() => undefined);
      if (await this.waitExit(timeoutMs)) return this.exitInfo!;
      this.stopReason = `stopped: tmux session ${name} killed ${timeoutMs} ms after Ctrl-C`;
      const pid = this.agentPid;
      await killTmuxSession(name, this.socket).catch(() => false);
      if (pid && !(await this.waitExit(500)) && processRunning(pid) !== false) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (!(await this.waitExit(1_000))) this.finishExit({ exitCode: null, message: this.stopReason });
      return this.whenExited;
    }
    const proc = this.client;
    if (!proc) {
      this.finishExit({ exitCode: null, message: 'stopped' });
      return this.whenExited;
    }
    proc.write('\x03');
    if (await this.waitExit(200)) return this.exitInfo!;
    proc.write('\x03');
    if (await this.waitExit(timeoutMs / 2)) return this.exitInfo!;
    proc.kill('SIGTERM');
    if (await this.waitExit(timeoutMs / 2)) return this.exitInfo!;
    proc.kill('SIGKILL');
    if (!(await this.waitExit(2_000))) this.finishExit({ exitCode: null, message: 'stopped: the process did not exit after SIGKILL' });
    return this.whenExited;
  }

  /**
   * Under tmux: ends only the attach client and leaves the agent running in its tmux session (what a
   * window reload does); this object then stops following it (no more events) — use
   * {@link reattach} to follow it again. Without tmux there is nothing that could keep the agent
   * running, so this stops it like {@link stop}.
   */
  async detach(): Promise<void> {
    if (!this.tmuxSession) {
      await this.stop();
      return;
    }
    if (this.exitInfo || this.detachedFlag) return;
    this.detachedFlag = true;
    this.stopPolling();
    this.detector.dispose();
    const client = this.client;
    this.client = undefined;
    if (client && !client.exited) {
      client.kill('SIGHUP');
      const ended = await Promise.race([client.whenExited.then(() => true), delay(2_000).then(() => false)]);
      if (!ended) client.kill('SIGKILL');
    }
  }

  private seed(text: string): void {
    if (!text) return;
    this.buffer.append(text, () => this.detector.feed(text));
  }

  private handleData(chunk: string): void {
    if (chunk.includes('\x1b[?1')) {
      // Track DECCKM (application cursor keys) so that sendKeys sends what the program expects.
      const re = /\x1b\[\?1([hl])/g;
      let m: RegExpExecArray | null;
      while ((m = re.exec(chunk))) this.applicationCursor = m[1] === 'h';
    }
    let forBuffer = chunk;
    if (this.tmuxSession) {
      if (this.clientLeaving) {
        forBuffer = forBuffer.replace(TMUX_NOTICE_AT_START_RE, '');
        this.clientLeaving = false;
      }
      if (forBuffer.includes('\x1b[?1049l')) {
        this.clientLeaving = /\x1b\[\?1049l(?:\x1b\[[0-9;]*t)?$/.test(forBuffer);
        forBuffer = forBuffer.replace(TMUX_NOTICE_AFTER_EXIT_RE, '$1');
      }
    }
    const client = this.client;
    this.buffer.append(forBuffer, () => {
      this.detector.feed(forBuffer);
      // Flow control: the program waits while the terminal parses a backlog (a flood of output).
      if (this.paused && this.buffer.pendingChars <= RESUME_PENDING_CHARS) this.resumeClient();
    });
    if (!this.paused && client && this.buffer.pendingChars > PAUSE_PENDING_CHARS) {
      this.paused = true;
      client.pause();
      this.pauseTimer = setTimeout(() => this.resumeClient(), MAX_PAUSE_MS);
    }
    this.dataEmitter.fire(chunk);
  }

  /** Ends a flow-control pause (the backlog was parsed, or the pause reached MAX_PAUSE_MS). */
  private resumeClient(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    if (!this.paused) return;
    this.paused = false;
    this.client?.resume();
  }

  private attachClient(): void {
    const name = this.tmuxSession!;
    const { command, args } = attachArgs(name, this.socket);
    const env = { ...this.spec.env };
    delete env.TMUX;
    delete env.TMUX_PANE;
    const cwd = isDirectory(this.spec.cwd) ? this.spec.cwd : os.homedir();
    const proc = PtyProcess.spawn(command, args, { cwd, env, cols: this.cols, rows: this.rows, pty: this.spec.pty });
    this.client = proc;
    this.clientLeaving = false;
    this.attachTimes.push(Date.now());
    proc.onData((d) => {
      if (this.client === proc) this.handleData(d);
    });
    proc.onExit(() => {
      if (this.client !== proc) return;
      this.client = undefined;
      if (!this.detachedFlag && !this.exitInfo) void this.checkPane();
    });
  }

  private startPolling(): void {
    if (this.pollTimer || this.exitInfo || !this.tmuxSession) return;
    const ms = this.spec.tmuxPollMs ?? DEFAULT_POLL_MS;
    this.pollTimer = setInterval(() => void this.checkPane(true), ms);
    this.pollTimer.unref?.();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /**
   * Under tmux: reads the pane's state and, when it died, removes the tmux session and reports the
   * exit (so the session is gone when `onExit` fires), or re-attaches a client that ended while the agent still runs.
   * @param cheap skip the tmux query when the agent's process is visibly still running (Linux /proc).
   */
  private async checkPane(cheap = false): Promise<void> {
    if (this.exitInfo || (this.detachedFlag && !this.stopping) || !this.tmuxSession) return;
    if (cheap && this.client && this.agentPid && processRunning(this.agentPid) === true) return;
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    const name = this.tmuxSession;
    try {
      let status;
      try {
        status = await paneExitStatus(name, this.socket);
      } catch {
        return; // tmux hiccup (timeout): try again at the next poll
      }
      if (this.exitInfo) return;
      if (status === null) {
        this.finishExit({ exitCode: null, message: this.stopReason ?? `tmux session ${name} no longer exists` });
        return;
      }
      if (status.pid) this.agentPid = status.pid;
      if (status.dead) {
        if (status.exitCode === null && status.signal === null) {
          this.deadSince ??= Date.now();
          if (Date.now() - this.deadSince < DEAD_WITHOUT_STATUS_MS) {
            this.startPolling();
            return;
          }
        }
        const exit: SessionExit =
          status.exitCode !== null
            ? { exitCode: status.exitCode }
            : status.signal !== null
              ? { exitCode: 128 + status.signal, signal: status.signal }
              : { exitCode: null, message: 'tmux did not report the exit status' };
        // The status is read: remove the dead session (ending the attach client), then report.
        await killTmuxSession(name, this.socket).catch(() => false);
        this.finishExit(exit);
        return;
      }
      if (!this.client && !this.detachedFlag && !this.stopping) {
        // The attach client ended but the agent runs (someone detached it from outside): attach again, within reason.
        const now = Date.now();
        this.attachTimes = this.attachTimes.filter((t) => now - t < 10_000);
        if (this.attachTimes.length < 5) {
          try {
            this.attachClient();
          } catch {
            // keep polling; the agent's exit will still be noticed
          }
        }
        this.startPolling();
      }
    } finally {
      this.checking = false;
      if (this.recheck && !this.exitInfo) {
        this.recheck = false;
        setTimeout(() => void this.checkPane(), 50).unref?.();
      }
    }
  }

  /** Reports the exit once the buffer has parsed the last output, so readers of the exit see all of it. */
  private finishExit(exit: SessionExit): void {
    if (this.exitInfo || this.exiting) return;
    this.exiting = true;
    this.stopPolling();
    void this.buffer.flush().then(() => {
      this.exitInfo = exit;
      this.detector.exit(exit.exitCode);
      this.exitEmitter.fire(exit);
      this.resolveExit(exit);
    });
  }

  /** Waits up to `ms` for the exit; true when exited. */
  private async waitExit(ms: number): Promise<boolean> {
    if (this.exitInfo) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), ms);
    });
    const done = await Promise.race([this.whenExited.then(() => true as const), timeout]);
    if (timer) clearTimeout(timer);
    return done;
  }
}

function checkSize(n: number, what: string): void {
  if (!Number.isInteger(n) || n <= 0 || n > 10_000) throw new RangeError(`Terminal ${what} must be a positive integer, got ${n}`);
}

function checkSpec(spec: { cols: number; rows: number; bufferBytes: number; pty: NodePtyModule }): void {
  checkSize(spec.cols, 'cols');
  checkSize(spec.rows, 'rows');
  if (!Number.isInteger(spec.bufferBytes) || spec.bufferBytes <= 0) throw new RangeError(`bufferBytes must be a positive integer, got ${spec.bufferBytes}`);
  if (!spec.pty || typeof spec.pty.spawn !== 'function') throw new TypeError('spec.pty must be the node-pty module (see loadNodePty())');
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether a process is running: true/false from /proc on Linux (a zombie counts as not running),
 * false when it does not exist elsewhere, undefined when it cannot be told (exists, no /proc).
 */
export function processRunning(pid: number): boolean | undefined {
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? undefined : false;
  }
}

const NAMED_KEYS: Record<string, string> = {
  enter: '\r',
  return: '\r',
  escape: '\x1b',
  esc: '\x1b',
  tab: '\t',
  btab: '\x1b[Z',
  's-tab': '\x1b[Z',
  backspace: '\x7f',
  bspace: '\x7f',
  space: ' ',
  insert: '\x1b[2~',
  ic: '\x1b[2~',
  delete: '\x1b[3~',
  dc: '\x1b[3~',
  pageup: '\x1b[5~',
  pgup: '\x1b[5~',
  ppage: '\x1b[5~',
  pagedown: '\x1b[6~',
  pgdn: '\x1b[6~',
  npage: '\x1b[6~',
  f1: '\x1bOP',
  f2: '\x1bOQ',
  f3: '\x1bOR',
  f4: '\x1bOS',
  f5: '\x1b[15~',
  f6: '\x1b[17~',
  f7: '\x1b[18~',
  f8: '\x1b[19~',
  f9: '\x1b[20~',
  f10: '\x1b[21~',
  f11: '\x1b[23~',
  f12: '\x1b[24~',
};
const CURSOR_KEYS: Record<string, string> = { up: 'A', down: 'B', right: 'C', left: 'D', home: 'H', end: 'F' };
const CTRL_SPECIAL: Record<string, string> = { '@': '\x00', ' ': '\x00', space: '\x00', '2': '\x00', '[': '\x1b', '\\': '\x1c', ']': '\x1d', '^': '\x1e', '_': '\x1f', '?': '\x7f' };

/**
 * Encodes key names (see {@link TerminalSession.sendKeys}) as the bytes a terminal sends.
 * @param options.applicationCursor send cursor keys as `ESC O A` (DECCKM set by the program) rather than `ESC [ A`.
 * @throws Error naming the first unknown key.
 */
export function encodeKeys(keys: string[], options: { applicationCursor?: boolean } = {}): string {
  return keys.map((k) => encodeKey(k, options.applicationCursor ?? false)).join('');
}

function encodeKey(key: string, appCursor: boolean): string {
  if ([...key].length === 1) return key;
  const lower = key.toLowerCase();
  if (lower in NAMED_KEYS) return NAMED_KEYS[lower];
  if (lower in CURSOR_KEYS) return (appCursor ? '\x1bO' : '\x1b[') + CURSOR_KEYS[lower];
  const ctrl = /^(?:c|ctrl)[-+](.+)$/i.exec(key);
  if (ctrl) {
    const rest = ctrl[1];
    const lr = rest.toLowerCase();
    if (lr in CTRL_SPECIAL) return CTRL_SPECIAL[lr];
    if (/^[a-z]$/i.test(rest)) return String.fromCharCode(lr.charCodeAt(0) - 96);
    throw new Error(`Unknown key "${key}": Ctrl combines with a letter or one of @ [ \\ ] ^ _ ?`);
  }
  const meta = /^(?:m|alt|meta)[-+](.+)$/i.exec(key);
  if (meta) return '\x1b' + encodeKey(meta[1], appCursor);
  throw new Error(`Unknown key "${key}": use names like Enter, Escape, Tab, Up, Down, Backspace, C-c, M-x, or a single character`);
}
