import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Emitter, type Event } from '../core/event';
import { BatonError, invalid, notFound } from '../core/errors';
import type { Actor, Task } from '../core/model';
import { redactSecrets } from '../core/redaction';
import type { PlanService } from '../services/planService';
import type { TerminalSessionRecord, TerminalSessionRepository } from '../store/terminalSessionRepository';
import type { HookRunner } from './hooks';
import { listAgentDefinitions, type AgentDefinition } from './agentDefinitions';
import { wireMcp } from './mcpWiring';
import { HOOK_TOKEN_FILE, HookReceiver, newHookToken, stateFromHookEvent, wireAgentHooks, type HookCoverage, type HookEvent } from './agentHooks';
import { wireTelemetry } from './telemetryWiring';
import { checkInstalled, profileDetectorPatterns, type AgentProfile } from './profiles';
import type { SessionState } from './stateDetector';
import { TerminalSession } from './terminalSession';
import { publishSessionState } from './sessionStateFile';
import { tmuxAvailable } from './tmux';
import { WorktreeManager, type WorktreeCleanupPolicy } from './worktrees';

export interface SessionSettings {
  /** Bytes of recent output kept per session. */
  bufferBytes: number;
  /** Run sessions inside tmux (when installed) so they outlive the window. */
  useTmux: boolean;
  useWorktrees: boolean;
  worktreeCleanup: WorktreeCleanupPolicy;
  /**
   * `baton.worktrees.startFrom`: a task's worktree starts from the base (`HEAD` of the workspace), or
   * from the branch of its dependency that is done but not landed yet (`dependency-branch`). Default `base`.
   */
  startFrom?: 'base' | 'dependency-branch';
  /** Most sessions "Start ready tasks" runs at once. */
  maxParallel: number;
  cols: number;
  rows: number;
}

export interface SessionManagerOptions {
  workspaceDir: string;
  /** Per-session private folders go under `<storageDir>/sessions/<id>` (mode 0700). */
  storageDir: string;
  plan: PlanService;
  repo: TerminalSessionRepository;
  profiles: () => AgentProfile[];
  settings: () => SessionSettings;
  /** The hook runner for the current settings. */
  hooks: () => HookRunner;
  mcpEndpoint: () => { url: string; token: string } | null;
  /**
   * Baton's OTLP receiver (the owner's `telemetryEndpoint()`): each session's CLI is set to report its
   * token usage there with the session's own token (src/sessions/telemetryWiring.ts). Absent or null:
   * usage shows as "not reported".
   */
  telemetryEndpoint?: () => { url: string; tokenFor: (sessionId: string) => string } | null;
  /** The `baton` CLI (for agents that only speak MCP over stdio, and `baton hook`). */
  cliPath?: string;
  /**
   * How agents run the `baton` CLI for `baton hook` (default `{ command: process.execPath, args: [cliPath] }`;
   * tests run it from source). Without it and without `cliPath`, agents' hooks are not wired.
   */
  hookCommand?: { command: string; args: string[] };
  /** node-pty, loaded lazily by the caller; a string is why it is unavailable. */
  pty: () => typeof import('node-pty') | string;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Where a task's worktree starts under `startFrom: dependency-branch` (Lander.startPoint); null: the base. */
  startPoint?: (taskId: string) => Promise<{ baseRef: string; baseBranch: string; dependency: string } | null>;
  /**
   * Where a task's new worktree goes on from the task's own earlier, unlanded work (Lander.resumePoint):
   * it wins over `startPoint` and the base; null: none.
   */
  resumePoint?: (taskId: string) => Promise<{ baseRef: string; baseBranch: string; branch: string; sessionId: string } | null>;
  /** tmux socket name (tests use their own). */
  tmuxSocket?: string;
  now?: () => Date;
}

/** A running agent session: its record and its live terminal. */
export interface LiveSession {
  record: TerminalSessionRecord;
  terminal: TerminalSession;
  profile: AgentProfile;
  /** How much of its state the agent's own hooks report (see `wireAgentHooks`); `none` when not wired. */
  hookCoverage: HookCoverage;
}

/** How long after an agent's last hook event its hooks, not the screen, decide its state (ms). */
export const HOOK_HOLD_MS = 30 * 60_000;

export interface SessionExit {
  session: TerminalSessionRecord;
  exitCode: number | null;
  /** The task, when it is still unfinished: the person (or the agent's own MCP report) decides what happens. */
  unfinishedTask: Task | null;
  /** Where a worktree's work was kept, when it was released. */
  worktreeMessage: string | null;
}

