import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { BatonError } from '../../src/core/errors';
import type { Actor } from '../../src/core/model';
import { registerArtifactTools } from '../../src/mcp/artifactTools';
import { ArtifactService, createArtifactService, guessMediaType, type ArtifactChange, type PlanLookups } from '../../src/services/artifactService';
import { WorkspaceOwner } from '../../src/host/workspaceOwner';
import { ArtifactRepository } from '../../src/store/artifactRepository';
import { BlobStore } from '../../src/store/blobStore';
import { openTestOwner } from './helpers/owner';

const ada: Actor = { kind: 'user', name: 'ada' };
const AWS_KEY = 'AKIAQ3EGUFRQ5XKZ7M2B';
const GITHUB_TOKEN = 'ghp_' + 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'; // ghp_ + 36 characters
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** PNG signature + IHDR + an IEND chunk, with NUL bytes and a text chunk that looks like a key. */
const png = (text: string) => Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]), Buffer.from([0x1f, 0x15, 0xc4, 0x89]),
  Buffer.from([0, 0, 0, 24]), Buffer.from('tEXt'), Buffer.from(text), Buffer.from([0xde, 0xad, 0xbe, 0xef]),
  Buffer.from([0, 0, 0, 0]), Buffer.from('IEND'), Buffer.from([0xae, 0x42, 0x60, 0x82]),
]);
const PNG = png('Comment\0made with Baton!');
/** A PNG whose text chunk holds an access key in plain ASCII. */
const PNG_WITH_KEY = png(`key\0${AWS_KEY}`);

async function setup(t: TestContext, options: { maxBytes?: number } = {}) {
  const owner = await openTestOwner();
  t.after(() => owner.cleanup());
  const artifacts = createArtifactService(owner.db, owner.storageDir, owner.plan, options);
  t.after(() => artifacts.dispose());
  const blobRoot = path.join(owner.storageDir, 'artifacts');
  /** Every file under `<storageDir>/artifacts`, relative. */
  const files = (): string[] => (fs.existsSync(blobRoot) ? (fs.readdirSync(blobRoot, { recursive: true }) as string[]) : [])
    .filter(f => fs.statSync(path.join(blobRoot, f)).isFile()).sort();
  return { owner, artifacts, blobRoot, files };
}

function assertBaton(code: BatonError['code'], message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BatonError, `expected a BatonError, got ${error}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

test('identical content under two names is stored once: one file, two rows, same sha', async t => {
  const { artifacts, blobRoot, files } = await setup(t);
  const a = artifacts.store({ name: 'report.txt', content: 'All 42 tests pass.\n' }, ada);
  const b = artifacts.store({ name: 'report-copy.md', content: Buffer.from('All 42 tests pass.\n') }, ada);
  assert.equal(a.sha256, sha(Buffer.from('All 42 tests pass.\n')));
  assert.equal(b.sha256, a.sha256);
  assert.notEqual(b.id, a.id);
  assert.deepEqual([a.id, b.id], ['AR-1', 'AR-2']);
  assert.equal(a.contentExisted, false);
  assert.equal(b.contentExisted, true);
  assert.equal(a.mediaType, 'text/plain');
  assert.equal(b.mediaType, 'text/markdown');
  assert.equal(a.uri, `baton://artifact/${a.sha256}`);
  assert.equal(a.size, 19);
  assert.equal(a.createdBy, 'ada');
  assert.deepEqual(files(), [path.join(a.sha256.slice(0, 2), a.sha256)]);
  assert.equal(fs.readFileSync(path.join(blobRoot, a.sha256.slice(0, 2), a.sha256), 'utf8'), 'All 42 tests pass.\n');
  assert.equal(artifacts.list().total, 2);
  // read by id, sha and uri
  assert.equal(artifacts.read('AR-2').info.name, 'report-copy.md');
  assert.equal(artifacts.read(a.sha256).bytes.toString(), 'All 42 tests pass.\n');
  assert.equal(artifacts.get(a.uri).id, 'AR-2', 'a hash finds the newest artifact with that content');
  assert.equal(artifacts.get('ar2').id, 'AR-2');
});

