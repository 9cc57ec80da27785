import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { OutputBuffer, renderTerminalText } from '../../src/sessions/outputBuffer';
import { loadNodePty, PtyProcess, resolveCommand, SpawnError } from '../../src/sessions/ptyProcess';
import { ManualScheduler, type SessionState, StateDetector } from '../../src/sessions/stateDetector';
import { encodeKeys, type TerminalSession, TerminalSession as Session, type TerminalSessionSpec } from '../../src/sessions/terminalSession';
import { requirePresent, skipOutsideCi } from './helpers/required';
import { scriptedSessionSpec } from './helpers/sessionSpec';

const agentScript = path.resolve(__dirname, 'fixtures/scripted-agent.js');
const loaded = loadNodePty();
const ptyModule = 'pty' in loaded ? loaded.pty : undefined;
const noPty = ptyModule ? false : `node-pty is unavailable: ${'error' in loaded ? loaded.error : ''}`;

test('node-pty loads (required: under CI=true its absence fails instead of skipping the pty tests)', { skip: skipOutsideCi(noPty) }, () => requirePresent(noPty));

function spec(over: Partial<TerminalSessionSpec> = {}): TerminalSessionSpec {
  return scriptedSessionSpec(ptyModule!, over);
}

async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------- OutputBuffer

test('OutputBuffer keeps at most maxBytes however much is appended, and counts everything seen', () => {
  const buf = new OutputBuffer(10_000);
  let total = 0;
  for (let i = 0; i < 5_000; i++) {
    const chunk = `line ${i} ${'y'.repeat(i % 50)}\r\n`;
    total += Buffer.byteLength(chunk);
    buf.append(chunk);
    assert.ok(buf.heldBytes <= 10_000, `held ${buf.heldBytes} after ${i} chunks`);
  }
  assert.equal(buf.totalBytes, total);
  assert.ok(buf.heldBytes > 10_000 - 8 * 1024, `keeps most of the window, held ${buf.heldBytes}`);
  assert.equal(Buffer.byteLength(buf.text()), buf.heldBytes);
  assert.ok(buf.chunkCount < 20, `small chunks are coalesced (${buf.chunkCount} pieces)`);
  const last = buf.lines(2);
  assert.deepEqual(last, [`line 4998 ${'y'.repeat(4998 % 50)}`, `line 4999 ${'y'.repeat(4999 % 50)}`]);
  buf.clear();
  assert.equal(buf.heldBytes, 0);
  assert.deepEqual(buf.lines(3), []);
  assert.equal(buf.totalBytes, total, 'clear() keeps the lifetime count');
});

test('OutputBuffer: a chunk larger than the buffer keeps its tail, cut at a character boundary', () => {
  const buf = new OutputBuffer(1_000);
  buf.append('é'.repeat(5_000) + '\nend');
  assert.ok(buf.heldBytes <= 1_000);
  const text = buf.text();
  assert.ok(!text.includes('\ufffd'), 'no broken UTF-8 sequence at the cut');
  assert.deepEqual(buf.lines(1), ['end']);
  const big = new OutputBuffer(200_000);
  big.append('z'.repeat(150_000));
  big.append('a'.repeat(100_000));
  assert.ok(big.heldBytes <= 200_000 && big.heldBytes > 150_000, `large chunks are split into pieces, held ${big.heldBytes}`);
});

test('lines() strips ANSI, resolves \\r progress bars, backspaces and erase-in-line, trims trailing spaces', () => {
  const buf = new OutputBuffer();
  buf.append('\x1b[32m✓\x1b[0m step 1   \r\n');
  buf.append('progress 10%\rprogress 50%\rprogress 100%\r\n');
  buf.append('Working...\r\x1b[KDone\r\n');
  buf.append('abc\b\bX\r\n');
  buf.append('\x1b]0;window title\x07\x1b[1mbold\x1b[22m text\r\n');
  buf.append('spinner ⠋\r\x1b[2Kspinner ⠙\rnext');
  assert.deepEqual(buf.lines(), ['✓ step 1', 'progress 100%', 'Done', 'aXc', 'bold text', 'nextner ⠙']);
  assert.deepEqual(buf.lines(2), ['bold text', 'nextner ⠙']);
  assert.deepEqual(buf.lines(0), []);
});

