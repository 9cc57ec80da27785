import { formatAgentRef, type AgentRef } from '../core/agent';
import {
  AutopilotScheduler, agentLabel, type AutopilotSettings, type AutopilotSprint, type AutopilotState, type AutopilotTask, type StartDecision,
} from '../core/autopilot';
import { Emitter, type Disposable, type Event } from '../core/event';
import type { Dependency, Sprint, Task } from '../core/model';
import type { AutopilotHostStatus, AutopilotService } from '../services/autopilotService';
import type { LeaseLapse } from '../services/leaseService';
import type { PlanService } from '../services/planService';
import type { SessionExit, SessionManager } from '../sessions/sessionManager';

/** How autopilot runs, read at every decision (settings may change while it runs). */
export interface AutopilotRunnerSettings {
  /** `baton.sessions.maxParallel` (integer ≥ 0). */
  maxParallel: number;
  /** Stop starting after this many sessions in a row fail (integer ≥ 1; `baton.autopilot.maxConsecutiveFailures`). */
  maxConsecutiveFailures: number;
  /** Starts again of a task whose session did not finish it (integer ≥ 0; `baton.autopilot.retryLimit`). */
  retryLimit: number;
  /** Hours of agent time per run (since autopilot was turned on); null: no limit (`baton.autopilot.budget.agentHours`). */
  budgetAgentHours: number | null;
  /** The workspace's default agent, for tasks whose task and sprint name none; null: none. */
  defaultAgent: AgentRef | null;
}

export interface AutopilotRunnerOptions {
  plan: PlanService;
  sessions: SessionManager;
  autopilot: AutopilotService;
  /** The owner's claim leases: a lapsed claim of a session autopilot runs ends that session's run. */
  leases?: { onDidLapse: Event<LeaseLapse> };
  settings: () => AutopilotRunnerSettings;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /**
   * The store's group commit (the owner's DurableDatabase): the reasons of one decision round are
   * written under one fdatasync instead of one each. Optional (tests may leave it out).
   */
  commit?: { groupCommit<T>(fn: () => T): T; durable(): Promise<void> };
  now?: () => Date;
}

/** The scheduler's counters kept across restarts (the `autopilot.counters` column). */
interface Counters {
  failures?: Record<string, number>;
  consecutiveFailures?: number;
  usage?: AutopilotState['usage'];
  reported?: Record<string, string>;
}

/** A stop worth telling the person about (paused by them is not: they know). */
export interface AutopilotStop {
  cause: 'failures' | 'run-budget';
  reason: string;
}

const FINISHED = new Set(['DONE', 'CANCELLED', 'IN_REVIEW']);

/**
 * Hosts autopilot in the process that runs agent sessions (the VS Code window): keeps up to
 * `maxParallel` sessions running on ready tasks by feeding the pure `AutopilotScheduler`
 * (`src/core/autopilot.ts`) from plan changes (`PlanService.onDidChangePlan`, diffed against its own
 * copy so the scheduler gets only what changed), session exits (`SessionManager.onDidExit`) and lapsed
 * claims (`LeaseService.onDidLapse`), and starting what it decides through `SessionManager.start` on the
 * task's agent (task, else sprint, else workspace default). Every decision — started, not started and
 * why, session ended, stopped — is an activity entry (`autopilot.*`).
 *
 * State: the switch (`AutopilotService`, stored), the sessions it started (`autopilot_runs`) and the
 * scheduler's counters (failures per task, the failure streak, usage, reasons told) survive a reload or
 * restart. At `start()` a run whose session is still live (reattached from tmux) stays running, so its
 * task is never started twice; a run whose session ended while no window watched counts as failed, and
 * its task comes back through the claim lease and may be started again, up to `retryLimit`; one the
 * window's closing ended (no tmux) was interrupted, not failed: its task comes back the same way
 * without counting against its retries or the failure streak.
 *
 * Events are handled one at a time in arrival order (a promise queue), so decisions never interleave.
 * Agent time is counted when a session ends (its wall-clock duration); tokens and cost come from the
 * scheduler's `Budget` once sessions report them.
 */
