import { simpleGit } from 'simple-git';
import { formatAgentRef, parseAgentRef } from '../core/agent';
import { invalid } from '../core/errors';
import { Emitter, type Disposable, type Event } from '../core/event';
import type { Actor, Task, TaskStatus } from '../core/model';
import {
  findingLine, formatGate, formatPipeline, parsePipeline, parseReview, resolvePipeline, reviewerPrompt, reviewMarkdown, roundOutcome,
  type PipelineSource, type ReviewGate, type ReviewPipeline,
} from '../core/reviewPipeline';
import type { AgentSession } from '../store/coordinationRepository';
import type { SqlWriter } from '../store/planRepository';
import type { ReviewRecord, ReviewRepository, ReviewRound, RoundState } from '../store/reviewRepository';
import type { ArtifactService } from './artifactService';
import type { InboxService } from './inboxService';
import type { MessageService } from './messageService';
import type { PlanService, StatusHook } from './planService';

/** A round and its reviews, as tools and views show them. */
export interface RoundDetails extends ReviewRound {
  reviews: ReviewRecord[];
  /** Reviewer slots still to answer (only while `reviewing`). */
  waitingFor: string[];
}

/** What `details` returns: the pipeline in force and every round of the task, oldest first. */
export interface ReviewDetails {
  pipeline: { spec: string; source: PipelineSource } | null;
  rounds: RoundDetails[];
}

/** Fired when a task's completion opened a review round: who should review it (for starting reviewer sessions). */
export interface ReviewStarted {
  task: Task;
  round: ReviewRound;
}

const OPEN_STATES: RoundState[] = ['reviewing', 'awaiting_gate'];
const BATON: Actor = { kind: 'system', name: 'baton' };

/**
 * Review pipelines (`core/reviewPipeline.ts`) over the plan: a task with a pipeline in force that is
 * completed (`complete_task`, or a person marking it done) goes to IN_REVIEW and a review round opens;
 * reviewer agents answer with `submitReview`; once every reviewer of the round has answered, any
 * `request_changes` (or, for a rule gate, a score below the gate's) sends the task back to IN_PROGRESS
 * with the findings as a note and a message to the implementer; all approving passes a rule gate to
 * DONE, or asks the person (an Inbox approval with the reviews attached) for a human gate, whose
 * approval makes it DONE and whose rejection returns it to IN_PROGRESS. Reviews are stored as task
 * artifacts (markdown) and as rows. While a round is open an agent cannot move the task to DONE; the
 * person can (the round then ends `overridden`). Installs itself as the plan's status hook.
 */
export class ReviewService implements Disposable {
  private readonly _onDidStartReview = new Emitter<ReviewStarted>();
  /** Fires after a round opened (its reviewers should be started). */
  readonly onDidStartReview: Event<ReviewStarted> = this._onDidStartReview.event;
  private readonly _onDidChangeReviews = new Emitter<{ taskId: string }>();
  /** Fires after a round or review of a task changed. */
  readonly onDidChangeReviews: Event<{ taskId: string }> = this._onDidChangeReviews.event;
  private readonly _onDidApprove = new Emitter<{ taskId: string; round: number }>();
  /** Fires after a round's gate approved its task (the task is DONE): a rule gate passed or the person approved. */
  readonly onDidApprove: Event<{ taskId: string; round: number }> = this._onDidApprove.event;
  private workspaceSpec: string | null = null;
  /** Set while this service moves a task itself (its own moves skip its routing). */
  private internal = 0;
  private readonly subscriptions: Disposable[] = [];
  /** Rounds opened / closed by the current status move, for `after`. */
  private pending = new Map<string, { opened?: ReviewRound; closed?: ReviewRound }>();

  constructor(
    private readonly repo: ReviewRepository,
    private readonly plan: PlanService,
    private readonly artifacts: ArtifactService,
    private readonly inbox: InboxService,
    private readonly messages: MessageService,
    private readonly sanitize: (text: string) => string = t => t,
    private readonly now: () => Date = () => new Date(),
    private readonly log: (level: 'info' | 'warn', message: string) => void = () => undefined,
  ) {
    plan.setStatusHook(this.hook);
    this.subscriptions.push(inbox.onDidChangeInbox(change => {
      if (change.change === 'resolved') this.gateAnswered(change.request.id);
    }));
    this.recover();
  }

