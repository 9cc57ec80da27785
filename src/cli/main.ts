import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { createBatonMcpServer } from '../mcp/batonMcpServer';
import { readEndpoint } from '../host/endpoint';
import type { ImportReport } from '../services/planService';
import { WorkspaceOwner, type LogFn } from '../host/workspaceOwner';
import { resolveStorageDir } from '../store/storageLocation';
import { connect, type BatonConnection } from './connection';
import { formatActivity, formatImportReport, formatInbox, formatSprints, formatTasks, type ActivityRow, type InboxRow, type SprintRow, type TaskRow } from './format';

declare const BATON_VERSION: string | undefined;
const VERSION = typeof BATON_VERSION === 'string' ? BATON_VERSION : '0.1.0';

/** Logs go to stderr: stdout carries command output (and the MCP protocol for `baton mcp`). */
const makeLog = (verbose: boolean): LogFn => (level, message) => {
  if (verbose || level !== 'info') process.stderr.write(`[${level}] ${message}\n`);
};

function workspaceOf(opts: { workspace?: string }): string {
  const dir = path.resolve(opts.workspace ?? process.cwd());
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`--workspace ${dir} is not a folder.`);
  return dir;
}

async function withConnection<T>(opts: { workspace?: string; verbose?: boolean }, fn: (c: BatonConnection) => Promise<T>): Promise<T> {
  const storage = resolveStorageDir(workspaceOf(opts));
  const conn = await connect(storage, VERSION, makeLog(!!opts.verbose));
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

async function allTasks(conn: BatonConnection, filter: Record<string, unknown>): Promise<TaskRow[]> {
  const tasks: TaskRow[] = [];
  for (let offset: number | null = 0; offset !== null;) {
    const page: { tasks: TaskRow[]; next_offset: number | null } = await conn.call('list_tasks', { ...filter, offset, limit: 200 });
    tasks.push(...page.tasks);
    offset = page.next_offset;
  }
  return tasks;
}

/** Source name of an imported file: its path relative to the workspace when inside it, else its absolute path. */
function sourceName(workspace: string, file: string): string {
  const rel = path.relative(workspace, file);
  return !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

export function buildProgram(): Command {
  const program = new Command('baton')
    .description('Baton: plan sprints and tasks, and coordinate coding agents over MCP.')
    .version(VERSION)
    .showHelpAfterError();
  const ws = new Option('-w, --workspace <dir>', 'workspace folder (default: current folder)');
  const verbose = new Option('-v, --verbose', 'log what Baton does to stderr');
  const tools = new Option('--tools <tier>', 'MCP tool tier agents get: core (~10 tools), full, operator').choices(['core', 'full', 'operator']).default('core');
  const proxyTools = new Option('--tools <tier>', "MCP tool tier to ask for: core, full, operator (default: the tier the running owner serves; core when baton mcp owns the state)").choices(['core', 'full', 'operator']);

  program.command('import')
    .description('import a markdown plan or a Task Master tasks.json; re-importing updates instead of duplicating')
    .argument('<file>', 'plan document (.md) or .taskmaster/tasks/tasks.json')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print the import report as JSON')
    .action(async (file: string, opts) => {
      const workspace = workspaceOf(opts);
      const full = path.resolve(file);
      if (!fs.existsSync(full)) throw new Error(`No such file: ${full}`);
      const content = fs.readFileSync(full, 'utf8');
      await withConnection(opts, async conn => {
        const report = await conn.call<ImportReport>('import_plan', { source: sourceName(workspace, full), content });
        process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatImportReport(report));
      });
    });

  program.command('tasks')
    .description('list tasks')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .option('--sprint <id>', 'only this sprint')
    .option('--status <statuses>', 'only these statuses, comma-separated (e.g. TODO,IN_PROGRESS)')
    .option('--ready', 'only ready tasks (all dependencies done)')
    .action(async opts => {
      await withConnection(opts, async conn => {
        const filter: Record<string, unknown> = {};
        if (opts.sprint) filter.sprint_id = opts.sprint;
        if (opts.status) filter.status = String(opts.status).split(',').map((s: string) => s.trim().toUpperCase());
        if (opts.ready) filter.ready = true;
        const tasks = await allTasks(conn, filter);
        if (opts.json) process.stdout.write(JSON.stringify(tasks, null, 2) + '\n');
        else {
          const sprints = (await conn.call<{ sprints: SprintRow[] }>('list_sprints')).sprints;
          process.stdout.write(formatTasks(tasks, sprints));
        }
      });
    });

  program.command('sprints')
    .description('list sprints with their progress')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async opts => {
      await withConnection(opts, async conn => {
        const { sprints } = await conn.call<{ sprints: SprintRow[] }>('list_sprints');
        process.stdout.write(opts.json ? JSON.stringify(sprints, null, 2) + '\n' : formatSprints(sprints));
      });
    });

  program.command('inbox')
    .description('the human inbox: open questions, approval requests and blockers from every agent')
    .addOption(ws).addOption(verbose)
    .option('--all', 'include answered and rejected requests')
    .option('--json', 'print JSON')
    .action(async opts => {
      await withConnection(opts, async conn => {
        const { requests } = await conn.call<{ requests: InboxRow[] }>('list_inbox', { include_resolved: !!opts.all });
        process.stdout.write(opts.json ? JSON.stringify(requests, null, 2) + '\n' : formatInbox(requests));
      });
    });

  program.command('answer')
    .description('answer an inbox request; the waiting agent gets the answer')
    .argument('<id>', 'request id, e.g. Q-3')
    .argument('<text...>', 'the answer')
    .addOption(ws).addOption(verbose)
    .action(async (id: string, text: string[], opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<InboxRow>('answer_request', { request_id: id, answer: text.join(' ') });
        process.stdout.write(`${r.id} answered: ${r.answer}\n`);
      });
    });

  program.command('approve')
    .description('approve an inbox request (Q-3), or approve a task to ship (T-5) with feedback')
    .argument('<id>', 'request id (Q-…) or task id (T-…)')
    .addOption(ws).addOption(verbose)
    .option('-f, --feedback <text>', 'feedback for the agent')
    .action(async (id: string, opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<{ id: string; status: string }>('approve', { id, ...(opts.feedback ? { feedback: opts.feedback } : {}) });
        process.stdout.write(`${r.id} ${r.status === 'DONE' ? 'approved to ship: DONE' : r.status}\n`);
      });
    });

  program.command('reject')
    .description('reject an inbox request, saying why')
    .argument('<id>', 'request id, e.g. Q-3')
    .requiredOption('-r, --reason <text>', 'why, or what to do instead')
    .addOption(ws).addOption(verbose)
    .action(async (id: string, opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<InboxRow>('reject_request', { request_id: id, note: opts.reason });
        process.stdout.write(`${r.id} rejected: ${r.answer}\n`);
      });
    });

  program.command('pause')
    .description('pause a task (BLOCKED) and tell the agents on it why')
    .argument('<task>', 'task id, e.g. T-5')
    .requiredOption('-r, --reason <text>', 'why, e.g. "needs architecture review"')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, opts) => {
      await withConnection(opts, async conn => {
        const t = await conn.call<TaskRow>('pause_task', { task_id: task, reason: opts.reason });
        process.stdout.write(`${t.id} paused (${t.status}): ${opts.reason}\n`);
      });
    });

  program.command('intervene')
    .description('send a message into a running task: the agents on it see it on their next call')
    .argument('<task>', 'task id, e.g. T-5')
    .requiredOption('-m, --message <text>', 'what they should know or do')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<{ task: TaskRow; delivered_to_sessions: number }>('intervene', { task_id: task, message: opts.message });
        process.stdout.write(`${r.task.id}: delivered to ${r.delivered_to_sessions} agent session(s) and noted on the task\n`);
      });
    });

  program.command('watch')
    .description('live activity: who does what, as it happens (Ctrl+C to stop)')
    .addOption(ws).addOption(verbose)
    .option('--interval <ms>', 'poll interval', v => Number(v), 1000)
    .action(async opts => {
      await withConnection(opts, async conn => {
        let last = 0;
        const stop = waitForSignal();
        let stopped = false;
        void stop.then(() => (stopped = true));
        const first = await conn.call<{ activity: ActivityRow[] }>('list_activity', { limit: 20 });
        for (const e of first.activity.reverse()) process.stdout.write(formatActivity(e));
        last = first.activity.reduce((m, e) => Math.max(m, e.id), 0);
        while (!stopped) {
          await Promise.race([stop, new Promise(r => setTimeout(r, opts.interval))]);
          if (stopped) break;
          const next = await conn.call<{ activity: ActivityRow[] }>('list_activity', { after_id: last, limit: 200 });
          for (const e of next.activity.reverse()) process.stdout.write(formatActivity(e));
          last = next.activity.reduce((m, e) => Math.max(m, e.id), last);
        }
      });
    });

  program.command('serve')
    .description('own the workspace state headless and serve MCP over HTTP on 127.0.0.1 until stopped')
    .addOption(ws).addOption(verbose).addOption(tools)
    .option('-p, --port <port>', 'port (default: a free one)', v => Number(v), 0)
    .action(async opts => {
      const storageDir = resolveStorageDir(workspaceOf(opts));
      const running = readEndpoint(storageDir);
      if (running) throw new Error(`Baton already serves this workspace at ${running.url} (${running.kind}, pid ${running.pid}).`);
      let handedOver!: () => void;
      const handover = new Promise<'handover'>(resolve => (handedOver = () => resolve('handover')));
      const owner = await WorkspaceOwner.open({
        storageDir, kind: 'cli', version: VERSION, log: makeLog(true), workspaceDir: workspaceOf(opts),
        mcp: { port: opts.port, maxBodyBytes: 1024 * 1024, tier: opts.tools },
        onHandover: () => handedOver(),
      });
      for (const m of owner.recovery.messages) process.stderr.write(`[warn] ${m}\n`);
      process.stdout.write(`Baton MCP server: ${owner.mcpUrl}\nBearer token in: ${owner.tokenFile}\nState in: ${storageDir}\nPress Ctrl+C to stop.\n`);
      const why = await Promise.race([waitForSignal().then(() => 'signal' as const), handover]);
      await owner.close();
      if (why === 'handover') process.stdout.write('VS Code took over this workspace; it serves MCP at the same address now.\n');
    });

  program.command('mcp')
    .description('MCP over stdio, for agents that only speak stdio: proxies to the running owner, or becomes the owner')
    .addOption(ws).addOption(verbose).addOption(proxyTools)
    .action(async opts => {
      const storageDir = resolveStorageDir(workspaceOf(opts));
      const log = makeLog(!!opts.verbose);
      const endpoint = readEndpoint(storageDir);
      if (endpoint) {
        log('info', `proxying stdio to ${endpoint.url}`);
        await proxyStdio(endpoint.url, fs.readFileSync(endpoint.tokenFile, 'utf8').trim(), opts.tools);
        return;
      }
      const owner = await WorkspaceOwner.open({
        storageDir, kind: 'cli', version: VERSION, log, workspaceDir: workspaceOf(opts), mcp: { port: 0, maxBodyBytes: 1024 * 1024, tier: opts.tools ?? 'core' },
      });
      const server = createBatonMcpServer(owner.services, { version: VERSION, tier: opts.tools ?? 'core', mcpSessionId: () => undefined });
      const transport = new StdioServerTransport();
      const closed = new Promise<void>(resolve => (transport.onclose = resolve));
      await server.connect(transport);
      log('info', `serving MCP on stdio; also on ${owner.mcpUrl}`);
      await Promise.race([closed, waitForSignal(), new Promise<void>(resolve => process.stdin.once('end', resolve))]);
      await server.close().catch(() => undefined);
      await owner.close();
    });

  return program;
}