export class AutopilotRunner implements Disposable {
  private scheduler: AutopilotScheduler | null = null;
  private readonly tasks = new Map<string, AutopilotTask>();
  private readonly sprints = new Map<string, AutopilotSprint>();
  private readonly deps = new Set<string>();
  /** Open runs by session id. */
  private readonly runs = new Map<string, { taskId: string; startedAt: number }>();
  private subscriptions: Disposable[] = [];
  private queue: Promise<void> = Promise.resolve();
  private pending = false;
  private disposed = false;
  private lastSettings = '';
  private lastAgent = '';
  private enabled = false;
  private savedCounters = '';
  /** Whether the scheduler's counters may have changed since the last save. */
  private countersDirty = true;
  /** The plan's dependency array last synced (`PlanService.cachedDependencies`: same array, same edges). */
  private depsSeen: readonly Dependency[] | null = null;
  private readonly now: () => Date;
  private readonly _onDidChange = new Emitter<void>();
  /** Fires after each handled event (for the status bar). */
  readonly onDidChange: Event<void> = this._onDidChange.event;
  private readonly _onDidStop = new Emitter<AutopilotStop>();
  /** Fires when autopilot stops starting sessions on its own (N failures in a row, budget reached). */
  readonly onDidStop: Event<AutopilotStop> = this._onDidStop.event;
  private detachHost: (() => void) | null = null;

