/*
 * `npm start` installs only what running Baton needs and leaves VS Code's AI features as a user has them
 * (issue "Trust" item 21): Chromium is for the tests alone, and `chat.disableAIFeatures` would hide
 * VS Code's MCP commands, so a new user would never see Baton in VS Code's MCP server list.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../..');

/** Runs setup-host.sh --dry-run with a PATH on which Chromium is absent (and everything else it calls is present). */
function dryRun(args: string[]): string {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-path-'));
  try {
    for (const tool of ['dirname', 'id', 'dpkg', 'git', 'tmux']) {
      const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
      if (r.status === 0) fs.symlinkSync(r.stdout.trim(), path.join(bin, tool));
    }
    const r = spawnSync('/bin/bash', [path.join(ROOT, 'scripts/setup-host.sh'), ...args], { env: { PATH: bin, HOME: os.homedir() }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
}

test('npm start runs setup-host without Chromium; the tests install it', () => {
  const start = fs.readFileSync(path.join(ROOT, 'scripts/start.sh'), 'utf8');
  assert.match(start, /setup-host\.sh --without-chromium/);
  assert.doesNotMatch(dryRun(['--without-chromium', '--dry-run']), /chromium/);
  assert.match(dryRun(['--dry-run']), /would install Debian packages: .*chromium/);
});

test('setup-host refuses an unknown option, naming it', () => {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/setup-host.sh'), '--chromium-please'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option --chromium-please/);
});

test("the workbench settings leave VS Code's AI features (and its MCP commands) on", async () => {
  const { QUIET_SETTINGS } = await import(pathToFileURL(path.join(ROOT, 'scripts/lib/codeServer.mjs')).href);
  assert.equal('chat.disableAIFeatures' in QUIET_SETTINGS, false);
});
