import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { RunSnapshot } from '../../src/core/runs/model';
import { connect } from '../../src/core/consul/client';
import { AdhocRun } from '../../src/core/runs/adhocEngine';
import { RunRegistry } from '../../src/core/runs/registry';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { activateExtension, finished } from './support';

const DEMO = `events:
  ext-deploy:
    description: Database first, then the web tier
    ordered_tasks:
      - service: db
        task: migrate
      - service: web
        task: release
tasks:
  migrate:
    operations:
      - echo: migrating {{app}}
      - execute:
          script: echo "schema ok"
  release:
    operations:
      - execute:
          script: echo "release {{app}} done"
variables:
  app: shop
`;


describe('Runs in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  let api: ChefConsulApi;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    fs.mkdirSync(path.join(folder, 'ext-demo'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'ext-demo', 'task.yml'), DEMO);
    await api.plans.workspace.rescan();
    await vscode.commands.executeCommand('chefConsul.runs.focus');
  });

  it('runs an event phase by phase from its arguments and returns the run ID', async () => {
    const id = (await vscode.commands.executeCommand('chefConsul.runEvent', { event: 'ext-deploy', pattern: 'ext-demo' })) as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const run = await finished(id);
    assert.equal(run.status, 'success', run.message);
    assert.deepEqual(run.phases.map((p) => [p.task, p.status, p.nodes.map((n) => n.node)]), [
      ['migrate', 'success', ['db-1']],
      ['release', 'success', ['web-1']],
    ]);
    const editor = (await vscode.commands.executeCommand('chefConsul.openNodeOutput', { id, phase: 0, node: 'db-1' })) as vscode.TextEditor;
    assert.equal(editor.document.getText(), 'migrating shop\nschema ok\n');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    // The tree itself, as the view draws it: the run's row, then its phases under it.
    const row = await eventually('the run\'s row in the Runs view', async () =>
      (await api.runsView.getChildren()).find((i) => (i as { run?: RunSnapshot }).run?.id === id),
    );
    assert.equal(row.label, 'ext-deploy');
    assert.match(String(row.description), /^exec · success · /);
    const phases = await api.runsView.getChildren(row);
    assert.deepEqual(phases.map((p) => p.label), ['1. migrate', '2. release']);
    // The inline "Open Output" action passes the node's tree item, whose own `id` is its place in the tree.
    const nodeRow = (await api.runsView.getChildren(phases[0]))[0];
    assert.notEqual(nodeRow.id, id);
    const fromItem = (await vscode.commands.executeCommand('chefConsul.openNodeOutput', nodeRow)) as vscode.TextEditor;
    assert.equal(fromItem.document.getText(), 'migrating shop\nschema ok\n');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('runs an ad-hoc command on a service', async () => {
    const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command: 'echo adhoc', service: '^db$' })) as string;
    const run = await finished(id);
    assert.equal(run.engine, 'adhoc');
    assert.deepEqual(run.phases[0].nodes.map((n) => [n.node, n.status]), [['db-1', 'success']]);
  });

  it('names the events it knows when asked for an unknown one', async () => {
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.runEvent', { event: 'nope' })),
      /No task.yml in this workspace defines the event "nope"\. Events: .*ext-deploy/,
    );
  });

  it('reads back from KV history a run this editor never had (recorded by another editor)', async () => {
    // A teammate's editor: its own connection and registry, the same cluster.
    const server = serverAgent(cluster);
    const connection = await connect({ name: 'teammate', address: server.httpAddr }, undefined);
    const theirs = new RunRegistry();
    let id: string;
    try {
      const run = await new AdhocRun(connection, theirs, { command: 'echo history', node: '^web-1$', startedBy: 'teammate' }).done;
      assert.equal(run.status, 'success');
      id = run.id;
    } finally {
      theirs.dispose();
      connection.dispose();
    }
    assert.equal(api.runs.get(id), undefined, 'this editor never had the run in memory');
    const fromKv = (await vscode.commands.executeCommand('chefConsul.getRun', { id })) as RunSnapshot;
    assert.equal(fromKv.status, 'success');
    assert.equal(fromKv.startedBy, 'teammate');
    assert.deepEqual(fromKv.phases[0].nodes.map((n) => [n.node, n.status]), [['web-1', 'success']]);
    await api.runsView.reload();
    const row = (await api.runsView.getChildren()).find((i) => (i as { run?: RunSnapshot }).run?.id === id);
    assert.ok(row, 'the Runs view lists the run from KV');
    const editor = (await vscode.commands.executeCommand('chefConsul.openNodeOutput', { id, phase: 0, node: 'web-1' })) as vscode.TextEditor;
    assert.equal(editor.document.getText(), 'history\n');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
