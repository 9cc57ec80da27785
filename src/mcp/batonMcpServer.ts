import { McpServer, ResourceTemplate, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Actor } from '../core/model';
import type { ArtifactService } from '../services/artifactService';
import type { InboxService } from '../services/inboxService';
import type { MessageService } from '../services/messageService';
import type { PlanService } from '../services/planService';
import type { SessionService } from '../services/sessionService';
import type { WorkflowService } from '../services/workflowService';
import type { AgentSession } from '../store/coordinationRepository';
import { registerArtifactTools } from './artifactTools';
import { registerCoordinationTools, registerOperatorTools, type Caller } from './coordinationTools';
import { registerImportTool, registerPlanTools, taskSummary } from './planTools';

export const MCP_SERVER_NAME = 'baton';

/** The services MCP exposes; built by `WorkspaceOwner`. */
export interface BatonServices {
  plan: PlanService;
  sessions: SessionService;
  inbox: InboxService;
  messages: MessageService;
  workflow: WorkflowService;
  artifacts: ArtifactService;
}

/**
 * Tool tiers, because every listed tool costs the agent tokens:
 * - `core`: the ~10 tools of an agent's normal loop (INIT, claim, read, progress, context, ask, messages, complete, end);
 * - `full`: every agent tool (plan editing, dependencies, artifacts, sessions, …);
 * - `operator`: `full` plus the person's side (inbox answers, pause, intervene, approve, activity) — the `baton` CLI.
 */
export const TOOL_TIERS = ['core', 'full', 'operator'] as const;
export type ToolTier = (typeof TOOL_TIERS)[number];

export const CORE_TOOLS = [
  'agent_init', 'claim_next_task', 'list_tasks', 'get_task', 'report_progress', 'save_context', 'ask_human',
  'get_human_answer', 'check_messages', 'send_message', 'complete_task', 'end_session',
] as const;

const INSTRUCTIONS = `Baton holds this workspace's plan (sprints, tasks with dependencies) and coordinates the agents working on it.
Start with agent_init: it tells you who you are, your memory from earlier sessions (handoff packs), and the plan to confirm.
Loop: claim_next_task → work → report_progress and save_context as you go → ask_human when you need a decision → complete_task with a summary, or end_session to hand off.
Task ids look like T-12, sprints S-2, sessions A-3, inbox requests Q-4.`;

export interface McpServerOptions {
  version: string;
  tier: ToolTier;
  /** The transport's session id, when there is one (HTTP). */
  mcpSessionId: () => string | undefined;
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
 * Builds one MCP server instance (one per client connection) over Baton's services: tools by tier,
 * resources (tasks, sprints, task details, handoff context, artifacts) and prompts (INIT, handoff,
 * report progress). An agent connection gets an agent-session record when it initializes, ended when
 * it disconnects; every tool answer tells the agent when it has unread messages (interventions).
 */
export function createBatonMcpServer(services: BatonServices, options: McpServerOptions): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, title: 'Baton', version: options.version }, { instructions: INSTRUCTIONS });
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
    if (session) sessions.disconnect(session.id);
  };

  // Every tool is registered through this wrapper: it records the handle (for tiers), keeps the
  // session's current task in step with claims, and appends the unread-messages notice.
  const tools = new Map<string, RegisteredTool>();
  const wrapped = new Proxy(server, {
    get(target, prop, receiver) {
      if (prop !== 'registerTool') return Reflect.get(target, prop, receiver);
      return (name: string, config: unknown, cb: (...a: unknown[]) => Promise<CallToolResult>) => {
        const handle = target.registerTool(name, config as never, (async (...a: unknown[]) => {
          // Group commit: the tool's writes share one fdatasync with concurrent calls; answer once on disk.
          const result = commit ? await commit.groupCommit(() => cb(...a)) : await cb(...a);
          if (commit) await commit.durable();
          return afterTool(name, result);
        }) as never);
        tools.set(name, handle);
        return handle;
      };
    },
  });
  const afterTool = (name: string, result: CallToolResult): CallToolResult => {
    const s = session;
    if (!s) return result;
    if (name === 'claim_next_task' && !result.isError) {
      const claimed = JSON.parse((result.content[0] as { text: string }).text).task;
      if (claimed?.id) sessions.attachTask(s.id, claimed.id);
    }
    if (name !== 'check_messages') {
      const unread = messages.unreadCount({ kind: 'session', id: s.id });
      if (unread) {
        result.content.push({ type: 'text', text: `📬 You have ${unread} unread message${unread > 1 ? 's' : ''} (from the human or other agents): call check_messages now.` });
      }
    }
    return result;
  };

  const actorOf = () => caller.actor();
  registerPlanTools(wrapped, plan, actorOf);
  registerImportTool(wrapped, plan, actorOf);
  registerCoordinationTools(wrapped, services, caller);
  registerArtifactTools(wrapped, services.artifacts, actorOf);
  if (operator) registerOperatorTools(wrapped, services, caller);
  if (operator && options.onHandover) {
    const handover = options.onHandover;
    server.registerTool('hand_over', {
      title: 'Hand the workspace over',
      description: 'Asks this headless owner to release the workspace state so VS Code can own it on the same address. The owner stops right after answering.',
      inputSchema: z.object({ to: z.string().max(100).default('vscode') }).strict(),
    }, async ({ to }) => {
      setTimeout(handover, 100);
      return { content: [{ type: 'text', text: JSON.stringify({ releasing: true, to }) }] };
    });
  }
  if (options.tier === 'core') {
    for (const [name, handle] of tools) if (!(CORE_TOOLS as readonly string[]).includes(name)) handle.disable();
  }

  registerResources(server, services);
  registerSessionContext(server, services);
  registerPrompts(server);
  return server;
}

