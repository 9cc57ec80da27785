import { burndown, dayOf, forecast, historyFromActivity, HISTORY_ACTIONS, isOpen, velocity } from '../core/analytics';
import { notFound } from '../core/errors';
import type { Sprint } from '../core/model';
import type { SprintStats } from '../shared/analytics';
import type { PlanService } from './planService';

/**
 * Sprint analytics over the plan (burndown, velocity, forecast; see core/analytics.ts): reads what the
 * core needs in two reads — the plan's cached task list and one query for the history's activity rows
 * (`HISTORY_ACTIONS`) — whatever the plan's size, then computes. The tree, MCP, CLI and (later) the
 * dashboard all get their figures here.
 */
export class AnalyticsService {
  constructor(private readonly plan: PlanService, private readonly now: () => Date = () => new Date()) {}

  /**
   * The figures for `sprintId` (or, when omitted, the first active sprint, else the first planned one,
   * else none): its progress and burndown, velocity over the last `velocitySprints` closed sprints, and
   * the forecast for it and the whole plan.
   * @throws BatonError not_found for an unknown sprint id
   */
  stats(options: { sprintId?: string; velocitySprints?: number; seed?: number } = {}): SprintStats {
    const today = dayOf(this.now().toISOString());
    const sprints = this.plan.listSprints();
    let sprint: Sprint | undefined;
    if (options.sprintId !== undefined) {
      sprint = sprints.find(s => s.id === options.sprintId);
      if (!sprint) throw notFound(`No sprint with id "${options.sprintId}".`);
    } else {
      sprint = sprints.find(s => s.state === 'active') ?? sprints.find(s => s.state === 'planned');
    }
    const tasks = this.plan.allTasks();
    const history = historyFromActivity(this.plan.activityOfActions(HISTORY_ACTIONS));
    const theirs = sprint ? tasks.filter(t => t.sprintId === sprint!.id) : [];
    const counted = theirs.filter(t => t.status !== 'CANCELLED');
    return {
      today,
      sprint: sprint ? {
        id: sprint.id, name: sprint.name, state: sprint.state, startDate: sprint.startDate, endDate: sprint.endDate,
        tasksDone: counted.filter(t => t.status === 'DONE').length, tasksTotal: counted.length,
      } : null,
      burndown: sprint ? burndown(sprint, tasks, history, today) : null,
      velocity: velocity(sprints, tasks, options.velocitySprints),
      forecast: forecast(history, today,
        sprint && sprint.state !== 'completed' ? { id: sprint.id, endDate: sprint.endDate, remaining: theirs.filter(isOpen).length } : null,
        tasks.filter(isOpen).length, { seed: options.seed }),
    };
  }
}
