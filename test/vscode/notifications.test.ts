import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { Run } from '../../src/core/runs/model';
import { listen, withBody } from '../support/http';
import type { Listener } from '../support/http';
import { eventually } from '../support/env';
import { activateExtension, finished } from './support';

// Compiled layout: out/test/vscode → the repository's test/fixtures.
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'chef');

interface Body {
  text: string;
  blocks: unknown[];
}

describe('Notifications', function () {
  this.timeout(60_000);
  let api: ChefConsulApi;
  let receiver: Listener;
  const got: Body[] = [];
  let status = 200;
  const config = () => vscode.workspace.getConfiguration('chefConsul.notifications');

  before(async () => {
    api = await activateExtension();
    receiver = await listen(
      withBody((_req, res, body) => {
        got.push(JSON.parse(body.toString('utf8')) as Body);
        res.writeHead(status).end();
      }),
    );
  });

  after(async () => {
    await config().update('webhook.enabled', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('chefConsul.notifications.clearWebhookUrl', {});
    await receiver.close();
  });

  it('stores a webhook URL as a secret, sends a test notification to VS Code and the webhook, and says when the webhook refuses', async () => {
    const url = `http://${receiver.address}/services/T1/B1/not-to-be-logged`;
    const stored = await vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', { url });
    assert.deepEqual(stored, { stored: true, host: receiver.address, webhookEnabled: false });

    // The webhook is off: only VS Code gets it.
    const vscodeOnly = (await vscode.commands.executeCommand('chefConsul.notifications.sendTest', {})) as { channels: string[]; delivered: Record<string, boolean> };
    assert.deepEqual(vscodeOnly, { channels: ['vscode'], delivered: { vscode: true }, errors: {} });
    assert.equal(got.length, 0);
    assert.match(api.notifications.vscodeChannel.recent.at(-1)?.text ?? '', /test notification/);

    await config().update('webhook.enabled', true, vscode.ConfigurationTarget.Global);
    await eventually('the webhook channel', () => api.notifier.channelKinds().includes('webhook'));
    const both = await vscode.commands.executeCommand('chefConsul.notifications.sendTest', {});
    assert.deepEqual(both, { channels: ['vscode', 'webhook'], delivered: { vscode: true, webhook: true }, errors: {} });
    assert.equal(got.length, 1);
    assert.match(got[0].text, /test notification/);

    status = 400;
    const refused = (await vscode.commands.executeCommand('chefConsul.notifications.sendTest', { channels: ['webhook'] })) as { delivered: Record<string, boolean>; errors: Record<string, string> };
    assert.deepEqual(refused.delivered, { webhook: false });
    assert.match(refused.errors.webhook, /HTTP 400 \(a client error: retrying would not help\)/);
    status = 200;

    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', { url: 'ftp://example.com/x' })), /must start with https:\/\/ or http:\/\/, not ftp:/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', { url: 'hooks.slack.com/x' })), /is not a URL/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', {})), /"url" .* is required/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.notifications.sendTest', { channels: ['mail'] })), /No notification channel mail/);

    assert.deepEqual(await vscode.commands.executeCommand('chefConsul.notifications.clearWebhookUrl', {}), { cleared: true });
    const none = (await vscode.commands.executeCommand('chefConsul.notifications.sendTest', { channels: ['webhook'] })) as { errors: Record<string, string> };
    assert.equal(none.errors.webhook, 'no webhook URL is set');
    await vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', { url });
  });

  it('notifies a node whose Chef run failed in a run of ours once, to VS Code and the webhook, with a jump to its report', async () => {
    await config().update('webhook.enabled', true, vscode.ConfigurationTarget.Global);
    await eventually('the webhook channel', () => api.notifier.channelKinds().includes('webhook'));
    got.length = 0;
    const id = `notify-test-${Date.now()}`;
    const run = new Run({ id, engine: 'adhoc', command: 'chef-client', patterns: [], startedBy: 'test', phases: [{ no: 0, task: 'chef-client' }] });
    api.runs.add(run);
    run.start();
    run.startPhase(0, ['db-1', 'web-1']);
    run.appendOutput(0, 'db-1', fs.readFileSync(path.join(FIXTURES, 'chef15-converge-failure.txt'), 'utf8'));
    run.appendOutput(0, 'web-1', fs.readFileSync(path.join(FIXTURES, 'chef12-success-diff.txt'), 'utf8'));
    run.nodeEnded(0, 'db-1', 'error', 1);
    run.nodeEnded(0, 'web-1', 'success', 0);
    run.endPhase(0, 'error');
    run.end('error');
    const key = `chef-run:db-1:${id}`;
    const toast = await eventually('the VS Code notification', () => api.notifications.vscodeChannel.recent.find((r) => r.key === key));
    assert.equal(toast.severity, 'error');
    assert.match(toast.text, /^Chef run failed on db-1: execute\[run shop migrations\] — Mixlib::ShellOut::ShellCommandFailed/);
    await eventually('the webhook delivery', () => got.length >= 1);
    const body = JSON.stringify(got[0]);
    assert.match(body, /db-1/);
    assert.match(body, /execute\[run shop migrations\]/);
    assert.match(body, /Mixlib::ShellOut::ShellCommandFailed/);
    assert.equal(api.notifications.vscodeChannel.recent.filter((r) => r.key.startsWith('chef-run:') && r.key.endsWith(id)).length, 1, 'web-1 succeeded: no notification');
    // The same node and run again is no news.
    assert.equal(api.notifier.notify({ key, source: 'chef-run', severity: 'error', title: 'again', message: '' }), false);
    // The jump opens the report.
    const report = (await vscode.commands.executeCommand('chefConsul.openChefReport', { id, phase: 0, node: 'db-1' })) as { status: string };
    assert.equal(report.status, 'failure');
  });

  it('notifies the failed Chef run of a real ad-hoc command on the cluster, once', async () => {
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await vscode.commands.executeCommand('chefConsul.notifications.setWebhookUrl', { url: `http://${receiver.address}/hook` });
    await config().update('webhook.enabled', true, vscode.ConfigurationTarget.Global);
    await eventually('the webhook channel', () => api.notifier.channelKinds().includes('webhook'));
    got.length = 0;
    const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const command = `cat ${quote(path.join(FIXTURES, 'chef14-solo-template-failure.txt'))}; exit 1`;
    const id = (await vscode.commands.executeCommand('chefConsul.runCommand', { command, node: '^db-1$', ignoreBusyNodes: true })) as string;
    await finished(id);
    const key = `chef-run:db-1:${id}`;
    const toast = await eventually('the VS Code notification', () => api.notifications.vscodeChannel.recent.find((r) => r.key === key), 10_000);
    assert.match(toast.text, /^Chef run failed on db-1: template\[/);
    await eventually('the webhook delivery', () => got.some((b) => JSON.stringify(b).includes('Chef run failed on db-1')));
    assert.equal(api.notifications.vscodeChannel.recent.filter((r) => r.key === key).length, 1);
  });
});
