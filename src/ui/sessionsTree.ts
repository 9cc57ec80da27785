import * as vscode from 'vscode';
import type { SessionService } from '../services/sessionService';
import type { AgentSession } from '../store/coordinationRepository';
import type { PlanService } from '../services/planService';
import { formatUsage, type UsageService } from '../services/usageService';
import { COMMANDS, VIEWS } from './constants';
import type { SessionManager } from '../sessions/sessionManager';
import type { SessionState, StateDetail, StateSource } from '../sessions/stateDetector';
import type { TerminalSessionRecord } from '../store/terminalSessionRepository';
import type { StateStore } from './expansionMemory';
import { Disposable } from './lifecycle';
import { TreeExpansion } from './treeState';

export class AgentSessionNode {
  readonly kind = 'agentSession';
  constructor(readonly session: AgentSession) {}
}
/** An agent CLI running (or that ran) in a Baton terminal. */
export class TerminalSessionNode {
  readonly kind = 'terminalSession';
  constructor(
    readonly record: TerminalSessionRecord, readonly state: SessionState, readonly live: boolean,
    /** Who decided `state` (live sessions): the agent's own hooks or the screen heuristics. */
    readonly source: StateSource = 'screen',
    /** What the hook said beyond the state: waiting for approval or input, or done. */
    readonly detail: StateDetail = null,
  ) {}
}

/** "waiting for approval", "idle (done)", … : a live session's state in words, with the hook's detail. */
export function stateLabel(state: SessionState, detail: StateDetail): string {
  if (state === 'waiting' && detail) return `waiting for ${detail}`;
  return detail === 'done' ? `${state} (done)` : state;
}
export class GroupNode {
  readonly kind = 'group';
  constructor(readonly group: 'connected' | 'history', readonly count: number) {}
}
export type SessionsNode = AgentSessionNode | TerminalSessionNode | GroupNode;

const STATE_ICON: Record<SessionState, [string, string | undefined]> = {
  starting: ['loading~spin', undefined],
  working: ['sync~spin', 'charts.blue'],
  waiting: ['bell-dot', 'charts.yellow'],
  idle: ['clock', undefined],
  exited: ['circle-slash', 'disabledForeground'],
};

/**
 * The "Sessions" view: agent CLIs running in Baton terminals (state, profile, task, worktree, running
 * time), then the agents connected over MCP (launched by Baton or not), then the history of ended
 * terminal sessions with their exit codes.
 */
