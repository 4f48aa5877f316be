/**
 * The Chef server side as a person sees it, against the goiardi npm test
 * starts and seeds: the Chef view, a node's run history, a failed run in the
 * Chef Report view, and the Nodes view joined with Chef. Screenshots in
 * test-results/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { clusterFromEnv, serverAgent } from '../support/env';
import { collapsePane, expandPane, openChefConsulContainer, viewPane, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
// CCO_VSIX: a package of one's own while others rebuild the shared one.
const VSIX = process.env.CCO_VSIX ?? path.join(ROOT, 'chef-consul-ops.vsix');

/** The "Chef" pane exactly (the "Chef Report" pane's title starts the same). */
function chefPane(page: Page): Locator {
  return page.locator('.sidebar .pane').filter({ has: page.locator('.pane-header h3.title', { hasText: /^Chef$/ }) });
}

function chefRow(page: Page, text: string | RegExp): Locator {
  return chefPane(page).locator('.monaco-list-row').filter({ hasText: text }).first();
}

async function expandChefPane(page: Page): Promise<void> {
  const header = chefPane(page).locator('.pane-header').first();
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
}

describe('UI: the Chef server in the browser workbench', function () {
  this.timeout(240_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let wb: Workbench;
  let folder: string;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    const url = process.env.CCO_CHEF_URL;
    const client = process.env.CCO_CHEF_CLIENT;
    const key = process.env.CCO_CHEF_KEY;
    if (!url || !client || !key) throw new Error('CCO_CHEF_URL, CCO_CHEF_CLIENT and CCO_CHEF_KEY are not set: npm test starts goiardi and sets them.');
    fs.mkdirSync(RESULTS, { recursive: true });
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-chef-'));
    wb = await openWorkbench({
      vsix: VSIX,
      folder,
      env: { CONSUL_HTTP_ADDR: server.httpAddr },
      settings: {
        'chefConsul.chef.profiles': [{ name: 'ui-chef', serverUrl: url, clientName: client, clientKey: key }],
        'chefConsul.chef.readKnifeConfig': false,
        'chefConsul.chef.pollSeconds': 0,
      },
      viewport: { width: 1400, height: 900 },
    });
    await openChefConsulContainer(wb.page);
    // A wider side bar, so that descriptions (environment, platform, last run) read whole in the screenshots.
    const box = await wb.page.locator('.part.sidebar').boundingBox();
    if (box) {
      await wb.page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
      await wb.page.mouse.down();
      await wb.page.mouse.move(box.x + box.width + 320, box.y + box.height / 2, { steps: 8 });
      await wb.page.mouse.up();
    }
  });

  after(async () => {
    await wb?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  async function shot(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
      await wb.page.waitForTimeout(400);
      await wb.page.screenshot({ path: path.join(RESULTS, name) });
    } catch (e) {
      await wb.page.screenshot({ path: path.join(RESULTS, name.replace('.png', '-FAILED.png')) }).catch(() => undefined);
      throw e;
    }
  }

  it('shows the Chef view: nodes with environment, platform and last run, and the other groups', async () => {
    await shot('chef-view.png', async () => {
      const page = wb.page;
      for (const title of ['Nodes', 'Services', 'Key/Value', 'Phases']) await collapsePane(page, title).catch(() => undefined);
      await expandChefPane(page);
      await chefRow(page, /^Nodes/).waitFor({ timeout: 30_000 });
      await chefRow(page, /^Nodes/).click();
      await chefRow(page, 'legacy-app-1').waitFor({ timeout: 30_000 });
      await chefRow(page, /web-1.*production.*Chef ✗/).waitFor({ timeout: 10_000 });
      await chefRow(page, /legacy-app-1.*centos.*Chef: no run in 24 h · checked in 2 d ago/).waitFor({ timeout: 10_000 });
      await chefRow(page, /^Cookbooks/).waitFor({ timeout: 10_000 });
    });
  });

  it("shows a node's run history, newest first", async () => {
    await shot('chef-run-history.png', async () => {
      const page = wb.page;
      // A click on the row opens the node's JSON (its command); the twistie expands it.
      await chefRow(page, /^web-1/).locator('.monaco-tl-twistie').click();
      await chefRow(page, 'Run history').waitFor({ timeout: 10_000 });
      await chefRow(page, 'Run history').click();
      await chefRow(page, /failed · template\[/).waitFor({ timeout: 15_000 });
      await chefRow(page, /succeeded/).waitFor({ timeout: 5_000 });
    });
  });

  it("opens a failed run's report from the history: failure, backtrace, resources", async () => {
    await shot('chef-failed-run.png', async () => {
      const page = wb.page;
      await chefRow(page, /failed · template\[/).click();
      // Open Run focuses the Chef Report view itself; a click on its header now would close it again.
      const expanded = viewPane(page, 'Chef Report').locator('.pane-header[aria-expanded="true"]');
      if (!(await expanded.waitFor({ timeout: 15_000 }).then(() => true, () => false))) await expandPane(page, 'Chef Report');
      // Room for the report: the Chef view folds away.
      const chefHeader = chefPane(page).locator('.pane-header').first();
      if ((await chefHeader.getAttribute('aria-expanded')) === 'true') await chefHeader.click();
      await viewRow(page, 'Chef Report', 'web-1 · Reporting').waitFor({ timeout: 20_000 });
      await viewRow(page, 'Chef Report', 'Failed: template[').waitFor({ timeout: 10_000 });
      await viewRow(page, 'Chef Report', 'Backtrace').waitFor({ timeout: 10_000 });
    });
  });

  it('joins the Nodes view with Chef: last run, failed resource, the Chef-only node', async () => {
    await shot('nodes-view-chef.png', async () => {
      const page = wb.page;
      await collapsePane(page, 'Chef Report');
      await expandPane(page, 'Nodes');
      await viewRow(page, 'Nodes', 'Chef ✗ template[').waitFor({ timeout: 30_000 });
      await viewRow(page, 'Nodes', 'Only in Chef').waitFor({ timeout: 10_000 });
      await viewRow(page, 'Nodes', 'Only in Chef').click();
      await viewRow(page, 'Nodes', 'legacy-app-1').waitFor({ timeout: 10_000 });
      await viewPane(page, 'Nodes').locator('.monaco-list-row').filter({ hasText: /consul-server-1.*Chef/ }).first().waitFor({ timeout: 10_000 });
    });
  });
});
