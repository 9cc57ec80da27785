import * as path from 'node:path';
import * as vscode from 'vscode';
import { HookRunner } from './sessions/hooks';
import { mergeProfiles } from './sessions/profiles';
import { loadNodePty } from './sessions/ptyProcess';
import { SessionManager } from './sessions/sessionManager';
import { PlanRepository } from './store/planRepository';
import { TerminalSessionRepository } from './store/terminalSessionRepository';
import { AgentTerminals } from './ui/agentTerminals';
import { registerSessionCommands } from './ui/sessionCommands';
import { AutopilotRunner } from './orchestration/autopilotRunner';
import { ReviewerLauncher } from './orchestration/reviewers';
import { readAutopilotSettings, registerAutopilotUi } from './ui/autopilotUi';
import { parseWorkflowRules } from './core/workflowRules';
import { parsePipeline } from './core/reviewPipeline';
import { toolNamesOfTier, type AgentTier, type BatonServices } from './mcp/batonMcpServer';
import type { PlanService } from './services/planService';
import { openTakingOver, OwnedElsewhereError, WorkspaceOwner } from './host/workspaceOwner';
import { resolveStorageDir } from './store/storageLocation';
import { registerArtifactCommands } from './ui/artifactCommands';
import { registerLandingCommands } from './ui/landingCommands';
import type { LandingSettings } from './sessions/landing';
import { registerCommands } from './ui/commands';
import { registerCoordinationCommands } from './ui/coordinationCommands';
import { InboxTreeProvider } from './ui/inboxTree';
import { MessageDocumentProvider } from './ui/messageDocument';
import { SessionsTreeProvider } from './ui/sessionsTree';
import { CONTEXT_KEYS, COMMANDS, MCP_PROVIDER_ID, SETTINGS } from './ui/constants';
import { McpDefinitionProvider, type McpServerSource } from './ui/mcpDefinitionProvider';
import { PlanStatusBar } from './ui/statusBar';
import { TaskDocumentProvider } from './ui/taskDocument';
import { TasksTreeProvider } from './ui/tasksTree';

/** What `activate` returns: used by the in-host tests and by other extensions. */
export interface BatonApi {
  plan: PlanService;
  services: BatonServices;
  /** The Inbox view's data provider. */
  inboxTree: InboxTreeProvider;
  /** The terminal-session manager (agent CLIs Baton runs) and the Sessions view's data provider. */
  sessionManager: SessionManager;
  sessionsTree: SessionsTreeProvider;
  /** The Sprints & Tasks tree's data provider (what VS Code renders). */
  tasksTree: TasksTreeProvider;
  mcpUrl: string | null;
  storageDir: string;
  /** What Baton tells VS Code's own MCP client (`contributes.mcpServerDefinitionProviders`). */
  mcpDefinitions: McpDefinitionProvider | null;
}

let owner: WorkspaceOwner | undefined;
let sessionShutdown: (() => Promise<void>) | undefined;
let autopilotRunner: AutopilotRunner | undefined;

/**
 * Composition root: store → services → MCP server → views and commands. Nothing else lives here.
 * Baton works on the first workspace folder; without one it shows its views' welcome content.
 */
