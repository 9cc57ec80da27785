import type { AutopilotService } from '../services/autopilotService';
import { registerAutopilotTool } from './autopilotTool';
import { createHash } from 'node:crypto';
import { McpServer, ResourceTemplate, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ListResourcesRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema,
  type CallToolResult, type Resource, type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Actor } from '../core/model';
import type { ArtifactService } from '../services/artifactService';
import type { InboxService } from '../services/inboxService';
import type { MessageService } from '../services/messageService';
import type { PlanService } from '../services/planService';
import type { ReviewService } from '../services/reviewService';
import type { Lander } from '../sessions/landing';
import type { SessionService } from '../services/sessionService';
import type { WorkflowService } from '../services/workflowService';
import type { UsageService } from '../services/usageService';
import type { AgentSession } from '../store/coordinationRepository';
import { artifactResources, registerArtifactTools } from './artifactTools';
import { decodeCursor, encodeCursor, guardRequests, invalidParams, JsonRpcError, RESOURCE_NOT_FOUND, resourceCall } from './jsonRpc';
import { registerCoordinationTools, registerOperatorTools, type Caller } from './coordinationTools';
import { registerImportTool, registerPlanTools, taskSummary } from './planTools';
import { registerReviewOperatorTools, registerReviewTools, reviewSummary } from './reviewTools';
import { registerLandingTools } from './landingTools';
import { registerUsageTools } from './usageTools';

export const MCP_SERVER_NAME = 'baton';

/** The services MCP exposes; built by `WorkspaceOwner`. */
export interface BatonServices {
  plan: PlanService;
  sessions: SessionService;
  inbox: InboxService;
  messages: MessageService;
  workflow: WorkflowService;
  artifacts: ArtifactService;
  reviews: ReviewService;
  /** Autopilot's switch and status (the operator tool `autopilot`). */
  autopilot: AutopilotService;
  /** Lands tasks' session branches (operator tools `get_task_diff`, `land_task`). */
  landing: Lander;
  /** Token and cost usage the agent CLIs report (OTLP). */
  usage: UsageService;
}

/**
 * Tool tiers, because every listed tool costs the agent tokens:
 * - `core`: the ~10 tools of an agent's normal loop (INIT, claim, read, progress, context, ask, messages, complete, end);
 * - `full`: every agent tool (plan editing, dependencies, artifacts, sessions, …);
 * - `operator`: `full` plus the person's side (inbox answers, pause, intervene, approve, activity) — the `baton` CLI.
 */
export const TOOL_TIERS = ['core', 'full', 'operator'] as const;
export type ToolTier = (typeof TOOL_TIERS)[number];
/** The tiers agents can be granted (`baton.mcp.toolTier`, `baton serve --tools`): never `operator`, which needs the operator token. */
export const AGENT_TIERS = ['core', 'full'] as const;
export type AgentTier = (typeof AGENT_TIERS)[number];

export const CORE_TOOLS = [
  'agent_init', 'claim_next_task', 'list_tasks', 'get_task', 'report_progress', 'save_context', 'ask_human',
  'get_human_answer', 'check_messages', 'send_message', 'complete_task', 'end_session', 'submit_review',
] as const;

type Hints = Required<Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>>;
const read: Hints = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const write = (destructive: boolean, idempotent: boolean): Hints =>
  ({ readOnlyHint: false, destructiveHint: destructive, idempotentHint: idempotent, openWorldHint: false });

/**
 * What each tool does to Baton's state, as MCP tool annotations (spec 2025-06-18, Tools → Tool
 * annotations): clients such as Codex ask the person before a call without `readOnlyHint`. Destructive
 * = may overwrite or remove what is stored (not only add to it); idempotent = calling again with the
 * same arguments changes nothing more. No tool reaches outside Baton (`openWorldHint: false`).
 * Every registered tool must have an entry (registration throws otherwise).
 */
