import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allTasks, countPlan, type ImportedPlan, type ImportedTask } from '../../src/core/import/importedPlan';
import { importMarkdownPlan, parseSprintHeading, parseTaskHeading } from '../../src/core/import/markdownPlan';
import { isSprintSection, restatingSection } from '../../src/core/import/markdownSections';

/**
 * `<repo>/../shared/fixtures`, found by walking up from this file (the developers' checkout); elsewhere
 * (a CI clone) the copies of the same two documents in test/unit/fixtures/plans. Not resources/sample-plans:
 * the demo's copies say which task depends on which (see the demo plan test below).
 */
function fixturesDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'fixtures');
    if (fs.existsSync(path.join(candidate, 'orchestration-v1-readiness-plan.md'))) return candidate;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, 'fixtures/plans');
  }
}

const READINESS = 'orchestration-v1-readiness-plan.md';
const ORCHESTRON = 'orchestron-implementation-plan.md';
const readFixture = (name: string): string => fs.readFileSync(path.join(fixturesDir(), name), 'utf8');
const importFixture = (name: string): ImportedPlan => importMarkdownPlan(readFixture(name), name);

const sprint = (plan: ImportedPlan, key: string) => {
  const found = plan.sprints.find(s => s.key === key);
  assert.ok(found, `sprint ${key}`);
  return found;
};
const task = (plan: ImportedPlan, key: string): ImportedTask => {
  const found = allTasks(plan).find(t => t.key === key);
  assert.ok(found, `task ${key}`);
  return found;
};
const keysOf = (plan: ImportedPlan): string[] => [
  ...plan.sprints.map(s => s.key),
  ...allTasks(plan).flatMap(t => [t.key, ...t.checkpoints.map(c => c.key)]),
];
const withoutRepairFlag = (plan: ImportedPlan): ImportedPlan => {
  const { encodingRepaired: _ignored, ...rest } = plan;
  return rest;
};

// ---------------------------------------------------------------------------------------------
// Fixture 1: orchestration-v1-readiness-plan.md (668 lines), counted by hand
// ---------------------------------------------------------------------------------------------

test('readiness plan: exact counts', () => {
  const plan = importFixture(READINESS);
  assert.equal(plan.format, 'markdown');
  assert.equal(plan.source, READINESS);
  assert.equal(plan.title, 'Orchestration System v1.0 - Production Readiness Plan');
  assert.deepEqual(countPlan(plan), {
    // Sprint A..F under "🚀 V1.0 Roadmap" (the second "### Sprint A: Quick Operations" at line 345 merges
    // into sprint-a). The seven "Phase N" headings (lines 477-494, 621-634) only hold plain bullets,
    // so they are skipped, not emitted.
    sprints: 6,
    // Sprint tasks: A1 + its children A1.1, A1.2, A1.3 (4), B1, B2 (2), C1, C2 (2), D1, D2, D3 (3),
    // E1, E2 (2), and in Sprint F the 5 numbered "Components Needed" items (5) = 18.
    // No backlog: the "🎉 V1.0 Launch Checklist" (line 589: Code 5 + Documentation 4 + Testing 5 +
    // Polish 4 = 18 items) restates the sprints' deliverables, so it is skipped, not imported. Total 18.
    tasks: 18,
    // "**Deliverables:**" checklists under the last task heading of each sprint: A1 6, B2 5, C2 4,
    // D3 5, E2 5 = 25.
    checkpoints: 25,
    // 2 tables with a Component column but no estimate column (lines 25 and 37), "#### Architecture"
    // under Sprint F (line 311, a code block only), "📅 Implementation Timeline" (line 475, restating
    // Sprints A-F as Phases 1-4), the Launch Checklist (line 589) and the 3 "Post-V1.0 Roadmap" Phase
    // headings without tasks (lines 621, 628, 634) = 8. "🎯 Success Criteria for V1.0" (line 444) holds
    // only ✅ prose lines: nothing that would have been imported, so it is not listed.
    skipped: 8,
  });
});

test('readiness plan: sprints, merged Sprint A, names and goals', () => {
  const plan = importFixture(READINESS);
  assert.deepEqual(
    plan.sprints.map(s => [s.key, s.name, s.tasks.length, s.line]),
    [
      ['sprint-a', 'Sprint A: Quick Operations & UX', 1, 51], // A1 (its children A1.1-A1.3 are nested)
      ['sprint-b', 'Sprint B: Artifacts UI & Commands', 2, 85],
      ['sprint-c', 'Sprint C: Documentation Consolidation', 2, 119],
      ['sprint-d', 'Sprint D: Chat Integration', 3, 187],
      ['sprint-e', 'Sprint E: Orchestration Dashboard', 2, 256],
      ['sprint-f', 'Sprint F: OpenHands Runner Integration', 5, 305],
    ],
  );
  // The trailing parenthetical leaves the name and is kept in the goal after the **Goal:** text.
  assert.equal(sprint(plan, 'sprint-a').goal, 'Make common operations fast and intuitive (3-4 hours)');
  assert.equal(sprint(plan, 'sprint-d').goal, 'Agent ↔ Human communication through chat system (4-5 hours)');
  assert.equal(sprint(plan, 'sprint-f').goal, 'Browser ↔ Shell communication for agent execution (Future - 6-8 hours)');
  // Sprint A appears twice (line 51 and line 345 "### Sprint A: Quick Operations"): one sprint, first name wins.
  assert.equal(plan.sprints.filter(s => s.key === 'sprint-a').length, 1);
});