test('links to the project, a sprint or a task; filters and pagination', async t => {
  const { owner, artifacts } = await setup(t);
  const sprint = owner.plan.createSprint({ name: 'Sprint 1' }, ada);
  const inSprint = owner.plan.createTask({ title: 'In sprint', sprintId: sprint.id }, ada);
  const backlog = owner.plan.createTask({ title: 'Backlog' }, ada);

  const project = artifacts.store({ name: 'README.md', content: '# Project' }, ada);
  const sprintNotes = artifacts.store({ name: 'retro.md', content: 'went well', sprintId: sprint.id }, ada);
  const taskLog = artifacts.store({ name: 'build.log', content: 'ok', taskId: inSprint.id }, ada);
  const backlogDiff = artifacts.store({ name: 'fix.patch', content: '--- a\n+++ b\n', taskId: backlog.id.replace('T-', ''), scope: 'task' }, ada);

  assert.deepEqual([project.scope, project.taskId, project.sprintId], ['project', null, null]);
  assert.deepEqual([sprintNotes.scope, sprintNotes.taskId, sprintNotes.sprintId], ['sprint', null, sprint.id]);
  assert.deepEqual([taskLog.scope, taskLog.taskId, taskLog.sprintId], ['task', inSprint.id, sprint.id], 'sprint taken from the task');
  assert.deepEqual([backlogDiff.scope, backlogDiff.taskId, backlogDiff.sprintId], ['task', backlog.id, null]);
  assert.equal(backlogDiff.mediaType, 'text/x-diff');
  assert.equal(taskLog.mediaType, 'text/plain');

  const ids = (p: { items: { id: string }[] }) => p.items.map(i => i.id);
  assert.deepEqual(ids(artifacts.list({ taskId: inSprint.id })), [taskLog.id]);
  assert.deepEqual(ids(artifacts.list({ sprintId: sprint.id })), [sprintNotes.id, taskLog.id]);
  assert.deepEqual(ids(artifacts.list({ sprintId: sprint.id, scope: 'sprint' })), [sprintNotes.id]);
  assert.deepEqual(ids(artifacts.list({ scope: 'project' })), [project.id]);
  assert.deepEqual(ids(artifacts.list({ scope: 'task' })), [taskLog.id, backlogDiff.id]);
  assert.deepEqual(ids(artifacts.list({ taskId: 'T-999' })), []);

  const p1 = artifacts.list({}, { limit: 3 });
  assert.deepEqual([ids(p1), p1.total, p1.nextOffset], [[project.id, sprintNotes.id, taskLog.id], 4, 3]);
  const p2 = artifacts.list({}, { offset: 3, limit: 3 });
  assert.deepEqual([ids(p2), p2.nextOffset], [[backlogDiff.id], null]);
  assert.throws(() => artifacts.list({}, { limit: 0 }), assertBaton('INVALID_ARGUMENT', /limit/));
  assert.throws(() => artifacts.list({ scope: 'team' as never }), assertBaton('INVALID_ARGUMENT', /scope must be one of/));

  // a task-scoped artifact may name the task's own sprint, not another
  assert.equal(artifacts.store({ name: 'x.txt', content: 'x', taskId: inSprint.id, sprintId: sprint.id }, ada).sprintId, sprint.id);
  assert.throws(() => artifacts.store({ name: 'y.txt', content: 'y', taskId: backlog.id, sprintId: sprint.id }, ada),
    assertBaton('INVALID_ARGUMENT', /backlog, not in S-1/));
});

