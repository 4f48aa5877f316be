/**
 * One run monitor panel: a webview showing one run, fed from the run model
 * only — live from the registry while this editor drives the run, else read
 * from KV (polled while the run goes on elsewhere). The page is rebuilt from
 * the extension whenever it loads (shown again, window reloaded): no
 * retainContextWhenHidden.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { ChefSummary } from '../../core/chef/report';
import type { Disposable } from '../../core/util/emitter';
import { listRuns, readNodeLog, readRun } from '../../core/runs/history';
import type { RunSnapshot } from '../../core/runs/model';
import { FINISHED_NODE, isFinished } from '../../core/runs/model';
import type { RunOutputFiles } from '../../core/runs/outputStore';
import { TAIL_BYTES } from '../../core/runs/outputStore';
import type { RunRegistry } from '../../core/runs/registry';
import type { ConnectionManager } from '../connectionManager';
import { MonitorSession } from './monitorSession';
import type { ChefCell, FromPage, MonitorAction, MonitorViewState, ToPage } from './protocol';
import { parseFromPage } from './protocol';

/** What the monitor needs of the Chef reports (src/core/chef/runReports.ts RunChefReports). */
export interface ChefSummaries {
  summaryOf(id: string, phase: number, node: string): ChefSummary | undefined;
  load?(id: string, phase: number, node: string): Promise<unknown>;
  onDidChange(listener: (ref: { id: string; phase: number; node: string }) => void): Disposable;
}

export interface MonitorDeps {
  extensionUri: vscode.Uri;
  registry: RunRegistry;
  connections: ConnectionManager;
  files?: RunOutputFiles;
  chef?: ChefSummaries;
  log: vscode.LogOutputChannel;
}

/** How often a run followed from KV (not driven by this editor) is read again. */
const HISTORY_POLL_MS = 2000;

export const bundleDir = (extensionUri: vscode.Uri) => vscode.Uri.joinPath(extensionUri, 'dist', 'webview');

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [bundleDir(extensionUri)] };
}

