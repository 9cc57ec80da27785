import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { OutputBuffer, visibleText } from '../../src/sessions/outputBuffer';
import { BUILTIN_PROFILES, isShellCommand, profileDetectorPatterns, profileDonePatterns, SHELL_PROMPT_PATTERNS } from '../../src/sessions/profiles';
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

test('OutputBuffer keeps at most maxBytes however much is appended, and counts everything seen', async () => {
  const buf = new OutputBuffer(10_000, { scrollback: 100 });
  let total = 0;
  for (let i = 0; i < 5_000; i++) {
    const chunk = `line ${i} ${'y'.repeat(i % 50)}\r\n`;
    total += Buffer.byteLength(chunk);
    buf.append(chunk);
    assert.ok(buf.heldBytes <= 10_000, `held ${buf.heldBytes} after ${i} chunks`);
  }
  await buf.flush();
  assert.equal(buf.pendingChars, 0);
  assert.equal(buf.totalBytes, total);
  assert.ok(buf.heldBytes > 10_000 - 8 * 1024, `keeps most of the window, held ${buf.heldBytes}`);
  assert.equal(Buffer.byteLength(buf.text()), buf.heldBytes);
  assert.ok(buf.chunkCount < 20, `small chunks are coalesced (${buf.chunkCount} pieces)`);
  const last = buf.lines(2);
  assert.deepEqual(last, [`line 4998 ${'y'.repeat(4998 % 50)}`, `line 4999 ${'y'.repeat(4999 % 50)}`]);
  const all = buf.lines();
  assert.ok(all.length <= 100 + 24, `the scrollback bound holds: ${all.length} lines`);
  assert.equal(all[0], `line ${5000 - all.length} ${'y'.repeat((5000 - all.length) % 50)}`, 'the oldest lines left the scrollback');
  buf.clear();
  assert.equal(buf.heldBytes, 0);
  assert.deepEqual(buf.lines(3), []);
  assert.equal(buf.totalBytes, total, 'clear() keeps the lifetime count');
  buf.dispose();
});

test('OutputBuffer: a chunk larger than the buffer keeps its tail, cut at a character boundary', async () => {
  const buf = new OutputBuffer(1_000);
  buf.append('é'.repeat(5_000) + '\r\nend');
  assert.ok(buf.heldBytes <= 1_000);
  const text = buf.text();
  assert.ok(!text.includes('\ufffd'), 'no broken UTF-8 sequence at the cut');
  await buf.flush();
  assert.deepEqual(buf.lines(1), ['end']);
  const big = new OutputBuffer(200_000);
  big.append('z'.repeat(150_000));
  big.append('a'.repeat(100_000));
  assert.ok(big.heldBytes <= 200_000 && big.heldBytes > 150_000, `large chunks are split into pieces, held ${big.heldBytes}`);
  buf.dispose();
  // dispose() answers a pending flush() and frees the terminal; the raw ring stays readable.
  const flushed = big.flush();
  big.dispose();
  await flushed;
  assert.deepEqual(big.lines(), []);
  assert.ok(big.text().endsWith('a'.repeat(1000)));
});

/** Lines of `raw` as an OutputBuffer of the given size renders them. */
async function render(raw: string, options: ConstructorParameters<typeof OutputBuffer>[1] = {}): Promise<string[]> {
  const buf = new OutputBuffer(1024 * 1024, options);
  buf.append(raw);
  await buf.flush();
  const lines = buf.lines();
  buf.dispose();
  return lines;
}

test('lines() strips ANSI, resolves \\r progress bars, backspaces and erase-in-line, trims trailing spaces', async () => {
  const buf = new OutputBuffer();
  let parsed = 0;
  buf.append('\x1b[32m✓\x1b[0m step 1   \r\n', () => parsed++);
  buf.append('progress 10%\rprogress 50%\rprogress 100%\r\n');
  buf.append('Working...\r\x1b[KDone\r\n');
  buf.append('abc\b\bX\r\n');
  buf.append('\x1b]0;window title\x07\x1b[1mbold\x1b[22m text\r\n');
  buf.append('spinner ⠋\r\x1b[2Kspinner ⠙\rnext');
  assert.ok(buf.pendingChars > 0, 'xterm.js parses on a later tick');
  await buf.flush();
  assert.equal(parsed, 1, 'the append callback ran once the chunk was parsed');
  assert.deepEqual(buf.lines(), ['✓ step 1', 'progress 100%', 'Done', 'aXc', 'bold text', 'nextner ⠙']);
  assert.deepEqual(buf.lines(2), ['bold text', 'nextner ⠙']);
  assert.deepEqual(buf.lines(0), []);
  assert.equal(buf.lastLine(), 'nextner ⠙');
  buf.dispose();
});

