/**
 * The Chef Reporting API (the Reporting add-on of Chef Server, and goiardi):
 * run history per node or organisation-wide, a run's detail as a ChefReport,
 * and posting runs exactly as chef-client's resource reporter does (start,
 * then a gzipped end) for seeding and tests.
 *
 * goiardi's quirks handled here: listings are sorted by run_id, not time (we
 * sort by start time, newest first); `rows=N` returns N+1 (we trim); without
 * `rows` it returns 10, and since its `rows` picks by run_id rather than by
 * time, against goiardi we ask for everything in the date window and trim
 * ourselves.
 */
import type { ChefReport, ChefRunStatus } from '../report';
import type { ChefRequestOptions, ChefServerClient } from './chefServerClient';
import type { ReportingException, ReportingResource, ReportingRun, ReportingRunDetail } from './reportingReport';
import { failedResourceFromTitle, parseReportingTime, parseRunList, reportingStatus, reportingToChefReport } from './reportingReport';

export const REPORTING_PROTOCOL_VERSION = '0.1.0';
const REPORTING_HEADERS = { 'X-Ops-Reporting-Protocol-Version': REPORTING_PROTOCOL_VERSION };
/** What "all runs" asks of a server that cannot sort by time. */
const ALL_ROWS = 1_000_000;

/** One run of a listing. */
export interface ChefRunSummary {
  runId: string;
  node: string;
  /** 'running' for Reporting's `started` (no end posted yet). */
  status: ChefRunStatus;
  /** Epoch ms. */
  startedAt?: number;
  endedAt?: number;
  durationSeconds?: number;
  totalResources?: number;
  /** Resources Reporting carries for the run (updated ones, plus a failed one). */
  updatedResources: number;
  runList?: string[];
  /** `type[name]` of the failed resource, from the exception's title. */
  failedResource?: string;
  exceptionClass?: string;
  /** First line of the exception message. */
  message?: string;
}

export type ReportingStatusFilter = 'started' | 'success' | 'failure' | 'running';

export interface ListRunsOptions {
  /** One node's runs; all nodes' without it. */
  node?: string;
  status?: ReportingStatusFilter;
  /** Runs that started at or after (Date or epoch ms). Default: 24 hours before `to`. */
  from?: Date | number;
  /** Runs that started at or before (Date or epoch ms). Default: now. */
  to?: Date | number;
  /** At most this many runs, the newest. Default: every run in the window. */
  rows?: number;
  signal?: AbortSignal;
}

/** The widest window Chef Infra Server's Reporting answers (it refuses more than 3 months). */
export const MAX_REPORTING_WINDOW_MS = 90 * 86_400_000;
/** How far ahead of our clock a run's start may be when no `to` is given. */
const CLOCK_SLACK_MS = 15 * 60_000;
/** The window listed when no `from` is given. */
export const DEFAULT_REPORTING_WINDOW_MS = 86_400_000;

const seconds = (t: Date | number) => Math.floor((typeof t === 'number' ? t : t.getTime()) / 1000);

