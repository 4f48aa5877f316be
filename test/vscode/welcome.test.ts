import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { AclDeniedError, AclTokenNotFoundError, ConsulHttpError, TlsError, UnreachableError } from '../../src/core/consul/errors';
import { ConnectionManager, failureKind } from '../../src/vscode/connectionManager';
import { askFilter } from '../../src/vscode/commands/viewCommands';
import type { CatalogItem } from '../../src/vscode/views/catalogItems';
import type { RunSnapshot } from '../../src/core/runs/model';
import { clusterFromEnv, eventually } from '../support/env';
import { activateExtension, EXTENSION_ID, finished, isNode, removeProfiles, viewShows } from './support';
import { recording } from './quickInput';

/*
 * Welcome content is chosen by the workbench from `viewsWelcome` `when`
 * clauses over context keys, which an extension cannot read back. So these
 * tests read the keys as the extension set them (ConnectionManager.contextKeys
 * and the views' own flags), evaluate the manifest's clauses over them, and
 * check that each view shows exactly the welcome meant for the state, with an
 * empty tree (the workbench shows welcome content only then) and the reason
 * as the view's message. The UI test (test/ui/welcome.ui.test.ts) looks at the
 * rendered result.
 */

interface Welcome {
  view: string;
  contents: string;
  when?: string;
}

function contributes(): {
  viewsWelcome: Welcome[];
  commands: Array<{ command: string; enablement?: string }>;
  menus: Record<string, Array<{ command: string; when?: string; group?: string }>>;
} {
  return vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes;
}

/** The clauses viewsWelcome uses: `a`, `!a`, `a == v`, `a != v`, joined by && and ||, no parentheses. */
function holds(when: string | undefined, keys: Record<string, unknown>): boolean {
  if (!when) return true;
  return when.split('||').some((alternative) =>
    alternative.split('&&').every((raw) => {
      const term = raw.trim();
      const eq = /^([\w.]+)\s*(==|!=)\s*([\w.-]+)$/.exec(term);
      if (eq) return (String(keys[eq[1]] ?? '') === eq[3]) === (eq[2] === '==');
      if (term.startsWith('!')) return !keys[term.slice(1)];
      assert.match(term, /^[\w.]+$/, `a clause this evaluator does not know: ${term}`);
      return !!keys[term];
    }),
  );
}

function nlsBundle(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'package.nls.json'), 'utf8')) as Record<string, string>;
}

/** The extension's packageJSON holds the contents localized: back to their %key% by the nls bundle. */
function key(w: Welcome): string {
  if (w.contents.startsWith('%')) return w.contents;
  const found = Object.entries(nlsBundle()).find(([, text]) => text === w.contents);
  assert.ok(found, `welcome text not in package.nls.json: ${w.contents}`);
  return `%${found[0]}%`;
}

const CONNECTION_VIEWS = ['chefConsul.nodes', 'chefConsul.services', 'chefConsul.kv', 'chefConsul.events', 'chefConsul.runs'];

