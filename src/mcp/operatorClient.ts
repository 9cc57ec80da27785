import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** A way to Baton as an operator: an MCP client, to the running owner over HTTP or to an owner opened in-process. */
export interface BatonConnection {
  /** Calls a tool; returns its parsed JSON result. Throws an Error with the tool's message when it fails. */
  call<T = unknown>(tool: string, args?: Record<string, unknown>): Promise<T>;
  /** `remote` when another process (VS Code or `baton serve`) owns the state. */
  readonly mode: 'remote' | 'local';
  readonly description: string;
  close(): Promise<void>;
}

/**
 * Connects to a running owner's MCP endpoint as the person: `operatorToken` is the owner's operator
 * token (`readOperatorToken`), which alone grants the operator tool tier.
 */
export async function connectRemote(url: string, operatorToken: string, version: string, description: string): Promise<BatonConnection> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${operatorToken}` } },
  });
  const client = new Client({ name: 'baton-cli', version });
  await client.connect(transport);
  return wrap(client, 'remote', description, async () => {
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  });
}

export function wrap(client: Client, mode: 'remote' | 'local', description: string, close: () => Promise<void>): BatonConnection {
  return {
    mode,
    description,
    close,
    async call<T>(tool: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = await client.callTool({ name: tool, arguments: args });
      const text = (result.content as { type: string; text?: string }[]).map(c => c.text ?? '').join('\n');
      if (result.isError) throw new Error(text);
      return JSON.parse(text) as T;
    },
  };
}
