import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DurableDatabase, type RecoveryReport } from '../store/durableDatabase';
import { OwnerLock } from '../store/ownerLock';
import { PlanRepository } from '../store/planRepository';
import { STATE_MIGRATIONS } from '../store/schema';
import { redactDeep, redactSecrets } from '../core/redaction';
import { DEFAULT_WORKFLOW_RULES, type WorkflowRule } from '../core/workflowRules';
import { AGENT_TIERS, createBatonMcpServer, type AgentTier, type BatonServices } from '../mcp/batonMcpServer';
import { CoordinationRepository } from '../store/coordinationRepository';
import { createArtifactService } from '../services/artifactService';
import { InboxService } from '../services/inboxService';
import { MessageService } from '../services/messageService';
import { SessionService } from '../services/sessionService';
import { WorkflowService } from '../services/workflowService';
import { AutopilotService } from '../services/autopilotService';
import { AutopilotRepository } from '../store/autopilotRepository';
import { loadOrCreateOperatorToken, loadOrCreateTelemetryKey, loadOrCreateToken, readEndpoint, readOperatorToken, readRecordedPort, recordPort, removeEndpoint, writeEndpoint } from './endpoint';
import { connectRemote } from '../mcp/operatorClient';
import { McpHttpServer } from '../mcp/httpServer';
import { createOtlpReceiver, OTLP_PATH } from './otlpReceiver';
import { TelemetryTokens } from './telemetryTokens';
import { UsageService } from '../services/usageService';
import { PlanService } from '../services/planService';
import { ReviewService } from '../services/reviewService';
import { ReviewRepository } from '../store/reviewRepository';
import { createWorkerParser } from './importParser';
import { LeaseService } from '../services/leaseService';
import { processRunning } from '../sessions/terminalSession';
import { TerminalSessionRepository } from '../store/terminalSessionRepository';
import { DEFAULT_LANDING_SETTINGS, Lander, type LandingSettings } from '../sessions/landing';
import { mkdirPrivate, tightenStateFolder } from '../store/fileModes';

