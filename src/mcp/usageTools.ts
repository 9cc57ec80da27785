import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatUsage, type CostReport, type UsageTotals } from '../services/usageService';
import { runTool } from './toolResult';

/** A usage total as tools answer it: snake_case, `usage: "not reported"` and nulls when nothing was reported (never 0). */
export function usageJson(u: UsageTotals) {
  return {
    reported: u.reported,
    usage: formatUsage(u),
    tokens: u.reported ? {
      input: u.tokens.input ?? null, output: u.tokens.output ?? null, cache_read: u.tokens.cacheRead ?? null,
      cache_creation: u.tokens.cacheCreation ?? null, thought: u.tokens.thought ?? null, tool: u.tokens.tool ?? null,
    } : null,
    total_tokens: u.totalTokens,
    cost_usd: u.costUsd,
    sources: u.sources,
    models: u.models,
  };
}

/** `get_cost`'s answer for a report (the `baton cost --json` output). */
export function costReportJson(r: CostReport) {
  return {
    sprint_id: r.sprintId,
    total: usageJson(r.total),
    tasks: r.tasks.map(t => ({ task_id: t.taskId, title: t.title, sprint_id: t.sprintId, ...usageJson(t) })),
    sessions: r.sessions.map(s => ({ session_id: s.sessionId, profile: s.profile, task_id: s.taskId, ...usageJson(s) })),
  };
}

/**
 * `get_cost` (read-only): tokens and cost the agent CLIs reported, for one sprint's tasks or everything,
 * by task and by terminal session. Sessions whose CLI reported nothing say "not reported" (nulls, never 0).
 */
export function registerUsageTools(server: McpServer, usage: import('../services/usageService').UsageService): void {
  server.registerTool('get_cost', {
    title: 'Tokens and cost',
    description: 'Tokens and cost (USD) the agent CLIs reported for Baton\'s terminal sessions, in total and by task and session; with sprint_id only that sprint\'s tasks. "not reported" (null values) where a CLI sent nothing; Gemini CLI, Qwen Code and Codex report tokens but no cost.',
    inputSchema: z.object({ sprint_id: z.string().min(1).max(100).optional().describe('Sprint id, e.g. "S-2"') }).strict(),
  }, args => runTool(() => costReportJson(usage.report(args.sprint_id ?? null))));
}
