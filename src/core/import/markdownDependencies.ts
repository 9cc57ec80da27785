/**
 * Dependency phrases in markdown plans: "Depends on: 1.1", "Depends on 1.1 and 1.2", "after Task 2.3",
 * "Blocked by A2", "(requires A1)", "Dependencies: 1, 2", "Requires: T-3", "Prerequisites: Step 1".
 *
 * Only the text of one heading, list item, paragraph or table cell is looked at. A phrase is a cue
 * word followed by a list of task identifiers separated by `,` `;` `/` `&` `+` `and` `or`. Identifiers
 * are read like task headings' identifiers (see `parseTaskHeading` in `markdownPlan.ts`): `1.1`, `A1`,
 * `T-3`, `Task 2.3` → `2.3`, `Step 1` → `step-1`, `Task A` → `a`.
 *
 * Strength: "depends on", "dependencies", "blocked by", "prerequisite(s)", "waits for", any cue followed
 * by a colon (`Requires: T-3`) or opening a parenthetical (`(requires A1)`) and any identifier written
 * with a keyword (`after Task 2.3`) are explicit: an identifier that names no task of the plan is reported. The ordinary words "after",
 * "requires", "needs", "following" without a colon or keyword are weak: an identifier that names no
 * task is prose ("after v2 ships") and is ignored. An amount followed by a unit (`after 2 weeks`,
 * `requires 4 GB`) is never an identifier.
 *
 * A `Depends on:`, `Dependencies:` or `Blocked by:` label followed by no identifier (`Depends on:
 * Phase 1`, `Dependencies: the design review`) yields a reference with a null `id` holding what it
 * said, for the importer to resolve as a sprint or report; `none`, `n/a`, `-`, `TBD` say there is none.
 *
 * Pure: no I/O.
 */

/** A task identifier found in a dependency phrase (or, with `id` null, a labelled phrase that names none). */
export interface DependencyRef {
  /**
   * Normalised like a task heading's identifier: `1.1`, `a1`, `t-3`, `step-1`; null when a
   * `Depends on:` / `Dependencies:` / `Blocked by:` label is followed by no identifier (`written` holds
   * what it said, e.g. `Phase 1` or `the auth work`).
   */
  id: string | null;
  /** As written (`Task 2.3`, `A1`). */
  written: string;
  /** Whether a reference that names no task should be reported (see the module documentation). */
  explicit: boolean;
}

const STRONG_CUE = String.raw`depends?\s+(?:up)?on|dependent\s+on|dependencies|dependency|blocked\s+by|prerequisites?|pre-requisites?|waits?\s+(?:for|on)`;
const WEAK_CUE = String.raw`after|requires|required|needs|following`;
/** A cue, then an optional colon (possibly around bold markers already stripped) — the list starts after it. */
const CUE_RE = new RegExp(String.raw`(?<![\p{L}\p{N}])(?:(${STRONG_CUE})|(${WEAK_CUE}))(?![\p{L}\p{N}])\s*(:)?\s*`, 'giu');
const KEYWORD = String.raw`(?:tasks?|steps?|stor(?:y|ies)|subtasks?|tickets?|items?)`;
const REF_RE = new RegExp(String.raw`^(?:(${KEYWORD})\s+#?|#)?([A-Za-z]{0,4}-?\d+(?:\.\d+)*[a-z]?)(?![\p{L}\p{N}]|\.\d)`, 'iu');
/** After a keyword a single capital letter is an identifier too (`Task A`); the letter's case is checked in code. */
const KEYWORD_LETTER_RE = new RegExp(String.raw`^(${KEYWORD})\s+([A-Z])(?![\p{L}\p{N}])`, 'iu');

/** `Task A` (a capital letter after a keyword), or null. */
function keywordLetter(text: string): RegExpExecArray | null {
  const m = KEYWORD_LETTER_RE.exec(text);
  return m && /^[A-Z]$/.test(m[2]) ? m : null;
}
/** Words after a number that make it an amount, not an identifier (`after 2 weeks`). */
const UNIT_AFTER_RE = /^\s*(?:%|(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s|days?|d|weeks?|wks?|months?|years?|sprints?|phases?|points?|pts|sp|[kmgt]i?b|ms|x|times|people|engineers?|devs?|developers?)(?![\p{L}\p{N}]))/iu;
/** What a dependency label says when there is none. */
const NOTHING_RE = /^(?:none|nothing|n\/?a|-+|—|–|tbd|tba|no(?:ne)?\s+dependenc(?:y|ies)|no\b.*|see\s+below|\(none\))\W*$/i;
const SEPARATOR_RE = /^\s*(?:,|;|\/|&|\+|\band\b|\bor\b)\s*/i;