test('renderTerminalText places cursor-addressed redraws on the screen lines and survives a clear before leaving the alternate screen', () => {
  // A tmux client redrawing a 3-row screen over content that is already there (reattach after seeding).
  const seeded = 'old 1\r\nold 2\r\nrow A\r\nrow B\r\nrow C';
  const redraw = '\x1b[?1049h\x1b[H\x1b[2J\x1b[1;1Hrow A\x1b[K\r\nrow B\x1b[K\r\nrow C\x1b[K\x1b[3;6H';
  assert.deepEqual(renderTerminalText(seeded + redraw, { rows: 3 }), ['old 1', 'old 2', 'row A', 'row B', 'row C']);
  // The client leaving: clear, leave the alternate screen.
  const leave = '\x1b[H\x1b[2J\x1b[?12l\x1b[?25h\x1b[?1049l';
  assert.deepEqual(renderTerminalText(seeded + redraw + leave, { rows: 3 }), ['old 1', 'old 2', 'row A', 'row B', 'row C']);
  // A program clearing the screen and drawing less: old rows are gone.
  assert.deepEqual(renderTerminalText('a\r\nb\r\nc\x1b[H\x1b[2Jx', { rows: 3 }), ['x', '', '']);
  // Ink-style redraw: erase lines going up, then the new frame.
  const frame1 = 'Thinking.\r\nstatus: 1\r\n';
  const erase = '\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K\x1b[G';
  assert.deepEqual(renderTerminalText(frame1 + erase + 'Thinking..\r\nstatus: 2\r\n', { rows: 24 }), ['Thinking..', 'status: 2', '']);
});

// ---------------------------------------------------------------- StateDetector

function detectorWithLog(options: ConstructorParameters<typeof StateDetector>[0] = {}) {
  const clock = new ManualScheduler();
  const log: string[] = [];
  const d = new StateDetector({ scheduler: clock, ...options }, (s, p) => log.push(`${p}->${s}`));
  return { clock, log, d };
}

test('StateDetector: output → working; quiet on a question → waiting; answer → working; exit → exited', () => {
  const { clock, log, d } = detectorWithLog();
  assert.equal(d.state, 'starting');
  d.feed('\x1b[32m✓\x1b[0m step 1\r\n');
  assert.equal(d.state, 'working');
  clock.advance(1_000);
  d.feed('\x1b[36mWhich database should I use?\x1b[0m ');
  clock.advance(1_499);
  assert.equal(d.state, 'working', 'not before quietMs');
  clock.advance(1);
  assert.equal(d.state, 'waiting');
  assert.equal(d.lastLine(), 'Which database should I use?');
  clock.advance(60_000);
  assert.equal(d.state, 'waiting', 'a waiting prompt never turns idle');
  d.feed('PostgreSQL\r\nUsing PostgreSQL\r\n');
  assert.equal(d.state, 'working');
  d.exit(3);
  assert.equal(d.state, 'exited');
  assert.equal(d.exitCode, 3);
  d.feed('late output');
  assert.equal(d.state, 'exited');
  assert.deepEqual(log, ['starting->working', 'working->waiting', 'waiting->working', 'working->exited']);
});

test('StateDetector: silence without a prompt → idle after idleAfterMs; done pattern → idle at once', () => {
  const { clock, log, d } = detectorWithLog({ idleAfterMs: 30_000 });
  d.feed('compiling…\r\n');
  clock.advance(29_999);
  assert.equal(d.state, 'working');
  clock.advance(1);
  assert.equal(d.state, 'idle');
  d.feed('Done.\r\n');
  assert.equal(d.state, 'working');
  clock.advance(1_500);
  assert.equal(d.state, 'idle', 'a done line idles without waiting 30 s');
  assert.deepEqual(log, ['starting->working', 'working->idle', 'idle->working', 'working->idle']);
  const quiet = detectorWithLog({ idleAfterMs: 5_000 });
  quiet.clock.advance(5_000);
  assert.equal(quiet.d.state, 'idle', 'no output at all also idles');
});

test('StateDetector: only the last line counts, prompts are tested ANSI-stripped, invisible output and typed echo change nothing', () => {
  const { clock, d } = detectorWithLog();
  d.feed('Should I continue? \r\nyes, continuing with the migration\r\n');
  clock.advance(2_000);
  assert.equal(d.state, 'working', 'a question above the last line is not a prompt');
  for (const prompt of ['Overwrite file? (y/n) ', 'Apply changes [Y/n] ', 'Press Enter to continue', '\x1b[1m>\x1b[0m ', '│ > │', '\x1b[33mProceed?\x1b[39m\x1b[K']) {
    d.feed(`\r\nworking\r\n${prompt}`);
    assert.equal(d.state, 'working');
    clock.advance(1_500);
    assert.equal(d.state, 'waiting', `prompt ${JSON.stringify(prompt)}`);
  }
  d.feed('\x1b[?25l\x1b[?25h\x1b]0;title\x07');
  clock.advance(5_000);
  assert.equal(d.state, 'waiting', 'escape-only output is not work');
  d.noteInput('Postgr');
  d.feed('Postgr');
  assert.equal(d.state, 'waiting', 'echo of typed characters is not work');
  d.noteInput('eSQL\r');
  d.feed('eSQL\r\n');
  assert.equal(d.state, 'working', 'a submitted line is');
});

