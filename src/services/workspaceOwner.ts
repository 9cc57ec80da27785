import * as fs from 'node:fs';
import * as path from 'node:path';
import { DurableDatabase, type RecoveryReport } from '../store/durableDatabase';
import { OwnerLock } from '../store/ownerLock';
import { PlanRepository } from '../store/planRepository';
import { STATE_MIGRATIONS } from '../store/schema';
import { createBatonMcpServer } from '../mcp/batonMcpServer';
import { loadOrCreateToken, removeEndpoint, writeEndpoint } from '../mcp/endpoint';
import { McpHttpServer } from '../mcp/httpServer';
import { PlanService } from './planService';

export type LogFn = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface OwnerOptions {
  storageDir: string;
  kind: 'vscode' | 'cli';
  version: string;
  log: LogFn;
  mcp?: { port: number; maxBodyBytes: number } | null;
}

/** Thrown when another live process owns the workspace's state. */
export class OwnedElsewhereError extends Error {
  constructor(readonly owner: { pid: number; kind: string; endpoint?: string }) {
    super(`Baton's state for this workspace is owned by another process (${owner.kind}, pid ${owner.pid}).`);
    this.name = 'OwnedElsewhereError';
  }
}

/**
 * The single writer of a workspace's state: holds the owner lock, the durable database, the services
 * and (optionally) the MCP HTTP server, and publishes the endpoint for other processes. The extension
 * and `baton serve`/`baton mcp` both build one of these; nothing else opens the database for writing.
 */
export class WorkspaceOwner {
  private constructor(
    readonly storageDir: string,
    private readonly lock: OwnerLock,
    readonly db: DurableDatabase,
    readonly plan: PlanService,
    readonly mcp: McpHttpServer | null,
    readonly tokenFile: string | null,
    private readonly log: LogFn,
  ) {}

  /**
   * Opens (creating if needed) the state in `storageDir`.
   * @throws OwnedElsewhereError when another live process holds the lock.
   */
  static async open(options: OwnerOptions): Promise<WorkspaceOwner> {
    const { storageDir, log } = options;
    fs.mkdirSync(storageDir, { recursive: true });
    const lock = OwnerLock.tryAcquire(storageDir, { kind: options.kind, pid: process.pid });
    if (!lock) {
      const owner = OwnerLock.readOwner(storageDir);
      throw new OwnedElsewhereError({ pid: owner?.pid ?? -1, kind: owner?.kind ?? 'unknown' });
    }
    let db: DurableDatabase | undefined;
    let mcp: McpHttpServer | null = null;
    try {
      db = await DurableDatabase.open(storageDir, { migrations: STATE_MIGRATIONS, log });
      const plan = new PlanService(new PlanRepository(db));
      let tokenFile: string | null = null;
      if (options.mcp) {
        const { token, file } = loadOrCreateToken(storageDir);
        tokenFile = file;
        mcp = new McpHttpServer({
          port: options.mcp.port,
          token,
          maxBodyBytes: options.mcp.maxBodyBytes,
          createServer: session => createBatonMcpServer(plan, options.version, session.sessionId),
          log,
        });
        const url = await mcp.start();
        writeEndpoint(storageDir, { url, pid: process.pid, kind: options.kind, startedAt: new Date().toISOString(), tokenFile: file });
        log('info', `[MCP] listening on ${url}`);
      }
      return new WorkspaceOwner(storageDir, lock, db, plan, mcp, tokenFile, log);
    } catch (error) {
      await mcp?.stop().catch(() => undefined);
      db?.close();
      lock.release();
      throw error;
    }
  }

  /** What the database's open had to recover, for telling the user. */
  get recovery(): RecoveryReport {
    return this.db.recovery;
  }

  get mcpUrl(): string | null {
    return this.mcp?.url ?? null;
  }

  /** Reads the bearer token (for configuring clients); never log it. */
  readToken(): string | null {
    return this.tokenFile ? fs.readFileSync(this.tokenFile, 'utf8').trim() : null;
  }

  async close(): Promise<void> {
    removeEndpoint(this.storageDir);
    await this.mcp?.stop().catch(e => this.log('warn', `[MCP] stop failed: ${e}`));
    this.plan.dispose();
    try {
      this.db.close();
    } finally {
      this.lock.release();
    }
  }
}

export function statePath(storageDir: string): string {
  return path.join(storageDir, 'state.db');
}
