/**
 * Lifecycle hooks: shell commands from the user's settings that run when a session starts, when a
 * prompt is submitted to it, and when it ends.
 *
 * Values (task titles, prompts) never reach the shell as code: each is passed in an environment
 * variable (`BATON_PROJECT`, `BATON_TASK`, `BATON_SESSION`, `BATON_WORKTREE`, `BATON_PROMPT`, and
 * `BATON_EVENT`), and a `${task}` placeholder in a command is rewritten to a quoted reference to
 * that variable (`"$BATON_TASK"`) before the shell parses the command. The shell expands a variable
 * once and never parses its value again, so a title like `$(rm -rf ~)` stays text.
 *
 * A hook can never block or fail a session: {@link HookRunner.run} never rejects, every hook has a
 * timeout after which its whole process group is killed, and its output is bounded.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { redactSecrets } from '../core/redaction';

/** When hooks run. */
export type HookEvent = 'SessionStart' | 'UserPromptSubmit' | 'SessionEnd';

/** One hook: a shell command line. */
export interface HookDefinition {
  /** Run with `<shell> -c`; may use `${project}`, `${task}`, `${session}`, `${worktree}`, `${prompt}`. */
  command: string;
  /** Milliseconds before the hook's process group is killed; default 10000. */
  timeoutMs?: number;
}

/** Values a hook can use; each becomes an environment variable and a `${name}` placeholder. */
export interface HookVariables {
  project: string;
  task: string;
  session: string;
  worktree: string;
  /** Only for `UserPromptSubmit`; empty otherwise. */
  prompt?: string;
}

/** What happened to one hook. */
export interface HookResult {
  event: HookEvent;
  /** The command as configured (before placeholders were rewritten). */
  command: string;
  /** Exit code; null when the hook did not run, was killed by a signal, or could not start. */
  exitCode: number | null;
  /** True when it ran longer than its timeout and its process group was killed. */
  timedOut: boolean;
  /** Wall-clock milliseconds from start to end (0 when skipped). */
  durationMs: number;
  /** stdout and stderr interleaved as they arrived, at most {@link HOOK_OUTPUT_LIMIT} bytes (UTF-8). */
  output: string;
  /** Set when the hook was not run. */
  skipped?: 'untrusted workspace';
  /** Why the hook could not start or was cut short (bad definition, missing cwd, spawn failure). */
  error?: string;
}

/** Log sink: one entry per call. */
export type HookLog = (level: 'info' | 'warn' | 'error', message: string) => void;

/** Options of {@link HookRunner}. */
export interface HookRunnerOptions {
  /** Hooks per event, run in array order (a bare string is taken as `{ command }`). */
  hooks: Partial<Record<HookEvent, HookDefinition[]>>;
  /** Whether the workspace is trusted; when false (or it throws) no hook runs. Asked on every run. */
  trusted: () => boolean;
  /** Receives one entry per hook run or skip; secrets in it are redacted first. */
  log: HookLog;
  /** POSIX shell to run commands with (`<shell> -c <command>`); default `/bin/sh`. */
  shell?: string;
}

/** Default timeout of a hook, in milliseconds. */
export const HOOK_DEFAULT_TIMEOUT_MS = 10_000;
/** Most bytes of a hook's output kept (stdout and stderr together). */
export const HOOK_OUTPUT_LIMIT = 64 * 1024;
/** Longest value passed in one environment variable, in bytes (Linux refuses ~128 KiB per variable). */
const ENV_VALUE_LIMIT = 100_000;
/** After SIGTERM to a timed-out hook's group, how long before SIGKILL. */
const KILL_GRACE_MS = 250;
/** After the shell exits, how long to wait for pipes that a background child still holds. */
const CLOSE_GRACE_MS = 200;

const VARIABLES = ['project', 'task', 'session', 'worktree', 'prompt'] as const;
type VariableName = (typeof VARIABLES)[number];
const envName = (name: VariableName) => `BATON_${name.toUpperCase()}`;
const PLACEHOLDER = /^\$\{(project|task|session|worktree|prompt)\}/;

/**
 * Rewrites `${project}`, `${task}`, `${session}`, `${worktree}` and `${prompt}` in a shell command
 * into references to the `BATON_*` environment variables, quoted for where they stand: `"$BATON_TASK"`
 * outside quotes, `${BATON_TASK}` inside double quotes, `'"$BATON_TASK"'` inside single quotes (the
 * single-quoted string is closed and reopened). A placeholder after a backslash stays literal.
 * Whatever the quoting, only a parameter expansion is inserted, never a value, so a value can at
 * worst be split into words, never run.
 */
