import * as vscode from 'vscode';
import { HUMAN, type MessageService } from '../services/messageService';
import type { PlanService } from '../services/planService';
import type { ReceivedMessage } from '../store/coordinationRepository';
import { Disposable } from './lifecycle';

export const MESSAGE_SCHEME = 'baton-message';

/** URI of a message's document, e.g. `baton-message:/M-3.md`. */
export function messageDocumentUri(messageId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: MESSAGE_SCHEME, path: `/${messageId}.md` });
}

/**
 * A message an agent sent the person, whole, as a read-only markdown document
 * (`baton-message:/M-3.md`): subject, sender, task, time and the body as the agent wrote it (agents
 * write markdown; VS Code's preview renders it with its strict content security).
 */
export class MessageDocumentProvider extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this._onDidChange.event;

  constructor(private readonly messages: MessageService, private readonly plan: PlanService) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(MESSAGE_SCHEME, this));
    // "Unread" in the header turns to the read time once it is read, wherever that happens.
    const sub = messages.onDidReadMessages(read => {
      if (read.recipient.kind !== HUMAN.kind || read.recipient.id !== HUMAN.id) return;
      for (const id of read.ids) this._onDidChange.fire(messageDocumentUri(id));
    });
    this._register(sub);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const id = uri.path.replace(/^\//, '').replace(/\.md$/, '');
    try {
      const message = this.messages.getReceived(HUMAN, id);
      let taskTitle: string | undefined;
      try {
        taskTitle = message.taskId ? this.plan.getTask(message.taskId).title : undefined;
      } catch {
        taskTitle = undefined;
      }
      return renderMessageMarkdown(message, taskTitle);
    } catch (error) {
      return `# ${id}\n\n${(error as Error).message}\n`;
    }
  }
}

/** Renders a received message as markdown: a heading, who/when/task, then the body unchanged (pure; exported for tests). */
export function renderMessageMarkdown(m: ReceivedMessage, taskTitle?: string): string {
  const from = m.from.kind === 'session' && !m.from.name.includes(m.from.id) ? `${m.from.name} (${m.from.id})` : m.from.name;
  const lines = [
    `# ${oneLine(m.subject) || `Message ${m.id}`}`,
    '',
    `**From** ${escapeInline(from)} · **sent** ${m.createdAt.replace('T', ' ').slice(0, 19)} UTC · ${m.id}` +
      (m.readAt ? ` · read ${m.readAt.replace('T', ' ').slice(0, 19)} UTC` : ' · **unread**'),
  ];
  if (m.taskId) lines.push('', `**Task** ${m.taskId}${taskTitle ? ` — ${escapeInline(taskTitle)}` : ''}`);
  lines.push('', '---', '', m.body, '');
  if (m.from.kind === 'session') lines.push('---', '', `_Reply from the Inbox view (Reply on this message): the reply goes to ${m.from.id}._`, '');
  return lines.join('\n');
}

function oneLine(text: string): string {
  return escapeInline(text.replace(/\s+/g, ' ').trim());
}

function escapeInline(text: string): string {
  return text.replace(/([\\`*_{}[\]<>|])/g, '\\$1');
}
