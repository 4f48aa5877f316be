/**
 * Chef Reporting API run data → the one ChefReport model. Pure: no I/O.
 *
 * Input is what the server returns for a run (`GET /reports/org/runs/<id>`:
 * `{resources, run_detail}`; listings carry the same fields in one object),
 * which is what chef-client's resource reporter posted at the run's end.
 * Reporting only carries the resources that were updated, plus the one that
 * failed; the failed one is recognised from the exception's title.
 */
import type { ChefFailure, ChefFailureSection, ChefReport, ChefResource, ChefRunStatus } from '../report';
import { emptyReport, resourceId } from '../report';

/** A resource as chef-client's resource reporter posts it. */
export interface ReportingResource {
  type?: string;
  name?: string;
  id?: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Milliseconds, as a string. */
  duration?: string | number;
  /** Unified diff of a file resource ("" for none). */
  delta?: string;
  /** The action (chef-client calls it result). */
  result?: string;
  cookbook_name?: string;
  cookbook_version?: string;
  recipe_name?: string;
}

export interface ReportingException {
  class?: string;
  message?: string;
  backtrace?: string[] | null;
  description?: { title?: string; sections?: Array<Record<string, string>> | null } | null;
}

/** One run as the Reporting API lists it (a listing row, or `run_detail` of a detail). */
export interface ReportingRun {
  run_id: string;
  node_name?: string;
  /** `started` | `success` | `failure` (Reporting's words). */
  status?: string;
  start_time?: string;
  end_time?: string;
  total_res_count?: number | string;
  /** A JSON string of the run list (or, from some servers, the array itself). */
  run_list?: string | string[];
  resources?: ReportingResource[] | null;
  data?: { exception?: ReportingException | null; [k: string]: unknown } | null;
  updated_res_count?: number | string;
}

/** `GET /reports/org/runs/<id>`. */
export interface ReportingRunDetail {
  resources?: ReportingResource[] | null;
  run_detail: ReportingRun;
}

