/**
 * The Key/Value view: folders load one level at a time and stay live through
 * one blocking query per expanded folder, held only while the view is
 * visible; big folders show a page and a "Show more…" item.
 */
import * as vscode from 'vscode';
import { kvKeysMethod } from '../../core/consul/kvMethods';
import { LiveQuery } from '../../core/consul/liveQuery';
import { FolderLevel, getEntries, sessionNode, splitLevel } from '../../core/kv/kvStore';
import { DEFAULT_PAGE_SIZE, KvChild, levelPage } from '../../core/kv/listing';
import { KvEntry, parentFolder } from '../../core/kv/model';
import type { ConnectionManager } from '../connectionManager';
import { MessageItem } from '../views/catalogItems';
import { KvFolderItem, KvKeyItem, KvMoreItem, KvNode } from './kvItems';
import type { KvConnections } from './kvConnections';
import type { ConsulConnection } from '../../core/consul/client';

interface FolderState {
  prefix: string;
  query: LiveQuery<FolderLevel>;
  subscription?: { dispose(): void };
  listener: { dispose(): void };
  shown: number;
  /** Details of the keys of the page shown, read for the listing at `detailsIndex`. */
  entries: Map<string, KvEntry>;
  detailsIndex?: string;
  detailsLoading?: boolean;
}

