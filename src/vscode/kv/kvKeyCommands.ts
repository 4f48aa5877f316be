/**
 * The KV commands that work on keys and folders inside the active
 * profile's tree: open, new key or folder, delete, flags, copy path or
 * value, rename/move and copy, search, and the answer to a save conflict.
 */
import * as vscode from 'vscode';
import { getEntry, getSubtree, listAllKeys, writeEntry } from '../../core/kv/kvStore';
import { folderPrefix, isFolderKey, isUtf8, KvConflictError, KvEntry, parentFolder } from '../../core/kv/model';
import { searchKv, SearchHit } from '../../core/kv/search';
import { copySubtree, deleteUnchanged, moveSubtree, TransferResult } from '../../core/kv/subtree';
import { CommandInputError } from '../commands/register';
import { requireTrust } from '../trust';
import { activeConnection, Args, asNode, checkFlagsArg, key, mayWrite, str, validKey } from './kvCommandSupport';
import type { KvConnections } from './kvConnections';
import type { ConflictChoice, KvDocuments } from './kvDocuments';
import { kvUri } from './kvUri';
import type { KvView } from './kvView';

export class KvKeyCommands {
  constructor(
    private readonly kv: KvConnections,
    private readonly view: KvView,
    private readonly docs: KvDocuments,
  ) {}

  async open(a: Args | undefined): Promise<string | undefined> {
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

  async newKey(a: Args | undefined): Promise<string | undefined> {
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
    const { connection, target } = await activeConnection(this.kv);
    try {
      await writeEntry(connection, k, Buffer.from(value, 'utf8'), { cas: 0, flags });
    } catch (e) {
      if (e instanceof KvConflictError) throw new CommandInputError(vscode.l10n.t('"{0}" already exists: nothing was overwritten.', k));
      throw e;
    }
    if (!a || node) await vscode.window.showTextDocument(kvUri(target, k), { preview: false });
    return k;
  }

  async newFolder(a: Args | undefined): Promise<string | undefined> {
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
    const { connection } = await activeConnection(this.kv);
    // A folder is a key ending in "/" (as the Consul UI makes them).
    await writeEntry(connection, prefix, Buffer.alloc(0), { cas: 0 }).catch((e) => {
      if (!(e instanceof KvConflictError)) throw e;
    });
    return prefix;
  }

  async delete(a: Args | undefined): Promise<{ deleted: number; keptChanged: string[] } | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : await vscode.window.showInputBox({ title: vscode.l10n.t('Delete Key or Folder'), prompt: vscode.l10n.t('A key, or a folder ending in "/"'), validateInput: validKey });
    if (!k) return undefined;
    const { connection } = await activeConnection(this.kv);
    const folder = isFolderKey(k);
    // What is confirmed is what is deleted: each key only if it still holds what was read here.
    const entries = folder ? await getSubtree(connection, k) : [await getEntry(connection, k)].filter((e): e is KvEntry => !!e);
    if (!entries.length) throw new CommandInputError(vscode.l10n.t('"{0}" does not exist.', k));
    if (!(await mayWrite(this.kv, vscode.l10n.t('Delete'), vscode.l10n.t('deleting "{0}"', k), entries.length, a))) return undefined;
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

  async editFlags(a: Args | undefined): Promise<number | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : await vscode.window.showInputBox({ title: vscode.l10n.t('Edit Flags'), prompt: vscode.l10n.t('Key'), validateInput: validKey });
    if (!k) return undefined;
    const { connection } = await activeConnection(this.kv);
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

  async copyPath(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : undefined;
    if (!k) return undefined;
    await vscode.env.clipboard.writeText(k);
    return k;
  }

  async copyValue(a: Args | undefined): Promise<string | undefined> {
    const node = asNode(a);
    const k = node ? node.key : a ? key(a, 'key') : undefined;
    if (!k) return undefined;
    const { connection } = await activeConnection(this.kv);
    const entry = await getEntry(connection, k);
    if (!entry) throw new CommandInputError(vscode.l10n.t('"{0}" does not exist.', k));
    if (!isUtf8(entry.value)) throw new CommandInputError(vscode.l10n.t('The value of "{0}" is not UTF-8 text ({1} bytes): it cannot go to the clipboard as text. Export it instead.', k, entry.value.length));
    const text = entry.value.toString('utf8');
    await vscode.env.clipboard.writeText(text);
    return text;
  }

  async moveOrCopy(a: Args | undefined, move: boolean): Promise<TransferResult | undefined> {
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
    const { connection } = await activeConnection(this.kv);
    const reach = isFolderKey(from) ? (await listAllKeys(connection, from)).length : 1;
    if (!(await mayWrite(this.kv, title, vscode.l10n.t('{0} of "{1}"', move ? 'moving' : 'copying', from), move ? reach * 2 : reach, a))) return undefined;
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

  async search(a: Args | undefined): Promise<SearchHit[] | undefined> {
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
    const { connection, target } = await activeConnection(this.kv);
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

  async resolveConflict(a: Args | undefined): Promise<boolean> {
    if (!a) throw new CommandInputError(vscode.l10n.t('Pass {"uri", "choice": "overwrite" | "theirs" | "keep"}.'));
    const choice = a.choice as ConflictChoice;
    if (!['overwrite', 'theirs', 'keep'].includes(choice)) throw new CommandInputError(vscode.l10n.t('"choice" must be one of: overwrite, theirs, keep.'));
    if (choice === 'overwrite') requireTrust(vscode.l10n.t('Overwrite'));
    return this.docs.resolve(vscode.Uri.parse(str(a, 'uri')!), choice);
  }
}
