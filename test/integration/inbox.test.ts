// In the real extension host: an agent (a real MCP SDK client over HTTP) asks the human through
// `ask_human`; the request shows in the Inbox view with a badge; the person answers, approves or rejects
// it through Baton's commands and the agent gets the decision; interventions and pauses reach the agent.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { BatonApi } from '../../src/extension';
import { batonApi, EXTENSION_ID } from './extensionApi';
import type { Task } from '../../src/core/model';
import type { InboxNode } from '../../src/ui/inboxTree';

const AGENT = 'it-inbox-agent';

const api = batonApi;

interface ToolResult { isError?: boolean; content: { type: string; text?: string }[] }

/** The texts of a tool result, and its first text parsed as JSON (Baton's tools answer in JSON). */
function parse(result: ToolResult): { json: any; texts: string[] } {
  const texts = result.content.filter(c => c.type === 'text').map(c => c.text ?? '');
  assert.ok(!result.isError, `the tool failed: ${texts.join(' ')}`);
  return { json: JSON.parse(texts[0]), texts };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ json: any; texts: string[] }> {
  return parse(await client.callTool({ name, arguments: args }, undefined, { timeout: 90_000 }) as ToolResult);
}

/** Polls `fn` until it returns a truthy value (the tree is refreshed from MCP requests, which arrive asynchronously). */
async function until<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

