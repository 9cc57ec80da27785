import * as vscode from 'vscode';
import type { PlanService } from '../services/planService';
import { Disposable } from './lifecycle';
import { VIEWS } from './constants';

/**
 * The Baton status-bar item: `$(tasklist) 3 ready · 1 in progress · 0 blocked`, live with every plan
 * change; clicking it opens the Sprints & Tasks view. Agent sessions join this item later.
 */
export class PlanStatusBar extends Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(private readonly plan: PlanService, private readonly mcpUrl: () => string | null) {
    super();
    this.item = this._register(vscode.window.createStatusBarItem('baton.status', vscode.StatusBarAlignment.Left, 50));
    this.item.name = vscode.l10n.t('Baton');
    this.item.command = { command: `${VIEWS.tasks}.focus`, title: vscode.l10n.t('Open Sprints & Tasks') };
    this._register(plan.onDidChangePlan(() => this.update()));
    this.update();
    this.item.show();
  }

  update(): void {
    const c = this.plan.statusCounts();
    const inProgress = c.byStatus.IN_PROGRESS + c.byStatus.IN_REVIEW;
    this.item.text = `$(tasklist) ${vscode.l10n.t('{0} ready · {1} in progress · {2} blocked', c.ready, inProgress, c.byStatus.BLOCKED)}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**Baton** — ${c.total} tasks\n\n`);
    tip.appendMarkdown(`$(rocket) ${c.ready} ready to start  \n$(sync) ${c.byStatus.IN_PROGRESS} in progress  \n$(eye) ${c.byStatus.IN_REVIEW} in review  \n`);
    tip.appendMarkdown(`$(error) ${c.byStatus.BLOCKED} blocked  \n$(pass) ${c.byStatus.DONE} done\n\n`);
    const url = this.mcpUrl();
    tip.appendMarkdown(url ? `MCP server: ${url}` : 'MCP server: off');
    this.item.tooltip = tip;
    this.item.backgroundColor = c.byStatus.BLOCKED ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: `Baton: ${c.ready} ready, ${inProgress} in progress, ${c.byStatus.BLOCKED} blocked` };
  }
}