// ---------------------------------------------------------------- keys and command resolution

test('encodeKeys maps named keys to terminal bytes', () => {
  assert.equal(encodeKeys(['C-c', 'Enter', 'Escape', 'Tab', 'Up', 'Down', 'BSpace', 'M-x', 'q']), '\x03\r\x1b\t\x1b[A\x1b[B\x7fxq'.replace('xq', '\x1bxq'));
  assert.equal(encodeKeys(['Up', 'Left'], { applicationCursor: true }), '\x1bOA\x1bOD');
  assert.equal(encodeKeys(['C-[', 'F5', 'PageDown']), '\x1b\x1b[15~\x1b[6~');
  assert.throws(() => encodeKeys(['Enter', 'Hyper-k']), /Unknown key "Hyper-k"/);
});

test('resolveCommand finds commands on the given PATH and explains failures', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-cmd-'));
  try {
    const exe = path.join(dir, 'my-agent');
    fs.writeFileSync(exe, '#!/bin/sh\necho hi\n', { mode: 0o755 });
    const noexec = path.join(dir, 'not-exec');
    fs.writeFileSync(noexec, 'x', { mode: 0o644 });
    assert.equal(resolveCommand('my-agent', { PATH: `/nonexistent:${dir}` }, '/'), exe);
    assert.equal(resolveCommand('./my-agent', {}, dir), exe);
    assert.throws(() => resolveCommand('my-agent', { PATH: '/nonexistent' }, '/'), (e: unknown) => e instanceof SpawnError && e.code === 'ENOENT' && /"my-agent": command not found on PATH \(\/nonexistent\)/.test(e.message));
    assert.throws(() => resolveCommand(noexec, {}, '/'), (e: unknown) => e instanceof SpawnError && e.code === 'EACCES' && /not executable/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- real pty

test('scripted agent under node-pty: starting → working → waiting → working → exited (3), answer through write()', { skip: noPty }, async () => {
  const t0 = Date.now();
  const session = await Session.start(spec());
  const states: string[] = [];
  session.onStateChange(({ state, previous }) => states.push(`${previous}->${state}`));
  let exitEvent: { exitCode: number | null } | undefined;
  session.onExit((e) => (exitEvent = e));
  let raw = '';
  session.onData((d) => (raw += d));
  assert.ok(session.pid && session.pid > 0);
  assert.equal(session.tmuxSession, undefined);
  await until('the question', () => session.state === 'waiting');
  assert.deepEqual(session.readLines(1), ['Which database should I use?']);
  assert.ok(session.write('PostgreSQL\r'));
  const exit = await session.whenExited;
  assert.equal(exit.exitCode, 3);
  assert.equal(exitEvent?.exitCode, 3);
  assert.equal(session.state, 'exited');
  assert.equal(session.exitCode, 3);
  assert.deepEqual(states, ['starting->working', 'working->waiting', 'waiting->working', 'working->exited']);
  const lines = session.readLines(50);
  assert.ok(lines.includes('Using PostgreSQL'), lines.join('\n'));
  assert.ok(lines.includes('✓ step 1: reading the repository'), 'ANSI-free');
  assert.ok(lines.includes('progress 100%'));
  assert.ok(!lines.join('\n').includes('\x1b'), 'no escape sequences');
  assert.equal(session.write('too late'), false);
  assert.ok(raw.includes('\x1b[32m✓\x1b[0m step 1'), 'onData delivers the raw output, colours included');
  console.log(`scripted agent run under node-pty: ${Date.now() - t0} ms`);
});

test('the buffer stays bounded while the agent prints 100 MiB quickly', { skip: noPty, timeout: 30_000 }, async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const rssBefore = process.memoryUsage().rss;
  const bufferBytes = 1024 * 1024;
  const t0 = Date.now();
  const session = await Session.start(spec({ args: [agentScript, 'flood', '100'], bufferBytes }));
  let maxRss = rssBefore;
  let maxHeld = 0;
  let chunks = 0;
  session.onData(() => chunks++);
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    maxHeld = Math.max(maxHeld, session.bufferStats.heldBytes);
  }, 20);
  const exit = await session.whenExited;
  clearInterval(sampler);
  const ms = Date.now() - t0;
  maxRss = Math.max(maxRss, process.memoryUsage().rss);
  const stats = session.bufferStats;
  maxHeld = Math.max(maxHeld, stats.heldBytes);
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `flood: ${mib(stats.totalBytes)} MiB in ${ms} ms (${(stats.totalBytes / 1024 / 1024 / (ms / 1000)).toFixed(0)} MiB/s, ${chunks} chunks); ` +
      `buffer held max ${mib(maxHeld)} MiB (limit ${mib(bufferBytes)}); RSS ${mib(rssBefore)} → max ${mib(maxRss)} MiB (growth ${mib(maxRss - rssBefore)} MiB)`,
  );
  assert.equal(exit.exitCode, 0);
  assert.ok(stats.totalBytes >= 100 * 1024 * 1024, `saw ${stats.totalBytes} bytes`);
  assert.ok(maxHeld <= bufferBytes, `held ${maxHeld} > ${bufferBytes}`);
  assert.ok(maxRss - rssBefore < 60 * 1024 * 1024, `RSS grew by ${mib(maxRss - rssBefore)} MiB`);
  assert.deepEqual(session.readLines(1), ['flood done']);
  assert.match(session.readLines(2)[0], /^flood line \d{9} x{100}$/);
});

