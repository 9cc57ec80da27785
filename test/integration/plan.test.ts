// In the real extension host: Baton opens its state, imports the workspace's plan through its command,
// shows it in the Sprints & Tasks tree, runs commands, and shows changes agents make over MCP at once.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { BatonApi } from '../../src/extension';
import { batonApi, EXTENSION_ID } from './extensionApi';
import type { ImportReport } from '../../src/services/planService';
import type { Task } from '../../src/core/model';
import type { TreeNode } from '../../src/ui/tasksTree';


const api = batonApi;

/** Renders the tree the way VS Code does: labels and descriptions of every node, depth first. */
function render(baton: BatonApi, node?: TreeNode, depth = 0): string[] {
  const lines: string[] = [];
  for (const child of baton.tasksTree.getChildren(node)) {
    const item = baton.tasksTree.getTreeItem(child);
    const label = typeof item.label === 'string' ? item.label : item.label?.label;
    const icon = item.iconPath instanceof vscode.ThemeIcon ? item.iconPath.id : '';
    lines.push(`${'  '.repeat(depth)}${label} [${icon}] ${item.description ?? ''}`);
    lines.push(...render(baton, child, depth + 1));
  }
  return lines;
}

function waitForTreeChange(baton: BatonApi): Promise<void> {
  return new Promise(resolve => {
    const sub = baton.tasksTree.onDidChangeTreeData(() => {
      sub.dispose();
      resolve();
    });
  });
}