export class MonitorPanel {
  private readonly session: MonitorSession;
  private readonly subscriptions: vscode.Disposable[] = [];
  private liveSubs: Disposable[] = [];
  private pageWaiting = false;
  private ready = false;
  private restored: MonitorViewState | undefined;
  private source: 'live' | 'history' = 'history';
  private poll: NodeJS.Timeout | undefined;
  private loadedLogs = new Set<string>();
  private disposed = false;
  private readonly closed = new vscode.EventEmitter<void>();
  readonly onDidClose = this.closed.event;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly id: string,
    private readonly deps: MonitorDeps,
    restored?: MonitorViewState,
  ) {
    this.session = new MonitorSession(id);
    this.restored = restored;
    this.session.onQueued = () => this.sendIfWaiting();
    panel.webview.options = webviewOptions(deps.extensionUri);
    this.subscriptions.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const m = parseFromPage(raw);
        if (m) void this.receive(m);
      }),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => {
        // Hidden, the page is gone: nothing can be waiting for a frame.
        if (!panel.visible) this.ready = this.pageWaiting = false;
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.render()),
    );
    this.render();
    void this.attach();
  }

  /** A fresh page (new nonce); it posts `ready` and is sent everything held. */
  private render(): void {
    this.ready = this.pageWaiting = false;
    this.panel.webview.html = pageHtml(this.panel.webview, this.deps.extensionUri, this.id);
  }

  private post(message: ToPage): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private sendIfWaiting(): void {
    if (!this.ready || !this.pageWaiting) return;
    const batch = this.session.takeBatch();
    if (!batch) return;
    this.pageWaiting = false;
    this.post(batch);
  }

  private async receive(m: FromPage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.pageWaiting = false;
        if (m.state?.id === this.id) this.restored = m.state;
        this.sendInit();
        return;
      case 'frame':
        this.pageWaiting = true;
        this.sendIfWaiting();
        return;
      case 'state':
        this.restored = m.state;
        return;
      case 'action':
        try {
          await this.act(m.action);
        } catch (e) {
          // The command itself told the user; the page says it too, next to the button.
          this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
        }
    }
  }

  private sendInit(): void {
    const run = this.session.run;
    if (!run) return; // sent once the run is known
    const { lines, cut, chef } = this.session.initial();
    this.post({ type: 'init', run, source: this.source, lines, cut, chef, averageMs: this.session.averageMs, restored: this.restored, trusted: vscode.workspace.isTrusted, l10n: vscode.l10n.bundle });
  }

  /** Live from the registry when this editor has the run, else from KV. */
  private async attach(): Promise<void> {
    const live = this.deps.registry.get(this.id);
    try {
      if (live) this.attachLive();
      else await this.attachHistory();
    } catch (e) {
      this.post({ type: 'error', message: vscode.l10n.t('Run {0} cannot be shown: {1}', this.id, e instanceof Error ? e.message : String(e)) });
      return;
    }
    this.panel.title = title(this.session.run);
    this.sendInit();
    void this.loadAverage();
  }

  private attachLive(): void {
    const run = this.deps.registry.get(this.id)!;
    this.source = 'live';
    const s = run.snapshot();
    for (const p of s.phases) {
      for (const n of p.nodes) {
        const { text, dropped } = run.outputTail(p.no, n.node);
        if (text) this.session.seed(p.no, n.node, text, dropped > 0);
        this.chefCell(p.no, n.node);
      }
    }
    this.session.snapshot(s);
    this.liveSubs.push(
      this.deps.registry.onOutput((c) => {
        if (c.id === this.id) this.session.output(c.phase, c.node, c.text);
      }),
      this.deps.registry.onDidChange((c) => {
        if (c.id !== this.id) return;
        this.session.change(run, c);
        if (c.kind === 'run') this.panel.title = title(run.view());
      }),
    );
    if (this.deps.chef) {
      this.liveSubs.push(this.deps.chef.onDidChange((ref) => ref.id === this.id && this.chefCell(ref.phase, ref.node)));
    }
  }

  private chefCell(phase: number, node: string): void {
    const summary = this.deps.chef?.summaryOf(this.id, phase, node);
    if (summary?.chef) this.session.chef(toCell(phase, node, summary));
  }

  private async attachHistory(): Promise<void> {
    this.source = 'history';
    const state = await this.deps.connections.connected();
    const run = await readRun(state.connection, this.id);
    if (!run) throw new Error(vscode.l10n.t('no run {0} in this cluster\'s history', this.id));
    await this.loadHistoryLogs(run);
    this.session.snapshot(run);
    if (this.deps.chef) this.liveSubs.push(this.deps.chef.onDidChange((ref) => ref.id === this.id && this.chefCell(ref.phase, ref.node)));
    if (!isFinished(run.status)) this.poll = setTimeout(() => void this.pollHistory(), HISTORY_POLL_MS);
  }

  /** Logs of nodes that have ended and were not read yet: from this editor's file when it has one (complete), else KV. */
  private async loadHistoryLogs(run: RunSnapshot): Promise<void> {
    const state = await this.deps.connections.connected();
    for (const p of run.phases) {
      for (const n of p.nodes) {
        const key = `${p.no}/${n.node}`;
        if (this.loadedLogs.has(key) || !FINISHED_NODE.includes(n.status)) continue;
        this.loadedLogs.add(key);
        const file = await this.deps.files?.readTail(this.id, p.no, n.node, TAIL_BYTES);
        const text = file?.text ?? (await readNodeLog(state.connection, this.id, p.no, n.node));
        this.session.seed(p.no, n.node, text, file?.cut ?? text.startsWith('[… '));
        if (this.deps.chef?.load) await this.deps.chef.load(this.id, p.no, n.node).catch(() => undefined);
        this.chefCell(p.no, n.node);
      }
    }
  }

  private async pollHistory(): Promise<void> {
    this.poll = undefined;
    if (this.disposed) return;
    // The run may have come to this editor meanwhile (attached): follow it live.
    if (this.deps.registry.get(this.id)) {
      this.attachLive();
      this.sendInit();
      return;
    }
    try {
      const state = await this.deps.connections.connected();
      const run = await readRun(state.connection, this.id);
      if (run) {
        await this.loadHistoryLogs(run);
        this.session.snapshot(run);
        this.panel.title = title(run);
        if (isFinished(run.status)) return;
      }
    } catch (e) {
      this.deps.log.warn(`run monitor ${this.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!this.disposed) this.poll = setTimeout(() => void this.pollHistory(), HISTORY_POLL_MS);
  }

  /** Elapsed time is shown against the average of earlier finished runs of the same event (or command). */
  private async loadAverage(): Promise<void> {
    const run = this.session.run;
    if (!run) return;
    try {
      const state = await this.deps.connections.connected();
      const same = (await listRuns(state.connection)).filter(
        (r) => r.id !== run.id && r.status === 'success' && r.endedAt && (run.event ? r.event === run.event : r.command === run.command),
      );
      if (same.length) this.session.setAverage(same.reduce((sum, r) => sum + (r.endedAt! - r.startedAt), 0) / same.length);
    } catch (e) {
      this.deps.log.debug(`run monitor ${this.id}: no average (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  private async act(action: MonitorAction): Promise<void> {
    const id = this.id;
    switch (action.type) {
      case 'cancel':
        await vscode.commands.executeCommand('chefConsul.cancelRun', { id });
        return;
      case 'retryFailed':
        await vscode.commands.executeCommand('chefConsul.retryFailedFromEditor', { id, phase: action.phase });
        return;
      case 'rerun': {
        const newId = await vscode.commands.executeCommand<string | undefined>('chefConsul.rerunFromEditor', { id });
        if (newId) await vscode.commands.executeCommand('chefConsul.openRunMonitor', { id: newId });
        return;
      }
      case 'openLog':
        await vscode.commands.executeCommand('chefConsul.openNodeOutput', { id, phase: action.phase, node: action.node });
        return;
      case 'openChefReport':
        await vscode.commands.executeCommand('chefConsul.openChefReport', { id, phase: action.phase, node: action.node });
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(action.text);
        void vscode.window.setStatusBarMessage(vscode.l10n.t('Run output copied'), 2000);
        return;
      case 'saveLog':
        await this.saveLog(action.phase, action.node);
    }
  }

  /** Saves the whole output (this editor's file, else the run's tail, else KV): one node, or every node in turn. */
  private async saveLog(phase?: number, node?: string): Promise<void> {
    const run = this.session.run;
    if (!run) return;
    const refs = run.phases.flatMap((p) => p.nodes.map((n) => ({ phase: p.no, task: p.task, node: n.node }))).filter((r) => (node === undefined || r.node === node) && (phase === undefined || r.phase === phase));
    if (!refs.length) throw new Error(vscode.l10n.t('There is no output to save.'));
    const name = `${run.event ?? 'command'}-${run.id.slice(0, 8)}${node ? `-${node}` : ''}.log`.replace(/[^\w.@-]+/g, '_');
    const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir()), name), title: vscode.l10n.t('Save Run Log') });
    if (!target) return;
    const parts: string[] = [];
    for (const r of refs) {
      const text = await this.fullLog(r.phase, r.node);
      parts.push(refs.length > 1 ? `==> ${vscode.l10n.t('phase {0} ({1}) · {2}', r.phase + 1, r.task, r.node)} <==\n${text}${text.endsWith('\n') || !text ? '' : '\n'}` : text);
    }
    await vscode.workspace.fs.writeFile(target, Buffer.from(parts.join('\n'), 'utf8'));
    void vscode.window.setStatusBarMessage(vscode.l10n.t('Run log saved to {0}', target.fsPath), 3000);
  }

  private async fullLog(phase: number, node: string): Promise<string> {
    const file = await this.deps.files?.read(this.id, phase, node);
    if (file !== undefined) return file;
    const live = this.deps.registry.get(this.id);
    if (live) return live.outputOf(phase, node);
    return readNodeLog((await this.deps.connections.connected()).connection, this.id, phase, node);
  }

  /** The state the serializer keeps: the run's ID and the page's filters. */
  get viewState(): MonitorViewState {
    return this.restored ?? { id: this.id };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.poll);
    this.liveSubs.forEach((d) => d.dispose());
    this.subscriptions.forEach((d) => d.dispose());
    this.panel.dispose();
    this.closed.fire();
    this.closed.dispose();
  }
}

function toCell(phase: number, node: string, s: ChefSummary): ChefCell {
  return { phase, node, text: s.text, status: s.status };
}

function title(run: Pick<RunSnapshot, 'event' | 'command' | 'id' | 'status'> | undefined): string {
  if (!run) return vscode.l10n.t('Run Monitor');
  return vscode.l10n.t('Run: {0} ({1})', run.event ?? run.command ?? run.id, run.status);
}

/** The page: a strict CSP with a fresh nonce per render; only the bundle's own script and styles load. */
export function pageHtml(webview: vscode.Webview, extensionUri: vscode.Uri, id: string): string {
  const nonce = randomBytes(18).toString('base64');
  const dir = bundleDir(extensionUri);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(dir, 'monitor.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(dir, 'monitor.css'));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html lang="${attr(vscode.env.language)}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${nonce}" href="${style}">
<title>${attr(vscode.l10n.t('Run Monitor'))}</title>
</head>
<body data-run-id="${attr(id)}">
<main id="app" aria-label="${attr(vscode.l10n.t('Run monitor'))}"></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
