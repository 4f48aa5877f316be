/**
 * Restricted Mode: workspace trust on and this folder not trusted. Browsing
 * works; nothing runs, fires or writes, and each command says why.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../../src/extension';
import { consulJson } from '../../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../../support/env';
import { activateExtension, isNode, labels, viewShows } from '../support';

const WHY = /is not available in Restricted Mode: this workspace is not trusted, so nothing runs on nodes, fires events or writes to Consul from it/;

describe('Restricted Mode (workspace not trusted)', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let api: ChefConsulApi;

  before(async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite runs in a folder VS Code does not trust');
    api = await activateExtension();
  });

  it('activates and browses: Nodes view, Phases and Problems work', async () => {
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    const items = await viewShows(api.nodesView, (i) => i.filter(isNode).length === cluster.agents.length, 20_000);
    assert.deepEqual(labels(items.filter(isNode)).sort(), cluster.agents.map((a) => a.name).sort());
    await api.plans.workspace.ready();
    assert.ok(api.plans.workspace.mergedEvents().size > 0, 'the task.yml patterns are loaded');
    const broken = api.plans.workspace.all().find((f) => f.uri.fsPath.includes('broken'));
    assert.ok(broken, 'the broken fixture is loaded');
    await eventually('Problems for the broken task.yml', () => (vscode.languages.getDiagnostics(broken.uri).length > 0 ? true : undefined), 10_000);
  });

  it('hides the Run CodeLens and keeps the phase count', async () => {
    const file = api.plans.workspace.all().find((f) => f.plan?.events.length)!;
    const doc = await vscode.workspace.openTextDocument(file.uri);
    const lenses = (await vscode.commands.executeCommand('vscode.executeCodeLensProvider', doc.uri)) as vscode.CodeLens[];
    const ours = lenses.filter((l) => l.command?.command.startsWith('chefConsul.'));
    assert.ok(ours.length > 0, 'the phase-count lens is there');
    assert.deepEqual(ours.filter((l) => /run/i.test(l.command?.command ?? '')).map((l) => l.command?.title), []);
  });

  it('refuses to run, fire or write, saying why, and sends nothing', async () => {
    const name = `restricted-${Date.now()}`;
    const event = [...api.plans.workspace.mergedEvents().keys()][0];
    const attempts: Array<[string, unknown]> = [
      ['chefConsul.fireEvent', { name }],
      ['chefConsul.runEvent', { event }],
      ['chefConsul.runEventFromEditor', { event }],
      ['chefConsul.runCommand', { command: `echo ${name}`, node: '.' }],
      ['chefConsul.rerun', { id: '00000000-0000-0000-0000-000000000000' }],
      ['chefConsul.retryFailed', { id: '00000000-0000-0000-0000-000000000000', phase: 0 }],
      // Refused before the file is even read (this path does not exist).
      ['chefConsul.kv.import', { path: `/nonexistent/${name}.json`, dryRun: true }],
    ];
    for (const [command, args] of attempts) {
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand(command, args)), WHY, command);
    }
    assert.equal(api.runs.all().length, 0, 'no run started');
    assert.deepEqual(await consulJson(server.httpAddr, `/v1/event/list?name=${name}`), [], 'no event fired');
  });

  it('offers no write or run from the empty-state welcomes, but the way to trust the folder', () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'chef-consul-ops');
    assert.ok(ext, 'the extension is installed');
    const nls = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.nls.json'), 'utf8')) as Record<string, string>;
    // The manifest as read here may be localized already, or still hold %keys%.
    const text = (contents: string) => contents.replace(/^%(.+)%$/, (_, k: string) => nls[k] ?? contents);
    const welcomes = (ext.packageJSON.contributes.viewsWelcome ?? []) as Array<{ view: string; contents: string; when?: string }>;
    for (const view of ['chefConsul.events', 'chefConsul.kv', 'chefConsul.runs']) {
      const restricted = welcomes.filter((w) => w.view === view && /\.empty/.test(w.when ?? '') && /!isWorkspaceTrusted/.test(w.when ?? ''));
      const trusted = welcomes.filter((w) => w.view === view && /\.empty/.test(w.when ?? '') && !/!isWorkspaceTrusted/.test(w.when ?? ''));
      assert.equal(restricted.length, 1, `${view}: one empty welcome for Restricted Mode`);
      assert.ok(trusted.every((w) => /(^|&& )isWorkspaceTrusted/.test(w.when ?? '')), `${view}: the other empty welcomes only when trusted`);
      const shown = text(restricted[0].contents);
      assert.match(shown, /Restricted Mode/);
      assert.match(shown, /command:workbench\.trust\.manage/);
      assert.doesNotMatch(shown, /command:chefConsul\.(fireEvent|runEvent|runCommand|kv\.newKey|kv\.import)/, `${view}: no action that Restricted Mode refuses`);
    }
  });

  it('reads the settings that decide what runs or where from the user settings only', () => {
    const declared = vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops')!.packageJSON as {
      capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
    };
    assert.equal(declared.capabilities.untrustedWorkspaces.supported, 'limited');
    for (const key of ['profiles', 'activeProfile', 'chefCommand', 'serviceCommand', 'engine', 'continueOnFailure', 'whenClusterBusy', 'taskFiles']) {
      assert.ok(declared.capabilities.untrustedWorkspaces.restrictedConfigurations.includes(`chefConsul.${key}`), key);
    }
  });
});