test('bad input is refused with a clear error and stores nothing (no row, no file)', async t => {
  const { owner, artifacts, files } = await setup(t, { maxBytes: 1024 });
  const sprint = owner.plan.createSprint({ name: 'S' }, ada);
  const task = owner.plan.createTask({ title: 'T' }, ada);
  const cases: [string, () => unknown, BatonError['code'], RegExp][] = [
    ['unknown task', () => artifacts.store({ name: 'a.txt', content: 'a', taskId: 'T-999' }, ada), 'NOT_FOUND', /No task with id "T-999"/],
    ['unknown sprint', () => artifacts.store({ name: 'a.txt', content: 'a', sprintId: 'S-42' }, ada), 'NOT_FOUND', /No sprint with id "S-42"/],
    ['name with /', () => artifacts.store({ name: 'logs/a.txt', content: 'a' }, ada), 'INVALID_ARGUMENT', /without "\/"/],
    ['name with \\', () => artifacts.store({ name: '..\\a.txt', content: 'a' }, ada), 'INVALID_ARGUMENT', /without "\/" or "\\"/],
    ['name ..', () => artifacts.store({ name: '..', content: 'a' }, ada), 'INVALID_ARGUMENT', /not a file name/],
    ['empty name', () => artifacts.store({ name: '  ', content: 'a' }, ada), 'INVALID_ARGUMENT', /non-empty/],
    ['long name', () => artifacts.store({ name: 'x'.repeat(256), content: 'a' }, ada), 'INVALID_ARGUMENT', /256 characters; the limit is 255/],
    ['too big', () => artifacts.store({ name: 'big.bin', content: new Uint8Array(1025) }, ada), 'INVALID_ARGUMENT', /1025 bytes \(1\.0 KiB\); the limit is 1024 bytes/],
    ['bad media type', () => artifacts.store({ name: 'a', content: 'a', mediaType: 'not a type' }, ada), 'INVALID_ARGUMENT', /not a media type/],
    ['project with a task', () => artifacts.store({ name: 'a', content: 'a', scope: 'project', taskId: task.id }, ada), 'INVALID_ARGUMENT', /project-scoped/],
    ['sprint scope without sprint', () => artifacts.store({ name: 'a', content: 'a', scope: 'sprint' }, ada), 'INVALID_ARGUMENT', /needs a sprint id/],
    ['task scope without task', () => artifacts.store({ name: 'a', content: 'a', scope: 'task', sprintId: sprint.id }, ada), 'INVALID_ARGUMENT', /needs a task id/],
    ['sprint scope with a task', () => artifacts.store({ name: 'a', content: 'a', scope: 'sprint', sprintId: sprint.id, taskId: task.id }, ada), 'INVALID_ARGUMENT', /cannot name a task/],
    ['bad scope', () => artifacts.store({ name: 'a', content: 'a', scope: 'team' as never }, ada), 'INVALID_ARGUMENT', /scope must be one of/],
    ['no content', () => artifacts.store({ name: 'a', content: undefined as never }, ada), 'INVALID_ARGUMENT', /text or bytes/],
  ];
  for (const [what, call, code, message] of cases) {
    assert.throws(call, assertBaton(code, message), what);
    assert.equal(artifacts.list().total, 0, `${what}: no row`);
    assert.deepEqual(files(), [], `${what}: no file`);
  }
  assert.throws(() => artifacts.get('AR-1'), assertBaton('NOT_FOUND', /No artifact with id "AR-1"/));
  assert.throws(() => artifacts.get('../../state.db'), assertBaton('INVALID_ARGUMENT', /not an artifact id/));
  assert.throws(() => artifacts.read('0'.repeat(64)), assertBaton('NOT_FOUND', /No artifact with sha256 0{64}/));
  // exactly the limit is fine
  assert.equal(artifacts.store({ name: 'max.bin', content: new Uint8Array(1024) }, ada).size, 1024);
});

test('a failed row insert removes the file it had just written', async t => {
  const { owner, files } = await setup(t);
  class FailingRepository extends ArtifactRepository {
    override transaction<T>(): T { throw new Error('disk full'); }
  }
  const broken = new ArtifactService(new FailingRepository(owner.db), new BlobStore(owner.storageDir), owner.plan);
  assert.throws(() => broken.store({ name: 'a.txt', content: 'lost' }, ada), /disk full/);
  assert.deepEqual(files(), []);
});

