/**
 * Child process hosting one MCP server under test, so the server gets its own event loop (and core) apart
 * from the benchmark's clients. Started by `bench/mcpBench.ts` with `fork(..., ['baton' | 'bare'])` and
 * driven over IPC: `{ id, cmd, arg }` → `{ id, result }` or `{ id, error }`.
 *
 * - `baton`: a real WorkspaceOwner (owner lock, durable sql.js store, PlanService, MCP HTTP server with bearer
 *   token) in a temp dir, seeded with the sample plan plus 200 tasks.
 * - `bare`:  the SDK-only baseline from ./bareServer.ts, started once Baton's answers are known (`start`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Actor } from '../src/core/model';
import { WorkspaceOwner } from '../src/host/workspaceOwner';
import { startBareServer, type BareServer, type Payloads } from './bareServer';

export interface BatonInfo {
  url: string;
  token: string;
  tasks: number;
  sprints: number;
  notes: number;
  dbBytes: number;
  getTaskId: string;
  noteTargets: string[];
  poolSprintId: string;
}

const role = process.argv[2];
const user: Actor = { kind: 'user', name: 'bench' };
const samplePlan = path.resolve(__dirname, '../resources/sample-plans/orchestration-v1-readiness-plan.md');

const VERBS = ['Implement', 'Refactor', 'Document', 'Test', 'Review', 'Migrate', 'Profile', 'Harden'];
const NOUNS = ['the session router', 'artifact storage', 'the chat bridge', 'agent INIT handshake', 'the task API', 'quick commands', 'the dashboard', 'message redaction'];
const PRIORITIES = ['low', 'medium', 'medium', 'high', 'critical'] as const;

function lorem(words: number, seed: number): string {
  const vocab = 'the agent should verify that each change keeps the plan consistent and records what it learned for the next session including edge cases tests and follow ups'.split(' ');
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(vocab[(seed * 7 + i * 13) % vocab.length]);
  return out.join(' ');
}

let owner: WorkspaceOwner | undefined;
let storageDir: string | undefined;
let bare: BareServer | undefined;
let info: BatonInfo | undefined;
let poolCounter = 0;

async function openBaton(): Promise<BatonInfo> {
  storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bench-mcp-'));
  owner = await WorkspaceOwner.open({
    storageDir, kind: 'cli', version: 'bench', log: () => undefined,
    mcp: { port: 0, maxBodyBytes: 1024 * 1024, tier: 'full' }, // the bench's clients ask for the full tier (add_note)
  });
  const plan = owner.plan;
  plan.importDocument(fs.readFileSync(samplePlan, 'utf8'), 'plan.md', user);
  const sprints = plan.listSprints();
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) {
    const t = plan.createTask({
      title: `${VERBS[i % VERBS.length]} ${NOUNS[(i * 3) % NOUNS.length]} (${i})`,
      description: lorem(45, i),
      sprintId: sprints[i % sprints.length].id,
      priority: PRIORITIES[i % PRIORITIES.length],
      estimate: 1 + (i % 8),
      dependsOn: i >= 3 && i % 3 === 0 ? [ids[i - 3]] : [],
      checkpoints: i % 4 === 0 ? ['Design', 'Implement', 'Tests green'] : [],
    }, user);
    ids.push(t.id);
  }
  // A few notes here and there, three on the task get_task reads.
  const getTaskId = ids[60];
  for (let i = 0; i < 3; i++) plan.addNote(getTaskId, `Finding ${i}: ${lorem(30, i)}`, user);
  for (let i = 0; i < 60; i++) plan.addNote(ids[(i * 11) % ids.length], lorem(25, i), user);
  const pool = plan.createSprint({ name: 'Claim pool', goal: 'Tasks created for claim_next_task' }, user);
  const counts = plan.statusCounts();
  info = {
    url: owner.mcpUrl!,
    token: owner.readToken()!,
    tasks: counts.total,
    sprints: plan.listSprints().length,
    notes: Number(owner.db.get<{ n: number }>('SELECT count(*) AS n FROM notes')!.n),
    dbBytes: owner.db.sizeBytes(),
    getTaskId,
    // add_note targets: seeded tasks other than the one get_task reads, so its answer keeps its size.
    noteTargets: ids.filter((_, i) => i !== 60 && i % 2 === 1),
    poolSprintId: pool.id,
  };
  return info;
}

/** Adds `n` ready TODO tasks to the claim pool sprint. */
function topUpPool(n: number): { created: number; ms: number } {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const k = poolCounter++;
    owner!.plan.createTask({ title: `Pool task ${k}`, description: lorem(30, k), sprintId: info!.poolSprintId, estimate: 2 }, user);
  }
  return { created: n, ms: performance.now() - t0 };
}

