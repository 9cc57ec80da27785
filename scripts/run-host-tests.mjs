#!/usr/bin/env node
// Runs Baton's in-host test suite (test/integration, built to dist/test/integration/index.js) inside a real
// VS Code extension host: code-server 1.139 with the smoke-test driver, driven by headless Chromium.
// The workspace is a temp git repo with the orchestron plan as PLAN.md; BATON_HOME is a fresh temp dir.
// Results: .test-output/integration/{integration-results.json,workbench.png,code-server.log}.
// Env: TEST_TIMEOUT_MS (default 600000), KEEP_TEMP=1 keeps the temp workspace and BATON_HOME.
// Usage: npm run build && node scripts/run-host-tests.mjs
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { REPO_ROOT, assertHostInstalled, chromiumPath, launchChromium, startCodeServer } from './lib/codeServer.mjs';
import { makeGitWorkspace, tempDir } from './lib/workspace.mjs';

const OUT = path.join(REPO_ROOT, '.test-output/integration');
const TESTS_JS = path.join(REPO_ROOT, 'dist/test/integration/index.js');
const TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS || 600_000);

/** Workbench and extension-host chatter that is not the tests' output. */
const NOISE = [
  /AgentHost/, /open-vsx/i, /Canceled/, /^\s+at /, /\[Extension Host\] (Debugger|Extension host agent)/,
  /marketplace/i, /ERR_NETWORK|net::ERR_|Failed to fetch/, /vscode-userdata|storage/i, /^\s*$/,
  /was not registered|No search provider|onDidChange|Ignoring the error/, /webview|service worker/i,
  /^Resolv(ing|ed) connection token/, /^Creating a socket/, /reconnection-grace-time/, /additional builtin extensions/,
  /AccountPolicyGate/,
];
const noisy = s => NOISE.some(re => re.test(s));

function log(...a) { console.log('[host-tests]', ...a); }

async function main() {
  const t0 = Date.now();
  for (const f of [TESTS_JS, path.join(REPO_ROOT, 'dist/extension.js')]) {
    if (!fs.existsSync(f)) throw new Error(`${path.relative(REPO_ROOT, f)} is missing: run npm run build first`);
  }
  assertHostInstalled();
  chromiumPath();
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const workspace = makeGitWorkspace({ prefix: 'baton-it-ws' });
  const batonHome = tempDir('baton-it-home');
  const extEnv = { BATON_HOME: batonHome, BATON_TEST_OUTPUT: OUT };
  log('workspace', workspace, '· BATON_HOME', batonHome);

  let server;
  let browser;
  let result = 'not run';
  try {
    server = await startCodeServer({ folder: workspace, env: extEnv, smokeTestDriver: true, logDir: OUT });
    log(`code-server ${server.url} up after ${Date.now() - t0} ms`);
    const payload = [
      ['extensionDevelopmentPath', server.remoteUri(REPO_ROOT)],
      ['extensionTestsPath', server.remoteUri(TESTS_JS)],
      ['extensionEnvironment', JSON.stringify(extEnv)],
      ['skipWelcome', 'true'],
    ];
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let exit;
    const exited = new Promise(resolve => { exit = resolve; });
    // The workbench forwards the extension host's console here (with a lot of workbench noise).
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const s = util.format(...(args || []));
      if (!noisy(s)) console.log(s);
    });
    // Called with the exit code once the test module's run() settles.
    await page.exposeFunction('codeAutomationExit', code => exit(code));
    page.on('pageerror', e => { if (!noisy(String(e.message))) log('page error:', e.message); });
    await page.goto(server.urlFor({ folder: workspace, payload }));
    let timer;
    result = await Promise.race([
      exited,
      new Promise(resolve => { timer = setTimeout(() => resolve('timeout'), TIMEOUT_MS); }),
    ]);
    clearTimeout(timer);
    if (result === 'timeout') log(`no result after ${TIMEOUT_MS} ms (TEST_TIMEOUT_MS)`);
    else log('extension host test run exited with', result);
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(OUT, 'workbench.png') }).catch(e => log('screenshot failed:', e.message));
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) {
      if (result !== 0) server.copyLogs(OUT);
      await server.stop();
    }
    if (!process.env.KEEP_TEMP) {
      fs.rmSync(workspace, { recursive: true, force: true });
      fs.rmSync(batonHome, { recursive: true, force: true });
    }
  }

  const resultsFile = path.join(OUT, 'integration-results.json');
  let summary = null;
  if (fs.existsSync(resultsFile)) summary = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  if (summary) {
    for (const t of summary.tests.filter(x => x.state === 'failed')) {
      log(`FAILED: ${t.title}\n    ${String(t.error).split('\n').slice(0, 3).join('\n    ')}`);
    }
    log(`${summary.passed} passed, ${summary.failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    log(`no ${path.relative(REPO_ROOT, resultsFile)} was written (the suite did not run to the end)`);
  }
  if (result !== 0) log('logs kept in', path.relative(REPO_ROOT, OUT));
  return result === 0 && summary && summary.failed === 0 ? 0 : 1;
}

main().then(code => process.exit(code), e => { console.error('[host-tests]', e.message || e); process.exit(2); });
