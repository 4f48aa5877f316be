/**
 * Report files as rule observations: Chef's own files (data collector
 * messages, the json_file handler's report) read by reportFiles.ts, or
 * ChefReport JSON as this extension's commands return it (one report or an
 * array of them: handy for trying rules on saved reports).
 */
import type { ChefReport } from '../chef/report';
import { parseReportFile } from '../chef/reportFiles';
import type { ChefRunObservation } from './evaluator';

/** Untrusted JSON that has the shape of a ChefReport (enough of it for rules). */
export function isChefReport(x: unknown): x is ChefReport {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const r = x as Partial<Record<keyof ChefReport, unknown>>;
  return typeof r.status === 'string' && typeof r.chef === 'boolean' && Array.isArray(r.resources);
}

/** When a report's run ended, as far as it says. */
export function reportTime(report: ChefReport): number | undefined {
  if (report.startedAt === undefined) return undefined;
  return report.startedAt + (report.durationSeconds ?? 0) * 1000;
}

/**
 * The runs in a report file's text. `name` is used in errors and, for a run
 * that names no node, as its node; `fallbackTime` (the file's mtime) for runs
 * that carry no time; `id` (the file's path) identifies its runs when they carry no run ID. Throws ReportFileError with what is wrong.
 */
export function observationsOfReportFile(text: string, name: string, fallbackTime: number, id = name, jump?: ChefRunObservation['jump']): ChefRunObservation[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // data collector files are one JSON object per line
  }
  const items = Array.isArray(json) ? json : [json];
  if (json !== undefined && items.length && items.every(isChefReport)) {
    return items.map((report: ChefReport, i) => ({
      node: nodeOf(report) ?? name,
      runId: items.length > 1 ? `${id}#${i + 1}` : id,
      source: 'file' as const,
      time: reportTime(report) ?? fallbackTime + i,
      report,
      file: name,
      ...(jump ? { jump } : {}),
    }));
  }
  const file = parseReportFile(text, name);
  return [{ node: file.node ?? name, runId: file.runId ?? id, source: 'file', time: reportTime(file.report) ?? fallbackTime, report: file.report, file: name, ...(jump ? { jump } : {}) }];
}

/** A ChefReport carries no node; a saved one may have been given one beside its fields. */
function nodeOf(report: ChefReport): string | undefined {
  const node = (report as { node?: unknown }).node;
  return typeof node === 'string' && node ? node : undefined;
}
