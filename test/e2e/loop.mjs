#!/usr/bin/env node
// The whole orchestration loop end to end (issue 8, "Done means"), in a real VS Code (code-server) driven by
// headless Chromium, with the real agent CLIs and real git. Run with tsx (it imports the TypeScript model
// router): `node --import tsx test/e2e/loop.mjs` after `npm run build`; scripts/test.sh runs it as stage e2e-loop.
//
// The workspace: a git repository (branch main) whose PLAN.md has 5 tasks in two dependency levels (three
// independent tasks in Phase 1; in Phase 2 one task depending on 1.1 and 1.2, one on 1.3), each with
// `Agent: claude`; imported with the CLI before VS Code starts. Its .vscode/settings.json: the review pipeline
// `implement: claude -> review: codex -> gate: human`, worktrees on, tmux off, maxParallel 2, landing on gate
// approval (merge), a 3-second claim lease, and the `claude` and `codex` profiles run headless (the person's
// configuration: Claude Code `-p` with Baton's tools and Bash allowed, Codex `exec` with a model provider) in a
// temp HOME, their model the scripted model router (test/e2e/modelRouter.ts) on 127.0.0.1: one scripted
// conversation per implementer or reviewer session, chosen by the task in Baton's prompt.
//
// What the scripts make the agents do: an implementer (Claude Code) calls agent_init, writes a file and commits
// it with its own Bash tool in its worktree, and calls complete_task; a reviewer (Codex) calls agent_init and
// submit_review. Task 1.2's first review requests changes (its second implementer commits a fix; its second
// review approves). Task 1.1's first implementer hangs (its model never answers its first request) and is killed.
//
// The steps (each `ok - NAME` / `not ok - NAME`, a screenshot .test-output/e2e-loop/NN-name.png, and a last line
// `N passed, N failed`) turn autopilot on from the palette, kill the hanging session, approve every gate from
// the Inbox view as the person, and check Baton's state through the CLI (`baton … --json`) and git.
//
// Env: E2E_VSIX (test the packaged extension), E2E_HEADFUL=1, KEEP_TEMP=1 (keep the workspace and BATON_HOME).
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, assertHostInstalled, chromiumPath, installExtension, launchChromium, startCodeServer } from '../../scripts/lib/codeServer.mjs';
import { git, makeGitWorkspace, runCli, tempDir } from '../../scripts/lib/workspace.mjs';
import { startModelRouter } from './modelRouter.ts';
import { hideNotificationCenter, log, poll, runCommand, runSteps, viewPane, waitForQuickPick } from './workbench.mjs';

const OUT = path.join(REPO_ROOT, '.test-output/e2e-loop');
const BIN = path.join(REPO_ROOT, 'scripts/agents/node_modules/.bin');
const PIPELINE = 'implement: claude -> review: codex -> gate: human';

const PLAN = `# Loop plan

## Phase 1: Modules

### 1.1 Greeting module
Agent: claude

Write greeting.txt with a greeting.

### 1.2 Farewell module
Agent: claude

Write farewell.txt with a farewell.

### 1.3 Counter module
Agent: claude

Write counter.txt with a count.

## Phase 2: Wiring

### 2.1 Combine greeting and farewell
Agent: claude
Depends on: 1.1, 1.2

Write combined.txt from greeting.txt and farewell.txt.

### 2.2 Report the count
Agent: claude
Depends on: 1.3

Write report.txt from counter.txt.
`;

/** Per task title: the file its implementer writes. */
const FILES = {
  'Greeting module': 'greeting.txt', 'Farewell module': 'farewell.txt', 'Counter module': 'counter.txt',
  'Combine greeting and farewell': 'combined.txt', 'Report the count': 'report.txt',
};
const LEVEL1 = ['Greeting module', 'Farewell module', 'Counter module'];
const DEPENDS = { 'Combine greeting and farewell': ['Greeting module', 'Farewell module'], 'Report the count': ['Counter module'] };
const KILLED = 'Greeting module'; // its first implementer hangs (its model never answers) and is killed
const CHANGES = 'Farewell module'; // its first review requests changes

