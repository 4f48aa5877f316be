/**
 * The run monitor in the real workbench (code-server + Chromium): a real run
 * on the cluster streams into the panel; filters, search, follow-tail,
 * hide/show and a window reload are driven as a person would; XSS payloads
 * in a run's output and in a node's name never execute, and the page's CSP
 * reports no violation during the whole run. Screenshots in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { connect } from '../../src/core/consul/client';
import { listRuns } from '../../src/core/runs/history';
import { isFinished } from '../../src/core/runs/model';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { openFile, reloadWindow, runFromPalette as runFromWorkbenchPalette } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');
const PROFILE = 'ui-monitor';
/** A node in the catalog whose name is an XSS payload: it never answers remote exec, so it ends lost. */
const EVIL_NODE = '<img src=x onerror=window.__xss=2>';
const PAYLOAD =
  `<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> <a href="javascript:window.__xss=1">js-link</a> ` +
  `\\033]8;;javascript:window.__xss=1\\033\\\\osc8-link\\033]8;;\\033\\\\ \\033[31mred-text\\033[0m`;
/**
 * The test says when the run ends (the agents are processes on this machine): until then
 * two lines a second on every node, one payload line among them; at most 5 min.
 */
const STOP_FILE = path.join(os.tmpdir(), `cco-ui-monitor-stop-${process.pid}-${Date.now()}`);
const SCRIPT = `for i in $(seq 1 600); do echo "tick $i of the monitor test"; if [ $i = 5 ]; then printf '${PAYLOAD}\\n'; fi; if [ -e ${STOP_FILE} ]; then break; fi; sleep 0.5; done; echo monitor-test-done`;

/**
 * CSP violations of every frame, the webviews' included, as Chromium logs them ("Refused to …
 * because it violates the following Content Security Policy directive"). A page listener would
 * not do: VS Code writes a webview's HTML into its frame with document.open(), which removes
 * the frame's event listeners. The last test checks that a planted violation is seen.
 */
const cspViolations: string[] = [];

