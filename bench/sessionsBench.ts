/**
 * Agent sessions: what Baton's terminal capture costs the process it runs in (the extension host).
 *
 *  1. Output throughput: a child writes a fixed stream (64 KiB chunks of printable lines) as fast as the terminal
 *     takes it, read once through raw node-pty (`pty.spawn`, counting bytes in onData), once through
 *     `TerminalSession.start` (direct pty: PtyProcess + OutputBuffer + StateDetector, with an onData listener
 *     like the UI's), and once through `TerminalSession.start` with `useTmux` (the agent in tmux, a `tmux
 *     attach` client in the pty).
 *  2. Memory of one session while it streams: RSS and V8 heap of this process sampled every 100 ms (peak −
 *     baseline, and what is still held after the stream and a GC), and the session buffer's held bytes.
 *  3. Event-loop delay (`perf_hooks.monitorEventLoopDelay`) of this process — standing in for the extension
 *     host — with N live direct sessions printing agent-like lines, against the same measurement with none.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import * as v8 from 'node:v8';
import { DEFAULT_OUTPUT_BUFFER_BYTES } from '../src/sessions/outputBuffer';
import { loadNodePty, type NodePtyModule } from '../src/sessions/ptyProcess';
import { TerminalSession } from '../src/sessions/terminalSession';
import { tmuxAvailable } from '../src/sessions/tmux';
import { nowMs } from './stats';

export interface SessionsBenchOptions {
  /** Size of the stream the child writes, MiB. */
  streamMb: number;
  /** Size of each write of the child, KiB. */
  chunkKb: number;
  /** Runs per path (raw / Baton direct / Baton tmux), interleaved; the median is reported. */
  repeats: number;
  /** Also through tmux, when installed. */
  tmux: boolean;
  /** Give up on one stream after this long (ms). */
  streamTimeoutMs: number;
  /** Live sessions for the event-loop measurement. */
  lagSessions: number;
  /** Milliseconds between two lines of each chatty session. */
  lagLineIntervalMs: number;
  /** Length of each event-loop measurement, ms. */
  lagMs: number;
  log: (line: string) => void;
}

export type StreamPath = 'raw node-pty' | 'Baton, direct pty' | 'Baton, tmux';

export interface ThroughputRun {
  seconds: number;
  mbPerSec: number;
  /** Bytes that arrived in onData (the pty adds a `\r` per line; under tmux, what tmux redraws). */
  receivedBytes: number;
  /** CPU time of this process (user + system) per MiB of stream, ms. */
  hostCpuMsPerMb: number;
}

export interface ThroughputResult {
  path: StreamPath;
  runs: ThroughputRun[];
  /** The run with the median time. */
  median: ThroughputRun | null;
  error?: string;
}

export interface MemoryResult {
  path: StreamPath;
  seconds: number;
  samples: number;
  rss: { baseline: number; peak: number; afterGc: number };
  heap: { baseline: number; peak: number; afterGc: number };
  /** Baton only: the session's OutputBuffer at the end. */
  buffer?: { totalBytes: number; heldBytes: number; maxBytes: number };
}

export interface LagResult {
  sessions: number;
  /** Delay beyond the 10 ms sampling interval, ms. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
  /** Lines of output received from all sessions during the window. */
  linesReceived: number;
  /** CPU of this process during the window (fraction of one core). */
  hostCpu: number;
}

export interface SessionsBenchResult {
  streamBytes: number;
  chunkBytes: number;
  bufferBytes: number;
  tmux: { available: boolean; version?: string; socket?: string };
  throughput: ThroughputResult[];
  memory: MemoryResult[];
  lag: LagResult[];
}

const COLS = 120;
const ROWS = 30;
const LAG_RESOLUTION_MS = 10;

/**
 * The stream writer, run as `node -e WRITER <bytes> <chunk>`: 64 KiB blocks of 80-column printable lines,
 * written as fast as stdout (the terminal) takes them.
 */
