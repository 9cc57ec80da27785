import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Actor } from '../core/model';
import type { AgentSession } from '../store/coordinationRepository';
import type { InboxService } from '../services/inboxService';
import { HUMAN, type MessageService } from '../services/messageService';
import type { PlanService } from '../services/planService';
import type { SessionService } from '../services/sessionService';
import type { WorkflowService } from '../services/workflowService';
import { cursorArgument, decodeCursor, encodeCursor } from './jsonRpc';
import { runTool } from './toolResult';
import { taskSummary } from './planTools';

export interface CoordinationDeps {
  plan: PlanService;
  sessions: SessionService;
  inbox: InboxService;
  messages: MessageService;
  workflow: WorkflowService;
}

/** Who is calling: the agent session of this MCP connection, or the person (operator tier: the CLI). */
export interface Caller {
  session(): AgentSession | null;
  actor(): Actor;
}

const taskId = z.string().min(1).max(100).describe('Task id, e.g. "T-12"');
const contextSchema = z.record(z.string(), z.unknown()).describe('What you learned: { currentTask, stepsDone[], nextSteps[], decisions, openQuestions[], files[], notes } and any small custom facts');

/** A keyset cursor: the number of the last item of the previous page (ids are `<prefix>-<number>`). */
const idCursor = z.object({ after: z.number().int().min(0) }).strict();
const idNumber = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));

function requireSession(caller: Caller): AgentSession {
  const s = caller.session();
  if (!s) throw new Error('This tool is for agent sessions.');
  return s;
}

/** The task a tool acts on: the given one, else the session's current task. */
function taskOf(deps: CoordinationDeps, caller: Caller, ref?: string): string {
  if (ref) return deps.plan.resolveTask(ref).id;
  const s = caller.session();
  if (s?.taskId) return s.taskId;
  throw new Error('Give task_id: this session has no current task (claim_next_task or agent_init with task_id first).');
}

