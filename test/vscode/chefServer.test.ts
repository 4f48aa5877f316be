import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { ChefReport } from '../../src/core/chef/report';
import type { ChefNodeDocument } from '../../src/core/chef/attributes';
import type { ChefRunSummary } from '../../src/core/chef/server/reporting';
import { postRunEnd, postRunStart } from '../../src/core/chef/server/reporting';
import { ChefServerClient } from '../../src/core/chef/server/chefServerClient';
import type { Notification } from '../../src/core/notify/notifier';
import type { CatalogItem } from '../../src/vscode/views/catalogItems';
import { eventually } from '../support/env';
import { clusterFromEnv, serverAgent } from '../support/env';
import { activateExtension, labels, removeProfiles, viewShows } from './support';

/**
 * The Chef server side against the goiardi npm test starts and seeds
 * (test/infra/chefSeed.ts: consul-server-1, web-1, db-1 like the Consul
 * cluster, plus legacy-app-1 known only to Chef; web-1's last run failed).
 */
const PROFILE = 'test-chef';
const label = (i: vscode.TreeItem) => (typeof i.label === 'string' ? i.label : (i.label?.label ?? ''));

function chefEnv(): { url: string; client: string; key: string } {
  const url = process.env.CCO_CHEF_URL;
  const client = process.env.CCO_CHEF_CLIENT;
  const key = process.env.CCO_CHEF_KEY;
  if (!url || !client || !key) throw new Error('CCO_CHEF_URL, CCO_CHEF_CLIENT and CCO_CHEF_KEY are not set: npm test starts goiardi (cli.js start --with-chef) and sets them.');
  return { url, client, key };
}

async function rejection(p: Thenable<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the command to fail');
}

