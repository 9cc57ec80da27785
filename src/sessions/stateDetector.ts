/**
 * Guesses what a CLI agent running in a terminal is doing from its output and the passage of time.
 *
 * Pure and deterministic: time comes from an injectable {@link Scheduler}; no I/O, no `vscode`.
 */
import { visibleText } from './outputBuffer';

/**
 * Where the detector reads the screen: the last non-blank line as plain text (ANSI-free, trailing
 * spaces trimmed), e.g. the `OutputBuffer` that renders the same output.
 */
export interface ScreenText {
  lastLine(): string;
}

/**
 * - `starting`: spawned, no visible output yet.
 * - `working`: visible output arrived recently (or the agent went quiet on a line that is not a prompt).
 * - `waiting`: output stopped for `quietMs` and the last line looks like a prompt for the user.
 * - `idle`: no output for `idleAfterMs` without a prompt, or quiet on a line matching a done pattern.
 * - `exited`: the process ended.
 */
export type SessionState = 'starting' | 'working' | 'waiting' | 'idle' | 'exited';

/** Who decided the current state: the agent CLI's own hooks/notify program, or the screen heuristics. */
export type StateSource = 'hooks' | 'screen';

/**
 * What a hook said beyond the state: `approval` (waiting for a permission decision), `input` (waiting
 * for the person's next prompt or an answer), `done` (the CLI ended its session). Null from the screen.
 */
export type StateDetail = 'approval' | 'input' | 'done' | null;

/** Called on every state change, after the detector's `state` has been updated. */
export type TransitionListener = (state: SessionState, previous: SessionState) => void;

/** The clock and timers the detector uses; the default wraps `Date.now`/`setTimeout` (timers unref'd). */
export interface Scheduler {
  /** Current time in milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; returns a handle for {@link clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link StateDetector}; every field has a default. */
export interface DetectorOptions {
  /** Tested against the screen's last non-blank line (ANSI-free, trailing spaces trimmed) once output has been quiet for `quietMs`. */
  waitingPatterns: RegExp[];
  /** Tested like `waitingPatterns` (after them): a match moves a quiet session to `idle` at once. */
  donePatterns: RegExp[];
  /** Milliseconds without output (and no prompt) after which the session counts as `idle`. Default 30 000. */
  idleAfterMs: number;
  /** Milliseconds of silence after output before the last line is tested against the patterns. Default 1 500. */
  quietMs: number;
  /** Clock and timers; defaults to the real ones. */
  scheduler: Scheduler;
}

/**
 * Default prompt patterns. Each is tested on one line that has already been ANSI-stripped and
 * trimmed of trailing spaces, so `$` is the end of the visible text.
 */
export const DEFAULT_WAITING_PATTERNS: readonly RegExp[] = [
  /\?$/, // a question: "Which database should I use? "
  /[([]\s*y(es)?\s*\/\s*n(o)?\s*[)\]]\s*[:?]?$/i, // (y/n)  [Y/n]  [y/N]:  (yes/no)
  /\(Y\)es\/\(N\)o/i, // aider: "(Y)es/(N)o [Yes]:"
  /\[[^\]\n]{1,40}\]:$/, // "… [default]:"
  /press (enter|return|any key)/i,
  /(password|passphrase)[^:]*:$/i,
  /^[\s│┃|]*[>❯›▌]\s*[│┃|]?$/, // an empty TUI input line: "> ", "│ > │", "❯", "▌" (Claude Code, Gemini CLI, Codex)
  /^\s*\? for shortcuts/, // Claude Code footer under its empty input box
  /\besc to cancel\b/i, // Claude Code permission dialogs
  /waiting for (user )?(confirmation|input|approval)/i, // Gemini CLI
  /\b(allow|approve|proceed|continue)\b.*\?/i, // permission questions with options after them on the same line
];

/** Default done patterns: a finished non-interactive run. */
export const DEFAULT_DONE_PATTERNS: readonly RegExp[] = [/^\s*(all )?(done|finished|completed?)[.!]?$/i];

/** The real clock; timers are unref'd so a detector never keeps a process alive. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Fills in the defaults of {@link DetectorOptions}. */
export function detectorOptions(partial: Partial<DetectorOptions> = {}): DetectorOptions {
  return {
    waitingPatterns: partial.waitingPatterns ?? [...DEFAULT_WAITING_PATTERNS],
    donePatterns: partial.donePatterns ?? [...DEFAULT_DONE_PATTERNS],
    idleAfterMs: partial.idleAfterMs ?? 30_000,
    quietMs: partial.quietMs ?? 1_500,
    scheduler: partial.scheduler ?? realScheduler,
  };
}

