/**
 * Runs view: past and current runs from KV (ours and metronome's), newest
 * first; a run expands to its phases and nodes; a node opens its output.
 */
import * as vscode from 'vscode';
import { kvKeysMethod } from '../../core/consul/kvMethods';
import { LiveQuery } from '../../core/consul/liveQuery';
import type { NodeRun, PhaseRun, RunSnapshot } from '../../core/runs/model';
import { isFinished } from '../../core/runs/model';
import { listRuns, readRun } from '../../core/runs/history';
import { RESULTS_PREFIX } from '../../core/runs/metronomeLayout';
import type { RunRegistry } from '../../core/runs/registry';
import { RUN_LOCK_KEY } from '../../core/runs/runLock';
import type { ConnectionManager } from '../connectionManager';
import { MessageItem } from './catalogItems';
import { VisibleFollower } from './visibleFollower';
import type { RunChefReports } from '../../core/chef/runReports';
import { chefNodeDescription } from '../chef/chefNodeDescription';
import { CommandInputError, showError } from '../commands/register';

const ICONS: Record<string, [string, string | undefined]> = {
  pending: ['circle-outline', undefined],
  running: ['sync~spin', 'charts.blue'],
  success: ['pass-filled', 'testing.iconPassed'],
  error: ['error', 'testing.iconFailed'],
  timeout: ['watch', 'testing.iconFailed'],
  lost: ['question', 'testing.iconFailed'],
  skipped: ['debug-step-over', undefined],
  cancelled: ['circle-slash', undefined],
  interrupted: ['debug-disconnect', 'list.warningForeground'],
};

export function statusIcon(status: string): vscode.ThemeIcon {
  const [id, color] = ICONS[status] ?? ['circle-outline', undefined];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || ms < 0) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** An untrusted Markdown tooltip: every value from a run, a node or a report goes in as text. */
function tooltip(title: string, rows: Array<[string, string | number | undefined]>, note?: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  md.appendMarkdown('**').appendText(title).appendMarkdown('**  \n');
  for (const [label, value] of rows) {
    if (value === undefined || value === '') continue;
    md.appendText(`${label}: ${value}`).appendMarkdown('  \n');
  }
  if (note) md.appendMarkdown('\n').appendText(note);
  return md;
}

function time(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toLocaleString();
}

