/**
 * The run monitor: `chefConsul.openRunMonitor` `{ id }` opens (or reveals)
 * the panel of a run and returns its ID; a serializer re-attaches panels
 * after a window reload; openAfterStart() is what starting a run calls when
 * `chefConsul.openMonitorOnRun` is on.
 */
import * as vscode from 'vscode';
import { listRuns } from '../../core/runs/history';
import { CONFIG_SECTION } from '../connectionManager';
import { CommandInputError, showError } from '../commands/register';
import type { MonitorDeps } from './monitorPanel';
import { MonitorPanel, webviewOptions } from './monitorPanel';
import type { MonitorViewState } from './protocol';
import { MONITOR_VIEW_TYPE } from './protocol';

export class RunMonitor implements vscode.Disposable {
  private static current: RunMonitor | undefined;
  private readonly panels = new Map<string, MonitorPanel>();

  constructor(private readonly deps: MonitorDeps) {
    RunMonitor.current = this;
  }

  /**
   * For the code that starts runs (runCommands.ts, right after a run was
   * started): opens the monitor beside the editor, without taking focus,
   * when the setting `chefConsul.openMonitorOnRun` is on.
   */
  static openAfterStart(id: string): void {
    const monitor = RunMonitor.current;
    if (!monitor || !vscode.workspace.getConfiguration(CONFIG_SECTION).get<boolean>('openMonitorOnRun')) return;
    monitor.open(id, true).catch((e) => monitor.deps.log.warn(`run monitor ${id}: ${e instanceof Error ? e.message : String(e)}`));
  }

  /** Opens the run's panel, or reveals it when it is open already; returns the run ID. */
  async open(id: string, preserveFocus = false): Promise<string> {
    const known = this.panels.get(id);
    if (known) {
      known.panel.reveal(undefined, preserveFocus);
      return id;
    }
    const panel = vscode.window.createWebviewPanel(MONITOR_VIEW_TYPE, vscode.l10n.t('Run Monitor'), { viewColumn: vscode.ViewColumn.Active, preserveFocus }, webviewOptions(this.deps.extensionUri));
    this.adopt(panel, id);
    return id;
  }

  private adopt(panel: vscode.WebviewPanel, id: string, state?: MonitorViewState): MonitorPanel {
    const monitor = new MonitorPanel(panel, id, this.deps, state);
    this.panels.set(id, monitor);
    monitor.onDidClose(() => {
      if (this.panels.get(id) === monitor) this.panels.delete(id);
    });
    return monitor;
  }

  /** Without an ID, a pick of the runs in this editor and in history. */
  private async pick(): Promise<string | undefined> {
    const live = this.deps.registry.all().map((r) => r.snapshot());
    let recorded: typeof live = [];
    const state = this.deps.connections.state;
    if (state?.kind === 'connected') recorded = await listRuns(state.connection).catch(() => []);
    const seen = new Set<string>();
    const items = [...live, ...recorded]
      .filter((r) => !seen.has(r.id) && seen.add(r.id))
      .sort((a, b) => b.startedAt - a.startedAt)
      .map((r) => ({ label: r.event ?? r.command ?? r.id, description: [r.status, r.engine, new Date(r.startedAt).toLocaleString()].join(' · '), detail: r.id, id: r.id }));
    if (!items.length) throw new CommandInputError(vscode.l10n.t('No run to show: start one, or connect to a cluster with run history.'));
    return (await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Run to monitor'), matchOnDetail: true }))?.id;
  }

  register(): vscode.Disposable[] {
    return [
      // From the Runs view the argument is the run's tree item; from a caller, `{ id }`.
      vscode.commands.registerCommand('chefConsul.openRunMonitor', async (a?: unknown) => {
        try {
          const x = a as { id?: unknown; run?: { id?: unknown } } | undefined;
          const given = a instanceof vscode.TreeItem ? x?.run?.id : x?.id;
          if (a !== undefined && !(a instanceof vscode.TreeItem) && (typeof given !== 'string' || !given)) {
            throw new CommandInputError(vscode.l10n.t('"id" is required: the ID of the run to monitor.'));
          }
          const id = typeof given === 'string' && given ? given : await this.pick();
          return id ? await this.open(id) : undefined;
        } catch (e) {
          this.deps.log.error(`chefConsul.openRunMonitor: ${e instanceof Error ? e.message : String(e)}`);
          showError(e);
          throw e;
        }
      }),
      vscode.window.registerWebviewPanelSerializer(MONITOR_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: MonitorViewState | undefined) => {
          if (typeof state?.id !== 'string' || !state.id || this.panels.has(state.id)) {
            panel.dispose();
            return;
          }
          this.adopt(panel, state.id, state);
        },
      }),
      this,
    ];
  }

  dispose(): void {
    for (const p of this.panels.values()) p.dispose();
    this.panels.clear();
    if (RunMonitor.current === this) RunMonitor.current = undefined;
  }
}
