import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WorkspaceOwner } from '../../src/host/workspaceOwner';
import { TimeSlicer } from '../../src/services/slices';
import { DurableDatabase } from '../../src/store/durableDatabase';
import { PlanRepository } from '../../src/store/planRepository';
import { STATE_MIGRATIONS } from '../../src/store/schema';
import { copyDir } from './helpers/storeTestUtils';
import { openTestOwner } from './helpers/owner';

let owner: Awaited<ReturnType<typeof openTestOwner>>;

before(async () => { owner = await openTestOwner({ mcp: true, maxBodyBytes: 8 * 1024 * 1024 }); });
after(async () => { await owner.cleanup(); });

/** A real MCP client from the SDK over Streamable HTTP, as an agent would connect. */
async function agent(name: string): Promise<Client & { call<T = any>(tool: string, args?: object): Promise<T> }> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(owner.mcpUrl!), { requestInit: { headers: { Authorization: `Bearer ${owner.readToken()!}` } } }));
  return Object.assign(client, {
    async call(tool: string, args: object = {}) {
      const r = await client.callTool({ name: tool, arguments: args as Record<string, unknown> });
      const text = (r.content as { text: string }[])[0].text;
      if (r.isError) throw new Error(text);
      return JSON.parse(text);
    },
  });
}

/** A Task Master tasks.json of `n` tasks in a chain (n − 1 edges), the last also waiting for the first: n edges. */
function taskMaster(n: number): string {
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: i + 1, title: `Task ${i + 1}`, description: `Step ${i + 1} of the chain`, status: 'pending', priority: 'medium',
    dependencies: i === 0 ? [] : i === n - 1 ? [i, 1] : [i],
  }));
  return JSON.stringify({ master: { tasks, metadata: { description: 'chain' } } });
}

