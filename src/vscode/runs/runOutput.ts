/**
 * A node's output of a run as a read-only document: the whole output from
 * the file this editor wrote for it (complete past what memory and KV keep),
 * else live from this editor's run, else the log recorded in KV.
 */
import * as vscode from 'vscode';
import { readNodeLog } from '../../core/runs/history';
import { touchedNodes } from '../../core/runs/model';
import type { RunOutputFiles } from '../../core/runs/outputStore';
import type { RunRegistry } from '../../core/runs/registry';
import type { ConnectionManager } from '../connectionManager';

export const RUN_OUTPUT_SCHEME = 'chefconsul-run';

export function runOutputUri(id: string, phase: number, node: string): vscode.Uri {
  return vscode.Uri.from({ scheme: RUN_OUTPUT_SCHEME, path: `/${id}/${phase}/${encodeURIComponent(node)}.log` });
}

function parse(uri: vscode.Uri): { id: string; phase: number; node: string } | undefined {
  const m = /^\/([^/]+)\/(\d+)\/(.+)\.log$/.exec(uri.path);
  return m ? { id: m[1], phase: Number(m[2]), node: decodeURIComponent(m[3]) } : undefined;
}

export class RunOutputProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: Array<{ dispose(): void }>;

  constructor(
    private readonly registry: RunRegistry,
    private readonly connections: ConnectionManager,
    private readonly files?: RunOutputFiles,
  ) {
    // Output arrives in bursts: refresh open documents at most every 250 ms.
    this.subscriptions = [
      registry.onOutput((c) => this.touch(runOutputUri(c.id, c.phase, c.node))),
      registry.onDidChange((c) => {
        const run = registry.get(c.id);
        if (run) for (const { phase, node } of touchedNodes(run, c)) this.touch(runOutputUri(c.id, phase, node.node));
      }),
    ];
  }

  private touch(uri: vscode.Uri): void {
    this.pending.add(uri.toString());
    this.timer ??= setTimeout(() => this.flush(), 250);
  }

  private flush(): void {
    this.timer = undefined;
    const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.toString()));
    for (const u of this.pending) if (open.has(u)) this.changed.fire(vscode.Uri.parse(u));
    this.pending.clear();
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const ref = parse(uri);
    if (!ref) return '';
    const whole = await this.files?.read(ref.id, ref.phase, ref.node);
    if (whole !== undefined) return whole;
    const live = this.registry.get(ref.id);
    if (live) return live.outputOf(ref.phase, ref.node);
    const state = this.connections.state;
    if (state?.kind !== 'connected') return vscode.l10n.t('Not connected to Consul: the recorded log cannot be read.');
    return readNodeLog(state.connection, ref.id, ref.phase, ref.node);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscriptions.forEach((d) => d.dispose());
    this.changed.dispose();
  }
}
