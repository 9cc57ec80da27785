import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONTEXT_BUDGET, mergeContexts, packContext, parseHandoffPack, renderContextMarkdown, type PackedContext, type WorkContext } from '../core/contextPack';
import { invalid, notFound } from '../core/errors';
import { Emitter, type Event } from '../core/event';
import { claimHolderOf } from '../core/lease';
import type { Actor, Task } from '../core/model';
import { frontMatterLines } from '../sessions/agentDefinitions';
import type { AgentSession, CoordinationRepository, SavedContext } from '../store/coordinationRepository';
import type { SqlWriter } from '../store/planRepository';
import type { PlanService } from './planService';
import type { WorkflowService } from './workflowService';

export interface SessionChange {
  sessionId: string;
}

export interface LoadedContext {
  saved: SavedContext;
  pack: PackedContext;
  /** Who saved it. */
  session: AgentSession | null;
}

/** What an agent gets from INIT: who it is, its memory, its instructions, Baton's health and the plan to confirm. */
export interface InitResult {
  session: { id: string; agent: string; profile: string | null; role: string | null };
  task: Pick<Task, 'id' | 'title' | 'status' | 'description'> & { checkpoints: { n: number; title: string; done: boolean }[] } | null;
  /** A ready task suggested when the agent has none (not claimed: call claim_next_task). */
  suggestedTask: { id: string; title: string } | null;
  memory: { context: WorkContext; from: string; savedAt: string; kind: string; markdown: string } | null;
  earlierSessions: { id: string; agent: string; startedAt: string; endedAt: string | null; outcome: string | null }[];
  instructions: string;
  health: Record<string, unknown>;
  plan: string[];
}

export interface SessionServiceOptions {
  now?: () => Date;
  /** Redaction of every string leaf of saved context (`core/redaction.ts`'s `redactDeep`). */
  sanitizeDeep?: <T>(value: T) => T;
  /** Workspace folder, to read role definitions from `.claude/agents/<role>.md`. */
  workspaceDir?: string;
  contextBudgetBytes?: number;
  /** Health facts about the store etc., for INIT. */
  health?: () => Record<string, unknown>;
}

const BATON_WORKFLOW = [
  'You work through Baton, which holds this workspace\'s plan.',
  '1. Confirm the plan below, then work on your task.',
  '2. As you go: report_progress (checkpoints, percent, tests_passed) and save_context with steps done, next steps and decisions — summaries, not file contents.',
  '3. When you need the human: ask_human (a question, an approval of what you intend to do, or a blocker) and wait for the answer.',
  '4. check_messages when told you have unread messages: the human may redirect you.',
  '5. Finish with complete_task and a summary, or end_session with a handoff so another agent can continue.',
].join('\n');

/**
 * Agent sessions and their memory: a record for every agent that connects, context saved per session
 * and per task (packed to a size budget, secrets redacted), handoff packs that another session — any
 * CLI — resumes from, and INIT, the one call a new agent makes first.
 */
export class SessionService {
  private readonly _onDidChangeSessions = new Emitter<SessionChange>();
  readonly onDidChangeSessions: Event<SessionChange> = this._onDidChangeSessions.event;
  private readonly now: () => Date;
  private readonly sanitizeDeep: <T>(value: T) => T;
  readonly budget: number;

  constructor(
    private readonly repo: CoordinationRepository,
    private readonly plan: PlanService,
    private readonly workflow: WorkflowService,
    private readonly options: SessionServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.sanitizeDeep = options.sanitizeDeep ?? (v => v);
    this.budget = options.contextBudgetBytes ?? DEFAULT_CONTEXT_BUDGET;
  }

  dispose(): void {
    this._onDidChangeSessions.dispose();
  }

  /** An agent, profile or role name from outside (MCP `clientInfo.name`, `agent_init`): redacted, then made one short line. */
  private name(raw: string): string {
    return cleanName(this.sanitizeDeep(String(raw)));
  }

  /** The actor an agent session acts as: `<agent name>#<session id>`. */
  actorOf(session: AgentSession): Actor {
    return { kind: 'agent', name: `${session.agentName}#${session.id}` };
  }

  get(id: string): AgentSession {
    const s = this.repo.getSession(id.trim().toUpperCase());
    if (!s) throw notFound(`No agent session with id "${id}".`);
    return s;
  }

  /** Sessions newest first (by number); `beforeNum` continues after the session with that number. */
  list(filter: { status?: 'active' | 'ended'; taskId?: string; limit?: number; beforeNum?: number } = {}): AgentSession[] {
    return this.repo.listSessions(filter);
  }

