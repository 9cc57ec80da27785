import * as vscode from 'vscode';
import type { InboxService } from '../services/inboxService';
import type { HumanRequest } from '../store/coordinationRepository';
import { COMMANDS, VIEWS } from './constants';
import { Disposable } from './lifecycle';

export class RequestNode {
  readonly kind = 'request';
  constructor(readonly request: HumanRequest) {}
}
export class ResolvedGroupNode {
  readonly kind = 'resolved';
}
export type InboxNode = RequestNode | ResolvedGroupNode;

const ICON: Record<HumanRequest['kind'], [string, string]> = {
  question: ['question', 'charts.blue'],
  approval: ['shield', 'charts.yellow'],
  blocked: ['warning', 'errorForeground'],
};

/**
 * The "Inbox" view: every open request from every agent — questions, approvals, blockers — oldest
 * first, with a badge counting them, inline actions to answer, approve or reject, and a group of the
 * most recently resolved. A notification with the same actions appears when a new request arrives.
 */
export class InboxTreeProvider extends Disposable implements vscode.TreeDataProvider<InboxNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<InboxNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  readonly view: vscode.TreeView<InboxNode>;

  constructor(private readonly inbox: InboxService, notify: boolean) {
    super();
    this.view = this._register(vscode.window.createTreeView(VIEWS.inbox, { treeDataProvider: this }));
    this._register(inbox.onDidChangeInbox(change => {
      this.refresh();
      if (notify && change.change === 'opened') this.notify(change.request);
    }));
    this.refresh();
  }

  refresh(): void {
    this._onDidChangeTreeData.fire(undefined);
    const open = this.inbox.openCount();
    this.view.badge = open ? { value: open, tooltip: open === 1 ? vscode.l10n.t('1 agent waits for you') : vscode.l10n.t('{0} agents wait for you', open) } : undefined;
    this.view.description = open ? vscode.l10n.t('{0} waiting', open) : undefined;
  }

  getChildren(node?: InboxNode): InboxNode[] {
    if (!node) {
      const open = this.inbox.list().map(r => new RequestNode(r));
      // Open requests come first in the full list: look past them for a resolved one.
      const resolved = this.inbox.list({ includeResolved: true, limit: 500 }).some(r => r.status !== 'open');
      return resolved ? [...open, new ResolvedGroupNode()] : open;
    }
    if (node instanceof ResolvedGroupNode) {
      return this.inbox.list({ includeResolved: true, limit: 30 }).filter(r => r.status !== 'open').slice(0, 15).map(r => new RequestNode(r));
    }
    return [];
  }

  getTreeItem(node: InboxNode): vscode.TreeItem {
    if (node instanceof ResolvedGroupNode) {
      const item = new vscode.TreeItem(vscode.l10n.t('Recently resolved'), vscode.TreeItemCollapsibleState.Collapsed);
      item.id = 'resolved';
      item.iconPath = new vscode.ThemeIcon('history');
      return item;
    }
    const r = node.request;
    const firstLine = r.text.split('\n')[0];
    const item = new vscode.TreeItem(firstLine.length > 120 ? `${firstLine.slice(0, 119)}…` : firstLine);
    item.id = `request:${r.id}:${r.status}`;
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

  private notify(r: HumanRequest): void {
    const answer = vscode.l10n.t('Answer');
    const approve = vscode.l10n.t('Approve');
    const reject = vscode.l10n.t('Reject');
    const actions = r.kind === 'approval' ? [approve, reject, answer] : [answer];
    const text = r.text.length > 200 ? `${r.text.slice(0, 199)}…` : r.text;
    const what = r.kind === 'question' ? vscode.l10n.t('{0} asks: {1}', r.agentName, text)
      : r.kind === 'approval' ? vscode.l10n.t('{0} asks for approval: {1}', r.agentName, text)
      : vscode.l10n.t('{0} is blocked: {1}', r.agentName, text);
    void vscode.window.showInformationMessage(what, ...actions).then(choice => {
      if (choice === answer) void vscode.commands.executeCommand(COMMANDS.answerRequest, r.id);
      else if (choice === approve) void vscode.commands.executeCommand(COMMANDS.approveRequest, r.id);
      else if (choice === reject) void vscode.commands.executeCommand(COMMANDS.rejectRequest, r.id);
    });
  }
}

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return vscode.l10n.t('just now');
  if (s < 3600) return vscode.l10n.t('{0} min ago', Math.round(s / 60));
  if (s < 86400) return vscode.l10n.t('{0} h ago', Math.round(s / 3600));
  return vscode.l10n.t('{0} d ago', Math.round(s / 86400));
}