/**
 * State machine fed with output chunks (`feed`), typed input (`noteInput`) and the process exit (`exit`),
 * reading the screen (a {@link ScreenText}) that shows the same output. Feed each chunk once the
 * screen has rendered it (`OutputBuffer.append`'s callback), so the last line tested is up to date.
 *
 * Rules: visible output → `working` (from any state but `exited`); after `quietMs` of silence the last
 * non-blank line is tested: a waiting pattern → `waiting`, else a done pattern → `idle`, else it stays
 * `working`; `idleAfterMs` without output while `starting` or `working` → `idle`; `exit()` → `exited`
 * (final). Output made only of escape sequences (cursor blinks, title changes) changes no state, and
 * neither does the echo of characters typed at a prompt (see {@link noteInput}) until a line is submitted.
 */
export class StateDetector {
  private readonly opts: DetectorOptions;
  private current: SessionState = 'starting';
  private code: number | null | undefined;
  private lastOutputAt: number;
  private quietEvaluated = true;
  private timer: unknown;
  private timerAt = Infinity;
  private pendingEcho = '';
  private listeners: TransitionListener[] = [];
  private src: StateSource = 'screen';
  private why: StateDetail = null;
  private hookAt = -Infinity;
  private hookHoldMs = 0;
  private hookUntilOutput = false;

  /**
   * @param screen the rendered output, read for its last line when the output goes quiet.
   * @param options partial options (see {@link DetectorOptions} for defaults).
   * @param onTransition called as `(state, previous)` on every change.
   */
  constructor(
    private readonly screen: ScreenText,
    options: Partial<DetectorOptions> = {},
    onTransition?: TransitionListener,
  ) {
    this.opts = detectorOptions(options);
    if (onTransition) this.listeners.push(onTransition);
    this.lastOutputAt = this.opts.scheduler.now();
    this.schedule(this.lastOutputAt + this.opts.idleAfterMs);
  }

  /** Current state. */
  get state(): SessionState {
    return this.current;
  }

  /** Who decided the current state (see {@link StateSource}). */
  get source(): StateSource {
    return this.src;
  }

  /** What the hook said beyond the state (null when the screen decided). */
  get detail(): StateDetail {
    return this.why;
  }

  /**
   * A state reported by the agent CLI's own hooks (see `agentHooks.ts`). It applies at once, listeners
   * are called when state, source or detail changed (so `previous` may equal `state`). The screen
   * heuristics change nothing for `holdMs` milliseconds after the last hook event (CLIs whose hooks cover
   * the whole turn, Claude Code and Gemini CLI, report every change themselves), except that with
   * `untilOutput` (Codex, whose notify program reports only the end of a turn) new visible output moves
   * the session back to `working` decided by the screen. Ignored once `exited`.
   */
  fromHook(state: Exclude<SessionState, 'exited' | 'starting'>, detail: StateDetail, holdMs: number, untilOutput = false): void {
    if (this.current === 'exited') return;
    this.hookAt = this.opts.scheduler.now();
    this.hookHoldMs = Math.max(0, holdMs);
    this.hookUntilOutput = untilOutput;
    const changed = this.current !== state || this.src !== 'hooks' || this.why !== detail;
    const previous = this.current;
    this.current = state;
    this.src = 'hooks';
    this.why = detail;
    // Screen output from before the event must not re-evaluate into an older guess.
    this.quietEvaluated = true;
    if (changed) for (const l of [...this.listeners]) l(state, previous);
  }

  /** Exit code given to `exit()`: `undefined` while running, `null` when the code is unknown. */
  get exitCode(): number | null | undefined {
    return this.code;
  }

  /** The resolved options (defaults filled in). */
  get options(): Readonly<DetectorOptions> {
    return this.opts;
  }

