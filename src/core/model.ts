/**
 * Baton's domain model: sprints, tasks, dependencies, checkpoints, notes and activity.
 * Pure types and constants; no I/O, no `vscode`.
 */

import type { AgentRef } from './agent';

/** Workflow states of a task. The allowed moves between them live in `statusRules.ts`. */
export const TASK_STATUSES = ['TODO', 'IN_PROGRESS', 'IN_REVIEW', 'DONE', 'BLOCKED', 'CANCELLED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TASK_PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** Unit of a task's estimate: wall-clock hours or agile story points. */
export const ESTIMATE_UNITS = ['hours', 'points'] as const;
export type EstimateUnit = (typeof ESTIMATE_UNITS)[number];

export const SPRINT_STATES = ['planned', 'active', 'completed'] as const;
export type SprintState = (typeof SPRINT_STATES)[number];

/** Who did something: a person (`user`) or an agent session (`agent`), or Baton itself (`system`). */
export interface Actor {
  kind: 'user' | 'agent' | 'system';
  /** A person's name, an agent session's id or name, or `baton`. */
  name: string;
}

export interface Sprint {
  /** Stable id, e.g. `S-1a2b3c`. */
  id: string;
  name: string;
  goal: string;
  /** ISO dates (YYYY-MM-DD) or null when unplanned. */
  startDate: string | null;
  endDate: string | null;
  state: SprintState;
  /** Order among sprints, ascending. */
  position: number;
  /** Where this sprint came from when imported (`file#key`), used to make re-import idempotent. */
  sourceKey: string | null;
  /** The agent (profile and optional role) this sprint's tasks get when they name none; null = the workspace's. */
  agent: AgentRef | null;
  createdAt: string;
  updatedAt: string;
}

export interface Task {
  /** Stable id, e.g. `T-1a2b3c`. */
  id: string;
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  /** Estimate in `estimateUnit`, or null when not estimated. */
  estimate: number | null;
  estimateUnit: EstimateUnit;
  /** A person's name or an agent session id; null when unassigned. */
  assignee: string | null;
  sprintId: string | null;
  parentId: string | null;
  /** Order within its sprint, ascending. */
  position: number;
  /** 0–100. Derived from checkpoints when the task has any; set directly otherwise. */
  progress: number;
  /** Free-form working context (markdown) agents append to or replace. */
  context: string;
  /** Summary given when the task was completed. */
  summary: string | null;
  sourceKey: string | null;
  /** Which agent does this task (profile and optional role); null = the sprint's or the workspace's default. */
  agent: AgentRef | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface Dependency {
  /** The task that waits. */
  taskId: string;
  /** The task it waits for. */
  dependsOnId: string;
}

export interface Checkpoint {
  id: string;
  taskId: string;
  title: string;
  done: boolean;
  position: number;
  sourceKey: string | null;
}

export interface Note {
  id: string;
  taskId: string;
  author: Actor;
  text: string;
  createdAt: string;
}

export interface ActivityEntry {
  id: number;
  at: string;
  actor: Actor;
  /** A verb such as `task.created`, `task.status`, `task.note`, `plan.imported`. */
  action: string;
  taskId: string | null;
  sprintId: string | null;
  /** Human-readable one-line description. */
  detail: string;
}
