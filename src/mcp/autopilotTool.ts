import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AutopilotService } from '../services/autopilotService';
import type { Caller } from './coordinationTools';
import { runTool } from './toolResult';

/**
 * The operator-tier tool `autopilot` (the person's: registered only for the operator token, like
 * `approve`): `on` / `off` switch autopilot for the workspace (stored; the VS Code window running the
 * sessions acts on it), `status` reads it. Every answer is the status (`AutopilotStatus`).
 */
export function registerAutopilotTool(server: McpServer, autopilot: AutopilotService, caller: Caller): void {
  server.registerTool('autopilot', {
    title: 'Autopilot',
    description: 'Turns autopilot on or off for this workspace, or reads its status. On: Baton keeps up to baton.sessions.maxParallel agent sessions running on ready tasks (critical path first), and says why in the activity log. Off: no new sessions start; running ones go on.',
    inputSchema: z.object({ action: z.enum(['on', 'off', 'status']).default('status') }).strict(),
  }, args => runTool(() => (args.action === 'status' ? autopilot.status() : autopilot.set(args.action === 'on', caller.actor()))));
}
