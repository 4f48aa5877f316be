/**
 * Welcome states as a person meets them: the packaged .vsix in code-server,
 * Chromium clicking. One workbench with no profile at all; one with a profile
 * per state, moved from state to state with Select Profile and Set Token from
 * the palette. Screenshots of each state in test-results/welcome-*.png and of
 * the walkthrough in test-results/walkthrough.png.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { clusterFromEnv, serverAgent } from '../support/env';
import { expandPane, collapsePane, openChefConsulContainer, runFromPalette, settleWalkthroughFocus, viewPane } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The welcome content of a view pane, once it shows `text`. */
async function welcome(wb: Workbench, title: string, text: string | RegExp): Promise<Locator> {
  const content = viewPane(wb.page, title).locator('.welcome-view-content').filter({ hasText: text }).first();
  await content.waitFor({ timeout: 30_000 });
  return content;
}

/** One primary button per welcome; the rest are links. */
function buttons(content: Locator): Promise<string[]> {
  return content.locator('.monaco-button').allInnerTexts();
}

/** Clicks the welcome's "Test Connection" link and reads the error notification it raises. */
async function testConnectionSays(wb: Workbench, content: Locator, reason: RegExp): Promise<void> {
  await content.locator('a', { hasText: 'Test Connection' }).first().click();
  const toast = wb.page.locator('.notifications-toasts .notification-toast').filter({ hasText: reason }).first();
  await toast.waitFor({ timeout: 20_000 });
}

async function clearToasts(wb: Workbench): Promise<void> {
  await wb.page.keyboard.press('Escape');
  await runFromPalette(wb.page, 'Notifications: Clear All Notifications');
}

function shot(wb: Workbench, name: string): Promise<Buffer> {
  return wb.page.waitForTimeout(300).then(() => wb.page.screenshot({ path: path.join(RESULTS, name) }));
}

