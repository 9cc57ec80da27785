import * as vscode from 'vscode';
import { formatUsage, type UsageTotals } from '../services/usageService';
import type { TaskDetails } from '../services/planService';
import type { PlanService } from '../services/planService';
import type { BatonServices } from '../mcp/batonMcpServer';
import type { ArtifactInfo } from '../services/artifactService';
import type { HumanRequest } from '../store/coordinationRepository';
import type { ReviewDetails } from '../services/reviewService';
import { agentLine } from './labels';
import { Disposable } from './lifecycle';

export const TASK_SCHEME = 'baton-task';

/** URI of a task's details document, e.g. `baton-task:/T-12.md`. */
export function taskDocumentUri(taskId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: TASK_SCHEME, path: `/${taskId}.md` });
}

/**
 * Task details as a read-only markdown document (`baton-task:/T-12.md`): description, context,
 * checkpoints, dependencies, notes and activity. Shown in VS Code's markdown preview, so it renders
 * natively in every theme; it updates whenever the task changes.
 */
export class TaskDocumentProvider extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this._onDidChange.event;
  /** Per task document shown: the other tasks it lists (dependencies, dependents, subtasks). */
  private readonly shown = new Map<string, Set<string>>();

  constructor(private readonly plan: PlanService, private readonly services?: Pick<BatonServices, 'artifacts' | 'inbox' | 'sessions' | 'reviews'> & Partial<Pick<BatonServices, 'usage'>>) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(TASK_SCHEME, this));
    // A document also shows its dependencies', dependents' and subtasks' statuses: a change of one of them re-renders it.
    const refresh = (taskIds: (string | null)[], all = false) => {
      for (const doc of vscode.workspace.textDocuments.filter(d => d.uri.scheme === TASK_SCHEME)) {
        const id = doc.uri.path.replace(/^\//, '').replace(/\.md$/, '');
        const shown = this.shown.get(id);
        if (all || taskIds.includes(id) || (shown && taskIds.some(t => t !== null && shown.has(t)))) this._onDidChange.fire(doc.uri);
      }
    };
    this._register(plan.onDidChangePlan(change => refresh(change.taskIds, change.all)));
    if (services) {
      this._register(services.artifacts.onDidChangeArtifacts(change => refresh([change.artifact.taskId])));
      this._register(services.inbox.onDidChangeInbox(change => refresh([change.request.taskId])));
      this._register(services.reviews.onDidChangeReviews(change => refresh([change.taskId], !change.taskId)));
      if (services.usage) this._register(services.usage.onDidChangeUsage(change => refresh([change.taskId])));
    }
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const id = uri.path.replace(/^\//, '').replace(/\.md$/, '');
    try {
      const details = this.plan.getTaskDetails(id);
      this.shown.set(id, new Set([...details.dependsOn, ...details.dependents, ...details.subtasks].map(t => t.id)));
      const extras = this.services ? {
        artifacts: this.services.artifacts.list({ taskId: details.task.id }, { limit: 100 }).items,
        requests: this.services.inbox.list({ includeResolved: true, taskId: details.task.id, limit: 50 }),
        handoff: this.services.sessions.handoffMarkdown(details.task.id),
        reviews: this.services.reviews.details(details.task.id),
        usage: this.services.usage?.forTask(details.task.id),
      } : undefined;
      return renderTaskMarkdown(details, extras);
    } catch (error) {
      return `# ${id}\n\n${(error as Error).message}\n`;
    }
  }
}