export const TOOL_ANNOTATIONS: Record<string, Hints> = {
  list_sprints: read, get_sprint: read, list_tasks: read, get_task: read,
  create_task: write(false, false),
  create_sprint: write(false, false),
  get_stats: read,
  update_sprint: write(true, true), // overwrites the sprint's fields; the same arguments again change nothing more
  update_task: write(true, false), // overwrites fields (title, description, …); a note with a status move is added each time
  add_dependency: write(false, true),
  remove_dependency: write(true, true),
  claim_next_task: write(false, false),
  add_note: write(false, false),
  update_context: write(true, false), // mode "replace" overwrites the context
  set_progress: write(false, false),
  set_checkpoint: write(false, true),
  add_checkpoint: write(false, false),
  complete_task: write(false, false),
  import_plan: write(true, true), // a re-import updates the tasks it created; the same document again changes nothing
  agent_init: write(false, false),
  report_progress: write(false, false),
  save_context: write(false, false),
  load_context: read,
  end_session: write(false, false),
  ask_human: write(false, false),
  get_human_answer: read,
  send_message: write(false, false),
  check_messages: write(false, false), // marks the messages read
  list_sessions: read,
  store_artifact: write(false, false),
  list_artifacts: read,
  delete_artifact: write(true, true),
  list_inbox: read,
  answer_request: write(false, false),
  reject_request: write(false, false),
  approve: write(false, false),
  pause_task: write(false, false),
  intervene: write(false, false),
  list_activity: read,
  autopilot: write(false, true), // on/off are switches (the same again changes nothing more); status only reads
  get_cost: read,
  hand_over: write(true, true), // the headless owner stops
  submit_review: write(false, false), // adds a review and may move the task; the same review again is refused in its round but adds one in a later round
  get_reviews: read,
  set_review_pipeline: write(true, true), // overwrites the target's pipeline
  get_task_diff: read,
  land_task: write(true, false), // moves the base branch (and, for rebase, the session branch)
};

/** The MCP prompts' names: prefixed, so no agent CLI's built-in slash command (e.g. Gemini CLI's /init) hides them. */
export const PROMPT_NAMES = { init: 'baton_init', handoff: 'baton_handoff', report: 'baton_report' } as const;

/** Most resources one `resources/list` page holds (pass `nextCursor` back for the next page). */
export const RESOURCE_PAGE_SIZE = 100;

/**
 * Baton's `McpServer`: its transports first pass every request through `guardRequests` (readable -32602
 * errors), and its tool set can move between the agent tiers while connected.
 */
export class BatonMcpServer extends McpServer {
  findTool: (name: string) => RegisteredTool | undefined = () => undefined;
  /** Moves a connected agent session between `core` and `full` (see `createBatonMcpServer`). */
  setToolTier: (tier: 'core' | 'full') => void = () => undefined;

  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    guardRequests(transport, { tool: name => this.findTool(name) });
  }
}

const INSTRUCTIONS = `Baton holds this workspace's plan (sprints, tasks with dependencies) and coordinates the agents working on it.
Start with agent_init: it tells you who you are, your memory from earlier sessions (handoff packs), and the plan to confirm.
Loop: claim_next_task → work → report_progress and save_context as you go → ask_human when you need a decision → complete_task with a summary, or end_session to hand off.
Task ids look like T-12, sprints S-2, sessions A-3, inbox requests Q-4.`;

/** The tools each server built by `createBatonMcpServer` registered (enabled or not), for `toolNamesOfTier`. */
const REGISTERED_TOOLS = new WeakMap<McpServer, Map<string, RegisteredTool>>();

/**
 * The names of the tools a client of `tier` is listed, sorted: built from a throwaway server over
 * `services` that no client connects to (so no agent session is recorded).
 */
export function toolNamesOfTier(services: BatonServices, tier: ToolTier): string[] {
  const server = createBatonMcpServer(services, { version: 'tool-set', tier, mcpSessionId: () => undefined });
  const names = [...(REGISTERED_TOOLS.get(server) ?? new Map<string, RegisteredTool>())].filter(([, t]) => t.enabled).map(([name]) => name);
  void server.close();
  return names.sort();
}

/**
 * A version string that changes whenever the tool set does: `<baseVersion>+tools.<12 hex digits>`, the
 * first 12 hex digits of the SHA-256 of the sorted tool names joined by newlines. VS Code keys its
 * cache of a server's tools by the definition's `version`, so a new tool set refreshes it.
 */