describe('UI: welcome states and the walkthrough', function () {
  this.timeout(240_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const secure = cluster.secure;
  let wb: Workbench | undefined;
  const folders: string[] = [];

  before(() => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
  });

  afterEach(async function () {
    // What the page showed when a step failed, for whoever reads the failure.
    const name = (this.currentTest?.title ?? '').replace(/[^a-z]+/gi, '-').slice(0, 40);
    if (this.currentTest?.state === 'failed') await wb?.page.screenshot({ path: path.join(RESULTS, `welcome-failed-${name}.png`) }).catch(() => undefined);
  });

  after(async () => {
    await wb?.close();
    for (const f of folders) fs.rmSync(f, { recursive: true, force: true });
  });

  async function open(env: NodeJS.ProcessEnv, settings: Record<string, unknown>): Promise<Workbench> {
    await wb?.close();
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-welcome-'));
    folders.push(folder);
    wb = await openWorkbench({ vsix: VSIX, folder, env, settings, viewport: { width: 1400, height: 900 } });
    await openChefConsulContainer(wb.page);
    return wb;
  }

  it('no profile and nothing at the consul CLI\'s address: Add Profile; Test Connection says why', async () => {
    const port = await unusedPort();
    const w = await open({ CONSUL_HTTP_ADDR: `127.0.0.1:${port}` }, {});
    const content = await welcome(w, 'Nodes', 'No Consul profile is set up');
    assert.deepEqual(await buttons(content), ['Add Profile']);
    // The Phases view, with no task.yml in the folder: one button.
    await expandPane(w.page, 'Phases');
    assert.deepEqual(await buttons(await welcome(w, 'Phases', 'No task.yml found')), ['Open a Folder with a task.yml…']);
    await shot(w, 'welcome-no-profile.png');
    await testConnectionSays(w, content, new RegExp(`Cannot reach Consul at http://127\\.0\\.0\\.1:${port}: connection refused`));
    await shot(w, 'welcome-no-profile-reason.png');
  });

  describe('one profile per state', () => {
    const held: net.Socket[] = [];
    let hang: net.Server;
    let hangPort: number;

    before(async () => {
      hang = net.createServer((s) => held.push(s));
      await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
      hangPort = (hang.address() as net.AddressInfo).port;
      const profiles: Array<Record<string, unknown>> = [
        { name: 'ui-hang', address: `127.0.0.1:${hangPort}` },
        { name: 'ui-bad-ca', address: 'https://127.0.0.1:1', caFile: '/nonexistent/ui-ca.pem' },
        { name: 'ui-main', address: server.httpAddr },
      ];
      if (secure) {
        profiles.push({ name: 'ui-tls', address: `https://${secure.httpsAddr}` }, { name: 'ui-acl', address: `https://${secure.httpsAddr}`, caFile: secure.caFile });
      }
      await open({ CONSUL_HTTP_ADDR: server.httpAddr }, { 'chefConsul.profiles': profiles, 'chefConsul.activeProfile': 'ui-hang' });
    });

    after(() => {
      hang?.close();
      held.forEach((s) => s.destroy());
    });

    it('connecting, then unreachable once the agent goes away', async () => {
      const w = wb!;
      assert.deepEqual(await buttons(await welcome(w, 'Nodes', 'Connecting to Consul')), []);
      await shot(w, 'welcome-connecting.png');
      const closed = new Promise((resolve) => hang.close(resolve));
      held.forEach((s) => s.destroy());
      await closed;
      const content = await welcome(w, 'Nodes', 'Consul does not answer at this profile\'s address');
      assert.deepEqual(await buttons(content), ['Select Profile…']);
      await viewPane(w.page, 'Nodes').locator('.pane-header').filter({ hasText: /connection refused|connection was reset/ }).first().waitFor({ timeout: 10_000 });
      await testConnectionSays(w, content, new RegExp(`Cannot reach Consul at http://127\\.0\\.0\\.1:${hangPort}`));
      await shot(w, 'welcome-unreachable.png');
      await clearToasts(w);
    });

    it('an unusable profile (its CA file is missing)', async () => {
      const w = wb!;
      await runFromPalette(w.page, 'Consul: Select Profile', 'ui-bad-ca');
      const content = await welcome(w, 'Nodes', 'This profile cannot be used');
      assert.deepEqual(await buttons(content), ['Add Profile']);
      await testConnectionSays(w, content, /Cannot read the CA file "\/nonexistent\/ui-ca\.pem"/);
      await shot(w, 'welcome-invalid-profile.png');
      await clearToasts(w);
    });

    it('TLS without the CA', async function () {
      if (!secure) this.skip();
      const w = wb!;
      await runFromPalette(w.page, 'Consul: Select Profile', 'ui-tls');
      const content = await welcome(w, 'Nodes', 'The TLS handshake with Consul failed');
      assert.deepEqual(await buttons(content), ['Edit the Profiles']);
      await testConnectionSays(w, content, /TLS handshake with https:\/\/127\.0\.0\.5:\d+ failed/);
      await shot(w, 'welcome-tls.png');
      await clearToasts(w);
    });

    it('an ACL agent without a token: nothing visible, no events, no runs yet', async function () {
      if (!secure) this.skip();
      const w = wb!;
      await runFromPalette(w.page, 'Consul: Select Profile', 'ui-acl');
      assert.deepEqual(await buttons(await welcome(w, 'Nodes', 'Nothing is visible with this token')), ['Set Token…']);
      await collapsePane(w.page, 'Key/Value');
      await collapsePane(w.page, 'Phases');
      await collapsePane(w.page, 'Services');
      await expandPane(w.page, 'Events');
      assert.deepEqual(await buttons(await welcome(w, 'Events', 'No events in this agent\'s buffer')), ['Fire Event…']);
      await expandPane(w.page, 'Runs');
      assert.deepEqual(await buttons(await welcome(w, 'Runs', 'No runs yet')), ['Run Event…']);
      await shot(w, 'welcome-nothing-visible.png');
    });

    it('an unknown token: refused, Test Connection says "ACL not found"', async function () {
      if (!secure) this.skip();
      const w = wb!;
      // Clicked, not Enter: "Set metronome Token…" may rank first for this text.
      await w.page.keyboard.press('F1');
      await w.page.locator('.quick-input-widget input').fill('>Consul: Set Token');
      await w.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Consul: Set Token…' }).first().click();
      await w.page.locator('.quick-input-widget .quick-input-title', { hasText: 'Consul ACL token' }).waitFor({ timeout: 10_000 });
      const input = w.page.locator('.quick-input-widget input');
      await input.fill('00000000-0000-0000-0000-000000000000');
      await w.page.keyboard.press('Enter');
      const content = await welcome(w, 'Nodes', 'Consul refused this profile\'s ACL token');
      assert.deepEqual(await buttons(content), ['Set Token…']);
      // The reason in a few words beside the title, the whole sentence from Test Connection.
      await viewPane(w.page, 'Nodes').locator('.pane-header').filter({ hasText: /ACL not found/ }).first().waitFor({ timeout: 10_000 });
      await testConnectionSays(w, content, /ACL not found/);
      await shot(w, 'welcome-forbidden.png');
      await clearToasts(w);
    });

    it('connected: the walkthrough\'s "Connect to Consul" completes, the welcome goes, the nodes come', async () => {
      const w = wb!;
      await runFromPalette(w.page, 'Welcome: Open Walkthrough', 'Get started with Chef + Consul Ops');
      await w.page.locator('.getting-started-step', { hasText: 'Connect to Consul' }).first().waitFor({ timeout: 30_000 });
      // The page focuses the step it opened on 250 ms later: that would close the quick pick below.
      await settleWalkthroughFocus(w.page);
      // The welcome's own link: "select another profile".
      await viewPane(w.page, 'Nodes').locator('.welcome-view-content a', { hasText: 'select another profile' }).first().click();
      await w.page.locator('.quick-input-list .monaco-list-row', { hasText: 'ui-main' }).first().click();
      await expandPane(w.page, 'Nodes');
      await viewPane(w.page, 'Nodes').locator('.monaco-list-row', { hasText: cluster.agents[0].name }).first().waitFor({ timeout: 30_000 });
      assert.equal(await viewPane(w.page, 'Nodes').locator('.welcome-view-content').count(), 0);
      // Completed on the connection context key (chefConsul.connectionState == connected) as it turned.
      await w.page.waitForFunction(
        "[...document.querySelectorAll('.getting-started-step')].some((s) => /Connect to Consul/.test(s.textContent || '') && (s.classList.contains('complete') || !!s.querySelector('.complete, .codicon-pass-filled')))",
        undefined,
        { timeout: 15_000 },
      );
      await shot(w, 'walkthrough.png');
    });
  });
});
