import * as path from 'node:path';
import which from 'which';
import { z } from 'zod';
import { issuePath } from '../core/schemaIssues';

/**
 * How the task prompt reaches the agent: as CLI arguments (`claude -- "<prompt>"`), typed as the first
 * input once the agent waits for input, or not at all.
 */
export type PromptDelivery = 'argument' | 'stdin' | 'none';

/** How a CLI reads MCP configuration; see `wireMcp` in `mcpWiring.ts`. */
export type McpStyle = 'claude' | 'gemini' | 'qwen' | 'codex' | 'aider' | 'env-only';

/** A CLI coding agent Baton can launch in a terminal. */
export interface AgentProfile {
  /** 'claude' | 'qwen' | 'gemini' | 'codex' | 'aider' | 'shell' | user ids. */
  id: string;
  label: string;
  /** Executable: a name looked up on PATH (no shell) or a path. */
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Working directory, relative to the workspace folder (default: the workspace folder or the session's worktree). */
  cwd?: string;
  prompt: PromptDelivery;
  /** For `prompt: 'argument'`: arguments put before the prompt text (e.g. `['-i']`). */
  promptArgs?: string[];
  /** Regular-expression sources (compiled with the `m` flag) that mean the agent waits for the person. */
  waitingPatterns?: string[];
  /** Regular-expression sources (compiled with the `m` flag) that mean the agent has finished. */
  donePatterns?: string[];
  /** How to install the command, shown when it is missing. */
  install?: string;
  mcp: McpStyle;
  /**
   * `http` (default): the agent connects to Baton's Streamable HTTP endpoint. `stdio`: it runs Baton's
   * stdio proxy (`baton mcp --workspace DIR`) instead, for CLI versions without Streamable HTTP support.
   */
  mcpTransport?: 'http' | 'stdio';
}

const PROMPT_DELIVERIES = ['argument', 'stdin', 'none'] as const satisfies readonly PromptDelivery[];
const MCP_STYLES = ['claude', 'gemini', 'qwen', 'codex', 'aider', 'env-only'] as const satisfies readonly McpStyle[];
const MCP_TRANSPORTS = ['http', 'stdio'] as const;

function defaultShell(): string {
  if (process.platform === 'win32') return process.env.COMSPEC || 'cmd.exe';
  return process.env.SHELL || '/bin/bash';
}

/*
 * The built-in profiles. What was checked against the real CLIs (installed by scripts/setup-agents.sh,
 * node 20, no model access) is marked "verified"; see test/unit/sessionsRealClaude.test.ts.
 *
 * Claude Code 2.1.329 (`claude`, npm @anthropic-ai/claude-code, a native binary): interactive TUI by
 * default, `claude [options] [prompt]`. `--mcp-config <configs...>` is variadic, so the MCP wiring uses
 * the one-token form `--mcp-config=<file>` and the prompt goes after `--` (verified: without them a
 * following prompt is read as another config file). Servers from --mcp-config take precedence over a
 * same-named user-scope server and need no approval (verified). `--strict-mcp-config` would drop the
 * person's own servers, so it is not used. Idle screen: a `❯` input line between two rules; menus
 * (permission prompts, the API-key question) mark the choice with `❯ 1.` and say "Enter to confirm".
 *
 * Gemini CLI 0.61.0 (`gemini`, npm @google/gemini-cli): `gemini [query..]` starts interactive;
 * `-i/--prompt-interactive <prompt>` runs the prompt and stays interactive. No MCP flag: settings only
 * (see mcpWiring). Idle input shows "Type your message or @path/to/file"; tool confirmations offer
 * "Allow once"; untrusted folders first ask "Do you trust the files in this folder?" (verified in tmux).
 *
 * Qwen Code 0.24.4 (`qwen`, npm @qwen-code/qwen-code, a Gemini CLI fork): a positional prompt runs ONE-SHOT
 * and exits, so the prompt goes with `-i/--prompt-interactive`. `--mcp-config <file|json>` takes
 * `{"mcpServers":{…}}` with Gemini-style entries (`httpUrl` = Streamable HTTP, `url` = SSE) (verified).
 *
 * Codex 0.169.0 (`codex`, npm @openai/codex, a native binary): `codex [OPTIONS] [PROMPT]` starts the TUI
 * with the prompt; `-c key=value` overrides config.toml (TOML values); `mcp_servers.<name>.url` plus
 * `bearer_token_env_var` is Streamable HTTP (verified: it connects with the token from the environment).
 * Idle input shows "Ask Codex to do anything"; approvals ask "Would you like to run the following command?".
 *
 * Verified in tmux: `claude -- "<prompt>"`, `gemini -i "<prompt>"` and `codex -- "-x <prompt>"` start the TUI
 * with the prompt submitted; `/mcp` in Claude Code and the status line of Gemini CLI show the server.
 *
 * The waiting patterns: Claude Code, Gemini CLI, Qwen Code and Codex keep their input box (and its
 * placeholder) on screen while they work, redrawing a spinner ("esc to interrupt" / "esc to cancel")
 * many times a second; so the input-box patterns mean "waiting" only once the output has gone quiet.
 * Approval prompts ("Allow once", "Would you like to run…", "Do you want to proceed?") always do.
 *
 * Aider (`aider`, a Python tool, not on npm): no MCP client. `--message` sends one message and EXITS, so
 * the prompt is typed as the first input instead. Its input prompt is `> ` (or `<mode>> `), and it asks
 * "(Y)es/(N)o" questions. Not verified here (no PyPI access for tests).
 */

/** Baton's built-in agent profiles. */
export const BUILTIN_PROFILES: AgentProfile[] = [
  {
    id: 'claude', label: 'Claude Code', command: 'claude', args: [],
    prompt: 'argument', promptArgs: ['--'],
    waitingPatterns: ['^\\s*❯\\s*$', '^\\s*❯\\s*\\d+\\.\\s', 'Enter to confirm · Esc to cancel', 'Do you want to proceed\\?'],
    install: 'npm install -g @anthropic-ai/claude-code',
    mcp: 'claude',
  },
  {
    id: 'gemini', label: 'Gemini CLI', command: 'gemini', args: [],
    prompt: 'argument', promptArgs: ['-i'],
    waitingPatterns: ['Type your message or @path/to/file', '\\bAllow once\\b', 'Do you trust the files in this folder\\?'],
    install: 'npm install -g @google/gemini-cli',
    mcp: 'gemini',
  },
  {
    id: 'qwen', label: 'Qwen Code', command: 'qwen', args: [],
    prompt: 'argument', promptArgs: ['-i'],
    waitingPatterns: ['Type your message or @path/to/file', '\\bAllow once\\b', 'Do you want to proceed\\?'],
    install: 'npm install -g @qwen-code/qwen-code',
    mcp: 'qwen',
    // Qwen Code connects MCP servers in the background and may send the task prompt (given as an argument)
    // before Baton's tools are there; this documented escape hatch makes it wait for them first.
    env: { QWEN_CODE_LEGACY_MCP_BLOCKING: '1' },
  },
  {
    id: 'codex', label: 'Codex', command: 'codex', args: [],
    prompt: 'argument', promptArgs: ['--'],
    waitingPatterns: ['Ask Codex to do anything', 'Ask a follow-up question', 'Would you like to (run the following command|make the following edits|grant these permissions)\\?', 'Trust this folder\\?'],
    install: 'npm install -g @openai/codex',
    mcp: 'codex',
  },
  {
    id: 'aider', label: 'Aider', command: 'aider', args: [],
    prompt: 'stdin',
    waitingPatterns: ['^[\\w-]*> ?$', '\\(Y\\)es/\\(N\\)o'],
    install: 'python -m pip install aider-install && aider-install',
    mcp: 'aider',
  },
  {
    id: 'shell', label: 'Shell', command: defaultShell(), args: [],
    prompt: 'none',
    mcp: 'env-only',
  },
];

/**
 * Done patterns (regular-expression sources, `m` flag) for an interactive shell's prompt, tested on
 * the screen's last line, trimmed: it ends with `$` (sh, bash: `user@host:~$`, `bash-5.2$`), `#`
 * (root), `%` not after a digit (zsh: `host%`, so "50%" of a progress line is not one), `>` not
 * after `-` or `=` (fish `~>`, PowerShell `PS C:\>`), `❯` or `»`. A shell quiet at its prompt is
 * then `idle` rather than `working`.
 */
export const SHELL_PROMPT_PATTERNS: readonly string[] = ['[$#❯»]$', '(^|[^\\d\\s])%$', '(^|[^-=])>$'];

/** Executable names (without a path or `.exe`) that {@link isShellCommand} takes for interactive shells. */
const SHELL_NAMES = new Set(['sh', 'bash', 'zsh', 'fish', 'dash', 'ksh', 'mksh', 'tcsh', 'csh', 'ash', 'pwsh', 'powershell', 'nu', 'elvish', 'xonsh']);

/** Whether `command` (a name or a path, e.g. `/bin/bash`, `zsh`, `pwsh.exe`) runs a known interactive shell. */
export function isShellCommand(command: string): boolean {
  const base = command.split(/[\\/]/).pop() ?? '';
  return SHELL_NAMES.has(base.toLowerCase().replace(/\.exe$/, ''));
}

/**
 * The done patterns the state detector uses for a profile: its own `donePatterns`, else
 * {@link SHELL_PROMPT_PATTERNS} when it runs a shell (the built-in "shell" profile, or any profile
 * whose command is a known shell), else none (the detector's defaults apply).
 */
export function profileDonePatterns(profile: Pick<AgentProfile, 'id' | 'command' | 'donePatterns'>): string[] | undefined {
  if (profile.donePatterns) return profile.donePatterns;
  if (profile.id === 'shell' || isShellCommand(profile.command)) return [...SHELL_PROMPT_PATTERNS];
  return undefined;
}

/**
 * The state detector's patterns for a profile, compiled with the `m` flag: its `waitingPatterns`,
 * and the done patterns of {@link profileDonePatterns}. A field is absent when the detector's default applies.
 * @throws SyntaxError for an invalid pattern (profiles from settings are checked by {@link mergeProfiles}).
 */
export function profileDetectorPatterns(profile: Pick<AgentProfile, 'id' | 'command' | 'waitingPatterns' | 'donePatterns'>): { waitingPatterns?: RegExp[]; donePatterns?: RegExp[] } {
  const compile = (sources: string[]) => sources.map(src => new RegExp(src, 'm'));
  const done = profileDonePatterns(profile);
  return {
    ...(profile.waitingPatterns ? { waitingPatterns: compile(profile.waitingPatterns) } : {}),
    ...(done ? { donePatterns: compile(done) } : {}),
  };
}
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/*
 * The fields of a profile in the `baton.sessions.profiles` setting, as zod schemas whose messages
 * complete `field "<path>" …` (the path names an item too: `args[0]`, `env.A`).
 */
const got = (issue: { input?: unknown }) => `got ${describe(issue.input)}`;
const text = z.string({ error: issue => `must be a string, ${got(issue)}` });
const nonEmpty = z.string({ error: issue => `must be a non-empty string, ${got(issue)}` })
  .refine(v => v.trim() !== '', { error: issue => `must be a non-empty string, ${got(issue)}` });
const strings = z.array(z.string({ error: issue => `must be a string, ${got(issue)}` }), { error: issue => `must be an array of strings, ${got(issue)}` });
const stringRecord = z.record(z.string(), z.string({ error: issue => `must be a string, ${got(issue)}` }), {
  error: issue => `must be an object of string values, ${got(issue)}`,
});
const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.enum(values, { error: issue => `must be one of ${values.map(x => `"${x}"`).join(', ')}, ${got(issue)}` });
/** Regular-expression sources, each compiled with the `m` flag to check it. */
const patterns = z.array(
  z.string({ error: issue => `must be a string, ${got(issue)}` }).superRefine((src, ctx) => {
    try {
      new RegExp(src, 'm');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `has an invalid regular expression ${JSON.stringify(src)}: ${(error as Error).message}` });
    }
  }),
  { error: issue => `must be an array of strings, ${got(issue)}` },
);