export function toolSetVersion(baseVersion: string, toolNames: readonly string[]): string {
  const digest = createHash('sha256').update([...toolNames].sort().join('\n')).digest('hex').slice(0, 12);
  return `${baseVersion}+tools.${digest}`;
}

export interface McpServerOptions {
  version: string;
  tier: ToolTier;
  /** The transport's session id, when there is one (HTTP). */
  mcpSessionId: () => string | undefined;
  /** When the client was last active (HTTP: last request or open stream), recorded as "last seen" when it disconnects. */
  lastActivityAt?: () => Date | undefined;
  /** The person's name, for the operator tier (the CLI acts for the person, not as an agent). */
  operatorName?: string;
  /**
   * Set by a headless owner (`baton serve`) that can hand the workspace over: registers the operator
   * tool `hand_over`, which VS Code calls to become the owner itself on the same address.
   */
  onHandover?: () => void;
  /**
   * The store's group commit (a DurableDatabase): when given, each tool call's writes skip their own
   * fdatasync and the answer is sent only after `durable()` resolves, so concurrent calls share a flush.
   */
  commit?: { groupCommit<T>(fn: () => T): T; durable(): Promise<void> };
}

/**
 * Builds one MCP server instance (one per client connection) over Baton's services: tools by tier (each
 * with its `TOOL_ANNOTATIONS`), resources (tasks, sprints, task details, handoff context, session
 * context, artifacts; `resources/list` paginated, `baton://task/{id}` subscribable) and prompts
 * (`PROMPT_NAMES`: baton_init, baton_handoff, baton_report). An agent connection gets an agent-session
 * record when it initializes, ended when it disconnects; every tool answer tells the agent when it has
 * unread messages (interventions). Malformed requests are answered by `guardRequests` (jsonRpc.ts).
 */