test('readiness plan: task headings, dotted children and checkpoints', () => {
  const plan = importFixture(READINESS);
  const a1 = task(plan, 'sprint-a/a1');
  assert.equal(a1.title, 'A1: Quick Update Commands');
  assert.equal(a1.line, 55);
  assert.equal(a1.description, 'Create fast operations for agents:'); // the bash block and the label are dropped
  // A1.1-A1.3 come from the "Detailed Task Breakdown" part (lines 347, 382, 408) and nest under A1.
  assert.deepEqual(
    a1.children.map(c => [c.key, c.title, c.line]),
    [
      ['sprint-a/a1.1', 'A1.1: QuickNoteCommand', 347],
      ['sprint-a/a1.2', 'A1.2: QuickContextCommand', 382],
      ['sprint-a/a1.3', 'A1.3: QuickDoneCommand', 408],
    ],
  );
  // The 6 deliverables at lines 76-81 are A1's checkpoints.
  assert.equal(a1.checkpoints.length, 6);
  assert.deepEqual(a1.checkpoints[0], {
    key: 'sprint-a/a1#app-commands-orchestration-task-quicknotecommand-php',
    title: 'app/Commands/Orchestration/Task/QuickNoteCommand.php',
    done: false,
  });
  assert.equal(a1.checkpoints[5].title, 'MCP tools for above (5 new tools)');

  const checkpointCounts = Object.fromEntries(allTasks(plan).filter(t => !t.key.startsWith('backlog/')).map(t => [t.key, t.checkpoints.length]));
  assert.deepEqual(checkpointCounts, {
    'sprint-a/a1': 6, 'sprint-a/a1.1': 0, 'sprint-a/a1.2': 0, 'sprint-a/a1.3': 0,
    'sprint-b/b1': 0, 'sprint-b/b2': 5,
    'sprint-c/c1': 0, 'sprint-c/c2': 4,
    'sprint-d/d1': 0, 'sprint-d/d2': 0, 'sprint-d/d3': 5,
    'sprint-e/e1': 0, 'sprint-e/e2': 5,
    'sprint-f/runner-service-manages-openhands-instances': 0,
    'sprint-f/execution-api-submit-commands-get-results': 0,
    'sprint-f/streaming-bridge-real-time-output-to-chat': 0,
    'sprint-f/sandbox-manager-isolated-execution-environments': 0,
    'sprint-f/result-handler-parse-output-create-artifacts': 0,
  });
  // Plain bullets under a task heading become its description.
  assert.match(task(plan, 'sprint-b/b2').description, /^- `ArtifactsListModal\.tsx` - Browse artifacts by task\/sprint\n- Inline upload\/download/);
  assert.match(task(plan, 'sprint-e/e1').description, /- \*\*Agent Status\*\* \(online, busy, idle\)/);
  // No estimates anywhere in this document's tasks (the hour ranges belong to sprint headings).
  assert.ok(allTasks(plan).every(t => t.estimate === null && t.estimateUnit === 'hours'));
  assert.ok(allTasks(plan).every(t => t.status === 'TODO' && t.priority === 'medium'));
});

test('readiness plan: code blocks are ignored (C2 holds a markdown document with headings and bullets)', () => {
  const plan = importFixture(READINESS);
  const c2 = task(plan, 'sprint-c/c2');
  assert.equal(c2.children.length, 0); // "### 1. Initialization" … inside ```markdown are not tasks
  assert.deepEqual(c2.checkpoints.map(c => c.title), [
    'docs/ORCHESTRATION_GETTING_STARTED.md',
    'Archive old docs to docs/archived/',
    'Update CLAUDE.md with orchestration-first workflow',
    'Create artifact: "Orchestration Quick Reference"',
  ]);
  assert.ok(!allTasks(plan).some(t => /Resume memory|Initialization/.test(t.title)));
  assert.notEqual(plan.title, 'Orchestration System - Getting Started'); // the h1 inside the code block
});