const FIELD_SCHEMAS = {
  label: nonEmpty,
  command: nonEmpty,
  args: strings,
  env: stringRecord,
  cwd: text,
  prompt: oneOf(PROMPT_DELIVERIES),
  promptArgs: strings,
  waitingPatterns: patterns,
  donePatterns: patterns,
  install: text,
  mcp: oneOf(MCP_STYLES),
  mcpTransport: oneOf(MCP_TRANSPORTS),
} satisfies Record<Exclude<keyof AgentProfile, 'id'>, z.ZodType>;
const KNOWN_FIELDS = new Set(['id', ...Object.keys(FIELD_SCHEMAS)]);
const ProfileFields = z.object(FIELD_SCHEMAS).partial();
const ProfileId = nonEmpty.regex(ID_PATTERN, { error: 'must be letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit)' });

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * The built-in profiles with the person's profiles (from the `baton.sessions.profiles` setting) applied:
 * an entry whose `id` is a built-in's overrides that profile field by field (so `{ "id": "claude",
 * "args": ["--model", "opus"] }` is enough); other ids add a profile, which needs at least `command`
 * (`label` defaults to the id, `args` to `[]`, `prompt` to `none`, `mcp` to `env-only`). An entry with an
 * invalid field is skipped whole; unknown fields are reported and ignored. Fields are checked with zod
 * schemas. Every problem is one message naming the entry (`profiles[2] ("my-agent")`) and the field, or
 * the item in it (`field "args[0]" must be a string, got number 1`).
 */
export function mergeProfiles(userProfiles: unknown): { profiles: AgentProfile[]; errors: string[] } {
  const profiles = BUILTIN_PROFILES.map(p => ({ ...p }));
  const errors: string[] = [];
  if (userProfiles === undefined || userProfiles === null) return { profiles, errors };
  if (!Array.isArray(userProfiles)) {
    errors.push(`profiles must be an array of profile objects, got ${describe(userProfiles)}; using the built-in profiles only`);
    return { profiles, errors };
  }
  const seen = new Map<string, number>();
  userProfiles.forEach((entry, index) => {
    let where = `profiles[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      errors.push(`${where}: must be an object with at least "id" and "command", got ${describe(entry)}; skipped`);
      return;
    }
    const raw = entry as Record<string, unknown>;
    const idCheck = ProfileId.safeParse(raw.id);
    if (!idCheck.success) {
      errors.push(`${where}: field "id" ${idCheck.error.issues[0].message}; skipped`);
      return;
    }
    const id = raw.id as string;
    where = `${where} ("${id}")`;
    const first = seen.get(id);
    if (first !== undefined) {
      errors.push(`${where}: duplicate id, already defined by profiles[${first}]; skipped`);
      return;
    }
    seen.set(id, index);
    for (const key of Object.keys(raw)) {
      if (!KNOWN_FIELDS.has(key)) errors.push(`${where}: unknown field "${key}" ignored (known fields: ${[...KNOWN_FIELDS].join(', ')})`);
    }
    const bad: string[] = [];
    const checked = ProfileFields.safeParse(raw); // unknown fields (and "id") are dropped
    // One message per field, its first problem (zod reports them in field order).
    const badFields = new Set<PropertyKey>();
    for (const issue of checked.error?.issues ?? []) {
      if (badFields.has(issue.path[0])) continue;
      badFields.add(issue.path[0]);
      bad.push(`field "${issuePath(issue.path)}" ${issue.message}`);
    }
    // A field given as undefined (not possible in JSON settings) is left out rather than clearing a built-in value.
    const fields = Object.fromEntries(Object.entries(checked.data ?? {}).filter(([, v]) => v !== undefined)) as Partial<AgentProfile>;
    const base = profiles.findIndex(p => p.id === id);
    if (base < 0 && raw.command === undefined) {
      bad.push('field "command" is required for a new profile (the executable to run)');
    }
    if (bad.length) {
      for (const b of bad) errors.push(`${where}: ${b}`);
      errors.push(`${where}: skipped because of the error${bad.length > 1 ? 's' : ''} above${base >= 0 ? ` (the built-in "${id}" profile is used)` : ''}`);
      return;
    }
    if (base >= 0) {
      profiles[base] = { ...profiles[base], ...fields, id };
    } else {
      profiles.push({ label: id, args: [], prompt: 'none', mcp: 'env-only', ...fields, id, command: fields.command! });
    }
  });
  return { profiles, errors };
}

