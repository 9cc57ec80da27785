import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ReviewFindingSchema, REVIEW_VERDICTS } from '../core/reviewPipeline';
import type { ReviewDetails, ReviewService } from '../services/reviewService';
import type { Caller } from './coordinationTools';
import { taskSummary } from './planTools';
import { runTool } from './toolResult';

const taskId = z.string().min(1).max(100).describe('Task id, e.g. "T-12"');

/**
 * A task's reviews in the compact shape tools answer with (and `baton show` / `baton review` print):
 * the pipeline in force, then each round with its state and reviews.
 */
export function reviewSummary(d: ReviewDetails) {
  return {
    pipeline: d.pipeline?.spec ?? null, pipeline_from: d.pipeline?.source ?? null,
    rounds: d.rounds.map(r => ({
      round: r.round, state: r.state, gate: r.gate, reviewers: r.reviewers, waiting_for: r.waitingFor, request_id: r.requestId,
      outcome: r.outcome, started_at: r.startedAt, ended_at: r.endedAt,
      reviews: r.reviews.map(v => ({
        id: v.id, reviewer: v.reviewer, by: v.agentName, score: v.score, verdict: v.verdict, summary: v.summary,
        strengths: v.strengths, critical_gaps: v.criticalGaps, recommendations: v.recommendations,
        findings: v.findings, artifact_id: v.artifactId, at: v.createdAt,
      })),
    })),
  };
}

/** Registers the reviewer's tools: `submit_review` and `get_reviews` (agent tiers). */
export function registerReviewTools(server: McpServer, reviews: ReviewService, caller: Caller): void {
  server.registerTool('submit_review', {
    title: 'Submit a review',
    description: 'Reviewers only: your review of a task in review (IN_REVIEW), answering the checklist — score 0–10, verdict approve | request_changes, summary, strengths, critical_gaps, recommendations and findings with file and line. One review per reviewer per round. When every reviewer has answered: any request_changes sends the task back to its implementer with the findings; otherwise the pipeline\'s gate decides (the person, or a minimum score).',
    inputSchema: z.object({
      task_id: taskId,
      score: z.number().min(0).max(10).describe('0–10; 10 = ready to ship as is'),
      verdict: z.enum(REVIEW_VERDICTS),
      summary: z.string().min(1).max(20_000).describe('Your overall judgement in a few sentences'),
      strengths: z.array(z.string().min(1).max(2000)).max(50).optional(),
      critical_gaps: z.array(z.string().min(1).max(2000)).max(50).optional().describe('What must be fixed before it ships'),
      recommendations: z.array(z.string().min(1).max(2000)).max(50).optional(),
      findings: z.array(ReviewFindingSchema).max(200).optional().describe('Problems with { file, line?, severity?, message }'),
    }).strict(),
  }, args => runTool(() => {
    const { task_id, ...review } = args;
    const result = reviews.submitReview(caller.session(), task_id, review, caller.actor());
    const round = result.round;
    return {
      review_id: result.review.id, artifact_id: result.review.artifactId, round: round.round, round_state: round.state,
      waiting_for: round.waitingFor, request_id: round.requestId, task: taskSummary(result.task),
    };
  }));

  server.registerTool('get_reviews', {
    title: 'Get a task\'s reviews',
    description: 'The review pipeline in force for a task and every review round: state, gate, who still has to review, and each review (score, verdict, findings).',
    inputSchema: z.object({ task_id: taskId }).strict(),
  }, args => runTool(() => reviewSummary(reviews.details(args.task_id))));
}

/** Registers the person's `set_review_pipeline` (operator tier: an agent must not switch off its own review). */
export function registerReviewOperatorTools(server: McpServer, reviews: ReviewService, caller: Caller): void {
  server.registerTool('set_review_pipeline', {
    title: 'Set a review pipeline',
    description: 'Sets the review pipeline of a task (T-5) or sprint (S-2), e.g. "implement: claude -> review: codex, gemini -> gate: human" or "review: codex -> gate: score>=8"; "none" switches review off for it; null clears it (the sprint\'s or workspace\'s applies).',
    inputSchema: z.object({ target: z.string().min(1).max(100).describe('Task id (T-5) or sprint id (S-2)'), pipeline: z.string().max(1000).nullable() }).strict(),
  }, args => runTool(() => reviews.setPipeline(args.target, args.pipeline, caller.actor())));
}