function json(uri: string, value: unknown) {
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 1) }] };
}

function registerResources(server: McpServer, { plan, sessions }: BatonServices): void {
  server.registerResource('tasks', 'baton://tasks', { title: 'All tasks', description: 'Every task of the plan, compact, in plan order.', mimeType: 'application/json' },
    uri => json(uri.href, plan.allTasks().map(taskSummary)));
  server.registerResource('sprints', 'baton://sprints', { title: 'Sprints', description: 'Sprints with goals and progress.', mimeType: 'application/json' },
    uri => json(uri.href, plan.listSprints().map(s => ({ id: s.id, name: s.name, goal: s.goal, state: s.state, ...plan.sprintProgress(s.id) }))));
  server.registerResource('task', new ResourceTemplate('baton://task/{id}', {
    list: () => ({ resources: plan.allTasks().slice(0, 200).map(t => ({ uri: `baton://task/${t.id}`, name: `${t.id} ${t.title}`, mimeType: 'application/json' })) }),
  }), { title: 'Task details', description: 'One task with checkpoints, dependencies, notes and activity.', mimeType: 'application/json' },
  (uri, { id }) => {
    const d = plan.getTaskDetails(plan.resolveTask(String(id)).id, 20);
    return json(uri.href, { ...d.task, sprint: d.sprint?.name ?? null, checkpoints: d.checkpoints, depends_on: d.dependsOn, notes: d.notes, activity: d.activity });
  });
  server.registerResource('context', new ResourceTemplate('baton://context/{task_id}', { list: undefined }), {
    title: 'Task context / handoff pack', description: 'The newest saved context or handoff pack of a task, readable by people and agents.', mimeType: 'text/markdown',
  }, (uri, { task_id }) => {
    const id = plan.resolveTask(String(task_id)).id;
    return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: sessions.handoffMarkdown(id) ?? `No context saved for ${id} yet.` }] };
  });
}

function registerSessionContext(server: McpServer, { sessions }: BatonServices): void {
  server.registerResource('session-context', new ResourceTemplate('baton://session/{session_id}/context', {
    list: () => ({ resources: sessions.list({ limit: 50 }).map(s => ({ uri: `baton://session/${s.id}/context`, name: `${s.id} ${s.agentName}`, mimeType: 'application/json' })) }),
  }), { title: 'Session context', description: 'The newest context an agent session saved.', mimeType: 'application/json' }, (uri, { session_id }) => {
    const loaded = sessions.loadContext({ sessionId: String(session_id) });
    return json(uri.href, loaded ? { context: loaded.pack.context, kind: loaded.saved.kind, task_id: loaded.saved.taskId, saved_at: loaded.saved.createdAt, dropped: loaded.pack.dropped } : { context: null });
  });
}

function registerPrompts(server: McpServer): void {
  server.registerPrompt('init', {
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
  server.registerPrompt('handoff', {
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
  server.registerPrompt('report_progress', {
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
