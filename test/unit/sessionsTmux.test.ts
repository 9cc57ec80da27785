import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { loadNodePty } from '../../src/sessions/ptyProcess';
import { TerminalSession, type TerminalSessionSpec } from '../../src/sessions/terminalSession';
import {
  captureScrollback,
  escapeTmuxArg,
  killTmuxServer,
  listBatonSessions,
  newTmuxSession,
  paneExitStatus,
  sessionAlive,
  tmuxBinary,
  tmuxSessionName,
} from '../../src/sessions/tmux';
import { HookRunner } from '../../src/sessions/hooks';
import { SessionManager } from '../../src/sessions/sessionManager';
import { TerminalSessionRepository } from '../../src/store/terminalSessionRepository';
import { openTestOwner } from './helpers/owner';
import { requirePresent, skipOutsideCi } from './helpers/required';
import { scriptedSessionSpec } from './helpers/sessionSpec';

const repoRoot = path.resolve(__dirname, '../..');
const agentScript = path.resolve(__dirname, 'fixtures/scripted-agent.js');
const socket = `baton-test-${process.pid}`;
const loaded = loadNodePty();
const ptyModule = 'pty' in loaded ? loaded.pty : undefined;

function skipReason(): string | false {
  if (!ptyModule) return `node-pty is unavailable: ${'error' in loaded ? loaded.error : ''}`;
  const v = spawnSync(tmuxBinary(), ['-V'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return 'tmux is not installed: skipping the tmux session tests';
  const m = /(\d+)\.(\d+)/.exec(v.stdout);
  if (!m || Number(m[1]) < 3) return `tmux ${v.stdout.trim()} is older than 3.0: skipping the tmux session tests`;
  return false;
}
const skip = skipReason();
if (skip) console.log(skip);

test('tmux 3.0 or later and node-pty are installed (required: under CI=true their absence fails)', { skip: skipOutsideCi(skip) }, () => requirePresent(skip));

after(async () => {
  if (skip) return;
  await killTmuxServer(socket);
  // tmux leaves its socket file behind.
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  fs.rmSync(path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, socket), { force: true });
});

function spec(over: Partial<TerminalSessionSpec> = {}): TerminalSessionSpec {
  return scriptedSessionSpec(ptyModule!, { id: `t${process.pid}`, useTmux: true, tmuxSocket: socket, tmuxPollMs: 200, ...over });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('tmux helpers: names, exact targets, argument escaping', { skip }, async () => {
  assert.equal(tmuxSessionName('task 12.3:a'), 'baton-task_12_3_a');
  assert.equal(escapeTmuxArg('fix it;'), 'fix it\\;');
  assert.equal(escapeTmuxArg('a;b'), 'a;b');
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'baton #dir '));
  try {
    const name = tmuxSessionName(`h${process.pid}x`);
    await newTmuxSession(name, process.execPath, ['-e', 'console.log(JSON.stringify([process.argv.slice(1), process.cwd(), process.env.BATON_T])); setTimeout(() => {}, 5000)', ';', 'end;', '#{pane_id}'], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BATON_T: 'value;' },
      cols: 200,
      rows: 10,
      socket,
    });
    assert.equal(await sessionAlive(name, socket), true);
    assert.equal(await sessionAlive(name.slice(0, -1), socket), false, 'no prefix matching');
    let printed = '';
    await until('the command output', async () => {
      printed = (await captureScrollback(name, 10, { socket })).join('\n');
      return printed.includes(']');
    });
    assert.deepEqual(JSON.parse(printed.trim()), [[';', 'end;', '#{pane_id}'], fs.realpathSync(cwd), 'value;']);
    assert.ok((await listBatonSessions(socket)).some((s) => s.name === name && !s.paneDead));
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
});

