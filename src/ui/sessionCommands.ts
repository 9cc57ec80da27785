import * as vscode from 'vscode';
import type { PlanService } from '../services/planService';
import type { LiveSession, SessionManager } from '../sessions/sessionManager';
import type { AgentProfile } from '../sessions/profiles';
import { checkInstalled } from '../sessions/profiles';
import type { AgentTerminals } from './agentTerminals';
import { commandRegistrar, currentUser } from './commandRegistry';
import { COMMANDS, SETTINGS } from './constants';
import { formatAgentRef, parseAgentRef, sameAgent, type AgentRef } from '../core/agent';
import { SprintNode, TaskNode } from './tasksTree';
import { AgentSessionNode, TerminalSessionNode } from './sessionsTree';

type TaskArg = TaskNode | string | undefined;
/** A session argument: a Sessions view node (inline actions pass the node), a session id, or nothing (then we ask). */
type SessionArg = TerminalSessionNode | AgentSessionNode | string | undefined;

/** The terminal-session id of a Sessions view node or an id; undefined when none was given. */
export function sessionIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg.trim() || undefined;
  if (arg instanceof TerminalSessionNode) return arg.record.id;
  if (arg && typeof arg === 'object' && (arg as TerminalSessionNode).kind === 'terminalSession') return (arg as TerminalSessionNode).record.id;
  return undefined;
}

/**
 * Commands that run agents: start a session (on a task or free), start N, start one per ready task,
 * send input, focus, stop, and clean up worktrees left by crashed sessions.
 */
