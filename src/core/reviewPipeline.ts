/**
 * Review pipelines: who implements a task, who reviews it, and what gate lets it become DONE.
 *
 * Written as stages joined by `->` (or `→`), e.g.
 *   `implement: claude -> review: codex, gemini -> gate: human`
 *   `review: codex:reviewer -> gate: score>=8`
 *   `none` (no review: completion makes the task DONE, as without a pipeline)
 * Stages: `implement` (one agent, optional), `review` (one or more agents, `profile[:role]`, optional),
 * `gate` (`human`, `auto` or `score>=N` with N 0–10; default `human`). Each stage at most once, in that order.
 * Resolution: the task's pipeline, else its sprint's, else the workspace's (`baton.review.pipeline`).
 *
 * Also the review itself (what `submit_review` accepts, zod-checked), the checklist reviewers answer,
 * the round's outcome and the reviewer's prompt. Pure: no I/O, no `vscode`.
 */
import { z } from 'zod';
import { formatAgentRef, parseAgentRef, sameAgent, type AgentRef } from './agent';
import { BatonError, invalid } from './errors';

/** The person approves in the Inbox, or a rule: every reviewer approves and the lowest score is ≥ `minScore`. */
export type ReviewGate = { kind: 'human' } | { kind: 'rule'; minScore: number };

/** A parsed pipeline. `none: true` switches review off (overriding a sprint's or the workspace's pipeline). */
export interface ReviewPipeline {
  none: boolean;
  implement: AgentRef | null;
  reviewers: AgentRef[];
  gate: ReviewGate;
}

/** Where the pipeline in force came from. */
export type PipelineSource = 'task' | 'sprint' | 'workspace';

const STAGES = ['implement', 'review', 'gate'] as const;
type Stage = (typeof STAGES)[number];
const MAX_SPEC = 1000;
const MAX_REVIEWERS = 8;

/**
 * Parses a pipeline spec (see the module comment). Stage names are case-insensitive; `reviewers`,
 * `reviewer` and `reviews` are read as `review`, `impl` as `implement`.
 * @throws BatonError INVALID_ARGUMENT naming the stage and what is wrong, e.g.
 *   `Pipeline "review: codex -> gate: maybe": gate must be "human", "auto" or "score>=N" (N 0–10), got "maybe".`
 */
export function parsePipeline(spec: string): ReviewPipeline {
  if (typeof spec !== 'string' || !spec.trim()) throw invalid('A review pipeline must be a non-empty text such as "review: codex -> gate: human", or "none".');
  const text = spec.trim();
  if (text.length > MAX_SPEC) throw invalid(`A review pipeline is at most ${MAX_SPEC} characters; this one is ${text.length}.`);
  const fail = (why: string): never => { throw invalid(`Pipeline "${text}": ${why}`); };
  if (/^(none|off)$/i.test(text)) return { none: true, implement: null, reviewers: [], gate: { kind: 'human' } };
  const result: ReviewPipeline = { none: false, implement: null, reviewers: [], gate: { kind: 'human' } };
  let last = -1;
  for (const part of text.split(/\s*(?:->|→|=>)\s*/)) {
    const m = /^([A-Za-z]+)\s*:\s*(.*)$/s.exec(part.trim());
    if (!m) fail(`each stage is "name: value" (implement, review, gate), got "${part.trim()}".`);
    const stage = stageName(m![1]);
    if (!stage) fail(`unknown stage "${m![1]}"; the stages are ${STAGES.join(', ')}.`);
    const at = STAGES.indexOf(stage!);
    if (at === last) fail(`stage "${stage}" is given twice.`);
    if (at < last) fail(`stage "${stage}" must come before "${STAGES[last]}" (order: ${STAGES.join(' -> ')}).`);
    last = at;
    const value = m![2].trim();
    if (!value) fail(`stage "${stage}" has no value.`);
    try {
      if (stage === 'implement') result.implement = parseAgentRef(value);
      if (stage === 'review') result.reviewers = parseReviewers(value);
      if (stage === 'gate') result.gate = parseGate(value);
    } catch (error) {
      fail(`${stage}: ${(error as Error).message}`);
    }
  }
  return result;
}

