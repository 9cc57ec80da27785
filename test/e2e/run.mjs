#!/usr/bin/env node
// End-to-end test of Baton in a real VS Code (code-server 1.139 web workbench) driven by headless Chromium.
//
// A temp git workspace gets the orchestron sample plan as PLAN.md, imported with the CLI
// (`node dist/cli.js import PLAN.md --workspace WS`) into a fresh BATON_HOME before VS Code starts; then the
// checks in STEPS run in order against the workbench. Each prints `ok - NAME` or `not ok - NAME` and leaves a
// screenshot .test-output/e2e/NN-name.png; the last line is `N passed, N failed`; exit 1 on any failure.
//
// How Baton is loaded: by default as an extension under development (workbench payload
// extensionDevelopmentPath = this repo, using dist/ from `npm run build`; code-server's web workbench reads
// that payload only with `--vscode-option enable-smoke-test-driver`, so it is on in this mode); with E2E_VSIX=path/to/baton.vsix
// (scripts/test.sh does this after `npm run package`) the VSIX is installed into the extensions dir instead,
// which tests the packaged artifact.
//
// Env: E2E_VSIX, E2E_HEADFUL=1 (show the browser), KEEP_TEMP=1 (keep the workspace and BATON_HOME).
// Add checks by appending to STEPS: { name, needs?: [names of steps it depends on], timeoutMs?, shot?, run(ctx) }
// (shot: the screenshot's name instead of one made from the step's name).
// The inbox checks connect a real MCP SDK client from this process, as an agent, to the MCP server Baton
// runs in VS Code (found through $BATON_HOME/workspaces/*.json → storageDir → mcp-endpoint.json).
// The agent-session checks run test/unit/fixtures/scripted-agent.js as the user profile 'Scripted agent' (the
// workspace's .vscode/settings.json, written before VS Code starts), inside tmux when installed, on a tmux
// server of this run's own (TMUX_TMPDIR under the code-server state dir, killed at the end). The terminal's
// text is read from xterm's DOM rows, so the user settings turn GPU acceleration off (DOM renderer).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { REPO_ROOT, assertHostInstalled, chromiumPath, installExtension, launchChromium, startCodeServer } from '../../scripts/lib/codeServer.mjs';
import { makeGitWorkspace, runCli, tempDir } from '../../scripts/lib/workspace.mjs';
import {
  STATUS_RE, callTool, hideNotificationCenter, log, mcpEndpoint, notificationTexts, poll, rowTooltip, runCommand, runSteps,
  sessionsStatusItem, slug, statusCounts, terminalText, viewPane, waitForQuickPick,
} from './workbench.mjs';

const OUT = path.join(REPO_ROOT, '.test-output/e2e');
const AGENT_QUESTION = 'Which database should I use?';

// ---------------------------------------------------------------- the checks

