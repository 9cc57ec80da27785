import * as fs from 'node:fs';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { readEndpoint, type EndpointInfo } from '../host/endpoint';
import type { LogFn } from '../host/workspaceOwner';

/** Options of {@link StdioProxy}. */
export interface StdioProxyOptions {
  /** The workspace's storage folder, where the owner publishes `mcp-endpoint.json` and the agents' token. */
  storageDir: string;
  /** Tier to ask for with `X-Baton-Tools` (may only lower what the token grants); none = the owner's. */
  tier?: string;
  log: LogFn;
  /**
   * How long (milliseconds) a call waits for an owner to come back when the one it used is gone (a VS Code
   * window reloading, `baton serve` restarting on another port); default 60,000. Then the call fails.
   */
  reconnectMs?: number;
  /** Defaults: this process's stdin/stdout. */
  stdio?: StdioServerTransport;
}

interface Upstream {
  generation: number;
  endpoint: EndpointInfo;
  transport: StreamableHTTPClientTransport;
}

const POLL_MS = 200;

/**
 * `baton mcp` when an owner (VS Code or `baton serve`) runs: forwards JSON-RPC messages between stdio and
 * the owner's Streamable HTTP endpoint, and survives the owner going away and coming back.
 *
 * The owner is looked up in `<storageDir>/mcp-endpoint.json` for every connection, not once. When a
 * message cannot be delivered (the owner's process is gone, its port changed, or the new owner does not
 * know the MCP session: HTTP 404), the proxy waits up to `reconnectMs` for an owner to be published,
 * opens a new MCP session there by replaying the client's own `initialize` request (with a proxy-owned id,
 * its answer kept from the client) and `notifications/initialized`, re-subscribes the resources the client
 * subscribed to, and sends the message again. So an agent wired through `baton mcp` keeps working across
 * window reloads and restarts on any port ("Trust" item 6), and never sees a session error.
 *
 * A request that was already delivered when its owner went away (its answer lost with it) is answered with
 * JSON-RPC error -32603 saying the call may or may not have taken effect, rather than sent twice.
 * Server-to-client messages are forwarded unchanged. Runs until stdin closes or SIGINT/SIGTERM.
 */
export class StdioProxy {
  private readonly stdio: StdioServerTransport;
  private readonly reconnectMs: number;
  private upstream: Upstream | null = null;
  private connecting: Promise<Upstream> | null = null;
  private generation = 0;
  /** The client's `initialize` request, replayed on every new upstream session. */
  private initialize: JSONRPCRequest | null = null;
  private initialized = false;
  /** URIs the client subscribed to (`resources/subscribe`), re-subscribed on a new upstream session. */
  private readonly subscriptions = new Set<string>();
  /** Requests delivered and not yet answered: id → the upstream generation that has them. */
  private readonly inFlight = new Map<string | number, number>();
  /** Answers the proxy waits for itself (replayed initialize, re-subscriptions), by id. */
  private readonly own = new Map<string, (message: JSONRPCMessage) => void>();
  private closed = false;

  constructor(private readonly options: StdioProxyOptions) {
    this.stdio = options.stdio ?? new StdioServerTransport();
    this.reconnectMs = options.reconnectMs ?? 60_000;
  }

