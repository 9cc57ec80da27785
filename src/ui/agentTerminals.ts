import * as vscode from 'vscode';
import type { LiveSession, SessionManager } from '../sessions/sessionManager';
import type { SessionState } from '../sessions/stateDetector';
import { COMMANDS, SETTINGS } from './constants';
import { Disposable } from './lifecycle';

/**
 * A VS Code terminal on an agent session Baton owns: output from the session's pty (node-pty, or a
 * tmux client) is written to the terminal, keystrokes go to the agent, resizes follow the panel.
 * Closing the terminal stops the agent; a window reload only detaches (tmux keeps it running).
 */
class AgentPseudoterminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private opened = false;
  private pending: string[] = [];
  private readonly subscriptions: { dispose(): unknown }[] = [];
  /** Set while the window shuts down: closing then must not stop the agent. */
  detaching = false;

  constructor(private readonly session: LiveSession, backlog: string, private readonly onUserClose: () => void) {
    if (backlog) this.pending.push(backlog);
    this.subscriptions.push(session.terminal.onData(data => {
      if (this.opened) this.writeEmitter.fire(data);
      else this.pending.push(data);
    }));
    this.subscriptions.push(session.terminal.onExit(({ exitCode }) => {
      // Under tmux the client leaves tmux's screen when the agent exits: show the agent's last screen again.
      const lastScreen = session.terminal.tmuxSession ? `\x1b[2J\x1b[H${session.terminal.readLines(40).join('\r\n')}` : '';
      const line = `${lastScreen}\r\n\x1b[2m[${session.record.id} exited${exitCode === null ? '' : ` with code ${exitCode}`}]\x1b[0m\r\n`;
      if (this.opened) this.writeEmitter.fire(line);
      else this.pending.push(line);
    }));
  }

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.opened = true;
    if (dimensions) this.setDimensions(dimensions);
    for (const chunk of this.pending.splice(0)) this.writeEmitter.fire(chunk);
  }

  handleInput(data: string): void {
    if (this.session.terminal.state !== 'exited') this.session.terminal.write(data);
  }

  setDimensions(d: vscode.TerminalDimensions): void {
    if (this.session.terminal.state !== 'exited') this.session.terminal.resize(d.columns, d.rows);
  }

  close(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    if (this.detaching) return;
    // A window reload may close terminals just before Baton is told it deactivates: give a tmux-backed
    // session a moment, so a reload detaches it (it keeps running) instead of stopping it.
    if (this.session.terminal.tmuxSession) setTimeout(() => { if (!this.detaching) this.onUserClose(); }, 750);
    else this.onUserClose();
  }

  dispose(): void {
    this.closeEmitter.fire();
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
  }
}

const STATE_LABEL: Record<SessionState, string> = {
  starting: 'starting', working: 'working', waiting: 'waiting for you', idle: 'idle', exited: 'exited',
};

/**
 * Agent sessions in VS Code: a terminal per session, the status-bar item (`$(hubot) 3 working · 1
 * waiting`, whose click focuses the session that waits), a notification when a session starts waiting,
 * and the question of what to do with the task when a session ends.
 */
export class AgentTerminals extends Disposable {
  private readonly terminals = new Map<string, { terminal: vscode.Terminal; pty: AgentPseudoterminal }>();
  private readonly statusItem: vscode.StatusBarItem;

