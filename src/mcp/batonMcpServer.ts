import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Actor } from '../core/model';
import type { PlanService } from '../services/planService';
import { registerImportTool, registerPlanTools } from './planTools';

export const MCP_SERVER_NAME = 'baton';

const INSTRUCTIONS = `Baton holds this workspace's plan: sprints and tasks with dependencies.
Typical loop: claim_next_task → work → set_checkpoint / set_progress and add_note as you go → update_context with what the next agent must know → complete_task with a summary.
Use list_tasks (ready: true) and get_task to look around. Task ids look like T-12, sprint ids like S-2.`;

/**
 * Builds one MCP server instance (one per client session) exposing Baton's tools over `plan`.
 * `clientActor` names the calling agent from the session: the client's name from `initialize`
 * plus a short session id, so two sessions of the same CLI are told apart in assignments and activity.
 */
export function createBatonMcpServer(plan: PlanService, version: string, sessionId: () => string | undefined): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, title: 'Baton', version }, { instructions: INSTRUCTIONS });
  const actorOf = (extra: { sessionId?: string }): Actor => {
    const client = server.server.getClientVersion()?.name ?? 'agent';
    const sid = extra.sessionId ?? sessionId();
    return { kind: 'agent', name: sid ? `${client}#${sid.slice(0, 6)}` : client };
  };
  registerPlanTools(server, plan, actorOf);
  registerImportTool(server, plan, actorOf);
  return server;
}
