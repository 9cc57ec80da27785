import * as vscode from 'vscode';
import type { Sprint, Task, TaskStatus } from '../core/model';
import { groupSprintsByPlan, planLabel, type ImportedSource, type PlanGroup, type PlanLayoutEntry } from '../core/planGroups';
import { TaskGraph } from '../core/taskGraph';
import type { PlanService } from '../services/planService';
import { Disposable } from './lifecycle';
import { COMMANDS, SETTINGS, VIEWS } from './constants';
import type { StateStore } from './expansionMemory';
import { TreeExpansion } from './treeState';
import { formatAgentRef } from '../core/agent';
import { agentLine } from './labels';

/** A snapshot of the plan taken once per refresh, so every node renders from the same state. */
interface PlanSnapshot {
  sprints: Sprint[];
  tasks: Task[];
  byId: Map<string, Task>;
  graph: TaskGraph;
  ready: Set<string>;
  checkpoints: Map<string, { done: number; total: number }>;
  /** Sprints grouped by the plan they were imported from; null for the flat layout (fewer than two plans). */
  layout: PlanLayoutEntry[] | null;
  /** Tasks that have a session branch (Show Changes / Land Task… in their menu). */
  branches: Set<string>;
}

export type TreeNode = PlanNode | SprintNode | BacklogNode | TaskNode;

/** An imported plan document, holding the sprints that came from it (only when two or more plans were imported). */
export class PlanNode {
  readonly kind = 'plan';
  constructor(readonly plan: PlanGroup) {}
}

export class SprintNode {
  readonly kind = 'sprint';
  constructor(readonly sprint: Sprint) {}
}
export class BacklogNode {
  readonly kind = 'backlog';
}
export class TaskNode {
  readonly kind = 'task';
  constructor(readonly task: Task) {}
}

const STATUS_ICON: Record<TaskStatus, [string, string | undefined]> = {
  TODO: ['circle-large-outline', undefined],
  IN_PROGRESS: ['sync', 'charts.blue'],
  IN_REVIEW: ['eye', 'charts.purple'],
  DONE: ['pass-filled', 'testing.iconPassed'],
  BLOCKED: ['error', 'errorForeground'],
  CANCELLED: ['circle-slash', 'disabledForeground'],
};

const STATUS_LABEL: Record<TaskStatus, string> = {
  TODO: 'To do', IN_PROGRESS: 'In progress', IN_REVIEW: 'In review', DONE: 'Done', BLOCKED: 'Blocked', CANCELLED: 'Cancelled',
};

/** The stable `TreeItem.id` of a node (VS Code and the expansion memory know items by it). */
export function treeNodeId(node: TreeNode): string {
  switch (node.kind) {
    case 'plan': return `plan:${node.plan.source}`;
    case 'sprint': return `sprint:${node.sprint.id}`;
    case 'backlog': return 'backlog';
    case 'task': return `task:${node.task.id}`;
  }
}

/**
 * The "Sprints & Tasks" tree: sprint → tasks → subtasks, plus a Backlog for tasks outside sprints.
 * When two or more plan documents were imported, their sprints are grouped under one node per plan
 * (sprints created in Baton and the Backlog stay at the top level). Expanded and collapsed items
 * stay so across window reloads (remembered in `state`, by their stable ids).
 * Each task shows its status icon (ready tasks get a green rocket), id, estimate, progress, assignee
 * and what it still waits for; its `contextValue` (`task status-… canStart canComplete ready hasBranch`) drives
 * inline actions and context menus. Refreshes on every committed plan change.
 */