/**
 * The task identifiers named by dependency phrases in `text` (plain text, markdown already stripped),
 * in order, each once. Returns [] when the text holds no phrase.
 */
export function findDependencyRefs(text: string): DependencyRef[] {
  const out: DependencyRef[] = [];
  const seen = new Set<string>();
  CUE_RE.lastIndex = 0;
  for (let cue = CUE_RE.exec(text); cue; cue = CUE_RE.exec(text)) {
    // A cue opening a parenthetical (`(requires A1)`) is as explicit as one with a colon.
    const strong = cue[1] !== undefined || cue[3] !== undefined || /\(\s*$/.test(text.slice(Math.max(0, cue.index - 3), cue.index));
    let rest = text.slice(cue.index + cue[0].length);
    let consumed = 0;
    for (;;) {
      const m = REF_RE.exec(rest) ?? keywordLetter(rest);
      if (!m) break;
      const after = rest.slice(m[0].length);
      // `after 2 weeks`, `requires 4 GB`: an amount, not an identifier.
      if (!m[1] && /^\d/.test(m[2]) && UNIT_AFTER_RE.test(after)) break;
      const keyword = m[1]?.toLowerCase().replace(/s$/, '').replace(/^storie$/, 'story');
      const prefix = keyword && keyword !== 'task' && keyword !== 'subtask' ? `${keyword}-` : '';
      const id = `${prefix}${m[2].toLowerCase()}`;
      if (!seen.has(id)) {
        seen.add(id);
        out.push({ id, written: m[0].trim(), explicit: strong || m[1] !== undefined });
      }
      consumed += m[0].length;
      const sep = SEPARATOR_RE.exec(after);
      if (!sep) break;
      // `… and the docs`: the separator only continues the list when an identifier follows.
      const next = after.slice(sep[0].length);
      if (!REF_RE.test(next) && !keywordLetter(next)) break;
      rest = next;
      consumed += sep[0].length;
    }
    // `Depends on: Phase 1`, `Dependencies: the auth work`: a label that names no identifier is kept
    // (as written) so it can be resolved as a sprint or reported, never silently dropped.
    if (consumed === 0 && cue[3] !== undefined && cue[1] !== undefined && /^(?:depend|blocked)/i.test(cue[1])) {
      const said = /^[^.;\n]*/.exec(rest)![0].trim().replace(/[\s,]+$/, '');
      if (said && !NOTHING_RE.test(said)) out.push({ id: null, written: said.slice(0, 80), explicit: true });
    }
    CUE_RE.lastIndex = cue.index + cue[0].length + consumed;
  }
  return out;
}

const WHOLE_STATEMENT_RE = new RegExp(
  String.raw`^\W*(?:${STRONG_CUE}|${WEAK_CUE})\s*:?\s*(?:(?:${KEYWORD}\s+#?|#)?[A-Za-z]{0,4}-?\d+(?:\.\d+)*[a-z]?|${KEYWORD}\s+[A-Z])(?:\s*(?:,|;|\/|&|\+|\band\b|\bor\b)\s*(?:(?:${KEYWORD}\s+#?|#)?[A-Za-z]{0,4}-?\d+(?:\.\d+)*[a-z]?|${KEYWORD}\s+[A-Z]))*\W*$`,
  'iu',
);

/**
 * Whether `text` says nothing but a dependency (`Depends on: A1, A2`, `(requires A1)`), so it can
 * leave the description or title once it is read as dependencies.
 */
export function isDependencyStatement(text: string): boolean {
  return WHOLE_STATEMENT_RE.test(text.trim()) && findDependencyRefs(text).length > 0;
}

const TRAILING_PAREN_RE = /\s*\(([^()]*)\)\s*$/;

/** Removes a trailing parenthetical that only states dependencies: `Deploy (after Task 2.3)` → `Deploy`. */
export function stripDependencyParenthetical(title: string): string {
  const m = TRAILING_PAREN_RE.exec(title);
  return m && isDependencyStatement(m[1]) ? title.slice(0, m.index).trim() : title;
}
