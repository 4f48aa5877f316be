/** The Watches view: each watch with its state, when it last fired and why. */
import * as vscode from 'vscode';
import { consulWatchArgs, describeTarget } from '../../core/watches/model';
import type { WatchEntry, WatchManager } from './watchManager';

export class WatchItem extends vscode.TreeItem {
  constructor(
    readonly entry: WatchEntry,
    now: number,
    connected = true,
    /** The PID of the window that runs the watches, when not this one. */
    elsewhere?: number,
  ) {
    super(entry.definition.name, vscode.TreeItemCollapsibleState.None);
    const w = entry.definition;
    const s = entry.runner.state;
    this.id = `watch:${w.name}`;
    const paused = w.paused === true;
    const when = s.lastFired ? vscode.l10n.t('fired {0}', relative(now - s.lastFired)) : vscode.l10n.t('not fired yet');
    const other =
      elsewhere === undefined ? undefined : elsewhere > 0 ? vscode.l10n.t('running in another window (pid {0})', elsewhere) : vscode.l10n.t('not running: the window lock file cannot be written');
    this.description = other ? `${other} · ${when}` : paused ? vscode.l10n.t('paused · {0}', when) : s.kind === 'error' ? vscode.l10n.t('error · {0}', s.error ?? '') : s.kind === 'idle' ? (connected ? vscode.l10n.t('starting…') : vscode.l10n.t('not connected')) : when;
    this.iconPath = other
      ? new vscode.ThemeIcon('window')
      : paused
      ? new vscode.ThemeIcon('debug-pause')
      : s.kind === 'error'
        ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
        : s.kind === 'watching'
          ? new vscode.ThemeIcon('eye')
          : new vscode.ThemeIcon('eye-closed');
    const keyType = w.type === 'key' || w.type === 'keyprefix';
    this.contextValue = `chefConsul.watch.${paused ? 'paused' : 'running'}${s.lastFired ? '.fired' : ''}${keyType ? '.kv' : ''}`;
    // Names, keys, check output and errors come from settings and the cluster: plain text only.
    const tip = new vscode.MarkdownString(undefined, true);
    tip.isTrusted = false;
    tip.supportHtml = false;
    tip.appendMarkdown('**').appendText(w.name).appendMarkdown('**  \n');
    tip.appendText(`${describeTarget(w)} (consul watch ${consulWatchArgs(w).join(' ')})`).appendMarkdown('  \n');
    tip.appendText(vscode.l10n.t('State: {0}', other ?? (paused ? vscode.l10n.t('paused') : s.kind))).appendMarkdown('  \n');
    if (s.error) tip.appendText(s.error).appendMarkdown('  \n');
    if (s.lastFired) {
      tip.appendText(vscode.l10n.t('Last fired {0}: {1}', new Date(s.lastFired).toLocaleString(), s.why ?? '')).appendMarkdown('  \n');
    }
    tip.appendText(vscode.l10n.t('Actions: {0}', w.actions.map((a) => a.type).join(', ')));
    this.tooltip = tip;
    if (s.lastFired) this.command = { command: 'chefConsul.watches.showLastChange', title: vscode.l10n.t('Show Last Change'), arguments: [this] };
  }
}

export class ProblemItem extends vscode.TreeItem {
  constructor(problem: string) {
    super(problem, vscode.TreeItemCollapsibleState.None);
    this.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
    this.tooltip = problem;
    this.contextValue = 'chefConsul.watchProblem';
    this.command = { command: 'chefConsul.watches.edit', title: vscode.l10n.t('Edit') };
  }
}

function relative(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return vscode.l10n.t('{0}s ago', s);
  const m = Math.round(s / 60);
  if (m < 60) return vscode.l10n.t('{0} min ago', m);
  const h = Math.round(m / 60);
  if (h < 48) return vscode.l10n.t('{0} h ago', h);
  return vscode.l10n.t('{0} days ago', Math.round(h / 24));
}

export class WatchesView implements vscode.TreeDataProvider<WatchItem | ProblemItem>, vscode.Disposable {
  static readonly id = 'chefConsul.watches';
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly treeView: vscode.TreeView<WatchItem | ProblemItem>;
  private readonly disposables: vscode.Disposable[] = [];
  private tick: NodeJS.Timeout | undefined;

  constructor(private readonly manager: WatchManager) {
    this.treeView = vscode.window.createTreeView(WatchesView.id, { treeDataProvider: this });
    this.disposables.push(this.treeView, this.changed, manager.onDidChange(() => this.changed.fire(undefined)));
    // "fired 2 min ago" ages while visible.
    this.tick = setInterval(() => this.treeView.visible && this.changed.fire(undefined), 30_000);
  }

  getTreeItem(element: WatchItem | ProblemItem): vscode.TreeItem {
    return element;
  }

  getChildren(element?: WatchItem | ProblemItem): (WatchItem | ProblemItem)[] {
    if (element) return [];
    const now = Date.now();
    const connected = this.manager.connected;
    const elsewhere = this.manager.runningElsewhere;
    return [...this.manager.list().map((e) => new WatchItem(e, now, connected, elsewhere)), ...this.manager.problems.map((p) => new ProblemItem(p))];
  }

  dispose(): void {
    clearInterval(this.tick);
    this.disposables.forEach((d) => d.dispose());
  }
}
