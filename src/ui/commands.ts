import * as path from 'node:path';
import * as vscode from 'vscode';
import { statusLabel, estimateTotal } from './labels';
import { SPRINT_STATES, TASK_STATUSES, type Actor, type Sprint, type SprintState, type Task, type TaskStatus } from '../core/model';
import { STATUS_TRANSITIONS } from '../core/statusRules';
import type { ImportReport, PlanService } from '../services/planService';
import { commandRegistrar, currentUser } from './commandRegistry';
import { COMMANDS, SETTINGS } from './constants';
import { SprintNode, TaskNode, type TasksTreeProvider } from './tasksTree';
import { taskDocumentUri } from './taskDocument';

export interface CommandDeps {
  plan: PlanService;
  tree: TasksTreeProvider;
  log: vscode.LogOutputChannel;
  workspaceFolder: vscode.Uri | undefined;
  mcpConfig: () => { url: string; token: string } | null;
}

/** A task argument as commands receive it: a tree node, a task id ('T-3'), or nothing (then we ask). */
type TaskArg = TaskNode | string | undefined;

const STATUS_ICON: Record<TaskStatus, string> = {
  TODO: 'circle-large-outline', IN_PROGRESS: 'sync', IN_REVIEW: 'eye', DONE: 'pass-filled', BLOCKED: 'error', CANCELLED: 'circle-slash',
};