test('lines(): long lines wrap at the width and come back as one logical line; wide characters take two columns', async () => {
  // 10 columns: 25 characters take three rows, joined back into one line; spaces at a wrap point are kept.
  assert.deepEqual(await render('abcdefghi jklmnopqrstuvwxy\r\nnext', { cols: 10, rows: 5 }), ['abcdefghi jklmnopqrstuvwxy', 'next']);
  // CJK and emoji are two cells wide: "你好世界" fills columns 0-7, so column 8 comes right after it.
  assert.deepEqual(await render('你好世界\r\x1b[8C|', { cols: 10, rows: 5 }), ['你好世界|']);
  // Writing over the right half of a wide character blanks its left half, as in any terminal.
  assert.deepEqual(await render('你好世界\x1b[3D!', { cols: 10, rows: 5 }), ['你好 !界']);
  assert.deepEqual(await render('ab✅c\r\x1b[5Cd', { cols: 10, rows: 5 }), ['ab✅cd']);
  // A wide character that does not fit in the last column goes to the next row; the joined line has no gap.
  assert.deepEqual(await render('123456789中文', { cols: 10, rows: 5 }), ['123456789中文']);
  // \r on a wrapped line returns to the start of the row it is on, not of the logical line.
  assert.deepEqual(await render('0123456789abc\rXY', { cols: 10, rows: 5 }), ['0123456789XYc']);
  // Resizing re-wraps what is there.
  const buf = new OutputBuffer(4096, { cols: 10, rows: 4 });
  buf.append('a'.repeat(25));
  buf.resize(30, 4);
  await buf.flush();
  assert.deepEqual([buf.cols, buf.rows], [30, 4]);
  assert.deepEqual(buf.lines(), ['a'.repeat(25)]);
  buf.dispose();
});

test('lines(): cursor movement, erase display and the alternate screen are what the screen shows', async () => {
  // Absolute moves are relative to the screen (the last `rows` rows), not to the whole output.
  assert.deepEqual(await render('old 1\r\nold 2\r\nrow A\r\nrow B\r\nrow C\x1b[1;1HROW\x1b[3;5H!', { rows: 3 }), ['old 1', 'old 2', 'ROW A', 'row B', 'row !']);
  // A program clearing the screen and drawing less: the old rows are gone from the screen.
  assert.deepEqual(await render('a\r\nb\r\nc\x1b[H\x1b[2Jx', { rows: 3 }), ['x']);
  // Ink-style redraw: erase lines going up, then the new frame.
  const frame1 = 'Thinking.\r\nstatus: 1\r\n';
  const erase = '\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K\x1b[G';
  assert.deepEqual(await render(frame1 + erase + 'Thinking..\r\nstatus: 2\r\n'), ['Thinking..', 'status: 2']);
  // A full-screen program on the alternate screen: its screen while it runs, the shell's lines after.
  const buf = new OutputBuffer(4096, { rows: 4 });
  buf.append('$ vim notes\r\n\x1b[?1049h\x1b[H\x1b[2J~ editing\r\n~');
  await buf.flush();
  assert.equal(buf.alternateScreen, true);
  assert.deepEqual(buf.lines(), ['~ editing', '~']);
  buf.append('\x1b[?1049l$ ');
  await buf.flush();
  assert.equal(buf.alternateScreen, false);
  assert.deepEqual(buf.lines(), ['$ vim notes', '$']);
  buf.dispose();
});

