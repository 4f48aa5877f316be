import type { CatalogSnapshot } from '../../core/consul/catalog';
import { filterNodes, isEmptyFilter, ViewFilter } from '../../core/consul/filter';
import type { ConnectionManager } from '../connectionManager';
import { CatalogItem, CheckItem, InstanceItem, MessageItem, NodeItem } from './catalogItems';
import { LiveCatalogView } from './liveCatalogView';
import type { NodesChefJoin } from '../chef/nodesChefJoin';

/** Nodes → service instances and node checks → checks. */
export class NodesView extends LiveCatalogView {
  static readonly id = 'chefConsul.nodes';
  /** Each node's last Chef run, and the nodes only Chef knows (src/vscode/chef/nodesChefJoin.ts). */
  chefJoin: NodesChefJoin | undefined;

  constructor(connections: ConnectionManager) {
    super(NodesView.id, connections);
  }

  protected itemsFor(snapshot: CatalogSnapshot, filter: ViewFilter): CatalogItem[] {
    const items = filterNodes(snapshot.nodes, filter).map((n) => new NodeItem(n));
    return this.chefJoin ? this.chefJoin.decorate(items, snapshot, isEmptyFilter(filter)) : items;
  }

  protected childrenOf(item: CatalogItem): CatalogItem[] {
    const chef = this.chefJoin?.childrenOf(item);
    if (chef) return chef;
    if (item instanceof NodeItem) {
      return [
        ...item.node.services.map((s) => new InstanceItem(s, 'node')),
        ...item.node.nodeChecks.map((c) => new CheckItem(c, item.id ?? '')),
      ];
    }
    if (item instanceof InstanceItem) return item.instance.checks.map((c) => new CheckItem(c, item.id ?? ''));
    return [];
  }

  protected emptyNotice(): MessageItem | undefined {
    // No node at all is the view's "nothing visible" welcome (LiveCatalogView); nothing else to say.
    return undefined;
  }
}
