/**
 * Watches in Restricted Mode: they watch and notify, but run no local
 * handler and fire no follow-up event, and say why.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../../src/extension';
import { consulJson, consulRequest } from '../../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../../support/env';
import { activateExtension } from '../support';

describe('Watches in Restricted Mode', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const run = Math.random().toString(36).slice(2, 8);
  const key = `restricted-watch/${run}`;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cco-restricted-watch-')), 'ran');
  let api: ChefConsulApi;

  before(async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite runs in a folder VS Code does not trust');
    api = await activateExtension();
    await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: 'a' });
  });

  after(async () => {
    await vscode.workspace.getConfiguration('chefConsul').update('watches', undefined, vscode.ConfigurationTarget.Global);
    await consulRequest(server.httpAddr, `/v1/kv/${key}`, { method: 'DELETE' });
  });

  it('notifies but refuses the handler and the follow-up event', async () => {
    const outcomes: { action: string; ok: boolean; detail: string }[] = [];
    const sub = api.watches.manager.onDidAct((o) => outcomes.push(o));
    try {
      await vscode.commands.executeCommand('chefConsul.watches.add', {
        name: 'restricted',
        type: 'key',
        key,
        debounceMs: 100,
        actions: [{ type: 'notify' }, { type: 'handler', args: ['/usr/bin/touch', out] }, { type: 'event', name: `restricted-${run}` }],
      });
      await eventually('the watch to run', () => api.watches.manager.get('restricted')?.runner.state.kind === 'watching', 15_000);
      await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: 'b' });
      await eventually('three action outcomes', () => outcomes.length === 3, 10_000);
      const by = (a: string) => outcomes.find((o) => o.action === a)!;
      assert.equal(by('notify').ok, true);
      assert.deepEqual(by('handler'), { watch: 'restricted', action: 'handler', ok: false, detail: 'handlers run only in a trusted workspace; this one is in Restricted Mode.' });
      assert.deepEqual(by('event'), { watch: 'restricted', action: 'event', ok: false, detail: 'follow-up events fire only in a trusted workspace; this one is in Restricted Mode.' });
      assert.equal(fs.existsSync(out), false, 'the handler ran');
      const events = await consulJson<unknown[]>(server.httpAddr, `/v1/event/list?name=restricted-${run}`);
      assert.equal(events.length, 0);
    } finally {
      sub.dispose();
    }
  });

  it('imports handler watches paused, even when asked to run them', async () => {
    const file = path.join(path.dirname(out), 'agent.json');
    fs.writeFileSync(file, JSON.stringify({ watches: [{ type: 'key', key: `${key}-import`, args: ['/usr/bin/touch', out] }] }));
    const result = (await vscode.commands.executeCommand('chefConsul.watches.importAgentConfig', { path: file, runHandlers: true })) as { added: string[]; paused: string[] };
    assert.deepEqual(result.paused, [`key ${key}-import`]);
    assert.equal(api.watches.manager.get(`key ${key}-import`)?.definition.paused, true);
  });
});