test('lines(), tmux client (mainScreenOnly): the redraw lands on the seeded screen, history scrolls into the scrollback, a clear before leaving keeps the last screen', async () => {
  // A tmux client redrawing a 3-row screen over content that is already there (reattach after seeding).
  const seeded = 'old 1\r\nold 2\r\nrow A\r\nrow B\r\nrow C';
  const redraw = '\x1b[?1049h\x1b[H\x1b[2J\x1b[1;1Hrow A\x1b[K\r\nrow B\x1b[K\r\nrow C\x1b[K\x1b[3;6H';
  assert.deepEqual(await render(seeded + redraw, { rows: 3, mainScreenOnly: true }), ['old 1', 'old 2', 'row A', 'row B', 'row C']);
  // Output scrolling the pane: the lines leaving the top are kept.
  const scroll = '\r\nrow D\r\nrow E';
  assert.deepEqual(await render(seeded + redraw + scroll, { rows: 3, mainScreenOnly: true }), ['old 1', 'old 2', 'row A', 'row B', 'row C', 'row D', 'row E']);
  // tmux scrolling by several lines: cursor on the bottom row, "scroll up 2", "cursor up 2", the new rows.
  const scrollUp = '\r\n\x1b[2S\x1b[2Arow D\r\nrow E\r\nrow F';
  assert.deepEqual(await render(seeded + redraw + scrollUp, { rows: 3, mainScreenOnly: true }), ['old 1', 'old 2', 'row A', 'row B', 'row C', 'row D', 'row E', 'row F']);
  // From any row: the top row goes to the scrollback, the cursor stays where it was on the screen.
  assert.deepEqual(await render('r1\r\nr2\r\nr3\x1b[1;2H\x1b[S!', { rows: 3, mainScreenOnly: true }), ['r1', 'r!', 'r3']);
  // A region below the top row scrolls as in any terminal: its top row is gone.
  assert.deepEqual(await render('r1\r\nr2\r\nr3\x1b[2;3r\x1b[3;2H\x1b[S!', { rows: 3, mainScreenOnly: true }), ['r1', 'r3', ' !']);
  // The client leaving: clear, leave the alternate screen; the last screen is drawn again.
  const leave = '\x1b[H\x1b[2J\x1b[?12l\x1b[?25h\x1b[?1049l';
  assert.deepEqual(await render(seeded + redraw + leave, { rows: 3, mainScreenOnly: true }), ['old 1', 'old 2', 'row A', 'row B', 'row C']);
  // …with a line wider than the screen still one line.
  const wide = `\x1b[?1049h\x1b[H\x1b[2J${'w'.repeat(12)}\r\nend`;
  assert.deepEqual(await render(wide + leave, { cols: 10, rows: 3, mainScreenOnly: true }), ['w'.repeat(12), 'end']);
  // Without the option the alternate screen is its own: leaving it shows the main screen again.
  assert.deepEqual(await render(seeded + redraw + leave, { rows: 3 }), ['old 1', 'old 2', 'row A', 'row B', 'row C']);
  assert.deepEqual(await render('shell\r\n\x1b[?1049h\x1b[Hfull screen', { rows: 3 }), ['full screen']);
});

test('visibleText drops escape sequences and controls, keeps the text', () => {
  assert.equal(visibleText('\x1b[32m✓\x1b[0m ok\x1b]0;title\x07\x1b[?25l\r\n'), '✓ ok\n');
  assert.equal(visibleText('\x1b[>4;2m\x1b[?2004h'), '');
});

// ---------------------------------------------------------------- StateDetector

/** A detector reading a real OutputBuffer; `out()` feeds a chunk the way TerminalSession does (after the screen has parsed it). */
function detectorWithLog(options: ConstructorParameters<typeof StateDetector>[1] = {}) {
  const clock = new ManualScheduler();
  const log: string[] = [];
  const screen = new OutputBuffer(64 * 1024, { cols: 80, rows: 24 });
  const d = new StateDetector(screen, { scheduler: clock, ...options }, (s, p) => log.push(`${p}->${s}`));
  const out = async (chunk: string) => {
    await new Promise<void>((resolve) => screen.append(chunk, () => (d.feed(chunk), resolve())));
  };
  return { clock, log, d, out, screen };
}

test('StateDetector: output → working; quiet on a question → waiting; answer → working; exit → exited', async () => {
  const { clock, log, d, out } = detectorWithLog();
  assert.equal(d.state, 'starting');
  await out('\x1b[32m✓\x1b[0m step 1\r\n');
  assert.equal(d.state, 'working');
  clock.advance(1_000);
  await out('\x1b[36mWhich database should I use?\x1b[0m ');
  clock.advance(1_499);
  assert.equal(d.state, 'working', 'not before quietMs');
  clock.advance(1);
  assert.equal(d.state, 'waiting');
  assert.equal(d.lastLine(), 'Which database should I use?');
  clock.advance(60_000);
  assert.equal(d.state, 'waiting', 'a waiting prompt never turns idle');
  await out('PostgreSQL\r\nUsing PostgreSQL\r\n');
  assert.equal(d.state, 'working');
  d.exit(3);
  assert.equal(d.state, 'exited');
  assert.equal(d.exitCode, 3);
  await out('late output');
  assert.equal(d.state, 'exited');
  assert.deepEqual(log, ['starting->working', 'working->waiting', 'waiting->working', 'working->exited']);
});

