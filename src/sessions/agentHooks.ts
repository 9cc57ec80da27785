import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import type { AgentProfile } from './profiles';
import type { SessionState, StateDetail } from './stateDetector';
import { linkOrCopy, stripJsonComments, writePrivate } from './mcpWiring';

// See mcpWiring.ts: smol-toml's CommonJS build, its ESM-only types.
const { parse: parseToml } = require('smol-toml') as typeof SmolToml;

/** Environment variable carrying the session's hook token to the agent (and from it to `baton hook`). */
export const HOOK_TOKEN_ENV = 'BATON_HOOK_TOKEN';
/** Environment variable with the argv (JSON array) that runs `baton hook` for this session, for scripts and env-only agents. */
export const HOOK_COMMAND_ENV = 'BATON_HOOK_COMMAND';
/** File in the storage folder naming the running hook receiver: `{ url, pid }`. */
export const HOOK_ENDPOINT_FILE = 'hook-endpoint.json';
/** File in a session's folder holding its hook token (0600), read again when a tmux session is reattached. */
export const HOOK_TOKEN_FILE = 'hook-token';

/** Claude Code hook events Baton listens to (Claude Code 2.1.329; `--settings <file>` with `hooks`). */
export const CLAUDE_HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'PermissionRequest', 'Notification', 'Stop', 'SessionEnd'] as const;
/** Qwen Code hook events Baton listens to (Qwen Code 0.24.4: Claude Code's names, `hooks` in settings.json). */
export const QWEN_HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'PermissionRequest', 'Notification', 'Stop', 'SessionEnd'] as const;
/** Gemini CLI hook events Baton listens to (Gemini CLI 0.61.0, `hooks` in settings.json; bundle/docs/hooks/reference.md). */
export const GEMINI_HOOK_EVENTS = ['SessionStart', 'BeforeAgent', 'BeforeTool', 'AfterTool', 'Notification', 'AfterAgent', 'SessionEnd'] as const;

/** How completely a CLI's hooks report its state: `full` (every turn, tool and prompt), `partial` (the end of a turn only), `none`. */
export type HookCoverage = 'full' | 'partial' | 'none';

/** What to add to the agent's launch so its CLI reports its state to Baton. */
export interface HookWiring {
  args: string[];
  env: Record<string, string>;
  /** Files written, all inside the session folder. */
  files: string[];
  coverage: HookCoverage;
  /** One line for the log; never contains the token. */
  description: string;
}

/** The `baton hook` command line for one session: `[command, ...args, 'hook', '--storage', dir, '--session', id]` + the event. */
export interface HookTarget {
  /** Program and leading arguments that run the `baton` CLI, e.g. `{ command: process.execPath, args: [<dist/cli.js>] }`. */
  command: string;
  args: string[];
  /** The workspace's storage folder, where `baton hook` finds the receiver (`hook-endpoint.json`). */
  storageDir: string;
  sessionId: string;
  /** The session's hook token (see {@link newHookToken}). */
  token: string;
}

/** A fresh per-session hook token: 32 random bytes, base64url. Never the agents' MCP token nor the operator's. */
export function newHookToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The argv that runs `baton hook <event>` for `target` (without the event). */
export function hookArgv(target: HookTarget): string[] {
  return [target.command, ...target.args, 'hook', '--storage', target.storageDir, '--session', target.sessionId];
}

/** `argv` as one POSIX shell command line (each word single-quoted), as Claude Code and Gemini CLI run hook commands through a shell. */
export function shellCommand(argv: string[]): string {
  return argv.map(a => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The arguments, environment and files that make the agent CLI of `profile` run `baton hook <event>` on
 * its own events, without editing any of the person's files (verified against the installed CLIs):
 *
 * - `claude` (Claude Code 2.1.329): `--settings=<sessionDir>/claude-hooks.json` with `hooks` for
 *   SessionStart, UserPromptSubmit, PreToolUse, PostToolUse, PermissionRequest, Notification, Stop and
 *   SessionEnd. `--settings` adds a settings layer: the person's own hooks and settings still apply.
 *   Each hook gets its event as JSON on stdin (`hook_event_name`, `notification_type`, …). Coverage `full`.
 * - `gemini` (Gemini CLI 0.61.0): the same `hooks` shape added to the per-session settings copy that the
 *   MCP wiring made (`GEMINI_CLI_HOME=<sessionDir>/gemini-home`, given as `geminiHome`), after the
 *   person's own hooks; without that copy (Baton's MCP server off) Gemini CLI is not wired. Coverage `full`.
 * - `codex` (Codex 0.169.0): `-c notify=[…]`, the program Codex runs with a JSON argument
 *   (`{"type":"agent-turn-complete",…}`) at the end of each turn. A `notify` the person set in
 *   `$CODEX_HOME/config.toml` would be replaced by the override, so `baton hook` runs it afterwards with the
 *   same argument (`--chain`). Codex reports nothing else: coverage `partial`.
 * - `qwen` (Qwen Code 0.24.4): hooks live only in settings files, but `QWEN_HOME` relocates `~/.qwen`: it
 *   points to `<sessionDir>/qwen-home`, whose `settings.json` is a copy of the person's
 *   `~/.qwen/settings.json` plus Baton's hooks (after theirs) and whose other entries (credentials,
 *   history, QWEN.md, …) are symbolic links to the real ones. Coverage `full`. An unreadable settings
 *   file leaves Qwen Code unwired (its state then comes from the screen).
 * - `aider` and `env-only`: `BATON_HOOK_COMMAND` (the argv as JSON) for scripts that report themselves.
 *
 * Every style gets `BATON_HOOK_TOKEN` in its environment: `baton hook` sends it to the receiver, which
 * refuses any other. Throws only on file-system errors writing into `sessionDir`.
 */
