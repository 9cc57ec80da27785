import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema, CompleteRequestSchema, ErrorCode, GetPromptRequestSchema, InitializeRequestSchema,
  LATEST_PROTOCOL_VERSION, ListPromptsRequestSchema, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema, PingRequestSchema, ReadResourceRequestSchema, SetLevelRequestSchema,
  SubscribeRequestSchema, SUPPORTED_PROTOCOL_VERSIONS, UnsubscribeRequestSchema, type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { BatonError } from '../core/errors';

/** JSON-RPC error code MCP uses for "resource not found" (spec 2025-06-18, Resources → Error Handling). */
export const RESOURCE_NOT_FOUND = -32002;

type AnyIssue = { path: PropertyKey[]; message: string; code?: string; expected?: unknown; keys?: string[] };

/**
 * One readable line per zod issue, naming the field by its dotted path and what was expected, e.g.
 * `params.arguments: expected an object, got a string` or `task_id: expected string, received number`.
 */
export function readableIssues(error: { issues: readonly AnyIssue[] }, prefix = ''): string {
  return error.issues.map(issue => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    let message = issue.message.replace(/^Invalid input: /, '');
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(k => `"${k}"`).join(', ')} (not in the schema)`;
    if (issue.code === 'invalid_type' && issue.expected === 'record') message = message.replace('expected record', 'expected an object');
    return path ? `${path}: ${message}` : message;
  }).join('; ');
}

/**
 * A JSON-RPC error a request handler throws: the SDK answers with its `code` and `message` as they are
 * (an `McpError` would prefix the message with "MCP error <code>:").
 */
export class JsonRpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'JsonRpcError';
  }
}

/**
 * Runs a resource callback, turning Baton's domain errors into JSON-RPC errors: not found → -32002
 * (resource not found), any other bad input → -32602. Other errors propagate (-32603).
 */
export async function resourceCall<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof BatonError) throw new JsonRpcError(error.code === 'NOT_FOUND' ? RESOURCE_NOT_FOUND : ErrorCode.InvalidParams, error.message);
    throw error;
  }
}

/** An MCP "invalid params" protocol error (-32602) with a readable message. */
export function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, message);
}

const REQUEST_SCHEMAS = new Map<string, z.ZodType>(
  [
    InitializeRequestSchema, PingRequestSchema, ListToolsRequestSchema, CallToolRequestSchema, ListResourcesRequestSchema,
    ListResourceTemplatesRequestSchema, ReadResourceRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema,
    ListPromptsRequestSchema, GetPromptRequestSchema, CompleteRequestSchema, SetLevelRequestSchema,
  ].map(schema => [(schema.shape.method as unknown as { value: string }).value, schema as unknown as z.ZodType]),
);

/** Paths of own `__proto__` keys anywhere in a JSON value (JSON.parse creates them as own properties). */
function protoKeys(value: unknown, path: string, found: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || found.length > 4) return found;
  if (Array.isArray(value)) {
    value.forEach((v, i) => protoKeys(v, `${path}[${i}]`, found));
    return found;
  }
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) found.push(`${path}.__proto__`);
  for (const key of Object.keys(value)) if (key !== '__proto__') protoKeys((value as Record<string, unknown>)[key], `${path}.${key}`, found);
  return found;
}

/** Whether a negotiated protocol version reports invalid tool arguments as a protocol error. */
function argumentErrorsAreProtocolErrors(version: string): boolean {
  // 2025-06-18 (Tools → Error Handling) lists "invalid arguments" among protocol errors; 2025-11-25
  // (SEP-1303) moved input validation errors to tool execution errors (`isError`) so models can self-correct.
  return version < '2025-11-25';
}

export interface RequestGuardOptions {
  /** The registered tool of that name, if any. */
  tool(name: string): RegisteredTool | undefined;
}

/**
 * Checks every JSON-RPC request a transport receives before the SDK's dispatcher sees it, so malformed
 * requests get the protocol errors MCP (spec 2025-06-18, "Basic" and "Tools → Error Handling") asks for,
 * with a readable message instead of the SDK's `-32603 Internal error` with a raw zod dump:
 * - params that do not fit the method's request schema (the SDK's own schemas) → -32602 naming the field;
 * - `tools/call` of an unknown or disabled tool → -32602 (the SDK answers `isError`);
 * - `__proto__` keys anywhere in tool arguments → -32602 (the SDK's parse silently drops them);
 * - arguments that fail the tool's input schema → -32602 for protocol versions up to 2025-06-18; from
 *   2025-11-25 on they stay tool execution errors (`isError`, answered by the SDK), as that spec says;
 * - a `cursor` on a list that never paginates (tools, prompts, resource templates) → -32602.
 * Valid requests go on unchanged. Installs itself by wrapping `transport.onmessage` (after `connect`).
 */
export function guardRequests(transport: Transport, options: RequestGuardOptions): void {
  const next = transport.onmessage;
  if (!next) throw new Error('guardRequests: connect the server to the transport first.');
  let version = LATEST_PROTOCOL_VERSION;
  const reject = (id: string | number, message: string) =>
    void transport.send({ jsonrpc: '2.0', id, error: { code: ErrorCode.InvalidParams, message } }).catch(() => undefined);
  transport.onmessage = (message, extra) => {
    const m = message as { id?: string | number; method?: unknown; params?: Record<string, unknown> };
    if (m.id === undefined || typeof m.method !== 'string') return next(message, extra);
    const error = check(m.method, m as Record<string, unknown>);
    if (error) return reject(m.id, error);
    if (m.method === 'initialize') {
      const asked = String(m.params?.protocolVersion);
      version = SUPPORTED_PROTOCOL_VERSIONS.includes(asked) ? asked : LATEST_PROTOCOL_VERSION;
    }
    return next(message as JSONRPCMessage, extra);
  };

  function check(method: string, request: Record<string, unknown>): string | undefined {
    const schema = REQUEST_SCHEMAS.get(method);
    if (!schema) return undefined; // unknown methods: the SDK answers -32601
    const parsed = schema.safeParse(request);
    if (!parsed.success) return (`Invalid params for ${method}: ${readableIssues(parsed.error as never)}`);
    const params = (request.params ?? {}) as Record<string, unknown>;
    if ((method === 'tools/list' || method === 'prompts/list' || method === 'resources/templates/list') && params.cursor !== undefined) {
      return (`Invalid cursor "${String(params.cursor).slice(0, 100)}": ${method} returns everything in one page, so it takes no cursor.`);
    }
    if (method !== 'tools/call') return undefined;
    const name = String(params.name);
    const tool = options.tool(name);
    if (!tool) return (`Unknown tool: ${name}. Call tools/list for the tools this session has.`);
    if (!tool.enabled) return (`Tool ${name} is not enabled for this session's tool tier. Call tools/list for the tools this session has.`);
    const protos = protoKeys(params.arguments, 'arguments');
    if (protos.length) return (`Invalid arguments for tool ${name}: ${protos.join(', ')}: the key "__proto__" is not allowed.`);
    if (argumentErrorsAreProtocolErrors(version) && tool.inputSchema) {
      const args = (tool.inputSchema as z.ZodType).safeParse(params.arguments ?? {});
      if (!args.success) return (`Invalid arguments for tool ${name}: ${readableIssues(args.error as never)}`);
    }
    return undefined;
  }
}

