/**
 * The views as a person sees them: the packaged .vsix installed in code-server,
 * Chromium clicking through the workbench, screenshots in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { connect } from '../../src/core/consul/client';
import { AdhocRun } from '../../src/core/runs/adhocEngine';
import { RunRegistry } from '../../src/core/runs/registry';
import { consulJson } from '../infra/cluster';
import { clusterFromEnv, serverAgent } from '../support/env';
import { collapsePane, expandPane, openChefConsulContainer, reloadWindow, rowLabels, viewPane, viewRow, runFromPalette } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');

/** A temp workspace holding the task.yml fixtures, so the Phases view has patterns to show. */
function workspaceWithPlans(): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-ws-'));
  fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'plans'), folder, { recursive: true });
  fs.mkdirSync(path.join(folder, 'ui-slow'));
  fs.writeFileSync(
    path.join(folder, 'ui-slow', 'task.yml'),
    'events:\n  ui-slow:\n    ordered_tasks:\n      - service: db\n        task: slow\ntasks:\n  slow:\n    operations:\n      - execute:\n          script: sleep 25\n',
  );
  return folder;
}

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
      folder: workspaceWithPlans(),
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
    await viewRow(wb.page, 'Nodes', 'cache').waitFor({ timeout: 20_000 });
    await viewRow(wb.page, 'Nodes', 'cache').click();
    await viewRow(wb.page, 'Nodes', 'cache health').waitFor({ timeout: 20_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'nodes-view-expanded.png') });
  });

  it('shows a newly registered service in the Services view without a refresh', async () => {
    await expandPane(wb.page, 'Services');
    await viewRow(wb.page, 'Services', 'web').waitFor({ timeout: 30_000 });
    const id = `ui-${Date.now()}`;
    await consulJson(server.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: id, Name: id, Port: 7200, Tags: ['ui'] } });
    try {
      // Within the blocking query's 30 s wait (liveQuery.ts): only its answer to the change shows it in time.
      await viewRow(wb.page, 'Services', id).waitFor({ timeout: 20_000 });
      await wb.page.screenshot({ path: path.join(RESULTS, 'services-view.png') });
    } finally {
      await consulJson(server.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' });
    }
    await viewRow(wb.page, 'Services', id).waitFor({ state: 'detached', timeout: 20_000 });
  });

  it('shows the connection in the status bar', async () => {
    const item = wb.page.locator('.statusbar-item', { hasText: 'Environment' }).first();
    await item.waitFor({ timeout: 10_000 });
    // The check counts arrive with the catalog; they read as words, not as the Problems counts' icons.
    await wb.page.locator('.statusbar-item', { hasText: /Environment · dc1 · .*critical/ }).first().waitFor({ timeout: 30_000 });
    assert.match((await item.innerText()).trim(), /^Environment · dc1 · [1-9]\d* critical, [1-9]\d* warning$/);
    assert.equal(await item.locator('.codicon').count(), 1);
    assert.equal(await item.locator('.codicon-server-environment').count(), 1);
  });

  it('shows the patterns, events and phases of the workspace in the Phases view', async () => {
    await collapsePane(wb.page, 'Nodes');
    await collapsePane(wb.page, 'Services');
    await expandPane(wb.page, 'Phases');
    await viewRow(wb.page, 'Phases', 'tomcat').waitFor({ timeout: 30_000 });
    // The other patterns folded, so tomcat's events and phases are in the pane's view.
    for (const other of ['broken', 'haproxy', 'postgresql']) {
      const row = viewPane(wb.page, 'Phases').locator('.monaco-list-row[aria-expanded="true"]').filter({ hasText: `${other}/task.yml` }).first();
      if (await row.count()) await row.locator('.monaco-tl-twistie').click();
    }
    // tomcat's deploy (priority 60) aims at a service no test node has.
    // The row's own click opens task.yml at the event; the twistie expands it.
    await viewRow(wb.page, 'Phases', 'priority 60').locator('.monaco-tl-twistie').click();
    await viewRow(wb.page, 'Phases', 'no node').waitFor({ timeout: 10_000 }).catch(async (e) => {
      await wb.page.screenshot({ path: path.join(RESULTS, 'phases-view-FAILED.png') });
      throw e;
    });
    await wb.page.screenshot({ path: path.join(RESULTS, 'phases-view.png') });
  });

  it('shows a fired event in the Events view', async () => {
    await collapsePane(wb.page, 'Phases');
    await expandPane(wb.page, 'Events');
    await consulJson(server.httpAddr, '/v1/event/fire/ui-deploy', { method: 'PUT', body: 'release 7' });
    await viewRow(wb.page, 'Events', 'ui-deploy').waitFor({ timeout: 20_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'events-view.png') });
  });

  it('lists a run recorded in KV in the Runs view, with its phase and node', async () => {
    // Recorded by the core directly, as a teammate's editor would have.
    const connection = await connect({ name: 'ui', address: server.httpAddr }, undefined);
    const registry = new RunRegistry();
    try {
      const run = await new AdhocRun(connection, registry, { command: 'echo from-ui-test', service: '^db$', startedBy: 'ui-test' }).done;
      assert.equal(run.status, 'success');
    } finally {
      registry.dispose();
      connection.dispose();
    }
    await collapsePane(wb.page, 'Events');
    await expandPane(wb.page, 'Runs');
    const row = viewRow(wb.page, 'Runs', 'echo from-ui-test');
    await row.waitFor({ timeout: 20_000 });
    await row.locator('.monaco-tl-twistie').click();
    await viewRow(wb.page, 'Runs', '1. echo from-ui-test').locator('.monaco-tl-twistie').click();
    await viewRow(wb.page, 'Runs', 'db-1').waitFor({ timeout: 10_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'runs-view.png') });
  });

  it('shows a run whose window was reloaded mid-run as interrupted', async function () {
    // The run's lock session has to expire (TTL 15 s, which Consul may stretch to twice that).
    this.timeout(150_000);
    await runFromPalette(wb.page, 'Consul: Run Event', 'ui-slow');
    await expandPane(wb.page, 'Runs');
    await viewRow(wb.page, 'Runs', 'ui-slow').waitFor({ timeout: 20_000 });
    await reloadWindow(wb.page, () => runFromPalette(wb.page, 'Developer: Reload Window'));
    await openChefConsulContainer(wb.page);
    await expandPane(wb.page, 'Runs');
    const row = viewPane(wb.page, 'Runs').locator('.monaco-list-row').filter({ hasText: 'ui-slow' }).filter({ hasText: 'interrupted' }).first();
    await row.waitFor({ timeout: 90_000 }).catch(async (e) => {
      await wb.page.screenshot({ path: path.join(RESULTS, 'runs-interrupted-FAILED.png') });
      throw e;
    });
    await wb.page.screenshot({ path: path.join(RESULTS, 'runs-interrupted.png') });
  });
});

