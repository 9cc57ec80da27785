import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { formatImportReport } from '../../src/cli/format';
import { allTasks } from '../../src/core/import/importedPlan';
import { importMarkdownPlan } from '../../src/core/import/markdownPlan';
import type { Actor } from '../../src/core/model';
import { DurableDatabase } from '../../src/store/durableDatabase';
import { STATE_MIGRATIONS } from '../../src/store/schema';
import { PlanRepository } from '../../src/store/planRepository';
import { openTestOwner } from './helpers/owner';

const me: Actor = { kind: 'user', name: 'ada' };
const SOURCE = 'docs/plan.md';

const PLAN = `# Plan

## Sprint 1: Alpha

### A1: Build the parser (2 hours)
Parse things.
- [ ] write tests
- [ ] write code

### A2: Wire it up (3 hours)

## Sprint 2: Beta

### B1: Ship it (1 hour)
`;

type Owner = Awaited<ReturnType<typeof openTestOwner>>;
const byTitle = (owner: Owner, prefix: string) => {
  const t = owner.plan.allTasks().find(x => x.title.startsWith(prefix));
  assert.ok(t, `a task titled ${prefix}…`);
  return t;
};

test('re-importing an unchanged file keeps the title, priority, estimate and sprint changed in Baton', async () => {
  const owner = await openTestOwner();
  try {
    const first = owner.plan.importDocument(PLAN, SOURCE, me);
    assert.equal(first.tasks.created, 3);
    assert.deepEqual(first.conflicts, []);
    const a1 = byTitle(owner, 'A1');
    const [alpha, beta] = owner.plan.listSprints();
    owner.plan.updateTask(a1.id, { title: 'A1: Build the parser with a grammar', priority: 'critical', estimate: 5, estimateUnit: 'points', sprintId: beta.id }, me);
    owner.plan.updateSprint(alpha.id, { name: 'Alpha (renamed in Baton)' }, me);
    owner.plan.setCheckpoint(a1.id, 'write tests', true, me);

    const again = owner.plan.importDocument(PLAN, SOURCE, me);
    assert.equal(again.tasks.updated, 0, 'nothing is written back over Baton');
    assert.equal(again.sprints.updated, 0);
    assert.deepEqual(again.conflicts, []);
    const after = owner.plan.getTask(a1.id);
    assert.equal(after.title, 'A1: Build the parser with a grammar');
    assert.equal(after.priority, 'critical');
    assert.equal(after.estimate, 5);
    assert.equal(after.estimateUnit, 'points');
    assert.equal(after.sprintId, beta.id);
    assert.equal(owner.plan.getSprint(alpha.id).name, 'Alpha (renamed in Baton)');
    assert.equal(owner.plan.listCheckpoints(a1.id).find(c => c.title === 'write tests')?.done, true, 'a checkpoint checked in Baton stays checked');
  } finally {
    await owner.cleanup();
  }
});

test('a plan change to a field Baton did not change is taken, Baton\'s own changes stay', async () => {
  const owner = await openTestOwner();
  try {
    owner.plan.importDocument(PLAN, SOURCE, me);
    const a1 = byTitle(owner, 'A1');
    const a2 = byTitle(owner, 'A2');
    owner.plan.updateTask(a1.id, { priority: 'high' }, me); // Baton changes A1's priority only
    const edited = PLAN
      .replace('### A1: Build the parser (2 hours)', '### A1: Build the parser (4 hours)')
      .replace('Parse things.', 'Parse things, fast.')
      .replace('- [ ] write code', '- [x] write code')
      .replace('### A2: Wire it up (3 hours)', '### A2: Wire it all up (3 hours)');
    const report = await owner.plan.importDocumentAsync(edited, SOURCE, me); // the path MCP, the CLI and VS Code take
    assert.deepEqual(report.conflicts, []);
    const after = owner.plan.getTask(a1.id);
    assert.equal(after.estimate, 4, 'the plan\'s new estimate is taken');
    assert.equal(after.description, 'Parse things, fast.');
    assert.equal(after.priority, 'high', 'Baton\'s priority stays');
    assert.equal(owner.plan.listCheckpoints(a1.id).find(c => c.title === 'write code')?.done, true, 'checked in the plan');
    assert.equal(after.progress, 50);
    assert.equal(owner.plan.getTask(a2.id).title, 'A2: Wire it all up');
    assert.deepEqual(owner.plan.allTasks(), new PlanRepository(owner.db).listTasks(), 'the kept task list matches the database');
  } finally {
    await owner.cleanup();
  }
});

