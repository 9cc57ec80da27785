/**
 * Landing a session's work: the diff of a task's session branch against its base, and merging it into
 * the base (fast-forward or merge commit), rebasing it onto the base, or keeping it as it is.
 *
 * The rule of this module: nothing is half-merged. Every check runs before anything changes: conflicts
 * are found with `git merge-tree --write-tree` (git ≥ 2.38) for a merge, and by a trial rebase in a
 * temporary detached worktree for a rebase; a session worktree with uncommitted changes, or a base
 * checkout whose uncommitted changes touch files the landing changes, is refused. Only then is the
 * base moved: with `git merge --ff-only` in the worktree that has the base checked out (git keeps the
 * person's unrelated local changes), or with `git update-ref` (old value checked) when no worktree
 * has it. A merge commit is built with `git commit-tree` from the tree merge-tree wrote, so no
 * working tree ever holds a merge in progress.
 *
 * A session branch's base is its upstream when that is a local branch (`branch.<name>.remote = .`,
 * set by {@link WorktreeManager.create}); for branches made before that, the branch checked out in
 * the workspace folder.
 *
 * All git commands run through `simple-git`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simpleGit } from 'simple-git';
import { BatonError, invalid, notFound } from '../core/errors';
import type { Disposable } from '../core/event';
import type { Actor, Task } from '../core/model';
import type { PlanService } from '../services/planService';
import type { ReviewService } from '../services/reviewService';
import type { TerminalSessionRecord, TerminalSessionRepository } from '../store/terminalSessionRepository';
import { processRunning } from './terminalSession';
import { WorktreeManager, type WorktreeCleanupPolicy } from './worktrees';

/** How to land: merge into the base, rebase onto it (then fast-forward the base), or keep the branch as it is. */
export type LandMode = 'merge' | 'rebase' | 'keep';
export const LAND_MODES: readonly LandMode[] = ['merge', 'rebase', 'keep'];
/** `baton.land.mergeStrategy`: fast-forward when possible else a merge commit; always a merge commit; fast-forward or refuse. */
export type MergeStrategy = 'ff-or-merge' | 'merge-commit' | 'ff-only';
export const MERGE_STRATEGIES: readonly MergeStrategy[] = ['ff-or-merge', 'merge-commit', 'ff-only'];
/** `baton.land.onApprove`: land a task's branch when its review gate approves it (DONE). */
export type LandOnApprove = 'off' | 'merge' | 'rebase';

/** Settings the lander reads at each call. */
export interface LandingSettings {
  mergeStrategy: MergeStrategy;
  /** What happens to the session's worktree after landing (`baton.sessions.worktreeCleanup`). */
  cleanup: WorktreeCleanupPolicy;
  onApprove: LandOnApprove;
}

export const DEFAULT_LANDING_SETTINGS: LandingSettings = { mergeStrategy: 'ff-or-merge', cleanup: 'preserve-and-remove', onApprove: 'off' };

/** One changed file of a branch against its merge base (git's `--name-status` letters). */
export interface ChangedFile {
  /** A added, M modified, D deleted, R renamed, C copied, T type changed. */
  status: 'A' | 'M' | 'D' | 'R' | 'C' | 'T';
  /** Path (relative to the repository root, `/`-separated) on the branch side. */
  path: string;
  /** For R and C: the path on the base side. */
  oldPath?: string;
}

/** Where a task's session work is. */
export interface TaskBranch {
  taskId: string;
  sessionId: string;
  /** Session branch, e.g. `baton/t-5-ab12`. */
  branch: string;
  /** Full commit id of the branch tip. */
  branchCommit: string;
  /** The session's worktree folder when it still exists; else null. */
  worktree: string | null;
  /** Base branch (short name), e.g. `main`. */
  base: string;
  /** How the base was found: the branch's upstream, or the branch checked out in the main worktree. */
  baseSource: 'upstream' | 'checkout';
  baseCommit: string;
  /** `git merge-base base branch`. */
  mergeBase: string;
  /** Commits on the branch not on the base / on the base not on the branch. */
  ahead: number;
  behind: number;
  /** True when every commit of the branch is on the base already. */
  landed: boolean;
  /** True while the session runs, or another session works in its worktree (a reviewer). */
  live: boolean;
  /** The running session that keeps the worktree in use, when `live`. */
  liveSession: string | null;
  /** Repository root (main worktree). */
  repoRoot: string;
}

