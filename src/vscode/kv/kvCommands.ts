/**
 * The KV commands: from the tree's context menus, the palette, or with one
 * argument object (then nothing is asked). Every write checks workspace
 * trust, and a write reaching more than one key of a production profile
 * needs the typed confirmation.
 *
 * This file is the one table of their ids (callers drive them through
 * `vscode.commands.executeCommand`); the work is done by KvKeyCommands (keys
 * and folders inside the active tree) and KvTransferCommands (export, import,
 * compare).
 */
import * as vscode from 'vscode';
import { registerCommand } from '../commands/register';
import type { Args } from './kvCommandSupport';
import type { KvConnections } from './kvConnections';
import type { KvDocuments } from './kvDocuments';
import { KvKeyCommands } from './kvKeyCommands';
import { KvTransferCommands } from './kvTransferCommands';
import type { KvView } from './kvView';

export class KvCommands {
  private readonly keys: KvKeyCommands;
  private readonly transfers: KvTransferCommands;

  constructor(
    kv: KvConnections,
    private readonly view: KvView,
    docs: KvDocuments,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.keys = new KvKeyCommands(kv, view, docs);
    this.transfers = new KvTransferCommands(kv, docs);
  }

  register(): vscode.Disposable[] {
    const r = <R>(id: string, fn: (args: Args | undefined) => Promise<R> | R) => registerCommand<Args, R>(`chefConsul.kv.${id}`, fn, this.log);
    const { keys, transfers } = this;
    return [
      vscode.commands.registerCommand('chefConsul.kv.refresh', () => this.view.refresh()),
      r('showMore', (a) => this.view.showMore(typeof a?.folder === 'string' ? a.folder : '')),
      r('open', (a) => keys.open(a)),
      r('newKey', (a) => keys.newKey(a)),
      r('newFolder', (a) => keys.newFolder(a)),
      r('delete', (a) => keys.delete(a)),
      r('editFlags', (a) => keys.editFlags(a)),
      r('copyPath', (a) => keys.copyPath(a)),
      r('copyValue', (a) => keys.copyValue(a)),
      r('move', (a) => keys.moveOrCopy(a, true)),
      r('copy', (a) => keys.moveOrCopy(a, false)),
      r('search', (a) => keys.search(a)),
      r('export', (a) => transfers.export(a)),
      r('import', (a) => transfers.import(a)),
      r('compare', (a) => transfers.compare(a)),
      r('resolveConflict', (a) => keys.resolveConflict(a)),
    ];
  }
}
