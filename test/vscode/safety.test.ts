/**
 * Trust and safety in a real VS Code (trusted window): what a repository's
 * settings cannot change, where tokens go, and the production confirmation on
 * every path that reaches more than one node.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { ConnectionProfile } from '../../src/core/consul/profile';
import type { RunSnapshot } from '../../src/core/runs/model';
import { ConnectionManager } from '../../src/vscode/connectionManager';
import { fire } from '../../src/vscode/commands/eventCommands';
import { consulJson } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { activateExtension, finished, removeProfiles } from './support';

const PLANS: Record<string, string> = {
  safety: `events:
  safety-fail:
    ordered_tasks:
      - task: fail
      - service: web
        task: after
  safety-slow:
    ordered_tasks:
      - service: db
        task: slow
tasks:
  fail:
    operations:
      - execute:
          script: exit 3
  after:
    operations:
      - echo: after
  slow:
    operations:
      - execute:
          script: sleep 6
`,
  'safety-other': `events:
  safety-fail:
    priority: 70
    ordered_tasks:
      - service: web
        task: other
tasks:
  other:
    operations:
      - echo: other pattern
`,
  'safety-bad': `events:
  safety-bad:
    ordered_tasks:
      - service: db
        task: t
tasks:
  t:
    operations:
      - cheff:
          run_list: recipe[x]
`,
  'safety-attrs': `events:
  safety-attrs:
    ordered_tasks:
      - service: db
        task: t
tasks:
  t:
    operations:
      - chef:
          run_list:
            - recipe[app]
          attributes:
            app:
              version: 2
`,
};


const config = () => vscode.workspace.getConfiguration('chefConsul');


/** An HTTP listener that records every request and answers like an empty Consul. */
async function recordingListener(): Promise<{ address: string; requests: http.IncomingHttpHeaders[]; urls: string[]; close(): Promise<void> }> {
  const requests: http.IncomingHttpHeaders[] = [];
  const urls: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.headers);
    urls.push(req.url ?? '');
    // Slow answers: a blocking query that returns at once would spin.
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Consul-Index': '7', 'X-Consul-KnownLeader': 'true' });
      res.end('[]');
    }, 300);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    urls,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const carries = (headers: http.IncomingHttpHeaders, url: string, token: string) =>
  Object.values(headers).some((v) => String(v).includes(token)) || url.includes(token);