const WRITER = String.raw`
const total = Number(process.argv[1]), chunk = Number(process.argv[2]);
let block = '';
for (let i = 0; block.length < chunk; i++) block += ('line ' + String(i).padStart(6, '0') + ' ').padEnd(79, 'abcdefghijklmnopqrstuvwxyz0123456789 ') + '\n';
block = block.slice(0, chunk - 1) + '\n';
let sent = 0;
const go = () => {
  while (sent < total) {
    const n = Math.min(chunk, total - sent);
    sent += n;
    if (!process.stdout.write(n === chunk ? block : block.slice(0, n))) { process.stdout.once('drain', go); return; }
  }
};
go();
`;

/** An agent-like chatty session: a coloured status line every `ms` ms, forever, with a \r spinner now and then. */
const CHATTY = String.raw`
const ms = Number(process.argv[1]);
const verbs = ['reading', 'editing', 'running tests in', 'searching', 'planning'];
let i = 0;
setInterval(() => {
  i++;
  const f = 'src/module' + (i % 37) + '/file' + (i % 11) + '.ts';
  if (i % 10 === 0) process.stdout.write('\r\x1b[2K\x1b[33m⠋\x1b[0m thinking… ' + i + '\r\x1b[2K');
  process.stdout.write('\x1b[32m●\x1b[0m ' + verbs[i % verbs.length] + ' \x1b[1m' + f + '\x1b[22m (' + i + ' steps, ' + (i * 137 % 9000) + ' tokens)\n');
}, ms);
`;

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'TMUX' && k !== 'TMUX_PANE' && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const median = <T>(xs: T[], key: (x: T) => number): T | null => {
  if (!xs.length) return null;
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
};

/** `global.gc`, made available at run time (the bench runs without --expose-gc). */
function getGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

interface StreamRun {
  seconds: number;
  receivedBytes: number;
  cpuMs: number;
  session?: TerminalSession;
}

/** Streams `bytes` through raw node-pty; resolves when the child has exited and its output is read. */
function streamRaw(pty: NodePtyModule, bytes: number, chunk: number, timeoutMs: number): Promise<StreamRun> {
  return new Promise((resolve, reject) => {
    const c0 = cpuMs();
    const t0 = nowMs();
    let received = 0;
    const term = pty.spawn(process.execPath, ['-e', WRITER, String(bytes), String(chunk)], {
      name: 'xterm-256color', cols: COLS, rows: ROWS, cwd: os.tmpdir(), env: cleanEnv(), encoding: 'utf8',
    });
    const timer = setTimeout(() => { term.kill('SIGKILL'); reject(new Error(`raw node-pty stream did not end within ${timeoutMs} ms (${received} bytes read)`)); }, timeoutMs);
    term.onData(d => { received += d.length; });
    term.onExit(({ exitCode }) => {
      clearTimeout(timer);
      const seconds = (nowMs() - t0) / 1000;
      if (exitCode !== 0) reject(new Error(`the writer exited with ${exitCode}`));
      else resolve({ seconds, receivedBytes: received, cpuMs: cpuMs() - c0 });
    });
  });
}

