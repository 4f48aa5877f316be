/** Refresh and filter for the catalog views. */
import * as vscode from 'vscode';
import type { ViewFilter } from '../../core/consul/filter';
import type { HealthStatus } from '../../core/consul/health';
import type { LiveCatalogView } from '../views/liveCatalogView';
import { CommandInputError, registerCommand } from './register';

const HEALTH: HealthStatus[] = ['passing', 'warning', 'critical'];

async function askFilter(view: LiveCatalogView): Promise<ViewFilter | undefined> {
  const text = await vscode.window.showInputBox({
    title: vscode.l10n.t('Filter (1/2)'),
    prompt: vscode.l10n.t('Text in a name, service, tag or address (empty: any)'),
    value: view.filter.text ?? '',
  });
  if (text === undefined) return undefined;
  const current = new Set(view.filter.health ?? []);
  const picked = await vscode.window.showQuickPick(
    HEALTH.map((h) => ({ label: h, picked: current.has(h) })),
    { title: vscode.l10n.t('Filter (2/2)'), placeHolder: vscode.l10n.t('Health states to show (none: all)'), canPickMany: true },
  );
  if (!picked) return undefined;
  return { text, health: picked.map((p) => p.label as HealthStatus) };
}

function checkFilter(args: Partial<ViewFilter>): ViewFilter {
  const health = args.health ?? [];
  if (!Array.isArray(health) || health.some((h) => !HEALTH.includes(h))) {
    throw new CommandInputError(vscode.l10n.t('"health" must be a list of: {0}.', HEALTH.join(', ')));
  }
  if (args.text !== undefined && typeof args.text !== 'string') throw new CommandInputError(vscode.l10n.t('"text" must be a string.'));
  return { text: args.text, health };
}

export function registerViewCommands(prefix: 'nodes' | 'services', view: LiveCatalogView, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(`chefConsul.${prefix}.refresh`, () => view.refresh()),
    registerCommand<ViewFilter, ViewFilter | undefined>(
      `chefConsul.${prefix}.filter`,
      async (args) => {
        const filter = args ? checkFilter(args) : await askFilter(view);
        if (!filter) return undefined;
        await view.setFilter(filter);
        return view.filter;
      },
      log,
    ),
    registerCommand<object, ViewFilter>(
      `chefConsul.${prefix}.clearFilter`,
      async () => {
        await view.setFilter({});
        return view.filter;
      },
      log,
    ),
  ];
}
