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
  private nothingVisible: boolean | undefined;
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
    this.disposables.push(
      this.treeView,
      this.follower,
      connections.onDidChange(() => this.attach()),
      connections.onDidChangeHealth(() => {
        this.describe();
        this.changed.fire(undefined);
      }),
    );
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
    this.describe();
    await vscode.commands.executeCommand('setContext', `${this.viewId}.filtered`, !isEmptyFilter(this.filterValue));
    this.changed.fire(undefined);
  }

  /** The title bar's text: the failure in a few words while there is one (the welcome explains), else the filter. */
  private describe(): void {
    this.treeView.description = this.connections.shortReason ?? (describeFilter(this.filterValue) || undefined);
  }

  /** How many root items a filter would show of how many, on the data shown now; undefined before any. */
  countMatching(filter: ViewFilter): { matching: number; total: number } | undefined {
    const state = this.catalogState;
    if (state?.kind !== 'ready') return undefined;
    return { matching: this.itemsFor(state.data, filter).length, total: this.itemsFor(state.data, {}).length };
  }

  refresh(): void {
    const state = this.connections.state;
    if (state?.kind === 'connected') state.catalog.refresh();
    this.redraw();
  }

  /** Rebuilds the items from the data held (e.g. what decorates them changed), without asking Consul again. */
  redraw(): void {
    this.changed.fire(undefined);
  }

  /** The catalog query's state as this view last saw it. */
  get catalogState(): LiveState<CatalogSnapshot> | undefined {
    const state = this.connections.state;
    return state?.kind === 'connected' ? state.catalog.current : undefined;
  }

  private attach(): void {
    const state: ConnectionState | undefined = this.connections.state;
    // No message: VS Code hides welcome content while a view has one. The welcome names the kind of
    // failure (context keys) and links to Test Connection and Show Log, which give the exact reason.
    this.treeView.message = undefined;
    this.describe();
    // A new connection: nothing known about what it shows until its catalog answers.
    this.setNothingVisible(false);
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
    // No connection at all, or one that never answered: the welcome content takes over.
    if (!connection || connection.kind === 'invalid' || this.connections.failure) return this.setNothingVisible(false), [];
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
        // A reachable agent is itself a node: an empty list means the token sees nothing (its welcome says so).
        this.setNothingVisible(!state.data.nodes.length);
        if (!state.data.nodes.length) return [];
        const notice = this.emptyNotice(state.data);
        if (notice) return [notice];
        const items = this.itemsFor(state.data, this.filterValue);
        return items.length ? items : [new MessageItem(vscode.l10n.t('No match for the filter {0}', describeFilter(this.filterValue)), 'info')];
      }
    }
  }

  /** Whether the view shows the "nothing visible with this token" welcome (tests read it). */
  get showsNothingVisible(): boolean {
    return this.nothingVisible === true;
  }

  private setNothingVisible(value: boolean): void {
    if (this.nothingVisible === value) return;
    this.nothingVisible = value;
    void vscode.commands.executeCommand('setContext', `${this.viewId}.nothingVisible`, value);
  }

  /**
   * The item one level up, found by its tree ID (items are re-created on every
   * render; IDs nest: node:<n>, …/instance:<node>/<id>, …/check:<id>).
   */
  getParent(element: CatalogItem): CatalogItem | undefined {
    const id = element.id ?? '';
    const check = id.lastIndexOf('/check:');
    const instance = id.indexOf('/instance:');
    const parentId = check >= 0 ? id.slice(0, check) : instance >= 0 ? id.slice(0, instance) : undefined;
    return parentId ? this.findItem(parentId) : undefined;
  }

  /** The item with this tree ID as the view shows it now (under the filter), or undefined. */
  findItem(id: string): CatalogItem | undefined {
    let level = this.rootItems();
    for (let depth = 0; depth < 4 && level.length; depth++) {
      const hit = level.find((i) => i.id === id);
      if (hit) return hit;
      const next = level.find((i) => i.id && id.startsWith(`${i.id}/`));
      if (!next) return undefined;
      level = this.childrenOf(next);
    }
    return undefined;
  }

  dispose(): void {
    this.changed.dispose();
    this.rendered.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
