import type { CatalogSnapshot } from '../../core/consul/catalog';
import { filterNodes, ViewFilter } from '../../core/consul/filter';
import type { ConnectionManager } from '../connectionManager';
import { CatalogItem, CheckItem, InstanceItem, MessageItem, NodeItem } from './catalogItems';
import { LiveCatalogView, nothingVisibleNotice } from './liveCatalogView';

/** Nodes → service instances and node checks → checks. */
export class NodesView extends LiveCatalogView {
  static readonly id = 'chefConsul.nodes';

  constructor(connections: ConnectionManager) {
    super(NodesView.id, connections);
  }

  protected itemsFor(snapshot: CatalogSnapshot, filter: ViewFilter): CatalogItem[] {
    return filterNodes(snapshot.nodes, filter).map((n) => new NodeItem(n));
  }

  protected childrenOf(item: CatalogItem): CatalogItem[] {
    if (item instanceof NodeItem) {
      return [
        ...item.node.services.map((s) => new InstanceItem(s, 'node')),
        ...item.node.nodeChecks.map((c) => new CheckItem(c, item.id ?? '')),
      ];
    }
    if (item instanceof InstanceItem) return item.instance.checks.map((c) => new CheckItem(c, item.id ?? ''));
    return [];
  }

  protected emptyNotice(snapshot: CatalogSnapshot): MessageItem | undefined {
    // A reachable agent is itself a node: an empty list means the token sees nothing.
    return snapshot.nodes.length ? undefined : nothingVisibleNotice();
  }
}