export type LogFn = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface OwnerOptions {
  storageDir: string;
  kind: 'vscode' | 'cli';
  version: string;
  log: LogFn;
  /**
   * HTTP MCP server settings; `tier` is the highest tool tier the agents' token gets (default `core`).
   * The operator tier needs the operator token (see `loadOrCreateOperatorToken`). A session with no
   * request and no open stream for `sessionIdleSeconds` is closed and its agent session ended (default 600).
   */
  mcp?: {
    port: number; maxBodyBytes: number; tier?: AgentTier; sessionIdleSeconds?: number;
    /** With `port` 0: reuse the port the last owner of this state recorded (default true; see `startOnStablePort`). */
    reuseRecordedPort?: boolean;
  } | null;
  /** Lease of an agent's claim on a task, in seconds (`baton.tasks.claimLeaseSeconds`, `--lease`; default 900). */
  claimLeaseSeconds?: number;
  /** The workspace folder (for role definitions in `.claude/agents/`). */
  workspaceDir?: string;
  workflowRules?: WorkflowRule[];
  /**
   * The workspace's review pipeline (`baton.review.pipeline`, `baton serve --review-pipeline`), e.g.
   * "review: codex, gemini -> gate: human"; tasks and sprints can set their own. Invalid: the owner refuses to open.
   */
  reviewPipeline?: string | null;
  /**
   * Landing settings, read at each landing (`baton.land.*`, `baton.sessions.worktreeCleanup`); default
   * `DEFAULT_LANDING_SETTINGS` (merge fast-forward or merge commit, never on approval).
   */
  landing?: () => LandingSettings;
  /** A headless owner that can hand over to VS Code passes what to do when asked (see `hand_over`). */
  onHandover?: () => void;
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
    readonly services: BatonServices,
    readonly mcp: McpHttpServer | null,
    readonly tokenFile: string | null,
    private readonly log: LogFn,
    private tier: AgentTier,
    /** Claims as leases: releases tasks whose agents are gone (`onDidLapse` tells who listens). */
    readonly leases: LeaseService,
    /** Per-session tokens of the OTLP receiver; null when MCP (and so the HTTP server) is off. */
    private readonly telemetryTokens: TelemetryTokens | null,
  ) {}

  /**
   * Opens (creating if needed) the state in `storageDir`.
   * @throws OwnedElsewhereError when another live process holds the lock.
   */
  static async open(options: OwnerOptions): Promise<WorkspaceOwner> {
    const { storageDir, log } = options;
    const asked = options.mcp?.tier;
    if (asked !== undefined && !(AGENT_TIERS as readonly string[]).includes(asked)) {
      throw new Error(`The agents' MCP tool tier must be ${AGENT_TIERS.join(' or ')}, got "${asked}": the operator tier is the person's and needs the operator token.`);
    }
    // A folder an older Baton left open (0755/0644) is tightened before anything makes the folder itself private.
    tightenStateFolder(storageDir);
    mkdirPrivate(storageDir);
    const lock = OwnerLock.tryAcquire(storageDir, { kind: options.kind, pid: process.pid });
    if (!lock) {
      const owner = OwnerLock.readOwner(storageDir);
      throw new OwnedElsewhereError({ pid: owner?.pid ?? -1, kind: owner?.kind ?? 'unknown' });
    }
    let db: DurableDatabase | undefined;
    let mcp: McpHttpServer | null = null;
    let owner: WorkspaceOwner | undefined;
    let leases: LeaseService | undefined;
    let telemetry: TelemetryTokens | null = null;
    try {
      db = await DurableDatabase.open(storageDir, { migrations: STATE_MIGRATIONS, log });
      const services = buildServices(db, options);
      let tokenFile: string | null = null;
      const initialTier: AgentTier = options.mcp?.tier ?? 'core';
      if (options.mcp) {
        const { token, file } = loadOrCreateToken(storageDir);
        const operator = loadOrCreateOperatorToken(storageDir);
        tokenFile = file;
        telemetry = new TelemetryTokens(loadOrCreateTelemetryKey(storageDir).token);
        mcp = new McpHttpServer({
          port: options.mcp.port,
          token,
          operatorToken: operator.token,
          agentTier: () => owner?.tier ?? initialTier,
          maxBodyBytes: options.mcp.maxBodyBytes,
          ...(options.mcp.sessionIdleSeconds !== undefined ? { sessionIdleMs: options.mcp.sessionIdleSeconds * 1000 } : {}),
          createServer: session => createBatonMcpServer(services, {
            version: options.version,
            tier: session.tier,
            mcpSessionId: session.sessionId,
            lastActivityAt: session.lastActivityAt,
            operatorName: os.userInfo().username,
            onHandover: options.onHandover,
            commit: db,
          }),
          otlp: createOtlpReceiver(telemetry, services.usage, log),
          log,
        });
        const url = await startOnStablePort(mcp, storageDir, options.mcp.port, log, options.mcp.reuseRecordedPort ?? true);
        writeEndpoint(storageDir, { url, pid: process.pid, kind: options.kind, startedAt: new Date().toISOString(), tokenFile: file, operatorTokenFile: operator.file, maxRequestBytes: options.mcp.maxBodyBytes });
        log('info', `[MCP] listening on ${url}`);
      }
      leases = startLeases(db, services, options, mcp);
      owner = new WorkspaceOwner(storageDir, lock, db, services, mcp, tokenFile, log, initialTier, leases, telemetry);
      return owner;
    } catch (error) {
      leases?.dispose();
      await mcp?.stop().catch(() => undefined);
      db?.close();
      lock.release();
      throw error;
    }
  }

  get plan(): PlanService {
    return this.services.plan;
  }

  /** What the database's open had to recover, for telling the user. */
  get recovery(): RecoveryReport {
    return this.db.recovery;
  }

  get mcpUrl(): string | null {
    return this.mcp?.url ?? null;
  }

  /** The highest tool tier the agents' token gets now. */
  get agentTier(): AgentTier {
    return this.tier;
  }

  /**
   * Changes the agents' tool tier (the setting changed): sessions initialized from now on get it, and
   * agent sessions already open move to it (or stay at the lower tier they asked for) and are told
   * with `notifications/tools/list_changed`.
   * @throws Error for a tier agents may not have (`operator`) or an unknown one.
   */
  setAgentTier(tier: AgentTier): void {
    if (!(AGENT_TIERS as readonly string[]).includes(tier)) throw new Error(`The agents' MCP tool tier must be ${AGENT_TIERS.join(' or ')}, got "${tier}".`);
    this.tier = tier;
    this.mcp?.applyAgentTier();
  }

  /**
   * Where agents reach Baton: the MCP URL with the agents' token, for launched sessions, VS Code's own
   * MCP client and `Copy MCP Server Configuration`; null when MCP is off. Never the operator token.
   */
  agentEndpoint(): { url: string; token: string } | null {
    const url = this.mcpUrl;
    const token = this.readToken();
    return url && token ? { url, token } : null;
  }

  /**
   * Where a terminal session's agent CLI sends its OpenTelemetry metrics: the OTLP/HTTP base URL
   * (`http://127.0.0.1:<port>/otlp`, exporters append `/v1/metrics`) and the token for one session
   * (src/host/telemetryTokens.ts); null when the HTTP server is off.
   */
  telemetryEndpoint(): { url: string; tokenFor: (sessionId: string) => string } | null {
    const url = this.mcpUrl;
    const tokens = this.telemetryTokens;
    return url && tokens ? { url: url.replace(/\/mcp$/, OTLP_PATH), tokenFor: id => tokens.tokenFor(id) } : null;
  }

  /** Reads the agents' bearer token (for configuring agents and copied configurations); never log it. */
  readToken(): string | null {
    return this.tokenFile ? fs.readFileSync(this.tokenFile, 'utf8').trim() : null;
  }

  async close(): Promise<void> {
    removeEndpoint(this.storageDir);
    this.leases.dispose();
    await this.mcp?.stop().catch(e => this.log('warn', `[MCP] stop failed: ${e}`));
    for (const service of Object.values(this.services)) service.dispose();
    try {
      this.db.close();
    } finally {
      this.lock.release();
    }
  }
}

