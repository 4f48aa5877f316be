import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { consulJson } from '../infra/cluster';
import { clusterFromEnv, eventually } from '../support/env';
import { activateExtension } from './support';

type Item = vscode.TreeItem & { kind?: string };

function fileIn(pattern: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the tests need a workspace folder holding the task.yml fixtures');
  return vscode.Uri.file(path.join(folder.uri.fsPath, pattern, 'task.yml'));
}

function problems(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'task.yml');
}

describe('task.yml plans in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const web1 = cluster.agents.find((a) => a.name === 'web-1')!;
  let api: ChefConsulApi;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
    await api.plans.workspace.ready();
    await vscode.commands.executeCommand('chefConsul.phases.focus');
  });

  it('puts the parser\'s findings in the Problems panel at the right lines', async () => {
    const uri = fileIn('broken');
    const found = await eventually('problems for broken/task.yml', () => {
      const p = problems(uri);
      return p.length ? p : undefined;
    });
    const at = (code: string) => found.filter((d) => d.code === code).map((d) => d.range.start.line + 1);
    assert.deepEqual(at('task-undefined'), [34]);
    assert.ok(at('key-unknown').includes(13), `key-unknown at ${at('key-unknown')}`);
    assert.deepEqual(at('operation-unknown'), [45]);
    assert.deepEqual(at('execute-file-missing'), [42]);
    assert.equal(found.find((d) => d.code === 'task-undefined')!.severity, vscode.DiagnosticSeverity.Error);
    assert.match(found.find((d) => d.code === 'task-undefined')!.message, /deplyo/);
  });

  it('offers to create a missing task, and the problem goes away once applied', async () => {
    const uri = fileIn('broken');
    // On its own: it waits for the problem itself, and edits the document in an editor it shows.
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);
    const missing = await eventually('the task-undefined problem', () => problems(uri).find((d) => d.code === 'task-undefined'), 10_000);
    const actions = (await vscode.commands.executeCommand('vscode.executeCodeActionProvider', uri, missing.range)) as vscode.CodeAction[];
    const create = actions.find((a) => /Create task "deplyo"/.test(a.title));
    assert.ok(create?.edit, `actions: ${actions.map((a) => a.title).join(' | ')}`);
    assert.ok(await vscode.workspace.applyEdit(create.edit));
    assert.match(doc.getText(), /\n {2}deplyo:\n {4}description: TODO\n {4}operations:\n {6}- echo: "deplyo"\n/);
    await eventually('the task-undefined problem to go', () => (problems(uri).some((d) => d.code === 'task-undefined') ? undefined : true));
    assert.equal(vscode.window.activeTextEditor, editor, 'the edited task.yml is the active editor');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    assert.ok(!doc.isDirty || doc.isClosed, 'the edit was reverted');
  });

  it('shows a CodeLens to run each event', async () => {
    const uri = fileIn('tomcat');
    await vscode.workspace.openTextDocument(uri);
    const lenses = (await vscode.commands.executeCommand('vscode.executeCodeLensProvider', uri)) as vscode.CodeLens[];
    const run = lenses.filter((l) => l.command?.title === 'Run event ▸');
    const plan = api.plans.workspace.get(uri)!.plan!;
    assert.equal(run.length, plan.events.length);
    assert.deepEqual(run.map((l) => (l.command!.arguments![0] as { event: string }).event), plan.events.map((e) => e.name));
    assert.equal(run[0].range.start.line, plan.events[0].keyRange.start.line);
  });

  it('shows operations with their templates expanded on hover', async () => {
    const uri = fileIn('tomcat');
    const plan = api.plans.workspace.get(uri)!.plan!;
    const task = plan.tasks.find((t) => t.operations.some((o) => o.type === 'chef'))!;
    const op = task.operations.find((o) => o.type === 'chef')!;
    const pos = new vscode.Position(op.keyRange.start.line, op.keyRange.start.character + 1);
    const hovers = (await vscode.commands.executeCommand('vscode.executeHoverProvider', uri, pos)) as vscode.Hover[];
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
    assert.match(text, /\*\*chef\*\*/);
    assert.match(text, /role\[\{\{role\}\}_setup\]/);
    assert.match(text, /unknown&nbsp;here\\\):&nbsp;role/);
  });

  it('lists patterns, events and phases with the nodes each phase reaches, live', async () => {
    const view = api.plans.phasesView;
    const patterns = view.getChildren() as Item[];
    assert.deepEqual(patterns.filter((p) => p.kind === 'pattern').map((p) => p.label), ['broken', 'haproxy', 'postgresql', 'tomcat']);
    const tomcat = patterns.find((p) => p.label === 'tomcat')!;
    const configure = (view.getChildren(tomcat as never) as Item[]).find((e) => e.label === 'configure')!;
    const phaseOf = () => (view.getChildren(configure as never) as Item[]).find((p) => /tomcat/.test(String(p.description)))!;
    await eventually('the catalog to reach the view', () => (/→/.test(String(phaseOf().description)) ? true : undefined), 10_000);
    assert.match(String(phaseOf().description), /→ no node/);
    const uri = fileIn('tomcat');
    await eventually('a phase-no-node problem', () => (problems(uri).some((d) => d.code === 'phase-no-node') ? true : undefined), 10_000);

    await consulJson(web1.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: 'tomcat', Name: 'tomcat', Port: 8081, Tags: ['blue'] } });
    try {
      await eventually('the tomcat phase to reach web-1', () => (/→ web-1/.test(String(phaseOf().description)) ? true : undefined), 15_000);
      const ops = view.getChildren(phaseOf() as never) as Item[];
      assert.ok(ops.length > 0 && ops.every((o) => o.kind === 'operation'));
    } finally {
      await consulJson(web1.httpAddr, '/v1/agent/service/deregister/tomcat', { method: 'PUT' });
    }
    await eventually('the tomcat phase to reach no node again', () => (/→ no node/.test(String(phaseOf().description)) ? true : undefined), 15_000);
  });
});
