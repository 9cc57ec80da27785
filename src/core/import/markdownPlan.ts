/**
 * Imports a markdown plan (the kind agents and people write: sprints or phases as headings, tasks as
 * headings, checklists, numbered lists or table rows) into an {@link ImportedPlan}.
 *
 * The document is read through `marked`'s GFM lexer, so the rules below apply to markdown blocks
 * (headings, lists, tables, paragraphs), never to lines that merely look like them inside a code
 * block. Regular expressions only ever look at the text of one heading, item, cell or bold span.
 * Before lexing, `markdownChunks.ts` bounds nesting (lines nested deeper than 32 levels of lists or
 * quotes are flattened to that depth and reported) and cuts the document into chunks of about 64 kB
 * before top-level headings or list items, lexed one at a time: time and memory grow with the input's
 * size and no input overflows the stack.
 *
 * Rules
 * - Encoding: text that is UTF-8 mis-decoded as Latin-1 / Windows-1252 (`ðŸ“‹`, `âœ…`, `â€”`) is
 *   repaired first (see `encoding.ts`); the plan then says `encodingRepaired: true`.
 * - Code blocks (fenced or indented) and raw HTML blocks are ignored entirely, including any
 *   checklist or heading inside them.
 * - Title: the text of the first h1.
 * - Sprint headings: a heading of any level whose text, after leading emoji/symbols, starts with
 *   Sprint|Phase|Milestone|Iteration|Stage|Week followed by an identifier (`1`, `1.2`, `A`, `B2`,
 *   `IV`): `### Sprint A: Quick Operations & UX (3-4 hours)`, `### Phase 1: MCP Server (Week 1)`,
 *   `### Week 1`. The key is kind + identifier (`sprint-a`, `phase-1`, `week-1`), so a sprint that
 *   appears twice in a document is ONE sprint (the first heading's name wins). The name is the
 *   heading text without a trailing parenthetical; the parenthetical (`3-4 hours`, `Week 1`) is
 *   appended to the goal. A `**Goal:** …` / `**Goal**: …` paragraph directly under the sprint sets
 *   the goal (the first one wins). A sprint heading's scope ends at the next heading of the same or
 *   a higher level (a smaller or equal depth).
 * - Task headings: inside a sprint, a deeper heading whose text starts with an identifier:
 *   `A1: Quick Update Commands`, `A1.1: QuickNoteCommand`, `Task 1.1: Foo`, `1.2 Foo`, `Step 3: Foo`.
 *   A dotted identifier whose prefix is the identifier of a task already in the sprint (A1.1 after
 *   A1) makes it a child of that task; otherwise a task heading deeper than the current task heading
 *   is its child. The same identifier twice in a sprint is the same task (merged). Outside any
 *   sprint, only headings with an explicit keyword (`Task 3: …`, `Step 1: …`, `Story 2: …`) are
 *   tasks, and they go to the backlog.
 * - Headings without an identifier directly under a sprint (not inside a task) are tasks too
 *   (`### Login page`, key sprint + slug of the title), unless they name a part of the sprint
 *   (`Tasks`, `Components Needed`, `Deliverables`, `Architecture`, `Design`, … see
 *   `markdownSections.ts`): such a section's lists still feed the sprint, and one that gives nothing
 *   is reported in `skipped`. A section deeper than the current task heading is part of that task.
 * - Restating sections (`markdownSections.ts`): outside a task, a heading such as `Success Criteria`,
 *   `Acceptance criteria`, `V1.0 Launch Checklist`, `Timeline: Week 1–4`, `Schedule`, `Milestones`,
 *   `Risks`, `Overview`, `Goals`, `Non-goals`, `References`, `Appendix`, `Notes` opens a section whose
 *   content is not imported (its checklists are not tasks, its week headings not sprints); when it held
 *   what would have been imported it is reported once, with the counts ("restates the plan: timeline
 *   (not imported: 4 sprint headings, 12 tasks)"). Inside a task such a section stays the task's (a
 *   criteria checklist is its checkpoints). A restating section that holds the document's only sprint
 *   headings (a plan written as "## Timeline / ### Week 1 …") is read as the plan.
 * - Dependencies (`markdownDependencies.ts`): "Depends on: 1.1", "Depends on 1.1 and 1.2", "after Task
 *   2.3", "Blocked by A2", "(requires A1)", "Dependencies: 1, 2", "Requires: T-3" in a task's heading,
 *   paragraphs, bullets, bold line or list item, a Depends on / Dependencies / Blocked by table
 *   column, and the bullets under a `#### Dependencies` heading or `**Dependencies:**` label in a task
 *   (`- A1`), name other tasks by their identifiers. An identifier is looked up in the task's sprint
 *   first, then in the whole plan. `Depends on: Phase 1` names every top-level task of that sprint; a
 *   `Depends on:` / `Dependencies:` / `Blocked by:` label followed by no identifier is reported. A text that only states dependencies leaves the description (a
 *   title's `(requires A1)` leaves the title). Reported in `skipped`: an explicit reference that names
 *   no task ("dependency on 9.9 not found in the plan"), an ambiguous one, a self-dependency, and an
 *   edge that would close a cycle (edges are added in document order; the closing one is dropped), so
 *   `dependsOn` is always acyclic.
 * - Agents (`agent.ts`): an `Agent: codex` / `**Agent:** claude:reviewer` / `Agent: @gemini` line (a
 *   paragraph line, a bullet, an item's further line) under a task says which agent does it (profile and
 *   optional role; the first one wins) and leaves the description; under a sprint heading, outside any
 *   task, it sets the sprint's default agent. An `Agent` table column does the same per row. A task
 *   heading's, item's or bold line's trailing (or leading) `@claude` / `@codex:reviewer` mention does
 *   too and leaves the title, but only for a known profile (`agentProfiles`, default the built-in CLIs
 *   claude, codex, gemini, qwen, aider), so `@alice` stays text. A value that is not `profile[:role]`
 *   (names of letters, digits, `-`, `_`, `.`) is reported in `skipped`.
 * - Bold task lines: a paragraph that starts with a bold span holding a task identifier,
 *   `**Task 1.1: Oneiric MCP Server** (20 hours)`, is a task (in the current sprint, else the
 *   backlog); the rest of its first line gives the estimate; the next lines are its description.
 *   It lasts until the next heading or bold task line.
 * - Numbered lists (ordered list tokens) directly in a sprint or a section of a sprint: one task per
 *   item. The title is the item's first line with markdown stripped (`1. **Task Progress
 *   Tracking**` → `Task Progress Tracking`); nested lists and further lines become the description,
 *   nested checklists its checkpoints. Under a task: one checkpoint per item. Outside sprints:
 *   ignored (numbered prose).
 * - Checklists (`- [ ]` / `- [x]` items): under a task → checkpoints of that task (done = checked);
 *   directly under a sprint or a section of one → tasks of the sprint (DONE when checked); outside
 *   any sprint → backlog tasks.
 * - Plain bullet lists: appended to the current task's description; ignored elsewhere.
 * - Paragraphs under a task: its description (lone labels such as `**Deliverables:**` are dropped).
 * - Tables: a table whose header has a task-like column (Task|Component|Deliverable|Feature|Item|
 *   Work|Story|Title|Name) and an estimate column (Days|Hours|Hrs|Points|SP|Story Points|Estimate|
 *   Effort) gives one task per row. A Phase|Sprint|Milestone|Iteration|Stage|Week column puts the
 *   row's task into that sprint (created when new); otherwise rows are children of the current
 *   task, else tasks of the current sprint, else backlog. Status and Priority columns are mapped;
 *   other columns go to the description. Other tables are reported in `skipped`.
 * - Estimates: from a trailing `(20 hours)`, `(3-4 hours)` (upper bound, 4), `(2h)`, `(5 points)`,
 *   `(3 SP)`, `(2 days)` (16 hours) or `[2h]`, or ` — 4h`; the estimate is removed from the title.
 *   Days become hours (x8) and ranges take the upper bound; the original wording is then kept in
 *   the description as `Estimate: …`.
 * - Skipped: sprint headings that end up with no task ('sprint heading has no tasks'), tables that
 *   do not describe tasks, table rows without a task name, list items without text, sprint sections
 *   without tasks, restating sections, dependencies not resolved (see above), flattened deep nesting.
 * - Keys: sprint key + task identifier when there is one (`sprint-a/a1`, `sprint-a/a1.1`), else
 *   sprint key (or `backlog`) + slug of the title, deduplicated with `-2`, `-3` in document order.
 *   Checkpoint keys: task key + `#` + slug of the checkpoint title (deduplicated the same way).
 *   Keys depend only on the document's content, so re-importing it yields the same keys.
 * - Lines: 1-based, computed by accumulating the `raw` length of the lexer's tokens.
 *
 * Pure: no I/O, no `vscode`.
 */
