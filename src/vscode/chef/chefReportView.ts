/**
 * The Chef Report view: one node's Chef run — summary, the failure with its
 * sections, resources grouped by recipe with their changes; each file diff
 * opens in the diff editor. It follows the report while the node still runs.
 */
import * as vscode from 'vscode';
import type { ChefReportRef } from '../../core/chef/runReports';
import type { ChefReportLookup } from '../../core/chef/reportShelf';
import type { ChefFailureSection, ChefReport, ChefResource } from '../../core/chef/report';
import { chefSummary, recipeLabel, resourceId, resourcesByRecipe } from '../../core/chef/report';
import { chefDocumentUri } from './chefDocuments';

const STATUS_ICONS: Record<string, [string, string | undefined]> = {
  running: ['sync~spin', 'charts.blue'],
  success: ['pass-filled', 'testing.iconPassed'],
  failure: ['error', 'testing.iconFailed'],
  unknown: ['question', 'list.warningForeground'],
};

function icon(id: string, color?: string): vscode.ThemeIcon {
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

/** Tooltips carry report text: untrusted, so appended as text, never as markdown. */
function textTooltip(...lines: string[]): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  lines.filter(Boolean).forEach((l, i) => {
    if (i) md.appendMarkdown('\n\n');
    md.appendText(l);
  });
  return md;
}

export class SummaryItem extends vscode.TreeItem {
  readonly kind = 'summary';
  constructor(
    readonly ref: ChefReportRef,
    readonly report: ChefReport,
  ) {
    super(
      report.source === 'output' ? vscode.l10n.t('{0} · phase {1}', ref.node, ref.phase + 1) : report.source === 'file' ? vscode.l10n.t('{0} · report file', ref.node) : vscode.l10n.t('{0} · Reporting', ref.node),
      vscode.TreeItemCollapsibleState.Expanded,
    );
    const summary = chefSummary(report);
    this.id = 'chef:summary';
    this.description = report.chef ? summary.text : vscode.l10n.t('no Chef run in this output');
    const [id, color] = STATUS_ICONS[report.status] ?? STATUS_ICONS.unknown;
    this.iconPath = icon(id, color);
    this.tooltip = textTooltip(report.source === 'file' ? ref.id.replace(/^file:/, '') : vscode.l10n.t('Run {0}', ref.id), `${report.product ?? 'Chef'} ${report.chefVersion ?? ''}`.trim(), summary.text);
    this.contextValue = 'chefConsul.chefSummary';
  }
}

export class LineItem extends vscode.TreeItem {
  readonly kind = 'line';
  constructor(label: string, description?: string, iconId?: string, id?: string) {
    super(label || ' ', vscode.TreeItemCollapsibleState.None);
    if (id) this.id = id;
    this.description = description;
    if (iconId) this.iconPath = icon(iconId);
    this.tooltip = textTooltip(label, description ?? '');
  }
}

export class FailureItem extends vscode.TreeItem {
  readonly kind = 'failure';
  constructor(
    readonly ref: ChefReportRef,
    readonly report: ChefReport,
  ) {
    const f = report.failure!;
    super(
      f.resource ? vscode.l10n.t('Failed: {0}', f.resource) : f.ignored ? vscode.l10n.t('Failure (ignored)') : vscode.l10n.t('Failed while {0}', f.stage),
      vscode.TreeItemCollapsibleState.Expanded,
    );
    this.id = 'chef:failure';
    this.description = f.exceptionClass;
    this.iconPath = icon('error', f.ignored ? 'list.warningForeground' : 'testing.iconFailed');
    this.tooltip = textTooltip(f.title ?? '', f.exceptionClass ?? '', f.message);
    this.contextValue = 'chefConsul.chefFailure';
    this.command = { command: 'chefConsul.openChefFailure', title: vscode.l10n.t('Open Failure as Text'), arguments: [{ ...ref }] };
  }
}