const STEPS = [
  {
    name: 'workbench loads',
    timeoutMs: 120_000,
    async run({ page }) {
      await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
      await page.locator('.part.activitybar').waitFor({ timeout: 60_000 });
      await page.locator('.part.statusbar').waitFor({ timeout: 60_000 });
      // The explorer lists the workspace, so the remote file system is connected.
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'PLAN.md' }).waitFor({ timeout: 60_000 });
    },
  },
  {
    name: "the 'Baton' activity-bar item opens Baton's views",
    needs: ['workbench loads'],
    async run({ page }) {
      const item = page.locator('.part.activitybar [aria-label^="Baton"]').first();
      await item.waitFor({ timeout: 30_000 }).catch(() => { throw new Error('no activity-bar item labelled Baton'); });
      await item.click();
      await page.locator('.part.sidebar .composite.title', { hasText: 'Baton' }).waitFor({ timeout: 15_000 });
      await viewPane(page, 'Sprints & Tasks').waitFor({ timeout: 15_000 });
    },
  },
  {
    name: "'Sprints & Tasks' shows the imported sprints ('Phase 1')",
    needs: ["the 'Baton' activity-bar item opens Baton's views"],
    async run({ page, imported }) {
      const rows = viewPane(page, 'Sprints & Tasks').locator('.monaco-list-row', { hasText: 'Phase 1' });
      await rows.first().waitFor({ timeout: 30_000 }).catch(async () => {
        const seen = await viewPane(page, 'Sprints & Tasks').locator('.pane-body').innerText().catch(() => '');
        throw new Error(`no row containing 'Phase 1' in Sprints & Tasks${imported ? '' : ' (the CLI import was skipped)'}; `
          + `the view shows: ${JSON.stringify(seen.replace(/\s+/g, ' ').slice(0, 200))}`);
      });
      log('rows with Phase 1:', (await rows.allInnerTexts()).map(t => t.replace(/\s+/g, ' ')).join(' | '));
    },
  },
  {
    name: "the status bar shows Baton's counts ('N ready · N in progress · N blocked')",
    needs: ['workbench loads'],
    async run({ page, state }) {
      state.before = await poll(() => statusCounts(page), {
        timeout: 30_000,
        message: async () => `no status-bar item matching ${STATUS_RE}; the status bar shows `
          + JSON.stringify((await page.locator('.part.statusbar').innerText()).replace(/\s+/g, ' ')),
      });
      log('status bar:', state.before.text);
    },
  },
  {
    name: "'Baton: Start Task' from the palette starts the first task of its quick pick",
    needs: ['workbench loads'],
    async run({ page, state }) {
      await runCommand(page, 'Baton: Start Task');
      const labels = await waitForQuickPick(page).catch(e => { throw new Error(`'Baton: Start Task' showed no quick pick of tasks (${e.message})`); });
      state.started = labels[0].replace(/\s+/g, ' ').trim();
      log(`quick pick has ${labels.length} item(s); picking "${state.started}"`);
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    },
  },
  {
    name: "the status bar's 'in progress' count goes up by one",
    needs: ["the status bar shows Baton's counts ('N ready · N in progress · N blocked')",
      "'Baton: Start Task' from the palette starts the first task of its quick pick"],
    async run({ page, state }) {
      const want = state.before.inProgress + 1;
      let last = null;
      await poll(async () => { last = await statusCounts(page); return last && last.inProgress === want; }, {
        timeout: 15_000, message: () => `expected ${want} in progress, status bar shows ${last ? `'${last.text}'` : 'no Baton item'}`,
      });
      log('status bar:', last.text);
    },
  },
  {
    name: 'the CLI sees the started task as IN_PROGRESS (shared BATON_HOME)',
    needs: ["'Baton: Start Task' from the palette starts the first task of its quick pick"],
    async run({ state, workspace, batonHome }) {
      const id = (/(?:^|[^A-Za-z0-9-])([A-Z]+-\d+)\b/.exec(state.started) || [])[1];
      if (!id) throw new Error(`no task id in the picked item "${state.started}"`);
      let last = 'no output';
      await poll(() => {
        const r = runCli(['tasks', '--json', '--workspace', workspace], { batonHome, cwd: workspace });
        try {
          const j = JSON.parse(r.stdout);
          const task = (Array.isArray(j) ? j : j.tasks || []).find(t => t.id === id);
          last = task ? `${id} is ${task.status}` : `${id} is not listed`;
          return task && /^IN[_ ]PROGRESS$/i.test(task.status);
        } catch { last = `exit ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 120)}`; return false; }
      }, { timeout: 15_000, interval: 1000, message: () => `\`baton tasks --json\`: ${last}` });
      log(`CLI: ${last}`);
    },
  },
  {
    name: "an agent connected over MCP asks 'Which database should the orders service use?' and waits",
    needs: ['workbench loads'],
    async run({ state, workspace, batonHome }) {
      const endpoint = await poll(() => mcpEndpoint(batonHome, workspace), {
        timeout: 30_000, message: `no live mcp-endpoint.json of VS Code under ${batonHome}/workspaces (is the MCP server on?)`,
      });
      const client = new Client({ name: 'e2e-agent', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url), { requestInit: { headers: { Authorization: `Bearer ${endpoint.token}` } } }));
      state.agent = client;
      const init = await callTool(client, 'agent_init', { agent: 'e2e-agent' });
      log(`agent session ${init.session.id} at ${endpoint.url}`);
      state.question = 'Which database should the orders service use?';
      // Not awaited: the call waits for the person's answer. Settles to { answer } or { error }.
      state.waiting = callTool(client, 'ask_human', { question: state.question, options: ['PostgreSQL', 'SQLite', 'MongoDB'], wait_seconds: 120 })
        .then(answer => ({ answer }), error => ({ error }));
      const early = await Promise.race([state.waiting, new Promise(r => setTimeout(() => r(null), 500))]);
      if (early) throw new Error(`ask_human returned before anyone answered: ${JSON.stringify(early.answer) || early.error.message}`);
    },
  },
  {
    name: "a notification '… asks: Which database …' with an 'Answer' action appears",
    shot: 'inbox-notification',
    needs: ["an agent connected over MCP asks 'Which database should the orders service use?' and waits"],
    async run({ page, smokeTestDriver }) {
      // With the smoke-test driver on (Baton loaded as extensionDevelopmentPath) the workbench shows no toasts
      // at all, so the notification is looked for in the notification center; with E2E_VSIX it pops up as a toast.
      let where = 'toast';
      let found = page.locator('.notifications-toasts .notification-toast', { hasText: 'asks: Which database' }).first();
      if (smokeTestDriver) {
        where = 'notification center';
        await runCommand(page, 'Notifications: Show Notifications');
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
        found = page.locator('.notifications-center .notification-list-item', { hasText: 'asks: Which database' }).first();
      }
      await found.waitFor({ timeout: 15_000 }).catch(async () => {
        const shown = await page.locator(smokeTestDriver ? '.notifications-center' : '.notifications-toasts').innerText().catch(() => '');
        throw new Error(`no notification containing 'asks: Which database' in the ${where}; it shows: ${JSON.stringify(shown.replace(/\s+/g, ' ').slice(0, 200))}`);
      });
      // Baton's request notifications close themselves once answered, so their actions are links in the text.
      await found.locator('a, .monaco-button', { hasText: 'Answer' }).first().waitFor({ timeout: 5000 })
        .catch(() => { throw new Error("the notification has no 'Answer' action"); });
      log(`notification (${where}):`, (await found.innerText()).replace(/\s+/g, ' ').trim());
    },
  },
  {
    name: "the Inbox view (expanded from its header) lists the agent's question",
    shot: 'inbox-view',
    needs: ["an agent connected over MCP asks 'Which database should the orders service use?' and waits",
      "the 'Baton' activity-bar item opens Baton's views"],
    async run({ page, state }) {
      if (await page.locator('.notifications-center.visible').count()) {
        await page.locator('.notifications-center .codicon-chevron-down, .notifications-center .codicon-notifications-hide').first().click({ timeout: 5000 })
          .catch(() => page.keyboard.press('Escape'));
      }
      const pane = viewPane(page, 'Inbox');
      const header = pane.locator('.pane-header').first();
      await header.waitFor({ timeout: 10_000 }).catch(() => { throw new Error("no 'Inbox' view in the Baton side bar"); });
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
      const row = pane.locator('.monaco-list-row', { hasText: state.question }).first();
      await row.waitFor({ timeout: 15_000 }).catch(async () => {
        const seen = await pane.locator('.pane-body').innerText().catch(() => '');
        throw new Error(`the Inbox view does not list the question; it shows: ${JSON.stringify(seen.replace(/\s+/g, ' ').slice(0, 200))}`);
      });
      state.inboxRow = (await row.innerText()).replace(/\s+/g, ' ').trim();
      log('inbox row:', state.inboxRow);
      if (!/Q-\d+ · e2e-agent#A-\d+/.test(state.inboxRow)) throw new Error(`the row does not show the request id and the agent: "${state.inboxRow}"`);
    },
  },
  {
    name: "clicking the Inbox row opens a quick pick of the agent's suggested answers ('PostgreSQL')",
    shot: 'inbox-quick-pick',
    needs: ["the Inbox view (expanded from its header) lists the agent's question"],
    async run({ page, state }) {
      await viewPane(page, 'Inbox').locator('.monaco-list-row', { hasText: state.question }).first().click();
      const labels = await waitForQuickPick(page);
      log('quick pick:', labels.join(' | '));
      if (!labels.some(l => l.trim() === 'PostgreSQL')) throw new Error(`no 'PostgreSQL' in the quick pick: ${labels.join(' | ')}`);
      if (!labels.some(l => l.includes('Write another answer'))) throw new Error(`no 'Write another answer…' in the quick pick: ${labels.join(' | ')}`);
      state.quickPickOpen = true;
    },
  },
  {
    name: "choosing 'PostgreSQL' answers the agent: its waiting ask_human returns 'PostgreSQL'",
    needs: ["clicking the Inbox row opens a quick pick of the agent's suggested answers ('PostgreSQL')"],
    async run({ page, state }) {
      const widget = page.locator('.quick-input-widget');
      await widget.getByRole('option', { name: 'PostgreSQL', exact: true }).click({ timeout: 5000 });
      await widget.waitFor({ state: 'hidden', timeout: 10_000 });
      const settled = await Promise.race([state.waiting, new Promise(r => setTimeout(() => r(null), 10_000))]);
      if (!settled) throw new Error('the agent\'s ask_human call is still waiting 10 s after the answer');
      if (settled.error) throw new Error(`the agent's ask_human call failed: ${settled.error.message}`);
      const { answer } = settled;
      log('agent got:', JSON.stringify({ request_id: answer.request_id, status: answer.status, answer: answer.answer, answered_by: answer.answered_by }));
      if (answer.status !== 'answered' || answer.answer !== 'PostgreSQL') throw new Error(`expected status 'answered' and answer 'PostgreSQL', got ${JSON.stringify(answer)}`);
      state.requestId = answer.request_id;
    },
  },
  {
    name: 'the answered request leaves the Inbox view\'s open requests, and its notification closes',
    shot: 'inbox-answered',
    needs: ["choosing 'PostgreSQL' answers the agent: its waiting ask_human returns 'PostgreSQL'"],
    async run({ page, state, smokeTestDriver }) {
      let stale = [];
      await poll(async () => {
        stale = (await notificationTexts(page, smokeTestDriver)).filter(t => t.includes('asks: Which database'));
        return !stale.length;
      }, { timeout: 15_000, interval: 1000, message: 'the answered request\'s notification (with its Answer action) is still shown' })
        .catch(e => { throw new Error(`${e.message}: ${JSON.stringify(stale)}`); });
      const pane = viewPane(page, 'Inbox');
      await poll(async () => !(await pane.locator('.monaco-list-row', { hasText: state.question }).count()), {
        timeout: 10_000, message: 'the answered question is still listed in the Inbox view',
      });
      // The resolved request moves to the collapsed 'Recently resolved' group.
      await pane.locator('.monaco-list-row', { hasText: 'Recently resolved' }).first().waitFor({ timeout: 5000 })
        .catch(() => { throw new Error("no 'Recently resolved' group in the Inbox view"); });
      log('inbox view:', (await pane.locator('.pane-body').innerText()).replace(/\s+/g, ' ').trim());
    },
  },
  {
    name: "'Baton: Start Agent Session…' on a ready task with the 'Scripted agent' profile starts a session",
    shot: 'session-start',
    needs: ['workbench loads'],
    async run({ page, state }) {
      await hideNotificationCenter(page);
      await runCommand(page, 'Baton: Start Agent Session…');
      const tasks = await waitForQuickPick(page).catch(e => { throw new Error(`'Baton: Start Agent Session…' showed no quick pick of tasks (${e.message})`); });
      log(`task quick pick (${tasks.length}): ${tasks.slice(0, 4).map(t => t.replace(/\s+/g, ' ').trim()).join(' | ')}${tasks.length > 4 ? ' | …' : ''}`);
      const placeholder = await page.locator('.quick-input-widget input').first().getAttribute('placeholder');
      if (!/Start an agent on which task\?/.test(placeholder || '')) throw new Error(`unexpected quick pick: placeholder ${JSON.stringify(placeholder)}`);
      if (!/No task \(free session\)/.test(tasks[0])) throw new Error(`the first item is not 'No task (free session)' but "${tasks[0]}"`);
      if (tasks.length < 2) throw new Error('no ready task is offered after \'No task (free session)\'');
      state.sessionTaskLabel = tasks[1].replace(/\s+/g, ' ').trim();
      state.sessionTaskId = (/(?:^|[^A-Za-z0-9-])([A-Z]+-\d+)\b/.exec(state.sessionTaskLabel) || [])[1];
      if (!state.sessionTaskId) throw new Error(`no task id in the item "${state.sessionTaskLabel}"`);
      log(`picking the task "${state.sessionTaskLabel}"`);
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      // The profile quick pick replaces the task quick pick.
      const widget = page.locator('.quick-input-widget');
      const scripted = widget.getByRole('option', { name: /Scripted agent/ }).first();
      await scripted.waitFor({ timeout: 15_000 }).catch(async () => {
        const rows = await widget.locator('.monaco-list-row').allInnerTexts().catch(() => []);
        throw new Error(`no 'Scripted agent' in the profile quick pick; it shows: ${rows.map(r => r.replace(/\s+/g, ' ')).join(' | ') || 'nothing'}`);
      });
      const profiles = (await widget.locator('.monaco-list-row').allInnerTexts()).map(r => r.replace(/\s+/g, ' ').trim());
      log(`profile quick pick (placeholder ${JSON.stringify(await widget.locator('input').first().getAttribute('placeholder'))}): ${profiles.join(' | ')}`);
      if (!/Scripted agent/.test(profiles[0])) throw new Error(`'Scripted agent' (baton.sessions.defaultProfile) is not offered first: ${profiles.join(' | ')}`);
      await scripted.click();
      await widget.waitFor({ state: 'hidden', timeout: 10_000 });
    },
  },
  {
    name: `the session's terminal shows the agent's output and its question ('${AGENT_QUESTION}')`,
    shot: 'session-terminal',
    timeoutMs: 45_000,
    needs: ["'Baton: Start Agent Session…' on a ready task with the 'Scripted agent' profile starts a session"],
    async run({ page, state }) {
      const tab = page.locator('.part.panel', { hasText: 'Scripted agent' }).first();
      await tab.waitFor({ timeout: 15_000 }).catch(() => { throw new Error("the terminal panel shows no terminal named 'Scripted agent …'"); });
      let text = '';
      await poll(async () => { text = await terminalText(page); return text.includes(AGENT_QUESTION); }, {
        timeout: 30_000,
        message: () => `the terminal does not show '${AGENT_QUESTION}'; its text is ${JSON.stringify(text.slice(-400))}`,
      });
      if (!/step 1: reading the repository/.test(text)) throw new Error(`the agent's work output ('step 1: reading the repository') is missing: ${JSON.stringify(text.slice(-400))}`);
      log('terminal:', JSON.stringify(text.split('\n').filter(l => l.trim()).slice(-6).join(' ⏎ ')));
      state.sessionTerminal = true;
    },
  },
  {
    name: "the status bar's sessions item shows '1 waiting'",
    shot: 'session-status-bar',
    timeoutMs: 30_000,
    needs: ["'Baton: Start Agent Session…' on a ready task with the 'Scripted agent' profile starts a session"],
    async run({ page, state, smokeTestDriver }) {
      let last = null;
      await poll(async () => { last = await sessionsStatusItem(page); return last && /\b1 waiting\b/.test(last); }, {
        timeout: 20_000,
        message: async () => `the sessions item shows ${last ? `'${last}'` : 'nothing'}; the status bar shows `
          + JSON.stringify((await page.locator('.part.statusbar').innerText()).replace(/\s+/g, ' ')),
      });
      log('sessions status item:', last);
      // baton.sessions.notifyWhenWaiting is on by default: the '<title> is waiting for your input.' notification must show.
      let notes = [];
      await poll(async () => {
        notes = await notificationTexts(page, smokeTestDriver).catch(() => []);
        return notes.some(n => n.includes('is waiting for your input'));
      }, { timeout: 10_000, message: () => `no '… is waiting for your input' notification; shown: ${JSON.stringify(notes)}` });
      log('notification:', notes.find(n => n.includes('is waiting for your input')));
      state.statusWaiting = last;
    },
  },
  {
    name: "the Sessions view (expanded from its header) lists the session as 'waiting'",
    shot: 'sessions-view-waiting',
    needs: ["'Baton: Start Agent Session…' on a ready task with the 'Scripted agent' profile starts a session",
      "the 'Baton' activity-bar item opens Baton's views"],
    async run({ page, state }) {
      await hideNotificationCenter(page);
      const pane = viewPane(page, 'Sessions');
      const header = pane.locator('.pane-header').first();
      await header.waitFor({ timeout: 10_000 }).catch(() => { throw new Error("no 'Sessions' view in the Baton side bar"); });
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
      // Give the Sessions view room: collapse the Inbox view opened by the inbox checks.
      const inbox = viewPane(page, 'Inbox').locator('.pane-header').first();
      if ((await inbox.count()) && (await inbox.getAttribute('aria-expanded')) === 'true') await inbox.click();
      const row = pane.locator('.monaco-list-row', { hasText: state.sessionTaskId }).first();
      let seen = '';
      await poll(async () => {
        seen = (await pane.locator('.pane-body').innerText().catch(() => '')).replace(/\s+/g, ' ');
        return (await row.count()) && /\bwaiting\b/.test(await row.innerText());
      }, { timeout: 15_000, message: () => `the Sessions view lists no session on ${state.sessionTaskId} that is waiting; it shows: ${JSON.stringify(seen.slice(0, 300))}` });
      state.sessionRow = (await row.innerText()).replace(/\s+/g, ' ').trim();
      log('sessions row:', state.sessionRow);
      state.sessionId = (/(run-\d+)\b/.exec(state.sessionRow) || [])[1];
      if (!/Scripted agent/.test(state.sessionRow) || !state.sessionId) throw new Error(`the row does not show the profile and the session id: "${state.sessionRow}"`);
      // The description is cut off in a narrow side bar: the tooltip (shown in the screenshot) has the state in full.
      const tip = await rowTooltip(page, row, 'State: waiting');
      log('tooltip:', tip.slice(0, 160));
    },
  },
  {
    name: "typing 'PostgreSQL' + Enter in the terminal answers the agent: it prints 'Using PostgreSQL' and exits with code 3",
    shot: 'session-answered',
    timeoutMs: 60_000,
    needs: [`the session's terminal shows the agent's output and its question ('${AGENT_QUESTION}')`],
    async run({ page, state, smokeTestDriver }) {
      await hideNotificationCenter(page);
      // Record every line the terminal shows from now on: under tmux the agent's last screen is drawn on the
      // alternate screen, which the terminal leaves when the agent exits.
      await page.evaluate(() => {
        const seen = window.__batonTerminalSeen = new Set();
        window.__batonTerminalWatch = setInterval(() => {
          for (const rows of document.querySelectorAll('.part.panel .xterm-rows')) {
            for (const r of rows.children) { const t = r.textContent.replace(/\u00a0/g, ' ').trim(); if (t) seen.add(t); }
          }
        }, 20);
      });
      const term = page.locator('.part.panel .terminal-wrapper .xterm').filter({ visible: true }).first();
      await term.click({ timeout: 10_000 });
      await page.waitForTimeout(300);
      await page.keyboard.type('PostgreSQL', { delay: 30 });
      await page.keyboard.press('Enter');
      let text = '';
      await poll(async () => { text = await terminalText(page); return /exited with code 3\]/.test(text); }, {
        timeout: 20_000, message: () => `the terminal does not show '[${state.sessionId} exited with code 3]'; its text ends ${JSON.stringify(text.slice(-400))}`,
      });
      const seen = await page.evaluate(() => { clearInterval(window.__batonTerminalWatch); return [...window.__batonTerminalSeen]; });
      const using = seen.find(l => /Using PostgreSQL/.test(l));
      log('terminal showed:', JSON.stringify(seen.filter(l => /PostgreSQL|creating tables|finished the work/.test(l)).join(' ⏎ ')));
      log('terminal now:', JSON.stringify(text.split('\n').filter(l => l.trim()).slice(-3).join(' ⏎ ')));
      if (!using) throw new Error(`the terminal never showed 'Using PostgreSQL'; lines seen after typing: ${JSON.stringify(seen.slice(-8))}`);
      if (using.includes('\u001b') || !/^Using PostgreSQL$/.test(using.replace(/^.*?(Using)/, '$1'))) {
        throw new Error(`the agent got a different answer: "${using}"`);
      }
      // The status-bar item hides when no session runs.
      let status = null;
      await poll(async () => { status = await sessionsStatusItem(page); return !status; }, {
        timeout: 10_000, message: () => `the sessions status-bar item still shows '${status}' after the session ended`,
      });
      // The task was not completed over MCP, so the person is asked what to do with it: '… ended (exit 3) …'.
      let notes = [];
      await poll(async () => {
        notes = await notificationTexts(page, smokeTestDriver).catch(() => []);
        return notes.some(n => /ended \(exit 3\)/.test(n));
      }, { timeout: 10_000, message: () => `no '… ended (exit 3) …' notification; shown: ${JSON.stringify(notes)}` });
      log('notification:', notes.find(n => /ended \(exit 3\)/.test(n)));
    },
  },
  {
    name: "the Sessions view lists the ended session under 'History' with 'exit 3' and its last output ('Using PostgreSQL')",
    shot: 'session-history',
    needs: ["typing 'PostgreSQL' + Enter in the terminal answers the agent: it prints 'Using PostgreSQL' and exits with code 3",
      "the Sessions view (expanded from its header) lists the session as 'waiting'"],
    async run({ page, state }) {
      await hideNotificationCenter(page);
      const pane = viewPane(page, 'Sessions');
      const live = pane.locator('.monaco-list-row', { hasText: `${state.sessionId} ·` }).filter({ hasText: /waiting|working|idle|starting/ });
      await poll(async () => !(await live.count()), { timeout: 10_000, message: 'the session is still listed as live in the Sessions view' });
      const history = pane.locator('.monaco-list-row', { hasText: 'History' }).first();
      await history.waitFor({ timeout: 10_000 }).catch(() => { throw new Error("no 'History' group in the Sessions view after the session ended"); });
      if ((await history.getAttribute('aria-expanded')) !== 'true') await history.click();
      const ended = pane.locator('.monaco-list-row', { hasText: state.sessionId }).filter({ hasText: 'exit 3' }).first();
      await ended.waitFor({ timeout: 10_000 }).catch(async () => {
        const seen = (await pane.locator('.pane-body').innerText().catch(() => '')).replace(/\s+/g, ' ');
        throw new Error(`History does not list ${state.sessionId} with 'exit 3'; the view shows ${JSON.stringify(seen.slice(0, 300))}`);
      });
      log('history row:', (await ended.innerText()).replace(/\s+/g, ' ').trim());
      // Its tooltip carries the session's last output.
      const tip = await rowTooltip(page, ended, 'Last output');
      log('tooltip:', tip.slice(0, 300));
      if (!/Using PostgreSQL/.test(tip)) throw new Error(`the tooltip's last output lacks 'Using PostgreSQL': ${JSON.stringify(tip.slice(0, 300))}`);
      if (!/exit 3/.test(tip)) throw new Error(`the tooltip does not give the exit code: ${JSON.stringify(tip.slice(0, 300))}`);
    },
  },
  {
    name: "'Baton: Turn Autopilot On' shows 'Autopilot N/M' in the status bar, starts a session on a ready task, and the CLI says it is on",
    shot: 'autopilot-on',
    needs: ['workbench loads'],
    async run({ page, state, workspace, batonHome }) {
      await hideNotificationCenter(page);
      await runCommand(page, 'Baton: Turn Autopilot On');
      const bar = page.locator('.part.statusbar');
      let text = '';
      await poll(async () => { text = (await bar.innerText()).replace(/\s+/g, ' '); return /Autopilot [1-9]\d*\/\d+/.test(text); }, {
        timeout: 30_000, message: () => `the status bar shows no 'Autopilot N/M' with a running session: ${JSON.stringify(text.slice(0, 300))}`,
      });
      state.autopilotText = /Autopilot \d+\/\d+/.exec(text)[0];
      log('status bar:', state.autopilotText);
      let last = 'no output';
      await poll(() => {
        const r = runCli(['autopilot', 'status', '--json', '--workspace', workspace], { batonHome, cwd: workspace });
        try {
          const j = JSON.parse(r.stdout);
          last = `enabled ${j.enabled}, running ${j.host ? j.host.running.map(x => `${x.taskId} on ${x.agent}`).join(', ') : 'no host'}`;
          return j.enabled === true && j.host && j.host.running.length > 0;
        } catch { last = `exit ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 160)}`; return false; }
      }, { timeout: 20_000, interval: 1000, message: () => `\`baton autopilot status --json\`: ${last}` });
      log(`CLI: ${last}`);
    },
  },
  {
    name: "'Baton: Turn Autopilot Off' shows 'Autopilot off' in the status bar",
    needs: ["'Baton: Turn Autopilot On' shows 'Autopilot N/M' in the status bar, starts a session on a ready task, and the CLI says it is on"],
    async run({ page }) {
      await runCommand(page, 'Baton: Turn Autopilot Off');
      let text = '';
      await poll(async () => { text = (await page.locator('.part.statusbar').innerText()).replace(/\s+/g, ' '); return /Autopilot off/.test(text); }, {
        timeout: 15_000, message: () => `the status bar does not show 'Autopilot off': ${JSON.stringify(text.slice(0, 300))}`,
      });
    },
  },
  ...['Dark Modern', 'High Contrast', 'Light Modern'].map(theme => ({
    needs: ["the 'Baton' activity-bar item opens Baton's views"],
    name: `in the ${theme} theme the Baton views render with the theme's colors (screenshot)`,
    shot: `theme-${slug(theme)}`,
    async run({ page }) {
      await hideNotificationCenter(page);
      await runCommand(page, 'Preferences: Color Theme');
      await waitForQuickPick(page);
      const input = page.locator('.quick-input-widget input').first();
      await input.fill(theme);
      const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name').getByText(theme, { exact: true }) }).first();
      await row.waitFor({ timeout: 10_000 }).catch(() => { throw new Error(`no '${theme}' color theme in the picker`); });
      await row.click();
      const kind = { 'Dark Modern': 'vs-dark', 'High Contrast': 'hc-black', 'Light Modern': 'vs' }[theme];
      await poll(() => page.evaluate(k => document.querySelector('.monaco-workbench')?.classList.contains(k), kind), {
        timeout: 10_000, message: `the workbench did not switch to ${theme} (${kind})`,
      });
      // The Baton side bar is what the screenshot is for: its trees must still show the plan.
      if (!(await page.locator('.part.sidebar .composite.title', { hasText: 'Baton' }).isVisible().catch(() => false))) {
        await page.locator('.part.activitybar [aria-label^="Baton"]').first().click();
      }
      const pane = viewPane(page, 'Sprints & Tasks');
      await pane.locator('.monaco-list-row').first().waitFor({ timeout: 10_000 }).catch(() => {
        throw new Error(`the Sprints & Tasks view shows no rows in the ${theme} theme`);
      });
      await page.waitForTimeout(500);
    },
  })),
];