/** Streams `bytes` through `TerminalSession.start` (direct or tmux) with a UI-like onData listener. */
async function streamBaton(pty: NodePtyModule, bytes: number, chunk: number, timeoutMs: number, tmuxSocket: string | null, id: string): Promise<StreamRun> {
  const c0 = cpuMs();
  const t0 = nowMs();
  let received = 0;
  const session = await TerminalSession.start({
    id, command: process.execPath, args: ['-e', WRITER, String(bytes), String(chunk)], cwd: os.tmpdir(), env: cleanEnv(),
    cols: COLS, rows: ROWS, useTmux: tmuxSocket !== null, ...(tmuxSocket ? { tmuxSocket, tmuxPollMs: 100 } : {}),
    bufferBytes: DEFAULT_OUTPUT_BUFFER_BYTES, pty,
  });
  // What the VS Code terminal adapter does with every chunk: hand it on (here: count it).
  const sub = session.onData(d => { received += d.length; });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stream through ${tmuxSocket ? 'tmux' : 'TerminalSession'} did not end within ${timeoutMs} ms (${received} bytes read)`)), timeoutMs);
  });
  try {
    const exit = await Promise.race([session.whenExited, timeout]);
    if (exit.exitCode !== 0) throw new Error(`the writer exited with ${exit.exitCode}${exit.message ? `: ${exit.message}` : ''}`);
  } catch (error) {
    await session.stop({ timeoutMs: 500 }).catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
    sub.dispose();
  }
  return { seconds: (nowMs() - t0) / 1000, receivedBytes: received, cpuMs: cpuMs() - c0, session };
}

function toRun(r: StreamRun, bytes: number): ThroughputRun {
  const mib = bytes / 1048576;
  return { seconds: r.seconds, mbPerSec: mib / r.seconds, receivedBytes: r.receivedBytes, hostCpuMsPerMb: r.cpuMs / mib };
}

/** Streams once while sampling memory every 100 ms. */
async function memoryRun(label: StreamPath, run: () => Promise<StreamRun>, gc: () => void): Promise<MemoryResult> {
  gc();
  await new Promise(r => setTimeout(r, 100));
  gc();
  const base = process.memoryUsage();
  const peak = { rss: base.rss, heap: base.heapUsed };
  let samples = 0;
  const sample = () => {
    const m = process.memoryUsage();
    samples++;
    if (m.rss > peak.rss) peak.rss = m.rss;
    if (m.heapUsed > peak.heap) peak.heap = m.heapUsed;
  };
  const timer = setInterval(sample, 100);
  let r: StreamRun;
  try {
    r = await run();
  } finally {
    clearInterval(timer);
  }
  sample();
  const buffer = r.session?.bufferStats;
  gc();
  await new Promise(res => setTimeout(res, 100));
  gc();
  const after = process.memoryUsage(); // the session object (and its buffer) is still referenced here
  const result: MemoryResult = {
    path: label, seconds: r.seconds, samples,
    rss: { baseline: base.rss, peak: peak.rss, afterGc: after.rss },
    heap: { baseline: base.heapUsed, peak: peak.heap, afterGc: after.heapUsed },
    ...(buffer ? { buffer } : {}),
  };
  return result;
}

/** Event-loop delay of this process over `ms`, with `sessions` live chatty sessions. */
async function measureLag(pty: NodePtyModule, sessions: number, o: SessionsBenchOptions): Promise<LagResult> {
  const live: TerminalSession[] = [];
  let lines = 0;
  let counting = false;
  try {
    for (let i = 0; i < sessions; i++) {
      const s = await TerminalSession.start({
        id: `bench-lag-${i}`, command: process.execPath, args: ['-e', CHATTY, String(o.lagLineIntervalMs)], cwd: os.tmpdir(), env: cleanEnv(),
        cols: COLS, rows: ROWS, useTmux: false, bufferBytes: DEFAULT_OUTPUT_BUFFER_BYTES, pty,
      });
      s.onData(d => {
        if (!counting) return;
        for (let k = d.indexOf('\n'); k >= 0; k = d.indexOf('\n', k + 1)) lines++;
      });
      live.push(s);
    }
    // Let them all get going before measuring.
    await new Promise(r => setTimeout(r, sessions ? 1000 : 200));
    const h = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    counting = true;
    const c0 = cpuMs();
    const t0 = nowMs();
    h.enable();
    await new Promise(r => setTimeout(r, o.lagMs));
    h.disable();
    counting = false;
    const cpu = (cpuMs() - c0) / (nowMs() - t0);
    const ms = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
    const exited = live.filter(s => s.exit).length;
    if (exited) throw new Error(`${exited} of ${sessions} chatty sessions exited during the measurement`);
    return { sessions, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), samples: h.count, linesReceived: lines, hostCpu: cpu };
  } finally {
    await Promise.all(live.map(s => s.stop({ timeoutMs: 1000 }).catch(() => undefined)));
  }
}

function tmuxVersionString(): string | undefined {
  try {
    return execFileSync('tmux', ['-V'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return undefined;
  }
}

export async function runSessionsBench(o: SessionsBenchOptions): Promise<SessionsBenchResult> {
  const loaded = loadNodePty();
  if ('error' in loaded) throw new Error(loaded.error);
  const pty = loaded.pty;
  const bytes = Math.round(o.streamMb * 1048576);
  const chunk = Math.round(o.chunkKb * 1024);
  const gc = getGc();

  const tmuxOk = o.tmux && (await tmuxAvailable());
  // Our own tmux server (socket name), killed at the end: the bench never touches the user's 'baton' server.
  const socket = `baton-bench-${process.pid}`;
  const result: SessionsBenchResult = {
    streamBytes: bytes, chunkBytes: chunk, bufferBytes: DEFAULT_OUTPUT_BUFFER_BYTES,
    tmux: { available: tmuxOk, ...(tmuxOk ? { version: tmuxVersionString(), socket } : {}) },
    throughput: [], memory: [], lag: [],
  };
  const paths: StreamPath[] = ['raw node-pty', 'Baton, direct pty', ...(tmuxOk ? ['Baton, tmux' as StreamPath] : [])];
  const byPath = new Map<StreamPath, ThroughputResult>(paths.map(p => [p, { path: p, runs: [], median: null }]));
  let seq = 0;
  try {
    // Warm-up (JIT, page cache, tmux server start) with a small stream on each path; not reported.
    const small = Math.min(bytes, 8 * 1048576);
    await streamRaw(pty, small, chunk, o.streamTimeoutMs);
    await streamBaton(pty, small, chunk, o.streamTimeoutMs, null, `bench-warm-${seq++}`);
    if (tmuxOk) await streamBaton(pty, small, chunk, o.streamTimeoutMs, socket, `bench-warm-${seq++}`).catch(() => undefined);

    for (let rep = 0; rep < o.repeats; rep++) {
      for (const p of paths) {
        const entry = byPath.get(p)!;
        if (entry.error) continue;
        try {
          const r = p === 'raw node-pty'
            ? await streamRaw(pty, bytes, chunk, o.streamTimeoutMs)
            : await streamBaton(pty, bytes, chunk, o.streamTimeoutMs, p === 'Baton, tmux' ? socket : null, `bench-${seq++}`);
          const run = toRun(r, bytes);
          entry.runs.push(run);
          o.log(`  ${p}: ${o.streamMb} MiB in ${run.seconds.toFixed(2)} s (${run.mbPerSec.toFixed(0)} MiB/s, ${(run.receivedBytes / 1048576).toFixed(1)} MiB read)`);
        } catch (error) {
          entry.error = (error as Error).message;
          o.log(`  ${p}: ${entry.error}`);
        }
      }
    }
    for (const e of byPath.values()) {
      e.median = median(e.runs, r => r.seconds);
      result.throughput.push(e);
    }

    o.log('  memory while one session streams…');
    result.memory.push(await memoryRun('raw node-pty', () => streamRaw(pty, bytes, chunk, o.streamTimeoutMs), gc));
    result.memory.push(await memoryRun('Baton, direct pty', () => streamBaton(pty, bytes, chunk, o.streamTimeoutMs, null, `bench-${seq++}`), gc));

    for (const n of [0, o.lagSessions]) {
      o.log(`  event-loop delay with ${n} live sessions for ${o.lagMs / 1000} s…`);
      result.lag.push(await measureLag(pty, n, o));
    }
  } finally {
    if (tmuxOk) {
      try {
        execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // no server left
      }
      // tmux leaves the socket file behind.
      const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
      fs.rmSync(path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, socket), { force: true });
    }
  }
  return result;
}