/** Deletes every task of the claim pool, so the plan is back to its seeded size. */
function clearPool(): { deleted: number; ms: number } {
  const t0 = performance.now();
  const tasks = owner!.plan.listTasks({ sprintId: info!.poolSprintId }, { limit: 500 });
  let deleted = 0;
  let page = tasks.items;
  while (page.length > 0) {
    for (const t of page) owner!.plan.deleteTask(t.id, user);
    deleted += page.length;
    page = owner!.plan.listTasks({ sprintId: info!.poolSprintId }, { limit: 500 }).items;
  }
  return { deleted, ms: performance.now() - t0 };
}

/**
 * Times the PlanService work behind one tool call, in-process (no MCP, no HTTP): what the server CPU per call
 * would be without the protocol layers. Answers are stringified like the tool does.
 */
function serviceTiming(arg: { tool: string; n: number; batch: number; getTaskId: string; noteTargets: string[] }): { wallMs: number; cpuMs: number; tasks: number } {
  const plan = owner!.plan;
  const agent: Actor = { kind: 'agent', name: 'bench-inproc#000000' };
  const bodies: Record<string, (i: number) => unknown> = {
    get_task: () => plan.getTaskDetails(plan.resolveTask(arg.getTaskId).id, 20),
    list_tasks: () => plan.listTasks({}, { limit: 50 }),
    add_note: i => plan.addNote(plan.resolveTask(arg.noteTargets[i % arg.noteTargets.length]).id, `In-process note ${i}: checked the retry path and the error wording.`, agent),
    claim_next_task: () => {
      const t = plan.claimNextReadyTask(agent, { sprintId: info!.poolSprintId });
      return t && plan.taskOutline(t.id);
    },
  };
  const body = bodies[arg.tool];
  const claims = arg.tool === 'claim_next_task';
  // Claims run in batches on a freshly topped-up pool, like the MCP measurement.
  const batch = claims ? arg.batch : arg.n;
  let tasks = 0;
  let wall = 0;
  let cpuUs = 0;
  for (let done = 0; done < arg.n; done += batch) {
    const size = Math.min(batch, arg.n - done);
    if (claims) topUpPool(size);
    tasks = Math.max(tasks, plan.statusCounts().total);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = done; i < done + size; i++) JSON.stringify(body(i));
    wall += performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    cpuUs += cpu.user + cpu.system;
    if (claims) clearPool();
  }
  const wallMs = wall / arg.n;
  return { wallMs, cpuMs: cpuUs / 1000 / arg.n, tasks };
}

function state() {
  const plan = owner!.plan;
  return {
    tasks: plan.statusCounts().total,
    poolReady: plan.readyTasks(info!.poolSprintId).length,
    dbBytes: owner!.db.sizeBytes(),
    journalBytes: owner!.db.journalSizeBytes,
  };
}

async function close(): Promise<void> {
  if (owner) await owner.close();
  if (storageDir) fs.rmSync(storageDir, { recursive: true, force: true });
  if (bare) await bare.close();
}

async function handle(cmd: string, arg: unknown): Promise<unknown> {
  switch (cmd) {
    case 'open':
      return role === 'baton' ? openBaton() : null;
    case 'start':
      bare = await startBareServer(arg as Payloads);
      return { url: bare.url };
    case 'cpu':
      return process.cpuUsage();
    case 'topup':
      return topUpPool(arg as number);
    case 'clearPool':
      return clearPool();
    case 'serviceTiming':
      return serviceTiming(arg as Parameters<typeof serviceTiming>[0]);
    case 'state':
      return state();
    case 'close':
      await close();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

process.on('message', (message: { id: number; cmd: string; arg?: unknown }) => {
  handle(message.cmd, message.arg).then(
    result => process.send!({ id: message.id, result }),
    (error: Error) => process.send!({ id: message.id, error: error.stack ?? String(error) }),
  );
});
process.on('disconnect', () => {
  void close().finally(() => process.exit(0));
});
process.send!({ ready: role });