/**
 * The terminal-session manager: launches agent CLIs (profiles) on node-pty — inside tmux when
 * available, so they survive a window reload — optionally each in its own git worktree, wires them to
 * Baton's MCP server, hands them their task, tracks their state from output and process, runs the
 * lifecycle hooks, and records every session in the database as history.
 *
 * Tasks drive sessions: starting a session on a task starts the task and assigns it to the session;
 * when a session exits its task is never silently marked done (see `onDidExit`).
 */
export class SessionManager {
  private readonly live = new Map<string, LiveSession>();
  private readonly _onDidChangeSessions = new Emitter<{ id: string }>();
  readonly onDidChangeSessions: Event<{ id: string }> = this._onDidChangeSessions.event;
  private readonly _onDidChangeState = new Emitter<{ session: LiveSession; state: SessionState; previous: SessionState }>();
  readonly onDidChangeState: Event<{ session: LiveSession; state: SessionState; previous: SessionState }> = this._onDidChangeState.event;
  private readonly _onDidExit = new Emitter<SessionExit>();
  readonly onDidExit: Event<SessionExit> = this._onDidExit.event;
  private readonly now: () => Date;
  private worktrees: WorktreeManager | null | undefined;
  private receiver: HookReceiver | null = null;
  private receiverStart: Promise<HookReceiver | null> | null = null;

  /** Distinguishes this workspace's tmux sessions from other windows' on Baton's shared tmux server. */
  private readonly scope: string;

  constructor(private readonly options: SessionManagerOptions) {
    this.now = options.now ?? (() => new Date());
    this.scope = createHash('sha256').update(path.resolve(options.storageDir)).digest('hex').slice(0, 8);
  }

  dispose(): void {
    void this.receiver?.stop();
    this._onDidChangeSessions.dispose();
    this._onDidChangeState.dispose();
    this._onDidExit.dispose();
  }

  /** Running sessions, in start order. */
  list(): LiveSession[] {
    return [...this.live.values()];
  }

  get(id: string): LiveSession {
    const s = this.live.get(normalize(id));
    if (!s) throw notFound(`No running agent session "${id}".`);
    return s;
  }

  history(limit = 50): TerminalSessionRecord[] {
    return this.options.repo.listHistory(limit);
  }

  /** Counts by state, for the status bar. */
  counts(): Record<SessionState, number> {
    const c: Record<SessionState, number> = { starting: 0, working: 0, waiting: 0, idle: 0, exited: 0 };
    for (const s of this.live.values()) c[s.terminal.state]++;
    return c;
  }

  /** Every agent profile: built-ins and the user's, as settings say now. */
  profiles(): AgentProfile[] {
    return this.options.profiles();
  }

  profile(id: string): AgentProfile {
    const p = this.options.profiles().find(x => x.id === id);
    if (!p) throw invalid(`No agent profile "${id}"; profiles: ${this.options.profiles().map(x => x.id).join(', ')}.`);
    return p;
  }

