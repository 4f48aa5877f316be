import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { WindowLease } from '../../src/core/util/windowLease';
import { WatchManager, type WatchSummary } from '../../src/vscode/watches/watchManager';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { activateExtension, removeProfiles } from './support';
import { listen, withBody } from '../support/http';

describe('Watches in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const run = Math.random().toString(36).slice(2, 8);
  const key = `ext-watch/${run}/config`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ext-watch-'));
  let api: ChefConsulApi;
  const list = async () => (await vscode.commands.executeCommand('chefConsul.watches.list')) as WatchSummary[];
  const find = async (name: string) => (await list()).find((w) => w.name === name);

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: 'one' });
  });

  after(async () => {
    await vscode.workspace.getConfiguration('chefConsul').update('watches', undefined, vscode.ConfigurationTarget.Global);
    await consulRequest(server.httpAddr, `/v1/kv/ext-watch/${run}?recurse`, { method: 'DELETE' });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows the welcome content with Add Watch and Import while there is no watch', async () => {
    assert.deepEqual(api.watches.view.getChildren(), []);
    // A window without watches takes no part in the watches' window lease (activation touches no lock file).
    const lease = new WindowLease({ dir: tmp, name: 'watches' });
    const manager = new WatchManager(api.connections, api.notifier, vscode.window.createOutputChannel('cco-watch-lease-probe', { log: true }), undefined, lease);
    try {
      assert.equal(manager.list().length, 0);
      assert.equal(lease.state.kind, 'stopped');
      assert.equal(fs.existsSync(lease.lockFile), false);
    } finally {
      manager.dispose();
      lease.dispose();
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops')!.extensionPath, 'package.json'), 'utf8')) as {
      contributes: { viewsWelcome: { view: string; contents: string }[] };
    };
    assert.ok(pkg.contributes.viewsWelcome.some((w) => w.view === 'chefConsul.watches'));
  });

  it('adds a key watch from arguments, fires it by a KV write, and lists when and why it fired; the diff shows old and new value', async () => {
    const out = path.join(tmp, 'handler.json');
    const stored = await vscode.commands.executeCommand('chefConsul.watches.add', {
      name: 'ext key',
      type: 'key',
      key,
      debounceMs: 200,
      actions: [{ type: 'notify' }, { type: 'handler', command: `cat > '${out}'; printf '%s' "$CONSUL_INDEX" > '${out}.idx'` }],
    });
    assert.deepEqual(stored, { name: 'ext key', type: 'key', key, debounceMs: 200, actions: [{ type: 'notify' }, { type: 'handler', command: `cat > '${out}'; printf '%s' "$CONSUL_INDEX" > '${out}.idx'` }] });
    await eventually('the watch to run', async () => (await find('ext key'))?.state === 'watching', 10_000);
    assert.equal((await find('ext key'))?.lastFired, undefined, 'fired on the first read');

    await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: 'two' });
    const fired = await eventually('the watch to fire', async () => {
      const w = await find('ext key');
      return w?.lastFired ? w : undefined;
    }, 10_000);
    assert.equal(fired.why, `key ${key} changed`);
    assert.ok(Date.now() - Date.parse(fired.lastFired!) < 10_000);

    // The notification, through the one notifier's VS Code channel.
    const toast = await eventually('the toast', () => api.notifications.vscodeChannel.recent.find((t) => t.text.startsWith('Watch "ext key"')), 5000);
    assert.match(toast.text, new RegExp(`^Watch "ext key": key ${key} changed`));

    // The handler got the KV entry as consul watch hands it, and CONSUL_INDEX.
    const json = await eventually('the handler output', () => (fs.existsSync(`${out}.idx`) ? fs.readFileSync(out, 'utf8') : undefined), 10_000);
    const entry = JSON.parse(json) as { Key: string; Value: string; Session: string; ModifyIndex: number };
    assert.equal(entry.Key, key);
    assert.equal(Buffer.from(entry.Value, 'base64').toString(), 'two');
    assert.equal(entry.Session, '');
    assert.equal(fs.readFileSync(`${out}.idx`, 'utf8'), String(entry.ModifyIndex));

    // The view's item.
    const item = api.watches.view.getChildren().find((i) => i.label === 'ext key') as vscode.TreeItem;
    assert.match(String(item.description), /^fired \d+s ago$/);
    assert.match((item.tooltip as vscode.MarkdownString).value, /changed/);
    assert.equal((item.tooltip as vscode.MarkdownString).isTrusted, false);

    const shown = (await vscode.commands.executeCommand('chefConsul.watches.showLastChange', { name: 'ext key' })) as { why: string };
    assert.equal(shown.why, `key ${key} changed`);
    const tab = await eventually('the diff editor', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputTextDiff ? input : undefined;
    }, 15_000);
    assert.equal((await vscode.workspace.openTextDocument(tab.original)).getText(), 'one');
    assert.equal((await vscode.workspace.openTextDocument(tab.modified)).getText(), 'two');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('posts a firing through the notifications\' webhook channel when the watch asks for it', async () => {
    const got: { text: string }[] = [];
    const receiver = await listen(withBody((_req, res, body) => {
      got.push(JSON.parse(body.toString('utf8')) as { text: string });
      res.writeHead(200).end();
    }));
    const notifications = vscode.workspace.getConfiguration('chefConsul.notifications');
    try {
      await vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', { url: `http://${receiver.address}/hook` });
      await notifications.update('webhook.enabled', true, vscode.ConfigurationTarget.Global);
      await eventually('the webhook channel', () => api.notifier.channelKinds().includes('webhook'));
      await vscode.commands.executeCommand('chefConsul.watches.add', { name: 'hooked', type: 'key', key: `${key}-hook`, debounceMs: 100, actions: [{ type: 'webhook' }] });
      await eventually('the watch to run', async () => (await find('hooked'))?.state === 'watching', 10_000);
      await consulJson(server.httpAddr, `/v1/kv/${key}-hook`, { method: 'PUT', body: 'x' });
      const body = await eventually('the webhook post', () => got[0], 10_000);
      assert.match(body.text, new RegExp(`Watch "hooked": key ${key}-hook created`));
      // The title and details only: never the watch's JSON (values may be secrets).
      assert.deepEqual(Object.keys(body).sort(), ['blocks', 'text']);
      assert.ok(!JSON.stringify(body).includes(Buffer.from('x').toString('base64')), 'the webhook carried the KV value');
      assert.equal(api.notifications.vscodeChannel.recent.some((t) => t.text.startsWith('Watch "hooked"')), false, 'a webhook-only watch showed a toast');
    } finally {
      await vscode.commands.executeCommand('chefConsul.watches.remove', { name: 'hooked' }).then(undefined, () => undefined);
      await notifications.update('webhook.enabled', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('chefConsul.notifications.clearWebhookUrl', {});
      await receiver.close();
    }
  });

  it('pauses, resumes and removes a watch by name; editing one watch leaves the others running', async () => {
    const runner = api.watches.manager.get('ext key')?.runner;
    assert.ok(runner);
    await vscode.commands.executeCommand('chefConsul.watches.add', { name: 'other', type: 'nodes' });
    assert.equal(api.watches.manager.get('ext key')?.runner, runner, 'adding a watch restarted another one');
    await vscode.commands.executeCommand('chefConsul.watches.remove', { name: 'other' });
    assert.equal(api.watches.manager.get('ext key')?.runner, runner, 'removing a watch restarted another one');
    await vscode.commands.executeCommand('chefConsul.watches.pause', { name: 'ext key' });
    assert.equal((await find('ext key'))?.state, 'paused');
    // Why it last fired survives the restart.
    assert.equal((await find('ext key'))?.why, `key ${key} changed`);
    await vscode.commands.executeCommand('chefConsul.watches.resume', { name: 'ext key' });
    await eventually('the watch to run again', async () => (await find('ext key'))?.state === 'watching', 10_000);
    assert.deepEqual(await vscode.commands.executeCommand('chefConsul.watches.remove', { name: 'ext key' }), { removed: 'ext key' });
    assert.equal(await find('ext key'), undefined);
    // Nothing of a removed watch is kept.
    assert.equal(api.watches.manager.lastFiring('ext key'), undefined);
  });

  it('runs the watches in one window per machine: while another live window holds the lease none run here; they resume when it goes', async () => {
    const lease = api.watches.lease;
    assert.ok(lease, 'no window lease');
    await vscode.commands.executeCommand('chefConsul.watches.add', { name: 'leased', type: 'key', key: `${key}-lease`, debounceMs: 100 });
    await eventually('the watch to run', async () => (await find('leased'))?.state === 'watching', 10_000);
    assert.equal(lease.isOwner, true, 'the window with watches holds the lease');
    // Another window: a live process whose heartbeat keeps coming.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    const beat = () => fs.writeFileSync(lease.lockFile, JSON.stringify({ pid: other.pid, token: 'another-window', heartbeat: Date.now() }));
    beat();
    const heart = setInterval(beat, 500);
    try {
      const w = await eventually('the watch to stop here', async () => {
        const s = await find('leased');
        return s?.runningInPid === other.pid ? s : undefined;
      }, 10_000);
      assert.equal(w.state, 'idle');
      const item = api.watches.view.getChildren().find((i) => i.label === 'leased') as vscode.TreeItem;
      assert.match(String(item.description), new RegExp(`^running in another window \\(pid ${other.pid}\\)`));
    } finally {
      clearInterval(heart);
      other.kill('SIGKILL');
    }
    // Its process is gone: this window takes over within a few seconds.
    await eventually('the watch to run here again', async () => (await find('leased'))?.state === 'watching', 10_000);
    assert.equal(lease.isOwner, true);
    assert.equal((await find('leased'))?.runningInPid, undefined);
    await vscode.commands.executeCommand('chefConsul.watches.remove', { name: 'leased' });
  });

  it('never delivers its own follow-up events to its event watches, and fires at most one follow-up event per watch per 10 s', async () => {
    const outcomes: { watch: string; action: string; ok: boolean; detail: string }[] = [];
    const sub = api.watches.manager.onDidAct((o) => outcomes.push(o));
    const acked: string[][] = [];
    const fires = api.watches.manager.onDidFire((f) => f.watch.name === 'acks' && acked.push(f.summary.details));
    const ack = `loop-ack-${run}`;
    try {
      await vscode.commands.executeCommand('chefConsul.watches.add', { name: 'acks', type: 'event', eventName: ack, debounceMs: 100 });
      await vscode.commands.executeCommand('chefConsul.watches.add', { name: 'pinger', type: 'key', key: `${key}-loop`, debounceMs: 100, actions: [{ type: 'event', name: ack }] });
      await eventually('both watches to run', async () => (await list()).filter((w) => ['acks', 'pinger'].includes(w.name) && w.state === 'watching').length === 2, 10_000);
      await consulJson(server.httpAddr, `/v1/kv/${key}-loop`, { method: 'PUT', body: '1' });
      const first = await eventually('the follow-up event', () => outcomes.find((o) => o.watch === 'pinger'), 10_000);
      assert.match(first.detail, new RegExp(`^fired event ${ack} `));
      // Well past the event watch's debounce: our own event did not fire it.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(acked.length, 0, 'the event watch got our own follow-up event');
      await consulJson(server.httpAddr, `/v1/kv/${key}-loop`, { method: 'PUT', body: '2' });
      const second = await eventually('the second firing', () => outcomes.filter((o) => o.watch === 'pinger')[1], 10_000);
      assert.match(second.detail, new RegExp(`^Watch "pinger": follow-up event "${ack}" dropped: a watch fires at most one follow-up event every 10 s`));
      // Another sender's event of that name is delivered; ours never was.
      await consulJson(server.httpAddr, `/v1/event/fire/${ack}`, { method: 'PUT', body: 'theirs' });
      const acks = await eventually('the foreign event to fire the watch', async () => {
        const w = await find('acks');
        return w?.lastFired ? w : undefined;
      }, 10_000);
      assert.equal(acks.why, `event ${ack} fired`);
      assert.equal(acked.length, 1);
      assert.equal(acked[0][0], 'payload: theirs');
      assert.equal(acked[0].filter((d) => d.startsWith(ack)).length, 1, 'our own follow-up event came along');
    } finally {
      sub.dispose();
      fires.dispose();
      for (const name of ['acks', 'pinger']) await vscode.commands.executeCommand('chefConsul.watches.remove', { name }).then(undefined, () => undefined);
    }
  });

  it('shows a broken entry of the setting as a warning item saying what is wrong', async () => {
    const config = vscode.workspace.getConfiguration('chefConsul');
    const before = config.inspect<unknown[]>('watches')?.globalValue ?? [];
    await config.update('watches', [...before, { name: 'broken', type: 'key', actions: [{ type: 'notify' }] }], vscode.ConfigurationTarget.Global);
    try {
      const item = await eventually('the problem item', () => api.watches.view.getChildren().find((i) => i.label === 'Watch "broken": a key watch needs "key".'), 5000);
      assert.equal(((item as vscode.TreeItem).iconPath as vscode.ThemeIcon).id, 'warning');
    } finally {
      await config.update('watches', before.length ? before : undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('refuses a bad definition with the reason and an unknown name', async () => {
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.watches.add', { name: 'bad', type: 'key' })), /Watch "bad": a key watch needs "key"\./);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.watches.remove', { name: 'nope' })), /There is no watch named "nope"/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.watches.showLastChange', {})), /Which watch\? Pass \{"name": "<watch name>"\}\./);
  });

  it('keeps the list command (for scripts and tests) out of the palette', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops')!.extensionPath, 'package.json'), 'utf8')) as {
      contributes: { menus: { commandPalette: { command: string; when: string }[] } };
    };
    assert.deepEqual(pkg.contributes.menus.commandPalette.find((m) => m.command === 'chefConsul.watches.list'), { command: 'chefConsul.watches.list', when: 'false' });
  });

  it('imports agent watches from HCL: runnable ones added, the others with the reason; handler watches paused unless runHandlers', async () => {
    const file = path.join(tmp, 'agent.hcl');
    fs.writeFileSync(file, `watches = [\n  { type = "keyprefix", prefix = "ext-watch/${run}/", args = ["./hook.sh", "-q"] },\n  { type = "connect_leaf", service = "web", args = ["/bin/true"] }\n]\n`);
    // A relative "path" is the workspace folder's; the relative program is the config file's folder's.
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
    const result = (await vscode.commands.executeCommand('chefConsul.watches.importAgentConfig', { path: path.relative(folder, file) })) as {
      runnable: { name: string; paused?: boolean; actions: { args?: string[] }[] }[];
      notRunnable: { reason: string }[];
      notes: string[];
      added: string[];
      paused: string[];
    };
    const name = `keyprefix ext-watch/${run}/`;
    assert.deepEqual(result.added, [name]);
    assert.deepEqual(result.paused, [name]);
    assert.deepEqual(result.runnable[0].actions[0].args, [path.join(tmp, 'hook.sh'), '-q']);
    assert.equal(result.notRunnable.length, 1);
    assert.match(result.notRunnable[0].reason, /connect_leaf/);
    assert.ok(result.notes.some((n) => /Unlike consul watch, which runs its handler once at start/.test(n)));
    assert.equal((await find(name))?.state, 'paused');
    await vscode.commands.executeCommand('chefConsul.watches.remove', { name });
    const again = (await vscode.commands.executeCommand('chefConsul.watches.importAgentConfig', { path: file, runHandlers: true })) as { added: string[]; paused: string[] };
    assert.deepEqual(again, { ...again, added: [name], paused: [] });
    await eventually('the imported watch to run', async () => (await find(name))?.state === 'watching', 10_000);
  });

  it('refuses an import over 1 MiB and says the resolved path of a missing file', async () => {
    const big = path.join(tmp, 'big.json');
    fs.writeFileSync(big, `{"watches": [], "pad": "${'x'.repeat(1024 * 1024)}"}`);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.watches.importAgentConfig', { path: big })), /big\.json" is 1025 KiB; an agent config file to import may be at most 1 MiB\./);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.watches.importAgentConfig', { path: 'no/such/agent.hcl' })),
      (e: Error) => e.message.includes(`Cannot read "${path.join(folder, 'no/such/agent.hcl')}": ENOENT.`),
    );
  });

  it('fires a follow-up event on a production profile only with confirmProduction naming it', async () => {
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'prodw', address: server.httpAddr, production: true });
    try {
      await eventually('the prod profile', () => api.connections.state?.kind === 'connected' && api.connections.state.connection.profile.name === 'prodw', 10_000);
      const outcomes: { action: string; ok: boolean; detail: string }[] = [];
      const sub = api.watches.manager.onDidAct((o) => outcomes.push(o));
      try {
        await vscode.commands.executeCommand('chefConsul.watches.add', { name: 'prod follow-up', type: 'key', key: `${key}-prod`, debounceMs: 100, actions: [{ type: 'event', name: `ack-${run}` }] });
        await eventually('the watch to run', async () => (await find('prod follow-up'))?.state === 'watching', 10_000);
        await consulJson(server.httpAddr, `/v1/kv/${key}-prod`, { method: 'PUT', body: 'x' });
        const o = await eventually('the event action to be refused', () => outcomes.find((x) => x.action === 'event'), 10_000);
        assert.equal(o.ok, false);
        assert.equal(o.detail, `Profile "prodw" is production: a watch fires follow-up events there only when its event action has "confirmProduction": "prodw". Event "ack-${run}" was not fired.`);
        const events = await consulJson<{ Name: string }[]>(server.httpAddr, `/v1/event/list?name=ack-${run}`);
        assert.equal(events.length, 0);

        // With the opt-in naming the profile, it fires.
        await vscode.commands.executeCommand('chefConsul.watches.add', {
          name: 'prod follow-up ok',
          type: 'key',
          key: `${key}-prod2`,
          debounceMs: 100,
          actions: [{ type: 'event', name: `ack-${run}`, payload: 'from a watch', confirmProduction: 'prodw' }],
        });
        await eventually('the second watch to run', async () => (await find('prod follow-up ok'))?.state === 'watching', 10_000);
        await consulJson(server.httpAddr, `/v1/kv/${key}-prod2`, { method: 'PUT', body: 'x' });
        const ok = await eventually('the event action to fire', () => outcomes.find((x) => x.action === 'event' && x.ok), 10_000);
        assert.match(ok.detail, new RegExp(`^fired event ack-${run} \\([0-9a-f-]{36}\\)$`));
        const fired = await eventually('the follow-up event in the buffer', async () => {
          const list = await consulJson<{ Payload: string }[]>(server.httpAddr, `/v1/event/list?name=ack-${run}`);
          return list.length ? list : undefined;
        }, 15_000);
        assert.equal(Buffer.from(fired[0].Payload, 'base64').toString(), 'from a watch');
      } finally {
        sub.dispose();
      }
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('prodw');
    }
  });
});