test('delete removes the row, and the file with the last reference; events fire', async t => {
  const { owner, artifacts, files } = await setup(t);
  const events: ArtifactChange[] = [];
  artifacts.onDidChangeArtifacts(e => events.push(e));
  const a = artifacts.store({ name: 'one.txt', content: 'shared' }, ada);
  const b = artifacts.store({ name: 'two.txt', content: 'shared' }, ada);
  const c = artifacts.store({ name: 'other.txt', content: 'other' }, ada);
  assert.equal(files().length, 2);

  const first = artifacts.delete(a.id, ada);
  assert.deepEqual([first.artifact.id, first.contentRemoved], [a.id, false]);
  assert.equal(files().length, 2, 'still used by two.txt');
  assert.equal(artifacts.read(b.id).bytes.toString(), 'shared');

  const second = artifacts.delete('ar-2', ada);
  assert.deepEqual([second.artifact.id, second.contentRemoved], [b.id, true]);
  assert.deepEqual(files(), [path.join(c.sha256.slice(0, 2), c.sha256)]);
  assert.throws(() => artifacts.get(b.sha256), assertBaton('NOT_FOUND', /No artifact with sha256/));
  assert.throws(() => artifacts.delete(b.id, ada), assertBaton('NOT_FOUND', /No artifact with id "AR-2"/));
  assert.deepEqual(artifacts.list().items.map(i => i.id), [c.id]);
  assert.deepEqual(events.map(e => `${e.kind} ${e.artifact.id} by ${e.actor.name}`),
    ['stored AR-1 by ada', 'stored AR-2 by ada', 'stored AR-3 by ada', 'deleted AR-1 by ada', 'deleted AR-2 by ada']);
  // the plan's activity log records stores and deletes (when the PlanService offers recordActivity)
  if (typeof (owner.plan as Partial<PlanLookups>).recordActivity === 'function') {
    const actions = owner.plan.listActivity().map(a => `${a.action}: ${a.detail}`);
    assert.ok(actions.includes('artifact.stored: stored artifact AR-1 "one.txt" (text/plain, 6 bytes)'), actions.join('\n'));
    assert.ok(actions.includes('artifact.deleted: deleted artifact AR-2 "two.txt"'), actions.join('\n'));
  }
  // numbering continues after the highest id still present
  assert.equal(artifacts.store({ name: 'again.txt', content: 'x' }, ada).id, 'AR-4');
});

test('secrets in text artifacts are redacted before hashing and storing', async t => {
  const { artifacts, blobRoot } = await setup(t);
  const log = `deploying with AWS_ACCESS_KEY_ID=${AWS_KEY}\ngit clone https://${GITHUB_TOKEN}@github.com/acme/app\nready ✓\n`;
  const stored = artifacts.store({ name: 'deploy.log', content: log, taskId: undefined }, ada);
  const onDisk = fs.readFileSync(path.join(blobRoot, stored.sha256.slice(0, 2), stored.sha256));
  const text = onDisk.toString('utf8');
  assert.match(text, /\[REDACTED:/);
  assert.ok(!text.includes(AWS_KEY), 'AWS key on disk');
  assert.ok(!text.includes(GITHUB_TOKEN), 'GitHub token on disk');
  assert.ok(text.includes('ready ✓'), 'the rest is kept');
  assert.equal(stored.sha256, sha(onDisk), 'hash of the redacted bytes');
  assert.equal(stored.size, onDisk.length);
  assert.ok(stored.redactions.length >= 1 && stored.redactions.every(f => f.count > 0), JSON.stringify(stored.redactions));
  assert.equal(artifacts.read(stored.id).bytes.toString(), text);
  // a string is text whatever its declared type, even with NUL bytes
  const nul = artifacts.store({ name: 'dump.bin', content: `a\0b ${GITHUB_TOKEN}`, mediaType: 'application/octet-stream' }, ada);
  assert.equal(artifacts.read(nul.id).bytes.toString(), 'a\0b [REDACTED:' + artifacts.read(nul.id).bytes.toString().split('[REDACTED:')[1]);
  assert.ok(!artifacts.read(nul.id).bytes.toString().includes(GITHUB_TOKEN));

  // text detected from the content (unknown extension, declared binary) is redacted too
  const raw = artifacts.store({ name: 'env-dump', content: Buffer.from(`KEY=${AWS_KEY}\n`), mediaType: 'application/octet-stream' }, ada);
  assert.ok(!artifacts.read(raw.id).bytes.toString().includes(AWS_KEY));
  // Latin-1 text of a text type: secrets redacted, other bytes kept
  const latin1 = Buffer.concat([Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), Buffer.from(`token ${GITHUB_TOKEN}\n`)]);
  const l = artifacts.read(artifacts.store({ name: 'legacy.txt', content: latin1 }, ada).id).bytes;
  assert.deepEqual([...l.subarray(0, 5)], [0x63, 0x61, 0x66, 0xe9, 0x0a]);
  assert.ok(!l.toString('latin1').includes(GITHUB_TOKEN));
  // clean text is stored byte for byte (BOM included)
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('hello\r\n')]);
  const clean = artifacts.store({ name: 'bom.txt', content: bom }, ada);
  assert.deepEqual(clean.redactions, []);
  assert.ok(artifacts.read(clean.id).bytes.equals(bom));
});

