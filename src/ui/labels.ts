import { formatAgentRef, type AgentRef } from '../core/agent';
import type { EstimateUnit, TaskStatus } from '../core/model';

// Pure wording for VS Code's pickers and views (no vscode import, so it is unit-tested).

const STATUS_LABEL: Record<TaskStatus, string> = {
  TODO: 'To do', IN_PROGRESS: 'In progress', IN_REVIEW: 'In review', DONE: 'Done', BLOCKED: 'Blocked', CANCELLED: 'Cancelled',
};

/** A task status as people read it: `IN_PROGRESS` → "In progress"; unknown values are returned as given. */
export function statusLabel(status: string): string {
  return STATUS_LABEL[status as TaskStatus] ?? status;
}

/** "1 agent", "2 agents": `count` followed by the singular or plural noun. */
export function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * A total estimate with its unit: "15 hours", "1 point", or "15 (hours and points mixed)" when the
 * summed tasks use both units. `units` are the units of the tasks summed (tasks without estimates excluded).
 */
export function estimateTotal(total: number, units: EstimateUnit[]): string {
  const n = Math.round(total * 10) / 10;
  const distinct = new Set(units);
  if (distinct.size > 1) return `${n} (hours and points mixed)`;
  return distinct.has('points') ? plural(n, 'point', 'points') : plural(n, 'hour', 'hours');
}

/**
 * Which agent does a task, as the tree's tooltip says it: "Agent: codex:reviewer", "Agent: claude (the
 * sprint's default)", or null when neither the task nor its sprint names one (the workspace's default applies).
 */
export function agentLine(task: AgentRef | null, sprintDefault: AgentRef | null): string | null {
  if (task) return `Agent: ${formatAgentRef(task)}`;
  if (sprintDefault) return `Agent: ${formatAgentRef(sprintDefault)} (the sprint's default)`;
  return null;
}