  /** Records an agent that connected (MCP `initialize`). */
  connect(input: { agentName: string; mcpSessionId?: string | null; profile?: string | null; role?: string | null }): AgentSession {
    const at = this.stamp();
    const num = this.repo.nextSessionNumber();
    const session: AgentSession = {
      id: `A-${num}`, agentName: this.name(input.agentName), profile: input.profile ? this.name(input.profile) : null, role: input.role ? this.name(input.role) : null, taskId: null,
      mcpSessionId: input.mcpSessionId ?? null, status: 'active', startedAt: at, lastSeenAt: at, endedAt: null, endReason: null,
    };
    this.repo.transaction(tx => this.repo.insertSession(tx, num, session));
    this.fire(session.id);
    return session;
  }

  /**
   * Marks a session ended (its transport closed, or it expired idle) unless it already ended.
   * `lastSeenAt` is when the client was last active (default: now); a claim it held then lapses by
   * its lease (`LeaseService`), counted from that moment.
   */
  disconnect(id: string, reason = 'disconnected', lastSeenAt?: Date): void {
    const s = this.repo.getSession(id);
    if (!s || s.status === 'ended') return;
    const at = this.stamp();
    const seen = lastSeenAt && lastSeenAt.getTime() <= this.now().getTime() && lastSeenAt.getTime() >= Date.parse(s.lastSeenAt) ? lastSeenAt.toISOString() : at;
    this.repo.transaction(tx => this.repo.updateSession(tx, id, { status: 'ended', endedAt: at, lastSeenAt: seen, endReason: reason }));
    this.fire(id);
  }

  /** Ends every session still marked active (called when an owner starts: its connections are gone). */
  endStaleSessions(reason = 'owner-restarted'): number {
    const active = this.repo.listSessions({ status: 'active' });
    if (!active.length) return 0;
    const at = this.stamp();
    this.repo.transaction(tx => {
      for (const s of active) this.repo.updateSession(tx, s.id, { status: 'ended', endedAt: at, endReason: reason });
    });
    return active.length;
  }

  /**
   * `attachTask` as part of a caller's write transaction `tx` on the same store (a claim: the task and the
   * session's current task are one journal record). Listeners hear of it on a microtask, after `tx` commits.
   * @throws BatonError (not found) when there is no such session, which rolls `tx` back.
   */
  attachTaskIn(tx: SqlWriter, sessionId: string, taskId: string | null): void {
    const s = this.get(sessionId);
    if (s.taskId === taskId) return;
    this.repo.updateSession(tx, s.id, { taskId, lastSeenAt: this.stamp() });
    queueMicrotask(() => this.fire(s.id));
  }

  /** Sets the task a session works on (after a claim, INIT or resume). */
  attachTask(sessionId: string, taskId: string | null): void {
    const s = this.get(sessionId);
    if (s.taskId === taskId) return;
    this.repo.transaction(tx => this.repo.updateSession(tx, s.id, { taskId, lastSeenAt: this.stamp() }));
    this.fire(s.id);
  }

  /**
   * Saves what the agent learned: `input` is a WorkContext (any extra keys allowed). `merge` (default)
   * folds it into the session's latest saved context for that task. Secrets are redacted, then the
   * result is packed to the budget; the answer says what the packing dropped.
   */
  saveContext(sessionId: string, input: unknown, options: { taskId?: string | null; mode?: 'merge' | 'replace' } = {}): { saved: SavedContext; pack: PackedContext } {
    const session = this.get(sessionId);
    const taskId = options.taskId === undefined ? session.taskId : options.taskId === null ? null : this.plan.resolveTask(options.taskId).id;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('context must be an object, e.g. { "stepsDone": ["API done"], "nextSteps": ["tests"] }.');
    let context = this.sanitizeDeep(input as WorkContext);
    if ((options.mode ?? 'merge') === 'merge') {
      const previous = this.repo.latestContext({ sessionId: session.id, ...(taskId ? { taskId } : {}) });
      if (previous) context = mergeContexts(parseHandoffPack(previous.pack).context, context);
    }
    const pack = this.pack(context);
    const saved = this.store(session.id, taskId, 'checkpoint', pack);
    this.fire(session.id);
    return { saved, pack };
  }

