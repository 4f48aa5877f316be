/**
 * The Watches view as a person sees it: the packaged .vsix in code-server,
 * watches from user settings, a KV write and a failing check firing them,
 * screenshots of the view and the notifications in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, serverAgent } from '../support/env';
import { clickNotificationButton, collapsePane, expandPane, openChefConsulContainer, runFromPalette, viewPane, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');

describe('UI: the Watches view and a fired watch', function () {
  this.timeout(180_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const web = cluster.agents.find((a) => a.name === 'web-1')!;
  const run = Math.random().toString(36).slice(2, 8);
  const key = `ui-watch/${run}/config`;
  const service = `ui-watch-${run}`;
  let wb: Workbench;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: 'replicas = 2' });
    await consulJson(web.httpAddr, '/v1/agent/service/register', {
      method: 'PUT',
      body: { ID: service, Name: service, Port: 9300, Check: { CheckID: `${service}-http`, Name: 'http', TTL: '10m', Status: 'passing' } },
    });
    wb = await openWorkbench({
      vsix: VSIX,
      folder: fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-watch-ws-')),
      env: { CONSUL_HTTP_ADDR: server.httpAddr },
      viewport: { width: 1400, height: 900 },
      settings: {
        'chefConsul.watches': [
          { name: 'app config', type: 'key', key, debounceMs: 300, actions: [{ type: 'notify' }] },
          { name: `${service} health`, type: 'service', service, debounceMs: 300, actions: [{ type: 'notify' }] },
          { name: 'deploys', type: 'event', eventName: 'deploy', paused: true, actions: [{ type: 'notify' }] },
        ],
      },
    });
    await openChefConsulContainer(wb.page);
  });

  after(async () => {
    await wb?.close();
    await consulRequest(server.httpAddr, `/v1/kv/ui-watch/${run}?recurse`, { method: 'DELETE' });
    await consulRequest(web.httpAddr, `/v1/agent/service/deregister/${service}`, { method: 'PUT' });
  });

  it('lists the watches with their state', async () => {
    for (const pane of ['Nodes', 'Services', 'Key/Value', 'Phases']) await collapsePane(wb.page, pane).catch(() => undefined);
    await expandPane(wb.page, 'Watches');
    await viewRow(wb.page, 'Watches', 'app config').waitFor({ timeout: 30_000 });
    await viewRow(wb.page, 'Watches', 'app config').filter({ hasText: 'not fired yet' }).waitFor({ timeout: 30_000 });
    await viewRow(wb.page, 'Watches', 'deploys').filter({ hasText: 'paused' }).waitFor({ timeout: 10_000 });
    await viewRow(wb.page, 'Watches', `${service} health`).filter({ hasText: 'not fired yet' }).waitFor({ timeout: 30_000 });
  });

  it('fires on a KV write and a failing check: notifications say what changed, the view when and why', async () => {
    await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: 'replicas = 3' });
    await consulRequest(web.httpAddr, `/v1/agent/check/fail/${service}-http?note=${encodeURIComponent('dial tcp 127.0.0.3:9300: connection refused')}`, { method: 'PUT' });
    const toasts = wb.page.locator('.notifications-toasts .notification-toast');
    await toasts.filter({ hasText: `Watch "app config": key ${key} changed` }).first().waitFor({ timeout: 20_000 });
    await toasts.filter({ hasText: `web-1: service check 'http' critical: dial tcp 127.0.0.3:9300: connection refused` }).first().waitFor({ timeout: 20_000 });
    await viewRow(wb.page, 'Watches', 'app config').filter({ hasText: /fired \d+s ago/ }).waitFor({ timeout: 10_000 });
    await viewRow(wb.page, 'Watches', `${service} health`).filter({ hasText: /fired \d+s ago/ }).waitFor({ timeout: 10_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'watches-fired.png') });
    assert.ok(await viewPane(wb.page, 'Watches').isVisible());
  });

  it('adds a watch from the palette by picking its type', async () => {
    await runFromPalette(wb.page, 'Consul Watches: Add Watch…', 'nodes');
    await viewRow(wb.page, 'Watches', 'nodes').filter({ hasText: 'not fired yet' }).waitFor({ timeout: 15_000 });
    await wb.page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'Watch "nodes" added' }).first().waitFor({ timeout: 10_000 });
  });

  it('opens the diff of the old and new value from the notification', async () => {
    // On its toast, or in the notification center once the toast has hidden (after 15 s, or pushed out by newer ones).
    await clickNotificationButton(wb.page, `Watch "app config": key ${key} changed`, 'Show');
    await wb.page.locator('.editor-instance .monaco-diff-editor').first().waitFor({ timeout: 15_000 });
    await wb.page.locator('.monaco-diff-editor .view-lines', { hasText: 'replicas = 3' }).first().waitFor({ timeout: 10_000 });
    await wb.page.locator('.monaco-diff-editor .view-lines', { hasText: 'replicas = 2' }).first().waitFor({ timeout: 10_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'watches-diff.png') });
  });
});
