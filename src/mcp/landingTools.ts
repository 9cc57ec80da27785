import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { LandResult, Lander, TaskDiff } from '../sessions/landing';
import type { Caller } from './coordinationTools';
import { runTool } from './toolResult';

const taskId = z.string().min(1).max(100).describe('Task id, e.g. "T-5"');

/** A task's diff in the shape tools answer with (and `baton diff --json` prints). */
export function diffSummary(d: TaskDiff) {
  return {
    task_id: d.taskId, session_id: d.sessionId, branch: d.branch, branch_commit: d.branchCommit, worktree: d.worktree,
    base: d.base, base_from: d.baseSource, base_commit: d.baseCommit, merge_base: d.mergeBase,
    ahead: d.ahead, behind: d.behind, landed: d.landed, live: d.live, uncommitted: d.uncommitted,
    files: d.files.map(f => ({ status: f.status, path: f.path, ...(f.oldPath !== undefined ? { old_path: f.oldPath } : {}) })),
  };
}

/** A landing's outcome in the shape tools answer with. */
export function landSummary(r: LandResult) {
  return { task_id: r.taskId, mode: r.mode, branch: r.branch, base: r.base, outcome: r.outcome, commit: r.commit, files: r.files, release: r.release, message: r.message };
}

/**
 * Registers the person's landing tools (operator tier only: landing work into the base branch is the
 * person's decision, never an agent's): `get_task_diff` and `land_task`.
 */
export function registerLandingTools(server: McpServer, lander: Lander, caller: Caller): void {
  server.registerTool('get_task_diff', {
    title: "A task's changes",
    description: "The files a task's session branch changed against its base branch (from their merge base), with how far apart they are.",
    inputSchema: z.object({ task_id: taskId }).strict(),
  }, args => runTool(async () => diffSummary(await lander.diff(args.task_id))));

  server.registerTool('land_task', {
    title: "Land a task's branch",
    description: "Lands a task's session branch into its base: merge (fast-forward or merge commit, by baton.land.mergeStrategy), rebase (onto the base, then fast-forward it) or keep (leave it, record the decision). Conflicts and uncommitted changes are refused with the files listed; nothing is half-merged. Afterwards the session's worktree is released by baton.sessions.worktreeCleanup.",
    inputSchema: z.object({ task_id: taskId, mode: z.enum(['merge', 'rebase', 'keep']).default('merge') }).strict(),
  }, args => runTool(async () => landSummary(await lander.land(args.task_id, args.mode, caller.actor()))));
}
