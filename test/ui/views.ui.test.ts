/**
 * The views as a person sees them: the packaged .vsix installed in code-server,
 * Chromium clicking through the workbench, screenshots in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { consulJson } from '../infra/cluster';
import { clusterFromEnv, serverAgent } from '../support/env';
import { expandPane, openChefConsulContainer, rowLabels, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');

describe('UI: Chef + Consul views in the browser workbench', function () {
  this.timeout(180_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let wb: Workbench;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    wb = await openWorkbench({
      vsix: VSIX,
      folder: fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-ws-')),
      env: { CONSUL_HTTP_ADDR: server.httpAddr },
      viewport: { width: 1400, height: 900 },
    });
    await openChefConsulContainer(wb.page);
  });

  after(async () => {
    await wb?.close();
  });

  it('lists the cluster nodes in the Nodes view', async () => {
    for (const agent of cluster.agents) await viewRow(wb.page, 'Nodes', agent.name).waitFor({ timeout: 30_000 });
    const labels = await rowLabels(wb.page, 'Nodes');
    assert.deepEqual(labels.filter((l) => cluster.agents.some((a) => a.name === l)).sort(), cluster.agents.map((a) => a.name).sort());
    await wb.page.screenshot({ path: path.join(RESULTS, 'nodes-view.png') });
  });

  it('shows a node\'s services and checks when expanded', async () => {
    await viewRow(wb.page, 'Nodes', 'db-1').click();
    await viewRow(wb.page, 'Nodes', 'cache').waitFor({ timeout: 10_000 });
    await viewRow(wb.page, 'Nodes', 'cache').click();
    await viewRow(wb.page, 'Nodes', 'cache health').waitFor({ timeout: 10_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'nodes-view-expanded.png') });
  });

  it('shows a newly registered service in the Services view without a refresh', async () => {
    await expandPane(wb.page, 'Services');
    await viewRow(wb.page, 'Services', 'web').waitFor({ timeout: 30_000 });
    const id = `ui-${Date.now()}`;
    await consulJson(server.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: id, Name: id, Port: 7200, Tags: ['ui'] } });
    try {
      await viewRow(wb.page, 'Services', id).waitFor({ timeout: 10_000 });
      await wb.page.screenshot({ path: path.join(RESULTS, 'services-view.png') });
    } finally {
      await consulJson(server.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' });
    }
    await viewRow(wb.page, 'Services', id).waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('shows the connection in the status bar', async () => {
    const item = wb.page.locator('.statusbar-item', { hasText: 'Environment' }).first();
    await item.waitFor({ timeout: 10_000 });
    assert.match(await item.innerText(), /Environment · dc1/);
  });
});
