import { Emitter, type Event } from '../core/event';
import type { Actor } from '../core/model';
import type { AutopilotRepository, AutopilotRun } from '../store/autopilotRepository';
import type { PlanService } from './planService';

/** What the process running autopilot's sessions (the VS Code window) reports for `status`. */
export interface AutopilotHostStatus {
  /** Sessions autopilot runs now. */
  running: { sessionId: string | null; taskId: string; agent: string }[];
  maxParallel: number;
  /** Why nothing new starts (paused, N failures in a row, budget reached), or null. */
  stopped: string | null;
  /** Hours of agent time used by this run (since autopilot was last turned on). */
  agentHours: number;
  /** Budget of agent hours per run, or null for none. */
  budgetAgentHours: number | null;
  /** Tasks ready now (TODO, every dependency DONE). */
  ready: number;
}

/** `autopilot status`: the switch, and what the host does with it (null: no process runs sessions). */
export interface AutopilotStatus {
  enabled: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
  /** null when no session host is attached (e.g. only `baton serve` owns the workspace: autopilot runs in VS Code). */
  host: AutopilotHostStatus | null;
  /** The latest decisions (activity entries `autopilot.*`), newest first. */
  recent: { at: string; action: string; taskId: string | null; detail: string }[];
  /** The latest sessions autopilot started, newest first. */
  runs: AutopilotRun[];
}

const SYSTEM: Actor = { kind: 'system', name: 'autopilot' };

/**
 * Autopilot's switch, per workspace: off by default, stored in the state database so it survives a
 * reload or restart, set by the person from VS Code, the `baton autopilot` CLI or the operator MCP
 * tool `autopilot`. It starts nothing itself: the process that runs agent sessions (the VS Code window,
 * `src/orchestration/autopilotRunner.ts`) attaches as the host, listens to `onDidChange` and reports its
 * status. Every switch is an activity entry (`autopilot.on` / `autopilot.off`) naming who and why.
 */
export class AutopilotService {
  private readonly _onDidChange = new Emitter<{ enabled: boolean }>();
  /** Fires after the switch changed (and was stored). */
  readonly onDidChange: Event<{ enabled: boolean }> = this._onDidChange.event;
  private host: (() => AutopilotHostStatus) | null = null;

  constructor(
    private readonly repo: AutopilotRepository,
    private readonly plan: PlanService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  dispose(): void {
    this._onDidChange.dispose();
  }

  get enabled(): boolean {
    return this.repo.get().enabled;
  }

  /** The stored repository (for the host: counters and runs). */
  get store(): AutopilotRepository {
    return this.repo;
  }

  /**
   * Turns autopilot on or off for the workspace (stored at once), writes the activity entry and tells
   * the host. Turning it on again while on still fires (the host resumes after a stop: failures, pause).
   * Returns the status after the change.
   */
  set(enabled: boolean, actor: Actor): AutopilotStatus {
    const hosted = this.host !== null;
    this.repo.setEnabled(enabled, this.now().toISOString(), actor.name);
    const detail = enabled
      ? `autopilot turned on by ${actor.name}${hosted ? '' : ': no window runs agent sessions for this workspace yet; it starts when VS Code opens it'}`
      : `autopilot turned off by ${actor.name}: no new sessions start; running ones go on`;
    this.plan.recordActivity(actor, enabled ? 'autopilot.on' : 'autopilot.off', null, detail);
    this._onDidChange.fire({ enabled });
    return this.status();
  }

  /** Attaches the process that runs autopilot's sessions; returns a function that detaches it. */
  attachHost(status: () => AutopilotHostStatus): () => void {
    this.host = status;
    return () => { if (this.host === status) this.host = null; };
  }

  /** Writes one of autopilot's decisions to the activity log (`action` e.g. `autopilot.started`). */
  record(action: string, taskId: string | null, detail: string): void {
    this.plan.recordActivity(SYSTEM, action, taskId, detail);
  }

  /** The switch, the host's view, the latest decisions and runs. */
  status(recentLimit = 10): AutopilotStatus {
    const r = this.repo.get();
    const recent: AutopilotStatus['recent'] = [];
    // Looks back over at most 1,000 entries: older decisions are in the activity log (list_activity).
    let before: number | undefined;
    for (let pages = 0; pages < 5 && recent.length < recentLimit; pages++) {
      const page = this.plan.listActivity({ limit: 200, beforeId: before });
      for (const e of page) if (e.action.startsWith('autopilot.') && recent.length < recentLimit) recent.push({ at: e.at, action: e.action, taskId: e.taskId, detail: e.detail });
      if (page.length < 200) break;
      before = page[page.length - 1].id;
    }
    return { enabled: r.enabled, updatedAt: r.updatedAt, updatedBy: r.updatedBy, host: this.host ? this.host() : null, recent, runs: this.repo.listRecent(10) };
  }
}
