import * as vscode from 'vscode';
import { parseWorkflowRules } from './core/workflowRules';
import type { BatonServices } from './mcp/batonMcpServer';
import type { PlanService } from './services/planService';
import { OwnedElsewhereError, WorkspaceOwner } from './services/workspaceOwner';
import { resolveStorageDir } from './store/storageLocation';
import { registerArtifactCommands } from './ui/artifactCommands';
import { registerCommands } from './ui/commands';
import { registerCoordinationCommands } from './ui/coordinationCommands';
import { InboxTreeProvider } from './ui/inboxTree';
import { SessionsTreeProvider } from './ui/sessionsTree';
import { CONTEXT_KEYS, COMMANDS, MCP_PROVIDER_ID, SETTINGS } from './ui/constants';
import { McpDefinitionProvider } from './ui/mcpDefinitionProvider';
import { PlanStatusBar } from './ui/statusBar';
import { TaskDocumentProvider } from './ui/taskDocument';
import { TasksTreeProvider } from './ui/tasksTree';

/** What `activate` returns: used by the in-host tests and by other extensions. */
export interface BatonApi {
  plan: PlanService;
  services: BatonServices;
  /** The Inbox view's data provider. */
  inboxTree: InboxTreeProvider;
  /** The Sprints & Tasks tree's data provider (what VS Code renders). */
  tasksTree: TasksTreeProvider;
  mcpUrl: string | null;
  storageDir: string;
}

let owner: WorkspaceOwner | undefined;

/**
 * Composition root: store → services → MCP server → views and commands. Nothing else lives here.
 * Baton works on the first workspace folder; without one it shows its views' welcome content.
 */
export async function activate(context: vscode.ExtensionContext): Promise<BatonApi | undefined> {
  const log = vscode.window.createOutputChannel('Baton', { log: true });
  context.subscriptions.push(log);
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file' || !context.storageUri) {
    log.info('[Baton] no local workspace folder open: Baton waits for one.');
    context.subscriptions.push(vscode.commands.registerCommand(COMMANDS.showLog, () => log.show()));
    return undefined;
  }

  const version = String(context.extension.packageJSON.version ?? '0.0.0');
  const config = vscode.workspace.getConfiguration();
  const storageDir = resolveStorageDir(folder.uri.fsPath, context.storageUri.fsPath);
  let workflowRules;
  try {
    workflowRules = parseWorkflowRules(config.get(SETTINGS.workflowRules));
  } catch (error) {
    log.warn(`[Workflow] ${(error as Error).message} Using the default rules.`);
    void vscode.window.showWarningMessage(vscode.l10n.t('Baton: setting {0} is invalid: {1} The default rules apply.', SETTINGS.workflowRules, (error as Error).message));
  }
  log.info(`[Store] state in ${storageDir}`);
  try {
    owner = await WorkspaceOwner.open({
      storageDir,
      kind: 'vscode',
      version,
      log: (level, message) => log[level](message),
      workspaceDir: folder.uri.fsPath,
      workflowRules,
      mcp: config.get<boolean>(SETTINGS.mcpEnabled, true)
        ? {
          port: config.get<number>(SETTINGS.mcpPort, 0),
          maxBodyBytes: config.get<number>(SETTINGS.mcpMaxRequestBytes, 1024 * 1024),
          tier: config.get<'core' | 'full'>(SETTINGS.mcpToolTier, 'core') === 'full' ? 'full' : 'core',
        }
        : null,
    });
  } catch (error) {
    await vscode.commands.executeCommand('setContext', CONTEXT_KEYS.unavailable, true);
    context.subscriptions.push(vscode.commands.registerCommand(COMMANDS.showLog, () => log.show()));
    if (error instanceof OwnedElsewhereError) {
      log.warn(`[Store] ${error.message}`);
      void vscode.window.showWarningMessage(
        vscode.l10n.t('Baton: this workspace\'s plan is open in another process ({0}, pid {1}). Stop it and reload the window to manage the plan here.', error.owner.kind, error.owner.pid));
    } else {
      log.error(`[Store] could not open Baton's state: ${error instanceof Error ? error.stack : String(error)}`);
      void vscode.window.showErrorMessage(vscode.l10n.t('Baton could not open its state in {0}: {1}', storageDir, String(error)));
    }
    return undefined;
  }
  const current = owner;
  context.subscriptions.push({ dispose: () => void current.close() });
  if (current.recovery.messages.length) {
    for (const m of current.recovery.messages) log.warn(`[Store] ${m}`);
    void vscode.window.showWarningMessage(vscode.l10n.t('Baton recovered its state after a crash or damage: {0}', current.recovery.messages.join(' ')), vscode.l10n.t('Show Log'))
      .then(a => a && log.show());
  }

  const plan = current.plan;
  const mcpConfig = () => (current.mcpUrl ? { url: current.mcpUrl, token: current.readToken()! } : null);
  const tree = new TasksTreeProvider(plan);
  context.subscriptions.push(tree, new PlanStatusBar(plan, () => current.mcpUrl), new TaskDocumentProvider(plan, current.services));
  registerCommands(context, { plan, tree, log, workspaceFolder: folder.uri, mcpConfig });
  const inboxTree = new InboxTreeProvider(current.services.inbox, config.get<boolean>(SETTINGS.inboxNotifications, true));
  context.subscriptions.push(inboxTree, new SessionsTreeProvider(current.services.sessions, plan));
  registerCoordinationCommands(context, current.services, inboxTree, log);
  registerArtifactCommands(context, current.services.artifacts, plan, log);
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(e => {
    if (!e.affectsConfiguration(SETTINGS.workflowRules)) return;
    try {
      current.services.workflow.setRules(parseWorkflowRules(vscode.workspace.getConfiguration().get(SETTINGS.workflowRules)));
    } catch (error) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Baton: setting {0} is invalid: {1}', SETTINGS.workflowRules, (error as Error).message));
    }
  }));
  if (current.mcpUrl && vscode.lm?.registerMcpServerDefinitionProvider) {
    const provider = new McpDefinitionProvider(mcpConfig, version);
    context.subscriptions.push(provider, vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, provider));
  }
  await vscode.commands.executeCommand('setContext', CONTEXT_KEYS.ready, true);
  log.info(`[Baton] ready: ${plan.statusCounts().total} tasks in ${plan.listSprints().length} sprints${current.mcpUrl ? `; MCP at ${current.mcpUrl}` : ''}`);
  return { plan, services: current.services, tasksTree: tree, inboxTree, mcpUrl: current.mcpUrl, storageDir };
}

export async function deactivate(): Promise<void> {
  await owner?.close();
  owner = undefined;
}
