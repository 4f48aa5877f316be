/**
 * Phases view: pattern → event → ordered phases → operations. Each phase
 * shows the catalog nodes it would reach right now, live while visible.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CatalogNode, CatalogSnapshot } from '../../core/consul/catalog';
import type { Operation, PatternPlan, Phase, PlanEvent, Range } from '../../core/plans/model';
import { eventPhases, findTask } from '../../core/plans/model';
import { phaseTargets } from '../../core/plans/targeting';
import type { ConnectionManager } from '../connectionManager';
import { MessageItem } from '../views/catalogItems';
import { VisibleFollower } from '../views/visibleFollower';
import { CommandInputError, showError } from '../commands/register';
import type { PlanWorkspace } from './planWorkspace';
import { toRange } from './planDiagnostics';

function openAt(file: string, range: Range): vscode.Command {
  return { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [vscode.Uri.file(file), { selection: toRange(range) }] };
}

export function operationSummary(op: Operation): string {
  switch (op.type) {
    case 'execute':
      return op.file ? `${op.file} ${op.arguments.join(' ')}`.trim() : (op.script ?? '').split('\n')[0];
    case 'chef':
      return op.runList.join(', ');
    case 'consul-kvs':
      return `${op.action} ${op.key ?? ''}`.trim();
    case 'consul-event':
      return [op.name, op.filter.service && `service=${op.filter.service}`, op.filter.tag && `tag=${op.filter.tag}`].filter(Boolean).join(' ');
    case 'service':
      return `${op.action ?? ''} ${op.name ?? ''}`.trim();
    case 'echo':
      return op.message;
  }
}

export class PatternItem extends vscode.TreeItem {
  readonly kind = 'pattern';
  constructor(readonly plan: PatternPlan) {
    super(plan.name, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `pattern:${plan.filePath}`;
    this.description = vscode.workspace.asRelativePath(plan.filePath);
    this.iconPath = new vscode.ThemeIcon('folder-library');
    this.resourceUri = vscode.Uri.file(plan.filePath);
    this.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [vscode.Uri.file(plan.filePath)] };
    this.contextValue = 'chefConsul.pattern';
  }
}

export class PlanEventItem extends vscode.TreeItem {
  readonly kind = 'planEvent';
  constructor(
    readonly plan: PatternPlan,
    readonly event: PlanEvent,
  ) {
    super(event.name, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `pattern:${plan.filePath}/event:${event.name}`;
    const phases = eventPhases(event).length;
    this.description = [vscode.l10n.t('priority {0}', event.priority), phases === 1 ? vscode.l10n.t('1 phase') : vscode.l10n.t('{0} phases', phases)].join(' · ');
    this.tooltip = event.description;
    this.iconPath = new vscode.ThemeIcon('symbol-event');
    this.contextValue = 'chefConsul.planEvent';
    this.command = openAt(plan.filePath, event.keyRange);
  }
}

export class PlanPhaseItem extends vscode.TreeItem {
  readonly kind = 'planPhase';
  constructor(
    readonly plan: PatternPlan,
    readonly event: PlanEvent,
    readonly phase: Phase,
    index: number,
    /** undefined while the catalog is unknown (not connected). */
    readonly targets: string[] | undefined,
  ) {
    super(`${index + 1}. ${phase.task}`, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `pattern:${plan.filePath}/event:${event.name}/phase:${index}`;
    const filter = [phase.service && `service ${phase.service}`, phase.tag && `tag ${phase.tag}`].filter(Boolean).join(' · ') || vscode.l10n.t('all nodes');
    const reach = targets === undefined ? '' : targets.length ? `→ ${targets.join(', ')}` : vscode.l10n.t('→ no node');
    this.description = `${filter} ${reach}`.trim();
    const none = targets !== undefined && targets.length === 0;
    this.iconPath = none ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')) : new vscode.ThemeIcon('debug-step-into');
    this.tooltip = none
      ? phase.skippable
        ? vscode.l10n.t('No node in the catalog matches right now: metronome would skip this phase.')
        : vscode.l10n.t('No node in the catalog matches right now: metronome would hold its queue on this phase for 120 s, then end it timeout and stop the event.')
      : targets?.length
        ? vscode.l10n.t('Would run on: {0}', targets.join(', '))
        : undefined;
    this.contextValue = none ? 'chefConsul.planPhase.unreached' : 'chefConsul.planPhase';
    this.command = openAt(plan.filePath, phase.range);
  }
}

export class OperationItem extends vscode.TreeItem {
  readonly kind = 'operation';
  constructor(
    readonly plan: PatternPlan,
    readonly operation: Operation,
    parentId: string,
    index: number,
  ) {
    super(operation.type, vscode.TreeItemCollapsibleState.None);
    this.id = `${parentId}/op:${index}`;
    this.description = operationSummary(operation);
    this.iconPath = new vscode.ThemeIcon(
      { execute: 'terminal', chef: 'flame', 'consul-kvs': 'database', 'consul-event': 'broadcast', service: 'server-process', echo: 'comment' }[operation.type],
    );
    this.command = openAt(plan.filePath, operation.keyRange);
  }
}

type PhasesViewItem = PatternItem | PlanEventItem | PlanPhaseItem | OperationItem | MessageItem;

