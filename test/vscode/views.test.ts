import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { NodeItem } from '../../src/vscode/views/catalogItems';
import { consulJson, DEMO_SERVICES, SECURE_NODE, stopAgent } from '../infra/cluster';
import { clusterFromEnv, restartAndRecord, serverAgent } from '../support/env';
import { activateExtension, iconId, isError, isNotice, isNode, labels, removeProfiles, viewShows } from './support';

const ICON = { passing: 'pass-filled', warning: 'warning', critical: 'error' } as const;

describe('Nodes and Services views in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let api: ChefConsulApi;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    await vscode.commands.executeCommand('chefConsul.services.focus');
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('chefConsul.nodes.clearFilter');
    await vscode.commands.executeCommand('chefConsul.services.clearFilter');
  });

  it('takes its profile from CONSUL_HTTP_ADDR when none is configured', () => {
    const configured = vscode.workspace.getConfiguration('chefConsul').inspect<unknown[]>('profiles');
    assert.deepEqual([configured?.globalValue ?? [], configured?.workspaceValue ?? []], [[], []], 'no profile is configured');
    assert.equal(process.env.CONSUL_HTTP_ADDR, server.httpAddr);
    const profile = api.connections.activeProfile();
    assert.equal(profile.name, 'Environment');
    assert.equal(profile.address, `http://${server.httpAddr}`);
  });

  it('lists every node of the cluster with its health', async () => {
    const items = await viewShows(api.nodesView, (i) => i.length === cluster.agents.length && i.every(isNode));
    assert.deepEqual(labels(items), cluster.agents.map((a) => a.name).sort());
    const byName = new Map(items.map((i) => [(i as NodeItem).node.name, i]));
    assert.equal(iconId(byName.get('web-1')!), ICON.warning);
    assert.equal(iconId(byName.get('db-1')!), ICON.critical);
    assert.equal(iconId(byName.get(server.name)!), ICON.passing);
    assert.equal(byName.get('web-1')!.description, cluster.agents.find((a) => a.name === 'web-1')!.host);
  });

  it('shows service instances and checks under a node, with check output', async () => {
    const items = await viewShows(api.nodesView, (i) => i.some((x) => isNode(x) && x.node.name === 'db-1'));
    const db1 = items.find((x) => isNode(x) && x.node.name === 'db-1')!;
    const children = api.nodesView.getChildren(db1);
    const expected = DEMO_SERVICES.filter((s) => s.node === 'db-1').map((s) => s.name).sort();
    assert.deepEqual(labels(children).filter((l) => expected.includes(l)), expected);
    const cache = children.find((c) => c.label === 'cache')!;
    assert.equal(iconId(cache), ICON.critical);
    const checks = api.nodesView.getChildren(cache);
    assert.equal(checks.length, 1);
    const tooltip = checks[0].tooltip as vscode.MarkdownString;
    assert.match(tooltip.value, /cache down/);
  });

  it('shows a service registered through the HTTP API without a refresh', async () => {
    const id = `ext-${Date.now()}`;
    await viewShows(api.servicesView, (i) => i.some((x) => x.label === 'web'));
    const started = Date.now();
    await consulJson(server.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: id, Name: id, Port: 7100, Tags: ['ext'] } });
    try {
      const items = await viewShows(api.servicesView, (i) => i.some((x) => x.label === id));
      console.log(`service visible in the Services view ${Date.now() - started} ms after registration`);
      const instance = api.servicesView.getChildren(items.find((x) => x.label === id)!);
      assert.deepEqual(labels(instance), [server.name]);
      assert.match(String(instance[0].description), /:7100 \[ext\]$/);
      await consulJson(server.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' });
      await viewShows(api.servicesView, (i) => !i.some((x) => x.label === id));
    } finally {
      await consulJson(server.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' }).catch(() => undefined);
    }
  });

  it('filters by text and health, shows the filter, and clears it', async () => {
    await viewShows(api.nodesView, (i) => i.length === cluster.agents.length);
    const filter = await vscode.commands.executeCommand('chefConsul.nodes.filter', { text: 'db' });
    assert.deepEqual(filter, { text: 'db', health: undefined });
    assert.deepEqual(labels(api.nodesView.rootItems()), ['db-1']);
    assert.equal(api.nodesView.treeView.description, '"db"');

    await vscode.commands.executeCommand('chefConsul.nodes.filter', { health: ['warning'] });
    assert.deepEqual(labels(api.nodesView.rootItems()), ['web-1']);

    await vscode.commands.executeCommand('chefConsul.services.filter', { text: 'frontend', health: ['passing'] });
    assert.deepEqual(labels(api.servicesView.rootItems()), ['web']);

    await vscode.commands.executeCommand('chefConsul.nodes.filter', { text: 'no-such-node' });
    const none = api.nodesView.rootItems();
    assert.ok(isNotice(none[0]));
    assert.match(String(none[0].label), /No match/);

    await vscode.commands.executeCommand('chefConsul.nodes.clearFilter');
    assert.equal(api.nodesView.rootItems().length, cluster.agents.length);
    assert.equal(api.nodesView.treeView.description, undefined);
  });

  it('rejects a malformed filter with a specific message', async () => {
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.nodes.filter', { health: ['sick'] })),
      /"health" must be a list of: passing, warning, critical/,
    );
  });

  it('reports the connection through Test Connection and the status bar', async () => {
    const info = (await vscode.commands.executeCommand('chefConsul.testConnection', { silent: true })) as { datacenter: string; leader: string };
    assert.equal(info.datacenter, cluster.datacenter);
    assert.ok(info.leader);
    await viewShows(api.nodesView, (i) => i.length === cluster.agents.length);
    // One icon, then words: no $(error)/$(warning) counts that would read as the Problems counts.
    assert.match(api.statusBar.text, new RegExp(`^\\$\\(server-environment\\) Environment · ${cluster.datacenter} · [1-9]\\d* critical, [1-9]\\d* warning$`));
  });

  it('shows an error item for a killed agent and recovers when it is back', async () => {
    const agent = cluster.agents.find((a) => a.name === 'web-1')!;
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'web-1 agent', address: agent.httpAddr });
    try {
      await viewShows(api.nodesView, (i) => i.length === cluster.agents.length && i.every(isNode));
      await stopAgent(cluster, agent.name);
      // A stopping agent may answer the open long-poll with a 500 before its port closes.
      const failed = await viewShows(api.nodesView, (i) => isError(i[0]) && /Cannot reach/.test(String(i[0].label)));
      assert.match(String(failed[0].label), new RegExp(`Cannot reach Consul at http://${agent.httpAddr.replace(/\./g, '\\.')}: connection refused`));
      await restartAndRecord(cluster, agent.name);
      await viewShows(api.nodesView, (i) => i.length === cluster.agents.length && i.every(isNode), 20_000);
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('web-1 agent');
      await restartAndRecord(cluster, agent.name);
    }
  });

  describe('with the ACL and TLS agent', () => {
    const secure = cluster.secure!;

    after(async () => {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('secure', 'secure-no-ca');
    });

    it('adds a profile, lists nodes with a read-only token, and shows "nothing visible" without one', async () => {
      const profile = await vscode.commands.executeCommand('chefConsul.addProfile', {
        name: 'secure',
        address: `https://${secure.httpsAddr}`,
        caFile: secure.caFile,
      });
      assert.deepEqual(profile, { name: 'secure', address: `https://${secure.httpsAddr}`, caFile: secure.caFile });
      assert.equal(api.connections.activeProfile().name, 'secure');

      await vscode.commands.executeCommand('chefConsul.setToken', { token: secure.readOnlyToken, profile: 'secure' });
      await viewShows(api.nodesView, (i) => labels(i).join() === SECURE_NODE);

      await vscode.commands.executeCommand('chefConsul.clearToken', { profile: 'secure' });
      // An empty tree, so the "nothing visible" welcome content shows (chefConsul.nodes.nothingVisible).
      await viewShows(api.nodesView, (i) => i.length === 0 && api.nodesView.showsNothingVisible);
      assert.equal(api.connections.failure, undefined, 'nothing visible is not a failure');
      await viewShows(api.servicesView, (i) => i.length === 0 && api.servicesView.showsNothingVisible);
    });

    it('shows the TLS failure above the welcome content when the CA is missing', async () => {
      await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'secure-no-ca', address: `https://${secure.httpsAddr}` });
      // The connection never answered: an empty tree (the TLS welcome, no message to hide it); Test Connection names the failure.
      await viewShows(api.nodesView, (i) => i.length === 0 && api.connections.failure?.failure === 'tls');
      assert.equal(api.nodesView.treeView.message, undefined);
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('chefConsul.testConnection', { silent: true })),
        /TLS handshake with https:\/\/127\.0\.0\.5:\d+ failed: .*CA/,
      );
    });

    it('refuses a profile with a bad address and names the problem', async () => {
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('chefConsul.addProfile', { name: 'bad', address: 'ftp://x' })),
        /Invalid profile: Unsupported scheme "ftp:"/,
      );
    });
  });
});