async function main() {
  const t0 = Date.now();
  for (const f of ['dist/extension.js', 'dist/cli.js']) {
    if (!fs.existsSync(path.join(REPO_ROOT, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
  assertHostInstalled();
  chromiumPath();
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });

  const workspace = makeGitWorkspace({ prefix: 'baton-e2e-ws' });
  const batonHome = tempDir('baton-e2e-home');
  log('workspace', workspace, '· BATON_HOME', batonHome);
  // The agent-session checks run a scripted agent (test/unit/fixtures/scripted-agent.js: prints work, asks
  // 'Which database should I use? ', reads a line, prints 'Using <answer>', exits 3) as a user profile.
  fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({
    'baton.sessions.profiles': [{
      id: 'scripted', label: 'Scripted agent', command: process.execPath,
      args: [path.join(REPO_ROOT, 'test/unit/fixtures/scripted-agent.js')], prompt: 'none',
    }],
    'baton.sessions.defaultProfile': 'scripted',
  }, null, 2) + '\n');

  // Import the plan before VS Code starts, as a user of the CLI would.
  let imported = false;
  const imp = runCli(['import', 'PLAN.md', '--workspace', workspace], { batonHome, cwd: workspace });
  if (imp.status !== 0) {
    throw new Error(`the plan import failed: \`node dist/cli.js import PLAN.md --workspace WS\` exited ${imp.status}: `
      + `${(imp.stderr || imp.stdout).trim().split('\n')[0]}`);
  } else {
    imported = true;
    const list = runCli(['tasks', '--json', '--workspace', workspace], { batonHome, cwd: workspace });
    let summary;
    try {
      const j = JSON.parse(list.stdout);
      const tasks = Array.isArray(j) ? j : (j.tasks || []);
      summary = `${tasks.length} task(s) listed by \`baton tasks --json\``;
    } catch {
      summary = `\`baton tasks --json\` printed no JSON (exit ${list.status}): ${JSON.stringify(list.stdout.trim().slice(0, 80))}`;
    }
    log(`imported PLAN.md with the CLI: ${imp.stdout.trim().split('\n')[0] || '(no output)'}; ${summary}`);
  }

  const vsix = process.env.E2E_VSIX && path.resolve(process.env.E2E_VSIX);
  const stateDir = tempDir('baton-e2e-cs');
  // Sessions run inside tmux (baton.sessions.useTmux defaults to true): give this run its own tmux server
  // (TMUX_TMPDIR holds the socket), so it neither meets nor leaves sessions on the user's 'baton' server.
  const tmuxTmpDir = path.join(stateDir, 'tmux');
  fs.mkdirSync(tmuxTmpDir, { recursive: true, mode: 0o700 });
  let server;
  let browser;
  let results = new Map();
  const state = {};
  const consoleLines = [];
  try {
    if (vsix) {
      log('installing', path.relative(REPO_ROOT, vsix), 'into the extensions dir');
      installExtension({ vsix, extensionsDir: path.join(stateDir, 'extensions'), stateDir });
    }
    // The web workbench honours the URL's payload (extensionDevelopmentPath) only with the smoke-test driver on.
    server = await startCodeServer({
      folder: workspace, stateDir, env: { BATON_HOME: batonHome, TMUX_TMPDIR: tmuxTmpDir },
      // xterm's DOM renderer, so the terminal checks can read the terminal's text (WebGL/canvas keep none in the DOM).
      settings: { 'terminal.integrated.gpuAcceleration': 'off' }, logDir: OUT, smokeTestDriver: !vsix });
    const payload = vsix ? undefined : [['extensionDevelopmentPath', server.remoteUri(REPO_ROOT)], ['skipWelcome', 'true']];
    log(`code-server ${server.url} up after ${Date.now() - t0} ms; Baton loaded ${vsix ? 'from the VSIX' : 'as extensionDevelopmentPath'}`);

    browser = await launchChromium({ headless: !process.env.E2E_HEADFUL });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(`[${m.type()}] ${m.text()}`); });
    page.on('pageerror', e => consoleLines.push(`[pageerror] ${e.message}`));
    await page.goto(server.urlFor({ folder: workspace, payload }));
    results = await runSteps(STEPS, OUT, { page, server, workspace, batonHome, imported, state, smokeTestDriver: !vsix });
  } finally {
    fs.writeFileSync(path.join(OUT, 'browser-console.log'), consoleLines.join('\n') + '\n');
    if (state.agent) await state.agent.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (server) {
      const failed = [...results.values()].filter(v => !v).length;
      if (failed || results.size === 0) server.copyLogs(OUT);
      await server.stop();
    }
    spawnSync('tmux', ['-L', 'baton', 'kill-server'], { env: { ...process.env, TMUX_TMPDIR: tmuxTmpDir }, stdio: 'ignore' });
    fs.rmSync(stateDir, { recursive: true, force: true });
    if (!process.env.KEEP_TEMP) {
      fs.rmSync(workspace, { recursive: true, force: true });
      fs.rmSync(batonHome, { recursive: true, force: true });
    }
  }
  const passed = [...results.values()].filter(Boolean).length;
  const failed = STEPS.length - passed;
  log(`e2e finished in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots and logs in ${path.relative(REPO_ROOT, OUT)}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(code => process.exit(code), e => {
  console.error('#', e.stack || e);
  console.log(`0 passed, ${STEPS.length} failed`);
  process.exit(2);
});