export class SessionsTreeProvider extends Disposable implements vscode.TreeDataProvider<SessionsNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<SessionsNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  readonly view: vscode.TreeView<SessionsNode>;
  private readonly expansion: TreeExpansion<SessionsNode>;

  /**
   * `state` remembers which groups are expanded across reloads (the workspace's `Memento`; omitted: this
   * window only). `usage` adds each terminal session's reported tokens and cost (or "not reported").
   */
  constructor(
    private readonly sessions: SessionService, private readonly plan: PlanService, private readonly terminals: SessionManager | null,
    state?: StateStore, private readonly usage?: UsageService,
  ) {
    super();
    this.expansion = new TreeExpansion<SessionsNode>(VIEWS.sessions, state, n => (n instanceof GroupNode ? `group:${n.group}` : undefined));
    this.view = this._register(vscode.window.createTreeView(VIEWS.sessions, { treeDataProvider: this }));
    this._register(this.expansion.track(this.view));
    this._register(sessions.onDidChangeSessions(() => this.refresh()));
    this._register(plan.onDidChangePlan(() => this.refresh()));
    if (terminals) this._register(terminals.onDidChangeSessions(() => this.refresh()));
    if (usage) this._register(usage.onDidChangeUsage(() => this.refresh()));
    // Running times in descriptions: refresh once a minute while anything runs.
    const timer = setInterval(() => { if (terminals?.list().length) this.refresh(); }, 60_000);
    this._register({ dispose: () => clearInterval(timer) });
    this.refresh();
  }

  refresh(): void {
    this._onDidChangeTreeData.fire(undefined);
    const running = this.terminals?.list().length ?? 0;
    const active = this.sessions.list({ status: 'active', limit: 1000 }).length;
    const parts = [running ? vscode.l10n.t('{0} running', running) : '', active ? vscode.l10n.t('{0} connected', active) : ''].filter(Boolean);
    this.view.description = parts.length ? parts.join(' · ') : undefined;
  }

  getChildren(node?: SessionsNode): SessionsNode[] {
    if (!node) {
      const live = (this.terminals?.list() ?? []).map(s => new TerminalSessionNode(s.record, s.terminal.state, true, s.terminal.stateSource, s.terminal.stateDetail));
      const connected = this.sessions.list({ status: 'active', limit: 200 }).length;
      const history = this.terminals?.history(1).length ?? 0;
      return [
        ...live,
        ...(connected || !live.length ? [new GroupNode('connected', connected)] : []),
        ...(history ? [new GroupNode('history', history)] : []),
      ];
    }
    if (node instanceof GroupNode && node.group === 'connected') {
      const active = this.sessions.list({ status: 'active', limit: 200 });
      const ended = this.sessions.list({ status: 'ended', limit: 10 });
      return [...active, ...ended].map(s => new AgentSessionNode(s));
    }
    if (node instanceof GroupNode && node.group === 'history') {
      return (this.terminals?.history(30) ?? []).map(r => new TerminalSessionNode(r, 'exited', false));
    }
    return [];
  }

  private terminalItem(node: TerminalSessionNode): vscode.TreeItem {
    const item = terminalItemOf(node);
    if (this.usage) {
      const usage = this.usage.forSession(node.record.id);
      const line = formatUsage(usage);
      item.description = `${item.description ?? ''} · ${usage.reported ? line.replace(/ \(.*\)/, '') : vscode.l10n.t('usage not reported')}`;
      (item.tooltip as vscode.MarkdownString).appendMarkdown(`\n\n${vscode.l10n.t('Tokens and cost: {0}', line)}${usage.models.length ? `  \n${vscode.l10n.t('Models: {0}', usage.models.join(', '))}` : ''}`);
    }
    return item;
  }

  getTreeItem(node: SessionsNode): vscode.TreeItem {
    if (node instanceof GroupNode) {
      const item = new vscode.TreeItem(node.group === 'connected' ? vscode.l10n.t('Connected agents (MCP)') : vscode.l10n.t('History'),
        this.expansion.state(`group:${node.group}`, node.group === 'connected' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed));
      item.id = `group:${node.group}`;
      item.iconPath = new vscode.ThemeIcon(node.group === 'connected' ? 'plug' : 'history');
      if (node.group === 'connected') item.description = String(node.count);
      return item;
    }
    if (node instanceof TerminalSessionNode) return this.terminalItem(node);
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

function terminalItemOf(node: TerminalSessionNode): vscode.TreeItem {
  const r = node.record;
  const item = new vscode.TreeItem(r.title);
  item.id = `terminal:${r.id}:${node.live ? 'live' : 'ended'}`;
  const [icon, color] = STATE_ICON[node.state];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  const ended = r.endedAt ? `${r.endReason ?? 'ended'}${r.exitCode === null ? '' : ` (exit ${r.exitCode})`}` : '';
  const stateText = stateLabel(node.state, node.detail);
  const sourceText = node.source === 'hooks' ? 'state from hooks' : 'state from the screen';
  item.description = [r.id, node.live ? (node.source === 'hooks' ? `${stateText} (hooks)` : stateText) : ended, r.branch, node.live ? duration(Date.now() - Date.parse(r.startedAt)) : r.endedAt && new Date(r.endedAt).toLocaleString()]
    .filter(Boolean).join(' · ');
  const tip = new vscode.MarkdownString();
  tip.appendMarkdown(`**${r.title}** — ${r.id}\n\n`);
  tip.appendMarkdown(`State: ${node.live ? `${stateText} (${sourceText})` : node.state}${ended ? ` — ${ended}` : ''}  \nCommand: \`${r.command.replace(/`/g, "'")}\`  \nFolder: ${r.cwd}`);
  if (r.worktree) tip.appendMarkdown(`  \nWorktree: ${r.worktree} (branch ${r.branch})`);
  if (r.tmuxSession) tip.appendMarkdown(`  \ntmux: ${r.tmuxSession}`);
  if (!node.live && r.lastOutput) {
    tip.appendMarkdown('\n\nLast output:\n');
    tip.appendCodeblock(r.lastOutput.trim().split('\n').slice(-12).join('\n'), 'text');
  }
  item.tooltip = tip;
  item.contextValue = `terminalSession ${node.live ? 'live' : 'ended'} state-${node.state}`;
  if (node.live) item.command = { command: COMMANDS.focusSession, title: vscode.l10n.t('Focus'), arguments: [r.id] };
  return item;
}

function duration(ms: number): string {
  const m = Math.floor(ms / 60000);
  if (m < 1) return vscode.l10n.t('just started');
  if (m < 60) return vscode.l10n.t('{0} min', m);
  return vscode.l10n.t('{0} h {1} min', Math.floor(m / 60), m % 60);
}