  constructor(private readonly manager: SessionManager, private readonly log: vscode.LogOutputChannel) {
    super();
    this.statusItem = this._register(vscode.window.createStatusBarItem('baton.sessions', vscode.StatusBarAlignment.Left, 49));
    this.statusItem.name = vscode.l10n.t('Baton Sessions');
    this.statusItem.command = COMMANDS.focusSession;
    this._register(manager.onDidChangeSessions(() => this.updateStatus()));
    this._register(manager.onDidChangeState(({ session, state, previous }) => {
      if (state === 'waiting' && previous !== 'waiting' && vscode.workspace.getConfiguration().get<boolean>(SETTINGS.sessionsNotifyWaiting, true)) {
        const focus = vscode.l10n.t('Focus');
        void vscode.window.showInformationMessage(vscode.l10n.t('{0} is waiting for your input.', session.record.title), focus)
          .then(choice => choice && this.show(session.record.id));
      }
    }));
    this._register(manager.onDidExit(exit => {
      this.updateStatus();
      if (exit.worktreeMessage) void vscode.window.showInformationMessage(exit.worktreeMessage);
      if (!exit.unfinishedTask) return;
      const task = exit.unfinishedTask;
      const done = vscode.l10n.t('Mark Done…');
      const back = vscode.l10n.t('Back to To Do');
      const keep = vscode.l10n.t('Keep In Progress');
      void vscode.window.showInformationMessage(
        vscode.l10n.t('{0} ended{1}. {2} "{3}" is {4}: what now?', exit.session.title, exit.exitCode === null ? '' : ` (exit ${exit.exitCode})`, task.id, task.title, task.status),
        done, back, keep,
      ).then(choice => {
        if (choice === done) void vscode.commands.executeCommand(COMMANDS.completeTask, task.id);
        else if (choice === back) void vscode.commands.executeCommand(COMMANDS.setTaskStatus, task.id, 'TODO');
      });
    }));
    this.updateStatus();
  }

  /** Creates (or reveals) the terminal of a session. */
  show(id: string, preserveFocus = false): vscode.Terminal {
    const existing = this.terminals.get(id);
    if (existing) {
      existing.terminal.show(preserveFocus);
      return existing.terminal;
    }
    const session = this.manager.get(id);
    const pty = this.createPty(session, session.terminal.rawOutput());
    const terminal = vscode.window.createTerminal({ name: session.record.title, pty, iconPath: new vscode.ThemeIcon('hubot'), isTransient: true });
    this.terminals.set(id, { terminal, pty });
    terminal.show(preserveFocus);
    return terminal;
  }

  /** A pseudoterminal for a session, for a terminal VS Code creates itself (terminal profiles). */
  createPty(session: LiveSession, backlog = ''): AgentPseudoterminal {
    const pty = new AgentPseudoterminal(session, backlog, () => {
      this.terminals.delete(session.record.id);
      if (session.terminal.state !== 'exited') {
        this.log.info(`[Sessions] terminal of ${session.record.id} closed: stopping the agent`);
        void this.manager.stop(session.record.id).catch(e => this.log.warn(`[Sessions] stop ${session.record.id}: ${e}`));
      }
    });
    return pty;
  }

  adopt(id: string, terminal: vscode.Terminal, pty: AgentPseudoterminal): void {
    this.terminals.set(id, { terminal, pty });
  }

  /** The window is closing: keep tmux sessions running (their terminals close without stopping them). */
  detachAll(): void {
    for (const { pty } of this.terminals.values()) pty.detaching = true;
  }

  /** Focuses the session waiting for input (the oldest), else the most recent one. */
  focusWaiting(): string | undefined {
    const sessions = this.manager.list();
    const target = sessions.find(s => s.terminal.state === 'waiting') ?? sessions.at(-1);
    if (!target) return undefined;
    this.show(target.record.id);
    return target.record.id;
  }

  private updateStatus(): void {
    const c = this.manager.counts();
    const live = this.manager.list().length;
    if (!live) {
      this.statusItem.hide();
      return;
    }
    const parts = [`${c.working + c.starting} ${vscode.l10n.t('working')}`];
    if (c.waiting) parts.push(`${c.waiting} ${vscode.l10n.t('waiting')}`);
    if (c.idle) parts.push(`${c.idle} ${vscode.l10n.t('idle')}`);
    this.statusItem.text = `$(hubot) ${parts.join(' · ')}`;
    this.statusItem.backgroundColor = c.waiting ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.statusItem.tooltip = new vscode.MarkdownString(this.manager.list().map(s => `- **${s.record.id}** ${s.record.title} — ${STATE_LABEL[s.terminal.state]}`).join('\n'));
    this.statusItem.accessibilityInformation = { label: `Baton sessions: ${parts.join(', ')}` };
    this.statusItem.show();
  }
}
