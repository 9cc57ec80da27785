/*
 * A router in front of scripted model servers (test/unit/helpers/modelServer.ts), for runs where several
 * agent CLIs talk to "the model" at once (test/e2e/loop.mjs): each conversation gets its own scripted
 * server, chosen by what the conversation is about.
 *
 * - The conversation's subject comes from the prompt Baton gave the CLI, found in the request body:
 *   `You are working on Baton task T-3` (an implementer, `implement:T-3`) or `a reviewer of task T-3`
 *   (`review:T-3`).
 * - A request that carries a tool call id one of the servers issued (`r<N>_call_<M>`, the server's
 *   `idPrefix`) continues that server's conversation.
 * - A request that offers tools but carries no such id starts a new conversation on its subject: the
 *   subject's next attempt (1, 2, …) gets a new server with `scriptFor(subject, attempt)`'s script. A
 *   request without tools (titles, summaries) is an aside: it goes to the subject's newest server (which
 *   answers it with text, using no turn); one naming no subject goes to the conversation of the same CLI
 *   process (the session id header the CLIs send, e.g. Claude Code's `x-claude-code-session-id`), else
 *   to a server with an empty script (`aside`). So each conversation's server counts every token of its
 *   CLI process, as the CLI itself does.
 * - `holdAfter: N`: once that conversation's server answered N turns, its next request is held (never
 *   answered) — the agent hangs mid-task, for a test that kills it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startModelServer, type ModelServer, type ScriptTurn } from '../unit/helpers/modelServer';

/** What a conversation is about: its role and task (`implement:T-3`). */
export interface Subject {
  role: 'implement' | 'review';
  taskId: string;
}

/** The script of one conversation; `holdAfter`: hold its request after this many answered turns. */
export interface ConversationScript {
  script: ScriptTurn[];
  holdAfter?: number;
}

/** One conversation the router saw. */
export interface Conversation {
  /** `implement:T-3`, `review:T-3`, or `aside` for the server of requests naming no subject. */
  key: string;
  /** 1 for the subject's first conversation, 2 for the next, … */
  attempt: number;
  server: ModelServer;
  holdAfter: number | null;
  /** When its request was first held (ISO time), else null. */
  heldAt: string | null;
}

export interface ModelRouter {
  /** `http://127.0.0.1:<port>`: the base URL every CLI is given (Codex and Qwen: with `/v1`). */
  url: string;
  conversations: Conversation[];
  /** The conversations of a subject key (`implement:T-3`), by attempt. */
  of(key: string): Conversation[];
  /** A log of every conversation and its requests, for failure messages. */
  summary(): string;
  close(): Promise<void>;
}

const SUBJECT_RES: [RegExp, Subject['role']][] = [
  [/a reviewer of task ([A-Z]+-\d+)/, 'review'],
  [/You are working on Baton task ([A-Z]+-\d+)/, 'implement'],
];

/** The subject a request's body names, or null. */
export function subjectOf(text: string): Subject | null {
  for (const [re, role] of SUBJECT_RES) {
    const m = re.exec(text);
    if (m) return { role, taskId: m[1] };
  }
  return null;
}

/**
 * Starts the router on 127.0.0.1 at a free port. `scriptFor` gives each new conversation its script
 * (it may throw for a subject the test did not expect: the request is then answered HTTP 500 naming it).
 */
export async function startModelRouter(scriptFor: (subject: Subject, attempt: number) => ConversationScript): Promise<ModelRouter> {
  const conversations: Conversation[] = [];
  const byPrefix = new Map<string, Conversation>();
  const held: http.ServerResponse[] = [];
  let n = 0;
  const open = async (key: string, attempt: number, cs: ConversationScript): Promise<Conversation> => {
    const prefix = `r${++n}_`;
    const server = await startModelServer(cs.script, { idPrefix: prefix });
    const c: Conversation = { key, attempt, server, holdAfter: cs.holdAfter ?? null, heldAt: null };
    conversations.push(c);
    byPrefix.set(prefix, c);
    return c;
  };
  const aside = await open('aside', 1, { script: [] });
  const latest = (key: string) => conversations.filter(c => c.key === key).at(-1);
  // Conversations are opened one at a time, so two first requests of one subject never both start attempt 1.
  let opening: Promise<unknown> = Promise.resolve();

  const asideHeaders = new Set<string>();
  /** CLI process (session id header value) → its conversation. */
  const byProcess = new Map<string, Conversation>();
  const processOf = (headers: http.IncomingHttpHeaders): string | null => {
    for (const [name, value] of Object.entries(headers)) {
      if (/session[-_]?id$/i.test(name) && typeof value === 'string' && value) return `${name}=${value}`;
    }
    return null;
  };

  async function route(text: string, body: any, headers: http.IncomingHttpHeaders): Promise<Conversation | 'hold'> {
    const proc = processOf(headers);
    const id = /\b(r\d+_)call_\d+/.exec(text);
    const subject = subjectOf(text);
    const hasTools = Array.isArray(body?.tools) && body.tools.length > 0;
    let c: Conversation | undefined = id ? byPrefix.get(id[1]) : undefined;
    if (!c && proc) c = byProcess.get(proc);
    if (!c && subject && hasTools) {
      const key = `${subject.role}:${subject.taskId}`;
      const next = opening.then(async () => {
        const last = latest(key);
        if (last && last.server.turnsServed() === 0 && !last.heldAt) return last; // its first request was an aside or a retry
        return open(key, (last?.attempt ?? 0) + 1, scriptFor(subject, (last?.attempt ?? 0) + 1));
      });
      opening = next.catch(() => undefined);
      c = await next;
    }
    if (!c && subject) c = latest(`${subject.role}:${subject.taskId}`);
    if (!c) {
      c = aside;
      asideHeaders.add(Object.keys(headers).sort().join(','));
    }
    if (proc && c !== aside) byProcess.set(proc, c);
    if (hasTools && c.holdAfter !== null && c.server.turnsServed() >= c.holdAfter) {
      c.heldAt ??= new Date().toISOString();
      return 'hold';
    }
    return c;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', d => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      let body: unknown = null;
      try {
        body = raw.length ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      route(text, body, req.headers).then(target => {
        if (target === 'hold') {
          held.push(res);
          return;
        }
        const url = new URL(req.url ?? '/', target.server.url);
        const headers = { ...req.headers, host: url.host, 'content-length': String(raw.length) };
        const upstream = http.request(url, { method: req.method, headers }, up => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', e => { if (!res.headersSent) res.writeHead(502).end(e.message); else res.end(); });
        upstream.end(raw);
      }, (error: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: `model router: ${error.message}` } }));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    conversations,
    of: key => conversations.filter(c => c.key === key),
    summary: () => [...asideHeaders].map(h => `aside request headers: ${h}`).concat(conversations.map(c => `== ${c.key} attempt ${c.attempt}${c.heldAt ? ` (held at ${c.heldAt})` : ''}: ${c.server.turnsServed()} turns\n${c.server.summary()}`)).join('\n'),
    close: async () => {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>(resolve => server.close(() => resolve()));
      await Promise.all(conversations.map(c => c.server.close()));
    },
  };
}