test('StateDetector: silence without a prompt → idle after idleAfterMs; done pattern → idle at once', async () => {
  const { clock, log, d, out } = detectorWithLog({ idleAfterMs: 30_000 });
  await out('compiling…\r\n');
  clock.advance(29_999);
  assert.equal(d.state, 'working');
  clock.advance(1);
  assert.equal(d.state, 'idle');
  await out('Done.\r\n');
  assert.equal(d.state, 'working');
  clock.advance(1_500);
  assert.equal(d.state, 'idle', 'a done line idles without waiting 30 s');
  assert.deepEqual(log, ['starting->working', 'working->idle', 'idle->working', 'working->idle']);
  const quiet = detectorWithLog({ idleAfterMs: 5_000 });
  quiet.clock.advance(5_000);
  assert.equal(quiet.d.state, 'idle', 'no output at all also idles');
});

test('StateDetector: only the last line counts, prompts are tested ANSI-stripped, invisible output and typed echo change nothing', async () => {
  const { clock, d, out } = detectorWithLog();
  await out('Should I continue? \r\nyes, continuing with the migration\r\n');
  clock.advance(2_000);
  assert.equal(d.state, 'working', 'a question above the last line is not a prompt');
  for (const prompt of ['Overwrite file? (y/n) ', 'Apply changes [Y/n] ', 'Press Enter to continue', '\x1b[1m>\x1b[0m ', '│ > │', '\x1b[33mProceed?\x1b[39m\x1b[K']) {
    await out(`\r\nworking\r\n${prompt}`);
    assert.equal(d.state, 'working');
    clock.advance(1_500);
    assert.equal(d.state, 'waiting', `prompt ${JSON.stringify(prompt)}`);
  }
  await out('\x1b[?25l\x1b[?25h\x1b]0;title\x07');
  clock.advance(5_000);
  assert.equal(d.state, 'waiting', 'escape-only output is not work');
  d.noteInput('Postgr');
  await out('Postgr');
  assert.equal(d.state, 'waiting', 'echo of typed characters is not work');
  d.noteInput('eSQL\r');
  await out('eSQL\r\n');
  assert.equal(d.state, 'working', 'a submitted line is');
});

test('StateDetector: a prompt redrawn in place (\\r, ESC[K) or wrapped at the width is tested as the screen shows it', async () => {
  const { clock, d, out } = detectorWithLog();
  // A spinner overwritten by a question: the screen's last line is the question, not "⠋ thinking".
  await out('⠋ thinking\r\x1b[KContinue with the migration? ');
  clock.advance(1_500);
  assert.equal(d.state, 'waiting');
  assert.equal(d.lastLine(), 'Continue with the migration?');
  // A long question wraps at 80 columns; the logical line still ends with "?".
  await out(`\r\n${'word '.repeat(30)}is that fine?`);
  clock.advance(1_500);
  assert.equal(d.state, 'waiting');
  assert.equal(d.lastLine(), `${'word '.repeat(30)}is that fine?`);
});