export function wireAgentHooks(profile: AgentProfile, target: HookTarget, sessionDir: string, geminiHome?: string): HookWiring {
  fs.mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
  const argv = hookArgv(target);
  const env: Record<string, string> = { [HOOK_TOKEN_ENV]: target.token, [HOOK_COMMAND_ENV]: JSON.stringify(argv) };
  const label = profile.label || profile.id;
  switch (profile.mcp) {
    case 'claude': {
      const file = writePrivate(path.join(sessionDir, 'claude-hooks.json'), JSON.stringify({ hooks: hooksSection(CLAUDE_HOOK_EVENTS, argv, 10) }, null, 2));
      return { args: [`--settings=${file}`], env, files: [file], coverage: 'full', description: `${label} reports its state through its hooks (--settings=${file})` };
    }
    case 'gemini': {
      const settingsFile = geminiHome ? path.join(geminiHome, '.gemini', 'settings.json') : null;
      if (!settingsFile || !fs.existsSync(settingsFile)) {
        return { args: [], env, files: [], coverage: 'none', description: `${label}: its hooks are not wired (no per-session settings copy: Baton's MCP server is off); state from the screen` };
      }
      writePrivate(settingsFile, JSON.stringify(addHooks(readSettings(settingsFile), GEMINI_HOOK_EVENTS, argv, 10_000), null, 2));
      return { args: [], env, files: [settingsFile], coverage: 'full', description: `${label} reports its state through its hooks (added to the per-session settings copy ${settingsFile})` };
    }
    case 'codex': {
      const codexHome = profile.env?.CODEX_HOME || process.env.CODEX_HOME || path.join(profile.env?.HOME || os.homedir(), '.codex');
      const theirs = codexNotify(path.join(codexHome, 'config.toml'));
      const notify = [...argv, ...(theirs ? ['--chain', JSON.stringify(theirs)] : []), 'notify'];
      return {
        args: ['-c', `notify=${JSON.stringify(notify)}`], env, files: [], coverage: 'partial',
        description: `${label} reports the end of each turn through its notify program (-c notify=…)${theirs ? `, which then runs the person's own notify program` : ''}`,
      };
    }
    case 'qwen': {
      const realDir = profile.env?.QWEN_HOME || process.env.QWEN_HOME || path.join(profile.env?.HOME || os.homedir(), '.qwen');
      const realSettings = path.join(realDir, 'settings.json');
      let settings: Record<string, unknown>;
      try {
        settings = readSettings(realSettings);
      } catch (error) {
        return { args: [], env, files: [], coverage: 'none', description: `${label}: its hooks are not wired: cannot read ${realSettings} (${(error as Error).message.split('\n')[0]}); state from the screen` };
      }
      const home = path.join(sessionDir, 'qwen-home');
      fs.rmSync(home, { recursive: true, force: true });
      fs.mkdirSync(home, { recursive: true, mode: 0o700 });
      let entries: string[] = [];
      try {
        entries = fs.readdirSync(realDir);
      } catch {
        // no ~/.qwen yet
      }
      for (const e of entries) if (e !== 'settings.json') linkOrCopy(path.join(realDir, e), path.join(home, e));
      const file = writePrivate(path.join(home, 'settings.json'), JSON.stringify(addHooks(settings, QWEN_HOOK_EVENTS, argv, 10), null, 2));
      return {
        args: [], env: { ...env, QWEN_HOME: home }, files: [file], coverage: 'full',
        description: `${label} reports its state through its hooks (QWEN_HOME=${home}: a copy of ${realSettings} plus the hooks; other entries linked)`,
      };
    }
    default:
      return { args: [], env, files: [], coverage: 'none', description: `${label}: ${HOOK_COMMAND_ENV} and ${HOOK_TOKEN_ENV} are set for scripts that report their state; otherwise state from the screen` };
  }
}