/**
 * The absolute path of `command`, or null when it cannot be run, looked up by the `which` package (npm's
 * own, https://github.com/npm/node-which) without a shell. A command containing a path separator is
 * checked as a path (relative ones against the current directory); a bare name is looked up in the
 * directories of `env.PATH` in order (on Windows with the `PATHEXT` extensions). The current directory
 * is never searched for a bare name (not first as on Windows, nor for an empty `PATH` entry), so a
 * workspace cannot put a `claude` there; with no `PATH`, a bare name is not found.
 * Only files with execute permission count.
 */
export function findExecutable(command: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (typeof command !== 'string' || command.trim() === '') return null;
  const hasSeparator = command.includes('/') || (process.platform === 'win32' && command.includes('\\'));
  const dirs = (envValue(env, 'PATH') ?? '').split(path.delimiter).filter(d => d !== '');
  if (!hasSeparator && !path.isAbsolute(command) && dirs.length === 0) return null;
  const found = which.sync(command, { path: dirs.join(path.delimiter), pathExt: envValue(env, 'PATHEXT'), all: true, nothrow: true }) ?? [];
  // On Windows `which` looks in the current directory first; Baton only trusts the PATH directories.
  const trusted = hasSeparator || path.isAbsolute(command) ? found : found.filter(f => dirs.some(d => path.resolve(d.replace(/^"(.*)"$/, '$1')) === path.dirname(path.resolve(f))));
  return trusted.length ? path.resolve(trusted[0]) : null;
}

/** An environment variable, case-insensitively on Windows (`Path`). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  if (env[name] !== undefined) return env[name];
  if (process.platform !== 'win32') return undefined;
  const key = Object.keys(env).find(k => k.toUpperCase() === name);
  return key ? env[key] : undefined;
}

/**
 * Whether the profile's command can be run (looked up with the profile's `env` over Baton's). When it
 * cannot, the message says so and how to install it (`install`), or how to point the profile at it.
 */
export function checkInstalled(profile: AgentProfile): { ok: true; path: string } | { ok: false; message: string } {
  const found = findExecutable(profile.command, { ...process.env, ...(profile.env ?? {}) });
  if (found) return { ok: true, path: found };
  const where = /[\\/]/.test(profile.command) ? `${profile.command} does not exist or is not executable` : `"${profile.command}" was not found on PATH`;
  const how = profile.install
    ? `Install it with: ${profile.install}`
    : `Install it, or set "command" of the "${profile.id}" profile in the baton.sessions.profiles setting to its full path.`;
  return { ok: false, message: `${profile.label} is not installed: ${where}. ${how}` };
}
