import { TASK_STATUSES, type TaskStatus } from './model';
import { canTransition } from './statusRules';

/**
 * Events that can move a task's status by rule:
 * - `session.started` — an agent session starts work on the task (INIT with a task, or a claim);
 * - `tests.passed` — an agent reports that the task's tests pass;
 * - `checkpoints.completed` — the last open checkpoint was checked;
 * - `approval.granted` — a person approves the task to ship.
 */
export const WORKFLOW_EVENTS = ['session.started', 'tests.passed', 'checkpoints.completed', 'approval.granted'] as const;
export type WorkflowEvent = (typeof WORKFLOW_EVENTS)[number];

/** "On `on`, a task whose status is in `from` (any, when omitted) moves to `to`." */
export interface WorkflowRule {
  on: WorkflowEvent;
  from?: TaskStatus[];
  to: TaskStatus;
}

/** The rules Baton applies unless settings say otherwise (the seeds' STATUS_RULES). */
export const DEFAULT_WORKFLOW_RULES: WorkflowRule[] = [
  { on: 'session.started', from: ['TODO', 'BLOCKED'], to: 'IN_PROGRESS' },
  { on: 'tests.passed', from: ['IN_PROGRESS'], to: 'IN_REVIEW' },
  { on: 'approval.granted', from: ['IN_PROGRESS', 'IN_REVIEW'], to: 'DONE' },
];

/**
 * Checks rules read from settings. @throws Error naming the first bad rule and what is wrong with it.
 */
export function parseWorkflowRules(value: unknown): WorkflowRule[] {
  if (!Array.isArray(value)) throw new Error('Workflow rules must be a list of { on, from?, to } objects.');
  return value.map((rule, i) => {
    const where = `Workflow rule ${i + 1}`;
    if (typeof rule !== 'object' || rule === null) throw new Error(`${where} must be an object like { "on": "tests.passed", "to": "IN_REVIEW" }.`);
    const { on, from, to } = rule as Record<string, unknown>;
    if (!WORKFLOW_EVENTS.includes(on as WorkflowEvent)) throw new Error(`${where}: "on" must be one of ${WORKFLOW_EVENTS.join(', ')}, got ${JSON.stringify(on)}.`);
    if (!TASK_STATUSES.includes(to as TaskStatus)) throw new Error(`${where}: "to" must be one of ${TASK_STATUSES.join(', ')}, got ${JSON.stringify(to)}.`);
    if (from !== undefined && (!Array.isArray(from) || from.some(s => !TASK_STATUSES.includes(s as TaskStatus)))) {
      throw new Error(`${where}: "from" must be a list of statuses (${TASK_STATUSES.join(', ')}).`);
    }
    return { on: on as WorkflowEvent, to: to as TaskStatus, ...(from ? { from: from as TaskStatus[] } : {}) };
  });
}

/**
 * The status a task should move to on `event`, by the first matching rule whose move the status
 * rules allow; null when no rule applies (or the task is already there).
 */
export function statusForEvent(rules: readonly WorkflowRule[], event: WorkflowEvent, current: TaskStatus): TaskStatus | null {
  for (const rule of rules) {
    if (rule.on !== event) continue;
    if (rule.from && !rule.from.includes(current)) continue;
    if (rule.to === current) return null;
    if (canTransition(current, rule.to)) return rule.to;
  }
  return null;
}
