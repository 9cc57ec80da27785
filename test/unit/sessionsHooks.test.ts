import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { HOOK_OUTPUT_LIMIT, HookRunner, rewritePlaceholders, type HookDefinition, type HookEvent, type HookVariables } from '../../src/sessions/hooks';

function tempDir(t: TestContext): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'baton-hooks-')));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function runner(hooks: Partial<Record<HookEvent, HookDefinition[]>>, trusted = true) {
  const logs: Array<[string, string]> = [];
  const hookRunner = new HookRunner({ hooks, trusted: () => trusted, log: (level, message) => logs.push([level, message]) });
  return { hookRunner, logs };
}

const vars = (over: Partial<HookVariables> = {}): HookVariables => ({
  project: 'My Project', task: 'T-12 fix login', session: 'sess-1', worktree: '/tmp/wt dir', ...over,
});

/** Whether `pid` runs (a zombie waiting for a parent that does not reap it is not running). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
};

test('rewritePlaceholders quotes each reference for where it stands', () => {
  assert.equal(rewritePlaceholders('echo ${task}'), 'echo "$BATON_TASK"');
  assert.equal(rewritePlaceholders('echo "id: ${session}!"'), 'echo "id: ${BATON_SESSION}!"');
  assert.equal(rewritePlaceholders("echo 'in ${worktree} now'"), `echo 'in '"$BATON_WORKTREE"' now'`);
  assert.equal(rewritePlaceholders('echo \\${task} ${unknown} ${prompt}${project}'), 'echo \\${task} ${unknown} "$BATON_PROMPT""$BATON_PROJECT"');
  assert.equal(rewritePlaceholders(`echo "it's" \${task} 'a "b"' \${task}`), `echo "it's" "$BATON_TASK" 'a "b"' "$BATON_TASK"`);
});

test('variables reach hooks as BATON_* variables and through ${name} placeholders', async t => {
  const dir = tempDir(t);
  const { hookRunner, logs } = runner({
    SessionStart: [
      { command: `printf '%s\\n' "$BATON_TASK" "$BATON_PROJECT" "$BATON_SESSION" "$BATON_WORKTREE" "$BATON_EVENT" > env.txt` },
      { command: `printf '%s|' \${task} "\${project}" '\${session}' "wt=\${worktree}" > placeholders.txt` },
    ],
    UserPromptSubmit: [{ command: 'printf %s ${prompt} > prompt.txt' }],
  });

  const results = await hookRunner.run('SessionStart', vars(), dir);
  assert.deepEqual(results.map(r => [r.event, r.exitCode, r.timedOut, r.skipped]), [
    ['SessionStart', 0, false, undefined],
    ['SessionStart', 0, false, undefined],
  ]);
  assert.equal(results[1].command, `printf '%s|' \${task} "\${project}" '\${session}' "wt=\${worktree}" > placeholders.txt`, 'reported as configured');
  assert.equal(fs.readFileSync(path.join(dir, 'env.txt'), 'utf8'), 'T-12 fix login\nMy Project\nsess-1\n/tmp/wt dir\nSessionStart\n');
  assert.equal(fs.readFileSync(path.join(dir, 'placeholders.txt'), 'utf8'), 'T-12 fix login|My Project|sess-1|wt=/tmp/wt dir|');

  const [prompt] = await hookRunner.run('UserPromptSubmit', vars({ prompt: 'two  spaces\nand a line' }), dir);
  assert.equal(prompt.exitCode, 0);
  assert.equal(fs.readFileSync(path.join(dir, 'prompt.txt'), 'utf8'), 'two  spaces\nand a line');
  assert.ok(logs.some(([level, m]) => level === 'info' && /SessionStart hook .* exited with code 0/.test(m)));
  assert.deepEqual(await hookRunner.run('SessionEnd', vars(), dir), [], 'no hooks, no results');
});

test('shell-injection attempts in values stay text', async t => {
  const dir = tempDir(t);
  const evil = [
    '$(touch pwned1)',
    '`touch pwned2`',
    '"; touch pwned3; echo "',
    "'; touch pwned4; echo '",
    '$(rm -rf ./keep) && touch pwned5',
    '* ; touch pwned6',
  ].join(' ');
  fs.mkdirSync(path.join(dir, 'keep'));
  const { hookRunner } = runner({
    SessionStart: [
      { command: 'printf "%s\\n" ${task} > unquoted.txt' },
      { command: 'printf "%s\\n" "${task}" > double.txt' },
      { command: "printf '%s\\n' '${task}' > single.txt" },
      { command: 'printf "%s\\n" "$BATON_TASK" > env.txt' },
      { command: 'eval_me=${task}; printf "%s\\n" "$eval_me" > assigned.txt' },
    ],
  });
  const results = await hookRunner.run('SessionStart', vars({ task: evil }), dir);
  assert.deepEqual(results.map(r => r.exitCode), [0, 0, 0, 0, 0], JSON.stringify(results));
  for (const file of ['unquoted.txt', 'double.txt', 'single.txt', 'env.txt', 'assigned.txt']) {
    assert.equal(fs.readFileSync(path.join(dir, file), 'utf8'), `${evil}\n`, file);
  }
  const created = fs.readdirSync(dir).filter(f => f.startsWith('pwned'));
  assert.deepEqual(created, []);
  assert.ok(fs.existsSync(path.join(dir, 'keep')));
});

test('a failing hook and a hanging hook resolve with exit code and timeout, and later hooks still run', async t => {
  const dir = tempDir(t);
  const { hookRunner, logs } = runner({
    SessionEnd: [
      { command: 'echo first >> order.txt; echo oops >&2; exit 1' },
      { command: 'echo "$$" > shell.pid; sleep 30 & echo "$!" > child.pid; wait', timeoutMs: 500 },
      { command: 'echo third >> order.txt' },
    ],
  });
  const started = Date.now();
  const results = await hookRunner.run('SessionEnd', vars(), dir);
  const elapsed = Date.now() - started;

  assert.equal(results.length, 3);
  const [failing, hanging, third] = results;
  assert.deepEqual([failing.exitCode, failing.timedOut], [1, false]);
  assert.match(failing.output, /oops/);
  assert.deepEqual([hanging.exitCode, hanging.timedOut], [null, true]);
  assert.ok(hanging.durationMs >= 450 && hanging.durationMs < 1500, `hanging hook took ${hanging.durationMs} ms`);
  assert.equal(third.exitCode, 0);
  assert.ok(elapsed < 2000, `all hooks took ${elapsed} ms`);
  assert.equal(fs.readFileSync(path.join(dir, 'order.txt'), 'utf8'), 'first\nthird\n');

  // The whole process group is gone, not just the shell.
  const child = Number(fs.readFileSync(path.join(dir, 'child.pid'), 'utf8'));
  const shell = Number(fs.readFileSync(path.join(dir, 'shell.pid'), 'utf8'));
  assert.equal(isAlive(child), false, 'the background sleep was killed');
  assert.equal(isAlive(shell), false);
  assert.ok(logs.some(([level, m]) => level === 'warn' && /exited with code 1 .*:\noops/s.test(m)));
  assert.ok(logs.some(([level, m]) => level === 'warn' && /timed out after 500 ms/.test(m)));
});

test('a hook that leaves a background process holding its output does not hold the session', async t => {
  const dir = tempDir(t);
  const { hookRunner } = runner({ SessionStart: [{ command: 'echo started; (sleep 3; echo late) & echo "$!" > bg.pid' }] });
  const started = Date.now();
  const [result] = await hookRunner.run('SessionStart', vars(), dir);
  assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  assert.equal(result.exitCode, 0);
  assert.equal(result.timedOut, false);
  assert.match(result.output, /started/);
  const bg = Number(fs.readFileSync(path.join(dir, 'bg.pid'), 'utf8'));
  try {
    process.kill(bg, 'SIGKILL');
  } catch {
    // already gone
  }
});

test('untrusted workspace: no hook runs, each is reported skipped, logged once', async t => {
  const dir = tempDir(t);
  let trusted = false;
  const logs: Array<[string, string]> = [];
  const hookRunner = new HookRunner({
    hooks: { SessionStart: [{ command: 'touch created.txt' }, { command: 'touch created2.txt' }] },
    trusted: () => trusted,
    log: (level, message) => logs.push([level, message]),
  });
  for (let i = 0; i < 2; i++) {
    const results = await hookRunner.run('SessionStart', vars(), dir);
    assert.deepEqual(results, [
      { event: 'SessionStart', command: 'touch created.txt', exitCode: null, timedOut: false, durationMs: 0, output: '', skipped: 'untrusted workspace' },
      { event: 'SessionStart', command: 'touch created2.txt', exitCode: null, timedOut: false, durationMs: 0, output: '', skipped: 'untrusted workspace' },
    ]);
  }
  assert.equal(fs.existsSync(path.join(dir, 'created.txt')), false);
  assert.equal(fs.existsSync(path.join(dir, 'created2.txt')), false);
  assert.equal(logs.length, 1);
  assert.match(logs[0][1], /not trusted/);

  const throwing = new HookRunner({ hooks: { SessionStart: [{ command: 'touch created.txt' }] }, trusted: () => { throw new Error('no'); }, log: () => undefined });
  assert.equal((await throwing.run('SessionStart', vars(), dir))[0].skipped, 'untrusted workspace');
  assert.equal(fs.existsSync(path.join(dir, 'created.txt')), false);

  trusted = true;
  const [ran] = await hookRunner.run('SessionStart', vars(), dir);
  assert.equal(ran.exitCode, 0);
  assert.ok(fs.existsSync(path.join(dir, 'created.txt')), 'runs once trusted');
});

test('output is bounded; bad definitions, a missing folder and a missing shell are reported, never thrown', async t => {
  const dir = tempDir(t);
  const { hookRunner } = runner({
    SessionStart: [
      { command: `head -c 200000 /dev/zero | tr '\\0' a` },
      { command: '' },
      { command: 'true', timeoutMs: -5 },
      'echo bare > bare.txt' as unknown as HookDefinition,
    ],
  });
  const [big, empty, negative] = await hookRunner.run('SessionStart', vars({ prompt: 'nul\0byte' }), dir);
  assert.equal(big.exitCode, 0);
  assert.ok(Buffer.byteLength(big.output) <= HOOK_OUTPUT_LIMIT + 100, `output is ${big.output.length} characters`);
  assert.match(big.output, /more bytes of output not kept\]$/);
  assert.match(empty.error ?? '', /no command/);
  assert.equal(negative.exitCode, 0, 'an invalid timeout falls back to the default');
  assert.equal(fs.readFileSync(path.join(dir, 'bare.txt'), 'utf8'), 'bare\n', 'a bare string is a command');

  const [missingCwd] = await hookRunner.run('SessionStart', vars(), path.join(dir, 'nope'));
  assert.equal(missingCwd.exitCode, null);
  assert.match(missingCwd.error ?? '', /does not exist/);

  const noShell = new HookRunner({ hooks: { SessionEnd: [{ command: 'true' }] }, trusted: () => true, log: () => undefined, shell: path.join(dir, 'no-such-shell') });
  const [failed] = await noShell.run('SessionEnd', vars(), dir);
  assert.equal(failed.exitCode, null);
  assert.match(failed.error ?? '', /ENOENT/);
});

test('secrets in hook output are redacted in the log', async t => {
  const dir = tempDir(t);
  const token = 'ghp_' + 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A';
  const { hookRunner, logs } = runner({ SessionStart: [{ command: `echo token=${token}` }] });
  const [result] = await hookRunner.run('SessionStart', vars(), dir);
  assert.match(result.output, new RegExp(token));
  assert.ok(logs.length === 1 && !logs[0][1].includes(token) && /REDACTED/.test(logs[0][1]), logs[0]?.[1]);
});
