/**
 * Baton benchmark (`npm run bench`). Not a test: it asserts nothing about timings, it measures and reports.
 *
 *  1. MCP tool calls, Baton vs a bare SDK server (same tools, same input schemas, same answer texts), each
 *     server in its own child process, real SDK clients over 127.0.0.1: sequential latency and closed-loop
 *     throughput with several concurrent sessions.
 *  2. Durable-write latency at ~1 MB and ~50 MB of state: DurableDatabase's journal vs rewriting the whole
 *     file per write, and the (amortized) snapshot cost.
 *  3. Agent sessions (bench/sessionsBench.ts): output throughput through Baton's terminal capture vs raw
 *     node-pty (and through tmux), memory while a session streams 100 MiB, event-loop delay with 20 live sessions.
 *  4. Autopilot (bench/autopilotBench.ts): decision cost per completion event at 1k and 10k tasks, incremental
 *     vs a from-scratch recomputation of the same decision.
 *
 * Prints markdown tables and writes bench/results/latest.json. Environment knobs: BENCH_CPU_PROF=<dir> writes a CPU profile of each MCP server process there; BENCH_QUICK=1 for a
 * fast smoke run with small counts; BENCH_ROUNDS=<n>
 * splits each MCP phase into n slices that alternate Baton and bare (default 6, quick 2); BENCH_ONLY=sessions (or mcp, durable, import, autopilot; comma-separated) runs only those
 * parts and writes bench/results/latest-<parts>.json instead.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { autopilotTable, runAutopilotBench, type AutopilotBenchOptions, type AutopilotBenchResult } from './autopilotBench';
import { runImportBench, type ImportBenchOptions, type ImportBenchResult } from './importBench';
import { runDurableBench, type DurableBenchOptions, type DurableSizeResult } from './durableBench';
import { runMcpBench, type McpBenchOptions, type McpBenchResult } from './mcpBench';
import { runSessionsBench, type SessionsBenchOptions, type SessionsBenchResult } from './sessionsBench';
import { int, markdownTable, mb, ms, nowMs, pct, ratio } from './stats';

const quick = process.env.BENCH_QUICK === '1';
const PARTS = ['mcp', 'durable', 'sessions', 'import', 'autopilot'] as const;
type Part = typeof PARTS[number];
const only = (process.env.BENCH_ONLY ?? '').split(',').map(s => s.trim()).filter(Boolean);
for (const p of only) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_ONLY: unknown part "${p}"; parts: ${PARTS.join(', ')}`);
const runs = (part: Part) => only.length === 0 || only.includes(part);
const log = (line: string) => process.stderr.write(`${line}\n`);
const loadAverages = { start: os.loadavg()[0], end: NaN };

/** BENCH_ROUNDS=<n>: how many interleaved Baton/bare slices each MCP phase is split into. */
function rounds(fallback: number): number {
  const raw = process.env.BENCH_ROUNDS;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_ROUNDS must be a whole number ≥ 1, got "${raw}"`);
  return n;
}
const mcpOptions: McpBenchOptions = quick
  ? { warmupCalls: 20, readCalls: 50, writeCalls: 30, clients: 8, durationMs: 500, claimPool: 30, rounds: rounds(2), log }
  : { warmupCalls: 1000, readCalls: 1000, writeCalls: 300, clients: 8, durationMs: 3000, claimPool: 100, rounds: rounds(6), log };
const durableOptions: DurableBenchOptions = quick
  ? { sizesMb: [1, 5], smallWrites: 50, wholeFileWrites: [10, 5], snapshots: 2, log }
  : { sizesMb: [1, 50], smallWrites: 300, wholeFileWrites: [100, 20], snapshots: 5, log };
const sessionsOptions: SessionsBenchOptions = quick
  ? { streamMb: 20, chunkKb: 64, repeats: 1, tmux: true, streamTimeoutMs: 30_000, lagSessions: 20, lagLineIntervalMs: 50, lagMs: 2000, log }
  : { streamMb: 100, chunkKb: 64, repeats: 3, tmux: true, streamTimeoutMs: 60_000, lagSessions: 20, lagLineIntervalMs: 50, lagMs: 5000, log };

function sdkVersion(): string {
  // The SDK's exports map resolves package.json to dist/cjs/package.json; walk up to the package root.
  let dir = path.dirname(require.resolve('@modelcontextprotocol/sdk/package.json'));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    const pkg = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string }) : {};
    if (pkg.name === '@modelcontextprotocol/sdk') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}

function environment() {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: `${cpus[0]?.model ?? 'unknown'} × ${cpus.length}`,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    mcpSdk: sdkVersion(),
    tmpdir: os.tmpdir(),
  };
}

function mcpTables(r: McpBenchResult): string {
  const o = mcpOptions;
  const out: string[] = [];
  out.push(`### MCP tool calls: Baton vs bare SDK server`);
  out.push('');
  out.push(`Plan: ${r.seed.tasks} tasks in ${r.seed.sprints} sprints (sample plan + 200 generated), ${r.seed.notes} notes; ` +
    `get_task reads ${r.seed.getTaskId}. Each server runs in its own process; clients are SDK \`Client\` + ` +
    `\`StreamableHTTPClientTransport\` in the bench process. Sequential: 1 session, ${o.warmupCalls} warm-up calls, then ` +
    `${o.readCalls} calls per read tool / ${o.writeCalls} per write tool. Throughput: ${o.clients} sessions, closed loop for ${o.durationMs / 1000} s. ` +
    `Baton and bare take turns: each phase runs in ${o.rounds} slices alternating the two servers (order flipped every round), so load changes on the machine hit both. ` +
    'Writes are durable on both sides: Baton acknowledges a write once its journal record is fdatasynced (group ' +
    'commit: concurrent writes share one fdatasync); the bare server appends each write to a file and fdatasyncs it ' +
    'before answering (one fdatasync per call). Reads touch no disk on either side.');
  out.push('');
  out.push('**Sequential latency (ms, one client)**');
  out.push('');
  out.push(markdownTable(
    ['Tool', 'Answer', 'Baton p50', 'Baton p99', 'Baton mean', 'Bare p50', 'Bare p99', 'Bare mean', 'Baton/bare p50', 'Baton/bare p99'],
    r.tools.map(t => [
      `${t.tool} (${t.kind})`, `${(t.responseBytes / 1024).toFixed(1)} KiB`,
      ms(t.baton.sequential.p50), ms(t.baton.sequential.p99), ms(t.baton.sequential.mean),
      ms(t.bare.sequential.p50), ms(t.bare.sequential.p99), ms(t.bare.sequential.mean),
      ratio(t.baton.sequential.p50 / t.bare.sequential.p50), ratio(t.baton.sequential.p99 / t.bare.sequential.p99),
    ]),
  ));
  out.push('');
  out.push('**Server CPU per call (ms, sequential run; robust to other load on the machine)**');
  out.push('');
  out.push(markdownTable(
    ['Tool', 'Bare server (SDK transport + zod + JSON)', 'Baton server total', 'of which PlanService + sql.js (in-process)', 'Baton MCP/HTTP layers + tool glue (total − service)', 'Baton total / bare'],
    r.tools.map(t => {
      const service = t.baton.inProcess?.cpuMs ?? NaN;
      return [
        t.tool, ms(t.bare.sequential.serverCpuMsPerCall), ms(t.baton.sequential.serverCpuMsPerCall),
        ms(service), ms(t.baton.sequential.serverCpuMsPerCall - service),
        ratio(t.baton.sequential.serverCpuMsPerCall / t.bare.sequential.serverCpuMsPerCall),
      ];
    }),
  ));
  out.push('');
  out.push(`**Throughput (${o.clients} concurrent sessions, closed loop, ${o.durationMs / 1000} s)**`);
  out.push('');
  out.push(markdownTable(
    ['Tool', 'Baton calls/s', 'Bare calls/s', 'Baton % of bare', 'Baton p50 / p99 under load', 'Bare p50 / p99 under load', 'Baton server CPU', 'Bare server CPU', 'Client CPU (Baton / bare run)'],
    r.tools.map(t => [
      t.tool, int(t.baton.throughput.callsPerSec), int(t.bare.throughput.callsPerSec),
      pct(t.baton.throughput.callsPerSec / t.bare.throughput.callsPerSec),
      `${ms(t.baton.throughput.latency.p50)} / ${ms(t.baton.throughput.latency.p99)}`,
      `${ms(t.bare.throughput.latency.p50)} / ${ms(t.bare.throughput.latency.p99)}`,
      pct(t.baton.throughput.serverCpuUtil), pct(t.bare.throughput.serverCpuUtil),
      `${pct(t.baton.throughput.clientCpuUtil)} / ${pct(t.bare.throughput.clientCpuUtil)}`,
    ]),
  ));
  out.push('');
  for (const t of r.tools) {
    out.push(`- \`${t.tool}\`: Baton is ${ratio(t.baton.sequential.p50 / t.bare.sequential.p50)} the bare latency at p50 ` +
      `(${ratio(t.baton.sequential.p99 / t.bare.sequential.p99)} at p99, +${ms(t.baton.sequential.p50 - t.bare.sequential.p50)} ms) and reaches ` +
      `${pct(t.baton.throughput.callsPerSec / t.bare.throughput.callsPerSec)} of bare throughput.`);
  }
  const claim = r.tools.find(t => t.tool === 'claim_next_task');
  const problems = r.tools.filter(t => t.baton.errors || t.bare.errors || t.baton.dryClaims);
  out.push('');
  if (claim?.baton.tasksInPlan !== undefined) {
    out.push(`claim_next_task claims from a pool sprint: before each batch of ${o.claimPool} claims (sequential) or each throughput window, ` +
      `${o.claimPool} ready tasks are added and afterwards deleted, untimed, so the plan stays at ${claim.baton.tasksInPlan} tasks at most ` +
      `(claim cost grows with plan size); a throughput window ends when the pool is empty ` +
      `(${claim.baton.throughput.windows} windows, ${(claim.baton.throughput.durationMs / 1000).toFixed(1)} s measured).`);
  }
  const load = loadAverages;
  out.push(`Machine load average (1 min) was ${load.start.toFixed(1)} at the start and ${load.end.toFixed(1)} at the end on ${os.cpus().length} cores` +
    (Math.max(load.start, load.end) > os.cpus().length * 0.5
      ? ': other work shared the CPUs, so wall-clock latencies and throughput include contention; server CPU per call is the steadier comparison.'
      : '.'));
  out.push(problems.length
    ? `WARNING: ${problems.map(t => `${t.tool}: ${t.baton.errors + t.bare.errors} errors, ${t.baton.dryClaims} dry claims`).join('; ')}`
    : 'No tool errors; no claim found the pool empty.');
  return out.join('\n');
}

