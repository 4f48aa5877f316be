/**
 * The KV commands: from the tree's context menus, the palette, or with one
 * argument object (then nothing is asked). Every write checks workspace
 * trust, and a write reaching more than one key of a production profile
 * needs the typed confirmation.
 */
import * as fs from 'node:fs/promises';
import * as vscode from 'vscode';
import type { ConsulConnection } from '../../core/consul/client';
import { compareSubtrees, CompareResult } from '../../core/kv/compare';
import { getEntry, getSubtree, listAllKeys, writeEntry } from '../../core/kv/kvStore';
import { checkFlags, checkKey, folderPrefix, isFolderKey, isUtf8, KvConflictError, KvEntry, parentFolder } from '../../core/kv/model';
import { searchKv, SearchHit } from '../../core/kv/search';
import { copySubtree, deleteUnchanged, moveSubtree, TransferResult } from '../../core/kv/subtree';
import {
  applyImport,
  exportItems,
  exportToFolder,
  ImportPlan,
  ImportResult,
  KvItem,
  parseExportJson,
  planImport,
  readFolder,
  retarget,
  toExportJson,
} from '../../core/kv/transfer';
import { CommandInputError, registerCommand } from '../commands/register';
import { confirmProduction } from '../production';
import { requireTrust } from '../trust';
import type { KvConnections } from './kvConnections';
import type { ConflictChoice, KvDocuments } from './kvDocuments';

import type { KvNode } from './kvItems';
import { KvTarget, kvUri } from './kvUri';
import type { KvView } from './kvView';

type Args = Record<string, unknown>;

/** A tree node handed over by a context menu, told apart from an argument object. */
function asNode(args: Args | undefined): (KvNode & { kind: 'folder' | 'key' }) | undefined {
  const n = args as Partial<KvNode> | undefined;
  return n && (n.kind === 'folder' || n.kind === 'key') && typeof (n as { name?: unknown }).name === 'string' ? (n as KvNode & { kind: 'folder' | 'key' }) : undefined;
}

