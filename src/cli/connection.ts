import * as os from 'node:os';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createBatonMcpServer } from '../mcp/batonMcpServer';
import { readEndpoint, readOperatorToken } from '../host/endpoint';
import { connectRemote, wrap, type BatonConnection } from '../mcp/operatorClient';
export type { BatonConnection } from '../mcp/operatorClient';
import { OwnedElsewhereError, WorkspaceOwner, type LogFn } from '../host/workspaceOwner';

/**
 * Connects to the workspace's state following the one-writer rule: through the owner's MCP endpoint when
 * one runs, else by becoming the owner for the duration of the command (lock held, no HTTP server).
 * Both paths speak MCP to the same tools, so the CLI never re-implements a rule. `workspaceDir` is the
 * workspace folder a local owner works on (its git repository, for landing).
 */
export async function connect(storageDir: string, version: string, log: LogFn, waitMs = 10_000, workspaceDir?: string): Promise<BatonConnection> {
  // The deadline bounds how long ONE holder keeps the state, not the whole queue: when the holder changes
  // (a `baton` command ended and the next one took the lock), the clock restarts, so 16 commands started
  // together all get their turn instead of the last ones failing at 10 s while every holder made progress.
  let deadline = Date.now() + waitMs;
  let holder: number | undefined;
  let delay = 20;
  for (;;) {
    const endpoint = readEndpoint(storageDir);
    if (endpoint) {
      return connectRemote(endpoint.url, readOperatorToken(endpoint), version, `${endpoint.kind} pid ${endpoint.pid} at ${endpoint.url}`);
    }
    try {
      const owner = await WorkspaceOwner.open({ storageDir, kind: 'cli', version, log, mcp: null, ...(workspaceDir ? { workspaceDir } : {}) });
      return connectLocal(owner, storageDir, version);
    } catch (error) {
      if (!(error instanceof OwnedElsewhereError)) throw error;
      if (error.owner.pid !== holder) {
        holder = error.owner.pid;
        deadline = Date.now() + waitMs;
      }
      // Another process owns the state: a `baton` command finishing (it holds the lock only for its
      // run), or an owner starting up that will publish its endpoint. Wait for either.
      if (Date.now() > deadline) {
        throw new Error(error.owner.kind === 'cli'
          ? `Another baton command (pid ${error.owner.pid}) has held this workspace's state for ${Math.round(waitMs / 1000)} s; try again when it ends.`
          : `${error.message} It publishes no MCP endpoint; is it still starting?`);
      }
      // Short, jittered polls: the lock is free again within a few ms of a command ending.
      await new Promise(resolve => setTimeout(resolve, delay + Math.random() * delay));
      delay = Math.min(delay * 1.5, 100);
    }
  }
}

async function connectLocal(owner: WorkspaceOwner, storageDir: string, version: string): Promise<BatonConnection> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createBatonMcpServer(owner.services, { version, tier: 'operator', mcpSessionId: () => undefined, operatorName: os.userInfo().username });
  await server.connect(serverSide);
  const client = new Client({ name: 'baton-cli', version });
  await client.connect(clientSide);
  return wrap(client, 'local', `local state in ${storageDir}`, async () => {
    await client.close();
    await server.close();
    await owner.close();
  });
}

