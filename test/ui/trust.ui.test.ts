/**
 * Workspace trust and the production confirmation as a person meets them:
 * the packaged .vsix in code-server with workspace trust on, Chromium
 * clicking, screenshots in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { connect } from '../../src/core/consul/client';
import { listRuns } from '../../src/core/runs/history';
import { isFinished } from '../../src/core/runs/model';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { openFile, runFromPalette } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');
const PROFILE = 'ui-prod';

const PLAN = `events:
  ui-prod-hello:
    ordered_tasks:
      - task: hello
tasks:
  hello:
    operations:
      - echo: hello from the lens
`;

describe('UI: workspace trust and the production confirmation', function () {
  this.timeout(180_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let wb: Workbench;
  let folder: string;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-trust-'));
    fs.mkdirSync(path.join(folder, 'shop'));
    fs.writeFileSync(path.join(folder, 'shop', 'task.yml'), PLAN);
    wb = await openWorkbench({
      vsix: VSIX,
      folder,
      workspaceTrust: true,
      settings: {
        'chefConsul.profiles': [{ name: PROFILE, address: server.httpAddr, production: true }],
        'chefConsul.activeProfile': PROFILE,
      },
      viewport: { width: 1400, height: 900 },
    });
  });

  after(async () => {
    await wb?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  it('opens the folder in Restricted Mode with no Run CodeLens', async () => {
    await openFile(wb.page, 'task.yml');
    await wb.page.locator('.contentWidgets .codelens-decoration', { hasText: '1 phase' }).first().waitFor({ timeout: 30_000 });
    assert.equal(await wb.page.locator('.codelens-decoration', { hasText: 'Run event' }).count(), 0);
    await wb.page.screenshot({ path: path.join(RESULTS, 'restricted-mode.png') });
  });

  it('once trusted, a CodeLens click on a production profile asks for the typed profile name', async () => {
    await trustWorkspace(wb.page);
    const lens = wb.page.locator('.codelens-decoration a', { hasText: 'Run event' }).first();
    await lens.waitFor({ timeout: 30_000 });
    await lens.click();
    const input = wb.page.locator('.quick-input-widget');
    await input.locator('.quick-input-title', { hasText: 'Production: confirm' }).waitFor({ timeout: 20_000 });
    assert.match(await input.innerText(), new RegExp(`event "ui-prod-hello" reaches ${cluster.agents.length} nodes of production profile "${PROFILE}"`));
    await wb.page.screenshot({ path: path.join(RESULTS, 'production-confirm.png') });
    await wb.page.keyboard.type(PROFILE);
    await wb.page.keyboard.press('Enter');
    // The run starts only now, and runs to its end (the next tests need the cluster free).
    const connection = await connect({ name: 'ui-trust', address: server.httpAddr }, undefined);
    try {
      const run = await eventually(
        'the confirmed run to end',
        async () => (await listRuns(connection)).find((r) => r.event === 'ui-prod-hello' && isFinished(r.status)),
        30_000,
        250,
      );
      assert.equal(run.status, 'success', run.message);
      assert.equal(run.startedBy.length > 0, true);
    } finally {
      connection.dispose();
    }
  });
});



/** Workspaces: Manage Workspace Trust, then its Trust button, as a user would. */
async function trustWorkspace(page: Workbench['page']): Promise<void> {
  await runFromPalette(page, 'Workspaces: Manage Workspace Trust');
  const button = page.locator('.workspace-trust-editor a.monaco-button, .workspace-trust-editor .monaco-button', { hasText: /^Trust/ }).first();
  await button.waitFor({ timeout: 15_000 });
  await button.click();
  // Back to the task.yml editor.
  await page.keyboard.press('Control+W');
  await openFile(page, 'task.yml');
}