  constructor(private readonly options: AutopilotRunnerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Restores the stored state (open runs: live ones stay running, gone ones count as failed), attaches
   * as the autopilot host, subscribes to events and makes the first decisions. Resolves when they are made.
   */
  async start(): Promise<void> {
    const { plan, sessions, autopilot } = this.options;
    this.restore();
    this.detachHost = autopilot.attachHost(() => this.hostStatus());
    this.subscriptions.push(
      plan.onDidChangePlan(() => this.schedule()),
      sessions.onDidExit(exit => void this.enqueue(() => this.onExit(exit))),
      autopilot.onDidChange(({ enabled }) => void this.enqueue(() => this.onSwitch(enabled))),
    );
    if (this.options.leases) this.subscriptions.push(this.options.leases.onDidLapse(lapse => void this.enqueue(() => this.onLapse(lapse))));
    this.schedule();
    await this.whenIdle();
  }

  dispose(): void {
    this.disposed = true;
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions = [];
    this.detachHost?.();
    this.detachHost = null;
    this._onDidChange.dispose();
    this._onDidStop.dispose();
  }

  /** Resolves once every event received so far has been handled (sessions started, entries written). */
  async whenIdle(): Promise<void> {
    for (let seen: Promise<void> | null = null; seen !== this.queue;) {
      seen = this.queue;
      await seen;
    }
  }

  /** Autopilot's switch as this host last acted on it. */
  get isOn(): boolean {
    return this.enabled;
  }

  /** What `autopilot status` reports for this host. */
  hostStatus(): AutopilotHostStatus {
    const s = this.scheduler;
    const settings = this.options.settings();
    return {
      running: s ? s.runningSessions().map(r => ({ sessionId: r.sessionId, taskId: r.taskId, agent: agentLabel(r.agent) })) : [],
      maxParallel: settings.maxParallel,
      stopped: !this.enabled ? 'turned off' : s?.stopped()?.reason ?? null,
      agentHours: s ? Math.round(s.usage().run.agentHours * 1000) / 1000 : 0,
      budgetAgentHours: settings.budgetAgentHours,
      ready: s ? s.readyTasks().length : 0,
    };
  }

  // -- Events ------------------------------------------------------------------------------------

  private schedule(): void {
    if (this.pending || this.disposed) return;
    this.pending = true;
    void this.enqueue(async () => {
      this.pending = false;
      await this.tick();
    });
  }

  private enqueue(fn: () => void | Promise<void>): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.disposed) return;
      try {
        await fn();
      } catch (error) {
        this.options.log('error', `[Autopilot] ${(error as Error).stack ?? String(error)}`);
      }
    });
    this.queue = next;
    return next;
  }

  private async onSwitch(enabled: boolean): Promise<void> {
    const s = this.scheduler!;
    this.countersDirty = true;
    if (enabled) {
      if (!this.enabled) s.startRun(); // a new run: its agent-time budget starts from zero
      s.resume(); // also clears a failure streak that stopped it
    } else {
      s.pause();
    }
    this.enabled = enabled;
    await this.tick();
  }

  private async onExit(exit: SessionExit): Promise<void> {
    const run = this.runs.get(exit.session.id);
    if (!run) return this.tick(); // someone else's session ended: a slot may be free
    this.countersDirty = true;
    this.sync(); // the task's last status (e.g. DONE) reaches the scheduler before its session's end
    const s = this.scheduler!;
    let status: string | null = null;
    try {
      status = this.options.plan.getTask(run.taskId).status;
    } catch { /* deleted meanwhile */ }
    const ok = status !== null && FINISHED.has(status);
    const end = exit.session.endedAt ? Date.parse(exit.session.endedAt) : this.now().getTime();
    const agentHours = Math.max(0, end - run.startedAt) / 3_600_000;
    this.runs.delete(exit.session.id);
    this.options.autopilot.store.endRun(exit.session.id, ok ? 'ok' : 'failed', this.now().toISOString());
    if (status === null) {
      this.save();
      return;
    }
    s.sessionEnded(run.taskId, { outcome: ok ? 'ok' : 'failed', sessionId: exit.session.id, usage: { agentHours } });
    const code = exit.exitCode === null ? 'no exit code' : `exit code ${exit.exitCode}`;
    this.options.autopilot.record('autopilot.ended', run.taskId, ok
      ? `session ${exit.session.id} on ${run.taskId} ended (${code}): ${run.taskId} is ${status}`
      : `session ${exit.session.id} on ${run.taskId} failed (${code}): ${run.taskId} is still ${status}${status === 'IN_PROGRESS' ? '; the claim lease gives it back to To Do' : ''}; ${this.retryNote(run.taskId)}`);
    await this.tick();
  }

  private async onLapse(lapse: LeaseLapse): Promise<void> {
    const s = this.scheduler!;
    // Only a lapse of the claim of the session autopilot runs on the task now (`run-3 (claude)`): the
    // lapse of an earlier holder may arrive after the task was given back and started again.
    const holder = /^\S+/.exec(lapse.holder)?.[0];
    this.countersDirty = true;
    const running = s.runningSessions().find(r => r.taskId === lapse.taskId && r.sessionId !== null && r.sessionId === holder);
    if (running) {
      s.claimLapsed(lapse.taskId, running.sessionId ?? undefined);
      if (running.sessionId) {
        this.runs.delete(running.sessionId);
        this.options.autopilot.store.endRun(running.sessionId, 'failed', this.now().toISOString());
      }
      this.options.autopilot.record('autopilot.ended', lapse.taskId, `session ${running.sessionId ?? '?'} on ${lapse.taskId} lost its claim (${lapse.reason}); ${this.retryNote(lapse.taskId)}`);
    }
    await this.tick();
  }

  /** Syncs the plan, then (when on) makes the scheduler's decisions: starts sessions and writes each reason. */
  private async tick(): Promise<void> {
    const s = this.scheduler!;
    this.applySettings();
    this.sync();
    if (!this.enabled) {
      this.save();
      this._onDidChange.fire();
      return;
    }
    const holds: (() => void)[] = [];
    const decisions = s.decide();
    if (decisions.length) this.countersDirty = true; // what was told (and started) is part of the counters
    for (const d of decisions) {
      if (d.kind === 'start') {
        await this.launch(d);
      } else if (d.taskId === null && (d.cause === 'failures' || d.cause === 'run-budget' || d.cause === 'paused')) {
        holds.push(() => this.options.autopilot.record('autopilot.stopped', null, d.reason));
        this.options.log('warn', `[Autopilot] ${d.reason}`);
        if (d.cause !== 'paused') this._onDidStop.fire({ cause: d.cause, reason: d.reason });
      } else {
        holds.push(() => this.options.autopilot.record('autopilot.held', d.taskId, d.reason));
      }
    }
    // The reasons for what did not start (one per waiting task when autopilot is first turned on): one flush.
    if (holds.length) await this.grouped(() => { for (const h of holds) h(); });
    this.save();
    this._onDidChange.fire();
  }

  private async grouped(fn: () => void): Promise<void> {
    const commit = this.options.commit;
    if (!commit) return fn();
    commit.groupCommit(fn);
    await commit.durable();
  }

  private async launch(d: StartDecision): Promise<void> {
    const s = this.scheduler!;
    const retry = this.options.autopilot.store.failedRunsOf(d.taskId);
    const reason = retry > 0 ? `${d.reason} (retry ${retry} of ${this.options.settings().retryLimit})` : d.reason;
    try {
      const live = await this.options.sessions.start({ profileId: d.agent.profile, taskId: d.taskId, role: d.agent.role });
      const id = live.record.id;
      s.sessionStarted(d.taskId, id);
      const startedAt = Date.parse(live.record.startedAt);
      this.runs.set(id, { taskId: d.taskId, startedAt: Number.isFinite(startedAt) ? startedAt : this.now().getTime() });
      this.options.autopilot.store.insertRun({ sessionId: id, taskId: d.taskId, agent: formatAgentRef(d.agent), reason, startedAt: live.record.startedAt });
      this.options.autopilot.record('autopilot.started', d.taskId, `${reason} (session ${id})`);
      this.options.log('info', `[Autopilot] ${reason} (session ${id})`);
    } catch (error) {
      s.sessionEnded(d.taskId, { outcome: 'failed' });
      const message = (error as Error).message;
      this.options.autopilot.record('autopilot.failed', d.taskId, `could not start ${d.taskId} on ${agentLabel(d.agent)}: ${message}`);
      this.options.log('warn', `[Autopilot] could not start ${d.taskId} on ${agentLabel(d.agent)}: ${message}`);
    }
  }

  /** What happens next to a task whose session just failed (its run already ended as failed). */
  private retryNote(taskId: string): string {
    const limit = this.options.settings().retryLimit;
    const failed = this.options.autopilot.store.failedRunsOf(taskId);
    return failed > limit ? `retry limit reached (${limit} retr${limit === 1 ? 'y' : 'ies'})` : `autopilot may start it again (retry ${failed} of ${limit})`;
  }

  // -- State -------------------------------------------------------------------------------------

  /**
   * The scheduler's settings now. Sessions autopilot did not start (the person's) count toward
   * `maxParallel`: it is the most sessions running at once, whoever started them.
   */
  private schedulerSettings(): AutopilotSettings {
    const s = this.options.settings();
    const others = this.options.sessions.list().filter(l => l.terminal.state !== 'exited' && !this.runs.has(l.record.id)).length;
    return {
      maxParallel: Math.max(0, s.maxParallel - others), maxConsecutiveFailures: s.maxConsecutiveFailures, retryLimit: s.retryLimit,
      runBudget: { agentHours: s.budgetAgentHours }, sprintBudget: {},
    };
  }

  private applySettings(): void {
    const settings = this.schedulerSettings();
    const key = JSON.stringify(settings);
    if (key !== this.lastSettings) {
      this.scheduler!.setSettings(settings);
      this.lastSettings = key;
    }
    const agent = this.options.settings().defaultAgent;
    const agentKey = JSON.stringify(agent);
    if (agentKey !== this.lastAgent) {
      this.scheduler!.setWorkspaceAgent(agent);
      this.lastAgent = agentKey;
    }
  }

  /** Builds the scheduler from the plan, the stored counters and the open runs (see the class comment). */
  private restore(): void {
    const { plan, sessions, autopilot } = this.options;
    const record = autopilot.store.get();
    this.enabled = record.enabled;
    this.savedCounters = record.counters;
    let counters: Counters = {};
    try {
      counters = JSON.parse(record.counters) as Counters;
    } catch {
      this.options.log('warn', '[Autopilot] its saved counters were unreadable; starting them from zero');
    }
    const allTasks = plan.allTasks();
    const tasks = allTasks.map(toAutopilotTask);
    const sprints = plan.listSprints().map(toAutopilotSprint);
    this.depsSeen = plan.cachedDependencies();
    const dependencies = this.depsSeen.map(d => ({ taskId: d.taskId, dependsOnId: d.dependsOnId }));
    const known = new Set(tasks.map(t => t.id));
    const live = new Map(sessions.list().filter(l => l.terminal.state !== 'exited').map(l => [l.record.id, l]));
    const failures: Record<string, number> = { ...(counters.failures ?? {}) };
    let streak = counters.consecutiveFailures ?? 0;
    const running: AutopilotState['running'] = [];
    const at = this.now().toISOString();
    const open = autopilot.store.listOpen();
    const history = open.length ? new Map(sessions.history(500).map(h => [h.id, h.endReason])) : new Map<string, string | null>();
    const endReasonOf = (id: string) => history.get(id) ?? null;
    for (const run of open) {
      const session = live.get(run.sessionId);
      if (session && known.has(run.taskId) && !running.some(r => r.taskId === run.taskId)) {
        running.push({ taskId: run.taskId, agent: parseLabel(run.agent), sessionId: run.sessionId });
        this.runs.set(run.sessionId, { taskId: run.taskId, startedAt: Date.parse(run.startedAt) || this.now().getTime() });
        continue;
      }
      // Ended by the window closing (no tmux) or the owner restarting: interrupted, not failed — the task
      // comes back through the lease and starts again without counting against its retries or the streak.
      const ended = endReasonOf(run.sessionId);
      const interrupted = ended === 'window-closed' || ended === 'owner-restarted';
      autopilot.store.endRun(run.sessionId, interrupted ? 'interrupted' : 'failed', at);
      if (!known.has(run.taskId)) continue;
      if (interrupted) {
        autopilot.record('autopilot.ended', run.taskId, `session ${run.sessionId} on ${run.taskId} ended when the window closed; the claim lease gives ${run.taskId} back to To Do and autopilot starts it again`);
        continue;
      }
      failures[run.taskId] = (failures[run.taskId] ?? 0) + 1;
      streak++;
      autopilot.record('autopilot.ended', run.taskId, `session ${run.sessionId} on ${run.taskId} ended while Baton was not watching${ended ? ` (${ended})` : ''}: counted as failed; the claim lease gives ${run.taskId} back to To Do`);
    }
    const settings = this.schedulerSettings();
    const workspaceAgent = this.options.settings().defaultAgent;
    this.lastSettings = JSON.stringify(settings);
    this.lastAgent = JSON.stringify(workspaceAgent);
    const state: AutopilotState = {
      version: 1, settings, estimateUnit: estimateUnitOf(allTasks), workspaceAgent, sprints, tasks, dependencies, running,
      failures, consecutiveFailures: streak, paused: !record.enabled,
      usage: counters.usage ?? { run: { agentHours: 0, tokens: 0, costUsd: 0 }, sprints: {} },
      reported: counters.reported ?? {},
    };
    try {
      this.scheduler = AutopilotScheduler.fromJSON(state);
    } catch (error) {
      this.options.log('warn', `[Autopilot] its saved state did not fit the plan (${(error as Error).message}); counters start from zero`);
      this.scheduler = AutopilotScheduler.fromJSON({ ...state, failures: {}, consecutiveFailures: 0, reported: {}, usage: { run: { agentHours: 0, tokens: 0, costUsd: 0 }, sprints: {} } });
    }
    for (const t of tasks) this.tasks.set(t.id, t);
    for (const sp of sprints) this.sprints.set(sp.id, sp);
    for (const d of dependencies) this.deps.add(depKey(d.taskId, d.dependsOnId));
  }

  /**
   * Tells the scheduler what changed in the plan since the last sync (O(n + e) to diff; the scheduler's
   * own work is only for what changed): sprints first, then tasks, dependencies, removals.
   */
  private sync(): void {
    const s = this.scheduler!;
    const { plan } = this.options;
    const sprints = plan.listSprints().map(toAutopilotSprint);
    for (const sp of sprints) {
      const old = this.sprints.get(sp.id);
      if (!old || old.position !== sp.position || JSON.stringify(old.agent) !== JSON.stringify(sp.agent)) {
        s.setSprint(sp);
        this.sprints.set(sp.id, sp);
      }
    }
    const seen = new Set<string>();
    for (const task of plan.allTasks()) {
      const t = toAutopilotTask(task);
      seen.add(t.id);
      const old = this.tasks.get(t.id);
      if (!old) s.addTask(t);
      else if (!sameTask(old, t)) s.updateTask(t);
      else continue;
      this.tasks.set(t.id, t);
    }
    const cached = plan.cachedDependencies();
    const depsChanged = cached !== this.depsSeen;
    this.depsSeen = cached;
    const deps = depsChanged ? new Set(cached.map(d => depKey(d.taskId, d.dependsOnId))) : this.deps;
    if (depsChanged) for (const key of this.deps) {
      if (deps.has(key)) continue;
      const [taskId, dependsOnId] = key.split('\n');
      if (seen.has(taskId) && seen.has(dependsOnId)) s.removeDependency({ taskId, dependsOnId });
      this.deps.delete(key);
    }
    for (const id of [...this.tasks.keys()]) {
      if (seen.has(id)) continue;
      const running = s.runningSessions().find(r => r.taskId === id);
      if (running) {
        s.sessionEnded(id, { outcome: 'failed', ...(running.sessionId ? { sessionId: running.sessionId } : {}) });
        this.countersDirty = true;
      }
      s.removeTask(id);
      this.tasks.delete(id);
    }
    if (depsChanged) for (const key of deps) {
      if (this.deps.has(key)) continue;
      const [taskId, dependsOnId] = key.split('\n');
      s.addDependency({ taskId, dependsOnId });
      this.deps.add(key);
    }
    const live = new Set(sprints.map(sp => sp.id));
    for (const id of [...this.sprints.keys()]) {
      if (live.has(id)) continue;
      s.removeSprint(id);
      this.sprints.delete(id);
    }
  }

  /** Stores the scheduler's counters (not the plan: that is rebuilt from the store at `start()`). */
  private save(): void {
    if (!this.countersDirty) return;
    this.countersDirty = false;
    const state = this.scheduler!.toJSON();
    const counters = JSON.stringify({ failures: state.failures, consecutiveFailures: state.consecutiveFailures, usage: state.usage, reported: state.reported } satisfies Counters);
    if (counters === this.savedCounters) return; // most plan changes change none of them: no write
    this.options.autopilot.store.saveCounters(counters, this.now().toISOString());
    this.savedCounters = counters;
  }
}