  /**
   * Finishes what a crash may have left half done: a round whose reviews are all in but whose outcome
   * was not applied, or whose gate's Inbox request was answered before the task moved.
   */
  recover(): void {
    for (const round of this.repo.roundsIn(OPEN_STATES)) {
      try {
        if (round.state === 'reviewing') this.advance(round.taskId);
        else if (round.requestId && this.inbox.get(round.requestId).status !== 'open') this.gateAnswered(round.requestId);
      } catch (error) {
        this.log('warn', `[Review] ${round.taskId} round ${round.round} could not be resumed: ${(error as Error).message}`);
      }
    }
  }

  dispose(): void {
    this.plan.setStatusHook(undefined);
    for (const s of this.subscriptions) s.dispose();
    this._onDidStartReview.dispose();
    this._onDidChangeReviews.dispose();
    this._onDidApprove.dispose();
  }

  // ------------------------------------------------------------------ pipelines

  /**
   * Sets the workspace's pipeline (`baton.review.pipeline`); empty or null clears it.
   * @throws BatonError INVALID_ARGUMENT for an invalid spec (the previous one stays).
   */
  setWorkspacePipeline(spec: string | null | undefined): void {
    this.workspaceSpec = spec?.trim() ? (parsePipeline(spec), spec.trim()) : null;
  }

  /**
   * Sets (or with null clears) the pipeline of a task (`T-5`) or sprint (`S-2`); `none` switches review
   * off for it. Returns the canonical spec stored (null when cleared).
   * @throws BatonError INVALID_ARGUMENT for a bad spec, NOT_FOUND for an unknown task or sprint.
   */
  setPipeline(target: string, spec: string | null, actor: Actor): { target: string; spec: string | null } {
    const { kind, id } = this.target(target);
    const canonical = spec === null || !spec.trim() ? null : formatPipeline(parsePipeline(spec));
    this.repo.transaction(tx => this.repo.setPipeline(tx, kind, id, canonical, this.stamp()));
    this.plan.recordActivity(actor, 'review.pipeline', kind === 'task' ? id : null,
      canonical ? `review pipeline of ${id} set to "${canonical}"` : `review pipeline of ${id} cleared`);
    this._onDidChangeReviews.fire({ taskId: kind === 'task' ? id : '' });
    return { target: id, spec: canonical };
  }

  /** The pipeline in force for a task (task > sprint > workspace), or null when none (or `none`). */
  pipelineFor(task: Task): { pipeline: ReviewPipeline; source: PipelineSource; spec: string } | null {
    return resolvePipeline({
      task: this.repo.getPipeline('task', task.id)?.spec,
      sprint: task.sprintId ? this.repo.getPipeline('sprint', task.sprintId)?.spec : null,
      workspace: this.workspaceSpec,
    });
  }

  // ------------------------------------------------------------------ reads

  /** The pipeline in force and every round with its reviews. */
  details(taskRef: string): ReviewDetails {
    const task = this.plan.resolveTask(taskRef);
    const resolved = safe(() => this.pipelineFor(task));
    return {
      pipeline: resolved ? { spec: resolved.spec, source: resolved.source } : null,
      rounds: this.repo.listRounds(task.id).map(r => this.roundDetails(r)),
    };
  }

  /** The task's open round (reviewing or waiting for its gate), if any. */
  openRound(taskId: string): ReviewRound | undefined {
    const r = this.repo.latestRound(taskId);
    return r && OPEN_STATES.includes(r.state) ? r : undefined;
  }

  // ------------------------------------------------------------------ reviews