function stageName(word: string): Stage | null {
  const w = word.toLowerCase();
  if (w === 'implement' || w === 'impl' || w === 'implementer') return 'implement';
  if (w === 'review' || w === 'reviews' || w === 'reviewer' || w === 'reviewers') return 'review';
  if (w === 'gate') return 'gate';
  return null;
}

function parseReviewers(value: string): AgentRef[] {
  const refs = value.split(/\s*,\s*/).map(v => parseAgentRef(v));
  if (refs.length > MAX_REVIEWERS) throw new Error(`at most ${MAX_REVIEWERS} reviewers, got ${refs.length}.`);
  refs.forEach((r, i) => {
    if (refs.findIndex(o => sameAgent(o, r)) !== i) throw new Error(`${formatAgentRef(r)} is listed twice; give a role to tell two reviewers of one profile apart (codex:security, codex:style).`);
  });
  return refs;
}

function parseGate(value: string): ReviewGate {
  const v = value.trim().toLowerCase();
  if (v === 'human' || v === 'person' || v === 'inbox') return { kind: 'human' };
  if (v === 'auto' || v === 'rule') return { kind: 'rule', minScore: 0 };
  const m = /^(?:score|min[-_ ]?score)\s*(?:>=|≥)?\s*(\d+(?:\.\d+)?)$/.exec(v);
  if (m) {
    const n = Number(m[1]);
    if (n >= 0 && n <= 10) return { kind: 'rule', minScore: n };
  }
  throw new Error(`gate must be "human", "auto" or "score>=N" (N 0–10), got "${value}".`);
}

/** The canonical text of a pipeline (what `parsePipeline` reads back to the same pipeline). */
export function formatPipeline(p: ReviewPipeline): string {
  if (p.none) return 'none';
  const parts: string[] = [];
  if (p.implement) parts.push(`implement: ${formatAgentRef(p.implement)}`);
  if (p.reviewers.length) parts.push(`review: ${p.reviewers.map(formatAgentRef).join(', ')}`);
  parts.push(`gate: ${formatGate(p.gate)}`);
  return parts.join(' -> ');
}

/** `human`, `auto` or `score>=N`. */
export function formatGate(g: ReviewGate): string {
  return g.kind === 'human' ? 'human' : g.minScore === 0 ? 'auto' : `score>=${g.minScore}`;
}

/**
 * The pipeline in force for a task: the first non-empty of task, sprint, workspace, parsed. Null when
 * none is set, or the one in force is `none`. @throws BatonError INVALID_ARGUMENT when that spec is invalid.
 */
export function resolvePipeline(specs: { task?: string | null; sprint?: string | null; workspace?: string | null }): { pipeline: ReviewPipeline; source: PipelineSource; spec: string } | null {
  for (const source of ['task', 'sprint', 'workspace'] as const) {
    const spec = specs[source]?.trim();
    if (!spec) continue;
    const pipeline = parsePipeline(spec);
    return pipeline.none ? null : { pipeline, source, spec: formatPipeline(pipeline) };
  }
  return null;
}

// ------------------------------------------------------------------ reviews

export const REVIEW_VERDICTS = ['approve', 'request_changes'] as const;
export type ReviewVerdict = (typeof REVIEW_VERDICTS)[number];

/** One finding of a review: where (file, optional line) and what. */
export interface ReviewFinding {
  file: string;
  line: number | null;
  severity: 'critical' | 'major' | 'minor' | 'nit';
  message: string;
}

/** A review as a reviewer submits it (the checklist's answers). */
export interface ReviewInput {
  score: number;
  verdict: ReviewVerdict;
  summary: string;
  strengths: string[];
  criticalGaps: string[];
  recommendations: string[];
  findings: ReviewFinding[];
}