/** Registers the agent side of coordination: INIT, progress, context, handoff, the human inbox and messages. */
export function registerCoordinationTools(server: McpServer, deps: CoordinationDeps, caller: Caller): void {
  const { plan, sessions, inbox, messages, workflow } = deps;

  server.registerTool('agent_init', {
    title: 'Start here: who am I and what do I do',
    description: 'Call this first. Registers you (agent name, profile, role) and returns your memory from earlier sessions on your task (handoff packs from any agent), your role instructions, Baton\'s health and the plan to confirm. With task_id you take that task: it must be ready (as claim_next_task would pick it) or one already in progress that no connected agent holds; if it is refused, nothing changes.',
    inputSchema: z.object({
      agent: z.string().max(80).optional().describe('Your name, e.g. "claude-code"'),
      profile: z.string().max(80).optional().describe('Your CLI profile: claude, gemini, qwen, codex, aider, …'),
      role: z.string().max(80).optional().describe('Role name of an agent definition in .claude/agents/<role>.md'),
      task_id: taskId.optional().describe('The task you are to work on, if you were given one'),
      client_time: z.string().max(40).optional().describe('Your current time (ISO 8601), to check clocks'),
    }).strict(),
  }, args => runTool(() => {
    const session = requireSession(caller);
    return sessions.init(session.id, { agentName: args.agent, profile: args.profile, role: args.role, taskId: args.task_id, clientTime: args.client_time });
  }));

  server.registerTool('report_progress', {
    title: 'Report progress',
    description: 'Reports progress on your task: check a checkpoint (by number or title), set percent (tasks without checkpoints), add a note, and/or say tests pass (moves the task to review by the workflow rules).',
    inputSchema: z.object({
      task_id: taskId.optional().describe('Default: your current task'),
      checkpoint: z.union([z.number().int().min(1), z.string().min(1).max(500)]).optional(),
      done: z.boolean().default(true).describe('With checkpoint: checked or not'),
      percent: z.number().min(0).max(100).optional(),
      note: z.string().min(1).max(20_000).optional(),
      tests_passed: z.boolean().optional(),
    }).strict(),
  }, args => runTool(() => {
    const id = taskOf(deps, caller, args.task_id);
    const actor = caller.actor();
    if (args.checkpoint !== undefined) plan.setCheckpoint(id, String(args.checkpoint), args.done, actor);
    if (args.percent !== undefined) plan.setProgress(id, args.percent, actor);
    if (args.note) plan.addNote(id, args.note, actor);
    if (args.tests_passed) workflow.apply('tests.passed', id, actor, 'Agent reports: tests pass.');
    const details = plan.getTaskDetails(id, 0);
    if (args.checkpoint !== undefined && details.checkpoints.length && details.checkpoints.every(c => c.done)) {
      workflow.apply('checkpoints.completed', id, actor);
    }
    return { ...taskSummary(plan.getTask(id)), checkpoints: details.checkpoints.map((c, i) => ({ n: i + 1, title: c.title, done: c.done })) };
  }));

  server.registerTool('save_context', {
    title: 'Save context',
    description: 'Saves what you learned so you or another agent can resume: merged into your latest saved context for the task, secrets redacted, packed to a size budget (4 KB by default); the answer says what was dropped. Summaries only — never whole files or logs.',
    inputSchema: z.object({ context: contextSchema, task_id: taskId.optional(), mode: z.enum(['merge', 'replace']).default('merge') }).strict(),
  }, args => runTool(() => {
    const session = requireSession(caller);
    const { saved, pack } = sessions.saveContext(session.id, args.context, { taskId: args.task_id, mode: args.mode });
    return { context_id: saved.id, task_id: saved.taskId, bytes: pack.bytes, budget: pack.budget, dropped: pack.dropped };
  }));

  server.registerTool('load_context', {
    title: 'Load context',
    description: 'The newest saved context or handoff pack for a task (from any agent), or of a session.',
    inputSchema: z.object({ task_id: taskId.optional(), session_id: z.string().max(40).optional() }).strict(),
  }, args => runTool(() => {
    const loaded = sessions.loadContext({ taskId: args.task_id ?? caller.session()?.taskId ?? undefined, sessionId: args.session_id });
    if (!loaded) return { context: null };
    return {
      context: loaded.pack.context, kind: loaded.saved.kind, saved_at: loaded.saved.createdAt, bytes: loaded.pack.bytes,
      dropped: loaded.pack.dropped, from: loaded.session ? `${loaded.session.agentName}#${loaded.session.id}` : null,
    };
  }));

  server.registerTool('end_session', {
    title: 'End session (handoff)',
    description: 'Ends your session. If your task is unfinished, leaves a handoff pack (your latest saved context, or `handoff`) and returns the task to TODO so another agent — any CLI — resumes it from the pack.',
    inputSchema: z.object({
      outcome: z.enum(['done', 'handoff', 'abandoned']).optional(),
      handoff: contextSchema.optional(),
      summary: z.string().max(20_000).optional(),
    }).strict(),
  }, args => runTool(() => {
    const session = requireSession(caller);
    const result = sessions.endSession(session.id, { outcome: args.outcome, handoff: args.handoff, summary: args.summary });
    return {
      session_id: result.session.id, outcome: result.session.endReason, handoff_id: result.handoff?.id ?? null,
      task: result.task && taskSummary(result.task),
    };
  }));

  server.registerTool('ask_human', {
    title: 'Ask the human',
    description: 'Puts a question, an approval request (say what you intend to do) or a blocker in the human\'s inbox. With wait_seconds > 0 the call waits for the answer and returns it; otherwise poll with get_human_answer. Requests are never lost.',
    inputSchema: z.object({
      question: z.string().min(1).max(20_000),
      kind: z.enum(['question', 'approval', 'blocked']).default('question'),
      options: z.array(z.string().min(1).max(500)).max(20).optional().describe('Suggested answers'),
      task_id: taskId.optional().describe('Default: your current task'),
      wait_seconds: z.number().int().min(0).max(3600).default(0),
    }).strict(),
  }, (args, extra) => runTool(async () => {
    const request = inbox.ask({ kind: args.kind, text: args.question, options: args.options, taskId: args.task_id, session: caller.session(), agentName: caller.actor().name });
    const answered = await inbox.waitForAnswer(request.id, args.wait_seconds * 1000, extra.signal, progressTicker(extra, args.wait_seconds));
    return answerOf(answered);
  }));

  server.registerTool('get_human_answer', {
    title: 'Get the answer to an inbox request',
    description: 'The status and answer of a request you made with ask_human; waits up to wait_seconds for it.',
    inputSchema: z.object({ request_id: z.string().min(1).max(20), wait_seconds: z.number().int().min(0).max(3600).default(0) }).strict(),
  }, (args, extra) => runTool(async () => answerOf(await inbox.waitForAnswer(args.request_id, args.wait_seconds * 1000, extra.signal, progressTicker(extra, args.wait_seconds)))));

  server.registerTool('send_message', {
    title: 'Send a message',
    description: 'Messages the human ("human"), another agent session ("A-3"), the agents on a task ("task:T-5"), every active agent of a sprint ("sprint:S-2"), or all agents ("all").',
    inputSchema: z.object({
      to: z.string().min(1).max(60),
      body: z.string().min(1).max(100_000),
      subject: z.string().max(200).optional(),
      task_id: taskId.optional().describe('Links the message to a task'),
    }).strict(),
  }, args => runTool(() => {
    const session = caller.session();
    const actor = caller.actor();
    const from = session ? { kind: 'session' as const, id: session.id, name: actor.name } : { kind: 'user' as const, id: HUMAN.id, name: actor.name };
    const { message, recipients } = messages.send({ from, to: args.to, body: args.body, subject: args.subject, taskId: args.task_id });
    return { message_id: message.id, recipients };
  }));

  server.registerTool('check_messages', {
    title: 'Check messages',
    description: 'Your unread messages (from the human, including interventions, and from other agents), oldest first; marks them read unless mark_read is false.',
    inputSchema: z.object({ include_read: z.boolean().default(false), mark_read: z.boolean().default(true), limit: z.number().int().min(1).max(200).default(50) }).strict(),
  }, args => runTool(() => {
    const session = caller.session();
    const box = session ? { kind: 'session' as const, id: session.id } : HUMAN;
    const list = messages.read(box, { unreadOnly: !args.include_read, markRead: args.mark_read, limit: args.limit });
    return { messages: list.map(m => ({ id: m.id, from: m.from.name, subject: m.subject, body: m.body, task_id: m.taskId, at: m.createdAt })) };
  }));

  server.registerTool('list_sessions', {
    title: 'List agent sessions',
    description: 'Agent sessions, newest first: agent, profile, role, task, status. One page at a time: pass nextCursor back as cursor for the next page (absent on the last page).',
    inputSchema: z.object({
      active_only: z.boolean().default(true),
      cursor: cursorArgument(idCursor).optional(),
      limit: z.number().int().min(1).max(200).default(50).describe('Page size'),
    }).strict(),
  }, args => runTool(() => {
    const after = args.cursor === undefined ? undefined : decodeCursor(args.cursor, idCursor).after;
    const page = sessions.list({ status: args.active_only ? 'active' : undefined, limit: args.limit + 1, beforeNum: after });
    const items = page.slice(0, args.limit);
    return {
      sessions: items.map(s => ({
        id: s.id, agent: s.agentName, profile: s.profile, role: s.role, task_id: s.taskId, status: s.status, started_at: s.startedAt, ended: s.endReason,
      })),
      ...(page.length > args.limit ? { nextCursor: encodeCursor({ after: idNumber(items[items.length - 1].id) }) } : {}),
    };
  }));
}