test('while one agent imports 10k tasks with 10k dependencies, another agent\'s ping and reads are answered, and its write is kept', { timeout: 300_000 }, async () => {
  const importer = await agent('importer');
  const other = await agent('other');
  const content = taskMaster(10_000);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  let importDone = 0;
  const importing = importer.call('import_plan', { source: 'big/tasks.json', content }).then(r => { importDone = performance.now(); return r; });
  const answeredDuring: string[] = [];
  let wrote: { id: string } | null = null;
  let pings = 0;
  let maxPingMs = 0;
  while (!importDone) {
    const p0 = performance.now();
    await other.ping();
    const pingMs = performance.now() - p0;
    if (!importDone) { answeredDuring.push('ping'); pings++; maxPingMs = Math.max(maxPingMs, pingMs); }
    await other.call('list_sprints');
    if (!importDone) answeredDuring.push('list_sprints');
    if (!wrote && pings >= 3 && !importDone) {
      wrote = await other.call('create_task', { title: 'Written during the import' });
      if (!importDone) answeredDuring.push('create_task');
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  const report = await importing;
  delay.disable();
  const totalMs = importDone - t0;
  console.log(`[import 10k tasks + 10k deps over MCP] ${totalMs.toFixed(0)} ms; ${pings} pings answered meanwhile (slowest ${maxPingMs.toFixed(0)} ms); ` +
    `longest event-loop stall ${(delay.max / 1e6).toFixed(1)} ms (p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms)`);
  assert.equal(report.tasks.created, 10_000);
  assert.equal(report.dependencies.created, 10_000);
  assert.deepEqual(report.skipped, []);
  assert.ok(answeredDuring.includes('ping'), 'a ping was answered before the import finished');
  assert.ok(answeredDuring.includes('list_sprints'), 'a read tool was answered before the import finished');
  // A write made while the import ran is neither lost nor mixed into the import.
  if (wrote) {
    const task = owner.plan.getTask(wrote.id);
    assert.equal(task.title, 'Written during the import');
    assert.equal(task.sourceKey, null);
  }
  assert.equal(owner.plan.allTasks().filter(t => t.sourceKey?.startsWith('big/tasks.json#')).length, 10_000);
  // The task list the service keeps after the import is what the database holds.
  assert.deepEqual(owner.plan.allTasks(), new PlanRepository(owner.db).listTasks());
  assert.equal(owner.plan.listDependencies().length, new PlanRepository(owner.db).listDependencies().length);
  assert.equal(owner.plan.readyTasks().filter(t => t.sourceKey).length, 1, 'only the head of the chain is ready');
  // Re-importing the same document changes nothing.
  const again = await importer.call('import_plan', { source: 'big/tasks.json', content });
  assert.equal(again.tasks.unchanged, 10_000);
  assert.equal(again.dependencies.created, 0);
  await importer.close();
  await other.close();
});

test('a document the importer cannot read is refused with its reason, over MCP, and nothing is stored', async () => {
  const c = await agent('bad');
  const before = owner.plan.allTasks().length;
  await assert.rejects(c.call('import_plan', { source: 'broken/tasks.json', content: '{ "tasks": [ oops' }), /Cannot import broken\/tasks\.json: .*not valid JSON/);
  assert.equal(owner.plan.allTasks().length, before);
  await c.close();
});

test('rows staged by an import that never finished are never published, and the next import clears them', async () => {
  const repo = new PlanRepository(owner.db);
  const at = '2026-01-01T00:00:00.000Z';
  const ghost = {
    id: 'T-999999', title: 'Staged by an import that stopped', description: '', status: 'TODO' as const, priority: 'medium' as const,
    estimate: null, estimateUnit: 'hours' as const, assignee: null, sprintId: null, parentId: null, position: 0, progress: 0,
    context: '', summary: null, sourceKey: 'gone.md#ghost', agent: null, createdAt: at, updatedAt: at, completedAt: null,
  };
  owner.db.transaction(tx => {
    repo.stageTasks(tx, 'crashed-import', [[999_999, ghost]]);
    repo.insertBaselines(tx, 'crashed-import', [['gone.md#ghost', { kind: 'checkpoint', title: 'x', done: false }]]);
  });
  assert.ok(repo.hasStaging());
  const report = await owner.plan.importDocumentAsync('## Sprint 1: After\n\n- [ ] One more thing\n', 'after.md', { kind: 'user', name: 'ada' });
  assert.equal(report.tasks.created, 1);
  assert.equal(owner.plan.allTasks().some(t => t.id === 'T-999999'), false);
  assert.equal(repo.getTask('T-999999'), undefined);
  assert.equal(repo.hasStaging(), false);
  assert.deepEqual(repo.staleBaselineGenerations(), []);
});

/** The tasks a reader sees of `source`: through the service, and by a fresh repository reading the database. */
function seen(source: string): { service: number; ready: number } {
  return {
    service: owner.plan.allTasks().filter(t => t.sourceKey?.startsWith(`${source}#`)).length,
    ready: owner.plan.readyTasks().filter(t => t.sourceKey?.startsWith(`${source}#`)).length,
  };
}

test('an import published in batches is seen whole or not at all: readers between the batches see none of it', { timeout: 120_000 }, async () => {
  const n = 3_500; // four batches of at most 1,000 new tasks
  const batches: number[] = [];
  const proto = PlanRepository.prototype as unknown as { publishStagedTasks(...a: unknown[]): void };
  const real = proto.publishStagedTasks;
  proto.publishStagedTasks = function (this: PlanRepository, ...a: unknown[]) {
    real.apply(this, a);
    batches.push(seen('batched/tasks.json').service); // what a reader in the same turn would see
  };
  const observed = new Set<string>();
  const firstId = `T-${new PlanRepository(owner.db).nextTaskNumber()}`;
  let foundWhileHidden = false;
  let done = false;
  try {
    const importing = owner.plan.importDocumentAsync(taskMaster(n), 'batched/tasks.json', { kind: 'user', name: 'ada' }).finally(() => { done = true; });
    while (!done) {
      const s = seen('batched/tasks.json');
      observed.add(`${s.service}/${s.ready}`);
      if (s.service === 0) {
        try { owner.plan.getTask(firstId); foundWhileHidden = true; } catch { /* not found: hidden */ }
      }
      await new Promise(resolve => setImmediate(resolve));
    }
    const report = await importing;
    assert.equal(report.tasks.created, n);
  } finally {
    proto.publishStagedTasks = real;
  }
  assert.ok(batches.length >= 4, `published in ${batches.length} batches`);
  assert.deepEqual([...new Set(batches)], [0], 'the batches already published stay hidden from readers');
  assert.equal(foundWhileHidden, false, `${firstId} could not be looked up by id before the import finished`);
  for (const o of observed) assert.ok(o === '0/0' || o === `${n}/1`, `a reader saw ${o} (tasks/ready) of the import`);
  assert.deepEqual(seen('batched/tasks.json'), { service: n, ready: 1 });
  assert.equal(new PlanRepository(owner.db).listTasks().filter(t => t.sourceKey?.startsWith('batched/tasks.json#')).length, n);
});

test('a write between the batches makes the import take them back and plan again; both are kept', { timeout: 120_000 }, async () => {
  const n = 2_500;
  let batches = 0;
  let wrote: string | null = null;
  const proto = PlanRepository.prototype as unknown as { publishStagedTasks(...a: unknown[]): void };
  const real = proto.publishStagedTasks;
  proto.publishStagedTasks = function (this: PlanRepository, ...a: unknown[]) {
    real.apply(this, a);
    if (++batches === 1) {
      // Another caller writes before the next batch (the import yields after a batch once its slice is spent).
      setImmediate(() => {
        wrote = owner.plan.createTask({ title: 'Created between two batches' }, { kind: 'user', name: 'bob' }).id;
        // It is visible at once, and its number is none of those the import planned (hidden or not yet published).
        assert.ok(owner.plan.allTasks().some(t => t.id === wrote), 'the new task is listed at once');
      });
    }
  };
  const due = TimeSlicer.prototype.due;
  TimeSlicer.prototype.due = () => true; // give the event loop a turn at every chance
  try {
    const report = await owner.plan.importDocumentAsync(taskMaster(n), 'retried/tasks.json', { kind: 'user', name: 'ada' });
    assert.equal(report.tasks.created, n);
  } finally {
    proto.publishStagedTasks = real;
    TimeSlicer.prototype.due = due;
  }
  assert.deepEqual(owner.plan.allTasks(), new PlanRepository(owner.db).listTasks(), 'the task list the service keeps is what the database holds');
  assert.ok(wrote, 'the write ran between two batches');
  assert.ok(batches > Math.ceil(n / 1000), `the batches were published again after the write (${batches} batch transactions)`);
  assert.equal(owner.plan.getTask(wrote!).title, 'Created between two batches');
  assert.equal(seen('retried/tasks.json').service, n);
  const nums = new PlanRepository(owner.db).listTasks().map(t => t.id);
  assert.equal(new Set(nums).size, nums.length, 'no task id twice');
});

test('an import stopped between its batches and its final transaction leaves nothing at the next start', { timeout: 120_000 }, async () => {
  const before = owner.plan.allTasks().length;
  const beforeIds = new Set(owner.plan.allTasks().map(t => t.id));
  let image: string | null = null;
  let batches = 0;
  const proto = PlanRepository.prototype as unknown as { publishStagedTasks(...a: unknown[]): void };
  const real = proto.publishStagedTasks;
  proto.publishStagedTasks = function (this: PlanRepository, ...a: unknown[]) {
    real.apply(this, a);
    // What a kill -9 right after the second batch committed leaves on disk.
    if (++batches === 2) setImmediate(() => { image ??= copyDir(owner.db.dir); });
  };
  try {
    await owner.plan.importDocumentAsync(taskMaster(2_500), 'stopped/tasks.json', { kind: 'user', name: 'ada' });
  } finally {
    proto.publishStagedTasks = real;
  }
  assert.ok(image, 'the storage folder was copied between two batches');
  // The raw database of the copy holds the two batches (so the test looked at the right moment)…
  const rawCopy = copyDir(image!);
  const raw = await DurableDatabase.open(rawCopy, { migrations: STATE_MIGRATIONS });
  const rawCount = raw.get<{ c: number }>("SELECT COUNT(*) AS c FROM tasks WHERE source_key LIKE 'stopped/tasks.json#%'")!.c;
  raw.close();
  assert.equal(rawCount, 2_000, 'two batches of 1,000 tasks were in the database');
  // …and the owner that starts on it shows none of them, keeps everything else, and can import again.
  fs.rmSync(path.join(image!, 'owner.lock'), { force: true });
  const next = await WorkspaceOwner.open({ storageDir: image!, kind: 'cli', version: 'test', log: () => undefined, mcp: null });
  try {
    assert.equal(next.plan.allTasks().filter(t => t.sourceKey?.startsWith('stopped/tasks.json#')).length, 0);
    assert.deepEqual(next.plan.allTasks().filter(t => !beforeIds.has(t.id)).map(t => `${t.id} ${t.sourceKey} ${t.title}`), []);
    assert.equal(next.plan.allTasks().length, before);
    assert.equal(next.db.get<{ c: number }>("SELECT COUNT(*) AS c FROM tasks WHERE source_key LIKE 'stopped/tasks.json#%'")!.c, 0);
    const again = await next.plan.importDocumentAsync(taskMaster(2_500), 'stopped/tasks.json', { kind: 'user', name: 'ada' });
    assert.equal(again.tasks.created, 2_500);
  } finally {
    await next.close();
  }
});