  /** Adds a transition listener; returns a function that removes it. */
  onTransition(listener: TransitionListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Feeds a chunk of raw terminal output (escape sequences included), after the screen has rendered it. */
  feed(chunk: string): void {
    if (!chunk || this.current === 'exited') return;
    const visible = visibleText(chunk);
    if (!/\S/.test(visible)) {
      // Only escape sequences or whitespace: re-test the prompt later if we are waiting for quiet.
      if (this.current === 'working') this.quietEvaluated = false;
      return;
    }
    if (this.isEcho(visible)) return;
    this.pendingEcho = '';
    const now = this.opts.scheduler.now();
    this.lastOutputAt = now;
    this.quietEvaluated = false;
    if (this.src === 'hooks' && this.hookUntilOutput) this.hookAt = -Infinity;
    this.transition('working');
    this.schedule(now + this.opts.quietMs);
  }

  /**
   * Records input written to the process, so that the terminal's echo of typed characters at a
   * prompt does not count as the agent working. A submitted line (`\r`/`\n`) ends the grace.
   */
  noteInput(data: string): void {
    if (this.current !== 'waiting' && this.current !== 'idle') return;
    if (/[\r\n]/.test(data)) {
      this.pendingEcho = '';
      return;
    }
    const printable = data.replace(/[\x00-\x1f\x7f]|\x1b\[[0-9;]*[A-Za-z~]/g, '');
    this.pendingEcho = (this.pendingEcho + printable).slice(-4096);
  }

  /** The process ended: moves to `exited` (final) and stops the timers. */
  exit(exitCode: number | null): void {
    if (this.current === 'exited') return;
    this.code = exitCode;
    this.cancelTimer();
    this.transition('exited');
  }

  /** The screen's last non-blank line, as the patterns see it ('' when there is none). */
  lastLine(): string {
    return this.screen.lastLine();
  }

  /** Stops the timers; the detector keeps its state but no longer changes with time. */
  dispose(): void {
    this.cancelTimer();
    this.listeners = [];
  }

  private isEcho(visible: string): boolean {
    if (!this.pendingEcho || (this.current !== 'waiting' && this.current !== 'idle')) return false;
    const typed = visible.replace(/[\r\n]/g, '');
    if (visible.includes('\n') || !this.pendingEcho.startsWith(typed)) return false;
    this.pendingEcho = this.pendingEcho.slice(typed.length);
    return true;
  }

  private tick(): void {
    if (this.current === 'exited') return;
    const now = this.opts.scheduler.now();
    const since = now - this.lastOutputAt;
    if (this.current === 'working' && !this.quietEvaluated) {
      if (since < this.opts.quietMs) {
        this.schedule(this.lastOutputAt + this.opts.quietMs);
        return;
      }
      this.quietEvaluated = true;
      const line = this.lastLine();
      if (matchesAny(this.opts.waitingPatterns, line)) {
        this.transition('waiting');
        return;
      }
      if (matchesAny(this.opts.donePatterns, line)) {
        this.transition('idle');
        return;
      }
    }
    if (this.current === 'working' || this.current === 'starting') {
      if (since < this.opts.idleAfterMs) {
        this.schedule(this.lastOutputAt + this.opts.idleAfterMs);
        return;
      }
      this.transition('idle');
    }
  }

  /** Makes sure a tick happens at `at` at the latest. */
  private schedule(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.cancelTimer();
    this.timerAt = at;
    const delay = Math.max(0, at - this.opts.scheduler.now());
    this.timer = this.opts.scheduler.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.tick();
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.opts.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private transition(next: SessionState): void {
    const previous = this.current;
    if (next !== 'exited' && this.src === 'hooks') {
      // The hooks decide while their last event is fresh; after that the screen is the fallback again.
      if (this.opts.scheduler.now() - this.hookAt < this.hookHoldMs) return;
      this.src = 'screen';
      this.why = null;
      if (previous === next) {
        for (const l of [...this.listeners]) l(next, previous);
        return;
      }
    }
    if (previous === next) return;
    this.current = next;
    for (const l of [...this.listeners]) l(next, previous);
  }
}

function matchesAny(patterns: readonly RegExp[], line: string): boolean {
  for (const p of patterns) {
    p.lastIndex = 0; // patterns with the g or y flag keep state between tests
    if (p.test(line)) return true;
  }
  return false;
}

/**
 * A manual clock for tests: `advance(ms)` moves time forward and runs due timers in order.
 */
export class ManualScheduler implements Scheduler {
  private time = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves the clock forward by `ms`, running every timer that falls due (in time order). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) if (t.at < nextAt || (t.at === nextAt && id < nextId)) [nextId, nextAt] = [id, t.at];
      if (nextId < 0 || nextAt > end) break;
      const t = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.time = Math.max(this.time, t.at);
      t.fn();
    }
    this.time = end;
  }
}
