import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { BatonError, invalid } from '../core/errors';
import { resourceCall } from './jsonRpc';
import type { Actor } from '../core/model';
import {
  ARTIFACT_SCOPES,
  ARTIFACT_URI_PREFIX,
  decodeUtf8Text,
  isTextMediaType,
  type ArtifactInfo,
  type ArtifactService,
} from '../services/artifactService';

/** Identifies who calls a tool, from the MCP session (same shape as `ActorResolver` in planTools). */
export type ArtifactActorResolver = (extra: { sessionId?: string }) => Actor;


const taskId = z.string().min(1).max(100).describe('Task id, e.g. "T-12" (or just 12)');
const sprintId = z.string().min(1).max(100).describe('Sprint id, e.g. "S-2"');
const artifactId = z.string().min(1).max(100).describe('Artifact id, e.g. "AR-3"');
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The compact artifact shape tool results use. */
export function artifactSummary(a: ArtifactInfo) {
  return {
    id: a.id, name: a.name, media_type: a.mediaType, size: a.size, scope: a.scope, task_id: a.taskId,
    sprint_id: a.sprintId, sha256: a.sha256, uri: a.uri, created_by: a.createdBy, created_at: a.createdAt,
  };
}

function ok(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 1) }] };
}

/** Runs a tool body, turning Baton's domain errors into tool errors the agent can read and act on. */
async function run(body: () => unknown): Promise<CallToolResult> {
  try {
    return ok(await body());
  } catch (error) {
    if (error instanceof BatonError) return { isError: true, content: [{ type: 'text', text: error.message }] };
    throw error;
  }
}

/**
 * A page of artifact resources for `resources/list`: one per distinct content (its newest artifact),
 * newest first; `beforeNum` continues after the artifact with that number.
 */
export function artifactResources(artifacts: ArtifactService, limit: number, beforeNum?: number) {
  return artifacts.listContents(limit, beforeNum).map(a => ({
    key: Number(a.id.slice(a.id.lastIndexOf('-') + 1)),
    resource: {
      uri: a.uri,
      name: a.name,
      mimeType: a.mediaType,
      size: a.size,
      description: `${a.id}: ${a.scope === 'task' ? `task ${a.taskId}` : a.scope === 'sprint' ? `sprint ${a.sprintId}` : 'project'}, ${a.size} bytes, by ${a.createdBy} at ${a.createdAt}`,
    },
  }));
}

function decodeBase64(value: string): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (!BASE64.test(compact)) throw invalid('content_base64 is not valid base64 (standard alphabet A–Z a–z 0–9 + /, padded with =).');
  return Buffer.from(compact, 'base64');
}

/**
 * Registers the artifact tools (`store_artifact`, `list_artifacts`, `delete_artifact`) and the resource
 * template `baton://artifact/{sha256}` on an MCP server. Reading the resource returns the stored bytes:
 * as `text` for text media types (when the bytes are UTF-8), as base64 `blob` otherwise. `resources/list`
 * lists one resource per distinct content (its newest artifact), newest first.
 */