test('tmux: start, detach (window reload), reattach with earlier output, answer, exit code 3 read from tmux', { skip, timeout: 20_000 }, async () => {
  const t0 = Date.now();
  const first = await TerminalSession.start(spec({ id: `reload-${process.pid}` }));
  const name = first.tmuxSession!;
  assert.equal(name, `baton-reload-${process.pid}`);
  const agentPid = first.pid!;
  assert.ok(agentPid > 0);
  if (process.platform === 'linux') assert.match(fs.readFileSync(`/proc/${agentPid}/cmdline`, 'utf8'), /scripted-agent\.js/, 'pid is the agent, not the tmux client');
  await until('some work output', () => first.readLines(10).some((l) => l.includes('step 1: reading the repository')));
  await first.detach();
  assert.equal(first.detached, true);
  assert.equal(first.attached, false);
  assert.equal(first.exitCode, undefined);
  assert.equal(await sessionAlive(name, socket), true, 'the agent keeps running without a client');
  assert.ok(processExists(agentPid));
  // While nobody is attached the agent goes on and asks its question.
  await until('the question in the pane', async () => (await captureScrollback(name, 100, { socket })).some((l) => l.includes('Which database should I use?')));

  const second = await TerminalSession.reattach({ ...spec({ id: `reload-${process.pid}` }), tmuxSession: name });
  assert.equal(second.pid, agentPid);
  const seeded = second.readLines(20);
  assert.ok(seeded.includes('✓ step 1: reading the repository'), `earlier output present after reattach:\n${seeded.join('\n')}`);
  assert.equal(seeded[seeded.length - 1], 'Which database should I use?');
  await until('waiting state on the reattached session', () => second.state === 'waiting');
  const screenLines = second.readLines(50);
  assert.equal(screenLines.filter((l) => l.includes('step 1: reading the repository')).length, 1, `the client's redraw does not duplicate lines:\n${screenLines.join('\n')}`);
  assert.ok(second.write('PostgreSQL\r'));
  const exit = await second.whenExited;
  assert.deepEqual(exit, { exitCode: 3 });
  assert.equal(second.state, 'exited');
  const lines = second.readLines(50);
  assert.ok(lines.includes('Using PostgreSQL'), lines.join('\n'));
  assert.equal(lines[lines.length - 1], 'finished the work, exiting with code 3');
  await until('the dead tmux session to be removed', async () => !(await sessionAlive(name, socket)));
  console.log(`tmux detach/reattach run: ${Date.now() - t0} ms`);
});

