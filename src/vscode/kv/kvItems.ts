/**
 * Tree nodes of the Key/Value view and the items drawn for them. Keys and
 * values come from the cluster: plain-text fields and escaped Markdown only.
 */
import * as vscode from 'vscode';
import type { KvEntry } from '../../core/kv/model';
import { formatBytes } from '../../core/kv/model';
import { describeEntry } from '../../core/kv/listing';
import type { KvTarget } from './kvUri';
import { kvUri } from './kvUri';

export type KvNode =
  | { kind: 'folder'; key: string; name: string }
  | { kind: 'key'; key: string; name: string }
  | { kind: 'more'; folder: string; remaining: number }
  | { kind: 'message'; item: vscode.TreeItem };

export class KvFolderItem extends vscode.TreeItem {
  readonly kind = 'folder';
  constructor(
    readonly key: string,
    name: string,
    expanded: boolean,
  ) {
    super(name, expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `kv:${key}`;
    this.iconPath = vscode.ThemeIcon.Folder;
    this.contextValue = 'chefConsul.kvFolder';
    this.tooltip = key;
  }
}

export class KvKeyItem extends vscode.TreeItem {
  readonly kind = 'key';
  constructor(
    readonly key: string,
    name: string,
    readonly entry: KvEntry | undefined,
    target: KvTarget,
    /** The lock holder's node, once looked up. */
    lockNode?: string,
  ) {
    super(name, vscode.TreeItemCollapsibleState.None);
    this.id = `kv:${key}`;
    const locked = !!entry?.session;
    this.iconPath = new vscode.ThemeIcon(locked ? 'lock' : 'key');
    this.contextValue = locked ? 'chefConsul.kvKey.locked' : 'chefConsul.kvKey';
    this.resourceUri = kvUri(target, key);
    this.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [this.resourceUri] };
    if (entry) this.description = describeEntry(entry, formatBytes);
    const md = new vscode.MarkdownString(undefined, false);
    md.isTrusted = false;
    md.supportHtml = false;
    md.appendText(key).appendMarkdown('  \n');
    if (entry) {
      md.appendText(vscode.l10n.t('ModifyIndex: {0}', entry.modifyIndex)).appendMarkdown('  \n');
      md.appendText(vscode.l10n.t('Size: {0}', formatBytes(entry.value.length))).appendMarkdown('  \n');
      md.appendText(vscode.l10n.t('Flags: {0}', entry.flags)).appendMarkdown('  \n');
      if (entry.session) {
        md.appendText(lockNode ? vscode.l10n.t('Locked by session {0} on node {1}', entry.session, lockNode) : vscode.l10n.t('Locked by session {0}', entry.session));
      }
    }
    this.tooltip = md;
    this.accessibilityInformation = { label: locked ? vscode.l10n.t('{0}, locked', key) : key };
  }
}

export class KvMoreItem extends vscode.TreeItem {
  readonly kind = 'more';
  constructor(folder: string, remaining: number) {
    super(vscode.l10n.t('Show more… ({0} more)', remaining.toLocaleString()), vscode.TreeItemCollapsibleState.None);
    this.id = `kv-more:${folder}`;
    this.iconPath = new vscode.ThemeIcon('ellipsis');
    this.contextValue = 'chefConsul.kvMore';
    this.command = { command: 'chefConsul.kv.showMore', title: vscode.l10n.t('Show More'), arguments: [{ folder }] };
  }
}
