import type { Checkpoint, TaskStatus } from './model';
import { TASK_STATUSES } from './model';

/**
 * Allowed status moves. The main line is TODO → IN_PROGRESS → IN_REVIEW → DONE; work can go back
 * for rework (IN_REVIEW → IN_PROGRESS), be BLOCKED and unblocked, be CANCELLED from any open state,
 * and finished or cancelled tasks can be reopened (→ TODO). Setting the current status again is a no-op.
 */
export const STATUS_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  TODO: ['IN_PROGRESS', 'BLOCKED', 'CANCELLED'],
  IN_PROGRESS: ['IN_REVIEW', 'DONE', 'BLOCKED', 'TODO', 'CANCELLED'],
  IN_REVIEW: ['DONE', 'IN_PROGRESS', 'BLOCKED', 'CANCELLED'],
  BLOCKED: ['TODO', 'IN_PROGRESS', 'CANCELLED'],
  DONE: ['TODO', 'IN_PROGRESS'],
  CANCELLED: ['TODO'],
};

/** Thrown for a status move the rules do not allow, or an unknown status. */
export class InvalidTransitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTransitionError';
  }
}

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/**
 * Parses a status written by a person or an agent: case-insensitive, `-`/space for `_`, and the
 * common synonyms (`in progress`, `doing`, `review`, `completed`, `done`, `pending`, `canceled`).
 * @throws InvalidTransitionError naming the accepted values when the text is not a status.
 */
export function parseTaskStatus(text: string): TaskStatus {
  const key = text.trim().toUpperCase().replace(/[\s-]+/g, '_');
  const synonyms: Record<string, TaskStatus> = {
    PENDING: 'TODO', OPEN: 'TODO', TO_DO: 'TODO', BACKLOG: 'TODO',
    DOING: 'IN_PROGRESS', STARTED: 'IN_PROGRESS', ACTIVE: 'IN_PROGRESS', WIP: 'IN_PROGRESS',
    REVIEW: 'IN_REVIEW', IN_QA: 'IN_REVIEW',
    COMPLETED: 'DONE', COMPLETE: 'DONE', FINISHED: 'DONE', CLOSED: 'DONE',
    CANCELED: 'CANCELLED', ABANDONED: 'CANCELLED', WONT_DO: 'CANCELLED',
  };
  const status = isTaskStatus(key) ? key : synonyms[key];
  if (!status) {
    throw new InvalidTransitionError(`"${text}" is not a task status; use one of ${TASK_STATUSES.join(', ')}.`);
  }
  return status;
}

/** True when `from → to` is allowed (including staying put). */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return from === to || STATUS_TRANSITIONS[from].includes(to);
}

/**
 * Checks a status move.
 * @param context.waitingOn titles of unfinished dependencies; starting work (→ IN_PROGRESS from TODO
 *   or BLOCKED) or finishing it (→ DONE) is refused while any remain.
 * @throws InvalidTransitionError with a message naming the task, both statuses and what is allowed.
 */
export function assertTransition(
  taskLabel: string,
  from: TaskStatus,
  to: TaskStatus,
  context: { waitingOn?: string[] } = {},
): void {
  if (!canTransition(from, to)) {
    const allowed = STATUS_TRANSITIONS[from];
    throw new InvalidTransitionError(
      `${taskLabel} cannot move from ${from} to ${to}; from ${from} it can move to ${allowed.join(', ')}.`,
    );
  }
  const waitingOn = context.waitingOn ?? [];
  const starting = to === 'IN_PROGRESS' && (from === 'TODO' || from === 'BLOCKED');
  if ((starting || (to === 'DONE' && from !== 'DONE')) && waitingOn.length > 0) {
    throw new InvalidTransitionError(
      `${taskLabel} cannot move to ${to} while it waits for ${waitingOn.map(t => `"${t}"`).join(', ')}; finish or remove those dependencies first.`,
    );
  }
}

/** Progress (0–100, whole percent) from checkpoints; null when there are none (progress is then set directly). */
export function progressFromCheckpoints(checkpoints: readonly Pick<Checkpoint, 'done'>[]): number | null {
  if (checkpoints.length === 0) return null;
  const done = checkpoints.filter(c => c.done).length;
  return Math.round((done / checkpoints.length) * 100);
}
