import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { activateExtension, labels, removeProfiles } from './support';

describe('Events in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let api: ChefConsulApi;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await vscode.commands.executeCommand('chefConsul.events.focus');
  });

  it('fires an event from arguments, returns its ID, and lists it live', async () => {
    const id = (await vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'ext-deploy', payload: 'release 42' })) as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const event = await eventually('the event in the Events view', () => api.eventsView.events.find((e) => e.id === id), 15_000);
    assert.equal(event.payload, 'release 42');
    const items = api.eventsView.getChildren();
    assert.equal(labels(items as never)[0], 'ext-deploy');
    assert.match(String(items[0].description), /“release 42”/);
    assert.match(api.eventsView.treeView.message ?? '', /last 256 events/);
  });

  it('refuses a tag filter without a service filter before sending', async () => {
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'x', tag: 'v1' })),
      /A tag filter needs a service filter/,
    );
  });

  it('refuses, on a production profile, an event with arguments that reaches several nodes unless confirm names the profile', async () => {
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'prod', address: server.httpAddr, production: true });
    try {
      await eventually('the catalog of the prod profile', () => {
        const s = api.connections.state;
        if (s?.kind !== 'connected') return undefined;
        // The status bar keeps the catalog query running; wait for its first answer.
        return s.connection.profile.name === 'prod' && s.catalog.current.kind === 'ready' ? true : undefined;
      }, 10_000);
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'prod-deploy' })),
        /Profile "prod" is production and this event reaches 3 nodes: pass "confirm": "prod"/,
      );
      const single = await vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'prod-one', node: `^${server.name}$` });
      assert.match(String(single), /^[0-9a-f-]{36}$/);
      const confirmed = await vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'prod-deploy', confirm: 'prod' });
      assert.match(String(confirmed), /^[0-9a-f-]{36}$/);
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('prod');
    }
  });
});