export class SectionItem extends vscode.TreeItem {
  readonly kind = 'section';
  constructor(
    readonly section: ChefFailureSection,
    index: number,
    expanded = false,
  ) {
    super(section.title, expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef:section:${index}`;
    this.description = vscode.l10n.t('{0} lines', section.lines.length);
    this.iconPath = icon('list-flat');
  }
}

export class RecipeItem extends vscode.TreeItem {
  readonly kind = 'recipe';
  constructor(
    readonly recipe: string,
    readonly resources: Array<{ resource: ChefResource; index: number }>,
  ) {
    const top = resources.filter((r) => r.resource.depth === 0 || !resources.some((p) => p.index === r.resource.parent));
    const updated = top.filter((r) => r.resource.updated).length;
    const failed = resources.some((r) => r.resource.failed);
    super(recipe, updated || failed ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `chef:recipe:${recipe}`;
    this.description = vscode.l10n.t('{0}/{1} updated', updated, top.length);
    this.iconPath = icon('book');
  }
}

function resourceState(r: ChefResource): [string, string, string | undefined] {
  if (r.failed) return [vscode.l10n.t('failed'), 'error', 'testing.iconFailed'];
  if (r.updated) return [vscode.l10n.t('updated'), 'pass-filled', 'testing.iconPassed'];
  if (r.upToDate) return [vscode.l10n.t('up to date'), 'circle-large-outline', undefined];
  if (r.skipped) return [r.skipReason ?? vscode.l10n.t('skipped'), 'debug-step-over', undefined];
  return ['', 'circle-outline', undefined];
}

export class ResourceItem extends vscode.TreeItem {
  readonly kind = 'resource';
  constructor(
    readonly ref: ChefReportRef,
    readonly report: ChefReport,
    readonly resource: ChefResource,
    readonly index: number,
  ) {
    const hasChildren = resource.changes.length > 0 || resource.diffs.length > 0 || !!resource.error || report.resources.some((x) => x.parent === index);
    super(resourceId(resource), hasChildren ? (resource.failed || resource.diffs.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None);
    this.id = `chef:resource:${index}`;
    const [state, iconId, color] = resourceState(resource);
    this.description = [resource.action, state].filter(Boolean).join(' · ');
    this.iconPath = icon(iconId, color);
    this.tooltip = textTooltip(resourceId(resource), `${vscode.l10n.t('action')} ${resource.action}`, recipeLabel(resource), resource.error ?? '');
    this.contextValue = resource.failed ? 'chefConsul.chefResource.failed' : 'chefConsul.chefResource';
  }
}

export class DiffItem extends vscode.TreeItem {
  readonly kind = 'diff';
  constructor(ref: ChefReportRef, resource: ChefResource, resourceIndex: number, diffIndex: number) {
    const diff = resource.diffs[diffIndex];
    super(diff.path, vscode.TreeItemCollapsibleState.None);
    this.id = `chef:diff:${resourceIndex}:${diffIndex}`;
    this.description = diff.note ?? (diff.diff ? vscode.l10n.t('diff') : '');
    this.iconPath = icon('diff');
    this.resourceUri = chefDocumentUri({ ...ref, kind: 'diff', resource: resourceIndex, diff: diffIndex, side: 'after' }, diff.path);
    this.tooltip = textTooltip(diff.path, diff.note ?? '');
    this.contextValue = 'chefConsul.chefDiff';
    if (diff.diff) this.command = { command: 'chefConsul.openChefDiff', title: vscode.l10n.t('Open Diff'), arguments: [{ ...ref, resource: resourceIndex, diff: diffIndex }] };
  }
}

/** A Reporting resource's state before and after its action, opened in the diff editor. */
export class StateDiffItem extends vscode.TreeItem {
  readonly kind = 'stateDiff';
  constructor(ref: ChefReportRef, resource: ChefResource, resourceIndex: number) {
    super(vscode.l10n.t('State before ↔ after'), vscode.TreeItemCollapsibleState.None);
    this.id = `chef:state:${resourceIndex}`;
    this.iconPath = icon('diff');
    this.contextValue = 'chefConsul.chefStateDiff';
    this.description = vscode.l10n.t('{0} attributes', Object.keys(resource.after ?? resource.before ?? {}).length);
    this.command = { command: 'chefConsul.chef.openResourceState', title: vscode.l10n.t('Open State Diff'), arguments: [{ id: ref.id, node: ref.node, resource: resourceIndex }] };
  }
}

type ChefReportItem = SummaryItem | LineItem | FailureItem | SectionItem | RecipeItem | ResourceItem | DiffItem | StateDiffItem;

/** Lines of a section or message shown in the tree; the whole failure opens as a document. */
const MAX_TREE_LINES = 200;

export class ChefReportView implements vscode.TreeDataProvider<ChefReportItem>, vscode.Disposable {
  static readonly id = 'chefConsul.chefReport';
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly treeView: vscode.TreeView<ChefReportItem>;
  private ref: ChefReportRef | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscription: { dispose(): void };

  constructor(private readonly reports: Pick<ChefReportLookup, 'reportOf' | 'onDidChange'>) {
    this.treeView = vscode.window.createTreeView(ChefReportView.id, { treeDataProvider: this, showCollapseAll: true });
    // Output streams in bursts: redraw at most every 250 ms.
    this.subscription = reports.onDidChange((r) => {
      if (this.ref && r.id === this.ref.id && r.phase === this.ref.phase && r.node === this.ref.node) this.timer ??= setTimeout(() => this.refresh(), 250);
    });
  }

  get current(): ChefReportRef | undefined {
    return this.ref;
  }

  show(ref: ChefReportRef): void {
    this.ref = { id: ref.id, phase: ref.phase, node: ref.node };
    void vscode.commands.executeCommand('setContext', 'chefConsul.chefReportOpen', true);
    this.refresh();
  }

  private refresh(): void {
    this.timer = undefined;
    const report = this.ref && this.reports.reportOf(this.ref.id, this.ref.phase, this.ref.node);
    this.treeView.description = this.ref ? `${this.ref.node} · ${this.ref.id.startsWith('file:') ? this.ref.id.split('/').pop() : this.ref.id.replace(/^reporting:/, '').slice(0, 8)}` : undefined;
    this.treeView.message = report && !report.chef ? vscode.l10n.t('No Chef run in this node\'s output: nothing Chef prints was found.') : undefined;
    this.changed.fire();
  }

  getTreeItem(element: ChefReportItem): vscode.TreeItem {
    return element;
  }

  getChildren(element?: ChefReportItem): ChefReportItem[] {
    return this.ref ? this.childrenOf(this.ref, element) : [];
  }

  /** The items of any report's tree (the report file editor renders the same tree). */
  childrenOf(ref: ChefReportRef, element?: ChefReportItem): ChefReportItem[] {
    const report = this.reports.reportOf(ref.id, ref.phase, ref.node);
    if (!ref || !report) return [];
    if (!element) {
      const items: ChefReportItem[] = [new SummaryItem(ref, report)];
      if (report.failure) items.push(new FailureItem(ref, report));
      for (const group of resourcesByRecipe(report)) items.push(new RecipeItem(group.recipe, group.resources));
      return items;
    }
    if (element instanceof SummaryItem) return this.summaryLines(report);
    if (element instanceof FailureItem) return this.failureChildren(report);
    if (element instanceof SectionItem) return linesOf(element.section.lines, `${element.id}`);
    if (element instanceof RecipeItem) {
      // Resources declared inside a custom resource show under it, not beside it.
      const inGroup = new Set(element.resources.map((r) => r.index));
      return element.resources.filter((r) => r.resource.parent === undefined || !inGroup.has(r.resource.parent)).map((r) => new ResourceItem(ref, report, r.resource, r.index));
    }
    if (element instanceof ResourceItem) {
      const r = element.resource;
      const items: ChefReportItem[] = [];
      if (r.error) items.push(new LineItem(r.error, undefined, 'error', `${element.id}:error`));
      r.changes.forEach((c, i) => items.push(new LineItem(c, undefined, 'arrow-small-right', `${element.id}:change:${i}`)));
      r.diffs.forEach((_, i) => items.push(new DiffItem(ref, r, element.index, i)));
      if (r.before || r.after) items.push(new StateDiffItem(ref, r, element.index));
      report.resources.forEach((x, i) => {
        if (x.parent === element.index) items.push(new ResourceItem(ref, report, x, i));
      });
      return items;
    }
    return [];
  }

  private summaryLines(report: ChefReport): LineItem[] {
    const items: LineItem[] = [];
    if (report.chefVersion) items.push(new LineItem(`${report.product ?? 'Chef'} ${report.chefVersion}`, report.whyRun ? vscode.l10n.t('why-run') : undefined, 'versions', 'chef:version'));
    if (report.runList?.length) items.push(new LineItem(report.runList.join(', '), vscode.l10n.t('run list'), 'list-ordered', 'chef:runlist'));
    if (report.updatedResources !== undefined || report.totalResources !== undefined)
      items.push(new LineItem(vscode.l10n.t('{0} of {1} resources updated', report.updatedResources ?? 0, report.totalResources ?? '?'), undefined, 'pulse', 'chef:counts'));
    if (report.durationSeconds !== undefined) items.push(new LineItem(formatSeconds(report.durationSeconds), vscode.l10n.t('duration'), 'watch', 'chef:duration'));
    if (!report.complete) items.push(new LineItem(report.status === 'running' ? vscode.l10n.t('still running: {0}', report.stage) : vscode.l10n.t('the output ended before Chef said how the run ended'), undefined, 'info', 'chef:incomplete'));
    return items;
  }

  private failureChildren(report: ChefReport): ChefReportItem[] {
    const f = report.failure!;
    const items: ChefReportItem[] = linesOf(f.message ? f.message.split('\n') : [], 'chef:message');
    f.sections.forEach((s, i) => items.push(new SectionItem(s, i)));
    if (f.fatal.length) items.push(new SectionItem({ title: 'FATAL', lines: f.fatal }, f.sections.length));
    // The output's cookbook trace is already a section; Reporting and report files carry the backtrace apart.
    if (report.source !== 'output' && f.backtrace.length) items.push(new SectionItem({ title: vscode.l10n.t('Backtrace'), lines: f.backtrace }, f.sections.length + 1));
    return items;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription.dispose();
    this.treeView.dispose();
    this.changed.dispose();
  }
}

function linesOf(lines: string[], idPrefix: string): LineItem[] {
  const shown = lines.slice(0, MAX_TREE_LINES).map((l, i) => new LineItem(l, undefined, undefined, `${idPrefix}:${i}`));
  if (lines.length > MAX_TREE_LINES) shown.push(new LineItem(vscode.l10n.t('… {0} more lines: open the failure as text', lines.length - MAX_TREE_LINES), undefined, 'ellipsis', `${idPrefix}:more`));
  return shown;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
