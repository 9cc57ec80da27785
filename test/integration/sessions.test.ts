// In the real extension host: agent sessions run in Baton-owned terminals on node-pty, show in the
// Sessions view, take input, and their state and task follow what the agent does.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BatonApi } from '../../src/extension';
import { batonApi, EXTENSION_ID } from './extensionApi';
import type { TerminalSessionRecord } from '../../src/store/terminalSessionRepository';


const api = batonApi;

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

suite('Agent sessions in the extension host', () => {
  let baton: BatonApi;

  suiteSetup(async () => {
    baton = await api();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    // A user profile (from settings) running a scripted agent: it works, asks a question, waits, exits with code 3.
    await vscode.workspace.getConfiguration().update('baton.sessions.profiles', [{
      id: 'scripted', label: 'Scripted agent', command: process.execPath,
      args: [path.join(ext.extensionPath, 'test/unit/fixtures/scripted-agent.js')], prompt: 'none',
    }], vscode.ConfigurationTarget.Workspace);
  });

  test('a session started on a task runs in a terminal, shows in the Sessions view, waits, takes input and exits', async () => {
    const task = baton.plan.createTask({ title: 'Pick a database' }, { kind: 'user', name: 'it' });
    const record = await vscode.commands.executeCommand<TerminalSessionRecord>('baton.startSession', task.id, 'scripted');
    assert.ok(record, 'the command started a session');
    assert.equal(baton.plan.getTask(task.id).status, 'IN_PROGRESS');
    assert.equal(baton.plan.getTask(task.id).assignee, `scripted#${record.id}`);
    await until('the terminal', () => vscode.window.terminals.some(t => t.name === record.title));
    const session = baton.sessionManager.get(record.id);
    await until('the waiting state', () => session.terminal.state === 'waiting');
    const items = baton.sessionsTree.getChildren().map(n => baton.sessionsTree.getTreeItem(n));
    const item = items.find(i => String(i.label) === record.title)!;
    assert.ok(item, 'the Sessions view lists the session');
    assert.match(String(item.description), new RegExp(`${record.id} · waiting`));
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'bell-dot');
    await vscode.commands.executeCommand('baton.sendToSession', record.id, 'PostgreSQL');
    await until('the exit', () => baton.sessionManager.list().every(s => s.record.id !== record.id));
    const output = baton.sessionManager.history(5).find(h => h.id === record.id)!;
    assert.equal(output.exitCode, 3);
    assert.match(output.lastOutput, /Using PostgreSQL/);
    assert.equal(baton.plan.getTask(task.id).status, 'IN_PROGRESS', 'the task is not silently marked done');
  });

  test('Start Agents on Ready Tasks starts one session per ready task, up to the limit', async () => {
    await vscode.workspace.getConfiguration().update('baton.sessions.maxParallel', 2, vscode.ConfigurationTarget.Workspace);
    const sprint = baton.plan.createSprint({ name: 'Dispatch' }, { kind: 'user', name: 'it' });
    for (const t of ['one', 'two', 'three']) baton.plan.createTask({ title: `dispatch ${t}`, sprintId: sprint.id, priority: 'critical' }, { kind: 'user', name: 'it' });
    const started = await vscode.commands.executeCommand<TerminalSessionRecord[]>('baton.startReadyTasks', 'scripted');
    assert.equal(started?.length, 2);
    for (const r of started!) assert.equal(baton.plan.getTask(r.taskId!).status, 'IN_PROGRESS');
    for (const r of started!) await vscode.commands.executeCommand('baton.stopSession', r.id);
    await until('the sessions to stop', () => baton.sessionManager.list().length === 0);
  });
});
