import * as vscode from 'vscode';
import type { CatalogSnapshot } from '../../core/consul/catalog';
import { filterServices, ViewFilter } from '../../core/consul/filter';
import type { ConnectionManager } from '../connectionManager';
import { CatalogItem, CheckItem, InstanceItem, MessageItem, ServiceItem } from './catalogItems';
import { LiveCatalogView } from './liveCatalogView';

/** Services → instances (node, address:port, tags, health) → checks. */
export class ServicesView extends LiveCatalogView {
  static readonly id = 'chefConsul.services';

  constructor(connections: ConnectionManager) {
    super(ServicesView.id, connections);
  }

  protected itemsFor(snapshot: CatalogSnapshot, filter: ViewFilter): CatalogItem[] {
    return filterServices(snapshot.services, filter).map((s) => new ServiceItem(s));
  }

  protected childrenOf(item: CatalogItem): CatalogItem[] {
    if (item instanceof ServiceItem) return item.service.instances.map((i) => new InstanceItem(i, 'service'));
    if (item instanceof InstanceItem) return item.instance.checks.map((c) => new CheckItem(c, item.id ?? ''));
    return [];
  }

  protected emptyNotice(snapshot: CatalogSnapshot): MessageItem | undefined {
    if (!snapshot.services.length) return new MessageItem(vscode.l10n.t('No services registered'), 'info');
    return undefined;
  }
}
