// Entry of the in-host test suite: the extension host loads dist/test/integration/index.js (bundled by
// esbuild.mjs, `mocha` left external) through extensionTestsPath and calls run().
// Run it with `npm run test:integration` (code-server) or `npm run test:electron` (desktop VS Code).
import * as fs from 'node:fs';
import * as path from 'node:path';
type MochaCtor = typeof import('mocha');

/** mocha ≥ 11 is an ES module whose CommonJS build is its default export; older ones export the class. */
function loadMocha(): MochaCtor {
  const mod = require('mocha');
  return (mod && mod.default) || mod;
}

interface TestResult { title: string; state: 'passed' | 'failed' | 'pending'; error: string | null }

/**
 * Loads every suite. esbuild bundles these static requires into lazily-initialised modules, so each suite's
 * `suite()`/`test()` calls run here, after 'pre-require' has put mocha's tdd globals in place.
 * Add new suites to this list.
 */
function loadSuites(): void {
  require('./smoke.test');
  require('./plan.test');
  require('./inbox.test');
  require('./sessions.test');
  require('./mcp.test');
  require('./planGroups.test'); // last: it imports a second plan
}

export function run(): Promise<void> {
  const Mocha = loadMocha();
  const mocha = new Mocha({ ui: 'tdd', reporter: 'spec', color: false, timeout: 60_000 });
  mocha.suite.emit('pre-require', globalThis, 'baton-integration', mocha);
  loadSuites();

  const tests: TestResult[] = [];
  return new Promise<void>((resolve, reject) => {
    const finish = (failures: number) => {
      const passed = tests.filter(t => t.state === 'passed').length;
      const failed = tests.filter(t => t.state === 'failed').length;
      const out = process.env.BATON_TEST_OUTPUT;
      if (out) {
        try {
          fs.mkdirSync(out, { recursive: true });
          fs.writeFileSync(path.join(out, 'integration-results.json'), JSON.stringify({ passed, failed, tests }, null, 2) + '\n');
        } catch (e) {
          console.error('could not write integration-results.json:', e);
        }
      }
      console.log(`${passed} passed, ${failed} failed`);
      if (failures > 0 || failed > 0) reject(new Error(`${Math.max(failures, failed)} integration test(s) failed`));
      else resolve();
    };
    try {
      const runner = mocha.run(finish);
      runner.on('pass', t => tests.push({ title: t.fullTitle(), state: 'passed', error: null }));
      // 'fail' also fires for failing hooks, which then count as failed tests.
      runner.on('fail', (t, err) => tests.push({ title: t.fullTitle(), state: 'failed', error: String((err && (err.stack || err.message)) || err) }));
      runner.on('pending', t => tests.push({ title: t.fullTitle(), state: 'pending', error: null }));
    } catch (e) {
      console.error(e);
      reject(e);
    }
  });
}
