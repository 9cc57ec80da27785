import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { AGENT_TIERS, createBatonMcpServer } from '../mcp/batonMcpServer';
import { readEndpoint } from '../host/endpoint';
import type { ImportReport } from '../services/planService';
import { WorkspaceOwner, type LogFn } from '../host/workspaceOwner';
import { batonHome, findStorageDir, resolveStorageDir } from '../store/storageLocation';
import { StdioProxy } from './stdioProxy';
import { HOOK_TOKEN_ENV, NoHookReceiverError, sendHookEvent } from '../sessions/agentHooks';
import { readSessionStates } from '../sessions/sessionStateFile';
import { DEFAULT_LANDING_SETTINGS, MERGE_STRATEGIES } from '../sessions/landing';
import { decodeTextFile } from '../core/encoding';
import { SPRINT_STATES } from '../core/model';
import type { SprintStats } from '../shared/analytics';
import { redactSecrets } from '../core/redaction';
import { connect, type BatonConnection } from './connection';
import { formatActivity, formatAutopilotStatus, formatDiff, type AutopilotStatusRow, formatImportReport, formatInbox, formatMessages, formatReviews, formatSprints, formatStats, formatTaskDetails, formatTasks, formatCost, type CostRow, type ActivityRow, type DiffRow, type InboxRow, type MessageRow, type ReviewRow, type SprintRow, type TaskDetailsRow, type TaskRow } from './format';

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
  const workspace = workspaceOf(opts);
  const storage = resolveStorageDir(workspace);
  const conn = await connect(storage, VERSION, makeLog(!!opts.verbose), undefined, workspace);
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

/** Largest MCP request body (bytes) the owner accepts by default (`baton.mcp.maxRequestBytes`); imports obey it however they connect. */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** Bytes of the JSON-RPC envelope around import_plan's arguments (method, id, tool name), rounded up. */
const IMPORT_ENVELOPE_BYTES = 256;

/**
 * Reads a plan file for `baton import`: regular files only, at most `limit` bytes read (a device such
 * as /dev/zero or a FIFO is refused before reading), decoded by `decodeTextFile`. Throws an Error naming
 * the path and what is wrong (missing, a directory, not a regular file, too large, empty, not text).
 */