export function rewritePlaceholders(command: string): string {
  let out = '';
  let quote: 'none' | 'single' | 'double' = 'none';
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    const match = c === '$' ? PLACEHOLDER.exec(command.slice(i)) : null;
    if (match) {
      const name = envName(match[1] as VariableName);
      out += quote === 'none' ? `"$${name}"` : quote === 'double' ? `\${${name}}` : `'"$${name}"'`;
      i += match[0].length - 1;
      continue;
    }
    if (quote === 'single') {
      if (c === "'") quote = 'none';
      out += c;
      continue;
    }
    if (c === '\\') {
      out += c + (command[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === "'" && quote === 'none') quote = 'single';
    else if (c === '"') quote = quote === 'double' ? 'none' : 'double';
    out += c;
  }
  return out;
}

/** `value` without NUL bytes (the OS refuses them in the environment), cut to `limit` UTF-8 bytes. */
function envValue(value: unknown, limit = ENV_VALUE_LIMIT): { value: string; cut: boolean } {
  const text = (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value)).replace(/\0/g, '');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return { value: text, cut: false };
  // Cut at a character boundary: drop a trailing partial sequence.
  let end = limit;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return { value: bytes.subarray(0, end).toString('utf8'), cut: true };
}

/**
 * Runs the hooks of the user's settings for session lifecycle events.
 *
 * Each hook runs as `<shell> -c <command>` in its own process group (so a timeout kills its
 * children too), with stdin closed and the `BATON_*` variables in its environment.
 */
export class HookRunner {
  private readonly hooks: Partial<Record<HookEvent, HookDefinition[]>>;
  private readonly trusted: () => boolean;
  private readonly log: HookLog;
  private readonly shell: string;
  /** Events whose hooks were already reported as skipped for an untrusted workspace. */
  private readonly untrustedLogged = new Set<HookEvent>();

  constructor(options: HookRunnerOptions) {
    this.hooks = options.hooks ?? {};
    this.trusted = options.trusted;
    // Commands and output may hold tokens (curl -H "Authorization: …"); the log is shown to people.
    this.log = (level, message) => {
      try {
        options.log(level, redactSecrets(message).text);
      } catch {
        // a failing log sink must not fail a hook
      }
    };
    this.shell = options.shell ?? '/bin/sh';
  }

