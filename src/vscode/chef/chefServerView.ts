/**
 * The Chef view: the active Chef server's nodes (environment, platform, run
 * list, last run status and age), roles, environments, cookbooks with their
 * versions and data bags. Nodes come from the shared inventory (one partial
 * search, one Reporting listing) and show the first N with "Show more…";
 * each item opens its JSON as a read-only `chef:` document, and a node leads
 * to its precedence levels and its run history.
 */
import * as vscode from 'vscode';
import { PRECEDENCE_LEVELS, PrecedenceLevel } from '../../core/chef/attributes';
import type { ChefNodeSummary } from '../../core/chef/server/chefApi';
import type { ChefRunSummary, ReportingStatusFilter } from '../../core/chef/server/reporting';
import { listRuns } from '../../core/chef/server/reporting';
import { runTime } from '../../core/chef/join';
import { chefObjectUri } from './chefObjectDocuments';
import type { ChefServerConnection } from './chefServer';
import { ageText, lastRunLines, lastRunText, plainTooltip, runStatusIcon, runStatusWord } from './chefRunText';

/** Nodes shown at first, and added by each "Show more…". */
export const NODE_PAGE = 200;

type Group = 'nodes' | 'roles' | 'environments' | 'cookbooks' | 'dataBags';

export class ChefGroupItem extends vscode.TreeItem {
  readonly kind = 'group';
  constructor(
    readonly group: Group,
    label: string,
    iconId: string,
    description?: string,
  ) {
    super(label, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef-server:${group}`;
    this.iconPath = new vscode.ThemeIcon(iconId);
    this.description = description;
    this.contextValue = `chefConsul.chef.group.${group}`;
  }
}

export class ChefServerNodeItem extends vscode.TreeItem {
  readonly kind = 'chefNode';
  constructor(
    readonly profile: string,
    readonly node: ChefNodeSummary,
    readonly lastRun: ChefRunSummary | undefined,
    now: number,
  ) {
    super(node.name, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef-server:node:${node.name}`;
    this.iconPath = lastRun ? runStatusIcon(lastRun.status) : new vscode.ThemeIcon('server');
    const platform = [node.platform, node.platformVersion].filter(Boolean).join(' ');
    this.description = [node.environment, platform, lastRunText(lastRun, now, node.ohaiTime)].filter(Boolean).join(' · ');
    this.tooltip = plainTooltip([
      node.name,
      vscode.l10n.t('Environment: {0}', node.environment ?? '—'),
      vscode.l10n.t('Platform: {0}', platform || '—'),
      vscode.l10n.t('Run list: {0}', node.runList.join(', ') || '—'),
      node.fqdn ? vscode.l10n.t('FQDN: {0}', node.fqdn) : '',
      node.ipaddress ? vscode.l10n.t('IP address: {0}', node.ipaddress) : '',
      ...lastRunLines(lastRun, now, node.ohaiTime),
    ]);
    this.contextValue = 'chefConsul.chef.node';
    this.command = { command: 'chefConsul.chef.openNode', title: vscode.l10n.t('Open Node'), arguments: [{ name: node.name }] };
    this.accessibilityInformation = { label: `${node.name}, ${this.description}` };
  }
}

export class ChefDocItem extends vscode.TreeItem {
  readonly kind = 'doc';
  constructor(
    id: string,
    label: string,
    readonly uri: vscode.Uri,
    iconId: string,
    description?: string,
    collapsible = vscode.TreeItemCollapsibleState.None,
    contextValue = 'chefConsul.chef.object',
  ) {
    super(label, collapsible);
    this.id = id;
    this.iconPath = new vscode.ThemeIcon(iconId);
    this.description = description;
    this.contextValue = contextValue;
    this.resourceUri = undefined;
    this.tooltip = plainTooltip([label, description ?? '']);
    this.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [uri, { preview: true }] };
  }
}

