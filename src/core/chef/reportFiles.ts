/**
 * Chef report files into the one ChefReport model (source 'file'):
 * - the data collector's messages as `data_collector.output_locations.files`
 *   writes them: `run_start` and `run_converge` JSON objects, one per line
 *   (or one pretty-printed object);
 * - the json_file handler's `chef-run-report-<time>.json` (Chef::Handler::JsonFile:
 *   the run status with `node`, `success`, `start_time`, `all_resources`,
 *   `updated_resources`, `exception`, `backtrace`, …).
 * Everything in a file is untrusted: it is only read as JSON (never evaluated),
 * every field is checked for its type, and whatever does not fit is ignored or
 * named in a ReportFileError.
 */
import type { ChefFailure, ChefReport, ChefResource } from './report';
import { emptyReport, resourceId } from './report';
import { stateChanges } from './server/reportingReport';

/** Files larger than this are not read (a data collector file keeps growing: one line per message). */
export const MAX_REPORT_FILE_BYTES = 20 * 1024 * 1024;
const MAX_BACKTRACE_LINES = 50;
const MAX_RESOURCES = 20_000;

export type ReportFileKind = 'data-collector' | 'json-file-handler';

export interface ReportFile {
  kind: ReportFileKind;
  report: ChefReport;
  /** The node the run was on, when the file says. */
  node?: string;
  runId?: string;
  /** Runs in the file (a data collector file may hold many); the report is the last one's. */
  runs: number;
  /** Things that were ignored, in words (unknown message types, malformed lines). */
  warnings: string[];
}

export class ReportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportFileError';
  }
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined);
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : typeof x === 'string' && x.trim() && Number.isFinite(Number(x)) ? Number(x) : undefined);
const strings = (x: unknown): string[] => (Array.isArray(x) ? x.map(str).filter((s): s is string => s !== undefined) : []);

/** ISO 8601 (data collector) or Ruby's Time#to_s, "2024-05-02 10:00:00 +0000" (json_file handler). */
export function parseChefTime(x: unknown): number | undefined {
  const s = str(x)?.trim();
  if (!s) return undefined;
  const ruby = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) ?(?:([+-]\d\d):?(\d\d)|UTC)$/.exec(s);
  const t = ruby ? Date.parse(`${ruby[1]}T${ruby[2]}${ruby[3] ? `${ruby[3]}:${ruby[4]}` : 'Z'}`) : Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

/** `Chef::Resource::RemoteFile` → `remote_file`. */
function typeFromClass(jsonClass: string): string | undefined {
  const last = jsonClass.split('::').pop();
  if (!last || !/^[A-Z]\w*$/.test(last)) return undefined;
  return last.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Reads a file's text: one JSON value, or JSON lines. */
function jsonValues(text: string, warnings: string[]): unknown[] {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (!trimmed) throw new ReportFileError('The file is empty.');
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) throw new ReportFileError('This is not a JSON file: a Chef report file starts with "{".');
  try {
    const value: unknown = JSON.parse(trimmed);
    return Array.isArray(value) ? value : [value];
  } catch (whole) {
    const lines = trimmed.split(/\r?\n/);
    if (lines.length < 2) throw new ReportFileError(`The file is not valid JSON: ${(whole as Error).message}.`);
    const values: unknown[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        values.push(JSON.parse(line));
      } catch (e) {
        warnings.push(`line ${i + 1} is not valid JSON (${(e as Error).message}) and was skipped`);
      }
    });
    if (!values.length) throw new ReportFileError(`The file is not valid JSON, neither as a whole (${(whole as Error).message}) nor one message per line.`);
    return values;
  }
}

/**
 * The report in a Chef report file. `name` (the file's name) is only used in
 * messages. Throws ReportFileError, with what is wrong, for anything that is
 * not one of the two kinds.
 */
export function parseReportFile(text: string, name = 'the file'): ReportFile {
  if (Buffer.byteLength(text) > MAX_REPORT_FILE_BYTES)
    throw new ReportFileError(`${name} is larger than ${MAX_REPORT_FILE_BYTES / 1024 / 1024} MiB: too large to show as a Chef report.`);
  const warnings: string[] = [];
  const values = jsonValues(text, warnings);
  const objects = values.filter(isObject);
  if (objects.some((o) => typeof o.message_type === 'string')) return fromDataCollector(objects, warnings);
  const handler = objects.find((o) => 'success' in o && ('all_resources' in o || 'elapsed_time' in o || 'exception' in o));
  if (handler) {
    if (objects.length > 1) warnings.push(`${objects.length - 1} more JSON values after the report were ignored`);
    return fromJsonFileHandler(handler, warnings);
  }
  throw new ReportFileError(
    `${name} is JSON, but not a Chef report: expected data collector messages ("message_type": "run_start" / "run_converge") or a json_file handler report ("node", "success", "all_resources", …).`,
  );
}