function readPlanFile(full: string, limit: number): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(full);
  } catch {
    throw new Error(`No such file: ${full}`);
  }
  if (stat.isDirectory()) throw new Error(`${full} is a directory: give the plan file inside it (a .md plan or .taskmaster/tasks/tasks.json).`);
  if (!stat.isFile()) throw new Error(`${full} is not a regular file (a device, FIFO or socket): baton import reads regular files only.`);
  if (stat.size > limit) {
    throw new Error(`${full} is ${stat.size} bytes: baton import accepts plan files up to ${limit} bytes (the MCP request limit, baton.mcp.maxRequestBytes).`);
  }
  const fd = fs.openSync(full, 'r');
  try {
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = fs.readSync(fd, buffer, length, buffer.length - length, null)) > 0;) length += n;
    if (length > limit) throw new Error(`${full} grew past ${limit} bytes while being read: baton import accepts plan files up to that size.`);
    return decodeTextFile(buffer.subarray(0, length), full);
  } finally {
    fs.closeSync(fd);
  }
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
  // Global like `git -C`: `baton -w DIR tasks` and `baton tasks -w DIR` both work; the subcommand's wins.
  program.addOption(ws).addOption(verbose);
  program.hook('preAction', (root, action) => {
    for (const key of ['workspace', 'verbose']) {
      if (action !== root && action.getOptionValue(key) === undefined && root.getOptionValue(key) !== undefined) action.setOptionValue(key, root.getOptionValue(key));
    }
  });
  const tools = new Option('--tools <tier>', 'highest MCP tool tier agents get: core (~10 tools) or full (the person\'s tools need the operator token)').choices([...AGENT_TIERS]).default('core');
  const proxyTools = new Option('--tools <tier>', "MCP tool tier to ask for: core or full (default: the tier the running owner serves; core when baton mcp owns the state)").choices([...AGENT_TIERS]);

  program.command('import')
    .description('import a markdown plan or a Task Master tasks.json; re-importing updates instead of duplicating')
    .argument('<file>', 'plan document (.md) or .taskmaster/tasks/tasks.json')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print the import report as JSON')
    .action(async (file: string, opts) => {
      const workspace = workspaceOf(opts);
      const full = path.resolve(file);
      // The same limit however the CLI reaches the state: the running owner's (baton.mcp.maxRequestBytes), else the default.
      const limit = readEndpoint(resolveStorageDir(workspace))?.maxRequestBytes ?? MAX_REQUEST_BYTES;
      const content = readPlanFile(full, limit);
      const source = sourceName(workspace, full);
      const requestBytes = Buffer.byteLength(JSON.stringify({ source, content })) + IMPORT_ENVELOPE_BYTES;
      if (requestBytes > limit) {
        throw new Error(`${full} is too large to import: its import_plan request is ${requestBytes} bytes, over the limit of ${limit} bytes ` +
          '(the MCP request limit, baton.mcp.maxRequestBytes); split the plan into several files.');
      }
      await withConnection(opts, async conn => {
        const report = await conn.call<ImportReport>('import_plan', { source, content });
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

  // Checks the shape only ("none" stays a string: commander turns a parser's null into ''); PlanService checks the date.
  const dateOrNone = (option: string) => (value: string): string => {
    if (value !== 'none' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidArgumentError(`${option} must be a date as YYYY-MM-DD or "none", got "${value}".`);
    return value;
  };
  const dateField = (value: string): string | null => (value === 'none' ? null : value);
  program.command('sprint')
    .description('create a sprint (baton sprint new "Name") or change one (baton sprint S-1 --start 2026-12-01 --end 2026-12-14 --state active)')
    .argument('<id>', 'sprint id, e.g. S-1, or "new" to create one')
    .argument('[name...]', 'the new sprint\'s name (with "new")')
    .option('--start <date>', 'start date, YYYY-MM-DD ("none" clears it)', dateOrNone('--start'))
    .option('--end <date>', 'end date, YYYY-MM-DD, not before the start ("none" clears it)', dateOrNone('--end'))
    .addOption(new Option('--state <state>', 'sprint state').choices([...SPRINT_STATES]))
    .option('--name <name>', 'rename it')
    .option('--goal <text>', 'its goal')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async (id: string, name: string[], opts) => {
      const fields: Record<string, unknown> = {};
      if (opts.start !== undefined) fields.start_date = dateField(opts.start);
      if (opts.end !== undefined) fields.end_date = dateField(opts.end);
      if (opts.state !== undefined) fields.state = opts.state;
      if (opts.goal !== undefined) fields.goal = opts.goal;
      const creating = id.toLowerCase() === 'new';
      if (creating) {
        const title = opts.name ?? name.join(' ');
        if (!title.trim()) throw new InvalidArgumentError('Give the new sprint a name: baton sprint new "Sprint 3".');
        fields.name = title;
      } else {
        if (name.length) throw new InvalidArgumentError(`Unexpected "${name.join(' ')}": rename a sprint with --name.`);
        if (opts.name !== undefined) fields.name = opts.name;
        if (!Object.keys(fields).length) throw new InvalidArgumentError('Nothing to change: give --start, --end, --state, --name or --goal.');
        fields.sprint_id = id;
      }
      await withConnection(opts, async conn => {
        const sprint = await conn.call<SprintRow>(creating ? 'create_sprint' : 'update_sprint', fields);
        process.stdout.write(opts.json ? JSON.stringify(sprint, null, 2) + '\n' : `${creating ? 'Created' : 'Updated'} ${formatSprints([sprint])}`);
      });
    });

  program.command('stats')
    .description('sprint statistics: burndown per day, velocity of the last closed sprints, and a completion forecast')
    .option('--sprint <id>', 'the sprint (default: the active one, else the first planned)')
    .option('--velocity <n>', 'closed sprints velocity covers (default 6)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new InvalidArgumentError(`--velocity must be a whole number from 1 to 50, got "${v}".`);
      return n;
    })
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async opts => {
      await withConnection(opts, async conn => {
        const stats = await conn.call<SprintStats>('get_stats', {
          ...(opts.sprint ? { sprint_id: opts.sprint } : {}), ...(opts.velocity ? { velocity_sprints: opts.velocity } : {}),
        });
        process.stdout.write(opts.json ? JSON.stringify(stats, null, 2) + '\n' : formatStats(stats));
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
        process.stdout.write(`${t.id} paused (${t.status}): ${redactSecrets(opts.reason).text}\n`); // echoed as stored: redacted
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

  program.command('show')
    .description('a task whole: description, dependencies, checkpoints, context, notes, activity')
    .argument('<task>', 'task id, e.g. T-3')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async (task: string, opts) => {
      await withConnection(opts, async conn => {
        const t = await conn.call<TaskDetailsRow>('get_task', { task_id: task });
        process.stdout.write(opts.json ? JSON.stringify(t, null, 2) + '\n' : formatTaskDetails(t));
      });
    });

  program.command('review')
    .description("a task's review pipeline and review rounds: scores, verdicts, findings")
    .argument('<task>', 'task id, e.g. T-3')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async (task: string, opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<ReviewRow>('get_reviews', { task_id: task });
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : `${formatReviews(r).join('\n')}\n${r.rounds.length ? '' : '  no review rounds yet\n'}`);
      });
    });

  program.command('pipeline')
    .description('set the review pipeline of a task or sprint, e.g. "review: codex, gemini -> gate: human" ("none" = no review)')
    .argument('<target>', 'task id (T-5) or sprint id (S-2)')
    .argument('[spec...]', 'the pipeline; omit with --clear')
    .option('--clear', "clear it (the sprint's or workspace's pipeline applies)")
    .addOption(ws).addOption(verbose)
    .action(async (target: string, spec: string[], opts) => {
      if (!opts.clear && !spec.length) throw new InvalidArgumentError('Give a pipeline, e.g. "review: codex -> gate: human", or --clear.');
      await withConnection(opts, async conn => {
        const r = await conn.call<{ target: string; spec: string | null }>('set_review_pipeline', { target, pipeline: opts.clear ? null : spec.join(' ') });
        process.stdout.write(r.spec ? `${r.target}: review pipeline "${r.spec}"\n` : `${r.target}: review pipeline cleared\n`);
      });
    });

  program.command('diff')
    .description("the files a task's session branch changed against its base branch")
    .argument('<task>', 'task id, e.g. T-5')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async (task: string, opts) => {
      await withConnection(opts, async conn => {
        const d = await conn.call<DiffRow>('get_task_diff', { task_id: task });
        process.stdout.write(opts.json ? JSON.stringify(d, null, 2) + '\n' : formatDiff(d));
      });
    });

  program.command('land')
    .description("land a task's session branch into its base: merge (default), rebase, or keep it as it is")
    .argument('<task>', 'task id, e.g. T-5')
    .option('--merge', 'merge it (fast-forward or merge commit, by baton.land.mergeStrategy; the default)')
    .option('--rebase', 'rebase it onto the base, then fast-forward the base')
    .option('--keep', 'leave it unlanded and record the decision')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async (task: string, opts) => {
      const modes = (['merge', 'rebase', 'keep'] as const).filter(m => opts[m]);
      if (modes.length > 1) throw new InvalidArgumentError(`Give one of --merge, --rebase, --keep (got ${modes.map(m => `--${m}`).join(' and ')}).`);
      await withConnection(opts, async conn => {
        const r = await conn.call<{ message: string }>('land_task', { task_id: task, mode: modes[0] ?? 'merge' });
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : `${r.message}\n`);
      });
    });

  program.command('cost')
    .description('tokens and cost the agent CLIs reported, in total, by task and by session ("not reported" where a CLI sent nothing)')
    .option('--sprint <id>', 'only this sprint\'s tasks, e.g. S-1')
    .addOption(ws).addOption(verbose)
    .option('--json', 'print JSON')
    .action(async opts => {
      await withConnection(opts, async conn => {
        const r = await conn.call<CostRow>('get_cost', opts.sprint ? { sprint_id: opts.sprint } : {});
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : formatCost(r));
      });
    });

  program.command('note')
    .description('add a note to a task')
    .argument('<task>', 'task id, e.g. T-3')
    .argument('<text...>', 'the note')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, text: string[], opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<{ task_id: string; note_id: string }>('add_note', { task_id: task, text: text.join(' ') });
        process.stdout.write(`${r.task_id}: note ${r.note_id} added\n`);
      });
    });

  program.command('status')
    .description('move a task to a status (TODO, IN_PROGRESS, IN_REVIEW, DONE, BLOCKED, CANCELLED); refused moves change nothing')
    .argument('<task>', 'task id, e.g. T-3')
    .argument('<status>', 'new status, e.g. IN_REVIEW (case and - or space instead of _ do not matter)')
    .option('-n, --note <text>', 'a note recorded with the change')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, status: string, opts) => {
      await withConnection(opts, async conn => {
        const t = await conn.call<TaskRow>('update_task', { task_id: task, status: status.trim().toUpperCase().replace(/[\s-]+/g, '_'), ...(opts.note ? { note: opts.note } : {}) });
        process.stdout.write(`${t.id} is ${t.status}\n`);
      });
    });

  program.command('agent')
    .description('say which agent does a task (or a sprint\'s tasks by default): a profile and optional role, e.g. codex or claude:reviewer')
    .argument('<target>', 'task id (T-5) or sprint id (S-1)')
    .argument('[agent]', 'profile[:role], e.g. codex, claude:reviewer')
    .option('--clear', 'remove the agent (the task then follows its sprint\'s or the workspace\'s default)')
    .addOption(ws).addOption(verbose)
    .action(async (target: string, agent: string | undefined, opts) => {
      if (opts.clear && agent) throw new InvalidArgumentError(`Give an agent or --clear, not both (got "${agent}" and --clear).`);
      if (!opts.clear && !agent) throw new InvalidArgumentError('Give the agent (e.g. codex or claude:reviewer), or --clear to remove it.');
      const value = opts.clear ? null : agent!.trim();
      await withConnection(opts, async conn => {
        const sprint = /^s-\d+$/i.exec(target.trim());
        if (sprint) {
          const s = await conn.call<SprintRow>('update_sprint', { sprint_id: target.trim().toUpperCase(), agent: value });
          process.stdout.write(s.agent ? `${s.id}: tasks default to agent ${s.agent}\n` : `${s.id}: no default agent\n`);
        } else {
          const t = await conn.call<TaskRow>('update_task', { task_id: target, agent: value });
          process.stdout.write(t.agent ? `${t.id}: agent ${t.agent}\n` : `${t.id}: no agent (the sprint's or workspace's default)\n`);
        }
      });
    });

  program.command('autopilot')
    .description('turn autopilot on or off for this workspace, or show its status: it keeps up to baton.sessions.maxParallel agent sessions on ready tasks (critical path first)')
    .argument('[action]', 'on, off or status', 'status')
    .option('--json', 'print JSON')
    .addOption(ws).addOption(verbose)
    .action(async (action: string, opts) => {
      const act = action.trim().toLowerCase();
      if (!['on', 'off', 'status'].includes(act)) throw new InvalidArgumentError(`autopilot takes on, off or status, got "${action}".`);
      await withConnection(opts, async conn => {
        const s = await conn.call<AutopilotStatusRow>('autopilot', { action: act });
        process.stdout.write(opts.json ? JSON.stringify(s, null, 2) + '\n' : formatAutopilotStatus(s));
      });
    });

  program.command('done')
    .description('complete a task (DONE) with a summary of what was done')
    .argument('<task>', 'task id, e.g. T-3')
    .requiredOption('-s, --summary <text>', 'what was done: files, tests, follow-ups')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, opts) => {
      await withConnection(opts, async conn => {
        const t = await conn.call<TaskRow>('complete_task', { task_id: task, summary: opts.summary });
        process.stdout.write(`${t.id} is ${t.status}\n`);
      });
    });

  const context = program.command('context').description('a task\'s working context (markdown) that the next agent on it reads');
  for (const mode of ['append', 'replace'] as const) {
    context.command(mode)
      .description(mode === 'append' ? 'append a section to the task\'s context' : 'replace the task\'s whole context')
      .argument('<task>', 'task id, e.g. T-3')
      .argument('[text...]', 'the text; omit it (or give -) to read standard input')
      .addOption(ws).addOption(verbose)
      .action(async (task: string, text: string[], opts) => {
        const body = !text.length || (text.length === 1 && text[0] === '-') ? fs.readFileSync(0, 'utf8') : text.join(' ');
        await withConnection(opts, async conn => {
          const r = await conn.call<{ task_id: string; context_chars: number }>('update_context', { task_id: task, text: body, mode });
          process.stdout.write(`${r.task_id}: context ${mode === 'append' ? 'appended' : 'replaced'} (${r.context_chars} characters)\n`);
        });
      });
  }

  const checkpoint = program.command('checkpoint').description('a task\'s checkpoints (its checklist)');
  checkpoint.command('add')
    .description('add a checkpoint at the end of a task\'s checklist')
    .argument('<task>', 'task id, e.g. T-3')
    .argument('<title...>', 'the checkpoint')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, title: string[], opts) => {
      await withConnection(opts, async conn => {
        const r = await conn.call<{ task_id: string; n: number; title: string }>('add_checkpoint', { task_id: task, title: title.join(' ') });
        process.stdout.write(`${r.task_id}: checkpoint ${r.n}. ${r.title} added\n`);
      });
    });
  checkpoint.command('tick')
    .description('check a checkpoint (by number, id or exact title); --undo unchecks it')
    .argument('<task>', 'task id, e.g. T-3')
    .argument('<checkpoint...>', 'its number (1-based), id or exact title')
    .option('--undo', 'uncheck it instead')
    .addOption(ws).addOption(verbose)
    .action(async (task: string, which: string[], opts) => {
      await withConnection(opts, async conn => {
        const t = await conn.call<TaskRow>('set_checkpoint', { task_id: task, checkpoint: which.join(' '), done: !opts.undo });
        process.stdout.write(`${t.id}: checkpoint ${opts.undo ? 'unchecked' : 'checked'}; progress ${t.progress}%\n`);
      });
    });

  const dep = program.command('dep').alias('dependency').description('dependencies between tasks (refused if they would make a cycle)');
  for (const op of ['add', 'remove'] as const) {
    dep.command(op)
      .description(op === 'add' ? '<task> waits for <depends-on>' : '<task> no longer waits for <depends-on>')
      .argument('<task>', 'task id, e.g. T-5')
      .argument('<depends-on>', 'task id it waits for, e.g. T-3')
      .addOption(ws).addOption(verbose)
      .action(async (task: string, dependsOn: string, opts) => {
        await withConnection(opts, async conn => {
          const r = await conn.call<{ task_id: string; depends_on: { id: string }[] }>(op === 'add' ? 'add_dependency' : 'remove_dependency', { task_id: task, depends_on: dependsOn });
          process.stdout.write(`${r.task_id} depends on: ${r.depends_on.length ? r.depends_on.map(d => d.id).join(', ') : 'nothing'}\n`);
        });
      });
  }

  program.command('messages')
    .description('messages agents sent you (send_message to "human"); shows unread ones and marks them read')
    .addOption(ws).addOption(verbose)
    .option('--all', 'include messages already read')
    .option('--keep-unread', 'do not mark them read')
    .option('--json', 'print JSON')
    .action(async opts => {
      await withConnection(opts, async conn => {
        const { messages } = await conn.call<{ messages: MessageRow[] }>('check_messages', { include_read: !!opts.all, mark_read: !opts.keepUnread, limit: 200 });
        process.stdout.write(opts.json ? JSON.stringify(messages, null, 2) + '\n' : formatMessages(messages));
      });
    });

  program.command('activity')
    .description('the activity log, oldest first: who did what when, for the whole plan or one task (the newest --limit entries)')
    .addOption(ws).addOption(verbose)
    .option('--task <id>', 'only this task, e.g. T-3')
    .option('--limit <n>', 'at most this many entries (1–500)', v => Number(v), 200)
    .option('--json', 'print JSON')
    .action(async opts => {
      if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 500) throw new Error(`--limit must be a whole number from 1 to 500, got ${JSON.stringify(String(opts.limit))}.`);
      await withConnection(opts, async conn => {
        const { activity } = await conn.call<{ activity: ActivityRow[] }>('list_activity', { ...(opts.task ? { task_id: opts.task } : {}), limit: opts.limit });
        activity.reverse();
        process.stdout.write(opts.json ? JSON.stringify(activity, null, 2) + '\n' : activity.map(formatActivity).join(''));
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

  program.command('sessions')
    .description("agent terminal sessions Baton runs: state (working, waiting for approval or input, idle, done) and whether the agent's hooks or the screen decided it")
    .addOption(ws).addOption(verbose)
    .option('--all', 'include exited sessions')
    .option('--json', 'print JSON')
    .option('--storage <dir>', "the workspace's Baton storage folder (default: the one registered for the workspace)")
    .action(opts => {
      const storage = opts.storage ? path.resolve(opts.storage) : findStorageDir(workspaceOf(opts));
      const states = (storage ? readSessionStates(storage) : []).filter(s => opts.all || s.state !== 'exited');
      if (opts.json) {
        process.stdout.write(JSON.stringify(states, null, 2) + '\n');
        return;
      }
      if (!states.length) {
        process.stdout.write(opts.all ? 'No agent sessions.\n' : 'No running agent sessions (--all for exited ones).\n');
        return;
      }
      for (const s of states) {
        const state = s.state === 'waiting' && s.detail ? `waiting for ${s.detail}` : s.detail === 'done' ? `${s.state} (done)` : s.state;
        process.stdout.write(`${s.id}  ${state.padEnd(20)}  ${s.state === 'exited' || s.state === 'unknown' ? '' : `from ${s.source === 'hooks' ? 'hooks' : 'the screen'}`.padEnd(16)}  ${s.title}\n`);
      }
    });

  program.command('hook')
    .description("report an agent CLI's event to Baton (run by the agent's hooks or notify program that Baton wires per session)")
    .argument('<event>', 'event name (e.g. Stop, Notification, notify)')
    .argument('[payload]', 'event JSON (Codex passes it as an argument; otherwise read from stdin)')
    .requiredOption('--storage <dir>', "the workspace's Baton storage folder")
    .requiredOption('--session <id>', 'the Baton session id (e.g. run-3)')
    .option('--chain <argv>', "JSON argv of the person's own notify program, run afterwards with the same payload")
    .action(async (event: string, payloadArg: string | undefined, opts: { storage: string; session: string; chain?: string }) => {
      const raw = payloadArg ?? (process.stdin.isTTY ? '' : await readStdin(2000));
      let payload: unknown = null;
      if (raw.trim()) {
        try {
          payload = JSON.parse(raw);
        } catch {
          payload = { text: raw.slice(0, 4096) };
        }
      }
      try {
        const token = process.env[HOOK_TOKEN_ENV];
        if (!token) throw new Error(`${HOOK_TOKEN_ENV} is not set: baton hook runs only inside a session Baton started.`);
        await sendHookEvent(path.resolve(opts.storage), opts.session, token, event, payload);
      } catch (error) {
        // No window to tell (a tmux session outliving it): say so on stderr but do not fail the agent's hook.
        if (!(error instanceof NoHookReceiverError)) throw error;
        process.stderr.write(`baton hook: ${error.message}\n`);
      } finally {
        if (opts.chain) await runChained(opts.chain, payloadArg);
      }
    });

  program.command('serve')
    .description('own the workspace state headless and serve MCP over HTTP on 127.0.0.1 until stopped')
    .addOption(ws).addOption(verbose).addOption(tools)
    .option('-p, --port <port>', 'port (default: a free one)', v => Number(v), 0)
    .option('--idle-timeout <seconds>', 'close an MCP session after this many seconds without a request or an open stream, ending its agent session', seconds('--idle-timeout'), 600)
    .option('--lease <seconds>', 'a claimed task goes back to To Do after its agent shows no sign of life for this many seconds', seconds('--lease'), 900)
    .option('--review-pipeline <spec>', 'the workspace\'s review pipeline, e.g. "review: codex, gemini -> gate: human" (tasks and sprints can set their own with baton pipeline)')
    .addOption(new Option('--merge-strategy <strategy>', 'how baton land merges: fast-forward else a merge commit, always a merge commit, or fast-forward only').choices([...MERGE_STRATEGIES]).default('ff-or-merge'))
    .addOption(new Option('--land-on-approve <mode>', "land a task's session branch when its review gate approves it").choices(['off', 'merge', 'rebase']).default('off'))
    .action(async opts => {
      const storageDir = resolveStorageDir(workspaceOf(opts));
      const running = readEndpoint(storageDir);
      if (running) throw new Error(`Baton already serves this workspace at ${running.url} (${running.kind}, pid ${running.pid}).`);
      let handedOver!: () => void;
      const handover = new Promise<'handover'>(resolve => (handedOver = () => resolve('handover')));
      const owner = await WorkspaceOwner.open({
        storageDir, kind: 'cli', version: VERSION, log: makeLog(true), workspaceDir: workspaceOf(opts),
        mcp: { port: opts.port, maxBodyBytes: MAX_REQUEST_BYTES, tier: opts.tools, sessionIdleSeconds: opts.idleTimeout },
        claimLeaseSeconds: opts.lease,
        reviewPipeline: opts.reviewPipeline ?? null,
        landing: () => ({ ...DEFAULT_LANDING_SETTINGS, mergeStrategy: opts.mergeStrategy, onApprove: opts.landOnApprove }),
        onHandover: () => handedOver(),
      });
      for (const m of owner.recovery.messages) process.stderr.write(`[warn] ${m}\n`);
      process.stdout.write(`Baton MCP server: ${owner.mcpUrl}\nBearer token in: ${owner.tokenFile}\nState in: ${storageDir}\nPress Ctrl+C to stop.\n`);
      const why = await Promise.race([waitForSignal().then(() => 'signal' as const), handover]);
      await owner.close();
      if (why === 'handover') process.stdout.write('VS Code took over this workspace; it serves MCP at the same address now.\n');
    });

  program.command('mcp')
    .description('MCP over stdio, for agents that only speak stdio: proxies to the running owner (and follows it across restarts), or becomes the owner of existing state')
    .addOption(ws).addOption(verbose).addOption(proxyTools)
    .option('--storage <dir>', "the workspace's storage folder (Baton passes it to the agents it launches, so no environment variable is needed)")
    .option('--reconnect-timeout <seconds>', 'how long a call waits for the owner to come back when it went away (window reload, restart)', seconds('--reconnect-timeout'), 60)
    .action(async opts => {
      const workspace = workspaceOf(opts);
      const storageDir = opts.storage ? existingStorage(opts.storage) : registeredStorage(workspace);
      const log = makeLog(!!opts.verbose);
      const endpoint = readEndpoint(storageDir);
      if (endpoint) {
        log('info', `proxying stdio to ${endpoint.url}`);
        await new StdioProxy({ storageDir, tier: opts.tools, log, reconnectMs: opts.reconnectTimeout * 1000 }).run();
        return;
      }
      const owner = await WorkspaceOwner.open({
        storageDir, kind: 'cli', version: VERSION, log, workspaceDir: workspace, mcp: { port: 0, maxBodyBytes: MAX_REQUEST_BYTES, tier: opts.tools ?? 'core' },
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

/** A parser for an option taking whole seconds ≥ 1; a bad value is an error naming the option. */
function seconds(option: string): (value: string) => number {
  return value => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 604_800) {
      throw new InvalidArgumentError(`${option} takes whole seconds from 1 to 604800, got "${value}".`);
    }
    return n;
  };
}

/** `--storage DIR` for `baton mcp`: it must be an existing Baton storage folder (it is never created). */
function existingStorage(dir: string): string {
  const full = path.resolve(dir);
  if (!fs.existsSync(full) || !fs.statSync(full).isDirectory()) throw new Error(`--storage ${full} is not a folder.`);
  if (!fs.existsSync(path.join(full, 'state.db')) && !fs.existsSync(path.join(full, 'mcp-endpoint.json'))) {
    throw new Error(`--storage ${full} holds no Baton state (no state.db, no running owner); baton mcp creates none.`);
  }
  return full;
}

/**
 * The registered storage folder of `workspace` for `baton mcp`, which never creates state: an MCP server
 * started by an agent CLI that dropped BATON_HOME from its environment (Codex passes stdio servers only a
 * fixed list of variables) must not become a second, empty owner while the real state is registered elsewhere.
 * @throws Error naming the workspace, the registry looked in and what to do.
 */
function registeredStorage(workspace: string): string {
  const found = findStorageDir(workspace);
  if (found) return found;
  throw new Error(`No Baton state is registered for ${workspace} in ${batonHome()}; baton mcp creates none ` +
    '(the agent CLI may have dropped BATON_HOME from its environment). Open the folder in VS Code with Baton, or run baton serve or baton import there; or pass --storage DIR.');
}

/** Reads stdin to its end, or what arrived within `ms` milliseconds (a hook's stdin may never close). */
function readStdin(ms: number): Promise<string> {
  return new Promise(resolve => {
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      process.stdin.pause();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(done, ms);
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.once('end', done);
    process.stdin.once('error', done);
  });
}

/** Runs the person's own Codex notify program (`--chain`, a JSON argv) with the same payload argument; its failure is reported, not thrown. */
async function runChained(chain: string, payloadArg: string | undefined): Promise<void> {
  let argv: unknown;
  try {
    argv = JSON.parse(chain);
  } catch {
    argv = null;
  }
  if (!Array.isArray(argv) || !argv.length || !argv.every(a => typeof a === 'string')) {
    process.stderr.write('baton hook: --chain must be a JSON array of strings\n');
    return;
  }
  await new Promise<void>(resolve => {
    const child = spawn(argv[0] as string, [...(argv.slice(1) as string[]), ...(payloadArg !== undefined ? [payloadArg] : [])], { stdio: 'ignore', detached: true });
    child.once('error', error => {
      process.stderr.write(`baton hook: the notify program ${argv[0]} failed: ${error.message}\n`);
      resolve();
    });
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
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
