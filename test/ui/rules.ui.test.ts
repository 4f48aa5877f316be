/**
 * The Rule Matches view as a person sees it: the packaged .vsix in
 * code-server, a rule from user settings, a failed run's report file opened
 * in the workspace matching it; screenshots of the notification and the view
 * in test-results/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { collapsePane, expandPane, openChefConsulContainer, openFile, viewPane, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');
const REPORT = 'chef-run-report-20261130220141.json';

describe('UI: the Rule Matches view and a rule notification', function () {
  this.timeout(180_000);
  let wb: Workbench;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-rules-ws-'));
    fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', 'chef', REPORT), path.join(folder, REPORT));
    wb = await openWorkbench({
      vsix: VSIX,
      folder,
      viewport: { width: 1400, height: 900 },
      settings: {
        'chefConsul.rules': [
          { name: 'failed runs', kind: 'run-failed', notify: ['vscode'] },
          { name: 'downloads', kind: 'resource-failed', resourceType: 'remote_file', notify: [] },
          { name: 'slow runs', kind: 'slow-run', factor: 3 },
        ],
      },
    });
    await openChefConsulContainer(wb.page);
  });

  after(async () => {
    await wb?.close();
  });

  it('shows what the view offers before anything matched', async () => {
    for (const pane of ['Nodes', 'Services', 'Key/Value', 'Phases']) await collapsePane(wb.page, pane).catch(() => undefined);
    await expandPane(wb.page, 'Rule Matches');
    await viewPane(wb.page, 'Rule Matches').locator('.welcome-view-content', { hasText: 'No matches yet' }).waitFor({ timeout: 30_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'rules-no-matches.png') });
  });

  it('a failed run in an opened report file matches: a notification, and the match under each rule with its reason', async () => {
    // Quick Open, then its tab: the report editor is a webview, not a text editor.
    await openFile(wb.page, REPORT);
    const toast = wb.page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'Rule "failed runs" matched on web-1' }).first();
    await toast.waitFor({ timeout: 30_000 });
    await viewRow(wb.page, 'Rule Matches', 'failed runs').waitFor({ timeout: 15_000 });
    await viewRow(wb.page, 'Rule Matches', 'downloads').waitFor({ timeout: 15_000 });
    await viewPane(wb.page, 'Rule Matches').locator('.monaco-list-row', { hasText: 'remote_file[/opt/shop/releases/shop-2.4.1.tar.gz] failed' }).first().waitFor({ timeout: 15_000 });
    // The report editor has rendered the run the rules matched.
    const report = wb.page.frameLocator('iframe.webview.ready').first().frameLocator('iframe#active-frame');
    await report.locator('details.failure > summary', { hasText: 'Failed: remote_file' }).waitFor({ timeout: 60_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'rules-matched.png') });
    // Only the rule that asked for it notified.
    const downloads = wb.page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'Rule "downloads"' });
    if (await downloads.count()) throw new Error('the rule with notify: [] notified');
  });
});