function durableTables(rs: DurableSizeResult[]): string {
  const out: string[] = [];
  out.push('### Durable write latency vs state size');
  out.push('');
  out.push(`One small acknowledged write = \`DurableDatabase.transaction\` inserting one note (journal append + fdatasync), ` +
    `${durableOptions.smallWrites} times per size. Whole-file = what a naive sql.js app does per write: insert, \`db.export()\`, ` +
    `write temp file, fsync, rename (no directory fsync, which favours it). Schema: STATE_MIGRATIONS; state = ~1 KiB notes.`);
  out.push('');
  out.push(markdownTable(
    ['State', 'Journal p50', 'Journal p99', 'Journal mean', 'Whole-file p50', 'Whole-file p99', 'Whole-file / journal (p50)', 'Snapshot', 'Writes per auto-snapshot', 'Amortized snapshot/write', 'Journal + amortized'],
    rs.map(r => [
      `${r.targetMb} MB (${mb(r.dbBytes)})`,
      `${ms(r.journal.p50)} ms`, `${ms(r.journal.p99)} ms`, `${ms(r.journal.mean)} ms`,
      `${ms(r.wholeFile.p50)} ms`, `${ms(r.wholeFile.p99)} ms`, ratio(r.wholeFile.p50 / r.journal.p50),
      `${ms(r.snapshot.p50)} ms`, int(r.writesPerSnapshot), `${ms(r.amortizedSnapshotMs)} ms`,
      `${ms(r.journal.mean + r.amortizedSnapshotMs)} ms`,
    ]),
    1,
  ));
  if (rs.length >= 2) {
    const [a, b] = [rs[0], rs[rs.length - 1]];
    out.push('');
    out.push(`- Journal write at ${b.targetMb} MB / at ${a.targetMb} MB: ${ratio(b.journal.p50 / a.journal.p50)} at p50, ` +
      `${ratio(b.journal.p99 / a.journal.p99)} at p99 (design goal: ~1×, cost independent of size).`);
    out.push(`- Whole-file write at ${b.targetMb} MB / at ${a.targetMb} MB: ${ratio(b.wholeFile.p50 / a.wholeFile.p50)} at p50.`);
    out.push(`- Journal record per small write: ~${int(b.journal.bytesPerWrite)} bytes; an automatic snapshot triggers when the journal exceeds ` +
      `max(1 MiB, size/2) = ${mb(b.snapshotThresholdBytes)} at ${b.targetMb} MB, i.e. every ~${int(b.writesPerSnapshot)} such writes ` +
      `(it runs synchronously inside the write that crosses the threshold, so that one write takes ~${ms(b.snapshot.p50)} ms longer).`);
    out.push(`- Filling took ${rs.map(r => `${(r.fill.ms / 1000).toFixed(1)} s for ${r.targetMb} MB (${r.fill.transactions} transactions, ${r.fill.autoSnapshots} automatic snapshots)`).join(', ')}.`);
  }
  return out.join('\n');
}