/** {@link Lander.diff}: the branch and its changed files against the merge base. */
export interface TaskDiff extends TaskBranch {
  files: ChangedFile[];
  /** Files with uncommitted changes in the session's worktree (not part of the diff: not landed). */
  uncommitted: number;
}

/** Outcome of {@link Lander.land}. */
export interface LandResult {
  taskId: string;
  mode: LandMode;
  branch: string;
  base: string;
  outcome: 'fast-forward' | 'merge-commit' | 'rebased' | 'kept' | 'already-landed';
  /** The base's tip after landing (null for keep). */
  commit: string | null;
  /** Files the landing changed on the base. */
  files: number;
  /** What happened to the session's worktree (null when it was not released). */
  release: string | null;
  /** A sentence or two for a person. */
  message: string;
}

export interface LanderOptions {
  /** The workspace folder (inside the git repository). */
  workspaceDir: string | undefined;
  plan: PlanService;
  sessions: TerminalSessionRepository;
  settings: () => LandingSettings;
  /** When given, `baton.land.onApprove` lands tasks its gates approve. */
  reviews?: ReviewService;
  /** Whether a session still runs; default: not ended and its recorded process alive. */
  isLive?: (record: TerminalSessionRecord) => boolean;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  now?: () => Date;
}

const BATON: Actor = { kind: 'system', name: 'baton' };
/**
 * Landings of one repository run one at a time. This queue is Baton's landing queue, apart from
 * WorktreeManager's (worktrees.ts): a landing releases its worktree through WorktreeManager, which takes
 * that queue, so sharing one would deadlock.
 */
const queues = new Map<string, Promise<unknown>>();

function serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const result = previous.then(fn, fn);
  const tail = result.then(() => undefined, () => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return result;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const short = (commit: string) => commit.slice(0, 10);

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.trim().split('\n').filter(line => line.trim() !== '').slice(-3).join(' ');
}

function listText(files: string[], max = 20): string {
  return files.length <= max ? files.join(', ') : `${files.slice(0, max).join(', ')} and ${files.length - max} more`;
}

/**
 * Lands tasks' session branches (see the module comment for the guarantees). Errors are
 * {@link BatonError}s: NOT_FOUND (no task, or no session branch for it), INVALID_ARGUMENT (bad mode,
 * no repository, unknown base), CONFLICT (conflicts, uncommitted changes, cannot fast-forward; the
 * message lists the files and says what to do), UNAVAILABLE (git failed). A refusal changes nothing.
 */
export class Lander implements Disposable {
  private readonly log: NonNullable<LanderOptions['log']>;
  private readonly now: () => Date;
  private readonly subscription: Disposable | undefined;

  constructor(private readonly options: LanderOptions) {
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
    this.subscription = options.reviews?.onDidApprove(({ taskId }) => {
      const mode = this.options.settings().onApprove;
      if (mode !== 'merge' && mode !== 'rebase') return;
      if (!this.options.sessions.listForTask(taskId).some(r => r.branch)) return; // worked without a worktree: nothing to land
      void this.land(taskId, mode, BATON).then(
        r => this.log('info', `[Land] ${r.message}`),
        error => {
          const message = `${taskId} was approved but not landed: ${(error as Error).message}`;
          this.log('warn', `[Land] ${message}`);
          try {
            this.options.plan.recordActivity(BATON, 'task.land_refused', taskId, message);
          } catch {
            // the task went away meanwhile
          }
        });
    });
  }