  /**
   * Starts one agent session. With `taskId` the task moves to IN_PROGRESS, is assigned to the session,
   * and its prompt (title, description, checkpoints, notes, dependencies' summaries) reaches the agent
   * as the profile says. @throws BatonError when the profile's command is not installed (with how to
   * install it), the task cannot start, or sessions are unavailable (no node-pty).
   */
  /**
   * Starts an agent session. `review`: a reviewer session of a review round (`orchestration/reviewers.ts`):
   * it runs in `review.cwd` (the implementer's worktree, so it sees the work on its branch; no worktree of
   * its own), is given `review.prompt` instead of a task prompt, claims nothing (the task stays IN_REVIEW)
   * and has `BATON_REVIEW_TASK_ID` set.
   */
  async start(input: {
    profileId: string; taskId?: string | null; role?: string | null; worktree?: boolean; cols?: number; rows?: number;
    review?: { taskId: string; cwd: string; prompt: string };
  }): Promise<LiveSession> {
    const pty = this.options.pty();
    if (typeof pty === 'string') throw new BatonError('UNAVAILABLE', `Agent sessions are unavailable: ${pty}`);
    const profile = this.profile(input.profileId);
    const installed = checkInstalled(profile);
    if (!installed.ok) throw new BatonError('UNAVAILABLE', installed.message);
    const settings = this.options.settings();
    const review = input.review ? { ...input.review, task: this.options.plan.resolveTask(input.review.taskId) } : null;
    const task = input.taskId && !review ? this.options.plan.resolveTask(input.taskId) : null;
    if (task) this.options.plan.checkStatusChange(task.id, 'IN_PROGRESS');
    const role = input.role ? this.agentDefinition(input.role) : null;

    const num = this.options.repo.nextNumber();
    const id = `run-${num}`;
    const sessionDir = path.join(this.options.storageDir, 'sessions', id);
    fs.mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
    let cwd = profile.cwd ? path.resolve(this.options.workspaceDir, profile.cwd) : this.options.workspaceDir;
    let worktree: { path: string; branch: string } | null = null;
    if (review) {
      if (!fs.statSync(review.cwd, { throwIfNoEntry: false })?.isDirectory()) throw invalid(`The folder to review in does not exist: ${review.cwd}`);
      cwd = review.cwd;
    } else if (input.worktree ?? settings.useWorktrees) {
      const manager = await this.worktreeManager();
      if (!manager) throw invalid('Worktrees need the workspace to be a git repository with at least one commit.');
      // The task's own unlanded commits first (an earlier session's branch), else a dependency's branch.
      const resume = task && this.options.resumePoint ? await this.options.resumePoint(task.id).catch(() => null) : null;
      const start = !resume && task && settings.startFrom === 'dependency-branch' && this.options.startPoint
        ? await this.options.startPoint(task.id).catch(error => {
          this.options.log('warn', `[Worktrees] ${task.id} starts from the base: ${(error as Error).message}`);
          return null;
        })
        : null;
      const from = resume ?? start;
      worktree = await manager.create({ taskId: task?.id ?? null, sessionId: id, ...(from ? { baseRef: from.baseRef, baseBranch: from.baseBranch } : {}) });
      if (resume) this.options.log('info', `[Worktrees] ${id} goes on from ${resume.branch} (${resume.baseRef.slice(0, 10)}), ${task!.id}'s work of ${resume.sessionId} not landed yet; it lands into ${resume.baseBranch}`);
      if (start) this.options.log('info', `[Worktrees] ${id} starts from ${start.baseRef}, the branch of ${start.dependency} (done, not landed yet); it lands into ${start.baseBranch}`);
      cwd = worktree.path;
    }

    const actor: Actor = { kind: 'agent', name: `${profile.id}#${id}` };
    const args = [...profile.args];
    const env: Record<string, string> = { ...(profile.env ?? {}), BATON_SESSION_ID: id, BATON_WORKSPACE: this.options.workspaceDir };
    if (task) env.BATON_TASK_ID = task.id;
    if (role) env.BATON_ROLE = role.name;
    if (review) env.BATON_REVIEW_TASK_ID = review.task.id;
    const useTmux = settings.useTmux && (await tmuxAvailable());
    const endpoint = this.options.mcpEndpoint();
    if (endpoint) {
      // Baton's stdio proxy finds the owner by its storage folder (no environment needed: Codex drops it)
      // and follows it across restarts on any port. A tmux session outlives the window that started it, so
      // unless its profile asks for HTTP it reaches Baton through the proxy ("Trust" item 6).
      const stdioFallback = this.options.cliPath
        ? { command: process.execPath, args: [this.options.cliPath, 'mcp', '--workspace', this.options.workspaceDir, '--storage', this.options.storageDir] }
        : undefined;
      const wiredProfile = useTmux && stdioFallback && !profile.mcpTransport ? { ...profile, mcpTransport: 'stdio' as const } : profile;
      const wired = wireMcp(wiredProfile, { ...endpoint, ...(stdioFallback ? { stdioFallback } : {}) }, sessionDir, this.options.workspaceDir);
      args.push(...wired.args);
      Object.assign(env, wired.env);
      this.options.log('info', `[Sessions] ${id}: ${wired.description}`);
    } else {
      this.options.log('warn', `[Sessions] ${id}: Baton's MCP server is off, so ${profile.label} cannot reach the plan`);
    }
    const hooks = await this.wireHooks(profile, id, sessionDir, env);
    args.push(...hooks.args);
    const telemetry = this.options.telemetryEndpoint?.();
    if (telemetry) {
      const wired = wireTelemetry(profile, { url: telemetry.url, token: telemetry.tokenFor(id) });
      args.push(...wired.args);
      Object.assign(env, wired.env);
      this.options.log('info', `[Sessions] ${id}: ${wired.description}`);
    }
    const prompt = task || role || review
      ? [role ? rolePrompt(role) : '', review ? review.prompt : task ? this.taskPrompt(task.id, role?.name) : ''].filter(Boolean).join('\n\n')
      : null;
    if (prompt && profile.prompt === 'argument') args.push(...(profile.promptArgs ?? []), prompt);

    const terminal = await TerminalSession.start({
      id: `${this.scope}-${id}`, command: installed.path, args, cwd, env: { ...stringEnv(process.env), ...env }, cols: input.cols ?? settings.cols, rows: input.rows ?? settings.rows,
      useTmux, tmuxSocket: this.options.tmuxSocket, bufferBytes: settings.bufferBytes,
      detector: profileDetectorPatterns(profile), pty,
    });
    const record: TerminalSessionRecord = {
      id, profile: profile.id,
      title: `${profile.label}${role ? ` (${role.name})` : ''}${task ? ` · ${task.id} ${task.title}` : ''}${review ? ` · review of ${review.task.id} ${review.task.title}` : ''}`,
      command: [profile.command, ...profile.args].join(' '), taskId: task?.id ?? null, cwd, worktree: worktree?.path ?? null,
      branch: worktree?.branch ?? null, tmuxSession: terminal.tmuxSession ?? null, pid: terminal.pid ?? null, state: terminal.state,
      startedAt: this.now().toISOString(), endedAt: null, exitCode: null, endReason: null, lastOutput: '',
      reviewTaskId: review?.task.id ?? null,
    };
    this.options.repo.insert(num, record);
    const live: LiveSession = { record, terminal, profile, hookCoverage: hooks.coverage };
    if (hooks.token) this.receiver?.register(id, hooks.token);
    this.track(live, prompt && profile.prompt === 'stdin' ? prompt : null);
    if (task) {
      this.options.plan.startTask(task.id, actor);
      this.options.plan.updateTask(task.id, { assignee: actor.name }, actor);
    }
    this.options.log('info', `[Sessions] started ${id} ${profile.label}${task ? ` on ${task.id}` : ''} in ${cwd}${useTmux ? ` (tmux ${terminal.tmuxSession})` : ''}`);
    void this.options.hooks().run('SessionStart', this.hookVars(live), cwd);
    return live;
  }