describe('UI: run monitor', function () {
  this.timeout(300_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let wb: Workbench;
  let folder: string;
  let userDataDir: string;
  let page: Page;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    await consulPut(server.httpAddr, '/v1/catalog/register', { Node: EVIL_NODE, Address: '127.0.0.250' });
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-monitor-'));
    fs.writeFileSync(path.join(folder, 'task.yml'), 'events: {}\ntasks: {}\n');
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-monitor-user-'));
    fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
    // A keybinding with arguments starts the run without any prompt, as the README describes.
    fs.writeFileSync(
      path.join(userDataDir, 'User', 'keybindings.json'),
      JSON.stringify([{ key: 'ctrl+alt+shift+f1', command: 'chefConsul.runCommand', args: { command: SCRIPT, node: '.*', ignoreBusyNodes: true } }]),
    );
    wb = await openWorkbench({
      vsix: VSIX,
      folder,
      userDataDir,
      settings: {
        'chefConsul.profiles': [{ name: PROFILE, address: server.httpAddr }],
        'chefConsul.activeProfile': PROFILE,
        'workbench.colorTheme': 'Default Dark Modern',
      },
      viewport: { width: 1400, height: 900 },
    });
    page = wb.page;
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${m.location().url}: ${m.text()}`);
    });
  });

  after(async () => {
    // A run still going (a test failed before its end) stops: its nodes would stay busy for other suites.
    fs.writeFileSync(STOP_FILE, '');
    await wb?.close();
    if (runId) {
      const connection = await connect({ name: 'ui-monitor', address: server.httpAddr }, undefined).catch(() => undefined);
      try {
        if (connection) await eventually('the run to end', async () => (await listRuns(connection)).find((r) => r.id === runId && isFinished(r.status)), 30_000, 300).catch(() => undefined);
      } finally {
        connection?.dispose();
      }
    }
    fs.rmSync(STOP_FILE, { force: true });
    await consulPut(server.httpAddr, '/v1/catalog/deregister', { Node: EVIL_NODE }).catch(() => undefined);
    for (const d of [folder, userDataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  let runId: string;

  it('streams a real run live into the panel', async () => {
    // The extension activates with the folder's task.yml; wait for it to be connected (the status bar names the profile).
    await page.locator('.statusbar-item', { hasText: PROFILE }).first().waitFor({ timeout: 60_000 });
    await page.keyboard.press('Control+Alt+Shift+F1');
    const connection = await connect({ name: 'ui-monitor', address: server.httpAddr }, undefined);
    try {
      const run = await eventually('the run to start', async () => (await listRuns(connection)).find((r) => r.command?.includes('monitor test') && !isFinished(r.status)), 20_000, 200);
      runId = run.id;
    } finally {
      connection.dispose();
    }
    await runFromPalette(page, 'Consul: Open Run Monitor');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: runId }).first().click({ timeout: 15_000 });
    const frame = await monitorFrame(page);
    await frame.locator('h1', { hasText: 'Command' }).waitFor({ timeout: 20_000 });
    assert.match(await frame.locator('.badge').first().innerText(), /running|pending/);
    const first = await received(frame);
    await eventually('more lines while the run goes on', async () => (await received(frame)) > first + 10, 15_000, 200);
    const status = await frame.locator('.badge').first().innerText();
    assert.match(status, /running/, `lines arrive while the run is running (status: ${status})`);
    // The grid has every node, the XSS-named one as text.
    await frame.locator('th[scope=row]', { hasText: 'web-1' }).waitFor({ timeout: 10_000 });
    assert.equal(await frame.locator('th[scope=row]', { hasText: EVIL_NODE }).count(), 1, 'the payload node name shows as text');
    await page.screenshot({ path: path.join(RESULTS, 'monitor-running.png') });
    await setTheme(page, 'Light Modern');
    await page.screenshot({ path: path.join(RESULTS, 'monitor-running-light.png') });
    await setTheme(page, 'Dark Modern');
  });

  it('filters by node and by status', async () => {
    const frame = await monitorFrame(page);
    await frame.locator('td.cell[data-key="0/db-1"]').click();
    await eventually('only db-1 lines', async () => {
      const rows = await terminalText(frame);
      return rows.includes('tick') && !/web-1\s+│/.test(rows) && !/db-1\s+│/.test(rows) ? rows : undefined;
    }, 10_000, 200);
    // Back to all nodes merged: prefixes show.
    await chooseOption(frame, '#node-filter', 'All nodes, merged');
    let shown = '';
    await eventually('merged lines with node prefixes', async () => /[\w-]+\s+│ (tick|monitor-test-done)/.test((shown = await terminalText(frame))), 10_000, 200).catch((e) => {
      throw new Error(`${(e as Error).message}; rows: ${shown.slice(-600)}`);
    });
    // The XSS node never acknowledges (pending, then lost): it is not among the running ones.
    await chooseOption(frame, '#status-filter', 'Running');
    await eventually('only the running nodes in the grid', async () => (await frame.locator('th[scope=row]').allInnerTexts()).sort().join('|') === 'consul-server-1|db-1|web-1', 15_000, 200);
    await chooseOption(frame, '#status-filter', 'Any status');
    await frame.locator('th[scope=row]', { hasText: 'db-1' }).waitFor({ timeout: 10_000 });
  });

  it('searches with highlighting and next/previous', async () => {
    const frame = await monitorFrame(page);
    const search = frame.locator('#search input').first();
    await search.fill('tick 1');
    await eventually('matches counted', async () => /\d+ of \d+/.test(await frame.locator('.search-count').innerText()), 10_000, 200);
    const before = await frame.locator('.search-count').innerText();
    await frame.locator('#search-next').click();
    await eventually('the next match', async () => (await frame.locator('.search-count').innerText()) !== before, 5_000, 100);
    const after = await frame.locator('.search-count').innerText();
    await frame.locator('#search-prev').click();
    await eventually('the previous match', async () => (await frame.locator('.search-count').innerText()) !== after, 5_000, 100);
    assert.ok((await frame.locator('.xterm-decoration-container .xterm-decoration').count()) > 0, 'matches are highlighted');
    await search.fill('');
  });

  it('follows the tail, stops when scrolled up, resumes at the bottom', async () => {
    const frame = await monitorFrame(page);
    const follow = frame.locator('#follow');
    const output = frame.locator('.output-host');
    await output.focus();
    await output.press('PageUp');
    await output.press('PageUp');
    await eventually('follow off after scrolling up', async () => (await follow.getAttribute('aria-checked')) === 'false', 5_000, 100);
    await output.press('End');
    await eventually('follow on at the bottom', async () => (await follow.getAttribute('aria-checked')) === 'true', 5_000, 100);
  });

  it('comes back with its filters after being hidden', async () => {
    let frame = await monitorFrame(page);
    await chooseOption(frame, '#node-filter', 'web-1');
    await openFile(page, 'task.yml');
    await eventually('the monitor page to go away', async () => !(await findMonitorFrame(page)), 10_000, 200);
    await page.locator('.tabs-container .tab', { hasText: /^Run:/ }).first().click();
    frame = await monitorFrame(page);
    await frame.locator('td.cell.selected[data-key="0/web-1"]').waitFor({ timeout: 10_000 });
    await eventually('only web-1 lines again', async () => {
      const rows = await terminalText(frame);
      return rows.includes('tick') && !/│/.test(rows);
    }, 10_000, 200);
    await eventually('its lines restored', async () => (await received(frame)) > 10, 10_000, 200);
    await chooseOption(frame, '#node-filter', 'All nodes, merged');
  });

  it('after the run, re-attaches to it from KV when the window reloads', async () => {
    fs.writeFileSync(STOP_FILE, '');
    const connection = await connect({ name: 'ui-monitor', address: server.httpAddr }, undefined);
    try {
      await eventually('the run to end', async () => (await listRuns(connection)).find((r) => r.id === runId && isFinished(r.status)), 60_000, 300);
    } finally {
      connection.dispose();
    }
    let frame = await monitorFrame(page);
    await eventually('the panel to show the end', async () => /error|success/.test(await frame.locator('.badge').first().innerText()), 15_000, 200);
    await assertNothingRan(page);
    await page.screenshot({ path: path.join(RESULTS, 'monitor-finished.png') });
    await setTheme(page, 'Light Modern');
    await page.screenshot({ path: path.join(RESULTS, 'monitor-finished-light.png') });
    await setTheme(page, 'Dark Modern');
    await reloadWindow(page, () => runFromPalette(page, 'Developer: Reload Window'));
    frame = await monitorFrame(page, 60_000);
    await frame.locator('h1', { hasText: 'Command' }).waitFor({ timeout: 30_000 });
    await eventually('the recorded output', async () => (await terminalText(frame)).includes('monitor-test-done'), 20_000, 300);
    assert.match(await frame.locator('.status').innerText(), /read from Consul KV/);
    await assertNothingRan(page);
  });

  it('never runs a payload from output or a node name, and the CSP saw no violation', async () => {
    const frame = await monitorFrame(page);
    // One node's output from its top: the payload line is near the start.
    await frame.locator('td.cell[data-key="0/db-1"]').click();
    await frame.locator('.output-host').focus();
    await frame.locator('.output-host').press('Home');
    let text = '';
    await eventually('the payload line on screen', async () => (text = await terminalText(frame)).includes('osc8-link'), 10_000, 200).catch((e) => {
      throw new Error(`${(e as Error).message}; rows: ${text.slice(0, 600)}`);
    });
    assert.ok(text.includes('<img src=x onerror="window.__xss=1">'), 'the payload shows as text');
    assert.ok(text.includes('osc8-link') && !text.includes(']8;;'), 'an OSC 8 link shows its text only');
    // Clicking where the links are does nothing either.
    await frame.locator('.xterm-rows span', { hasText: 'osc8-link' }).first().click({ timeout: 2000 }).catch(() => undefined);
    await frame.locator('.xterm-rows span', { hasText: 'js-link' }).first().click({ timeout: 2000 }).catch(() => undefined);
    const planted = await frame.evaluate<string[]>(`[...document.querySelectorAll('img, script:not([src]):not(#_vscodeApiScript), a[href^="javascript:"]')].map((e) => e.outerHTML)`);
    assert.deepEqual(planted, [], 'no element from a payload in the page (the host\'s own API script aside)');
    await assertNothingRan(page);
    // The recorder sees a violation in the monitor's frame: an image from elsewhere, which its CSP refuses.
    await frame.evaluate("(() => { const i = document.createElement('img'); i.src = 'http://127.0.0.9:9/planted.png'; document.body.appendChild(i); })()");
    await eventually('the planted violation recorded', async () => cspViolations.some((v) => v.includes('planted.png')), 10_000, 200);
  });
});

async function consulPut(addr: string, urlPath: string, body: unknown): Promise<void> {
  const res = await fetch(`http://${addr}${urlPath}`, { method: 'PUT', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${urlPath}: ${res.status} ${await res.text()}`);
}

async function findMonitorFrame(page: Page): Promise<Frame | undefined> {
  for (const f of page.frames()) {
    if (f.isDetached()) continue;
    const ok = await f.evaluate<boolean>("!!document.querySelector('main#app') && !!document.body.dataset.runId").catch(() => false);
    if (ok) return f;
  }
  return undefined;
}

async function monitorFrame(page: Page, timeoutMs = 30_000): Promise<Frame> {
  return eventually('the monitor page', () => findMonitorFrame(page), timeoutMs, 250);
}

async function received(frame: Frame): Promise<number> {
  return Number((await frame.locator('.status').getAttribute('data-received')) ?? 0);
}

async function terminalText(frame: Frame): Promise<string> {
  // The rows on screen (xterm's DOM renderer).
  return frame.evaluate<string>("document.querySelector('.xterm-rows')?.textContent ?? ''");
}

async function chooseOption(frame: Frame, dropdown: string, option: string): Promise<void> {
  await frame.locator(dropdown).click();
  await frame.locator(`${dropdown} vscode-option`, { hasText: option }).first().click();
}

async function assertNothingRan(page: Page): Promise<void> {
  for (const f of page.frames()) {
    const xss = await f.evaluate<unknown>('window.__xss').catch(() => undefined);
    assert.equal(xss, undefined, `a payload ran in ${f.url()}`);
  }
  assert.deepEqual(cspViolations, [], 'CSP violations');
}

/** Preferences: Color Theme, as a user picks one; the webview gets the new theme's colours. */
async function setTheme(page: Page, theme: string): Promise<void> {
  try {
    // Ctrl+K Ctrl+T: the color theme picker, from the workbench (not the webview).
    await focusWorkbench(page);
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+T');
    await page.locator('.quick-input-widget .monaco-list-row').first().waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.keyboard.type(theme);
    await page.waitForTimeout(1000);
    await page.keyboard.press('Enter');
    await page.locator(`.monaco-workbench.${/light/i.test(theme) ? 'vs' : 'vs-dark'}`).waitFor({ timeout: 15_000 });
    await page.waitForTimeout(1000);
  } catch (e) {
    await page.screenshot({ path: path.join(RESULTS, 'monitor-theme-failure.png') });
    throw e;
  }
}

/** Keys pressed while the webview has focus stay in the webview: the Explorer's empty space takes focus instead. */
async function focusWorkbench(page: Page): Promise<void> {
  await page.locator('.part.sidebar .explorer-folders-view').first().click({ position: { x: 60, y: 200 }, timeout: 2000 }).catch(() => undefined);
}

async function runFromPalette(page: Page, command: string): Promise<void> {
  await focusWorkbench(page);
  await runFromWorkbenchPalette(page, command);
}

