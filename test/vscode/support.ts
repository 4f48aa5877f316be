/** Helpers for tests inside the extension host. */
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import type { CatalogItem, MessageItem, NodeItem } from '../../src/vscode/views/catalogItems';
import type { LiveCatalogView } from '../../src/vscode/views/liveCatalogView';
import type { RunSnapshot } from '../../src/core/runs/model';
import { eventually } from '../support/env';

export const EXTENSION_ID = 'chef-consul-ops.chef-consul-ops';

/** Removes profiles a test added from the user settings: every test that adds one removes it. */
export async function removeProfiles(...names: string[]): Promise<void> {
  const config = vscode.workspace.getConfiguration('chefConsul');
  const left = (config.inspect<Array<{ name: string }>>('profiles')?.globalValue ?? []).filter((p) => !names.includes(p.name));
  await config.update('profiles', left.length ? left : undefined, vscode.ConfigurationTarget.Global);
}

export async function activateExtension(): Promise<ChefConsulApi> {
  const ext = vscode.extensions.getExtension<ChefConsulApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not installed in this VS Code`);
  return ext.activate();
}

// The extension runs from its bundle, the tests from tsc's output: the same
// classes exist twice, so items are told apart by their `kind`, not instanceof.
export const isNode = (x: CatalogItem | undefined): x is NodeItem => x?.kind === 'node';
export const isNotice = (x: CatalogItem | undefined): x is MessageItem => x?.kind === 'message' && x.severity === 'info';
export const isError = (x: CatalogItem | undefined): x is MessageItem => x?.kind === 'message' && x.severity === 'error';

export function labels(items: readonly CatalogItem[]): string[] {
  return items.map((i) => (typeof i.label === 'string' ? i.label : i.label?.label ?? ''));
}

export function iconId(item: CatalogItem): string | undefined {
  return item.iconPath instanceof vscode.ThemeIcon ? item.iconPath.id : undefined;
}

/** Waits until the view's root items satisfy `accept`, re-checking on every render. */
export function viewShows(view: LiveCatalogView, accept: (items: CatalogItem[]) => boolean, timeoutMs = 10_000): Promise<CatalogItem[]> {
  const now = view.rootItems();
  if (accept(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const subs: vscode.Disposable[] = [];
    const done = (err?: Error) => {
      clearTimeout(timer);
      subs.forEach((s) => s.dispose());
      if (err) reject(err);
    };
    const timer = setTimeout(() => done(new Error(`view ${view.viewId} did not show the expected items within ${timeoutMs} ms; it shows: ${JSON.stringify(labels(view.rootItems()))}`)), timeoutMs);
    const check = () => {
      const items = view.rootItems();
      if (accept(items)) {
        done();
        resolve(items);
      }
    };
    subs.push(view.onDidRender(check), view.onDidChangeTreeData(check));
  });
}

/** Polls chefConsul.getRun until the run has ended (any final status), as a caller of the command would. */
export async function finished(id: string, timeoutMs = 30_000): Promise<RunSnapshot> {
  return eventually(
    `run ${id} to finish`,
    async () => {
      const run = (await vscode.commands.executeCommand('chefConsul.getRun', { id })) as RunSnapshot | undefined;
      return run && ['success', 'error', 'timeout', 'cancelled', 'interrupted'].includes(run.status) ? run : undefined;
    },
    timeoutMs,
    200,
  );
}