export function createBatonMcpServer(services: BatonServices, options: McpServerOptions): BatonMcpServer {
  const server = new BatonMcpServer({ name: MCP_SERVER_NAME, title: 'Baton', version: options.version }, { instructions: INSTRUCTIONS });
  const { plan, sessions, messages } = services;
  const operator = options.tier === 'operator';
  const commit = options.commit;
  let session: AgentSession | null = null;

  const ensureSession = (): AgentSession | null => {
    if (operator) return null;
    if (!session) {
      const client = server.server.getClientVersion()?.name ?? 'agent';
      session = sessions.connect({ agentName: client, mcpSessionId: options.mcpSessionId() ?? null });
    }
    return sessions.get(session.id);
  };
  const caller: Caller = {
    session: ensureSession,
    actor: (): Actor => {
      const s = ensureSession();
      return s ? sessions.actorOf(s) : { kind: 'user', name: options.operatorName ?? 'operator' };
    },
  };
  server.server.oninitialized = () => void ensureSession();
  const previousClose = server.server.onclose;
  server.server.onclose = () => {
    previousClose?.();
    if (session) sessions.disconnect(session.id, 'disconnected', options.lastActivityAt?.());
  };

  // Every tool is registered through this wrapper: it records the handle (for tiers), keeps the
  // session's current task in step with claims, and appends the unread-messages notice.
  const tools = new Map<string, RegisteredTool>();
  REGISTERED_TOOLS.set(server, tools);
  server.findTool = name => tools.get(name);
  const wrapped = new Proxy(server, {
    get(target, prop, receiver) {
      if (prop !== 'registerTool') return Reflect.get(target, prop, receiver);
      return (name: string, config: Record<string, unknown>, cb: (...a: unknown[]) => Promise<CallToolResult>) => {
        const annotations = TOOL_ANNOTATIONS[name];
        if (!annotations) throw new Error(`Tool ${name} has no entry in TOOL_ANNOTATIONS.`);
        const handle = target.registerTool(name, { ...config, annotations } as never, (async (...a: unknown[]) => {
          // Group commit: the tool's writes (and the session bookkeeping after it) share one fdatasync with
          // concurrent calls; the answer is sent once they are on disk.
          if (!commit) return afterTool(name, await cb(...a));
          const result = await commit.groupCommit(() => cb(...a));
          try {
            return commit.groupCommit(() => afterTool(name, result));
          } finally {
            await commit.durable(); // also when afterTool threw: the call's own writes still reach the disk
          }
        }) as never);
        tools.set(name, handle);
        return handle;
      };
    },
  });
  /** Set by the claim's transaction when it attached the task to this session; read and reset by afterTool. */
  let claimedInTx = false;
  const afterTool = (name: string, result: CallToolResult): CallToolResult => {
    const s = session;
    if (!s) return result;
    if (name === 'claim_next_task' && !result.isError && !claimedInTx) {
      const claimed = JSON.parse((result.content[0] as { text: string }).text).task;
      if (claimed?.id) sessions.attachTask(s.id, claimed.id);
    }
    claimedInTx = false;
    if (name !== 'check_messages') {
      const unread = messages.unreadCount({ kind: 'session', id: s.id });
      if (unread) {
        result.content.push({ type: 'text', text: `📬 You have ${unread} unread message${unread > 1 ? 's' : ''} (from the human or other agents): call check_messages now.` });
      }
    }
    return result;
  };

  const actorOf = () => caller.actor();
  // The claiming session's current task is written in the claim's own transaction (one journal record);
  // afterTool's attachTask then finds it already set.
  registerPlanTools(wrapped, plan, actorOf, {
    claimed: (tx, taskId) => {
      if (!session) return;
      sessions.attachTaskIn(tx, session.id, taskId);
      claimedInTx = true; // afterTool need not parse the answer to attach it (the claim's own call, synchronously before it)
    },
    details: taskId => { // only for tasks with a pipeline or reviews: every key costs the agent tokens
      const review = services.reviews.details(taskId);
      return review.pipeline || review.rounds.length ? { review: reviewSummary(review) } : {};
    },
  });
  registerImportTool(wrapped, plan, actorOf);
  registerCoordinationTools(wrapped, services, caller);
  registerArtifactTools(wrapped, services.artifacts, actorOf);
  registerReviewTools(wrapped, services.reviews, caller);
  registerUsageTools(wrapped, services.usage);
  if (operator) registerOperatorTools(wrapped, services, caller);
  if (operator) registerReviewOperatorTools(wrapped, services.reviews, caller);
  if (operator) registerAutopilotTool(wrapped, services.autopilot, caller);
  if (operator) registerLandingTools(wrapped, services.landing, caller);
  if (operator && options.onHandover) {
    const handover = options.onHandover;
    wrapped.registerTool('hand_over', {
      title: 'Hand the workspace over',
      description: 'Asks this headless owner to release the workspace state so VS Code can own it on the same address. The owner stops right after answering.',
      inputSchema: z.object({ to: z.string().max(100).default('vscode') }).strict(),
    }, async ({ to }) => {
      setTimeout(handover, 100);
      return { content: [{ type: 'text', text: JSON.stringify({ releasing: true, to }) }] };
    });
  }
  // The tier's tool set; a change while connected sends one notifications/tools/list_changed (the SDK's
  // enable()/disable() would send one per tool). Never reaches operator tools: only `core` ↔ `full`.
  const applyTier = (tier: ToolTier) => {
    let changed = false;
    for (const [name, handle] of tools) {
      const enabled = tier !== 'core' || (CORE_TOOLS as readonly string[]).includes(name);
      if (handle.enabled !== enabled) {
        handle.enabled = enabled;
        changed = true;
      }
    }
    if (changed) server.sendToolListChanged();
  };
  applyTier(options.tier);
  server.setToolTier = tier => {
    if (operator) throw new Error('The operator tier keeps its tools.');
    if (tier !== 'core' && tier !== 'full') throw new Error(`An agent session's tier is core or full, not "${String(tier)}".`);
    applyTier(tier);
  };

  registerResources(server, services);
  registerSessionContext(server, services);
  registerResourceList(server, services);
  watchPlan(server, services);
  registerPrompts(server);
  return server;
}

function json(uri: string, value: unknown) {
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 1) }] };
}