  /** Starts `count` sessions of a profile (the seeds' `launch_sessions(profile, count)`), each on the next ready task when `onReadyTasks`. */
  async startMany(profileId: string, count: number, onReadyTasks = false): Promise<LiveSession[]> {
    if (!Number.isInteger(count) || count < 1 || count > 50) throw invalid(`count must be a whole number from 1 to 50, got ${count}.`);
    const tasks = onReadyTasks ? this.options.plan.readyTasks().slice(0, count) : [];
    const started: LiveSession[] = [];
    for (let i = 0; i < count; i++) {
      if (onReadyTasks && !tasks[i]) break;
      started.push(await this.start({ profileId, taskId: tasks[i]?.id ?? null }));
    }
    return started;
  }

  /** Dependency-driven dispatch: one session per ready task, up to the parallel limit (minus sessions already running). */
  async startReadyTasks(profileId: string, limit?: number): Promise<LiveSession[]> {
    const max = limit ?? this.options.settings().maxParallel;
    const room = Math.max(0, max - this.list().filter(s => s.terminal.state !== 'exited').length);
    if (room === 0) return [];
    const ready = this.options.plan.readyTasks().length;
    if (!ready) return [];
    return this.startMany(profileId, Math.min(room, ready), true);
  }

  /** Sends a line of input (runs the UserPromptSubmit hook first). */
  async send(id: string, text: string, submit = true): Promise<void> {
    const s = this.get(id);
    if (s.terminal.state === 'exited') throw invalid(`Session ${s.record.id} has exited.`);
    await this.options.hooks().run('UserPromptSubmit', { ...this.hookVars(s), prompt: text }, s.record.cwd);
    s.terminal.write(submit ? `${text}\r` : text);
  }

  sendKeys(id: string, keys: string[]): void {
    this.get(id).terminal.sendKeys(keys);
  }

  /** The last `lines` lines of a session's output, ANSI-free. */
  readOutput(id: string, lines = 50): string[] {
    return this.get(id).terminal.readLines(lines);
  }

