import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatAgentRef, parseAgentRef } from '../core/agent';
import { ESTIMATE_UNITS, SPRINT_STATES, TASK_PRIORITIES, TASK_STATUSES, type Actor, type Sprint, type Task } from '../core/model';
import { AnalyticsService } from '../services/analyticsService';
import type { PlanService } from '../services/planService';
import type { SqlWriter } from '../store/planRepository';
import { runTool } from './toolResult';

/** Identifies who calls a tool, from the MCP session (client name + session id). */
export type ActorResolver = (extra: { sessionId?: string }) => Actor;

const taskId = z.string().min(1).max(100).describe('Task id, e.g. "T-12" (or just 12)');
const sprintId = z.string().min(1).max(100).describe('Sprint id, e.g. "S-2"');
const status = z.enum(TASK_STATUSES);
/** The calendar date's shape; PlanService checks it is a real date and names the field otherwise. */
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'dates are YYYY-MM-DD, e.g. "2026-12-01"');
/** `profile` or `profile:role` (a leading `@` is allowed); names are letters, digits, `-`, `_`, `.` (1–64). */
const agentRef = z.string().max(130)
  .regex(/^@?[A-Za-z0-9._-]{1,64}(?::[A-Za-z0-9._-]{1,64})?$/,
    'agent must be "profile" or "profile:role" (e.g. "codex", "claude:reviewer"), names of letters, digits, "-", "_" or "." up to 64 characters');

/** The compact task shape tool results use (short keys cost agents fewer tokens). */
export function taskSummary(t: Task) {
  return {
    id: t.id, title: t.title, status: t.status, priority: t.priority,
    estimate: t.estimate === null ? null : `${t.estimate} ${t.estimateUnit}`,
    assignee: t.assignee, sprint_id: t.sprintId, parent_id: t.parentId, progress: t.progress,
    agent: t.agent ? formatAgentRef(t.agent) : null,
  };
}

function sprintSummary(s: Sprint, plan: PlanService) {
  const p = plan.sprintProgress(s.id);
  return {
    id: s.id, name: s.name, goal: s.goal, state: s.state, start_date: s.startDate, end_date: s.endDate,
    agent: s.agent ? formatAgentRef(s.agent) : null, tasks_done: p.done, tasks_total: p.total, percent_done: p.percent,
  };
}

/**
 * Registers the plan tools on an MCP server: list/get sprints and tasks, create/update tasks, add and
 * remove dependencies, claim the next ready task, notes, context, progress, checkpoints, completion.
 * Every input schema is strict (unknown keys are refused), so a misspelt argument is an error, not a
 * silent no-op; each tool calls exactly one `PlanService` use case, which validates before changing anything.
 */
/** What the plan tools tell their host: `claimed` runs inside a claim's transaction (the session's bookkeeping). */
export interface PlanToolHooks {
  claimed?: (tx: SqlWriter, taskId: string) => void;
  /** More of a task for `get_task` (e.g. its reviews), merged into the answer. */
  details?: (taskId: string) => Record<string, unknown>;
}

