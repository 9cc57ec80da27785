import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allTasks, countPlan, type ImportedPlan, type ImportedTask } from '../../src/core/import/importedPlan';
import { importMarkdownPlan, parseSprintHeading, parseTaskHeading } from '../../src/core/import/markdownPlan';

/** `<repo>/../shared/fixtures`, found by walking up from this file (works in the developers' checkout and in a CI clone; falls back to resources/sample-plans). */
function fixturesDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'fixtures');
    if (fs.existsSync(path.join(candidate, 'orchestration-v1-readiness-plan.md'))) return candidate;
    // Outside the workplace layout, the same documents ship as the extension's sample plans.
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '../../resources/sample-plans');
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
    // Backlog: the "🎉 V1.0 Launch Checklist" checklists, outside any sprint: Code 5 + Documentation 4
    // + Testing 5 + Polish 4 = 18. Total 36.
    tasks: 36,
    // "**Deliverables:**" checklists under the last task heading of each sprint: A1 6, B2 5, C2 4,
    // D3 5, E2 5 = 25.
    checkpoints: 25,
    // 2 tables with a Component column but no estimate column (lines 25 and 37) + 7 Phase headings
    // without tasks = 9.
    skipped: 9,
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
  assert.equal(plan.backlog.length, 18);
  assert.deepEqual(plan.backlog[0], {
    key: 'backlog/sprint-a-complete-quick-commands',
    title: 'Sprint A complete (quick commands)',
    description: '',
    status: 'TODO',
    priority: 'medium',
    estimate: null,
    estimateUnit: 'hours',
    checkpoints: [],
    dependsOn: [],
    children: [],
    line: 592,
  });
  assert.equal(plan.backlog[17].title, 'Success toasts are encouraging');
  assert.deepEqual(plan.skipped, [
    { line: 25, text: 'Component | Status | Details', reason: 'table has no estimate column' },
    { line: 37, text: 'Component | Status | Gap', reason: 'table has no estimate column' },
    { line: 477, text: 'Phase 1: Quick Wins (Week 1)', reason: 'sprint heading has no tasks' },
    { line: 483, text: 'Phase 2: Integration (Week 1-2)', reason: 'sprint heading has no tasks' },
    { line: 489, text: 'Phase 3: Polish (Week 2)', reason: 'sprint heading has no tasks' },
    { line: 494, text: 'Phase 4: Advanced (Future)', reason: 'sprint heading has no tasks' },
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
    // "### Phase 1" … "### Phase 5" (lines 70-234) and "### Week 1" … "### Week 4" under "## Timeline".
    sprints: 9,
    // Phase 1: 4 numbered "**Tasks**:" items; Phase 2: 4; Phase 3: 3 one-item numbered lists split by
    // code fences; Phase 4: 3 likewise; Phase 5: 3 => 17. Weeks: 3 checklist items each => 12.
    // Backlog: "### Step 1" … "### Step 5" (explicit keyword, outside any sprint) + the 6 "Testing
    // Criteria" checklist items => 11. Numbered lists outside sprints (Current State, Measurable
    // Goals, Risks, Conclusion) are prose and ignored. 17 + 12 + 11 = 40.
    tasks: 40,
    // No checklist or numbered list under a task.
    checkpoints: 0,
    // No tables; every sprint heading has tasks.
    skipped: 0,
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
      ['week-1', 'Week 1', 3],
      ['week-2', 'Week 2', 3],
      ['week-3', 'Week 3', 3],
      ['week-4', 'Week 4', 3],
    ],
  );
  // `**Goal**: …` (colon after the bold) sets the goal; "(Week 1)" is kept after it.
  assert.equal(sprint(plan, 'phase-1').goal, 'Create working MCP server for Orchestron (Week 1)');
  assert.equal(sprint(plan, 'week-1').goal, '');
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
  assert.deepEqual(sprint(plan, 'week-4').tasks.map(t => [t.key, t.line]), [
    ['week-4/performance-optimization', 499],
    ['week-4/edge-case-handling', 500],
    ['week-4/final-validation', 501],
  ]);
  assert.deepEqual(plan.backlog.map(t => t.key), [
    'backlog/step-1', 'backlog/step-2', 'backlog/step-3', 'backlog/step-4', 'backlog/step-5',
    'backlog/all-unit-tests-pass-90-coverage', 'backlog/integration-tests-pass', 'backlog/mcp-server-responds-correctly',
    'backlog/context-persists-between-sessions', 'backlog/human-can-intervene-at-any-point', 'backlog/progress-tracking-is-accurate',
  ]);
  assert.equal(task(plan, 'backlog/step-1').title, 'Step 1: Create MCP Server Package');
  assert.equal(task(plan, 'backlog/step-1').line, 292);
  assert.equal(task(plan, 'backlog/all-unit-tests-pass-90-coverage').title, 'All unit tests pass (>90% coverage)');
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
    '### Notes',
    '- [x] Sprint-level item',
    '- [ ] Same title',
    '- [ ] Same title',
    '',
    '1. Numbered sprint task',
    '   - detail one',
    '   - [ ] nested checkpoint',
    '',
    '## Appendix',
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