describe('Chef server in VS Code', function () {
  this.timeout(60_000);
  let api: ChefConsulApi;
  const env = chefEnv();
  const config = () => vscode.workspace.getConfiguration('chefConsul.chef');

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await config().update('readKnifeConfig', false, vscode.ConfigurationTarget.Global);
    await config().update('profiles', [{ name: PROFILE, serverUrl: env.url, clientName: env.client, clientKey: env.key }], vscode.ConfigurationTarget.Global);
    assert.equal(await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: PROFILE }), PROFILE);
  });

  after(async () => {
    for (const key of ['profiles', 'activeProfile', 'readKnifeConfig', 'nodeMapping']) await config().update(key, undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('tests the connection: goiardi answers, signed with X-Ops-Sign 1.3', async () => {
    const r = (await vscode.commands.executeCommand('chefConsul.chef.testConnection', { silent: true })) as { ok: boolean; serverVersion?: string; signVersion?: string; nodes?: number; profile?: string };
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.profile, PROFILE);
    assert.match(r.serverVersion ?? '', /^goiardi \d+\.\d+\.\d+/);
    assert.equal(r.signVersion, '1.3');
    assert.ok((r.nodes ?? 0) >= 4);
  });

  it('shows nodes with environment, platform and last run, roles, environments, cookbooks with versions and data bags', async () => {
    const view = api.chefServer.view;
    const groups = await view.getChildren();
    assert.deepEqual(groups.map(label), ['Nodes', 'Roles', 'Environments', 'Cookbooks', 'Data Bags']);
    const nodes = await view.getChildren(groups[0]);
    const names = nodes.map(label);
    for (const n of ['consul-server-1', 'web-1', 'db-1', 'legacy-app-1']) assert.ok(names.includes(n), `node ${n} in ${JSON.stringify(names)}`);
    const web = nodes.find((n) => label(n) === 'web-1')!;
    assert.match(String(web.description), /^production · debian [\d.]+ · Chef ✗ \S+\[.+\] · (just now|\d+ (min|h) ago)$/);
    const legacy = nodes.find((n) => label(n) === 'legacy-app-1')!;
    // Its last run is 2 days old: the inventory reads last runs over 24 hours (Reporting's cost grows with the window) and says so,
    // with when the node last checked in (its ohai_time, as knife status shows it).
    assert.equal(String(legacy.description), 'staging · centos 7.9.2009 · Chef: no run in 24 h · checked in 2 d ago');
    // The tooltip's Markdown source, its escapes taken off.
    const legacyTip = (legacy.tooltip as vscode.MarkdownString).value.replace(/&nbsp;/g, ' ').replace(/\\(.)/g, '$1');
    assert.match(legacyTip, /Last Chef run: none reported in the last 24 hours/);
    assert.match(legacyTip, /Last check-in \(ohai_time\): 2 d ago \(/);
    assert.ok((await view.getChildren(groups[1])).map(label).includes('web'));
    assert.deepEqual((await view.getChildren(groups[2])).map(label).filter((e) => e !== '_default'), ['production', 'staging']);
    const cookbooks = await view.getChildren(groups[3]);
    const nginx = cookbooks.find((c) => label(c) === 'nginx')!;
    assert.deepEqual((await view.getChildren(nginx)).map(label), ['2.8.1', '2.7.0']);
    const bags = await view.getChildren(groups[4]);
    const users = bags.find((b) => label(b) === 'users')!;
    assert.deepEqual((await view.getChildren(users)).map(label), ['alice', 'bob']);
    // A node leads to its attributes (merged and per level) and its run history.
    assert.deepEqual((await view.getChildren(web)).map(label), ['Attributes (merged)', 'default', 'normal', 'override', 'automatic', 'Run history']);
    // Its context menu's Open Chef Node gets the item itself.
    assert.equal(await vscode.commands.executeCommand('chefConsul.chef.openNode', web), `chef:/${PROFILE}/nodes/web-1.json`);
  });

  it('lists many nodes page by page: the first 200, then Show more…', async function () {
    this.timeout(120_000);
    const client = new ChefServerClient({ serverUrl: env.url, clientName: env.client, clientKeyPath: env.key });
    const bulk = Array.from({ length: 250 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    let next = 0;
    const pool = (fn: (name: string) => Promise<unknown>) =>
      Promise.all(Array.from({ length: 8 }, async () => { while (next < bulk.length) await fn(bulk[next++]); }));
    try {
      await pool((name) => client.post('/nodes', { name, chef_type: 'node', json_class: 'Chef::Node', chef_environment: '_default', run_list: [], automatic: { platform: 'debian' } }));
      // goiardi indexes for search in the background.
      await eventually('the bulk nodes in search', async () => {
        await vscode.commands.executeCommand('chefConsul.chef.refresh');
        const inv = api.chefServer.connection.inventory;
        return inv.kind === 'ready' && inv.nodes.length >= 254 ? inv : undefined;
      }, 60_000, 500);
      const view = api.chefServer.view;
      const [nodesGroup] = await view.getChildren();
      assert.match(String(nodesGroup.description), /^\d+$/);
      let items = await view.getChildren(nodesGroup);
      assert.equal(items.length, 201);
      assert.equal(label(items[200]), 'Show more…');
      assert.equal(items[200].description, `200 of ${nodesGroup.description} shown`);
      await vscode.commands.executeCommand(items[200].command!.command, ...(items[200].command!.arguments ?? []));
      items = await view.getChildren(nodesGroup);
      assert.equal(items.length, Number(nodesGroup.description));
      assert.ok(items.every((i) => label(i) !== 'Show more…'));
    } finally {
      next = 0;
      await pool((name) => client.delete(`/nodes/${name}`).catch(() => undefined));
      await vscode.commands.executeCommand('chefConsul.chef.refresh');
    }
  });

  it('opens a node as a read-only chef: JSON document, merged and per precedence level, and searches its attributes', async () => {
    const uri = (await vscode.commands.executeCommand('chefConsul.chef.openNode', { name: 'web-1' })) as string;
    assert.equal(uri, `chef:/${PROFILE}/nodes/web-1.json`);
    const doc = vscode.window.activeTextEditor!.document;
    assert.equal(doc.uri.toString(), vscode.Uri.parse(uri).toString());
    assert.equal(doc.languageId, 'json');
    const node = JSON.parse(doc.getText()) as ChefNodeDocument;
    assert.equal(node.name, 'web-1');
    assert.equal(node.chef_environment, 'production');
    assert.deepEqual(node.run_list, ['role[base]', 'role[web]']);
    assert.equal(node.attributes.ipaddress, '127.0.0.3');
    assert.deepEqual(node.attributes.base, node.default.base);
    await vscode.commands.executeCommand('chefConsul.chef.openNode', { name: 'web-1', level: 'automatic' });
    const automatic = JSON.parse(vscode.window.activeTextEditor!.document.getText()) as Record<string, unknown>;
    assert.equal(automatic.ipaddress, '127.0.0.3');
    assert.equal(automatic.base, undefined, 'a level shows only its own attributes');

    const hit = (await vscode.commands.executeCommand('chefConsul.chef.searchAttributes', { node: 'web-1', path: 'platform' })) as { line: number; level: string; value: string };
    assert.equal(hit.level, 'automatic');
    assert.equal(hit.value, '"debian"');
    const editor = vscode.window.activeTextEditor!;
    assert.equal(editor.selection.active.line, hit.line);
    assert.match(editor.document.lineAt(hit.line).text, /^ {4}"platform": "debian",?$/);
    const err = await rejection(vscode.commands.executeCommand('chefConsul.chef.searchAttributes', { node: 'web-1', path: 'no.such.attribute' }));
    assert.match(err.message, /Node web-1 has no attribute no\.such\.attribute/);
  });

  it('getNode {name} returns the merged attributes and every precedence level; bad input says what is wrong', async () => {
    const node = (await vscode.commands.executeCommand('chefConsul.chef.getNode', { name: 'db-1' })) as ChefNodeDocument;
    assert.deepEqual(Object.keys(node), ['name', 'chef_environment', 'run_list', 'attributes', 'default', 'normal', 'override', 'automatic']);
    assert.equal(node.chef_environment, 'staging');
    assert.deepEqual(JSON.parse(JSON.stringify(node)), node);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.getNode', {}))).message, /"name" is required/);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.getNode', { name: 'no-such-node' }))).message, /Not found on the Chef server: GET \/nodes\/no-such-node/);
  });

  it('listRuns {node, status, from, to} returns the node runs newest first, filtered', async () => {
    const runs = (await vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1' })) as ChefRunSummary[];
    assert.ok(runs.length >= 5, `${runs.length} runs`);
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i - 1].startedAt! >= runs[i].startedAt!, 'newest first');
    assert.ok(runs.every((r) => r.node === 'web-1'));
    const failed = (await vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1', status: 'failure' })) as ChefRunSummary[];
    assert.ok(failed.length >= 1 && failed.every((r) => r.status === 'failure' && r.failedResource));
    const newest = runs[0];
    const window = (await vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1', from: newest.startedAt, to: new Date(newest.startedAt!).toISOString() })) as ChefRunSummary[];
    assert.deepEqual(window.map((r) => r.runId), [newest.runId]);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1', status: 'broken' }))).message, /"status" must be one of success, failure, started, running/);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1', from: 'yesterday' }))).message, /"from" must be a date/);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.listRuns', {}))).message, /"node" is required/);
  });

  it('openRun {node, runId} shows a failed run in the Chef Report view: failure, backtrace, resources with before/after and delta', async () => {
    const [failed] = (await vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1', status: 'failure' })) as ChefRunSummary[];
    const report = (await vscode.commands.executeCommand('chefConsul.chef.openRun', { node: 'web-1', runId: failed.runId })) as ChefReport;
    assert.equal(report.source, 'reporting');
    assert.equal(report.status, 'failure');
    assert.equal(report.failure?.resource, failed.failedResource);
    assert.ok(report.failure!.backtrace.length > 0, 'the backtrace is there');
    assert.deepEqual(report.runList, ['role[base]', 'role[web]']);
    assert.ok(report.durationSeconds! > 0);
    const roots = api.chef.view.getChildren();
    assert.equal(label(roots[0]), 'web-1 · Reporting');
    assert.equal(label(roots[1]), `Failed: ${failed.failedResource}`);
    const failureParts = api.chef.view.getChildren(roots[1]).map(label);
    assert.ok(failureParts.includes('Backtrace'), JSON.stringify(failureParts));
    // A resource with a delta: the diff editor, both sides rebuilt; with before/after: their diff.
    const ref = { id: `reporting:${failed.runId}`, phase: 0, node: 'web-1' };
    const withDelta = report.resources.findIndex((r) => r.diffs.some((d) => d.diff));
    assert.ok(withDelta >= 0, 'a resource carries a delta');
    const sides = (await vscode.commands.executeCommand('chefConsul.openChefDiff', { ...ref, resource: withDelta, diff: 0 })) as { before: string; after: string };
    assert.ok(sides.before && sides.after);
    const withState = report.resources.findIndex((r) => r.before && r.after);
    assert.ok(withState >= 0, 'a resource carries before/after');
    const state = (await vscode.commands.executeCommand('chefConsul.chef.openResourceState', { node: 'web-1', runId: failed.runId, resource: withState })) as { before: string; after: string };
    const after = await vscode.workspace.openTextDocument(vscode.Uri.parse(state.after));
    assert.deepEqual(JSON.parse(after.getText()), report.resources[withState].after);
    const text = (await vscode.commands.executeCommand('chefConsul.openChefFailure', ref)) as vscode.TextEditor;
    assert.match(text.document.getText(), /Backtrace:/);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.openRun', { node: 'web-1' }))).message, /"runId" is required/);
    // Another node's run is not shown under this node's name.
    assert.equal((await rejection(vscode.commands.executeCommand('chefConsul.chef.openRun', { node: 'db-1', runId: failed.runId }))).message, `Run ${failed.runId} is a run of node "web-1", not of "db-1".`);
  });

  it('joins the Nodes view: a failed node shows its failed resource, the Chef-only node is marked; the mapping is a setting', async () => {
    const [lastWeb] = (await vscode.commands.executeCommand('chefConsul.chef.listRuns', { node: 'web-1' })) as ChefRunSummary[];
    assert.equal(lastWeb.status, 'failure', 'the seed ends web-1 with a failure');
    const byLabel = (items: CatalogItem[], l: string) => items.find((i) => label(i) === l);
    const joined = (items: CatalogItem[]) => String(byLabel(items, 'web-1')?.description ?? '').includes('Chef ✗') && !!byLabel(items, 'Only in Chef');
    let items = await viewShows(api.nodesView, joined, 20_000);
    const web = byLabel(items, 'web-1')!;
    assert.match(String(web.description), new RegExp(`^127\\.0\\.0\\.3 · Chef ✗ ${lastWeb.failedResource!.replace(/[[\]().*+?^$|\\]/g, '\\$&')} · `));
    // appendText escapes: spaces read as &nbsp; in the Markdown source.
    assert.match((web.tooltip as vscode.MarkdownString).value.replace(/&nbsp;/g, ' '), /Failed resource: \S+\\\[/);
    assert.equal((web.tooltip as vscode.MarkdownString).isTrusted, false);
    assert.match(String(byLabel(items, 'db-1')?.description), /^127\.0\.0\.4 · Chef (✓|✗)/);
    const group = byLabel(items, 'Only in Chef')!;
    assert.equal(labels(items).at(-1), 'Only in Chef', 'the group closes the list');
    const only = api.nodesView.getChildren(group);
    assert.deepEqual(labels(only), ['legacy-app-1']);
    assert.equal(String(only[0].description), 'only in Chef · Chef: no run in 24 h · checked in 2 d ago', 'its last run is 2 days old');
    assert.deepEqual(api.chefServer.join.current?.notInChef, []);
    // A Consul node's context menu opens the Chef node it maps to.
    assert.equal(await vscode.commands.executeCommand('chefConsul.chef.openNode', web), `chef:/${PROFILE}/nodes/web-1.json`);

    // By ipaddress: the Chef ipaddress attribute against the Consul address — the seed gives the same addresses.
    await config().update('nodeMapping', 'ipaddress', vscode.ConfigurationTarget.Global);
    items = await viewShows(api.nodesView, (i) => api.chefServer.join.current?.mapping === 'ipaddress' && joined(i), 10_000);
    assert.deepEqual(labels(api.nodesView.getChildren(byLabel(items, 'Only in Chef')!)), ['legacy-app-1']);
    // By fqdn: the seed's fqdns (<name>.example.internal) are not the Consul names, so every Consul node is "not in Chef".
    await config().update('nodeMapping', 'fqdn', vscode.ConfigurationTarget.Global);
    items = await viewShows(api.nodesView, (i) => api.chefServer.join.current?.mapping === 'fqdn' && String(byLabel(i, 'web-1')?.description).includes('not in Chef'), 10_000);
    assert.equal(String(byLabel(items, 'db-1')?.description), '127.0.0.4 · not in Chef');
    assert.deepEqual([...api.chefServer.join.current!.notInChef].sort(), ['consul-server-1', 'db-1', 'web-1']);
    assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.openNode', byLabel(items, 'db-1')))).message, /The Consul node db-1 is not in Chef \(mapping by fqdn\)/);
    assert.deepEqual(labels(api.nodesView.getChildren(byLabel(items, 'Only in Chef')!)), ['consul-server-1', 'db-1', 'legacy-app-1', 'web-1']);
    await config().update('nodeMapping', undefined, vscode.ConfigurationTarget.Global);
  });

  it('notifies a run that fails while the extension runs, once, with a jump to openRun; never the history', async () => {
    const seen: Notification[] = [];
    const sub = api.notifier.onDidNotify(({ notification }) => seen.push(notification));
    try {
      const client = new ChefServerClient({ serverUrl: env.url, clientName: env.client, clientKeyPath: env.key });
      const runId = crypto.randomUUID();
      const now = Date.now();
      // A node of this test's own: the seeded nodes' run history is what other tests and the UI screenshots read.
      const node = `chefserver-vtest-${process.pid}-db`;
      await postRunStart(client, node, { runId, startTime: now - 20_000 });
      await postRunEnd(client, node, {
        runId,
        startTime: now - 20_000,
        endTime: now,
        status: 'failure',
        runList: ['role[db]'],
        totalResources: 12,
        resources: [{ type: 'service', name: 'postgresql', id: 'postgresql', before: {}, after: {}, duration: '120', delta: '', result: 'restart', cookbook_name: 'postgresql', cookbook_version: '11.1.0' }],
        exception: { class: 'Mixlib::ShellOut::ShellCommandFailed', message: 'Expected process to exit with [0], but received 1', backtrace: ['a.rb:1'], description: { title: "Error executing action `restart` on resource 'service[postgresql]'", sections: [] } },
      });
      const poller = api.chefServer.poller;
      const key = `chef-run:${node}:${runId}`;
      await eventually('the failed run to be notified', async () => {
        await poller.pollNow();
        return seen.some((n) => n.key === key) || undefined;
      }, 20_000, 300);
      const n = seen.find((x) => x.key === key)!;
      assert.equal(n.source, 'chef-run');
      assert.equal(n.resource, 'service[postgresql]');
      assert.deepEqual(n.jump, { command: 'chefConsul.chef.openRun', args: { node, runId } });
      await poller.pollNow();
      assert.equal(seen.filter((x) => x.key === key).length, 1, 'once per node and run');
      const seeded = seen.filter((x) => x.source === 'chef-run' && x.key !== key && (x.jump?.command === 'chefConsul.chef.openRun'));
      assert.deepEqual(seeded.map((x) => x.key), [], 'runs that ended before the extension started are no news');
      // The jump opens the run.
      const report = (await vscode.commands.executeCommand(n.jump!.command, n.jump!.args)) as ChefReport;
      assert.equal(report.failure?.resource, 'service[postgresql]');
    } finally {
      sub.dispose();
    }
  });

  it('a Chef profile tied to a Consul profile follows it, and selecting it selects that Consul profile', async () => {
    const server = serverAgent(clusterFromEnv());
    const base = { serverUrl: env.url, clientName: env.client, clientKey: env.key };
    await config().update('profiles', [{ name: PROFILE, ...base }, { name: 'tied-to-env', ...base, consulProfile: 'Environment' }], vscode.ConfigurationTarget.Global);
    const chef = api.chefServer.connection;
    const active = () => (chef.state.kind === 'none' ? undefined : chef.state.profile.name);
    // The Consul profile is Environment: the Chef profile tied to it wins over the chosen one.
    await eventually('the tied profile', () => (active() === 'tied-to-env' ? true : undefined), 5_000, 50);
    try {
      await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'chef-tie-other', address: server.httpAddr });
      await eventually('the chosen profile once Consul switched', () => (active() === PROFILE ? true : undefined), 5_000, 50);
      assert.equal(await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'tied-to-env' }), 'tied-to-env');
      await eventually('Consul back on Environment', () => (api.connections.activeProfile().name === 'Environment' ? true : undefined), 5_000, 50);
      assert.equal(active(), 'tied-to-env');
      assert.match((await rejection(vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'nope' }))).message, /No Chef profile named "nope"\. Known: test-chef, tied-to-env/);
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('chef-tie-other');
      await config().update('profiles', [{ name: PROFILE, ...base }], vscode.ConfigurationTarget.Global);
      await config().update('activeProfile', PROFILE, vscode.ConfigurationTarget.Global);
    }
  });

  it('shows the connection failure with its kind when the key is wrong, and the welcome content without a profile', async () => {
    const wrongKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const os = await import('node:os');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cco-chef-key-')), 'wrong.pem');
    fs.writeFileSync(keyFile, wrongKey, { mode: 0o600 });
    await config().update('profiles', [{ name: 'wrong-key', serverUrl: env.url, clientName: env.client, clientKey: keyFile }], vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'wrong-key' });
    const r = (await vscode.commands.executeCommand('chefConsul.chef.testConnection', { silent: true })) as { ok: boolean; kind?: string; message?: string };
    assert.equal(r.ok, false);
    assert.equal(r.kind, 'wrong-key');
    assert.doesNotMatch(JSON.stringify(r), /BEGIN/);
    await api.chefServer.connection.loadInventory(true);
    assert.deepEqual(await api.chefServer.view.getChildren(), [], 'the welcome content shows');
    // The welcome of its kind shows (a message would hide it); the kind is next to the title.
    assert.equal(api.chefServer.view.treeView.message, undefined);
    assert.equal(api.chefServer.view.treeView.description, 'wrong-key · wrong-key');
    assert.equal(api.chefServer.connection.failureKind, 'wrong-key');
    // The key file replaced by the right key: used at once, with no settings change.
    fs.writeFileSync(keyFile, fs.readFileSync(env.key));
    fs.utimesSync(keyFile, new Date(), new Date(Date.now() + 10_000));
    const fixed = (await vscode.commands.executeCommand('chefConsul.chef.testConnection', { silent: true })) as { ok: boolean; kind?: string };
    assert.equal(fixed.ok, true, JSON.stringify(fixed));
    const ext = vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops')!;
    const pkg = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.json'), 'utf8')) as { contributes: { viewsWelcome: Array<{ view: string; contents: string; when: string }> } };
    const nls = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.nls.json'), 'utf8')) as Record<string, string>;
    const welcome = pkg.contributes.viewsWelcome.filter((w) => w.view === 'chefConsul.chef' && w.when.includes('chefConsul.chef.failure == wrong-key'));
    assert.equal(welcome.length, 1);
    assert.match(nls[welcome[0].contents.replace(/%/g, '')], /wrong-key[\s\S]*\[Test Chef Server Connection\]\(command:chefConsul\.chef\.testConnection\)/);
    await config().update('profiles', undefined, vscode.ConfigurationTarget.Global);
    await config().update('activeProfile', undefined, vscode.ConfigurationTarget.Global);
    await eventually('no profile', async () => (api.chefServer.connection.state.kind === 'none' ? true : undefined), 5_000, 100);
    assert.deepEqual(await api.chefServer.view.getChildren(), []);
    fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
    // A profile that cannot be used: Test Connection says what is wrong with it.
    await config().update('profiles', [{ name: 'bad', serverUrl: 'ftp://chef.example', clientName: 'a', clientKey: '/k.pem' }], vscode.ConfigurationTarget.Global);
    const bad = (await vscode.commands.executeCommand('chefConsul.chef.testConnection', { silent: true })) as { ok: boolean; kind?: string; message?: string };
    assert.equal(bad.kind, 'no-profile');
    assert.match(bad.message ?? '', /Not read: chefConsul\.chef\.profiles\[0\] \("bad"\): serverUrl "ftp:\/\/chef\.example" is not an http\(s\) URL/);
    await config().update('profiles', undefined, vscode.ConfigurationTarget.Global);
  });

  it('profiles but none active (all tied to another Consul profile, or activeProfile names a missing one): says why, with its own welcome', async () => {
    const base = { serverUrl: env.url, clientName: env.client, clientKey: env.key };
    try {
      await config().update('activeProfile', undefined, vscode.ConfigurationTarget.Global);
      await config().update('profiles', [{ name: 'elsewhere', ...base, consulProfile: 'some-other-consul' }], vscode.ConfigurationTarget.Global);
      const r = (await vscode.commands.executeCommand('chefConsul.chef.testConnection', { silent: true })) as { ok: boolean; kind?: string; message?: string };
      assert.equal(r.kind, 'no-active-profile');
      assert.match(r.message ?? '', /every Chef profile belongs to a Consul profile that is not active \(elsewhere → some-other-consul\)/);
      assert.match(api.chefServer.view.treeView.description ?? '', /none active: every Chef profile belongs/);
      await config().update('profiles', [{ name: PROFILE, ...base }], vscode.ConfigurationTarget.Global);
      await config().update('activeProfile', 'gone', vscode.ConfigurationTarget.Global);
      const gone = (await vscode.commands.executeCommand('chefConsul.chef.testConnection', { silent: true })) as { ok: boolean; kind?: string; message?: string };
      assert.match(gone.message ?? '', /chefConsul\.chef\.activeProfile names "gone", but no Chef profile has that name \(there are: test-chef\)/);
      const fs = await import('node:fs');
      const path = await import('node:path');
      const ext = vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops')!;
      const pkg = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.json'), 'utf8')) as { contributes: { viewsWelcome: Array<{ view: string; contents: string; when: string }> } };
      const nls = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.nls.json'), 'utf8')) as Record<string, string>;
      const noProfile = pkg.contributes.viewsWelcome.filter((w) => w.view === 'chefConsul.chef' && /^!chefConsul\.chef\.hasProfile/.test(w.when));
      assert.deepEqual(noProfile.map((w) => w.when), ['!chefConsul.chef.hasProfile && !chefConsul.chef.noActiveProfile', '!chefConsul.chef.hasProfile && chefConsul.chef.noActiveProfile']);
      assert.doesNotMatch(nls[noProfile[0].contents.replace(/%/g, '')], /Several profiles/);
      assert.match(nls[noProfile[1].contents.replace(/%/g, '')], /none is active[\s\S]*\(command:chefConsul\.chef\.selectProfile\)/);
    } finally {
      await config().update('profiles', [{ name: PROFILE, ...base }], vscode.ConfigurationTarget.Global);
      await config().update('activeProfile', PROFILE, vscode.ConfigurationTarget.Global);
    }
  });

  it('a malformed chef: URI is a clear FileNotFound; openResourceState without "resource" says it is required', async () => {
    await config().update('profiles', [{ name: PROFILE, serverUrl: env.url, clientName: env.client, clientKey: env.key }], vscode.ConfigurationTarget.Global);
    await config().update('activeProfile', PROFILE, vscode.ConfigurationTarget.Global);
    const bad = await rejection(vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: 'chef', path: `/${PROFILE}/nodes/%E0%A4%A.json` })));
    assert.match(bad.message, /Not a Chef object/);
    const err = await rejection(vscode.commands.executeCommand('chefConsul.chef.openResourceState', { node: 'web-1', runId: 'abc' }));
    assert.match(err.message, /"resource" is required/);
  });
});