export function registerPlanTools(server: McpServer, plan: PlanService, actorOf: ActorResolver, hooks: PlanToolHooks = {}): void {
  const resolve = (ref: string) => plan.resolveTask(ref).id;
  const analytics = new AnalyticsService(plan);

  server.registerTool('list_sprints', {
    title: 'List sprints',
    description: 'All sprints of the plan in order, with goal, state and how many tasks are done.',
    inputSchema: z.object({}).strict(),
  }, () => runTool(() => ({ sprints: plan.listSprints().map(s => sprintSummary(s, plan)) })));

  server.registerTool('get_sprint', {
    title: 'Get a sprint',
    description: 'One sprint with its tasks (compact) and progress.',
    inputSchema: z.object({ sprint_id: sprintId }).strict(),
  }, ({ sprint_id }) => runTool(() => {
    const sprint = plan.getSprint(sprint_id);
    return { ...sprintSummary(sprint, plan), tasks: plan.listTasks({ sprintId: sprint.id }, { limit: 500 }).items.map(taskSummary) };
  }));

  server.registerTool('create_sprint', {
    title: 'Create a sprint',
    description: 'Adds a sprint at the end of the plan, optionally with goal, start/end dates (YYYY-MM-DD), state and default agent.',
    inputSchema: z.object({
      name: z.string().min(1).max(500),
      goal: z.string().max(200_000).optional(),
      start_date: isoDate.nullable().optional(),
      end_date: isoDate.nullable().optional(),
      state: z.enum(SPRINT_STATES).optional(),
      agent: agentRef.nullable().optional().describe('Default agent of the sprint\'s tasks: "claude", "codex:reviewer"'),
    }).strict(),
  }, (args, extra) => runTool(() => sprintSummary(plan.createSprint({
    name: args.name, goal: args.goal, startDate: args.start_date, endDate: args.end_date, state: args.state,
    agent: args.agent ? parseAgentRef(args.agent) : null,
  }, actorOf(extra)), plan)));

  server.registerTool('update_sprint', {
    title: 'Update a sprint',
    description: 'Changes a sprint\'s name, goal, start/end dates (null clears one), state or default agent (the agent its tasks get when they name none; null clears it).',
    inputSchema: z.object({
      sprint_id: sprintId,
      name: z.string().min(1).max(500).optional(),
      goal: z.string().max(200_000).optional(),
      start_date: isoDate.nullable().optional().describe('YYYY-MM-DD; null clears it'),
      end_date: isoDate.nullable().optional().describe('YYYY-MM-DD, not before the start; null clears it'),
      state: z.enum(SPRINT_STATES).optional(),
      agent: agentRef.nullable().optional().describe('Default agent of the sprint\'s tasks: "claude", "codex:reviewer"; null clears it'),
    }).strict(),
  }, (args, extra) => runTool(() => sprintSummary(plan.updateSprint(args.sprint_id, {
    name: args.name, goal: args.goal, startDate: args.start_date, endDate: args.end_date, state: args.state,
    agent: args.agent === undefined ? undefined : args.agent === null ? null : parseAgentRef(args.agent),
  }, actorOf(extra)), plan)));

  server.registerTool('get_stats', {
    title: 'Sprint statistics',
    description: 'A sprint\'s burndown (remaining estimate per day against the ideal line, scope changes), velocity over the last closed sprints, and a Monte Carlo forecast (50 %/85 % dates) for the sprint and the plan, or why there is not enough history for one. Default sprint: the active one.',
    inputSchema: z.object({
      sprint_id: sprintId.optional(),
      velocity_sprints: z.number().int().min(1).max(50).optional().describe('How many closed sprints velocity covers (default 6)'),
    }).strict(),
  }, args => runTool(() => analytics.stats({ sprintId: args.sprint_id, velocitySprints: args.velocity_sprints })));

  server.registerTool('list_tasks', {
    title: 'List tasks',
    description: 'Tasks filtered by sprint, status, assignee, readiness or text, in plan order, one page at a time (next_offset is null on the last page).',
    inputSchema: z.object({
      sprint_id: sprintId.optional(),
      status: z.array(status).max(6).optional().describe('Only these statuses'),
      assignee: z.string().max(200).optional(),
      ready: z.boolean().optional().describe('Only ready tasks: TODO with every dependency done'),
      text: z.string().max(200).optional().describe('Case-insensitive match in title or description'),
      offset: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(200).optional().describe('Page size, default 50'),
    }).strict(),
  }, args => runTool(() => {
    const page = plan.listTasks(
      { sprintId: args.sprint_id, status: args.status, assignee: args.assignee, ready: args.ready, text: args.text },
      { offset: args.offset, limit: args.limit ?? 50 },
    );
    return { tasks: page.items.map(taskSummary), total: page.total, next_offset: page.nextOffset };
  }));

  server.registerTool('get_task', {
    title: 'Get a task',
    description: 'Everything about one task: description, context, checkpoints, notes, dependencies (and which are unfinished), subtasks and recent activity.',
    inputSchema: z.object({ task_id: taskId }).strict(),
  }, ({ task_id }) => runTool(() => {
    const d = plan.getTaskDetails(resolve(task_id), 20);
    return {
      ...taskSummary(d.task), description: d.task.description, context: d.task.context, summary: d.task.summary,
      sprint: d.sprint && { id: d.sprint.id, name: d.sprint.name, agent: d.sprint.agent ? formatAgentRef(d.sprint.agent) : null }, ready: d.ready,
      checkpoints: d.checkpoints.map((c, i) => ({ n: i + 1, title: c.title, done: c.done })),
      depends_on: d.dependsOn, waiting_on: d.waitingOn.map(t => t.id), dependents: d.dependents.map(t => t.id),
      subtasks: d.subtasks, notes: d.notes.map(n => ({ at: n.createdAt, by: n.author.name, text: n.text })),
      activity: d.activity.map(a => ({ at: a.at, by: a.actor.name, what: a.detail })),
      ...hooks.details?.(d.task.id),
    };
  }));

  server.registerTool('create_task', {
    title: 'Create a task',
    description: 'Adds a task (to a sprint, or the backlog when sprint_id is omitted), optionally with dependencies and checkpoints.',
    inputSchema: z.object({
      title: z.string().min(1).max(500),
      description: z.string().max(200_000).optional(),
      sprint_id: sprintId.optional(),
      parent_id: taskId.optional().describe('Makes this a subtask of that task'),
      priority: z.enum(TASK_PRIORITIES).optional(),
      estimate: z.number().min(0).max(100_000).optional(),
      estimate_unit: z.enum(ESTIMATE_UNITS).optional().describe('hours (default) or story points'),
      depends_on: z.array(taskId).max(100).optional().describe('Tasks that must be done first'),
      checkpoints: z.array(z.string().min(1).max(500)).max(100).optional(),
      agent: agentRef.nullable().optional().describe('Which agent does it: "codex" or "claude:reviewer" (profile[:role]); omitted = the sprint\'s default'),
    }).strict(),
  }, (args, extra) => runTool(() => taskSummary(plan.createTask({
    agent: args.agent ? parseAgentRef(args.agent) : null,
    title: args.title, description: args.description, sprintId: args.sprint_id ?? null,
    parentId: args.parent_id ? resolve(args.parent_id) : null, priority: args.priority, estimate: args.estimate ?? null,
    estimateUnit: args.estimate_unit, dependsOn: args.depends_on?.map(resolve), checkpoints: args.checkpoints,
  }, actorOf(extra)))));

  server.registerTool('update_task', {
    title: 'Update a task',
    description: 'Changes fields of a task and/or moves its status (TODO → IN_PROGRESS → IN_REVIEW → DONE, BLOCKED, CANCELLED; invalid moves are refused and nothing changes).',
    inputSchema: z.object({
      task_id: taskId,
      title: z.string().min(1).max(500).optional(),
      description: z.string().max(200_000).optional(),
      priority: z.enum(TASK_PRIORITIES).optional(),
      estimate: z.number().min(0).max(100_000).nullable().optional(),
      estimate_unit: z.enum(ESTIMATE_UNITS).optional(),
      assignee: z.string().max(200).nullable().optional(),
      sprint_id: sprintId.nullable().optional().describe('null moves the task to the backlog'),
      status: status.optional(),
      note: z.string().max(200_000).optional().describe('A note recorded with the status change'),
      agent: agentRef.nullable().optional().describe('Which agent does it: "codex" or "claude:reviewer" (profile[:role]); null clears it'),
    }).strict(),
  }, (args, extra) => runTool(() => {
    const id = resolve(args.task_id);
    const actor = actorOf(extra);
    if (args.status !== undefined) plan.checkStatusChange(id, args.status, actor);
    plan.updateTask(id, {
      title: args.title, description: args.description, priority: args.priority, estimate: args.estimate,
      estimateUnit: args.estimate_unit, assignee: args.assignee, sprintId: args.sprint_id,
      agent: args.agent === undefined ? undefined : args.agent === null ? null : parseAgentRef(args.agent),
    }, actor);
    const task = args.status !== undefined ? plan.setStatus(id, args.status, actor, { note: args.note }) : plan.getTask(id);
    return taskSummary(task);
  }));

  server.registerTool('add_dependency', {
    title: 'Add a dependency',
    description: 'Makes task_id wait for depends_on. Refused, naming the cycle, if it would create one.',
    inputSchema: z.object({ task_id: taskId, depends_on: taskId }).strict(),
  }, (args, extra) => runTool(() => {
    plan.addDependency(resolve(args.task_id), resolve(args.depends_on), actorOf(extra));
    return { task_id: resolve(args.task_id), depends_on: plan.getTaskDetails(resolve(args.task_id), 0).dependsOn };
  }));

  server.registerTool('remove_dependency', {
    title: 'Remove a dependency',
    description: 'task_id no longer waits for depends_on.',
    inputSchema: z.object({ task_id: taskId, depends_on: taskId }).strict(),
  }, (args, extra) => runTool(() => {
    plan.removeDependency(resolve(args.task_id), resolve(args.depends_on), actorOf(extra));
    return { task_id: resolve(args.task_id), depends_on: plan.getTaskDetails(resolve(args.task_id), 0).dependsOn };
  }));

  server.registerTool('claim_next_task', {
    title: 'Claim the next ready task',
    description: 'Atomically takes the most urgent ready task (optionally within a sprint), marks it IN_PROGRESS and assigns it to you. No two agents get the same task. Returns the task with its details, or task: null when nothing is ready.',
    inputSchema: z.object({ sprint_id: sprintId.optional() }).strict(),
  }, (args, extra) => runTool(() => {
    const task = plan.claimNextReadyTask(actorOf(extra), { sprintId: args.sprint_id, within: hooks.claimed });
    if (!task) {
      const c = plan.statusCounts();
      return { task: null, reason: `No ready task: ${c.byStatus.TODO} TODO waiting on dependencies, ${c.byStatus.IN_PROGRESS} in progress, ${c.byStatus.BLOCKED} blocked.` };
    }
    const d = plan.taskOutline(task.id);
    return {
      task: { ...taskSummary(task), description: task.description, context: task.context,
        checkpoints: d.checkpoints.map((c, i) => ({ n: i + 1, title: c.title, done: c.done })), depends_on: d.dependsOn },
    };
  }));

  server.registerTool('add_note', {
    title: 'Add a note',
    description: 'Adds a timestamped note to a task (findings, decisions, problems).',
    inputSchema: z.object({ task_id: taskId, text: z.string().min(1).max(200_000) }).strict(),
  }, (args, extra) => runTool(() => {
    const note = plan.addNote(resolve(args.task_id), args.text, actorOf(extra));
    return { task_id: note.taskId, note_id: note.id, at: note.createdAt };
  }));

  server.registerTool('update_context', {
    title: 'Append to or replace task context',
    description: 'The task\'s working context (markdown) that the next agent on it reads: append a section, or replace it all.',
    inputSchema: z.object({ task_id: taskId, text: z.string().max(200_000), mode: z.enum(['append', 'replace']).default('append') }).strict(),
  }, (args, extra) => runTool(() => {
    const task = plan.updateContext(resolve(args.task_id), args.text, args.mode, actorOf(extra));
    return { task_id: task.id, context_chars: task.context.length };
  }));

  server.registerTool('set_progress', {
    title: 'Report progress',
    description: 'Sets a task\'s progress (0–100) when it has no checkpoints; with checkpoints, use set_checkpoint instead. An optional note is recorded.',
    inputSchema: z.object({ task_id: taskId, percent: z.number().min(0).max(100), note: z.string().min(1).max(200_000).optional() }).strict(),
  }, (args, extra) => runTool(() => {
    const id = resolve(args.task_id);
    const actor = actorOf(extra);
    const task = plan.setProgress(id, args.percent, actor);
    if (args.note) plan.addNote(id, args.note, actor);
    return taskSummary(task);
  }));

  server.registerTool('add_checkpoint', {
    title: 'Add a checkpoint',
    description: 'Adds a checkpoint (a step of the task) at the end of its checklist; progress follows the checked share.',
    inputSchema: z.object({ task_id: taskId, title: z.string().min(1).max(500) }).strict(),
  }, (args, extra) => runTool(() => {
    const id = resolve(args.task_id);
    const c = plan.addCheckpoint(id, args.title, actorOf(extra));
    return { task_id: id, checkpoint_id: c.id, n: c.position + 1, title: c.title };
  }));

  server.registerTool('set_checkpoint', {
    title: 'Check or uncheck a checkpoint',
    description: 'Marks a checkpoint of a task done (or not); checkpoint is its number (1-based), id or exact title. Progress follows.',
    inputSchema: z.object({ task_id: taskId, checkpoint: z.union([z.string().min(1).max(500), z.number().int().min(1)]), done: z.boolean().default(true) }).strict(),
  }, (args, extra) => runTool(() => taskSummary(plan.setCheckpoint(resolve(args.task_id), String(args.checkpoint), args.done, actorOf(extra)))));

  server.registerTool('complete_task', {
    title: 'Complete a task',
    description: 'Marks a task DONE with a summary of what was done (files, tests, follow-ups). The task must be IN_PROGRESS or IN_REVIEW and have no unfinished dependencies.',
    inputSchema: z.object({ task_id: taskId, summary: z.string().min(1).max(200_000) }).strict(),
  }, (args, extra) => runTool(() => taskSummary(plan.completeTask(resolve(args.task_id), args.summary, actorOf(extra)))));
}

/** Registers `import_plan`: the `baton import` command and agents import plan documents through it. */
export function registerImportTool(server: McpServer, plan: PlanService, actorOf: ActorResolver): void {
  server.registerTool('import_plan', {
    title: 'Import a plan document',
    description: 'Imports a markdown plan (sprint/phase headings, task headings, numbered lists, checklists, tables) or a Task Master tasks.json. Re-importing the same source updates instead of duplicating and merges three ways: what was changed in Baton stays unless the plan changed it too; fields changed on both sides keep the value in Baton and are listed in conflicts. Returns counts, conflicts, and what was skipped and why.',
    inputSchema: z.object({
      source: z.string().min(1).max(1000).describe('Name identifying the document across re-imports, e.g. docs/PLAN.md'),
      content: z.string().max(5_000_000),
    }).strict(),
  }, (args, extra) => runTool(() => plan.importDocumentAsync(args.content, args.source, actorOf(extra))));
}