import type * as Marked from 'marked' with { 'resolution-mode': 'import' };
import type { Token, Tokens } from 'marked' with { 'resolution-mode': 'import' };
import { BUILTIN_AGENT_PROFILES, extractAgentMention, readAgentLine, type AgentRef } from '../agent';
import type { EstimateUnit, TaskPriority, TaskStatus } from '../model';
import { looksMisencoded, repairMojibake } from '../encoding';
import { TaskGraph, type GraphTask } from '../taskGraph';
import type { ImportedCheckpoint, ImportedPlan, ImportedSprint, ImportedTask, SkippedItem } from './importedPlan';
import { CHUNK_CHARS, MAX_NESTING, prepareDocument, type OutlineHeading } from './markdownChunks';
import { findDependencyRefs, isDependencyStatement, stripDependencyParenthetical, type DependencyRef } from './markdownDependencies';
import { isSprintSection, restatingSection } from './markdownSections';

// `marked` is published as an ES module only; this project compiles to CommonJS (module node16), where
// TypeScript refuses a static import of an ES module. Node >= 20.19 `require`s ES modules and
// esbuild bundles it, so we load it with `require` and take its types from an import-mode type import.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Lexer } = require('marked') as typeof Marked;

/** Hours in a working day, for estimates given in days. */
export const HOURS_PER_DAY = 8;

const BACKLOG_KEY = 'backlog';

// ---------------------------------------------------------------------------------------------
// Text helpers (each looks at one heading's, item's or cell's own text)
// ---------------------------------------------------------------------------------------------

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the HTML entities the lexer leaves in text (`&amp;`, `&#39;`, `&#x2014;`). */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** Plain text of inline tokens: markdown (bold, code spans, links, HTML tags) stripped. */
function inlineText(tokens: readonly Token[] | undefined): string {
  if (!tokens) return '';
  let out = '';
  for (const token of tokens) {
    switch (token.type) {
      case 'text': {
        const t = token as Tokens.Text;
        out += t.tokens ? inlineText(t.tokens) : decodeEntities(t.text);
        break;
      }
      case 'strong':
      case 'em':
      case 'del':
      case 'link':
        out += inlineText((token as Tokens.Strong).tokens);
        break;
      case 'codespan':
      case 'escape':
        out += decodeEntities((token as Tokens.Codespan).text);
        break;
      case 'image':
        out += (token as Tokens.Image).text;
        break;
      case 'br':
        out += '\n';
        break;
      case 'html':
      case 'checkbox':
        break;
      default:
        out += 'text' in token && typeof token.text === 'string' ? decodeEntities(token.text) : '';
    }
  }
  return out;
}

/** Removes leading emoji and symbols (`🚀 `, `✅ `, `⚠️ `) so the words can be matched. */
function stripLeadingSymbols(text: string): string {
  return text.replace(/^[^\p{L}\p{N}]+/u, '');
}

/** Removes leading pictographs only (keeps `/api`, `.env`, `#12` and the like). */
function stripLeadingEmoji(text: string): string {
  return text.replace(/^(?:[\p{Extended_Pictographic}\p{Regional_Indicator}\u{FE0F}\u{200D}\u{20E3}]\s*)+/u, '').trim();
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Lower-case ASCII slug for keys: `Implement \`X\` class` → `implement-x-class`. */
export function slugify(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'item';
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

// --- sprint headings --------------------------------------------------------------------------

interface SprintHeading {
  key: string;
  /** Heading text without the trailing parenthetical. */
  name: string;
  /** The trailing parenthetical's content (`3-4 hours`, `Week 1`), or null. */
  note: string | null;
}

const SPRINT_KIND_RE = /^(sprint|phase|milestone|iteration|stage|week)\b\s*#?/i;
/** Case-sensitive on purpose: `Sprint A` is a sprint, `Sprint planning` / `Week of May` are not. */
const SPRINT_ID_RE = /^(\d+(?:[.-]\d+)*[a-z]?|[A-Z]{1,2}\d*|[IVX]+)(?=$|[\s:.,;)(\-–—])/;
const TRAILING_PAREN_RE = /\s*\(([^()]*)\)\s*$/;

/** Recognises `Sprint A: Name (3-4 hours)`, `Phase 1: Name (Week 1)`, `Week 1`; null otherwise. */
export function parseSprintHeading(text: string): SprintHeading | null {
  const clean = collapse(stripLeadingSymbols(text));
  const kind = SPRINT_KIND_RE.exec(clean);
  if (!kind) return null;
  const id = SPRINT_ID_RE.exec(clean.slice(kind[0].length));
  if (!id) return null;
  const paren = TRAILING_PAREN_RE.exec(clean);
  const name = paren ? clean.slice(0, paren.index).trim() : clean;
  return {
    key: `${kind[1].toLowerCase()}-${id[1].toLowerCase()}`,
    name: name.replace(/[\s:–—-]+$/, ''),
    note: paren ? paren[1].trim() || null : null,
  };
}

// --- task identifiers -------------------------------------------------------------------------

interface TaskHeading {
  /** Normalised identifier (`a1.1`, `1.2`, `t-3`, `step-3`). */
  id: string;
  /** Whether an explicit keyword (`Task`, `Step` …) introduced it. */
  keyword: boolean;
  /** The text with markdown stripped, as written (identifier included). */
  title: string;
}

const TASK_KEYWORD_RE = /^(task|step|story|subtask|item|ticket)\s+#?/i;
/** An identifier that contains a digit: `A1`, `A1.1`, `1.2`, `T-3`, `US-12`, `3b`. */
const TASK_ID_RE = /^([A-Za-z]{0,4}-?\d+(?:\.\d+)*[a-z]?)(?=$|[\s:.)\-–—])/;
/** After a keyword a single capital letter is an identifier too: `Task A: …`. */
const KEYWORD_LETTER_ID_RE = /^([A-Z])(?=$|[\s:.)\-–—])/;

