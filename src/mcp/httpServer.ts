import { randomUUID, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { TOOL_TIERS, type AgentTier, type ToolTier } from './batonMcpServer';

/** Which bearer token a request carried. */
export type Credential = 'agent' | 'operator';

export interface McpHttpOptions {
  /** 0 picks a free port. */
  port: number;
  /** The agents' bearer token (`Authorization: Bearer <token>`): launched sessions and copied configurations. */
  token: string;
  /** The person's bearer token: the only way to the `operator` tier (the `baton` CLI, VS Code taking over). */
  operatorToken: string;
  /**
   * The highest tier the agents' token reaches, read at each initialize (`baton.mcp.toolTier`,
   * `baton serve --tools`); it is also what agents get when they ask for nothing.
   */
  agentTier: () => AgentTier;
  /** Largest accepted request body in bytes; larger ones get 413. */
  maxBodyBytes: number;
  /**
   * Builds a fresh MCP server (tools, resources, prompts) for each client session with the tier the
   * server granted: from the token, lowered by the client's `X-Baton-Tools` header when it asks for less.
   */
  createServer: (session: {
    sessionId: () => string | undefined;
    tier: ToolTier;
    /** When the session last had a request or an open stream (for "last seen" when it ends). */
    lastActivityAt: () => Date | undefined;
  }) => McpServer;
  /**
   * A session with no request in flight and no open stream (GET SSE, a long-running POST) for this
   * many milliseconds is closed: transport and MCP server closed, forgotten. Default 600 000 (10 min).
   */
  sessionIdleMs?: number;
  /** Clock, for tests; default `Date.now`. */
  now?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /**
   * The OTLP/HTTP receiver for requests under `/otlp/` (src/host/otlpReceiver.ts): it checks their
   * per-session telemetry token itself (the agents' and operator tokens are not accepted there). Absent:
   * those paths get 404.
   */
  otlp?: {
    /** The session a request's `Authorization` header names (its telemetry token), or null: 401 before the body is read. */
    sessionOf: (authorization: string | undefined) => string | null;
    /** Answers an authenticated export (body read up to {@link OTLP_MAX_BODY_BYTES}). */
    receive: (sessionId: string, request: { method: string; path: string; contentType: string | undefined; body: Buffer }) => { status: number; contentType: string; body: string };
  };
}

/**
 * Largest OTLP export body accepted (bytes): 16 MiB, not the MCP limit, since a CLI's metrics export
 * holds every histogram's buckets (Codex 0.169 sends about 600 KB at exit). Read only after the token checked.
 */
export const OTLP_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Default idle timeout of an MCP session (10 minutes), see `McpHttpOptions.sessionIdleMs`. */
export const DEFAULT_SESSION_IDLE_MS = 600_000;

/** One client session: its transport and server, and what keeps it alive (requests, open streams). */
interface SessionEntry {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** The token that opened the session; every later request must carry the same one. */
  credential: Credential;
  /** The tier the client asked for with `X-Baton-Tools`, if any (kept when the agents' tier changes). */
  asked?: ToolTier;
  /** Requests and streams (responses) of this session still open. */
  open: number;
  /** When the last request arrived or the last open response closed (ms since the epoch). */
  lastActivityAt: number;
  idleTimer?: NodeJS.Timeout;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Baton's MCP endpoint: Streamable HTTP (MCP spec 2025-06-18, "Transports") on 127.0.0.1 at `/mcp`.
 *
 * Security, in the order checked — the SDK's transport does none of this by default:
 * - `Host` must name the loopback address and our port, else 403 (DNS-rebinding defence);
 * - an `Origin`, when present, must be a loopback origin, else 403 (the spec's MUST);
 * - `Authorization: Bearer <token>` must be the agents' or the operator's token (constant-time compare),
 *   else 401 with `WWW-Authenticate`;
 * - the token sets the tier: the agents' token gets `agentTier()`, the operator token `operator`; an
 *   `X-Baton-Tools` header at initialize may only lower it, and asking for more is refused with 403
 *   and a JSON-RPC error saying why; a session answers only the token that opened it (else 403);
 * - bodies over `maxBodyBytes` get 413 before they are parsed (read as a stream, stopped at the limit);
 * - malformed JSON gets a JSON-RPC parse error with 400.
 * Each client gets its own session (`Mcp-Session-Id`) and MCP server instance; `DELETE` ends it, and
 * so does `sessionIdleMs` with no request and no open stream (clients that exit without DELETE).
 */
export class McpHttpServer {
  private server?: http.Server;
  private readonly sessions = new Map<string, SessionEntry>();
  private port = 0;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(private readonly options: McpHttpOptions) {
    this.idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
    if (!(this.idleMs > 0)) throw new RangeError(`sessionIdleMs must be a positive number of milliseconds, got ${options.sessionIdleMs}.`);
    this.now = options.now ?? Date.now;
  }

  /**
   * Starts listening on `port` (default: the `port` option; 0 picks a free one); resolves with the
   * endpoint URL, e.g. `http://127.0.0.1:43117/mcp`. @throws the listen error (EADDRINUSE when taken);
   * the server can then be started again on another port.
   */
  async start(port = this.options.port): Promise<string> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch(error => {
        this.options.log?.('error', `[MCP] request failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error');
        else res.end();
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Applies a new agents' tier (`baton.mcp.toolTier` changed) to the agent sessions already open: each
   * gets the new tier, or the lower one it asked for, and is sent `notifications/tools/list_changed`
   * when its tools change. Operator sessions keep theirs. Returns how many sessions were moved.
   */
  applyAgentTier(): number {
    const ceiling = this.options.agentTier();
    let moved = 0;
    for (const entry of this.sessions.values()) {
      if (entry.credential !== 'agent') continue;
      const tier = entry.asked && TOOL_TIERS.indexOf(entry.asked) < TOOL_TIERS.indexOf(ceiling) ? entry.asked : ceiling;
      const server = entry.server as McpServer & { setToolTier?: (tier: 'core' | 'full') => void };
      if (server.setToolTier && (tier === 'core' || tier === 'full')) {
        server.setToolTier(tier);
        moved++;
      }
    }
    return moved;
  }

  /**
   * Whether a session is busy (a request in flight or a stream open) and when it was last active
   * (ms since the epoch); undefined for a session this server does not hold (never opened, or closed).
   */
  activityOf(sessionId: string): { busy: boolean; lastActivityAt: number } | undefined {
    const entry = this.sessions.get(sessionId);
    return entry && { busy: entry.open > 0, lastActivityAt: entry.open > 0 ? this.now() : entry.lastActivityAt };
  }

  async stop(): Promise<void> {
    for (const { transport, server, idleTimer } of this.sessions.values()) {
      clearTimeout(idleTimer);
      await transport.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    }
    this.sessions.clear();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections?.();
      await new Promise<void>(resolve => server.close(() => resolve()));
    }
  }

  /** An OTLP/HTTP export: the token checked (else 401), the body read up to OTLP_MAX_BODY_BYTES (else 413), then the receiver's answer. */
  private async handleOtlp(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const otlp = this.options.otlp!;
    const sessionId = otlp.sessionOf(req.headers.authorization);
    if (!sessionId) {
      req.resume();
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="baton-telemetry"' })
        .end("Unauthorized: send Authorization: Bearer <the session's telemetry token> (Baton sets it in OTEL_EXPORTER_OTLP_METRICS_HEADERS).");
      return;
    }
    const body = req.method === 'POST' ? await readBody(req, OTLP_MAX_BODY_BYTES) : Buffer.alloc(0);
    if (body === 'too-large') {
      res.writeHead(413, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end(`Request body exceeds the limit of ${OTLP_MAX_BODY_BYTES} bytes.`);
      return;
    }
    const answer = otlp.receive(sessionId, { method: req.method ?? 'GET', path, contentType: header(req, 'content-type'), body });
    res.writeHead(answer.status, { 'Content-Type': answer.contentType }).end(answer.body);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!this.hostAllowed(req.headers.host)) return plain(res, 403, 'Forbidden: Host header must be 127.0.0.1 or localhost with this port.');
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin)) return plain(res, 403, `Forbidden: origin ${origin} may not call Baton's MCP server.`);
    if (url.pathname.startsWith('/otlp/') && this.options.otlp) return this.handleOtlp(req, res, url.pathname);
    const credential = this.credential(req.headers.authorization);
    if (!credential) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="baton"');
      return plain(res, 401, 'Unauthorized: send Authorization: Bearer <token> (see Baton: Copy MCP Server Configuration).');
    }
    if (url.pathname !== '/mcp') return plain(res, 404, 'Not found: the MCP endpoint is /mcp.');

    const sessionId = header(req, 'mcp-session-id');
    if (req.method === 'POST') {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > this.options.maxBodyBytes) {
        req.resume();
        return jsonRpcError(res, 413, -32600, `Request body of ${declared} bytes exceeds the limit of ${this.options.maxBodyBytes} bytes.`, true);
      }
      const body = await readBody(req, this.options.maxBodyBytes);
      if (body === 'too-large') {
        return jsonRpcError(res, 413, -32600, `Request body exceeds the limit of ${this.options.maxBodyBytes} bytes.`, true);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return jsonRpcError(res, 400, -32700, 'Parse error: the body is not valid JSON.');
      }
      // JSON-RPC 2.0 §6: an empty batch is an Invalid Request, answered with a single error.
      if (Array.isArray(parsed) && parsed.length === 0) return jsonRpcError(res, 400, -32600, 'Invalid Request: the JSON-RPC batch is empty.');
      if (sessionId) {
        const session = this.sessions.get(sessionId);
        if (!session) return jsonRpcError(res, 404, -32001, 'Session not found: initialize a new session.');
        if (session.credential !== credential) return jsonRpcError(res, 403, -32600, SESSION_OF_ANOTHER_TOKEN);
        this.track(sessionId, session, res);
        return session.transport.handleRequest(req, res, parsed);
      }
      const initializing = Array.isArray(parsed) ? parsed.some(m => isInitializeRequest(m)) : isInitializeRequest(parsed);
      if (!initializing) return jsonRpcError(res, 400, -32000, 'Bad request: no Mcp-Session-Id header; start with an initialize request.');
      let id: string | undefined;
      let entry: SessionEntry | undefined;
      const granted = this.grantTier(credential, header(req, 'x-baton-tools'));
      if ('refused' in granted) return jsonRpcError(res, granted.status, -32600, granted.refused);
      const server = this.options.createServer({
        sessionId: () => id, tier: granted.tier,
        lastActivityAt: () => entry && new Date(entry.open > 0 ? this.now() : entry.lastActivityAt),
      });
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: sid => {
          id = sid;
          entry = { transport, server, credential, asked: granted.asked, open: 0, lastActivityAt: this.now() };
          this.sessions.set(sid, entry);
          this.track(sid, entry, res);
          this.options.log?.('info', `[MCP] session ${sid.slice(0, 8)} opened (${this.sessions.size} open)`);
        },
        onsessionclosed: sid => {
          this.forget(sid);
          this.options.log?.('info', `[MCP] session ${sid.slice(0, 8)} closed`);
        },
      });
      transport.onclose = () => {
        if (id) this.forget(id);
      };
      await server.connect(transport);
      return transport.handleRequest(req, res, parsed);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const session = sessionId ? this.sessions.get(sessionId) : undefined;
      if (!session) return jsonRpcError(res, sessionId ? 404 : 400, -32000, 'Missing or unknown Mcp-Session-Id.');
      if (session.credential !== credential) return jsonRpcError(res, 403, -32600, SESSION_OF_ANOTHER_TOKEN);
      this.track(sessionId!, session, res);
      return session.transport.handleRequest(req, res);
    }
    res.setHeader('Allow', 'GET, POST, DELETE');
    return plain(res, 405, 'Method not allowed.');
  }

  /** Counts `res` as keeping session `sid` alive until it closes; the idle clock restarts when the last one closes. */
  private track(sid: string, entry: SessionEntry, res: http.ServerResponse): void {
    entry.open++;
    entry.lastActivityAt = this.now();
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    res.once('close', () => {
      entry.open--;
      entry.lastActivityAt = this.now();
      if (entry.open === 0 && this.sessions.get(sid) === entry) {
        entry.idleTimer = setTimeout(() => void this.expire(sid, entry), this.idleMs);
        entry.idleTimer.unref();
      }
    });
  }

  /** Closes a session idle for `idleMs`: its MCP server (which ends the agent session) and transport. */
  private async expire(sid: string, entry: SessionEntry): Promise<void> {
    if (this.sessions.get(sid) !== entry || entry.open > 0) return;
    this.options.log?.('info', `[MCP] session ${sid.slice(0, 8)} expired after ${Math.round(this.idleMs / 1000)} s without a request or an open stream`);
    try {
      await entry.server.close();
    } catch (error) {
      this.options.log?.('warn', `[MCP] closing idle session ${sid.slice(0, 8)} failed: ${(error as Error).message}`);
    } finally {
      this.forget(sid);
    }
  }

  private forget(sid: string): void {
    const entry = this.sessions.get(sid);
    if (!entry) return;
    clearTimeout(entry.idleTimer);
    this.sessions.delete(sid);
  }

  private hostAllowed(host: string | undefined): boolean {
    if (!host) return false;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.toLowerCase());
    return !!m && LOOPBACK_HOSTS.has(m[1]) && Number(m[2]) === this.port;
  }

  private originAllowed(origin: string): boolean {
    try {
      const u = new URL(origin);
      return (u.protocol === 'http:' || u.protocol === 'https:') && LOOPBACK_HOSTS.has(u.hostname.toLowerCase() === '::1' ? '[::1]' : u.hostname.toLowerCase());
    } catch {
      return false;
    }
  }

  /** Which of the two tokens `authorization` carries, or null (constant-time compares against both). */
  private credential(authorization: string | undefined): Credential | null {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!m) return null;
    const given = Buffer.from(m[1].trim());
    const operator = sameSecret(given, this.options.operatorToken);
    const agent = sameSecret(given, this.options.token);
    return operator ? 'operator' : agent ? 'agent' : null;
  }

  /**
   * The tier a new session gets: the token's own tier, or the lower one `asked` (`X-Baton-Tools`) names.
   * Asking for a higher tier than the token grants is refused (403), never silently lowered, so a client
   * knows it does not have what it asked for.
   */
  private grantTier(credential: Credential, asked: string | undefined): { tier: ToolTier; asked?: ToolTier } | { refused: string; status: number } {
    const ceiling: ToolTier = credential === 'operator' ? 'operator' : this.options.agentTier();
    if (asked === undefined || asked === '') return { tier: ceiling };
    const tier = asked.trim().toLowerCase();
    if (!(TOOL_TIERS as readonly string[]).includes(tier)) {
      return { refused: `X-Baton-Tools must be one of ${TOOL_TIERS.join(', ')}, got "${asked}".`, status: 400 };
    }
    if (TOOL_TIERS.indexOf(tier as ToolTier) <= TOOL_TIERS.indexOf(ceiling)) return { tier: tier as ToolTier, asked: tier as ToolTier };
    return {
      status: 403,
      refused: tier === 'operator'
        ? 'Forbidden: X-Baton-Tools: operator needs the operator token; the agents\' token never reaches the person\'s tools (answer, approve, reject, pause, intervene, hand_over).'
        : `Forbidden: X-Baton-Tools: ${tier} is above the "${ceiling}" tier Baton grants agents (setting baton.mcp.toolTier, or baton serve --tools).`,
    };
  }
}

const SESSION_OF_ANOTHER_TOKEN = 'Forbidden: this MCP session was opened with another token.';

function sameSecret(given: Buffer, secret: string): boolean {
  const expected = Buffer.from(secret);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function plain(res: http.ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(message);
}

function jsonRpcError(res: http.ServerResponse, status: number, code: number, message: string, close = false): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (close) headers.Connection = 'close';
  res.writeHead(status, headers).end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/** Reads a request body up to `limit` bytes; returns 'too-large' (and stops reading) past it. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', error => {
      if (!done) {
        done = true;
        reject(error);
      }
    });
  });
}