function depKey(taskId: string, dependsOnId: string): string {
  return `${taskId}\n${dependsOnId}`;
}

function toAutopilotTask(t: Task): AutopilotTask {
  return {
    id: t.id, status: t.status, priority: t.priority, sprintId: t.sprintId, position: t.position,
    estimate: t.estimate, agent: t.agent ? { profile: t.agent.profile, role: t.agent.role } : null,
  };
}

function toAutopilotSprint(s: Sprint): AutopilotSprint {
  return { id: s.id, position: s.position, agent: s.agent ? { profile: s.agent.profile, role: s.agent.role } : null };
}

function sameTask(a: AutopilotTask, b: AutopilotTask): boolean {
  return a.status === b.status && a.priority === b.priority && a.sprintId === b.sprintId && a.position === b.position
    && a.estimate === b.estimate && a.agent?.profile === b.agent?.profile && a.agent?.role === b.agent?.role;
}

/** The plan's estimate unit for the reasons: points when every estimated task is in points, else hours. */
function estimateUnitOf(tasks: Task[]): 'hours' | 'points' {
  const estimated = tasks.filter(t => t.estimate !== null);
  return estimated.length > 0 && estimated.every(t => t.estimateUnit === 'points') ? 'points' : 'hours';
}

function parseLabel(label: string): AgentRef {
  const colon = label.indexOf(':');
  return colon === -1 ? { profile: label, role: null } : { profile: label.slice(0, colon), role: label.slice(colon + 1) };
}