  dispose(): void {
    this.subscription?.dispose();
  }

  /**
   * Where a task's session work is: its newest session with a branch that still exists, that
   * branch's base and how far apart they are.
   * @throws BatonError NOT_FOUND when the task has no session branch; INVALID_ARGUMENT when there is
   *   no workspace repository or the base is unknown (the main worktree's HEAD is detached).
   */
  async branchOf(taskRef: string): Promise<TaskBranch> {
    const task = this.options.plan.resolveTask(taskRef);
    const repoRoot = await this.repoRoot();
    const records = this.options.sessions.listForTask(task.id).filter(r => r.branch);
    if (!records.length) {
      throw notFound(`${task.id} has no session branch: start its agent session in a worktree (setting baton.sessions.useWorktrees) to get one.`);
    }
    let record: TerminalSessionRecord | undefined;
    let branchCommit = '';
    for (const r of records) {
      const tip = await tryGit(repoRoot, ['rev-parse', '--verify', '--quiet', `refs/heads/${r.branch}^{commit}`]);
      if (tip) {
        record = r;
        branchCommit = tip.trim();
        break;
      }
    }
    if (!record) {
      throw notFound(`${task.id}'s session branch ${records.map(r => r.branch).join(', ')} no longer exists (it was landed or deleted).`);
    }
    const branch = record.branch!;
    const { base, source } = await this.baseOf(repoRoot, branch);
    const baseCommit = (await gitOk(repoRoot, ['rev-parse', '--verify', `refs/heads/${base}^{commit}`], `read the base branch ${base}`)).trim();
    const mergeBase = (await gitOk(repoRoot, ['merge-base', baseCommit, branchCommit], `find the merge base of ${branch} and ${base}`)).trim();
    const counts = (await gitOk(repoRoot, ['rev-list', '--left-right', '--count', `${branchCommit}...${baseCommit}`], 'count commits')).trim().split(/\s+/);
    const ahead = Number(counts[0]);
    const behind = Number(counts[1]);
    const worktree = record.worktree && fs.existsSync(record.worktree) && (await this.checkedOutAt(repoRoot, branch)) === canonical(record.worktree)
      ? canonical(record.worktree) : null;
    // The session itself, or another one working in its worktree (reviewer sessions run there).
    const running = this.isLive(record) ? record
      : worktree ? this.options.sessions.listLive().find(r => r.cwd && canonical(r.cwd) === worktree && this.isLive(r)) : undefined;
    return {
      taskId: task.id, sessionId: record.id, branch, branchCommit, worktree, base, baseSource: source, baseCommit, mergeBase,
      ahead, behind, landed: ahead === 0, live: running !== undefined, liveSession: running?.id ?? null, repoRoot,
    };
  }

  /**
   * The files a task's session branch changed against its merge base with the base (renames found),
   * for a diff view, and how many files have uncommitted changes in its worktree.
   * @throws as {@link branchOf}.
   */
  async diff(taskRef: string): Promise<TaskDiff> {
    const b = await this.branchOf(taskRef);
    const out = await gitOk(b.repoRoot, ['diff', '--name-status', '-z', '-M', '--no-color', '--end-of-options', b.mergeBase, b.branchCommit], `diff ${b.branch}`);
    const files = parseNameStatus(out);
    const uncommitted = b.worktree ? (await dirtyFiles(b.worktree)).length : 0;
    return { ...b, files, uncommitted };
  }

  /**
   * A file's text at a commit (`git cat-file blob <commit>:<path>`, decoded as UTF-8), for the diff
   * editor; '' when the file is not in that commit. @throws BatonError INVALID_ARGUMENT for a bad commit id or path.
   */
  async fileAt(commit: string, file: string): Promise<string> {
    if (!/^[0-9a-f]{7,64}$/i.test(commit)) throw invalid(`Not a commit id: ${JSON.stringify(commit)}.`);
    if (typeof file !== 'string' || file === '' || file.startsWith('/') || file.split('/').includes('..')) throw invalid(`Not a repository path: ${JSON.stringify(file)}.`);
    const repoRoot = await this.repoRoot();
    const exists = await tryGit(repoRoot, ['cat-file', '-e', `${commit}:${file}`]);
    if (exists === null) return '';
    return gitOk(repoRoot, ['cat-file', 'blob', `${commit}:${file}`], `read ${file} at ${short(commit)}`);
  }

