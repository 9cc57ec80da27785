/**
 * MCP tool-call latency and throughput: Baton's server vs a bare SDK server, both in child processes,
 * driven by real SDK clients (`Client` + `StreamableHTTPClientTransport`) from this process over 127.0.0.1.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Payloads } from './bareServer';
import type { BatonInfo } from './serverProcess';
import { nowMs, summarize, type LatencyStats } from './stats';

export type ToolName = keyof Payloads;

export interface McpBenchOptions {
  warmupCalls: number;
  readCalls: number;
  writeCalls: number;
  clients: number;
  durationMs: number;
  /** Ready tasks put in the claim pool before each batch of claims (the plan grows by at most this much). */
  claimPool: number;
  /**
   * Baton and bare take turns in this many slices per phase (sequential calls and the closed loop are each
   * split into `rounds` parts, the order flipping every round), so load changes on a shared machine hit both.
   */
  rounds: number;
  log: (line: string) => void;
}

export interface PhaseThroughput {
  clients: number;
  durationMs: number;
  /** Measurement windows (claims: one per pool top-up). */
  windows: number;
  calls: number;
  callsPerSec: number;
  latency: LatencyStats;
  /** Server process CPU (user+system) per call, ms. */
  serverCpuMsPerCall: number;
  /** Server process CPU time / wall time (1.0 = one core busy). */
  serverCpuUtil: number;
  /** This (client) process CPU time / wall time. */
  clientCpuUtil: number;
}

export interface ServerToolResult {
  sequential: LatencyStats & { serverCpuMsPerCall: number };
  throughput: PhaseThroughput;
  errors: number;
  /** Sequential claims that found nothing to claim (should be 0: each batch gets a pool of its size). */
  dryClaims: number;
  /** Most tasks in the plan during the sequential phase (Baton only). */
  tasksInPlan?: number;
  /** Most tasks in the plan during the throughput phase (Baton only). */
  tasksInPlanThroughput?: number;
  /** The PlanService work of the call timed in-process, without MCP/HTTP (Baton only), ms per call. */
  inProcess?: { wallMs: number; cpuMs: number; tasks: number };
}

export interface ToolResult {
  tool: ToolName;
  kind: 'read' | 'write';
  args: string;
  responseBytes: number;
  baton: ServerToolResult;
  bare: ServerToolResult;
}

