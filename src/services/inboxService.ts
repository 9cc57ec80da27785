import { invalid, notFound } from '../core/errors';
import { Emitter, type Event } from '../core/event';
import type { Actor, Task } from '../core/model';
import type { AgentSession, CoordinationRepository, HumanRequest, HumanRequestKind, HumanRequestStatus } from '../store/coordinationRepository';
import type { MessageService } from './messageService';
import type { PlanService } from './planService';
import type { WorkflowService } from './workflowService';

export interface InboxChange {
  request: HumanRequest;
  change: 'opened' | 'resolved';
}

const KINDS: HumanRequestKind[] = ['question', 'approval', 'blocked'];
const MAX_WAIT_MS = 60 * 60 * 1000;

/**
 * The human's one inbox for every agent: questions, approval requests (with what the agent intends to
 * do) and blockers. Requests are stored before anyone is told, so none is lost across restarts; an
 * agent can wait for the answer (long-poll with its own timeout, cancellable) and gets it as its tool
 * result. Answers and decisions are written to the task's activity log. Also the person's direct
 * interventions on tasks: pause, intervene, approve to ship.
 */
export class InboxService {
  private readonly _onDidChangeInbox = new Emitter<InboxChange>();
  readonly onDidChangeInbox: Event<InboxChange> = this._onDidChangeInbox.event;
  private readonly waiters = new Map<string, Set<(r: HumanRequest) => void>>();

  constructor(
    private readonly repo: CoordinationRepository,
    private readonly plan: PlanService,
    private readonly messages: MessageService,
    private readonly workflow: WorkflowService,
    private readonly sanitize: (text: string) => string = t => t,
    private readonly now: () => Date = () => new Date(),
  ) {}

  dispose(): void {
    for (const set of this.waiters.values()) set.clear();
    this.waiters.clear();
    this._onDidChangeInbox.dispose();
  }

  /** Opens a request from an agent (or a person on an agent's behalf). */
  ask(input: { kind: HumanRequestKind; text: string; options?: string[]; taskId?: string | null; session: AgentSession | null; agentName?: string }): HumanRequest {
    if (!KINDS.includes(input.kind)) throw invalid(`kind must be one of ${KINDS.join(', ')}, got "${input.kind}".`);
    const text = typeof input.text === 'string' ? input.text.trim() : '';
    if (!text) throw invalid('The question must be a non-empty text.');
    if (text.length > 20_000) throw invalid(`The question is ${text.length} characters; the limit is 20000.`);
    const options = (input.options ?? []).map(o => String(o).trim()).filter(Boolean);
    if (options.length > 20) throw invalid('At most 20 suggested answers.');
    const taskId = input.taskId ? this.plan.resolveTask(input.taskId).id : input.session?.taskId ?? null;
    const num = this.repo.nextRequestNumber();
    const agentName = input.session ? `${input.session.agentName}#${input.session.id}` : input.agentName ?? 'agent';
    const request: HumanRequest = {
      id: `Q-${num}`, kind: input.kind, sessionId: input.session?.id ?? null, agentName, taskId,
      text: this.sanitize(text), options: options.map(o => this.sanitize(o)), status: 'open', answer: null, answeredBy: null,
      answeredAt: null, createdAt: this.now().toISOString(),
    };
    this.repo.transaction(tx => this.repo.insertRequest(tx, num, request));
    if (taskId) this.plan.recordActivity({ kind: 'agent', name: agentName }, `inbox.${input.kind}`, taskId, `${request.id} ${labelOf(input.kind)}: ${request.text}`);
    this._onDidChangeInbox.fire({ request, change: 'opened' });
    return request;
  }

  get(id: string): HumanRequest {
    const r = this.repo.getRequest(normalizeId(id));
    if (!r) throw notFound(`No inbox request with id "${id}".`);
    return r;
  }

  /**
   * Open requests, oldest first; or all (newest first) with `includeResolved`. `afterNum` continues a
   * page past the request with that number, in the same order (keyset pagination: stable under inserts).
   */
  list(options: { includeResolved?: boolean; taskId?: string; limit?: number; afterNum?: number } = {}): HumanRequest[] {
    if (options.includeResolved) return this.repo.listRequests({ taskId: options.taskId, limit: options.limit, afterNum: options.afterNum });
    return this.repo.listRequests({ status: ['open'], taskId: options.taskId, limit: options.limit ?? 500, oldestFirst: true, afterNum: options.afterNum });
  }

  openCount(): number {
    return this.repo.listRequests({ status: ['open'], limit: 10_000 }).length;
  }