/** Renders a task's details as markdown (pure; exported for tests). */
export function renderTaskMarkdown(d: TaskDetails, extras?: { artifacts: ArtifactInfo[]; requests: HumanRequest[]; handoff: string | null; reviews?: ReviewDetails; usage?: UsageTotals }): string {
  const t = d.task;
  const lines = [`# ${t.title}`, ''];
  lines.push(`**${t.id}** · ${t.status.replace('_', ' ')}${d.ready ? ' · ready to start' : ''} · priority ${t.priority}` +
    `${t.estimate !== null ? ` · ${t.estimate} ${t.estimateUnit}` : ''} · ${t.progress}% done` +
    `${t.assignee ? ` · assigned to ${t.assignee}` : ''}${d.sprint ? ` · sprint *${d.sprint.name}*` : ' · backlog'}`, '');
  const agent = agentLine(t.agent, d.sprint?.agent ?? null);
  if (agent) lines.push(agent, '');
  if (t.description) lines.push('## Description', '', t.description, '');
  if (t.summary) lines.push('## Summary', '', t.summary, '');
  if (d.checkpoints.length) {
    lines.push('## Checkpoints', '');
    d.checkpoints.forEach(c => lines.push(`- [${c.done ? 'x' : ' '}] ${c.title}`));
    lines.push('');
  }
  if (d.dependsOn.length || d.dependents.length) {
    lines.push('## Dependencies', '');
    for (const dep of d.dependsOn) lines.push(`- waits for **${dep.id}** ${dep.title} — ${dep.status}`);
    for (const dep of d.dependents) lines.push(`- blocks **${dep.id}** ${dep.title} — ${dep.status}`);
    lines.push('');
  }
  if (d.subtasks.length) {
    lines.push('## Subtasks', '');
    for (const s of d.subtasks) lines.push(`- **${s.id}** ${s.title} — ${s.status}`);
    lines.push('');
  }
  if (t.context) lines.push('## Context', '', t.context, '');
  if (extras?.reviews && (extras.reviews.pipeline || extras.reviews.rounds.length)) lines.push(...reviewLines(extras.reviews));
  if (extras?.requests.length) {
    lines.push('## Questions and approvals', '');
    for (const r of extras.requests) lines.push(`- **${r.id}** ${r.agentName} (${r.kind}): ${r.text}${r.status === 'open' ? ' — *waiting for you*' : ` — ${r.status}${r.answer ? `: ${r.answer}` : ''}`}`);
    lines.push('');
  }
  if (extras?.artifacts.length) {
    lines.push('## Artifacts', '');
    for (const a of extras.artifacts) lines.push(`- **${a.name}** — ${a.id}, ${a.mediaType}, ${a.size} bytes, by ${a.createdBy} (\`${a.uri}\`)`);
    lines.push('', '*Open one with* Baton: Open Artifact…');
    lines.push('');
  }
  if (extras?.usage) {
    const u = extras.usage;
    lines.push('## Tokens and cost', '', u.reported ? `${formatUsage(u)} — reported by ${u.sources.join(', ')}${u.models.length ? ` (${u.models.join(', ')})` : ''}` : 'not reported (no session on this task reported usage; Aider and shells report none)', '');
  }
  if (extras?.handoff) lines.push(extras.handoff.replace(/^# /m, '## '), '');
  if (d.notes.length) {
    lines.push('## Notes', '');
    for (const n of d.notes) lines.push(`- *${n.createdAt.replace('T', ' ').slice(0, 16)} — ${n.author.name}*: ${n.text}`);
    lines.push('');
  }
  if (d.activity.length) {
    lines.push('## Activity', '');
    for (const a of d.activity) lines.push(`- ${a.at.replace('T', ' ').slice(0, 19)} · ${a.actor.name} (${a.actor.kind}) · ${a.detail}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The "Reviews" section: the pipeline in force, then each round (state, gate, who is still to review) and its reviews with findings. */
function reviewLines(r: ReviewDetails): string[] {
  const lines = ['## Reviews', '', `Pipeline: ${r.pipeline ? `\`${r.pipeline.spec}\` (from the ${r.pipeline.source})` : 'none'}`, ''];
  for (const round of r.rounds) {
    lines.push(`### Round ${round.round} — ${round.state.replace('_', ' ')}`, '',
      `Gate ${round.gate} · reviewers ${round.reviewers.join(', ') || 'none'}${round.waitingFor.length ? ` · *waiting for ${round.waitingFor.join(', ')}*` : ''}` +
      `${round.requestId ? ` · Inbox ${round.requestId}` : ''}${round.outcome ? ` · ${round.outcome}` : ''}`, '');
    for (const v of round.reviews) {
      lines.push(`- **${v.reviewer}** (${v.agentName}) — **${v.score}/10**, ${v.verdict.replace('_', ' ')}${v.artifactId ? ` (${v.artifactId})` : ''}: ${v.summary}`);
      for (const g of v.criticalGaps) lines.push(`  - critical gap: ${g}`);
      for (const f of v.findings) lines.push(`  - \`${f.file}${f.line ? `:${f.line}` : ''}\` (${f.severity}): ${f.message}`);
      for (const x of v.recommendations) lines.push(`  - recommendation: ${x}`);
    }
    lines.push('');
  }
  return lines;
}