  /**
   * Runs every hook of `event`, one after the other, in `cwd`.
   *
   * In an untrusted workspace nothing runs: each hook is reported with `skipped: 'untrusted
   * workspace'`, and the skip is logged once per event for the life of this runner.
   *
   * @param vars values for the placeholders and `BATON_*` variables (each cut to 100,000 bytes).
   * @param cwd working directory of the hooks (the session's worktree, usually).
   * @returns one result per hook, in order; an empty array when the event has no hooks.
   *   Never rejects: a failing, hanging or unstartable hook is reported in its result.
   */
  async run(event: HookEvent, vars: HookVariables, cwd: string): Promise<HookResult[]> {
    try {
      // Settings are hand-written JSON: accept a bare command string for a hook, ignore other shapes.
      const configured: unknown = this.hooks[event];
      const hooks = (Array.isArray(configured) ? configured : [])
        .map((h: unknown): HookDefinition => (typeof h === 'string' ? { command: h } : h && typeof h === 'object' ? (h as HookDefinition) : { command: '' }));
      if (hooks.length === 0) return [];
      let trusted = false;
      try {
        trusted = this.trusted() === true;
      } catch {
        trusted = false;
      }
      if (!trusted) {
        if (!this.untrustedLogged.has(event)) {
          this.untrustedLogged.add(event);
          this.log('warn', `Skipped ${hooks.length} ${event} hook(s): the workspace is not trusted, and hooks come from its settings. Trust the workspace to run them.`);
        }
        return hooks.map(h => ({
          event,
          command: typeof h?.command === 'string' ? h.command : '',
          exitCode: null,
          timedOut: false,
          durationMs: 0,
          output: '',
          skipped: 'untrusted workspace' as const,
        }));
      }
      this.untrustedLogged.delete(event);
      const env = this.environment(event, vars);
      const results: HookResult[] = [];
      for (const hook of hooks) results.push(await this.runOne(event, hook, env, cwd));
      return results;
    } catch (error) {
      // Defensive: nothing above should throw, but a hook must never break a session.
      this.log('error', `Hooks of ${event} failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
  }

  private environment(event: HookEvent, vars: HookVariables): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, BATON_EVENT: event };
    for (const name of VARIABLES) {
      const { value, cut } = envValue((vars as unknown as Record<string, unknown> | undefined)?.[name]);
      env[envName(name)] = value;
      if (cut) this.log('warn', `${envName(name)} was cut to ${ENV_VALUE_LIMIT} bytes for the ${event} hooks.`);
    }
    return env;
  }

  private runOne(event: HookEvent, hook: HookDefinition, env: NodeJS.ProcessEnv, cwd: string): Promise<HookResult> {
    const command = typeof hook?.command === 'string' ? hook.command : '';
    const base = { event, command, exitCode: null, timedOut: false, durationMs: 0, output: '' };
    if (command.trim() === '') {
      this.log('warn', `Skipped a ${event} hook without a command.`);
      return Promise.resolve({ ...base, error: 'the hook has no command' });
    }
    const timeoutMs = typeof hook.timeoutMs === 'number' && Number.isFinite(hook.timeoutMs) && hook.timeoutMs > 0 ? Math.min(hook.timeoutMs, 2 ** 31 - 1) : HOOK_DEFAULT_TIMEOUT_MS;
    let cwdOk = false;
    try {
      cwdOk = fs.statSync(cwd).isDirectory();
    } catch {
      cwdOk = false;
    }
    if (!cwdOk) {
      this.log('warn', `${event} hook "${command}" not run: its working directory ${cwd} does not exist.`);
      return Promise.resolve({ ...base, error: `working directory ${cwd} does not exist` });
    }

    return new Promise<HookResult>(resolve => {
      const started = performance.now();
      const chunks: Buffer[] = [];
      let kept = 0;
      let dropped = 0;
      let timedOut = false;
      let exitCode: number | null = null;
      let signal: NodeJS.Signals | null = null;
      let spawnError: string | undefined;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];

      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(this.shell, ['-c', rewritePlaceholders(command)], {
          cwd,
          env,
          detached: process.platform !== 'win32',
          stdio: ['ignore', 'pipe', 'pipe'],
          windowsHide: true,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.log('warn', `${event} hook "${command}" could not start: ${message}`);
        resolve({ ...base, durationMs: Math.round(performance.now() - started), error: message });
        return;
      }

      const collect = (data: Buffer) => {
        const room = HOOK_OUTPUT_LIMIT - kept;
        if (room > 0) {
          const piece = data.length <= room ? data : data.subarray(0, room);
          chunks.push(piece);
          kept += piece.length;
        }
        dropped += Math.max(0, data.length - Math.max(0, room));
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.stdout?.on('error', () => undefined);
      child.stderr?.on('error', () => undefined);

      const killGroup = (sig: NodeJS.Signals) => {
        if (child.pid === undefined) return;
        try {
          if (process.platform === 'win32') child.kill(sig);
          else process.kill(-child.pid, sig);
        } catch {
          try {
            child.kill(sig);
          } catch {
            // already gone
          }
        }
      };

      const finish = () => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        child.stdout?.destroy();
        child.stderr?.destroy();
        const durationMs = Math.round(performance.now() - started);
        let output = Buffer.concat(chunks).toString('utf8');
        if (dropped > 0) output += `\n[… ${dropped} more bytes of output not kept]`;
        const result: HookResult = { event, command, exitCode, timedOut, durationMs, output };
        if (spawnError !== undefined) result.error = spawnError;
        const what = timedOut
          ? `timed out after ${timeoutMs} ms and was killed`
          : spawnError !== undefined
            ? `could not run: ${spawnError}`
            : exitCode !== null
              ? `exited with code ${exitCode}`
              : `was killed by ${signal ?? 'a signal'}`;
        const shown = output.trim() ? `:\n${output.trimEnd()}` : '';
        this.log(exitCode === 0 && !timedOut ? 'info' : 'warn', `${event} hook "${command}" ${what} in ${durationMs} ms${shown}`);
        resolve(result);
      };

      child.on('error', error => {
        spawnError = error.message;
        finish();
      });
      child.on('exit', (code, sig) => {
        exitCode = code;
        signal = sig;
        // Normally 'close' follows at once; a background child holding the pipes must not hold us.
        timers.push(setTimeout(finish, CLOSE_GRACE_MS));
      });
      child.on('close', (code, sig) => {
        if (exitCode === null && signal === null) {
          exitCode = code;
          signal = sig;
        }
        finish();
      });

      timers.push(setTimeout(() => {
        if (settled) return;
        timedOut = true;
        killGroup('SIGTERM');
        timers.push(setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS));
        // Whatever the processes do, report by then.
        timers.push(setTimeout(finish, KILL_GRACE_MS + CLOSE_GRACE_MS + 100));
      }, timeoutMs));
    });
  }
}