// ---- data collector ----

function fromDataCollector(messages: Json[], warnings: string[]): ReportFile {
  const runs = new Map<string, { start?: Json; end?: Json }>();
  let last = '';
  messages.forEach((m, i) => {
    const type = str(m.message_type);
    if (type !== 'run_start' && type !== 'run_converge') {
      warnings.push(`message ${i + 1} of type "${type ?? '?'}" is not a run message and was ignored`);
      return;
    }
    const id = str(m.run_id) ?? str(m.id) ?? `#${i}`;
    const run = runs.get(id) ?? {};
    if (type === 'run_start') run.start = m;
    else run.end = m;
    runs.set(id, run);
    last = id;
  });
  if (!runs.size) throw new ReportFileError('The file holds data collector messages, but no run_start or run_converge message.');
  const { start, end } = runs.get(last)!;
  const m = end ?? start!;
  const report = emptyReport('file');
  report.chef = true;
  const node = str(m.node_name) ?? str(start?.node_name);
  const nodeObject = isObject(m.node) ? m.node : undefined;
  const version = chefVersionOf(nodeObject) ?? str(m.chef_version);
  if (version) report.chefVersion = version;
  report.product = Number(version?.split('.')[0]) >= 15 || !version ? 'Chef Infra Client' : 'Chef Client';
  const runList = strings(m.run_list ?? start?.run_list);
  if (runList.length) report.runList = runList;
  const cookbooks = cookbooksOf(m.cookbooks) ?? cookbooksOf(isObject(nodeObject?.automatic) ? nodeObject.automatic.cookbooks : undefined);
  if (cookbooks) report.cookbooks = cookbooks;
  report.startedAt = parseChefTime(m.start_time ?? start?.start_time);
  const endedAt = parseChefTime(m.end_time);
  if (report.startedAt !== undefined && endedAt !== undefined) report.durationSeconds = Math.max(0, Math.round((endedAt - report.startedAt) / 100) / 10);
  if (!end) {
    // A run_start alone: the run never reported its end (it is still running, or chef-client died).
    report.status = 'unknown';
    report.stage = 'starting';
    warnings.push('the file has the run\'s start but not its end (no run_converge message)');
    return { kind: 'data-collector', report, node, runId: str(m.run_id) ?? str(m.id), runs: runs.size, warnings };
  }
  report.complete = true;
  report.status = str(end.status) === 'success' ? 'success' : str(end.status) === 'failure' ? 'failure' : 'unknown';
  const records = Array.isArray(end.resources) ? end.resources.filter(isObject) : [];
  if (records.length > MAX_RESOURCES) warnings.push(`only the first ${MAX_RESOURCES} of ${records.length} resources are shown`);
  report.resources = records.slice(0, MAX_RESOURCES).map(resourceFromRecord);
  report.totalResources = num(end.total_resource_count) ?? report.resources.length;
  report.updatedResources = num(end.updated_resource_count) ?? report.resources.filter((r) => r.updated).length;
  const failedIndex = report.resources.findIndex((r, i) => r.failed && records[i].ignore_failure !== true);
  const error = isObject(end.error) ? end.error : undefined;
  if (report.status === 'failure' || error) {
    const failedRecord = failedIndex >= 0 ? records[failedIndex] : undefined;
    const failure = failureFrom(isObject(failedRecord?.error) ? failedRecord.error : error, error);
    if (failedIndex >= 0) {
      const r = report.resources[failedIndex];
      failure.resource = resourceId(r);
      failure.resourceIndex = failedIndex;
      failure.action = r.action;
    }
    failure.stage = failedIndex >= 0 || report.resources.length ? 'converging' : 'compiling';
    if (report.status === 'success') failure.ignored = true;
    report.failure = failure;
    report.stage = report.status === 'failure' ? failure.stage : 'finished';
  } else report.stage = 'finished';
  return { kind: 'data-collector', report, node, runId: str(end.run_id) ?? str(end.id), runs: runs.size, warnings };
}

