import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ArtifactInfo, ArtifactService } from '../services/artifactService';
import type { PlanService } from '../services/planService';
import { commandRegistrar, currentUser } from './commandRegistry';
import { COMMANDS, SETTINGS } from './constants';
import { TaskNode } from './tasksTree';

type TaskArg = TaskNode | string | undefined;

/**
 * Artifacts from the UI: attach files to a task (or the project), open one (written to a temporary
 * file under its own name, so VS Code picks the right editor or viewer), delete one.
 */
export function registerArtifactCommands(context: vscode.ExtensionContext, artifacts: ArtifactService, plan: PlanService, log: vscode.LogOutputChannel): void {
  const register = commandRegistrar(context, log);
  const user = () => currentUser(SETTINGS.userName);

  const pickArtifact = async (placeHolder: string, taskId?: string): Promise<ArtifactInfo | undefined> => {
    const items = artifacts.list(taskId ? { taskId } : {}, { limit: 500 }).items;
    if (!items.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No artifacts stored yet.'));
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(items.slice().reverse().map(a => ({
      label: `$(file) ${a.name}`, description: `${a.id} · ${a.taskId ?? a.sprintId ?? 'project'} · ${a.mediaType} · ${formatSize(a.size)}`,
      detail: `${a.createdBy} · ${a.createdAt.replace('T', ' ').slice(0, 16)}`, artifact: a,
    })), { placeHolder, matchOnDescription: true });
    return pick?.artifact;
  };

  register(COMMANDS.attachArtifact, async (arg?: TaskArg, files?: vscode.Uri[]) => {
    const taskId = arg instanceof TaskNode || (arg && typeof arg === 'object') ? (arg as TaskNode).task.id : typeof arg === 'string' ? plan.resolveTask(arg).id : undefined;
    const uris = files ?? await vscode.window.showOpenDialog({ canSelectMany: true, openLabel: vscode.l10n.t('Attach'), title: taskId ? vscode.l10n.t('Attach files to {0}', taskId) : vscode.l10n.t('Store files as project artifacts') });
    if (!uris?.length) return undefined;
    const stored = [];
    for (const uri of uris) {
      const bytes = await vscode.workspace.fs.readFile(uri);
      stored.push(artifacts.store({ name: path.basename(uri.fsPath), content: bytes, ...(taskId ? { taskId } : {}) }, user()));
    }
    const redacted = stored.reduce((n, a) => n + a.redactions.reduce((m, r) => m + r.count, 0), 0);
    void vscode.window.showInformationMessage(redacted
      ? vscode.l10n.t('Stored {0} artifact(s); {1} secret(s) were redacted.', stored.length, redacted)
      : vscode.l10n.t('Stored {0} artifact(s).', stored.length));
    return stored;
  });

  register(COMMANDS.openArtifact, async (ref?: string | TaskNode) => {
    const info = typeof ref === 'string' ? artifacts.get(ref) : await pickArtifact(vscode.l10n.t('Open which artifact?'), ref instanceof TaskNode ? ref.task.id : undefined);
    if (!info) return undefined;
    const { bytes } = artifacts.read(info.id);
    const dir = path.join(os.tmpdir(), 'baton-artifacts', info.sha256.slice(0, 16));
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, info.name);
    fs.writeFileSync(file, bytes);
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file));
    return file;
  });

  register(COMMANDS.deleteArtifact, async (ref?: string, confirmed?: boolean) => {
    const info = typeof ref === 'string' ? artifacts.get(ref) : await pickArtifact(vscode.l10n.t('Delete which artifact?'));
    if (!info) return undefined;
    if (!confirmed) {
      const yes = vscode.l10n.t('Delete');
      if (await vscode.window.showWarningMessage(vscode.l10n.t('Delete artifact {0} "{1}"?', info.id, info.name), { modal: true }, yes) !== yes) return undefined;
    }
    return artifacts.delete(info.id, user());
  });
}

function formatSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
