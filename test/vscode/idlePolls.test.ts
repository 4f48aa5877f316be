/**
 * Idle cost (issue 11): the long-polls open at a moment, counted by a proxy in
 * front of the real server agent. A long-poll is a request with an `index=`
 * query parameter still in flight. With every view of ours hidden only the
 * status bar's catalog query is open; with the Nodes, Services and Events
 * views visible plus services, nodes and event watches, the catalog is one
 * shared query and the event buffer one shared query.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { countingProxy, forward, listen, Listener, withBody } from '../support/http';
import { activateExtension, removeProfiles } from './support';

const NODE_DUMP = '/v1/internal/ui/nodes';
const EVENT_LIST = '/v1/event/list';
const PROFILE = 'idle-polls';

/** A proxy that knows which long-polls are open now, by path. */
async function longPollCounter(target: string): Promise<Listener & { open(): Record<string, number> }> {
  const open = new Map<number, string>();
  let next = 0;
  const listener = await listen(
    withBody((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      if (url.searchParams.has('index')) {
        const id = next++;
        open.set(id, url.pathname);
        res.on('close', () => open.delete(id));
      }
      forward(target, req, res, body);
    }),
  );
  return {
    ...listener,
    open: () => {
      const counts: Record<string, number> = {};
      for (const p of [...open.values()].sort()) counts[p] = (counts[p] ?? 0) + 1;
      return counts;
    },
  };
}

describe('Idle cost: long-polls open', function () {
  this.timeout(90_000);
  const server = serverAgent(clusterFromEnv());
  let api: ChefConsulApi;
  let proxy: Awaited<ReturnType<typeof longPollCounter>>;
  const watchesConfig = () => vscode.workspace.getConfiguration('chefConsul');
  let savedWatches: unknown;

  /** The open long-polls once `accept` holds for a second (a long-poll that answered reopens at once); else they fail `check`. */
  const settles = async (what: string, accept: (open: Record<string, number>) => boolean, check: (open: Record<string, number>) => void) => {
    const steady = async () => {
      if (!accept(proxy.open())) return undefined;
      await new Promise((r) => setTimeout(r, 1000));
      return accept(proxy.open()) || undefined;
    };
    await eventually(what, steady, 20_000, 200).catch(() => undefined);
    const open = proxy.open();
    console.log(`${what}: ${JSON.stringify(open)}`);
    check(open);
    return open;
  };
  const settlesAt = (what: string, expected: Record<string, number>) =>
    settles(what, (open) => JSON.stringify(open) === JSON.stringify(expected), (open) => assert.deepEqual(open, expected, `${what}: the long-polls open`));

  before(async () => {
    api = await activateExtension();
    savedWatches = watchesConfig().inspect('watches')?.globalValue;
    await watchesConfig().update('watches', undefined, vscode.ConfigurationTarget.Global);
    proxy = await longPollCounter(server.httpAddr);
    await vscode.commands.executeCommand('workbench.action.closeSidebar');
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: PROFILE, address: `http://${proxy.address}` });
    await eventually('the profile through the proxy', () => (api.connections.state?.kind === 'connected' && api.connections.activeProfile().name === PROFILE) || undefined, 10_000);
  });

  after(async () => {
    await watchesConfig().update('watches', savedWatches, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await removeProfiles(PROFILE);
    await proxy.close();
  });

  it('one long-poll with every view hidden; one per kind of data with the views and watches; back again when they go', async () => {
    assert.equal(api.nodesView.treeView.visible, false);
    assert.equal(api.eventsView.treeView.visible, false);
    await settlesAt('every view hidden', { [NODE_DUMP]: 1 });

    // The Nodes, Services and Events views in the sidebar.
    await vscode.commands.executeCommand('workbench.view.extension.chefConsul');
    for (const id of ['chefConsul.nodes', 'chefConsul.services', 'chefConsul.events']) await vscode.commands.executeCommand(`${id}.focus`);
    await eventually('the three views visible', () => (api.nodesView.treeView.visible && api.servicesView.treeView.visible && api.eventsView.treeView.visible) || undefined, 10_000);
    // Plus a services, a nodes and an event watch.
    for (const w of [
      { name: 'idle services', type: 'services' },
      { name: 'idle nodes', type: 'nodes' },
      { name: 'idle event', type: 'event', eventName: 'idle-polls' },
    ])
      await vscode.commands.executeCommand('chefConsul.watches.add', { ...w, actions: [{ type: 'notify' }] });
    await eventually('the watches to run', async () => {
      const list = (await vscode.commands.executeCommand('chefConsul.watches.list')) as { name: string; state: string }[];
      return list.filter((w) => w.name.startsWith('idle ') && w.state === 'watching').length === 3 || undefined;
    }, 10_000);
    // Other open views of the container (e.g. Key/Value) read other data: they are not counted, but nothing may be doubled.
    const ours = (open: Record<string, number>) => ({ catalog: open[NODE_DUMP], events: open[EVENT_LIST] });
    const open = await settles(
      'views and watches',
      (o) => o[NODE_DUMP] === 1 && o[EVENT_LIST] === 1,
      (o) => assert.deepEqual(ours(o), { catalog: 1, events: 1 }, `one node-dump and one event-list long-poll; open: ${JSON.stringify(o)}`),
    );
    assert.deepEqual(Object.entries(open).filter(([, n]) => n > 1), [], 'no query doubled');
    // Exactly: the catalog and the events (2), plus the Key/Value view's folder (1, open by default) and the Runs view's two (collapsed by default).
    const others = (api.kv.view.treeView.visible ? 1 : 0) + (api.runsView.treeView.visible ? 2 : 0);
    assert.equal(Object.values(open).reduce((a, n) => a + n, 0), 2 + others, `long-polls open: ${JSON.stringify(open)}`);

    // Views hidden: the watches keep their one catalog (the status bar's) and one event query.
    await vscode.commands.executeCommand('workbench.action.closeSidebar');
    await eventually('the views hidden', () => (!api.nodesView.treeView.visible && !api.servicesView.treeView.visible && !api.eventsView.treeView.visible) || undefined, 10_000);
    await settlesAt('views hidden, watches on', { [EVENT_LIST]: 1, [NODE_DUMP]: 1 });
    // No watches either: only the status bar's.
    for (const name of ['idle services', 'idle nodes', 'idle event']) await vscode.commands.executeCommand('chefConsul.watches.remove', { name });
    await settlesAt('views hidden, no watches', { [NODE_DUMP]: 1 });
  });
});

