/**
 * Copy Name / Address / Run ID from the views' context menus (group
 * 9_cutcopypaste). Each takes the tree item it was invoked on, or an argument
 * object ({ name } / { address } / { id }), and returns the text it copied.
 */
import * as vscode from 'vscode';
import { CommandInputError, registerItemCommand } from './register';

/** What the copy commands read from a tree item; items are told apart by `kind`, not class. */
interface ItemLike {
  kind?: string;
  label?: string | vscode.TreeItemLabel;
  node?: { address?: string; node?: string } | string;
  instance?: { address: string; port?: number };
  run?: { id: string };
}

function labelOf(item: ItemLike): string | undefined {
  return typeof item.label === 'string' ? item.label : item.label?.label;
}

function nameOf(a: unknown): string {
  const x = a as (ItemLike & { name?: unknown }) | undefined;
  if (a instanceof vscode.TreeItem || x?.kind) {
    const label = labelOf(x!);
    if (label) return label;
  } else if (typeof x?.name === 'string' && x.name) return x.name;
  throw new CommandInputError(vscode.l10n.t('"name" is required: a non-empty string.'));
}

function addressOf(a: unknown): string {
  const x = a as (ItemLike & { address?: unknown }) | undefined;
  if (x?.kind === 'node' && typeof x.node === 'object' && x.node.address) return x.node.address;
  if (x?.kind === 'instance' && x.instance) return x.instance.port ? `${x.instance.address}:${x.instance.port}` : x.instance.address;
  if (!x?.kind && typeof x?.address === 'string' && x.address) return x.address;
  throw new CommandInputError(vscode.l10n.t('"address" is required (or a node or service instance from a view).'));
}

function runIdOf(a: unknown): string {
  const x = a as (ItemLike & { id?: unknown }) | undefined;
  // A tree item's own `id` is its place in the tree; the run's ID is on its run.
  if (x?.run?.id) return x.run.id;
  if (!(a instanceof vscode.TreeItem) && !x?.kind && typeof x?.id === 'string' && x.id) return x.id;
  throw new CommandInputError(vscode.l10n.t('"id" is required (or a run, phase or node of the Runs view).'));
}

export function registerCopyCommands(log: vscode.LogOutputChannel): vscode.Disposable[] {
  const copy = (id: string, read: (a: unknown) => string) =>
    registerItemCommand(id, async (a) => {
      const text = read(a);
      await vscode.env.clipboard.writeText(text);
      return text;
    }, log);
  return [copy('chefConsul.copyName', nameOf), copy('chefConsul.copyAddress', addressOf), copy('chefConsul.copyRunId', runIdOf)];
}
