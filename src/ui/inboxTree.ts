import * as vscode from 'vscode';
import type { InboxService } from '../services/inboxService';
import { HUMAN, type MessageService } from '../services/messageService';
import type { HumanRequest, Message, ReceivedMessage } from '../store/coordinationRepository';
import { COMMANDS, VIEWS } from './constants';
import type { StateStore } from './expansionMemory';
import { Disposable } from './lifecycle';
import { commandLink as link, plainNotificationText as plain } from './notificationText';
import { TreeExpansion } from './treeState';

export class RequestNode {
  readonly kind = 'request';
  constructor(readonly request: HumanRequest) {}
}
export class ResolvedGroupNode {
  readonly kind = 'resolved';
}
/** The messages agents sent the person (`send_message` to "human"), newest first. */
export class MessagesGroupNode {
  readonly kind = 'messages';
  constructor(readonly unread: number) {}
}
export class MessageNode {
  readonly kind = 'message';
  constructor(readonly message: ReceivedMessage) {}
}
export type InboxNode = RequestNode | ResolvedGroupNode | MessagesGroupNode | MessageNode;

const ICON: Record<HumanRequest['kind'], [string, string]> = {
  question: ['question', 'charts.blue'],
  approval: ['shield', 'charts.yellow'],
  blocked: ['warning', 'errorForeground'],
};

/** How many of the latest messages the Messages group lists. */
const MESSAGES_SHOWN = 50;

/**
 * The "Inbox" view: every open request from every agent — questions, approvals, blockers — oldest
 * first; the messages agents sent the person, newest first, unread ones marked; and a group of the
 * most recently resolved requests. The badge counts open requests plus unread messages. Inline actions
 * answer, approve or reject a request, and reply to, open or mark read a message.
 *
 * A notification appears when a request opens or a message arrives (setting
 * `baton.inbox.notifications`), with links to act on it; it closes by itself once the request is
 * resolved or the message read — wherever that happens (here, `baton` CLI, another agent tool) — so
 * no stale Answer/Reply stays behind. (VS Code cannot close a `showInformationMessage` toast, so these
 * are progress notifications with no visible progress.) Text from agents is shown with its link
 * syntax broken, so a message cannot plant a command link in a notification.
 */