export class RunItem extends vscode.TreeItem {
  readonly kind = 'run';
  constructor(
    readonly run: RunSnapshot,
    /** What the run is doing before its first phase, e.g. whom it waits for. */
    readonly note?: string,
  ) {
    super(run.event ?? run.command ?? run.id, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `run:${run.id}`;
    const duration = formatDuration((run.endedAt ?? (isFinished(run.status) ? undefined : Date.now())) !== undefined ? (run.endedAt ?? Date.now()) - run.startedAt : undefined);
    this.description = [note, run.engine, note ? undefined : run.status, duration, new Date(run.startedAt).toLocaleString(), run.startedBy].filter(Boolean).join(' · ');
    this.iconPath = statusIcon(run.status);
    // chefConsul.run.<running|finished>.<engine>: menus match the prefix, Follow only a metronome run.
    this.contextValue = `chefConsul.run.${isFinished(run.status) ? 'finished' : 'running'}.${run.engine}`;
    this.tooltip = tooltip(
      run.event ?? run.command ?? run.id,
      [
        [vscode.l10n.t('Run ID'), run.id],
        [vscode.l10n.t('Status'), run.status],
        [vscode.l10n.t('Engine'), run.engine],
        [vscode.l10n.t('Started'), time(run.startedAt)],
        [vscode.l10n.t('Ended'), time(run.endedAt)],
        [vscode.l10n.t('Duration'), duration],
        [vscode.l10n.t('Started by'), run.startedBy],
        [vscode.l10n.t('Now'), note],
      ],
      run.message,
    );
  }
}

export class PhaseItem extends vscode.TreeItem {
  readonly kind = 'phase';
  constructor(
    readonly run: RunSnapshot,
    readonly phase: PhaseRun,
  ) {
    super(`${phase.no + 1}. ${phase.task}`, phase.nodes.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    this.id = `run:${run.id}/phase:${phase.no}`;
    const target = [phase.service && `service ${phase.service}`, phase.tag && `tag ${phase.tag}`].filter(Boolean).join(', ') || vscode.l10n.t('all nodes');
    this.description = [phase.status, target, formatDuration(phase.endedAt && phase.startedAt ? phase.endedAt - phase.startedAt : undefined)].filter(Boolean).join(' · ');
    this.iconPath = statusIcon(phase.status);
    this.tooltip = tooltip(
      `${phase.no + 1}. ${phase.task}`,
      [
        [vscode.l10n.t('Status'), phase.status],
        [vscode.l10n.t('Target'), target],
        [vscode.l10n.t('Pattern'), phase.pattern],
        [vscode.l10n.t('Started'), time(phase.startedAt)],
        [vscode.l10n.t('Ended'), time(phase.endedAt)],
        [vscode.l10n.t('Nodes'), phase.nodes.length],
      ],
      phase.message,
    );
    this.contextValue = phase.status === 'error' || phase.status === 'timeout' ? 'chefConsul.phase.failed' : 'chefConsul.phase';
  }
}

export class NodeRunItem extends vscode.TreeItem {
  readonly kind = 'nodeRun';
  constructor(
    readonly run: RunSnapshot,
    readonly phase: PhaseRun,
    readonly node: NodeRun,
    /** The node's Chef summary ("Chef: 3/12 updated"), when its output is a Chef run. */
    chef = '',
  ) {
    super(node.node, vscode.TreeItemCollapsibleState.None);
    this.id = `run:${run.id}/phase:${phase.no}/node:${node.node}`;
    this.description = [node.status, node.exitCode !== undefined ? `exit ${node.exitCode}` : '', chef, node.note ?? ''].filter(Boolean).join(' · ');
    this.iconPath = statusIcon(node.status);
    this.contextValue = 'chefConsul.nodeRun';
    this.command = { command: 'chefConsul.openNodeOutput', title: vscode.l10n.t('Open Output'), arguments: [{ id: run.id, phase: phase.no, node: node.node }] };
    this.tooltip = tooltip(
      node.node,
      [
        [vscode.l10n.t('Status'), node.status],
        [vscode.l10n.t('Exit code'), node.exitCode],
        [vscode.l10n.t('Chef'), chef],
        [vscode.l10n.t('Started'), time(node.startedAt)],
        [vscode.l10n.t('Ended'), time(node.endedAt)],
        [vscode.l10n.t('Duration'), formatDuration(node.endedAt && node.startedAt ? node.endedAt - node.startedAt : undefined)],
        [vscode.l10n.t('Run ID'), run.id],
      ],
      node.note,
    );
  }
}

type RunsViewItem = RunItem | PhaseItem | NodeRunItem | MessageItem;

export class RunsView implements vscode.TreeDataProvider<RunsViewItem>, vscode.Disposable {
  static readonly id = 'chefConsul.runs';
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly treeView: vscode.TreeView<RunsViewItem>;
  private history: RunSnapshot[] = [];
  private historyError: string | undefined;
  private loaded = false;
  private query: LiveQuery<unknown> | undefined;
  private readonly follower: VisibleFollower<unknown>;
  /** The run lock: its session expiring is how another editor's run becomes interrupted. */
  private lockQuery: LiveQuery<unknown> | undefined;
  private readonly lockFollower: VisibleFollower<unknown>;
  private readonly details = new Map<string, RunSnapshot>();
  private readonly disposables: vscode.Disposable[] = [];
  private chef: RunChefReports | undefined;
  /** Last value of the chefConsul.runs.empty context key (the "no runs yet" welcome). */
  private empty: boolean | undefined;
  /** Notes on runs before their first phase (whom they wait for), by run ID. */
  private readonly notes = new Map<string, string>();
  /** Ends the view's progress bar once no run is running. */
  private endProgress: (() => void) | undefined;
  private runningCount = 0;
  private disposed = false;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly registry: RunRegistry,
  ) {
    this.treeView = vscode.window.createTreeView(RunsView.id, { treeDataProvider: this, showCollapseAll: true });
    const live = registry.onDidChange((c) => {
      this.changed.fire();
      // Statuses move in run changes only; a node's change leaves the count as it was.
      if (c.kind === 'run') this.updateRunning();
    });
    this.follower = new VisibleFollower(this.treeView, (s) => {
      if (s.kind === 'ready') void this.reload();
      else if (s.kind === 'error') {
        this.historyError = s.error.message;
        this.changed.fire();
      }
    });
    this.lockFollower = new VisibleFollower(this.treeView, (s) => {
      if (s.kind === 'ready') void this.reload();
    });
    this.disposables.push(
      this.treeView,
      this.follower,
      this.lockFollower,
      { dispose: () => live.dispose() },
      connections.onDidChange(() => this.reset()),
      connections.onDidChangeHealth(() => {
        // The failure in a few words in the title bar; the welcome content explains it.
        this.treeView.description = connections.shortReason;
        this.changed.fire();
      }),
      vscode.commands.registerCommand('chefConsul.runs.reveal', async (a?: { id?: string; phase?: number; node?: string }) => {
        try {
          return await this.reveal(a ?? {});
        } catch (e) {
          showError(e);
          throw e;
        }
      }),
    );
    this.reset();
  }