export class TasksTreeProvider extends Disposable implements vscode.TreeDataProvider<TreeNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<TreeNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  readonly view: vscode.TreeView<TreeNode>;
  private snapshot: PlanSnapshot | undefined;
  private readonly expansion: TreeExpansion<TreeNode>;
  private readonly imports: () => ImportedSource[];
  private readonly branches: () => Set<string>;

  /**
   * `imports` lists the imported documents (the store's `imports` table), for grouping sprints by plan;
   * `state` is where expansion is remembered (the workspace's `Memento`; omitted: for this window only).
   */
  constructor(private readonly plan: PlanService, options: { imports?: () => ImportedSource[]; state?: StateStore; branches?: () => Set<string> } = {}) {
    super();
    this.imports = options.imports ?? (() => []);
    this.branches = options.branches ?? (() => new Set());
    this.expansion = new TreeExpansion(VIEWS.tasks, options.state, treeNodeId);
    this.view = this._register(vscode.window.createTreeView(VIEWS.tasks, { treeDataProvider: this, showCollapseAll: true }));
    this._register(this.expansion.track(this.view));
    this._register(plan.onDidChangePlan(() => this.refresh()));
    this._register(vscode.workspace.onDidChangeConfiguration(e => {
      if (e.affectsConfiguration(SETTINGS.showCompleted)) this.refresh();
    }));
    this.updateBadge();
  }

  refresh(): void {
    this.snapshot = undefined;
    this._onDidChangeTreeData.fire(undefined);
    this.updateBadge();
  }

  private state(): PlanSnapshot {
    if (!this.snapshot) {
      const tasks = this.plan.allTasks();
      const graph = new TaskGraph(tasks, this.plan.listDependencies());
      const checkpoints = new Map<string, { done: number; total: number }>();
      for (const c of this.plan.listCheckpoints()) {
        const entry = checkpoints.get(c.taskId) ?? { done: 0, total: 0 };
        entry.total++;
        if (c.done) entry.done++;
        checkpoints.set(c.taskId, entry);
      }
      const sprints = this.plan.listSprints();
      this.snapshot = {
        sprints, tasks, byId: new Map(tasks.map(t => [t.id, t])), graph,
        ready: new Set(graph.readyTasks()), checkpoints, layout: groupSprintsByPlan(sprints, this.imports()),
        branches: this.branches(),
      };
    }
    return this.snapshot;
  }

  /**
   * The view's description says how many tasks are ready. (No badge: VS Code adds the badges of a
   * container's views, and Baton's activity-bar badge is kept to mean "agents waiting for you".)
   */
  private updateBadge(): void {
    const ready = this.plan.statusCounts().ready;
    this.view.description = ready ? vscode.l10n.t('{0} ready', ready) : undefined;
  }

  private visible(t: Task): boolean {
    const showCompleted = vscode.workspace.getConfiguration().get<boolean>(SETTINGS.showCompleted, true);
    return showCompleted || (t.status !== 'DONE' && t.status !== 'CANCELLED');
  }

  getChildren(node?: TreeNode): TreeNode[] {
    const s = this.state();
    if (!node) {
      const roots: TreeNode[] = s.layout
        ? s.layout.map(e => (e.kind === 'plan' ? new PlanNode(e.plan) : new SprintNode(e.sprint)))
        : s.sprints.map(sp => new SprintNode(sp));
      if (s.tasks.some(t => t.sprintId === null)) roots.push(new BacklogNode());
      return roots;
    }
    if (node instanceof PlanNode) return node.plan.sprints.map(sp => new SprintNode(sp));
    const topLevel = (t: Task) => t.parentId === null || !s.byId.has(t.parentId) || s.byId.get(t.parentId)!.sprintId !== t.sprintId;
    if (node instanceof SprintNode) return s.tasks.filter(t => t.sprintId === node.sprint.id && topLevel(t) && this.visible(t)).map(t => new TaskNode(t));
    if (node instanceof BacklogNode) return s.tasks.filter(t => t.sprintId === null && topLevel(t) && this.visible(t)).map(t => new TaskNode(t));
    return s.tasks.filter(t => t.parentId === node.task.id && t.sprintId === node.task.sprintId && this.visible(t)).map(t => new TaskNode(t));
  }

  getParent(node: TreeNode): TreeNode | undefined {
    const s = this.state();
    if (node instanceof SprintNode) {
      const entry = s.layout?.find(e => e.kind === 'plan' && e.plan.sprints.some(sp => sp.id === node.sprint.id));
      return entry?.kind === 'plan' ? new PlanNode(entry.plan) : undefined;
    }
    if (!(node instanceof TaskNode)) return undefined;
    const parent = node.task.parentId ? s.byId.get(node.task.parentId) : undefined;
    if (parent && parent.sprintId === node.task.sprintId) return new TaskNode(parent);
    const sprint = s.sprints.find(sp => sp.id === node.task.sprintId);
    return sprint ? new SprintNode(sprint) : new BacklogNode();
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const s = this.state();
    if (node instanceof PlanNode) return this.planItem(node, s);
    if (node instanceof SprintNode) return this.sprintItem(node.sprint, s);
    if (node instanceof BacklogNode) {
      const item = new vscode.TreeItem(vscode.l10n.t('Backlog'), this.expansion.state(treeNodeId(node), vscode.TreeItemCollapsibleState.Expanded));
      item.id = treeNodeId(node);
      item.iconPath = new vscode.ThemeIcon('inbox');
      item.contextValue = 'backlog';
      const tasks = s.tasks.filter(t => t.sprintId === null);
      item.description = vscode.l10n.t('{0} tasks', tasks.length);
      return item;
    }
    return this.taskItem(node.task, s);
  }

  private planItem(node: PlanNode, s: PlanSnapshot): vscode.TreeItem {
    const p = node.plan;
    const sprintIds = new Set(p.sprints.map(sp => sp.id));
    const tasks = s.tasks.filter(t => t.sprintId !== null && sprintIds.has(t.sprintId) && t.status !== 'CANCELLED');
    const done = tasks.filter(t => t.status === 'DONE').length;
    const item = new vscode.TreeItem(planLabel(p.source), this.expansion.state(treeNodeId(node), vscode.TreeItemCollapsibleState.Expanded));
    item.id = treeNodeId(node);
    const format = p.format === 'taskmaster' ? 'Task Master' : p.format === 'markdown' ? 'Markdown' : p.format;
    item.description = [p.source !== planLabel(p.source) ? p.source : '', format, `${done}/${tasks.length} done`].filter(Boolean).join(' · ');
    item.iconPath = new vscode.ThemeIcon(p.format === 'taskmaster' ? 'json' : 'file-text');
    const tip = new vscode.MarkdownString();
    tip.appendMarkdown(`**${escapeMd(planLabel(p.source))}** — imported plan\n\n`);
    tip.appendMarkdown(`Source: \`${p.source.replace(/`/g, "'")}\`${format ? ` (${escapeMd(format)})` : ''}  \n`);
    tip.appendMarkdown(p.importedAt ? `Last imported ${escapeMd(new Date(p.importedAt).toLocaleString())}  \n` : '');
    tip.appendMarkdown(`${p.sprints.length} sprints, ${done} of ${tasks.length} tasks done`);
    item.tooltip = tip;
    item.contextValue = 'plan';
    item.accessibilityInformation = { label: `Plan ${planLabel(p.source)}, ${p.sprints.length} sprints, ${done} of ${tasks.length} tasks done` };
    return item;
  }

  private sprintItem(sprint: Sprint, s: PlanSnapshot): vscode.TreeItem {
    const tasks = s.tasks.filter(t => t.sprintId === sprint.id && t.status !== 'CANCELLED');
    const done = tasks.filter(t => t.status === 'DONE').length;
    const ready = tasks.filter(t => s.ready.has(t.id)).length;
    const hours = tasks.filter(t => t.estimateUnit === 'hours').reduce((sum, t) => sum + (t.estimate ?? 0), 0);
    const points = tasks.filter(t => t.estimateUnit === 'points').reduce((sum, t) => sum + (t.estimate ?? 0), 0);
    const item = new vscode.TreeItem(sprint.name, this.expansion.state(`sprint:${sprint.id}`, vscode.TreeItemCollapsibleState.Expanded));
    item.id = `sprint:${sprint.id}`;
    const pct = tasks.length ? Math.round((done / tasks.length) * 100) : 0;
    item.description = [
      `${done}/${tasks.length} done · ${pct}%`,
      sprint.startDate || sprint.endDate ? `${sprint.startDate ?? '?'} → ${sprint.endDate ?? '?'}` : '',
      ready ? vscode.l10n.t('{0} ready', ready) : '',
      hours ? `${round(hours)}h` : '',
      points ? `${round(points)} pts` : '',
      sprint.agent ? `→ ${formatAgentRef(sprint.agent)}` : '',
    ].filter(Boolean).join(' · ');
    item.iconPath = new vscode.ThemeIcon(
      done === tasks.length && tasks.length ? 'pass' : sprint.state === 'active' ? 'run' : 'milestone',
      done === tasks.length && tasks.length ? new vscode.ThemeColor('testing.iconPassed') : undefined,
    );
    item.tooltip = new vscode.MarkdownString(
      `**${escapeMd(sprint.name)}** (${sprint.id})\n\n${sprint.goal ? `${escapeMd(sprint.goal)}\n\n` : ''}` +
      `${done} of ${tasks.length} tasks done, ${ready} ready${hours ? `, ${round(hours)} h estimated` : ''}${points ? `, ${round(points)} points` : ''}` +
      (sprint.agent ? `\n\nDefault agent of its tasks: ${escapeMd(formatAgentRef(sprint.agent))}` : ''),
    );
    item.contextValue = 'sprint';
    return item;
  }

  private taskItem(task: Task, s: PlanSnapshot): vscode.TreeItem {
    const hasChildren = s.tasks.some(t => t.parentId === task.id && t.sprintId === task.sprintId);
    const item = new vscode.TreeItem(task.title, hasChildren ? this.expansion.state(`task:${task.id}`, vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None);
    item.id = `task:${task.id}`;
    const ready = s.ready.has(task.id);
    const waiting = s.graph.waitingOn(task.id);
    const cps = s.checkpoints.get(task.id);
    const parts = [task.id];
    if (task.estimate !== null) parts.push(task.estimateUnit === 'hours' ? `${round(task.estimate)}h` : `${round(task.estimate)} pts`);
    if (cps) parts.push(`${cps.done}/${cps.total} ✓`);
    if (task.progress && task.status !== 'DONE') parts.push(`${task.progress}%`);
    if (task.assignee && (task.status === 'IN_PROGRESS' || task.status === 'IN_REVIEW')) parts.push(`@${task.assignee}`);
    if (task.agent) parts.push(`→ ${formatAgentRef(task.agent)}`);
    if (ready) parts.push(vscode.l10n.t('ready'));
    if (waiting.length && task.status !== 'DONE' && task.status !== 'CANCELLED') parts.push(vscode.l10n.t('after {0}', waiting.join(', ')));
    item.description = parts.join(' · ');
    const [icon, color] = ready ? ['rocket', 'charts.green'] : STATUS_ICON[task.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const deps = s.graph.dependenciesOf(task.id).map(id => s.byId.get(id)!);
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.appendMarkdown(`$(${STATUS_ICON[task.status][0]}) **${escapeMd(task.title)}** — ${task.id}\n\n`);
    tooltip.appendMarkdown(`${STATUS_LABEL[task.status]}${ready ? ' · ready to start' : ''} · priority ${task.priority}`);
    if (task.estimate !== null) tooltip.appendMarkdown(` · ${round(task.estimate)} ${task.estimateUnit}`);
    if (task.assignee) tooltip.appendMarkdown(` · ${escapeMd(task.assignee)}`);
    tooltip.appendMarkdown(` · ${task.progress}%\n\n`);
    const agent = agentLine(task.agent, task.sprintId ? s.sprints.find(x => x.id === task.sprintId)?.agent ?? null : null);
    if (agent) tooltip.appendMarkdown(`${escapeMd(agent)}\n\n`);
    if (deps.length) tooltip.appendMarkdown(`Depends on: ${deps.map(d => `${d.id} ${escapeMd(d.title)} (${STATUS_LABEL[d.status]})`).join(', ')}\n\n`);
    if (task.description) tooltip.appendMarkdown(escapeMd(task.description.slice(0, 400)) + (task.description.length > 400 ? '…' : ''));
    item.tooltip = tooltip;
    const flags = [`task`, `status-${task.status}`];
    if (task.status === 'TODO' || task.status === 'BLOCKED' || task.status === 'IN_REVIEW') flags.push('canStart');
    if (task.status === 'IN_PROGRESS' || task.status === 'IN_REVIEW') flags.push('canComplete');
    if (ready) flags.push('ready');
    if (s.branches.has(task.id)) flags.push('hasBranch');
    item.contextValue = flags.join(' ');
    item.command = { command: COMMANDS.openTaskDetails, title: vscode.l10n.t('Open Task Details'), arguments: [new TaskNode(task)] };
    item.accessibilityInformation = { label: `${task.title}, ${STATUS_LABEL[task.status]}${ready ? ', ready' : ''}, ${task.id}` };
    return item;
  }

  /**
   * Reveals and selects a task in the tree (opening the view). VS Code 1.139 can lose track of items it
   * first rendered while refreshes were queued for the hidden view (reveal then fails with "Data tree
   * node not found" until the next refresh; seen with tasks below the fold of a second plan): then the
   * tree is refreshed and the reveal tried again, a few times. Throws the last error if it still fails.
   */
  async reveal(task: Task): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.view.reveal(new TaskNode(task), { select: true, focus: false, expand: true });
        return;
      } catch (error) {
        if (attempt >= 4 || !/not found/i.test(String(error))) throw error;
        this.refresh();
        await new Promise(resolve => setTimeout(resolve, 200 * (attempt + 1)));
      }
    }
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function escapeMd(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
}