  /** Starts forwarding; resolves when stdin closes or the process is told to stop. */
  async run(): Promise<void> {
    const done = new Promise<void>(resolve => {
      this.stdio.onclose = resolve;
      process.stdin.once('end', resolve);
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    this.stdio.onmessage = message => void this.fromClient(message);
    await this.stdio.start();
    await done;
    this.closed = true;
    const up = this.upstream;
    if (up) {
      await up.transport.terminateSession().catch(() => undefined);
      await up.transport.close().catch(() => undefined);
    }
  }

  private async fromClient(message: JSONRPCMessage): Promise<void> {
    const request = 'method' in message && 'id' in message ? (message as JSONRPCRequest) : null;
    if (request?.method === 'initialize') this.initialize = request;
    if ('method' in message && message.method === 'notifications/initialized') this.initialized = true;
    if (request?.method === 'resources/subscribe') this.subscriptions.add(String((request.params as { uri?: unknown } | undefined)?.uri));
    if (request?.method === 'resources/unsubscribe') this.subscriptions.delete(String((request.params as { uri?: unknown } | undefined)?.uri));

    for (let attempt = 0; ; attempt++) {
      let up: Upstream;
      try {
        up = await this.connect();
      } catch (error) {
        if (request) this.answerError(request.id, (error as Error).message);
        return;
      }
      try {
        if (request) this.inFlight.set(request.id, up.generation);
        await up.transport.send(message);
        return;
      } catch (error) {
        if (request) this.inFlight.delete(request.id);
        const lost = isOwnerLost(error);
        if (!lost || attempt >= 1 || request?.method === 'initialize') {
          if (request) this.answerError(request.id, `Baton owner at ${up.endpoint.url} refused the call: ${(error as Error).message}`);
          if (lost) this.drop(up);
          return;
        }
        this.options.log('info', `the owner at ${up.endpoint.url} is gone (${(error as Error).message}); waiting for it to come back`);
        this.drop(up);
      }
    }
  }

  /** The current upstream, or a new one once an owner is published (waits up to `reconnectMs`). */
  private connect(): Promise<Upstream> {
    const up = this.upstream;
    if (up) {
      // The owner publishes where it is: a session on an owner that is no longer published is gone (its port
      // may even belong to someone else now), so it is dropped before anything is sent to it.
      const now = readEndpoint(this.options.storageDir);
      if (now && now.pid === up.endpoint.pid && now.url === up.endpoint.url) return Promise.resolve(up);
      this.options.log('info', `the owner at ${up.endpoint.url} is no longer published${now ? ` (${now.url} is)` : ''}; reconnecting`);
      this.drop(up);
    }
    this.connecting ??= this.open().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async open(): Promise<Upstream> {
    const deadline = Date.now() + (this.generation === 0 ? 0 : this.reconnectMs);
    for (;;) {
      const endpoint = readEndpoint(this.options.storageDir);
      if (endpoint) {
        try {
          return await this.openOn(endpoint);
        } catch (error) {
          if (Date.now() >= deadline) throw new Error(`Baton owner unreachable at ${endpoint.url}: ${(error as Error).message}`);
        }
      } else if (Date.now() >= deadline) {
        throw new Error(`Baton owner unreachable: none has been published in ${this.options.storageDir} for ${Math.round(this.reconnectMs / 1000)} s (VS Code with Baton, or baton serve, owns the workspace)`);
      }
      await new Promise(resolve => setTimeout(resolve, POLL_MS));
    }
  }

  private async openOn(endpoint: EndpointInfo): Promise<Upstream> {
    const token = fs.readFileSync(endpoint.tokenFile, 'utf8').trim();
    const tier = this.options.tier;
    // No X-Baton-Tools header unless asked: the agent gets the tier the owner serves agents.
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...(tier ? { 'X-Baton-Tools': tier } : {}) };
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), { requestInit: { headers } });
    const up: Upstream = { generation: ++this.generation, endpoint, transport };
    transport.onmessage = message => this.fromServer(up, message);
    transport.onerror = error => {
      this.options.log('info', `owner connection: ${error.message}`);
      // A broken stream: when the owner it came from is no longer the published one, calls it had are lost.
      const now = readEndpoint(this.options.storageDir);
      if (this.upstream === up && (!now || now.pid !== endpoint.pid || now.url !== endpoint.url)) this.drop(up);
    };
    await transport.start();
    if (this.initialize && up.generation > 1) {
      // A new MCP session for the same client: its own initialize, answered to the proxy.
      const id = `baton-proxy-initialize-${up.generation}`;
      const answer = this.expect(id);
      await transport.send({ ...this.initialize, id });
      const reply = await answer;
      if ('error' in reply) throw new Error(`initialize was refused: ${(reply as { error: { message: string } }).error.message}`);
      if (this.initialized) await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      for (const uri of this.subscriptions) {
        const subId = `baton-proxy-subscribe-${up.generation}-${uri}`;
        const subscribed = this.expect(subId);
        await transport.send({ jsonrpc: '2.0', id: subId, method: 'resources/subscribe', params: { uri } });
        await subscribed;
      }
      this.options.log('info', `reconnected to the owner at ${endpoint.url} (${endpoint.kind}, pid ${endpoint.pid})`);
    }
    this.upstream = up;
    return up;
  }

  private expect(id: string): Promise<JSONRPCMessage> {
    return new Promise(resolve => this.own.set(id, resolve));
  }

  private fromServer(up: Upstream, message: JSONRPCMessage): void {
    if (('result' in message || 'error' in message) && 'id' in message) {
      const mine = typeof message.id === 'string' ? this.own.get(message.id) : undefined;
      if (mine) {
        this.own.delete(message.id as string);
        mine(message);
        return;
      }
      if (message.id !== null && message.id !== undefined) this.inFlight.delete(message.id);
    }
    if (up !== this.upstream && !(('result' in message || 'error' in message))) return; // a stale session's notification
    void this.stdio.send(message);
  }

  /** Forgets `up` and answers the requests it had with an error: their answers are lost with the owner. */
  private drop(up: Upstream): void {
    if (this.upstream === up) this.upstream = null;
    void up.transport.close().catch(() => undefined);
    for (const [id, generation] of this.inFlight) {
      if (generation !== up.generation) continue;
      this.inFlight.delete(id);
      this.answerError(id, `Baton's owner at ${up.endpoint.url} went away while this call ran; it may or may not have taken effect: check, then retry`);
    }
  }

  private answerError(id: string | number, message: string): void {
    if (this.closed) return;
    void this.stdio.send({ jsonrpc: '2.0', id, error: { code: -32603, message } });
  }
}

/** Whether a send failed because the owner is gone or no longer knows the session (so a new one may help). */
function isOwnerLost(error: unknown): boolean {
  if (error instanceof StreamableHTTPError) return error.code === 404 || error.code === 401;
  const text = `${(error as Error)?.message ?? ''} ${String((error as { cause?: unknown })?.cause ?? '')}`;
  return /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|other side closed|UND_ERR/i.test(text);
}
