import { invalid, notFound } from '../core/errors';
import { Emitter, type Event } from '../core/event';
import type { Actor } from '../core/model';
import type { CoordinationRepository, Message, ReceivedMessage, RecipientKind } from '../store/coordinationRepository';
import type { PlanService } from './planService';

/** The person's mailbox (one human per workspace). */
export const HUMAN: { kind: RecipientKind; id: string } = { kind: 'user', id: 'human' };

export interface MessageChange {
  message: Message;
  recipients: { kind: RecipientKind; id: string }[];
}

/** Messages that became read in a mailbox (by the person in VS Code, `baton messages`, or an agent's check_messages). */
export interface MessagesRead {
  recipient: { kind: RecipientKind; id: string };
  ids: string[];
}

export type Sender = Message['from'];

/**
 * Messages between agent sessions and the person: an inbox per session and one for the person;
 * send, read, mark read; broadcast to every active session of a sprint, of a task, or all. Messages
 * about a task are linked to it. Subjects and bodies pass secret redaction before they are stored.
 *
 * Addresses (`to`): `human`, a session id (`A-3`), `task:T-5` (the sessions working on that task),
 * `sprint:S-2` (the active sessions whose task is in that sprint), or `all` (every active session).
 */
export class MessageService {
  private readonly _onDidChangeMessages = new Emitter<MessageChange>();
  readonly onDidChangeMessages: Event<MessageChange> = this._onDidChangeMessages.event;
  private readonly _onDidReadMessages = new Emitter<MessagesRead>();
  /** Fired after messages are marked read (only those that were unread), whoever read them. */
  readonly onDidReadMessages: Event<MessagesRead> = this._onDidReadMessages.event;

  constructor(
    private readonly repo: CoordinationRepository,
    private readonly plan: PlanService,
    private readonly sanitize: (text: string) => string = t => t,
    private readonly now: () => Date = () => new Date(),
  ) {}

  dispose(): void {
    this._onDidChangeMessages.dispose();
    this._onDidReadMessages.dispose();
  }

  send(input: { from: Sender; to: string; body: string; subject?: string; taskId?: string | null }): { message: Message; recipients: number } {
    const body = typeof input.body === 'string' ? input.body.trim() : '';
    if (!body) throw invalid('The message body must be a non-empty text.');
    if (body.length > 100_000) throw invalid(`The message is ${body.length} characters; the limit is 100000.`);
    const subject = (input.subject ?? '').trim().slice(0, 200);
    const task = input.taskId ? this.plan.resolveTask(input.taskId) : null;
    const { recipients, sprintId } = this.resolveAddress(input.to, input.from);
    if (!recipients.length) throw invalid(`Nobody to deliver to at "${input.to}": no active agent session there.`);
    const num = this.repo.nextMessageNumber();
    const message: Message = {
      id: `M-${num}`, from: input.from, taskId: task?.id ?? (input.to.startsWith('task:') ? this.plan.resolveTask(input.to.slice(5)).id : null),
      sprintId: sprintId ?? task?.sprintId ?? null, subject: this.sanitize(subject), body: this.sanitize(body), createdAt: this.now().toISOString(),
    };
    this.repo.transaction(tx => this.repo.insertMessage(tx, num, message, recipients));
    this._onDidChangeMessages.fire({ message, recipients });
    return { message, recipients: recipients.length };
  }

  /** Sends to the agents working on a task (active sessions attached to it); returns how many got it (0 is fine). */
  sendToTask(taskId: string, actor: Actor, body: string, subject: string): number {
    const sessions = this.repo.listSessions({ status: 'active', taskId });
    if (!sessions.length) return 0;
    return this.send({ from: { kind: actor.kind === 'agent' ? 'session' : actor.kind, id: actor.kind === 'user' ? 'human' : actor.name, name: actor.name }, to: `task:${taskId}`, body, subject, taskId }).recipients;
  }

  /** Messages in a mailbox, oldest first; by default only unread, and marks what it returns as read. */
  read(recipient: { kind: RecipientKind; id: string }, options: { unreadOnly?: boolean; markRead?: boolean; limit?: number; taskId?: string } = {}): ReceivedMessage[] {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid(`limit must be a whole number from 1 to 500, got ${limit}.`);
    const messages = this.repo.inbox(recipient, { unreadOnly: options.unreadOnly ?? true, limit, taskId: options.taskId });
    if (options.markRead ?? true) this.markRead(recipient, messages.filter(m => !m.readAt).map(m => m.id));
    return messages;
  }

