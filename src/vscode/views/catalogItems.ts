/**
 * Tree items of the catalog views. Each carries the domain object it shows;
 * all text from the cluster is untrusted and goes into plain-text fields or
 * escaped Markdown only.
 */
import * as vscode from 'vscode';
import type { CatalogNode, CatalogService, Check, ServiceInstance } from '../../core/consul/catalog';
import type { HealthStatus } from '../../core/consul/health';

export function healthIcon(health: HealthStatus): vscode.ThemeIcon {
  switch (health) {
    case 'passing':
      return new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed'));
    case 'warning':
      return new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
    default:
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
  }
}

function healthWord(health: HealthStatus): string {
  switch (health) {
    case 'passing':
      return vscode.l10n.t('passing');
    case 'warning':
      return vscode.l10n.t('warning');
    default:
      return vscode.l10n.t('critical');
  }
}

function markdown(): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  return md;
}

function appendMeta(md: vscode.MarkdownString, meta: Record<string, string>): void {
  for (const [k, v] of Object.entries(meta)) {
    md.appendText(`${k}: ${v}`);
    md.appendMarkdown('  \n');
  }
}

export class NodeItem extends vscode.TreeItem {
  readonly kind = 'node';
  constructor(readonly node: CatalogNode) {
    super(node.name, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `node:${node.name}`;
    this.description = node.address;
    this.iconPath = healthIcon(node.health);
    this.contextValue = 'chefConsul.node';
    const md = markdown();
    md.appendMarkdown('**').appendText(node.name).appendMarkdown('**  \n');
    md.appendText(vscode.l10n.t('Address: {0}', node.address)).appendMarkdown('  \n');
    md.appendText(vscode.l10n.t('Datacenter: {0}', node.datacenter)).appendMarkdown('  \n');
    md.appendText(vscode.l10n.t('Health: {0}', healthWord(node.health))).appendMarkdown('  \n');
    appendMeta(md, node.meta);
    this.tooltip = md;
    this.accessibilityInformation = { label: `${node.name}, ${node.address}, ${healthWord(node.health)}` };
  }
}

export class InstanceItem extends vscode.TreeItem {
  readonly kind = 'instance';
  /** `under` says which view shows it: under a node the label is the service, under a service the node. */
  constructor(
    readonly instance: ServiceInstance,
    under: 'node' | 'service',
  ) {
    super(under === 'node' ? instance.service : instance.node, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `${under}:${under === 'node' ? instance.node : instance.service}/instance:${instance.node}/${instance.id}`;
    const endpoint = instance.port ? `${instance.address}:${instance.port}` : instance.address;
    const tags = instance.tags.length ? ` [${instance.tags.join(', ')}]` : '';
    this.description = under === 'node' ? `:${instance.port}${tags}` : `${endpoint}${tags}`;
    this.iconPath = healthIcon(instance.health);
    this.contextValue = 'chefConsul.serviceInstance';
    const md = markdown();
    md.appendMarkdown('**').appendText(`${instance.service} (${instance.id})`).appendMarkdown('**  \n');
    md.appendText(vscode.l10n.t('Node: {0}', instance.node)).appendMarkdown('  \n');
    md.appendText(vscode.l10n.t('Address: {0}', endpoint)).appendMarkdown('  \n');
    if (instance.tags.length) md.appendText(vscode.l10n.t('Tags: {0}', instance.tags.join(', '))).appendMarkdown('  \n');
    md.appendText(vscode.l10n.t('Health: {0}', healthWord(instance.health))).appendMarkdown('  \n');
    appendMeta(md, instance.meta);
    this.tooltip = md;
  }
}

export class CheckItem extends vscode.TreeItem {
  readonly kind = 'check';
  constructor(
    readonly check: Check,
    parentId: string,
  ) {
    super(check.name, vscode.TreeItemCollapsibleState.None);
    this.id = `${parentId}/check:${check.checkId}`;
    this.description = healthWord(check.status);
    this.iconPath = healthIcon(check.status);
    this.contextValue = 'chefConsul.check';
    const md = markdown();
    md.appendMarkdown('**').appendText(check.name).appendMarkdown('** — ').appendText(healthWord(check.status));
    if (check.notes) md.appendMarkdown('\n\n').appendText(check.notes);
    if (check.output) md.appendMarkdown('\n\n').appendCodeblock(check.output.slice(0, 4000), 'text');
    this.tooltip = md;
  }
}

export class ServiceItem extends vscode.TreeItem {
  readonly kind = 'service';
  constructor(readonly service: CatalogService) {
    super(service.name, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `service:${service.name}`;
    const n = service.instances.length;
    this.description = [n === 1 ? vscode.l10n.t('1 instance') : vscode.l10n.t('{0} instances', n), ...service.tags.map((t) => `#${t}`)].join('  ');
    this.iconPath = healthIcon(service.health);
    this.contextValue = 'chefConsul.service';
    const md = markdown();
    md.appendMarkdown('**').appendText(service.name).appendMarkdown('**  \n');
    md.appendText(vscode.l10n.t('Health: {0}', healthWord(service.health))).appendMarkdown('  \n');
    if (service.tags.length) md.appendText(vscode.l10n.t('Tags: {0}', service.tags.join(', ')));
    this.tooltip = md;
  }
}

/** An error or a notice shown in place of data, so failure never looks like an empty cluster. */
export class MessageItem extends vscode.TreeItem {
  readonly kind = 'message';
  constructor(
    label: string,
    readonly severity: 'error' | 'info' | 'loading',
    detail?: string,
    command?: vscode.Command,
  ) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.id = `message:${severity}:${label}`;
    this.description = detail;
    this.tooltip = detail ? `${label}\n${detail}` : label;
    this.iconPath =
      severity === 'error'
        ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
        : severity === 'loading'
          ? new vscode.ThemeIcon('loading~spin')
          : new vscode.ThemeIcon('info');
    this.contextValue = `chefConsul.message.${severity}`;
    this.command = command;
  }
}

export type CatalogItem = NodeItem | InstanceItem | CheckItem | ServiceItem | MessageItem;