/** `baton <args> --json` against the workspace, parsed; throws naming the command and its output. */
function cliJson(ctx, args) {
  const r = runCli([...args, '--json', '--workspace', ctx.workspace], { batonHome: ctx.batonHome, cwd: ctx.workspace });
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`\`baton ${args.join(' ')} --json\` exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  }
}
const tasksOf = ctx => { const j = cliJson(ctx, ['tasks']); return Array.isArray(j) ? j : j.tasks; };
/** Task `id`'s activity entries ({ at, by, action, what }), oldest first (`baton activity --task`). */
const activityOf = (ctx, id) => cliJson(ctx, ['activity', '--task', id, '--limit', '500']).map(a => ({ ...a, what: a.detail }));
const entries = acts => acts.map(a => `${a.at} ${a.by}: ${a.what}`);
const sessionsOf = ctx => { const j = cliJson(ctx, ['sessions', '--all']); return Array.isArray(j) ? j : j.sessions; };

/** The scripts of the conversations (see the file comment); `ids` maps task titles to ids. */
function scripts(ids) {
  const title = id => Object.keys(ids).find(t => ids[t] === id);
  return (subject, attempt) => {
    const t = title(subject.taskId);
    if (!t) throw new Error(`no script for ${subject.role} of ${subject.taskId}: not a task of the plan`);
    const id = subject.taskId;
    if (subject.role === 'implement') {
      const init = { tools: [{ tool: 'agent_init', args: { agent: 'claude-implementer', profile: 'claude', task_id: id } }] };
      // Its first request is never answered: it hangs on the task, having reported no tokens yet.
      if (t === KILLED && attempt === 1) return { script: [init], holdAfter: 0 };
      const file = FILES[t];
      const line = attempt > 1 && t === CHANGES ? 'Goodbye, and thank you.' : `${t}: written by attempt ${attempt}`;
      const command = `printf '%s\\n' '${line}' > ${file} && git add ${file} && git commit -q -m '${id} ${t} (attempt ${attempt})' && git log --oneline -1`;
      return {
        script: [
          init,
          { tools: [{ tool: 'Bash', args: { command, description: `Write ${file} and commit it` } }] },
          { tools: [{ tool: 'complete_task', args: { task_id: id, summary: `${file} written and committed (attempt ${attempt})` } }] },
          { text: `${id} is complete.` },
        ],
      };
    }
    const changes = t === CHANGES && attempt === 1;
    const review = changes
      ? { task_id: id, score: 4, verdict: 'request_changes', summary: 'The farewell is too curt.', strengths: ['The file is there'],
        critical_gaps: ['The farewell does not thank the reader'], recommendations: ['Write "Goodbye, and thank you."'],
        findings: [{ file: FILES[t], line: 1, severity: 'major', message: 'Thank the reader' }] }
      : { task_id: id, score: 9, verdict: 'approve', summary: `${FILES[t]} does what ${id} asks.`, strengths: ['Small and clear'], critical_gaps: [], recommendations: [], findings: [] };
    return {
      script: [
        { tools: [{ tool: 'agent_init', args: { agent: 'codex-reviewer', profile: 'codex' } }] },
        { tools: [{ tool: 'submit_review', args: review }] },
        { text: `Review of ${id} submitted.` },
      ],
    };
  };
}

/** The workspace's settings: the pipeline, autopilot's limits, landing, the lease, and the CLIs' profiles. */
function workspaceSettings(router, home) {
  const common = {
    HOME: home, USERPROFILE: home, CI: 'true', NO_COLOR: '1', NO_BROWSER: 'true', DISABLE_AUTOUPDATER: '1',
    GIT_AUTHOR_NAME: 'Scripted Agent', GIT_AUTHOR_EMAIL: 'agent@baton.invalid', GIT_COMMITTER_NAME: 'Scripted Agent', GIT_COMMITTER_EMAIL: 'agent@baton.invalid',
  };
  return {
    'baton.review.pipeline': PIPELINE,
    'baton.sessions.maxParallel': 2,
    'baton.sessions.useWorktrees': true,
    'baton.sessions.useTmux': false,
    'baton.land.onApprove': 'merge',
    'baton.tasks.claimLeaseSeconds': 3,
    'baton.sessions.profiles': [
      {
        id: 'claude', command: path.join(BIN, 'claude'),
        args: ['-p', '--output-format', 'stream-json', '--verbose', '--allowedTools', 'mcp__baton', 'Bash'],
        env: { ...common, ANTHROPIC_BASE_URL: router.url, ANTHROPIC_API_KEY: 'sk-ant-offline-test', ENABLE_TOOL_SEARCH: 'false' },
      },
      {
        id: 'codex', command: path.join(BIN, 'codex'),
        args: [
          '-c', `model_providers.scripted={name="scripted",base_url="${router.url}/v1",env_key="SCRIPTED_MODEL_KEY",wire_api="responses"}`,
          '-c', 'model_provider="scripted"', '-c', 'model="scripted-model"', 'exec', '--json', '--skip-git-repo-check',
        ],
        env: { ...common, SCRIPTED_MODEL_KEY: 'offline-test', CODEX_HOME: path.join(home, '.codex') },
      },
    ],
  };
}

/** The Inbox view's pane, expanded. */
async function inboxPane(page) {
  const pane = viewPane(page, 'Inbox');
  const header = pane.locator('.pane-header').first();
  await header.waitFor({ timeout: 10_000 }).catch(() => { throw new Error("no 'Inbox' view in the Baton side bar"); });
  if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  return pane;
}

/** Waits for the Inbox row of the gate of task `id` (an approval request) and returns it. */
async function gateRow(page, id, timeout = 150_000) {
  const pane = await inboxPane(page);
  const row = pane.locator('.monaco-list-row', { hasText: id }).filter({ has: page.locator('.codicon-shield') }).first();
  await row.waitFor({ timeout }).catch(async () => {
    const seen = (await pane.locator('.pane-body').innerText().catch(() => '')).replace(/\s+/g, ' ');
    throw new Error(`the Inbox view lists no approval request of ${id}; it shows ${JSON.stringify(seen.slice(0, 300))}`);
  });
  return row;
}

/**
 * Approves the gate of task `id` from its Inbox row's inline 'Approve' action, as the person, and waits
 * until the task is DONE. The view re-renders when another request arrives, which can swallow a click
 * on the row being replaced: then the person clicks again (at most 3 times), with the row found anew.
 */
async function approveInInbox(ctx, id) {
  const { page } = ctx;
  for (let attempt = 1; ; attempt++) {
    const row = await gateRow(page, id);
    await row.hover();
    const action = row.locator('.action-label[aria-label^="Approve"], .action-label[title^="Approve"]').first();
    await action.click({ timeout: 10_000 }).catch(async () => {
      const labels = await row.locator('.action-label').evaluateAll(els => els.map(e => e.getAttribute('aria-label') || e.getAttribute('title'))).catch(() => []);
      if (attempt >= 3) throw new Error(`the Inbox row of ${id} has no inline 'Approve' action (actions: ${JSON.stringify(labels)})`);
    });
    const done = await poll(() => statusOf(ctx, id) === 'DONE', { timeout: 10_000, interval: 500, message: 'not DONE' }).then(() => true, () => false);
    if (done) return;
    if (attempt >= 3) throw new Error(`${id} is ${statusOf(ctx, id)}, not DONE, after clicking 'Approve' on its Inbox row ${attempt} times`);
    log(`${id}: the click on 'Approve' changed nothing (the view re-rendered?); clicking again`);
  }
}

/** The status of task `id` now. */
const statusOf = (ctx, id) => tasksOf(ctx).find(t => t.id === id)?.status;

/** Ms of an ISO time. */
const ms = iso => Date.parse(iso);

const STEPS = [
  {
    name: 'workbench loads and Baton\'s views open',
    timeoutMs: 150_000,
    async run({ page }) {
      await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
      await page.locator('.part.statusbar').waitFor({ timeout: 60_000 });
      const item = page.locator('.part.activitybar [aria-label^="Baton"]').first();
      await item.waitFor({ timeout: 60_000 }).catch(() => { throw new Error('no activity-bar item labelled Baton'); });
      await item.click();
      await viewPane(page, 'Sprints & Tasks').locator('.monaco-list-row', { hasText: 'Phase 1' }).first().waitFor({ timeout: 30_000 })
        .catch(() => { throw new Error("Sprints & Tasks shows no 'Phase 1'"); });
    },
  },
  {
    name: "'Baton: Turn Autopilot On' shows 'Autopilot N/2' in the status bar and starts two implementer sessions",
    shot: 'autopilot-on',
    needs: ["workbench loads and Baton's views open"],
    async run(ctx) {
      const { page } = ctx;
      await runCommand(page, 'Baton: Turn Autopilot On');
      let text = '';
      await poll(async () => { text = (await page.locator('.part.statusbar').innerText()).replace(/\s+/g, ' '); return /Autopilot 2\/2/.test(text); }, {
        timeout: 60_000, message: () => `the status bar shows no 'Autopilot 2/2': ${JSON.stringify(text.slice(0, 300))}`,
      });
      log('status bar:', /Autopilot \d+\/\d+/.exec(text)[0]);
      const status = cliJson(ctx, ['autopilot', 'status']);
      if (status.enabled !== true) throw new Error(`\`baton autopilot status\` says it is off: ${JSON.stringify(status)}`);
      log('running:', status.host.running.map(r => `${r.taskId} on ${r.agent} (${r.sessionId})`).join(', '));
    },
  },
  {
    name: `a session killed mid-task (${KILLED}) gives its task back by the claim lease, and autopilot starts it again`,
    needs: ["'Baton: Turn Autopilot On' shows 'Autopilot N/2' in the status bar and starts two implementer sessions"],
    timeoutMs: 120_000,
    async run(ctx) {
      const id = ctx.ids[KILLED];
      const key = `implement:${id}`;
      await poll(() => ctx.router.of(key)[0]?.heldAt, { timeout: 60_000, message: () => `the implementer of ${id} never got to its hanging request:\n${ctx.router.summary()}` });
      const victim = sessionsOf(ctx).find(s => (s.task_id ?? s.taskId) === id && s.state !== 'exited');
      if (!victim || !victim.pid) throw new Error(`no live session with a pid on ${id}: ${JSON.stringify(sessionsOf(ctx))}`);
      log(`killing ${victim.id} (pid ${victim.pid}) on ${id}, waiting on its model`);
      process.kill(victim.pid, 'SIGKILL');
      ctx.state.killed = victim.id;
      let acts = [];
      const restartedRe = /^started \S+ on claude.*\(retry 1 of \d+\)/;
      await poll(() => {
        acts = activityOf(ctx, id);
        return acts.some(a => a.by === 'autopilot' && restartedRe.test(a.what));
      }, { timeout: 90_000, interval: 1000, message: () => `autopilot did not start ${id} again; its activity: ${JSON.stringify(entries(acts).slice(-8))}` });
      const ended = acts.findIndex(a => a.by === 'autopilot' && a.what.includes(`session ${victim.id} on ${id} failed`));
      const lapsed = acts.findIndex(a => /lease expired/.test(a.what) && a.what.includes(victim.id));
      const restarted = acts.findIndex(a => a.by === 'autopilot' && restartedRe.test(a.what));
      if (ended < 0) throw new Error(`no autopilot entry saying ${victim.id} failed: ${JSON.stringify(entries(acts))}`);
      if (lapsed < 0) throw new Error(`no entry of the claim lease giving ${id} back: ${JSON.stringify(entries(acts))}`);
      if (!(ended < lapsed && lapsed < restarted)) throw new Error(`not in the order failed → lease expired → started again: ${JSON.stringify(entries(acts))}`);
      log('activity:', entries(acts.slice(ended, restarted + 1)).join(' ⏎ '));
    },
  },
  {
    name: `a request_changes round trip: ${CHANGES}'s first review asks for changes, its implementer fixes it, the second review approves (task details with both reviews)`,
    shot: 'task-in-review',
    needs: ["'Baton: Turn Autopilot On' shows 'Autopilot N/2' in the status bar and starts two implementer sessions"],
    timeoutMs: 200_000,
    async run(ctx) {
      const { page } = ctx;
      const id = ctx.ids[CHANGES];
      let review = null;
      await poll(() => {
        review = cliJson(ctx, ['review', id]);
        const rounds = review.rounds || [];
        return rounds.length >= 2 && rounds[1].state === 'awaiting_gate';
      }, { timeout: 180_000, interval: 1000, message: () => `${id} has no second round awaiting the gate: ${JSON.stringify(review).slice(0, 600)}\n${ctx.router.summary().slice(-3000)}` });
      const [r1, r2] = review.rounds;
      const v = r => (r.reviews || []).map(x => x.verdict).join(',');
      if (v(r1) !== 'request_changes') throw new Error(`round 1's verdicts are ${v(r1)}, not request_changes`);
      if (v(r2) !== 'approve') throw new Error(`round 2's verdicts are ${v(r2)}, not approve`);
      if (statusOf(ctx, id) !== 'IN_REVIEW') throw new Error(`${id} is ${statusOf(ctx, id)} while its gate waits, not IN_REVIEW`);
      if (ctx.router.of(`implement:${id}`).length < 2) throw new Error(`${id} had one implementer conversation: nobody fixed it`);
      // The task details, as the person opens them: 'Baton: Open Task Details' and the task from its quick pick.
      await hideNotificationCenter(page);
      await runCommand(page, 'Baton: Open Task Details');
      const rows = await waitForQuickPick(page);
      const i = rows.findIndex(r => r.includes(id) || r.includes(CHANGES));
      if (i < 0) throw new Error(`the quick pick does not offer ${id}: ${rows.join(' | ')}`);
      const input = page.locator('.quick-input-widget input').first();
      await input.fill(CHANGES);
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: CHANGES }).first().click();
      // The details render in the markdown preview (a webview): its text is read from the frame.
      let text = '';
      await poll(async () => {
        for (const frame of page.frames()) {
          const t = await frame.evaluate(() => document.body?.innerText || '').catch(() => '');
          if (t.includes('Reviews') && t.includes('request_changes')) { text = t; return true; }
        }
        return false;
      }, { timeout: 30_000, message: `the task details of ${id} show no 'Reviews' section with a request_changes review` });
      log('details:', text.replace(/\s+/g, ' ').slice(text.indexOf('Reviews'), text.indexOf('Reviews') + 400));
      // Scroll the preview to its reviews: both rounds in the screenshot.
      await page.mouse.move(850, 500);
      await page.mouse.wheel(0, 450);
      await page.waitForTimeout(500); // the preview's last paint, for the screenshot
    },
  },
  {
    name: `the Inbox shows ${CHANGES}'s gate; the person approves it there; only then it is DONE, and its branch is merged into main`,
    shot: 'inbox-gate',
    needs: [`a request_changes round trip: ${CHANGES}'s first review asks for changes, its implementer fixes it, the second review approves (task details with both reviews)`],
    timeoutMs: 120_000,
    async run(ctx) {
      const { page } = ctx;
      const id = ctx.ids[CHANGES];
      const row = await gateRow(page, id);
      log('inbox row:', (await row.innerText()).replace(/\s+/g, ' '));
      await row.hover(); // its inline Approve / Reject actions show, for the screenshot
      await page.screenshot({ path: path.join(OUT, `${String(ctx.stepNo()).padStart(2, '0')}-inbox-gate-before-approval.png`) });
      if (statusOf(ctx, id) !== 'IN_REVIEW') throw new Error(`${id} is ${statusOf(ctx, id)} before the person approved`);
      await approveInInbox(ctx, id);
      const acts = activityOf(ctx, id);
      const approvedAt = acts.findIndex(a => /^Q-\d+ approved/.test(a.what));
      const doneAt = acts.findIndex(a => /IN_REVIEW → DONE/.test(a.what));
      log('activity:', entries(acts.slice(-5)).join(' ⏎ '));
      if (approvedAt < 0 || doneAt < 0) throw new Error(`no approval or no move to DONE in ${id}'s activity: ${JSON.stringify(entries(acts.slice(-8)))}`);
      if (doneAt < approvedAt) throw new Error(`${id} was DONE before the approval: ${JSON.stringify(entries(acts.slice(-8)))}`);
      if (acts.filter(a => /→ DONE/.test(a.what)).length !== 1) throw new Error(`${id} moved to DONE more than once: ${JSON.stringify(entries(acts))}`);
      await assertMerged(ctx, CHANGES);
    },
  },
  {
    name: 'every other gate is approved in the Inbox; all 5 tasks reach DONE, the level-2 tasks only after their dependencies',
    needs: ["'Baton: Turn Autopilot On' shows 'Autopilot N/2' in the status bar and starts two implementer sessions"],
    timeoutMs: 300_000,
    async run(ctx) {
      const { page } = ctx;
      const order = [...LEVEL1, ...Object.keys(DEPENDS)].filter(t => t !== CHANGES);
      for (const t of order) {
        const id = ctx.ids[t];
        if (statusOf(ctx, id) === 'DONE') throw new Error(`${id} is DONE without the person's approval`);
        await gateRow(page, id, 200_000).catch(e => { throw new Error(`${e.message}\n${ctx.router.summary().slice(-3000)}`); });
        if (statusOf(ctx, id) !== 'IN_REVIEW') throw new Error(`${id} is ${statusOf(ctx, id)} while its gate waits`);
        await approveInInbox(ctx, id);
        log(`${id} (${t}) approved in the Inbox: DONE`);
      }
      // No task went IN_PROGRESS before its dependencies were DONE (the activity log's times).
      const firstAt = (id, re) => activityOf(ctx, id).filter(a => re.test(a.what)).map(a => ms(a.at))[0];
      for (const [t, deps] of Object.entries(DEPENDS)) {
        const started = firstAt(ctx.ids[t], /→ IN_PROGRESS/);
        for (const d of deps) {
          const done = firstAt(ctx.ids[d], /→ DONE/);
          if (!(started >= done)) throw new Error(`${ctx.ids[t]} went IN_PROGRESS at ${new Date(started).toISOString()}, before its dependency ${ctx.ids[d]} was DONE (${new Date(done).toISOString()})`);
        }
      }
    },
  },
  {
    name: 'at most 2 implementer sessions ran at once, and every reviewer ran in its implementer\'s worktree',
    needs: ['every other gate is approved in the Inbox; all 5 tasks reach DONE, the level-2 tasks only after their dependencies'],
    async run(ctx) {
      // Autopilot's sessions, from its activity entries: 'started T-1 on claude: … (session run-1)' and
      // 'session run-1 on T-1 ended|failed …' (the end is written after the exit: overlaps only grow).
      const spans = new Map();
      for (const id of Object.values(ctx.ids)) {
        for (const a of activityOf(ctx, id)) {
          if (a.by !== 'autopilot') continue;
          const started = /^started \S+ on .*\(session (run-\d+)\)$/.exec(a.what);
          const ended = /^session (run-\d+) on \S+ (?:ended|failed|lost)/.exec(a.what);
          if (started) spans.set(started[1], { ...spans.get(started[1]), from: ms(a.at) });
          if (ended) spans.set(ended[1], { ...spans.get(ended[1]), to: ms(a.at) });
        }
      }
      const events = [...spans.values()].flatMap(sp => [[sp.from, 1], [sp.to ?? Date.now(), -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let most = 0;
      for (const [, d] of events) { now += d; most = Math.max(most, now); }
      log(`autopilot ran ${spans.size} sessions, at most ${most} at once`);
      if (spans.size < 7) throw new Error(`autopilot ran ${spans.size} sessions, expected 7 (5 tasks, one killed and one sent back)`);
      if (most > 2) throw new Error(`${most} autopilot sessions ran at once (maxParallel 2)`);
      if (most < 2) throw new Error('never 2 autopilot sessions at once: it did not use its 2 slots');
      // Each reviewer CLI's working directory (what it told its model) is its implementer CLI's.
      for (const [t, id] of Object.entries(ctx.ids)) {
        const impls = ctx.router.of(`implement:${id}`).filter(c => c.server.turnsServed() >= 3);
        const reviews = ctx.router.of(`review:${id}`);
        if (reviews.length !== impls.length) throw new Error(`${id} had ${impls.length} completed implementer(s) and ${reviews.length} reviewer(s)`);
        reviews.forEach((r, i) => {
          const reviewerCwd = cwdOf(r);
          const implementerCwd = cwdOf(impls[i]);
          if (!implementerCwd || !reviewerCwd) throw new Error(`no working directory in the model requests of ${id}'s implementer (${implementerCwd}) or reviewer (${reviewerCwd})`);
          if (path.resolve(implementerCwd) === path.resolve(ctx.workspace)) throw new Error(`${id}'s implementer ran in the workspace folder, not a worktree`);
          if (reviewerCwd !== implementerCwd) throw new Error(`${id}'s reviewer (round ${i + 1}) ran in ${reviewerCwd}, not in its implementer's worktree ${implementerCwd}`);
        });
        log(`${id} ${t}: reviewer(s) ran in ${reviews.map(cwdOf).map(p => path.basename(p)).join(', ')}`);
      }
    },
  },
  {
    name: "`baton cost --json` shows per task the tokens its sessions' CLIs reported (Claude Code with cost, the Codex reviewers without), 'not reported' for the killed session",
    needs: ['every other gate is approved in the Inbox; all 5 tasks reach DONE, the level-2 tasks only after their dependencies'],
    async run(ctx) {
      const report = cliJson(ctx, ['cost']);
      fs.writeFileSync(path.join(OUT, 'cost.json'), JSON.stringify(report, null, 2));
      const usage = convs => convs.reduce((u, c) => { const x = c.server.totalUsage(); return { input: u.input + x.inputTokens, output: u.output + x.outputTokens }; }, { input: 0, output: 0 });
      for (const [t, id] of Object.entries(ctx.ids)) {
        const line = report.tasks.find(x => x.task_id === id);
        if (!line || !line.reported) throw new Error(`no reported tokens for ${id}: ${JSON.stringify(line)}`);
        // Each session reported what its model served it (the killed one: nothing, and it was served nothing);
        // a task's tokens are its implementers' and its reviewers'.
        const implementers = usage(ctx.router.of(`implement:${id}`));
        const reviewers = usage(ctx.router.of(`review:${id}`));
        const served = { input: implementers.input + reviewers.input, output: implementers.output + reviewers.output };
        log(`${id} ${t}: ${line.usage} from ${line.sources.join(', ')}; its implementers were served ${implementers.input} in, ${implementers.output} out, its reviewers ${reviewers.input} in, ${reviewers.output} out`);
        if (line.tokens.input !== served.input || line.tokens.output !== served.output) {
          throw new Error(`${id}'s tokens are ${line.tokens.input} in, ${line.tokens.output} out; its sessions were served ${served.input} in, ${served.output} out`);
        }
        if (!(line.cost_usd > 0)) throw new Error(`${id} has no cost although Claude Code prices its tokens: ${JSON.stringify(line)}`);
        if (line.sources.join() !== 'claude,codex') throw new Error(`${id}'s usage comes from ${line.sources.join(', ')}, not from claude and codex`);
        // Each reviewer session (Codex: tokens, no cost) is listed on the task with what its model served it.
        for (const a of activityOf(ctx, id)) {
          const m = /^started codex as reviewer of \S+ \(round (\d+)\).*: session (run-\d+)$/.exec(a.what);
          if (!m) continue;
          const session = report.sessions.find(x => x.session_id === m[2]);
          const u = usage(ctx.router.of(`review:${id}`).filter(c => c.attempt === Number(m[1])));
          if (!session || session.task_id !== id || session.total_tokens !== u.input + u.output || session.cost_usd !== null) {
            throw new Error(`reviewer session ${m[2]} of ${id} (round ${m[1]}) should have ${u.input + u.output} tokens on ${id} and no cost: ${JSON.stringify(session)}`);
          }
        }
      }
      const killed = report.sessions.find(s => s.session_id === ctx.state.killed);
      if (!killed || killed.reported !== false) throw new Error(`the killed session ${ctx.state.killed} should be 'not reported': ${JSON.stringify(killed)}`);
      const text = runCli(['cost', '--workspace', ctx.workspace], { batonHome: ctx.batonHome, cwd: ctx.workspace }).stdout;
      const killedLine = text.split('\n').find(l => l.includes(`${ctx.state.killed} `));
      if (!/: not reported$/.test(killedLine || '')) throw new Error(`\`baton cost\` does not say 'not reported' for ${ctx.state.killed}: ${JSON.stringify(killedLine)}`);
      log('baton cost:', killedLine.trim());
    },
  },
  {
    name: 'the merged result: main holds every task\'s commits and files, Sprints & Tasks shows all DONE',
    shot: 'merged-result',
    needs: ['every other gate is approved in the Inbox; all 5 tasks reach DONE, the level-2 tasks only after their dependencies'],
    async run(ctx) {
      for (const t of Object.keys(FILES)) await assertMerged(ctx, t);
      // The task details of CHANGES, still open, show its dependent as DONE too (re-rendered when it changed).
      const dependent = `blocks ${ctx.ids['Combine greeting and farewell']} 2.1 Combine greeting and farewell — DONE`;
      let shown = '';
      await poll(async () => {
        for (const frame of ctx.page.frames()) {
          const t = await frame.evaluate(() => document.body?.innerText || '').catch(() => '');
          if (t.includes('Farewell module') && t.includes('Reviews')) shown = t;
        }
        return shown.includes(dependent);
      }, { timeout: 15_000, message: () => `the open task details of ${ctx.ids[CHANGES]} do not show '${dependent}': ${JSON.stringify((/blocks[^\n]*/.exec(shown) || [''])[0])}` });
      await runCommand(ctx.page, 'View: Close All Editors');
      const pane = viewPane(ctx.page, 'Sprints & Tasks');
      for (const t of Object.keys(FILES)) {
        await pane.locator('.monaco-list-row', { hasText: t }).first().waitFor({ timeout: 10_000 })
          .catch(() => { throw new Error(`Sprints & Tasks does not show ${t}`); });
      }
      const logText = git(ctx.workspace, 'log', '--oneline', '--graph', 'main');
      fs.writeFileSync(path.join(OUT, 'git-log-main.txt'), logText + '\n');
      log('git log main:\n' + logText);
    },
  },
  {
    name: "the merged result in VS Code's Source Control graph: main with every task's commit merged",
    shot: 'merged-result-git-graph',
    needs: ['the merged result: main holds every task\'s commits and files, Sprints & Tasks shows all DONE'],
    async run(ctx) {
      const { page } = ctx;
      await page.locator('.part.activitybar [aria-label^="Source Control"]').first().click();
      const graph = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: /Graph/ }) });
      const header = graph.locator('.pane-header').first();
      await header.waitFor({ timeout: 30_000 }).catch(() => { throw new Error("no 'Graph' section in the Source Control view"); });
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
      for (const [t, id] of Object.entries(ctx.ids)) {
        const subject = new RegExp(`${id} ${t} \\(attempt \\d\\)`);
        await graph.locator('.monaco-list-row', { hasText: subject }).first().waitFor({ timeout: 20_000 }).catch(async () => {
          const seen = (await graph.locator('.pane-body').innerText().catch(() => '')).replace(/\s+/g, ' ');
          throw new Error(`the Source Control graph shows no commit '${subject.source}': ${JSON.stringify(seen.slice(0, 300))}`);
        });
      }
    },
  },
];