  /** Marks messages of a mailbox read; returns how many were unread (ids not in the mailbox are ignored). */
  markRead(recipient: { kind: RecipientKind; id: string }, ids: string[]): number {
    if (!ids.length) return 0;
    const unread = ids.filter(id => this.repo.getReceived(recipient, id)?.readAt === null);
    if (!unread.length) return 0;
    const changed = this.repo.transaction(tx => this.repo.markRead(tx, recipient, unread, this.now().toISOString()));
    if (changed) this._onDidReadMessages.fire({ recipient, ids: unread });
    return changed;
  }

  /** The latest `limit` (1–500, default 50) messages of a mailbox, read or not, newest first; marks nothing read. */
  received(recipient: { kind: RecipientKind; id: string }, limit = 50): ReceivedMessage[] {
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid(`limit must be a whole number from 1 to 500, got ${limit}.`);
    return this.repo.inbox(recipient, { limit, newestFirst: true });
  }

  /** One message of a mailbox (`M-3`, `m3` or `3`). Throws a not-found BatonError when it is not there. */
  getReceived(recipient: { kind: RecipientKind; id: string }, id: string): ReceivedMessage {
    const m = /^\s*(?:m-?)?(\d+)\s*$/i.exec(String(id));
    const message = m ? this.repo.getReceived(recipient, `M-${m[1]}`) : undefined;
    if (!message) throw notFound(`No message "${id}" in ${recipient.kind === 'user' ? 'your' : `${recipient.id}'s`} mailbox.`);
    return message;
  }

  /**
   * Replies to a message of `recipient`'s mailbox: sends `body` back to the agent session that sent
   * it (subject `Re: …`, same task), from `from`, and marks the message read. Throws an invalid
   * BatonError when the message did not come from an agent session (nobody to reply to).
   */
  reply(recipient: { kind: RecipientKind; id: string }, messageId: string, from: Sender, body: string): { message: Message; recipients: number } {
    const original = this.getReceived(recipient, messageId);
    if (original.from.kind !== 'session') throw invalid(`${original.id} is from ${original.from.name}, not an agent session: there is no one to reply to.`);
    const subject = original.subject ? (/^re:/i.test(original.subject) ? original.subject : `Re: ${original.subject}`) : `Re: ${original.id}`;
    let taskId = original.taskId;
    try {
      if (taskId) this.plan.resolveTask(taskId);
    } catch {
      taskId = null; // the task was deleted since: the reply still goes, unlinked
    }
    const sent = this.send({ from, to: original.from.id, body, subject, taskId });
    this.markRead(recipient, [original.id]);
    return sent;
  }

  unreadCount(recipient: { kind: RecipientKind; id: string }): number {
    return this.repo.unreadCount(recipient);
  }

  /** Messages linked to a task, newest first (for its details). */
  forTask(taskId: string, limit = 50): Message[] {
    return this.repo.listMessages({ taskId, limit });
  }

  private resolveAddress(to: string, from: Sender): { recipients: { kind: RecipientKind; id: string }[]; sprintId?: string } {
    const address = typeof to === 'string' ? to.trim() : '';
    const active = () => this.repo.listSessions({ status: 'active', limit: 10_000 });
    const notSelf = (id: string) => !(from.kind === 'session' && from.id === id);
    if (/^(human|user|person|me)$/i.test(address)) return { recipients: [HUMAN] };
    if (/^all$/i.test(address)) return { recipients: active().filter(s => notSelf(s.id)).map(s => ({ kind: 'session', id: s.id })) };
    const task = /^task:(.+)$/i.exec(address);
    if (task) {
      const t = this.plan.resolveTask(task[1]);
      return { recipients: active().filter(s => s.taskId === t.id && notSelf(s.id)).map(s => ({ kind: 'session', id: s.id })) };
    }
    const sprint = /^sprint:(.+)$/i.exec(address);
    if (sprint) {
      const sp = this.plan.getSprint(sprint[1].trim().toUpperCase());
      const taskIds = new Set(this.plan.listTasks({ sprintId: sp.id }, { limit: 500 }).items.map(t => t.id));
      return { recipients: active().filter(s => s.taskId && taskIds.has(s.taskId) && notSelf(s.id)).map(s => ({ kind: 'session', id: s.id })), sprintId: sp.id };
    }
    const session = /^A-?\d+$/i.test(address) ? this.repo.getSession(address.toUpperCase().replace(/^A-?/, 'A-')) : undefined;
    if (!session) throw notFound(`Unknown address "${to}": use human, a session id like A-3, task:T-5, sprint:S-2 or all.`);
    return { recipients: [{ kind: 'session', id: session.id }] };
  }
}