  private reset(): void {
    this.follower.follow(undefined);
    this.lockFollower.follow(undefined);
    this.query?.dispose();
    this.lockQuery?.dispose();
    this.query = this.lockQuery = undefined;
    this.history = [];
    this.details.clear();
    this.loaded = false;
    this.updateRunning();
    const state = this.connections.state;
    // No message: VS Code hides welcome content while a view has one (the welcome links to the reason).
    this.treeView.message = undefined;
    this.treeView.description = this.connections.shortReason;
    if (state?.kind === 'connected') {
      // Any write under metronome/results moves this index: one long-poll tells when to re-read.
      this.query = new LiveQuery(state.connection, { method: kvKeysMethod(`${RESULTS_PREFIX}/`, '/'), path: `/v1/kv/${RESULTS_PREFIX}/?keys`, transform: (b) => b, coalesceMs: 500 });
      this.lockQuery = new LiveQuery(state.connection, { method: kvKeysMethod(RUN_LOCK_KEY), path: `/v1/kv/${RUN_LOCK_KEY}?keys`, transform: (b) => b, coalesceMs: 500 });
    }
    this.follower.follow(this.query);
    this.changed.fire();
  }

  async reload(): Promise<void> {
    const state = this.connections.state;
    if (state?.kind !== 'connected') return;
    try {
      this.history = await listRuns(state.connection, new Map(this.history.map((r) => [r.id, r])));
      this.historyError = undefined;
      // Details of finished runs do not change; running ones are read again when opened.
      for (const r of this.history) if (!isFinished(r.status)) this.details.delete(r.id);
    } catch (e) {
      this.historyError = (e as Error).message;
    }
    this.loaded = true;
    this.updateRunning();
    // Only while another editor's ordered run is under way: its lock going away
    // (session expired) is the one change that writes nothing under the results.
    const foreignRunning = this.history.some((r) => !isFinished(r.status) && r.engine !== 'metronome' && !this.registry.get(r.id));
    this.lockFollower.follow(foreignRunning ? this.lockQuery : undefined);
    this.changed.fire();
  }

  /**
   * History merged with the live runs of this editor, which are fresher. A
   * live run's row needs only its head (its phases are read when expanded), so
   * no copy of its nodes is made on every redraw.
   */
  runs(): RunSnapshot[] {
    const live = new Map(this.registry.all().map((r): [string, RunSnapshot] => [r.id, { ...(r.view() as RunSnapshot), phases: [] }]));
    const merged = [...live.values(), ...this.history.filter((h) => !live.has(h.id))];
    return merged.sort((a, b) => b.startedAt - a.startedAt);
  }