test('binary artifacts are stored byte-identical', async t => {
  const { artifacts, blobRoot } = await setup(t);
  const png = artifacts.store({ name: 'screenshot.png', content: PNG }, ada);
  assert.equal(png.mediaType, 'image/png');
  assert.equal(png.sha256, sha(PNG));
  assert.deepEqual(png.redactions, []);
  assert.equal(png.scanned, 'binary');
  // a plain-ASCII secret inside binary content cannot be redacted without corrupting it: refused
  assert.throws(() => artifacts.store({ name: 'leaky.png', content: PNG_WITH_KEY }, ada), /Binary content holds what looks like a secret \(aws-access-key-id\)/);
  assert.ok(fs.readFileSync(path.join(blobRoot, png.sha256.slice(0, 2), png.sha256)).equals(PNG));
  assert.ok(artifacts.read(png.id).bytes.equals(PNG));
  assert.equal(guessMediaType('photo.JPG'), 'image/jpeg');
  assert.equal(guessMediaType('Makefile', PNG), 'application/octet-stream');
  assert.equal(guessMediaType('Makefile', Buffer.from('all:\n')), 'text/plain');
});

test('the blob store refuses anything but a sha256 as a name; garbage collection removes leftovers', async t => {
  const { owner, artifacts, files } = await setup(t);
  const blobs = new BlobStore(owner.storageDir);
  for (const bad of ['../state.db', '../../etc/passwd', 'ab', 'g'.repeat(64), `${'a'.repeat(64)}/x`]) {
    assert.throws(() => blobs.path(bad), assertBaton('INVALID_ARGUMENT', /not a SHA-256/), bad);
    assert.throws(() => blobs.get(bad), assertBaton('INVALID_ARGUMENT', /not a SHA-256/), bad);
    assert.throws(() => blobs.delete(bad), assertBaton('INVALID_ARGUMENT', /not a SHA-256/), bad);
  }
  assert.throws(() => blobs.get('a'.repeat(64)), assertBaton('NOT_FOUND', new RegExp(`sha256 ${'a'.repeat(64)}`)));
  const kept = artifacts.store({ name: 'kept.txt', content: 'kept' }, ada);
  const orphan = blobs.put(Buffer.from('orphan'));
  assert.deepEqual([orphan.existed, blobs.put(Buffer.from('orphan')).existed], [false, true]);
  assert.ok(blobs.has(orphan.sha256.toUpperCase()));
  fs.writeFileSync(blobs.path(orphan.sha256) + '.123.abcd.tmp', 'half');
  assert.equal(files().length, 3);
  assert.deepEqual(artifacts.collectGarbage(), { removedContents: 1, removedTempFiles: 1 });
  assert.deepEqual(files(), [path.join(kept.sha256.slice(0, 2), kept.sha256)]);
  // a damaged file is reported, not served
  fs.writeFileSync(blobs.path(kept.sha256), 'tampered');
  assert.throws(() => artifacts.read(kept.id), assertBaton('UNAVAILABLE', /damaged/));
  // and put() repairs it (different size → rewritten)
  assert.equal(blobs.put(Buffer.from('kept')).existed, false);
  assert.equal(artifacts.read(kept.id).bytes.toString(), 'kept');
});

