/** Refresh and filter for the catalog views. */
import * as vscode from 'vscode';
import type { ViewFilter } from '../../core/consul/filter';
import type { HealthStatus } from '../../core/consul/health';
import type { LiveCatalogView } from '../views/liveCatalogView';
import { CommandInputError, registerCommand } from './register';
import { QuickInputFactory, runSteps, Step } from '../multiStepInput';

const HEALTH: HealthStatus[] = ['passing', 'warning', 'critical'];

/**
 * The filter as one multi-step input: 1/2 the text (what each keystroke
 * matches shows under the box), 2/2 the health states; the current filter is
 * prefilled and marked, Back keeps both values.
 */
export async function askFilter(view: LiveCatalogView, ui: QuickInputFactory = vscode.window): Promise<ViewFilter | undefined> {
  const state = { text: view.filter.text ?? '', health: (view.filter.health ?? []).join(',') };
  const currentText = view.filter.text;
  const steps: Array<Step<typeof state>> = [
    {
      kind: 'text',
      prompt: currentText
        ? vscode.l10n.t('Text in a name, service, tag or address (empty: any). Current: "{0}"', currentText)
        : vscode.l10n.t('Text in a name, service, tag or address (empty: any)'),
      placeholder: vscode.l10n.t('e.g. web, 10.0.1., env=prod'),
      get: (s) => s.text,
      set: (s, v) => (s.text = v),
      validate: (value) => {
        if (value.length > 200) return vscode.l10n.t('At most 200 characters.');
        const counted = view.countMatching({ text: value.trim() || undefined });
        if (!counted) return undefined;
        const message =
          counted.matching === counted.total ? vscode.l10n.t('Matches all {0}.', counted.total) : vscode.l10n.t('Matches {0} of {1}.', counted.matching, counted.total);
        return { message, severity: counted.matching ? vscode.InputBoxValidationSeverity.Info : vscode.InputBoxValidationSeverity.Warning };
      },
    },
    {
      kind: 'pick',
      many: true,
      placeholder: vscode.l10n.t('Health states to show (none checked: all)'),
      items: HEALTH.map((h) => ({ label: h, value: h })),
      get: (s) => s.health,
      set: (s, v) => (s.health = v),
    },
  ];
  const title = view.viewId.endsWith('.services') ? vscode.l10n.t('Filter Services') : vscode.l10n.t('Filter Nodes');
  const done = await runSteps(title, steps, state, ui);
  if (!done) return undefined;
  return { text: done.text, health: done.health.split(',').filter(Boolean) as HealthStatus[] };
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