  /**
   * The newest context for a task (any session, any profile) or of one session; null when none.
   * Prefers a handoff pack not yet resumed when loading by task.
   */
  loadContext(filter: { taskId?: string; sessionId?: string }): LoadedContext | null {
    const taskId = filter.taskId ? this.plan.resolveTask(filter.taskId).id : undefined;
    const sessionId = filter.sessionId ? this.get(filter.sessionId).id : undefined;
    if (!taskId && !sessionId) throw invalid('Give task_id or session_id to load a context.');
    const saved = this.repo.latestContext({ taskId, sessionId });
    if (!saved) return null;
    return { saved, pack: parseHandoffPack(saved.pack), session: saved.sessionId ? this.repo.getSession(saved.sessionId) ?? null : null };
  }

  /**
   * Ends a session. With `outcome: 'handoff'` (the default when the task is unfinished) a handoff pack
   * is stored — from `handoff` or, if omitted, the session's latest saved context — and the task goes
   * back to TODO, unassigned, so the next agent (any CLI) claims it and gets the pack from INIT.
   */
  endSession(sessionId: string, input: { outcome?: 'done' | 'handoff' | 'abandoned'; handoff?: unknown; summary?: string } = {}): { session: AgentSession; handoff: SavedContext | null; task: Task | null } {
    const session = this.get(sessionId);
    if (session.status === 'ended') throw invalid(`Session ${session.id} already ended (${session.endReason}).`);
    const actor = this.actorOf(session);
    const task = session.taskId ? this.plan.getTask(session.taskId) : null;
    const unfinished = task && task.status !== 'DONE' && task.status !== 'CANCELLED';
    const outcome = input.outcome ?? (unfinished ? 'handoff' : 'done');
    let handoff: SavedContext | null = null;
    if (outcome === 'handoff' && task) {
      let context = input.handoff !== undefined ? this.sanitizeDeep(parseHandoffPack(input.handoff).context) : this.latestWork(session.id, task);
      if (input.summary) context = mergeContexts(context, { notes: this.sanitizeDeep(input.summary) });
      handoff = this.store(session.id, task.id, 'handoff', this.pack(context));
      if (!this.returnToTodo(task, actor, `Handed off by ${actor.name} (pack ${handoff.id}).`)) {
        this.plan.recordActivity(actor, 'session.handoff', task.id, `handed off (pack ${handoff.id})`);
      }
    } else if (input.summary && task) {
      this.plan.addNote(task.id, input.summary, actor);
    }
    const at = this.stamp();
    this.repo.transaction(tx => this.repo.updateSession(tx, session.id, { status: 'ended', endedAt: at, lastSeenAt: at, endReason: outcome }));
    this.fire(session.id);
    return { session: this.get(session.id), handoff, task: task ? this.plan.getTask(task.id) : null };
  }

  /**
   * Releases a claim whose holder is gone (its lease lapsed, see `LeaseService`): an IN_PROGRESS task
   * goes back to TODO, unassigned, and keeps its handoff pack the way `endSession` leaves one — the
   * latest context `sessionId` saved for the task becomes a handoff pack; without one, an unresumed
   * handoff pack already there is kept, else a minimal pack naming the task and `reason` is stored.
   * `reason` is noted on the task and in the activity log. Agent sessions still attached to the task
   * are detached from it. Without `sessionId` (the holder was a terminal that never called INIT) no
   * pack is written. @returns the task after the change and the pack kept (null when none).
   */
  releaseClaim(taskId: string, input: { sessionId: string | null; reason: string; actor: Actor }): { task: Task; handoff: SavedContext | null } {
    const task = this.plan.getTask(taskId);
    const session = input.sessionId ? this.repo.getSession(input.sessionId) ?? null : null;
    let handoff: SavedContext | null = null;
    const own = session ? this.repo.latestContext({ sessionId: session.id, taskId: task.id }) : undefined;
    const waiting = this.repo.listContexts({ taskId: task.id, limit: 20 }).find(c => c.kind === 'handoff' && !c.resumedBy);
    if (session && (own || !waiting)) {
      const context = own ? parseHandoffPack(own.pack).context : this.latestWork(session.id, task);
      handoff = this.store(session.id, task.id, 'handoff', this.pack(own ? context : mergeContexts(context, { notes: input.reason })));
    } else {
      handoff = waiting ?? null;
    }
    this.returnToTodo(task, input.actor, `${input.reason}${handoff ? ` (handoff pack ${handoff.id} kept)` : ''}.`);
    for (const s of this.repo.listSessions({ status: 'active', taskId: task.id })) this.attachTask(s.id, null);
    return { task: this.plan.getTask(task.id), handoff };
  }