export interface McpBenchResult {
  seed: Omit<BatonInfo, 'url' | 'token' | 'noteTargets'>;
  tools: ToolResult[];
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(readonly role: string, private readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`[${role}] ${m.error}`));
      else p.resolve(m.result);
    });
    child.on('exit', code => {
      for (const p of this.pending.values()) p.reject(new Error(`[${role}] server process exited (${code})`));
      this.pending.clear();
    });
  }

  static async spawn(role: 'baton' | 'bare'): Promise<ServerProcess> {
    const child = fork(path.join(__dirname, 'serverProcess.ts'), [role], {
      // BENCH_CPU_PROF=<dir>: each server process writes V8 CPU profiles (`--cpu-prof`) to <dir>/<role>/.
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.env.BENCH_CPU_PROF, role)}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: string }) => {
        if (m.ready) {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      child.once('exit', code => reject(new Error(`${role} server process exited early (${code})`)));
    });
    return new ServerProcess(role, child);
  }

  call<T>(cmd: string, arg?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, arg });
    });
  }

  async cpuMs(): Promise<number> {
    const u = await this.call<NodeJS.CpuUsage>('cpu');
    return (u.user + u.system) / 1000;
  }

  async stop(): Promise<void> {
    await this.call('close').catch(() => undefined);
    await new Promise<void>(resolve => {
      if (this.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => { this.child.kill('SIGKILL'); resolve(); }, 5000);
      this.child.once('exit', () => { clearTimeout(timer); resolve(); });
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Clients

type Agent = Client;

async function connect(url: string, headers: Record<string, string>, name: string): Promise<Agent> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

interface CallOutcome { text: string; isError: boolean }

async function callTool(client: Agent, tool: ToolName, args: Record<string, unknown>): Promise<CallOutcome> {
  const r = await client.callTool({ name: tool, arguments: args });
  const text = (r.content as { type: string; text: string }[])[0]?.text ?? '';
  return { text, isError: !!r.isError };
}

const isDry = (tool: ToolName, text: string) => tool === 'claim_next_task' && text.includes('"task": null');

interface Target {
  name: 'baton' | 'bare';
  proc: ServerProcess;
  seqClient: Agent;
  loadClients: Agent[];
}

type ArgsFn = (i: number) => Record<string, unknown>;

/** Untimed work around a phase or batch (topping up and clearing the claim pool). */
interface Hooks {
  before?(calls: number): Promise<void>;
  after?(): Promise<void>;
}

/** What the sequential phase of one server has measured so far (it runs in slices, alternating servers). */
interface SequentialAcc { samples: number[]; errors: number; dry: number; cpu: number; calls: number }
const sequentialAcc = (): SequentialAcc => ({ samples: [], errors: 0, dry: 0, cpu: 0, calls: 0 });

/**
 * One client, one call at a time: `n` more calls into `acc`, `batch` calls between hooks (server CPU is only
 * counted inside batches).
 */
async function sequential(target: Target, tool: ToolName, n: number, argsFn: ArgsFn, counter: { i: number }, batch: number, hooks: Hooks, acc: SequentialAcc) {
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    await hooks.before?.(size);
    const cpu0 = await target.proc.cpuMs();
    for (let k = 0; k < size; k++) {
      const args = argsFn(counter.i++);
      const t0 = nowMs();
      const r = await callTool(target.seqClient, tool, args);
      acc.samples.push(nowMs() - t0);
      if (r.isError) acc.errors++;
      if (isDry(tool, r.text)) acc.dry++;
    }
    acc.cpu += (await target.proc.cpuMs()) - cpu0;
    acc.calls += size;
    await hooks.after?.();
  }
}

const sequentialStats = (acc: SequentialAcc) => ({ ...summarize(acc.samples), serverCpuMsPerCall: acc.cpu / acc.calls });

/** What the closed-loop phase of one server has measured so far (it runs in slices, alternating servers). */
interface LoopAcc { samples: number[]; errors: number; dry: number; windows: number; elapsed: number; serverCpu: number; clientCpu: number; exhausted: boolean }
const loopAcc = (): LoopAcc => ({ samples: [], errors: 0, dry: 0, windows: 0, elapsed: 0, serverCpu: 0, clientCpu: 0, exhausted: false });

/**
 * Every load client calls in a closed loop (next call as soon as the previous answer arrives) for
 * `durationMs` more, into `acc`. With `pool` hooks (claims), the time is split into windows: before each the
 * pool is topped up (untimed), and a window ends early when a claim finds the pool empty (that call is not
 * counted), so the plan never grows far beyond its seeded size and no cheap "nothing to claim" answers are counted.
 */
async function closedLoop(target: Target, tool: ToolName, durationMs: number, argsFn: ArgsFn, counter: { i: number }, acc: LoopAcc, pool?: { size: number; hooks: Hooks }) {
  let elapsed = 0;
  while (elapsed < durationMs && !acc.exhausted) {
    await pool?.hooks.before?.(pool.size);
    acc.windows++;
    const cpu0 = await target.proc.cpuMs();
    const client0 = process.cpuUsage();
    const start = nowMs();
    const end = start + (durationMs - elapsed);
    let exhausted = false;
    await Promise.all(target.loadClients.map(async client => {
      while (!exhausted && nowMs() < end) {
        const args = argsFn(counter.i++);
        const t0 = nowMs();
        const r = await callTool(client, tool, args);
        const took = nowMs() - t0;
        if (isDry(tool, r.text)) {
          if (!pool) acc.dry++;
          exhausted = true;
          continue;
        }
        acc.samples.push(took);
        if (r.isError) acc.errors++;
      }
    }));
    const took = nowMs() - start;
    elapsed += took;
    acc.elapsed += took;
    const c = process.cpuUsage(client0);
    acc.clientCpu += (c.user + c.system) / 1000;
    acc.serverCpu += (await target.proc.cpuMs()) - cpu0;
    await pool?.hooks.after?.();
    if (exhausted && !pool) acc.exhausted = true;
  }
}

function loopThroughput(target: Target, acc: LoopAcc): PhaseThroughput {
  return {
    clients: target.loadClients.length,
    durationMs: acc.elapsed,
    windows: acc.windows,
    calls: acc.samples.length,
    callsPerSec: acc.samples.length / (acc.elapsed / 1000),
    latency: summarize(acc.samples),
    serverCpuMsPerCall: acc.serverCpu / acc.samples.length,
    serverCpuUtil: acc.serverCpu / acc.elapsed,
    clientCpuUtil: acc.clientCpu / acc.elapsed,
  };
}

async function warmup(target: Target, tool: ToolName, n: number, argsFn: ArgsFn, counter: { i: number }): Promise<void> {
  for (let k = 0; k < n; k++) await callTool(target.seqClient, tool, argsFn(counter.i++));
  // A few calls on every load client too, so their connections and sessions are warm.
  await Promise.all(target.loadClients.map(async c => {
    for (let k = 0; k < 5; k++) await callTool(c, tool, argsFn(counter.i++));
  }));
}

// ---------------------------------------------------------------------------------------------------------
// The benchmark

export async function runMcpBench(o: McpBenchOptions): Promise<McpBenchResult> {
  const batonProc = await ServerProcess.spawn('baton');
  const bareProc = await ServerProcess.spawn('bare');
  const targets: Target[] = [];
  try {
    const info = await batonProc.call<BatonInfo>('open');
    o.log(`  Baton seeded: ${info.tasks} tasks in ${info.sprints} sprints, ${info.notes} notes, ${(info.dbBytes / 1024).toFixed(0)} KiB database`);
    const auth = { Authorization: `Bearer ${info.token}`, 'X-Baton-Tools': 'full' };

    const noteText = (i: number) => `Bench note ${i}: measured the handler, the cache warms after the first request; next agent should check the retry path and the error message wording.`;
    const argsOf: Record<ToolName, ArgsFn> = {
      get_task: () => ({ task_id: info.getTaskId }),
      list_tasks: () => ({ limit: 50 }),
      add_note: i => ({ task_id: info.noteTargets[i % info.noteTargets.length], text: noteText(i) }),
      claim_next_task: () => ({ sprint_id: info.poolSprintId }),
    };

    // Capture Baton's real answers: the bare server returns exactly these texts.
    const probe = await connect(info.url, auth, 'bench-probe');
    await batonProc.call('topup', 1);
    const payloads = {} as Payloads;
    for (const tool of Object.keys(argsOf) as ToolName[]) {
      const r = await callTool(probe, tool, argsOf[tool](0));
      if (r.isError) throw new Error(`Baton ${tool} failed: ${r.text}`);
      payloads[tool] = r.text;
    }
    await probe.close();
    await batonProc.call('clearPool');
    await bareProc.call('open');
    const { url: bareUrl } = await bareProc.call<{ url: string }>('start', payloads);

    for (const [name, proc, url, headers] of [['baton', batonProc, info.url, auth], ['bare', bareProc, bareUrl, {}]] as const) {
      const seqClient = await connect(url, headers, `${name}-seq`);
      const loadClients = await Promise.all(Array.from({ length: o.clients }, (_, k) => connect(url, headers, `${name}-load-${k}`)));
      targets.push({ name, proc, seqClient, loadClients });
    }

    const tools: ToolResult[] = [];
    const plan: { tool: ToolName; kind: 'read' | 'write' }[] = [
      { tool: 'get_task', kind: 'read' },
      { tool: 'list_tasks', kind: 'read' },
      { tool: 'add_note', kind: 'write' },
      { tool: 'claim_next_task', kind: 'write' },
    ];
    for (const { tool, kind } of plan) {
      const n = kind === 'read' ? o.readCalls : o.writeCalls;
      const t0 = nowMs();
      // Claims need ready tasks: a pool is topped up before and deleted after each batch (untimed), so the
      // plan stays near its seeded size instead of growing by every task ever claimed.
      const tasksNow = async () => (await batonProc.call<{ tasks: number }>('state')).tasks;
      const seeded = await tasksNow();
      const state = new Map(targets.map(target => {
        const isBaton = target.name === 'baton';
        const claims = isBaton && tool === 'claim_next_task';
        const st = {
          isBaton, claims, counter: { i: 0 }, seq: sequentialAcc(), load: loopAcc(),
          tasksInPlan: isBaton ? seeded : undefined, tasksInPlanThroughput: isBaton ? seeded : undefined,
          inProcess: undefined as ServerToolResult['inProcess'],
          poolHooks: (extra: number, record?: (tasks: number) => void): Hooks => claims ? {
            before: async calls => {
              await batonProc.call('topup', calls + extra);
              record?.(await tasksNow());
            },
            after: async () => { await batonProc.call('clearPool'); },
          } : {},
        };
        return [target.name, st] as const;
      }));
      for (const target of targets) {
        const st = state.get(target.name)!;
        const warm = st.poolHooks(5 * o.clients + 10);
        await warm.before?.(o.warmupCalls);
        await warmup(target, tool, o.warmupCalls, argsOf[tool], st.counter);
        await warm.after?.();
      }
      // Interleaved: both servers take turns in `rounds` short slices (the order flips every round), so a
      // change in the machine's load shifts both sides alike and the ratios stay meaningful.
      const rounds = Math.max(1, o.rounds);
      const orderOf = (r: number) => (r % 2 === 0 ? targets : [...targets].reverse());
      for (let r = 0; r < rounds; r++) {
        const calls = Math.floor(n * (r + 1) / rounds) - Math.floor(n * r / rounds);
        for (const target of orderOf(r)) {
          const st = state.get(target.name)!;
          await sequential(target, tool, calls, argsOf[tool], st.counter, st.claims ? o.claimPool : calls, st.poolHooks(0, k => { st.tasksInPlan = Math.max(st.tasksInPlan ?? 0, k); }), st.seq);
        }
      }
      const baton = state.get('baton')!;
      baton.inProcess = await batonProc.call('serviceTiming', { tool, n: Math.min(n, 200), batch: o.claimPool, getTaskId: info.getTaskId, noteTargets: info.noteTargets });
      for (let r = 0; r < rounds; r++) {
        for (const target of orderOf(r)) {
          const st = state.get(target.name)!;
          await closedLoop(target, tool, o.durationMs / rounds, argsOf[tool], st.counter, st.load,
            st.claims ? { size: o.claimPool, hooks: st.poolHooks(0, k => { st.tasksInPlanThroughput = Math.max(st.tasksInPlanThroughput ?? 0, k); }) } : undefined);
        }
      }
      const results = {} as Record<'baton' | 'bare', ServerToolResult>;
      for (const target of targets) {
        const st = state.get(target.name)!;
        results[target.name] = {
          sequential: sequentialStats(st.seq),
          throughput: loopThroughput(target, st.load),
          errors: st.seq.errors + st.load.errors,
          dryClaims: st.seq.dry + st.load.dry,
          tasksInPlan: st.tasksInPlan,
          tasksInPlanThroughput: st.tasksInPlanThroughput,
          inProcess: st.inProcess,
        };
        o.log(`  ${tool.padEnd(16)} ${target.name.padEnd(5)} p50 ${results[target.name].sequential.p50.toFixed(3)} ms, server CPU ${results[target.name].sequential.serverCpuMsPerCall.toFixed(3)} ms/call, ${results[target.name].throughput.callsPerSec.toFixed(0)} calls/s`);
      }
      o.log(`  ${tool.padEnd(16)} Baton/bare: p50 ${(results.baton.sequential.p50 / results.bare.sequential.p50).toFixed(2)}×, server CPU ${(results.baton.sequential.serverCpuMsPerCall / results.bare.sequential.serverCpuMsPerCall).toFixed(2)}×, throughput ${(100 * results.baton.throughput.callsPerSec / results.bare.throughput.callsPerSec).toFixed(0)} % (${rounds} interleaved rounds, ${((nowMs() - t0) / 1000).toFixed(1)} s)`);
      tools.push({
        tool, kind, args: JSON.stringify(argsOf[tool](0)).replace(info.noteTargets[0], 'T-…'),
        responseBytes: Buffer.byteLength(payloads[tool]), baton: results.baton, bare: results.bare,
      });
    }
    const { url: _u, token: _t, noteTargets: _n, ...seed } = info;
    return { seed, tools };
  } finally {
    for (const t of targets) {
      await t.seqClient.close().catch(() => undefined);
      for (const c of t.loadClients) await c.close().catch(() => undefined);
    }
    await batonProc.stop();
    await bareProc.stop();
  }
}