describe('Welcome states: connecting, failed with its reason, no profile, nothing visible; reveal, badges, filters', function () {
  this.timeout(90_000);
  const cluster = clusterFromEnv();
  const secure = cluster.secure;
  let api: ChefConsulApi;

  /** Every context key the welcome clauses read, as the extension set them now. */
  function keys(): Record<string, unknown> {
    return {
      ...api.connections.contextKeys,
      'chefConsul.nodes.nothingVisible': api.nodesView.showsNothingVisible,
      'chefConsul.services.nothingVisible': api.servicesView.showsNothingVisible,
      'chefConsul.events.empty': api.eventsView.showsNoEvents,
      'chefConsul.runs.empty': api.runsView.showsNoRuns,
      isWorkspaceTrusted: vscode.workspace.isTrusted,
    };
  }

  /** The welcome contents (as %nls keys%) each view would show with the keys as they are. */
  function welcomes(view: string, with_ = keys()): string[] {
    return contributes()
      .viewsWelcome.filter((w) => w.view === view && holds(w.when, with_))
      .map(key);
  }

  /**
   * Every connection view has an empty tree (or only this editor's runs), no
   * message (VS Code hides welcome content while a view has one), and one
   * welcome: `expected`. The exact reason is what Test Connection, which
   * every such welcome links to, answers.
   */
  async function showsWelcome(expected: string, reason: RegExp | undefined, short?: RegExp): Promise<void> {
    // Render each view once, as the workbench would, so their flags are current.
    api.nodesView.rootItems();
    api.servicesView.rootItems();
    api.eventsView.getChildren();
    const runRows = await api.runsView.getChildren();
    assert.deepEqual(api.nodesView.rootItems(), []);
    assert.deepEqual(api.servicesView.rootItems(), []);
    assert.deepEqual(api.eventsView.getChildren(), []);
    assert.deepEqual(api.kv.view.getChildren(), []);
    const live = new Set(api.runs.all().map((r) => r.id));
    assert.ok(runRows.every((r) => live.has((r as { run?: { id: string } }).run?.id ?? '')), 'the Runs view shows only this editor\'s runs');
    for (const view of CONNECTION_VIEWS) assert.deepEqual(welcomes(view), [expected], `${view} with ${JSON.stringify(keys())}`);
    for (const tree of [api.nodesView.treeView, api.servicesView.treeView, api.eventsView.treeView, api.runsView.treeView, api.kv.view.treeView]) {
      // VS Code reads back '' for a cleared message; either way no message hides the welcome content.
      assert.ok(!tree.message, `a message would hide the welcome content: ${tree.message}`);
      // The reason in a few words next to the view's title.
      if (short) assert.match(tree.description ?? '', short);
    }
    if (!reason) return;
    assert.match(api.connections.reason ?? '', reason);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.testConnection', { silent: true })), reason);
    const nls = nlsBundle();
    assert.match(nls[expected.replace(/%/g, '')], /\[Test Connection\]\(command:chefConsul\.testConnection\)/, `${expected} links to Test Connection`);
  }

  /** Polls the view's root items (a hidden view gets no render events, and these tests move focus around). */
  function rootsOf(view: { rootItems(): CatalogItem[]; viewId: string }, accept: (i: CatalogItem[]) => boolean, timeoutMs = 10_000): Promise<CatalogItem[]> {
    return eventually(`${view.viewId} to show the expected items`, () => {
      const items = view.rootItems();
      return accept(items) ? items : undefined;
    }, timeoutMs);
  }

  async function unusedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await removeProfiles('welcome-down', 'welcome-hang', 'welcome-tls', 'welcome-acl');
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
  });

  it('has, for every connection view, a welcome for each state, each with at most one button', () => {
    const all = contributes().viewsWelcome;
    const states = ['welcome.connecting', 'welcome.noConnection', 'welcome.noProfile', 'welcome.unreachable', 'welcome.tls', 'welcome.forbidden', 'welcome.httpError'];
    for (const view of CONNECTION_VIEWS) {
      for (const state of states) assert.ok(all.some((w) => w.view === view && key(w) === `%${state}%`), `${view}: ${state}`);
    }
    for (const [view, empty] of [
      ['chefConsul.nodes', 'welcome.nothingVisible'],
      ['chefConsul.services', 'welcome.nothingVisible'],
      ['chefConsul.events', 'welcome.eventsEmpty'],
      ['chefConsul.kv', 'welcome.kvEmpty'],
      ['chefConsul.runs', 'welcome.runsEmpty'],
      ['chefConsul.phases', 'welcome.noPlans'],
    ]) {
      assert.ok(all.some((w) => w.view === view && key(w) === `%${empty}%`), `${view}: ${empty}`);
    }
    // A line that is only a link is a button: one per welcome, the rest links in text.
    const nls = nlsBundle();
    for (const w of all.filter((x) => CONNECTION_VIEWS.includes(x.view) || x.view === 'chefConsul.phases')) {
      const text = nls[key(w).replace(/%/g, '')];
      assert.ok(text, `${w.contents} has a text`);
      const buttons = text.split('\n').filter((line) => /^\[[^\]]+\]\([^)]+\)$/.test(line.trim()));
      assert.ok(buttons.length <= 1, `${w.contents} has ${buttons.length} buttons`);
    }
  });

  it('connected: no welcome, no message (but the event buffer\'s note while it lists events)', async () => {
    await eventually('connected', () => keys()['chefConsul.connectionState'] === 'connected', 10_000);
    await viewShows(api.nodesView, (i) => i.some(isNode));
    for (const view of ['chefConsul.nodes', 'chefConsul.services']) assert.deepEqual(welcomes(view), []);
    assert.ok(!api.nodesView.treeView.message);
    assert.ok(!api.runsView.treeView.message);
    assert.ok(!api.kv.view.treeView.message);
    // The buffer note stands above a list of events (none would leave the "no events" welcome to show).
    await vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'welcome-note', node: '^no-such-node$' });
    await vscode.commands.executeCommand('chefConsul.events.focus');
    await eventually('the buffer note', () => /last 256 events/.test(api.eventsView.treeView.message ?? '') || undefined, 10_000);
    assert.equal(api.eventsView.showsNoEvents, false);
    assert.equal(keys()['chefConsul.connected'], true);
    assert.equal(keys()['chefConsul.noProfile'], true, 'the tests run on the consul CLI\'s environment, no profile configured');
  });

  it('connecting, then unreachable: says so in every view with the reason, and clears it once connected', async () => {
    // An agent that accepts and never answers: the check waits, the views say "Connecting…".
    const held: net.Socket[] = [];
    const server = net.createServer((s) => held.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const added = vscode.commands.executeCommand('chefConsul.addProfile', { name: 'welcome-hang', address: `127.0.0.1:${port}` });
      await eventually('connecting', () => keys()['chefConsul.connectionState'] === 'connecting' && held.length > 0, 10_000);
      for (const view of CONNECTION_VIEWS) assert.ok(welcomes(view).includes('%welcome.connecting%'), view);
      // The agent goes away: refused from now on, the open request reset.
      const closed = new Promise((resolve) => server.close(resolve));
      held.forEach((s) => s.destroy());
      await closed;
      await added;
      await eventually('the failure', () => api.connections.failure, 10_000);
      assert.equal(keys()['chefConsul.connectionState'], 'failed');
      assert.equal(keys()['chefConsul.connectionFailure'], 'unreachable');
      assert.equal(keys()['chefConsul.noProfile'], false);
      await showsWelcome('%welcome.unreachable%', new RegExp(`Cannot reach Consul at http://127\\.0\\.0\\.1:${port}: (connection refused|the connection was reset)`), /^(connection refused|the connection was reset)/);
    } finally {
      server.close();
      held.forEach((s) => s.destroy());
    }
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await eventually('connected again', () => keys()['chefConsul.connectionState'] === 'connected', 10_000);
    assert.equal(api.connections.failure, undefined);
    assert.ok(!api.nodesView.treeView.message);
    assert.ok(!api.kv.view.treeView.message);
    assert.ok(!api.nodesView.treeView.description, 'no reason in the title once connected');
    assert.ok(!api.runsView.treeView.description);
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    await rootsOf(api.nodesView, (i) => i.some(isNode));
  });

  it('a profile at an unused port: unreachable, connection refused named; Test Connection says why', async () => {
    const port = await unusedPort();
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'welcome-down', address: `127.0.0.1:${port}` });
    await eventually('unreachable', () => keys()['chefConsul.connectionFailure'] === 'unreachable', 10_000);
    const reason = new RegExp(`Cannot reach Consul at http://127\\.0\\.0\\.1:${port}: connection refused`);
    await showsWelcome('%welcome.unreachable%', reason, /^connection refused \(is the agent running\?\)$/);
    // Enabled still (a usable profile): it answers with the reason instead of doing nothing.
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.testConnection', { silent: true })), reason);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'welcome-x' })), reason);
  });

  it('an unusable profile disables the commands that need one (chefConsul.connected false); executeCommand still answers with the reason', async () => {
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'welcome-down', address: 'https://127.0.0.1:1', caFile: '/nonexistent/welcome-ca.pem' });
    await eventually('invalid', () => keys()['chefConsul.connectionState'] === 'invalid', 10_000);
    assert.equal(keys()['chefConsul.connected'], false);
    await showsWelcome('%welcome.noConnection%', /Cannot read the CA file "\/nonexistent\/welcome-ca\.pem"/, /^unusable profile$/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.fireEvent', { name: 'welcome-x' })), /Cannot read the CA file/);
  });

  it('no profile and nothing at the consul CLI\'s address: the Add Profile welcome', async () => {
    // The manager's own environment is the test host's; a second manager sees an empty one at an unused port.
    const port = await unusedPort();
    const log = vscode.window.createOutputChannel('welcome test', { log: true });
    const context = { secrets: { get: async () => undefined, onDidChange: () => ({ dispose() {} }) }, globalState: { get: () => undefined } } as unknown as vscode.ExtensionContext;
    const other = new ConnectionManager(context, log, { CONSUL_HTTP_ADDR: `127.0.0.1:${port}` });
    try {
      await other.reconnect();
      const k = other.contextKeys;
      assert.deepEqual([k['chefConsul.connectionState'], k['chefConsul.connectionFailure'], k['chefConsul.noProfile']], ['failed', 'unreachable', true]);
      for (const view of CONNECTION_VIEWS) {
        assert.deepEqual(welcomes(view, { ...k }), ['%welcome.noProfile%'], view);
      }
      assert.match(other.reason ?? '', new RegExp(`127\\.0\\.0\\.1:${port}: connection refused`));
    } finally {
      other.dispose();
      log.dispose();
      // The window's keys are the real manager's again.
      await api.connections.reconnect();
    }
  });

  it('TLS without the CA: the TLS welcome, the handshake failure above it', async function () {
    if (!secure) this.skip();
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'welcome-tls', address: `https://${secure!.httpsAddr}` });
    await eventually('tls', () => keys()['chefConsul.connectionFailure'] === 'tls', 10_000);
    await showsWelcome('%welcome.tls%', /TLS handshake with https:\/\/127\.0\.0\.5:\d+ failed: .*CA/, /^TLS: .*CA/);
  });

  it('an ACL agent: an unknown token is refused (403), a token that sees nothing is "nothing visible"', async function () {
    if (!secure) this.skip();
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'welcome-acl', address: `https://${secure!.httpsAddr}`, caFile: secure!.caFile });
    await vscode.commands.executeCommand('chefConsul.setToken', { profile: 'welcome-acl', token: '00000000-0000-0000-0000-000000000000' });
    await eventually('forbidden', () => keys()['chefConsul.connectionFailure'] === 'forbidden', 10_000);
    await showsWelcome('%welcome.forbidden%', /does not know the configured ACL token \(ACL not found\)/, /^ACL not found$/);

    // No token: Consul 1.8 answers reads with what the token may see, here nothing: no failure, the "nothing visible" welcomes.
    await vscode.commands.executeCommand('chefConsul.clearToken', { profile: 'welcome-acl' });
    await eventually('connected', () => keys()['chefConsul.connectionState'] === 'connected', 10_000);
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    await rootsOf(api.nodesView, (i) => i.length === 0 && api.nodesView.showsNothingVisible);
    assert.deepEqual(welcomes('chefConsul.nodes'), ['%welcome.nothingVisible%']);
    await vscode.commands.executeCommand('chefConsul.services.focus');
    await rootsOf(api.servicesView, (i) => i.length === 0 && api.servicesView.showsNothingVisible);
    assert.deepEqual(welcomes('chefConsul.services'), ['%welcome.nothingVisible%']);
    await vscode.commands.executeCommand('chefConsul.events.focus');
    await eventually('no events', () => (api.eventsView.getChildren().length === 0 && api.eventsView.showsNoEvents) || undefined, 10_000);
    assert.deepEqual(welcomes('chefConsul.events'), ['%welcome.eventsEmpty%']);
    assert.ok(!api.eventsView.treeView.message, 'no buffer note over the "no events" welcome');
    assert.ok(!api.nodesView.treeView.message);

    // With the read-only token it fills in.
    await vscode.commands.executeCommand('chefConsul.setToken', { profile: 'welcome-acl', token: secure!.readOnlyToken });
    await rootsOf(api.nodesView, (i) => i.some(isNode));
    assert.equal(api.nodesView.showsNothingVisible, false);
  });

  it('names a denied permission as a "forbidden" failure, and sorts every failure into its welcome', () => {
    const denied = new AclDeniedError('https://x:8501', 'node:read');
    assert.equal(failureKind(denied), 'forbidden');
    assert.match(denied.message, /the token needs node:read/);
    assert.equal(failureKind(new AclTokenNotFoundError('https://x:8501')), 'forbidden');
    assert.equal(failureKind(new TlsError('https://x:8501', 'self-signed')), 'tls');
    assert.equal(failureKind(new UnreachableError('http://x:8500', 'connection refused')), 'unreachable');
    assert.equal(failureKind(new ConsulHttpError('http://x:8500', 500, 'No cluster leader')), 'http');
  });

  it('gives commands that need a usable profile enablement, never the ones the welcome content offers', () => {
    const commands = new Map(contributes().commands.map((c) => [c.command, c.enablement]));
    for (const c of ['chefConsul.fireEvent', 'chefConsul.runEvent', 'chefConsul.runCommand', 'chefConsul.selectDatacenter', 'chefConsul.kv.newKey', 'chefConsul.kv.import']) {
      assert.equal(commands.get(c), 'chefConsul.connected', c);
    }
    const nls = nlsBundle();
    for (const key of ['welcome.noConnection', 'welcome.noProfile', 'welcome.unreachable', 'welcome.tls', 'welcome.forbidden', 'welcome.httpError', 'welcome.connecting']) {
      for (const [, command] of nls[key].matchAll(/\(command:([\w.]+)/g)) {
        assert.equal(commands.get(command), undefined, `${key} offers ${command}, which must work without a connection`);
      }
    }
    // Every item menu entry names a contributed command.
    for (const m of contributes().menus['view/item/context']) assert.ok(commands.has(m.command), m.command);
  });

  it('getParent: reveals a check in the Nodes view through its instance and node', async () => {
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    const roots = await viewShows(api.nodesView, (i) => i.some(isNode));
    let deepest: CatalogItem | undefined;
    for (const node of roots.filter(isNode)) {
      assert.equal(api.nodesView.getParent(node), undefined);
      for (const child of api.nodesView.getChildren(node)) {
        assert.equal(api.nodesView.getParent(child)?.id, node.id, child.id);
        for (const grandchild of api.nodesView.getChildren(child)) {
          assert.equal(api.nodesView.getParent(grandchild)?.id, child.id, grandchild.id);
          deepest = grandchild;
        }
      }
    }
    assert.ok(deepest, 'a service check in the cluster');
    await api.nodesView.treeView.reveal(deepest!, { select: true, focus: true });
    // The selection comes back from the workbench: once over 5 s on a loaded machine (the Runs view's).
    await eventually('selected', () => api.nodesView.treeView.selection[0]?.id === deepest!.id, 15_000);
  });

  it('CodeLens "N phases" reveals its event in the Phases view; getParent walks up', async () => {
    await api.plans.workspace.ready();
    const plan = api.plans.workspace.plans().find((p) => p.name === 'tomcat') ?? api.plans.workspace.plans()[0];
    const event = plan.events[0];
    const uri = vscode.Uri.file(plan.filePath);
    await vscode.workspace.openTextDocument(uri);
    const lenses = (await vscode.commands.executeCommand('vscode.executeCodeLensProvider', uri)) as vscode.CodeLens[];
    const lens = lenses.find((l) => l.command?.command === 'chefConsul.phases.reveal' && (l.command.arguments?.[0] as { event: string }).event === event.name);
    assert.ok(lens, JSON.stringify(lenses.map((l) => l.command)));
    assert.match(lens.command!.title, /^\d+ phases?$/);
    const id = await vscode.commands.executeCommand<string>(lens.command!.command, ...(lens.command!.arguments ?? []));
    assert.equal(id, `pattern:${plan.filePath}/event:${event.name}`);
    const view = api.plans.phasesView.treeView;
    await eventually('the event selected', () => view.selection[0]?.id === id, 15_000);
    const selected = view.selection[0];
    assert.equal(api.plans.phasesView.getParent(selected)?.id, `pattern:${plan.filePath}`);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.phases.reveal', { event: 'no-such-event' })), /No task\.yml defines the event "no-such-event"/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.phases.reveal', {})), /"event" is required/);
    // The task.yml's path as the workspace shows it (relative) names the same file.
    const relative = vscode.workspace.asRelativePath(plan.filePath, false);
    assert.notEqual(relative, plan.filePath);
    assert.equal(await vscode.commands.executeCommand<string>('chefConsul.phases.reveal', { event: event.name, file: relative }), id);
  });

  it('Runs view: a badge and progress while a run runs, gone when it ends', async () => {
    await vscode.commands.executeCommand('chefConsul.runs.focus');
    assert.equal(api.runsView.treeView.badge, undefined);
    const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command: 'sleep 2', service: '^db$' })) as string;
    await eventually('the badge', () => api.runsView.treeView.badge, 5_000);
    assert.equal(api.runsView.treeView.badge!.value, api.runsView.running);
    assert.ok(api.runsView.running >= 1);
    assert.match(api.runsView.treeView.badge!.tooltip, /runs? running/);
    await finished(id);
    await eventually('no badge', () => api.runsView.treeView.badge === undefined, 10_000);
    assert.equal(api.runsView.running, 0);
  });

  it('Run Event on an event row of the Phases view runs that event without asking; a run waiting for the lock says for whom and is cancelled from its row', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    fs.mkdirSync(path.join(folder, 'welcome-demo'), { recursive: true });
    fs.writeFileSync(
      path.join(folder, 'welcome-demo', 'task.yml'),
      ['events:', '  welcome-slow:', '    task: slow', '  welcome-row:', '    task: quick', 'tasks:', '  slow:', '    operations:', '      - execute:', '          script: sleep 4', '  quick:', '    operations:', '      - echo: from the row', ''].join('\n'),
    );
    await api.plans.workspace.rescan();
    const pattern = api.plans.phasesView.getChildren().find((i) => (i as { plan?: { name: string } }).plan?.name === 'welcome-demo');
    assert.ok(pattern, 'the pattern in the Phases view');
    const row = api.plans.phasesView.getChildren(pattern).find((i) => i.label === 'welcome-row');
    assert.ok(row, 'the event row');
    await vscode.commands.executeCommand('chefConsul.runs.focus');
    const slow = (await vscode.commands.executeCommand('chefConsul.runEvent', { event: 'welcome-slow' })) as string;
    // The tree item itself, as the row's inline action passes it: no picker (it would never answer here).
    const waiting = (await vscode.commands.executeCommand('chefConsul.runEvent', row)) as string;
    assert.match(waiting, /^[0-9a-f-]{36}$/);
    const item = await eventually('the waiting run\'s note', async () => {
      const rows = (await api.runsView.getChildren()) as Array<{ run?: RunSnapshot; note?: string; description?: unknown }>;
      const r = rows.find((x) => x.run?.id === waiting);
      return r?.note ? r : undefined;
    }, 15_000);
    assert.match(item.note!, new RegExp(`waiting for run ${slow} \\("welcome-slow"\\) by `));
    assert.match(String(item.description), /waiting for run/);
    assert.equal(item.run!.event, 'welcome-row');
    await vscode.commands.executeCommand('chefConsul.cancelRun', { id: waiting });
    const cancelled = await finished(waiting);
    assert.equal(cancelled.status, 'cancelled', cancelled.message);
    const done = await finished(slow);
    assert.equal(done.status, 'success', done.message);
    const note = ((await api.runsView.getChildren()) as Array<{ run?: RunSnapshot; note?: string }>).find((x) => x.run?.id === waiting)?.note;
    assert.equal(note, undefined, 'the note goes with the wait');
  });

  it('Filter Nodes: two steps, the current value marked, matches counted as the user types, Back keeps both', async () => {
    await vscode.commands.executeCommand('chefConsul.nodes.focus');
    await viewShows(api.nodesView, (i) => i.length === cluster.agents.length);
    await vscode.commands.executeCommand('chefConsul.nodes.filter', { text: 'web', health: ['critical'] });
    const ui = recording();
    const result = askFilter(api.nodesView, ui);
    const enter = async () => {
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await new Promise((r) => setTimeout(r, 300));
    };
    const back = async () => {
      await vscode.commands.executeCommand('workbench.action.quickInputBack');
      await new Promise((r) => setTimeout(r, 300));
    };
    const box = await eventually('step 1', () => ui.boxes[0], 15_000);
    assert.deepEqual([box.title, box.step, box.totalSteps, box.value], ['Filter Nodes', 1, 2, 'web']);
    assert.match(box.prompt ?? '', /Current: "web"/);
    ui.type(box, 'db');
    const message = () => (typeof box.validationMessage === 'string' ? box.validationMessage : box.validationMessage?.message);
    await eventually('counted', () => /Matches 1 of \d+/.test(message() ?? '') || undefined, 5_000);
    ui.type(box, 'no-such-node');
    await eventually('none', () => /Matches 0 of/.test(message() ?? '') || undefined, 5_000);
    ui.type(box, 'db');
    await new Promise((r) => setTimeout(r, 200));
    await enter();
    const pick = await eventually('step 2', () => ui.picks[0], 15_000);
    assert.deepEqual([pick.step, pick.totalSteps, pick.canSelectMany], [2, 2, true]);
    assert.ok(pick.buttons.includes(vscode.QuickInputButtons.Back));
    assert.deepEqual(pick.selectedItems.map((i) => i.label), ['critical']);
    assert.match(pick.items.find((i) => i.label === 'critical')?.description ?? '', /current/);
    pick.selectedItems = pick.items.filter((i) => i.label === 'passing' || i.label === 'warning');
    await new Promise((r) => setTimeout(r, 200));
    await back();
    const again = await eventually('step 1 again', () => ui.boxes[1], 15_000);
    assert.deepEqual([again.step, again.value], [1, 'db']);
    await new Promise((r) => setTimeout(r, 200));
    await enter();
    const pick2 = await eventually('step 2 again', () => ui.picks[1], 15_000);
    assert.deepEqual(pick2.selectedItems.map((i) => i.label).sort(), ['passing', 'warning'], 'Back kept the checked states');
    await new Promise((r) => setTimeout(r, 200));
    await enter();
    assert.deepEqual(await result, { text: 'db', health: ['passing', 'warning'] });
    await vscode.commands.executeCommand('chefConsul.nodes.clearFilter');
  });
});
