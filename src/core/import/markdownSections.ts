/**
 * Headings that are not work in a markdown plan.
 *
 * - Restating sections say again what the plan already says, or around it: success or acceptance
 *   criteria, a launch checklist, a timeline or schedule repeating the phases, risks, an overview,
 *   goals, references, an appendix, notes. Their checklists are not tasks and their week headings are
 *   not sprints.
 * - Sprint sections group or describe a sprint's work without being a task themselves: "Tasks",
 *   "Components Needed", "Deliverables", "Architecture", "Design", "Technical Notes".
 *
 * A heading matches when its whole text (after emoji, a section number such as `2.` and a trailing
 * parenthetical) is the phrase, optionally after one qualifier (`Implementation Timeline`, `Technical
 * Risks`, `V1.0 Launch Checklist`, `Executive Summary`) and optionally followed by `for …`, `of …` or
 * `: …` (`Success Criteria for V1.0`, `Timeline: Week 1–4`). "Write the overview" is not a match.
 *
 * Pure: no I/O.
 */

const RESTATING: readonly [RegExp, string][] = [
  [/success\s+(?:criteria|metrics|measures)/, 'success criteria'],
  [/acceptance\s+criteria/, 'acceptance criteria'],
  [/definition\s+of\s+done/, 'definition of done'],
  [/exit\s+criteria/, 'exit criteria'],
  [/(?:launch|release|completion)\s+checklist/, 'launch checklist'],
  [/timelines?|schedule|milestones|roadmap\s+timeline/, 'timeline'],
  [/risks?(?:\s+(?:and|&)\s+mitigations?)?|risk\s+(?:mitigation|assessment|register)|mitigations?/, 'risks'],
  [/overview|summary|tl;?dr/, 'overview'],
  [/non-?goals|out\s+of\s+scope/, 'non-goals'],
  [/goals|objectives/, 'goals'],
  [/references|further\s+reading|links|resources/, 'references'],
  [/appendix(?:\s+[a-z0-9]+)?|appendices/, 'appendix'],
  [/notes/, 'notes'],
  [/conclusions?|closing\s+thoughts/, 'conclusion'],
];

const QUALIFIER = String.raw`(?:implementation|project|plan|planning|release|delivery|technical|process|key|high[- ]level|executive|overall|general|final|measurable|business|product|additional|known|open|sprint|v?\d+(?:\.\d+)*|mvp)`;

function normalise(text: string): string {
  return text
    .replace(/^[^\p{L}\p{N}]+/u, '')
    .replace(/^\d+(?:\.\d+)*[.)]?\s+/, '')
    .replace(/\s*\([^()]*\)\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/** `phrase` as a whole heading: one optional qualifier before it, `for …` / `: …` after it. */
function wholeHeading(phrase: RegExp): RegExp {
  return new RegExp(String.raw`^(?:${QUALIFIER}\s+)?(?:${phrase.source})(?:\s+(?:for|of|in|to)\b.*|\s*[:–—-].*)?$`, 'iu');
}

const RESTATING_RES = RESTATING.map(([phrase, kind]) => [wholeHeading(phrase), kind] as const);

/**
 * The kind of restating section a heading opens (`success criteria`, `timeline`, `risks`, …), or null
 * when it is not one. Sprint and task headings are recognised before this is asked.
 */
export function restatingSection(headingText: string): string | null {
  const text = normalise(headingText);
  for (const [re, kind] of RESTATING_RES) if (re.test(text)) return kind;
  return null;
}

const SPRINT_SECTION_RE = wholeHeading(/tasks?|sub-?tasks|work(?:\s+items?)?|(?:user\s+)?stories|to-?dos?|backlog|items|deliverables?|components?(?:\s+(?:needed|required|to\s+build))?|features(?:\s+(?:needed|required))?|scope|architecture|design|technical\s+(?:notes|details|design|approach)|implementation(?:\s+(?:notes|details|approach))?|details|context|background|approach|requirements|dependencies|prerequisites|files(?:\s+to\s+(?:create|change))?|outputs?|open\s+questions|breakdown|work\s+breakdown/);

/**
 * Whether a heading without a task identifier, directly under a sprint, names a part of the sprint
 * ("Tasks", "Components Needed", "Architecture") rather than a piece of work ("Login page").
 */
export function isSprintSection(headingText: string): boolean {
  return SPRINT_SECTION_RE.test(normalise(headingText));
}