  /**
   * Lands a task's session branch (see {@link LandMode}; merge follows `mergeStrategy`), records it
   * in the task's activity log and the session record, and then releases the session's worktree by
   * the cleanup policy when the session no longer runs.
   * @param actor who lands it (the person, or Baton for `onApprove`).
   * @throws BatonError as the class comment says; nothing has changed when one is thrown.
   */
  land(taskRef: string, mode: LandMode, actor: Actor): Promise<LandResult> {
    if (!(LAND_MODES as readonly string[]).includes(mode)) return Promise.reject(invalid(`Landing mode must be ${LAND_MODES.join(', ')}; got ${JSON.stringify(mode)}.`));
    return this.repoRoot().then(root => serialize(root, () => this.landNow(taskRef, mode, actor)));
  }

  /**
   * Where a new session on `taskRef` goes on from its task's own earlier work: the branch of its newest
   * earlier session that still exists and holds commits not on its base yet (a reviewer asked for
   * changes, or the session died and the claim lease gave the task back), so the next session builds on
   * those commits and its landing brings them into the base too; null when there is no such branch
   * (none, landed, or no repository). Never throws: an unreadable repository is null.
   */
  async resumePoint(taskRef: string): Promise<{ baseRef: string; baseBranch: string; branch: string; sessionId: string } | null> {
    const b = await this.branchOf(taskRef).catch(() => null);
    if (!b || b.landed) return null;
    return { baseRef: b.branchCommit, baseBranch: b.base, branch: b.branch, sessionId: b.sessionId };
  }

