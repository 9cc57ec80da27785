#!/usr/bin/env node
// Serves VS Code (code-server) on 127.0.0.1 with Baton installed from its VSIX, opened on a folder, until
// Ctrl-C. Used by scripts/start.sh (`npm start`) on machines without a desktop VS Code.
// Usage: node scripts/lib/serve.mjs --folder DIR --vsix dist-vsix/baton.vsix [--port N]   (or env PORT)
// User data and extensions persist in .vscode-host/ (git-ignored); Baton's data goes to $BATON_HOME (~/.baton).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, freePort, installExtension, isPortFree, startCodeServer } from './codeServer.mjs';

const { values } = parseArgs({ options: { folder: { type: 'string' }, vsix: { type: 'string' }, port: { type: 'string' } } });
if (!values.folder) { console.error('usage: serve.mjs --folder DIR [--vsix FILE] [--port N]'); process.exit(2); }
const folder = path.resolve(values.folder);
const stateDir = path.join(REPO_ROOT, '.vscode-host');
const extensionsDir = path.join(stateDir, 'extensions');
const log = (...a) => console.log('[start]', ...a);

let port = Number(values.port || process.env.PORT || 8080);
if (!(await isPortFree(port))) {
  const wanted = port;
  port = await freePort();
  log(`port ${wanted} is busy; using ${port}`);
}
if (values.vsix) {
  log('installing', path.relative(REPO_ROOT, path.resolve(values.vsix)), 'into', path.relative(REPO_ROOT, extensionsDir));
  fs.mkdirSync(extensionsDir, { recursive: true });
  installExtension({ vsix: values.vsix, extensionsDir, userDataDir: path.join(stateDir, 'user-data'), stateDir });
}
const server = await startCodeServer({
  folder, port, stateDir, extensionsDir, keepState: true, keepUserSettings: true, logDir: path.join(stateDir, 'logs'),
});
log(`code-server log: ${path.relative(REPO_ROOT, server.logFile)}`);
console.log(`\nBaton is running in VS Code at ${server.folderUrl}\n(Ctrl-C stops it)\n`);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping code-server`);
  await server.stop();
  process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGHUP', () => shutdown('SIGHUP'));
// If code-server dies on its own, say so and exit with an error.
const timer = setInterval(async () => {
  const e = server.exited();
  if (e && !stopping) {
    clearInterval(timer);
    log(`code-server exited unexpectedly (${JSON.stringify(e)}); see ${server.logFile}`);
    process.exit(1);
  }
}, 1000);