export class InboxTreeProvider extends Disposable implements vscode.TreeDataProvider<InboxNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<InboxNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  readonly view: vscode.TreeView<InboxNode>;
  private readonly notices = this._register(new Notices());
  private readonly expansion: TreeExpansion<InboxNode>;

  /**
   * `notify` says (at each arrival) whether to show notifications; `state` remembers which groups are
   * expanded across reloads (the workspace's `Memento`; omitted: for this window only).
   */
  constructor(
    private readonly inbox: InboxService, private readonly messages: MessageService,
    options: { notify?: boolean | (() => boolean); state?: StateStore } = {},
  ) {
    super();
    const notify = typeof options.notify === 'function' ? options.notify : () => options.notify !== false;
    this.expansion = new TreeExpansion<InboxNode>(VIEWS.inbox, options.state, inboxNodeId);
    this.view = this._register(vscode.window.createTreeView(VIEWS.inbox, { treeDataProvider: this }));
    this._register(this.expansion.track(this.view));
    this._register(inbox.onDidChangeInbox(change => {
      this.refresh();
      if (change.change === 'opened' && notify()) this.notifyRequest(change.request);
      if (change.change === 'resolved') this.notices.close(`request:${change.request.id}`);
    }));
    this._register(messages.onDidChangeMessages(change => {
      if (!change.recipients.some(r => r.kind === HUMAN.kind && r.id === HUMAN.id)) return;
      this.refresh();
      if (change.message.from.kind !== 'user' && notify()) this.notifyMessage(change.message);
    }));
    this._register(messages.onDidReadMessages(read => {
      if (read.recipient.kind !== HUMAN.kind || read.recipient.id !== HUMAN.id) return;
      this.refresh();
      for (const id of read.ids) this.notices.close(`message:${id}`);
    }));
    this.refresh();
  }

  /** Keys (`request:Q-1`, `message:M-2`) of the notifications still showing (for tests and diagnostics). */
  openNotifications(): string[] {
    return this.notices.keys();
  }

  refresh(): void {
    this._onDidChangeTreeData.fire(undefined);
    const open = this.inbox.openCount();
    const unread = this.messages.unreadCount(HUMAN);
    const parts = [
      open ? (open === 1 ? vscode.l10n.t('1 agent waits for you') : vscode.l10n.t('{0} agents wait for you', open)) : '',
      unread ? (unread === 1 ? vscode.l10n.t('1 unread message') : vscode.l10n.t('{0} unread messages', unread)) : '',
    ].filter(Boolean);
    this.view.badge = open + unread ? { value: open + unread, tooltip: parts.join(' · ') } : undefined;
    this.view.description = [open ? vscode.l10n.t('{0} waiting', open) : '', unread ? vscode.l10n.t('{0} unread', unread) : ''].filter(Boolean).join(' · ') || undefined;
  }

  getChildren(node?: InboxNode): InboxNode[] {
    if (!node) {
      const roots: InboxNode[] = this.inbox.list().map(r => new RequestNode(r));
      if (this.messages.received(HUMAN, 1).length) roots.push(new MessagesGroupNode(this.messages.unreadCount(HUMAN)));
      // Open requests come first in the full list: look past them for a resolved one.
      const resolved = this.inbox.list({ includeResolved: true, limit: 500 }).some(r => r.status !== 'open');
      if (resolved) roots.push(new ResolvedGroupNode());
      return roots;
    }
    if (node instanceof MessagesGroupNode) return this.messages.received(HUMAN, MESSAGES_SHOWN).map(m => new MessageNode(m));
    if (node instanceof ResolvedGroupNode) {
      return this.inbox.list({ includeResolved: true, limit: 30 }).filter(r => r.status !== 'open').slice(0, 15).map(r => new RequestNode(r));
    }
    return [];
  }

  getParent(node: InboxNode): InboxNode | undefined {
    if (node instanceof MessageNode) return new MessagesGroupNode(this.messages.unreadCount(HUMAN));
    if (node instanceof RequestNode && node.request.status !== 'open') return new ResolvedGroupNode();
    return undefined;
  }

  getTreeItem(node: InboxNode): vscode.TreeItem {
    if (node instanceof ResolvedGroupNode) {
      const item = new vscode.TreeItem(vscode.l10n.t('Recently resolved'), this.expansion.state(inboxNodeId(node), vscode.TreeItemCollapsibleState.Collapsed));
      item.id = inboxNodeId(node);
      item.iconPath = new vscode.ThemeIcon('history');
      return item;
    }
    if (node instanceof MessagesGroupNode) {
      const item = new vscode.TreeItem(vscode.l10n.t('Messages'), this.expansion.state(inboxNodeId(node), vscode.TreeItemCollapsibleState.Expanded));
      item.id = inboxNodeId(node);
      item.iconPath = new vscode.ThemeIcon(node.unread ? 'mail' : 'mail-read', node.unread ? new vscode.ThemeColor('charts.blue') : undefined);
      item.description = node.unread ? vscode.l10n.t('{0} unread', node.unread) : undefined;
      item.tooltip = vscode.l10n.t('Messages agents sent you (send_message to "human"), newest first');
      item.contextValue = node.unread ? 'messages hasUnread' : 'messages';
      return item;
    }
    if (node instanceof MessageNode) return this.messageItem(node.message);
    const r = node.request;
    const firstLine = r.text.split('\n')[0];
    const item = new vscode.TreeItem(firstLine.length > 120 ? `${firstLine.slice(0, 119)}…` : firstLine);
    item.id = inboxNodeId(node);
    const [icon, color] = r.status === 'open' ? ICON[r.kind] : ['pass', 'testing.iconPassed'];
    item.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(color));
    item.description = [r.id, r.agentName, r.taskId, r.status === 'open' ? ago(r.createdAt) : `${r.status}${r.answer ? `: ${r.answer}` : ''}`].filter(Boolean).join(' · ');
    const tip = new vscode.MarkdownString();
    tip.appendMarkdown(`**${r.agentName}** ${r.kind === 'question' ? 'asks' : r.kind === 'approval' ? 'asks for approval' : 'is blocked'}${r.taskId ? ` on ${r.taskId}` : ''} — ${r.id}\n\n`);
    tip.appendText(r.text);
    if (r.options.length) tip.appendMarkdown(`\n\nSuggested answers: ${r.options.map(o => `\`${o.replace(/`/g, "'")}\``).join(', ')}`);
    if (r.status !== 'open') tip.appendMarkdown(`\n\n**${r.status}** by ${r.answeredBy ?? '?'}${r.answer ? `: ${r.answer}` : ''}`);
    item.tooltip = tip;
    item.contextValue = r.status === 'open' ? `request open kind-${r.kind}` : `request resolved`;
    if (r.status === 'open') item.command = { command: COMMANDS.answerRequest, title: vscode.l10n.t('Answer'), arguments: [r.id] };
    item.accessibilityInformation = { label: `${r.agentName} ${r.kind}: ${firstLine}, ${r.status}` };
    return item;
  }

  private messageItem(m: ReceivedMessage): vscode.TreeItem {
    const unread = m.readAt === null;
    const headline = messageHeadline(m);
    const item = new vscode.TreeItem(unread ? { label: headline, highlights: [[0, headline.length]] } : headline);
    item.id = `message:${m.id}`;
    item.iconPath = new vscode.ThemeIcon(unread ? 'mail' : 'mail-read', unread ? new vscode.ThemeColor('charts.blue') : undefined);
    item.description = [unread ? vscode.l10n.t('unread') : '', m.id, senderOf(m), m.taskId, ago(m.createdAt)].filter(Boolean).join(' · ');
    const tip = new vscode.MarkdownString();
    tip.appendMarkdown(`**${escapeMd(senderOf(m))}** wrote${m.taskId ? ` about ${m.taskId}` : ''} — ${m.id}${unread ? ' · **unread**' : ''}\n\n`);
    if (m.subject) tip.appendMarkdown(`**${escapeMd(m.subject)}**\n\n`);
    tip.appendText(m.body.length > 1500 ? `${m.body.slice(0, 1499)}…` : m.body);
    item.tooltip = tip;
    item.contextValue = `message ${unread ? 'unread' : 'read'} ${m.from.kind === 'session' ? 'from-session' : 'from-other'}`;
    item.command = { command: COMMANDS.openMessage, title: vscode.l10n.t('Open Message'), arguments: [m.id] };
    item.accessibilityInformation = { label: `${unread ? 'Unread message' : 'Message'} from ${senderOf(m)}: ${headline}` };
    return item;
  }

  private notifyRequest(r: HumanRequest): void {
    const text = plain(r.text.length > 200 ? `${r.text.slice(0, 199)}…` : r.text);
    const agent = plain(r.agentName);
    const what = r.kind === 'question' ? vscode.l10n.t('{0} asks: {1}', agent, text)
      : r.kind === 'approval' ? vscode.l10n.t('{0} asks for approval: {1}', agent, text)
      : vscode.l10n.t('{0} is blocked: {1}', agent, text);
    const answer = link(vscode.l10n.t('Answer'), COMMANDS.answerRequest, r.id);
    const actions = r.kind === 'approval'
      ? [link(vscode.l10n.t('Approve'), COMMANDS.approveRequest, r.id), link(vscode.l10n.t('Reject'), COMMANDS.rejectRequest, r.id), answer]
      : [answer];
    // The links first: a collapsed notification cuts its text after one line, and the actions must stay visible.
    this.notices.show(`request:${r.id}`, `${actions.join(' · ')} — ${what}`);
  }

  private notifyMessage(m: Message): void {
    const received = { ...m, recipient: HUMAN, readAt: null };
    const headline = plain(messageHeadline(received));
    const actions = [
      ...(m.from.kind === 'session' ? [link(vscode.l10n.t('Reply'), COMMANDS.replyToMessage, m.id)] : []),
      link(vscode.l10n.t('Open'), COMMANDS.openMessage, m.id),
      link(vscode.l10n.t('Mark Read'), COMMANDS.markMessageRead, m.id),
    ];
    this.notices.show(`message:${m.id}`, `${actions.join(' · ')} — ${vscode.l10n.t('{0} sent you a message: {1}', plain(senderOf(received)), headline)}`);
  }
}

/** The stable `TreeItem.id` of an inbox node. */
export function inboxNodeId(node: InboxNode): string {
  switch (node.kind) {
    case 'resolved': return 'resolved';
    case 'messages': return 'messages';
    case 'message': return `message:${node.message.id}`;
    // A request moves from the top level to "Recently resolved": its status keeps the two items apart.
    case 'request': return `request:${node.request.id}:${node.request.status}`;
  }
}

/**
 * Notifications Baton closes itself, one per key: VS Code progress notifications (the only kind an
 * extension can close) that report no progress, so no bar moves. Their text may hold `[label](command:…)` links.
 */
class Notices {
  private readonly open = new Map<string, () => void>();

  show(key: string, text: string): void {
    if (this.open.has(key)) return;
    let close!: () => void;
    const closed = new Promise<void>(resolve => { close = resolve; });
    this.open.set(key, close);
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: text }, progress => {
      progress.report({ increment: 0 }); // a determinate bar at 0 %: nothing animates
      return closed;
    });
  }

  close(key: string): void {
    const close = this.open.get(key);
    if (!close) return;
    this.open.delete(key);
    close();
  }

  keys(): string[] {
    return [...this.open.keys()];
  }

  dispose(): void {
    for (const key of this.keys()) this.close(key);
  }
}

function senderOf(m: Message): string {
  return m.from.kind === 'session' && !m.from.name.includes(m.from.id) ? `${m.from.name} (${m.from.id})` : m.from.name;
}

function messageHeadline(m: Message): string {
  const text = m.subject.trim() || m.body.trim().split('\n')[0];
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

function escapeMd(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
}

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return vscode.l10n.t('just now');
  if (s < 3600) return vscode.l10n.t('{0} min ago', Math.round(s / 60));
  if (s < 86400) return vscode.l10n.t('{0} h ago', Math.round(s / 3600));
  return vscode.l10n.t('{0} d ago', Math.round(s / 86400));
}