  /**
   * Records a reviewer's review of a task in review. The reviewer is the calling agent session: its
   * profile (and role, when the pipeline names one) must match a reviewer of the open round not yet
   * answered; one review per session and per reviewer in a round; the task's implementer cannot
   * review it. The review's text is redacted and stored as a task artifact. When it is the round's
   * last, the round's outcome is applied at once (see the class comment).
   * @throws BatonError INVALID_ARGUMENT saying what is wrong (nothing is stored); NOT_FOUND for an unknown task.
   */
  submitReview(session: AgentSession | null, taskRef: string, input: unknown, actor: Actor): { review: ReviewRecord; round: RoundDetails; task: Task } {
    if (!session) throw invalid('submit_review is for reviewer agent sessions.');
    const task = this.plan.resolveTask(taskRef);
    const round = this.openRound(task.id);
    if (task.status !== 'IN_REVIEW' || !round) {
      throw invalid(`${task.id} "${task.title}" is ${task.status}${round ? '' : ' with no open review round'}: only a task in review can be reviewed.`);
    }
    if (round.state !== 'reviewing') {
      throw invalid(`Review round ${round.round} of ${task.id} already has every review; it waits for ${round.requestId ? `the person's approval (${round.requestId})` : 'its gate'}.`);
    }
    const reviews = this.repo.listReviews(task.id, round.round);
    const own = reviews.find(r => r.sessionId === session.id);
    if (own) throw invalid(`Session ${session.id} already reviewed round ${round.round} of ${task.id} (${own.id}): one review per session per round.`);
    if (round.implementer === actor.name) {
      throw invalid(`${actor.name} implemented ${task.id}; a reviewer must be another session.`);
    }
    if (!session.profile) throw invalid('Call agent_init with your profile (e.g. "codex") first: the review pipeline names its reviewers by profile.');
    const matching = round.reviewers.filter(slot => {
      const ref = parseAgentRef(slot);
      return ref.profile.toLowerCase() === session.profile!.toLowerCase() && (ref.role === null || ref.role === session.role);
    });
    const me = `${session.profile}${session.role ? `:${session.role}` : ''}`;
    if (!matching.length) throw invalid(`Round ${round.round} of ${task.id} waits for reviews from ${round.reviewers.join(', ')}; this session is ${me}.`);
    const slot = matching.find(s => !reviews.some(r => r.reviewer === s));
    if (!slot) {
      const by = reviews.find(r => r.reviewer === matching[0]);
      throw invalid(`${matching.join(', ')} already reviewed round ${round.round} of ${task.id}${by ? ` (${by.id} by ${by.agentName})` : ''}.`);
    }
    const parsed = parseReview(input);
    const clean = {
      ...parsed,
      summary: this.sanitize(parsed.summary),
      strengths: parsed.strengths.map(this.sanitize), criticalGaps: parsed.criticalGaps.map(this.sanitize),
      recommendations: parsed.recommendations.map(this.sanitize),
      findings: parsed.findings.map(f => ({ ...f, file: this.sanitize(f.file), message: this.sanitize(f.message) })),
    };
    const at = this.stamp();
    const num = this.repo.nextReviewNumber();
    const stored = this.artifacts.store({
      name: `review-${task.id}-r${round.round}-${slot.replace(/[^A-Za-z0-9._-]/g, '_')}.md`, mediaType: 'text/markdown', taskId: task.id,
      content: reviewMarkdown({ ...clean, taskId: task.id, taskTitle: task.title, round: round.round, reviewer: slot, by: actor.name, at }),
    }, actor);
    const review: ReviewRecord = {
      id: `RV-${num}`, taskId: task.id, round: round.round, reviewer: slot, sessionId: session.id, agentName: actor.name,
      score: clean.score, verdict: clean.verdict, summary: clean.summary, strengths: clean.strengths, criticalGaps: clean.criticalGaps,
      recommendations: clean.recommendations, findings: clean.findings, artifactId: stored.id, createdAt: at,
    };
    this.repo.transaction(tx => this.repo.insertReview(tx, num, review));
    this.plan.recordActivity(actor, 'review.submitted', task.id, `${review.id} round ${round.round} by ${slot}: ${review.score}/10, ${review.verdict} (${stored.id})`);
    this._onDidChangeReviews.fire({ taskId: task.id });
    this.advance(task.id);
    const after = this.repo.latestRound(task.id)!;
    return { review, round: this.roundDetails(after), task: this.plan.getTask(task.id) };
  }

  /**
   * The prompt for a reviewer session of the task's open round: the task, the diff of `cwd` (the
   * task's worktree) against `base` (the merge base of `base` and HEAD; working-tree changes
   * included, untracked files not), and the checklist. @throws BatonError INVALID_ARGUMENT when no
   * round is open; Error from git when `cwd` is no repository or `base` is unknown.
   */
  async reviewerPrompt(taskRef: string, reviewer: string, options: { cwd: string; base?: string }): Promise<string> {
    const task = this.plan.resolveTask(taskRef);
    const round = this.openRound(task.id);
    if (!round) throw invalid(`${task.id} has no open review round.`);
    const git = simpleGit({ baseDir: options.cwd });
    const base = options.base ?? 'main';
    const mergeBase = (await git.raw(['merge-base', base, 'HEAD'])).trim();
    const [diff, stat] = await Promise.all([git.diff([mergeBase]), git.diff(['--stat', mergeBase])]);
    return reviewerPrompt({ task, reviewer, round: round.round, base, diff: this.sanitize(diff), diffStat: stat });
  }

  // ------------------------------------------------------------------ the status hook

  private readonly hook: StatusHook = {
    route: (task, to, actor) => {
      this.pending.delete(task.id);
      if (this.internal || to !== 'DONE' || task.status === 'DONE') return to;
      // The person's DONE on a task in review is final (an open round ends `overridden`).
      if (task.status === 'IN_REVIEW' && actor.kind === 'user') return 'DONE';
      const open = this.openRound(task.id);
      if (open) {
        throw invalid(`${task.id} "${task.title}" is in review (round ${open.round}, ${this.waitingText(open)}): it becomes DONE when its gate (${open.gate}) passes.`);
      }
      return this.pipelineFor(task) ? 'IN_REVIEW' : to;
    },
    within: (tx, task, requested, written, actor) => {
      if (this.internal) return;
      const open = this.openRound(task.id);
      if (requested === 'DONE' && written === 'IN_REVIEW' && !open) {
        const resolved = this.pipelineFor(task)!;
        const round: ReviewRound = {
          taskId: task.id, round: (this.repo.latestRound(task.id)?.round ?? 0) + 1, spec: resolved.spec,
          reviewers: resolved.pipeline.reviewers.map(formatAgentRef), gate: formatGate(resolved.pipeline.gate), state: 'reviewing',
          requestId: null, implementer: task.assignee ?? actor.name, outcome: null, startedAt: this.stamp(), endedAt: null,
        };
        this.repo.insertRound(tx, round);
        this.pending.set(task.id, { opened: round });
      } else if (open && written !== 'IN_REVIEW') {
        const state: RoundState = written === 'DONE' ? 'overridden' : 'cancelled';
        const outcome = written === 'DONE' ? `${actor.name} marked it done` : `${actor.name} moved it to ${written}`;
        this.repo.updateRound(tx, task.id, open.round, { state, outcome, endedAt: this.stamp() });
        this.pending.set(task.id, { closed: open });
      }
    },
    after: (task, _requested, _written, actor) => {
      const p = this.pending.get(task.id);
      this.pending.delete(task.id);
      if (!p) return;
      this._onDidChangeReviews.fire({ taskId: task.id });
      if (p.opened) {
        this.log('info', `[Review] ${task.id} round ${p.opened.round}: ${p.opened.reviewers.join(', ') || 'no reviewers'}, gate ${p.opened.gate}`);
        this.plan.recordActivity(BATON, 'review.started', task.id, `review round ${p.opened.round} started (${p.opened.spec})`);
        this._onDidStartReview.fire({ task: this.plan.getTask(task.id), round: p.opened });
        this.advance(task.id); // a pipeline without reviewers goes straight to its gate
      }
      if (p.closed?.requestId && this.inbox.get(p.closed.requestId).status === 'open') this.inbox.withdraw(p.closed.requestId, actor);
    },
  };

  // ------------------------------------------------------------------ round progress

  /** Applies the open round's outcome once every reviewer answered. */
  private advance(taskId: string): void {
    const round = this.openRound(taskId);
    if (!round || round.state !== 'reviewing') return;
    const reviews = this.repo.listReviews(taskId, round.round);
    const gate = gateOf(round.gate);
    const outcome = roundOutcome(round.reviewers, reviews, gate);
    if (outcome.kind === 'waiting') return;
    if (outcome.kind === 'changes_requested') {
      this.sendBack(taskId, round, 'changes_requested', `Review round ${round.round}: ${outcome.reason}`, reviews, BATON);
      return;
    }
    if (gate.kind === 'rule') {
      this.move(taskId, 'DONE', BATON, `Review round ${round.round} passed the gate ${round.gate}${reviews.length ? `: ${reviews.map(r => `${r.reviewer} ${r.score}/10`).join(', ')}` : ''}.`,
        tx => this.repo.updateRound(tx, taskId, round.round, { state: 'approved', outcome: `gate ${round.gate} passed`, endedAt: this.stamp() }));
      this._onDidApprove.fire({ taskId, round: round.round });
      return;
    }
    const task = this.plan.getTask(taskId);
    const lines = reviews.map(r => `- ${r.reviewer} (${r.agentName}): ${r.score}/10, ${r.verdict} — ${oneLine(r.summary)} [${r.artifactId}]`);
    const request = this.inbox.ask({
      kind: 'approval', taskId, session: null, agentName: 'baton review',
      text: [`Approve ${task.id} "${task.title}" to ship? Review round ${round.round}${reviews.length ? ' — every reviewer approves:' : ' (no reviewers in the pipeline).'}`, ...lines,
        ...(task.summary ? [`Implementer's summary: ${oneLine(task.summary, 400)}`] : [])].join('\n'),
      options: ['approve', 'reject'],
    });
    this.repo.transaction(tx => this.repo.updateRound(tx, taskId, round.round, { state: 'awaiting_gate', requestId: request.id }));
    this.plan.recordActivity(BATON, 'review.gate', taskId, `review round ${round.round}: every reviewer approves; waiting for the person's approval (${request.id})`);
    this._onDidChangeReviews.fire({ taskId });
  }

  /** The person answered a human gate's Inbox request: approved → DONE; rejected or answered → back to IN_PROGRESS. */
  private gateAnswered(requestId: string): void {
    const round = this.repo.roundOfRequest(requestId);
    if (!round || round.state !== 'awaiting_gate') return;
    const request = this.inbox.get(requestId);
    const person: Actor = { kind: 'user', name: request.answeredBy ?? 'person' };
    try {
      if (request.status === 'approved') {
        this.move(round.taskId, 'DONE', person, `Approved to ship by ${person.name} after review round ${round.round}${request.answer && request.answer !== 'Approved.' ? `: ${request.answer}` : '.'}`,
          tx => this.repo.updateRound(tx, round.taskId, round.round, { state: 'approved', outcome: `approved by ${person.name} (${requestId})`, endedAt: this.stamp() }));
        this._onDidApprove.fire({ taskId: round.taskId, round: round.round });
      } else if (request.status === 'rejected' || request.status === 'answered') {
        this.sendBack(round.taskId, round, 'rejected', `Review round ${round.round}: ${person.name} did not approve (${requestId}): ${request.answer ?? ''}`.trim(), [], person);
      }
    } catch (error) {
      this.log('warn', `[Review] ${round.taskId}: the gate's answer ${requestId} could not be applied: ${(error as Error).message}`);
    }
  }

  /** Back to IN_PROGRESS with the findings as a note, and a message to the agents on the task. */
  private sendBack(taskId: string, round: ReviewRound, state: RoundState, reason: string, reviews: ReviewRecord[], actor: Actor): void {
    const findings = reviews.filter(r => r.verdict === 'request_changes' || r.criticalGaps.length || r.findings.length).flatMap(r => [
      `${r.reviewer} (${r.score}/10, ${r.verdict}): ${oneLine(r.summary, 300)}`,
      ...r.criticalGaps.map(g => `  - critical gap: ${g}`),
      ...r.findings.map(f => `  - ${findingLine(f)}`),
      ...r.recommendations.map(x => `  - recommendation: ${x}`),
    ]);
    const note = [`${reason} Back to IN_PROGRESS.`, ...findings].join('\n');
    this.move(taskId, 'IN_PROGRESS', actor, note,
      tx => this.repo.updateRound(tx, taskId, round.round, { state, outcome: oneLine(reason, 300), endedAt: this.stamp() }));
    this.messages.sendToTask(taskId, actor, `${note}\nFix these, then complete_task again (a new review round starts).`, 'Changes requested');
  }

  private move(taskId: string, to: TaskStatus, actor: Actor, note: string, within: (tx: SqlWriter) => void): void {
    this.internal++;
    try {
      this.plan.setStatus(taskId, to, actor, { note, within });
    } finally {
      this.internal--;
    }
    this._onDidChangeReviews.fire({ taskId });
  }

  // ------------------------------------------------------------------ helpers

  private roundDetails(r: ReviewRound): RoundDetails {
    const reviews = this.repo.listReviews(r.taskId, r.round);
    return { ...r, reviews, waitingFor: r.state === 'reviewing' ? r.reviewers.filter(s => !reviews.some(v => v.reviewer === s)) : [] };
  }

  private waitingText(r: ReviewRound): string {
    if (r.state === 'awaiting_gate') return `waiting for the person's approval${r.requestId ? ` (${r.requestId})` : ''}`;
    const d = this.roundDetails(r);
    return d.waitingFor.length ? `waiting for reviews from ${d.waitingFor.join(', ')}` : 'reviews in';
  }

  private target(ref: string): { kind: 'task' | 'sprint'; id: string } {
    const text = typeof ref === 'string' ? ref.trim() : '';
    const sprint = /^s-?(\d+)$/i.exec(text);
    if (sprint) return { kind: 'sprint', id: this.plan.getSprint(`S-${sprint[1]}`).id };
    return { kind: 'task', id: this.plan.resolveTask(text).id };
  }

  private stamp(): string {
    return this.now().toISOString();
  }
}

function gateOf(text: string): ReviewGate {
  return parsePipeline(`gate: ${text}`).gate;
}

function safe<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

function oneLine(text: string, max = 160): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
