/*
 * Under CI=true a test whose real component is missing fails instead of skipping (.ci/run sets CI=true).
 * Runs a small test file through node's test runner as CI would, with a component that is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { inCi, missingBinary, requirePresent, skipOutsideCi } from './helpers/required';

function runProbe(ci: string | undefined): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-required-'));
  try {
    const file = path.join(dir, 'probe.test.ts');
    fs.writeFileSync(file, `import { test } from 'node:test';
import { missingBinary, requirePresent, skipOutsideCi } from ${JSON.stringify(path.resolve(__dirname, 'helpers/required'))};
const why = missingBinary('/nonexistent/baton-agent-cli', 'run bash scripts/setup-agents.sh');
test('needs the agent CLI', { skip: skipOutsideCi(why) }, () => requirePresent(why));
`);
    const env = { ...process.env };
    delete env.CI;
    if (ci !== undefined) env.CI = ci;
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { env, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('CI=true: a test whose component is missing fails, naming it and how to install it', () => {
  const r = runProbe('true');
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /# fail 1/);
  assert.match(r.out, /baton-agent-cli is missing: run bash scripts\/setup-agents\.sh/);
});

test('outside CI: the same test is skipped with the reason', () => {
  const r = runProbe(undefined);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /# skipped 1/);
  assert.match(r.out, /# SKIP \/nonexistent\/baton-agent-cli is missing/);
});

test('helpers: inCi, skipOutsideCi, requirePresent, missingBinary', () => {
  assert.equal(inCi({ CI: 'true' }), true);
  assert.equal(inCi({ CI: '1' }), true);
  assert.equal(inCi({}), false);
  assert.equal(skipOutsideCi('gone', { CI: 'true' }), false);
  assert.equal(skipOutsideCi('gone', {}), 'gone');
  assert.equal(skipOutsideCi(false, {}), false);
  assert.throws(() => requirePresent('tmux is not installed'), /required component missing.*tmux is not installed/);
  assert.doesNotThrow(() => requirePresent(false));
  assert.equal(missingBinary(process.execPath, 'x'), false);
});