  async stop(id: string): Promise<void> {
    const s = this.get(id);
    await s.terminal.stop();
  }

  /**
   * The window is going away: tmux sessions keep running (detached; reattached at the next start),
   * others are stopped and recorded as ended by the window closing.
   */
  async shutdown(): Promise<void> {
    for (const s of this.list()) {
      if (s.terminal.tmuxSession) {
        await s.terminal.detach().catch(() => undefined);
      } else {
        // Out of `live` first: the exit that stopping causes is the window's closing, not the agent's end
        // (no `onDidExit`, and the record keeps `window-closed`).
        this.live.delete(s.record.id);
        this.finish(s, null, 'window-closed');
        await s.terminal.stop().catch(() => undefined);
      }
    }
    this.live.clear();
    await this.receiver?.stop();
    this.receiver = null;
    this.receiverStart = null;
  }

  /**
   * At start-up: reattaches sessions still running in tmux (with their scrollback) and records how the
   * others ended. Returns the reattached sessions.
   */
  async restore(): Promise<LiveSession[]> {
    const records = this.options.repo.listLive();
    if (!records.length) return [];
    const pty = this.options.pty();
    const settings = this.options.settings();
    const reattached: LiveSession[] = [];
    for (const record of records) {
      let profile: AgentProfile;
      try {
        profile = this.profile(record.profile);
      } catch {
        profile = { id: record.profile, label: record.profile, command: record.command, args: [], prompt: 'none', mcp: 'env-only' };
      }
      if (record.tmuxSession && typeof pty !== 'string') {
        try {
          const terminal = await TerminalSession.reattach({
            id: `${this.scope}-${record.id}`, command: record.command, args: [], cwd: record.cwd, env: stringEnv(process.env), cols: settings.cols, rows: settings.rows,
            useTmux: true, tmuxSocket: this.options.tmuxSocket, bufferBytes: settings.bufferBytes, detector: profileDetectorPatterns(profile), pty,
            tmuxSession: record.tmuxSession,
          });
          const live: LiveSession = { record, terminal, profile, hookCoverage: 'none' };
          await this.rewireHooks(live);
          this.track(live, null);
          reattached.push(live);
          this.options.log('info', `[Sessions] reattached ${record.id} (tmux ${record.tmuxSession})`);
          continue;
        } catch (error) {
          this.options.log('warn', `[Sessions] could not reattach ${record.id}: ${(error as Error).message}`);
        }
      }
      this.options.repo.update(record.id, { state: 'exited', endedAt: this.now().toISOString(), endReason: 'owner-restarted' });
      this.options.log('info', `[Sessions] ${record.id} ended when the previous window closed`);
    }
    return reattached;
  }

  /** Worktrees left by sessions that no longer run (e.g. after a crash). */
  async findOrphanWorktrees() {
    const manager = await this.worktreeManager();
    if (!manager) return [];
    return manager.findOrphans(new Set(this.list().map(s => s.record.id)));
  }

  async worktreeManager(): Promise<WorktreeManager | null> {
    if (this.worktrees !== undefined) return this.worktrees;
    try {
      const manager = new WorktreeManager(this.options.workspaceDir, { log: this.options.log });
      await manager.findOrphans(new Set());
      this.worktrees = manager;
    } catch {
      this.worktrees = null;
    }
    return this.worktrees;
  }

  /** Agent definitions of the workspace (`.claude/agents/*.md`), usable as a session's role. */
  agentDefinitions(): { definitions: AgentDefinition[]; errors: { file: string; message: string }[] } {
    return listAgentDefinitions(this.options.workspaceDir);
  }

  agentDefinition(name: string): AgentDefinition {
    const { definitions } = this.agentDefinitions();
    const found = definitions.find(d => d.name === name);
    if (!found) throw invalid(`No agent definition "${name}" in .claude/agents/; found: ${definitions.map(d => d.name).join(', ') || 'none'}.`);
    return found;
  }