export async function activate(context: vscode.ExtensionContext): Promise<BatonApi | undefined> {
  const log = vscode.window.createOutputChannel('Baton', { log: true });
  context.subscriptions.push(log);
  // Registered first and on every activation: with no server to offer (no folder, MCP off, the plan owned
  // elsewhere, a store error) it provides none, so VS Code drops a "Baton" server it remembers.
  let mcpSource: () => McpServerSource | null = () => null;
  let mcpDefinitions: McpDefinitionProvider | null = null;
  if (vscode.lm?.registerMcpServerDefinitionProvider) {
    mcpDefinitions = new McpDefinitionProvider(() => mcpSource(), String(context.extension.packageJSON.version ?? '0.0.0'));
    context.subscriptions.push(mcpDefinitions, vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, mcpDefinitions));
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file' || !context.storageUri) {
    log.info('[Baton] no local workspace folder open: Baton waits for one.');
    context.subscriptions.push(vscode.commands.registerCommand(COMMANDS.showLog, () => log.show()));
    // Every other command answers clearly instead of VS Code's "command not found".
    const contributed = (context.extension.packageJSON.contributes?.commands ?? []) as { command: string }[];
    for (const { command } of contributed) {
      if (command === COMMANDS.showLog) continue;
      context.subscriptions.push(vscode.commands.registerCommand(command, () =>
        void vscode.window.showInformationMessage(vscode.l10n.t('Open a folder to use Baton: it keeps a plan per workspace folder.'))));
    }
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
  let reviewPipeline = config.get<string>(SETTINGS.reviewPipeline, '')?.trim() || null;
  try {
    if (reviewPipeline) parsePipeline(reviewPipeline);
  } catch (error) {
    reviewPipeline = null;
    log.warn(`[Review] ${(error as Error).message} No workspace review pipeline applies.`);
    void vscode.window.showWarningMessage(vscode.l10n.t('Baton: setting {0} is invalid: {1}', SETTINGS.reviewPipeline, (error as Error).message));
  }
  log.info(`[Store] state in ${storageDir}`);
  try {
    const opened = await openTakingOver({
      storageDir,
      kind: 'vscode',
      version,
      log: (level, message) => log[level](message),
      workspaceDir: folder.uri.fsPath,
      workflowRules,
      reviewPipeline,
      claimLeaseSeconds: positiveSetting(config, SETTINGS.tasksClaimLeaseSeconds, 900, log),
      landing: landingSettings,
      mcp: config.get<boolean>(SETTINGS.mcpEnabled, true)
        ? {
          port: config.get<number>(SETTINGS.mcpPort, 0),
          maxBodyBytes: config.get<number>(SETTINGS.mcpMaxRequestBytes, 1024 * 1024),
          tier: agentTierSetting(),
          sessionIdleSeconds: positiveSetting(config, SETTINGS.mcpSessionIdleSeconds, 600, log),
        }
        : null,
    });
    owner = opened.owner;
    if (opened.tookOverFrom) {
      log.info(`[Store] took over from baton serve (pid ${opened.tookOverFrom.pid})${opened.tookOverFrom.url ? ` on ${opened.tookOverFrom.url}` : ''}`);
      void vscode.window.showInformationMessage(vscode.l10n.t('Baton took over this workspace\'s plan from `baton serve` (pid {0}); agents keep the same MCP address.', opened.tookOverFrom.pid));
    }
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
  const mcpConfig = () => current.agentEndpoint();
  const planRepository = new PlanRepository(current.db);
  const terminalSessions = new TerminalSessionRepository(current.db);
  const tree = new TasksTreeProvider(plan, { imports: () => planRepository.listImports(), state: context.workspaceState, branches: () => terminalSessions.tasksWithBranch() });
  context.subscriptions.push(tree, new PlanStatusBar(plan, () => current.mcpUrl), new TaskDocumentProvider(plan, current.services));
  registerCommands(context, { plan, tree, log, workspaceFolder: folder.uri, mcpConfig });
  const inboxTree = new InboxTreeProvider(current.services.inbox, current.services.messages, {
    notify: () => vscode.workspace.getConfiguration().get<boolean>(SETTINGS.inboxNotifications, true),
    state: context.workspaceState,
  });
  context.subscriptions.push(inboxTree, new MessageDocumentProvider(current.services.messages, plan));
  registerCoordinationCommands(context, current.services, inboxTree, log);
  registerArtifactCommands(context, current.services.artifacts, plan, log);
  registerLandingCommands(context, current.services.landing, plan, terminalSessions, log);
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(e => {
    if (!e.affectsConfiguration(SETTINGS.reviewPipeline)) return;
    try {
      current.services.reviews.setWorkspacePipeline(vscode.workspace.getConfiguration().get<string>(SETTINGS.reviewPipeline, ''));
    } catch (error) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Baton: setting {0} is invalid: {1}', SETTINGS.reviewPipeline, (error as Error).message));
    }
  }));
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(e => {
    if (!e.affectsConfiguration(SETTINGS.workflowRules)) return;
    try {
      current.services.workflow.setRules(parseWorkflowRules(vscode.workspace.getConfiguration().get(SETTINGS.workflowRules)));
    } catch (error) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Baton: setting {0} is invalid: {1}', SETTINGS.workflowRules, (error as Error).message));
    }
  }));
  const toolNames = new Map<AgentTier, string[]>();
  mcpSource = () => {
    const endpoint = current.agentEndpoint();
    if (!endpoint) return null;
    const tier = current.agentTier;
    if (!toolNames.has(tier)) toolNames.set(tier, toolNamesOfTier(current.services, tier));
    return { ...endpoint, toolNames: toolNames.get(tier)! };
  };
  mcpDefinitions?.changed();
  context.subscriptions.push({ dispose: () => { mcpSource = () => null; mcpDefinitions?.changed(); } });
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(e => {
    if (!e.affectsConfiguration(SETTINGS.mcpToolTier) || !current.mcpUrl) return;
    current.setAgentTier(agentTierSetting());
    log.info(`[MCP] agents get the ${current.agentTier} tool tier from now on`);
    mcpDefinitions?.changed();
  }));
  const sessions = await startAgentSessions(context, current, folder.uri.fsPath, log, mcpConfig);
  // Leases see terminal sessions through the manager that runs them; people hear about lapsed claims.
  current.leases.useProbes({
    terminal: runId => {
      const live = sessions.list().find(s => s.record.id === runId);
      if (live) return { running: live.terminal.state !== 'exited', endedAt: live.record.endedAt ? Date.parse(live.record.endedAt) : null };
      const record = new TerminalSessionRepository(current.db).get(runId);
      return record ? { running: false, endedAt: record.endedAt ? Date.parse(record.endedAt) : null } : undefined;
    },
  });
  context.subscriptions.push(current.leases.onDidLapse(lapse => {
    const open = vscode.l10n.t('Open Task');
    void vscode.window.showWarningMessage(vscode.l10n.t('Baton: {0} "{1}" is back in To Do: {2}.', lapse.taskId, lapse.title, lapse.reason), open)
      .then(choice => choice && vscode.commands.executeCommand(COMMANDS.openTaskDetails, lapse.taskId));
  }));
  // Autopilot: keeps up to maxParallel sessions on ready tasks while its stored switch is on.
  const autopilot = new AutopilotRunner({
    plan, sessions, autopilot: current.services.autopilot, leases: current.leases, commit: current.db,
    settings: () => readAutopilotSettings(log), log: (level, message) => log[level](message),
  });
  context.subscriptions.push(autopilot);
  autopilotRunner = autopilot;
  registerAutopilotUi(context, current.services.autopilot, autopilot, log);
  void autopilot.start().catch(error => log.error(`[Autopilot] could not start: ${(error as Error).stack ?? String(error)}`));
  // Review pipelines: a round that opens starts its reviewer sessions in the implementer's worktree.
  context.subscriptions.push(new ReviewerLauncher({
    plan, reviews: current.services.reviews, sessions, workspaceDir: folder.uri.fsPath, log: (level, message) => log[level](message),
  }));
    const sessionsTree = new SessionsTreeProvider(current.services.sessions, plan, sessions, context.workspaceState, current.services.usage);
  context.subscriptions.push(sessionsTree);
  await vscode.commands.executeCommand('setContext', CONTEXT_KEYS.ready, true);
  log.info(`[Baton] ready: ${plan.statusCounts().total} tasks in ${plan.listSprints().length} sprints${current.mcpUrl ? `; MCP at ${current.mcpUrl}` : ''}`);
  return { plan, services: current.services, tasksTree: tree, inboxTree, sessionManager: sessions, sessionsTree, mcpUrl: current.mcpUrl, storageDir, mcpDefinitions };
}