test('tmux: the owning process is killed with SIGKILL; the agent survives and is reattached with its output', { skip, timeout: 20_000 }, async () => {
  const id = `orphan-${process.pid}`;
  const helper = `
    const { TerminalSession } = require(${JSON.stringify(path.join(repoRoot, 'src/sessions/terminalSession.ts'))});
    const { loadNodePty } = require(${JSON.stringify(path.join(repoRoot, 'src/sessions/ptyProcess.ts'))});
    (async () => {
      const s = await TerminalSession.start({
        id: ${JSON.stringify(id)}, command: process.execPath, args: [${JSON.stringify(agentScript)}], cwd: ${JSON.stringify(os.tmpdir())},
        env: process.env, cols: 90, rows: 25, useTmux: true, tmuxSocket: ${JSON.stringify(socket)}, bufferBytes: 65536, pty: loadNodePty().pty,
      });
      const t = setInterval(() => {
        if (s.readLines(20).some((l) => l.includes('step 2'))) {
          clearInterval(t);
          process.stdout.write('READY ' + s.tmuxSession + ' ' + s.pid + '\\n');
        }
      }, 10);
      setInterval(() => {}, 1000);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', helper], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  await until('the helper to start a tmux session', () => /READY \S+ \d+/.test(out) || child.exitCode !== null, 10_000);
  const m = /READY (\S+) (\d+)/.exec(out);
  assert.ok(m, `helper failed: ${out}\n${err}`);
  const [, name, pidText] = m;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  assert.equal(await sessionAlive(name, socket), true);
  assert.ok(processExists(Number(pidText)), 'the agent outlived its owner');

  const session = await TerminalSession.reattach({ ...spec({ id }), tmuxSession: name });
  assert.ok(session.readLines(20).includes('✓ step 1: reading the repository'), session.readLines(20).join('\n'));
  await until('the question', () => session.state === 'waiting');
  session.sendKeys(['P', 'g', 'Enter']);
  const exit = await session.whenExited;
  assert.equal(exit.exitCode, 3);
  assert.ok(session.readLines(10).includes('Using Pg'));
});

test('tmux: stop() interrupts the agent; reattaching to a pane that already died reports its exit code', { skip, timeout: 20_000 }, async () => {
  const sleeper = await TerminalSession.start(spec({ id: `sleep-${process.pid}`, command: 'sleep', args: ['100'] }));
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  const stopped = await sleeper.stop({ timeoutMs: 2_000 });
  assert.equal(stopped.exitCode, 130, JSON.stringify(stopped));
  assert.ok(Date.now() - t0 < 2_000);
  assert.equal(await sessionAlive(sleeper.tmuxSession!, socket), false);

  // resize() goes through the attach client to the tmux window and the agent.
  const sizer = await TerminalSession.start(
    spec({ id: `size-${process.pid}`, args: ['-e', "console.log('size', process.stdout.columns, process.stdout.rows); process.stdout.on('resize', () => console.log('size', process.stdout.columns, process.stdout.rows)); setInterval(() => {}, 1000)"] }),
  );
  await until('the first size', () => sizer.readLines(5).includes('size 100 30'));
  sizer.resize(120, 40);
  await until('the new size', () => sizer.readLines(5).includes('size 120 40'));
  assert.equal((await sizer.stop({ timeoutMs: 1_000 })).exitCode, 130);

  const name = tmuxSessionName(`dead-${process.pid}`);
  await newTmuxSession(name, 'sh', ['-c', 'echo "last words"; exit 7'], { cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cols: 80, rows: 24, socket });
  await until('the pane to die', async () => (await paneExitStatus(name, socket))?.dead === true);
  const session = await TerminalSession.reattach({ ...spec(), tmuxSession: name });
  const exit = await session.whenExited;
  assert.equal(exit.exitCode, 7);
  assert.equal(session.state, 'exited');
  assert.deepEqual(session.readLines(5), ['last words']);
  await until('the dead session to be removed', async () => !(await sessionAlive(name, socket)));
  await assert.rejects(TerminalSession.reattach({ ...spec(), tmuxSession: name }), /tmux session baton-dead-\d+ does not exist/);
  await assert.rejects(TerminalSession.start(spec({ id: `nf-${process.pid}`, command: 'baton-no-such-agent-cli' })), /Cannot start "baton-no-such-agent-cli": command not found/);
});

test('tmux sessions outlive the window, so Baton wires them through `baton mcp --storage` (which follows the owner to any port); a profile asking for HTTP keeps it', { skip, timeout: 30_000 }, async t => {
  const owner = await openTestOwner({ mcp: true });
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-tmux-wiring-'));
  const cliPath = '/opt/baton/dist/cli.js';
  const profile = (id: string, over: object = {}) => ({ id, label: id, command: process.execPath, args: [agentScript], prompt: 'none' as const, mcp: 'env-only' as const, ...over });
  const manager = new SessionManager({
    workspaceDir: workspace, storageDir: owner.storageDir, plan: owner.plan, repo: new TerminalSessionRepository(owner.db),
    profiles: () => [profile('plain'), profile('http', { mcpTransport: 'http' })],
    settings: () => ({ bufferBytes: 65536, useTmux: true, useWorktrees: false, worktreeCleanup: 'preserve-and-remove', maxParallel: 4, cols: 80, rows: 24 }),
    hooks: () => new HookRunner({ hooks: {}, trusted: () => true, log: () => undefined }),
    mcpEndpoint: () => ({ url: owner.mcpUrl!, token: owner.readToken()! }),
    pty: () => ptyModule!, log: () => undefined, cliPath, tmuxSocket: socket,
  });
  t.after(async () => {
    await manager.shutdown();
    manager.dispose();
    await owner.cleanup();
    fs.rmSync(workspace, { recursive: true, force: true });
  });
  const config = (id: string) => JSON.parse(fs.readFileSync(path.join(owner.storageDir, 'sessions', id, 'mcp.json'), 'utf8')).mcpServers.baton;
  const plain = await manager.start({ profileId: 'plain' });
  assert.deepEqual(config(plain.record.id), {
    type: 'stdio', command: process.execPath, args: [cliPath, 'mcp', '--workspace', workspace, '--storage', owner.storageDir],
  }, 'the proxy, given the storage folder on its command line (no environment needed)');
  const http = await manager.start({ profileId: 'http' });
  assert.equal(config(http.record.id).url, owner.mcpUrl);
});

test('tmux: lines that scroll off the pane stay in readLines, once each and in order; wide characters and long lines read as the pane shows them', { skip, timeout: 20_000 }, async () => {
  // 120 lines through a 100×30 pane, in bursts (tmux scrolls by several lines at once), a 150-character line and CJK text;
  // they start on Enter, once the client shows the pane.
  const script = "console.log('ready'); process.stdin.once('data', () => { let i = 0; const t = setInterval(() => { for (let k = 0; k < 7 && i < 120; k++) console.log('row ' + String(++i).padStart(3, '0')); if (i >= 120) { clearInterval(t); console.log('y'.repeat(150)); console.log('你好世界 done'); setTimeout(() => process.exit(0), 300); } }, 15); })";
  const session = await TerminalSession.start(spec({ id: `scroll-${process.pid}`, args: ['-e', script] }));
  await until('ready', () => session.readLines(5).includes('ready'));
  session.sendKeys(['Enter']);
  const exit = await session.whenExited;
  assert.equal(exit.exitCode, 0);
  const lines = session.readLines(500);
  const rows = lines.filter((l) => /^row \d{3}$/.test(l)).map((l) => Number(l.slice(4)));
  // tmux draws only its screen: when output outpaces the client it jumps to the newest screen, and
  // the lines it skipped never reach the client. What the client drew is there once, in order.
  assert.equal(rows[0], 1, lines.join('\n'));
  assert.equal(rows[rows.length - 1], 120);
  assert.ok(rows.every((r, k) => k === 0 || r > rows[k - 1]), `in order, no line twice:\n${lines.join('\n')}`);
  assert.ok(rows.length > 30, `more than one screen of lines is kept (${rows.length} of 120 drawn)`);
  assert.ok(lines.includes('y'.repeat(150)), `a line longer than the pane is one line:\n${lines.slice(-5).join('\n')}`);
  assert.equal(lines[lines.length - 1], '你好世界 done');
});
