/**
 * Report files as rule observations: Chef's own files (data collector
 * messages, the json_file handler's report) read by reportFiles.ts, or
 * ChefReport JSON as this extension's commands return it (one report or an
 * array of them: handy for trying rules on saved reports).
 */
import type { ChefReport } from '../chef/report';
import { parseReportFile, ReportFileError } from '../chef/reportFiles';
import type { ChefRunObservation } from './evaluator';

/** Untrusted JSON that has the shape of a ChefReport (enough of it for rules). */
export function isChefReport(x: unknown): x is ChefReport {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const r = x as Partial<Record<keyof ChefReport, unknown>>;
  return typeof r.status === 'string' && typeof r.chef === 'boolean' && Array.isArray(r.resources);
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? 'a string' : typeof v);

/**
 * What is wrong with an untrusted ChefReport, as far as the rules read it
 * (the field named), or undefined when nothing is. Checked where a report
 * comes in (a file, the evaluate command), so no rule trips over it later.
 */
export function chefReportProblem(x: unknown): string | undefined {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return `a report must be an object, got ${describe(x)}`;
  const r = x as Record<string, unknown>;
  if (typeof r.status !== 'string') return `"status" must be a string, got ${describe(r.status)}`;
  if (typeof r.chef !== 'boolean') return `"chef" must be true or false, got ${describe(r.chef)}`;
  if (!Array.isArray(r.resources)) return `"resources" must be an array, got ${describe(r.resources)}`;
  for (const [field, v] of [['startedAt', r.startedAt], ['durationSeconds', r.durationSeconds]] as const)
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) return `"${field}" must be a number, got ${describe(v)}`;
  for (let i = 0; i < r.resources.length; i++) {
    const res = r.resources[i] as Record<string, unknown> | null;
    if (!res || typeof res !== 'object' || Array.isArray(res)) return `resources[${i}] must be an object, got ${describe(res)}`;
    for (const f of ['type', 'name']) if (typeof res[f] !== 'string') return `resources[${i}].${f} must be a string, got ${describe(res[f])}`;
    for (const f of ['error', 'cookbook', 'cookbookVersion']) if (res[f] !== undefined && typeof res[f] !== 'string') return `resources[${i}].${f} must be a string, got ${describe(res[f])}`;
    if (res.failed !== undefined && typeof res.failed !== 'boolean') return `resources[${i}].failed must be true or false, got ${describe(res.failed)}`;
  }
  if (r.failure !== undefined) {
    const f = r.failure as Record<string, unknown> | null;
    if (!f || typeof f !== 'object' || Array.isArray(f)) return `"failure" must be an object, got ${describe(f)}`;
    if (typeof f.message !== 'string') return `failure.message must be a string, got ${describe(f.message)}`;
    for (const k of ['resource', 'exceptionClass']) if (f[k] !== undefined && typeof f[k] !== 'string') return `failure.${k} must be a string, got ${describe(f[k])}`;
  }
  if (r.runList !== undefined) {
    if (!Array.isArray(r.runList)) return `"runList" must be an array of strings, got ${describe(r.runList)}`;
    const bad = r.runList.findIndex((item) => typeof item !== 'string');
    if (bad >= 0) return `runList[${bad}] must be a string, got ${describe(r.runList[bad])}`;
  }
  if (r.cookbooks !== undefined) {
    if (!Array.isArray(r.cookbooks)) return `"cookbooks" must be an array, got ${describe(r.cookbooks)}`;
    for (let i = 0; i < r.cookbooks.length; i++) {
      const c = r.cookbooks[i] as Record<string, unknown> | null;
      if (!c || typeof c !== 'object' || typeof c.name !== 'string' || typeof c.version !== 'string') return `cookbooks[${i}] must be { "name": string, "version": string }`;
    }
  }
  return undefined;
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
    items.forEach((report, i) => {
      const problem = chefReportProblem(report);
      if (problem) throw new ReportFileError(`${name}${items.length > 1 ? ` (report ${i + 1})` : ''} is not a valid Chef report: ${problem}.`);
    });
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
  const problem = chefReportProblem(file.report);
  if (problem) throw new ReportFileError(`${name} is not a valid Chef report: ${problem}.`);
  return [{ node: file.node ?? name, runId: file.runId ?? id, source: 'file', time: reportTime(file.report) ?? fallbackTime, report: file.report, file: name, ...(jump ? { jump } : {}) }];
}

/** A ChefReport carries no node; a saved one may have been given one beside its fields. */
function nodeOf(report: ChefReport): string | undefined {
  const node = (report as { node?: unknown }).node;
  return typeof node === 'string' && node ? node : undefined;
}
