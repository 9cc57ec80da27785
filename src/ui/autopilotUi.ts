import * as vscode from 'vscode';
import { parseAgentRef, type AgentRef } from '../core/agent';
import type { AutopilotRunner, AutopilotRunnerSettings } from '../orchestration/autopilotRunner';
import type { AutopilotService } from '../services/autopilotService';
import { commandRegistrar, currentUser } from './commandRegistry';
import { COMMANDS, CONTEXT_KEYS, SETTINGS } from './constants';

/**
 * Autopilot in VS Code: the commands `Turn Autopilot On` / `Turn Autopilot Off` / `Toggle Autopilot` /
 * `Autopilot Status` (palette; on/off also on the Sprints & Tasks title bar, whichever applies, by the
 * `baton.autopilot.on` context key), a status-bar item (`$(rocket) Autopilot 2/4`, or why it stopped;
 * click toggles), and a warning when autopilot stops on its own (N failures in a row, budget reached)
 * with the reason and a way to resume.
 */
export function registerAutopilotUi(context: vscode.ExtensionContext, autopilot: AutopilotService, runner: AutopilotRunner, log: vscode.LogOutputChannel): void {
  const register = commandRegistrar(context, log);
  const me = () => currentUser(SETTINGS.userName);
  const set = (on: boolean) => autopilot.set(on, me()).enabled;
  register(COMMANDS.autopilotOn, () => set(true));
  register(COMMANDS.autopilotOff, () => set(false));
  register(COMMANDS.autopilotToggle, () => set(!autopilot.enabled));
  register(COMMANDS.autopilotStatus, async () => {
    const s = autopilot.status();
    const items: vscode.QuickPickItem[] = [
      { label: s.enabled ? vscode.l10n.t('$(rocket) Autopilot is on') : vscode.l10n.t('$(circle-slash) Autopilot is off'), detail: s.host?.stopped && s.enabled ? s.host.stopped : undefined },
      ...(s.host?.running ?? []).map(r => ({ label: `$(terminal) ${r.taskId}`, description: `${r.agent}${r.sessionId ? ` · ${r.sessionId}` : ''}` })),
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      ...s.recent.map(e => ({ label: e.detail, description: e.at.replace('T', ' ').slice(0, 16) })),
    ];
    await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Baton Autopilot'), canPickMany: false });
    return s;
  });

  const item = vscode.window.createStatusBarItem('baton.autopilot', vscode.StatusBarAlignment.Left, 49);
  item.name = vscode.l10n.t('Baton Autopilot');
  item.command = { command: COMMANDS.autopilotToggle, title: vscode.l10n.t('Toggle Autopilot') };
  let shownOn: boolean | undefined;
  const update = () => {
    const h = runner.hostStatus();
    const on = runner.isOn;
    if (on !== shownOn) void vscode.commands.executeCommand('setContext', CONTEXT_KEYS.autopilotOn, on);
    shownOn = on;
    const stopped = on ? h.stopped : null;
    item.text = on
      ? (stopped ? `$(warning) ${vscode.l10n.t('Autopilot stopped')}` : `$(rocket) ${vscode.l10n.t('Autopilot {0}/{1}', h.running.length, h.maxParallel)}`)
      : `$(circle-slash) ${vscode.l10n.t('Autopilot off')}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(on ? vscode.l10n.t('**Autopilot is on**: up to {0} sessions on ready tasks, critical path first.', h.maxParallel) : vscode.l10n.t('**Autopilot is off**: click to turn it on.'));
    if (stopped) tip.appendMarkdown(`\n\n$(warning) ${stopped}`);
    tip.appendMarkdown(`\n\n${vscode.l10n.t('{0} running · {1} ready · {2} agent-hours this run', h.running.length, h.ready, h.agentHours.toFixed(2))}`);
    item.tooltip = tip;
    item.backgroundColor = stopped ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.accessibilityInformation = { label: on ? `Baton autopilot on: ${h.running.length} of ${h.maxParallel} sessions${stopped ? `, stopped: ${stopped}` : ''}` : 'Baton autopilot off' };
  };
  context.subscriptions.push(item, runner.onDidChange(update), runner.onDidStop(stop => {
    const resume = vscode.l10n.t('Resume');
    const status = vscode.l10n.t('Show Decisions');
    void vscode.window.showWarningMessage(vscode.l10n.t('Baton autopilot: {0}', stop.reason), resume, status).then(choice => {
      if (choice === resume) void vscode.commands.executeCommand(COMMANDS.autopilotOn);
      else if (choice === status) void vscode.commands.executeCommand(COMMANDS.autopilotStatus);
    });
  }));
  update();
  item.show();
}

/**
 * Autopilot's settings as the runner reads them: `baton.sessions.maxParallel`, `baton.autopilot.*`.
 * The workspace's default agent is `baton.autopilot.defaultAgent` (`profile[:role]`), else
 * `baton.sessions.defaultProfile`. A bad value is logged once and its default used.
 */
export function readAutopilotSettings(log: vscode.LogOutputChannel): AutopilotRunnerSettings {
  const config = vscode.workspace.getConfiguration();
  const whole = (key: string, fallback: number, min: number): number => {
    const v = config.get<number>(key, fallback);
    if (Number.isInteger(v) && v >= min) return v;
    warnOnce(log, key, `[Autopilot] setting ${key} must be a whole number ≥ ${min}, got ${JSON.stringify(v)}; using ${fallback}.`);
    return fallback;
  };
  const budget = config.get<number>(SETTINGS.autopilotBudgetAgentHours, 0);
  let defaultAgent: AgentRef | null = null;
  const agentText = config.get<string>(SETTINGS.autopilotDefaultAgent, '').trim() || config.get<string>(SETTINGS.sessionsDefaultProfile, '').trim();
  if (agentText) {
    try {
      defaultAgent = parseAgentRef(agentText);
    } catch (error) {
      warnOnce(log, SETTINGS.autopilotDefaultAgent, `[Autopilot] setting ${SETTINGS.autopilotDefaultAgent}: ${(error as Error).message} Tasks need their own or their sprint's agent.`);
    }
  }
  return {
    maxParallel: whole(SETTINGS.sessionsMaxParallel, 4, 1),
    maxConsecutiveFailures: whole(SETTINGS.autopilotMaxConsecutiveFailures, 3, 1),
    retryLimit: whole(SETTINGS.autopilotRetryLimit, 2, 0),
    budgetAgentHours: typeof budget === 'number' && Number.isFinite(budget) && budget > 0 ? budget : null,
    defaultAgent,
  };
}

const warned = new Set<string>();
function warnOnce(log: vscode.LogOutputChannel, key: string, message: string): void {
  if (warned.has(`${key}\n${message}`)) return;
  warned.add(`${key}\n${message}`);
  log.warn(message);
}
