/**
 * Git worktrees for agent sessions, with a lifecycle that never loses work.
 *
 * Agents running in parallel each get their own worktree and branch (`baton/<task>-<short id>`)
 * under a folder beside the repository, so they never write into each other's files. Ownership is
 * recorded in `<git common dir>/baton-worktrees.json` (for an ordinary repository that is
 * `<repoRoot>/.git/baton-worktrees.json`), so worktrees left behind by a crash can be found again.
 *
 * The one rule of this module: a worktree is never removed while it holds uncommitted changes or
 * commits that are on no other local branch, unless that work was first committed and pointed at by
 * a branch and a ref under `refs/baton/preserved/`. Nothing here passes `--force` to git; git's own
 * refusal to remove an unclean worktree is the second line of defence. Files ignored by
 * `.gitignore` (build output, `node_modules`) are not work and are removed with the folder.
 *
 * All git commands run through `simple-git`, which strips `GIT_*` variables inherited from the
 * environment (so a `GIT_DIR` of a surrounding process cannot redirect them). Mutating operations of
 * all managers of one repository in this process run one at a time; the registry file is written
 * atomically under a lock file, so other processes (the CLI) see it whole.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { BatonError } from '../core/errors';

/** What to do with a session's worktree when the session ends (a setting). */
export type WorktreeCleanupPolicy = 'keep' | 'remove-if-clean' | 'preserve-and-remove';

/** Log sink: one line per call. */
export type WorktreeLog = (level: 'info' | 'warn' | 'error', message: string) => void;

/** Options of {@link WorktreeManager}. */
export interface WorktreeManagerOptions {
  /** Folder that holds the worktrees; default `<repoRoot>/../.baton-worktrees/<repo folder name>`. */
  baseDir?: string;
  log?: WorktreeLog;
  /** Clock for `createdAt` and preserved-ref timestamps; default `() => new Date()`. */
  now?: () => Date;
}

/** A worktree Baton created for a session, as recorded in the registry. */
export interface WorktreeInfo {
  sessionId: string;
  taskId: string | null;
  /** Short branch name, e.g. `baton/t-12-a3f9`. */
  branch: string;
  /** Absolute, canonical (symlinks resolved) path of the worktree folder. */
  path: string;
  /** ISO 8601 time the worktree was created. */
  createdAt: string;
  /** Full commit id the branch started from. */
  baseCommit: string;
  /**
   * The local branch it started from and lands into (also set as the branch's upstream,
   * `branch.<name>.remote = .`); null when it started from a commit or a detached HEAD.
   */
  baseBranch?: string | null;
}

/** What a worktree holds that removing it would lose. */
export interface WorktreeStatus {
  /** True when `untracked + changed > 0`. */
  dirty: boolean;
  /** Untracked files (not ignored), each file counted (`--untracked-files=all`). */
  untracked: number;
  /** Tracked paths with staged or unstaged changes (including conflicts and deletions). */
  changed: number;
  /**
   * Commits reachable from the worktree's HEAD or from its session branch that no other local
   * branch contains: the commits that deleting the worktree and its session branch would orphan.
   */
  unpushedCommits: number;
}

/** Outcome of {@link WorktreeManager.release}. */
export interface ReleaseResult {
  /** True when the worktree folder is gone (removed now, or found already missing). */
  removed: boolean;
  /** Where the work is when there was work to keep (commits on no other branch); else null. */
  preserved: null | {
    /** Branch that holds the work, e.g. `baton/t-12-a3f9`; check it out to recover. */
    branch: string;
    /** Full name of the recovery ref, `refs/baton/preserved/<branch>-<UTC timestamp>`. */
    ref: string;
    /** Full commit id at the tip of the preserved work. */
    commit: string;
    /** Files committed by this release (uncommitted changes and untracked files); 0 if none. */
    files: number;
  };
  /** One or two sentences for a person: what happened, and where the work is. */
  message: string;
}

/** A worktree no live session owns: a crash left it behind, or Baton never registered it. */
export interface OrphanWorktree {
  /** Absolute, canonical path of the worktree folder. */
  path: string;
  /** Branch checked out there (or registered for it); null for an unregistered detached worktree. */
  branch: string | null;
  /** Session it was registered to; null when it is not in the registry. */
  sessionId: string | null;
  taskId: string | null;
  createdAt: string | null;
  /** `dead-session`: registered to a session that is not live; `unregistered`: under baseDir but not in the registry. */
  reason: 'dead-session' | 'unregistered';
  /** True when the folder no longer exists (git still knows it, or only the registry does). */
  missing: boolean;
  /** What it holds; null when the folder is missing. */
  status: WorktreeStatus | null;
}

const REGISTRY_FILE = 'baton-worktrees.json';
const PRESERVED_REF_PREFIX = 'refs/baton/preserved/';
const BATON_IDENT = { name: 'Baton', email: 'baton@localhost' };
const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

interface RegistryFile {
  version: 1;
  worktrees: WorktreeInfo[];
}

/** A worktree as `git worktree list --porcelain` reports it. */
interface ListedWorktree {
  path: string;
  head: string | null;
  /** Short branch name, or null when detached or bare. */
  branch: string | null;
  bare: boolean;
  locked: boolean;
  prunable: boolean;
}