const text = (what: string, max: number) => z.string({ error: `${what} must be text.` }).trim().min(1, `${what} must not be empty.`).max(max, `${what} is at most ${max} characters.`);
const list = (what: string) => z.array(text(`each of ${what}`, 2000), { error: `${what} must be a list of texts.` }).max(50, `${what}: at most 50 items.`).default([]);

/** The zod schema of a finding (also used by the `submit_review` tool's input schema). */
export const ReviewFindingSchema = z.object({
  file: z.string({ error: 'finding.file must be a path in the repository, e.g. "src/app.ts".' }).trim().min(1, 'finding.file must not be empty.').max(500)
    .refine(f => !f.includes('\0') && !/^[a-z]+:\/\//i.test(f), 'finding.file must be a path in the repository, not a URL.'),
  line: z.number({ error: 'finding.line must be a line number (1 or more).' }).int('finding.line must be a whole number.').min(1, 'finding.line must be 1 or more.').max(10_000_000).nullable().optional(),
  severity: z.enum(['critical', 'major', 'minor', 'nit'], { error: 'finding.severity must be critical, major, minor or nit.' }).default('major'),
  message: text('finding.message', 5000),
}).strict();

/** The zod schema of a review (the checklist: score /10, strengths, critical gaps, recommendations, verdict, findings). */
export const ReviewInputSchema = z.object({
  score: z.number({ error: 'score must be a number from 0 to 10.' }).min(0, 'score must be from 0 to 10.').max(10, 'score must be from 0 to 10.'),
  verdict: z.enum(REVIEW_VERDICTS, { error: 'verdict must be "approve" or "request_changes".' }),
  summary: text('summary', 20_000),
  strengths: list('strengths'),
  critical_gaps: list('critical_gaps'),
  recommendations: list('recommendations'),
  findings: z.array(ReviewFindingSchema, { error: 'findings must be a list of { file, line?, severity?, message }.' }).max(200, 'at most 200 findings.').default([]),
}).strict();

/**
 * Checks a submitted review with `ReviewInputSchema`, plus one rule across fields: `request_changes`
 * needs at least one critical gap, recommendation or finding saying what to change.
 * @throws BatonError INVALID_ARGUMENT naming the field: `Review: findings.0.line: finding.line must be 1 or more.`
 */
export function parseReview(value: unknown): ReviewInput {
  const parsed = ReviewInputSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BatonError('INVALID_ARGUMENT', `Review: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  const r = parsed.data;
  if (r.verdict === 'request_changes' && !r.critical_gaps.length && !r.recommendations.length && !r.findings.length) {
    throw invalid('Review: a request_changes verdict must say what to change (critical_gaps, recommendations or findings).');
  }
  return {
    score: r.score, verdict: r.verdict, summary: r.summary, strengths: r.strengths, criticalGaps: r.critical_gaps,
    recommendations: r.recommendations, findings: r.findings.map(f => ({ file: f.file, line: f.line ?? null, severity: f.severity, message: f.message })),
  };
}

/** What the reviewers of a round say together. */
export type RoundOutcome =
  | { kind: 'waiting'; missing: string[] }
  | { kind: 'changes_requested'; reason: string }
  | { kind: 'approved' };

/**
 * The outcome once reviews are in: `waiting` while a reviewer has not answered; then
 * `changes_requested` when any reviewer asks for changes or (rule gate) the lowest score is below the
 * gate's; else `approved` (for a human gate: ready for the person's approval).
 */
export function roundOutcome(reviewers: readonly string[], reviews: readonly { reviewer: string; verdict: ReviewVerdict; score: number }[], gate: ReviewGate): RoundOutcome {
  const missing = reviewers.filter(r => !reviews.some(v => v.reviewer === r));
  if (missing.length) return { kind: 'waiting', missing };
  const asking = reviews.filter(r => r.verdict === 'request_changes');
  if (asking.length) return { kind: 'changes_requested', reason: `${asking.map(r => r.reviewer).join(', ')} requested changes.` };
  if (gate.kind === 'rule' && reviews.length) {
    const lowest = Math.min(...reviews.map(r => r.score));
    if (lowest < gate.minScore) return { kind: 'changes_requested', reason: `every reviewer approved, but the lowest score ${lowest}/10 is below the gate's ${gate.minScore}.` };
  }
  return { kind: 'approved' };
}

/** The review checklist reviewers answer (the seed's: score /10, strengths, critical gaps, recommendations, final verdict). */
export const REVIEW_CHECKLIST = [
  'Score the work from 0 to 10 (10: ready to ship as is).',
  'Strengths: what is done well.',
  'Critical gaps: what is missing or wrong and must be fixed before it ships (bugs, missing tests, broken requirements, security).',
  'Recommendations: improvements worth making.',
  'Findings: each problem with its file and line.',
  'Final verdict: approve, or request_changes (say what to change).',
] as const;

/** A submitted review rendered as markdown: the artifact stored with the task. */
export function reviewMarkdown(r: ReviewInput & { taskId: string; taskTitle: string; round: number; reviewer: string; by: string; at: string }): string {
  const out = [`# Review of ${r.taskId} "${r.taskTitle}" — round ${r.round}`, '',
    `**Reviewer:** ${r.reviewer} (${r.by}) · **Score:** ${r.score}/10 · **Verdict:** ${r.verdict} · ${r.at}`, '', '## Summary', '', r.summary, ''];
  const section = (title: string, items: string[]) => { if (items.length) out.push(`## ${title}`, '', ...items.map(i => `- ${i}`), ''); };
  section('Strengths', r.strengths);
  section('Critical gaps', r.criticalGaps);
  section('Recommendations', r.recommendations);
  section('Findings', r.findings.map(f => `**${f.severity}** \`${f.file}${f.line ? `:${f.line}` : ''}\` — ${f.message}`));
  return out.join('\n');
}

/** One finding as a line: `src/a.ts:12 (major): message`. */
export function findingLine(f: ReviewFinding): string {
  return `${f.file}${f.line ? `:${f.line}` : ''} (${f.severity}): ${f.message}`;
}

/**
 * The prompt a reviewer session starts with: the task, the diff against the base, the checklist, and
 * how to answer (`submit_review`). `diff` is cut to `maxDiffChars` (default 60 000), saying so.
 */
export function reviewerPrompt(input: {
  task: { id: string; title: string; description: string; summary: string | null };
  reviewer: string; round: number; base: string; diff: string; diffStat?: string; maxDiffChars?: number;
}): string {
  const max = input.maxDiffChars ?? 60_000;
  const diff = input.diff.length > max ? `${input.diff.slice(0, max)}\n… (diff cut at ${max} characters; run \`git diff ${input.base}\` for the rest)` : input.diff;
  return [
    `You are ${input.reviewer}, a reviewer of task ${input.task.id} "${input.task.title}" (review round ${input.round}).`,
    'Review the work in this worktree; do not change files. Call agent_init (with your profile, no task_id) first.',
    '', '## Task', '', input.task.description.trim() || '(no description)',
    ...(input.task.summary ? ['', '## What the implementer says was done', '', input.task.summary] : []),
    '', `## Changes against ${input.base}`, '', ...(input.diffStat ? ['```', input.diffStat.trim(), '```', ''] : []),
    '```diff', diff.trim() || '(no changes)', '```',
    '', '## Checklist', '', ...REVIEW_CHECKLIST.map((c, i) => `${i + 1}. ${c}`),
    '', '## Answer', '',
    `Call the MCP tool submit_review with task_id "${input.task.id}", score (0–10), verdict ("approve" or "request_changes"), summary, strengths, critical_gaps, recommendations and findings ({ file, line, severity, message }). One review per round; then end_session.`,
  ].join('\n');
}