function sessionsTables(r: SessionsBenchResult): string {
  const o = sessionsOptions;
  const out: string[] = [];
  const streamMib = r.streamBytes / 1048576;
  out.push('### Agent sessions: terminal capture in the extension host');
  out.push('');
  out.push(`A child (\`node -e\`) writes ${int(streamMib)} MiB of 80-column printable lines in ${int(r.chunkBytes / 1024)} KiB writes, as fast as ` +
    `the terminal takes them (${COLS_NOTE}). Raw = \`pty.spawn\` counting bytes in onData; Baton = \`TerminalSession.start\` ` +
    `(PtyProcess + OutputBuffer of ${mb(r.bufferBytes)} + StateDetector) with an onData listener like the terminal UI's; tmux = the same ` +
    `with \`useTmux\` (${r.tmux.version ?? 'tmux'}, its own server). Time = spawn to exit seen; median of ${o.repeats} run(s) per path, interleaved, after a warm-up.`);
  out.push('');
  const raw = r.throughput.find(t => t.path === 'raw node-pty')?.median;
  out.push('**Output throughput**');
  out.push('');
  out.push(markdownTable(
    ['Path', 'Time', 'MiB/s', 'vs raw node-pty', 'Bench-process CPU per MiB', 'Bytes read in onData', 'Runs (s)'],
    r.throughput.map(t => {
      const m = t.median;
      if (!m) return [t.path, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', t.error ?? 'no run'];
      return [
        t.path, `${m.seconds.toFixed(2)} s`, m.mbPerSec.toFixed(1), raw ? ratio(m.mbPerSec / raw.mbPerSec) : 'n/a',
        `${ms(m.hostCpuMsPerMb)} ms`, mb(m.receivedBytes), t.runs.map(x => x.seconds.toFixed(2)).join(', '),
      ];
    }),
  ));
  const direct = r.throughput.find(t => t.path === 'Baton, direct pty');
  const tmux = r.throughput.find(t => t.path === 'Baton, tmux');
  out.push('');
  if (raw && direct?.median) {
    out.push(`- Baton's capture (direct pty) runs at ${ratio(direct.median.mbPerSec / raw.mbPerSec)} the raw node-pty rate and costs ` +
      `+${ms(direct.median.hostCpuMsPerMb - raw.hostCpuMsPerMb)} ms of this process's CPU per MiB of output ` +
      `(${ratio(direct.median.hostCpuMsPerMb / raw.hostCpuMsPerMb)} raw). Both rates are bounded by the writer and the pty (the ` +
      `writer keeps a core busy), so wall-clock ratios vary from run to run; CPU per MiB is the steadier cost to compare. The pty adds a ` +
      `\`\\r\` per line, hence more bytes read than written.`);
  }
  if (tmux?.median) {
    const read = tmux.runs.map(x => x.receivedBytes);
    out.push(`- Through tmux the agent writes into tmux, which redraws only the screen: the pty carried ${mb(Math.min(...read))}–${mb(Math.max(...read))} ` +
      `(by run) for ${int(streamMib)} MiB of output, so Baton's own CPU per MiB drops to ${ms(tmux.median.hostCpuMsPerMb)} ms while the agent's rate ` +
      `(${tmux.median.mbPerSec.toFixed(1)} MiB/s, ${raw ? ratio(tmux.median.mbPerSec / raw.mbPerSec) : 'n/a'} raw) is set by tmux parsing it; ` +
      `the buffer then holds the redrawn screens, not every line (tmux keeps its own history).`);
  } else if (tmux?.error) {
    out.push(`- tmux: ${tmux.error}`);
  } else if (!r.tmux.available) {
    out.push('- tmux is not installed: no tmux line.');
  }
  out.push('');
  out.push(`**Memory of the bench process while one session streams ${int(streamMib)} MiB** (sampled every 100 ms; baseline and "held after" after a forced GC)`);
  out.push('');
  out.push(markdownTable(
    ['Path', 'Stream time', 'RSS peak − baseline', 'Heap peak − baseline', 'RSS after − baseline', 'Heap held after − baseline', 'Buffer held / max', 'Output seen'],
    r.memory.map(m => [
      m.path, `${m.seconds.toFixed(2)} s`, mbSigned(m.rss.peak - m.rss.baseline), mbSigned(m.heap.peak - m.heap.baseline),
      mbSigned(m.rss.afterGc - m.rss.baseline), mbSigned(m.heap.afterGc - m.heap.baseline),
      m.buffer ? `${mb(m.buffer.heldBytes)} / ${mb(m.buffer.maxBytes)}` : '—', m.buffer ? mb(m.buffer.totalBytes) : '—',
    ]),
  ));
  const bm = r.memory.find(m => m.path === 'Baton, direct pty');
  const rm = r.memory.find(m => m.path === 'raw node-pty');
  if (bm && rm) {
    out.push('');
    out.push(`- After ${mb(bm.buffer?.totalBytes ?? r.streamBytes)} of output the session holds ${mb(bm.buffer?.heldBytes ?? NaN)} ` +
      `(its ${mb(r.bufferBytes)} bound); heap still held after GC: ${mbSigned(bm.heap.afterGc - bm.heap.baseline)} (raw node-pty: ${mbSigned(rm.heap.afterGc - rm.heap.baseline)}). ` +
      `The peaks are transient strings awaiting GC (${mbSigned(bm.heap.peak - bm.heap.baseline)} Baton vs ${mbSigned(rm.heap.peak - rm.heap.baseline)} raw): memory stays flat, not proportional to output.`);
  }
  out.push('');
  out.push(`**Event-loop delay of the bench process (standing in for the extension host)** — \`monitorEventLoopDelay\` (10 ms resolution; ` +
    `delay beyond the interval), ${o.lagMs / 1000} s per row; each session runs an agent-like script printing a coloured line every ` +
    `${o.lagLineIntervalMs} ms (a \\r spinner every 10th), direct pty, onData listener as the UI's`);
  out.push('');
  const base = r.lag.find(l => l.sessions === 0);
  out.push(markdownTable(
    ['Live sessions', 'p50', 'p99', 'max', 'mean', 'p99 vs 0 sessions', 'Lines received/s', 'Bench-process CPU'],
    r.lag.map(l => [
      String(l.sessions), `${ms(l.p50)} ms`, `${ms(l.p99)} ms`, `${ms(l.max)} ms`, `${ms(l.mean)} ms`,
      base ? (l.sessions === 0 ? '1.00×' : `${ratio(l.p99 / base.p99)} (+${ms(l.p99 - base.p99)} ms)`) : 'n/a',
      int(l.linesReceived / (o.lagMs / 1000)), pct(l.hostCpu),
    ]),
  ));
  return out.join('\n');
}

const COLS_NOTE = 'a 120×30 terminal';

function mbSigned(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  return `${bytes < 0 ? '−' : '+'}${mb(Math.abs(bytes))}`;
}

const importOptions: ImportBenchOptions = quick
  ? { sizes: [1000, 10_000], baselineMaxTasks: 1000, log }
  : { sizes: [1000, 10_000, 100_000], baselineMaxTasks: 1000, log };

const autopilotOptions: AutopilotBenchOptions = { sizes: [1000, 10_000], events: quick ? 200 : 1000, maxParallel: 8, log };

function importTables(r: ImportBenchResult): string {
  const rows = r.sizes.map(s => [
    int(s.tasks), int(s.dependencies), `${(s.ms / 1000).toFixed(2)} s`, int(Math.round(s.tasksPerSecond)),
    s.maxStallMs === null ? 'n/a' : `${Math.round(s.maxStallMs)} ms`,
    'skipped' in s.baseline ? s.baseline.skipped : `${(s.baseline.ms / 1000).toFixed(2)} s · ${int(Math.round(s.baseline.tasksPerSecond))} tasks/s`,
    'skipped' in s.baseline ? '—' : ratio(s.tasksPerSecond / s.baseline.tasksPerSecond),
  ]);
  return [
    `### Plan import (Task Master chain: n tasks, n − 1 dependencies; baseline = ${r.baselineCommit}, same run)`,
    '',
    markdownTable(['tasks', 'dependencies', 'time', 'tasks/s', 'longest stall', 'baseline', 'speed-up'], rows),
  ].join('\n');
}

async function main(): Promise<void> {
  const t0 = nowMs();
  const env = environment();
  log(`Baton bench${quick ? ' (quick)' : ''}: node ${env.node}, ${env.cpu}`);
  let mcp: McpBenchResult | undefined;
  let durable: DurableSizeResult[] | undefined;
  let sessions: SessionsBenchResult | undefined;
  if (runs('mcp')) {
    log('MCP tool calls…');
    mcp = await runMcpBench(mcpOptions);
  }
  if (runs('durable')) {
    log('Durable writes…');
    durable = await runDurableBench(durableOptions);
  }
  if (runs('sessions')) {
    log('Agent sessions…');
    const s0 = nowMs();
    sessions = await runSessionsBench(sessionsOptions);
    log(`  sessions part took ${((nowMs() - s0) / 1000).toFixed(0)} s`);
  }
  let imports: ImportBenchResult | undefined;
  if (runs('import')) {
    log('Plan import…');
    imports = await runImportBench(importOptions);
  }
  let autopilot: AutopilotBenchResult | undefined;
  if (runs('autopilot')) {
    log('Autopilot decisions…');
    autopilot = runAutopilotBench(autopilotOptions);
  }
  loadAverages.end = os.loadavg()[0];
  const seconds = (nowMs() - t0) / 1000;

  const report = [
    `## Baton benchmark${quick ? ' (quick run)' : ''}`,
    '',
    `${new Date().toISOString().slice(0, 10)} · node ${env.node} · ${env.platform} · ${env.cpu} · MCP SDK ${env.mcpSdk} · ran in ${seconds.toFixed(0)} s`,
    '',
    ...(mcp ? [mcpTables(mcp), ''] : []),
    ...(durable ? [durableTables(durable), ''] : []),
    ...(sessions ? [sessionsTables(sessions), ''] : []),
    ...(imports ? [importTables(imports), ''] : []),
    ...(autopilot ? [autopilotTable(autopilot), ''] : []),
  ].join('\n');
  process.stdout.write(report);

  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const suffix = `${only.length ? `-${only.join('-')}` : ''}${quick ? '-quick' : ''}`;
  const file = path.join(resultsDir, `latest${suffix}.json`);
  fs.writeFileSync(file, JSON.stringify({
    date: new Date().toISOString(), quick, seconds, environment: env, loadAverages,
    options: { mcp: { ...mcpOptions, log: undefined }, durable: { ...durableOptions, log: undefined }, sessions: { ...sessionsOptions, log: undefined }, import: { ...importOptions, log: undefined }, autopilot: { ...autopilotOptions, log: undefined } },
    ...(only.length ? { only } : {}), mcp, durable, sessions, imports, autopilot,
  }, null, 2) + '\n');
  log(`\nWrote ${path.relative(process.cwd(), file)} (${seconds.toFixed(0)} s).`);
}

main().catch(error => {
  console.error(error);
  process.exitCode = 1;
});
