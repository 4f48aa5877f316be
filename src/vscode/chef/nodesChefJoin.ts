/**
 * The Nodes view's Chef side: each Consul node shows its Chef node's last run
 * (status, age and, on failure, the failed resource) or "not in Chef", and a
 * group at the end lists the Chef nodes no Consul node maps to ("only in
 * Chef"). The mapping is `chefConsul.chef.nodeMapping`; the data is the shared
 * Chef inventory (no request of its own).
 */
import * as vscode from 'vscode';
import type { CatalogSnapshot } from '../../core/consul/catalog';
import type { ChefConsulJoin, ChefNodeMapping, ChefSide } from '../../core/chef/join';
import { isChefNodeMapping, joinConsulChef } from '../../core/chef/join';
import type { CatalogItem } from '../views/catalogItems';
import { MessageItem, NodeItem } from '../views/catalogItems';
import { CHEF_SECTION, ChefServerConnection } from './chefServer';
import { lastRunLines, lastRunText, plainTooltip, runStatusIcon } from './chefRunText';

/** The "Only in Chef" group at the end of the Nodes view. */
export class ChefOnlyGroupItem extends MessageItem {
  constructor(readonly sides: ChefSide[]) {
    super(vscode.l10n.t('Only in Chef'), 'info', sides.length === 1 ? vscode.l10n.t('1 node Consul does not know') : vscode.l10n.t('{0} nodes Consul does not know', sides.length));
    this.id = 'chef-only';
    this.collapsibleState = vscode.TreeItemCollapsibleState.Collapsed;
    this.iconPath = new vscode.ThemeIcon('question');
    this.contextValue = 'chefConsul.chefOnlyGroup';
    this.tooltip = vscode.l10n.t('Chef nodes that no Consul node maps to (by {0}): they left Consul or never joined it.', mappingSetting());
  }
}

/** A Chef node that Consul does not know. */
export class ChefOnlyNodeItem extends MessageItem {
  constructor(readonly side: ChefSide) {
    super(side.node.name, 'info', undefined, { command: 'chefConsul.chef.openNode', title: vscode.l10n.t('Open Node'), arguments: [{ name: side.node.name }] });
    const now = Date.now();
    this.id = `chef-only/chef:${side.node.name}`;
    this.description = `${vscode.l10n.t('only in Chef')} · ${lastRunText(side.lastRun, now, side.node.ohaiTime)}`;
    this.iconPath = side.lastRun ? runStatusIcon(side.lastRun.status) : new vscode.ThemeIcon('server');
    this.tooltip = plainTooltip([side.node.name, vscode.l10n.t('Known to Chef only: no Consul node maps to it.'), side.node.ipaddress ? vscode.l10n.t('IP address: {0}', side.node.ipaddress) : '', ...lastRunLines(side.lastRun, now, side.node.ohaiTime)]);
    this.contextValue = 'chefConsul.chefOnlyNode';
  }
}

function mappingSetting(): ChefNodeMapping {
  const v = vscode.workspace.getConfiguration(CHEF_SECTION).get<string>('nodeMapping', 'name');
  return isChefNodeMapping(v) ? v : 'name';
}

export class NodesChefJoin implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private last: ChefConsulJoin | undefined;

  constructor(
    private readonly chef: ChefServerConnection,
    /** Redraws the Nodes view. */
    private readonly redraw: () => void,
  ) {
    this.disposables.push(
      chef.onDidChangeInventory((s) => {
        if (s.kind !== 'loading') redraw();
      }),
      chef.onDidChange(() => redraw()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CHEF_SECTION}.nodeMapping`)) redraw();
      }),
    );
  }

  /** The join as last drawn (tests read it). */
  get current(): ChefConsulJoin | undefined {
    return this.last;
  }

  /**
   * Adds the Chef side to the Nodes view's items. Without a Chef profile
   * nothing changes; the first call loads the inventory (the view redraws then).
   */
  decorate(items: NodeItem[], snapshot: CatalogSnapshot, unfiltered: boolean): CatalogItem[] {
    if (this.chef.state.kind !== 'ready') return (this.last = undefined), items;
    const inv = this.chef.inventory;
    if (inv.kind === 'idle') void this.chef.loadInventory();
    if (inv.kind !== 'ready') return items;
    const join = joinConsulChef(snapshot.nodes, inv.nodes, inv.lastRuns, mappingSetting());
    this.last = join;
    const now = Date.now();
    for (const item of items) {
      const side = join.byConsulNode.get(item.node.name);
      const md = item.tooltip instanceof vscode.MarkdownString ? item.tooltip : undefined;
      if (side) {
        item.description = `${item.node.address} · ${lastRunText(side.lastRun, now, side.node.ohaiTime)}`;
        md?.appendMarkdown('  \n').appendText(vscode.l10n.t('Chef node: {0}', side.node.name));
        for (const line of lastRunLines(side.lastRun, now, side.node.ohaiTime)) md?.appendMarkdown('  \n').appendText(line);
      } else {
        item.description = `${item.node.address} · ${vscode.l10n.t('not in Chef')}`;
        md?.appendMarkdown('  \n').appendText(vscode.l10n.t('Not in Chef: no Chef node maps to it (by {0}).', join.mapping));
      }
      if (item.accessibilityInformation) item.accessibilityInformation = { label: `${item.accessibilityInformation.label}, ${item.description}` };
    }
    // The Consul filter does not apply to Chef-only nodes: the group shows with the unfiltered list only.
    return unfiltered && join.onlyInChef.length ? [...items, new ChefOnlyGroupItem(join.onlyInChef)] : items;
  }

  childrenOf(item: CatalogItem): CatalogItem[] | undefined {
    return item instanceof ChefOnlyGroupItem ? item.sides.map((s) => new ChefOnlyNodeItem(s)) : undefined;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