/** A settings.json (comments allowed) as an object; `{}` when absent or empty. @throws Error when unreadable or not a JSON object. */
function readSettings(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const parsed: unknown = text.trim() === '' ? {} : JSON.parse(stripJsonComments(text));
  if (!isObject(parsed)) throw new Error('it is not a JSON object');
  return parsed;
}

/** `settings` with Baton's hooks for `events` added after the person's own for each event. */
function addHooks(settings: Record<string, unknown>, events: readonly string[], argv: string[], timeout: number): Record<string, unknown> {
  const theirs = isObject(settings.hooks) ? settings.hooks : {};
  const merged: Record<string, unknown> = { ...theirs };
  for (const [event, groups] of Object.entries(hooksSection(events, argv, timeout))) merged[event] = [...(Array.isArray(theirs[event]) ? theirs[event] as unknown[] : []), ...groups];
  return { ...settings, hooks: merged };
}

/** `{ Event: [{ hooks: [{ type: 'command', command: '<baton hook … Event>', timeout }] }] }` (Claude Code's and Gemini CLI's shape; timeout in their unit). */
function hooksSection(events: readonly string[], argv: string[], timeout: number): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const event of events) out[event] = [{ hooks: [{ type: 'command', command: shellCommand([...argv, event]), timeout }] }];
  return out;
}

/** The person's `notify` argv from Codex's config.toml, or null (absent, unreadable, not a list of strings). */
export function codexNotify(configFile: string): string[] | null {
  try {
    const notify = parseToml(fs.readFileSync(configFile, 'utf8')).notify;
    return Array.isArray(notify) && notify.length > 0 && notify.every(x => typeof x === 'string') ? notify as string[] : null;
  } catch {
    return null;
  }
}

/** A state a hook event sets: the session state, what it waits for, and the event it came from. */
export interface HookState {
  state: Exclude<SessionState, 'exited' | 'starting'>;
  detail: StateDetail;
}

/**
 * The state an agent CLI's event means, or null for events that say nothing about it (e.g. Claude Code's
 * `auth_success` notification). `event` is the name on `baton hook`'s command line; `payload` the JSON
 * the CLI passed (stdin or argument), whose `hook_event_name` / `type` win when present.
 *
 * - Claude Code: Notification `permission_prompt` and PermissionRequest → waiting (approval);
 *   Notification `idle_prompt` / `elicitation_dialog` → waiting (input); UserPromptSubmit, PreToolUse,
 *   PostToolUse → working; SessionStart and Stop → idle; SessionEnd → idle (done).
 * - Gemini CLI: BeforeAgent/BeforeTool/AfterTool → working; Notification `ToolPermission` → waiting
 *   (approval); AfterAgent → idle; SessionStart → idle; SessionEnd → idle (done).
 * - Codex notify: `agent-turn-complete` → idle.
 * - Scripts (`env-only`): also `working`, `waiting-approval`, `waiting-input`, `idle`, `done`.
 */
export function stateFromHookEvent(event: string, payload: unknown): HookState | null {
  const p = isObject(payload) ? payload : {};
  const name = typeof p.hook_event_name === 'string' ? p.hook_event_name : event === 'notify' && typeof p.type === 'string' ? p.type : event;
  switch (name) {
    case 'UserPromptSubmit': case 'PreToolUse': case 'PostToolUse': case 'BeforeAgent': case 'BeforeTool': case 'AfterTool': case 'working':
      return { state: 'working', detail: null };
    case 'PermissionRequest': case 'waiting-approval':
      return { state: 'waiting', detail: 'approval' };
    case 'waiting-input':
      return { state: 'waiting', detail: 'input' };
    case 'Notification': {
      const type = typeof p.notification_type === 'string' ? p.notification_type : '';
      const message = typeof p.message === 'string' ? p.message : '';
      if (type === 'permission_prompt' || type === 'ToolPermission' || (!type && /permission/i.test(message))) return { state: 'waiting', detail: 'approval' };
      if (type === 'idle_prompt' || type === 'elicitation_dialog' || (!type && /waiting for your input/i.test(message))) return { state: 'waiting', detail: 'input' };
      return null;
    }
    case 'SessionStart': case 'Stop': case 'AfterAgent': case 'agent-turn-complete': case 'idle':
      return { state: 'idle', detail: null };
    case 'SessionEnd': case 'done':
      return { state: 'idle', detail: 'done' };
    default:
      return null;
  }
}