  /**
   * INIT — the one call a new agent makes first (the seeds' four steps: resume memory, load profile,
   * health check, confirm plan). Registers who it is; with `taskId` it takes that task (starting it by
   * the workflow rules); it returns its memory from earlier sessions on the task (the unresumed handoff
   * pack first), its role instructions, Baton's health and the plan to confirm.
   *
   * All or nothing: the task is checked first — it must exist and be claimable by the rules of
   * `claim_next_task` (`PlanService.checkClaimable`: not DONE, CANCELLED or BLOCKED, and a TODO task
   * must be ready), and not held by another agent session still connected — and when it is refused
   * nothing changes, not even the session's name. @throws BatonError NOT_FOUND / INVALID_ARGUMENT.
   */
  init(sessionId: string, input: { agentName?: string; profile?: string; role?: string; taskId?: string; clientTime?: string } = {}): InitResult {
    let session = this.get(sessionId);
    const wanted = input.taskId ? this.plan.checkClaimable(this.plan.resolveTask(input.taskId).id) : null;
    const holder = wanted ? claimHolderOf(wanted.assignee) : null;
    if (wanted && holder?.kind === 'agent-session' && holder.id !== session.id && this.repo.getSession(holder.id)?.status === 'active') {
      throw invalid(`${wanted.id} "${wanted.title}" is claimed by ${wanted.assignee}, which is still connected. Call claim_next_task for a ready task.`);
    }
    const patch: Partial<AgentSession> = {};
    if (input.agentName) patch.agentName = this.name(input.agentName);
    if (input.profile !== undefined) patch.profile = input.profile === null ? null : this.name(input.profile);
    if (input.role !== undefined) patch.role = input.role === null ? null : this.name(input.role);
    if (Object.keys(patch).length) {
      this.repo.transaction(tx => this.repo.updateSession(tx, session.id, { ...patch, lastSeenAt: this.stamp() }));
      session = this.get(session.id);
    }
    let task: Task | null = null;
    if (wanted) {
      task = wanted;
      this.attachTask(session.id, task.id);
      // An agent session named as assignee is gone (checked above): the claim passes to this one.
      if (!task.assignee || task.status === 'TODO' || holder?.kind === 'agent-session') this.plan.updateTask(task.id, { assignee: this.actorOf(session).name }, this.actorOf(session));
      task = this.workflow.apply('session.started', task.id, this.actorOf(session)) ?? this.plan.getTask(task.id);
    } else if (session.taskId) {
      task = this.plan.getTask(session.taskId);
    }
    const memory = task ? this.memoryFor(task.id, session.id) : null;
    const details = task ? this.plan.getTaskDetails(task.id, 0) : null;
    const suggested = task ? null : this.plan.readyTasks()[0] ?? null;
    const earlier = task ? this.repo.listSessions({ taskId: task.id, limit: 10 }).filter(s => s.id !== session.id) : [];
    const skewMs = input.clientTime && !Number.isNaN(Date.parse(input.clientTime)) ? Date.parse(input.clientTime) - this.now().getTime() : null;
    const plan: string[] = [];
    if (task && details) {
      const open = details.checkpoints.filter(c => !c.done).map(c => c.title);
      const next = memory?.context.nextSteps ?? [];
      plan.push(`Work on ${task.id} "${task.title}" (${task.status}).`);
      for (const step of next.length ? next : open) plan.push(step);
      if (details.waitingOn.length) plan.push(`Note: it still waits for ${details.waitingOn.map(t => t.id).join(', ')}.`);
      plan.push('Report progress and save context as you go; complete_task with a summary at the end.');
    } else {
      plan.push(suggested ? `Call claim_next_task to take the next ready task (now: ${suggested.id} "${suggested.title}").` : 'No task is ready: ask the human what to do (ask_human).');
    }
    return {
      session: { id: session.id, agent: session.agentName, profile: session.profile, role: session.role },
      task: task && details ? {
        id: task.id, title: task.title, status: task.status, description: task.description,
        checkpoints: details.checkpoints.map((c, i) => ({ n: i + 1, title: c.title, done: c.done })),
      } : null,
      suggestedTask: suggested && { id: suggested.id, title: suggested.title },
      memory,
      earlierSessions: earlier.map(s => ({ id: s.id, agent: s.agentName, startedAt: s.startedAt, endedAt: s.endedAt, outcome: s.endReason })),
      instructions: [this.roleInstructions(session.role), BATON_WORKFLOW].filter(Boolean).join('\n\n'),
      health: {
        ...(this.options.health?.() ?? {}),
        clock: { serverTime: this.now().toISOString(), ...(skewMs === null ? {} : { skewMs, ok: Math.abs(skewMs) < 120_000 }) },
      },
      plan,
    };
  }

