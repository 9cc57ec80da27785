/**
 * Tests that need a real component (tmux, node-pty, an agent CLI, code-server, Chromium) use these so a
 * missing component can never hide a gap in CI.
 *
 * - Outside CI a missing component skips the test with a message saying how to install it.
 * - With `CI=true` (how `.ci/run` runs `npm test`) it does not skip: the test runs and fails at once,
 *   naming the component and its install step.
 *
 * Usage: `const why = missingBinary(bin, 'run bash scripts/setup-agents.sh');`
 * `test('…', { skip: skipOutsideCi(why) }, async () => { requirePresent(why); … })`.
 */
import * as fs from 'node:fs';

/** Whether this run is CI (`CI` set to `true` or `1`, as GitHub Actions and `.ci/run` set it). */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(true|1)$/i.test(env.CI ?? '');
}

/**
 * The value for node:test's `skip` option: `reason` (a string saying what is missing) outside CI,
 * `false` under CI so the test runs and `requirePresent` fails it. `false` in, `false` out.
 */
export function skipOutsideCi(reason: string | false, env: NodeJS.ProcessEnv = process.env): string | false {
  return reason && !inCi(env) ? reason : false;
}

/**
 * Throws when `reason` says a component is missing (only reached under CI, or when a caller did not
 * skip). @throws Error "required component missing: <reason>".
 */
export function requirePresent(reason: string | false): void {
  if (reason) throw new Error(`required component missing (CI=true never skips): ${reason}`);
}

/** A reason string when the executable file `file` does not exist, else false. */
export function missingBinary(file: string, install: string): string | false {
  return fs.existsSync(file) ? false : `${file} is missing: ${install}`;
}