export class ChefCookbookItem extends vscode.TreeItem {
  readonly kind = 'cookbook';
  constructor(
    readonly name: string,
    readonly versions: string[],
  ) {
    super(name, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef-server:cookbook:${name}`;
    this.iconPath = new vscode.ThemeIcon('book');
    this.description = versions.length === 1 ? versions[0] : vscode.l10n.t('{0} (+{1} older)', versions[0] ?? '', versions.length - 1);
    this.contextValue = 'chefConsul.chef.cookbook';
  }
}

export class ChefDataBagItem extends vscode.TreeItem {
  readonly kind = 'dataBag';
  constructor(readonly bag: string) {
    super(bag, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef-server:bag:${bag}`;
    this.iconPath = new vscode.ThemeIcon('database');
    this.contextValue = 'chefConsul.chef.dataBag';
  }
}

export class ChefRunHistoryItem extends vscode.TreeItem {
  readonly kind = 'history';
  constructor(readonly node: string, filter: string | undefined) {
    super(vscode.l10n.t('Run history'), vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef-server:node:${node}/history`;
    this.iconPath = new vscode.ThemeIcon('history');
    this.description = filter;
    this.contextValue = 'chefConsul.chef.runHistory';
  }
}

export class ChefRunItem extends vscode.TreeItem {
  readonly kind = 'run';
  constructor(
    readonly run: ChefRunSummary,
    now: number,
  ) {
    const t = runTime(run);
    super(t !== undefined ? new Date(t).toLocaleString() : run.runId, vscode.TreeItemCollapsibleState.None);
    this.id = `chef-server:node:${run.node}/run:${run.runId}`;
    this.iconPath = runStatusIcon(run.status);
    const parts = [runStatusWord(run.status)];
    if (run.failedResource) parts.push(run.failedResource);
    if (t !== undefined) parts.push(ageText(t, now));
    if (run.durationSeconds !== undefined) parts.push(`${Math.round(run.durationSeconds)} s`);
    this.description = parts.join(' · ');
    this.tooltip = plainTooltip([vscode.l10n.t('Run {0}', run.runId), ...lastRunLines(run, now).slice(0), run.runList ? vscode.l10n.t('Run list: {0}', run.runList.join(', ')) : '']);
    this.contextValue = run.status === 'failure' ? 'chefConsul.chef.run.failed' : 'chefConsul.chef.run';
    this.command = { command: 'chefConsul.chef.openRun', title: vscode.l10n.t('Open Run'), arguments: [{ node: run.node, runId: run.runId }] };
  }
}

export class ChefMessageItem extends vscode.TreeItem {
  readonly kind = 'message';
  constructor(id: string, label: string, iconId: string, command?: vscode.Command, description?: string) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.id = id;
    this.iconPath = new vscode.ThemeIcon(iconId);
    this.command = command;
    this.description = description;
    this.tooltip = description ? `${label}\n${description}` : label;
    this.contextValue = 'chefConsul.chef.message';
  }
}

export type ChefViewItem = ChefGroupItem | ChefServerNodeItem | ChefDocItem | ChefCookbookItem | ChefDataBagItem | ChefRunHistoryItem | ChefRunItem | ChefMessageItem;

export interface RunFilter {
  status?: ReportingStatusFilter;
  /** Runs of the last N days (1-90; Reporting answers at most 90); default: the last 24 hours. */
  days?: number;
}

export class ChefServerView implements vscode.TreeDataProvider<ChefViewItem>, vscode.Disposable {
  static readonly id = 'chefConsul.chef';
  private readonly changed = new vscode.EventEmitter<ChefViewItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly treeView: vscode.TreeView<ChefViewItem>;
  private nodeLimit = NODE_PAGE;
  private runFilterValue: RunFilter = {};
  private readonly disposables: vscode.Disposable[] = [];
  /** Fires after the nodes were (re)listed: tests wait on it. */
  private readonly rendered = new vscode.EventEmitter<void>();
  readonly onDidRender = this.rendered.event;

  constructor(private readonly chef: ChefServerConnection) {
    this.treeView = vscode.window.createTreeView(ChefServerView.id, { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(
      this.treeView,
      chef.onDidChange(() => {
        this.nodeLimit = NODE_PAGE;
        this.update();
      }),
      chef.onDidChangeInventory(() => this.update()),
    );
  }

  get runFilter(): RunFilter {
    return this.runFilterValue;
  }

  setRunFilter(filter: RunFilter): void {
    this.runFilterValue = filter;
    this.changed.fire(undefined);
  }

  showMore(): number {
    this.nodeLimit += NODE_PAGE;
    this.changed.fire(undefined);
    return this.nodeLimit;
  }

  /** Loads the nodes and last runs again. */
  async refresh(): Promise<void> {
    await this.chef.loadInventory(true);
  }

  private update(): void {
    const s = this.chef.state;
    const inv = this.chef.inventory;
    // A failure shows as the welcome content of its kind (a message would hide it); the exact reason is Test Connection's.
    this.treeView.message = inv.kind === 'ready' && inv.reportingError ? vscode.l10n.t('Reporting unavailable, no last runs: {0}', inv.reportingError) : undefined;
    const failure = this.chef.failureKind;
    this.treeView.description = s.kind === 'none' ? (s.reason ? vscode.l10n.t('none active: {0}', s.reason) : undefined) : failure ? `${s.profile.name} · ${failure}` : s.profile.name;
    this.changed.fire(undefined);
    if (inv.kind === 'ready' || inv.kind === 'error') this.rendered.fire();
  }

  getTreeItem(element: ChefViewItem): vscode.TreeItem {
    return element;
  }

  getParent(element: ChefViewItem): ChefViewItem | undefined {
    if (element instanceof ChefServerNodeItem) return this.groups().find((g) => g.group === 'nodes');
    return undefined;
  }

  private groups(): ChefGroupItem[] {
    const inv = this.chef.inventory;
    const nodes = inv.kind === 'ready' ? String(inv.nodes.length) : undefined;
    return [
      new ChefGroupItem('nodes', vscode.l10n.t('Nodes'), 'server-environment', nodes),
      new ChefGroupItem('roles', vscode.l10n.t('Roles'), 'organization'),
      new ChefGroupItem('environments', vscode.l10n.t('Environments'), 'globe'),
      new ChefGroupItem('cookbooks', vscode.l10n.t('Cookbooks'), 'library'),
      new ChefGroupItem('dataBags', vscode.l10n.t('Data Bags'), 'database'),
    ];
  }

  async getChildren(element?: ChefViewItem): Promise<ChefViewItem[]> {
    const s = this.chef.state;
    if (s.kind !== 'ready') return [];
    if (!element) {
      // The first look at the view connects; a failure shows as welcome content naming the error.
      const inv = await this.chef.loadInventory();
      return inv.kind === 'error' ? [] : this.groups();
    }
    const profile = s.profile.name;
    try {
      return await this.childrenOf(element, profile);
    } catch (e) {
      return [new ChefMessageItem(`${element.id}/error`, (e as Error).message, 'error', { command: 'chefConsul.chef.refresh', title: vscode.l10n.t('Refresh') })];
    }
  }

  /** The node items the Nodes group shows now (first N), for tests and reveal. */
  nodeItems(): ChefServerNodeItem[] {
    const s = this.chef.state;
    const inv = this.chef.inventory;
    if (s.kind !== 'ready' || inv.kind !== 'ready') return [];
    const now = Date.now();
    return inv.nodes.slice(0, this.nodeLimit).map((n) => new ChefServerNodeItem(s.profile.name, n, inv.lastRuns.get(n.name), now));
  }

  private async childrenOf(element: ChefViewItem, profile: string): Promise<ChefViewItem[]> {
    const { api, client } = this.chef.ready();
    if (element instanceof ChefGroupItem) {
      switch (element.group) {
        case 'nodes': {
          const inv = await this.chef.loadInventory();
          if (inv.kind !== 'ready') return [];
          const items: ChefViewItem[] = this.nodeItems();
          if (inv.nodes.length > this.nodeLimit)
            items.push(new ChefMessageItem('chef-server:nodes:more', vscode.l10n.t('Show more…'), 'ellipsis', { command: 'chefConsul.chef.showMore', title: vscode.l10n.t('Show more…') }, vscode.l10n.t('{0} of {1} shown', this.nodeLimit, inv.nodes.length)));
          if (!inv.nodes.length) items.push(new ChefMessageItem('chef-server:nodes:none', vscode.l10n.t('No nodes on this Chef server'), 'info'));
          return items;
        }
        case 'roles':
          return (await api.listRoles()).map((r) => new ChefDocItem(`chef-server:role:${r}`, r, chefObjectUri({ kind: 'role', profile, name: r }), 'symbol-class'));
        case 'environments':
          return (await api.listEnvironments()).map((e) => new ChefDocItem(`chef-server:env:${e}`, e, chefObjectUri({ kind: 'environment', profile, name: e }), 'globe'));
        case 'cookbooks':
          return (await api.listCookbooks()).map((c) => new ChefCookbookItem(c.name, c.versions));
        case 'dataBags':
          return (await api.listDataBags()).map((b) => new ChefDataBagItem(b));
      }
    }
    if (element instanceof ChefCookbookItem)
      return element.versions.map((v) => new ChefDocItem(`chef-server:cookbook:${element.name}/${v}`, v, chefObjectUri({ kind: 'cookbook', profile, name: element.name, version: v }), 'tag'));
    if (element instanceof ChefDataBagItem)
      return (await api.listDataBagItems(element.bag)).map((i) => new ChefDocItem(`chef-server:bag:${element.bag}/${i}`, i, chefObjectUri({ kind: 'dataBagItem', profile, bag: element.bag, item: i }), 'json'));
    if (element instanceof ChefServerNodeItem) {
      const name = element.node.name;
      const levels: ChefViewItem[] = PRECEDENCE_LEVELS.map(
        (level: PrecedenceLevel) => new ChefDocItem(`chef-server:node:${name}/${level}`, level, chefObjectUri({ kind: 'node', profile, name, level }), 'symbol-field', vscode.l10n.t('attributes'), undefined, 'chefConsul.chef.attributes'),
      );
      return [
        new ChefDocItem(`chef-server:node:${name}/merged`, vscode.l10n.t('Attributes (merged)'), chefObjectUri({ kind: 'node', profile, name }), 'json', undefined, undefined, 'chefConsul.chef.attributes'),
        ...levels,
        new ChefRunHistoryItem(name, describeRunFilter(this.runFilterValue)),
      ];
    }
    if (element instanceof ChefRunHistoryItem) {
      const f = this.runFilterValue;
      const runs = await listRuns(client, { node: element.node, status: f.status, from: f.days ? Date.now() - f.days * 86_400_000 : undefined, rows: 200 });
      const now = Date.now();
      return runs.length ? runs.map((r) => new ChefRunItem(r, now)) : [new ChefMessageItem(`${element.id}/none`, vscode.l10n.t('No runs reported'), 'info', undefined, describeRunFilter(f))];
    }
    return [];
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
    this.changed.dispose();
    this.rendered.dispose();
  }
}

export function describeRunFilter(f: RunFilter): string | undefined {
  const parts: string[] = [];
  if (f.status) parts.push(f.status);
  // Reporting lists the last 24 hours unless told otherwise.
  parts.push(f.days ? (f.days === 1 ? vscode.l10n.t('last 24 hours') : vscode.l10n.t('last {0} days', f.days)) : vscode.l10n.t('last 24 hours'));
  return parts.length ? parts.join(', ') : undefined;
}