const STATIC_RESOURCES = [
  { name: 'tasks', uri: 'baton://tasks', title: 'All tasks', description: 'Every task of the plan, compact, in plan order.', mimeType: 'application/json' },
  { name: 'sprints', uri: 'baton://sprints', title: 'Sprints', description: 'Sprints with goals and progress.', mimeType: 'application/json' },
] as const satisfies readonly Resource[];

function registerResources(server: McpServer, { plan, sessions }: BatonServices): void {
  const [tasks, sprints] = STATIC_RESOURCES;
  server.registerResource(tasks.name, tasks.uri, { title: tasks.title, description: tasks.description, mimeType: tasks.mimeType },
    uri => json(uri.href, plan.allTasks().map(taskSummary)));
  server.registerResource(sprints.name, sprints.uri, { title: sprints.title, description: sprints.description, mimeType: sprints.mimeType },
    uri => json(uri.href, plan.listSprints().map(s => ({ id: s.id, name: s.name, goal: s.goal, state: s.state, ...plan.sprintProgress(s.id) }))));
  server.registerResource('task', new ResourceTemplate('baton://task/{id}', { list: undefined }), {
    title: 'Task details', description: 'One task with checkpoints, dependencies, notes and activity. Subscribe (resources/subscribe) to hear when it changes.', mimeType: 'application/json',
  }, (uri, { id }) => resourceCall(() => {
    const d = plan.getTaskDetails(plan.resolveTask(String(id)).id, 20);
    return json(uri.href, { ...d.task, sprint: d.sprint?.name ?? null, checkpoints: d.checkpoints, depends_on: d.dependsOn, notes: d.notes, activity: d.activity });
  }));
  server.registerResource('context', new ResourceTemplate('baton://context/{task_id}', { list: undefined }), {
    title: 'Task context / handoff pack', description: 'The newest saved context or handoff pack of a task, readable by people and agents.', mimeType: 'text/markdown',
  }, (uri, { task_id }) => resourceCall(() => {
    const id = plan.resolveTask(String(task_id)).id;
    return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: sessions.handoffMarkdown(id) ?? `No context saved for ${id} yet.` }] };
  }));
}

function registerSessionContext(server: McpServer, { sessions }: BatonServices): void {
  server.registerResource('session-context', new ResourceTemplate('baton://session/{session_id}/context', { list: undefined }),
    { title: 'Session context', description: 'The newest context an agent session saved.', mimeType: 'application/json' }, (uri, { session_id }) => resourceCall(() => {
      sessions.get(String(session_id));
      const loaded = sessions.loadContext({ sessionId: String(session_id) });
      return json(uri.href, loaded ? { context: loaded.pack.context, kind: loaded.saved.kind, task_id: loaded.saved.taskId, saved_at: loaded.saved.createdAt, dropped: loaded.pack.dropped } : { context: null });
    }));
}

const idNumber = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
const listPosition = z.object({ section: z.number().int().min(0), after: z.number().int().min(0).nullable() }).strict();

/**
 * `resources/list`, paginated (MCP spec 2025-06-18, "Pagination"): the plan's two resources, then every
 * task (by number), every agent session's context (newest first), every artifact content (newest first),
 * `RESOURCE_PAGE_SIZE` per page. The opaque cursor holds the section and the last number listed
 * (keyset), so the order is stable while tasks are added or removed; a cursor that is not ours is -32602.
 * Replaces the SDK's handler, which lists everything at once.
 */
