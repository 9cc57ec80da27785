import * as vscode from 'vscode';
import type { PlanService } from '../services/planService';
import type { ChangedFile, LandMode, Lander } from '../sessions/landing';
import type { TerminalSessionRepository } from '../store/terminalSessionRepository';
import { commandRegistrar, currentUser } from './commandRegistry';
import { COMMANDS, SETTINGS } from './constants';
import { statusLabel } from './labels';
import { TaskNode } from './tasksTree';

/** URI scheme of a file's text at a commit (read-only), for the diff editor's sides. */
export const GIT_CONTENT_SCHEME = 'baton-git';

type TaskArg = TaskNode | string | undefined;

/** `baton-git:/<path>?commit=<id>`: the text of `path` at `commit` (empty when the file is not there). */
export function gitContentUri(commit: string, file: string): vscode.Uri {
  return vscode.Uri.from({ scheme: GIT_CONTENT_SCHEME, path: `/${file}`, query: new URLSearchParams({ commit }).toString() });
}

/**
 * "Baton: Show Changes of Task…" (VS Code's multi-file diff editor, `vscode.changes`, one entry per
 * changed file: base side at the merge base, branch side at the branch tip — the worktree's file when
 * the worktree is there and clean, so it can be edited) and "Baton: Land Task…" (merge, rebase or
 * keep, see sessions/landing.ts), from the palette and the task tree's menu.
 */
export function registerLandingCommands(
  context: vscode.ExtensionContext, lander: Lander, plan: PlanService, sessions: TerminalSessionRepository, log: vscode.LogOutputChannel,
): void {
  const register = commandRegistrar(context, log);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(GIT_CONTENT_SCHEME, {
    provideTextDocumentContent: uri => lander.fileAt(new URLSearchParams(uri.query).get('commit') ?? '', uri.path.replace(/^\//, '')),
  }));

  const taskFrom = async (arg: TaskArg, placeHolder: string) => {
    if (arg && typeof arg === 'object' && (arg as TaskNode).kind === 'task') return plan.getTask((arg as TaskNode).task.id);
    if (typeof arg === 'string') return plan.resolveTask(arg);
    const withBranch = sessions.tasksWithBranch();
    const tasks = plan.allTasks().filter(t => withBranch.has(t.id));
    if (!tasks.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No task has a session branch yet: agent sessions get one with the setting {0}.', SETTINGS.sessionsUseWorktrees));
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(tasks.map(t => ({ label: t.title, description: `${t.id} · ${statusLabel(t.status)}`, task: t })), { placeHolder, matchOnDescription: true });
    return pick?.task;
  };

  register(COMMANDS.showTaskChanges, async (arg?: TaskArg) => {
    const task = await taskFrom(arg, vscode.l10n.t('Show the changes of which task?'));
    if (!task) return undefined;
    const d = await lander.diff(task.id);
    if (!d.files.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('{0}: {1} changes no file against {2}.', task.id, d.branch, d.base));
      return d;
    }
    const editable = d.worktree !== null && d.uncommitted === 0;
    const right = (f: ChangedFile) => f.status === 'D' ? gitContentUri(d.branchCommit, f.path)
      : editable ? vscode.Uri.joinPath(vscode.Uri.file(d.worktree!), f.path) : gitContentUri(d.branchCommit, f.path);
    const left = (f: ChangedFile) => gitContentUri(d.mergeBase, f.oldPath ?? f.path);
    const title = vscode.l10n.t('{0}: {1} ↔ {2}', task.id, d.base, d.branch);
    // An added file has no base side and a deleted one no branch side: the editor shows them as added / deleted.
    const resources = d.files.map(f => [vscode.Uri.joinPath(vscode.Uri.file(d.repoRoot), f.path), f.status === 'A' ? undefined : left(f), f.status === 'D' ? undefined : right(f)]);
    try {
      await vscode.commands.executeCommand('vscode.changes', title, resources);
    } catch {
      // No multi-file diff editor: one diff at a time.
      const pick = await vscode.window.showQuickPick(d.files.map(f => ({ label: f.path, description: f.oldPath ? `${f.status} ← ${f.oldPath}` : f.status, file: f })), { placeHolder: title });
      if (pick) await vscode.commands.executeCommand('vscode.diff', left(pick.file), right(pick.file), `${pick.file.path} (${d.base} ↔ ${d.branch})`);
    }
    return d;
  });

  register(COMMANDS.landTask, async (arg?: TaskArg, modeArg?: LandMode) => {
    const task = await taskFrom(arg, vscode.l10n.t('Land which task?'));
    if (!task) return undefined;
    let mode = modeArg;
    if (!mode) {
      const d = await lander.diff(task.id);
      const strategy = vscode.workspace.getConfiguration().get<string>(SETTINGS.landMergeStrategy, 'ff-or-merge');
      const pick = await vscode.window.showQuickPick([
        { label: `$(git-merge) ${vscode.l10n.t('Merge')}`, description: vscode.l10n.t('into {0} ({1})', d.base, strategy), mode: 'merge' as const },
        { label: `$(git-pull-request) ${vscode.l10n.t('Rebase')}`, description: vscode.l10n.t('onto {0}, then fast-forward {0}', d.base), mode: 'rebase' as const },
        { label: `$(bookmark) ${vscode.l10n.t('Keep')}`, description: vscode.l10n.t('leave {0} as it is', d.branch), mode: 'keep' as const },
      ], { placeHolder: vscode.l10n.t('{0}: {1} is {2} commit(s) ahead of {3}, {4} behind; {5} file(s) changed', task.id, d.branch, d.ahead, d.base, d.behind, d.files.length) });
      mode = pick?.mode;
    }
    if (!mode) return undefined;
    const result = await lander.land(task.id, mode, currentUser(SETTINGS.userName));
    void vscode.window.showInformationMessage(result.message);
    return result;
  });
}
