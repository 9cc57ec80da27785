// Helpers of the Chromium e2e scenarios (test/e2e/run.mjs, test/e2e/loop.mjs): driving VS Code's workbench
// (command palette, quick picks, views, notifications, the status bar), reaching Baton's MCP server from
// the test process, polling with a timeout, and the step runner.
import fs from 'node:fs';
import path from 'node:path';

export const STATUS_RE = /(\d+) ready · (\d+) in progress · (\d+) blocked/;
export const SESSIONS_STATUS_RE = /\d+ working(?: · \d+ (?:waiting|idle))*/;

export const log = (...a) => console.log('#', ...a);

export const slug = s => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);


/** Opens the command palette and runs the command with this exact title (e.g. 'Baton: Start Task'). */
export async function runCommand(page, title) {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input').first();
  // Escape typed into a focused agent terminal would reach the agent: move the focus out of it first.
  if (await page.evaluate(() => !!document.activeElement?.closest('.xterm'))) {
    await page.locator('.part.editor').click({ position: { x: 200, y: 200 } }).catch(() => {});
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    try { await input.waitFor({ state: 'visible', timeout: 5000 }); break; } catch {
      await page.locator('.part.editor').click({ position: { x: 200, y: 200 } }).catch(() => {});
    }
  }
  await input.fill(`>${title}`);
  // The command whose label is exactly the title: the palette's first (focused) row may be another command
  // that merely contains it ('Baton: Start Task' also matches 'Baton: Start Agents on Ready Tasks…').
  const row = widget.locator('.monaco-list-row').filter({ has: page.locator('.label-name').getByText(title, { exact: true }) }).first();
  await row.waitFor({ timeout: 10_000 }).catch(() => {
    throw new Error(`command '${title}' is not in the command palette`);
  });
  await row.click();
}

/**
 * Waits for a quick pick (not the command palette) with at least one row and returns the rows' labels;
 * fails at once when an error dialog or error notification shows up instead.
 */
export async function waitForQuickPick(page, timeout = 15_000) {
  return poll(async () => {
    const state = await page.evaluate(() => {
      const visible = el => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      const w = document.querySelector('.quick-input-widget');
      const i = w && w.querySelector('input');
      if (visible(w) && i && !i.value.startsWith('>')) {
        const rows = [...w.querySelectorAll('.monaco-list-row')].map(r => {
          const parts = [...r.querySelectorAll('.label-name, .label-description')].map(e => e.textContent.trim()).filter(Boolean);
          return parts.length ? parts.join(' ') : r.innerText;
        });
        if (rows.length) return { rows };
      }
      const dialog = document.querySelector('.monaco-dialog-box');
      if (visible(dialog)) return { error: `dialog: ${dialog.innerText}` };
      const toast = [...document.querySelectorAll('.notifications-toasts .notification-toast')]
        .find(t => visible(t) && t.querySelector('.codicon-error'));
      if (toast) return { error: `error notification: ${toast.innerText}` };
      return null;
    });
    if (state && state.error) throw new Error(state.error.replace(/\s+/g, ' ').trim());
    return state && state.rows;
  }, { timeout, message: 'no quick pick appeared' });
}

/** The Baton status-bar item's counts, or null when it is not shown. */
export async function statusCounts(page) {
  const item = page.locator('.part.statusbar .statusbar-item', { hasText: STATUS_RE }).first();
  if (!(await item.count())) return null;
  const text = (await item.innerText()).replace(/\s+/g, ' ').trim();
  const m = STATUS_RE.exec(text);
  return m && { text, ready: +m[1], inProgress: +m[2], blocked: +m[3] };
}

/** The pane of a view in the side bar, by its title. */
export const viewPane = (page, title) => page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: title }) });

/**
 * The MCP endpoint Baton's VS Code publishes for the workspace: { url, token }, once the registry file
 * ($BATON_HOME/workspaces/<hash>.json) points at a storage folder whose mcp-endpoint.json names a live process.
 */
export function mcpEndpoint(batonHome, workspace) {
  const dir = path.join(batonHome, 'workspaces');
  const real = fs.realpathSync(workspace);
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter(n => n.endsWith('.json')) : []) {
    try {
      const entry = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      if (!entry.storageDir || fs.realpathSync(entry.workspace) !== real) continue;
      const info = JSON.parse(fs.readFileSync(path.join(entry.storageDir, 'mcp-endpoint.json'), 'utf8'));
      process.kill(info.pid, 0); // throws when the owner is gone (a stale file)
      if (info.kind !== 'vscode') continue;
      return { url: info.url, token: fs.readFileSync(info.tokenFile, 'utf8').trim() };
    } catch {
      // not published yet, or stale
    }
  }
  return null;
}

/** Calls an MCP tool and returns its JSON answer; throws with the tool's message when it fails. */
export async function callTool(client, name, args = {}, timeout = 120_000) {
  const result = await client.callTool({ name, arguments: args }, undefined, { timeout });
  const text = (result.content || []).find(c => c.type === 'text')?.text ?? '';
  if (result.isError) throw new Error(`${name} failed: ${text}`);
  return JSON.parse(text);
}

