/**
 * Read-only documents of a node's Chef report: the two sides of each file
 * diff (rebuilt from Chef's unified diff) for VS Code's diff editor, and the
 * failure as text. Content comes from the report, never from the node's disk.
 */
import * as vscode from 'vscode';
import type { ChefReportRef } from '../../core/chef/runReports';
import type { ChefReportLookup } from '../../core/chef/reportShelf';
import type { ChefReport } from '../../core/chef/report';
import { rebuildFromUnifiedDiff } from '../../core/chef/report';

export const CHEF_REPORT_SCHEME = 'chefconsul-chef';

export type ChefDocument = ChefReportRef & ({ kind: 'diff'; resource: number; diff: number; side: 'before' | 'after' } | { kind: 'failure' });

const base = (ref: ChefReportRef) => `/${encodeURIComponent(ref.id)}/${ref.phase}/${encodeURIComponent(ref.node)}`;

export function chefDocumentUri(doc: ChefDocument, fileName = 'file'): vscode.Uri {
  // The file's own name last, so the editor picks its language and shows a familiar title.
  const name = fileName.split('/').filter(Boolean).pop() || 'file';
  const path = doc.kind === 'failure' ? `${base(doc)}/failure.txt` : `${base(doc)}/${doc.resource}/${doc.diff}/${doc.side}/${encodeURIComponent(name)}`;
  return vscode.Uri.from({ scheme: CHEF_REPORT_SCHEME, path });
}

export function parseChefDocumentUri(uri: vscode.Uri): ChefDocument | undefined {
  const parts = uri.path.split('/').slice(1);
  const ref = { id: decodeURIComponent(parts[0] ?? ''), phase: Number(parts[1]), node: decodeURIComponent(parts[2] ?? '') };
  if (!ref.id || !Number.isInteger(ref.phase) || !ref.node) return undefined;
  if (parts.length === 4 && parts[3] === 'failure.txt') return { ...ref, kind: 'failure' };
  if (parts.length === 7 && (parts[5] === 'before' || parts[5] === 'after')) {
    const resource = Number(parts[3]);
    const diff = Number(parts[4]);
    if (Number.isInteger(resource) && Number.isInteger(diff)) return { ...ref, kind: 'diff', resource, diff, side: parts[5] };
  }
  return undefined;
}

/** The failure as Chef would print it, for reading and copying whole. */
export function failureText(report: ChefReport): string {
  const f = report.failure;
  if (!f) return vscode.l10n.t('This Chef run did not fail.');
  const out: string[] = [];
  if (f.title) out.push(f.title, '');
  if (f.exceptionClass) out.push(f.exceptionClass, '-'.repeat(f.exceptionClass.length));
  if (f.message) out.push(f.message);
  for (const s of f.sections) out.push('', `${s.title}:`, '-'.repeat(s.title.length + 1), ...s.lines);
  if (f.fatal.length) out.push('', 'FATAL:', ...f.fatal);
  if (report.source !== 'output' && f.backtrace.length) out.push('', 'Backtrace:', ...f.backtrace);
  return out.join('\n') + '\n';
}

export class ChefDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: { dispose(): void };

  constructor(private readonly reports: Pick<ChefReportLookup, 'load' | 'onDidChange'>) {
    // A live node's failure grows while it streams; diffs of a resource only once their hunks are complete.
    this.subscription = reports.onDidChange((ref) => {
      for (const doc of vscode.workspace.textDocuments) {
        if (doc.uri.scheme !== CHEF_REPORT_SCHEME) continue;
        const d = parseChefDocumentUri(doc.uri);
        if (d && d.id === ref.id && d.phase === ref.phase && d.node === ref.node) this.changed.fire(doc.uri);
      }
    });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const doc = parseChefDocumentUri(uri);
    if (!doc) return '';
    const report = await this.reports.load(doc.id, doc.phase, doc.node);
    if (!report) return vscode.l10n.t('No Chef report for node {0} in phase {1} of run {2}.', doc.node, doc.phase + 1, doc.id);
    if (doc.kind === 'failure') return failureText(report);
    const diff = report.resources[doc.resource]?.diffs[doc.diff];
    if (!diff) return '';
    return rebuildFromUnifiedDiff(diff.diff)[doc.side];
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
