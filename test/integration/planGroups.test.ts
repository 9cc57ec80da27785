// In the real extension host: with two plan documents imported, the Sprints & Tasks tree shows one node
// per plan with its sprints under it (two "Phase 1"s no longer look like one list); collapsing and
// expanding items is remembered by their stable ids. Runs last: it adds a second plan to the workspace.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BatonApi } from '../../src/extension';
import type { ImportReport } from '../../src/services/planService';
import type { TreeNode } from '../../src/ui/tasksTree';
import { batonApi } from './extensionApi';

const ROADMAP = `# Roadmap

## Phase 1: Discovery

- [ ] Interview five users
- [ ] Write the brief

## Phase 2: Build

- [ ] Prototype the importer
`;

async function until<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

/**
 * Reveals through VS Code, retrying while the workbench still applies a refresh: its reveal looks the item
 * up by the object of the latest getChildren, which the tree knows only once that refresh is applied.
 */
async function revealSettled(reveal: () => Thenable<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await reveal();
      return;
    } catch (error) {
      if (attempt >= 20 || !/not found/i.test(String(error))) throw error;
      await new Promise(r => setTimeout(r, 250));
    }
  }
}

const labelOf = (item: vscode.TreeItem) => (typeof item.label === 'string' ? item.label : item.label?.label);

suite('Baton plans grouped in the Sprints & Tasks tree', () => {
  let baton: BatonApi;
  const roots = () => baton.tasksTree.getChildren();
  const items = (nodes: TreeNode[]) => nodes.map(n => baton.tasksTree.getTreeItem(n));

  suiteSetup(async () => {
    baton = await batonApi();
    const folder = vscode.workspace.workspaceFolders![0].uri;
    if (!baton.plan.listSprints().some(s => s.sourceKey?.startsWith('PLAN.md#'))) {
      await vscode.commands.executeCommand('baton.importPlan', vscode.Uri.joinPath(folder, 'PLAN.md'));
    }
  });

  test('one imported plan: sprints stay at the top level', () => {
    assert.ok(!roots().some(n => n.kind === 'plan'), `no plan nodes yet: ${items(roots()).map(labelOf).join(', ')}`);
    assert.ok(roots().some(n => n.kind === 'sprint'));
  });

  test('a second imported plan: one node per plan, each with its own "Phase 1"; Baton\'s sprints and the Backlog stay at the top level', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    fs.mkdirSync(path.join(folder.fsPath, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(folder.fsPath, 'docs', 'ROADMAP.md'), ROADMAP);
    const report = await vscode.commands.executeCommand<ImportReport>('baton.importPlan', vscode.Uri.joinPath(folder, 'docs', 'ROADMAP.md'));
    assert.equal(report?.source, 'docs/ROADMAP.md');
    assert.equal(report?.sprints.created, 2);
    baton.plan.createSprint({ name: 'Hotfixes' }, { kind: 'user', name: 'it' });

    const top = roots();
    const plans = top.filter((n): n is Extract<TreeNode, { kind: 'plan' }> => n.kind === 'plan');
    assert.deepEqual(items(plans).map(labelOf), ['PLAN.md', 'ROADMAP.md']);
    const [main, roadmap] = items(plans);
    assert.equal(main.id, 'plan:PLAN.md');
    assert.equal(roadmap.id, 'plan:docs/ROADMAP.md', 'plan nodes have stable ids');
    assert.equal(roadmap.description, 'docs/ROADMAP.md · Markdown · 0/3 done');
    assert.match((roadmap.tooltip as vscode.MarkdownString).value, /Last imported /);
    assert.equal(roadmap.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);

    const mainSprints = items(baton.tasksTree.getChildren(plans[0])).map(labelOf);
    const roadmapSprints = items(baton.tasksTree.getChildren(plans[1])).map(labelOf);
    assert.equal(mainSprints.length, 5);
    assert.equal(mainSprints[0], 'Phase 1: MCP Server Implementation');
    assert.deepEqual(roadmapSprints, ['Phase 1: Discovery', 'Phase 2: Build']);
    const topLabels = items(top).map(labelOf);
    assert.ok(topLabels.includes('Hotfixes'), `a sprint made in Baton stays at the top level: ${topLabels.join(', ')}`);
    assert.equal(topLabels.at(-1), 'Backlog');
    assert.ok(!top.some(n => n.kind === 'sprint' && n.sprint.sourceKey), 'no imported sprint is left at the top level');

    // Revealing a task walks task → sprint → plan (getParent), as VS Code does to reveal it.
    const discovery = baton.tasksTree.getChildren(plans[1])[0];
    assert.ok(discovery.kind === 'sprint');
    const parent = baton.tasksTree.getParent(discovery);
    assert.equal(parent && baton.tasksTree.getTreeItem(parent).id, 'plan:docs/ROADMAP.md');
    const interview = baton.plan.allTasks().find(t => t.title === 'Interview five users')!;
    // The view opens here for the first time, grouped, with refreshes queued while it was hidden.
    await baton.tasksTree.reveal(interview);
    assert.deepEqual(baton.tasksTree.view.selection.map(n => n.kind === 'task' && n.task.id), [interview.id]);
  });

  test('collapsing and expanding items is remembered by id (what a reload restores)', async () => {
    await vscode.commands.executeCommand('baton.tasks.focus');
    const plan = () => roots().find(n => n.kind === 'plan' && n.plan.source === 'docs/ROADMAP.md')!;
    const state = () => baton.tasksTree.getTreeItem(plan()).collapsibleState;
    assert.equal(state(), vscode.TreeItemCollapsibleState.Expanded);
    await vscode.commands.executeCommand('workbench.actions.treeView.baton.tasks.collapseAll');
    await until(() => state() === vscode.TreeItemCollapsibleState.Collapsed, 'the collapsed plan to be remembered as collapsed');
    const sprint = baton.tasksTree.getChildren(plan())[0];
    await revealSettled(() => baton.tasksTree.view.reveal(sprint, { expand: true, select: false, focus: false }));
    await until(() => state() === vscode.TreeItemCollapsibleState.Expanded, 'the plan, expanded again to reveal its sprint, to be remembered as expanded');
    assert.equal(baton.tasksTree.getTreeItem(sprint).collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
  });
});