const CURSOR_PREFIX = 'b1.';

/** Encodes a list position as an opaque cursor (base64url of its JSON, versioned). */
export function encodeCursor(position: Record<string, unknown>): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/**
 * A tool's `cursor` argument: a string that must decode (with `decodeCursor`) to `position`, so a bogus
 * cursor is an invalid argument like any other (a -32602 protocol error or an `isError` result, as above).
 */
export function cursorArgument<T>(position: z.ZodType<T>) {
  return z.string().max(1000).refine(c => tryDecodeCursor(c, position) !== undefined, {
    message: 'not a cursor of this list: pass the nextCursor of the previous page unchanged, or no cursor for the first page',
  }).describe('nextCursor of the previous page');
}

function tryDecodeCursor<T>(cursor: string, schema: z.ZodType<T>): T | undefined {
  if (!cursor.startsWith(CURSOR_PREFIX)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes a cursor made by `encodeCursor` and checks it against `schema`.
 * @throws JsonRpcError -32602 (invalid params) naming the cursor when it is not one of ours.
 */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  const position = tryDecodeCursor(cursor, schema);
  if (position === undefined) throw invalidParams(`Invalid cursor "${cursor.slice(0, 100)}": pass the nextCursor of the previous page unchanged, or no cursor for the first page.`);
  return position;
}