test('artifacts survive reopening the workspace (journal replay of the inserts)', async t => {
  const owner = await openTestOwner();
  const dir = owner.storageDir;
  let again: WorkspaceOwner | undefined;
  t.after(async () => {
    await again?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const task = owner.plan.createTask({ title: 'T' }, ada);
  const a = createArtifactService(owner.db, dir, owner.plan).store({ name: 'a.md', content: '# A', taskId: task.id }, ada);
  await owner.close();
  again = await WorkspaceOwner.open({ storageDir: dir, kind: 'cli', version: 'test', log: () => undefined });
  const artifacts = createArtifactService(again.db, dir, again.plan);
  const { redactions: _r, contentExisted: _c, scanned: _s, ...info } = a;
  assert.deepEqual(artifacts.get(a.id), info);
  assert.equal(artifacts.read(a.id).bytes.toString(), '# A');
  assert.equal(artifacts.store({ name: 'b.md', content: 'b' }, ada).id, 'AR-2');
});

test('over MCP: store_artifact, list_artifacts, resources/list and resources/read (text and blob), delete_artifact', async t => {
  const { owner, artifacts } = await setup(t);
  const task = owner.plan.createTask({ title: 'Screenshot the login page' }, ada);
  const server = new McpServer({ name: 'baton-test', version: '1.0.0' });
  registerArtifactTools(server, artifacts, () => ({ kind: 'agent', name: 'claude#abc123' }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'claude', version: '1.0.0' });
  await client.connect(clientSide);
  t.after(async () => { await client.close(); await server.close(); });
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    const text = (r.content as { text: string }[])[0].text;
    return { isError: r.isError === true, text, json: r.isError ? undefined : JSON.parse(text) };
  };

  const tools = (await client.listTools()).tools.map(x => x.name).sort();
  assert.deepEqual(tools, ['delete_artifact', 'list_artifacts', 'store_artifact']);

  const md = await call('store_artifact', { name: 'notes.md', content: `# Findings\nkey ${AWS_KEY}\n`, task_id: task.id });
  assert.equal(md.isError, false, md.text);
  assert.equal(md.json.media_type, 'text/markdown');
  assert.equal(md.json.task_id, task.id);
  assert.equal(md.json.created_by, 'claude#abc123');
  assert.ok(md.json.redacted.length >= 1);
  const png = await call('store_artifact', { name: 'login.png', content_base64: PNG.toString('base64'), task_id: task.id.replace('T-', '') });
  assert.equal(png.isError, false, png.text);
  assert.equal(png.json.sha256, sha(PNG));
  assert.equal(png.json.uri, `baton://artifact/${sha(PNG)}`);
  assert.equal(png.json.content_already_stored, false);
  assert.equal(png.json.scanned_as, 'binary');
  assert.match(png.json.not_scanned, /compressed or encoded ones were not/);

  // both or neither content field, bad base64, unknown task: tool errors, nothing stored
  for (const [args, message] of [
    [{ name: 'x.txt', content: 'a', content_base64: 'YQ==' }, /exactly one of content/],
    [{ name: 'x.txt' }, /exactly one of content/],
    [{ name: 'x.bin', content_base64: 'not base64!' }, /not valid base64/],
    [{ name: 'x.txt', content: 'a', task_id: 'T-999' }, /No task with id "T-999"/],
    [{ name: 'dir/x.txt', content: 'a' }, /without "\/"/],
  ] as const) {
    const r = await call('store_artifact', args);
    assert.equal(r.isError, true, JSON.stringify(args));
    assert.match(r.text, message);
  }
  const strict = await client.callTool({ name: 'store_artifact', arguments: { name: 'x.txt', content: 'a', colour: 'red' } });
  assert.equal(strict.isError, true, 'unknown keys are refused');
  assert.equal(artifacts.list().total, 2);

  const listed = await call('list_artifacts', { task_id: task.id, limit: 1 });
  assert.deepEqual([listed.json.artifacts[0].name, listed.json.total, listed.json.next_offset], ['notes.md', 2, 1]);

  const { resources } = await client.listResources();
  assert.deepEqual(resources.map(r => [r.uri, r.name, r.mimeType]), [
    [png.json.uri, 'login.png', 'image/png'],
    [md.json.uri, 'notes.md', 'text/markdown'],
  ]);
  assert.match(resources[0].description!, /AR-2: task T-1, \d+ bytes, by claude#abc123/);
  const templates = (await client.listResourceTemplates()).resourceTemplates;
  assert.deepEqual(templates.map(x => x.uriTemplate), ['baton://artifact/{sha256}']);

  const text = await client.readResource({ uri: md.json.uri });
  const textContent = text.contents[0] as { text: string; mimeType: string };
  assert.equal(textContent.mimeType, 'text/markdown');
  assert.match(textContent.text, /^# Findings\nkey \[REDACTED:/);
  assert.ok(!textContent.text.includes(AWS_KEY));

  const blob = await client.readResource({ uri: png.json.uri });
  const blobContent = blob.contents[0] as { blob: string; mimeType: string; text?: string };
  assert.equal(blobContent.mimeType, 'image/png');
  assert.equal(blobContent.text, undefined);
  assert.ok(Buffer.from(blobContent.blob, 'base64').equals(PNG));

  await assert.rejects(client.readResource({ uri: `baton://artifact/${'0'.repeat(64)}` }), /No artifact with sha256/);
  await assert.rejects(client.readResource({ uri: 'baton://artifact/..%2Fstate.db' }), /not an artifact id|not a SHA-256/);

  const deleted = await call('delete_artifact', { artifact_id: png.json.id });
  assert.deepEqual(deleted.json, { deleted: png.json.id, name: 'login.png', content_removed: true });
  assert.equal((await call('delete_artifact', { artifact_id: png.json.id })).isError, true);
  assert.deepEqual((await client.listResources()).resources.map(r => r.name), ['notes.md']);
});

test('UTF-16 artifacts (with a BOM, LE and BE) are scanned as text: the secret is redacted, the encoding and BOM kept (issue "Trust" item 2)', async t => {
  const { artifacts, blobRoot, files } = await setup(t);
  const ada: Actor = { kind: 'user', name: 'ada' };
  const text = `token=${GITHUB_TOKEN}\nkey ${AWS_KEY}\n`;
  const le = Buffer.from('\ufeff' + text, 'utf16le');
  const be = Buffer.from(le).swap16();
  for (const [name, bytes, encoding] of [['notes-le.txt', le, 'utf-16le'], ['notes-be.txt', be, 'utf-16be']] as const) {
    const stored = artifacts.store({ name, content: bytes }, ada);
    assert.equal(stored.scanned, encoding);
    assert.ok(stored.redactions.length >= 1, `${name}: findings`);
  }
  for (const f of files()) {
    const raw = fs.readFileSync(path.join(blobRoot, f));
    const decoded = raw[0] === 0xff ? raw.toString('utf16le') : Buffer.from(raw).swap16().toString('utf16le');
    assert.equal(decoded.charCodeAt(0), 0xfeff, 'BOM kept');
    assert.ok(!decoded.includes(GITHUB_TOKEN) && !decoded.includes(AWS_KEY), `${f} holds a secret`);
    assert.match(decoded, /\[REDACTED:/);
  }
});
