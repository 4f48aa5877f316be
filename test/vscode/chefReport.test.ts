import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { ChefReport } from '../../src/core/chef/report';
import type { RunSnapshot } from '../../src/core/runs/model';
import { connect } from '../../src/core/consul/client';
import { AdhocRun } from '../../src/core/runs/adhocEngine';
import { RunRegistry } from '../../src/core/runs/registry';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { activateExtension, finished } from './support';

// Compiled layout: out/test/vscode → the repository's test/fixtures. The agents run on this machine: `cat` reaches the file.
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'chef');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;


const label = (i: vscode.TreeItem) => (typeof i.label === 'string' ? i.label : (i.label?.label ?? ''));

describe('Chef reports in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  let api: ChefConsulApi;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('opens the report of a node whose ad-hoc command printed a failed Chef run: view, diff editor, failure text', async () => {
    const command = `cat ${quote(path.join(FIXTURES, 'chef15-converge-failure.txt'))}; exit 1`;
    const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command, node: '^db-1$', ignoreBusyNodes: true })) as string;
    const run = await finished(id);
    assert.deepEqual(run.phases[0].nodes.map((n) => [n.node, n.status]), [['db-1', 'error']]);

    const report = (await vscode.commands.executeCommand('chefConsul.openChefReport', { id, phase: 0, node: 'db-1' })) as ChefReport;
    assert.equal(report.status, 'failure');
    assert.equal(report.chefVersion, '15.8.23');
    assert.equal(report.failure?.resource, 'execute[run shop migrations]');
    assert.equal(report.failure?.exceptionClass, 'Mixlib::ShellOut::ShellCommandFailed');
    assert.deepEqual(report.failure?.sections.map((s) => s.title), ['Resource Declaration', 'Compiled Resource', 'System Info']);
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the command returns plain JSON');
    assert.equal(api.chef.reports.summaryOf(id, 0, 'db-1')?.text, 'failed: execute[run shop migrations]');

    // The view shows it: summary, failure, one recipe with its resources.
    const roots = api.chef.view.getChildren();
    assert.deepEqual(roots.map(label), ['db-1 · phase 1', 'Failed: execute[run shop migrations]', 'shop_db::migrate']);
    assert.equal(roots[0].description, 'failed: execute[run shop migrations]');
    const failureParts = api.chef.view.getChildren(roots[1]).map(label);
    assert.equal(failureParts[0], "Expected process to exit with [0], but received '3'");
    assert.deepEqual(failureParts.slice(-4), ['Resource Declaration', 'Compiled Resource', 'System Info', 'FATAL'], 'sections close the failure');
    const resources = api.chef.view.getChildren(roots[2]);
    assert.deepEqual(resources.map(label), ['directory[/opt/shop/migrations]', 'cookbook_file[/opt/shop/migrations/0042_orders.sql]', 'execute[run shop migrations]']);
    assert.deepEqual(resources.map((r) => r.description), ['create · up to date', 'create · updated', 'run · failed']);
    const diffItem = api.chef.view.getChildren(resources[1]).find((i) => i.contextValue === 'chefConsul.chefDiff')!;
    assert.equal(label(diffItem), '/opt/shop/migrations/0042_orders.sql');

    // Its diff opens in the diff editor, both sides rebuilt from Chef's unified diff, read-only.
    assert.ok(diffItem.command);
    await vscode.commands.executeCommand(diffItem.command.command, ...(diffItem.command.arguments ?? []));
    const tab = await eventually('the diff editor', async () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputTextDiff ? input : undefined;
    }, 15_000);
    const before = await vscode.workspace.openTextDocument(tab.original);
    const after = await vscode.workspace.openTextDocument(tab.modified);
    assert.equal(before.uri.scheme, 'chefconsul-chef');
    assert.match(before.getText(), /total numeric\(10,2\)\n\);\n$/);
    assert.match(after.getText(), /currency char\(3\) not null default 'EUR'\n\);\n$/);
    assert.equal(before.languageId, 'sql', 'the file\'s own name picks the language');
    // Virtual documents of a content provider: nothing behind them to save to.
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(after.uri)));

    // The failure opens whole as text.
    const editor = (await vscode.commands.executeCommand('chefConsul.openChefFailure', { id, phase: 0, node: 'db-1' })) as vscode.TextEditor;
    const text = editor.document.getText();
    assert.match(text, /^Error executing action `run` on resource 'execute\[run shop migrations\]'/);
    assert.match(text, /\nResource Declaration:\n-+\n# In \/var\/chef\/cache\/cookbooks\/shop_db\/recipes\/migrate\.rb/);
    assert.match(text, /\nSystem Info:\n-+\nchef_version=15\.8\.23/);
  });

  it('reads a run it never followed from its log in KV, and says so when a node printed no Chef run', async () => {
    const server = serverAgent(cluster);
    const connection = await connect({ name: 'teammate', address: server.httpAddr }, undefined);
    const theirs = new RunRegistry();
    let id: string;
    try {
      const command = `cat ${quote(path.join(FIXTURES, 'chef12-success-diff.txt'))}`;
      const run = await new AdhocRun(connection, theirs, { command, node: '^(web-1|db-1)$', startedBy: 'teammate' }).done;
      assert.equal(run.status, 'success');
      id = run.id;
      const other = await new AdhocRun(connection, theirs, { command: 'echo no chef here', node: '^web-1$', startedBy: 'teammate' }).done;
      const plain = (await vscode.commands.executeCommand('chefConsul.openChefReport', { id: other.id, phase: 0, node: 'web-1' })) as ChefReport;
      assert.equal(plain.chef, false);
      assert.equal(plain.status, 'unknown');
      assert.deepEqual(plain.plainLines, ['no chef here']);
      assert.match(String(api.chef.view.treeView.message), /No Chef run/);
    } finally {
      theirs.dispose();
      connection.dispose();
    }
    assert.equal(api.runs.get(id), undefined, 'this editor never had the run in memory');
    const report = (await vscode.commands.executeCommand('chefConsul.openChefReport', { id, phase: 0, node: 'web-1' })) as ChefReport;
    assert.equal(report.status, 'success');
    assert.equal(report.updatedResources, 4);
    assert.equal(report.resources.length, 8);
    assert.equal(api.chef.view.treeView.message, undefined);
    assert.equal(api.chef.view.getChildren()[0].description, '4/8 updated');
    // From the Runs view's node item, as its inline action passes it (an item whose own `id` is its tree ID).
    await api.runsView.reload();
    const runRow = (await api.runsView.getChildren()).find((i) => (i as { run?: RunSnapshot }).run?.id === id)!;
    const phaseRow = (await api.runsView.getChildren(runRow))[0];
    const nodeRow = (await api.runsView.getChildren(phaseRow)).find((i) => label(i) === 'web-1')!;
    assert.ok(nodeRow.id && nodeRow.id !== id);
    const fromItem = (await vscode.commands.executeCommand('chefConsul.openChefReport', nodeRow)) as ChefReport;
    assert.equal(fromItem.updatedResources, 4);
    // The Runs view's node items carry the Chef summary, read from history on demand.
    const dbRow = async () => (await api.runsView.getChildren(phaseRow)).find((i) => label(i) === 'db-1');
    await eventually('the Chef summary on the db-1 node item', async () => (/Chef: 4\/8 updated/.test(String((await dbRow())?.description)) ? true : undefined), 10_000);
    assert.match(String(nodeRow.description), /^success · exit 0 · Chef: 4\/8 updated/);
    const opened = (await vscode.commands.executeCommand('chefConsul.openChefDiff', { id, phase: 0, node: 'web-1', resource: 2, diff: 0 })) as { before: string; after: string };
    const after = await vscode.workspace.openTextDocument(vscode.Uri.parse(opened.after));
    assert.match(after.getText(), /listen 8080;/);
  });

  it('refuses bad arguments with a sentence saying what is needed', async () => {
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.openChefReport', { id: 'x' })), /"id" \(a run ID\), "phase" \(a phase number from 0\) and "node" \(a node name\) are required/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.openChefDiff', { id: 'nope', phase: 0, node: 'db-1', resource: 0 })), /No run nope in this cluster's history/);
  });
});
