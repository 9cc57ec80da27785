import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stripComments } from 'jsonc-parser';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import type { AgentProfile } from './profiles';

// smol-toml is an ES module package whose CommonJS build ("exports".require) is what runs here and what
// esbuild bundles; its types are ESM-only, hence the type import above and this require.
const { parse: parseToml } = require('smol-toml') as typeof SmolToml;

/** Where the launched agent finds Baton's MCP server. */
export interface McpEndpoint {
  /** Streamable HTTP endpoint on 127.0.0.1. */
  url: string;
  /** Bearer token for `url`. */
  token: string;
  /** Server name the agent sees (tool names become `mcp__<name>__…`); default `baton`. */
  name?: string;
  /**
   * Baton's stdio proxy (`{ command: process.execPath, args: [<dist/cli.js>, 'mcp', '--workspace', dir] }`),
   * used for profiles with `mcpTransport: 'stdio'` and when the person's Codex configuration already
   * defines the server name as a stdio server.
   */
  stdioFallback?: { command: string; args: string[] };
}

/** What to add to the agent's launch so it reaches Baton's MCP server. */
export interface McpWiring {
  /** Extra arguments, to put after the profile's own and before the prompt. */
  args: string[];
  /** Extra environment variables. */
  env: Record<string, string>;
  /** Files written (in the session folder; those holding the token are mode 0600). */
  files: string[];
  /** One line for the log saying how; never contains the token. */
  description: string;
}

/** Environment variable that carries the token for agents that read it from there (Codex, env-only). */
export const TOKEN_ENV = 'BATON_MCP_TOKEN';

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

type ServerEntry = { kind: 'http'; url: string; token: string } | { kind: 'stdio'; command: string; args: string[] };

/**
 * The extra arguments, environment and files that let the agent of `profile` reach Baton's MCP server
 * without the person editing any configuration, each the way that CLI reads MCP configuration
 * (verified against the real CLIs in test/unit/sessionsRealClaude.test.ts):
 *
 * - `claude`: `--mcp-config=<sessionDir>/mcp.json` (one token: the option is variadic) with an `http`
 *   server and an `Authorization` header. Such servers win over a same-named one in the person's config.
 * - `qwen`: `--mcp-config=<sessionDir>/qwen-mcp.json`, Gemini-style entry (`httpUrl` = Streamable HTTP).
 * - `gemini`: Gemini CLI has no MCP flag, its system settings files must be root-owned, and its project
 *   settings are the person's file. So `GEMINI_CLI_HOME` points to `<sessionDir>/gemini-home`, whose
 *   `.gemini/settings.json` is a copy of the person's `~/.gemini/settings.json` plus the server, and whose
 *   other entries (credentials, extensions, history, GEMINI.md, …) are symbolic links to the real ones;
 *   `GEMINI_CLI_TRUSTED_FOLDERS_PATH` keeps trust decisions in the real `~/.gemini/trustedFolders.json`.
 *   Settings the agent changes during the session stay in the copy.
 * - `codex`: `-c mcp_servers.<name>.url="…"` and `-c mcp_servers.<name>.bearer_token_env_var="BATON_MCP_TOKEN"`
 *   with the token in that variable (no file, nothing on the command line).
 * - `aider` (no MCP client) and `env-only`: `BATON_MCP_URL`, `BATON_MCP_TOKEN`, `BATON_MCP_NAME` and
 *   `BATON_MCP_CONFIG` (a standard `{"mcpServers":…}` file) for whatever runs in the terminal.
 *
 * `profile.mcpTransport: 'stdio'` with `endpoint.stdioFallback` configures Baton's stdio proxy instead
 * of the HTTP endpoint. `sessionDir` is created (0700) if missing. `workspaceDir` is the project the
 * agent works on (no built-in style needs it today: the stdio proxy gets it in `stdioFallback`).
 * Throws on an invalid server name or URL.
 */