/** Forwards JSON-RPC messages between stdio and the owner's Streamable HTTP endpoint, until stdin closes. */
async function proxyStdio(url: string, token: string, tier: string | undefined): Promise<void> {
  const stdio = new StdioServerTransport();
  // No X-Baton-Tools header unless --tools was given: the agent gets the tier the owner serves.
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...(tier ? { 'X-Baton-Tools': tier } : {}) };
  const http = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const done = new Promise<void>(resolve => {
    stdio.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  http.onmessage = (message: JSONRPCMessage) => void stdio.send(message);
  http.onerror = error => process.stderr.write(`[error] ${error.message}\n`);
  stdio.onmessage = (message: JSONRPCMessage) => {
    http.send(message).catch(error => {
      if ('id' in message && 'method' in message) {
        void stdio.send({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: `Baton owner unreachable: ${(error as Error).message}` } });
      }
    });
  };
  await http.start();
  await stdio.start();
  await Promise.race([done, waitForSignal()]);
  await http.terminateSession().catch(() => undefined);
  await http.close();
}

function waitForSignal(): Promise<void> {
  return new Promise(resolve => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .then(() => process.exit(0))
    .catch((error: Error) => {
      process.stderr.write(`baton: ${error.message}\n`);
      process.exit(1);
    });
}
