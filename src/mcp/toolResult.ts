import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** A tool's JSON answer as MCP text content (compact: every token costs the agent). */
export function toolJson(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 1) }] };
}

/**
 * Runs a tool body and turns any error into a tool error the agent can read and act on (`isError`
 * with the message), as the MCP spec asks for errors the model should see, instead of a protocol error.
 */
export async function runTool(body: () => unknown): Promise<CallToolResult> {
  try {
    return toolJson(await body());
  } catch (error) {
    return { isError: true, content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }] };
  }
}
