import { Emitter, type Event } from '../core/event';
import { claimHolderOf, DEFAULT_CLAIM_LEASE_MS, leaseState, type HolderSighting } from '../core/lease';
import type { Actor, Task } from '../core/model';
import type { AgentSession } from '../store/coordinationRepository';
import { HUMAN, type MessageService } from './messageService';
import type { PlanService } from './planService';
import type { SessionService } from './sessionService';

/** A claim whose lease lapsed: the task went back to TODO. */
export interface LeaseLapse {
  taskId: string;
  title: string;
  /** The holder seen last, e.g. `A-3 (claude)` or `run-2 (claude)`. */
  holder: string;
  /** Its latest sign of life (ISO 8601). */
  goneSince: string;
  /** What the activity log and the person were told, e.g. `lease expired: A-3 (claude) gone since …`. */
  reason: string;
  /** The handoff pack the next agent resumes from, if there is one. */
  handoffId: string | null;
  /** When the lease was found lapsed (ISO 8601). */
  at: string;
}

/**
 * How the host tells the lease service whether holders are alive. Each is optional: without a probe
 * an agent session counts as alive while it is active, and a terminal session as gone.
 */
export interface LeaseProbes {
  /** An MCP HTTP session by its `Mcp-Session-Id`: busy (request in flight, stream open) and last activity (ms); undefined when the transport does not hold it. */
  mcpActivity?: (mcpSessionId: string) => { busy: boolean; lastActivityAt: number } | undefined;
  /** A terminal session Baton runs (`run-3`): its process running, or when it ended (ms); undefined when unknown. */
  terminal?: (runId: string) => { running: boolean; endedAt: number | null } | undefined;
}

export interface LeaseServiceOptions {
  /** Lease of a claim in ms (`baton.tasks.claimLeaseSeconds`, `baton serve --lease`); default 15 min. */
  leaseMs?: number;
  /** Clock (injected by tests). */
  now?: () => Date;
  log?: (level: 'info' | 'warn', message: string) => void;
}

const LEASE_ACTOR: Actor = { kind: 'system', name: 'baton' };

/**
 * Claims are leases (see `core/lease.ts`). A task IN_PROGRESS held by an agent session (`name#A-3`)
 * or a terminal session Baton runs (`profile#run-3`) — or with agent sessions attached to it — stays
 * claimed while a holder is alive: an MCP request or an open stream, or the terminal's process
 * running. When none has been alive for the lease, the task goes back to TODO unassigned with its
 * handoff pack kept (`SessionService.releaseClaim`), the activity log says why, the person gets a
 * message, and `onDidLapse` fires (for notifications, and for autopilot). Sessions that ended without
 * handing off — expired idle, disconnected, ended by an owner restart — release their tasks this way.
 * After the owner starts, holders get a full lease from that moment: the previous owner was not watching.
 */