export function registerArtifactTools(server: McpServer, artifacts: ArtifactService, actorOf: ArtifactActorResolver): void {
  server.registerTool('store_artifact', {
    title: 'Store an artifact',
    description:
      'Saves a file (report, log, diff, screenshot…) for the project, a sprint or a task. Give exactly one of content (text) or content_base64 (bytes). ' +
      'Secrets in text (API keys, tokens, private keys) are replaced by [REDACTED:<kind>] before storing. ' +
      'Returns the artifact with its uri (baton://artifact/<sha256>), readable as an MCP resource.',
    inputSchema: z.object({
      name: z.string().min(1).max(255).describe('File name without folders, e.g. "test-report.md"'),
      content: z.string().optional().describe('Text content (stored as UTF-8)'),
      content_base64: z.string().optional().describe('Binary content, base64-encoded'),
      media_type: z.string().min(3).max(255).optional().describe('e.g. "text/markdown", "image/png"; guessed from the name when omitted'),
      task_id: taskId.optional().describe('Attach to this task (scope task; its sprint is recorded too)'),
      sprint_id: sprintId.optional().describe('Attach to this sprint (scope sprint)'),
      scope: z.enum(ARTIFACT_SCOPES).optional().describe('project, sprint or task; follows from task_id/sprint_id when omitted'),
    }).strict(),
  }, (args, extra) => run(() => {
    if ((args.content === undefined) === (args.content_base64 === undefined)) {
      throw invalid('Give exactly one of content (text) or content_base64 (base64 bytes).');
    }
    const content = args.content !== undefined ? args.content : decodeBase64(args.content_base64!);
    const stored = artifacts.store({
      name: args.name, content, mediaType: args.media_type, scope: args.scope, taskId: args.task_id, sprintId: args.sprint_id,
    }, actorOf(extra));
    return {
      ...artifactSummary(stored), redacted: stored.redactions, scanned_as: stored.scanned,
      ...(stored.scanned === 'binary' ? { not_scanned: 'binary content is stored byte for byte: only secrets written in it as plain ASCII were looked for; compressed or encoded ones were not' } : {}),
      content_already_stored: stored.contentExisted,
    };
  }));

  server.registerTool('list_artifacts', {
    title: 'List artifacts',
    description: 'Stored artifacts filtered by task, sprint (includes artifacts of its tasks) and scope, oldest first, one page at a time (next_offset is null on the last page). Read one through its uri as an MCP resource.',
    inputSchema: z.object({
      task_id: taskId.optional(),
      sprint_id: sprintId.optional(),
      scope: z.enum(ARTIFACT_SCOPES).optional(),
      offset: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(200).optional().describe('Page size, default 50'),
    }).strict(),
  }, args => run(() => {
    const page = artifacts.list(
      { taskId: args.task_id, sprintId: args.sprint_id, scope: args.scope },
      { offset: args.offset, limit: args.limit ?? 50 },
    );
    return { artifacts: page.items.map(artifactSummary), total: page.total, next_offset: page.nextOffset };
  }));

  server.registerTool('delete_artifact', {
    title: 'Delete an artifact',
    description: 'Deletes an artifact. Its content is removed too unless another artifact has the same bytes.',
    inputSchema: z.object({ artifact_id: artifactId }).strict(),
  }, (args, extra) => run(() => {
    const { artifact, contentRemoved } = artifacts.delete(args.artifact_id, actorOf(extra));
    return { deleted: artifact.id, name: artifact.name, content_removed: contentRemoved };
  }));

  server.registerResource(
    'artifact',
    new ResourceTemplate(`${ARTIFACT_URI_PREFIX}{sha256}`, {
      // Baton's own resources/list (batonMcpServer) pages through artifactResources and does not call
      // this; it serves an McpServer that hosts the artifact tools alone (the newest 1000).
      list: () => resourceCall(() => ({ resources: artifactResources(artifacts, 1000).map(e => e.resource) })),
    }),
    {
      title: 'Artifact',
      description: 'A stored artifact\'s bytes, addressed by their SHA-256 (text for text media types, base64 otherwise).',
    },
    (uri, variables): Promise<ReadResourceResult> => resourceCall(() => {
      const sha = Array.isArray(variables.sha256) ? variables.sha256[0] : variables.sha256;
      const { info, bytes } = artifacts.read(String(sha ?? ''));
      const text = isTextMediaType(info.mediaType) ? decodeUtf8Text(bytes) ?? utf8WithNul(bytes) : null;
      return {
        contents: [text !== null
          ? { uri: uri.toString(), mimeType: info.mediaType, text }
          : { uri: uri.toString(), mimeType: info.mediaType, blob: bytes.toString('base64') }],
      };
    }),
  );
}

/** Text that is valid UTF-8 but contains NUL bytes is still text. */
function utf8WithNul(bytes: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}