/** An event `baton hook` delivered, after its token was checked. */
export interface HookEvent {
  sessionId: string;
  event: string;
  payload: unknown;
}

/**
 * Baton's receiver of agents' hook events: an HTTP server on 127.0.0.1 (random port) that accepts
 * `POST /hook/<sessionId>` with `Authorization: Bearer <that session's hook token>` and a JSON body
 * `{ "event": string, "payload": any }` (at most 1 MiB). Wrong or missing token → 401, unknown session →
 * 404 (same answer as a wrong token, so ids cannot be probed), browsers (an `Origin` header) → 403. Its URL
 * is published in `<storageDir>/hook-endpoint.json` (0600) for `baton hook`.
 */
export class HookReceiver {
  private server: http.Server | null = null;
  private readonly tokens = new Map<string, Buffer>();
  private urlValue: string | null = null;

  constructor(private readonly storageDir: string, private readonly onEvent: (event: HookEvent) => { state: string; source: string } | null) {}

  /** The receiver's URL once started. */
  get url(): string | null {
    return this.urlValue;
  }

  /** Accepts events for `sessionId` signed with `token` from now on. */
  register(sessionId: string, token: string): void {
    this.tokens.set(sessionId, Buffer.from(token));
  }

  unregister(sessionId: string): void {
    this.tokens.delete(sessionId);
  }

  /** Starts listening (once) and publishes the endpoint file. */
  async start(): Promise<string> {
    if (this.urlValue) return this.urlValue;
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    this.server = server;
    const port = (server.address() as { port: number }).port;
    this.urlValue = `http://127.0.0.1:${port}`;
    const file = path.join(this.storageDir, HOOK_ENDPOINT_FILE);
    writePrivate(`${file}.tmp`, JSON.stringify({ url: this.urlValue, pid: process.pid }));
    fs.renameSync(`${file}.tmp`, file);
    return this.urlValue;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.urlValue = null;
    if (!server) return;
    try {
      const file = path.join(this.storageDir, HOOK_ENDPOINT_FILE);
      if ((JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid === process.pid) fs.unlinkSync(file);
    } catch {
      // not ours or gone
    }
    server.closeAllConnections?.();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/hook\/([A-Za-z0-9_-]{1,64})$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return reply(404, { error: 'Not found: POST /hook/<session>' });
    if (req.headers.origin) return reply(403, { error: 'Browsers may not send hook events' });
    const expected = this.tokens.get(m[1]);
    const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply(401, { error: `Refused: wrong or missing hook token for session ${m[1]}` });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1024 * 1024) {
        reply(413, { error: 'Hook event larger than 1 MiB' });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body: { event?: unknown; payload?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return reply(400, { error: 'Body is not JSON' });
      }
      if (!isObject(body) || typeof body.event !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(body.event)) return reply(400, { error: 'Body must be {"event": "<name>", "payload": …}' });
      try {
        reply(200, this.onEvent({ sessionId: m[1], event: body.event, payload: body.payload }) ?? { ignored: true });
      } catch (error) {
        reply(500, { error: (error as Error).message });
      }
    });
  }
}

/** No receiver runs (the window that ran the session closed, e.g. a tmux session outliving it): not the agent's fault. */
export class NoHookReceiverError extends Error {}

/**
 * What `baton hook` does: posts `{ event, payload }` to the receiver named in `<storageDir>/hook-endpoint.json`
 * with `token`. Resolves to the receiver's answer. @throws NoHookReceiverError when no receiver runs or
 * answers; Error when the token is refused (401) or the receiver answers another error.
 */
export async function sendHookEvent(storageDir: string, sessionId: string, token: string, event: string, payload: unknown): Promise<unknown> {
  let url: string;
  try {
    url = (JSON.parse(fs.readFileSync(path.join(storageDir, HOOK_ENDPOINT_FILE), 'utf8')) as { url: string }).url;
  } catch {
    throw new NoHookReceiverError(`No Baton hook receiver runs for ${storageDir} (no ${HOOK_ENDPOINT_FILE}): the window running the session is closed`);
  }
  let response: Response;
  try {
    response = await fetch(`${url}/hook/${encodeURIComponent(sessionId)}`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ event, payload }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    throw new NoHookReceiverError(`Baton's hook receiver at ${url} does not answer (${(error as Error).message})`);
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: string }).error;
    } catch {
      // plain text
    }
    throw new Error(`Baton refused the hook event (${response.status}): ${message}`);
  }
  return JSON.parse(text) as unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

