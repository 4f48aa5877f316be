import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { RunSnapshot } from '../../src/core/runs/model';
import { NodeRunItem, PhaseItem, RunItem } from '../../src/vscode/views/runsView';
import { clusterFromEnv, eventually } from '../support/env';
import { activateExtension, EXTENSION_ID, finished, isNode, removeProfiles, viewShows } from './support';

interface MenuEntry {
  command: string;
  when?: string;
  group?: string;
}

function manifest(): {
  views: Record<string, Array<{ id: string; icon: string }>>;
  viewsWelcome: Array<{ view: string; contents: string; when?: string }>;
  menus: Record<string, MenuEntry[]>;
} {
  return vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes;
}


const HOSTILE = '**bold** [click](command:workbench.action.quit) <img src=x> `code`';

describe('Everyday UX: icons, menus, welcome states, copy, reveal, tooltips', function () {
  this.timeout(60_000);
  clusterFromEnv();
  let api: ChefConsulApi;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
  });

  it('gives every view its own icon, a codicon', () => {
    const views = manifest().views.chefConsul;
    const icons = views.map((v) => v.icon);
    assert.equal(new Set(icons).size, icons.length, `icons repeat: ${icons.join(', ')}`);
    for (const v of views) assert.match(v.icon, /^\$\([a-z-]+\)$/, `${v.id} icon ${v.icon}`);
  });

  it('has every inline action in the item\'s context menu too, and the copy entries in 9_cutcopypaste', () => {
    const items = manifest().menus['view/item/context'];
    const inline = items.filter((m) => m.group?.startsWith('inline'));
    assert.ok(inline.length > 5);
    for (const m of inline) {
      const twin = items.find((c) => c.command === m.command && !c.group?.startsWith('inline') && c.when === m.when);
      assert.ok(twin, `${m.command} (${m.when}) is inline only`);
    }
    for (const command of ['chefConsul.copyName', 'chefConsul.copyAddress', 'chefConsul.copyRunId', 'chefConsul.kv.copyPath']) {
      const entry = items.find((m) => m.command === command);
      assert.match(entry?.group ?? '', /^9_cutcopypaste/, command);
    }
    // Follow metronome Run: only on a running metronome run.
    const follow = items.filter((m) => m.command === 'chefConsul.attachRun');
    assert.deepEqual(follow.map((m) => m.when), ['view == chefConsul.runs && viewItem == chefConsul.run.running.metronome']);
    // No two palette entries read the same: view refreshes have a category each or are hidden.
    const commands = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands as Array<{ command: string; title: string; category: string }>;
    const hidden = new Set(manifest().menus.commandPalette.filter((m) => m.when === 'false').map((m) => m.command));
    const shown = commands.filter((c) => !hidden.has(c.command)).map((c) => `${c.category}: ${c.title}`);
    const repeated = shown.filter((t, i) => shown.indexOf(t) !== i);
    assert.deepEqual(repeated, []);
  });

  it('has welcome content for no profile, connecting and, in Runs, no runs yet', () => {
    const welcome = manifest().viewsWelcome;
    for (const view of ['chefConsul.nodes', 'chefConsul.services', 'chefConsul.events', 'chefConsul.runs']) {
      assert.ok(welcome.some((w) => w.view === view && w.when === 'chefConsul.connectionState == invalid'), `${view}: no profile`);
      assert.ok(welcome.some((w) => w.view === view && w.when === '!chefConsul.connectionState || chefConsul.connectionState == connecting'), `${view}: connecting`);
    }
    assert.ok(welcome.some((w) => w.view === 'chefConsul.runs' && /chefConsul\.runs\.empty/.test(w.when ?? '')));
  });

  it('shows the unusable profile\'s welcome with no message (a message hides it), its reason through Test Connection', async () => {
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'ux-bad-ca', address: 'https://127.0.0.1:1', caFile: '/nonexistent/ux-ca.pem' });
    try {
      await eventually('the invalid state', () => (api.connections.state?.kind === 'invalid' ? true : undefined), 10_000);
      for (const view of [api.nodesView.treeView, api.servicesView.treeView, api.eventsView.treeView, api.runsView.treeView]) {
        assert.equal(view.message, undefined, 'VS Code hides welcome content while a view has a message');
      }
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.testConnection', { silent: true })), /Cannot read the CA file "\/nonexistent\/ux-ca\.pem"/);
      assert.deepEqual(api.nodesView.rootItems(), [], 'an empty tree, so the welcome content shows');
      // No history without a connection: only the runs this editor started, if any.
      const live = new Set(api.runs.all().map((r) => r.id));
      const rows = await api.runsView.getChildren();
      assert.ok(rows.every((r) => live.has((r as { run?: RunSnapshot }).run?.id ?? '')), JSON.stringify(rows.map((r) => r.label)));
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('ux-bad-ca');
    }
    await eventually('connected again', () => (api.connections.state?.kind === 'connected' ? true : undefined), 10_000);
    assert.equal(api.nodesView.treeView.message, undefined);
    assert.equal(api.runsView.treeView.message, undefined);
    assert.match(api.eventsView.treeView.message ?? '', /last 256 events/);
  });

  it('copies a node\'s name and address from its item, and values from argument objects', async () => {
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    const items = await viewShows(api.nodesView, (i) => i.some(isNode));
    const node = items.find(isNode)!;
    assert.equal(await vscode.commands.executeCommand('chefConsul.copyName', node), node.node.name);
    assert.equal(await vscode.env.clipboard.readText(), node.node.name);
    assert.equal(await vscode.commands.executeCommand('chefConsul.copyAddress', node), node.node.address);
    assert.equal(await vscode.env.clipboard.readText(), node.node.address);
    assert.equal(await vscode.commands.executeCommand('chefConsul.copyName', { name: 'web-7' }), 'web-7');
    assert.equal(await vscode.commands.executeCommand('chefConsul.copyAddress', { address: '10.0.0.7' }), '10.0.0.7');
    assert.equal(await vscode.env.clipboard.readText(), '10.0.0.7');
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.copyAddress', {})), /"address" is required/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.copyRunId', { id: 7 })), /"id" is required/);
  });

  it('reveals a run\'s node in the Runs view through getParent, and copies the run ID from it', async () => {
    await vscode.commands.executeCommand('chefConsul.runs.focus');
    const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command: 'echo ux', service: '^db$' })) as string;
    await finished(id);
    const row = await eventually('the run\'s row', async () => (await api.runsView.getChildren()).find((i) => (i as { run?: RunSnapshot }).run?.id === id));
    assert.equal(row.contextValue, 'chefConsul.run.finished.adhoc');
    const phase = (await api.runsView.getChildren(row))[0];
    const nodeRow = (await api.runsView.getChildren(phase))[0];
    assert.equal(api.runsView.getParent(nodeRow)?.id, phase.id);
    assert.equal(api.runsView.getParent(phase)?.id, row.id);
    assert.equal(api.runsView.getParent(row), undefined);
    const revealed = await vscode.commands.executeCommand('chefConsul.runs.reveal', { id, phase: 0, node: 'db-1' });
    assert.equal(revealed, `run:${id}/phase:0/node:db-1`);
    // The selection comes to the extension host from the workbench (the reveal waits up to 1 s for it, revealing again if needed).
    await eventually('the node selected', () => (api.runsView.treeView.selection.map((s) => s.id).join() === revealed ? true : undefined), 15_000);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.runs.reveal', { id, phase: 0, node: 'no-such-node' })), /has no node no-such-node/);
    assert.equal(await vscode.commands.executeCommand('chefConsul.copyRunId', nodeRow), id);
    assert.equal(await vscode.commands.executeCommand('chefConsul.copyRunId', { id }), id);
    assert.equal(await vscode.env.clipboard.readText(), id);
  });

  it('has a status bar hover in Markdown with leader, version, latency and command links, and an accessible label', async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    const md = await eventually('the hover with the cluster info', () => (/Latency/.test(api.statusBar.tooltipMarkdown) ? api.statusBar.tooltipMarkdown : undefined), 10_000);
    const text = md.replace(/&nbsp;/g, ' ');
    assert.match(text, /Leader: [\d.]+:\d+/);
    assert.match(text, /Consul version: \d+\.\d+/);
    assert.match(text, /Latency: \d+ ms/);
    for (const id of ['chefConsul.selectDatacenter', 'chefConsul.testConnection', 'chefConsul.showLog']) assert.ok(md.includes(`(command:${id})`), `${id} link in ${md}`);
    assert.match(api.statusBar.accessibilityLabel ?? '', /^Consul profile Environment, datacenter \S+, leader [\d.]+:\d+; cluster checks: \d+ critical, \d+ warning$/);
  });

  it('has a walkthrough whose steps complete on the extension\'s real commands and views', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributes = ext.packageJSON.contributes as {
      walkthroughs: Array<{ steps: Array<{ id: string; media: { markdown: string }; completionEvents: string[] }> }>;
      views: Record<string, Array<{ id: string }>>;
    };
    const steps = contributes.walkthroughs[0].steps;
    assert.deepEqual(steps.map((s) => s.id), ['connect', 'nodes', 'taskyml', 'run', 'watch']);
    const commands = new Set(await vscode.commands.getCommands(true));
    const views = new Set(contributes.views.chefConsul.map((v) => v.id));
    for (const step of steps) {
      assert.ok(step.completionEvents.length, step.id);
      for (const event of step.completionEvents) {
        const [kind, what] = event.split(/:(.*)/s);
        if (kind === 'onCommand') assert.ok(commands.has(what), `${step.id}: ${what} is not a registered command`);
        else if (kind === 'onView') assert.ok(views.has(what), `${step.id}: ${what} is not a view`);
        else assert.equal(kind, 'onContext', event);
      }
      const media = vscode.Uri.joinPath(ext.extensionUri, step.media.markdown);
      assert.ok((await vscode.workspace.fs.readFile(media)).byteLength > 100, step.media.markdown);
    }
  });

  it('writes run, phase and node tooltips as untrusted Markdown with every value escaped', () => {
    const run: RunSnapshot = {
      id: 'r-1',
      engine: 'metronome',
      event: HOSTILE,
      patterns: [],
      startedBy: HOSTILE,
      status: 'running',
      startedAt: Date.now() - 5000,
      message: HOSTILE,
      phases: [{ no: 0, task: HOSTILE, status: 'error', message: HOSTILE, nodes: [{ node: HOSTILE, status: 'error', exitCode: 3, outputBytes: 0, note: HOSTILE }] }],
    };
    const runItem = new RunItem(run);
    assert.equal(runItem.contextValue, 'chefConsul.run.running.metronome');
    const items = [runItem, new PhaseItem(run, run.phases[0]), new NodeRunItem(run, run.phases[0], run.phases[0].nodes[0])];
    for (const item of items) {
      const md = item.tooltip as vscode.MarkdownString;
      assert.ok(md instanceof vscode.MarkdownString, `${item.kind} tooltip is Markdown`);
      assert.equal(md.isTrusted, false);
      assert.ok(!md.supportHtml);
      assert.ok(!md.value.includes('](command:'), md.value);
      assert.ok(!md.value.includes('**bold**'), md.value);
      assert.ok(md.value.includes('\\*\\*bold\\*\\*'), md.value);
    }
    assert.match((items[2].tooltip as vscode.MarkdownString).value, /Exit(&nbsp;| )code:(&nbsp;| )3/);
  });
});