function resourceFromRecord(rec: Json): ChefResource {
  const status = str(rec.status);
  const before = isObject(rec.before) ? rec.before : {};
  const after = isObject(rec.after) ? rec.after : {};
  const name = str(rec.name) ?? str(rec.id) ?? '';
  const r: ChefResource = {
    type: str(rec.type) ?? 'resource',
    name,
    action: str(rec.result) ?? '',
    updated: status === 'updated',
    upToDate: status === 'up-to-date' || status === 'up_to_date',
    skipped: status === 'skipped',
    changes: [],
    diffs: [],
    depth: 0,
  };
  const cookbook = str(rec.cookbook_name);
  if (cookbook) {
    r.cookbook = cookbook;
    r.recipe = str(rec.recipe_name) ?? 'default';
  }
  if (r.skipped) r.skipReason = str(rec.conditional) ? `skipped due to ${str(rec.conditional)}` : 'skipped';
  if (status === 'failed') {
    r.failed = true;
    const e = isObject(rec.error) ? rec.error : undefined;
    r.error = (str(rec.error_message) ?? str(e?.message) ?? 'failed').split('\n')[0];
  }
  // The same words as Reporting's run detail: the state that changed, key by key.
  if (r.updated) r.changes = stateChanges(before, after);
  if (Object.keys(before).length) r.before = before;
  if (Object.keys(after).length) r.after = after;
  const duration = num(rec.duration);
  if (duration !== undefined) r.durationMs = duration;
  const cookbookVersion = str(rec.cookbook_version);
  if (cookbookVersion) r.cookbookVersion = cookbookVersion;
  const delta = str(rec.delta);
  if (delta && delta.trim()) r.diffs.push({ path: str(after.path) ?? str(before.path) ?? name, diff: delta.endsWith('\n') ? delta : `${delta}\n` });
  return r;
}

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
};

/** `error` (class, message, backtrace, description: { title, sections: [{ heading: text }] }) → ChefFailure. */
function failureFrom(error: Json | undefined, runError?: Json): ChefFailure {
  const e = error ?? runError ?? {};
  const failure: ChefFailure = { stage: 'converging', message: str(e.message) ?? str(runError?.message) ?? '', sections: [], backtrace: [], fatal: [] };
  const cls = str(e.class) ?? str(runError?.class);
  if (cls) failure.exceptionClass = cls;
  const description = isObject(e.description) ? e.description : isObject(runError?.description) ? runError.description : undefined;
  if (description) {
    const title = str(description.title);
    if (title) failure.title = title;
    for (const s of Array.isArray(description.sections) ? description.sections : []) {
      if (!isObject(s)) continue;
      for (const [heading, body] of Object.entries(s)) failure.sections.push({ title: heading.replace(/:$/, ''), lines: (str(body) ?? show(body)).replace(/\n+$/, '').split('\n') });
    }
  }
  const backtrace = strings(e.backtrace ?? runError?.backtrace);
  // Kept apart from the sections, as Reporting does: the report view shows it as its own section.
  failure.backtrace = backtrace.slice(0, MAX_BACKTRACE_LINES);
  return failure;
}

function chefVersionOf(node: Json | undefined): string | undefined {
  const automatic = isObject(node?.automatic) ? node.automatic : undefined;
  const packages = isObject(automatic?.chef_packages) ? automatic.chef_packages : undefined;
  const chef = isObject(packages?.chef) ? packages.chef : undefined;
  return str(chef?.version);
}

/** node["cookbooks"]: `{ name: { version } }`. */
function cookbooksOf(x: unknown): Array<{ name: string; version: string }> | undefined {
  if (!isObject(x)) return undefined;
  const list = Object.entries(x).map(([name, v]) => ({ name, version: str(isObject(v) ? v.version : v) ?? '' }));
  return list.length ? list : undefined;
}

// ---- json_file handler ----

const HAD_AN_ERROR = /^([A-Za-z_][\w:]*)\[(.*?)\] \((?:[^)]*)\) had an error: ([\s\S]*)$/;
const CLASS_PREFIX = /^([A-Z]\w*(?:::[A-Z]\w*)*): ([\s\S]*)$/;