/** `baton.land.*` and `baton.sessions.worktreeCleanup`, read at each landing. */
function landingSettings(): LandingSettings {
  const config = vscode.workspace.getConfiguration();
  return {
    mergeStrategy: config.get(SETTINGS.landMergeStrategy, 'ff-or-merge'),
    onApprove: config.get(SETTINGS.landOnApprove, 'off'),
    cleanup: config.get(SETTINGS.sessionsWorktreeCleanup, 'preserve-and-remove'),
  };
}

/** `baton.mcp.toolTier` as a tier agents may have (anything but `full` is `core`). */
function agentTierSetting(): AgentTier {
  return vscode.workspace.getConfiguration().get<string>(SETTINGS.mcpToolTier, 'core') === 'full' ? 'full' : 'core';
}

/**
 * Agent sessions: the terminal-session manager over node-pty (loaded lazily; without it sessions are
 * disabled with a clear message and the rest of Baton works), its terminals and status bar, commands,
 * terminal profiles, and reattaching sessions left running in tmux by the previous window.
 */
async function startAgentSessions(
  context: vscode.ExtensionContext, current: WorkspaceOwner, workspaceDir: string, log: vscode.LogOutputChannel,
  mcpConfig: () => { url: string; token: string } | null,
): Promise<SessionManager> {
  const pty = loadNodePty();
  if ('error' in pty) {
    log.warn(`[Sessions] agent sessions are disabled: ${pty.error}`);
    await vscode.commands.executeCommand('setContext', CONTEXT_KEYS.sessionsUnavailable, true);
  }
  const config = () => vscode.workspace.getConfiguration();
  const profiles = () => {
    const user = vscode.workspace.isTrusted ? config().get(SETTINGS.sessionsProfiles, []) : [];
    const merged = mergeProfiles(user);
    for (const e of merged.errors) log.warn(`[Sessions] ${SETTINGS.sessionsProfiles}: ${e}`);
    return merged.profiles;
  };
  let hookRunner: HookRunner | undefined;
  const hooks = () => (hookRunner ??= new HookRunner({
    hooks: config().get(SETTINGS.hooks, {}),
    trusted: () => vscode.workspace.isTrusted,
    log: (level, message) => log[level](`[Hooks] ${message}`),
  }));
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(e => {
    if (e.affectsConfiguration(SETTINGS.hooks)) hookRunner = undefined;
  }));
  const manager = new SessionManager({
    workspaceDir,
    storageDir: current.storageDir,
    plan: current.plan,
    repo: new TerminalSessionRepository(current.db),
    profiles,
    settings: () => ({
      bufferBytes: config().get(SETTINGS.sessionsBufferBytes, 1024 * 1024),
      useTmux: config().get(SETTINGS.sessionsUseTmux, true),
      useWorktrees: config().get(SETTINGS.sessionsUseWorktrees, false),
      worktreeCleanup: config().get(SETTINGS.sessionsWorktreeCleanup, 'preserve-and-remove'),
      startFrom: config().get(SETTINGS.worktreesStartFrom, 'base'),
      maxParallel: config().get(SETTINGS.sessionsMaxParallel, 4),
      cols: 120,
      rows: 32,
    }),
    hooks,
    mcpEndpoint: mcpConfig,
    startPoint: taskId => current.services.landing.startPoint(taskId),
    resumePoint: taskId => current.services.landing.resumePoint(taskId),
    telemetryEndpoint: () => current.telemetryEndpoint(),
    cliPath: path.join(context.extensionPath, 'dist', 'cli.js'),
    pty: () => ('error' in pty ? pty.error : pty.pty),
    log: (level, message) => log[level](message),
  });
  const terminals = new AgentTerminals(manager, log);
  context.subscriptions.push(terminals, { dispose: () => manager.dispose() });
  registerSessionCommands(context, manager, terminals, current.plan, log);
  for (const id of ['claude', 'gemini', 'qwen', 'codex', 'aider']) {
    context.subscriptions.push(vscode.window.registerTerminalProfileProvider(`baton.agent.${id}`, {
      async provideTerminalProfile() {
        const session = await manager.start({ profileId: id });
        const agentPty = terminals.createPty(session);
        const sub = vscode.window.onDidOpenTerminal(t => {
          if ((t.creationOptions as vscode.ExtensionTerminalOptions).pty === agentPty) {
            terminals.adopt(session.record.id, t, agentPty);
            sub.dispose();
          }
        });
        return new vscode.TerminalProfile({ name: session.record.title, pty: agentPty, iconPath: new vscode.ThemeIcon('hubot') });
      },
    }));
  }
  sessionShutdown = async () => {
    terminals.detachAll();
    await manager.shutdown();
  };
  try {
    const reattached = await manager.restore();
    for (const s of reattached) terminals.show(s.record.id, true);
    if (reattached.length) log.info(`[Sessions] reattached ${reattached.length} agent sessions still running in tmux`);
  } catch (error) {
    log.warn(`[Sessions] restoring sessions failed: ${(error as Error).message}`);
  }
  void manager.findOrphanWorktrees().then(orphans => {
    if (!orphans.length) return;
    const clean = vscode.l10n.t('Review…');
    void vscode.window.showInformationMessage(vscode.l10n.t('{0} worktrees of ended agent sessions are still there (some may hold work).', orphans.length), clean)
      .then(choice => choice && vscode.commands.executeCommand(COMMANDS.cleanupWorktrees));
  }).catch(() => undefined);
  return manager;
}

/** A whole-number setting of at least 1 (seconds); a bad value is logged and the default used. */
function positiveSetting(config: vscode.WorkspaceConfiguration, key: string, fallback: number, log: vscode.LogOutputChannel): number {
  const value = config.get<number>(key, fallback);
  if (Number.isInteger(value) && value >= 1) return value;
  log.warn(`[Baton] setting ${key} must be a whole number of seconds ≥ 1, got ${JSON.stringify(value)}; using ${fallback}.`);
  return fallback;
}

export async function deactivate(): Promise<void> {
  // Autopilot first: the sessions the window's closing ends are interrupted, not failed.
  autopilotRunner?.dispose();
  autopilotRunner = undefined;
  await sessionShutdown?.().catch(() => undefined);
  sessionShutdown = undefined;
  await owner?.close();
  owner = undefined;
}