  getTreeItem(element: RunsViewItem): vscode.TreeItem {
    return element;
  }

  async getChildren(element?: RunsViewItem): Promise<RunsViewItem[]> {
    if (!element) {
      // A connection that never answered: its welcome content, unless this editor has live runs to show.
      if (this.connections.failure && !this.registry.all().length) return this.setEmpty(false), [];
      const runs = this.runs();
      // No runs yet: the welcome content says how to start one.
      this.setEmpty(this.loaded && !this.historyError && !runs.length && this.connections.state?.kind === 'connected');
      const items = runs.map((r) => new RunItem(r, this.notes.get(r.id)));
      if (this.historyError) return [new MessageItem(this.historyError, 'error'), ...items];
      if (!runs.length) return this.loaded || this.connections.state?.kind !== 'connected' ? [] : [new MessageItem(vscode.l10n.t('Reading runs from {0}/…', RESULTS_PREFIX), 'loading')];
      return items;
    }
    if (element instanceof RunItem) {
      const run = await this.detail(element.run);
      return run.phases.map((p) => new PhaseItem(run, p));
    }
    if (element instanceof PhaseItem) {
      const chef = this.chef;
      if (chef && !this.registry.get(element.run.id)) {
        // A run from history: its logs are parsed once, on demand; each report redraws the view when ready.
        for (const n of element.phase.nodes) if (!chef.summaryOf(element.run.id, element.phase.no, n.node)) void chef.load(element.run.id, element.phase.no, n.node).catch(() => undefined);
      }
      return element.phase.nodes.map((n) => new NodeRunItem(element.run, element.phase, n, chefNodeDescription(chef?.summaryOf(element.run.id, element.phase.no, n.node))));
    }
    return [];
  }

  getParent(element: RunsViewItem): RunsViewItem | undefined {
    if (element instanceof NodeRunItem) return new PhaseItem(element.run, element.phase);
    if (element instanceof PhaseItem) return new RunItem(element.run);
    return undefined;
  }

  /** Sets or clears a run's note (e.g. "waiting for run … by …"), shown in its row and tooltip. */
  setNote(id: string, note: string | undefined): void {
    if ((note ?? undefined) === this.notes.get(id)) return;
    if (note) this.notes.set(id, note);
    else this.notes.delete(id);
    this.changed.fire();
  }

  /** Runs running now, this editor's and others' (the view's badge). */
  get running(): number {
    return this.runningCount;
  }

  /** The badge counts running runs; the view shows progress while there is one. */
  private updateRunning(): void {
    const live = this.registry.all();
    const liveIds = new Set(live.map((r) => r.id));
    const count = live.filter((r) => !isFinished(r.status)).length + this.history.filter((r) => !liveIds.has(r.id) && !isFinished(r.status)).length;
    if (count === this.runningCount) return;
    this.runningCount = count;
    this.treeView.badge = count ? { value: count, tooltip: count === 1 ? vscode.l10n.t('1 run running') : vscode.l10n.t('{0} runs running', count) } : undefined;
    if (count && !this.endProgress) {
      void vscode.window.withProgress({ location: { viewId: RunsView.id } }, () => new Promise<void>((resolve) => (this.endProgress = resolve)));
    } else if (!count && this.endProgress) {
      this.endProgress();
      this.endProgress = undefined;
    }
  }

  private setEmpty(empty: boolean): void {
    if (this.empty === empty) return;
    this.empty = empty;
    void vscode.commands.executeCommand('setContext', 'chefConsul.runs.empty', empty);
  }

  /** Whether the view shows the "no runs yet" welcome (tests read it). */
  get showsNoRuns(): boolean {
    return this.empty === true;
  }

