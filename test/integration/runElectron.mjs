#!/usr/bin/env node
// Runs the in-host suite (dist/test/integration/index.js) in desktop VS Code (Electron) through
// @vscode/test-electron, which DOWNLOADS VS Code: it needs internet access to update.code.visualstudio.com
// (on machines without it use `npm run test:integration`, which runs the same suite in code-server).
// Env: VSCODE_VERSION (default 'stable'), VSCODE_EXECUTABLE (use an installed VS Code instead of downloading).
// On Linux without a display run it under xvfb-run.
// Usage: npm run build && npm run test:electron
import fs from 'node:fs';
import path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { REPO_ROOT } from '../../scripts/lib/codeServer.mjs';
import { makeGitWorkspace, tempDir } from '../../scripts/lib/workspace.mjs';

const testsPath = path.join(REPO_ROOT, 'dist/test/integration/index.js');
if (!fs.existsSync(testsPath)) {
  console.error(`${path.relative(REPO_ROOT, testsPath)} is missing: run npm run build first`);
  process.exit(2);
}
const out = path.join(REPO_ROOT, '.test-output/integration');
fs.mkdirSync(out, { recursive: true });
const workspace = makeGitWorkspace({ prefix: 'baton-electron-ws' });
const batonHome = tempDir('baton-electron-home');

let code = 1;
try {
  code = await runTests({
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : { version: process.env.VSCODE_VERSION || 'stable' }),
    extensionDevelopmentPath: REPO_ROOT,
    extensionTestsPath: testsPath,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    extensionTestsEnv: { BATON_HOME: batonHome, BATON_TEST_OUTPUT: out },
  });
} catch (e) {
  // runTests rejects (TestRunFailedError) when VS Code exits non-zero, i.e. when a test failed.
  console.error('VS Code test run failed:', e && e.message ? e.message : e);
  code = 1;
} finally {
  fs.rmSync(workspace, { recursive: true, force: true });
  fs.rmSync(batonHome, { recursive: true, force: true });
}
process.exit(code === 0 ? 0 : 1);