export async function poll(fn, { timeout, interval = 250, message }) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise(r => setTimeout(r, interval));
  }
  throw new Error(typeof message === 'function' ? await message(last) : message);
}

/**
 * The text of the terminal panel's visible terminal: xterm's DOM rows (DOM renderer), else its accessibility
 * tree (screen-reader mode), else '' (a canvas/WebGL renderer leaves no text in the DOM).
 */
export async function terminalText(page) {
  return page.evaluate(() => {
    const visible = el => !!el && el.getClientRects().length > 0;
    const terms = [...document.querySelectorAll('.part.panel .terminal-wrapper .xterm, .part.panel .xterm')].filter(visible);
    const texts = terms.map(t => {
      const rows = t.querySelector('.xterm-rows');
      const a11y = t.querySelector('.xterm-accessibility-tree');
      const fromRows = rows ? [...rows.children].map(r => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n') : '';
      const fromA11y = a11y ? a11y.innerText : '';
      return fromRows.trim() ? fromRows : fromA11y;
    });
    return texts.join('\n').trim();
  });
}

/** The Baton sessions status-bar item ('$(hubot) N working · M waiting'), or null when hidden. */
export async function sessionsStatusItem(page) {
  const byId = page.locator('.part.statusbar [id="baton-dev.baton.baton.sessions"]');
  const item = (await byId.count()) ? byId.first() : page.locator('.part.statusbar .statusbar-item', { hasText: SESSIONS_STATUS_RE }).first();
  if (!(await item.count()) || !(await item.isVisible())) return null;
  const text = (await item.innerText()).replace(/\s+/g, ' ').trim();
  return text || null;
}

/** The texts of a notification list (the toasts, or the notification center with the smoke-test driver on). */
export async function notificationTexts(page, smokeTestDriver) {
  if (smokeTestDriver) {
    await runCommand(page, 'Notifications: Show Notifications');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(300);
  }
  const sel = smokeTestDriver ? '.notifications-center .notification-list-item' : '.notifications-toasts .notification-toast';
  const texts = (await page.locator(sel).allInnerTexts()).map(t => t.replace(/\s+/g, ' ').trim());
  if (smokeTestDriver) await hideNotificationCenter(page);
  return texts;
}

/** Hovers a tree row until its tooltip (containing `text`) shows; returns the tooltip's text. */
export async function rowTooltip(page, row, text) {
  const hover = page.locator('.monaco-hover, .workbench-hover').filter({ visible: true }).filter({ hasText: text }).first();
  await poll(async () => {
    await row.hover({ position: { x: 60, y: 10 } });
    return hover.waitFor({ timeout: 3000 }).then(() => true, async () => { await page.mouse.move(700, 300); return false; });
  }, { timeout: 20_000, message: `hovering the row shows no tooltip with '${text}'` });
  return (await hover.innerText()).replace(/\s+/g, ' ').trim();
}

export async function hideNotificationCenter(page) {
  if (await page.locator('.notifications-center.visible').count()) {
    await page.locator('.notifications-center .codicon-chevron-down, .notifications-center .codicon-notifications-hide').first().click({ timeout: 5000 })
      .catch(() => page.keyboard.press('Escape'));
  }
}


/**
 * Runs `steps` in order ({ name, needs?, timeoutMs?, shot?, run(ctx) }): a step whose `needs` did not all pass is
 * skipped; each prints `ok - NAME (S s)` or `not ok - NAME` and its reason, and leaves a screenshot
 * `out/NN-<shot or slug of the name>.png`. Returns a Map of step name → passed.
 */
export async function runSteps(steps, out, ctx) {
  const results = new Map();
  let n = 0;
  for (const step of steps) {
    n++;
    const t = Date.now();
    const shot = path.join(out, `${String(n).padStart(2, '0')}-${step.shot || slug(step.name)}.png`);
    const unmet = (step.needs || []).filter(d => results.get(d) !== true);
    let error = null;
    if (unmet.length) {
      error = `skipped: needs ${unmet.map(d => `'${d}'`).join(', ')}`;
    } else {
      let timer;
      try {
        await Promise.race([
          step.run(ctx),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${step.timeoutMs || 60_000} ms`)), step.timeoutMs || 60_000); }),
        ]);
      } catch (e) {
        error = String((e && e.message) || e).split('\n')[0];
      } finally {
        clearTimeout(timer);
      }
      await ctx.page.screenshot({ path: shot }).catch(e => log('screenshot failed:', e.message));
    }
    results.set(step.name, !error);
    const secs = ((Date.now() - t) / 1000).toFixed(1);
    if (error) console.log(`not ok - ${step.name}\n    ${error}`);
    else console.log(`ok - ${step.name} (${secs} s)`);
  }
  return results;
}