describe('Idle cost: one Reporting poll per Chef server', function () {
  this.timeout(60_000);
  let api: ChefConsulApi;
  const chef = () => vscode.workspace.getConfiguration('chefConsul.chef');
  const rulesPoll = () => vscode.workspace.getConfiguration('chefConsul.rules');

  before(async () => {
    api = await activateExtension();
  });

  it('the failure notifications and the rules read one poll, at the shorter of their intervals', async () => {
    const url = process.env.CCO_CHEF_URL;
    const clientName = process.env.CCO_CHEF_CLIENT;
    const key = process.env.CCO_CHEF_KEY;
    if (!url || !clientName || !key) throw new Error('CCO_CHEF_URL, CCO_CHEF_CLIENT and CCO_CHEF_KEY are not set: npm test starts goiardi (cli.js start --with-chef) and sets them.');
    const proxy = await countingProxy(new URL(url).host);
    const saved = { profiles: chef().inspect('profiles')?.globalValue, activeProfile: chef().inspect('activeProfile')?.globalValue, readKnifeConfig: chef().inspect('readKnifeConfig')?.globalValue };
    // The org-wide listings of the poll (the Chef view's inventory reads 30 days back: not counted).
    const listings = () => proxy.requests.filter((r) => r === 'GET /reports/org/runs').length;
    const polls: boolean[] = [];
    const sub = api.chefServer.poller.onDidPoll((p) => polls.push(p.baseline));
    try {
      // Timers out of the way: only the first poll (the baseline) and the ones asked for.
      await chef().update('pollSeconds', 3600, vscode.ConfigurationTarget.Global);
      await rulesPoll().update('reportingPollSeconds', 3600, vscode.ConfigurationTarget.Global);
      await chef().update('readKnifeConfig', false, vscode.ConfigurationTarget.Global);
      await chef().update('profiles', [{ name: 'idle-chef', serverUrl: `http://${proxy.address}`, clientName, clientKey: key }], vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'idle-chef' });
      await eventually('the baseline poll', () => polls.includes(true) || undefined, 20_000);
      await new Promise((r) => setTimeout(r, 1000));
      const baseline = proxy.requests.filter((r) => r.startsWith('GET /reports/org/runs'));
      console.log(`Reporting requests for the baseline: ${JSON.stringify(baseline)}`);
      // Both consumers subscribed to it: one listing, not one each.
      assert.equal(listings(), 1, 'one baseline listing for the notifications and the rules');
      // Both asking at once: one poll, joined.
      const [matches] = await Promise.all([api.rules.pollReporting(), api.chefServer.poller.pollNow()]);
      assert.deepEqual(matches, []);
      assert.equal(listings(), 2, 'one listing for both');
      assert.deepEqual(polls, [true, false]);

      // The interval: the shorter of the two settings; chef.pollSeconds 0 leaves the rules' own.
      const feed = api.chefServer.reporting;
      assert.equal(feed.intervalMs, 3_600_000);
      await rulesPoll().update('reportingPollSeconds', 600, vscode.ConfigurationTarget.Global);
      await eventually('the rules\' interval', () => feed.intervalMs === 600_000 || undefined);
      await chef().update('pollSeconds', 0, vscode.ConfigurationTarget.Global);
      assert.equal(feed.intervalMs, 600_000);
      await chef().update('pollSeconds', 300, vscode.ConfigurationTarget.Global);
      await eventually('the notifications\' interval', () => feed.intervalMs === 300_000 || undefined);
    } finally {
      sub.dispose();
      await chef().update('pollSeconds', undefined, vscode.ConfigurationTarget.Global);
      await rulesPoll().update('reportingPollSeconds', undefined, vscode.ConfigurationTarget.Global);
      for (const [k, v] of Object.entries(saved)) await chef().update(k, v, vscode.ConfigurationTarget.Global);
      await proxy.close();
    }
  });
});