  /** The prompt a session gets for a task: what to do, what is done, what it builds on. */
  taskPrompt(taskId: string, role?: string): string {
    const d = this.options.plan.getTaskDetails(taskId, 0);
    const t = d.task;
    const lines = [
      `You are working on Baton task ${t.id}: ${t.title}.`,
      `First call Baton's MCP tool agent_init with task_id "${t.id}"${role ? ` and role "${role}"` : ''} to get your memory and plan; report progress, save context, and ask_human through Baton as you work; finish with complete_task.`,
    ];
    if (t.description) lines.push('', 'Description:', t.description);
    if (d.checkpoints.length) lines.push('', 'Checkpoints:', ...d.checkpoints.map((c, i) => `${i + 1}. [${c.done ? 'x' : ' '}] ${c.title}`));
    const deps = d.dependsOn.map(dep => this.options.plan.getTask(dep.id)).filter(dep => dep.summary);
    if (deps.length) lines.push('', 'It builds on:', ...deps.map(dep => `- ${dep.id} ${dep.title}: ${dep.summary}`));
    if (d.notes.length) lines.push('', 'Notes:', ...d.notes.slice(-5).map(n => `- ${n.author.name}: ${n.text}`));
    if (t.context) lines.push('', 'Context so far:', t.context.slice(0, 2000));
    return lines.join('\n');
  }

  /** The receiver of agents' hook events, started on first use; null when it cannot listen (logged). */
  private hookReceiver(): Promise<HookReceiver | null> {
    this.receiverStart ??= (async () => {
      const receiver = new HookReceiver(this.options.storageDir, event => this.onHookEvent(event));
      try {
        await receiver.start();
        this.receiver = receiver;
        return receiver;
      } catch (error) {
        this.options.log('warn', `[Sessions] agents' hooks are off: cannot listen on 127.0.0.1 (${(error as Error).message}); state from the screen`);
        return null;
      }
    })();
    return this.receiverStart;
  }

  /** The hook command for agents, or null when Baton's CLI is unknown. */
  private hookCommand(): { command: string; args: string[] } | null {
    if (this.options.hookCommand) return this.options.hookCommand;
    return this.options.cliPath ? { command: process.execPath, args: [this.options.cliPath] } : null;
  }

  /** Wires the agent's own hooks for a new session: a fresh token (kept in the session folder for reattaching), args and env. */
  private async wireHooks(profile: AgentProfile, id: string, sessionDir: string, env: Record<string, string>): Promise<{ args: string[]; coverage: HookCoverage; token: string | null }> {
    const command = this.hookCommand();
    const receiver = command ? await this.hookReceiver() : null;
    if (!command || !receiver) return { args: [], coverage: 'none', token: null };
    const token = newHookToken();
    fs.writeFileSync(path.join(sessionDir, HOOK_TOKEN_FILE), token, { mode: 0o600 });
    const wired = wireAgentHooks(profile, { ...command, storageDir: this.options.storageDir, sessionId: id, token }, sessionDir, env.GEMINI_CLI_HOME);
    Object.assign(env, wired.env);
    // In VS Code the extension host's executable is Electron: run it as plain Node for `baton hook`.
    if (process.versions.electron && command.command === process.execPath) env.ELECTRON_RUN_AS_NODE = '1';
    this.options.log('info', `[Sessions] ${id}: ${wired.description}`);
    return { args: wired.args, coverage: wired.coverage, token };
  }

  /** A reattached tmux session: accepts its hook events again with the token kept in its folder. */
  private async rewireHooks(live: LiveSession): Promise<void> {
    try {
      const token = fs.readFileSync(path.join(this.options.storageDir, 'sessions', live.record.id, HOOK_TOKEN_FILE), 'utf8').trim();
      const receiver = token ? await this.hookReceiver() : null;
      if (!receiver) return;
      receiver.register(live.record.id, token);
      live.hookCoverage = live.profile.mcp === 'codex' ? 'partial' : live.profile.mcp === 'claude' || live.profile.mcp === 'gemini' ? 'full' : 'none';
    } catch {
      // started without hooks
    }
  }

  /** An authenticated hook event: sets the session's state from it. Returns the state now and who decided it. */
  private onHookEvent(event: HookEvent): { state: string; source: string; detail: string | null } | null {
    const live = this.live.get(event.sessionId);
    if (!live) {
      this.options.log('info', `[Sessions] hook ${event.event} for ${event.sessionId}, which this window does not run: ignored`);
      return null;
    }
    const next = stateFromHookEvent(event.event, event.payload);
    this.options.log('info', `[Sessions] ${live.record.id}: hook ${event.event}${next ? ` → ${next.state}${next.detail ? ` (${next.detail})` : ''}` : ' (no state change)'}`);
    if (next) live.terminal.reportHookState(next.state, next.detail, HOOK_HOLD_MS, live.hookCoverage === 'partial');
    return { state: live.terminal.state, source: live.terminal.stateSource, detail: live.terminal.stateDetail };
  }