test('a field changed both in Baton and in the plan keeps Baton\'s value and is reported as a conflict', async () => {
  const owner = await openTestOwner();
  try {
    owner.plan.importDocument(PLAN, SOURCE, me);
    const a1 = byTitle(owner, 'A1');
    const b1 = byTitle(owner, 'B1');
    owner.plan.updateTask(a1.id, { title: 'A1: Parser (Baton)', estimate: 6 }, me);
    owner.plan.updateTask(b1.id, { estimate: 2 }, me);
    const edited = PLAN
      .replace('### A1: Build the parser (2 hours)', '### A1: Build the parser v2 (8 hours)')
      .replace('### B1: Ship it (1 hour)', '### B1: Ship it (2 hours)'); // the same value on both sides: no conflict
    const report = await owner.plan.importDocumentAsync(edited, SOURCE, me); // the path MCP, the CLI and VS Code take
    const after = owner.plan.getTask(a1.id);
    assert.equal(after.title, 'A1: Parser (Baton)');
    assert.equal(after.estimate, 6);
    assert.deepEqual(
      report.conflicts.map(c => ({ ...c })).sort((x, y) => x.field.localeCompare(y.field)),
      [
        { taskId: a1.id, field: 'estimate', baton: '6 hours', plan: '8 hours' },
        { taskId: a1.id, field: 'title', baton: 'A1: Parser (Baton)', plan: 'A1: Build the parser v2' },
      ],
    );
    assert.equal(owner.plan.getTask(b1.id).estimate, 2);
    const text = formatImportReport(report);
    assert.match(text, /conflicts 2 \(changed in Baton and in the plan; Baton's value kept\)/);
    assert.match(text, new RegExp(`${a1.id} title: Baton "A1: Parser \\(Baton\\)", plan "A1: Build the parser v2"`));
    // The conflict is reported once: the plan as imported is now the baseline, so an unchanged re-import is quiet.
    assert.deepEqual((await owner.plan.importDocumentAsync(edited, SOURCE, me)).conflicts, []);
    assert.equal(owner.plan.getTask(a1.id).title, 'A1: Parser (Baton)');
    // The activity log says conflicts were kept.
    assert.match(owner.plan.listActivity({ limit: 5 }).find(e => e.action === 'plan.imported')!.detail, /conflicts kept Baton's value|, 0 skipped$/);
  } finally {
    await owner.cleanup();
  }
});

test('completion: a task the plan newly checks is completed, one reopened in Baton is not closed again, none is reopened', async () => {
  const owner = await openTestOwner();
  const chores = `## Sprint 1: Chores\n\n- [ ] Tidy up\n- [x] Update docs\n- [ ] Rotate keys\n`;
  try {
    owner.plan.importDocument(chores, SOURCE, me);
    const tidy = byTitle(owner, 'Tidy up');
    const docs = byTitle(owner, 'Update docs');
    const keys = byTitle(owner, 'Rotate keys');
    assert.equal(docs.status, 'DONE');
    owner.plan.setStatus(docs.id, 'IN_PROGRESS', me); // reopened in Baton
    owner.plan.startTask(keys.id, me);
    owner.plan.completeTask(keys.id, 'rotated', me);
    owner.plan.importDocument(chores, SOURCE, me);
    assert.equal(owner.plan.getTask(docs.id).status, 'IN_PROGRESS', 'the plan did not change: Baton\'s reopening stays');
    assert.equal(owner.plan.getTask(keys.id).status, 'DONE', 'a re-import never reopens');
    owner.plan.importDocument(chores.replace('- [ ] Tidy up', '- [x] Tidy up'), SOURCE, me);
    assert.equal(owner.plan.getTask(tidy.id).status, 'DONE', 'newly checked in the plan');
  } finally {
    await owner.cleanup();
  }
});

/**
 * A database written before import baselines existed (schema version 3): rows as the importer of that
 * version left them, then edited in Baton. Opening it runs migration 4; the first re-import reverts nothing.
 */
test('upgrading a database imported without baselines: the first re-import reverts nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-upgrade-'));
  try {
    const plan = importMarkdownPlan(PLAN, SOURCE);
    const importedAt = '2026-01-01T10:00:00.000Z';
    const editedAt = '2026-01-02T10:00:00.000Z';
    const old = await DurableDatabase.open(dir, { migrations: STATE_MIGRATIONS.slice(0, 3) });
    assert.equal(old.schemaVersion, 3);
    old.transaction(tx => {
      plan.sprints.forEach((s, i) => tx.run(
        'INSERT INTO sprints (id, num, name, goal, state, position, source_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [`S-${i + 1}`, i + 1, s.name, s.goal, 'planned', i, `${SOURCE}#${s.key}`, importedAt, importedAt]));
      let n = 0;
      plan.sprints.forEach((s, si) => s.tasks.forEach((t, ti) => {
        n++;
        tx.run(
          `INSERT INTO tasks (id, num, title, description, status, priority, estimate, estimate_unit, sprint_id, position, progress, source_key, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'TODO', ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
          [`T-${n}`, n, t.title, t.description, t.priority, t.estimate, t.estimateUnit, `S-${si + 1}`, ti, `${SOURCE}#${t.key}`, importedAt, importedAt]);
        t.checkpoints.forEach((c, ci) => tx.run(
          'INSERT INTO checkpoints (id, task_id, title, done, position, source_key) VALUES (?, ?, ?, 0, ?, ?)',
          [`C-old${n}${ci}`, `T-${n}`, c.title, ci, `${SOURCE}#${c.key}`]));
      }));
      tx.run('INSERT INTO imports (source, format, content_sha256, imported_at) VALUES (?, ?, ?, ?)',
        [SOURCE, 'markdown', createHash('sha256').update(PLAN).digest('hex'), importedAt]);
      // Edited in Baton after that import: A1's title and priority, B1 moved to Sprint 1.
      tx.run("UPDATE tasks SET title = 'A1: Parser (edited in Baton)', priority = 'high', updated_at = ? WHERE id = 'T-1'", [editedAt]);
      tx.run("UPDATE tasks SET sprint_id = 'S-1', position = 5, updated_at = ? WHERE id = 'T-3'", [editedAt]);
    });
    assert.equal(allTasks(plan).length, 3);
    await old.close();

    const owner = await openTestOwner({ dir });
    try {
      const again = owner.plan.importDocument(PLAN, SOURCE, me);
      assert.equal(again.tasks.created, 0);
      assert.equal(again.tasks.updated, 0, 'the unchanged document reverts nothing');
      assert.deepEqual(again.conflicts, []);
      assert.equal(owner.plan.getTask('T-1').title, 'A1: Parser (edited in Baton)');
      assert.equal(owner.plan.getTask('T-1').priority, 'high');
      assert.equal(owner.plan.getTask('T-3').sprintId, 'S-1');
      // From now on baselines exist: a plan change is a normal three-way merge.
      const edited = PLAN.replace('### A2: Wire it up (3 hours)', '### A2: Wire it up (5 hours)');
      const third = owner.plan.importDocument(edited, SOURCE, me);
      assert.deepEqual(third.conflicts, []);
      assert.equal(owner.plan.getTask('T-2').estimate, 5);
      assert.equal(owner.plan.getTask('T-1').title, 'A1: Parser (edited in Baton)');
    } finally {
      await owner.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('upgrading with a changed document: untouched rows take the plan, rows edited in Baton keep Baton and report conflicts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-upgrade-'));
  try {
    const plan = importMarkdownPlan(PLAN, SOURCE);
    const importedAt = '2026-01-01T10:00:00.000Z';
    const old = await DurableDatabase.open(dir, { migrations: STATE_MIGRATIONS.slice(0, 3) });
    old.transaction(tx => {
      tx.run("INSERT INTO sprints (id, num, name, goal, state, position, source_key, created_at, updated_at) VALUES ('S-1', 1, ?, '', 'planned', 0, ?, ?, ?)",
        [plan.sprints[0].name, `${SOURCE}#${plan.sprints[0].key}`, importedAt, importedAt]);
      plan.sprints[0].tasks.forEach((t, i) => tx.run(
        `INSERT INTO tasks (id, num, title, description, status, priority, estimate, estimate_unit, sprint_id, position, progress, source_key, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'TODO', ?, ?, ?, 'S-1', ?, 0, ?, ?, ?)`,
        [`T-${i + 1}`, i + 1, t.title, t.description, t.priority, t.estimate, t.estimateUnit, i, `${SOURCE}#${t.key}`, importedAt, importedAt]));
      tx.run('INSERT INTO imports (source, format, content_sha256, imported_at) VALUES (?, ?, ?, ?)',
        [SOURCE, 'markdown', createHash('sha256').update(PLAN).digest('hex'), importedAt]);
      tx.run("UPDATE tasks SET estimate = 9, updated_at = '2026-01-02T00:00:00.000Z' WHERE id = 'T-1'");
    });
    await old.close();
    const owner = await openTestOwner({ dir });
    try {
      const edited = PLAN
        .replace('### A1: Build the parser (2 hours)', '### A1: Build the parser (4 hours)')
        .replace('### A2: Wire it up (3 hours)', '### A2: Wire it up (6 hours)');
      const report = owner.plan.importDocument(edited, SOURCE, me);
      assert.equal(owner.plan.getTask('T-2').estimate, 6, 'a row Baton did not touch since the import takes the plan');
      assert.equal(owner.plan.getTask('T-1').estimate, 9, 'a row edited in Baton keeps its value');
      assert.deepEqual(report.conflicts, [{ taskId: 'T-1', field: 'estimate', baton: '9 hours', plan: '4 hours' }]);
    } finally {
      await owner.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