export class LeaseService {
  private readonly _onDidLapse = new Emitter<LeaseLapse>();
  /** Fires once per lapsed claim, after the task is back in TODO. */
  readonly onDidLapse: Event<LeaseLapse> = this._onDidLapse.event;
  readonly leaseMs: number;
  private readonly now: () => Date;
  private readonly startedAt: number;
  private probes: LeaseProbes = {};
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly plan: PlanService,
    private readonly sessions: SessionService,
    private readonly messages: MessageService,
    private readonly options: LeaseServiceOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? DEFAULT_CLAIM_LEASE_MS;
    if (!(this.leaseMs > 0)) throw new RangeError(`The claim lease must be a positive number of milliseconds, got ${options.leaseMs}.`);
    this.now = options.now ?? (() => new Date());
    this.startedAt = this.now().getTime();
  }

  /** Sets how holders are observed (the MCP transport, the terminal sessions); replaces earlier probes given. */
  useProbes(probes: LeaseProbes): void {
    this.probes = { ...this.probes, ...probes };
  }

  /** Checks leases every quarter lease (at least every 30 s, at most every 250 ms) until disposed. */
  start(): void {
    if (this.timer) return;
    const every = Math.min(30_000, Math.max(250, Math.floor(this.leaseMs / 4)));
    this.timer = setInterval(() => {
      try {
        this.sweep();
      } catch (error) {
        this.options.log?.('warn', `[Leases] check failed: ${(error as Error).message}`);
      }
    }, every);
    this.timer.unref();
  }

  dispose(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this._onDidLapse.dispose();
  }

  /**
   * Checks every leased claim now and releases those that lapsed; returns them. Each release is
   * its own change: a task that fails to release (e.g. deleted meanwhile) is logged and skipped.
   */
  sweep(): LeaseLapse[] {
    const claimed = this.plan.listTasks({ status: ['IN_PROGRESS'] }, { limit: 500 });
    if (!claimed.total) return [];
    const tasks = claimed.total > claimed.items.length ? this.plan.allTasks().filter(t => t.status === 'IN_PROGRESS') : claimed.items;
    const attached = new Map<string, AgentSession[]>();
    for (const s of this.sessions.list({ status: 'active', limit: 100_000 })) {
      if (s.taskId) attached.set(s.taskId, [...(attached.get(s.taskId) ?? []), s]);
    }
    const now = this.now().getTime();
    const lapses: LeaseLapse[] = [];
    for (const task of tasks) {
      const holder = claimHolderOf(task.assignee);
      const agents = attached.get(task.id) ?? [];
      if (!holder && (task.assignee || !agents.length)) continue; // a person's claim, or nobody's: not a lease
      const sightings: { sighting: HolderSighting; sessionId: string | null }[] = agents.map(s => ({ sighting: this.seeSession(s, now), sessionId: s.id }));
      if (holder && !agents.some(s => s.id === holder.id)) {
        if (holder.kind === 'agent-session') {
          const s = this.findSession(holder.id);
          sightings.push({ sighting: s ? this.seeSession(s, now) : { label: holder.id, alive: false, lastSeenAt: this.startedAt }, sessionId: s?.id ?? null });
        } else {
          sightings.push({ sighting: this.seeTerminal(holder.id, holder.name, now), sessionId: null });
        }
      }
      const state = leaseState(sightings.map(s => s.sighting), this.leaseMs, now);
      if (!state.lapsed) continue;
      try {
        lapses.push(this.release(task, state.holder, state.goneSince, sightings));
      } catch (error) {
        this.options.log?.('warn', `[Leases] could not release ${task.id}: ${(error as Error).message}`);
      }
    }
    return lapses;
  }

  private release(task: Task, holder: string, goneSinceMs: number, sightings: { sighting: HolderSighting; sessionId: string | null }[]): LeaseLapse {
    const goneSince = new Date(goneSinceMs).toISOString();
    const reason = `lease expired: ${holder} gone since ${goneSince}`;
    // The pack comes from the agent session seen last (the one whose work is freshest).
    const withSession = sightings.filter(s => s.sessionId).sort((a, b) => b.sighting.lastSeenAt - a.sighting.lastSeenAt)[0];
    const { handoff } = this.sessions.releaseClaim(task.id, { sessionId: withSession?.sessionId ?? null, reason, actor: LEASE_ACTOR });
    const lapse: LeaseLapse = { taskId: task.id, title: task.title, holder, goneSince, reason, handoffId: handoff?.id ?? null, at: this.now().toISOString() };
    this.options.log?.('info', `[Leases] ${task.id} back to TODO: ${reason}`);
    try {
      this.messages.send({
        from: { kind: 'system', id: 'baton', name: 'Baton' }, to: HUMAN.id, taskId: task.id,
        subject: `${task.id} is back in To Do: its agent is gone`,
        body: `${task.id} "${task.title}" went back to To Do, unassigned: ${reason}.${handoff ? ` The next agent resumes from handoff pack ${handoff.id}.` : ''}`,
      });
    } catch (error) {
      this.options.log?.('warn', `[Leases] could not tell the person about ${task.id}: ${(error as Error).message}`);
    }
    this._onDidLapse.fire(lapse);
    return lapse;
  }

  private findSession(id: string): AgentSession | null {
    try {
      return this.sessions.get(id);
    } catch {
      return null;
    }
  }

  /** An agent session: alive while busy over MCP (or connected over stdio); else its last activity. */
  private seeSession(s: AgentSession, now: number): HolderSighting {
    const label = `${s.id} (${s.agentName})`;
    const recorded = Math.max(Date.parse(s.lastSeenAt) || 0, this.startedAt);
    if (s.status !== 'active') return { label, alive: false, lastSeenAt: recorded };
    if (!s.mcpSessionId || !this.probes.mcpActivity) return { label, alive: true, lastSeenAt: now };
    const activity = this.probes.mcpActivity(s.mcpSessionId);
    if (!activity) return { label, alive: false, lastSeenAt: recorded };
    return { label, alive: activity.busy, lastSeenAt: activity.busy ? now : Math.max(activity.lastActivityAt, this.startedAt) };
  }

  /** A terminal session Baton runs: alive while its process runs; else since it ended. */
  private seeTerminal(runId: string, name: string, now: number): HolderSighting {
    const label = `${runId} (${name})`;
    const seen = this.probes.terminal?.(runId);
    if (seen?.running) return { label, alive: true, lastSeenAt: now };
    return { label, alive: false, lastSeenAt: Math.max(seen?.endedAt ?? 0, this.startedAt) };
  }
}