test('a command that does not exist fails with an error naming it', { skip: noPty }, async () => {
  await assert.rejects(
    Session.start(spec({ command: 'baton-no-such-agent-cli', args: ['--help'] })),
    (e: unknown) => e instanceof SpawnError && e.code === 'ENOENT' && /Cannot start "baton-no-such-agent-cli": command not found on PATH/.test(e.message),
  );
  await assert.rejects(Session.start(spec({ cwd: path.join(os.tmpdir(), 'baton-missing-dir-xyz') })), /working directory .*baton-missing-dir-xyz does not exist/);
  // The same check protects PtyProcess users.
  assert.throws(() => PtyProcess.spawn('baton-no-such-agent-cli', [], { cwd: os.tmpdir(), env: { PATH: '/usr/bin:/bin' }, cols: 80, rows: 24, pty: ptyModule }), /command not found/);
});

test('sendKeys([C-c]) interrupts sleep 100', { skip: noPty }, async () => {
  const t0 = Date.now();
  const session: TerminalSession = await Session.start(spec({ command: 'sleep', args: ['100'] }));
  await new Promise((r) => setTimeout(r, 200)); // let sleep start and the line discipline settle
  assert.ok(session.sendKeys(['C-c']));
  const exit = await Promise.race([session.whenExited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('sleep was not interrupted')), 3_000))]);
  assert.equal(exit.signal, 2, 'ended by SIGINT');
  assert.equal(exit.exitCode, 130);
  assert.ok(Date.now() - t0 < 3_000);
  assert.equal(session.state satisfies SessionState, 'exited');
});

test('stop() ends an agent that ignores Ctrl-C', { skip: noPty }, async () => {
  const session = await Session.start(spec({ command: process.execPath, args: ['-e', "process.on('SIGINT', () => console.log('ignoring Ctrl-C')); setInterval(() => {}, 1000); console.log('ready')"] }));
  await until('ready', () => session.readLines(5).includes('ready'));
  const t0 = Date.now();
  const exit = await session.stop({ timeoutMs: 600 });
  assert.equal(exit.signal, 15, 'SIGTERM after the timeout');
  assert.ok(Date.now() - t0 < 2_000);
  assert.ok(session.readLines(5).some((l) => l.endsWith('ignoring Ctrl-C')), session.readLines(5).join('\n'));
});

test('resize() reaches the program as a new terminal size', { skip: noPty }, async () => {
  const session = await Session.start(
    spec({ command: process.execPath, args: ['-e', "console.log('size', process.stdout.columns, process.stdout.rows); process.stdout.on('resize', () => console.log('size', process.stdout.columns, process.stdout.rows)); setInterval(() => {}, 1000)"] }),
  );
  await until('the first size', () => session.readLines(5).includes('size 100 30'));
  session.resize(120, 40);
  assert.deepEqual(session.size, { cols: 120, rows: 40 });
  await until('the new size', () => session.readLines(5).includes('size 120 40'));
  assert.throws(() => session.resize(0, 10), RangeError);
  await session.stop({ timeoutMs: 500 });
});
