import type { Actor, Task } from '../core/model';
import { DEFAULT_WORKFLOW_RULES, statusForEvent, type WorkflowEvent, type WorkflowRule } from '../core/workflowRules';
import type { PlanService } from './planService';

/**
 * Moves task status by configurable rules when things happen (an agent starts work, reports passing
 * tests, a person approves). A move the status rules refuse (e.g. unfinished dependencies) is skipped
 * and logged, never forced.
 */
export class WorkflowService {
  constructor(
    private readonly plan: PlanService,
    private rules: WorkflowRule[] = DEFAULT_WORKFLOW_RULES,
    private readonly log: (level: 'info' | 'warn', message: string) => void = () => undefined,
  ) {}

  dispose(): void {
    // holds no resources; here so the owner can dispose every service alike
  }

  setRules(rules: WorkflowRule[]): void {
    this.rules = rules;
  }

  /** Applies `event` to a task; returns the task after the move, or null when no rule moved it. */
  apply(event: WorkflowEvent, taskId: string, actor: Actor, note?: string): Task | null {
    const task = this.plan.getTask(taskId);
    const to = statusForEvent(this.rules, event, task.status);
    if (!to) return null;
    try {
      const moved = this.plan.setStatus(task.id, to, actor, { note });
      this.log('info', `[Workflow] ${event}: ${task.id} ${task.status} → ${to}`);
      return moved;
    } catch (error) {
      this.log('warn', `[Workflow] ${event}: ${task.id} stays ${task.status}: ${(error as Error).message}`);
      return null;
    }
  }
}
