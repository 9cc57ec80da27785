import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Actor } from '../../src/core/model';
import { connectAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

// One planted secret of each kind Baton promises to redact. Built from pieces so this file itself
// holds no secret a scanner would flag as real.
const SECRETS: Record<string, string> = {
  'aws-access-key-id': 'AKIA' + 'QYLPMN5HHHFPZAM2',
  'aws-secret-access-key': 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYzQ8kL3mN9pX2',
  'github-token': 'ghp_' + 'R8s7fKq2Lm4Np6Tx9Zb1Cd3Ef5Gh7Jk9Lm2N',
  'gitlab-token': 'glpat-' + 'x7Kq2Lm4Np6Tx9Zb1Cd3',
  'slack-token': 'xoxb-' + '1234567890123-1234567890123-' + 'Ab3Cd5Ef7Gh9Jk1Lm3Np5Qr7',
  'private-key': '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7b2v' + 'Q8xZk3Lm9Np2Tx5Zb8Cd1Ef4Gh7Jk0Lm3Np6Qr9St2Uv5Wx8Yz1Ab4Cd7Ef0Gh3\n-----END RSA PRIVATE KEY-----',
  'password-in-url': 'Sup3r' + 'S3cretPassw0rd',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9' + '.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkJhdG9uIFRlc3QiLCJpYXQiOjE1MTYyMzkwMjJ9' + '.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
};

function plant(): string {
  return [
    `export AWS_ACCESS_KEY_ID=${SECRETS['aws-access-key-id']}`,
    `export AWS_SECRET_ACCESS_KEY=${SECRETS['aws-secret-access-key']}`,
    `token: ${SECRETS['github-token']} and ${SECRETS['gitlab-token']}`,
    `slack ${SECRETS['slack-token']}`,
    SECRETS['private-key'],
    `git clone https://deploy:${SECRETS['password-in-url']}@git.example.com/repo.git`,
    `Authorization: Bearer ${SECRETS.jwt}`,
  ].join('\n');
}

/** Every file under a folder (database snapshot, backup, journals, artifact contents), concatenated. */
function everythingOnDisk(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else parts.push(fs.readFileSync(p).toString('latin1'));
    }
  };
  walk(dir);
  return parts.join('\n');
}

test('secrets planted in messages, context, artifacts and notes are absent from the files on disk', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-redact-'));
  const owner = await openTestOwner({ mcp: true, dir });
  const ada: Actor = { kind: 'user', name: 'ada' };
  try {
    const task = owner.plan.createTask({ title: 'Deploy' }, ada);
    const agent = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'claude-code');
    const init = await agent.call('agent_init', { task_id: task.id });
    await agent.call('add_note', { task_id: task.id, text: `Found credentials in .env:\n${plant()}` });
    await agent.call('update_context', { task_id: task.id, text: plant() });
    await agent.call('save_context', { context: { notes: plant(), decisions: { creds: SECRETS['github-token'] }, stepsDone: [SECRETS.jwt] } });
    await agent.call('send_message', { to: 'human', subject: `key ${SECRETS['aws-access-key-id']}`, body: plant() });
    await agent.call('store_artifact', { name: 'deploy.env', content: plant(), task_id: task.id });
    await agent.call('ask_human', { question: `Is ${SECRETS['github-token']} still valid?` });
    await agent.call('report_progress', { note: plant() });
    const stored = await agent.call('load_context', {});
    assert.match(JSON.stringify(stored.context), /\[REDACTED:github-token\]/);
    assert.match(owner.plan.getTaskDetails(task.id).notes[0].text, /\[REDACTED:aws-access-key-id\]/);
    assert.match(owner.plan.getTaskDetails(task.id).notes[0].text, /https:\/\/deploy:\[REDACTED:password-in-url\]@git\.example\.com/);
    assert.ok(init.session.id);
    await agent.close();
  } finally {
    await owner.close();
  }
  // After close (snapshot written) and before it (journal), nothing of any secret is on disk.
  const disk = everythingOnDisk(dir);
  assert.ok(disk.length > 1000);
  for (const [kind, secret] of Object.entries(SECRETS)) {
    const needle = kind === 'private-key' ? 'Q8xZk3Lm9Np2Tx5Zb8Cd1' : secret;
    assert.ok(!disk.includes(needle), `${kind} secret found on disk`);
  }
  assert.ok(disk.includes('[REDACTED:'));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('secrets in titles, names, agent names (clientInfo and agent_init), profiles, assignees, context keys, import sources and imported plans never reach the disk (issue "Trust" item 2)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-redact-channels-'));
  const owner = await openTestOwner({ mcp: true, dir, tier: 'full' });
  const gh = SECRETS['github-token'];
  const aws = SECRETS['aws-access-key-id'];
  const url = `postgres://app:${SECRETS['password-in-url']}@db.internal:5432/prod`;
  try {
    const ada: Actor = { kind: 'user', name: 'ada' };
    const sprint = owner.plan.createSprint({ name: `Sprint with ${aws}` }, ada);
    const task = owner.plan.createTask({ title: `Rotate ${gh}`, sprintId: sprint.id, checkpoints: [`check ${url}`], assignee: `bob ${gh}` }, ada);
    owner.plan.importDocument(`# Plan ${aws}\n\n## Sprint 1: ${gh}\n\n### A1: Connect to ${url} (2 hours)\n- [ ] key ${aws}\n`, `plans/${gh}.md`, ada);
    // An agent whose client name and agent_init name carry secrets.
    const agent = await connectAgent(owner.mcpUrl!, owner.readToken()!, `claude ${gh}`);
    await agent.call('agent_init', { agent: `renamed ${aws}`, profile: `codex ${gh}`, role: `reviewer ${aws}` });
    await agent.call('create_task', { title: `Title ${aws}`, description: 'desc' });
    await agent.call('update_task', { task_id: task.id, title: `Retitled ${url}`, assignee: `carol ${aws}` });
    await agent.call('add_checkpoint', { task_id: task.id, title: `cp ${gh}` }).catch(() => undefined);
    await agent.call('save_context', { context: { [`note ${gh}`]: 'a key with a secret', API_KEY: '3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e' } });
    await agent.close();
  } finally {
    await owner.close();
  }
  const disk = everythingOnDisk(dir);
  for (const [kind, secret] of [['github-token', gh], ['aws-access-key-id', aws], ['password-in-url', SECRETS['password-in-url']], ['api-key-by-name', '3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e']]) {
    assert.ok(!disk.includes(secret), `${kind} secret found on disk`);
  }
  assert.ok(disk.includes('[REDACTED:'));
  fs.rmSync(dir, { recursive: true, force: true });
});