  private track(live: LiveSession, stdinPrompt: string | null): void {
    const { terminal, record } = live;
    this.live.set(record.id, live);
    let promptSent = stdinPrompt === null;
    terminal.onStateChange(({ state, previous }) => {
      if (state === 'exited') return;
      this.options.repo.update(record.id, { state });
      record.state = state;
      this.publish(live);
      if (state === 'waiting' && !promptSent && stdinPrompt) {
        promptSent = true;
        terminal.write(`${stdinPrompt.replace(/\n/g, ' ')}\r`);
      }
      this._onDidChangeState.fire({ session: live, state, previous });
      this._onDidChangeSessions.fire({ id: record.id });
    });
    terminal.onExit(({ exitCode }) => {
      void this.onExited(live, exitCode);
    });
    this.publish(live);
    this._onDidChangeSessions.fire({ id: record.id });
  }

  /** Publishes the session's state, its source and detail for `baton sessions` (see `sessionStateFile.ts`); failures are logged. */
  private publish(live: LiveSession): void {
    const { record, terminal } = live;
    try {
      publishSessionState(this.options.storageDir, {
        id: record.id, profile: record.profile, title: record.title, task_id: record.taskId, state: record.state,
        source: record.state === 'exited' ? 'screen' : terminal.stateSource, detail: record.state === 'exited' ? null : terminal.stateDetail,
        hooks: live.hookCoverage, pid: record.pid, tmux_session: record.tmuxSession, started_at: record.startedAt,
        updated_at: this.now().toISOString(), owner_pid: process.pid,
      });
    } catch (error) {
      this.options.log('warn', `[Sessions] ${record.id}: cannot publish its state: ${(error as Error).message}`);
    }
  }

  private async onExited(live: LiveSession, exitCode: number | null): Promise<void> {
    if (!this.live.has(live.record.id)) return;
    this.finish(live, exitCode, 'exited');
    this.live.delete(live.record.id);
    this.receiver?.unregister(live.record.id);
    this.publish(live);
    const record = live.record;
    let worktreeMessage: string | null = null;
    if (record.worktree) {
      try {
        const manager = await this.worktreeManager();
        const result = await manager!.release(record.worktree, this.options.settings().worktreeCleanup);
        worktreeMessage = result.message;
        this.options.log('info', `[Worktrees] ${record.id}: ${result.message}`);
      } catch (error) {
        worktreeMessage = `Worktree ${record.worktree} kept: ${(error as Error).message}`;
        this.options.log('warn', `[Worktrees] ${record.id}: ${worktreeMessage}`);
      }
    }
    void this.options.hooks().run('SessionEnd', this.hookVars(live), this.options.workspaceDir);
    let unfinishedTask: Task | null = null;
    if (record.taskId) {
      try {
        const task = this.options.plan.getTask(record.taskId);
        if (task.status !== 'DONE' && task.status !== 'CANCELLED') unfinishedTask = task;
      } catch {
        // task deleted meanwhile
      }
    }
    this._onDidExit.fire({ session: { ...record }, exitCode, unfinishedTask, worktreeMessage });
    this._onDidChangeSessions.fire({ id: record.id });
  }

  private finish(live: LiveSession, exitCode: number | null, reason: string): void {
    const lastOutput = redactSecrets(safeLines(live.terminal, 30).join('\n')).text;
    const endedAt = this.now().toISOString();
    Object.assign(live.record, { state: 'exited', endedAt, exitCode, endReason: reason, lastOutput });
    this.options.repo.update(live.record.id, { state: 'exited', endedAt, exitCode, endReason: reason, lastOutput });
  }

  private hookVars(s: LiveSession) {
    return {
      project: path.basename(this.options.workspaceDir), task: s.record.taskId ?? '', session: s.record.id, worktree: s.record.worktree ?? '',
    };
  }
}

function rolePrompt(role: AgentDefinition): string {
  return `Your role: ${role.name}${role.description ? ` — ${role.description}` : ''}.\n${role.instructions}`;
}

function safeLines(terminal: TerminalSession, n: number): string[] {
  try {
    return terminal.readLines(n);
  } catch {
    return [];
  }
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  return out;
}

function normalize(id: string): string {
  const m = /^\s*(?:run-?)?(\d+)\s*$/i.exec(id);
  return m ? `run-${m[1]}` : id.trim();
}