export class KvView implements vscode.TreeDataProvider<KvNode>, vscode.Disposable {
  static readonly id = 'chefConsul.kv';
  private readonly changed = new vscode.EventEmitter<KvNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly rendered = new vscode.EventEmitter<string>();
  /** Fires the prefix of a folder whose children were just handed to the tree (tests wait on it). */
  readonly onDidRender = this.rendered.event;
  readonly treeView: vscode.TreeView<KvNode>;
  private readonly folders = new Map<string, FolderState>();
  private readonly nodes = new Map<string, KvNode>();
  private connection: ConsulConnection | undefined;
  private readonly lockNodes = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];
  pageSize = DEFAULT_PAGE_SIZE;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly kvConnections: KvConnections,
  ) {
    this.treeView = vscode.window.createTreeView(KvView.id, { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(
      this.treeView,
      this.treeView.onDidChangeVisibility(() => this.followVisibility()),
      this.treeView.onDidCollapseElement((e) => e.element.kind === 'folder' && this.dropFolder(e.element.key)),
      connections.onDidChange(() => this.reset()),
      connections.onDidChangeHealth(() => {
        // The failure in a few words in the title bar; the welcome content explains it.
        this.treeView.description = connections.shortReason;
        this.changed.fire(undefined);
      }),
    );
    this.reset();
  }

  private reset(): void {
    for (const prefix of [...this.folders.keys()]) this.dropFolder(prefix, false);
    this.nodes.clear();
    this.lockNodes.clear();
    const state = this.connections.state;
    this.connection = state?.kind === 'connected' ? state.connection : undefined;
    this.treeView.description = this.connections.shortReason;
    void vscode.commands.executeCommand('setContext', 'chefConsul.kv.empty', false);
    this.changed.fire(undefined);
  }

  private node(child: KvChild): KvNode {
    const known = this.nodes.get(child.key);
    if (known) return known;
    const n = { kind: child.kind, key: child.key, name: child.name } as KvNode;
    this.nodes.set(child.key, n);
    return n;
  }

  private fire(prefix: string): void {
    this.changed.fire(prefix === '' ? undefined : this.nodes.get(prefix));
  }

  private folder(prefix: string): FolderState | undefined {
    const connection = this.connection;
    if (!connection) return undefined;
    let state = this.folders.get(prefix);
    if (state) return state;
    const query = new LiveQuery<FolderLevel>(connection, {
      method: kvKeysMethod(prefix, '/'),
      path: `/v1/kv/${prefix}?keys`,
      transform: (body) => splitLevel(prefix, Array.isArray(body) ? body.filter((k): k is string => typeof k === 'string') : []),
    });
    const created: FolderState = {
      prefix,
      query,
      shown: this.pageSize,
      entries: new Map(),
      listener: query.onDidChange(() => {
        created.detailsIndex = undefined;
        this.fire(prefix);
      }),
    };
    state = created;
    this.folders.set(prefix, state);
    if (this.treeView.visible) state.subscription = query.subscribe();
    return state;
  }

  private dropFolder(prefix: string, andBelow = true): void {
    for (const [p, s] of [...this.folders]) {
      if (p === prefix || (andBelow && prefix !== '' && p.startsWith(prefix))) {
        s.subscription?.dispose();
        s.listener.dispose();
        s.query.dispose();
        this.folders.delete(p);
      }
    }
  }

  /** Hidden, the view holds no blocking query; shown again, each expanded folder asks afresh. */
  private followVisibility(): void {
    for (const s of this.folders.values()) {
      if (this.treeView.visible && !s.subscription) s.subscription = s.query.subscribe();
      else if (!this.treeView.visible && s.subscription) {
        s.subscription.dispose();
        s.subscription = undefined;
      }
    }
  }

  getTreeItem(node: KvNode): vscode.TreeItem {
    switch (node.kind) {
      case 'folder':
        return new KvFolderItem(node.key, node.name, false);
      case 'key': {
        const entry = this.folders.get(parentFolder(node.key))?.entries.get(node.key);
        return new KvKeyItem(node.key, node.name, entry, this.kvConnections.activeTarget(), entry?.session && this.lockNodes.get(entry.session));
      }
      case 'more':
        return new KvMoreItem(node.folder, node.remaining);
      default:
        return node.item;
    }
  }

  async resolveTreeItem(item: vscode.TreeItem, node: KvNode): Promise<vscode.TreeItem> {
    if (node.kind !== 'key' || !this.connection) return item;
    const entry = this.folders.get(parentFolder(node.key))?.entries.get(node.key);
    if (!entry?.session) return item;
    const holder = this.lockNodes.get(entry.session) ?? (await sessionNode(this.connection, entry.session).catch(() => undefined));
    if (holder) this.lockNodes.set(entry.session, holder);
    item.tooltip = new KvKeyItem(node.key, node.name, entry, this.kvConnections.activeTarget(), holder).tooltip;
    return item;
  }

  getChildren(node?: KvNode): KvNode[] {
    if (node && node.kind !== 'folder') return [];
    const prefix = node ? node.key : '';
    const nodes = this.childrenOfFolder(prefix);
    this.rendered.fire(prefix);
    return nodes;
  }

  getParent(node: KvNode): KvNode | undefined {
    if (node.kind === 'folder' || node.kind === 'key') {
      const parent = parentFolder(node.key);
      return parent ? this.nodes.get(parent) : undefined;
    }
    return undefined;
  }

  /** A notice in place of a folder's children; its id names the folder, so two folders loading at once do not clash. */
  private message(item: MessageItem, prefix: string): KvNode {
    item.id = `kv-message:${prefix}:${item.id ?? ''}`;
    return { kind: 'message', item };
  }

  private childrenOfFolder(prefix: string): KvNode[] {
    const connectionState = this.connections.state;
    // Connecting, an unusable profile, or an agent that never answered: the welcome content says which.
    if (!connectionState || connectionState.kind === 'invalid' || (prefix === '' && this.connections.failure)) return [];
    const state = this.folder(prefix);
    if (!state) return [];
    const s = state.query.current;
    if (s.kind === 'error') return [this.message(new MessageItem(s.error.message, 'error', vscode.l10n.t('retrying')), prefix)];
    if (s.kind !== 'ready') return [this.message(new MessageItem(vscode.l10n.t('Loading keys…'), 'loading'), prefix)];
    const page = levelPage(s.data, state.shown);
    if (prefix === '') void vscode.commands.executeCommand('setContext', 'chefConsul.kv.empty', page.total === 0);
    if (!page.total) return prefix === '' ? [] : [this.message(new MessageItem(vscode.l10n.t('No keys here any more'), 'info'), prefix)];
    this.loadDetails(state, page.children, s.meta.index);
    const nodes = page.children.map((c) => this.node(c));
    if (page.more > 0) nodes.push({ kind: 'more', folder: prefix, remaining: page.more });
    return nodes;
  }

  /** Reads size, flags and lock of the keys shown, once per listing index; the names show at once. */
  private loadDetails(state: FolderState, shown: readonly KvChild[], index: string | undefined): void {
    const connection = this.connection;
    if (!connection || state.detailsLoading || (state.detailsIndex !== undefined && state.detailsIndex === index)) return;
    const keys = shown.filter((c) => c.kind === 'key').map((c) => c.key);
    if (!keys.length) {
      state.detailsIndex = index;
      return;
    }
    state.detailsLoading = true;
    void getEntries(connection, keys).then(
      (found) => {
        state.detailsLoading = false;
        if (this.folders.get(state.prefix) !== state) return;
        state.entries = found;
        state.detailsIndex = index;
        for (const k of keys) {
          const n = this.nodes.get(k);
          if (n) this.changed.fire(n);
        }
      },
      () => {
        state.detailsLoading = false;
      },
    );
  }

  /** The "Show more…" item: the next page of a folder. */
  showMore(folder: string): number {
    const state = this.folders.get(folder);
    if (!state) return 0;
    state.shown += this.pageSize;
    state.detailsIndex = undefined;
    this.fire(folder);
    return state.shown;
  }

  refresh(): void {
    for (const s of this.folders.values()) {
      s.detailsIndex = undefined;
      s.query.refresh();
    }
    this.changed.fire(undefined);
  }

  /** Resolves once a folder's listing is there (or failed), within a few seconds. */
  private async whenListed(prefix: string): Promise<void> {
    const state = this.folder(prefix);
    if (!state) return;
    const sub = state.subscription ? undefined : state.query.subscribe();
    try {
      for (let i = 0; i < 100 && !['ready', 'error'].includes(state.query.current.kind); i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      sub?.dispose();
    }
  }

  /** Reveals a key or folder (expanding its parents, each listed first). */
  async reveal(key: string): Promise<void> {
    const parts = key.split('/');
    let prefix = '';
    await this.whenListed('');
    for (let i = 0; i < parts.length - 1; i++) {
      prefix += `${parts[i]}/`;
      if (!this.nodes.has(prefix)) this.nodes.set(prefix, { kind: 'folder', key: prefix, name: parts[i] });
      if (prefix !== key) await this.whenListed(prefix);
    }
    const node = this.nodes.get(key) ?? { kind: key.endsWith('/') ? 'folder' : 'key', key, name: parts[parts.length - 1] || parts[parts.length - 2] };
    this.nodes.set(key, node);
    await this.treeView.reveal(node, { select: true, focus: false, expand: node.kind === 'folder' });
  }

  /** What a folder shows now (tests read it): the names, and the details of keys once read. */
  shown(prefix: string): { names: string[]; more: number; entries: Map<string, KvEntry>; state: string } {
    const s = this.folders.get(prefix);
    const q = s?.query.current;
    if (!s || q?.kind !== 'ready') return { names: [], more: 0, entries: new Map(), state: q?.kind ?? 'none' };
    const page = levelPage(q.data, s.shown);
    return { names: page.children.map((c) => c.name), more: page.more, entries: s.entries, state: 'ready' };
  }

  dispose(): void {
    this.dropFolder('', false);
    for (const prefix of [...this.folders.keys()]) this.dropFolder(prefix, false);
    this.changed.dispose();
    this.rendered.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