/** Serializes mutating operations per repository across every manager of this process. */
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

/** Absolute path with symlinks resolved as far as the path exists. */
function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync.native(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(canonicalPath(parent), path.basename(abs));
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Lower-case slug of a task id for a branch name: `T-12` → `t-12`; empty → `free`. */
function taskSlug(taskId: string | null): string {
  if (taskId === null) return 'free';
  const slug = taskId
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 40)
    .replace(/[-_]+$/g, '');
  return slug || 'free';
}

/** `2025-01-02T03:04:05.678Z` → `20250102T030405Z` (valid in a ref name). */
function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.trim().split('\n').filter(line => line.trim() !== '').slice(-3).join(' ');
}

/**
 * Creates, inspects and releases the git worktrees of agent sessions in one repository.
 *
 * Every method is async and talks to git in child processes. Errors are {@link BatonError}s:
 * `INVALID_ARGUMENT` (not a repository, no commits, bad input), `CONFLICT` (branch or folder
 * exists), `NOT_FOUND` (path is not a worktree of this repository), `UNAVAILABLE` (git failed).
 */
export class WorktreeManager {
  private readonly repoRoot: string;
  /** Canonical folder that holds Baton's worktrees. */
  readonly baseDir: string;
  private readonly log: WorktreeLog;
  private readonly now: () => Date;
  private commonDir: string | null = null;