export function wireMcp(profile: AgentProfile, endpoint: McpEndpoint, sessionDir: string, workspaceDir: string): McpWiring {
  const name = endpoint.name ?? 'baton';
  if (!NAME_PATTERN.test(name)) throw new Error(`MCP server name must be letters, digits, "_" or "-", got ${JSON.stringify(name)}`);
  let parsed: URL;
  try {
    parsed = new URL(endpoint.url);
  } catch {
    throw new Error(`Baton's MCP URL is not a URL: ${JSON.stringify(endpoint.url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`Baton's MCP URL must be http(s), got ${parsed.protocol}`);
  if (parsed.username || parsed.password) throw new Error("Baton's MCP URL must not carry credentials");
  fs.mkdirSync(sessionDir, { recursive: true, mode: 0o700 });

  const wantStdio = profile.mcpTransport === 'stdio';
  const stdioNote = wantStdio && !endpoint.stdioFallback ? " (stdio asked for, but Baton's CLI is not available: using HTTP)" : '';
  const entry: ServerEntry = wantStdio && endpoint.stdioFallback
    ? { kind: 'stdio', command: endpoint.stdioFallback.command, args: [...endpoint.stdioFallback.args] }
    : { kind: 'http', url: endpoint.url, token: endpoint.token };
  const where = entry.kind === 'http' ? `${entry.url} (HTTP)` : "Baton's stdio proxy";
  const label = profile.label || profile.id;

  switch (profile.mcp) {
    case 'claude': {
      const file = writePrivate(path.join(sessionDir, 'mcp.json'), JSON.stringify({ mcpServers: { [name]: claudeEntry(entry) } }, null, 2));
      return {
        args: [`--mcp-config=${file}`], env: {}, files: [file],
        description: `${label} gets MCP server "${name}" at ${where} from --mcp-config=${file}${stdioNote}`,
      };
    }
    case 'qwen': {
      const file = writePrivate(path.join(sessionDir, 'qwen-mcp.json'), JSON.stringify({ mcpServers: { [name]: geminiEntry(entry) } }, null, 2));
      return {
        args: [`--mcp-config=${file}`], env: {}, files: [file],
        description: `${label} gets MCP server "${name}" at ${where} from --mcp-config=${file}${stdioNote}`,
      };
    }
    case 'gemini':
      return wireGemini(profile, name, entry, sessionDir, label, where, stdioNote);
    case 'codex':
      return wireCodex(profile, name, entry, endpoint, label, stdioNote);
    case 'aider':
    case 'env-only':
    default: {
      const file = writePrivate(path.join(sessionDir, 'mcp.json'), JSON.stringify({ mcpServers: { [name]: claudeEntry(entry) } }, null, 2));
      const env: Record<string, string> = { BATON_MCP_URL: endpoint.url, [TOKEN_ENV]: endpoint.token, BATON_MCP_NAME: name, BATON_MCP_CONFIG: file };
      const why = profile.mcp === 'aider' ? `${label} has no MCP client, so it cannot call Baton's tools; ` : `${label}: `;
      return {
        args: [], env, files: [file],
        description: `${why}BATON_MCP_URL (${endpoint.url}), BATON_MCP_TOKEN and BATON_MCP_CONFIG (${file}) are set in its environment`,
      };
    }
  }
}

/** Claude Code's (and the common) `mcpServers` entry. */
function claudeEntry(entry: ServerEntry): Record<string, unknown> {
  return entry.kind === 'http'
    ? { type: 'http', url: entry.url, headers: { Authorization: `Bearer ${entry.token}` } }
    : { type: 'stdio', command: entry.command, args: entry.args };
}

/** Gemini CLI / Qwen Code entry: `httpUrl` is Streamable HTTP (`url` would be SSE). */
function geminiEntry(entry: ServerEntry): Record<string, unknown> {
  return entry.kind === 'http'
    ? { httpUrl: entry.url, headers: { Authorization: `Bearer ${entry.token}` } }
    : { command: entry.command, args: entry.args };
}

function wireGemini(profile: AgentProfile, name: string, entry: ServerEntry, sessionDir: string, label: string, where: string, stdioNote: string): McpWiring {
  const realHome = profile.env?.GEMINI_CLI_HOME || process.env.GEMINI_CLI_HOME || os.homedir();
  const realDir = path.join(realHome, '.gemini');
  const realSettings = path.join(realDir, 'settings.json');
  let settings: Record<string, unknown> = {};
  try {
    const text = fs.readFileSync(realSettings, 'utf8');
    const parsed: unknown = text.trim() === '' ? {} : JSON.parse(stripJsonComments(text));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('it is not a JSON object');
    settings = parsed as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      return {
        args: [], env: {}, files: [],
        description: `${label} is NOT connected to Baton's MCP server: cannot read ${realSettings} (${(error as Error).message.split('\n')[0]}), which Baton copies to add the server`,
      };
    }
  }
  const servers = settings.mcpServers;
  settings.mcpServers = { ...(typeof servers === 'object' && servers !== null && !Array.isArray(servers) ? servers : {}), [name]: geminiEntry(entry) };

  const home = path.join(sessionDir, 'gemini-home');
  fs.rmSync(home, { recursive: true, force: true });
  const dir = path.join(home, '.gemini');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(home, 0o700);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(realDir);
  } catch {
    // no ~/.gemini yet: nothing to link
  }
  for (const e of entries) {
    if (e === 'settings.json') continue;
    linkOrCopy(path.join(realDir, e), path.join(dir, e));
  }
  // Gemini CLI also looks for ~/.env when the workspace has none.
  if (fs.existsSync(path.join(realHome, '.env'))) linkOrCopy(path.join(realHome, '.env'), path.join(home, '.env'));
  const file = writePrivate(path.join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
  const env: Record<string, string> = {
    GEMINI_CLI_HOME: home,
    GEMINI_CLI_TRUSTED_FOLDERS_PATH: profile.env?.GEMINI_CLI_TRUSTED_FOLDERS_PATH || process.env.GEMINI_CLI_TRUSTED_FOLDERS_PATH || path.join(realDir, 'trustedFolders.json'),
  };
  return {
    args: [], env, files: [file],
    description: `${label} gets MCP server "${name}" at ${where} from GEMINI_CLI_HOME=${home} (a copy of ${realSettings} plus the server; other entries linked)${stdioNote}`,
  };
}

function wireCodex(profile: AgentProfile, name: string, entry: ServerEntry, endpoint: McpEndpoint, label: string, stdioNote: string): McpWiring {
  const codexHome = profile.env?.CODEX_HOME || process.env.CODEX_HOME || path.join(os.homedir(), '.codex');
  const configFile = path.join(codexHome, 'config.toml');
  const existing = codexServerKind(configFile, name);
  // `-c` overrides merge into a server the person already defines; Codex refuses a `url` on a stdio server.
  let use = entry;
  let note = stdioNote;
  if (existing === 'stdio' && entry.kind === 'http') {
    if (!endpoint.stdioFallback) {
      return {
        args: [], env: {}, files: [],
        description: `${label} is NOT connected to Baton's MCP server: ${configFile} defines mcp_servers.${name} as a stdio server, which Baton cannot point at its HTTP endpoint`,
      };
    }
    use = { kind: 'stdio', command: endpoint.stdioFallback.command, args: [...endpoint.stdioFallback.args] };
    note = ` (${configFile} defines mcp_servers.${name} as a stdio server, so Baton's stdio proxy replaces its command)`;
  }
  const key = `mcp_servers.${name}`;
  if (use.kind === 'http') {
    return {
      args: ['-c', `${key}.url=${JSON.stringify(use.url)}`, '-c', `${key}.bearer_token_env_var=${JSON.stringify(TOKEN_ENV)}`],
      env: { [TOKEN_ENV]: use.token }, files: [],
      description: `${label} gets MCP server "${name}" at ${use.url} (HTTP) from -c ${key}.url=… with the token in ${TOKEN_ENV}${note}`,
    };
  }
  return {
    args: ['-c', `${key}.command=${JSON.stringify(use.command)}`, '-c', `${key}.args=${JSON.stringify(use.args)}`],
    env: {}, files: [],
    description: `${label} gets MCP server "${name}" through Baton's stdio proxy from -c ${key}.command=…${note}`,
  };
}

/**
 * Whether Codex's config.toml already defines `mcp_servers.<name>` and with which transport: `stdio`
 * when the entry has a `command`, `http` when it has a `url`. The file is read as TOML 1.0 with
 * `smol-toml` (https://github.com/squirrelchat/smol-toml), so every way TOML can spell the entry counts:
 * a `[mcp_servers.<name>]` table, dotted keys, inline tables, quoted keys, multi-line strings, comments.
 * Baton never writes this file (it passes `-c` overrides to Codex), so nothing of the person's is
 * rewritten. Null when the file is absent, unreadable or not valid TOML (Codex then reports the file
 * itself), or when the entry has neither a command nor a URL.
 */
export function codexServerKind(configFile: string, name: string): 'stdio' | 'http' | null {
  let config: Record<string, unknown>;
  try {
    config = parseToml(fs.readFileSync(configFile, 'utf8'));
  } catch {
    return null;
  }
  const servers = config.mcp_servers;
  if (!isTable(servers) || !Object.hasOwn(servers, name)) return null;
  const entry = servers[name];
  if (!isTable(entry)) return null;
  if (entry.command !== undefined) return 'stdio';
  if (entry.url !== undefined) return 'http';
  return null;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Writes `text` to `file` readable by the user only (0600), replacing a file or link that was there. */
export function writePrivate(file: string, text: string): string {
  try {
    fs.unlinkSync(file);
  } catch {
    // not there
  }
  fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  fs.chmodSync(file, 0o600);
  return file;
}

/** A symbolic link at `to` pointing to `from` (a junction for folders on Windows; a copy of a file when links are refused). */
export function linkOrCopy(from: string, to: string): void {
  try {
    const isDir = fs.statSync(from).isDirectory();
    try {
      fs.symlinkSync(from, to, isDir ? (process.platform === 'win32' ? 'junction' : 'dir') : 'file');
    } catch {
      if (!isDir) fs.copyFileSync(from, to);
    }
  } catch {
    // a dangling link or an unreadable entry: leave it out
  }
}

/**
 * JSON with `//` and `/* *\/` comments and trailing commas (as Gemini CLI's settings allow) turned into
 * plain JSON text, by `jsonc-parser` (VS Code's JSONC scanner): comments become spaces, so offsets and
 * line numbers of the rest stay the same.
 */
export function stripJsonComments(text: string): string {
  return stripComments(text, ' ');
}
