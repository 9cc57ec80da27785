import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type ScriptedAgent = Client & {
  /** Calls a tool; returns its parsed JSON answer; throws with the tool's message on a tool error. */
  call<T = any>(tool: string, args?: object, options?: { timeout?: number }): Promise<T>;
  /** The full text of a tool answer (JSON plus any notices). */
  raw(tool: string, args?: object): Promise<string>;
};

/** A scripted agent: a real MCP client from the SDK over Streamable HTTP, as a CLI agent connects. */
export async function connectAgent(url: string, token: string, name: string, headers: Record<string, string> = {}): Promise<ScriptedAgent> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}`, ...headers } } }));
  return Object.assign(client, {
    async call(tool: string, args: object = {}, options: { timeout?: number } = {}) {
      const r = await client.callTool({ name: tool, arguments: args as Record<string, unknown> }, undefined, options.timeout ? { timeout: options.timeout } : undefined);
      const text = (r.content as { text: string }[])[0].text;
      if (r.isError) throw new Error(text);
      return JSON.parse(text);
    },
    async raw(tool: string, args: object = {}) {
      const r = await client.callTool({ name: tool, arguments: args as Record<string, unknown> });
      return (r.content as { text: string }[]).map(c => c.text).join('\n');
    },
  });
}