  /**
   * @param repoRoot the repository's working tree (its top-level folder). Nothing is checked until
   *   the first call, so a manager can be built for a folder that is not (yet) a repository.
   * @param options see {@link WorktreeManagerOptions}.
   */
  constructor(repoRoot: string, options: WorktreeManagerOptions = {}) {
    this.repoRoot = canonicalPath(repoRoot);
    this.baseDir = canonicalPath(options.baseDir ?? path.join(this.repoRoot, '..', '.baton-worktrees', path.basename(this.repoRoot)));
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /**
   * Creates a worktree on a new branch `baton/<task slug or 'free'>-<short id>` (the short id is 4
   * hex digits derived from the session id, longer if taken by another session's branch) in
   * `<baseDir>/<branch with '/' replaced by '-'>`, and records it in the registry.
   *
   * @param input.taskId task the session works on, or null; its slug names the branch.
   * @param input.sessionId the session that owns the worktree (non-empty).
   * @param input.baseRef commit-ish the branch starts from; default `HEAD`.
   * @param input.baseBranch the local branch the work lands into (recorded as the branch's upstream);
   *   default the branch `baseRef` names (for `HEAD`: the branch checked out in `repoRoot`), if any.
   * @returns the registered worktree.
   * @throws BatonError INVALID_ARGUMENT when `repoRoot` is not a git repository, has no commits, or
   *   `baseRef` does not name a commit; CONFLICT when the branch exists for this session or the
   *   folder exists and is not empty; UNAVAILABLE when git fails.
   */
  create(input: { taskId: string | null; sessionId: string; baseRef?: string; baseBranch?: string }): Promise<WorktreeInfo> {
    return serialize(this.repoRoot, () => this.createNow(input));
  }

  /**
   * What the worktree at `worktreePath` holds that removing it would lose.
   *
   * @throws BatonError NOT_FOUND when the folder does not exist or is not a worktree of this
   *   repository; UNAVAILABLE when git fails.
   */
  async inspect(worktreePath: string): Promise<WorktreeStatus> {
    const target = await this.resolveTarget(worktreePath);
    if (!fs.existsSync(target.path)) throw new BatonError('NOT_FOUND', `Worktree folder ${target.path} does not exist.`);
    if (target.missing || !target.listed) throw new BatonError('NOT_FOUND', `${target.path} is no longer a git worktree of ${this.repoRoot}.`);
    return this.publicStatus(target.path, target.branch);
  }

  /**
   * Ends Baton's use of a worktree according to `policy`:
   * - `keep`: nothing changes; the result says where it is.
   * - `remove-if-clean`: removes the folder and deletes its session branch only when there are no
   *   uncommitted changes, no untracked files and no commits that are on no other local branch;
   *   otherwise keeps both and says why.
   * - `preserve-and-remove`: commits uncommitted changes and untracked files (author and committer
   *   `Baton <baton@localhost>`, hooks skipped) on the branch checked out there (a detached HEAD
   *   gets a new branch); when the branch then holds commits on no other branch, keeps it and adds
   *   the ref `refs/baton/preserved/<branch>-<UTC timestamp>`; then removes the folder (never with
   *   `--force`). A branch that holds nothing unique is deleted. If anything could not be
   *   committed (a nested repository, a modified submodule) or git refuses to remove the folder
   *   (locked), the folder is kept and the result says so.
   *
   * A folder that is already gone is pruned from git's list and the registry; its branch is kept
   * (and given a preserved ref under `preserve-and-remove`) when it holds unique commits.
   *
   * @param worktreePath a worktree Baton registered, or any worktree under `baseDir`.
   * @throws BatonError NOT_FOUND when the path is neither; INVALID_ARGUMENT for the repository's
   *   main worktree or a worktree outside `baseDir` that Baton did not create; UNAVAILABLE when git
   *   fails before anything was removed. Refusals to remove are results, not errors.
   */
  release(worktreePath: string, policy: WorktreeCleanupPolicy): Promise<ReleaseResult> {
    return serialize(this.repoRoot, () => this.releaseNow(worktreePath, policy));
  }

  /**
   * Worktrees that no live session owns: registry entries whose session is not in
   * `liveSessionIds`, and worktrees under `baseDir` that git lists but the registry does not, each
   * with its {@link WorktreeStatus} (null when the folder is missing).
   *
   * @throws BatonError INVALID_ARGUMENT when `repoRoot` is not a git repository; UNAVAILABLE when
   *   git fails.
   */
  findOrphans(liveSessionIds: Set<string>): Promise<OrphanWorktree[]> {
    return serialize(this.repoRoot, () => this.findOrphansNow(liveSessionIds));
  }

  /**
   * Gives an orphan to a new session: its registry entry (created if it had none) now names
   * `sessionId`. Nothing in the folder changes.
   *
   * @returns the registered worktree.
   * @throws BatonError NOT_FOUND when the folder is gone or no longer a worktree; INVALID_ARGUMENT
   *   when an unregistered orphan has a detached HEAD (check out a branch there first) or
   *   `sessionId` is empty.
   */
  reattach(orphan: OrphanWorktree, sessionId: string): Promise<WorktreeInfo> {
    return serialize(this.repoRoot, () => this.reattachNow(orphan, sessionId));
  }

  /** Releases an orphan with `preserve-and-remove`; see {@link release} for the result and errors. */
  cleanup(orphan: OrphanWorktree): Promise<ReleaseResult> {
    return this.release(orphan.path, 'preserve-and-remove');
  }

  /** Every worktree in the registry (a copy). */
  async list(): Promise<WorktreeInfo[]> {
    return (await this.readRegistry()).map(r => ({ ...r }));
  }

  // ---------------------------------------------------------------------------------------------
  // Operations

  private async createNow(input: { taskId: string | null; sessionId: string; baseRef?: string; baseBranch?: string }): Promise<WorktreeInfo> {
    const { sessionId } = input;
    const taskId = input.taskId ?? null;
    if (typeof sessionId !== 'string' || sessionId.trim() === '') throw new BatonError('INVALID_ARGUMENT', 'A worktree needs a session id.');
    if (taskId !== null && typeof taskId !== 'string') throw new BatonError('INVALID_ARGUMENT', 'taskId must be a string or null.');
    await this.ensureRepository();

    const head = await this.tryGit(this.repoRoot, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
    if (head === null) {
      throw new BatonError('INVALID_ARGUMENT', `The repository at ${this.repoRoot} has no commits yet; make a first commit before starting a session in a worktree.`);
    }
    const baseRef = input.baseRef ?? 'HEAD';
    if (typeof baseRef !== 'string' || baseRef === '' || baseRef.startsWith('-')) {
      throw new BatonError('INVALID_ARGUMENT', `Invalid base ref ${JSON.stringify(baseRef)}.`);
    }
    const baseCommit = (await this.tryGit(this.repoRoot, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${baseRef}^{commit}`]))?.trim();
    // The local branch the session starts from is where its work lands (see sessions/landing.ts).
    const baseBranch = input.baseBranch !== undefined ? ((await this.branchExists(input.baseBranch)) ? input.baseBranch : null) : baseRef === 'HEAD'
      ? (await this.tryGit(this.repoRoot, ['symbolic-ref', '--quiet', '--short', 'HEAD']))?.trim() || null
      : (await this.branchExists(baseRef)) ? baseRef : null;
    if (!baseCommit) throw new BatonError('INVALID_ARGUMENT', `Base ref "${baseRef}" does not name a commit in ${this.repoRoot}.`);

    const registry = await this.readRegistry();
    const branch = await this.pickBranch(taskSlug(taskId), sessionId, registry);
    const folder = path.join(this.baseDir, branch.replace(/\//g, '-'));
    if (fs.existsSync(folder) && (!fs.statSync(folder).isDirectory() || fs.readdirSync(folder).length > 0)) {
      throw new BatonError('CONFLICT', `Cannot create the worktree for branch ${branch}: ${folder} already exists.`);
    }
    try {
      fs.mkdirSync(this.baseDir, { recursive: true });
    } catch (error) {
      throw new BatonError('UNAVAILABLE', `Cannot create the worktree folder ${this.baseDir}: ${errorText(error)}`);
    }

    const info: WorktreeInfo = {
      sessionId,
      taskId,
      branch,
      path: canonicalPath(folder),
      createdAt: this.now().toISOString(),
      baseCommit,
      baseBranch,
    };
    // Registered before git creates it, so a concurrent findOrphans never sees it as unregistered.
    await this.updateRegistry(records => [...records.filter(r => r.path !== info.path), info]);
    try {
      await this.git(this.repoRoot).raw(['worktree', 'add', '-b', branch, info.path, baseCommit]);
    } catch (error) {
      await this.updateRegistry(records => records.filter(r => r.path !== info.path)).catch(() => undefined);
      await this.undoFailedAdd(branch, baseCommit, info.path);
      throw new BatonError('UNAVAILABLE', `git could not create the worktree for branch ${branch}: ${errorText(error)}`);
    }
    if (baseBranch && (await this.tryGit(this.repoRoot, ['branch', '--quiet', `--set-upstream-to=${baseBranch}`, branch])) === null) {
      this.log('warn', `Could not record ${baseBranch} as the upstream of ${branch}; landing will use the branch checked out in ${this.repoRoot}.`);
    }
    this.log('info', `Created worktree ${info.path} on branch ${branch} for session ${sessionId}${taskId ? ` (task ${taskId})` : ''}.`);
    return { ...info };
  }

  private async releaseNow(worktreePath: string, policy: WorktreeCleanupPolicy): Promise<ReleaseResult> {
    if (policy !== 'keep' && policy !== 'remove-if-clean' && policy !== 'preserve-and-remove') {
      throw new BatonError('INVALID_ARGUMENT', `Unknown cleanup policy ${JSON.stringify(policy)}.`);
    }
    const target = await this.resolveTarget(worktreePath);
    const where = `${target.path}${target.branch ? ` (branch ${target.branch})` : ''}`;
    if (policy === 'keep') {
      return { removed: false, preserved: null, message: `Kept worktree ${where}.` };
    }
    if (!target.listed && fs.existsSync(target.path)) {
      // Registered, but git no longer knows the folder as a worktree: never delete what we cannot inspect.
      await this.forget(target.path);
      const message = `Left ${target.path} in place: it is no longer a git worktree of ${this.repoRoot}, so Baton cannot tell what it holds; removed it from Baton's registry.`;
      this.log('warn', message);
      return { removed: false, preserved: null, message };
    }
    if (target.missing) return this.releaseMissing(target, policy);
    if (policy === 'remove-if-clean') return this.removeIfClean(target);
    return this.preserveAndRemove(target);
  }

  private async removeIfClean(target: Target): Promise<ReleaseResult> {
    const status = await this.statusOf(target.path, target.branch);
    const where = `${target.path}${target.branch ? ` (branch ${target.branch})` : ''}`;
    const reasons: string[] = [];
    if (status.changed > 0) reasons.push(`${plural(status.changed, 'changed file')}`);
    if (status.untracked > 0) reasons.push(`${plural(status.untracked, 'untracked file')}`);
    if (status.unpushedCommits > 0) reasons.push(`${plural(status.unpushedCommits, 'commit')} on no other branch`);
    if (reasons.length > 0) {
      const message = `Kept worktree ${where}: it has ${reasons.join(', ')}.`;
      this.log('info', message);
      return { removed: false, preserved: null, message };
    }
    const refused = await this.removeFolder(target.path);
    if (refused) {
      const message = `Kept worktree ${where}: git refused to remove it (${refused}).`;
      this.log('warn', message);
      return { removed: false, preserved: null, message };
    }
    await this.forget(target.path);
    const deleted = target.branch ? await this.deleteBranchIfNothingUnique(target.branch) : null;
    const branchText = !target.branch || deleted === null ? ''
      : deleted ? ` and its branch ${target.branch}`
      : `; kept branch ${target.branch} (it is checked out elsewhere)`;
    const message = `Removed worktree ${target.path}${branchText}.`;
    this.log('info', message);
    return { removed: true, preserved: null, message };
  }

  private async preserveAndRemove(target: Target): Promise<ReleaseResult> {
    const before = await this.statusOf(target.path, target.branch);
    const listed = await this.listedAt(target.path);
    let workBranch: string | null = listed?.branch ?? null;
    let files = 0;
    let committed: string | null = null;

    if (before.nested.length > 0) {
      // A commit would record only a pointer to a nested repository, and removal would delete it.
      const message = `Kept worktree ${target.path}: it contains ${before.nested.length === 1 ? 'a nested git repository' : 'nested git repositories'} (${before.nested.join(', ')}) that Baton cannot preserve; move ${before.nested.length === 1 ? 'it' : 'them'} out, then remove the worktree.`;
      this.log('warn', message);
      return { removed: false, preserved: null, message };
    }
    if (before.dirty) {
      const wt = this.git(target.path);
      try {
        await this.gitOrFail(wt, ['add', '-A'], `stage the changes in ${target.path}`);
        const staged = (await this.gitOrFail(wt, ['diff', '--cached', '--name-only', '-z'], `list the staged changes in ${target.path}`))
          .split('\0').filter(Boolean);
        if (staged.length > 0) {
          const message = `baton: preserve uncommitted work of session ${target.record?.sessionId ?? 'unknown'} (task ${target.record?.taskId ?? 'none'})`;
          await this.gitOrFail(wt, [
            '-c', `user.name=${BATON_IDENT.name}`, '-c', `user.email=${BATON_IDENT.email}`,
            'commit', '--no-verify', '--no-gpg-sign', '--quiet',
            `--author=${BATON_IDENT.name} <${BATON_IDENT.email}>`, '-m', message,
          ], `commit the uncommitted work in ${target.path}`);
          committed = (await this.gitOrFail(wt, ['rev-parse', 'HEAD'], 'read HEAD')).trim();
          files = staged.length;
          this.log('info', `Committed ${plural(files, 'file')} of uncommitted work in ${target.path} as ${committed}.`);
        }
      } catch (error) {
        const message = `Kept worktree ${target.path}: ${errorText(error)}. Nothing was removed.`;
        this.log('warn', message);
        return { removed: false, preserved: null, message };
      }
    }

    const tip = (await this.gitOrFail(this.git(target.path), ['rev-parse', 'HEAD'], 'read HEAD')).trim();
    if (workBranch === null) {
      // Detached HEAD: give the work a branch so a person can check it out.
      workBranch = await this.freeBranchName(`${target.branch ?? 'baton/detached'}-detached-${compactTimestamp(this.now())}`);
      await this.gitOrFail(this.git(this.repoRoot), ['branch', workBranch, tip], `create branch ${workBranch}`);
    }
    const unique = await this.countUnique(this.repoRoot, [`refs/heads/${workBranch}`], workBranch);
    let preserved: ReleaseResult['preserved'] = null;
    if (unique > 0) {
      const ref = await this.createPreservedRef(workBranch, tip);
      preserved = { branch: workBranch, ref, commit: tip, files };
    }

    const after = await this.statusOf(target.path, target.branch);
    const where = preserved ? ` Work is on branch ${preserved.branch} (ref ${preserved.ref}), commit ${preserved.commit}.` : '';
    if (after.dirty) {
      const message = `Kept worktree ${target.path}: ${plural(after.changed + after.untracked, 'file')} could not be committed (a nested repository or a modified submodule?).${where}`;
      this.log('warn', message);
      return { removed: false, preserved, message };
    }
    const refused = await this.removeFolder(target.path);
    if (refused) {
      const message = `Kept worktree ${target.path}: git refused to remove it (${refused}).${where}`;
      this.log('warn', message);
      return { removed: false, preserved, message };
    }
    await this.forget(target.path);

    // Branches that hold nothing unique are clutter; the work branch with unique commits stays.
    const deletedBranches: string[] = [];
    const keptBranches: string[] = [];
    for (const b of new Set([target.branch, workBranch])) {
      if (!b || (preserved && b === preserved.branch)) continue;
      const deleted = await this.deleteBranchIfNothingUnique(b);
      if (deleted) deletedBranches.push(b);
      else if (deleted === false) keptBranches.push(b);
    }
    const committedText = files > 0 ? ` (${plural(files, 'uncommitted file')} committed)` : '';
    const keptText = keptBranches.length ? ` Also kept branch ${keptBranches.join(', ')}: it has commits on no other branch or is checked out elsewhere.` : '';
    const message = (preserved
      ? `Removed worktree ${target.path}. Work preserved on branch ${preserved.branch} (ref ${preserved.ref}), commit ${preserved.commit}${committedText}; recover it with "git checkout ${preserved.branch}".`
      : `Removed worktree ${target.path}; it held no work that is not on another branch${deletedBranches.length ? ` (deleted branch ${deletedBranches.join(', ')})` : ''}.`) + keptText;
    this.log('info', message);
    return { removed: true, preserved, message };
  }

  /** Release of a worktree whose folder is gone: prune git's entry and the registry; keep unique commits. */
  private async releaseMissing(target: Target, policy: WorktreeCleanupPolicy): Promise<ReleaseResult> {
    await this.tryGit(this.repoRoot, ['worktree', 'prune']);
    await this.forget(target.path);
    let preserved: ReleaseResult['preserved'] = null;
    let branchText = '';
    if (target.branch && (await this.branchExists(target.branch))) {
      const unique = await this.countUnique(this.repoRoot, [`refs/heads/${target.branch}`], target.branch);
      if (unique > 0) {
        const commit = (await this.gitOrFail(this.git(this.repoRoot), ['rev-parse', `refs/heads/${target.branch}`], 'read the branch')).trim();
        if (policy === 'preserve-and-remove') {
          const ref = await this.createPreservedRef(target.branch, commit);
          preserved = { branch: target.branch, ref, commit, files: 0 };
          branchText = ` Its commits are on branch ${target.branch} (ref ${ref}), commit ${commit}.`;
        } else {
          branchText = ` Kept branch ${target.branch}: it has ${plural(unique, 'commit')} on no other branch.`;
        }
      } else if (await this.deleteBranchIfNothingUnique(target.branch)) {
        branchText = ` Deleted branch ${target.branch}.`;
      }
    }
    const message = `Worktree folder ${target.path} was already gone; removed it from git's list and Baton's registry.${branchText}`;
    this.log('info', message);
    return { removed: true, preserved, message };
  }

  private async findOrphansNow(liveSessionIds: Set<string>): Promise<OrphanWorktree[]> {
    await this.ensureRepository();
    const [records, listed] = await Promise.all([this.readRegistry(), this.listWorktrees()]);
    const byPath = new Map(listed.map(w => [w.path, w]));
    const registered = new Set(records.map(r => r.path));
    const orphans: OrphanWorktree[] = [];
    for (const record of records) {
      if (liveSessionIds.has(record.sessionId)) continue;
      const entry = byPath.get(record.path);
      const missing = !entry || entry.prunable || !fs.existsSync(record.path);
      orphans.push({
        path: record.path,
        branch: entry?.branch ?? record.branch,
        sessionId: record.sessionId,
        taskId: record.taskId,
        createdAt: record.createdAt,
        reason: 'dead-session',
        missing,
        status: missing ? null : await this.publicStatus(record.path, record.branch).catch(() => null),
      });
    }
    for (const entry of listed.slice(1)) {
      if (registered.has(entry.path) || !isInside(entry.path, this.baseDir) || entry.bare) continue;
      const missing = entry.prunable || !fs.existsSync(entry.path);
      orphans.push({
        path: entry.path,
        branch: entry.branch,
        sessionId: null,
        taskId: null,
        createdAt: null,
        reason: 'unregistered',
        missing,
        status: missing ? null : await this.publicStatus(entry.path, entry.branch).catch(() => null),
      });
    }
    return orphans;
  }

  private async reattachNow(orphan: OrphanWorktree, sessionId: string): Promise<WorktreeInfo> {
    if (typeof sessionId !== 'string' || sessionId.trim() === '') throw new BatonError('INVALID_ARGUMENT', 'reattach needs a session id.');
    const target = await this.resolveTarget(orphan.path);
    if (target.missing || !target.listed) {
      throw new BatonError('NOT_FOUND', `Cannot reattach ${target.path}: the folder is gone; clean it up instead.`);
    }
    let info: WorktreeInfo;
    if (target.record) {
      info = { ...target.record, sessionId };
    } else {
      const listed = await this.listedAt(target.path);
      if (!listed?.branch) {
        throw new BatonError('INVALID_ARGUMENT', `Cannot reattach ${target.path}: its HEAD is detached; check out a branch there first.`);
      }
      info = {
        sessionId,
        taskId: orphan.taskId ?? null,
        branch: listed.branch,
        path: target.path,
        createdAt: this.now().toISOString(),
        baseCommit: listed.head ?? '',
      };
    }
    await this.updateRegistry(records => [...records.filter(r => r.path !== info.path), info]);
    this.log('info', `Reattached worktree ${info.path} (branch ${info.branch}) to session ${sessionId}.`);
    return { ...info };
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers: targets and status

  /** Finds what `worktreePath` is: a registered and/or listed worktree of this repository. */
  private async resolveTarget(worktreePath: string): Promise<Target> {
    if (typeof worktreePath !== 'string' || worktreePath === '') throw new BatonError('INVALID_ARGUMENT', 'A worktree path is required.');
    await this.ensureRepository();
    const p = canonicalPath(worktreePath);
    const [records, listed] = await Promise.all([this.readRegistry(), this.listWorktrees()]);
    if (listed.length > 0 && listed[0].path === p) {
      throw new BatonError('INVALID_ARGUMENT', `${p} is the repository's main worktree; Baton only manages the worktrees it created.`);
    }
    const record = records.find(r => r.path === p) ?? null;
    const entry = listed.find(w => w.path === p) ?? null;
    if (!record && !entry) throw new BatonError('NOT_FOUND', `${p} is not a worktree of ${this.repoRoot}.`);
    if (!record && !isInside(p, this.baseDir)) {
      throw new BatonError('INVALID_ARGUMENT', `${p} is not a Baton worktree (it is neither registered nor under ${this.baseDir}).`);
    }
    const missing = !fs.existsSync(p) || (entry?.prunable ?? false) || !entry;
    return { path: p, record, listed: entry !== null, missing, branch: record?.branch ?? entry?.branch ?? null };
  }

  private async publicStatus(worktreePath: string, sessionBranch: string | null): Promise<WorktreeStatus> {
    const { dirty, untracked, changed, unpushedCommits } = await this.statusOf(worktreePath, sessionBranch);
    return { dirty, untracked, changed, unpushedCommits };
  }

  /** The status, plus untracked folders git reports whole: nested repositories it cannot commit. */
  private async statusOf(worktreePath: string, sessionBranch: string | null): Promise<WorktreeStatus & { nested: string[] }> {
    if (!fs.existsSync(worktreePath)) throw new BatonError('NOT_FOUND', `Worktree folder ${worktreePath} does not exist.`);
    const wt = this.git(worktreePath);
    const out = await this.gitOrFail(wt, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignore-submodules=none'], `read the status of ${worktreePath}`);
    let untracked = 0;
    let changed = 0;
    const nested: string[] = [];
    const fields = out.split('\0');
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      if (field.length < 3) continue;
      const xy = field.slice(0, 2);
      if (xy === '??') {
        untracked++;
        // With --untracked-files=all only a nested repository is listed as a folder.
        if (field.endsWith('/')) nested.push(field.slice(3));
      }
      else if (xy !== '!!') changed++;
      if (xy[0] === 'R' || xy[0] === 'C') i++; // the rename's source path follows
    }
    const tips = ['HEAD'];
    if (sessionBranch && (await this.branchExists(sessionBranch))) tips.push(`refs/heads/${sessionBranch}`);
    const unpushedCommits = await this.countUnique(worktreePath, tips, sessionBranch);
    return { dirty: untracked + changed > 0, untracked, changed, unpushedCommits, nested };
  }

  /** Commits reachable from `tips` but from no local branch other than `exceptBranch`. */
  private async countUnique(cwd: string, tips: string[], exceptBranch: string | null): Promise<number> {
    const args = ['rev-list', '--count', ...tips, '--not'];
    // Branch names cannot contain glob characters (*, ?, [), so the pattern matches exactly that branch.
    if (exceptBranch) args.push(`--exclude=${exceptBranch}`);
    args.push('--branches');
    const out = await this.gitOrFail(this.git(cwd), args, 'count the commits on no other branch');
    const n = Number.parseInt(out.trim(), 10);
    if (!Number.isFinite(n)) throw new BatonError('UNAVAILABLE', `git rev-list gave an unexpected answer: ${out.trim()}`);
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers: branches, refs, removal

  private async pickBranch(slug: string, sessionId: string, registry: WorktreeInfo[]): Promise<string> {
    const hash = createHash('sha1').update(sessionId).digest('hex');
    for (const length of [4, 6, 8, 12]) {
      const branch = `baton/${slug}-${hash.slice(0, length)}`;
      if (!(await this.branchExists(branch))) {
        const check = await this.tryGit(this.repoRoot, ['check-ref-format', `refs/heads/${branch}`]);
        if (check === null) throw new BatonError('INVALID_ARGUMENT', `"${branch}" is not a valid branch name.`);
        return branch;
      }
      const owner = registry.find(r => r.branch === branch);
      if (owner && owner.sessionId === sessionId) {
        throw new BatonError('CONFLICT', `Branch ${branch} already exists: session ${sessionId} already has a worktree at ${owner.path}.`);
      }
      // Taken by another session or left over from an earlier one: never reuse it, try a longer id.
    }
    throw new BatonError('CONFLICT', `Branch baton/${slug}-${hash.slice(0, 12)} and its shorter forms already exist; delete old baton/${slug}-* branches or pick another session id.`);
  }

  private async branchExists(branch: string): Promise<boolean> {
    return (await this.tryGit(this.repoRoot, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`])) !== null;
  }

  private async freeBranchName(wanted: string): Promise<string> {
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? wanted : `${wanted}-${i}`;
      if (!(await this.branchExists(candidate))) return candidate;
    }
  }

  /** Creates `refs/baton/preserved/<branch>-<timestamp>[-n]` at `commit`, never overwriting a ref. */
  private async createPreservedRef(branch: string, commit: string): Promise<string> {
    const base = `${PRESERVED_REF_PREFIX}${branch}-${compactTimestamp(this.now())}`;
    for (let i = 1; i <= 100; i++) {
      const ref = i === 1 ? base : `${base}-${i}`;
      // An empty old value makes update-ref fail when the ref already exists.
      if ((await this.tryGit(this.repoRoot, ['update-ref', '-m', 'baton: preserve work', ref, commit, ''])) !== null) {
        this.log('info', `Created ${ref} at ${commit}.`);
        return ref;
      }
    }
    throw new BatonError('UNAVAILABLE', `Could not create a ref under ${base}.`);
  }

  /**
   * Deletes `branch` when no worktree has it checked out and every commit on it is on another
   * local branch. @returns true when deleted; false when kept; null when it did not exist.
   */
  private async deleteBranchIfNothingUnique(branch: string): Promise<boolean | null> {
    if (!(await this.branchExists(branch))) return null;
    const listed = await this.listWorktrees();
    if (listed.some(w => w.branch === branch)) return false;
    if ((await this.countUnique(this.repoRoot, [`refs/heads/${branch}`], branch)) > 0) return false;
    // -D because -d asks "merged into HEAD?"; we checked "contained in another branch" above.
    const done = await this.tryGit(this.repoRoot, ['branch', '-D', '--end-of-options', branch]);
    if (done === null) return false;
    this.log('info', `Deleted branch ${branch} (all its commits are on other branches).`);
    return true;
  }

  /** `git worktree remove` without --force. @returns null when removed, else git's reason. */
  private async removeFolder(worktreePath: string): Promise<string | null> {
    try {
      await this.git(this.repoRoot).raw(['worktree', 'remove', worktreePath]);
      return null;
    } catch (error) {
      return errorText(error);
    }
  }

  /** Best-effort undo of a failed `git worktree add -b`: drops the new branch if nothing uses it. */
  private async undoFailedAdd(branch: string, baseCommit: string, folder: string): Promise<void> {
    try {
      const listed = await this.listWorktrees();
      if (listed.some(w => w.path === folder)) return; // git did create it: leave it for findOrphans
      const tip = await this.tryGit(this.repoRoot, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]);
      if (tip?.trim() === baseCommit) await this.tryGit(this.repoRoot, ['branch', '-D', '--end-of-options', branch]);
    } catch {
      // nothing more to do
    }
  }

  private async listedAt(worktreePath: string): Promise<ListedWorktree | null> {
    return (await this.listWorktrees()).find(w => w.path === worktreePath) ?? null;
  }

  /** `git worktree list --porcelain -z`; the first entry is the main worktree. */
  private async listWorktrees(): Promise<ListedWorktree[]> {
    const out = await this.gitOrFail(this.git(this.repoRoot), ['worktree', 'list', '--porcelain', '-z'], 'list the worktrees');
    const result: ListedWorktree[] = [];
    let current: ListedWorktree | null = null;
    for (const field of out.split('\0')) {
      if (field === '') {
        if (current) result.push(current);
        current = null;
        continue;
      }
      const space = field.indexOf(' ');
      const key = space < 0 ? field : field.slice(0, space);
      const value = space < 0 ? '' : field.slice(space + 1);
      if (key === 'worktree') {
        if (current) result.push(current);
        current = { path: canonicalPath(value), head: null, branch: null, bare: false, locked: false, prunable: false };
      } else if (current) {
        if (key === 'HEAD') current.head = value;
        else if (key === 'branch') current.branch = value.replace(/^refs\/heads\//, '');
        else if (key === 'bare') current.bare = true;
        else if (key === 'locked') current.locked = true;
        else if (key === 'prunable') current.prunable = true;
      }
    }
    if (current) result.push(current);
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers: registry

  private async registryPath(): Promise<string> {
    if (this.commonDir === null) {
      await this.ensureRepository();
      const out = await this.gitOrFail(this.git(this.repoRoot), ['rev-parse', '--git-common-dir'], 'find the git directory');
      this.commonDir = canonicalPath(path.resolve(this.repoRoot, out.trim()));
    }
    return path.join(this.commonDir, REGISTRY_FILE);
  }

  private async readRegistry(): Promise<WorktreeInfo[]> {
    const file = await this.registryPath();
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new BatonError('UNAVAILABLE', `Cannot read ${file}: ${errorText(error)}`);
    }
    try {
      const parsed = JSON.parse(text) as Partial<RegistryFile>;
      const entries = Array.isArray(parsed.worktrees) ? parsed.worktrees : [];
      return entries.filter((r): r is WorktreeInfo =>
        !!r && typeof r === 'object' && typeof r.sessionId === 'string' && typeof r.branch === 'string' && typeof r.path === 'string')
        .map(r => ({
          sessionId: r.sessionId,
          taskId: typeof r.taskId === 'string' ? r.taskId : null,
          branch: r.branch,
          path: canonicalPath(r.path),
          createdAt: typeof r.createdAt === 'string' ? r.createdAt : '',
          baseCommit: typeof r.baseCommit === 'string' ? r.baseCommit : '',
          baseBranch: typeof r.baseBranch === 'string' ? r.baseBranch : null,
        }));
    } catch {
      const aside = `${file}.corrupt-${compactTimestamp(this.now())}`;
      try {
        fs.renameSync(file, aside);
      } catch {
        // another process may have moved it already
      }
      this.log('warn', `The worktree registry ${file} was not valid JSON; moved it to ${aside}. Worktrees under ${this.baseDir} are still found as unregistered.`);
      return [];
    }
  }

  /** Read-modify-write of the registry under `<registry>.lock`, written atomically. */
  private async updateRegistry(change: (records: WorktreeInfo[]) => WorktreeInfo[]): Promise<void> {
    const file = await this.registryPath();
    const lock = `${file}.lock`;
    const started = Date.now();
    for (;;) {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new BatonError('UNAVAILABLE', `Cannot lock ${file}: ${errorText(error)}`);
        try {
          if (Date.now() - fs.statSync(lock).mtimeMs > LOCK_STALE_MS) fs.rmSync(lock, { force: true });
        } catch {
          // gone meanwhile
        }
        if (Date.now() - started > LOCK_WAIT_MS) throw new BatonError('UNAVAILABLE', `${lock} is held by another process; try again.`);
        await new Promise(resolve => setTimeout(resolve, 25));
      }
    }
    try {
      const next: RegistryFile = { version: 1, worktrees: change(await this.readRegistry()) };
      const temp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temp, JSON.stringify(next, null, 2) + '\n');
      fs.renameSync(temp, file);
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  private async forget(worktreePath: string): Promise<void> {
    await this.updateRegistry(records => records.filter(r => r.path !== worktreePath));
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers: git

  private git(cwd: string): SimpleGit {
    try {
      return simpleGit({
        baseDir: cwd,
        binary: 'git',
        maxConcurrentProcesses: 4,
        trimmed: false,
        // simple-git only fails a command that wrote to stderr; fail on any non-zero exit code.
        errors: (error, result) => error ?? (result.exitCode !== 0 ? Buffer.from(`git exited with code ${result.exitCode}`) : undefined),
      });
    } catch (error) {
      throw new BatonError('NOT_FOUND', `Cannot run git in ${cwd}: ${errorText(error)}`);
    }
  }

  private async gitOrFail(git: SimpleGit, args: string[], what: string): Promise<string> {
    try {
      return await git.raw(args);
    } catch (error) {
      throw new BatonError('UNAVAILABLE', `git could not ${what}: ${errorText(error)}`);
    }
  }

  /** stdout of a git command, or null when it failed (for probes whose failure is an answer). */
  private async tryGit(cwd: string, args: string[]): Promise<string | null> {
    try {
      return await this.git(cwd).raw(args);
    } catch {
      return null;
    }
  }

  private async ensureRepository(): Promise<void> {
    if (!fs.existsSync(this.repoRoot) || !fs.statSync(this.repoRoot).isDirectory()) {
      throw new BatonError('INVALID_ARGUMENT', `${this.repoRoot} is not a git repository: the folder does not exist.`);
    }
    const inside = await this.tryGit(this.repoRoot, ['rev-parse', '--is-inside-work-tree']);
    if (inside?.trim() !== 'true') throw new BatonError('INVALID_ARGUMENT', `${this.repoRoot} is not a git repository (or has no working tree).`);
  }
}

interface Target {
  path: string;
  record: WorktreeInfo | null;
  /** git lists it (possibly as prunable). */
  listed: boolean;
  /** The folder is gone. */
  missing: boolean;
  /** Session branch: the registered one, else the one checked out there. */
  branch: string | null;
}
