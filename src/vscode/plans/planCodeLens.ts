/** "Run event ▸" above each event of a task.yml. */
import * as vscode from 'vscode';
import { eventPhases } from '../../core/plans/model';
import type { PlanWorkspace } from './planWorkspace';
import { toRange } from './planDiagnostics';

export class PlanCodeLensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly workspace: PlanWorkspace) {
    this.subscriptions = [
      this.changed,
      workspace.onDidChange(() => this.changed.fire()),
      // Restricted Mode hides the Run lens; granting trust brings it back.
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.changed.fire()),
    ];
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const plan = this.workspace.get(document.uri)?.plan;
    if (!plan) return [];
    const trusted = vscode.workspace.isTrusted;
    return plan.events.flatMap((event) => {
      const range = toRange(event.keyRange);
      const phases = eventPhases(event).length;
      const run = new vscode.CodeLens(range, {
        title: vscode.l10n.t('Run event ▸'),
        tooltip: vscode.l10n.t('Run "{0}" of every pattern, phase by phase', event.name),
        command: 'chefConsul.runEventFromEditor',
        arguments: [{ event: event.name }],
      });
      return [
        ...(trusted ? [run] : []),
        new vscode.CodeLens(range, {
          title: phases === 1 ? vscode.l10n.t('1 phase') : vscode.l10n.t('{0} phases', phases),
          tooltip: vscode.l10n.t('Show "{0}" in the Phases view', event.name),
          command: 'chefConsul.phases.reveal',
          arguments: [{ event: event.name, file: document.uri.fsPath }],
        }),
      ];
    });
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
  }
}