/**
 * Builds the services over one database: the plan, then coordination (workflow rules, messages, the
 * human inbox, agent sessions) and artifacts. Everything taken from outside passes secret redaction.
 * Sessions still marked active from a previous run are ended: their connections died with it.
 */
function buildServices(db: DurableDatabase, options: OwnerOptions): BatonServices {
  const redact = (text: string) => redactSecrets(text).text;
  const plan = new PlanService(new PlanRepository(db), undefined, redact, { parseDocument: createWorkerParser(message => options.log('warn', message)) });
  const repo = new CoordinationRepository(db);
  const workflow = new WorkflowService(plan, options.workflowRules ?? DEFAULT_WORKFLOW_RULES, (level, message) => options.log(level, message));
  const messages = new MessageService(repo, plan, redact);
  const inbox = new InboxService(repo, plan, messages, workflow, redact);
  const sessions = new SessionService(repo, plan, workflow, {
    sanitizeDeep: value => redactDeep(value).value,
    workspaceDir: options.workspaceDir,
    health: () => ({
      store: { ok: true, schemaVersion: db.schemaVersion, sizeBytes: db.sizeBytes(), journalBytes: db.journalSizeBytes, recovered: db.recovery.messages },
      index: { available: false, note: 'The code index is not built yet in this version of Baton.' },
      inbox: { open: inbox.openCount() },
    }),
  });
  const ended = sessions.endStaleSessions();
  if (ended) options.log('info', `[Sessions] ended ${ended} agent sessions left open by the previous run`);
  const artifacts = createArtifactService(db, options.storageDir, plan);
  const garbage = artifacts.collectGarbage();
  if (garbage.removedContents || garbage.removedTempFiles) {
    options.log('info', `[Artifacts] removed ${garbage.removedContents} unreferenced contents and ${garbage.removedTempFiles} temp files left by a crash`);
  }
  const usage = new UsageService(db, plan, redact);
  const reviews = new ReviewService(new ReviewRepository(db), plan, artifacts, inbox, messages, redact, undefined, (level, message) => options.log(level, message));
  reviews.setWorkspacePipeline(options.reviewPipeline);
  const landing = new Lander({
    workspaceDir: options.workspaceDir, plan, sessions: new TerminalSessionRepository(db), reviews,
    settings: options.landing ?? (() => DEFAULT_LANDING_SETTINGS), log: options.log,
  });
  const autopilot = new AutopilotService(new AutopilotRepository(db), plan);
  return { plan, sessions, inbox, messages, workflow, artifacts, reviews, autopilot, landing, usage };
}

/**
 * Claims as leases over this owner's holders: agent sessions seen through the MCP transport, and
 * terminal sessions Baton runs seen through their recorded process (so `baton serve` sees agents
 * VS Code launched in tmux too). Checks start at once.
 */