function registerResourceList(server: McpServer, { plan, sessions, artifacts }: BatonServices): void {
  type Entry = { key: number; resource: Resource };
  const sections: ((after: number | null, limit: number) => Entry[])[] = [
    (after, limit) => STATIC_RESOURCES.map((r, i) => ({ key: i, resource: { ...r } })).filter(e => after === null || e.key > after).slice(0, limit),
    (after, limit) => plan.allTasks().map(t => ({ key: idNumber(t.id), t })).filter(e => after === null || e.key > after)
      .sort((a, b) => a.key - b.key).slice(0, limit)
      .map(({ key, t }) => ({ key, resource: { uri: `baton://task/${t.id}`, name: `${t.id} ${t.title}`, mimeType: 'application/json' } })),
    (after, limit) => sessions.list({ limit, beforeNum: after ?? undefined })
      .map(s => ({ key: idNumber(s.id), resource: { uri: `baton://session/${s.id}/context`, name: `${s.id} ${s.agentName}`, mimeType: 'application/json' } })),
    (after, limit) => artifactResources(artifacts, limit, after ?? undefined),
  ];
  server.server.setRequestHandler(ListResourcesRequestSchema, request => {
    const cursor = request.params?.cursor;
    let { section, after } = cursor === undefined ? { section: 0, after: null as number | null } : decodeCursor(cursor, listPosition);
    if (section >= sections.length) throw invalidParams(`Invalid cursor "${cursor}": it points past the end of the list.`);
    const resources: Resource[] = [];
    while (section < sections.length) {
      const want = RESOURCE_PAGE_SIZE - resources.length;
      const entries = sections[section](after, want + 1);
      resources.push(...entries.slice(0, want).map(e => e.resource));
      if (entries.length > want) return { resources, nextCursor: encodeCursor({ section, after: entries[want - 1].key }) };
      section++;
      after = null;
      if (resources.length === RESOURCE_PAGE_SIZE) {
        return section < sections.length ? { resources, nextCursor: encodeCursor({ section, after: null }) } : { resources };
      }
    }
    return { resources };
  });
}

/**
 * Notifications from the plan's change events (`PlanService.onDidChangePlan`):
 * `notifications/resources/list_changed` when tasks or sprints were added or removed, and
 * `notifications/resources/updated` for each subscribed resource that changed — `baton://task/{id}`
 * (that task), `baton://tasks` (any task), `baton://sprints` (any sprint or task). Declares the
 * `resources.subscribe` capability and handles `resources/subscribe` / `resources/unsubscribe`; a
 * subscription to a task that does not exist is -32002. Stops when the connection closes.
 */
