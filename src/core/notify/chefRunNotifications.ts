/**
 * Failed Chef runs → notifications: a node whose Chef report of a run of ours
 * failed is notified once per run (key `chef-run:<node>:<runId>`, whatever
 * phase it failed in), with a jump to its Chef report.
 */
import type { Disposable } from '../util/emitter';
import type { ChefReport } from '../chef/report';
import type { ChefReportRef } from '../chef/runReports';
import type { Notification, Notifier } from './notifier';

/** Lines of the failure that go into a notification's message. */
const SNIPPET_LINES = 12;

export function chefRunKey(node: string, runId: string): string {
  return `chef-run:${node}:${runId}`;
}

/**
 * The notification for a node's Chef report, or undefined when that run did
 * not fail (still running, succeeded, or failed in an ignore_failure resource
 * only). `jump` opens the report; by default the run's node report.
 */
export function chefFailureNotification(
  ref: ChefReportRef,
  report: ChefReport,
  jump: Notification['jump'] = { command: 'chefConsul.openChefReport', args: { id: ref.id, phase: ref.phase, node: ref.node } },
): Notification | undefined {
  if (!report.chef || report.status !== 'failure') return undefined;
  const f = report.failure;
  const resource = f?.resource;
  const exception = f ? [f.exceptionClass, f.message.split('\n')[0]].filter(Boolean).join(': ') || undefined : undefined;
  const snippet: string[] = [];
  if (f?.title) snippet.push(f.title);
  if (f?.message) snippet.push(...f.message.split('\n'));
  if (f && snippet.length < SNIPPET_LINES) for (const s of f.sections) snippet.push(...s.lines.slice(0, 4));
  if (f && !f.message && f.fatal.length) snippet.push(...f.fatal);
  const lines = snippet.map((l) => l.trimEnd()).filter(Boolean);
  const message = lines.slice(0, SNIPPET_LINES).join('\n') + (lines.length > SNIPPET_LINES ? '\n…' : '');
  return {
    key: chefRunKey(ref.node, ref.id),
    source: 'chef-run',
    severity: 'error',
    title: resource ? `Chef run failed on ${ref.node}: ${resource}` : `Chef run failed on ${ref.node}`,
    message: message || `The Chef run ${report.stage === 'finished' ? 'ended' : `stopped while ${report.stage}`} with a failure.`,
    node: ref.node,
    resource,
    exception,
    jump,
    data: { runId: ref.id, phase: ref.phase, node: ref.node, stage: f?.stage ?? report.stage, reportSource: report.source },
  };
}

/** What the watcher needs of RunChefReports (src/core/chef/runReports.ts). */
export interface ChefReportsLike {
  onDidChange(listener: (ref: ChefReportRef) => void): Disposable;
  reportOf(id: string, phase: number, node: string): ChefReport | undefined;
}

/**
 * Notifies each failed node of the runs `reports` follows, once its report
 * says how the run ended. Reports parsed later from history (opened after the
 * fact) are not news: with `isLive`, only the runs it accepts are notified.
 */
export function notifyChefRunFailures(reports: ChefReportsLike, notifier: Pick<Notifier, 'notify'>, options: { isLive?: (runId: string) => boolean } = {}): Disposable {
  return reports.onDidChange((ref) => {
    if (options.isLive && !options.isLive(ref.id)) return;
    const report = reports.reportOf(ref.id, ref.phase, ref.node);
    if (!report || !report.complete) return;
    const n = chefFailureNotification(ref, report);
    if (n) notifier.notify(n);
  });
}
