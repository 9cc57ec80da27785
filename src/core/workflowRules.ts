import { z } from 'zod';
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

const STATUS_LIST = TASK_STATUSES.join(', ');

/** A rule as the `baton.workflow.rules` setting holds it (zod schema; unknown keys are ignored). */
const WorkflowRuleSchema = z.object({
  on: z.enum(WORKFLOW_EVENTS, { error: issue => `"on" must be one of ${WORKFLOW_EVENTS.join(', ')}, got ${JSON.stringify(issue.input)}.` }),
  from: z.array(
    z.enum(TASK_STATUSES, { error: issue => `"from" must be a list of statuses (${STATUS_LIST}); ${JSON.stringify(issue.input)} is not one.` }),
    { error: `"from" must be a list of statuses (${STATUS_LIST}).` },
  ).optional(),
  to: z.enum(TASK_STATUSES, { error: issue => `"to" must be one of ${STATUS_LIST}, got ${JSON.stringify(issue.input)}.` }),
}, { error: 'must be an object like { "on": "tests.passed", "to": "IN_REVIEW" }.' });

/**
 * Checks rules read from settings, with a zod schema. @throws Error naming the first bad rule (1-based)
 * and what is wrong with it: `Workflow rule 2: "to" must be one of TODO, …, got "SHIPPED".`
 */
export function parseWorkflowRules(value: unknown): WorkflowRule[] {
  if (!Array.isArray(value)) throw new Error('Workflow rules must be a list of { on, from?, to } objects.');
  return value.map((rule, i) => {
    const parsed = WorkflowRuleSchema.safeParse(rule);
    if (!parsed.success) {
      // The first issue in field order (zod reports them in schema order: on, from, to).
      const issue = parsed.error.issues[0];
      const where = `Workflow rule ${i + 1}`;
      throw new Error(issue.path.length === 0 ? `${where} ${issue.message}` : `${where}: ${issue.message}`);
    }
    const { on, from, to } = parsed.data;
    return { on, to, ...(from ? { from } : {}) };
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