suite('Baton plan in the extension host', () => {
  let baton: BatonApi;
  let report: ImportReport;

  suiteSetup(async () => {
    baton = await api();
    const folder = vscode.workspace.workspaceFolders![0].uri;
    assert.ok(fs.existsSync(path.join(folder.fsPath, 'PLAN.md')), 'the test workspace holds PLAN.md');
    report = (await vscode.commands.executeCommand<ImportReport>('baton.importPlan', vscode.Uri.joinPath(folder, 'PLAN.md')))!;
  });

  test('Baton: Import Plan imports the workspace plan and reports counts', () => {
    assert.ok(report, 'the import command returned no report');
    assert.equal(report.source, 'PLAN.md');
    // 5 phases (the "## Timeline" weeks restate them and are skipped); 17 phase tasks + 5 steps.
    assert.equal(report.sprints.created + report.sprints.unchanged + report.sprints.updated, 5);
    assert.equal(report.tasks.created + report.tasks.unchanged + report.tasks.updated, 22);
    const waiting = baton.plan.allTasks().filter(t => baton.plan.getTaskDetails(t.id).dependsOn.length > 0);
    assert.deepEqual(waiting.map(t => t.title).sort(), [
      'Step 2: Implement Core MCP Server', 'Step 3: Create Session Manager', 'Step 4: Add CLI Commands', 'Step 5: Integration Tests',
    ], 'the steps say which step they depend on');
  });

  test('the Sprints & Tasks tree holds the imported sprints and tasks', () => {
    const lines = render(baton);
    assert.ok(lines[0].startsWith('Phase 1: MCP Server Implementation [milestone] 0/4 done · 0% · 4 ready'), lines.slice(0, 3).join('\n'));
    assert.ok(lines.some(l => /^ {2}Implement OrchestronMCPServer class \[rocket\] T-\d+ · ready/.test(l)), 'ready tasks stand out with a rocket');
    assert.ok(lines.some(l => l.startsWith('Phase 5: Testing and Validation ')));
    assert.ok(!lines.some(l => l.startsWith('Week 4 ')), 'the timeline restating the phases is not a sprint');
    assert.ok(lines.some(l => l.startsWith('Backlog ')));
  });

  test('importing again through the command duplicates nothing', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const before = baton.plan.allTasks().length;
    const again = (await vscode.commands.executeCommand<ImportReport>('baton.importPlan', vscode.Uri.joinPath(folder, 'PLAN.md')))!;
    assert.equal(again.tasks.created, 0);
    assert.equal(baton.plan.allTasks().length, before);
  });

  test('commands start a task, add a note, add a dependency and refuse a cycle', async () => {
    const [first, second] = baton.plan.readyTasks();
    const started = await vscode.commands.executeCommand<Task>('baton.startTask', first.id);
    assert.equal(started?.status, 'IN_PROGRESS');
    await vscode.commands.executeCommand('baton.addNote', first.id, 'Reviewed the SDK docs');
    assert.equal(baton.plan.getTaskDetails(first.id).notes.at(-1)?.text, 'Reviewed the SDK docs');
    await vscode.commands.executeCommand('baton.addDependency', second.id, first.id);
    assert.deepEqual(baton.plan.getTaskDetails(second.id).dependsOn.map(d => d.id), [first.id]);
    // The reverse edge would close a cycle: the command reports it and changes nothing.
    const result = await vscode.commands.executeCommand('baton.addDependency', first.id, second.id);
    assert.equal(result, undefined);
    assert.deepEqual(baton.plan.getTaskDetails(first.id).dependsOn, []);
    const lines = render(baton);
    assert.ok(lines.some(l => l.includes(`${second.id} · after ${first.id}`)), 'the waiting task shows what it waits for');
  });

  test('Baton: Set Agent… sets a task\'s agent and a sprint\'s default, shown in the tree, and clears them', async () => {
    const task = baton.plan.readyTasks()[0];
    const sprintId = task.sprintId!;
    const set = await vscode.commands.executeCommand('baton.setAgent', task.id, 'codex:reviewer');
    assert.deepEqual(set, { profile: 'codex', role: 'reviewer' });
    assert.deepEqual(baton.plan.getTask(task.id).agent, { profile: 'codex', role: 'reviewer' });
    await vscode.commands.executeCommand('baton.setAgent', sprintId, 'claude');
    assert.deepEqual(baton.plan.getSprint(sprintId).agent, { profile: 'claude', role: null });
    const lines = render(baton);
    assert.ok(lines.some(l => l.includes(`${task.id} · `) && l.includes('→ codex:reviewer')), lines.slice(0, 6).join('\n'));
    assert.ok(lines.some(l => l.startsWith(`${baton.plan.getSprint(sprintId).name} `) && l.includes('→ claude')), 'the sprint shows its default agent');
    // A bad name is refused (the command reports it) and nothing changes.
    assert.equal(await vscode.commands.executeCommand('baton.setAgent', task.id, 'claude code'), undefined);
    assert.deepEqual(baton.plan.getTask(task.id).agent, { profile: 'codex', role: 'reviewer' });
    assert.equal(await vscode.commands.executeCommand('baton.setAgent', task.id, null), null);
    assert.equal(await vscode.commands.executeCommand('baton.setAgent', sprintId, null), null);
    assert.equal(baton.plan.getTask(task.id).agent, null);
    assert.equal(baton.plan.getSprint(sprintId).agent, null);
  });

  test('Baton: Edit Sprint… sets a sprint\'s dates and state, shown in the tree; a bad date is refused and nothing changes', async () => {
    const sprint = baton.plan.listSprints()[0];
    const edited = await vscode.commands.executeCommand<{ startDate: string; endDate: string; state: string }>(
      'baton.editSprint', sprint.id, { startDate: '2026-12-01', endDate: '2026-12-14', state: 'active' });
    assert.deepEqual([edited?.startDate, edited?.endDate, edited?.state], ['2026-12-01', '2026-12-14', 'active']);
    assert.ok(render(baton).some(l => l.startsWith(`${sprint.name} `) && l.includes('2026-12-01 → 2026-12-14')), 'the sprint shows its dates');
    assert.equal(await vscode.commands.executeCommand('baton.editSprint', sprint.id, { endDate: '2026-11-30' }), undefined, 'an end before the start is refused');
    assert.equal(baton.plan.getSprint(sprint.id).endDate, '2026-12-14');
    await vscode.commands.executeCommand('baton.editSprint', sprint.id, { startDate: sprint.startDate, endDate: sprint.endDate, state: sprint.state });
    assert.deepEqual(baton.plan.getSprint(sprint.id).state, sprint.state);
  });

  test('the task details document shows the task', async () => {
    const task = baton.plan.allTasks().find(t => t.status === 'IN_PROGRESS')!;
    const uri = await vscode.commands.executeCommand<vscode.Uri>('baton.openTaskDetails', task.id);
    const doc = await vscode.workspace.openTextDocument(uri!);
    assert.match(doc.getText(), new RegExp(`^# ${task.title}`));
    assert.match(doc.getText(), /Reviewed the SDK docs/);
  });

  test('an agent\'s update over MCP shows in the tree at once', async () => {
    assert.ok(baton.mcpUrl, 'the MCP server is running');
    const token = fs.readFileSync(path.join(baton.storageDir, 'mcp-token'), 'utf8').trim();
    const client = new Client({ name: 'it-agent', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(baton.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const changed = waitForTreeChange(baton);
    const result = await client.callTool({ name: 'claim_next_task', arguments: {} });
    const claimed = JSON.parse((result.content as { text: string }[])[0].text).task;
    await changed;
    // (The test bundle has its own copy of the node classes, so nodes are told apart by `kind`, not instanceof.)
    const all = (nodes: TreeNode[]): TreeNode[] => nodes.flatMap(n => [n, ...all(baton.tasksTree.getChildren(n))]);
    const node = all(baton.tasksTree.getChildren()).find(n => n.kind === 'task' && n.task.id === claimed.id);
    assert.ok(node, `task ${claimed.id} is in the tree`);
    const item = baton.tasksTree.getTreeItem(node);
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'sync', 'the claimed task shows as in progress');
    assert.match(String(item.description), /@it-agent#/);
    await client.close();
  });
});