  /**
   * Where a new worktree for `taskRef` starts (`baton.worktrees.startFrom = dependency-branch`): the
   * branch of its one dependency that is DONE but not landed yet, still landing into that branch's
   * base; null (start from the base) when every DONE dependency is landed or has no branch, or when
   * several are unlanded (one branch cannot hold both; a warning is logged).
   */
  async startPoint(taskRef: string): Promise<{ baseRef: string; baseBranch: string; dependency: string } | null> {
    const details = this.options.plan.getTaskDetails(taskRef, 0);
    const unlanded: TaskBranch[] = [];
    for (const dep of details.dependsOn) {
      if (this.options.plan.getTask(dep.id).status !== 'DONE') continue;
      const b = await this.branchOf(dep.id).catch(() => null);
      if (b && !b.landed) unlanded.push(b);
    }
    if (unlanded.length === 1) return { baseRef: unlanded[0].branch, baseBranch: unlanded[0].base, dependency: unlanded[0].taskId };
    if (unlanded.length > 1) {
      this.log('warn', `[Land] ${details.task.id} starts from the base: its dependencies ${unlanded.map(b => `${b.taskId} (${b.branch})`).join(', ')} are done but not landed, and one worktree can start from only one of them. Land them first to build on all.`);
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------

  private async landNow(taskRef: string, mode: LandMode, actor: Actor): Promise<LandResult> {
    const b = await this.branchOf(taskRef);
    const task = this.options.plan.getTask(b.taskId);
    const settings = this.options.settings();
    if (!(MERGE_STRATEGIES as readonly string[]).includes(settings.mergeStrategy)) {
      throw invalid(`baton.land.mergeStrategy must be ${MERGE_STRATEGIES.join(', ')}; got ${JSON.stringify(settings.mergeStrategy)}.`);
    }
    const names = `${b.branch} into ${b.base}`;
    if (mode === 'keep') {
      const message = `Kept ${b.branch} as it is (not landed into ${b.base}${b.ahead ? `; ${plural(b.ahead, 'commit')} of its own` : ''}).`;
      this.record(task, b, actor, 'task.kept', message, { mode, outcome: 'kept', commit: null });
      return { taskId: b.taskId, mode, branch: b.branch, base: b.base, outcome: 'kept', commit: null, files: 0, release: null, message };
    }
    if (b.worktree) {
      const dirty = await dirtyFiles(b.worktree);
      if (dirty.length) {
        throw new BatonError('CONFLICT', `${b.taskId}'s worktree ${b.worktree} has uncommitted changes (${plural(dirty.length, 'file')}: ${listText(dirty)}): commit or stash them first. Nothing was landed.`);
      }
    }
    if (b.landed) {
      const message = `${b.branch} is already in ${b.base} (nothing to land).`;
      const release = await this.release(b, settings);
      this.record(task, b, actor, 'task.landed', `${message}${release ? ` ${release}` : ''}`, { mode, outcome: 'already-landed', commit: b.baseCommit });
      return { taskId: b.taskId, mode, branch: b.branch, base: b.base, outcome: 'already-landed', commit: b.baseCommit, files: 0, release, message: `${message}${release ? ` ${release}` : ''}` };
    }

    const canFastForward = b.behind === 0;
    let newTip: string;
    let outcome: LandResult['outcome'];
    let rebasedBranch: string | null = null;
    if (mode === 'merge') {
      if (canFastForward && settings.mergeStrategy !== 'merge-commit') {
        newTip = b.branchCommit;
        outcome = 'fast-forward';
      } else if (settings.mergeStrategy === 'ff-only') {
        throw new BatonError('CONFLICT', `Cannot fast-forward ${b.base} to ${b.branch}: ${b.base} has ${plural(b.behind, 'commit')} the branch does not have. Land it with rebase, or set baton.land.mergeStrategy to ff-or-merge. Nothing was landed.`);
      } else {
        newTip = await this.mergeCommit(b, task);
        outcome = 'merge-commit';
      }
    } else {
      rebasedBranch = canFastForward ? b.branchCommit : await this.trialRebase(b);
      newTip = rebasedBranch;
      outcome = canFastForward ? 'fast-forward' : 'rebased';
    }

    // Files the base's checkout would change, against what the person has not committed there.
    const touched = (await gitOk(b.repoRoot, ['diff', '--name-only', '-z', '--no-renames', b.baseCommit, newTip], 'list the files landing changes')).split('\0').filter(Boolean);
    const baseCheckout = await this.checkedOutAt(b.repoRoot, b.base);
    if (baseCheckout) {
      const dirty = new Set(await dirtyFiles(baseCheckout));
      const clash = touched.filter(f => dirty.has(f));
      if (clash.length) {
        throw new BatonError('CONFLICT', `${baseCheckout} (where ${b.base} is checked out) has uncommitted changes to ${plural(clash.length, 'file')} landing ${b.branch} changes: ${listText(clash)}. Commit or stash them first. Nothing was landed.`);
      }
    }

    // Everything checked: move the base (one step: a fast-forward, git checks the old value), then
    // for a rebase the session branch. Should that second step fail, the branch keeps its original
    // commits (nothing is lost; releasing the worktree preserves them) and the base has the work.
    if (baseCheckout) {
      await gitOk(baseCheckout, ['merge', '--ff-only', '--no-edit', '--quiet', newTip], `fast-forward ${b.base} in ${baseCheckout}`);
    } else {
      await gitOk(b.repoRoot, ['update-ref', '-m', `baton: land ${b.branch}`, `refs/heads/${b.base}`, newTip, b.baseCommit], `move ${b.base}`);
    }
    if (rebasedBranch && rebasedBranch !== b.branchCommit) {
      if (b.worktree) await gitOk(b.worktree, ['reset', '--keep', rebasedBranch], `move ${b.branch} to its rebased commits`);
      else await gitOk(b.repoRoot, ['update-ref', '-m', `baton: rebase ${b.branch} onto ${b.base}`, `refs/heads/${b.branch}`, rebasedBranch, b.branchCommit], `move ${b.branch} to its rebased commits`);
    }
    const how = outcome === 'fast-forward' ? 'fast-forward' : outcome === 'merge-commit' ? 'merge commit' : 'rebased, then fast-forward';
    let message = `Landed ${names} (${how}) at ${short(newTip)}: ${plural(touched.length, 'file')} changed.`;
    const release = await this.release({ ...b, landed: true }, settings);
    if (release) message += ` ${release}`;
    this.record(task, b, actor, 'task.landed', message, { mode, outcome, commit: newTip });
    this.log('info', `[Land] ${message}`);
    return { taskId: b.taskId, mode, branch: b.branch, base: b.base, outcome, commit: newTip, files: touched.length, release, message };
  }

  /** Builds the merge commit of base and branch without a working tree. @throws CONFLICT listing the conflicting files. */
  private async mergeCommit(b: TaskBranch, task: Task): Promise<string> {
    const { out, code } = await git(b.repoRoot, ['merge-tree', '--write-tree', '--name-only', '--no-messages', b.baseCommit, b.branchCommit], [0, 1]);
    const lines = out.split('\n').filter(Boolean);
    if (code === 1) {
      const files = [...new Set(lines.slice(1))];
      throw new BatonError('CONFLICT', `Merging ${b.branch} into ${b.base} conflicts in ${plural(files.length, 'file')}: ${listText(files)}. Nothing was merged; resolve them on the branch (e.g. merge or rebase ${b.base} in ${b.worktree ?? 'a checkout of the branch'}), then land again.`);
    }
    const tree = lines[0]?.trim();
    if (!tree || !/^[0-9a-f]{40,64}$/.test(tree)) throw new BatonError('UNAVAILABLE', `git merge-tree gave an unexpected answer: ${out.slice(0, 200)}`);
    const message = `Merge branch '${b.branch}' into ${b.base}\n\n${task.id} ${task.title}\n`;
    return (await gitOk(b.repoRoot, [...await identity(b.repoRoot), 'commit-tree', tree, '-p', b.baseCommit, '-p', b.branchCommit, '-m', message], 'write the merge commit')).trim();
  }

  /**
   * Rebases the branch's commits onto the base in a temporary detached worktree (so neither the
   * session's worktree nor the base checkout is touched). @returns the rebased tip.
   * @throws CONFLICT listing the conflicting files (the trial is aborted and removed).
   */
  private async trialRebase(b: TaskBranch): Promise<string> {
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-rebase-'));
    const folder = path.join(temp, 'wt');
    await gitOk(b.repoRoot, ['worktree', 'add', '--detach', '--quiet', folder, b.branchCommit], 'create a temporary worktree for the rebase');
    try {
      const { code } = await git(folder, [...await identity(b.repoRoot), 'rebase', '--quiet', '--no-autostash', '--no-update-refs', b.baseCommit], [0, 1, 128]);
      if (code !== 0) {
        const conflicted = (await tryGit(folder, ['diff', '--name-only', '-z', '--diff-filter=U']))?.split('\0').filter(Boolean) ?? [];
        await tryGit(folder, ['rebase', '--abort']);
        throw new BatonError('CONFLICT', conflicted.length
          ? `Rebasing ${b.branch} onto ${b.base} conflicts in ${plural(conflicted.length, 'file')}: ${listText(conflicted)}. Nothing was changed; resolve them on the branch, or land with merge.`
          : `Rebasing ${b.branch} onto ${b.base} failed. Nothing was changed.`);
      }
      return (await gitOk(folder, ['rev-parse', 'HEAD'], 'read the rebased tip')).trim();
    } finally {
      if ((await tryGit(b.repoRoot, ['worktree', 'remove', '--force', folder])) === null) {
        fs.rmSync(folder, { recursive: true, force: true });
        await tryGit(b.repoRoot, ['worktree', 'prune']);
      }
      fs.rmSync(temp, { recursive: true, force: true });
    }
  }

  /** Releases the session's worktree by the cleanup policy once the session has ended; a landed branch left without a worktree is deleted. */
  private async release(b: TaskBranch, settings: LandingSettings): Promise<string | null> {
    if (b.live) return b.worktree ? `Worktree ${b.worktree} stays while session ${b.liveSession ?? b.sessionId} runs in it.` : null;
    if (settings.cleanup === 'keep') return null;
    try {
      if (b.worktree) {
        const manager = new WorktreeManager(b.repoRoot, { log: this.log });
        return (await manager.release(b.worktree, settings.cleanup)).message;
      }
      // The worktree is gone but the branch stayed (it held unique commits): now they are on the base.
      const tip = await tryGit(b.repoRoot, ['rev-parse', '--verify', '--quiet', `refs/heads/${b.branch}`]);
      if (tip && (await tryGit(b.repoRoot, ['merge-base', '--is-ancestor', tip.trim(), `refs/heads/${b.base}`])) !== null
        && !(await this.checkedOutAt(b.repoRoot, b.branch))) {
        await gitOk(b.repoRoot, ['branch', '-D', '--end-of-options', b.branch], `delete ${b.branch}`);
        return `Deleted branch ${b.branch} (its commits are on ${b.base}).`;
      }
      return null;
    } catch (error) {
      return `Worktree not released: ${errorText(error)}`;
    }
  }

  private record(task: Task, b: TaskBranch, actor: Actor, action: string, message: string, landing: { mode: LandMode; outcome: string; commit: string | null }): void {
    this.options.plan.recordActivity(actor, action, task.id, message);
    this.options.sessions.update(b.sessionId, {
      landing: JSON.stringify({ ...landing, base: b.base, branch: b.branch, at: this.now().toISOString(), by: actor.name }),
    });
  }

  private isLive(record: TerminalSessionRecord): boolean {
    if (this.options.isLive) return this.options.isLive(record);
    return record.endedAt === null && record.pid !== null && processRunning(record.pid) !== false;
  }

  private async baseOf(repoRoot: string, branch: string): Promise<{ base: string; source: TaskBranch['baseSource'] }> {
    const remote = (await tryGit(repoRoot, ['config', '--get', `branch.${branch}.remote`]))?.trim();
    const merge = (await tryGit(repoRoot, ['config', '--get', `branch.${branch}.merge`]))?.trim();
    if (remote === '.' && merge?.startsWith('refs/heads/')) {
      const base = merge.slice('refs/heads/'.length);
      if ((await tryGit(repoRoot, ['show-ref', '--verify', '--quiet', `refs/heads/${base}`])) !== null) return { base, source: 'upstream' };
    }
    // Sessions start from the workspace's checkout (SessionManager), so that is their base.
    const where = this.options.workspaceDir ?? repoRoot;
    const checkout = (await tryGit(where, ['symbolic-ref', '--quiet', '--short', 'HEAD']))?.trim();
    if (!checkout) throw invalid(`Cannot tell what ${branch} lands into: it has no local upstream and ${where} has no branch checked out. Check out the base branch there.`);
    if (checkout === branch) throw invalid(`${branch} is checked out in ${where}; check out its base branch there.`);
    return { base: checkout, source: 'checkout' };
  }

  /** The worktree that has `branch` checked out, or null. */
  private async checkedOutAt(repoRoot: string, branch: string): Promise<string | null> {
    const out = await gitOk(repoRoot, ['worktree', 'list', '--porcelain', '-z'], 'list the worktrees');
    let current: string | null = null;
    for (const field of out.split('\0')) {
      if (field.startsWith('worktree ')) current = field.slice('worktree '.length);
      else if (field === `branch refs/heads/${branch}` && current && fs.existsSync(current)) return canonical(current);
    }
    return null;
  }

  private async repoRoot(): Promise<string> {
    const dir = this.options.workspaceDir;
    if (!dir) throw invalid('Landing needs the workspace folder (a git repository); this Baton owner was opened without one.');
    const common = (await tryGit(dir, ['rev-parse', '--path-format=absolute', '--git-common-dir']))?.trim();
    if (!common) throw invalid(`${dir} is not a git repository: there is nothing to land.`);
    // The main worktree is the common dir's parent for an ordinary repository.
    const top = path.basename(common) === '.git' ? path.dirname(common) : (await gitOk(dir, ['rev-parse', '--show-toplevel'], 'find the repository')).trim();
    return canonical(top);
  }
}

// -----------------------------------------------------------------------------------------------
// git helpers

function canonical(p: string): string {
  try {
    return fs.realpathSync.native(path.resolve(p));
  } catch {
    return path.resolve(p);
  }
}

/** Runs git; resolves with stdout and the exit code when it is in `okCodes`, else rejects. */
async function git(cwd: string, args: string[], okCodes: number[] = [0]): Promise<{ out: string; code: number }> {
  let code = 0;
  const instance = simpleGit({
    baseDir: cwd, binary: 'git', maxConcurrentProcesses: 4, trimmed: false,
    errors: (error, result) => {
      code = result.exitCode;
      if (okCodes.includes(result.exitCode)) return undefined;
      return error ?? Buffer.from(`git exited with code ${result.exitCode}: ${Buffer.concat(result.stdErr).toString('utf8')}`);
    },
  });
  const out = await instance.raw(args);
  return { out, code };
}

async function gitOk(cwd: string, args: string[], what: string): Promise<string> {
  try {
    return (await git(cwd, args)).out;
  } catch (error) {
    throw new BatonError('UNAVAILABLE', `git could not ${what}: ${errorText(error)}`);
  }
}

async function tryGit(cwd: string, args: string[]): Promise<string | null> {
  try {
    return (await git(cwd, args)).out;
  } catch {
    return null;
  }
}

/** `-c user.name/email` for commits Baton writes when the repository has no identity configured. */
async function identity(repoRoot: string): Promise<string[]> {
  const name = (await tryGit(repoRoot, ['config', 'user.name']))?.trim();
  const email = (await tryGit(repoRoot, ['config', 'user.email']))?.trim();
  const args: string[] = [];
  if (!name) args.push('-c', 'user.name=Baton');
  if (!email) args.push('-c', 'user.email=baton@localhost');
  return args;
}

/** Paths with uncommitted changes (staged, unstaged, untracked; both sides of a rename) in a worktree. */
async function dirtyFiles(worktree: string): Promise<string[]> {
  const out = await gitOk(worktree, ['status', '--porcelain=v1', '-z', '--untracked-files=all'], `read the status of ${worktree}`);
  const files: string[] = [];
  const fields = out.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    if (field.length < 4) continue;
    const xy = field.slice(0, 2);
    if (xy === '!!') continue;
    files.push(field.slice(3));
    if (xy[0] === 'R' || xy[0] === 'C') files.push(fields[++i]);
  }
  return files;
}

/** Parses `git diff --name-status -z` (git's documented -z format: status, then one or two paths). */
export function parseNameStatus(out: string): ChangedFile[] {
  const fields = out.split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i < fields.length; i++) {
    const status = fields[i];
    if (!status) continue;
    const letter = status[0] as ChangedFile['status'];
    if (letter === 'R' || letter === 'C') {
      files.push({ status: letter, oldPath: fields[i + 1], path: fields[i + 2] });
      i += 2;
    } else {
      files.push({ status: (['A', 'M', 'D', 'T'].includes(letter) ? letter : 'M') as ChangedFile['status'], path: fields[i + 1] });
      i += 1;
    }
  }
  return files;
}