export class PhasesView implements vscode.TreeDataProvider<PhasesViewItem>, vscode.Disposable {
  static readonly id = 'chefConsul.phases';
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly treeView: vscode.TreeView<PhasesViewItem>;
  private readonly follower: VisibleFollower<CatalogSnapshot>;
  private readonly disposables: vscode.Disposable[] = [];
  /** Operations by tree ID → their phase (operations only exist once a phase was expanded). */
  private readonly operationParents = new Map<string, PlanPhaseItem>();

  constructor(
    private readonly workspace: PlanWorkspace,
    private readonly connections: ConnectionManager,
  ) {
    this.treeView = vscode.window.createTreeView(PhasesView.id, { treeDataProvider: this, showCollapseAll: true });
    this.follower = new VisibleFollower(this.treeView, () => this.changed.fire());
    this.disposables.push(
      this.treeView,
      this.follower,
      connections.onDidChange(() => this.attach()),
      workspace.onDidChange(() => {
        this.operationParents.clear();
        this.changed.fire();
      }),
      vscode.commands.registerCommand('chefConsul.phases.reveal', async (a?: { event?: unknown; file?: unknown }) => {
        try {
          return await this.reveal(a ?? {});
        } catch (e) {
          showError(e);
          throw e;
        }
      }),
    );
    this.attach();
  }

  /**
   * Shows an event of a task.yml in the view, selected and expanded: the one
   * in `file` when given, else the first pattern defining it. Returns its tree ID.
   */
  async reveal(ref: { event?: unknown; file?: unknown }): Promise<string> {
    if (typeof ref.event !== 'string' || !ref.event) throw new CommandInputError(vscode.l10n.t('"event" is required.'));
    if (ref.file !== undefined && typeof ref.file !== 'string') throw new CommandInputError(vscode.l10n.t('"file" must be a path.'));
    await this.workspace.ready();
    // A relative path is read against each workspace folder, as the Phases view shows them.
    const candidates = !ref.file
      ? undefined
      : path.isAbsolute(ref.file)
        ? [vscode.Uri.file(ref.file).fsPath]
        : (vscode.workspace.workspaceFolders ?? []).map((f) => vscode.Uri.joinPath(f.uri, ref.file as string).fsPath);
    const file = candidates?.[0];
    const plans = this.workspace.plans().filter((p) => !candidates || candidates.includes(vscode.Uri.file(p.filePath).fsPath));
    if (file && !plans.length) throw new CommandInputError(vscode.l10n.t('{0} is not a task.yml of this workspace (or does not parse).', ref.file as string));
    const plan = plans.find((p) => p.events.some((e) => e.name === ref.event));
    const event = plan?.events.find((e) => e.name === ref.event);
    if (!plan || !event) throw new CommandInputError(vscode.l10n.t('No task.yml {0}defines the event "{1}".', file ? `(${vscode.workspace.asRelativePath(file)}) ` : '', ref.event));
    const item = new PlanEventItem(plan, event);
    await this.treeView.reveal(item, { select: true, focus: true, expand: true });
    return item.id ?? '';
  }

  getParent(element: PhasesViewItem): PhasesViewItem | undefined {
    if (element instanceof PlanEventItem) return new PatternItem(element.plan);
    if (element instanceof PlanPhaseItem) return new PlanEventItem(element.plan, element.event);
    if (element instanceof OperationItem) return this.operationParents.get(element.id ?? '');
    return undefined;
  }

  private attach(): void {
    const state = this.connections.state;
    this.follower.follow(state?.kind === 'connected' ? state.catalog : undefined);
    this.changed.fire();
  }

  private nodes(): CatalogNode[] | undefined {
    const state = this.connections.state;
    if (state?.kind !== 'connected') return undefined;
    const s = state.catalog.current;
    return s.kind === 'ready' ? s.data.nodes : s.kind === 'error' ? s.data?.nodes : undefined;
  }

  getTreeItem(element: PhasesViewItem): vscode.TreeItem {
    return element;
  }

  getChildren(element?: PhasesViewItem): PhasesViewItem[] {
    if (!element) {
      const plans = this.workspace.plans();
      const broken = this.workspace.all().filter((f) => !f.plan);
      return [
        ...plans.map((p) => new PatternItem(p)),
        ...broken.map((f) => new MessageItem(vscode.l10n.t('{0} does not parse: see the Problems panel', vscode.workspace.asRelativePath(f.uri)), 'error')),
      ];
    }
    if (element instanceof PatternItem) return element.plan.events.map((e) => new PlanEventItem(element.plan, e));
    if (element instanceof PlanEventItem) {
      const nodes = this.nodes();
      return eventPhases(element.event).map((ph, i) => new PlanPhaseItem(element.plan, element.event, ph, i, nodes ? phaseTargets(ph, nodes) : undefined));
    }
    if (element instanceof PlanPhaseItem) {
      const task = findTask(element.plan, element.phase.task);
      if (!task) return [new MessageItem(vscode.l10n.t('Task "{0}" is not defined in {1}', element.phase.task, path.basename(element.plan.filePath)), 'error')];
      return task.operations.map((op, i) => {
        const item = new OperationItem(element.plan, op, element.id ?? '', i);
        this.operationParents.set(item.id ?? '', element);
        return item;
      });
    }
    return [];
  }

  dispose(): void {
    this.changed.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