/** `2026-12-01 05:00:00 +0000`: the time format chef-client posts. */
export function reportingTime(t: Date | number): string {
  const iso = new Date(t).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000`;
}

export function toRunSummary(run: ReportingRun): ChefRunSummary {
  const status = reportingStatus(run.status);
  const startedAt = parseReportingTime(run.start_time);
  const endedAt = parseReportingTime(run.end_time);
  const exception = run.data?.exception ?? undefined;
  const total = Number(run.total_res_count);
  const summary: ChefRunSummary = {
    runId: run.run_id,
    node: run.node_name ?? '',
    status,
    updatedResources: (run.resources ?? []).length,
  };
  if (startedAt !== undefined) summary.startedAt = startedAt;
  if (endedAt !== undefined) summary.endedAt = endedAt;
  if (startedAt !== undefined && endedAt !== undefined && endedAt >= startedAt) summary.durationSeconds = (endedAt - startedAt) / 1000;
  if (status !== 'running' && Number.isFinite(total)) summary.totalResources = total;
  const runList = parseRunList(run.run_list);
  if (runList) summary.runList = runList;
  if (exception) {
    const failed = failedResourceFromTitle(exception.description?.title);
    if (failed) summary.failedResource = failed;
    if (exception.class) summary.exceptionClass = exception.class;
    if (exception.message) summary.message = String(exception.message).split('\n')[0];
  }
  return summary;
}

/** Newest first by start time; runs without one last, then by run ID for a stable order. */
export function sortRuns<T extends { startedAt?: number; runId: string }>(runs: T[]): T[] {
  return runs.sort((a, b) => (b.startedAt ?? -Infinity) - (a.startedAt ?? -Infinity) || a.runId.localeCompare(b.runId));
}

function requestOptions(signal: AbortSignal | undefined, query?: ChefRequestOptions['query']): ChefRequestOptions {
  return { headers: REPORTING_HEADERS, signal, query };
}

/** Whether the server is goiardi, learned from its answers (X-Goiardi header). */
const goiardiServers = new WeakMap<ChefServerClient, boolean>();

/** The listing in flight per server (by URL, whichever client object asks). */
const listings = new Map<string, Promise<unknown>>();

/**
 * Runs `list` after any listing already in flight to the same server has
 * ended: goiardi crashes ("concurrent map writes" in its report list) when two
 * Reporting listings overlap, and the Chef view, its poller and the rules'
 * poller all list.
 */
async function oneListingAtATime<T>(client: ChefServerClient, list: () => Promise<T>): Promise<T> {
  const server = client.serverUrl.href;
  const before = listings.get(server) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(list);
  const tail = mine.catch(() => undefined);
  listings.set(server, tail);
  void tail.then(() => {
    if (listings.get(server) === tail) listings.delete(server);
  });
  return mine;
}

/**
 * Runs of one node (`/reports/nodes/<node>/runs`) or of the organisation
 * (`/reports/org/runs`), newest first. Listing needs an admin (or a user with
 * Reporting rights).
 */
export async function listRuns(client: ChefServerClient, opts: ListRunsOptions = {}): Promise<ChefRunSummary[]> {
  const path = opts.node ? `/reports/nodes/${encodeURIComponent(opts.node)}/runs` : '/reports/org/runs';
  const status = opts.status === 'running' ? 'started' : opts.status;
  if (opts.rows !== undefined && (!Number.isInteger(opts.rows) || opts.rows < 1)) throw new RangeError(`rows must be a positive integer, not ${opts.rows}`);
  // goiardi's rows selects by run_id, not by time: ask it for everything and trim ourselves.
  const serverRows = opts.rows !== undefined && goiardiServers.get(client) === false ? opts.rows : ALL_ROWS;
  // Chef Infra Server's Reporting wants both ends (as knife-reporting sends them) and at most 3 months between them.
  // Without `to`: up to now plus 15 minutes, so a node whose clock is ahead of ours (Chef servers accept 15 minutes) is not missed.
  const now = Date.now();
  const from = opts.from ?? +(opts.to ?? now) - DEFAULT_REPORTING_WINDOW_MS;
  const span = +(opts.to ?? now) - +from;
  if (span > MAX_REPORTING_WINDOW_MS) {
    throw new RangeError(`Chef Reporting lists at most 90 days at a time (the server refuses a longer window); asked for ${Math.ceil(span / 86_400_000)} days, ${new Date(from).toISOString()} to ${new Date(opts.to ?? now).toISOString()}: narrow "from" or "to"`);
  }
  const to = opts.to ?? Math.min(now + CLOCK_SLACK_MS, +from + MAX_REPORTING_WINDOW_MS);
  const query: ChefRequestOptions['query'] = { rows: serverRows, status };
  // goiardi leaves out runs that start in the very second of `from` or `until`: ask one second wider, filter exactly below.
  query.from = seconds(from) - 1;
  query.until = seconds(to) + 1;
  const res = await oneListingAtATime(client, () => client.request<{ run_history?: ReportingRun[] | null }>('GET', path, undefined, requestOptions(opts.signal, query)));
  goiardiServers.set(client, res.headers['x-goiardi'] === 'yes');
  let runs = sortRuns((res.body?.run_history ?? []).map(toRunSummary));
  runs = runs.filter((r) => r.startedAt === undefined || (r.startedAt >= seconds(from) * 1000 && r.startedAt <= (seconds(to) + 1) * 1000));
  return opts.rows !== undefined ? runs.slice(0, opts.rows) : runs;
}

/** A run's raw detail, `{resources, run_detail}`. */
export async function getRunDetail(client: ChefServerClient, runId: string, opts: { signal?: AbortSignal } = {}): Promise<ReportingRunDetail> {
  return client.get<ReportingRunDetail>(`/reports/org/runs/${encodeURIComponent(runId)}`, requestOptions(opts.signal));
}

/** A run as a ChefReport (source 'reporting'): resources with before/after and deltas, the failure with its exception. */
export async function getRun(client: ChefServerClient, runId: string, opts: { signal?: AbortSignal } = {}): Promise<ChefReport> {
  return reportingToChefReport(await getRunDetail(client, runId, opts));
}

/**
 * Each node's latest run, from one org-wide listing (plus nothing else):
 * for "last run status and age" next to every node.
 */
export async function lastRunsByNode(client: ChefServerClient, opts: { from?: Date | number; signal?: AbortSignal } = {}): Promise<Map<string, ChefRunSummary>> {
  const runs = await listRuns(client, { from: opts.from, signal: opts.signal });
  const latest = new Map<string, ChefRunSummary>();
  for (const run of runs) if (!latest.has(run.node)) latest.set(run.node, run); // newest first
  return latest;
}

export interface RunStartInput {
  runId: string;
  startTime: Date | number;
}

/** `POST /reports/nodes/<node>/runs` `{action: 'start', …}`, as chef-client posts it at the start of a run. */
export async function postRunStart(client: ChefServerClient, node: string, run: RunStartInput, opts: { signal?: AbortSignal } = {}): Promise<void> {
  await client.post(`/reports/nodes/${encodeURIComponent(node)}/runs`, { action: 'start', run_id: run.runId, start_time: reportingTime(run.startTime) }, requestOptions(opts.signal));
}

export interface RunEndInput {
  runId: string;
  startTime: Date | number;
  endTime: Date | number;
  status: 'success' | 'failure';
  runList: string[];
  /** Resources in the run (updated or not); chef-client's total_res_count. */
  totalResources: number;
  /** Updated resources, plus the failed one last. */
  resources: ReportingResource[];
  exception?: ReportingException;
  /** Extra `data` fields. */
  data?: Record<string, unknown>;
}

/** The end body exactly as chef-client's resource reporter builds it. */
export function runEndBody(run: RunEndInput): Record<string, unknown> {
  const data: Record<string, unknown> = { ...run.data };
  if (run.exception) data.exception = run.exception;
  return {
    action: 'end',
    run_id: run.runId,
    resources: run.resources,
    status: run.status,
    run_list: JSON.stringify(run.runList),
    total_res_count: String(run.totalResources),
    data,
    start_time: reportingTime(run.startTime),
    end_time: reportingTime(run.endTime),
  };
}

/** `POST /reports/nodes/<node>/runs/<id>`, gzipped as chef-client sends it (gzip: false sends plain JSON). */
export async function postRunEnd(client: ChefServerClient, node: string, run: RunEndInput, opts: { signal?: AbortSignal; gzip?: boolean } = {}): Promise<void> {
  await client.post(`/reports/nodes/${encodeURIComponent(node)}/runs/${encodeURIComponent(run.runId)}`, runEndBody(run), { ...requestOptions(opts.signal), gzip: opts.gzip ?? true });
}