export function registerSessionCommands(
  context: vscode.ExtensionContext, manager: SessionManager, terminals: AgentTerminals, plan: PlanService, log: vscode.LogOutputChannel,
): void {
  const register = commandRegistrar(context, log);

  const pickProfile = async (placeHolder: string, preferred?: string): Promise<AgentProfile | undefined> => {
    const all = manager.profiles();
    const def = preferred ?? vscode.workspace.getConfiguration().get<string>(SETTINGS.sessionsDefaultProfile);
    const items = all.map(p => {
      const installed = checkInstalled(p);
      return { label: `$(hubot) ${p.label}`, description: installed.ok ? p.command : vscode.l10n.t('not installed'), detail: installed.ok ? undefined : installed.message, profile: p };
    });
    const i = items.findIndex(it => it.profile.id === def);
    if (i > 0) items.unshift(...items.splice(i, 1));
    const pick = await vscode.window.showQuickPick(items, { placeHolder });
    return pick?.profile;
  };

  const taskIdOf = (arg: TaskArg): string | undefined =>
    arg && typeof arg === 'object' && (arg as TaskNode).kind === 'task' ? (arg as TaskNode).task.id : typeof arg === 'string' ? plan.resolveTask(arg).id : undefined;

  const pickSession = async (placeHolder: string, filter: (s: LiveSession) => boolean = () => true): Promise<LiveSession | undefined> => {
    const sessions = manager.list().filter(filter);
    if (!sessions.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No agent session is running.'));
      return undefined;
    }
    if (sessions.length === 1) return sessions[0];
    const pick = await vscode.window.showQuickPick(sessions.map(s => ({ label: s.record.title, description: `${s.record.id} · ${s.terminal.state}`, session: s })), { placeHolder, matchOnDescription: true });
    return pick?.session;
  };

  /** Asks for a role when the workspace has agent definitions (`.claude/agents/*.md`); null = none. */
  const pickRole = async (): Promise<string | null | undefined> => {
    const { definitions, errors } = manager.agentDefinitions();
    for (const e of errors) log.warn(`[Sessions] ${e.file}: ${e.message}`);
    if (!definitions.length) return null;
    const pick = await vscode.window.showQuickPick(
      [{ label: `$(circle-slash) ${vscode.l10n.t('No role')}`, name: null as string | null },
        ...definitions.map(d => ({ label: `$(person) ${d.name}`, description: d.model, detail: d.description, name: d.name as string | null }))],
      { placeHolder: vscode.l10n.t('Which role (from .claude/agents/)?') });
    return pick === undefined ? undefined : pick.name;
  };

  register(COMMANDS.startSession, async (arg?: TaskArg, profileId?: string, roleName?: string) => {
    let taskId = taskIdOf(arg);
    if (arg === undefined && profileId === undefined) {
      const ready = plan.readyTasks();
      const choice = await vscode.window.showQuickPick(
        [{ label: `$(terminal) ${vscode.l10n.t('No task (free session)')}`, id: undefined as string | undefined },
          ...ready.map(t => ({ label: `$(rocket) ${t.title}`, description: t.id, id: t.id as string | undefined }))],
        { placeHolder: vscode.l10n.t('Start an agent on which task?'), matchOnDescription: true });
      if (!choice) return undefined;
      taskId = choice.id;
    }
    const profile = profileId ? manager.profile(profileId) : await pickProfile(taskId ? vscode.l10n.t('Which agent works on {0}?', taskId) : vscode.l10n.t('Start which agent?'));
    if (!profile) return undefined;
    const role = roleName !== undefined ? roleName : profileId ? null : await pickRole();
    if (role === undefined) return undefined;
    const session = await manager.start({ profileId: profile.id, taskId, role });
    terminals.show(session.record.id);
    return session.record;
  });

  /**
   * Baton: Set Agent… on a task or a sprint (the default of its tasks). `arg`: a tree node, a task id
   * or a sprint id (`S-2`); `value`: `profile[:role]` or null to clear (both asked for when absent).
   * Returns the agent set (null when cleared), undefined when the person cancelled.
   */
  register(COMMANDS.setAgent, async (arg?: TaskNode | SprintNode | string, value?: string | null): Promise<AgentRef | null | undefined> => {
    let target: { kind: 'task' | 'sprint'; id: string; current: AgentRef | null } | undefined;
    if (arg && typeof arg === 'object' && (arg as SprintNode).kind === 'sprint') {
      const sprint = plan.getSprint((arg as SprintNode).sprint.id);
      target = { kind: 'sprint', id: sprint.id, current: sprint.agent };
    } else if (typeof arg === 'string' && /^s-\d+$/i.test(arg.trim())) {
      const sprint = plan.getSprint(arg.trim().toUpperCase());
      target = { kind: 'sprint', id: sprint.id, current: sprint.agent };
    } else {
      const id = taskIdOf(arg as TaskArg);
      if (id) {
        const task = plan.getTask(id);
        target = { kind: 'task', id: task.id, current: task.agent };
      } else {
        const open = plan.allTasks().filter(t => t.status !== 'DONE' && t.status !== 'CANCELLED');
        const pick = await vscode.window.showQuickPick(
          [...plan.listSprints().map(s => ({ label: `$(milestone) ${s.name}`, description: s.agent ? `${s.id} · ${formatAgentRef(s.agent)}` : s.id, on: 'sprint' as const, id: s.id, current: s.agent })),
            ...open.map(t => ({ label: `$(circle-large-outline) ${t.title}`, description: t.agent ? `${t.id} · ${formatAgentRef(t.agent)}` : t.id, on: 'task' as const, id: t.id, current: t.agent }))],
          { placeHolder: vscode.l10n.t('Set the agent of which task or sprint?'), matchOnDescription: true });
        if (!pick) return undefined;
        target = { kind: pick.on, id: pick.id, current: pick.current };
      }
    }
    let agent: AgentRef | null;
    if (value !== undefined) {
      agent = value === null ? null : parseAgentRef(value);
    } else {
      const profiles = manager.profiles().filter(p => p.id !== 'shell');
      const items: (vscode.QuickPickItem & { profile: string | null })[] = [
        ...profiles.map(p => ({
          label: `$(hubot) ${p.label}`, description: p.id + (target.current?.profile === p.id ? ` · ${vscode.l10n.t('current')}` : ''), profile: p.id as string | null,
        })),
      ];
      if (target.current) items.push({ label: `$(circle-slash) ${vscode.l10n.t('Clear')}`, description: formatAgentRef(target.current), profile: null });
      const pick = await vscode.window.showQuickPick(items, {
        placeHolder: target.kind === 'sprint'
          ? vscode.l10n.t('Which agent do the tasks of {0} get by default?', target.id)
          : vscode.l10n.t('Which agent does {0}?', target.id),
        matchOnDescription: true,
      });
      if (!pick) return undefined;
      if (pick.profile === null) {
        agent = null;
      } else {
        const role = await pickRole();
        if (role === undefined) return undefined;
        agent = { profile: pick.profile, role };
      }
    }
    if (sameAgent(agent, target.current)) return agent;
    const actor = currentUser(SETTINGS.userName);
    if (target.kind === 'sprint') plan.updateSprint(target.id, { agent }, actor);
    else plan.updateTask(target.id, { agent }, actor);
    return agent;
  });

  register(COMMANDS.startSessions, async (profileId?: string, count?: number) => {
    const profile = profileId ? manager.profile(profileId) : await pickProfile(vscode.l10n.t('Start several sessions of which agent?'));
    if (!profile) return undefined;
    let n = count;
    if (n === undefined) {
      const text = await vscode.window.showInputBox({ prompt: vscode.l10n.t('How many {0} sessions? Each takes the next ready task.', profile.label), value: '2',
        validateInput: v => (/^\d+$/.test(v) && +v >= 1 && +v <= 20 ? undefined : vscode.l10n.t('A number from 1 to 20.')) });
      if (!text) return undefined;
      n = Number(text);
    }
    const started = await manager.startMany(profile.id, n, plan.readyTasks().length > 0);
    started.forEach((s, i) => terminals.show(s.record.id, i < started.length - 1));
    return started.map(s => s.record);
  });

  register(COMMANDS.startReadyTasks, async (profileId?: string, limit?: number) => {
    const profile = profileId ? manager.profile(profileId) : await pickProfile(vscode.l10n.t('Which agent takes the ready tasks?'));
    if (!profile) return undefined;
    const started = await manager.startReadyTasks(profile.id, limit);
    if (!started.length) {
      void vscode.window.showInformationMessage(plan.readyTasks().length
        ? vscode.l10n.t('Already {0} sessions running: the limit (setting {1}) is reached.', manager.list().length, SETTINGS.sessionsMaxParallel)
        : vscode.l10n.t('No task is ready.'));
    }
    started.forEach((s, i) => terminals.show(s.record.id, i < started.length - 1));
    return started.map(s => s.record);
  });

  /** Text (sent with Enter), or named keystrokes when `keys` is given, e.g. `['Escape']`, `['C-c']`, `['Up', 'Enter']`. */
  register(COMMANDS.sendToSession, async (arg?: SessionArg, text?: string, keys?: string[]) => {
    const id = sessionIdOf(arg);
    const session = id ? manager.get(id) : await pickSession(vscode.l10n.t('Send input to which session?'), s => s.terminal.state !== 'exited');
    if (!session) return undefined;
    if (keys?.length) {
      manager.sendKeys(session.record.id, keys);
      return session.record.id;
    }
    const input = text ?? await vscode.window.showInputBox({ prompt: vscode.l10n.t('Input for {0}', session.record.title), ignoreFocusOut: true });
    if (input === undefined) return undefined;
    await manager.send(session.record.id, input);
    return session.record.id;
  });

  register(COMMANDS.focusSession, async (arg?: SessionArg) => {
    const id = sessionIdOf(arg);
    if (id) {
      terminals.show(id);
      return id;
    }
    return terminals.focusWaiting();
  });

  register(COMMANDS.stopSession, async (arg?: SessionArg) => {
    const id = sessionIdOf(arg);
    const session = id ? manager.get(id) : await pickSession(vscode.l10n.t('Stop which session?'));
    if (!session) return undefined;
    await manager.stop(session.record.id);
    return session.record.id;
  });

  register(COMMANDS.readSessionOutput, async (arg?: SessionArg, lines?: number) => {
    const id = sessionIdOf(arg);
    const session = id ? manager.get(id) : await pickSession(vscode.l10n.t('Read the output of which session?'));
    if (!session) return undefined;
    return manager.readOutput(session.record.id, lines ?? 50);
  });

  register(COMMANDS.cleanupWorktrees, async () => {
    const orphans = await manager.findOrphanWorktrees();
    if (!orphans.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No worktree was left behind by an ended session.'));
      return [];
    }
    const picks = await vscode.window.showQuickPick(orphans.map(o => ({
      label: o.branch ?? o.path, description: o.status?.dirty ? vscode.l10n.t('uncommitted changes') : (o.status?.unpushedCommits ? vscode.l10n.t('{0} commits only here', o.status.unpushedCommits) : vscode.l10n.t('clean')),
      detail: o.path, picked: true, orphan: o,
    })), { canPickMany: true, placeHolder: vscode.l10n.t('Clean up which worktrees? Changes are committed to their branch first and kept at a recoverable ref.') });
    if (!picks?.length) return undefined;
    const manager2 = await manager.worktreeManager();
    const results = [];
    for (const p of picks) {
      const r = await manager2!.cleanup(p.orphan);
      log.info(`[Worktrees] ${r.message}`);
      results.push(r);
    }
    void vscode.window.showInformationMessage(results.map(r => r.message).join(' '));
    return results;
  });
}