function watchPlan(server: McpServer, { plan }: BatonServices): void {
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  const subscribed = new Map<string, Set<string>>(); // task id, 'tasks' or 'sprints' → the URIs as the client wrote them
  const keyOf = (uri: string): string => {
    if (uri === 'baton://tasks') return 'tasks';
    if (uri === 'baton://sprints') return 'sprints';
    const m = /^baton:\/\/task\/([^/?#]+)$/.exec(uri);
    if (!m) throw new JsonRpcError(RESOURCE_NOT_FOUND, `Cannot subscribe to ${uri}: subscriptions are for baton://task/{id}, baton://tasks and baton://sprints.`);
    return plan.resolveTask(decodeURIComponent(m[1])).id;
  };
  server.server.setRequestHandler(SubscribeRequestSchema, request => resourceCall(() => {
    const key = keyOf(request.params.uri);
    const uris = subscribed.get(key) ?? new Set<string>();
    uris.add(request.params.uri);
    subscribed.set(key, uris);
    return {};
  }));
  server.server.setRequestHandler(UnsubscribeRequestSchema, request => resourceCall(() => {
    for (const [key, uris] of subscribed) if (uris.delete(request.params.uri) && !uris.size) subscribed.delete(key);
    return {};
  }));

  const unwatch = planChanges(plan).watch((change, shapeMoved) => {
    if (!server.isConnected()) return;
    if (shapeMoved) server.sendResourceListChanged();
    if (!subscribed.size) return;
    const updated = new Set<string>();
    for (const [key, uris] of subscribed) {
      const hit = change.all || (key === 'tasks' ? change.taskIds.size > 0 : key === 'sprints' ? change.sprints || change.taskIds.size > 0 : change.taskIds.has(key));
      if (hit) for (const uri of uris) updated.add(uri);
    }
    for (const uri of updated) void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
  });
  const previousClose = server.server.onclose;
  server.server.onclose = () => {
    unwatch();
    previousClose?.();
  };
}

/** The plan changes of one event-loop turn, coalesced (see {@link planChanges}). */
interface CoalescedChange { taskIds: Set<string>; sprints: boolean; all: boolean }

/** Per plan: the one listener all connected sessions share. */
const PLAN_CHANGES = new WeakMap<PlanService, { watch(fn: (change: CoalescedChange, shapeMoved: boolean) => void): () => void }>();

/**
 * One listener on `plan.onDidChangePlan` for every MCP session: the changes of one event-loop turn (a
 * burst of writes, an import) are coalesced and handed to each watching session once, after the turn
 * (`setImmediate`), with whether the plan's shape moved (tasks or sprints added or removed: counted once,
 * not per session). A write with N sessions connected costs one deferred callback, not N.
 * `watch` returns the function that stops watching.
 */
function planChanges(plan: PlanService): { watch(fn: (change: CoalescedChange, shapeMoved: boolean) => void): () => void } {
  let hub = PLAN_CHANGES.get(plan);
  if (hub) return hub;
  const watchers = new Set<(change: CoalescedChange, shapeMoved: boolean) => void>();
  let shape: { tasks: number; sprints: number } | undefined;
  let pending: CoalescedChange | null = null;
  const shapeNow = () => ({ tasks: plan.allTasks().length, sprints: plan.listSprints().length });
  const flush = () => {
    const change = pending!;
    pending = null;
    if (!watchers.size) return;
    const now = shapeNow();
    const moved = change.all || !shape || now.tasks !== shape.tasks || now.sprints !== shape.sprints;
    shape = now;
    for (const fn of [...watchers]) {
      try {
        fn(change, moved);
      } catch {
        // one session's failure to notify must not stop the others'
      }
    }
  };
  plan.onDidChangePlan(change => {
    if (!watchers.size) return;
    if (!pending) {
      pending = { taskIds: new Set(), sprints: false, all: false };
      setImmediate(flush);
    }
    for (const id of change.taskIds) pending.taskIds.add(id);
    pending.sprints ||= change.sprintIds.length > 0;
    pending.all ||= !!change.all;
  });
  hub = {
    watch(fn) {
      if (!watchers.size) shape = shapeNow(); // the shape the first watcher starts from
      watchers.add(fn);
      return () => { watchers.delete(fn); };
    },
  };
  PLAN_CHANGES.set(plan, hub);
  return hub;
}

function registerPrompts(server: McpServer): void {
  server.registerPrompt(PROMPT_NAMES.init, {
    title: 'Start work with Baton (INIT)',
    description: 'Tells the agent to register with Baton and resume from its memory before doing anything.',
    argsSchema: { role: z.string().optional(), task_id: z.string().optional() },
  }, ({ role, task_id }) => ({
    messages: [{
      role: 'user',
      content: {
        type: 'text',
        text: `Before anything else, call Baton's agent_init tool with your agent name, your CLI profile${role ? `, role "${role}"` : ''}${task_id ? ` and task_id "${task_id}"` : ''}, and client_time set to the current time. ` +
          'Read the memory it returns (what earlier sessions did and what they planned next) and your instructions, then state the plan it gives back, corrected if needed, and confirm it before you start. ' +
          (task_id ? '' : 'If you have no task, call claim_next_task. ') +
          'As you work, report_progress and save_context; when you need a decision, ask_human.',
      },
    }],
  }));
  server.registerPrompt(PROMPT_NAMES.handoff, {
    title: 'Hand off to another agent',
    description: 'Tells the agent to save a handoff pack and end its session so another agent can resume.',
  }, () => ({
    messages: [{
      role: 'user',
      content: {
        type: 'text',
        text: 'Hand off your work: call save_context with { currentTask, stepsDone, nextSteps, decisions, openQuestions, files } — short summaries a different agent can act on, no file contents or logs — then call end_session with outcome "handoff".',
      },
    }],
  }));
  server.registerPrompt(PROMPT_NAMES.report, {
    title: 'Report progress',
    description: 'Tells the agent to report where it stands on its task.',
    argsSchema: { task_id: z.string().optional() },
  }, ({ task_id }) => ({
    messages: [{
      role: 'user',
      content: {
        type: 'text',
        text: `Report your progress on ${task_id ?? 'your current task'} to Baton: call report_progress with the checkpoints you finished (by number), a short note of what changed, and tests_passed: true if the tests pass. Then save_context with your next steps.`,
      },
    }],
  }));
}