  /**
   * Shows a run, one of its phases, or one node of a phase in the view, selected.
   * Returns the revealed item's tree ID (run:<id>[/phase:<no>[/node:<name>]]).
   */
  async reveal(ref: { id?: string; phase?: number; node?: string }): Promise<string> {
    if (!ref.id || typeof ref.id !== 'string') throw new CommandInputError(vscode.l10n.t('"id" is required.'));
    if (ref.phase !== undefined && typeof ref.phase !== 'number') throw new CommandInputError(vscode.l10n.t('"phase" must be a number.'));
    if (ref.node !== undefined && ref.phase === undefined) throw new CommandInputError(vscode.l10n.t('"node" needs "phase".'));
    let head = this.runs().find((r) => r.id === ref.id);
    if (!head) {
      await this.reload();
      head = this.runs().find((r) => r.id === ref.id);
    }
    if (!head) throw new CommandInputError(vscode.l10n.t('No run {0} in the Runs view.', ref.id));
    const run = await this.detail(head);
    let item: RunsViewItem = new RunItem(run);
    if (ref.phase !== undefined) {
      const phase = run.phases.find((p) => p.no === ref.phase);
      if (!phase) throw new CommandInputError(vscode.l10n.t('Run {0} has no phase {1}.', run.id, ref.phase));
      item = new PhaseItem(run, phase);
      if (ref.node !== undefined) {
        const node = phase.nodes.find((n) => n.node === ref.node);
        if (!node) throw new CommandInputError(vscode.l10n.t('Phase {0} of run {1} has no node {2}.', ref.phase, run.id, ref.node));
        item = new NodeRunItem(run, phase, node);
      }
    }
    // A refresh the view still has pending (the extension host sends them debounced) can reach the
    // workbench after the reveal and leave the item unselected: seen right after a run ended in a view
    // shown before. Revealed again (without taking the focus again) until the workbench reports the
    // selection, three times at most, waiting up to 1 s each; a selection of another item meanwhile
    // (the person clicked elsewhere) ends it.
    const before = selectionKey(this.treeView.selection);
    for (let attempt = 0; attempt < 3 && !this.disposed; attempt++) {
      await this.treeView.reveal(item, { select: true, focus: attempt === 0 });
      const outcome = await this.selectionOutcome(item.id ?? '', before, 1000);
      if (outcome !== 'none') break;
    }
    return item.id ?? '';
  }

  /**
   * What the view's selection, as the workbench reports it, is or becomes within `ms`: the item with
   * this ID, another one than `before` (the selection before the reveal), or neither.
   */
  private selectionOutcome(id: string, before: string, ms: number): Promise<'item' | 'other' | 'none'> {
    const outcome = (): 'item' | 'other' | 'none' => {
      const selection = this.treeView.selection;
      if (selection.some((s) => s.id === id)) return 'item';
      return selection.length && selectionKey(selection) !== before ? 'other' : 'none';
    };
    if (outcome() === 'item') return Promise.resolve('item');
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sub.dispose();
        resolve(outcome());
      };
      const timer = setTimeout(done, ms);
      const sub = this.treeView.onDidChangeSelection(() => {
        if (outcome() !== 'none') done();
      });
    });
  }

  /** Chef summaries on node items, from the one report model; redrawn at most every 500 ms as reports grow. */
  useChefReports(reports: RunChefReports): vscode.Disposable {
    this.chef = reports;
    let timer: NodeJS.Timeout | undefined;
    const sub = reports.onDidChange(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        this.changed.fire();
      }, 500);
    });
    return { dispose: () => (clearTimeout(timer), sub.dispose()) };
  }

  private async detail(run: RunSnapshot): Promise<RunSnapshot> {
    const live = this.registry.get(run.id);
    if (live) return live.snapshot();
    const cached = this.details.get(run.id);
    if (cached) return cached;
    const state = this.connections.state;
    if (state?.kind !== 'connected') return run;
    const full = (await readRun(state.connection, run.id)) ?? run;
    this.details.set(run.id, full);
    return full;
  }

  dispose(): void {
    this.disposed = true;
    this.endProgress?.();
    this.follower.dispose();
    this.lockFollower.dispose();
    this.query?.dispose();
    this.lockQuery?.dispose();
    this.changed.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

/** A selection's item IDs, to tell one selection from another. */
function selectionKey(selection: readonly RunsViewItem[]): string {
  return selection.map((s) => s.id ?? '').join('\n');
}
