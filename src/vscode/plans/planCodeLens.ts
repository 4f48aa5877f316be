/** "Run event ▸" above each event of a task.yml. */
import * as vscode from 'vscode';
import { eventPhases } from '../../core/plans/model';
import type { PlanWorkspace } from './planWorkspace';
import { toRange } from './planDiagnostics';

export class PlanCodeLensProvider implements vscode.CodeLensProvider {
  readonly onDidChangeCodeLenses: vscode.Event<void>;

  constructor(private readonly workspace: PlanWorkspace) {
    this.onDidChangeCodeLenses = workspace.onDidChange;
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const plan = this.workspace.get(document.uri)?.plan;
    if (!plan) return [];
    return plan.events.flatMap((event) => {
      const range = toRange(event.keyRange);
      const phases = eventPhases(event).length;
      return [
        new vscode.CodeLens(range, {
          title: vscode.l10n.t('Run event ▸'),
          tooltip: vscode.l10n.t('Run "{0}" of every pattern, phase by phase', event.name),
          command: 'chefConsul.runEvent',
          arguments: [{ event: event.name }],
        }),
        new vscode.CodeLens(range, {
          title: phases === 1 ? vscode.l10n.t('1 phase') : vscode.l10n.t('{0} phases', phases),
          command: 'chefConsul.phases.focus',
        }),
      ];
    });
  }
}
