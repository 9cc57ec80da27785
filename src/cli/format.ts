import type { ImportReport } from '../services/planService';
import type { SprintStats } from '../shared/analytics';

/** A task as the `list_tasks` tool returns it. */
export interface TaskRow {
  id: string; title: string; status: string; priority: string; estimate: string | null;
  assignee: string | null; sprint_id: string | null; parent_id: string | null; progress: number;
  /** `profile[:role]`, or null when the task names no agent (older owners leave it out). */
  agent?: string | null;
}
/** A sprint as the `list_sprints` tool returns it. */
export interface SprintRow {
  id: string; name: string; goal: string; state: string; start_date?: string | null; end_date?: string | null; tasks_done: number; tasks_total: number; percent_done: number;
  /** The sprint's default agent (`profile[:role]`), or null. */
  agent?: string | null;
}

const STATUS_MARK: Record<string, string> = {
  TODO: '[ ]', IN_PROGRESS: '[~]', IN_REVIEW: '[?]', DONE: '[x]', BLOCKED: '[!]', CANCELLED: '[-]',
};

/** Tasks grouped by sprint, one line each: mark, id, title, estimate, assignee, agent (`→ codex`), progress. */
export function formatTasks(tasks: TaskRow[], sprints: SprintRow[]): string {
  if (!tasks.length) return 'No tasks.\n';
  const lines: string[] = [];
  const groups = new Map<string | null, TaskRow[]>();
  for (const t of tasks) groups.set(t.sprint_id, [...(groups.get(t.sprint_id) ?? []), t]);
  const order = [...sprints.map(s => s.id), null].filter(id => groups.has(id));
  for (const id of order) {
    const sprint = sprints.find(s => s.id === id);
    lines.push(sprint ? `${sprint.id}  ${sprint.name}${sprint.agent ? `  (agent ${sprint.agent})` : ''}` : 'Backlog');
    for (const t of groups.get(id)!) {
      const depth = t.parent_id ? '    ' : '  ';
      const extras = [t.estimate, t.assignee && `@${t.assignee}`, t.agent && `→ ${t.agent}`, t.progress ? `${t.progress}%` : null].filter(Boolean).join('  ');
      lines.push(`${depth}${STATUS_MARK[t.status] ?? '[ ]'} ${t.id.padEnd(6)} ${t.title}${extras ? `  (${extras})` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function formatSprints(sprints: SprintRow[]): string {
  if (!sprints.length) return 'No sprints.\n';
  return sprints
    .map(s => `${s.id.padEnd(5)} ${s.name}  —  ${s.tasks_done}/${s.tasks_total} done (${s.percent_done}%)  [${s.state}]${s.start_date || s.end_date ? `  ${s.start_date ?? '?'} → ${s.end_date ?? '?'}` : ''}${s.agent ? `  agent ${s.agent}` : ''}`)
    .join('\n') + '\n';
}

export function formatImportReport(r: ImportReport): string {
  const part = (what: string, c: { created: number; updated: number; unchanged: number }) =>
    `${what}: ${c.created} new, ${c.updated} updated, ${c.unchanged} unchanged`;
  const lines = [
    `Imported ${r.source} (${r.format})`,
    `  ${part('sprints', r.sprints)}`,
    `  ${part('tasks', r.tasks)}`,
    `  ${part('checkpoints', r.checkpoints)}`,
    `  dependencies: ${r.dependencies.created} new`,
  ];
  if (r.skipped.length) {
    lines.push(`  skipped ${r.skipped.length}:`);
    for (const s of r.skipped) lines.push(`    ${s.line ? `line ${s.line}: ` : ''}${s.text.slice(0, 80)} — ${s.reason}`);
  }
  if (r.conflicts?.length) {
    lines.push(`  conflicts ${r.conflicts.length} (changed in Baton and in the plan; Baton's value kept):`);
    const show = (v: string | number | null) => (v === null ? 'none' : JSON.stringify(String(v).replace(/\s+/g, ' ').slice(0, 80)));
    for (const c of r.conflicts) {
      lines.push(`    ${c.taskId ?? c.sprintId ?? ''} ${c.field}: Baton ${show(c.baton)}, plan ${show(c.plan)}`);
    }
  }
  if (r.noLongerInSource.length) {
    lines.push(`  no longer in the document (kept): ${r.noLongerInSource.map(t => `${t.id} ${t.title}`).join('; ')}`);
  }
  return lines.join('\n') + '\n';
}

/** An inbox request as the `list_inbox` tool returns it. */
export interface InboxRow {
  id: string; kind: string; agentName: string; taskId: string | null; text: string; options: string[];
  status: string; answer: string | null; answeredBy: string | null; createdAt: string;
}

export interface ActivityRow {
  id: number; at: string; by: string; kind: string; action: string; task_id: string | null; detail: string;
}

const KIND_LABEL: Record<string, string> = { question: 'asks', approval: 'asks to approve', blocked: 'is blocked' };

export function formatInbox(requests: InboxRow[]): string {
  if (!requests.length) return 'The inbox is empty: no agent is waiting for you.\n';
  return requests.map(r => {
    const head = `${r.id.padEnd(5)} ${r.agentName} ${KIND_LABEL[r.kind] ?? r.kind}${r.taskId ? ` (${r.taskId})` : ''} — ${r.createdAt.replace('T', ' ').slice(0, 16)}`;
    const body = `      ${r.text.replace(/\n/g, '\n      ')}`;
    const options = r.options.length ? `\n      options: ${r.options.join(' | ')}` : '';
    const answer = r.status !== 'open' ? `\n      → ${r.status}${r.answer ? `: ${r.answer}` : ''}${r.answeredBy ? ` (${r.answeredBy})` : ''}` : '';
    return `${head}\n${body}${options}${answer}`;
  }).join('\n') + '\n';
}

export function formatActivity(e: ActivityRow): string {
  return `${e.at.replace('T', ' ').slice(0, 19)}  ${e.by}${e.task_id ? `  ${e.task_id}` : ''}  ${e.detail}\n`;
}

/** A task as the `get_task` tool returns it (the whole task). */
export interface TaskDetailsRow extends TaskRow {
  description: string; context: string; summary: string | null; ready: boolean;
  sprint: { id: string; name: string; agent?: string | null } | null;
  checkpoints: { n: number; title: string; done: boolean }[];
  depends_on: { id: string; title: string; status: string }[]; waiting_on: string[]; dependents: string[];
  subtasks: { id: string; title: string; status: string }[] | string[];
  notes: { at: string; by: string; text: string }[];
  activity: { at: string; by: string; what: string }[];
  /** The review pipeline and rounds (`get_reviews`' shape), when the owner has review pipelines. */
  review?: ReviewRow;
}

/** A task's reviews as `get_reviews` returns them. */
export interface ReviewRow {
  pipeline: string | null; pipeline_from: string | null;
  rounds: {
    round: number; state: string; gate: string; reviewers: string[]; waiting_for: string[]; request_id: string | null; outcome: string | null;
    reviews: {
      id: string; reviewer: string; by: string; score: number; verdict: string; summary: string; strengths: string[]; critical_gaps: string[];
      recommendations: string[]; findings: { file: string; line: number | null; severity: string; message: string }[]; artifact_id: string | null; at: string;
    }[];
  }[];
}

/**
 * A task's review pipeline and rounds, for `baton show` and `baton review`: each round's state and
 * gate, who is still to review, then each review (score, verdict, summary; with `full`, strengths,
 * critical gaps, recommendations and findings with file and line).
 */
export function formatReviews(r: ReviewRow, full = true): string[] {
  const out = [`  pipeline: ${r.pipeline ? `${r.pipeline} (${r.pipeline_from})` : 'none'}`];
  for (const round of r.rounds) {
    out.push(`  round ${round.round}: ${round.state.replace('_', ' ')} · gate ${round.gate} · reviewers ${round.reviewers.join(', ') || 'none'}` +
      `${round.waiting_for.length ? ` · waiting for ${round.waiting_for.join(', ')}` : ''}${round.request_id ? ` · ${round.request_id}` : ''}${round.outcome ? ` — ${round.outcome}` : ''}`);
    for (const v of round.reviews) {
      out.push(`    ${v.id} ${v.reviewer} (${v.by}): ${v.score}/10 ${v.verdict}${v.artifact_id ? ` [${v.artifact_id}]` : ''} — ${indent(v.summary, '      ')}`);
      if (!full) continue;
      for (const x of v.strengths) out.push(`      + ${x}`);
      for (const x of v.critical_gaps) out.push(`      ! ${x}`);
      for (const f of v.findings) out.push(`      - ${f.file}${f.line ? `:${f.line}` : ''} (${f.severity}): ${f.message}`);
      for (const x of v.recommendations) out.push(`      > ${x}`);
    }
  }
  return out;
}

const indent = (text: string, pad = '  ') => text.replace(/\n/g, `\n${pad}`);
const when = (iso: string) => iso.replace('T', ' ').slice(0, 16);

/**
 * A task whole, for `baton show`: header (id, title, status, priority, estimate, assignee, progress,
 * agent, sprint), then description, dependencies (which are unfinished), checkpoints, context, summary,
 * notes and recent activity; empty sections are left out.
 */
export function formatTaskDetails(t: TaskDetailsRow): string {
  const out: string[] = [`${t.id}  ${t.title}`];
  const facts = [`status ${t.status}`, `priority ${t.priority}`, t.estimate && `estimate ${t.estimate}`,
    t.assignee && `assignee ${t.assignee}`, `progress ${t.progress}%`, t.ready ? 'ready' : null].filter(Boolean);
  out.push(`  ${facts.join(' · ')}`);
  const agent = t.agent ?? null;
  const fallback = t.sprint?.agent ?? null;
  out.push(`  agent: ${agent ?? (fallback ? `${fallback} (the sprint's default)` : 'not set (the workspace default)')}`);
  out.push(`  sprint: ${t.sprint ? `${t.sprint.id} ${t.sprint.name}` : 'backlog'}${t.parent_id ? ` · subtask of ${t.parent_id}` : ''}`);
  if (t.description.trim()) out.push('', 'Description', `  ${indent(t.description.trim())}`);
  out.push('', 'Dependencies');
  out.push(`  depends on: ${t.depends_on.length ? t.depends_on.map(d => d.id).join(', ') : 'none'}${t.waiting_on.length ? ` (unfinished: ${t.waiting_on.join(', ')})` : ''}`);
  out.push(`  needed by: ${t.dependents.length ? t.dependents.join(', ') : 'none'}`);
  if (t.subtasks.length) out.push(`  subtasks: ${t.subtasks.map(s => (typeof s === 'string' ? s : `${s.id} ${s.title} [${s.status}]`)).join('; ')}`);
  if (t.checkpoints.length) {
    out.push('', `Checkpoints (${t.checkpoints.filter(c => c.done).length}/${t.checkpoints.length})`);
    for (const c of t.checkpoints) out.push(`  ${c.done ? '[x]' : '[ ]'} ${c.n}. ${c.title}`);
  }
  if (t.context.trim()) out.push('', 'Context', `  ${indent(t.context.trim())}`);
  if (t.summary?.trim()) out.push('', 'Summary', `  ${indent(t.summary.trim())}`);
  if (t.review && (t.review.pipeline || t.review.rounds.length)) out.push('', 'Review', ...formatReviews(t.review));
  if (t.notes.length) {
    out.push('', `Notes (${t.notes.length})`);
    for (const n of t.notes) out.push(`  ${when(n.at)}  ${n.by}: ${indent(n.text, '    ')}`);
  }
  if (t.activity.length) {
    out.push('', 'Activity');
    for (const a of t.activity) out.push(`  ${when(a.at)}  ${a.by}  ${a.what}`);
  }
  return out.join('\n') + '\n';
}

/** A message in the person's mailbox, as the `check_messages` tool returns it. */
export interface MessageRow {
  id: string; from: string; subject: string; body: string; task_id: string | null; at: string;
}

/** The person's messages from agents, for `baton messages`: id, sender, task, time, subject and body. */
export function formatMessages(messages: MessageRow[]): string {
  if (!messages.length) return 'No messages.\n';
  return messages.map(m => `${m.id.padEnd(5)} from ${m.from}${m.task_id ? ` (${m.task_id})` : ''} — ${when(m.at)}${m.subject ? `\n      ${m.subject}` : ''}\n      ${indent(m.body, '      ')}`)
    .join('\n') + '\n';
}

/** A task's diff as `get_task_diff` returns it. */
export interface DiffRow {
  task_id: string; branch: string; base: string; base_from: string; worktree: string | null;
  ahead: number; behind: number; landed: boolean; live: boolean; uncommitted: number;
  files: { status: string; path: string; old_path?: string }[];
}

/** `baton diff`: the branch against its base, then one line per changed file (git's status letters). */
export function formatDiff(d: DiffRow): string {
  const lines = [
    `${d.task_id}: ${d.branch} → ${d.base}${d.base_from === 'checkout' ? ' (the branch checked out)' : ''}: ${d.ahead} commit(s) ahead, ${d.behind} behind${d.landed ? ', landed' : ''}`,
  ];
  if (d.worktree) lines.push(`  worktree ${d.worktree}${d.live ? ' (session running)' : ''}${d.uncommitted ? `, ${d.uncommitted} file(s) not committed` : ''}`);
  if (!d.files.length) lines.push('  no changed files');
  for (const f of d.files) lines.push(`  ${f.status}  ${f.old_path !== undefined ? `${f.old_path} → ` : ''}${f.path}`);
  return `${lines.join('\n')}\n`;
}

/** What the operator tool `autopilot` answers (`AutopilotStatus` in src/services/autopilotService.ts). */
export interface AutopilotStatusRow {
  enabled: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
  host: { running: { sessionId: string | null; taskId: string; agent: string }[]; maxParallel: number; stopped: string | null; agentHours: number; budgetAgentHours: number | null; ready: number } | null;
  recent: { at: string; action: string; taskId: string | null; detail: string }[];
}

/**
 * `baton autopilot status`: on/off and since when, what the window running sessions does (running
 * sessions of the limit, why it stopped, agent hours of the budget), then the latest decisions.
 */
export function formatAutopilotStatus(s: AutopilotStatusRow): string {
  const lines = [`Autopilot is ${s.enabled ? 'ON' : 'OFF'}${s.updatedAt ? ` (turned ${s.enabled ? 'on' : 'off'} by ${s.updatedBy} at ${when(s.updatedAt)})` : ' (never turned on in this workspace)'}`];
  if (!s.host) {
    lines.push('No VS Code window runs agent sessions for this workspace: autopilot starts sessions when one opens it.');
  } else {
    const h = s.host;
    lines.push(`Sessions: ${h.running.length} of ${h.maxParallel} running${h.running.length ? ` (${h.running.map(r => `${r.taskId} on ${r.agent}${r.sessionId ? ` ${r.sessionId}` : ''}`).join(', ')})` : ''}; ${h.ready} task(s) ready`);
    lines.push(`Agent time this run: ${h.agentHours.toFixed(2)} h${h.budgetAgentHours !== null ? ` of ${h.budgetAgentHours} h budget` : ''}`);
    if (s.enabled && h.stopped) lines.push(`Stopped: ${h.stopped}`);
  }
  if (s.recent.length) {
    lines.push('', 'Latest decisions:');
    for (const e of s.recent) lines.push(`  ${when(e.at)}  ${e.detail}`);
  }
  return lines.join('\n') + '\n';
}

/** One usage line of `get_cost` (see src/mcp/usageTools.ts). */
export interface CostUsageRow { reported: boolean; usage: string }
/** `get_cost`'s answer. */
export interface CostRow {
  sprint_id: string | null;
  total: CostUsageRow;
  tasks: (CostUsageRow & { task_id: string; title: string })[];
  sessions: (CostUsageRow & { session_id: string; profile: string | null; task_id: string | null })[];
}

/** `baton cost`: the total, then one line per task and per session ("not reported" where a CLI sent nothing). */
export function formatCost(r: CostRow): string {
  const lines = [`${r.sprint_id ? `Sprint ${r.sprint_id}` : 'All sessions'}: ${r.total.usage}`];
  if (r.tasks.length) {
    lines.push('', 'By task:');
    for (const t of r.tasks) lines.push(`  ${t.task_id}  ${t.title}: ${t.usage}`);
  }
  if (r.sessions.length) {
    lines.push('', 'By session:');
    for (const s of r.sessions) lines.push(`  ${s.session_id}  ${s.profile ?? '?'}${s.task_id ? ` on ${s.task_id}` : ''}: ${s.usage}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * `baton stats` as text: the sprint's progress, its burndown table (one row per day: remaining, done,
 * scope, ideal, open unestimated tasks) with scope changes, velocity per closed sprint, and the forecast
 * with its basis (or why there is none).
 */
export function formatStats(st: SprintStats): string {
  const lines: string[] = [];
  const n = (x: number | null) => (x === null ? '–' : String(x));
  if (st.sprint) {
    const s = st.sprint;
    lines.push(`${s.id}  ${s.name}  [${s.state}]  ${s.startDate ?? '?'} → ${s.endDate ?? '?'}  ${s.tasksDone}/${s.tasksTotal} tasks done`);
  } else {
    lines.push('No active or planned sprint.');
  }
  const bd = st.burndown;
  if (bd) {
    lines.push('', `Burndown (${bd.unit})`);
    if (bd.note) lines.push(`  ${bd.note}`);
    else {
      lines.push(`  ${'date'.padEnd(10)}  ${'remaining'.padStart(9)}  ${'done'.padStart(6)}  ${'scope'.padStart(6)}  ${'ideal'.padStart(6)}  unestimated`);
      for (const p of bd.points) {
        lines.push(`  ${p.date}  ${n(p.remaining).padStart(9)}  ${n(p.done).padStart(6)}  ${n(p.scope).padStart(6)}  ${n(p.ideal).padStart(6)}  ${p.unestimatedOpen || ''}`.trimEnd());
      }
    }
    for (const c of bd.scopeChanges) {
      const delta = c.delta === null ? 'estimate unknown' : `${c.delta > 0 ? '+' : ''}${c.delta} ${bd.unit}`;
      lines.push(`  ${c.date}  ${c.taskId} ${c.kind} (${delta})`);
    }
    if (bd.unestimated.length) lines.push(`  Not counted, no estimate: ${bd.unestimated.join(', ')}`);
    if (bd.otherUnit.length) lines.push(`  Not counted, estimated in ${bd.unit === 'hours' ? 'points' : 'hours'}: ${bd.otherUnit.join(', ')}`);
  }
  lines.push('', `Velocity (${st.velocity.unit} completed per closed sprint)`);
  if (!st.velocity.sprints.length) lines.push('  No closed sprints yet.');
  for (const v of st.velocity.sprints) {
    lines.push(`  ${v.sprintId.padEnd(6)} ${v.name}: ${v.completed} of ${v.committed} ${st.velocity.unit}, ${v.tasksDone}/${v.tasksTotal} tasks`);
  }
  if (st.velocity.average !== null) lines.push(`  average ${st.velocity.average} ${st.velocity.unit}`);
  lines.push('', 'Forecast');
  const f = st.forecast;
  if (f.kind === 'insufficient') lines.push(`  ${f.reason}`);
  else {
    for (const r of [f.sprint, f.plan]) {
      if (!r) continue;
      const when = r.remainingTasks === 0 ? 'nothing left' : `50 % by ${r.p50 ?? 'not within 10 years'}, 85 % by ${r.p85 ?? 'not within 10 years'}`;
      const chance = r.chanceByEnd === null ? '' : `; ${Math.round(r.chanceByEnd * 100)} % chance by the sprint's end`;
      lines.push(`  ${r.scope === 'plan' ? 'Whole plan' : r.scope}: ${r.remainingTasks} open tasks, ${when}${chance}`);
    }
    lines.push(`  Basis: ${f.basis.method}; ${f.basis.days} days of history (${f.basis.from} – ${f.basis.to}), ${f.basis.completions} tasks completed, ${f.basis.trials} trials.`);
  }
  return lines.join('\n') + '\n';
}
