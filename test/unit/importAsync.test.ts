import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { PlanRepository } from '../../src/store/planRepository';
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