test('shell prompts are done patterns: a quiet shell at its prompt is idle, a progress line is not a prompt', () => {
  const patterns = SHELL_PROMPT_PATTERNS.map((src) => new RegExp(src, 'm'));
  const isPrompt = (line: string) => patterns.some((p) => p.test(line));
  for (const prompt of ['user@host:~/project$', 'bash-5.2$', 'root@box:/#', 'host%', 'user@host ~>', 'PS C:\\>', '❯', '$']) assert.ok(isPrompt(prompt), prompt);
  for (const line of ['downloading 50%', 'compiling src/main.ts', 'a -> b', 'x => y']) assert.ok(!isPrompt(line), line);
  assert.deepEqual(profileDonePatterns({ id: 'shell', command: '/bin/bash' }), [...SHELL_PROMPT_PATTERNS]);
  assert.deepEqual(profileDonePatterns({ id: 'my-zsh', command: '/usr/bin/zsh' }), [...SHELL_PROMPT_PATTERNS], 'any profile running a known shell');
  assert.equal(profileDonePatterns({ id: 'claude', command: 'claude' }), undefined);
  assert.deepEqual(profileDonePatterns({ id: 'shell', command: 'bash', donePatterns: ['READY$'] }), ['READY$'], "the profile's own patterns win");
  assert.ok(isShellCommand('pwsh.exe') && isShellCommand('sh') && !isShellCommand('node'));
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

test('the buffer stays bounded while the agent prints 100 MiB quickly', { skip: noPty, timeout: 120_000 }, async () => {
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

test('a real bash at its prompt is idle, not working; a command makes it work, its prompt idles it again', { skip: noPty, timeout: 20_000 }, async () => {
  const bash = resolveCommandOrNull('bash');
  requirePresent(bash ? false : 'bash is not on PATH');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bash-'));
  const shell = BUILTIN_PROFILES.find((p) => p.id === 'shell')!;
  // The built-in shell profile, run with bash and a coloured "user@host:dir$ " prompt (no rc files in the empty HOME).
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TERM: 'xterm-256color', PS1: '\\[\\e[32m\\]\\u@\\h\\[\\e[0m\\]:\\w\\$ ' };
  const started = Date.now();
  const session = await Session.start(spec({ command: bash!, args: shell.args, cwd: home, env, detector: { quietMs: 300, ...profileDetectorPatterns({ ...shell, command: bash! }) } }));
  const states: string[] = [];
  session.onStateChange(({ state }) => states.push(state));
  try {
    await until('the shell to idle at its prompt', () => session.state === 'idle', 5_000);
    const idleAfter = Date.now() - started;
    assert.match(session.readLines(1)[0], /^\S+@\S+:~?\S*[$#]$/, 'the last line is the prompt');
    session.write('printf "%s\\n" "hello from bash" 你好世界\r');
    await until('the command output', () => session.readLines(5).includes('hello from bash'));
    await until('idle again at the next prompt', () => session.state === 'idle' && /[$#]$/.test(session.readLines(1)[0]), 5_000);
    assert.ok(session.readLines(5).includes('你好世界'));
    assert.ok(states.includes('working') && states.at(-1) === 'idle', states.join(' → '));
    // A long command line wraps at the terminal's 100 columns; readLines gives it back as one line.
    const long = `echo ${'x'.repeat(150)}`;
    session.write(`${long}\r`);
    await until('the long echo', () => session.readLines(5).includes('x'.repeat(150)));
    assert.ok(session.readLines(5).some((l) => l.endsWith(long)), session.readLines(5).join('\n'));
    // While a command runs quietly the shell is not at a prompt: it stays working.
    session.write('sleep 1.5; echo slept\r');
    await until('working on sleep', () => session.state === 'working');
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(session.state, 'working', 'quiet on "sleep 1.5" is not a prompt');
    await until('idle after sleep', () => session.state === 'idle' && session.readLines(3).includes('slept'), 5_000);
    console.log(`real bash: idle at its prompt ${idleAfter} ms after start (quietMs 300)`);
    session.write('exit\r');
    const exit = await session.whenExited;
    assert.equal(exit.exitCode, 0);
  } finally {
    if (!session.exit) await session.stop({ timeoutMs: 500 });
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('without the shell prompt patterns a quiet bash prompt stayed "working" (the cause of idle shells shown as working)', { skip: noPty, timeout: 10_000 }, async () => {
  const bash = resolveCommandOrNull('bash');
  requirePresent(bash ? false : 'bash is not on PATH');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bash-'));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TERM: 'xterm-256color', PS1: '\\u@\\h:\\w\\$ ' };
  const session = await Session.start(spec({ command: bash!, args: [], cwd: home, env, detector: { quietMs: 300 } }));
  try {
    await until('the prompt', () => /[$#]$/.test(session.readLines(1)[0] ?? ''));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(session.state, 'working', 'the default patterns do not know a shell prompt: working until idleAfterMs (30 s)');
  } finally {
    await session.stop({ timeoutMs: 500 });
    fs.rmSync(home, { recursive: true, force: true });
  }
});

function resolveCommandOrNull(command: string): string | null {
  try {
    return resolveCommand(command, process.env as Record<string, string>, os.tmpdir());
  } catch {
    return null;
  }
}

test('a program that ends while flow control pauses its output still delivers its last output before the exit', { skip: noPty, timeout: 60_000 }, async () => {
  // 8 MiB in one burst, then a last line and an immediate exit. Whether flow control is pausing the pty when
  // the program ends depends on the machine's load (CI lost the last line of the 100 MiB flood once: node-pty
  // drops unread output 200 ms after the exit), so this is a guard, not a reproduction; pauses are now capped
  // below that 200 ms (MAX_PAUSE_MS in terminalSession.ts).
  const script = "process.stdout.write(('y'.repeat(99) + '\\n').repeat(80_000) + 'last words\\n', () => process.exit(0))";
  for (let run = 0; run < 3; run++) {
    const session = await Session.start(spec({ args: ['-e', script], bufferBytes: 1024 * 1024 }));
    const exit = await session.whenExited;
    assert.equal(exit.exitCode, 0);
    assert.deepEqual(session.readLines(1), ['last words'], `run ${run}: the last output is there after the exit`);
  }
});