/** Registers the plan commands (see `commandRegistrar` for how every handler is wrapped). */
export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const { plan, log } = deps;
  const user = (): Actor => currentUser(SETTINGS.userName);
  const register = commandRegistrar(context, log);

  const taskItems = (tasks: Task[]) => {
    const ready = new Set(plan.readyTasks().map(t => t.id));
    return tasks.map(t => ({
      label: `$(${ready.has(t.id) ? 'rocket' : STATUS_ICON[t.status]}) ${t.title}`,
      description: `${t.id} · ${statusLabel(t.status)}${ready.has(t.id) ? ' · ready' : ''}`,
      detail: t.description ? t.description.replace(/\s+/g, ' ').slice(0, 140) : undefined,
      task: t,
    }));
  };

  /** Resolves a task argument, asking with a quick pick (optionally filtered) when none was given. */
  const taskFrom = async (arg: TaskArg, placeHolder: string, filter: (t: Task) => boolean = () => true): Promise<Task | undefined> => {
    if (arg instanceof TaskNode) return plan.getTask(arg.task.id);
    if (typeof arg === 'string') return plan.resolveTask(arg);
    const selected = deps.tree.view.selection.find((n): n is TaskNode => n instanceof TaskNode);
    const candidates = plan.allTasks().filter(filter);
    if (!candidates.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No task fits: {0}', placeHolder));
      return undefined;
    }
    const items = taskItems(candidates);
    if (selected) {
      const i = items.findIndex(it => it.task.id === selected.task.id);
      if (i > 0) items.unshift(...items.splice(i, 1));
    }
    const pick = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return pick?.task;
  };

  const askText = (prompt: string, options: Partial<vscode.InputBoxOptions> = {}) =>
    vscode.window.showInputBox({ prompt, ignoreFocusOut: true, validateInput: v => (v.trim() ? undefined : vscode.l10n.t('Enter some text.')), ...options });

  register(COMMANDS.refresh, () => deps.tree.refresh());
  register(COMMANDS.showLog, () => log.show());

  register(COMMANDS.importPlan, async (file?: vscode.Uri | string) => {
    let uri = typeof file === 'string' ? vscode.Uri.file(path.resolve(deps.workspaceFolder?.fsPath ?? '', file)) : file;
    if (!uri) {
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: false, defaultUri: deps.workspaceFolder, openLabel: vscode.l10n.t('Import'),
        filters: { [vscode.l10n.t('Plans')]: ['md', 'markdown', 'json'] }, title: vscode.l10n.t('Import a markdown plan or a Task Master tasks.json'),
      });
      uri = picked?.[0];
    }
    if (!uri) return undefined;
    const content = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    const source = deps.workspaceFolder ? relativeSource(deps.workspaceFolder.fsPath, uri.fsPath) : uri.fsPath;
    const report = await plan.importDocumentAsync(content, source, user());
    log.info(`[Import] ${summarizeImport(report)}`);
    for (const s of report.skipped) log.info(`[Import] skipped${s.line ? ` line ${s.line}` : ''}: ${s.text} — ${s.reason}`);
    for (const c of report.conflicts) {
      log.info(`[Import] conflict ${c.taskId ?? c.sprintId ?? ''} ${c.field}: kept Baton's ${JSON.stringify(c.baton)}, the plan has ${JSON.stringify(c.plan)}`);
    }
    const conflicts = report.conflicts.length
      ? ' ' + vscode.l10n.t('{0} fields were changed both in Baton and in the plan: Baton\'s values were kept.', report.conflicts.length)
      : '';
    const actions = [
      ...(report.conflicts.length ? [vscode.l10n.t('Show Conflicts')] : []),
      ...(report.skipped.length ? [vscode.l10n.t('Show Skipped')] : []),
    ];
    // Not awaited: the command finishes now; the notification's action runs whenever it is clicked.
    void (report.conflicts.length ? vscode.window.showWarningMessage : vscode.window.showInformationMessage)(
      vscode.l10n.t('Imported {0}: {1}', path.basename(source), summarizeImport(report)) + conflicts,
      ...actions).then(action => action && log.show());
    return report;
  });

  register(COMMANDS.createSprint, async () => {
    const name = await askText(vscode.l10n.t('Sprint name'), { placeHolder: 'Sprint 3: Checkout flow' });
    if (!name) return undefined;
    const goal = await vscode.window.showInputBox({ prompt: vscode.l10n.t('Sprint goal (optional)'), ignoreFocusOut: true });
    if (goal === undefined) return undefined;
    return plan.createSprint({ name, goal }, user());
  });

  /**
   * Baton: Edit Sprint… — a sprint's start and end dates and state. `arg`: the tree's sprint item or a
   * sprint id (asked for when absent); `fields`: the changes (dates YYYY-MM-DD, null clears one), asked
   * for one after the other when absent (an empty date clears it). PlanService validates (real dates,
   * end not before start) and changes nothing on error. Returns the sprint, undefined when cancelled.
   */
  register(COMMANDS.editSprint, async (arg?: SprintNode | string, fields?: { startDate?: string | null; endDate?: string | null; state?: SprintState }): Promise<Sprint | undefined> => {
    let sprint: Sprint | undefined = arg instanceof SprintNode ? plan.getSprint(arg.sprint.id) : typeof arg === 'string' ? plan.getSprint(arg) : undefined;
    if (!sprint) {
      const sprints = plan.listSprints();
      if (!sprints.length) { void vscode.window.showInformationMessage(vscode.l10n.t('No sprint yet: create one first.')); return undefined; }
      const pick = await vscode.window.showQuickPick(sprints.map(s => ({ label: `$(milestone) ${s.name}`, description: `${s.id} · ${s.state}`, sprint: s })),
        { placeHolder: vscode.l10n.t('Edit which sprint?') });
      sprint = pick?.sprint;
      if (!sprint) return undefined;
    }
    if (!fields) {
      const dateInput = async (prompt: string, value: string | null) => {
        const v = await vscode.window.showInputBox({
          prompt, value: value ?? '', placeHolder: 'YYYY-MM-DD', ignoreFocusOut: true,
          validateInput: t => (!t.trim() || /^\d{4}-\d{2}-\d{2}$/.test(t.trim()) ? undefined : vscode.l10n.t('A date as YYYY-MM-DD, e.g. 2026-12-01 (empty clears it).')),
        });
        return v === undefined ? undefined : v.trim() || null;
      };
      const startDate = await dateInput(vscode.l10n.t('Start date of {0} (empty: none)', sprint.name), sprint.startDate);
      if (startDate === undefined) return undefined;
      const endDate = await dateInput(vscode.l10n.t('End date of {0} (empty: none)', sprint.name), sprint.endDate);
      if (endDate === undefined) return undefined;
      const current = sprint.state;
      const state = await vscode.window.showQuickPick(
        SPRINT_STATES.map(s => ({ label: s, description: s === current ? vscode.l10n.t('current') : undefined, state: s })),
        { placeHolder: vscode.l10n.t('State of {0}', sprint.name) });
      if (!state) return undefined;
      fields = { startDate, endDate, state: state.state };
    }
    return plan.updateSprint(sprint.id, fields, user());
  });

  register(COMMANDS.createTask, async (arg?: SprintNode | string, title?: string) => {
    let sprintId: string | null | undefined = arg instanceof SprintNode ? arg.sprint.id : typeof arg === 'string' ? arg : undefined;
    if (sprintId === undefined) {
      const sprints = plan.listSprints();
      const pick = await vscode.window.showQuickPick(
        [{ label: `$(inbox) ${vscode.l10n.t('Backlog')}`, id: null as string | null }, ...sprints.map(s => ({ label: `$(milestone) ${s.name}`, description: s.id, id: s.id as string | null }))],
        { placeHolder: vscode.l10n.t('Add the task to which sprint?') });
      if (!pick) return undefined;
      sprintId = pick.id;
    }
    const text = title ?? (await askText(vscode.l10n.t('Task title'), { placeHolder: 'Add retry to the payment webhook' }));
    if (!text) return undefined;
    const task = plan.createTask({ title: text, sprintId }, user());
    void deps.tree.reveal(task);
    return task;
  });

  register(COMMANDS.startTask, async (arg?: TaskArg) => {
    const task = await taskFrom(arg, vscode.l10n.t('Start which task?'), t => ['TODO', 'BLOCKED', 'IN_REVIEW'].includes(t.status));
    if (!task) return undefined;
    return plan.startTask(task.id, user());
  });

  register(COMMANDS.completeTask, async (arg?: TaskArg, summary?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Mark which task done?'), t => t.status === 'IN_PROGRESS' || t.status === 'IN_REVIEW');
    if (!task) return undefined;
    const text = summary ?? (await askText(vscode.l10n.t('Summary of what was done in {0}', task.id), { placeHolder: 'All tests passing, PR #42 opened' }));
    if (!text) return undefined;
    return plan.completeTask(task.id, text, user());
  });

  register(COMMANDS.setTaskStatus, async (arg?: TaskArg, status?: TaskStatus) => {
    const task = await taskFrom(arg, vscode.l10n.t('Set the status of which task?'));
    if (!task) return undefined;
    let to = status;
    if (!to) {
      const pick = await vscode.window.showQuickPick(
        STATUS_TRANSITIONS[task.status].map(s => ({ label: `$(${STATUS_ICON[s]}) ${statusLabel(s)}`, description: s, status: s })),
        { placeHolder: vscode.l10n.t('{0} is {1}; move it to…', task.id, task.status) });
      to = pick?.status;
    }
    if (!to) return undefined;
    return plan.setStatus(task.id, to, user());
  });

  register(COMMANDS.setStatusOfTasks, async (ids?: string[], status?: TaskStatus) => {
    let chosen = ids;
    if (!chosen) {
      const fromTree = deps.tree.view.selection.filter((n): n is TaskNode => n instanceof TaskNode).map(n => n.task.id);
      const picks = await vscode.window.showQuickPick(
        taskItems(plan.allTasks()).map(it => ({ ...it, picked: fromTree.includes(it.task.id) })),
        { canPickMany: true, placeHolder: vscode.l10n.t('Select the tasks to change'), matchOnDescription: true });
      chosen = picks?.map(p => p.task.id);
    }
    if (!chosen?.length) return undefined;
    let to = status;
    if (!to) to = (await vscode.window.showQuickPick(TASK_STATUSES.map(s => ({ label: `$(${STATUS_ICON[s]}) ${statusLabel(s)}`, description: s, status: s })),
      { placeHolder: vscode.l10n.t('New status for {0} tasks', chosen.length) }))?.status;
    if (!to) return undefined;
    return plan.setStatusMany(chosen, to, user());
  });

  register(COMMANDS.addNote, async (arg?: TaskArg, text?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Add a note to which task?'));
    if (!task) return undefined;
    const note = text ?? (await askText(vscode.l10n.t('Note for {0}', task.id), { placeHolder: 'Found a performance issue with the indexes' }));
    if (!note) return undefined;
    return plan.addNote(task.id, note, user());
  });

  const contextCommand = (mode: 'append' | 'replace') => async (arg?: TaskArg, text?: string) => {
    const task = await taskFrom(arg, mode === 'append' ? vscode.l10n.t('Append context to which task?') : vscode.l10n.t('Replace the context of which task?'));
    if (!task) return undefined;
    const body = text ?? (await vscode.window.showInputBox({
      prompt: mode === 'append' ? vscode.l10n.t('Text to append to the context of {0}', task.id) : vscode.l10n.t('New context for {0}', task.id),
      value: mode === 'replace' ? task.context : '', ignoreFocusOut: true,
    }));
    if (body === undefined) return undefined;
    return plan.updateContext(task.id, body, mode, user());
  };
  register(COMMANDS.appendContext, contextCommand('append'));
  register(COMMANDS.replaceContext, contextCommand('replace'));

  register(COMMANDS.addDependency, async (arg?: TaskArg, dependsOn?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Which task should wait?'));
    if (!task) return undefined;
    let target = dependsOn ? plan.resolveTask(dependsOn) : undefined;
    if (!target) target = await taskFrom(undefined, vscode.l10n.t('{0} waits for which task?', task.id), t => t.id !== task.id);
    if (!target) return undefined;
    plan.addDependency(task.id, target.id, user());
    return plan.getTaskDetails(task.id, 0).dependsOn;
  });

  register(COMMANDS.removeDependency, async (arg?: TaskArg, dependsOn?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Remove a dependency of which task?'));
    if (!task) return undefined;
    let targetId = dependsOn ? plan.resolveTask(dependsOn).id : undefined;
    if (!targetId) {
      const current = plan.getTaskDetails(task.id, 0).dependsOn;
      if (!current.length) {
        void vscode.window.showInformationMessage(vscode.l10n.t('{0} has no dependencies.', task.id));
        return undefined;
      }
      targetId = (await vscode.window.showQuickPick(current.map(d => ({ label: d.title, description: `${d.id} · ${statusLabel(d.status)}`, id: d.id })),
        { placeHolder: vscode.l10n.t('{0} should no longer wait for…', task.id) }))?.id;
    }
    if (!targetId) return undefined;
    plan.removeDependency(task.id, targetId, user());
    return plan.getTaskDetails(task.id, 0).dependsOn;
  });

  register(COMMANDS.addCheckpoint, async (arg?: TaskArg, title?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Add a checkpoint to which task?'));
    if (!task) return undefined;
    const text = title ?? (await askText(vscode.l10n.t('Checkpoint of {0}', task.id), { placeHolder: 'Migration written and reviewed' }));
    if (!text) return undefined;
    return plan.addCheckpoint(task.id, text, user());
  });

  register(COMMANDS.toggleCheckpoint, async (arg?: TaskArg, checkpoint?: string) => {
    const task = await taskFrom(arg, vscode.l10n.t('Check off a checkpoint of which task?'), t => plan.listCheckpoints(t.id).length > 0);
    if (!task) return undefined;
    const all = plan.listCheckpoints(task.id);
    if (checkpoint) {
      const n = Number(checkpoint);
      const c = all.find(x => x.id === checkpoint || x.title === checkpoint) ?? (Number.isInteger(n) ? all[n - 1] : undefined);
      return plan.setCheckpoint(task.id, checkpoint, !(c?.done ?? false), user());
    }
    const picks = await vscode.window.showQuickPick(all.map(c => ({ label: c.title, picked: c.done, id: c.id })),
      { canPickMany: true, placeHolder: vscode.l10n.t('Checked = done ({0})', task.id) });
    if (!picks) return undefined;
    const done = new Set(picks.map(p => p.id));
    let result = task;
    for (const c of all) if (c.done !== done.has(c.id)) result = plan.setCheckpoint(task.id, c.id, done.has(c.id), user());
    return result;
  });

  register(COMMANDS.openTaskDetails, async (arg?: TaskArg) => {
    const task = await taskFrom(arg, vscode.l10n.t('Open which task?'));
    if (!task) return undefined;
    const uri = taskDocumentUri(task.id);
    try {
      await vscode.commands.executeCommand('markdown.showPreview', uri);
    } catch {
      await vscode.window.showTextDocument(uri, { preview: true });
    }
    return uri;
  });

  register(COMMANDS.showReadyTasks, async () => {
    const ready = plan.readyTasks();
    if (!ready.length) {
      const c = plan.statusCounts();
      void vscode.window.showInformationMessage(vscode.l10n.t('No task is ready: {0} wait on dependencies, {1} are in progress.', c.byStatus.TODO, c.byStatus.IN_PROGRESS));
      return [];
    }
    const pick = await vscode.window.showQuickPick(taskItems(ready), { placeHolder: vscode.l10n.t('{0} ready tasks, most urgent first — pick one to start it', ready.length) });
    if (pick) return plan.startTask(pick.task.id, user());
    return ready;
  });

  register(COMMANDS.showCriticalPath, async () => {
    const { tasks, total } = plan.criticalPath();
    if (!tasks.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No unfinished work: there is no critical path.'));
      return tasks;
    }
    const pick = await vscode.window.showQuickPick(
      taskItems(tasks).map((it, i) => ({ ...it, label: `${i + 1}. ${it.label}`, description: `${it.description}${it.task.estimate !== null ? ` · ${it.task.estimate} ${it.task.estimateUnit}` : ''}` })),
      { placeHolder: vscode.l10n.t('Critical path: {0} tasks, {1} estimated in total — the chain that decides when the plan can finish', tasks.length, estimateTotal(total, tasks.filter(t => t.estimate !== null).map(t => t.estimateUnit))) });
    if (pick) await vscode.commands.executeCommand(COMMANDS.openTaskDetails, pick.task.id);
    return tasks;
  });

  register(COMMANDS.showActivity, async () => {
    const entries = plan.listActivity({ limit: 200 });
    const pick = await vscode.window.showQuickPick(entries.map(e => ({
      label: `$(${e.actor.kind === 'agent' ? 'hubot' : e.actor.kind === 'user' ? 'account' : 'gear'}) ${e.detail}`,
      description: `${e.actor.name} · ${e.at.replace('T', ' ').slice(0, 19)}${e.taskId ? ` · ${e.taskId}` : ''}`,
      taskId: e.taskId,
    })), { placeHolder: vscode.l10n.t('Activity: who did what, newest first'), matchOnDescription: true });
    if (pick?.taskId && plan.listTasks({}, { limit: 500 }).items.some(t => t.id === pick.taskId)) {
      await vscode.commands.executeCommand(COMMANDS.openTaskDetails, pick.taskId);
    }
    return entries;
  });

  register(COMMANDS.copyMcpConfig, async () => {
    const cfg = deps.mcpConfig();
    if (!cfg) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Baton\'s MCP server is not running (setting {0}).', SETTINGS.mcpEnabled));
      return undefined;
    }
    const json = JSON.stringify({ mcpServers: { baton: { type: 'http', url: cfg.url, headers: { Authorization: `Bearer ${cfg.token}` } } } }, null, 2);
    await vscode.env.clipboard.writeText(json);
    void vscode.window.showInformationMessage(vscode.l10n.t('Copied the MCP configuration for Baton at {0} (it contains the access token: keep it private).', cfg.url));
    return cfg.url;
  });

  register(COMMANDS.deleteTask, async (arg?: TaskArg, confirmed?: boolean) => {
    const task = await taskFrom(arg, vscode.l10n.t('Delete which task?'));
    if (!task) return undefined;
    if (!confirmed) {
      const yes = vscode.l10n.t('Delete');
      const answer = await vscode.window.showWarningMessage(
        vscode.l10n.t('Delete {0} "{1}" with its notes and checkpoints?', task.id, task.title), { modal: true }, yes);
      if (answer !== yes) return undefined;
    }
    plan.deleteTask(task.id, user());
    return task.id;
  });
}

function relativeSource(workspace: string, file: string): string {
  const rel = path.relative(workspace, file);
  return !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

function summarizeImport(r: ImportReport): string {
  return vscode.l10n.t('{0} sprints and {1} tasks new, {2} updated, {3} checkpoints, {4} skipped',
    r.sprints.created, r.tasks.created, r.tasks.updated + r.sprints.updated, r.checkpoints.created + r.checkpoints.updated, r.skipped.length);
}