function str(args: Args, name: string, required = true): string | undefined {
  const v = args[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new CommandInputError(vscode.l10n.t('"{0}" must be a string.', name));
  return v;
}

function key(args: Args, name: string): string {
  try {
    return checkKey(str(args, name)!, name);
  } catch (e) {
    throw new CommandInputError((e as Error).message);
  }
}

export class KvCommands {
  constructor(
    private readonly kv: KvConnections,
    private readonly view: KvView,
    private readonly docs: KvDocuments,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  private async active(): Promise<{ connection: ConsulConnection; target: KvTarget }> {
    const target = this.kv.activeTarget();
    return { connection: await this.kv.connection(target), target };
  }

  /** Trust, then the production confirmation for work reaching `reach` keys. */
  private async mayWrite(action: string, what: string, reach: number, args: Args | undefined): Promise<boolean> {
    requireTrust(action);
    const profile = this.kv.profile(this.kv.activeTarget().profile);
    return confirmProduction(profile, what, reach, typeof args?.confirm === 'string' ? args.confirm : undefined, !args || !!asNode(args), 'keys');
  }

  register(): vscode.Disposable[] {
    const r = <R>(id: string, fn: (args: Args | undefined) => Promise<R> | R) => registerCommand<Args, R>(`chefConsul.kv.${id}`, fn, this.log);
    return [
      vscode.commands.registerCommand('chefConsul.kv.refresh', () => this.view.refresh()),
      r('showMore', (a) => this.view.showMore(typeof a?.folder === 'string' ? a.folder : '')),
      r('open', (a) => this.open(a)),
      r('newKey', (a) => this.newKey(a)),
      r('newFolder', (a) => this.newFolder(a)),
      r('delete', (a) => this.delete(a)),
      r('editFlags', (a) => this.editFlags(a)),
      r('copyPath', (a) => this.copyPath(a)),
      r('copyValue', (a) => this.copyValue(a)),
      r('move', (a) => this.transfer(a, true)),
      r('copy', (a) => this.transfer(a, false)),
      r('search', (a) => this.search(a)),
      r('export', (a) => this.export(a)),
      r('import', (a) => this.import(a)),
      r('compare', (a) => this.compare(a)),
      r('resolveConflict', (a) => this.resolveConflict(a)),
    ];
  }

  private async open(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    let k = node?.key;
    let target = this.kv.activeTarget();
    if (a && !node) {
      k = key(a, 'key');
      if (a.profile !== undefined) target = { profile: str(a, 'profile')!, datacenter: str(a, 'datacenter', false) };
    }
    if (!k) k = await vscode.window.showInputBox({ title: vscode.l10n.t('Open Key'), prompt: vscode.l10n.t('The full key, e.g. config/app/settings.json'), validateInput: validKey });
    if (!k) return undefined;
    const uri = kvUri(target, k);
    await vscode.window.showTextDocument(uri, { preview: false });
    return uri.toString();
  }

  private async newKey(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    let k: string | undefined;
    let value = '';
    let flags = 0;
    if (a && !node) {
      k = key(a, 'key');
      if (isFolderKey(k)) throw new CommandInputError(vscode.l10n.t('"{0}" ends in "/": that is a folder; use New Folder.', k));
      value = a.value === undefined ? '' : str(a, 'value')!;
      flags = a.flags === undefined ? 0 : checkFlagsArg(a.flags);
    } else {
      const parent = node ? (node.kind === 'folder' ? node.key : parentFolder(node.key)) : '';
      k = await vscode.window.showInputBox({ title: vscode.l10n.t('New Key'), value: parent, valueSelection: [parent.length, parent.length], validateInput: validKey });
      if (!k) return undefined;
    }
    requireTrust(vscode.l10n.t('New Key'));
    const { connection, target } = await this.active();
    try {
      await writeEntry(connection, k, Buffer.from(value, 'utf8'), { cas: 0, flags });
    } catch (e) {
      if (e instanceof KvConflictError) throw new CommandInputError(vscode.l10n.t('"{0}" already exists: nothing was overwritten.', k));
      throw e;
    }
    if (!a || node) await vscode.window.showTextDocument(kvUri(target, k), { preview: false });
    return k;
  }

  private async newFolder(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    let folder: string | undefined;
    if (a && !node) folder = key(a, 'folder');
    else {
      const parent = node ? (node.kind === 'folder' ? node.key : parentFolder(node.key)) : '';
      folder = await vscode.window.showInputBox({ title: vscode.l10n.t('New Folder'), value: parent, valueSelection: [parent.length, parent.length], validateInput: validKey });
      if (!folder) return undefined;
    }
    requireTrust(vscode.l10n.t('New Folder'));
    const prefix = folderPrefix(folder);
    const { connection } = await this.active();
    // A folder is a key ending in "/" (as the Consul UI makes them).
    await writeEntry(connection, prefix, Buffer.alloc(0), { cas: 0 }).catch((e) => {
      if (!(e instanceof KvConflictError)) throw e;
    });
    return prefix;
  }

  private async delete(a: Args | undefined): Promise<{ deleted: number; keptChanged: string[] } | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : await vscode.window.showInputBox({ title: vscode.l10n.t('Delete Key or Folder'), prompt: vscode.l10n.t('A key, or a folder ending in "/"'), validateInput: validKey });
    if (!k) return undefined;
    const { connection } = await this.active();
    const folder = isFolderKey(k);
    // What is confirmed is what is deleted: each key only if it still holds what was read here.
    const entries = folder ? await getSubtree(connection, k) : [await getEntry(connection, k)].filter((e): e is KvEntry => !!e);
    if (!entries.length) throw new CommandInputError(vscode.l10n.t('"{0}" does not exist.', k));
    if (!(await this.mayWrite(vscode.l10n.t('Delete'), vscode.l10n.t('deleting "{0}"', k), entries.length, a))) return undefined;
    if (!a || node) {
      const yes = vscode.l10n.t('Delete');
      const message = folder
        ? vscode.l10n.t('Delete the folder "{0}" and the {1} keys in it? This cannot be undone.', k, entries.length)
        : vscode.l10n.t('Delete the key "{0}"? This cannot be undone.', k);
      if ((await vscode.window.showWarningMessage(message, { modal: true }, yes)) !== yes) return undefined;
    }
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Deleting "{0}"', k) },
      (progress) => deleteUnchanged(connection, entries, { onChunk: (done, total) => progress.report({ message: `${done}/${total}` }) }),
    );
    if (r.failed.length) throw new Error(vscode.l10n.t('Consul refused deleting {0} key(s) of "{1}" without saying why (first: "{2}"); {3} were deleted.', r.failed.length, k, r.failed[0], r.deleted));
    if (r.changed.length) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t('{0} key(s) changed after you confirmed and were kept (first: "{1}"); {2} deleted.', r.changed.length, r.changed[0], r.deleted),
      );
    }
    return { deleted: r.deleted, keptChanged: r.changed };
  }

  private async editFlags(a: Args | undefined): Promise<number | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : await vscode.window.showInputBox({ title: vscode.l10n.t('Edit Flags'), prompt: vscode.l10n.t('Key'), validateInput: validKey });
    if (!k) return undefined;
    const { connection } = await this.active();
    const entry = await getEntry(connection, k);
    if (!entry) throw new CommandInputError(vscode.l10n.t('"{0}" does not exist.', k));
    let flags: number;
    if (a && !node) flags = checkFlagsArg(a.flags);
    else {
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t('Flags of {0}', k),
        value: String(entry.flags),
        validateInput: (v) => (/^\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? undefined : vscode.l10n.t('A whole number from 0 to {0}', Number.MAX_SAFE_INTEGER)),
      });
      if (typed === undefined) return undefined;
      flags = Number(typed);
    }
    requireTrust(vscode.l10n.t('Edit Flags'));
    // CAS on what was read: a value changed meanwhile is not overwritten with the old one.
    await writeEntry(connection, k, entry.value, { cas: entry.modifyIndex, flags });
    return flags;
  }

  private async copyPath(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : undefined;
    if (!k) return undefined;
    await vscode.env.clipboard.writeText(k);
    return k;
  }

  private async copyValue(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : undefined;
    if (!k) return undefined;
    const { connection } = await this.active();
    const entry = await getEntry(connection, k);
    if (!entry) throw new CommandInputError(vscode.l10n.t('"{0}" does not exist.', k));
    if (!isUtf8(entry.value)) throw new CommandInputError(vscode.l10n.t('The value of "{0}" is not UTF-8 text ({1} bytes): it cannot go to the clipboard as text. Export it instead.', k, entry.value.length));
    const text = entry.value.toString('utf8');
    await vscode.env.clipboard.writeText(text);
    return text;
  }

  private async transfer(a: Args | undefined, move: boolean): Promise<TransferResult | undefined> {
    const node = asNode(a);
    const title = move ? vscode.l10n.t('Rename or Move') : vscode.l10n.t('Copy');
    let from: string | undefined;
    let to: string | undefined;
    if (a && !node) {
      from = key(a, 'from');
      to = key(a, 'to');
    } else {
      from = node?.key ?? (await vscode.window.showInputBox({ title, prompt: vscode.l10n.t('Key or folder (ending in "/") to {0}', move ? 'move' : 'copy'), validateInput: validKey }));
      if (!from) return undefined;
      const folder = isFolderKey(from);
      to = await vscode.window.showInputBox({
        title: vscode.l10n.t('{0} "{1}" to…', title, from),
        value: from,
        valueSelection: [parentFolder(from).length, from.length - (folder ? 1 : 0)],
        validateInput: validKey,
      });
      if (!to || to === from) return undefined;
    }
    const { connection } = await this.active();
    const reach = isFolderKey(from) ? (await listAllKeys(connection, from)).length : 1;
    if (!(await this.mayWrite(title, vscode.l10n.t('{0} of "{1}"', move ? 'moving' : 'copying', from), move ? reach * 2 : reach, a))) return undefined;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('{0} {1} → {2}', title, from, to) },
      (progress) =>
        (move ? moveSubtree : copySubtree)(connection, from!, to!, {
          onProgress: (p) => progress.report({ message: `${p.phase} ${p.done}/${p.total}` }),
        }),
    );
    if (result.keptChanged.length) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t(
          '{0} source key(s) changed during the move and were kept at the source (the destination holds the value read before the change): {1}',
          result.keptChanged.length,
          result.keptChanged.slice(0, 5).join(', '),
        ),
      );
    }
    return result;
  }

  private async search(a: Args | undefined): Promise<SearchHit[] | undefined> {
    const node = asNode(a);
    const interactive = !a || !!node;
    let prefix = node ? (node.kind === 'folder' ? node.key : parentFolder(node.key)) : '';
    let text: string | undefined;
    let values = false;
    if (!interactive) {
      prefix = str(a!, 'prefix', false) ?? '';
      text = str(a!, 'text');
      values = a!.values === true;
    } else {
      text = await vscode.window.showInputBox({ title: vscode.l10n.t('Search Keys under "{0}"', prefix || '/'), prompt: vscode.l10n.t('Text in a key name (and, next, optionally in values)') });
      if (!text) return undefined;
      const pick = await vscode.window.showQuickPick(
        [
          { label: vscode.l10n.t('Key names'), values: false },
          { label: vscode.l10n.t('Key names and values'), description: vscode.l10n.t('reads every value under the prefix'), values: true },
        ],
        { title: vscode.l10n.t('Search in') },
      );
      if (!pick) return undefined;
      values = pick.values;
    }
    const { connection, target } = await this.active();
    const result = await searchKv(connection, { prefix, text: text!, values });
    if (!interactive) return result.hits;
    const chosen = await vscode.window.showQuickPick(
      result.hits.map((h) => ({ label: h.key, description: h.in === 'value' ? vscode.l10n.t('value: {0}', h.excerpt ?? '') : undefined, hit: h })),
      { title: vscode.l10n.t('{0} match(es) in {1} keys{2}', result.hits.length, result.scanned, result.truncated ? vscode.l10n.t(' (first ones only)') : ''), matchOnDescription: true },
    );
    if (chosen) {
      if (isFolderKey(chosen.hit.key)) await this.view.reveal(chosen.hit.key);
      else await vscode.window.showTextDocument(kvUri(target, chosen.hit.key), { preview: false });
    }
    return result.hits;
  }

  private async export(a: Args | undefined): Promise<{ keys: number; path: string; flagsDropped?: number } | undefined> {
    const node = asNode(a);
    const interactive = !a || !!node;
    let prefix = node?.kind === 'folder' ? node.key : node ? node.key : '';
    let format: 'json' | 'folder' = 'json';
    let out: string | undefined;
    if (!interactive) {
      prefix = str(a!, 'prefix', false) ?? '';
      format = parseFormat(a!.format);
      out = str(a!, 'path');
    } else {
      const f = await vscode.window.showQuickPick(
        [
          { label: vscode.l10n.t('JSON file (consul kv export format)'), format: 'json' as const },
          { label: vscode.l10n.t('Folder of files (one file per key)'), format: 'folder' as const },
        ],
        { title: vscode.l10n.t('Export "{0}" as', prefix || '/') },
      );
      if (!f) return undefined;
      format = f.format;
      const uri =
        format === 'json'
          ? await vscode.window.showSaveDialog({ filters: { JSON: ['json'] }, saveLabel: vscode.l10n.t('Export') })
          : (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Export Here') }))?.[0];
      if (!uri) return undefined;
      out = uri.fsPath;
    }
    const { connection } = await this.active();
    // A key chosen in the tree is that key (and what is under it as a folder), not every key its name begins (app/db → app/db-password).
    const all = await exportItems(connection, prefix);
    const items = node?.kind === 'key' ? all.filter((i) => i.key === prefix || i.key.startsWith(`${prefix}/`)) : all;
    if (!items.length) throw new CommandInputError(vscode.l10n.t('"{0}" holds no key: nothing to export.', prefix || '/'));
    if (format === 'json') {
      await fs.writeFile(out!, toExportJson(items));
      return { keys: items.length, path: out! };
    }
    const r = await exportToFolder(items, prefix, out!);
    if (r.flagsDropped.length && interactive) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} key(s) have flags, which a folder of files cannot keep (first: {1}). Export as JSON to keep them.', r.flagsDropped.length, r.flagsDropped[0]));
    }
    return { keys: r.files, path: out!, flagsDropped: r.flagsDropped.length };
  }

  private async import(a: Args | undefined): Promise<(ImportResult & { skippedHidden: string[]; applied: boolean }) | undefined> {
    // Before any picking and planning: in Restricted Mode nothing of it could be applied.
    requireTrust(vscode.l10n.t('Import'));
    const node = asNode(a);
    const interactive = !a || !!node;
    let file: string | undefined;
    let format: 'json' | 'folder' = 'json';
    let fromPrefix = '';
    let toPrefix = node?.kind === 'folder' ? node.key : '';
    if (!interactive) {
      file = str(a!, 'path');
      format = parseFormat(a!.format);
      fromPrefix = str(a!, 'fromPrefix', false) ?? '';
      toPrefix = str(a!, 'prefix', false) ?? '';
    } else {
      const uri = (await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, openLabel: vscode.l10n.t('Import'), title: vscode.l10n.t('A consul kv export JSON file, or a folder of files') }))?.[0];
      if (!uri) return undefined;
      file = uri.fsPath;
      format = (await fs.stat(file)).isDirectory() ? 'folder' : 'json';
      const typed = await vscode.window.showInputBox({ title: vscode.l10n.t('Import into prefix'), prompt: format === 'json' ? vscode.l10n.t('Empty: the keys as they are in the file') : vscode.l10n.t('The folder\'s files become keys under this prefix'), value: toPrefix });
      if (typed === undefined) return undefined;
      toPrefix = typed;
    }
    let items: KvItem[];
    let skippedHidden: string[] = [];
    try {
      if (format === 'folder') {
        const read = await readFolder(file!, toPrefix);
        skippedHidden = read.skipped ?? [];
        items = read;
      } else items = parseExportJson(await fs.readFile(file!, 'utf8'));
      if (format === 'json' && (fromPrefix || toPrefix)) items = retarget(items, fromPrefix, toPrefix);
    } catch (e) {
      throw new CommandInputError((e as Error).message);
    }
    if (!items.length) throw new CommandInputError(vscode.l10n.t('"{0}" holds no key to import.', file!));
    const { connection } = await this.active();
    const plan = await planImport(connection, items);
    const writes = plan.create.length + plan.change.length;
    const summary = { created: plan.create.length, changed: plan.change.length, unchanged: plan.unchanged.length, conflicts: [] as string[], skippedHidden };
    if (!interactive && a!.dryRun === true) return { ...summary, applied: false };
    if (interactive && !(await this.reviewImport(plan))) return { ...summary, applied: false };
    if (!writes) return { ...summary, applied: false };
    if (!(await this.mayWrite(vscode.l10n.t('Import'), vscode.l10n.t('the import'), writes, a))) return { ...summary, applied: false };
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Importing {0} keys', writes) }, (progress) =>
      applyImport(connection, plan, (done, total) => progress.report({ message: `${done}/${total}` })),
    );
    if (result.conflicts.length && interactive) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} key(s) changed in Consul since the plan and were left as they are: {1}', result.conflicts.length, result.conflicts.slice(0, 5).join(', ')));
    }
    return { ...result, skippedHidden, applied: true };
  }

  /** Shows what the import will create, change (each opens a diff) and leave alone; true to apply. */
  private async reviewImport(plan: ImportPlan): Promise<boolean> {
    type Item = vscode.QuickPickItem & { action?: 'apply' | 'diff'; index?: number };
    const apply: Item = {
      label: `$(check) ${vscode.l10n.t('Apply: create {0}, change {1}, leave {2} alone', plan.create.length, plan.change.length, plan.unchanged.length)}`,
      action: 'apply',
    };
    const items: Item[] = [
      apply,
      { label: vscode.l10n.t('Changed'), kind: vscode.QuickPickItemKind.Separator },
      ...plan.change.map((c, index): Item => ({ label: `$(diff) ${c.item.key}`, description: vscode.l10n.t('changed — pick to see the diff'), action: 'diff', index })),
      { label: vscode.l10n.t('Created'), kind: vscode.QuickPickItemKind.Separator },
      ...plan.create.map((c): Item => ({ label: `$(add) ${c.key}`, description: vscode.l10n.t('new') })),
      { label: vscode.l10n.t('Unchanged'), kind: vscode.QuickPickItemKind.Separator },
      ...plan.unchanged.slice(0, 500).map((c): Item => ({ label: `$(circle-slash) ${c.key}`, description: vscode.l10n.t('same value') })),
    ];
    for (;;) {
      const pick = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Import: review'), placeHolder: vscode.l10n.t('Pick a changed key for its diff, or Apply') });
      if (!pick) return false;
      if (pick.action === 'apply') return true;
      if (pick.action === 'diff' && pick.index !== undefined) {
        const c = plan.change[pick.index];
        const left = this.docs.snapshot(`${c.item.key}`, 'cluster', c.current.value);
        const right = this.docs.snapshot(`${c.item.key}`, 'import', c.item.value);
        await vscode.commands.executeCommand('vscode.diff', left, right, vscode.l10n.t('{0}: Consul ↔ Import', c.item.key));
      }
    }
  }

  private async compare(a: Args | undefined): Promise<CompareResult | undefined> {
    const node = asNode(a);
    const interactive = !a || !!node;
    const active = this.kv.activeTarget();
    let left: KvTarget = active;
    let right: KvTarget;
    let prefix = node?.kind === 'folder' ? node.key : '';
    let otherPrefix: string;
    if (!interactive) {
      prefix = str(a!, 'prefix', false) ?? '';
      otherPrefix = str(a!, 'otherPrefix', false) ?? prefix;
      if (a!.profile !== undefined) left = { profile: str(a!, 'profile')!, datacenter: str(a!, 'datacenter', false) };
      right = { profile: str(a!, 'otherProfile', false) ?? left.profile, datacenter: str(a!, 'otherDatacenter', false) };
      if (right.profile === left.profile && right.datacenter === left.datacenter && otherPrefix === prefix) {
        throw new CommandInputError(vscode.l10n.t('Both sides are the same: give "otherProfile", "otherDatacenter" or "otherPrefix".'));
      }
    } else {
      if (!node) {
        const p = await vscode.window.showInputBox({ title: vscode.l10n.t('Compare: prefix'), prompt: vscode.l10n.t('e.g. config/app/'), value: prefix });
        if (p === undefined) return undefined;
        prefix = p;
      }
      const profiles = this.kv.manager.profiles();
      const pick = await vscode.window.showQuickPick(
        profiles.map((p) => ({ label: p.name, description: [p.address, p.datacenter, p.production ? vscode.l10n.t('production') : ''].filter(Boolean).join(' · ') })),
        { title: vscode.l10n.t('Compare "{0}" of {1} with the profile…', prefix || '/', active.profile) },
      );
      if (!pick) return undefined;
      const dc = await vscode.window.showInputBox({ title: vscode.l10n.t('Datacenter of {0}', pick.label), prompt: vscode.l10n.t('Empty: the profile\'s own') });
      if (dc === undefined) return undefined;
      const op = await vscode.window.showInputBox({ title: vscode.l10n.t('Prefix on {0}', pick.label), value: prefix });
      if (op === undefined) return undefined;
      right = { profile: pick.label, ...(dc ? { datacenter: dc } : {}) };
      otherPrefix = op;
    }
    const [lc, rc] = await Promise.all([this.kv.connection(left), this.kv.connection(right)]);
    const result = await compareSubtrees({ connection: lc, prefix }, { connection: rc, prefix: otherPrefix });
    if (!interactive) return result;
    const side = (t: KvTarget) => (t.datacenter ? `${t.profile}@${t.datacenter}` : t.profile);
    const statusText: Record<string, string> = {
      onlyLeft: vscode.l10n.t('only in {0}', side(left)),
      onlyRight: vscode.l10n.t('only in {0}', side(right)),
      differs: vscode.l10n.t('values differ'),
      flags: vscode.l10n.t('flags differ'),
    };
    for (;;) {
      const chosen = await vscode.window.showQuickPick(
        result.differences.map((d) => ({ label: d.relative, description: statusText[d.status], d })),
        {
          title: vscode.l10n.t('{0} ↔ {1}: {2} difference(s), {3} the same', `${side(left)}:${result.left.prefix || '/'}`, `${side(right)}:${result.right.prefix || '/'}`, result.differences.length, result.same),
        },
      );
      if (!chosen) return result;
      const l = kvUri(left, chosen.d.leftKey);
      const r = kvUri(right, chosen.d.rightKey);
      if (chosen.d.status === 'onlyLeft') await vscode.window.showTextDocument(l, { preview: true });
      else if (chosen.d.status === 'onlyRight') await vscode.window.showTextDocument(r, { preview: true });
      else await vscode.commands.executeCommand('vscode.diff', l, r, `${chosen.d.relative}: ${side(left)} ↔ ${side(right)}`);
    }
  }

  private async resolveConflict(a: Args | undefined): Promise<boolean> {
    if (!a) throw new CommandInputError(vscode.l10n.t('Pass {"uri", "choice": "overwrite" | "theirs" | "keep"}.'));
    const choice = a.choice as ConflictChoice;
    if (!['overwrite', 'theirs', 'keep'].includes(choice)) throw new CommandInputError(vscode.l10n.t('"choice" must be one of: overwrite, theirs, keep.'));
    if (choice === 'overwrite') requireTrust(vscode.l10n.t('Overwrite'));
    return this.docs.resolve(vscode.Uri.parse(str(a, 'uri')!), choice);
  }
}

function validKey(v: string): string | undefined {
  try {
    checkKey(v);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function checkFlagsArg(v: unknown): number {
  try {
    return checkFlags(v);
  } catch (e) {
    throw new CommandInputError((e as Error).message);
  }
}

function parseFormat(v: unknown): 'json' | 'folder' {
  if (v === undefined || v === 'json') return 'json';
  if (v === 'folder') return 'folder';
  throw new CommandInputError(vscode.l10n.t('"format" must be "json" or "folder".'));
}