/** The working directory a CLI told its model (Claude Code: `Working directory: …`; Codex: `<cwd>…</cwd>`). */
function cwdOf(conversation) {
  for (const r of conversation.server.requests) {
    const text = JSON.stringify(r.body ?? '');
    const m = /working directory: ([^\s"\\]+)/i.exec(text) || /<cwd>([^<]+)<\/cwd>/.exec(text);
    if (m) return m[1];
  }
  return null;
}

/** Asserts main has the commits of every implementer attempt of task `t` that committed, and its file. */
async function assertMerged(ctx, t) {
  const id = ctx.ids[t];
  const subjects = git(ctx.workspace, 'log', '--format=%s', 'main');
  const attempts = ctx.router.of(`implement:${id}`).filter(c => c.server.turnsServed() >= 2).map(c => c.attempt);
  for (const a of attempts) {
    if (!subjects.includes(`${id} ${t} (attempt ${a})`)) throw new Error(`main lacks ${id}'s commit of attempt ${a}; git log main: ${JSON.stringify(subjects.split('\n').slice(0, 12))}`);
  }
  const file = git(ctx.workspace, 'show', `main:${FILES[t]}`);
  log(`main:${FILES[t]} = ${JSON.stringify(file)} (commits of attempts ${attempts.join(', ')})`);
}

async function main() {
  const t0 = Date.now();
  for (const f of ['dist/extension.js', 'dist/cli.js']) {
    if (!fs.existsSync(path.join(REPO_ROOT, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
  for (const cli of ['claude', 'codex']) {
    if (!fs.existsSync(path.join(BIN, cli))) throw new Error(`${path.relative(REPO_ROOT, path.join(BIN, cli))} is missing: run \`bash scripts/setup-agents.sh\``);
  }
  assertHostInstalled();
  chromiumPath();
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });

  const root = fs.realpathSync(tempDir('baton-e2e-loop'));
  const home = path.join(root, 'home');
  fs.mkdirSync(path.join(home, '.codex'), { recursive: true });
  const batonHome = path.join(root, 'baton-home');
  const state = {};
  const ids = {};
  const router = await startModelRouter((subject, attempt) => scripts(ids)(subject, attempt));
  const workspace = makeGitWorkspace({
    dir: path.join(root, 'workspace'),
    files: {
      'PLAN.md': PLAN, 'README.md': '# Loop workspace\n\nA throwaway repository of Baton\'s e2e-loop test.\n',
      '.vscode/settings.json': JSON.stringify(workspaceSettings(router, home), null, 2) + '\n',
    },
  });
  log('workspace', workspace, '· BATON_HOME', batonHome, '· model router', router.url);
  const ctx0 = { workspace, batonHome };
  const imp = runCli(['import', 'PLAN.md', '--workspace', workspace], { batonHome, cwd: workspace });
  if (imp.status !== 0) throw new Error(`\`baton import PLAN.md\` exited ${imp.status}: ${(imp.stderr || imp.stdout).trim()}`);
  for (const task of tasksOf(ctx0)) {
    const t = Object.keys(FILES).find(name => task.title === name || task.title.endsWith(` ${name}`));
    if (t) ids[t] = task.id;
  }
  for (const t of Object.keys(FILES)) if (!ids[t]) throw new Error(`the import made no task '${t}': ${JSON.stringify(ids)}`);
  log('tasks:', Object.entries(ids).map(([t, id]) => `${id} ${t}`).join(', '));

  const vsix = process.env.E2E_VSIX && path.resolve(process.env.E2E_VSIX);
  const stateDir = path.join(root, 'code-server');
  let server;
  let browser;
  let results = new Map();
  const consoleLines = [];
  try {
    if (vsix) installExtension({ vsix, extensionsDir: path.join(stateDir, 'extensions'), stateDir });
    server = await startCodeServer({ folder: workspace, stateDir, env: { BATON_HOME: batonHome }, logDir: OUT, smokeTestDriver: !vsix });
    const payload = vsix ? undefined : [['extensionDevelopmentPath', server.remoteUri(REPO_ROOT)], ['skipWelcome', 'true']];
    browser = await launchChromium({ headless: !process.env.E2E_HEADFUL });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', e => consoleLines.push(`[pageerror] ${e.message}`));
    await page.goto(server.urlFor({ folder: workspace, payload }));
    let n = 0;
    const steps = STEPS.map(s => ({ ...s, run: c => { n = STEPS.indexOf(s) + 1; return s.run(c); } }));
    results = await runSteps(steps, OUT, { page, server, workspace, batonHome, state, ids, router, stepNo: () => n });
  } finally {
    fs.writeFileSync(path.join(OUT, 'model-router.log'), router.summary() + '\n');
    fs.writeFileSync(path.join(OUT, 'browser-console.log'), consoleLines.join('\n') + '\n');
    if (browser) await browser.close().catch(() => {});
    if (server) {
      server.copyLogs(OUT);
      await server.stop();
    }
    await router.close();
    if (!process.env.KEEP_TEMP) fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    else log('kept', root);
  }
  const passed = [...results.values()].filter(Boolean).length;
  log(`e2e-loop finished in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots and logs in ${path.relative(REPO_ROOT, OUT)}`);
  console.log(`${passed} passed, ${STEPS.length - passed} failed`);
  return STEPS.length - passed ? 1 : 0;
}

main().then(code => process.exit(code), e => {
  console.error('#', e.stack || e);
  console.log(`0 passed, ${STEPS.length} failed`);
  process.exit(2);
});
