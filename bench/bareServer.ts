/**
 * The baseline: a bare MCP server built the way the SDK documents it — an `McpServer` per session behind
 * `StreamableHTTPServerTransport` (sessionful: one transport per `Mcp-Session-Id`), on a plain
 * `http.createServer` bound to 127.0.0.1. No auth, no Host/Origin checks, no body limit, no database.
 *
 * Its tools have Baton's names and input schemas (zod, strict) so the SDK does the same argument validation,
 * and return a fixed answer text (captured from Baton in the same run, so the payloads are the same size).
 * The "write" tools have the same durability as Baton's: each appends a record of its arguments to a file
 * and waits for its `fdatasync` before answering (the plain way: one fdatasync per call, on libuv's thread
 * pool, so concurrent calls' flushes overlap). Comparing against it isolates what Baton adds per call.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TASK_STATUSES } from '../src/core/model';

/** Answer text per tool name. */
export type Payloads = Record<'get_task' | 'list_tasks' | 'add_note' | 'claim_next_task', string>;

const taskId = z.string().min(1).max(100);
const sprintId = z.string().min(1).max(100);

function buildServer(payloads: Payloads, log: fs.promises.FileHandle): McpServer {
  const server = new McpServer({ name: 'bare', version: '1.0.0' });
  const answer = (text: string) => (): CallToolResult => ({ content: [{ type: 'text', text }] });
  /** A durable write: the call's arguments appended to the log and flushed before the answer. */
  const durableAnswer = (tool: string, text: string) => async (args: unknown): Promise<CallToolResult> => {
    await log.write(`${JSON.stringify({ tool, args })}\n`);
    await log.datasync();
    return { content: [{ type: 'text', text }] };
  };
  server.registerTool('get_task', {
    description: 'Get a task',
    inputSchema: z.object({ task_id: taskId }).strict(),
    annotations: { readOnlyHint: true },
  }, answer(payloads.get_task));
  server.registerTool('list_tasks', {
    description: 'List tasks',
    inputSchema: z.object({
      sprint_id: sprintId.optional(),
      status: z.array(z.enum(TASK_STATUSES)).max(6).optional(),
      assignee: z.string().max(200).optional(),
      ready: z.boolean().optional(),
      text: z.string().max(200).optional(),
      offset: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(200).optional(),
    }).strict(),
    annotations: { readOnlyHint: true },
  }, answer(payloads.list_tasks));
  server.registerTool('add_note', {
    description: 'Add a note',
    inputSchema: z.object({ task_id: taskId, text: z.string().min(1).max(200_000) }).strict(),
  }, durableAnswer('add_note', payloads.add_note));
  server.registerTool('claim_next_task', {
    description: 'Claim the next ready task',
    inputSchema: z.object({ sprint_id: sprintId.optional() }).strict(),
  }, durableAnswer('claim_next_task', payloads.claim_next_task));
  return server;
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

export async function startBareServer(payloads: Payloads): Promise<BareServer> {
  const transports: Record<string, StreamableHTTPServerTransport> = {};
  const servers: McpServer[] = [];
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bench-bare-'));
  const log = await fs.promises.open(path.join(logDir, 'writes.log'), 'a');
  const httpServer = http.createServer(async (req, res) => {
    try {
      const sessionId = req.headers['mcp-session-id'] as string | undefined;
      if (req.method === 'POST') {
        const body = await readJson(req);
        if (sessionId && transports[sessionId]) return await transports[sessionId].handleRequest(req, res, body);
        if (!sessionId && isInitializeRequest(body)) {
          const transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            onsessioninitialized: sid => { transports[sid] = transport; },
          });
          transport.onclose = () => { if (transport.sessionId) delete transports[transport.sessionId]; };
          const server = buildServer(payloads, log);
          servers.push(server);
          await server.connect(transport);
          return await transport.handleRequest(req, res, body);
        }
        res.writeHead(400, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null }));
        return;
      }
      if ((req.method === 'GET' || req.method === 'DELETE') && sessionId && transports[sessionId]) {
        return await transports[sessionId].handleRequest(req, res);
      }
      res.writeHead(400).end('Invalid or missing session ID');
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      for (const t of Object.values(transports)) await t.close().catch(() => undefined);
      for (const s of servers) await s.close().catch(() => undefined);
      httpServer.closeAllConnections();
      await new Promise<void>(resolve => httpServer.close(() => resolve()));
      await log.close();
      fs.rmSync(logDir, { recursive: true, force: true });
    },
  };
}