describe('Trust and safety in VS Code', function () {
  this.timeout(90_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let api: ChefConsulApi;
  let folder: string;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    for (const [name, text] of Object.entries(PLANS)) {
      fs.mkdirSync(path.join(folder, name), { recursive: true });
      fs.writeFileSync(path.join(folder, name, 'task.yml'), text);
    }
    await api.plans.workspace.rescan();
  });

  after(async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await removeProfiles('safety-prod', 'safety-token');
    for (const name of Object.keys(PLANS)) fs.rmSync(path.join(folder, name), { recursive: true, force: true });
  });

  describe('settings a repository must not set', () => {
    const settingsFile = () => path.join(folder, '.vscode', 'settings.json');
    afterEach(async () => {
      fs.rmSync(path.join(folder, '.vscode'), { recursive: true, force: true });
      await eventually('the workspace settings to be gone', () => (config().inspect('whenClusterBusy')?.workspaceValue === undefined ? true : undefined), 10_000);
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    });

    it('ignores a workspace settings file that changes the commands run on nodes or redefines profiles', async () => {
      fs.mkdirSync(path.dirname(settingsFile()), { recursive: true });
      fs.writeFileSync(
        settingsFile(),
        JSON.stringify({
          'chefConsul.whenClusterBusy': 'refuse',
          'chefConsul.chefCommand': 'touch /tmp/pwned-by-repo',
          'chefConsul.serviceCommand': 'touch /tmp/pwned-by-repo',
          'chefConsul.continueOnFailure': true,
          'chefConsul.engine': 'metronome',
          'chefConsul.profiles': [{ name: 'Environment', address: '127.0.0.1:1' }],
          'chefConsul.activeProfile': 'Environment',
        }),
      );
      // A window-scoped setting from the same file shows that VS Code has read it.
      await eventually('VS Code to read the workspace settings', () => (config().get('whenClusterBusy') === 'refuse' ? true : undefined), 10_000);
      assert.equal(config().get('chefCommand'), 'chef-client -o {{run_list}}');
      assert.equal(config().get('serviceCommand'), 'systemctl {{action}} {{name}}');
      assert.equal(config().get('continueOnFailure'), false);
      assert.equal(config().get('engine'), 'exec');
      assert.deepEqual(config().get('profiles'), config().inspect('profiles')?.globalValue ?? []);
      assert.notEqual(api.connections.activeProfile().address, '127.0.0.1:1');
    });

    it('a workspace settings file that redefines the active profile at a local HTTP listener receives no token', async () => {
      const listener = await recordingListener();
      const token = `safety-${Date.now()}-secret`;
      try {
        await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'safety-token', address: server.httpAddr });
        await vscode.commands.executeCommand('chefConsul.setToken', { profile: 'safety-token', token });
        fs.mkdirSync(path.dirname(settingsFile()), { recursive: true });
        fs.writeFileSync(
          settingsFile(),
          JSON.stringify({
            'chefConsul.whenClusterBusy': 'refuse',
            'chefConsul.profiles': [{ name: 'safety-token', address: listener.address }],
            'chefConsul.activeProfile': 'safety-token',
          }),
        );
        await eventually('VS Code to read the workspace settings', () => (config().get('whenClusterBusy') === 'refuse' ? true : undefined), 10_000);
        const state = await api.connections.reconnect();
        assert.equal(state.kind, 'connected');
        assert.equal(api.connections.activeProfile().address, server.httpAddr);
        await vscode.commands.executeCommand('chefConsul.testConnection', { silent: true });
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(listener.requests.filter((h, i) => carries(h, listener.urls[i], token)).length, 0);
        assert.equal(listener.requests.length, 0, `the listener was reached: ${listener.urls.join(', ')}`);
      } finally {
        await vscode.commands.executeCommand('chefConsul.clearToken', { profile: 'safety-token' });
        await listener.close();
      }
    });
  });

  it('does not send a stored token to the new address of a profile that was moved', async () => {
    const listener = await recordingListener();
    const token = `moved-${Date.now()}-secret`;
    try {
      await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'safety-token', address: server.httpAddr });
      await vscode.commands.executeCommand('chefConsul.setToken', { profile: 'safety-token', token });
      assert.equal(await api.connections.token('safety-token'), token);
      // The user's own settings now point the profile elsewhere (as a settings sync or a typo would).
      const profiles = (config().inspect<ConnectionProfile[]>('profiles')?.globalValue ?? []).map((p) => (p.name === 'safety-token' ? { ...p, address: listener.address } : p));
      await config().update('profiles', profiles, vscode.ConfigurationTarget.Global);
      await eventually('a reconnect to the listener', () => {
        const s = api.connections.state;
        return s?.kind === 'connected' && s.connection.address.endsWith(listener.address) ? true : undefined;
      }, 10_000);
      await vscode.commands.executeCommand('chefConsul.testConnection', { silent: true }).then(undefined, () => undefined);
      await eventually('requests at the listener', () => (listener.requests.length > 0 ? true : undefined), 10_000);
      assert.deepEqual(listener.requests.filter((h, i) => carries(h, listener.urls[i], token)), []);
      assert.equal(await api.connections.token('safety-token'), undefined);
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await vscode.commands.executeCommand('chefConsul.clearToken', { profile: 'safety-token' });
      await removeProfiles('safety-token');
      await listener.close();
    }
  });

  describe('production confirmation on every path', () => {
    before(async () => {
      await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'safety-prod', address: server.httpAddr, production: true });
    });
    after(async () => {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('safety-prod');
    });

    it('Retry Failed on a production profile without confirm is refused', async () => {
      const id = (await vscode.commands.executeCommand('chefConsul.runEvent', { event: 'safety-fail', pattern: 'safety', confirm: 'safety-prod' })) as string;
      const run = await finished(id);
      assert.equal(run.status, 'error');
      assert.equal(run.phases[0].nodes.length, cluster.agents.length);
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('chefConsul.retryFailed', { id, phase: 0 })),
        /Profile "safety-prod" is production and retrying phase 1 of "safety-fail".* reaches \d+ nodes: pass "confirm": "safety-prod"/,
      );
      assert.equal(((await vscode.commands.executeCommand('chefConsul.getRun', { id })) as RunSnapshot).status, 'error', 'nothing was retried');
      assert.equal(await vscode.commands.executeCommand('chefConsul.retryFailed', { id, phase: 0, confirm: 'safety-prod' }), id);
      await finished(id);
    });

    it('Re-run keeps the run\'s pattern and engine, and asks for confirm', async () => {
      const id = (await vscode.commands.executeCommand('chefConsul.runEvent', { event: 'safety-fail', pattern: 'safety', confirm: 'safety-prod' })) as string;
      const first = await finished(id);
      assert.deepEqual(first.patterns, ['safety']);
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rerun', { id })), /pass "confirm": "safety-prod"/);
      const again = (await vscode.commands.executeCommand('chefConsul.rerun', { id, confirm: 'safety-prod' })) as string;
      assert.notEqual(again, id);
      const second = await finished(again);
      assert.deepEqual(second.patterns, ['safety']);
      assert.equal(second.engine, 'exec');
      assert.deepEqual(second.phases.map((p) => p.task), first.phases.map((p) => p.task));
    });

    it('Re-run of a metronome run runs it with metronome again', async () => {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      const id = (await vscode.commands.executeCommand('chefConsul.runEvent', { event: 'safety-fail', pattern: 'safety', engine: 'metronome' })) as string;
      const again = (await vscode.commands.executeCommand('chefConsul.rerun', { id })) as string;
      try {
        const run = (await vscode.commands.executeCommand('chefConsul.getRun', { id: again })) as RunSnapshot;
        assert.equal(run.engine, 'metronome');
        assert.deepEqual(run.patterns, ['safety']);
      } finally {
        await vscode.commands.executeCommand('chefConsul.cancelRun', { id });
        await vscode.commands.executeCommand('chefConsul.cancelRun', { id: again });
        await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'safety-prod' });
      }
    });

    it('asks for confirm when only the agents decide the reach, even if this token sees one node', async () => {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'safety-prod' });
      // A regex reaching one visible node: agents this token cannot see would act too.
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('chefConsul.fireEvent', { name: `safety-regex-${Date.now()}`, node: '^consul-server' })),
        /Profile "safety-prod" is production and this event reaches every node whose agent matches \(this token sees 1\): pass "confirm"/,
      );
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('chefConsul.runCommand', { command: 'true', service: '^db$' })),
        /Profile "safety-prod" is production and the command reaches every node whose agent matches \(this token sees 1\)/,
      );
      // An exact node name is sure of its reach: no confirmation for one node.
      const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command: 'true', node: '^db-1$' })) as string;
      assert.equal((await finished(id)).status, 'success');
    });

    it('asks for confirm when Fire Event is the first thing that needs the connection', async () => {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'safety-prod' });
      // A connection manager that has not connected yet, as right after activation.
      const log = vscode.window.createOutputChannel('safety test', { log: true });
      const secrets = { get: async () => undefined, store: async () => undefined, delete: async () => undefined, onDidChange: () => ({ dispose() {} }) };
      const state = { get: () => undefined, update: async () => undefined };
      const fresh = new ConnectionManager({ secrets, globalState: state } as unknown as vscode.ExtensionContext, log);
      try {
        assert.equal(fresh.state, undefined);
        const name = `safety-early-${Date.now()}`;
        await assert.rejects(fire(fresh, { refresh() {} }, { name }, false), /Profile "safety-prod" is production and this event reaches 3 nodes: pass "confirm"/);
        const list = (await consulJson(server.httpAddr, `/v1/event/list?name=${name}`)) as unknown[];
        assert.deepEqual(list, [], 'no event was fired');
      } finally {
        fresh.dispose();
        log.dispose();
      }
    });
  });

  /** Starts the 6 s `safety-slow` run and resolves once its phase is running on db-1. */
  async function startSlowOnDb(): Promise<string> {
    const slow = (await vscode.commands.executeCommand('chefConsul.runEvent', { event: 'safety-slow' })) as string;
    await eventually('the slow phase running on db-1', () => {
      const run = api.runs.get(slow)?.snapshot();
      return run?.phases[0].nodes.some((n) => n.node === 'db-1' && n.status === 'running') ? true : undefined;
    }, 15_000);
    return slow;
  }

  it('refuses a plan with `cheff:` and names the error', async () => {
    const before = api.runs.all().length;
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.runEvent', { event: 'safety-bad' })),
      (e: Error) => {
        assert.match(e.message, /Run of "safety-bad" refused: its task.yml has 1 error\(s\) that metronome would refuse, and nothing was sent/);
        assert.match(e.message, /safety-bad[/\\]task\.yml:9:9 Unknown operation `cheff`.*Did you mean `chef`/);
        return true;
      },
    );
    assert.equal(api.runs.all().length, before, 'no run was started');
  });

  it('refuses, on the exec engine, a chef operation whose attributes it would drop', async () => {
    const before = api.runs.all().length;
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.runEvent', { event: 'safety-attrs', engine: 'exec' })),
      /Run of "safety-attrs" refused: the exec engine cannot do everything its task.yml asks, and nothing was sent \(run it with the metronome engine\)\.\n.*safety-attrs[/\\]task\.yml:9:\d+ Task 't': chef `attributes` are not supported by the exec engine/,
    );
    assert.equal(api.runs.all().length, before, 'no run was started');
  });

  it('never shows the metronome token in the Events view, also right after it was set', async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await vscode.commands.executeCommand('chefConsul.events.focus');
    const token = `metronome-${Date.now()}-token`;
    await vscode.commands.executeCommand('chefConsul.setMetronomeToken', { token });
    try {
      const id = (await vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'safety-token', payload: token })) as string;
      await eventually('the event in the Events view', () => (api.eventsView.getChildren().some((i) => (i as { event?: { id: string } }).event?.id === id) ? true : undefined), 10_000);
      const item = api.eventsView.getChildren().find((i) => (i as { event?: { id: string } }).event?.id === id)!;
      const tooltip = item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : String(item.tooltip);
      assert.ok(!String(item.description).includes(token), String(item.description));
      assert.ok(!tooltip.includes(token), tooltip);
      assert.match(String(item.description), /the metronome token/);
      // Cleared (or rotated), the old token may still be valid: the event in the buffer stays masked.
      await vscode.commands.executeCommand('chefConsul.setMetronomeToken', { token: '' });
      await eventually('the view redrawn without a current token', () => {
        const again = api.eventsView.getChildren().find((i) => (i as { event?: { id: string } }).event?.id === id);
        return again && /the metronome token/.test(String(again.description)) ? true : undefined;
      }, 10_000);
    } finally {
      await vscode.commands.executeCommand('chefConsul.setMetronomeToken', { token: '' });
    }
  });

  it('a reconnect during a run does not break the run: it keeps the connection it started with', async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    const slow = await startSlowOnDb();
    const before = api.connections.state;
    // Choosing the datacenter again rebuilds the connection, as a token or profile change does.
    await vscode.commands.executeCommand('chefConsul.selectDatacenter', { datacenter: 'dc1' });
    assert.notEqual(api.connections.state, before, 'the editor reconnected');
    const run = await finished(slow);
    assert.equal(run.status, 'success', run.message);
    assert.deepEqual(run.phases[0].nodes.map((n) => [n.node, n.status]), [['db-1', 'success']]);
    await vscode.commands.executeCommand('chefConsul.selectDatacenter', { datacenter: '' });
  });

  it('says so and asks first when a command would reach nodes another run is working on', async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    const slow = await startSlowOnDb();
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('chefConsul.runCommand', { command: 'true', node: '^db-1$' })),
      /The command would reach nodes another run is working on: safety-slow \(exec, [^)]*\): db-1\. Pass "ignoreBusyNodes": true/,
    );
    const other = (await vscode.commands.executeCommand('chefConsul.runCommand', { command: 'true', node: '^web-1$' })) as string;
    const anyway = (await vscode.commands.executeCommand('chefConsul.runCommand', { command: 'true', node: '^db-1$', ignoreBusyNodes: true })) as string;
    assert.equal((await finished(other)).status, 'success');
    assert.equal((await finished(anyway)).status, 'success');
    assert.equal((await finished(slow)).status, 'success');
  });
});