/** Recognises `A1: Title`, `A1.1: Title`, `Task 1.1: Title`, `1.2 Title`, `Step 3: Title`; null otherwise. */
export function parseTaskHeading(text: string): TaskHeading | null {
  const clean = collapse(stripLeadingEmoji(text));
  const keyword = TASK_KEYWORD_RE.exec(clean);
  const rest = keyword ? clean.slice(keyword[0].length) : clean;
  const id = TASK_ID_RE.exec(rest) ?? (keyword ? KEYWORD_LETTER_ID_RE.exec(rest) : null);
  if (!id) return null;
  const after = rest.slice(id[1].length);
  // Without a keyword, `1.2 Foo` / `A1: Foo` need a title; a bare number is not a task.
  if (!keyword && !/^\s*[:.)\-–—]?\s*\S/.test(after)) return null;
  // `Task 1.1` / `Subtask 1.1` are identified by `1.1`; other keywords stay in the identifier (`step-3`).
  const word = keyword?.[1].toLowerCase();
  const prefix = word && word !== 'task' && word !== 'subtask' ? `${word}-` : '';
  return { id: `${prefix}${id[1].toLowerCase()}`, keyword: keyword !== null, title: clean };
}

// --- estimates --------------------------------------------------------------------------------

interface Estimate {
  value: number;
  unit: EstimateUnit;
  /** The original wording when the value was converted (days, ranges, extra words), else null. */
  note: string | null;
}

const AMOUNT = String.raw`(\d+(?:\.\d+)?)(?:\s*(?:-|–|—|to)\s*(\d+(?:\.\d+)?))?`;
const UNIT = String.raw`(story\s+points?|hours?|hrs?|h|days?|d|points?|pts?|sp)`;
const ESTIMATE_RE = new RegExp(`${AMOUNT}\\s*${UNIT}(?![\\p{L}\\p{N}])`, 'iu');
const TRAILING_BRACKET_RE = /\s*[([]([^()[\]]*)[)\]]\s*$/;
const LEADING_BRACKET_RE = /^\s*[([]([^()[\]]*)[)\]]/;
const TRAILING_DASH_ESTIMATE_RE = new RegExp(`\\s+[-–—]\\s+(${AMOUNT}\\s*${UNIT})\\s*$`, 'iu');

type AmountUnit = 'hours' | 'days' | 'points';

function unitOf(word: string | undefined): AmountUnit | null {
  if (!word) return null;
  const w = word.toLowerCase();
  if (/^(story\s+points?|points?|pts?|sp)$/.test(w)) return 'points';
  if (/^(days?|d)$/.test(w)) return 'days';
  if (/^(hours?|hrs?|h)$/.test(w)) return 'hours';
  return null;
}

function toEstimate(low: string, high: string | undefined, unit: AmountUnit, wording: string): Estimate {
  const value = Number(high ?? low);
  const converted = unit === 'days' || high !== undefined;
  return {
    value: unit === 'days' ? value * HOURS_PER_DAY : value,
    unit: unit === 'points' ? 'points' : 'hours',
    note: converted ? wording : null,
  };
}

/** Finds an estimate such as `3-4 hours`, `2h`, `5 points`, `2 days` in a piece of text. */
function findEstimate(text: string): Estimate | null {
  const m = ESTIMATE_RE.exec(text);
  if (!m) return null;
  const unit = unitOf(m[3]);
  if (!unit) return null;
  const estimate = toEstimate(m[1], m[2], unit, collapse(m[0]));
  // Extra words around the amount (`Future - 6-8 hours`) are kept as the note.
  if (collapse(text) !== collapse(m[0])) estimate.note = collapse(text);
  return estimate;
}

/** Splits a trailing estimate off a title: `Foo (3-4 hours)` → `Foo` + 4 hours (note `3-4 hours`). */
function splitEstimate(title: string): { title: string; estimate: Estimate | null } {
  const bracket = TRAILING_BRACKET_RE.exec(title);
  if (bracket) {
    const estimate = findEstimate(bracket[1]);
    if (estimate) return { title: title.slice(0, bracket.index).trim(), estimate };
  }
  const dash = TRAILING_DASH_ESTIMATE_RE.exec(title);
  if (dash) {
    const estimate = findEstimate(dash[1]);
    if (estimate) return { title: title.slice(0, dash.index).trim(), estimate };
  }
  return { title: title.trim(), estimate: null };
}

/**
 * Reads an estimate cell (`3`, `3-4`, `~2.5`, `4h`, `2 days`) given the column's unit
 * (`auto` when the header does not say).
 */
function parseEstimateCell(cell: string, headerUnit: AmountUnit | 'auto'): Estimate | null {
  const m = new RegExp(`${AMOUNT}\\s*(\\p{L}[\\p{L}\\s]*)?`, 'u').exec(cell);
  if (!m) return null;
  const unit = unitOf(m[3]?.trim()) ?? (headerUnit === 'auto' ? 'hours' : headerUnit);
  const amount = m[2] !== undefined ? `${m[1]}-${m[2]}` : m[1];
  const wording = unit === 'days' ? `${amount} ${Number(m[2] ?? m[1]) === 1 ? 'day' : 'days'}` : `${amount} ${unit}`;
  return toEstimate(m[1], m[2], unit, wording);
}

// --- table columns ----------------------------------------------------------------------------

