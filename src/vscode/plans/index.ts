/** Everything task.yml: the parsed workspace, Problems, the Phases view and the editor features. */
import * as vscode from 'vscode';
import type { ConnectionManager, ConnectionState } from '../connectionManager';
import { PlanCodeLensProvider } from './planCodeLens';
import { PlanDiagnostics } from './planDiagnostics';
import { PlanHoverProvider } from './planHover';
import { PlanQuickFixProvider } from './planQuickFix';
import { PlanWorkspace } from './planWorkspace';
import { PhasesView } from './phasesView';

export interface PlanFeatures {
  workspace: PlanWorkspace;
  diagnostics: PlanDiagnostics;
  phasesView: PhasesView;
}

const TASK_YML: vscode.DocumentSelector = { scheme: 'file', pattern: '**/task.yml' };

export function registerPlanFeatures(context: vscode.ExtensionContext, connections: ConnectionManager): PlanFeatures {
  const workspace = new PlanWorkspace();
  const diagnostics = new PlanDiagnostics(workspace);
  const phasesView = new PhasesView(workspace, connections);
  const codeLens = new PlanCodeLensProvider(workspace);
  let catalogListener: { dispose(): void } | undefined;
  const follow = (state: ConnectionState | undefined) => {
    catalogListener?.dispose();
    catalogListener = undefined;
    diagnostics.setCatalog(undefined);
    if (state?.kind !== 'connected') return;
    // The status bar keeps the catalog query alive; phase reach follows it for free.
    catalogListener = state.catalog.onDidChange((s) => {
      if (s.kind === 'ready') diagnostics.setCatalog(s.data);
    });
  };
  follow(connections.state);
  // The walkthrough's "Open a task.yml" step completes on this key (resourceFilename is an editor's key, not the window's).
  const markTaskYml = (editor: vscode.TextEditor | undefined) =>
    void vscode.commands.executeCommand('setContext', 'chefConsul.taskYmlOpen', !!editor && vscode.languages.match(TASK_YML, editor.document) > 0);
  markTaskYml(vscode.window.activeTextEditor);
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(markTaskYml),
    workspace,
    diagnostics,
    phasesView,
    { dispose: () => catalogListener?.dispose() },
    workspace.onDidChange(() => diagnostics.update()),
    connections.onDidChange(follow),
    codeLens,
    vscode.languages.registerCodeLensProvider(TASK_YML, codeLens),
    vscode.languages.registerHoverProvider(TASK_YML, new PlanHoverProvider(workspace)),
    vscode.languages.registerCodeActionsProvider(TASK_YML, new PlanQuickFixProvider(workspace), { providedCodeActionKinds: PlanQuickFixProvider.kinds }),
    vscode.commands.registerCommand('chefConsul.phases.refresh', () => workspace.rescan()),
  );
  void workspace.ready();
  return { workspace, diagnostics, phasesView };
}