/** The person's side (the `baton` CLI's operator tier): the inbox, pause, intervene, approve, activity. */
export function registerOperatorTools(server: McpServer, deps: CoordinationDeps, caller: Caller): void {
  const { plan, inbox } = deps;
  const requestId = z.string().min(1).max(20).describe('Inbox request id, e.g. "Q-3"');

  server.registerTool('list_inbox', {
    title: 'The human inbox',
    description: 'Open requests from every agent (oldest first), or all requests (newest first) with include_resolved. One page at a time: pass nextCursor back as cursor for the next page (absent on the last page).',
    inputSchema: z.object({
      include_resolved: z.boolean().default(false),
      cursor: cursorArgument(idCursor).optional(),
      limit: z.number().int().min(1).max(500).default(100).describe('Page size'),
    }).strict(),
  }, args => runTool(() => {
    const after = args.cursor === undefined ? undefined : decodeCursor(args.cursor, idCursor).after;
    const page = inbox.list({ includeResolved: args.include_resolved, limit: args.limit + 1, afterNum: after });
    const requests = page.slice(0, args.limit);
    return { requests, ...(page.length > args.limit ? { nextCursor: encodeCursor({ after: idNumber(requests[requests.length - 1].id) }) } : {}) };
  }));

  server.registerTool('answer_request', {
    title: 'Answer an inbox request',
    description: 'Answers a question or blocker; the waiting agent gets the answer as its tool result.',
    inputSchema: z.object({ request_id: requestId, answer: z.string().min(1).max(20_000) }).strict(),
  }, args => runTool(() => inbox.answer(args.request_id, args.answer, caller.actor())));

  server.registerTool('reject_request', {
    title: 'Reject an inbox request',
    description: 'Rejects a request with a note saying why or what to do instead.',
    inputSchema: z.object({ request_id: requestId, note: z.string().min(1).max(20_000) }).strict(),
  }, args => runTool(() => inbox.reject(args.request_id, args.note, caller.actor())));

  server.registerTool('approve', {
    title: 'Approve a request or a task',
    description: 'With a request id (Q-3): approves what the agent intends to do. With a task id (T-5): approves the task to ship (→ DONE by the workflow rules), with feedback.',
    inputSchema: z.object({ id: z.string().min(1).max(100), feedback: z.string().max(20_000).optional() }).strict(),
  }, args => runTool(() => (/^\s*q-?\d+\s*$/i.test(args.id)
    ? inbox.approve(args.id, args.feedback, caller.actor())
    : taskSummary(inbox.approveTask(args.id, args.feedback, caller.actor())))));

  server.registerTool('pause_task', {
    title: 'Pause a task',
    description: 'Blocks a task with a reason ("needs architecture review") and tells the agents working on it.',
    inputSchema: z.object({ task_id: taskId, reason: z.string().min(1).max(20_000) }).strict(),
  }, args => runTool(() => taskSummary(inbox.pauseTask(args.task_id, args.reason, caller.actor()))));

  server.registerTool('intervene', {
    title: 'Intervene in a running task',
    description: 'Sends a message to the agents working on a task (they see it on their next call) and notes it on the task.',
    inputSchema: z.object({ task_id: taskId, message: z.string().min(1).max(20_000) }).strict(),
  }, args => runTool(() => {
    const { task, delivered } = inbox.intervene(args.task_id, args.message, caller.actor());
    return { task: taskSummary(task), delivered_to_sessions: delivered };
  }));

  server.registerTool('list_activity', {
    title: 'Activity log',
    description: 'Who did what when, newest first; after_id returns only newer entries (for watching).',
    inputSchema: z.object({ task_id: taskId.optional(), after_id: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(500).default(50) }).strict(),
  }, args => runTool(() => {
    const entries = plan.listActivity({ taskId: args.task_id ? plan.resolveTask(args.task_id).id : undefined, limit: args.limit, afterId: args.after_id });
    return { activity: entries.map(e => ({ id: e.id, at: e.at, by: e.actor.name, kind: e.actor.kind, action: e.action, task_id: e.taskId, detail: e.detail })) };
  }));
}

function answerOf(r: { id: string; status: string; answer: string | null; answeredBy: string | null; answeredAt: string | null; text: string }) {
  return r.status === 'open'
    ? { request_id: r.id, status: 'open', answer: null, hint: `No answer yet. Call get_human_answer with request_id "${r.id}" and wait_seconds to wait again.` }
    : { request_id: r.id, status: r.status, answer: r.answer, answered_by: r.answeredBy, answered_at: r.answeredAt };
}

/** Sends MCP progress notifications while a tool waits, when the client asked for them (keeps its timeout from firing). */
function progressTicker(extra: { _meta?: { progressToken?: string | number }; sendNotification: (n: any) => Promise<void> }, totalSeconds: number) {
  const token = extra._meta?.progressToken;
  if (token === undefined) return undefined;
  return (elapsedMs: number) => {
    void extra.sendNotification({
      method: 'notifications/progress',
      params: { progressToken: token, progress: Math.round(elapsedMs / 1000), total: totalSeconds, message: 'Waiting for the human to answer…' },
    }).catch(() => undefined);
  };
}
