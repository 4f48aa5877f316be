import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { ChefReport } from '../../src/core/chef/report';
import type { RuleMatch } from '../../src/core/rules/evaluator';
import { postRunEnd, postRunStart } from '../../src/core/chef/server/reporting';
import { ChefServerClient } from '../../src/core/chef/server/chefServerClient';
import type { RuleProblem } from '../../src/core/rules/model';
import { WindowLease } from '../../src/core/util/windowLease';
import { eventually } from '../support/env';
import { activateExtension, finished } from './support';

// Compiled layout: out/test/vscode → the repository's test/fixtures. The agents run on this machine: `cat` reaches the file.
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'chef');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const label = (i: vscode.TreeItem) => (typeof i.label === 'string' ? i.label : (i.label?.label ?? ''));

describe('Rules on Chef runs in VS Code', function () {
  this.timeout(60_000);
  let api: ChefConsulApi;
  const rulesSetting = () => vscode.workspace.getConfiguration('chefConsul');
  const setRules = async (rules: unknown[] | undefined) => {
    await rulesSetting().update('rules', rules, vscode.ConfigurationTarget.Global);
    await eventually('the rules to apply', () => api.rules.engine.rules.rules.length + api.rules.engine.rules.problems.length === (rules?.length ?? 0));
  };

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
  });

  after(async () => {
    await rulesSetting().update('rules', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('chefConsul.rules.clearMatches', {});
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('without rules the view is empty (its welcome offers Add Rule); rules with problems show as errors saying what is wrong', async () => {
    await setRules(undefined);
    await vscode.commands.executeCommand('chefConsul.rules.clearMatches', {});
    assert.deepEqual(api.rules.view.getChildren(), []);
    await setRules([
      { name: 'failures', kind: 'run-failed', node: 'db-*' },
      { name: 'slow', kind: 'slow-run', factor: 1 },
    ]);
    const listed = (await vscode.commands.executeCommand('chefConsul.rules.list', {})) as { rules: Array<{ name: string; kind: string; notify: string[] }>; problems: RuleProblem[] };
    assert.deepEqual(listed.rules.map((r) => [r.name, r.kind, r.notify]), [['failures', 'run-failed', ['vscode']]]);
    assert.equal(listed.problems.length, 1);
    assert.match(listed.problems[0].message, /^rule 2 \("slow"\): "factor" must be a number greater than 1/);
    const roots = api.rules.view.getChildren();
    assert.deepEqual(roots.map(label), ['slow']);
    assert.match(String(roots[0].description), /"factor" must be a number greater than 1/);
    assert.equal(roots[0].contextValue, 'ruleProblem');
  });

  it('evaluates rules on report files and reports given to the command, without listing or notifying', async () => {
    const file = path.join(FIXTURES, 'rules', 'output-converge-failure.json');
    const matches = (await vscode.commands.executeCommand('chefConsul.rules.evaluate', {
      reports: file,
      rules: [
        { name: 'execs', kind: 'resource-failed', resourceType: 'execute' },
        { name: 'templates', kind: 'resource-failed', resourceType: 'template' },
      ],
    })) as RuleMatch[];
    assert.deepEqual(matches.map((m) => [m.rule, m.node, m.source, m.summary]), [['execs', 'output-converge-failure.json', 'file', "execute[run shop migrations] failed: Expected process to exit with [0], but received '3'"]]);
    assert.equal(matches[0].jump?.command, 'chefConsul.openChefReportFile');

    // A json_file handler report names its node; the configured rules apply when none are given.
    const handler = (await vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: path.join(FIXTURES, 'chef-run-report-20261130220141.json') })) as RuleMatch[];
    assert.deepEqual(handler, [], 'the configured rule names db-* nodes only');
    const anyNode = (await vscode.commands.executeCommand('chefConsul.rules.evaluate', {
      reports: path.join(FIXTURES, 'chef-run-report-20261130220141.json'),
      rules: [{ name: 'failures', kind: 'run-failed' }],
    })) as RuleMatch[];
    assert.deepEqual(anyNode.map((m) => [m.node, m.rule]), [['web-1', 'failures']]);

    const success = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'rules', 'output-success.json'), 'utf8')) as ChefReport;
    const newer = { ...success, cookbooks: [{ name: 'nginx', version: '2.8.0' }] };
    const changed = (await vscode.commands.executeCommand('chefConsul.rules.evaluate', {
      reports: [{ node: 'web-1', report: success, time: 1 }, { node: 'web-1', report: newer, time: 2 }],
      rules: [{ name: 'nginx', kind: 'cookbook-version-changed', cookbook: 'nginx' }],
    })) as RuleMatch[];
    assert.deepEqual(changed.map((m) => m.summary), ['cookbook version changed: nginx 2.7.6 → 2.8.0']);

    assert.deepEqual(api.rules.engine.matches(), [], 'evaluate lists nothing');
    // With record, the configured rules' matches are listed and notified like any other source's.
    const failed = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'rules', 'reporting-failure.json'), 'utf8')) as ChefReport;
    const recorded = (await vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: [{ node: 'db-9', runId: 'saved-1', report: failed }], record: true })) as RuleMatch[];
    assert.deepEqual(recorded.map((m) => [m.rule, m.node, m.runId]), [['failures', 'db-9', 'saved-1']]);
    assert.deepEqual(api.rules.engine.matches().map((m) => m.runId), ['saved-1']);
    assert.deepEqual(await vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: [{ node: 'db-9', runId: 'saved-1', report: failed }], record: true }), [], 'once');
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: [failed], record: true, rules: [] })), /"record" applies the configured rules/);
    assert.deepEqual(await vscode.commands.executeCommand('chefConsul.rules.clearMatches', {}), { cleared: 1 });
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rules.evaluate', {})), /"reports" is required/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: [{ status: 'failure' }] })), /reports\[0\] is not a Chef report/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: path.join(FIXTURES, 'nope.json') })), /Cannot read the report file .*nope\.json/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rules.evaluate', { reports: file, rules: [{ name: 'x', kind: 'run-failed', node: '^(a)\\1$' }] })), /backreferences/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.rules.matches', { rule: 'nope' })), /No rule named "nope"\. Rules: "failures"/);
  });

  it('a failed Chef run of this editor matches once: listed under its rule with a jump to the report, and notified in VS Code', async () => {
    await setRules([{ name: 'failures', kind: 'run-failed', node: 'db-*', notify: ['vscode'] }]);
    const command = `cat ${quote(path.join(FIXTURES, 'chef15-converge-failure.txt'))}; exit 1`;
    const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command, node: '^db-1$', ignoreBusyNodes: true })) as string;
    await finished(id);
    const matches = await eventually('the rule to match', async () => {
      const m = (await vscode.commands.executeCommand('chefConsul.rules.matches', { rule: 'failures' })) as RuleMatch[];
      return m.some((x) => x.runId === id) ? m : undefined;
    });
    const match = matches.find((m) => m.runId === id)!;
    assert.deepEqual([match.node, match.source, match.phase, match.kind], ['db-1', 'run', 0, 'run-failed']);
    assert.equal(match.summary, "Chef run failed: execute[run shop migrations] — Expected process to exit with [0], but received '3'");

    // The view: the rule, its match newest first, which jumps to the node's Chef report.
    const [ruleItem] = api.rules.view.getChildren();
    assert.equal(label(ruleItem), 'failures');
    assert.match(String(ruleItem.description), /^\d+ match(es)? · run-failed$/);
    const [item] = api.rules.view.getChildren(ruleItem);
    assert.equal(label(item), 'db-1');
    assert.match(String(item.description), /^Chef run failed: execute\[run shop migrations\]/);
    const tooltip = item.tooltip as vscode.MarkdownString;
    assert.equal(tooltip.isTrusted, false);
    assert.deepEqual(item.command?.command, 'chefConsul.openChefReport');
    assert.deepEqual(item.command?.arguments, [{ id, phase: 0, node: 'db-1' }]);
    const report = (await vscode.commands.executeCommand(item.command!.command, ...item.command!.arguments!)) as ChefReport;
    assert.equal(report.failure?.resource, 'execute[run shop migrations]');

    // The notification, once, through the shared notifier's VS Code channel.
    const toasts = () => api.notifications.vscodeChannel.recent.filter((t) => t.key.startsWith('rule:') && t.text.startsWith('Rule "failures" matched on db-1'));
    await eventually('the rule notification', () => toasts().length > 0);
    assert.equal(toasts().length, 1);
    assert.equal(toasts()[0].severity, 'error');

    const cleared = (await vscode.commands.executeCommand('chefConsul.rules.clearMatches', {})) as { cleared: number };
    assert.ok(cleared.cleared >= 1);
    assert.deepEqual(api.rules.view.getChildren(), []);
  });

  it('a report file opened in the report editor is evaluated; its notifications name the file', async () => {
    await setRules([
      { name: 'downloads', kind: 'resource-failed', resourceType: 'remote_file', notify: [] },
      { name: 'file failures', kind: 'run-failed', notify: ['vscode'] },
    ]);
    // A copy with a run ID of its own: other tests open the fixture itself, and a run is evaluated once.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-rules-'));
    const file = path.join(dir, 'chef-run-report-20261130220141.json');
    const runId = `rules-${Date.now()}`;
    fs.writeFileSync(file, fs.readFileSync(path.join(FIXTURES, 'chef-run-report-20261130220141.json'), 'utf8').replace('a7c2e0f1-5b3d-4c8e-9f10-2d3e4f5a6b7c', runId));
    await vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: file });
    const [match] = await eventually('a match from the opened file', () => {
      const m = api.rules.engine.matches('downloads');
      return m.length ? m : undefined;
    });
    assert.equal(match.runId, runId);
    assert.deepEqual([match.node, match.source], ['web-1', 'file']);
    assert.match(match.summary, /^remote_file\[\/opt\/shop\/releases\/shop-2\.4\.1\.tar\.gz\] failed/);
    assert.deepEqual(match.jump, { command: 'chefConsul.openChefReportFile', args: { uri: vscode.Uri.file(file).toString() } });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(api.notifications.vscodeChannel.recent.some((t) => t.text.startsWith('Rule "downloads"')), false, 'notify: [] only lists');
    await eventually('the notification naming the file', () =>
      api.notifications.vscodeChannel.recent.some((t) => t.text.startsWith('Rule "file failures" matched on web-1 (report file chef-run-report-20261130220141.json)')),
    );
  });

  it('a failed run in the Chef server\'s Reporting history matches after the baseline, with a jump to the Reporting run; a new connection to the same server takes no new baseline', async () => {
    const url = process.env.CCO_CHEF_URL;
    const clientName = process.env.CCO_CHEF_CLIENT;
    const key = process.env.CCO_CHEF_KEY;
    if (!url || !clientName || !key) throw new Error('CCO_CHEF_URL, CCO_CHEF_CLIENT and CCO_CHEF_KEY are not set: npm test starts goiardi (cli.js start --with-chef) and sets them.');
    // A node of this test's own: the seeded nodes' history is what other tests (Chef view, UI screenshots) read.
    const node = `rules-vtest-${process.pid}-web`;
    const chef = vscode.workspace.getConfiguration('chefConsul.chef');
    await setRules([{ name: 'reporting failures', kind: 'run-failed', node: 'rules-vtest-*', notify: ['vscode'] }]);
    await chef.update('readKnifeConfig', false, vscode.ConfigurationTarget.Global);
    await chef.update(
      'profiles',
      [
        { name: 'rules-chef', serverUrl: url, clientName, clientKey: key },
        { name: 'rules-chef-again', serverUrl: url, clientName, clientKey: key },
      ],
      vscode.ConfigurationTarget.Global,
    );
    const client = new ChefServerClient({ serverUrl: url, clientName, clientKeyPath: key });
    const fail = async (message: string) => {
      const runId = crypto.randomUUID();
      const start = Date.now() - 20_000;
      await postRunStart(client, node, { runId, startTime: start });
      await postRunEnd(client, node, {
        runId,
        startTime: start,
        endTime: start + 15_000,
        status: 'failure',
        runList: ['role[web]'],
        totalResources: 12,
        resources: [{ type: 'service', name: 'nginx', id: 'nginx', result: 'restart', cookbook_name: 'nginx', cookbook_version: '2.8.1', before: {}, after: {}, duration: '12', delta: '' }],
        exception: { class: 'Mixlib::ShellOut::ShellCommandFailed', message, backtrace: ['recipes/default.rb:12'], description: { title: "Error executing action `restart` on resource 'service[nginx]'", sections: [] } },
      });
      return runId;
    };
    try {
      await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'rules-chef' });
      // The first poll after the profile is the baseline: the history so far is not news.
      await eventually('the Reporting baseline', async () => (await api.rules.pollReporting()) !== undefined, 20_000, 300);
      assert.deepEqual(api.rules.engine.matches('reporting failures'), []);

      const runId = await fail('Expected process to exit with [0], but received 1');
      const match = await eventually('the Reporting run to match', async () => (await api.rules.pollReporting())?.find((m) => m.runId === runId), 20_000, 300);
      assert.deepEqual([match.rule, match.node, match.source], ['reporting failures', node, 'reporting']);
      assert.equal(match.summary, 'Chef run failed: service[nginx] — Expected process to exit with [0], but received 1');
      assert.deepEqual(match.jump, { command: 'chefConsul.chef.openRun', args: { node, runId } });
      await vscode.commands.executeCommand(match.jump!.command, match.jump!.args);
      await eventually('the rule notification', () => api.notifications.vscodeChannel.recent.some((t) => t.text.startsWith(`Rule "reporting failures" matched on ${node}`)));
      assert.deepEqual(await api.rules.pollReporting(), [], 'nothing new: nothing matched again');

      // Another connection to the same server: the poll carries on, a run that ended meanwhile is news, not history.
      const restarts: boolean[] = [];
      const sub = api.chefServer.reporting.onDidRestart((r) => restarts.push(r.baseline));
      const meanwhile = await fail('received 2');
      await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'rules-chef-again' });
      await eventually('the new connection', () => restarts.length > 0, 20_000);
      sub.dispose();
      assert.deepEqual(restarts, [false], 'no new baseline for a server seen before');
      const again = await eventually('the run that ended meanwhile to match', async () => {
        await api.rules.pollReporting();
        return api.rules.engine.matches('reporting failures').find((m) => m.runId === meanwhile);
      }, 20_000, 300);
      assert.equal(again.summary, 'Chef run failed: service[nginx] — received 2');
    } finally {
      for (const k of ['profiles', 'activeProfile', 'readKnifeConfig']) await chef.update(k, undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('one window per machine follows Reporting: while another window holds the lease this one neither polls nor notifies, and the view says so', async () => {
    const url = process.env.CCO_CHEF_URL;
    const clientName = process.env.CCO_CHEF_CLIENT;
    const key = process.env.CCO_CHEF_KEY;
    if (!url || !clientName || !key) throw new Error('CCO_CHEF_URL, CCO_CHEF_CLIENT and CCO_CHEF_KEY are not set: npm test starts goiardi (cli.js start --with-chef) and sets them.');
    const chef = vscode.workspace.getConfiguration('chefConsul.chef');
    await chef.update('readKnifeConfig', false, vscode.ConfigurationTarget.Global);
    await chef.update('profiles', [{ name: 'rules-lease', serverUrl: url, clientName, clientKey: key }], vscode.ConfigurationTarget.Global);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-reporting-lease-'));
    // Another window: the same lease name in the same directory, taken first.
    const other = new WindowLease({ dir, name: 'reporting', pid: process.pid, news: true });
    try {
      await vscode.commands.executeCommand('chefConsul.chef.selectProfile', { name: 'rules-lease' });
      await eventually('the Chef server', () => api.chefServer.reporting.active);
      assert.equal(other.start().kind, 'owner');
      const feed = api.chefServer.reporting;
      const mine = feed.useLease(new WindowLease({ dir, name: 'reporting', news: true }));
      assert.deepEqual(mine.state, { kind: 'other', pid: process.pid });
      assert.equal(feed.followedElsewhere, process.pid);
      assert.equal(await api.rules.pollReporting(), undefined, 'another window polls');
      assert.equal(await api.chefServer.poller.pollNow(), 0, 'another window notifies failures');
      assert.equal(api.rules.view.treeView.description, `Reporting followed in another window (pid ${process.pid})`);
      assert.equal(api.rules.engine.checkMissingOnTimer, false);
      // The window that follows Reporting saw runs end: this one reloads its Chef inventory, so its views show the new last runs.
      const inventory = await api.chefServer.connection.loadInventory();
      assert.equal(inventory.kind, 'ready');
      const loadedBefore = inventory.kind === 'ready' ? inventory.loadedAt : 0;
      await new Promise((r) => setTimeout(r, 5));
      other.announce();
      mine.check();
      await eventually('the inventory reloaded on the other window\'s news', () => {
        const s = api.chefServer.connection.inventory;
        return s.kind === 'ready' && s.loadedAt > loadedBefore;
      }, 20_000);
      // That window closes: this one takes over at its next check.
      other.dispose();
      assert.equal(mine.check().kind, 'owner');
      assert.equal(feed.followedElsewhere, undefined);
      assert.equal(api.rules.view.treeView.description, undefined);
      assert.equal(api.rules.engine.checkMissingOnTimer, true);
      await eventually('a poll in this window', async () => (await api.rules.pollReporting()) !== undefined);
    } finally {
      other.dispose();
      for (const k of ['profiles', 'activeProfile', 'readKnifeConfig']) await chef.update(k, undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