function startLeases(db: DurableDatabase, services: BatonServices, options: OwnerOptions, mcp: McpHttpServer | null): LeaseService {
  const leases = new LeaseService(services.plan, services.sessions, services.messages, {
    ...(options.claimLeaseSeconds !== undefined ? { leaseMs: options.claimLeaseSeconds * 1000 } : {}),
    log: (level, message) => options.log(level, message),
  });
  const terminals = new TerminalSessionRepository(db);
  leases.useProbes({
    ...(mcp ? { mcpActivity: id => mcp.activityOf(id) } : {}),
    terminal: runId => {
      const record = terminals.get(runId);
      if (!record) return undefined;
      if (record.endedAt) return { running: false, endedAt: Date.parse(record.endedAt) };
      return { running: record.pid !== null && processRunning(record.pid) !== false, endedAt: null };
    },
  });
  leases.start();
  return leases;
}

export function statePath(storageDir: string): string {
  return path.join(storageDir, 'state.db');
}

/**
 * Opens the workspace as its owner, taking over from a headless `baton` owner when one holds it:
 * `baton serve` is asked to hand over (operator tool `hand_over`) and VS Code then serves MCP on the
 * same port, so agents keep their address and token; a short `baton` command is simply waited for.
 * Waits at most `waitMs`. @throws OwnedElsewhereError when another VS Code window owns it, or the
 * owner did not let go in time; other errors as `WorkspaceOwner.open`.
 */
export async function openTakingOver(options: OwnerOptions, waitMs = 15_000): Promise<{ owner: WorkspaceOwner; tookOverFrom: { pid: number; url: string | null } | null }> {
  try {
    return { owner: await WorkspaceOwner.open(options), tookOverFrom: null };
  } catch (error) {
    if (!(error instanceof OwnedElsewhereError) || error.owner.kind !== 'cli') throw error;
    const endpoint = readEndpoint(options.storageDir);
    let port = options.mcp?.port ?? 0;
    if (endpoint) {
      try {
        const conn = await connectRemote(endpoint.url, readOperatorToken(endpoint), options.version, 'hand over');
        try {
          await conn.call('hand_over', { to: options.kind });
          if (!port) port = Number(new URL(endpoint.url).port);
        } finally {
          await conn.close().catch(() => undefined);
        }
      } catch (handoverError) {
        options.log('info', `[Store] the running baton owner did not hand over (${(handoverError as Error).message}); waiting for it to finish`);
      }
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      await new Promise(resolve => setTimeout(resolve, 200));
      try {
        const owner = await WorkspaceOwner.open({ ...options, mcp: options.mcp ? { ...options.mcp, port } : options.mcp });
        return { owner, tookOverFrom: { pid: error.owner.pid, url: endpoint?.url ?? null } };
      } catch (retry) {
        const busyPort = (retry as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (Date.now() > deadline) {
          if (busyPort && port) {
            port = 0; // the old address stays taken: serve on a free port instead
            continue;
          }
          throw retry;
        }
        if (!(retry instanceof OwnedElsewhereError) && !busyPort) throw retry;
      }
    }
  }
}

/**
 * Starts `mcp` on the workspace's stable address: the configured `port` when it is not 0 (a taken one
 * fails); otherwise the port recorded by the last owner (`mcp-port`), waiting up to `waitMs` for a
 * previous owner (the window being reloaded) to let it go, then a free port. The port used is recorded
 * for the next start. Returns the URL.
 */
async function startOnStablePort(mcp: McpHttpServer, storageDir: string, port: number, log: LogFn, reuse: boolean, waitMs = 2_000): Promise<string> {
  let url: string;
  const recorded = port || !reuse ? null : readRecordedPort(storageDir);
  if (port || !recorded) {
    url = await mcp.start(port);
  } else {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        url = await mcp.start(recorded);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        if (Date.now() >= deadline) {
          log('warn', `[MCP] port ${recorded} (this workspace's address so far) is taken; serving on a free port instead. Sessions Baton launches get the new address.`);
          url = await mcp.start(0);
          break;
        }
        await new Promise(resolve => setTimeout(resolve, 100));
      }
    }
  }
  recordPort(storageDir, Number(new URL(url).port));
  return url;
}