const PHASE_COLUMN_RE = /^(phase|sprint|milestone|iteration|stage|week)s?\b/i;
const ESTIMATE_COLUMN_RE = /\b(days?|hours?|hrs?|points?|pts|sp|story\s+points?|estimates?|est|effort)\b/i;
const TASK_COLUMN_RE = /\b(tasks?|components?|deliverables?|features?|items?|work|stor(?:y|ies)|titles?|names?)\b/i;
const STATUS_COLUMN_RE = /^(status|state|done)\b/i;
const PRIORITY_COLUMN_RE = /^(priority|prio)\b/i;
const ID_COLUMN_RE = /^(id|#|key|ref|no\.?)$/i;
/** A heading or label that introduces a list of the tasks this one waits for. */
const DEPS_LABEL_RE = /^\s*(depends\s+on|dependencies|dependency|prerequisites?|blocked\s+by|requires|waits\s+for)\s*:?\s*$/i;
const AGENT_COLUMN_RE = /^agents?$/i;
const DEPENDS_COLUMN_RE = /^(depends?\s+on|dependencies|deps|blocked\s+by|prerequisites?|requires|after)\b/i;

function headerUnit(header: string): AmountUnit | 'auto' {
  if (/day/i.test(header)) return 'days';
  if (/point|\bpts\b|\bsp\b/i.test(header)) return 'points';
  if (/hour|\bhrs?\b|\(h\)/i.test(header)) return 'hours';
  return 'auto';
}

/** Maps a status word or mark (`✅ Complete`, `In progress`, `Blocked`) to a task status. */
function statusFromWord(text: string): TaskStatus {
  const t = text.toLowerCase();
  if (/✅|✔|☑|\b(done|complete|completed|finished|shipped)\b/.test(t)) return 'DONE';
  if (/\b(cancel+ed|dropped|won'?t do)\b|❌/.test(t)) return 'CANCELLED';
  if (/\bblocked\b|⛔|🚫/.test(t)) return 'BLOCKED';
  if (/\breview\b/.test(t)) return 'IN_REVIEW';
  if (/\b(in[\s-]?progress|wip|started|ongoing|doing)\b|🚧|🔄/.test(t)) return 'IN_PROGRESS';
  return 'TODO';
}

/** Maps a priority word (`High`, `P0`, `critical`) to a task priority; medium when unknown. */
function priorityFromWord(text: string): TaskPriority {
  const t = text.toLowerCase();
  if (/\b(critical|urgent|p0|blocker)\b/.test(t)) return 'critical';
  if (/\b(high|p1)\b/.test(t)) return 'high';
  if (/\b(low|p3|p4|nice to have)\b/.test(t)) return 'low';
  return 'medium';
}

// ---------------------------------------------------------------------------------------------
// Drafts: mutable while the document is walked, frozen into ImportedPlan at the end
// ---------------------------------------------------------------------------------------------

interface TaskDraft {
  key: string;
  /** The identifier the plan gives the task (`a1`, `1.2`, `step-3`), or null (list item, titled heading). */
  id: string | null;
  /** Identified tasks of the task's sprint (or of the backlog): where its dependencies are looked up first. */
  scope: Map<string, TaskDraft>;
  /** Dependency phrases read in the task's text, resolved when the plan is built. */
  deps: { ref: DependencyRef; line: number }[];
  title: string;
  description: string[];
  status: TaskStatus;
  priority: TaskPriority;
  estimate: number | null;
  estimateUnit: EstimateUnit;
  checkpoints: ImportedCheckpoint[];
  checkpointKeys: Set<string>;
  children: TaskDraft[];
  /** From an `Agent:` line or an `@claude` mention; the first one wins. */
  agent: AgentRef | null;
  line: number;
}

interface SprintDraft {
  key: string;
  name: string;
  goal: string | null;
  note: string | null;
  headingText: string;
  tasks: TaskDraft[];
  /** Identified tasks of this sprint (`a1`, `a1.1`), for merging and parent lookup. */
  byId: Map<string, TaskDraft>;
  /** The sprint's default agent (an `Agent:` line under its heading, outside tasks). */
  agent: AgentRef | null;
  line: number;
}

/** What a heading opened; the stack of frames is the document's outline at the current token. */
type Frame =
  | { kind: 'sprint'; depth: number; sprint: SprintDraft }
  /** `depth` is Infinity for a bold task line: any heading ends it. */
  | { kind: 'task'; depth: number; task: TaskDraft; sprint: SprintDraft | null }
  /** `report`: a heading under a sprint, reported as skipped when nothing is imported from it. */
  | { kind: 'section'; depth: number; report?: { line: number; text: string; created: number }; deps?: boolean };

/** A restating section being read into a throw-away builder, to report what it would have given. */
interface Capture {
  depth: number;
  kind: string;
  scope: 'plan' | 'sprint';
  text: string;
  line: number;
  sub: MarkdownPlanBuilder;
}

interface Context {
  sprint: SprintDraft | null;
  task: TaskDraft | null;
  /** Depth of the heading that opened the current task (Infinity for a bold line). */
  taskDepth: number;
}

class MarkdownPlanBuilder {
  private title: string | null = null;
  private readonly sprints = new Map<string, SprintDraft>();
  private readonly backlog: TaskDraft[] = [];
  private readonly backlogById = new Map<string, TaskDraft>();
  private readonly skipped: SkippedItem[] = [];
  private readonly usedKeys = new Set<string>();
  private readonly frames: Frame[] = [];
  /** Tasks and checkpoints created so far (tells whether a section gave anything). */
  private created = 0;
  private capture: Capture | null = null;
  /** Whether the last block was a `**Dependencies:**` label paragraph under a task. */
  private depsLabel = false;

  /**
   * @param keepRestated lines of restating headings to read as ordinary sections (a timeline that holds
   *   the plan's only sprint headings); null for a builder that only counts (inside a capture).
   */
  constructor(
    private readonly source: string,
    private readonly keepRestated: ReadonlySet<number> | null = new Set(),
    /** Profile ids a bare `@name` mention on a task line is read as (lower case). */
    private readonly agentProfiles: readonly string[] = BUILTIN_AGENT_PROFILES,
  ) {}

  // --- outline ---------------------------------------------------------------------------------

  private context(): Context {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const frame = this.frames[i];
      if (frame.kind === 'sprint') return { sprint: frame.sprint, task: null, taskDepth: 0 };
      if (frame.kind === 'task') return { sprint: frame.sprint, task: frame.task, taskDepth: frame.depth };
    }
    return { sprint: null, task: null, taskDepth: 0 };
  }

  private popFrames(depth: number): void {
    while (this.frames.length > 0 && this.frames[this.frames.length - 1].depth >= depth) {
      const frame = this.frames.pop()!;
      if (frame.kind === 'section' && frame.report && frame.report.created === this.created) {
        this.skip(frame.report.line, frame.report.text, 'heading under a sprint with no task in it: it describes the sprint');
      }
    }
  }

  // --- drafts ----------------------------------------------------------------------------------

  private claimKey(base: string): string {
    let key = base;
    for (let n = 2; this.usedKeys.has(key); n++) key = `${base}-${n}`;
    this.usedKeys.add(key);
    return key;
  }

  private newTask(
    keyBase: string,
    title: string,
    line: number,
    estimate: Estimate | null,
    id: string | null,
    scope: Map<string, TaskDraft>,
  ): TaskDraft {
    this.created++;
    return {
      key: this.claimKey(keyBase),
      id,
      scope,
      deps: [],
      title,
      description: estimate?.note ? [`Estimate: ${estimate.note}`] : [],
      status: 'TODO',
      priority: 'medium',
      estimate: estimate?.value ?? null,
      estimateUnit: estimate?.unit ?? 'hours',
      checkpoints: [],
      checkpointKeys: new Set(),
      children: [],
      agent: null,
      line,
    };
  }

  private sprintFor(heading: SprintHeading, headingText: string, line: number): SprintDraft {
    let sprint = this.sprints.get(heading.key);
    if (!sprint) {
      sprint = {
        key: heading.key,
        name: heading.name,
        goal: null,
        note: heading.note,
        headingText,
        tasks: [],
        byId: new Map(),
        agent: null,
        line,
      };
      this.sprints.set(heading.key, sprint);
      this.usedKeys.add(heading.key);
    }
    return sprint;
  }

  /** Adds a task that has an identifier, or returns the task that already has it (merge). */
  private identifiedTask(
    heading: TaskHeading,
    sprint: SprintDraft | null,
    enclosing: TaskDraft | null,
    line: number,
  ): TaskDraft {
    const byId = sprint ? sprint.byId : this.backlogById;
    const existing = byId.get(heading.id);
    const mention = this.mention(heading.title);
    if (existing) {
      this.readDeps(existing, heading.title, line);
      existing.agent ??= mention.agent;
      return existing;
    }
    const { title, estimate } = this.splitTitle(mention.text);
    const task = this.newTask(`${sprint ? sprint.key : BACKLOG_KEY}/${heading.id}`, title, line, estimate, heading.id, byId);
    task.agent = mention.agent;
    this.readDeps(task, heading.title, line);
    byId.set(heading.id, task);
    let parent: TaskDraft | null = null;
    for (let id = heading.id; !parent && id.includes('.'); ) {
      id = id.slice(0, id.lastIndexOf('.'));
      parent = byId.get(id) ?? null;
    }
    parent ??= enclosing;
    if (parent) parent.children.push(task);
    else if (sprint) sprint.tasks.push(task);
    else this.backlog.push(task);
    return task;
  }

  /** Adds a task without identifier (list item, table row): key = scope + slug of the title. */
  private listedTask(
    rawTitle: string,
    sprint: SprintDraft | null,
    parent: TaskDraft | null,
    line: number,
  ): TaskDraft {
    const mention = this.mention(stripLeadingEmoji(rawTitle));
    const { title, estimate } = this.splitTitle(mention.text);
    const scope = sprint ? sprint.byId : this.backlogById;
    const task = this.newTask(`${sprint ? sprint.key : BACKLOG_KEY}/${slugify(title)}`, title, line, estimate, null, scope);
    task.agent = mention.agent;
    this.readDeps(task, rawTitle, line);
    if (parent) parent.children.push(task);
    else if (sprint) sprint.tasks.push(task);
    else this.backlog.push(task);
    return task;
  }

  private addCheckpoint(task: TaskDraft, rawTitle: string, done: boolean): void {
    const title = stripLeadingEmoji(collapse(rawTitle));
    if (!title) return;
    const base = `${task.key}#${slugify(title)}`;
    let key = base;
    for (let n = 2; task.checkpointKeys.has(key); n++) key = `${base}-${n}`;
    task.checkpointKeys.add(key);
    task.checkpoints.push({ key, title, done });
    this.created++;
  }

  /** A task line's `@claude:reviewer` mention (known profiles only), and the line without it. */
  private mention(text: string): { text: string; agent: AgentRef | null } {
    if (!text.includes('@')) return { text, agent: null };
    const first = extractAgentMention(text, this.agentProfiles);
    if (first.agent) return first;
    // `Title @codex (3h)`: the mention before a trailing estimate or dependency parenthetical.
    const { title, estimate } = splitEstimate(stripDependencyParenthetical(text));
    const inner = extractAgentMention(title, this.agentProfiles);
    if (!inner.agent) return first;
    return { text: estimate ? text.replace(title, inner.text) : inner.text, agent: inner.agent };
  }

  /** A title without its dependency parenthetical, and its trailing estimate. */
  private splitTitle(text: string): { title: string; estimate: Estimate | null } {
    return splitEstimate(stripDependencyParenthetical(text));
  }

  /**
   * Reads the `Agent:` lines of `text` (one block's text, markdown or plain): the first valid one sets
   * `target`'s agent when it has none; bad values are reported. Returns the text without those lines
   * (unchanged when it has none).
   */
  private readAgentLines(target: { agent: AgentRef | null }, text: string, line: number, report = true): string {
    if (!/agent/i.test(text)) return text;
    const lines = text.split('\n');
    const kept = lines.filter((l, i) => {
      const found = readAgentLine(l);
      if (found === null) return !/^\s*(?:[-*+]\s+)?[*_`]*agents?[*_`]*\s*:[*_`]*\s*(?:none|n\/?a|-+|—|tbd)?\s*$/i.test(l);
      // A bad value is reported and stays in the text (it may be prose that starts with "Agent:").
      if (found.kind === 'bad') {
        if (report) this.skip(line + i, l, `agent "${found.written}" not read: ${found.reason}`);
        return true;
      }
      target.agent ??= found.agent;
      return false;
    });
    return kept.length === lines.length ? text : kept.join('\n').trim();
  }

  /** Records the dependency phrases of `text` (markdown or plain) for `task`; resolved in `build`. */
  private readDeps(task: TaskDraft, text: string, line: number): void {
    for (const ref of findDependencyRefs(text.replace(/[*_`]/g, ''))) task.deps.push({ ref, line });
  }

  private skip(line: number | null, text: string, reason: string): void {
    this.skipped.push({ line, text: collapse(text), reason });
  }

  // --- walking tokens --------------------------------------------------------------------------

  /**
   * Walks the tokens `marked` lexed from `src`, whose first line is line `firstLine` of the document.
   * Called once per chunk, in order; the outline (frames) carries over from one chunk to the next.
   */
  walk(tokens: readonly Token[], src: string, firstLine = 1): void {
    let offset = 0;
    let line = firstLine;
    for (const token of tokens) {
      // Lines come from accumulating raw lengths; resynchronise if the lexer normalised something.
      if (!src.startsWith(token.raw, offset)) {
        const found = src.indexOf(token.raw, offset);
        if (found !== -1) {
          line += countNewlines(src.slice(offset, found));
          offset = found;
        }
      }
      this.feed(token, line);
      line += countNewlines(token.raw);
      offset += token.raw.length;
    }
  }

  /** One top-level token: to the restating section being captured, or read. */
  private feed(token: Token, line: number): void {
    const capture = this.capture;
    if (capture) {
      if (token.type !== 'heading' || (token as Tokens.Heading).depth > capture.depth) {
        capture.sub.block(token, line);
        return;
      }
      this.endCapture();
    }
    this.block(token, line);
  }

  private startCapture(kind: string, depth: number, text: string, line: number, sprint: SprintDraft | null): void {
    const sub = new MarkdownPlanBuilder(this.source, null, this.agentProfiles);
    // Under a sprint, the section's lists are read as the sprint's would be.
    if (sprint) sub.frames.push({ kind: 'sprint', depth: depth - 0.5, sprint: sub.sprintFor({ key: sprint.key, name: sprint.name, note: null }, text, line) });
    this.capture = { depth, kind, scope: sprint ? 'sprint' : 'plan', text, line, sub };
  }

  /** Ends the restating section being captured; reports it when it held what would have been imported. */
  private endCapture(): void {
    const capture = this.capture;
    if (!capture) return;
    this.capture = null;
    const got = capture.sub.tally();
    const sprints = capture.scope === 'sprint' ? got.sprints - 1 : got.sprints;
    const parts = [
      sprints > 0 ? `${sprints} sprint heading${sprints === 1 ? '' : 's'}` : '',
      got.tasks > 0 ? `${got.tasks} task${got.tasks === 1 ? '' : 's'}` : '',
      got.checkpoints > 0 ? `${got.checkpoints} checkpoint${got.checkpoints === 1 ? '' : 's'}` : '',
    ].filter(Boolean);
    if (parts.length === 0) return; // prose only: nothing looked like plan content
    this.skip(capture.line, capture.text, `restates the ${capture.scope}: ${capture.kind} (not imported: ${parts.join(', ')})`);
  }

  /** What this builder has read so far: sprint headings (with or without tasks), tasks, checkpoints. */
  private tally(): { sprints: number; tasks: number; checkpoints: number } {
    let tasks = 0;
    let checkpoints = 0;
    const stack: TaskDraft[] = [...this.backlog];
    for (const sprint of this.sprints.values()) stack.push(...sprint.tasks);
    while (stack.length > 0) {
      const task = stack.pop()!;
      tasks++;
      checkpoints += task.checkpoints.length;
      stack.push(...task.children);
    }
    return { sprints: this.sprints.size, tasks, checkpoints };
  }

  private block(token: Token, line: number): void {
    // A `**Dependencies:**` label applies to the list right after it only (blank lines between allowed).
    const label = this.depsLabel;
    if (token.type !== 'space') this.depsLabel = false;
    switch (token.type) {
      case 'heading':
        this.heading(token as Tokens.Heading, line);
        break;
      case 'paragraph':
        this.paragraph(token as Tokens.Paragraph, line);
        break;
      case 'list':
        this.list(token as Tokens.List, line, label);
        break;
      case 'table':
        this.table(token as Tokens.Table, line);
        break;
      case 'blockquote': {
        const quote = token as Tokens.Blockquote;
        for (const child of quote.tokens) this.block(child, line);
        break;
      }
      // 'code' (fenced or indented), 'html', 'hr', 'space', 'def': ignored on purpose.
      default:
        break;
    }
  }

  private heading(token: Tokens.Heading, line: number): void {
    const text = collapse(inlineText(token.tokens));
    const depth = token.depth;
    if (depth === 1 && this.title === null) this.title = text;
    this.popFrames(depth);
    const ctx = this.context();

    const sprintHeading = parseSprintHeading(text);
    if (sprintHeading) {
      this.frames.push({ kind: 'sprint', depth, sprint: this.sprintFor(sprintHeading, text, line) });
      return;
    }
    // Success criteria, a timeline, risks …: not work. Inside a task, such a section is part of the task.
    if (!ctx.task && this.keepRestated !== null && !this.keepRestated.has(line)) {
      const kind = restatingSection(text);
      if (kind) {
        this.startCapture(kind, depth, text, line, ctx.sprint);
        return;
      }
    }
    const taskHeading = parseTaskHeading(text);
    if (taskHeading && (ctx.sprint || taskHeading.keyword)) {
      const enclosing = ctx.task && ctx.taskDepth < depth ? ctx.task : null;
      const task = this.identifiedTask(taskHeading, ctx.sprint, enclosing, line);
      this.frames.push({ kind: 'task', depth, task, sprint: ctx.sprint });
      return;
    }
    // A heading without an identifier directly under a sprint is a task (`### Login page`), unless it
    // names a part of the sprint (`#### Components Needed`, `#### Architecture`).
    if (ctx.sprint && !ctx.task && stripLeadingEmoji(text)) {
      if (isSprintSection(text)) {
        this.frames.push({ kind: 'section', depth, report: { line, text, created: this.created } });
        return;
      }
      const task = this.listedTask(text, ctx.sprint, null, line);
      this.frames.push({ kind: 'task', depth, task, sprint: ctx.sprint });
      return;
    }
    // `#### Dependencies` inside a task: its bullets name the tasks this one waits for.
    this.frames.push({ kind: 'section', depth, deps: ctx.task !== null && DEPS_LABEL_RE.test(text) });
  }

  private paragraph(token: Tokens.Paragraph, line: number): void {
    const first = token.tokens[0];
    const plain = inlineText(token.tokens).trim();

    // **Task 1.1: Oneiric MCP Server** (20 hours)
    if (first?.type === 'strong') {
      const bold = collapse(inlineText((first as Tokens.Strong).tokens));
      const heading = parseTaskHeading(bold);
      if (heading) {
        this.popFrames(Infinity); // a new bold task line ends the previous one
        const ctx = this.context();
        const rest = inlineText(token.tokens.slice(1));
        const newline = rest.indexOf('\n');
        const firstLineRest = collapse(newline === -1 ? rest : rest.slice(0, newline));
        const bodyRest = newline === -1 ? '' : rest.slice(newline + 1).trim();
        // The estimate follows the bold span (`** (20 hours)`) or ends the line (`** - Client [4h]`).
        const leading = LEADING_BRACKET_RE.exec(firstLineRest);
        const leadingEstimate = leading ? findEstimate(leading[1]) : null;
        const { title: leftover, estimate } =
          leading && leadingEstimate
            ? { title: firstLineRest.slice(leading[0].length), estimate: leadingEstimate }
            : splitEstimate(firstLineRest);
        const enclosing = ctx.task ?? null;
        const task = this.identifiedTask(heading, ctx.sprint, enclosing, line);
        if (estimate && task.estimate === null) {
          task.estimate = estimate.value;
          task.estimateUnit = estimate.unit;
          if (estimate.note) task.description.push(`Estimate: ${estimate.note}`);
        }
        const leadMention = this.mention(leftover.replace(/^[\s:–—-]+/, ''));
        const lead = this.readAgentLines(task, leadMention.text, line);
        task.agent ??= leadMention.agent;
        const body = this.readAgentLines(task, bodyRest, line + 1);
        this.readDeps(task, rest, line);
        if (lead && !isDependencyStatement(lead)) task.description.push(lead);
        if (body && !isDependencyStatement(body)) task.description.push(body);
        this.frames.push({ kind: 'task', depth: Infinity, task, sprint: ctx.sprint });
        return;
      }
    }

    const ctx = this.context();
    // **Goal:** … / **Goal**: … directly under a sprint.
    const goal = first?.type === 'strong' ? /^Goal\s*:\s*([\s\S]+)$/i.exec(plain) : null;
    if (goal && ctx.sprint && !ctx.task) {
      ctx.sprint.goal ??= collapse(goal[1]);
      return;
    }
    // `Agent: codex` directly under a sprint: the default agent of its tasks.
    if (ctx.sprint && !ctx.task) {
      this.readAgentLines(ctx.sprint, token.text, line);
      return;
    }
    if (ctx.task) {
      // `Agent: codex` lines say which agent does the task and leave the description.
      const text = this.readAgentLines(ctx.task, token.text.trim(), line);
      if (!text) return;
      const plainText = text === token.text.trim() ? plain : this.readAgentLines({ agent: null }, plain, line, false);
      // `Depends on: A1, A2` becomes dependencies; a paragraph that says only that leaves the description.
      this.readDeps(ctx.task, plainText, line);
      const isLabel = token.tokens.length <= 2 && first?.type === 'strong' && /:\s*$/.test(plainText);
      if (isLabel && DEPS_LABEL_RE.test(plainText.replace(/:\s*$/, ''))) this.depsLabel = true;
      if (!isLabel && !isDependencyStatement(plainText)) ctx.task.description.push(text);
    }
  }

  private list(token: Tokens.List, line: number, afterDepsLabel = false): void {
    const ctx = this.context();
    // Under `#### Dependencies` or `**Dependencies:**` in a task, each bullet names a task: `- A1`.
    const top = this.frames[this.frames.length - 1];
    const depsList = ctx.task !== null && (afterDepsLabel || (top?.kind === 'section' && top.deps === true));
    const itemLines = childLines(token.raw, line, token.items);
    const plainItems: string[] = [];
    token.items.forEach((item, index) => {
      const itemLine = itemLines[index];
      const { title, rest, nested } = splitItem(item);
      const wouldBeTask = !ctx.task && (item.task || (token.ordered && ctx.sprint));
      if (wouldBeTask && !stripLeadingEmoji(title)) {
        this.skip(itemLine, item.raw, 'list item has no text to use as a title');
        return;
      }
      if (item.task) {
        const done = item.checked === true;
        if (ctx.task) {
          this.addCheckpoint(ctx.task, title, done);
        } else {
          const task = this.listedTask(title, ctx.sprint, null, itemLine);
          if (done) task.status = 'DONE';
          this.fillFromItem(task, rest, nested, itemLine);
        }
      } else if (token.ordered) {
        if (ctx.task) {
          this.addCheckpoint(ctx.task, title, false);
        } else if (ctx.sprint) {
          const task = this.listedTask(title, ctx.sprint, null, itemLine);
          this.fillFromItem(task, rest, nested, itemLine);
        }
        // Numbered lists outside sprints are prose (principles, steps taken): ignored.
      } else if (ctx.task) {
        // `- Agent: codex` under a task: its agent (the item leaves the description).
        if (!this.readAgentLines(ctx.task, item.text, itemLine)) return;
        // `- Depends on: A1` under a task: dependencies (the item leaves the description).
        this.readDeps(ctx.task, depsList ? `Depends on: ${item.text}` : item.text, itemLine);
        if (depsList && isDependencyStatement(`Depends on: ${item.text.replace(/[*_`]/g, '')}`)) return;
        if (!isDependencyStatement(item.text.replace(/[*_`]/g, ''))) plainItems.push(item.raw.trimEnd());
      }
      // Plain bullets outside a task are not tasks: ignored silently.
    });
    if (ctx.task && plainItems.length > 0) ctx.task.description.push(plainItems.join('\n'));
  }

  /** Item text after its first line and nested lists become the description; nested checklists the checkpoints. */
  private fillFromItem(task: TaskDraft, rest: string, nested: readonly Token[], line: number): void {
    rest = this.readAgentLines(task, rest, line + 1);
    if (rest) {
      this.readDeps(task, rest, line);
      if (!isDependencyStatement(rest.replace(/[*_`]/g, ''))) task.description.push(rest);
    }
    for (const token of nested) {
      if (token.type === 'list') {
        const list = token as Tokens.List;
        const plain: string[] = [];
        for (const item of list.items) {
          if (item.task) {
            this.addCheckpoint(task, splitItem(item).title, item.checked === true);
          } else if (this.readAgentLines(task, item.text, line)) {
            this.readDeps(task, item.text, line);
            if (!isDependencyStatement(item.text.replace(/[*_`]/g, ''))) plain.push(item.raw.trimEnd());
          }
        }
        if (plain.length > 0) task.description.push(plain.join('\n'));
      } else if (token.type === 'paragraph' || token.type === 'text') {
        const text = this.readAgentLines(task, (token as Tokens.Paragraph).text.trim(), line);
        if (!text) continue;
        this.readDeps(task, text, line);
        if (!isDependencyStatement(text.replace(/[*_`]/g, ''))) task.description.push(text);
      }
    }
  }

  private table(token: Tokens.Table, line: number): void {
    const headers = token.header.map(cell => collapse(inlineText(cell.tokens)));
    const headerText = headers.join(' | ');
    const find = (re: RegExp, exclude: number[] = []): number =>
      headers.findIndex((h, i) => !exclude.includes(i) && re.test(h));
    const phaseCol = find(PHASE_COLUMN_RE);
    const estimateCol = find(ESTIMATE_COLUMN_RE, [phaseCol]);
    const taskCol = find(TASK_COLUMN_RE, [phaseCol, estimateCol]);
    if (taskCol === -1 || estimateCol === -1) {
      const missing =
        taskCol === -1 && estimateCol === -1
          ? 'table has no task column and no estimate column'
          : taskCol === -1
            ? 'table has no task column'
            : 'table has no estimate column';
      this.skip(line, headerText, missing);
      return;
    }
    const statusCol = find(STATUS_COLUMN_RE, [phaseCol, estimateCol, taskCol]);
    const priorityCol = find(PRIORITY_COLUMN_RE, [phaseCol, estimateCol, taskCol]);
    const idCol = find(ID_COLUMN_RE, [phaseCol, estimateCol, taskCol]);
    const depsCol = find(DEPENDS_COLUMN_RE, [phaseCol, estimateCol, taskCol, idCol]);
    const agentCol = find(AGENT_COLUMN_RE, [phaseCol, estimateCol, taskCol, idCol, depsCol]);
    const unit = headerUnit(headers[estimateCol]);
    const ctx = this.context();

    token.rows.forEach((row, index) => {
      const rowLine = line + 2 + index; // header line, delimiter line, then one row per line
      const cells = row.map(cell => collapse(inlineText(cell.tokens)));
      const name = stripLeadingEmoji(cells[taskCol] ?? '');
      if (!name) {
        this.skip(rowLine, cells.join(' | '), 'table row has no task name');
        return;
      }
      let sprint = ctx.sprint;
      let parent = ctx.task;
      const phaseCell = phaseCol === -1 ? '' : (cells[phaseCol] ?? '');
      if (phaseCell) {
        sprint = this.sprintFromCell(headers[phaseCol], phaseCell, rowLine);
        parent = null;
      }
      const id = idCol === -1 ? '' : (cells[idCol] ?? '');
      const task = id
        ? this.identifiedTask({ id: id.toLowerCase(), keyword: false, title: name }, sprint, parent, rowLine)
        : this.listedTask(name, sprint, parent, rowLine);
      const estimate = parseEstimateCell(cells[estimateCol] ?? '', unit);
      if (estimate && task.estimate === null) {
        task.estimate = estimate.value;
        task.estimateUnit = estimate.unit;
        if (estimate.note) task.description.push(`Estimate: ${estimate.note}`);
      }
      if (statusCol !== -1 && cells[statusCol]) task.status = statusFromWord(cells[statusCol]);
      if (priorityCol !== -1 && cells[priorityCol]) task.priority = priorityFromWord(cells[priorityCol]);
      // A Depends on / Dependencies / Blocked by cell lists identifiers: explicit, like `Depends on: …`.
      if (depsCol !== -1 && cells[depsCol]) this.readDeps(task, `Depends on: ${cells[depsCol]}`, rowLine);
      // An Agent cell reads like an `Agent:` line (`codex`, `claude:reviewer`).
      if (agentCol !== -1 && cells[agentCol]) this.readAgentLines(task, `Agent: ${cells[agentCol]}`, rowLine);
      const used = new Set([phaseCol, estimateCol, taskCol, statusCol, priorityCol, idCol, depsCol, agentCol]);
      cells.forEach((cell, i) => {
        if (!used.has(i) && cell && headers[i]) task.description.push(`${headers[i]}: ${cell}`);
      });
    });
  }

  /** `Phase 1` (or `1` in a Phase column) → sprint `phase-1`, created when new. */
  private sprintFromCell(header: string, cell: string, line: number): SprintDraft {
    const kind = (PHASE_COLUMN_RE.exec(header)?.[1] ?? 'sprint').toLowerCase();
    const heading =
      parseSprintHeading(cell) ??
      parseSprintHeading(`${kind[0].toUpperCase()}${kind.slice(1)} ${cell}`) ?? {
        key: `${kind}-${slugify(cell)}`,
        name: cell,
        note: null,
      };
    return this.sprintFor(heading, cell, line);
  }

  // --- result ----------------------------------------------------------------------------------

  /** Reports the runs of lines that were flattened because they were nested too deeply. */
  reportFlattened(runs: readonly { line: number; lines: number; text: string }[]): void {
    for (const run of runs) {
      const what = run.lines === 1 ? 'this line was' : `${run.lines} lines from here were`;
      this.skip(run.line, run.text, `nested deeper than ${MAX_NESTING} levels (lists or quotes): ${what} read at level ${MAX_NESTING}`);
    }
  }

  /**
   * Resolves the dependency phrases read in tasks into task keys: an identifier is looked up among the
   * task's sprint (or the backlog) first, then in the whole plan when only one task there has it.
   * References that name no task (explicit ones), ambiguous ones, self-dependencies and edges that would
   * close a cycle (checked in document order with {@link TaskGraph.addEdges}) are reported as skipped.
   */
  private resolveDependencies(tasks: readonly TaskDraft[]): Map<TaskDraft, string[]> {
    const byId = new Map<string, TaskDraft[]>();
    for (const task of tasks) {
      if (task.id === null) continue;
      const list = byId.get(task.id);
      if (list) list.push(task);
      else byId.set(task.id, [task]);
    }
    const edges: { task: TaskDraft; target: TaskDraft; written: string; line: number; edge: { taskId: string; dependsOnId: string } }[] = [];
    const seen = new Set<string>();
    const add = (task: TaskDraft, target: TaskDraft, written: string, line: number): void => {
      const pair = `${task.key}\u0000${target.key}`;
      if (seen.has(pair)) return;
      seen.add(pair);
      edges.push({ task, target, written, line, edge: { taskId: task.key, dependsOnId: target.key } });
    };
    for (const task of tasks) {
      for (const { ref, line } of task.deps) {
        const text = `${task.title} → ${ref.written}`;
        if (ref.id === null) {
          // `Depends on: Phase 1`: every task of that sprint (its top-level tasks; subtasks come with them).
          const heading = parseSprintHeading(ref.written);
          const sprint = heading ? this.sprints.get(heading.key) : undefined;
          const own = sprint !== undefined && task.scope === sprint.byId;
          const targets = sprint && !own ? sprint.tasks : [];
          if (targets.length === 0) {
            const why = own ? 'names the task\'s own sprint' : heading ? 'names a sprint the plan does not have' : 'names no task identifier';
            this.skip(line, text, `dependency "${ref.written}" ${why}`);
          }
          for (const target of targets) add(task, target, ref.written, line);
          continue;
        }
        const candidates = byId.get(ref.id) ?? [];
        const target = task.scope.get(ref.id) ?? (candidates.length === 1 ? candidates[0] : undefined);
        if (!target) {
          if (candidates.length > 1) {
            this.skip(line, text, `dependency on ${ref.written} is ambiguous: ${candidates.map(c => c.key).join(', ')}`);
          } else if (ref.explicit) {
            this.skip(line, text, `dependency on ${ref.written} not found in the plan`);
          }
          continue;
        }
        if (target === task) {
          this.skip(line, text, 'a task cannot depend on itself');
          continue;
        }
        add(task, target, ref.written, line);
      }
    }
    const out = new Map<TaskDraft, string[]>();
    if (edges.length === 0) return out;
    const nodes: GraphTask[] = tasks.map(t => ({ id: t.key, status: 'TODO', estimate: null }));
    const graph = new TaskGraph(nodes, []);
    const refused = new Map(graph.addEdges(edges.map(e => e.edge)).map(r => [r.edge, r.cycle]));
    for (const e of edges) {
      const cycle = refused.get(e.edge);
      if (cycle) {
        this.skip(e.line, `${e.task.title} → ${e.written}`, `dependency would close a cycle (${cycle.join(' → ')})`);
        continue;
      }
      const list = out.get(e.task);
      if (list) list.push(e.target.key);
      else out.set(e.task, [e.target.key]);
    }
    return out;
  }

  /** Every task draft, depth first in document order (children right after their parent). */
  private allDrafts(): TaskDraft[] {
    const out: TaskDraft[] = [];
    const visit = (list: readonly TaskDraft[]): void => {
      for (const task of list) {
        out.push(task);
        visit(task.children);
      }
    };
    for (const sprint of this.sprints.values()) visit(sprint.tasks);
    visit(this.backlog);
    return out;
  }

  build(encodingRepaired: boolean): ImportedPlan {
    this.endCapture();
    this.popFrames(0);
    const dependsOn = this.resolveDependencies(this.allDrafts());
    const freeze = (task: TaskDraft): ImportedTask => freezeTask(task, dependsOn, freeze);
    const sprints: ImportedSprint[] = [];
    for (const sprint of this.sprints.values()) {
      if (sprint.tasks.length === 0) {
        this.skip(sprint.line, sprint.headingText, 'sprint heading has no tasks');
        continue;
      }
      const goal = [sprint.goal, sprint.note ? `(${sprint.note})` : null].filter(Boolean).join(' ');
      sprints.push({ key: sprint.key, name: sprint.name, goal, ...(sprint.agent ? { agent: sprint.agent } : {}), tasks: sprint.tasks.map(freeze), line: sprint.line });
    }
    this.skipped.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    const plan: ImportedPlan = {
      source: this.source,
      format: 'markdown',
      title: this.title,
      sprints,
      backlog: this.backlog.map(freeze),
      skipped: this.skipped,
    };
    if (encodingRepaired) plan.encodingRepaired = true;
    return plan;
  }
}

function freezeTask(task: TaskDraft, dependsOn: ReadonlyMap<TaskDraft, string[]>, freeze: (t: TaskDraft) => ImportedTask): ImportedTask {
  return {
    key: task.key,
    title: task.title,
    description: task.description.join('\n\n'),
    status: task.status,
    priority: task.priority,
    estimate: task.estimate,
    estimateUnit: task.estimateUnit,
    checkpoints: task.checkpoints,
    dependsOn: dependsOn.get(task) ?? [],
    ...(task.agent ? { agent: task.agent } : {}),
    children: task.children.map(freeze),
    line: task.line,
  };
}

/**
 * The 1-based lines of `children` (tokens whose raw text lies inside `parentRaw`, in order). Newlines
 * are counted only between one child and the next, so the whole list costs O(length of `parentRaw`).
 */
function childLines(parentRaw: string, parentLine: number, children: readonly { raw: string }[]): number[] {
  let cursor = 0;
  let line = parentLine;
  return children.map(child => {
    const found = parentRaw.indexOf(child.raw, cursor);
    const at = found === -1 ? cursor : found;
    line += countNewlines(parentRaw.slice(cursor, at));
    const childLine = line;
    line += countNewlines(child.raw);
    cursor = at + child.raw.length;
    return childLine;
  });
}

/** A list item's first line (plain text), its further lines (markdown) and its nested blocks. */
function splitItem(item: Tokens.ListItem): { title: string; rest: string; nested: Token[] } {
  const blocks = item.tokens.filter(t => t.type !== 'checkbox');
  const lead = blocks[0];
  if (!lead || (lead.type !== 'text' && lead.type !== 'paragraph')) {
    return { title: '', rest: '', nested: blocks };
  }
  const leadTokens = (lead as Tokens.Text).tokens;
  const plain = leadTokens ? inlineText(leadTokens) : decodeEntities((lead as Tokens.Text).text);
  const lines = plain.split('\n');
  const rawLines = (lead as Tokens.Text).text.split('\n');
  return {
    title: collapse(lines[0]),
    rest: rawLines.slice(1).join('\n').trim(),
    nested: blocks.slice(1),
  };
}

/**
 * Lines of restating headings that must be read as ordinary sections: those that hold sprint headings
 * when the document has no sprint heading outside restating sections (a plan whose only phases are
 * under "## Timeline" is not restating anything). Reads the ATX outline only.
 */
function restatedSectionsToKeep(headings: readonly OutlineHeading[]): Set<number> {
  const holding = new Set<number>();
  let sprintsOutside = false;
  let open: OutlineHeading | null = null;
  for (const heading of headings) {
    if (open && heading.depth <= open.depth) open = null;
    const text = heading.text.replace(/[*_`]/g, '');
    const sprint = parseSprintHeading(text) !== null;
    if (open) {
      if (sprint) holding.add(open.line);
    } else if (sprint) {
      sprintsOutside = true;
    } else if (restatingSection(text)) {
      open = heading;
    }
  }
  return sprintsOutside ? new Set() : holding;
}

/**
 * Imports a markdown plan. `source` names where the text came from (kept in the result).
 * See the module documentation for the rules. `options.chunkChars` sets the size of the chunks the
 * document is lexed in (default {@link CHUNK_CHARS}); the plan does not depend on it except for
 * lists longer than a chunk, read as consecutive lists of the same items. `options.agentProfiles` lists the
 * profile ids a bare `@name` mention on a task line is read as (default {@link BUILTIN_AGENT_PROFILES};
 * the `Agent:` label takes any name). Never throws on any text.
 */
export function importMarkdownPlan(
  text: string, source: string, options: { chunkChars?: number; agentProfiles?: readonly string[] } = {},
): ImportedPlan {
  const encodingRepaired = looksMisencoded(text);
  const repaired = encodingRepaired ? repairMojibake(text) : text;
  const src = repaired.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const prepared = prepareDocument(src, options.chunkChars ?? CHUNK_CHARS);
  const profiles = options.agentProfiles?.map(p => p.toLowerCase()) ?? BUILTIN_AGENT_PROFILES;
  const builder = new MarkdownPlanBuilder(source, restatedSectionsToKeep(prepared.headings), profiles);
  builder.reportFlattened(prepared.flattened);
  for (const chunk of prepared.chunks) {
    const lexer = new Lexer({ gfm: true });
    Object.assign(lexer.tokens.links, prepared.links);
    builder.walk(lexer.lex(chunk.text), chunk.text, chunk.line);
  }
  return builder.build(encodingRepaired);
}