  /** Memory for a task: the newest unresumed handoff pack, else the newest saved context; marks a handoff resumed by `sessionId`. */
  memoryFor(taskId: string, sessionId?: string): InitResult['memory'] {
    const handoff = this.repo.listContexts({ taskId, limit: 20 }).find(c => c.kind === 'handoff' && !c.resumedBy);
    const saved = handoff ?? this.repo.latestContext({ taskId });
    if (!saved) return null;
    if (handoff && sessionId && handoff.sessionId !== sessionId) {
      this.repo.transaction(tx => this.repo.markResumed(tx, handoff.id, sessionId, this.stamp()));
      const by = this.repo.getSession(sessionId);
      if (by) this.plan.recordActivity(this.actorOf(by), 'session.resumed', taskId, `resumed from handoff pack ${handoff.id}`);
    }
    const pack = parseHandoffPack(saved.pack);
    const from = saved.sessionId ? this.repo.getSession(saved.sessionId) : undefined;
    const fromName = from ? `${from.agentName}#${from.id}${from.profile ? ` (${from.profile})` : ''}` : 'unknown';
    return { context: pack.context, from: fromName, savedAt: saved.createdAt, kind: saved.kind, markdown: renderContextMarkdown(pack, `Context of ${taskId} from ${fromName}`) };
  }

  /** A person-readable handoff document for a task's latest context (markdown). */
  handoffMarkdown(taskId: string): string | null {
    const loaded = this.loadContext({ taskId });
    if (!loaded) return null;
    const who = loaded.session ? `${loaded.session.agentName}#${loaded.session.id}` : 'unknown';
    return renderContextMarkdown(loaded.pack, `${loaded.saved.kind === 'handoff' ? 'Handoff' : 'Context'} for ${taskId} from ${who}`);
  }

  private roleInstructions(role: string | null): string {
    if (!role || !this.options.workspaceDir || !/^[\w.-]+$/.test(role)) return '';
    const file = path.join(this.options.workspaceDir, '.claude', 'agents', `${role}.md`);
    try {
      const text = fs.readFileSync(file, 'utf8');
      const body = frontMatterLines(text).body.trim();
      return `Your role (${role}, from .claude/agents/${role}.md):\n${body}`;
    } catch {
      return '';
    }
  }

  /** The latest context `sessionId` saved for `task`, or a minimal one naming the task. */
  private latestWork(sessionId: string, task: Task): WorkContext {
    const latest = this.repo.latestContext({ sessionId, taskId: task.id });
    return latest ? parseHandoffPack(latest.pack).context : { currentTask: task.title };
  }

  /** An IN_PROGRESS task goes back to TODO, unassigned, with `note`; false (nothing changed) for other statuses. */
  private returnToTodo(task: Task, actor: Actor, note: string): boolean {
    if (task.status !== 'IN_PROGRESS') return false;
    this.plan.setStatus(task.id, 'TODO', actor, { note });
    this.plan.updateTask(task.id, { assignee: null }, actor);
    return true;
  }

  private pack(context: WorkContext): PackedContext {
    try {
      return packContext(context, this.budget);
    } catch (error) {
      throw invalid(`Cannot save this context: ${(error as Error).message}`);
    }
  }

  private store(sessionId: string, taskId: string | null, kind: 'checkpoint' | 'handoff', pack: PackedContext): SavedContext {
    const saved: SavedContext = {
      id: `C-${randomUUID().slice(0, 8)}`, sessionId, taskId, kind, pack: JSON.stringify(pack), dropped: JSON.stringify(pack.dropped),
      bytes: pack.bytes, createdAt: this.stamp(), resumedBy: null, resumedAt: null,
    };
    this.repo.transaction(tx => {
      this.repo.insertContext(tx, saved);
      this.repo.updateSession(tx, sessionId, { lastSeenAt: saved.createdAt });
    });
    return saved;
  }

  private fire(sessionId: string): void {
    this._onDidChangeSessions.fire({ sessionId });
  }

  private stamp(): string {
    return this.now().toISOString();
  }
}

function cleanName(name: string): string {
  const n = String(name).replace(/[\u0000-\u001f#]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 80);
  return n || 'agent';
}
