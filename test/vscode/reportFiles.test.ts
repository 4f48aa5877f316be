import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { ChefReport } from '../../src/core/chef/report';
import { eventually } from '../support/env';
import { activateExtension } from './support';

// Compiled layout: out/test/vscode → the repository's test/fixtures.
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'chef');

const activeCustomViewType = () => {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom ? input.viewType : undefined;
};

const label = (i: vscode.TreeItem) => (typeof i.label === 'string' ? i.label : (i.label?.label ?? ''));

describe('Chef report files', function () {
  this.timeout(60_000);
  let api: ChefConsulApi;
  let dir: string;

  before(async () => {
    api = await activateExtension();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-report-files-'));
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('opens a data collector file with Open as Chef Report: the report view\'s tree, the diff editor, the view itself', async () => {
    const file = path.join(dir, 'data-collector.json');
    fs.copyFileSync(path.join(FIXTURES, 'data-collector-failure.json'), file);
    const uri = vscode.Uri.file(file);
    const result = (await vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: file })) as { node: string; kind: string; status: string; report: ChefReport };
    assert.equal(result.node, 'web-2');
    assert.equal(result.kind, 'data-collector');
    assert.equal(result.status, 'failure');
    assert.equal(result.report.failure?.resource, 'execute[shop-migrate]');
    assert.equal(activeCustomViewType(), 'chefConsul.chefReportFile');

    const html = api.reportFiles.htmlOf(uri) ?? '';
    for (const text of ['web-2 · report file', 'Failed: execute[shop-migrate]', 'Mixlib::ShellOut::ShellCommandFailed', 'shop::web', 'template[/etc/nginx/sites-enabled/shop]', 'mode: &quot;0640&quot; → &quot;0644&quot;', 'Resource Declaration', 'Backtrace'])
      assert.ok(html.includes(text), `the editor shows ${text}`);
    assert.match(html, /Content-Security-Policy/);

    // The diff of the template opens in the diff editor, from the file's report.
    const ref = { id: `file:${uri.toString()}`, phase: 0, node: 'web-2' };
    const diff = (await vscode.commands.executeCommand('chefConsul.openChefDiff', { ...ref, resource: 1, diff: 0 })) as { before: string; after: string };
    const after = await vscode.workspace.openTextDocument(vscode.Uri.parse(diff.after));
    assert.match(after.getText(), /server 127\.0\.0\.1:8081;/);
    const failureDoc = (await vscode.commands.executeCommand('chefConsul.openChefFailure', ref)) as vscode.TextEditor;
    assert.match(failureDoc.document.getText(), /relation "orders" does not exist/);

    // The same report in the Chef Report view.
    api.chef.view.show(ref);
    const roots = api.chef.view.getChildren();
    assert.deepEqual(roots.slice(0, 2).map(label), ['web-2 · report file', 'Failed: execute[shop-migrate]']);
  });

  it('opens chef-run-report-*.json in the Chef report editor by default, and escapes everything from the file', async () => {
    const data = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'chef-run-report-20261130220141.json'), 'utf8')) as { node: { name: string } };
    data.node.name = '<img src=x onerror="alert(1)">';
    const file = path.join(dir, 'chef-run-report-20261130220141.json');
    fs.writeFileSync(file, JSON.stringify(data));
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.open', uri);
    await eventually('the custom editor', () => activeCustomViewType() === 'chefConsul.chefReportFile' && api.reportFiles.htmlOf(uri), 15_000);
    const html = api.reportFiles.htmlOf(uri)!;
    assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
    assert.ok(!html.includes('<img'), 'no markup from the file');
    assert.ok(html.includes('404 &quot;Not Found&quot; &lt;a href=&quot;x&quot;&gt;&amp;amp;&lt;/a&gt;'), 'the exception is shown as text');
    assert.ok(html.includes('Failed: remote_file[/opt/shop/releases/shop-2.4.1.tar.gz]'));
  });

  it('follows a data collector file as Chef appends the run\'s end to it', async () => {
    const [start, converge] = fs.readFileSync(path.join(FIXTURES, 'data-collector-failure.json'), 'utf8').trim().split('\n');
    const file = path.join(dir, 'growing.json');
    fs.writeFileSync(file, `${start}\n`);
    const uri = vscode.Uri.file(file);
    const started = (await vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: uri.toString() })) as { status: string };
    assert.equal(started.status, 'unknown');
    assert.match(api.reportFiles.htmlOf(uri) ?? '', /the file has the run&#39;s start but not its end/);
    fs.appendFileSync(file, `${converge}\n`);
    await eventually('the run\'s end in the editor', () => api.reportFiles.htmlOf(uri)?.includes('Failed: execute[shop-migrate]'), 10_000);
    assert.equal(api.reportFiles.documentOf(uri)?.file?.report.status, 'failure');
  });

  it('shows a clear error for files that are not Chef reports or are too large, and the command says it', async () => {
    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(broken, '{"message_type": "run_converge", "node_name": ');
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: broken })), /The file is not valid JSON/);
    assert.match(api.reportFiles.htmlOf(vscode.Uri.file(broken)) ?? '', /Not a Chef report[\s\S]*The file is not valid JSON/);

    const other = path.join(dir, 'package.json');
    fs.writeFileSync(other, '{"name": "x", "version": "1.0.0"}');
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: other })), /package\.json is JSON, but not a Chef report/);

    const big = path.join(dir, 'big.json');
    fs.writeFileSync(big, Buffer.alloc(21 * 1024 * 1024, 0x20));
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: big })), /big\.json is 21\.0 MiB, larger than 20 MiB/);

    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.openChefReportFile', { uri: 42 })), /"uri" .* is required/);
  });
});
