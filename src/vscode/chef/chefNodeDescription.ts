/** The Chef summary of a node's run, as one short description for tree items (Runs view) and the monitor. */
import * as vscode from 'vscode';
import type { ChefSummary } from '../../core/chef/report';

export function chefNodeDescription(summary: ChefSummary | undefined): string {
  if (!summary?.chef) return '';
  const counted = summary.total !== undefined ? `${summary.updated ?? 0}/${summary.total}` : `${summary.updated ?? 0}`;
  switch (summary.status) {
    case 'success':
      return vscode.l10n.t('Chef: {0} updated', counted);
    case 'failure':
      return summary.failedResource ? vscode.l10n.t('Chef failed: {0}', summary.failedResource) : vscode.l10n.t('Chef failed');
    case 'running':
      return summary.stage === 'converging' ? vscode.l10n.t('Chef converging: {0} updated', counted) : vscode.l10n.t('Chef {0}', summary.stage);
    default:
      return vscode.l10n.t('Chef ended while {0}', summary.stage);
  }
}