function fromJsonFileHandler(data: Json, warnings: string[]): ReportFile {
  const report = emptyReport('file');
  report.chef = true;
  report.complete = true;
  const nodeObject = isObject(data.node) ? data.node : undefined;
  const node = str(nodeObject?.name) ?? str(data.node_name) ?? (typeof data.node === 'string' ? data.node : undefined);
  const version = chefVersionOf(nodeObject);
  if (version) {
    report.chefVersion = version;
    report.product = Number(version.split('.')[0]) >= 15 ? 'Chef Infra Client' : 'Chef Client';
  }
  const runList = strings(data.run_list ?? nodeObject?.run_list);
  if (runList.length) report.runList = runList;
  const cookbooks = cookbooksOf(isObject(nodeObject?.automatic) ? nodeObject.automatic.cookbooks : undefined);
  if (cookbooks) report.cookbooks = cookbooks;
  report.startedAt = parseChefTime(data.start_time);
  const elapsed = num(data.elapsed_time);
  const endedAt = parseChefTime(data.end_time);
  if (elapsed !== undefined) report.durationSeconds = Math.round(elapsed * 10) / 10;
  else if (report.startedAt !== undefined && endedAt !== undefined) report.durationSeconds = Math.round((endedAt - report.startedAt) / 100) / 10;
  const success = data.success === true || data.success === 'true';
  report.status = success ? 'success' : 'failure';

  const all = Array.isArray(data.all_resources) ? data.all_resources.filter(isObject) : [];
  const updated = Array.isArray(data.updated_resources) ? data.updated_resources.filter(isObject) : [];
  if (all.length > MAX_RESOURCES) warnings.push(`only the first ${MAX_RESOURCES} of ${all.length} resources are shown`);
  const updatedIds = new Set(updated.map((u) => handlerResource(u)).map((r) => resourceId(r)));
  report.resources = all.slice(0, MAX_RESOURCES).map((raw) => {
    const r = handlerResource(raw);
    r.updated = r.updated || updatedIds.has(resourceId(r));
    return r;
  });
  // Updated resources that all_resources left out (older handlers wrote only updated_resources).
  if (!all.length) report.resources = updated.slice(0, MAX_RESOURCES).map((raw) => ({ ...handlerResource(raw), updated: true }));
  report.totalResources = all.length || undefined;
  report.updatedResources = updated.length;

  const exception = str(data.exception);
  if (!success || exception) {
    const failure: ChefFailure = { stage: 'converging', message: '', sections: [], backtrace: [], fatal: [] };
    // formatted_exception: "Class: message"; a resource's failure says "type[name] (cookbook::recipe line N) had an error: Class: message".
    let rest = exception ?? '';
    const outer = CLASS_PREFIX.exec(rest);
    if (outer && HAD_AN_ERROR.test(outer[2])) rest = outer[2];
    const had = HAD_AN_ERROR.exec(rest);
    let failedIndex = -1;
    if (had) {
      failedIndex = report.resources.findIndex((r) => r.type === had[1] && r.name === had[2]);
      failure.resource = `${had[1]}[${had[2]}]`;
      rest = had[3];
    }
    const cls = CLASS_PREFIX.exec(rest);
    if (cls) {
      failure.exceptionClass = cls[1];
      rest = cls[2];
    }
    failure.message = rest.trim() || (success ? '' : 'The run failed (the report names no exception).');
    const backtrace = strings(data.backtrace);
    failure.backtrace = backtrace.slice(0, MAX_BACKTRACE_LINES);
    if (failedIndex >= 0) {
      const r = report.resources[failedIndex];
      r.failed = true;
      r.upToDate = false;
      r.error = failure.message.split('\n')[0];
      failure.resourceIndex = failedIndex;
      failure.action = r.action;
      // Resources after the failed one never ran.
      for (const later of report.resources.slice(failedIndex + 1)) later.upToDate = false;
    } else if (!had && !report.updatedResources) failure.stage = report.resources.length ? 'converging' : 'compiling';
    if (success) failure.ignored = true;
    report.failure = failure;
    report.stage = success ? 'finished' : failure.stage;
  } else report.stage = 'finished';
  return { kind: 'json-file-handler', report, node, runId: str(data.run_id), runs: 1, warnings };
}

/** A resource as Chef::Resource#to_json writes it: `{ json_class, instance_vars: { name, action, … } }` (or its plain hash). */
function handlerResource(raw: Json): ChefResource {
  const vars = isObject(raw.instance_vars) ? raw.instance_vars : raw;
  const get = (k: string) => vars[k] ?? vars[`@${k}`];
  const type = str(get('declared_type')) ?? str(get('resource_name')) ?? typeFromClass(str(raw.json_class) ?? '') ?? 'resource';
  const name = str(get('name')) ?? str(get('identity')) ?? '';
  const action = get('action');
  const r: ChefResource = {
    type,
    name,
    action: Array.isArray(action) ? strings(action).join(', ') : str(action) ?? '',
    updated: get('updated') === true || get('updated_by_last_action') === true,
    upToDate: false,
    skipped: false,
    changes: [],
    diffs: [],
    depth: 0,
  };
  r.upToDate = !r.updated;
  const cookbook = str(get('cookbook_name'));
  if (cookbook) {
    r.cookbook = cookbook;
    r.recipe = str(get('recipe_name')) ?? 'default';
  }
  const diff = str(get('diff'));
  if (diff && diff.trim()) r.diffs.push({ path: str(get('path')) ?? name, diff: diff.endsWith('\n') ? diff : `${diff}\n` });
  return r;
}
