// Temporary workspaces and per-user data dirs for Baton's tests.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './codeServer.mjs';

export const SAMPLE_PLANS = {
  orchestron: path.join(REPO_ROOT, 'resources/sample-plans/orchestron-implementation-plan.md'),
  readiness: path.join(REPO_ROOT, 'resources/sample-plans/orchestration-v1-readiness-plan.md'),
};

/** A fresh temp dir (under $TMPDIR) named prefix-XXXXXX. */
export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Runs git in cwd with a fixed identity and no user/system config; throws on failure. */
export function git(cwd, ...args) {
  const env = {
    ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Baton Tests', GIT_AUTHOR_EMAIL: 'tests@baton.invalid',
    GIT_COMMITTER_NAME: 'Baton Tests', GIT_COMMITTER_EMAIL: 'tests@baton.invalid',
  };
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

/**
 * Creates a git repository (branch main, one commit) holding `files` ({ relativePath: contents }).
 * Default: PLAN.md = the orchestron sample plan and a short README.md.
 */
export function makeGitWorkspace({ prefix = 'baton-ws', dir, files } = {}) {
  const ws = dir ? path.resolve(dir) : tempDir(prefix);
  fs.mkdirSync(ws, { recursive: true });
  const content = files || {
    'PLAN.md': fs.readFileSync(SAMPLE_PLANS.orchestron, 'utf8'),
    'README.md': '# Baton test workspace\n\nA throwaway git repository created by Baton\'s tests; PLAN.md is the orchestron sample plan.\n',
  };
  for (const [rel, text] of Object.entries(content)) {
    fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    fs.writeFileSync(path.join(ws, rel), text);
  }
  git(ws, 'init', '-q', '-b', 'main');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-q', '-m', 'Initial commit');
  return ws;
}

/** Runs the built CLI (dist/cli.js) with BATON_HOME; returns { status, stdout, stderr }. */
export function runCli(args, { batonHome, cwd = REPO_ROOT, timeout = 60000 } = {}) {
  const cli = path.join(REPO_ROOT, 'dist/cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build');
  if (!batonHome) throw new Error('runCli: batonHome is required (tests never use the real ~/.baton)');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env: { ...process.env, BATON_HOME: batonHome }, encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || (r.error ? String(r.error) : '') };
}
