/**
 * The Chef Report view as a person sees it, in a dark and a light theme: a
 * node's failed Chef run opened from the Runs view, its failure with a
 * section, and a file's diff in the diff editor. Screenshots in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { connect } from '../../src/core/consul/client';
import { AdhocRun } from '../../src/core/runs/adhocEngine';
import { RunRegistry } from '../../src/core/runs/registry';
import { clusterFromEnv, serverAgent } from '../support/env';
import { collapsePane, expandPane, openChefConsulContainer, viewPane, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
// CCO_VSIX: a package of one's own while others rebuild the shared one.
const VSIX = process.env.CCO_VSIX ?? path.join(ROOT, 'chef-consul-ops.vsix');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'chef', 'chef15-converge-failure.txt');

describe('UI: the Chef Report view', function () {
  this.timeout(240_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    // A node that printed a failed Chef run with a file diff, recorded in KV as any run is.
    const connection = await connect({ name: 'ui-chef', address: server.httpAddr }, undefined);
    const registry = new RunRegistry();
    try {
      const run = await new AdhocRun(connection, registry, { command: `cat '${FIXTURE}'; exit 1`, node: '^db-1$', startedBy: 'ui-test' }).done;
      assert.equal(run.phases[0].nodes[0]?.status, 'error');
    } finally {
      registry.dispose();
      connection.dispose();
    }
  });

  for (const [theme, file] of [
    ['Default Dark Modern', 'chef-report-dark.png'],
    ['Default Light Modern', 'chef-report-light.png'],
  ] as const) {
    it(`opens a node's Chef report from the Runs view, with its failure and a diff (${theme})`, async () => {
      const wb: Workbench = await openWorkbench({
        vsix: VSIX,
        folder: fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-chef-')),
        env: { CONSUL_HTTP_ADDR: server.httpAddr },
        settings: { 'workbench.colorTheme': theme },
        viewport: { width: 1500, height: 950 },
      });
      try {
        const page = wb.page;
        await openChefConsulContainer(page);
        for (const pane of ['Nodes', 'Services', 'Phases', 'Events']) await collapsePane(page, pane);
        await expandPane(page, 'Runs');
        const runRow = viewRow(page, 'Runs', 'chef15-converge-failure');
        await runRow.waitFor({ timeout: 30_000 });
        await runRow.locator('.monaco-tl-twistie').click();
        const phaseRow = viewPane(page, 'Runs').locator('.monaco-list-row').filter({ hasText: /^\s*1\. cat/ }).first();
        await phaseRow.locator('.monaco-tl-twistie').click();
        const nodeRow = viewRow(page, 'Runs', 'db-1');
        await nodeRow.waitFor({ timeout: 10_000 });
        await nodeRow.hover();
        await nodeRow.locator('.action-label[aria-label="Open Chef Report"]').click();

        const report = viewPane(page, 'Chef Report');
        await report.locator('.monaco-list-row[aria-label^="Failed: execute[run shop migrations]"]').waitFor({ timeout: 30_000 });
        // The report gets the side bar to itself (other views come and go: collapse whatever is open).
        const others = page.locator('.sidebar .pane-header[aria-expanded="true"]').filter({ hasNotText: /chef report/i });
        // On the chevron: the middle of a header may be one of its view's actions.
        for (let i = 0; i < 10 && (await others.count()); i++) await others.first().click({ position: { x: 8, y: 10 } });
        await report.locator('.monaco-list-row', { hasText: 'Resource Declaration' }).first().click();
        const diffRow = report.locator('.monaco-list-row[aria-label^="/opt/shop/migrations/0042_orders.sql"]');
        await diffRow.waitFor({ timeout: 10_000 });
        await diffRow.click();
        // The diff editor, both sides rebuilt from Chef's diff.
        await page.locator('.editor-instance .monaco-diff-editor').first().waitFor({ timeout: 20_000 });
        await page.locator('.monaco-diff-editor .view-line', { hasText: "currency char(3) not null default 'EUR'" }).first().waitFor({ timeout: 20_000 });
        assert.ok(await report.locator('.monaco-list-row', { hasText: 'cookbook_file[/opt/shop/migrations/0042_orders.sql]' }).count());
        await page.waitForTimeout(500);
        await page.screenshot({ path: path.join(RESULTS, file) });
      } catch (e) {
        await wb.page.screenshot({ path: path.join(RESULTS, file.replace('.png', '-FAILED.png')) }).catch(() => undefined);
        throw e;
      } finally {
        await wb.close();
      }
    });
  }
});