test('readiness plan: numbered list in a section of Sprint F, backlog and skipped', () => {
  const plan = importFixture(READINESS);
  // "#### Components Needed" is a section (no identifier): its numbered list feeds Sprint F.
  assert.deepEqual(sprint(plan, 'sprint-f').tasks.map(t => [t.title, t.line]), [
    ['Runner Service - Manages OpenHands instances', 333],
    ['Execution API - Submit commands, get results', 334],
    ['Streaming Bridge - Real-time output to chat', 335],
    ['Sandbox Manager - Isolated execution environments', 336],
    ['Result Handler - Parse output, create artifacts', 337],
  ]);
  assert.deepEqual(plan.backlog, []);
  assert.deepEqual(plan.skipped, [
    { line: 25, text: 'Component | Status | Details', reason: 'table has no estimate column' },
    { line: 37, text: 'Component | Status | Gap', reason: 'table has no estimate column' },
    { line: 311, text: 'Architecture', reason: 'heading under a sprint with no task in it: it describes the sprint' },
    { line: 475, text: '📅 Implementation Timeline', reason: 'restates the plan: timeline (not imported: 4 sprint headings)' },
    { line: 589, text: '🎉 V1.0 Launch Checklist', reason: 'restates the plan: launch checklist (not imported: 18 tasks)' },
    { line: 621, text: 'Phase 5: Advanced Features', reason: 'sprint heading has no tasks' },
    { line: 628, text: 'Phase 6: OpenHands Integration', reason: 'sprint heading has no tasks' },
    { line: 634, text: 'Phase 7: Analytics & Insights', reason: 'sprint heading has no tasks' },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Fixture 2: orchestron-implementation-plan.md (512 lines), counted by hand
// ---------------------------------------------------------------------------------------------

test('orchestron plan: exact counts', () => {
  const plan = importFixture(ORCHESTRON);
  assert.equal(plan.title, 'Orchestron Implementation Plan');
  assert.deepEqual(countPlan(plan), {
    // "### Phase 1" … "### Phase 5" (lines 70-234). "### Week 1" … "### Week 4" under "## Timeline"
    // (line 481) restate the phases: not sprints.
    sprints: 5,
    // Phase 1: 4 numbered "**Tasks**:" items; Phase 2: 4; Phase 3: 3 one-item numbered lists split by
    // code fences; Phase 4: 3 likewise; Phase 5: 3 => 17. Backlog: "### Step 1" … "### Step 5"
    // (explicit keyword, outside any sprint) => 5. Not imported: the weeks' 12 checklist items and the
    // 6 "Testing Criteria" items under "## Success Metrics". Numbered lists outside sprints (Current
    // State, Measurable Goals, Risks, Conclusion) are prose and ignored. 17 + 5 = 22.
    tasks: 22,
    // No checklist or numbered list under a task.
    checkpoints: 0,
    // "## Success Metrics" (line 436, 6 tasks) and "## Timeline" (line 481, 4 sprints, 12 tasks).
    skipped: 2,
  });
});

test('orchestron plan: phases, numbered tasks split by code fences, weeks and backlog', () => {
  const plan = importFixture(ORCHESTRON);
  assert.deepEqual(
    plan.sprints.map(s => [s.key, s.name, s.tasks.length]),
    [
      ['phase-1', 'Phase 1: MCP Server Implementation', 4],
      ['phase-2', 'Phase 2: Session Management', 4],
      ['phase-3', 'Phase 3: Workflow Automation', 3],
      ['phase-4', 'Phase 4: Human Intervention Interface', 3],
      ['phase-5', 'Phase 5: Testing and Validation', 3],
    ],
  );
  // `**Goal**: …` (colon after the bold) sets the goal; "(Week 1)" is kept after it.
  assert.equal(sprint(plan, 'phase-1').goal, 'Create working MCP server for Orchestron (Week 1)');
  assert.deepEqual(sprint(plan, 'phase-1').tasks.map(t => [t.key, t.title, t.line]), [
    ['phase-1/implement-orchestronmcpserver-class', 'Implement OrchestronMCPServer class', 75],
    ['phase-1/define-tool-schemas', 'Define tool schemas', 76],
    ['phase-1/create-resource-providers', 'Create resource providers', 77],
    ['phase-1/write-integration-tests', 'Write integration tests', 78],
  ]);
  // "1. **Task Progress Tracking**", code fence, "2. **Session Continuity**", code fence, "3. …": three lists.
  assert.deepEqual(sprint(plan, 'phase-3').tasks.map(t => [t.title, t.line]), [
    ['Task Progress Tracking', 150],
    ['Session Continuity', 162],
    ['Automatic Status Transitions', 178],
  ]);
  // "(Simplified)" is not an estimate, so it stays in the title.
  assert.deepEqual(sprint(plan, 'phase-4').tasks.map(t => t.title), ['Web Dashboard (Simplified)', 'CLI Monitoring', 'Notification Hooks']);
  assert.deepEqual(sprint(plan, 'phase-5').tasks.map(t => t.key), [
    'phase-5/single-session-flow', 'phase-5/multi-session-handoff', 'phase-5/human-intervention',
  ]);
  assert.deepEqual(plan.backlog.map(t => t.key), ['backlog/step-1', 'backlog/step-2', 'backlog/step-3', 'backlog/step-4', 'backlog/step-5']);
  assert.equal(task(plan, 'backlog/step-1').title, 'Step 1: Create MCP Server Package');
  assert.equal(task(plan, 'backlog/step-1').line, 292);
  assert.deepEqual(plan.skipped, [
    { line: 436, text: 'Success Metrics', reason: 'restates the plan: success criteria (not imported: 6 tasks)' },
    { line: 481, text: 'Timeline', reason: 'restates the plan: timeline (not imported: 4 sprint headings, 12 tasks)' },
  ]);
  // The document states no dependency: every task is ready.
  assert.ok(allTasks(plan).every(t => t.dependsOn.length === 0));
});

// ---------------------------------------------------------------------------------------------
// Both fixtures: stable keys, mis-encoded input
// ---------------------------------------------------------------------------------------------

test('importing the same document twice yields identical keys (and an identical plan)', () => {
  for (const name of [READINESS, ORCHESTRON]) {
    const first = importFixture(name);
    const second = importFixture(name);
    assert.deepEqual(keysOf(second), keysOf(first));
    assert.deepEqual(second, first);
    const taskKeys = allTasks(first).map(t => t.key);
    assert.equal(new Set(taskKeys).size, taskKeys.length, `${name}: task keys are unique`);
    const checkpointKeys = allTasks(first).flatMap(t => t.checkpoints.map(c => c.key));
    assert.equal(new Set(checkpointKeys).size, checkpointKeys.length, `${name}: checkpoint keys are unique`);
  }
});

const CP1252: Record<number, string> = {
  0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ', 0x89: '‰',
  0x8a: 'Š', 0x8b: '‹', 0x8c: 'Œ', 0x8e: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•',
  0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9a: 'š', 0x9b: '›', 0x9c: 'œ', 0x9e: 'ž', 0x9f: 'Ÿ',
};
const asCp1252 = (text: string): string => Array.from(Buffer.from(text, 'utf8'), b => CP1252[b] ?? String.fromCharCode(b)).join('');
const asLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

test('mis-encoded fixtures (UTF-8 read as Latin-1 or cp1252) import exactly like the clean files', () => {
  for (const name of [READINESS, ORCHESTRON]) {
    const clean = importFixture(name);
    for (const damage of [asLatin1, asCp1252]) {
      const damaged = damage(readFixture(name));
      assert.match(damaged, /ð[Ÿ\u009f]/u); // the emoji really are broken (🎯 → ðŸŽ¯ or ð\u009f\u008e¯)
      const plan = importMarkdownPlan(damaged, name);
      assert.equal(plan.encodingRepaired, true);
      assert.deepEqual(withoutRepairFlag(plan), clean);
      assert.doesNotMatch(JSON.stringify(plan), /[ÃâðÂ]/);
    }
  }
  const readiness = importMarkdownPlan(asCp1252(readFixture(READINESS)), READINESS);
  assert.equal(sprint(readiness, 'sprint-d').goal, 'Agent ↔ Human communication through chat system (4-5 hours)');
  assert.equal(importFixture(READINESS).encodingRepaired, undefined);
});

test('mis-encoded headings: emoji and dashes are repaired before matching', () => {
  const doc = asCp1252('# Plan — v2\n\n## 🚀 Sprint 1: Launch — café\n\n- [ ] Ship it ✅\n');
  assert.match(doc, /ðŸš€ Sprint 1: Launch â€” cafÃ©/);
  const plan = importMarkdownPlan(doc, 'plan.md');
  assert.equal(plan.title, 'Plan — v2');
  assert.deepEqual(plan.sprints.map(s => [s.key, s.name]), [['sprint-1', 'Sprint 1: Launch — café']]);
  assert.equal(plan.sprints[0].tasks[0].title, 'Ship it ✅');
});

// ---------------------------------------------------------------------------------------------
// Rules on small documents
// ---------------------------------------------------------------------------------------------

test('code blocks are ignored: a sprint heading and a checklist inside fences produce nothing', () => {
  const doc = [
    '# Notes',
    '',
    '```markdown',
    '### Sprint X: Hidden',
    '- [ ] hidden checklist item',
    '1. hidden numbered item',
    '```',
    '',
    '~~~',
    '## Phase 9: Also hidden',
    '- [x] also hidden',
    '~~~',
    '',
    '    ### Sprint Y: indented code',
    '    - [ ] indented item',
    '',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'notes.md');
  assert.deepEqual(countPlan(plan), { sprints: 0, tasks: 0, checkpoints: 0, skipped: 0 });
  assert.equal(plan.title, 'Notes');
});

test('a bold task line is a task with the estimate from its parenthetical', () => {
  const doc = [
    '## Phase 1: Foundations',
    '',
    '**Task 1.1: Oneiric MCP Server** (20 hours)',
    'Serve dreams over MCP.',
    '',
    '- [x] scaffold',
    '- [ ] tools',
    '',
    '**Task 1.2: Client library** (3-4 hours) - with retries',
    '',
    '**Task 1.3: Docs** (2 days)',
    '',
    '**Deliverables:**',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'plan.md');
  assert.deepEqual(countPlan(plan), { sprints: 1, tasks: 3, checkpoints: 2, skipped: 0 });
  const [t11, t12, t13] = plan.sprints[0].tasks;
  assert.deepEqual(
    [t11.key, t11.title, t11.estimate, t11.estimateUnit, t11.description, t11.line],
    ['phase-1/1.1', 'Task 1.1: Oneiric MCP Server', 20, 'hours', 'Serve dreams over MCP.', 3],
  );
  assert.deepEqual(t11.checkpoints, [
    { key: 'phase-1/1.1#scaffold', title: 'scaffold', done: true },
    { key: 'phase-1/1.1#tools', title: 'tools', done: false },
  ]);
  assert.deepEqual([t12.key, t12.estimate, t12.description], ['phase-1/1.2', 4, 'Estimate: 3-4 hours\n\nwith retries']);
  assert.deepEqual([t13.estimate, t13.estimateUnit, t13.description], [16, 'hours', 'Estimate: 2 days']);
});

test('a table with Phase, Task and Days columns: one task per row, days converted to hours', () => {
  const doc = [
    '# Indexing roadmap',
    '',
    '| Phase | Task | Days | Owner | Status |',
    '|-------|------|------|-------|--------|',
    '| Phase 1 | Background Indexing Service | 3 | ana | ✅ Done |',
    '| Phase 1 | Symbol extractor | 3-4 | bo | in progress |',
    '| 2 | Search UI | 1 | | |',
    '',
    '| Deliverable | Story Points | Priority |',
    '|---|---|---|',
    '| Login page | 5 | High |',
    '',
    '| Component | Status |',
    '|---|---|',
    '| Database | ok |',
    '',
    '| Metric | Target |',
    '|---|---|',
    '| p95 | 20ms |',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'roadmap.md');
  // 2 sprints from the Phase column; 3 rows + 1 backlog row; 2 tables skipped.
  assert.deepEqual(countPlan(plan), { sprints: 2, tasks: 4, checkpoints: 0, skipped: 2 });
  assert.deepEqual(plan.sprints.map(s => [s.key, s.name, s.tasks.length]), [['phase-1', 'Phase 1', 2], ['phase-2', 'Phase 2', 1]]);
  const [indexing, extractor] = plan.sprints[0].tasks;
  assert.deepEqual(
    [indexing.key, indexing.title, indexing.estimate, indexing.estimateUnit, indexing.status, indexing.line],
    ['phase-1/background-indexing-service', 'Background Indexing Service', 24, 'hours', 'DONE', 5],
  );
  assert.equal(indexing.description, 'Estimate: 3 days\n\nOwner: ana');
  assert.deepEqual([extractor.estimate, extractor.status, extractor.description], [32, 'IN_PROGRESS', 'Estimate: 3-4 days\n\nOwner: bo']);
  assert.deepEqual([plan.sprints[1].tasks[0].title, plan.sprints[1].tasks[0].estimate], ['Search UI', 8]);
  assert.deepEqual(
    [plan.backlog[0].key, plan.backlog[0].estimate, plan.backlog[0].estimateUnit, plan.backlog[0].priority],
    ['backlog/login-page', 5, 'points', 'high'],
  );
  assert.deepEqual(plan.skipped, [
    { line: 13, text: 'Component | Status', reason: 'table has no estimate column' },
    { line: 17, text: 'Metric | Target', reason: 'table has no task column and no estimate column' },
  ]);
});

test('estimates in titles: hours, ranges, h, points, SP, days; the estimate leaves the title', () => {
  const doc = [
    '## Sprint 7',
    '- [ ] Alpha (20 hours)',
    '- [ ] Beta (3-4 hours)',
    '- [ ] Gamma (2h)',
    '- [ ] Delta (5 points)',
    '- [ ] Epsilon (3 SP)',
    '- [ ] Zeta (2 days)',
    '- [ ] Eta — 6h',
    '- [ ] Theta (draft)',
  ].join('\n');
  const tasks = importMarkdownPlan(doc, 'p.md').sprints[0].tasks;
  assert.deepEqual(
    tasks.map(t => [t.title, t.estimate, t.estimateUnit, t.description]),
    [
      ['Alpha', 20, 'hours', ''],
      ['Beta', 4, 'hours', 'Estimate: 3-4 hours'],
      ['Gamma', 2, 'hours', ''],
      ['Delta', 5, 'points', ''],
      ['Epsilon', 3, 'points', ''],
      ['Zeta', 16, 'hours', 'Estimate: 2 days'],
      ['Eta', 6, 'hours', ''],
      ['Theta (draft)', null, 'hours', ''],
    ],
  );
});

test('sprint merging, scopes, checklists under task / sprint / outside, numbered checkpoints, dedupe', () => {
  const doc = [
    '# Big plan',
    '',
    '## Sprint A: Quick wins (3 hours)',
    '**Goal:** Go fast',
    '',
    '### A1: First task',
    'Some context.',
    '',
    '1. step one',
    '2. step two',
    '',
    '- [x] checked checkpoint',
    '',
    '#### A1.1: Sub task',
    '- [ ] sub checkpoint',
    '',
    '### Tasks',
    '- [x] Sprint-level item',
    '- [ ] Same title',
    '- [ ] Same title',
    '',
    '1. Numbered sprint task',
    '   - detail one',
    '   - [ ] nested checkpoint',
    '',
    '## Loose ends',
    '- [ ] Loose item',
    '- plain bullet, ignored',
    '',
    '## Sprint A: Quick wins again',
    '### A2: Second task',
    '',
    '## Week 3',
    '',
    '## Sprint planning',
    '- [ ] not a sprint (lowercase word after Sprint)',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'plan.md');
  assert.deepEqual(plan.sprints.map(s => [s.key, s.name, s.goal]), [['sprint-a', 'Sprint A: Quick wins', 'Go fast (3 hours)']]);
  const [a1, level, same, same2, numbered, a2] = plan.sprints[0].tasks;
  assert.deepEqual([a1.key, a1.description], ['sprint-a/a1', 'Some context.']);
  assert.deepEqual(a1.checkpoints.map(c => [c.key, c.done]), [
    ['sprint-a/a1#step-one', false],
    ['sprint-a/a1#step-two', false],
    ['sprint-a/a1#checked-checkpoint', true],
  ]);
  assert.deepEqual(a1.children.map(c => [c.key, c.checkpoints.length]), [['sprint-a/a1.1', 1]]);
  assert.deepEqual([level.key, level.status], ['sprint-a/sprint-level-item', 'DONE']);
  assert.deepEqual([same.key, same2.key], ['sprint-a/same-title', 'sprint-a/same-title-2']);
  assert.deepEqual(
    [numbered.title, numbered.description, numbered.checkpoints.map(c => c.key)],
    ['Numbered sprint task', '- detail one', ['sprint-a/numbered-sprint-task#nested-checkpoint']],
  );
  assert.equal(a2.key, 'sprint-a/a2');
  assert.deepEqual(plan.backlog.map(t => [t.key, t.line]), [['backlog/loose-item', 27], ['backlog/not-a-sprint-lowercase-word-after-sprint', 36]]);
  assert.deepEqual(plan.skipped, [{ line: 33, text: 'Week 3', reason: 'sprint heading has no tasks' }]);
});

test('CRLF line endings give the same plan as LF', () => {
  const lf = readFixture(READINESS);
  assert.deepEqual(importMarkdownPlan(lf.replace(/\n/g, '\r\n'), READINESS), importFixture(READINESS));
});

test('heading recognisers', () => {
  assert.deepEqual(parseSprintHeading('Phase 1: MCP Server Implementation (Week 1)'), {
    key: 'phase-1', name: 'Phase 1: MCP Server Implementation', note: 'Week 1',
  });
  assert.deepEqual(parseSprintHeading('🚀 Sprint A: Quick Operations & UX (3-4 hours)'), {
    key: 'sprint-a', name: 'Sprint A: Quick Operations & UX', note: '3-4 hours',
  });
  assert.equal(parseSprintHeading('Milestone 2')?.key, 'milestone-2');
  assert.equal(parseSprintHeading('Iteration 3 - polish')?.key, 'iteration-3');
  assert.equal(parseSprintHeading('Stage IV')?.key, 'stage-iv');
  for (const notSprint of ['Sprint planning', 'Week of May', 'Phases overview', 'V1.0 Roadmap', 'Weekly sync']) {
    assert.equal(parseSprintHeading(notSprint), null, notSprint);
  }
  assert.equal(parseTaskHeading('A1: Quick Update Commands')?.id, 'a1');
  assert.equal(parseTaskHeading('A1.1: QuickNoteCommand')?.id, 'a1.1');
  assert.equal(parseTaskHeading('Task 1.1: Foo')?.id, '1.1');
  assert.equal(parseTaskHeading('1.2 Foo')?.id, '1.2');
  assert.equal(parseTaskHeading('Step 3: Foo')?.id, 'step-3');
  for (const notTask of ['Architecture', 'Components Needed', 'Deliverables', '2024']) {
    assert.equal(parseTaskHeading(notTask), null, notTask);
  }
});

// ---------------------------------------------------------------------------------------------
// Headings without an identifier under a sprint
// ---------------------------------------------------------------------------------------------

test('a heading without an identifier under a sprint is a task; sections of the sprint are not, and an empty one is reported', () => {
  const doc = [
    '## Sprint 2: Auth',
    '',
    '### Login page (4h)',
    'Form with validation.',
    '- [ ] form',
    '- [x] validation',
    '',
    '### Login page',
    '',
    '### Components Needed',
    '1. Token service',
    '2. Session store',
    '',
    '### Architecture',
    '```',
    'browser -> api',
    '```',
    '',
    '### 🔐 Password reset',
    '#### Notes for reviewers',
    'Check the expiry.',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'auth.md');
  const tasks = plan.sprints[0].tasks;
  assert.deepEqual(tasks.map(t => [t.key, t.title, t.line]), [
    ['sprint-2/login-page', 'Login page', 3],
    ['sprint-2/login-page-2', 'Login page', 8], // the same title twice: deduplicated, in document order
    ['sprint-2/token-service', 'Token service', 11],
    ['sprint-2/session-store', 'Session store', 12],
    ['sprint-2/password-reset', 'Password reset', 19],
  ]);
  const [login] = tasks;
  assert.deepEqual([login.estimate, login.description], [4, 'Form with validation.']);
  assert.deepEqual(login.checkpoints.map(c => [c.title, c.done]), [['form', false], ['validation', true]]);
  // A section inside a task is part of the task.
  assert.equal(tasks[4].description, 'Check the expiry.');
  assert.deepEqual(plan.skipped, [
    { line: 14, text: 'Architecture', reason: 'heading under a sprint with no task in it: it describes the sprint' },
  ]);
  // Keys come from the titles, so a re-import (even with a line inserted above) finds the same tasks.
  const again = importMarkdownPlan(`# Auth plan\n\n${doc}`, 'auth.md');
  assert.deepEqual(allTasks(again).map(t => t.key), allTasks(plan).map(t => t.key));
});

test('headings without an identifier outside sprints stay sections (their checklists are backlog tasks)', () => {
  const plan = importMarkdownPlan('# Plan\n\n## Loose ends\n- [ ] Rename the repo\n\n## Design\nText.\n', 'p.md');
  assert.deepEqual(plan.backlog.map(t => t.key), ['backlog/rename-the-repo']);
  assert.deepEqual(plan.skipped, []);
});

// ---------------------------------------------------------------------------------------------
// Dependencies written in the plan
// ---------------------------------------------------------------------------------------------

test('dependency phrases become dependsOn keys: Depends on, after Task, Blocked by, (requires …), Dependencies:, Requires:', () => {
  const doc = [
    '## Phase 1: Core',
    '',
    '### Task 1.1: Schema',
    '### Task 1.2: API',
    'Depends on: 1.1',
    '',
    '### Task 1.3: Client',
    'Build the client. Depends on 1.1 and 1.2, then ship.',
    '',
    '### Task 1.4: Docs (requires 1.3)',
    '',
    '### Task 1.5: Release',
    '- Dependencies: 1.3, 1.4',
    '- changelog',
    '',
    '## Phase 2: Extras',
    '',
    '### A1: Search',
    'Work after Task 1.2 lands.',
    '',
    '### A2: Filters',
    '**Blocked by** A1',
    '',
    '### Tasks',
    '- [ ] Export (requires A1)',
    '- [ ] Import',
    '  Requires: A2',
    '',
    '**Task 3.1: Metrics** (2h) — depends on A2',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'deps.md');
  const deps = Object.fromEntries(allTasks(plan).map(t => [t.key, t.dependsOn]));
  assert.deepEqual(deps, {
    'phase-1/1.1': [],
    'phase-1/1.2': ['phase-1/1.1'],
    'phase-1/1.3': ['phase-1/1.1', 'phase-1/1.2'],
    'phase-1/1.4': ['phase-1/1.3'],
    'phase-1/1.5': ['phase-1/1.3', 'phase-1/1.4'],
    'phase-2/a1': ['phase-1/1.2'], // not in its sprint: found in the whole plan (one task has that identifier)
    'phase-2/a2': ['phase-2/a1'],
    'phase-2/export': ['phase-2/a1'],
    'phase-2/import': ['phase-2/a2'],
    'phase-2/3.1': ['phase-2/a2'],
  });
  // A text that only states dependencies leaves the description (and the title); prose stays.
  assert.equal(task(plan, 'phase-1/1.2').description, '');
  assert.equal(task(plan, 'phase-1/1.3').description, 'Build the client. Depends on 1.1 and 1.2, then ship.');
  assert.equal(task(plan, 'phase-1/1.4').title, 'Task 1.4: Docs');
  assert.equal(task(plan, 'phase-1/1.5').description, '- changelog');
  assert.equal(task(plan, 'phase-2/export').title, 'Export');
  assert.equal(task(plan, 'phase-2/3.1').estimate, 2);
  assert.deepEqual(plan.skipped, []);
});

test('a dependency on a task the plan does not have is reported, not a crash; prose "after" is not a dependency', () => {
  const doc = [
    '## Sprint 1',
    '### 1.1 Setup',
    'Depends on: 9.9',
    '### 1.2 Deploy',
    'Only after 2 weeks of testing, after v2 ships. Needs 3 reviewers.',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(allTasks(plan).map(t => t.dependsOn), [[], []]);
  assert.deepEqual(plan.skipped, [{ line: 3, text: '1.1 Setup → 9.9', reason: 'dependency on 9.9 not found in the plan' }]);
});

test('no self-dependency; the edge that closes a cycle is dropped and reported, the others kept', () => {
  const doc = [
    '## Sprint 1',
    '### A1: One',
    'Depends on: A3',
    '### A2: Two',
    'Depends on: A1, A2',
    '### A3: Three',
    'Depends on: A2',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  // In document order: A1 → A3 is accepted, A2 → A1 too, A3 → A2 would close A3 → A2 → A1 → A3.
  assert.deepEqual(allTasks(plan).map(t => [t.key, t.dependsOn]), [
    ['sprint-1/a1', ['sprint-1/a3']],
    ['sprint-1/a2', ['sprint-1/a1']],
    ['sprint-1/a3', []],
  ]);
  assert.deepEqual(plan.skipped, [
    { line: 5, text: 'A2: Two → A2', reason: 'a task cannot depend on itself' },
    { line: 7, text: 'A3: Three → A2', reason: 'dependency would close a cycle (sprint-1/a3 → sprint-1/a2 → sprint-1/a1 → sprint-1/a3)' },
  ]);
});

test('an identifier used in two sprints: the task\'s own sprint wins; from a third place it is ambiguous', () => {
  const doc = [
    '## Sprint A',
    '### 1 First A',
    '### 2 Second A',
    'Depends on: 1',
    '## Sprint B',
    '### 1 First B',
    '## Sprint C',
    '### 5 Fifth C',
    'Depends on: 1',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(task(plan, 'sprint-a/2').dependsOn, ['sprint-a/1']);
  assert.deepEqual(task(plan, 'sprint-c/5').dependsOn, []);
  assert.deepEqual(plan.skipped, [{ line: 9, text: '5 Fifth C → 1', reason: 'dependency on 1 is ambiguous: sprint-a/1, sprint-b/1' }]);
});

test('a table\'s Depends on column gives dependencies', () => {
  const doc = [
    '## Sprint 1',
    '| ID | Task | Hours | Depends on |',
    '|----|------|-------|------------|',
    '| T-1 | Schema | 2 | |',
    '| T-2 | API | 3 | T-1 |',
    '| T-3 | UI | 5 | T-1, T-2 |',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(allTasks(plan).map(t => [t.key, t.dependsOn, t.description]), [
    ['sprint-1/t-1', [], ''],
    ['sprint-1/t-2', ['sprint-1/t-1'], ''],
    ['sprint-1/t-3', ['sprint-1/t-1', 'sprint-1/t-2'], ''],
  ]);
});

// ---------------------------------------------------------------------------------------------
// Sections that restate the plan
// ---------------------------------------------------------------------------------------------

test('success criteria, a timeline repeating the phases, risks, notes: not tasks nor sprints, listed as skipped', () => {
  const doc = [
    '# Plan',
    '',
    '## Overview',
    'We build a thing.',
    '',
    '## Phase 1: Build',
    '### 1.1 Core',
    '#### Acceptance criteria',
    '- [ ] core works',
    '',
    '#### Success criteria',
    '- [ ] fast',
    '',
    '## Phase 2: Ship',
    '- [ ] Release',
    '',
    '### Acceptance criteria',
    '- [ ] users can log in',
    '- [ ] no errors',
    '',
    '## Success Criteria',
    '- [ ] All tests pass',
    '- [ ] Docs written',
    '',
    '## Timeline: Week 1–4',
    '### Week 1',
    '- [ ] Build',
    '### Week 2',
    '- [ ] Ship',
    '',
    '## Technical Risks',
    '1. It might be slow',
    '',
    '## Notes',
    '- [ ] remember the thing',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(plan.sprints.map(s => s.key), ['phase-1', 'phase-2']);
  assert.deepEqual(allTasks(plan).map(t => t.key), ['phase-1/1.1', 'phase-2/release']);
  // Inside a task, a criteria checklist stays its checkpoints.
  assert.deepEqual(task(plan, 'phase-1/1.1').checkpoints.map(c => c.title), ['core works', 'fast']);
  assert.deepEqual(plan.backlog, []);
  assert.deepEqual(plan.skipped, [
    { line: 17, text: 'Acceptance criteria', reason: 'restates the sprint: acceptance criteria (not imported: 2 tasks)' },
    { line: 21, text: 'Success Criteria', reason: 'restates the plan: success criteria (not imported: 2 tasks)' },
    { line: 25, text: 'Timeline: Week 1–4', reason: 'restates the plan: timeline (not imported: 2 sprint headings, 2 tasks)' },
    { line: 34, text: 'Notes', reason: 'restates the plan: notes (not imported: 1 task)' },
  ]);
});

test('a timeline that holds the plan\'s only sprint headings is the plan', () => {
  const doc = ['# Plan', '', '## Timeline', '### Week 1', '- [ ] Build', '### Week 2', '- [ ] Ship', ''].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(plan.sprints.map(s => [s.key, s.tasks.map(t => t.title)]), [['week-1', ['Build']], ['week-2', ['Ship']]]);
  assert.deepEqual(plan.skipped, []);
});

test('restating headings are recognised by their whole text, not by a word in a title', () => {
  assert.equal(restatingSection('🎯 Success Criteria for V1.0'), 'success criteria');
  assert.equal(restatingSection('📅 Implementation Timeline'), 'timeline');
  assert.equal(restatingSection('Timeline: Week 1–4'), 'timeline');
  assert.equal(restatingSection('Risk Mitigation'), 'risks');
  assert.equal(restatingSection('2. Non-goals'), 'non-goals');
  assert.equal(restatingSection('Appendix B'), 'appendix');
  for (const work of ['Write the overview', 'Login page', 'Timeline view component', 'Goals API', 'Notes sync']) {
    assert.equal(restatingSection(work), null, work);
  }
  assert.ok(isSprintSection('Components Needed'));
  assert.ok(isSprintSection('Architecture'));
  assert.ok(!isSprintSection('Design the login page'));
});

// ---------------------------------------------------------------------------------------------
// The demo plans (resources/sample-plans) state dependencies
// ---------------------------------------------------------------------------------------------

test('the demo plans say which task waits for which, so the demo shows a DAG (not every task ready)', () => {
  const demo = path.resolve(__dirname, '../../resources/sample-plans');
  const readiness = importMarkdownPlan(fs.readFileSync(path.join(demo, READINESS), 'utf8'), READINESS);
  const orchestron = importMarkdownPlan(fs.readFileSync(path.join(demo, ORCHESTRON), 'utf8'), ORCHESTRON);
  const edges = (plan: ImportedPlan) => allTasks(plan).flatMap(t => t.dependsOn.map(d => `${t.key} → ${d}`));
  assert.deepEqual(edges(readiness), [
    'sprint-a/a1.2 → sprint-a/a1.1',
    'sprint-a/a1.3 → sprint-a/a1.1',
    'sprint-b/b2 → sprint-b/b1',
    'sprint-c/c2 → sprint-c/c1',
    'sprint-d/d2 → sprint-d/d1',
    'sprint-d/d3 → sprint-d/d1',
    'sprint-e/e1 → sprint-d/d3',
    'sprint-e/e2 → sprint-e/e1',
  ]);
  assert.deepEqual(edges(orchestron), [
    'backlog/step-2 → backlog/step-1',
    'backlog/step-3 → backlog/step-2',
    'backlog/step-4 → backlog/step-2',
    'backlog/step-4 → backlog/step-3',
    'backlog/step-5 → backlog/step-3',
    'backlog/step-5 → backlog/step-4',
  ]);
  assert.deepEqual(readiness.skipped.filter(s => /dependency/.test(s.reason)), []);
  assert.deepEqual(orchestron.skipped.filter(s => /dependency/.test(s.reason)), []);
  // Apart from the dependencies, the demo plans import like the real documents.
  const withoutDeps = (plan: ImportedPlan) => allTasks(plan).map(t => [t.key, t.title, t.checkpoints.length]);
  assert.deepEqual(withoutDeps(readiness), withoutDeps(importFixture(READINESS)));
  assert.deepEqual(withoutDeps(orchestron), withoutDeps(importFixture(ORCHESTRON)));
});

test('a Dependencies heading or **Dependencies:** label in a task: each bullet names a task', () => {
  const doc = [
    '## Sprint 1',
    '### A1: Schema',
    '### A2: API',
    '### A3: UI',
    '**Dependencies:**',
    '',
    '- A1',
    '- A2 (for the endpoints)',
    '',
    '**Notes:**',
    '- A1 is small',
    '',
    '### A4: Docs',
    '#### Dependencies',
    '- A3',
    '- B7',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(task(plan, 'sprint-1/a3').dependsOn, ['sprint-1/a1', 'sprint-1/a2']);
  // A bullet that only names a task leaves the description; one that says more stays; other lists are prose.
  assert.equal(task(plan, 'sprint-1/a3').description, '- A2 (for the endpoints)\n\n- A1 is small');
  assert.deepEqual(task(plan, 'sprint-1/a4').dependsOn, ['sprint-1/a3']);
  assert.deepEqual(plan.skipped, [{ line: 16, text: 'A4: Docs → B7', reason: 'dependency on B7 not found in the plan' }]);
});

test('"Depends on: Phase 1" waits for every task of that phase; a label naming no task is reported', () => {
  const doc = [
    '## Phase 1: Core',
    '- [ ] Schema',
    '- [ ] API',
    '## Phase 2: UI',
    '### 2.1 Screens',
    'Depends on: Phase 1',
    '### 2.2 Polish',
    'Dependencies: the design review. Blocked by: none',
    '### 2.3 Ship',
    'Depends on: Phase 2',
    '### 2.4 Later',
    'Depends on: Phase 9',
  ].join('\n');
  const plan = importMarkdownPlan(doc, 'p.md');
  assert.deepEqual(task(plan, 'phase-2/2.1').dependsOn, ['phase-1/schema', 'phase-1/api']);
  assert.deepEqual(plan.skipped, [
    { line: 8, text: '2.2 Polish → the design review', reason: 'dependency "the design review" names no task identifier' },
    { line: 10, text: '2.3 Ship → Phase 2', reason: 'dependency "Phase 2" names the task\'s own sprint' },
    { line: 12, text: '2.4 Later → Phase 9', reason: 'dependency "Phase 9" names a sprint the plan does not have' },
  ]);
});

test('lexing in small chunks gives the same plan for both fixtures and both demo plans', () => {
  const demo = path.resolve(__dirname, '../../resources/sample-plans');
  for (const text of [readFixture(READINESS), readFixture(ORCHESTRON), ...[READINESS, ORCHESTRON].map(n => fs.readFileSync(path.join(demo, n), 'utf8'))]) {
    const whole = importMarkdownPlan(text, 'p.md');
    for (const chunkChars of [1, 300, 2000]) {
      const chunked = importMarkdownPlan(text, 'p.md', { chunkChars });
      // Lists longer than a chunk become consecutive lists: the same items, only plain bullets under a
      // task may be joined differently in its description.
      const shape = (plan: ImportedPlan) => ({
        sprints: plan.sprints.map(s => [s.key, s.name, s.goal, s.line]),
        tasks: allTasks(plan).map(t => [t.key, t.title, t.line, t.status, t.estimate, t.dependsOn, t.checkpoints, t.description.replace(/\n+/g, '\n')]),
        skipped: plan.skipped,
        title: plan.title,
      });
      assert.deepEqual(shape(chunked), shape(whole), `chunks of ${chunkChars}`);
    }
  }
});
