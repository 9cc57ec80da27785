import * as vscode from 'vscode';
import type { BatonServices } from '../mcp/batonMcpServer';
import { HUMAN } from '../services/messageService';
import type { HumanRequest, ReceivedMessage } from '../store/coordinationRepository';
import { commandRegistrar, currentUser } from './commandRegistry';
import { COMMANDS, SETTINGS } from './constants';
import type { InboxTreeProvider, InboxNode } from './inboxTree';
import { messageDocumentUri } from './messageDocument';
import { TaskNode } from './tasksTree';
import { statusLabel } from './labels';

type RequestArg = InboxNode | string | undefined;
type TaskArg = TaskNode | string | undefined;
type MessageArg = InboxNode | string | undefined;

/**
 * The person's side of coordination: answer, approve or reject agents' requests; read, reply to and
 * mark read the messages agents sent them; pause a task, intervene in it, approve it to ship; message
 * an agent; read a task's handoff pack.
 */
export function registerCoordinationCommands(
  context: vscode.ExtensionContext, services: BatonServices, inboxTree: InboxTreeProvider, log: vscode.LogOutputChannel,
): void {
  const { plan, inbox, messages, sessions } = services;
  const register = commandRegistrar(context, log);
  const user = () => currentUser(SETTINGS.userName);

  const requestFrom = async (arg: RequestArg, placeHolder: string, filter: (r: HumanRequest) => boolean = () => true): Promise<HumanRequest | undefined> => {
    if (typeof arg === 'string' || (arg && arg.kind === 'request')) {
      const r = inbox.get(typeof arg === 'string' ? arg : (arg as { request: HumanRequest }).request.id);
      if (r.status !== 'open') {
        void vscode.window.showInformationMessage(vscode.l10n.t('{0} was already {1} by {2}{3}', r.id, r.status, r.answeredBy ?? '?', r.answer ? `: ${r.answer}` : '.'));
        return undefined;
      }
      return r;
    }
    const selected = inboxTree.view.selection.find(n => n.kind === 'request');
    if (selected && selected.kind === 'request' && selected.request.status === 'open' && filter(selected.request)) return inbox.get(selected.request.id);
    const open = inbox.list().filter(filter);
    if (!open.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No agent is waiting for you.'));
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(open.map(r => ({
      label: `$(${r.kind === 'question' ? 'question' : r.kind === 'approval' ? 'shield' : 'warning'}) ${r.text.split('\n')[0]}`,
      description: `${r.id} · ${r.agentName}${r.taskId ? ` · ${r.taskId}` : ''}`, request: r,
    })), { placeHolder });
    return pick?.request;
  };

  const taskFrom = async (arg: TaskArg, placeHolder: string) => {
    if (arg instanceof TaskNode || (arg && typeof arg === 'object' && (arg as TaskNode).kind === 'task')) return plan.getTask((arg as TaskNode).task.id);
    if (typeof arg === 'string') return plan.resolveTask(arg);
    const pick = await vscode.window.showQuickPick(
      plan.allTasks().filter(t => t.status !== 'DONE' && t.status !== 'CANCELLED').map(t => ({ label: t.title, description: `${t.id} · ${statusLabel(t.status)}${t.assignee ? ` · ${t.assignee}` : ''}`, task: t })),
      { placeHolder, matchOnDescription: true });
    return pick?.task;
  };

  register(COMMANDS.answerRequest, async (arg?: RequestArg, text?: string) => {
    const r = await requestFrom(arg, vscode.l10n.t('Answer which request?'));
    if (!r) return undefined;
    let answer = text;
    if (answer === undefined && r.options.length) {
      const other = vscode.l10n.t('Write another answer…');
      const pick = await vscode.window.showQuickPick([...r.options, other], { placeHolder: `${r.agentName}: ${r.text.split('\n')[0]}` });
      if (pick === undefined) return undefined;
      if (pick !== other) answer = pick;
    }
    answer ??= await vscode.window.showInputBox({
      title: vscode.l10n.t('Answer {0} ({1})', r.agentName, r.id), prompt: r.text, ignoreFocusOut: true,
      validateInput: v => (v.trim() ? undefined : vscode.l10n.t('Write an answer for the agent.')),
    });
    if (!answer) return undefined;
    return inbox.answer(r.id, answer, user());
  });

  register(COMMANDS.approveRequest, async (arg?: RequestArg, note?: string) => {
    const r = await requestFrom(arg, vscode.l10n.t('Approve which request?'));
    if (!r) return undefined;
    return inbox.approve(r.id, note, user());
  });

  register(COMMANDS.rejectRequest, async (arg?: RequestArg, note?: string) => {
    const r = await requestFrom(arg, vscode.l10n.t('Reject which request?'));
    if (!r) return undefined;
    const why = note ?? await vscode.window.showInputBox({
      title: vscode.l10n.t('Reject {0}', r.id), prompt: vscode.l10n.t('Why, or what should the agent do instead?'), ignoreFocusOut: true,
      validateInput: v => (v.trim() ? undefined : vscode.l10n.t('Tell the agent why.')),
    });
    if (!why) return undefined;
    return inbox.reject(r.id, why, user());
  });

  register(COMMANDS.pauseTask, async (arg?: TaskArg, reason?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Pause which task?'));
    if (!task) return undefined;
    const why = reason ?? await vscode.window.showInputBox({ prompt: vscode.l10n.t('Why pause {0}?', task.id), placeHolder: 'Needs architecture review', ignoreFocusOut: true });
    if (!why) return undefined;
    return inbox.pauseTask(task.id, why, user());
  });

  register(COMMANDS.interveneTask, async (arg?: TaskArg, message?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Intervene in which task?'));
    if (!task) return undefined;
    const text = message ?? await vscode.window.showInputBox({ prompt: vscode.l10n.t('Message to the agents on {0}', task.id), placeHolder: 'Use PostgreSQL instead', ignoreFocusOut: true });
    if (!text) return undefined;
    const result = inbox.intervene(task.id, text, user());
    void vscode.window.showInformationMessage(result.delivered
      ? vscode.l10n.t('Sent to {0} agent session(s) on {1}; they see it on their next call.', result.delivered, task.id)
      : vscode.l10n.t('No agent is working on {0} now; the message is kept on the task.', task.id));
    return result;
  });

  register(COMMANDS.approveTask, async (arg?: TaskArg, feedback?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Approve which task to ship?'));
    if (!task) return undefined;
    const text = feedback ?? await vscode.window.showInputBox({ prompt: vscode.l10n.t('Feedback for {0} (optional)', task.id), placeHolder: 'Good work, ship it', ignoreFocusOut: true });
    if (text === undefined) return undefined;
    return inbox.approveTask(task.id, text, user());
  });

  register(COMMANDS.sendMessage, async (to?: string, body?: string) => {
    let address = to;
    if (!address) {
      const active = sessions.list({ status: 'active' });
      const pick = await vscode.window.showQuickPick([
        ...active.map(s => ({ label: `$(hubot) ${s.agentName}`, description: `${s.id}${s.taskId ? ` · ${s.taskId}` : ''}`, address: s.id })),
        { label: `$(broadcast) ${vscode.l10n.t('All agents')}`, description: 'all', address: 'all' },
      ], { placeHolder: vscode.l10n.t('Message which agent?') });
      address = pick?.address;
    }
    if (!address) return undefined;
    const text = body ?? await vscode.window.showInputBox({ prompt: vscode.l10n.t('Message to {0}', address), ignoreFocusOut: true });
    if (!text) return undefined;
    const me = user();
    return messages.send({ from: { kind: 'user', id: HUMAN.id, name: me.name }, to: address, body: text });
  });

  /** The message a command is about: an Inbox item, an id (`M-3`), the selected message, or one picked from the unread. */
  const messageFrom = async (arg: MessageArg, placeHolder: string, filter: (m: ReceivedMessage) => boolean = () => true): Promise<ReceivedMessage | undefined> => {
    if (typeof arg === 'string') return messages.getReceived(HUMAN, arg);
    if (arg && arg.kind === 'message') return messages.getReceived(HUMAN, arg.message.id);
    const selected = inboxTree.view.selection.find(n => n.kind === 'message');
    if (selected && selected.kind === 'message' && filter(selected.message)) return messages.getReceived(HUMAN, selected.message.id);
    const candidates = messages.received(HUMAN, 200).filter(filter);
    const unread = candidates.filter(m => !m.readAt);
    const list = unread.length ? unread : candidates;
    if (!list.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No message from an agent.'));
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(list.map(m => ({
      label: `$(${m.readAt ? 'mail-read' : 'mail'}) ${(m.subject || m.body).split('\n')[0]}`,
      description: `${m.id} · ${m.from.name}${m.taskId ? ` · ${m.taskId}` : ''}`, message: m,
    })), { placeHolder, matchOnDescription: true });
    return pick?.message;
  };

  register(COMMANDS.replyToMessage, async (arg?: MessageArg, body?: string) => {
    const m = await messageFrom(arg, vscode.l10n.t('Reply to which message?'), x => x.from.kind === 'session');
    if (!m) return undefined;
    const text = body ?? await vscode.window.showInputBox({
      title: vscode.l10n.t('Reply to {0} ({1})', m.from.name, m.id),
      prompt: (m.subject ? `${m.subject}: ` : '') + m.body.replace(/\s+/g, ' ').slice(0, 300),
      ignoreFocusOut: true,
      validateInput: v => (v.trim() ? undefined : vscode.l10n.t('Write a reply for the agent.')),
    });
    if (!text) return undefined;
    const me = user();
    const sent = messages.reply(HUMAN, m.id, { kind: 'user', id: HUMAN.id, name: me.name }, text);
    const session = sessions.get(m.from.id);
    if (session.status !== 'active') {
      void vscode.window.showInformationMessage(vscode.l10n.t('{0} has ended: the reply waits in its mailbox for an agent that resumes it.', m.from.id));
    }
    return sent;
  });

  register(COMMANDS.openMessage, async (arg?: MessageArg) => {
    const m = await messageFrom(arg, vscode.l10n.t('Open which message?'));
    if (!m) return undefined;
    messages.markRead(HUMAN, [m.id]);
    const uri = messageDocumentUri(m.id);
    try {
      await vscode.commands.executeCommand('markdown.showPreview', uri);
    } catch {
      await vscode.window.showTextDocument(uri, { preview: true });
    }
    return uri;
  });

  register(COMMANDS.markMessageRead, async (arg?: MessageArg) => {
    const m = await messageFrom(arg, vscode.l10n.t('Mark which message read?'), x => !x.readAt);
    if (!m) return undefined;
    return messages.markRead(HUMAN, [m.id]);
  });

  register(COMMANDS.markAllMessagesRead, () => {
    const unread = messages.read(HUMAN, { unreadOnly: true, markRead: false, limit: 500 });
    return messages.markRead(HUMAN, unread.map(m => m.id));
  });

  register(COMMANDS.showHandoff, async (arg?: TaskArg) => {
    const task = await taskFrom(arg, vscode.l10n.t('Show the saved context of which task?'));
    if (!task) return undefined;
    const markdown = sessions.handoffMarkdown(task.id);
    if (!markdown) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No agent has saved context for {0} yet.', task.id));
      return undefined;
    }
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
    await vscode.window.showTextDocument(doc, { preview: true });
    return markdown;
  });
}
