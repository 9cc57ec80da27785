import { simpleGit } from 'simple-git';
import { parseAgentRef } from '../core/agent';
import type { Disposable } from '../core/event';
import type { Actor } from '../core/model';
import { reviewerPrompt } from '../core/reviewPipeline';
import type { PlanService } from '../services/planService';
import type { ReviewService, ReviewStarted } from '../services/reviewService';
import type { SessionManager } from '../sessions/sessionManager';

export interface ReviewerLauncherOptions {
  plan: PlanService;
  reviews: ReviewService;
  sessions: SessionManager;
  /** The workspace folder (where a task without a worktree was worked on). */
  workspaceDir: string;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

const BATON: Actor = { kind: 'system', name: 'baton' };

/**
 * Starts the reviewer sessions of a review round (issue 8 §2): when a task's completion opens a round
 * (`ReviewService.onDidStartReview`), one agent session per reviewer slot of the pipeline
 * (`profile[:role]`), in the worktree the task was implemented in (the newest session on the task that
 * had one; else the workspace folder), so reviewers see the work on its branch. Each is given the
 * reviewer prompt: the task, the diff against the base (the branch the workspace's checkout is on, from
 * which Baton's worktrees start) and the review checklist, and answers with `submit_review`. The
 * sessions claim nothing: the task stays IN_REVIEW until the round's outcome moves it. Every start, and
 * every slot that could not start (unknown profile, CLI not installed), is an activity entry of the task
 * with its reason. Runs where the sessions run (the VS Code window).
 */
export class ReviewerLauncher implements Disposable {
  private readonly subscription: Disposable;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly options: ReviewerLauncherOptions) {
    this.subscription = options.reviews.onDidStartReview(e => {
      this.pending = this.pending.then(() => this.launch(e)).catch(err => options.log('error', `[Reviews] ${(err as Error).message}`));
    });
  }

  /** Resolves once the reviewer sessions of every round opened so far have been started (or refused). */
  whenIdle(): Promise<void> {
    return this.pending;
  }

  dispose(): void {
    this.subscription.dispose();
  }

  private async launch({ task, round }: ReviewStarted): Promise<void> {
    const { plan, reviews, sessions, workspaceDir, log } = this.options;
    const implemented = [...sessions.list().map(s => s.record), ...sessions.history(200)]
      .filter(r => r.taskId === task.id && r.worktree)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
    const cwd = implemented?.worktree ?? workspaceDir;
    const base = await checkoutBranch(workspaceDir);
    for (const slot of round.reviewers) {
      let ref;
      try {
        ref = parseAgentRef(slot);
        sessions.profile(ref.profile); // throws NOT_FOUND naming the profile
      } catch (err) {
        plan.recordActivity(BATON, 'review.notStarted', task.id, `not started reviewer ${slot} of round ${round.round}: ${(err as Error).message}`);
        continue;
      }
      let prompt: string;
      try {
        prompt = await reviews.reviewerPrompt(task.id, slot, { cwd, ...(base ? { base } : {}) });
      } catch (err) {
        // Not a git repository (or no base): the reviewer still gets the task and the checklist.
        log('warn', `[Reviews] no diff for ${task.id} in ${cwd}: ${(err as Error).message}`);
        prompt = reviewerPrompt({ task, reviewer: slot, round: round.round, base: base ?? 'the base', diff: `(no diff: ${(err as Error).message})` });
      }
      try {
        const live = await sessions.start({ profileId: ref.profile, role: ref.role, review: { taskId: task.id, cwd, prompt } });
        plan.recordActivity(BATON, 'review.started', task.id,
          `started ${slot} as reviewer of ${task.id} (round ${round.round}) in ${implemented?.worktree ? `the worktree of ${implemented.id}${implemented.branch ? ` (${implemented.branch})` : ''}` : 'the workspace folder'}: session ${live.record.id}`);
      } catch (err) {
        plan.recordActivity(BATON, 'review.notStarted', task.id, `not started reviewer ${slot} of round ${round.round}: ${(err as Error).message}`);
      }
    }
  }
}

/** The branch the workspace's checkout is on (worktrees start from it), or undefined when there is none. */
async function checkoutBranch(dir: string): Promise<string | undefined> {
  try {
    const name = (await simpleGit({ baseDir: dir }).raw(['symbolic-ref', '--quiet', '--short', 'HEAD'])).trim();
    return name || undefined;
  } catch {
    return undefined;
  }
}
