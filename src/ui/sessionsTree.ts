import * as vscode from 'vscode';
import type { SessionService } from '../services/sessionService';
import type { AgentSession } from '../store/coordinationRepository';
import type { PlanService } from '../services/planService';
import { VIEWS } from './constants';
import { Disposable } from './lifecycle';

export class AgentSessionNode {
  readonly kind = 'agentSession';
  constructor(readonly session: AgentSession) {}
}

/**
 * The "Sessions" view: agent sessions connected to Baton over MCP (active first, then the most
 * recently ended), with agent, profile, role, task and how long each has run or how it ended.
 */
export class SessionsTreeProvider extends Disposable implements vscode.TreeDataProvider<AgentSessionNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<AgentSessionNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  readonly view: vscode.TreeView<AgentSessionNode>;

  constructor(private readonly sessions: SessionService, private readonly plan: PlanService) {
    super();
    this.view = this._register(vscode.window.createTreeView(VIEWS.sessions, { treeDataProvider: this }));
    this._register(sessions.onDidChangeSessions(() => this.refresh()));
    this._register(plan.onDidChangePlan(() => this.refresh()));
    this.refresh();
  }

  refresh(): void {
    this._onDidChangeTreeData.fire(undefined);
    const active = this.sessions.list({ status: 'active', limit: 1000 }).length;
    this.view.description = active ? vscode.l10n.t('{0} connected', active) : undefined;
  }

  getChildren(node?: AgentSessionNode): AgentSessionNode[] {
    if (node) return [];
    const active = this.sessions.list({ status: 'active', limit: 200 });
    const ended = this.sessions.list({ status: 'ended', limit: 10 });
    return [...active, ...ended].map(s => new AgentSessionNode(s));
  }

  getTreeItem(node: AgentSessionNode): vscode.TreeItem {
    const s = node.session;
    const item = new vscode.TreeItem(`${s.agentName}${s.profile && s.profile !== s.agentName ? ` (${s.profile})` : ''}`);
    item.id = `session:${s.id}:${s.status}`;
    let task: string | undefined;
    try {
      task = s.taskId ? `${s.taskId} ${this.plan.getTask(s.taskId).title}` : undefined;
    } catch {
      task = s.taskId ?? undefined;
    }
    const since = s.status === 'active' ? duration(Date.now() - Date.parse(s.startedAt)) : vscode.l10n.t('ended: {0}', s.endReason ?? '?');
    item.description = [s.id, s.role, task, since].filter(Boolean).join(' · ');
    item.iconPath = new vscode.ThemeIcon(s.status === 'active' ? 'hubot' : 'debug-disconnect', s.status === 'active' ? new vscode.ThemeColor('charts.green') : undefined);
    item.tooltip = new vscode.MarkdownString(
      `**${s.agentName}** — ${s.id}\n\n${s.profile ? `Profile: ${s.profile}  \n` : ''}${s.role ? `Role: ${s.role}  \n` : ''}` +
      `${task ? `Task: ${task}  \n` : ''}Started ${s.startedAt.replace('T', ' ').slice(0, 19)}` +
      `${s.endedAt ? `  \nEnded ${s.endedAt.replace('T', ' ').slice(0, 19)} (${s.endReason})` : ''}`,
    );
    item.contextValue = `agentSession ${s.status}`;
    return item;
  }
}

function duration(ms: number): string {
  const m = Math.floor(ms / 60000);
  if (m < 1) return vscode.l10n.t('just started');
  if (m < 60) return vscode.l10n.t('{0} min', m);
  return vscode.l10n.t('{0} h {1} min', Math.floor(m / 60), m % 60);
}