suite('Baton inbox in the extension host', () => {
  let baton: BatonApi;
  let agent: Client;
  let session: { id: string };
  let task: Task;

  /** The Inbox view's open requests, as VS Code gets them (nodes compared by `kind`: the test bundle has its own classes). */
  const openNodes = () => baton.inboxTree.getChildren().filter((n): n is Extract<InboxNode, { kind: 'request' }> => n.kind === 'request');
  const openNode = (text: string) => openNodes().find(n => n.request.text === text);

  suiteSetup(async () => {
    baton = await api();
    if (!baton.plan.allTasks().length) {
      const folder = vscode.workspace.workspaceFolders![0].uri;
      await vscode.commands.executeCommand('baton.importPlan', vscode.Uri.joinPath(folder, 'PLAN.md'));
    }
    assert.ok(baton.mcpUrl, 'the MCP server is running');
    const token = fs.readFileSync(path.join(baton.storageDir, 'mcp-token'), 'utf8').trim();
    agent = new Client({ name: AGENT, version: '1' });
    await agent.connect(new StreamableHTTPClientTransport(new URL(baton.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const ready = baton.plan.readyTasks()[0];
    assert.ok(ready, 'the plan has a ready task');
    const init = (await call(agent, 'agent_init', { agent: AGENT, task_id: ready.id })).json;
    session = init.session;
    assert.match(session.id, /^A-\d+$/);
    assert.equal(init.task.id, ready.id);
    task = baton.plan.getTask(ready.id);
  });

  suiteTeardown(async () => {
    await agent?.close();
  });

  test('a waiting ask_human shows in the Inbox; Baton: Answer Request answers the agent', async () => {
    assert.equal(openNodes().length, 0, 'the inbox starts empty');
    const waiting = call(agent, 'ask_human', { question: 'Which database?', options: ['PostgreSQL', 'SQLite'], wait_seconds: 60 });
    let settled = false;
    void waiting.then(() => { settled = true; }, () => { settled = true; });

    const node = await until(() => openNode('Which database?'), "'Which database?' in the Inbox view");
    const item = baton.inboxTree.getTreeItem(node);
    assert.equal(item.label, 'Which database?');
    assert.match(String(item.description), new RegExp(`^Q-\\d+ · ${AGENT}#${session.id} · ${task.id} · just now$`));
    assert.equal(item.contextValue, 'request open kind-question');
    assert.equal(item.command?.command, 'baton.answerRequest', 'clicking the item answers it');
    assert.equal(baton.inboxTree.view.badge?.value, 1, 'the view\'s badge counts the open request');
    assert.equal(settled, false, 'the agent is still waiting for the answer');

    const id = node.request.id;
    const resolved = await vscode.commands.executeCommand<{ status: string }>('baton.answerRequest', id, 'Use PostgreSQL');
    assert.equal(resolved?.status, 'answered');

    const answer = (await waiting).json;
    assert.equal(answer.request_id, id);
    assert.equal(answer.status, 'answered');
    assert.equal(answer.answer, 'Use PostgreSQL');

    assert.equal(openNode('Which database?'), undefined, 'the answered request is no longer open in the view');
    assert.equal(baton.inboxTree.view.badge, undefined, 'no badge without open requests');
    const group = baton.inboxTree.getChildren().find(n => n.kind === 'resolved');
    assert.ok(group, "the view has a 'Recently resolved' group");
    const done = baton.inboxTree.getChildren(group).find(n => n.kind === 'request' && n.request.id === id);
    assert.ok(done, `${id} is under 'Recently resolved'`);
    assert.match(String(baton.inboxTree.getTreeItem(done).description), /answered: Use PostgreSQL$/);

    const activity = baton.plan.listActivity({ taskId: task.id, limit: 50 });
    assert.ok(activity.some(e => e.action === 'inbox.answered' && e.detail?.includes(`${id} answered: Use PostgreSQL`)),
      `the answer is in ${task.id}'s activity: ${JSON.stringify(activity.map(e => `${e.action} ${e.detail ?? ''}`))}`);
  });

  test('Baton: Approve Request (id, note) reaches the agent waiting for the decision', async () => {
    const waiting = call(agent, 'ask_human', { kind: 'approval', question: 'May I drop the legacy orders table?', wait_seconds: 60 });
    waiting.catch(() => undefined); // handled below; keeps a failed assertion from leaving an unhandled rejection
    const node = await until(() => openNode('May I drop the legacy orders table?'), 'the approval request in the Inbox view');
    assert.equal(baton.inboxTree.getTreeItem(node).contextValue, 'request open kind-approval');
    await vscode.commands.executeCommand('baton.approveRequest', node.request.id, 'Go ahead, keep a backup');
    const decision = (await waiting).json;
    assert.equal(decision.status, 'approved');
    assert.equal(decision.answer, 'Go ahead, keep a backup');
  });

  test('Baton: Reject Request (id, note) reaches the agent through get_human_answer, as ask_human\'s hint says', async () => {
    const asked = (await call(agent, 'ask_human', { kind: 'approval', question: 'May I rewrite the billing module?' })).json;
    assert.equal(asked.status, 'open', 'without wait_seconds ask_human returns at once');
    assert.match(asked.hint, /get_human_answer/);
    await until(() => openNode('May I rewrite the billing module?'), 'the rejected request in the Inbox view');
    await vscode.commands.executeCommand('baton.rejectRequest', asked.request_id, 'No: only fix the rounding bug');
    assert.equal(openNode('May I rewrite the billing module?'), undefined);
    // The agent tools VS Code registers (the default `core` tier) must include the tool the hint names.
    const tools = (await agent.listTools()).tools.map(t => t.name);
    assert.ok(tools.includes('get_human_answer'),
      `ask_human tells the agent to call get_human_answer, but the agent's tools are: ${tools.join(', ')}`);
    const decision = (await call(agent, 'get_human_answer', { request_id: asked.request_id })).json;
    assert.equal(decision.status, 'rejected');
    assert.equal(decision.answer, 'No: only fix the rounding bug');
  });

  test('Baton: Intervene reaches the agent on its next call; Baton: Pause Task blocks the task', async () => {
    const sent = await vscode.commands.executeCommand<{ delivered: number }>('baton.interveneTask', task.id, 'Use PostgreSQL, not SQLite');
    assert.equal(sent?.delivered, 1, 'the intervention went to the agent session on the task');
    const next = await call(agent, 'get_task', { task_id: task.id });
    assert.ok(next.texts.some(t => /You have 1 unread message.*check_messages/.test(t)), `the next tool result tells of the message: ${next.texts.slice(1).join(' | ')}`);
    const inbox = (await call(agent, 'check_messages')).json;
    assert.deepEqual(inbox.messages.map((m: { body: string }) => m.body), ['Use PostgreSQL, not SQLite']);
    assert.equal(inbox.messages[0].task_id, task.id);

    const paused = await vscode.commands.executeCommand<Task>('baton.pauseTask', task.id, 'Needs architecture review');
    assert.equal(paused?.status, 'BLOCKED');
    assert.equal(baton.plan.getTask(task.id).status, 'BLOCKED');
    const told = (await call(agent, 'check_messages')).json;
    assert.equal(told.messages.length, 1);
    assert.match(told.messages[0].body, /paused .*Needs architecture review/);
  });

  /** The Inbox's Messages group and its messages, as VS Code gets them. */
  const messagesGroup = () => baton.inboxTree.getChildren().find(n => n.kind === 'messages');
  const messageNode = (body: string) => {
    const group = messagesGroup();
    return group && baton.inboxTree.getChildren(group).find((n): n is Extract<InboxNode, { kind: 'message' }> => n.kind === 'message' && n.message.body === body);
  };
  const badge = () => baton.inboxTree.view.badge?.value ?? 0;

  test('a request\'s notification closes once it is answered (no stale Answer button)', async () => {
    const asked = (await call(agent, 'ask_human', { question: 'Tabs or spaces?' })).json;
    await until(() => baton.inboxTree.openNotifications().includes(`request:${asked.request_id}`), 'the notification for the new request');
    await vscode.commands.executeCommand('baton.answerRequest', asked.request_id, 'Spaces');
    assert.ok(!baton.inboxTree.openNotifications().includes(`request:${asked.request_id}`), 'the answered request\'s notification is gone');
  });

  test('a message an agent sends to "human" shows in the Inbox unread and counts in the badge; Reply reaches the agent', async () => {
    const before = badge();
    const sent = (await call(agent, 'send_message', { to: 'human', subject: 'Schema question', body: 'Should users have soft delete?', task_id: task.id })).json;
    assert.equal(sent.recipients, 1);
    const node = await until(() => messageNode('Should users have soft delete?'), 'the message in the Inbox view');
    assert.equal(node.message.id, sent.message_id);
    const group = messagesGroup()!;
    const groupItem = baton.inboxTree.getTreeItem(group);
    assert.equal(groupItem.label, 'Messages');
    assert.equal(groupItem.id, 'messages', 'a stable id, so its expansion is remembered');
    assert.equal(groupItem.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    assert.equal(groupItem.description, '1 unread');
    const item = baton.inboxTree.getTreeItem(node);
    assert.equal(typeof item.label === 'string' ? item.label : item.label?.label, 'Schema question');
    assert.match(String(item.description), new RegExp(`^unread · ${sent.message_id} · ${AGENT}#${session.id} · ${task.id} · just now$`));
    assert.equal(item.contextValue, 'message unread from-session', 'Reply and Mark Read show on it');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'mail');
    assert.equal(item.command?.command, 'baton.openMessage', 'clicking it opens the whole message');
    assert.equal(badge(), before + 1, 'the badge counts the unread message');
    assert.match(String(baton.inboxTree.view.badge?.tooltip), /1 unread message/);
    assert.ok(baton.inboxTree.openNotifications().includes(`message:${sent.message_id}`), 'a notification tells of the message');

    const reply = await vscode.commands.executeCommand<{ message: { id: string; subject: string }; recipients: number }>('baton.replyToMessage', node, 'Yes: soft delete with a deleted_at column');
    assert.equal(reply?.recipients, 1);
    assert.equal(reply?.message.subject, 'Re: Schema question');
    // The agent finds the reply in its own mailbox, through its own tool.
    const mail = (await call(agent, 'check_messages')).json;
    assert.deepEqual(mail.messages.map((m: { body: string; subject: string; task_id: string }) => [m.body, m.subject, m.task_id]),
      [['Yes: soft delete with a deleted_at column', 'Re: Schema question', task.id]]);
    assert.equal(baton.services.messages.unreadCount({ kind: 'session', id: session.id }), 0, 'the agent has read it');

    assert.equal(badge(), before, 'replying marks the message read');
    assert.doesNotMatch(String(baton.inboxTree.getTreeItem(messageNode('Should users have soft delete?')!).description), /unread/);
    assert.equal(baton.inboxTree.getTreeItem(messagesGroup()!).description, undefined);
    assert.ok(!baton.inboxTree.openNotifications().includes(`message:${sent.message_id}`), 'its notification closed: no stale Reply');
  });

  test('Mark Read clears the badge; Open shows the whole message', async () => {
    const before = badge();
    const long = `Migration plan:\n\n1. add the column\n2. backfill\n3. ${'x'.repeat(300)}`;
    const sent = (await call(agent, 'send_message', { to: 'human', body: long })).json;
    const node = await until(() => messageNode(long), 'the second message in the Inbox view');
    assert.equal(badge(), before + 1);
    const label = baton.inboxTree.getTreeItem(node).label;
    assert.equal(typeof label === 'string' ? label : label?.label, 'Migration plan:', 'without a subject, the first line is the label');
    const changed = await vscode.commands.executeCommand<number>('baton.markMessageRead', node);
    assert.equal(changed, 1);
    assert.equal(badge(), before, 'Mark Read clears the badge count');
    assert.equal(baton.inboxTree.getTreeItem(messageNode(long)!).contextValue, 'message read from-session');
    assert.ok(!baton.inboxTree.openNotifications().includes(`message:${sent.message_id}`));

    const uri = await vscode.commands.executeCommand<vscode.Uri>('baton.openMessage', sent.message_id);
    assert.ok(uri, 'Open returns the message document');
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.ok(doc.getText().includes(long), 'the document holds the whole body');
    assert.match(doc.getText(), new RegExp(`\\*\\*From\\*\\* ${AGENT}#${session.id} .* ${sent.message_id} · read `));
    assert.equal(baton.services.messages.unreadCount({ kind: 'user', id: 'human' }), 0, 'nothing unread is left for the person');
  });
});
