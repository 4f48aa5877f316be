/**
 * What the Nodes and Services views share: they read the one live catalog
 * query, only while visible, show failures as items, and filter by text and
 * health with the filter in the view's description.
 */
import * as vscode from 'vscode';
import type { CatalogSnapshot } from '../../core/consul/catalog';
import type { LiveState } from '../../core/consul/liveQuery';
import { describeFilter, isEmptyFilter, ViewFilter } from '../../core/consul/filter';
import type { ConnectionManager, ConnectionState } from '../connectionManager';
import { CatalogItem, MessageItem } from './catalogItems';
import { VisibleFollower } from './visibleFollower';

export abstract class LiveCatalogView implements vscode.TreeDataProvider<CatalogItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<CatalogItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Fires after the view took a new catalog state (tests wait on it). */
  private readonly rendered = new vscode.EventEmitter<LiveState<CatalogSnapshot>>();
  readonly onDidRender = this.rendered.event;
  readonly treeView: vscode.TreeView<CatalogItem>;
  private filterValue: ViewFilter = {};
  private readonly follower: VisibleFollower<CatalogSnapshot>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly viewId: string,
    private readonly connections: ConnectionManager,
  ) {
    this.treeView = vscode.window.createTreeView(viewId, { treeDataProvider: this, showCollapseAll: true });
    this.follower = new VisibleFollower(this.treeView, (s) => {
      this.changed.fire(undefined);
      this.rendered.fire(s);
    });
    this.disposables.push(this.treeView, this.follower, connections.onDidChange(() => this.attach()));
    this.attach();
  }

  protected abstract itemsFor(snapshot: CatalogSnapshot, filter: ViewFilter): CatalogItem[];
  protected abstract childrenOf(item: CatalogItem): CatalogItem[];
  /** The notice for a snapshot with nothing to show, before filtering. */
  protected abstract emptyNotice(snapshot: CatalogSnapshot): MessageItem | undefined;

  get filter(): ViewFilter {
    return this.filterValue;
  }

  async setFilter(filter: ViewFilter): Promise<void> {
    this.filterValue = { text: filter.text?.trim() || undefined, health: filter.health?.length ? filter.health : undefined };
    this.treeView.description = describeFilter(this.filterValue) || undefined;
    await vscode.commands.executeCommand('setContext', `${this.viewId}.filtered`, !isEmptyFilter(this.filterValue));
    this.changed.fire(undefined);
  }

  refresh(): void {
    const state = this.connections.state;
    if (state?.kind === 'connected') state.catalog.refresh();
    this.changed.fire(undefined);
  }

  /** The catalog query's state as this view last saw it. */
  get catalogState(): LiveState<CatalogSnapshot> | undefined {
    const state = this.connections.state;
    return state?.kind === 'connected' ? state.catalog.current : undefined;
  }

  private attach(): void {
    const state: ConnectionState | undefined = this.connections.state;
    // Why the profile is unusable, above the welcome content; nothing while connected.
    this.treeView.message = state?.kind === 'invalid' ? state.message : undefined;
    this.follower.follow(state?.kind === 'connected' ? state.catalog : undefined);
    this.changed.fire(undefined);
  }

  getTreeItem(element: CatalogItem): vscode.TreeItem {
    return element;
  }

  getChildren(element?: CatalogItem): CatalogItem[] {
    if (element) return this.childrenOf(element);
    return this.rootItems();
  }

  rootItems(): CatalogItem[] {
    const connection = this.connections.state;
    // No connection at all: the welcome content takes over.
    if (!connection || connection.kind === 'invalid') return [];
    const state = connection.catalog.current;
    switch (state.kind) {
      case 'idle':
      case 'loading':
        return [new MessageItem(vscode.l10n.t('Connecting to {0}…', connection.connection.address), 'loading')];
      case 'error':
        return [
          new MessageItem(state.error.message, 'error', vscode.l10n.t('retrying'), {
            command: 'chefConsul.testConnection',
            title: vscode.l10n.t('Test Connection'),
          }),
        ];
      case 'ready': {
        const notice = this.emptyNotice(state.data);
        if (notice) return [notice];
        const items = this.itemsFor(state.data, this.filterValue);
        return items.length ? items : [new MessageItem(vscode.l10n.t('No match for the filter {0}', describeFilter(this.filterValue)), 'info')];
      }
    }
  }

  getParent(): undefined {
    return undefined;
  }

  dispose(): void {
    this.changed.dispose();
    this.rendered.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

export function nothingVisibleNotice(): MessageItem {
  return new MessageItem(
    vscode.l10n.t('Nothing visible with this token'),
    'info',
    vscode.l10n.t('Consul hides what the ACL token may not read; set a token with node and service read rights.'),
    { command: 'chefConsul.setToken', title: vscode.l10n.t('Set Token…') },
  );
}