/** Epoch ms of a Reporting time (`2026-12-01T05:00:00Z`, `2026-12-01 05:00:00 +0000`); undefined for none or Go's zero time. */
export function parseReportingTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith('0001-01-01')) return undefined;
  let t = Date.parse(text);
  if (Number.isNaN(t)) {
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/.exec(text.trim());
    if (m) t = Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`);
  }
  return Number.isNaN(t) ? undefined : t;
}

/** The run list from Reporting's JSON string; unreadable text becomes one entry as is. */
export function parseRunList(runList: string | string[] | undefined): string[] | undefined {
  if (runList === undefined || runList === '') return undefined;
  if (Array.isArray(runList)) return runList.map(String);
  try {
    const parsed: unknown = JSON.parse(runList);
    if (Array.isArray(parsed)) return parsed.map(String);
  } catch {
    // not JSON: fall through
  }
  return [runList];
}

export function reportingStatus(status: string | undefined): ChefRunStatus {
  switch (status) {
    case 'success': return 'success';
    case 'failure': return 'failure';
    case 'started': return 'running';
    default: return 'unknown';
  }
}

/** `type[name]` named in an exception title: "Error executing action `run` on resource 'execute[x]'". */
export function failedResourceFromTitle(title: string | undefined): string | undefined {
  if (!title) return undefined;
  const m = /on resource '([^']+\[[\s\S]*\])'/.exec(title) ?? /on resource (\S+\[[^\]]*\])/.exec(title);
  return m?.[1];
}

/** Keys whose values differ between before and after, one line each: `mode: "0644" → "0600"`. */
export function stateChanges(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): string[] {
  if (!after) return [];
  const show = (v: unknown) => {
    const s = v === undefined ? '(none)' : JSON.stringify(v);
    return s.length > 120 ? `${s.slice(0, 117)}…` : s;
  };
  const lines: string[] = [];
  for (const key of Object.keys(after)) {
    const a = after[key];
    const b = before?.[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) lines.push(`${key}: ${show(b)} → ${show(a)}`);
  }
  return lines;
}

function toResource(r: ReportingResource): ChefResource {
  const before = r.before ?? undefined;
  const after = r.after ?? undefined;
  const duration = r.duration === undefined || r.duration === '' ? undefined : Number(r.duration);
  const resource: ChefResource = {
    type: String(r.type ?? 'resource'),
    name: String(r.name ?? r.id ?? ''),
    action: String(r.result ?? ''),
    cookbook: r.cookbook_name || undefined,
    recipe: r.recipe_name || undefined,
    updated: true,
    upToDate: false,
    skipped: false,
    changes: stateChanges(before, after),
    diffs: r.delta ? [{ path: String(r.name ?? r.id ?? ''), diff: r.delta }] : [],
    depth: 0,
  };
  if (before) resource.before = before;
  if (after) resource.after = after;
  if (duration !== undefined && Number.isFinite(duration)) resource.durationMs = duration;
  if (r.cookbook_version) resource.cookbookVersion = r.cookbook_version;
  return resource;
}

function toSections(sections: Array<Record<string, string>> | null | undefined): ChefFailureSection[] {
  const out: ChefFailureSection[] = [];
  for (const s of sections ?? []) {
    if (!s || typeof s !== 'object') continue;
    for (const [title, text] of Object.entries(s)) {
      out.push({ title: title.replace(/:$/, ''), lines: String(text ?? '').replace(/\n+$/, '').split('\n') });
    }
  }
  return out;
}

/** The run itself: a listing row as it is, a detail's `run_detail`. */
export function reportingRunOf(input: ReportingRun | ReportingRunDetail): ReportingRun {
  return 'run_detail' in input && input.run_detail ? input.run_detail : (input as ReportingRun);
}

/**
 * A run (a listing row, or a detail `{resources, run_detail}`) as a ChefReport
 * with source 'reporting'. Runs that have not ended yet are 'running'.
 */
export function reportingToChefReport(input: ReportingRun | ReportingRunDetail): ChefReport {
  const detail = reportingRunOf(input);
  const rawResources = ('run_detail' in input ? input.resources : undefined) ?? detail.resources ?? [];
  const report = emptyReport('reporting');
  report.chef = true;
  report.status = reportingStatus(detail.status);
  report.complete = report.status === 'success' || report.status === 'failure';
  report.runList = parseRunList(detail.run_list);
  const start = parseReportingTime(detail.start_time);
  const end = parseReportingTime(detail.end_time);
  if (start !== undefined) report.startedAt = start;
  if (start !== undefined && end !== undefined && end >= start) report.durationSeconds = (end - start) / 1000;
  const total = Number(detail.total_res_count);
  if (report.complete && Number.isFinite(total)) report.totalResources = total;
  report.resources = rawResources.map(toResource);
  const exception = detail.data?.exception ?? undefined;
  let failedIndex: number | undefined;
  if (report.status === 'failure' || exception) {
    const title = exception?.description?.title || undefined;
    const named = failedResourceFromTitle(title);
    if (named) {
      for (let i = report.resources.length - 1; i >= 0; i--) {
        if (resourceId(report.resources[i]) === named) {
          failedIndex = i;
          break;
        }
      }
    }
    const failedResource = failedIndex !== undefined ? report.resources[failedIndex] : undefined;
    if (failedResource) {
      failedResource.failed = true;
      failedResource.updated = false;
      failedResource.error = String(exception?.message ?? '').split('\n')[0] || undefined;
    }
    const stage = named || failedResource ? 'converging' : /compile/i.test(title ?? '') ? 'compiling' : report.resources.length ? 'converging' : 'compiling';
    const failure: ChefFailure = {
      stage,
      message: String(exception?.message ?? (report.status === 'failure' ? 'The run failed (Reporting carries no exception for it)' : '')),
      sections: toSections(exception?.description?.sections),
      backtrace: (exception?.backtrace ?? []).map(String),
      fatal: [],
    };
    if (named) failure.resource = named;
    if (failedIndex !== undefined) {
      failure.resourceIndex = failedIndex;
      failure.action = report.resources[failedIndex].action || undefined;
    }
    if (title) failure.title = title;
    if (exception?.class) failure.exceptionClass = exception.class;
    report.failure = failure;
    report.stage = report.complete ? 'finished' : stage;
  } else {
    report.stage = report.complete ? 'finished' : 'converging';
  }
  const updated = report.resources.filter((r) => r.updated).length;
  report.updatedResources = updated;
  return report;
}
