import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Published by the owner of a workspace's state so other processes (CLI, agents) can reach its MCP server. */
export interface EndpointInfo {
  url: string;
  pid: number;
  kind: 'vscode' | 'cli';
  startedAt: string;
  /** File holding the bearer token (mode 0600). */
  tokenFile: string;
}

const ENDPOINT_FILE = 'mcp-endpoint.json';
const TOKEN_FILE = 'mcp-token';

/**
 * The workspace's MCP bearer token: 32 random bytes, base64url, created on first use in
 * `<storageDir>/mcp-token` readable by the user only (0600). It never goes into the database or logs.
 */
export function loadOrCreateToken(storageDir: string): { token: string; file: string } {
  const file = path.join(storageDir, TOKEN_FILE);
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
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2));
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
