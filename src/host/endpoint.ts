import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFilePrivate } from '../store/fileModes';

/** Published by the owner of a workspace's state so other processes (CLI, agents) can reach its MCP server. */
export interface EndpointInfo {
  url: string;
  pid: number;
  kind: 'vscode' | 'cli';
  startedAt: string;
  /** File holding the agents' bearer token (mode 0600): what launched sessions and copied configurations get. */
  tokenFile: string;
  /**
   * File holding the operator's bearer token (mode 0600): the person's credential, used by the `baton` CLI
   * and by VS Code taking over from `baton serve`. Never given to an agent.
   */
  operatorTokenFile: string;
  /** Largest MCP request body (bytes) the owner accepts (`baton.mcp.maxRequestBytes`); absent from older owners. */
  maxRequestBytes?: number;
}

const ENDPOINT_FILE = 'mcp-endpoint.json';
const TOKEN_FILE = 'mcp-token';
const OPERATOR_TOKEN_FILE = 'mcp-operator-token';
const PORT_FILE = 'mcp-port';
const TELEMETRY_KEY_FILE = 'telemetry-key';

/**
 * The workspace's MCP bearer token for agents: 32 random bytes, base64url, created on first use in
 * `<storageDir>/mcp-token` readable by the user only (0600). It never goes into the database or logs.
 * With it a client gets at most the agents' tool tier (`baton.mcp.toolTier`, `baton serve --tools`).
 */
export function loadOrCreateToken(storageDir: string): { token: string; file: string } {
  return loadOrCreate(path.join(storageDir, TOKEN_FILE));
}

/**
 * The workspace's operator token: the person's credential for the operator tool tier (answer, approve,
 * reject, pause, intervene, hand_over, …). Same format and mode as the agents' token, in
 * `<storageDir>/mcp-operator-token`; Baton never writes it into a session's environment or MCP configuration.
 */
export function loadOrCreateOperatorToken(storageDir: string): { token: string; file: string } {
  return loadOrCreate(path.join(storageDir, OPERATOR_TOKEN_FILE));
}

/**
 * Reads the operator token of a running owner from the file its endpoint names.
 * @throws Error naming the owner when it publishes none (a Baton from before operator tokens).
 */
export function readOperatorToken(endpoint: EndpointInfo): string {
  if (!endpoint.operatorTokenFile) {
    throw new Error(`The Baton owner at ${endpoint.url} (${endpoint.kind}, pid ${endpoint.pid}) publishes no operator token: it is an older version of Baton; restart it.`);
  }
  return fs.readFileSync(endpoint.operatorTokenFile, 'utf8').trim();
}

/**
 * The key Baton derives each terminal session's telemetry token from (HMAC, see src/host/telemetryTokens.ts):
 * 32 random bytes, base64url, in `<storageDir>/telemetry-key` (0600), kept across restarts so sessions left
 * running in tmux keep reporting. It never goes into a session's environment, the database or logs.
 */
export function loadOrCreateTelemetryKey(storageDir: string): { token: string; file: string } {
  return loadOrCreate(path.join(storageDir, TELEMETRY_KEY_FILE));
}

function loadOrCreate(file: string): { token: string; file: string } {
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return { token, file };
  } catch {
    // create below
  }
  const token = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, token, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { token, file };
}

export function writeEndpoint(storageDir: string, info: EndpointInfo): void {
  const file = path.join(storageDir, ENDPOINT_FILE);
  writeFilePrivate(`${file}.tmp`, JSON.stringify(info, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

/** The endpoint of the running owner, or null when none is published or its process is gone. */
export function readEndpoint(storageDir: string): EndpointInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(storageDir, ENDPOINT_FILE), 'utf8')) as EndpointInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}

/** Removes the endpoint file if it is ours. */
export function removeEndpoint(storageDir: string, pid = process.pid): void {
  const file = path.join(storageDir, ENDPOINT_FILE);
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as EndpointInfo;
    if (info.pid === pid) fs.unlinkSync(file);
  } catch {
    // nothing to remove
  }
}

/**
 * The MCP port this workspace last served on (`<storageDir>/mcp-port`), so the address agents and
 * copied configurations hold stays the same across reloads and restarts; null when none is recorded.
 */
export function readRecordedPort(storageDir: string): number | null {
  try {
    const port = Number(fs.readFileSync(path.join(storageDir, PORT_FILE), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  } catch {
    return null;
  }
}

/** Records the port the workspace's MCP server listens on (0600, replaced atomically). */
export function recordPort(storageDir: string, port: number): void {
  const file = path.join(storageDir, PORT_FILE);
  writeFilePrivate(`${file}.tmp`, String(port));
  fs.renameSync(`${file}.tmp`, file);
}

