/** Chef run reports in VS Code: the reports of runs' nodes, their view, their documents and commands. */
import * as vscode from 'vscode';
import type { ChefReportRef } from '../../core/chef/runReports';
import { RunChefReports } from '../../core/chef/runReports';
import { ChefReportShelf } from '../../core/chef/reportShelf';
import type { ChefReport } from '../../core/chef/report';
import { resourceId } from '../../core/chef/report';
import { readNodeLog, readRun } from '../../core/runs/history';
import type { RunRegistry } from '../../core/runs/registry';
import type { ConnectionManager } from '../connectionManager';
import { CommandInputError, registerItemCommand } from '../commands/register';
import { CHEF_REPORT_SCHEME, ChefDocumentProvider, chefDocumentUri } from './chefDocuments';
import { ChefReportView } from './chefReportView';

export { chefNodeDescription } from './chefNodeDescription';

export interface ChefReportFeatures {
  reports: RunChefReports;
  /** Reports from no run of ours (report files, Reporting runs), shown by the same view, documents and commands. */
  shelf: ChefReportShelf;
  view: ChefReportView;
}

/** From a caller: `{ id, phase, node }`; from a Runs view node item: the item, which carries run, phase and node. */
function refOf(a: unknown): ChefReportRef {
  const x = a as { id?: unknown; run?: { id?: unknown }; phase?: unknown; node?: unknown } | undefined;
  // A tree item's own `id` is its tree ID, not the run's: the item's run comes first.
  const id = typeof x?.run?.id === 'string' ? x.run.id : typeof x?.id === 'string' ? x.id : undefined;
  const phase = typeof x?.phase === 'number' ? x.phase : (x?.phase as { no?: unknown } | undefined)?.no;
  const node = typeof x?.node === 'string' ? x.node : (x?.node as { node?: unknown } | undefined)?.node;
  if (!id || typeof phase !== 'number' || !Number.isInteger(phase) || phase < 0 || typeof node !== 'string' || !node)
    throw new CommandInputError(vscode.l10n.t('"id" (a run ID), "phase" (a phase number from 0) and "node" (a node name) are required.'));
  return { id, phase, node };
}

export function registerChefReports(connections: ConnectionManager, runs: RunRegistry, log: vscode.LogOutputChannel): { features: ChefReportFeatures; disposables: vscode.Disposable[] } {
  const reports = new RunChefReports(runs, {
    readLog: async (id, phase, node) => readNodeLog((await connections.connected()).connection, id, phase, node),
  });
  const shelf = new ChefReportShelf(reports);
  const documents = new ChefDocumentProvider(shelf);
  const view = new ChefReportView(shelf);

  const load = async (ref: ChefReportRef): Promise<ChefReport> => {
    const report = await shelf.load(ref.id, ref.phase, ref.node);
    if (!report) throw new CommandInputError(vscode.l10n.t('No output of node {0} in phase {1} of run {2}.', ref.node, ref.phase + 1, ref.id));
    // An empty log is also what a run that does not exist reads as: tell the two apart.
    if (!report.chef && !report.plainLines.length && !runs.get(ref.id) && !(await readRun((await connections.connected()).connection, ref.id)))
      throw new CommandInputError(vscode.l10n.t('No run {0} in this cluster\'s history.', ref.id));
    return report;
  };

  const command = (id: string, fn: (a: unknown) => Promise<unknown>) => registerItemCommand(id, fn, log);

  const disposables: vscode.Disposable[] = [
    { dispose: () => reports.dispose() },
    shelf,
    documents,
    view,
    vscode.workspace.registerTextDocumentContentProvider(CHEF_REPORT_SCHEME, documents),
    command('chefConsul.openChefReport', async (a) => {
      const ref = refOf(a);
      const report = await load(ref);
      view.show(ref);
      await vscode.commands.executeCommand(`${ChefReportView.id}.focus`);
      // Plain JSON for callers (the run monitor, tests): a copy, not the live report.
      return structuredClone(report);
    }),
    command('chefConsul.openChefDiff', async (a) => {
      const ref = refOf(a);
      const x = a as { resource?: unknown; diff?: unknown };
      const resourceIndex = typeof x.resource === 'number' ? x.resource : -1;
      const diffIndex = typeof x.diff === 'number' ? x.diff : 0;
      const report = await load(ref);
      const resource = report.resources[resourceIndex];
      const diff = resource?.diffs[diffIndex];
      if (!resource || !diff) throw new CommandInputError(vscode.l10n.t('The Chef report of node {0} has no diff {1} of resource {2}.', ref.node, diffIndex, resourceIndex));
      if (!diff.diff) throw new CommandInputError(vscode.l10n.t('Chef showed no diff for {0}: {1}', diff.path, diff.note ?? vscode.l10n.t('the output ended first')));
      const before = chefDocumentUri({ ...ref, kind: 'diff', resource: resourceIndex, diff: diffIndex, side: 'before' }, diff.path);
      const after = chefDocumentUri({ ...ref, kind: 'diff', resource: resourceIndex, diff: diffIndex, side: 'after' }, diff.path);
      const title = vscode.l10n.t('{0} on {1} ({2}, before ↔ after)', diff.path, ref.node, resourceId(resource));
      await vscode.commands.executeCommand('vscode.diff', before, after, title, { preview: true, preserveFocus: false });
      return { before: before.toString(), after: after.toString() };
    }),
    command('chefConsul.openChefFailure', async (a) => {
      const ref = refOf(a);
      const report = await load(ref);
      if (!report.failure) throw new CommandInputError(vscode.l10n.t('The Chef run of node {0} did not fail.', ref.node));
      const doc = await vscode.workspace.openTextDocument(chefDocumentUri({ ...ref, kind: 'failure' }));
      return vscode.window.showTextDocument(doc, { preview: true });
    }),
  ];
  return { features: { reports, shelf, view }, disposables };
}