  /**
   * Waits until the request is resolved, `timeoutMs` passes, or `signal` aborts; resolves with the
   * request as it then is (still `open` after a timeout). `onTick` is called every ~10 s while waiting,
   * so MCP can send progress notifications that keep clients from timing out.
   */
  waitForAnswer(id: string, timeoutMs: number, signal?: AbortSignal, onTick?: (elapsedMs: number) => void): Promise<HumanRequest> {
    const request = this.get(id);
    if (request.status !== 'open' || timeoutMs <= 0) return Promise.resolve(request);
    const limit = Math.min(timeoutMs, MAX_WAIT_MS);
    return new Promise(resolve => {
      const started = Date.now();
      let set = this.waiters.get(request.id);
      if (!set) this.waiters.set(request.id, (set = new Set()));
      const finish = () => {
        clearTimeout(timer);
        clearInterval(ticker);
        signal?.removeEventListener('abort', finish);
        set!.delete(done);
        resolve(this.get(request.id));
      };
      const done = () => finish();
      set.add(done);
      const timer = setTimeout(finish, limit);
      const ticker = setInterval(() => onTick?.(Date.now() - started), 10_000);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Answers a question or blocker (or an approval request, with a free-text answer). */
  answer(id: string, text: string, actor: Actor): HumanRequest {
    const answer = this.requireOpen(id);
    const body = typeof text === 'string' ? text.trim() : '';
    if (!body) throw invalid('The answer must be a non-empty text.');
    return this.resolve(answer, 'answered', this.sanitize(body), actor);
  }

  /** Approves what the agent intends to do, optionally with a note. */
  approve(id: string, note: string | undefined, actor: Actor): HumanRequest {
    const request = this.requireOpen(id);
    return this.resolve(request, 'approved', note?.trim() ? this.sanitize(note.trim()) : 'Approved.', actor);
  }

  /** Rejects a request with a note saying why or what to do instead. */
  reject(id: string, note: string, actor: Actor): HumanRequest {
    const request = this.requireOpen(id);
    const body = typeof note === 'string' ? note.trim() : '';
    if (!body) throw invalid('Say why the request is rejected (the agent reads it).');
    return this.resolve(request, 'rejected', this.sanitize(body), actor);
  }

  /** The agent withdraws its own open request. */
  withdraw(id: string, actor: Actor): HumanRequest {
    return this.resolve(this.requireOpen(id), 'withdrawn', null, actor);
  }

  /** Pauses a task ("needs architecture review"): it becomes BLOCKED and the agents on it are told why. */
  pauseTask(taskRef: string, reason: string, actor: Actor): Task {
    const task = this.plan.resolveTask(taskRef);
    const why = typeof reason === 'string' ? reason.trim() : '';
    if (!why) throw invalid('Give a reason for pausing (the agent reads it).');
    const paused = this.plan.setStatus(task.id, 'BLOCKED', actor, { note: `Paused: ${why}` });
    this.messages.sendToTask(task.id, actor, `Task ${task.id} is paused by ${actor.name}: ${why}. Stop work on it and wait (check_messages), or ask_human.`, 'Task paused');
    return paused;
  }

  /** Sends an intervention into a running task: a message to the agents working on it, kept on the task. */
  intervene(taskRef: string, message: string, actor: Actor): { task: Task; delivered: number } {
    const task = this.plan.resolveTask(taskRef);
    const body = typeof message === 'string' ? message.trim() : '';
    if (!body) throw invalid('The intervention message must be a non-empty text.');
    const delivered = this.messages.sendToTask(task.id, actor, body, 'Intervention');
    this.plan.addNote(task.id, `Intervention by ${actor.name}: ${body}`, actor);
    return { task: this.plan.getTask(task.id), delivered };
  }

  /** Approves a task to ship, with feedback: by the workflow rules it moves to DONE (from IN_REVIEW or IN_PROGRESS). */
  approveTask(taskRef: string, feedback: string | undefined, actor: Actor): Task {
    const task = this.plan.resolveTask(taskRef);
    const note = feedback?.trim() ? `Approved to ship by ${actor.name}: ${feedback.trim()}` : `Approved to ship by ${actor.name}.`;
    const moved = this.workflow.apply('approval.granted', task.id, actor, note);
    if (!moved) {
      throw invalid(`${task.id} is ${task.status}; only work in progress or in review can be approved to ship.`);
    }
    if (feedback?.trim()) this.messages.sendToTask(task.id, actor, note, 'Approved');
    return moved;
  }

  private requireOpen(id: string): HumanRequest {
    const request = this.get(id);
    if (request.status !== 'open') {
      throw invalid(`${request.id} is already ${request.status}${request.answeredBy ? ` by ${request.answeredBy}` : ''}.`);
    }
    return request;
  }

  private resolve(request: HumanRequest, status: HumanRequestStatus, answer: string | null, actor: Actor): HumanRequest {
    const at = this.now().toISOString();
    this.repo.transaction(tx => this.repo.resolveRequest(tx, request.id, status, answer, actor.name, at));
    const resolved = this.get(request.id);
    if (request.taskId) {
      this.plan.recordActivity(actor, `inbox.${status}`, request.taskId, `${request.id} ${status}${answer ? `: ${answer}` : ''} (asked: ${request.text})`);
    }
    for (const wake of [...(this.waiters.get(request.id) ?? [])]) wake(resolved);
    this.waiters.delete(request.id);
    this._onDidChangeInbox.fire({ request: resolved, change: 'resolved' });
    return resolved;
  }
}

function normalizeId(id: string): string {
  const m = /^\s*q-?(\d+)\s*$/i.exec(id);
  return m ? `Q-${m[1]}` : id.trim();
}

function labelOf(kind: HumanRequestKind): string {
  return kind === 'question' ? 'asks' : kind === 'approval' ? 'asks for approval' : 'is blocked';
}
