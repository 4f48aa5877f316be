/**
 * The one Chef run report, whatever it was read from: a run's output (the doc
 * formatter of chef-client / chef-solo), the Chef server's Reporting API or a
 * JSON report file. Plain data only — it goes to the webview and out of
 * commands as JSON — so the helpers are functions, not methods.
 */

export type ChefReportSource = 'output' | 'reporting' | 'file';
export type ChefRunStatus = 'running' | 'success' | 'failure' | 'unknown';
export type ChefStage = 'starting' | 'compiling' | 'converging' | 'finished';

export interface ChefFileDiff {
  /** The file the diff is about, as Chef named it. */
  path: string;
  /** The unified diff as Chef printed it (headers and hunks), without the output's indentation. */
  diff: string;
  /** Why no diff was shown, in Chef's words: "(diff output suppressed by config)", "(no differences)", … */
  note?: string;
}

export interface ChefResource {
  /** e.g. `template` */
  type: string;
  /** e.g. `/etc/nginx/nginx.conf` */
  name: string;
  action: string;
  /** From the last `Recipe: cookbook::recipe` line; absent for dynamically defined resources and unknown sources. */
  cookbook?: string;
  recipe?: string;
  updated: boolean;
  /** Chef said "(up to date)". A resource that is neither updated nor up to date is still running or said nothing. */
  upToDate: boolean;
  skipped: boolean;
  /** e.g. "skipped due to not_if" */
  skipReason?: string;
  /** What Chef did, one line each ("update content in file … from … to …", "start service service[nginx]"). */
  changes: string[];
  diffs: ChefFileDiff[];
  failed?: boolean;
  /** The failure in one line: the exception's message (first line). */
  error?: string;
  /** 0 for resources of the run list; 1 and more for resources declared inside a custom resource's action. */
  depth: number;
  /** Index in `resources` of the resource whose action declared this one. */
  parent?: number;
  /** Reporting / report files only: the resource's state before and after the action, as Chef reported it. */
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  /** Reporting / report files only: how long the action took. */
  durationMs?: number;
  cookbookVersion?: string;
}

export interface ChefFailureSection {
  title: string;
  lines: string[];
}

export interface ChefFailure {
  /** `type[name]` of the failed resource; absent for compile errors and failures outside a resource. */
  resource?: string;
  /** Index of that resource in `resources`. */
  resourceIndex?: number;
  action?: string;
  /** The banner Chef framed in `====` lines: "Error executing action `run` on resource 'execute[x]'", "Recipe Compile Error in …". */
  title?: string;
  /** Where the run was when it failed. */
  stage: ChefStage;
  exceptionClass?: string;
  message: string;
  /** Resource Declaration, Compiled Resource, System Info, Relevant File Content, Template Context, … in Chef's order. */
  sections: ChefFailureSection[];
  /** The first lines of the backtrace (Chef's "Cookbook Trace"), most recent call first. */
  backtrace: string[];
  /** The FATAL lines, as printed after the run. */
  fatal: string[];
  /** Where chef-client dumped the whole stack trace on the node. */
  stacktracePath?: string;
  /** The resource had ignore_failure: Chef printed the error and finished the run all the same. */
  ignored?: boolean;
}

export interface ChefReport {
  source: ChefReportSource;
  /** Something Chef prints was seen: false for output that is not a Chef run. */
  chef: boolean;
  status: ChefRunStatus;
  stage: ChefStage;
  /** "Chef Client" (12–14), "Chef Infra Client" (15 on). */
  product?: string;
  chefVersion?: string;
  /** why-run mode: nothing was changed, resources "would" have been updated. */
  whyRun?: boolean;
  runList?: string[];
  cookbooks?: Array<{ name: string; version: string }>;
  /** Epoch milliseconds. Output carries no start time; whoever feeds the report may fill it. */
  startedAt?: number;
  durationSeconds?: number;
  /** Chef's own count: "Converging N resources", then the M of "N/M resources updated". */
  totalResources?: number;
  /** Chef's own count when it printed it, else the resources seen updated so far. */
  updatedResources?: number;
  resources: ChefResource[];
  failure?: ChefFailure;
  /** Lines that are no part of a Chef report (other commands' output, log lines), the last MAX_PLAIN_LINES of them. */
  plainLines: string[];
  /** How many plain lines were dropped from the front of `plainLines`. */
  plainLinesDropped: number;
  /** The run's end (finished or failed) was seen. */
  complete: boolean;
}

export const MAX_PLAIN_LINES = 500;

export function emptyReport(source: ChefReportSource): ChefReport {
  return { source, chef: false, status: 'unknown', stage: 'starting', resources: [], plainLines: [], plainLinesDropped: 0, complete: false };
}

/** `type[name]`, as Chef names a resource. */
export function resourceId(r: Pick<ChefResource, 'type' | 'name'>): string {
  return `${r.type}[${r.name}]`;
}

/** `cookbook::recipe` as Chef prints it after "Recipe:", or Chef's own words for resources outside a recipe. */
export function recipeLabel(r: Pick<ChefResource, 'cookbook' | 'recipe'>): string {
  return r.cookbook ? `${r.cookbook}::${r.recipe ?? 'default'}` : '<Dynamically Defined Resource>';
}

/** Resources grouped by recipe, in the order the recipes were first converged. */
export function resourcesByRecipe(report: Pick<ChefReport, 'resources'>): Array<{ recipe: string; resources: Array<{ resource: ChefResource; index: number }> }> {
  const groups = new Map<string, Array<{ resource: ChefResource; index: number }>>();
  report.resources.forEach((resource, index) => {
    const key = recipeLabel(resource);
    const list = groups.get(key);
    if (list) list.push({ resource, index });
    else groups.set(key, [{ resource, index }]);
  });
  return [...groups].map(([recipe, resources]) => ({ recipe, resources }));
}

export interface ChefSummary {
  status: ChefRunStatus;
  /** False for output with no Chef run in it: then there is nothing to show. */
  chef: boolean;
  stage: ChefStage;
  updated?: number;
  total?: number;
  /** `type[name]`, or the exception class for failures outside a resource. */
  failedResource?: string;
  /** One line: "3/12 updated", "failed: template[/etc/x]", "converging: 2 updated". */
  text: string;
}

export function chefSummary(report: ChefReport): ChefSummary {
  const updated = report.updatedResources;
  const total = report.totalResources;
  const failedResource = report.failure ? (report.failure.resource ?? report.failure.exceptionClass) : undefined;
  const base = { status: report.status, chef: report.chef, stage: report.stage, updated, total, failedResource };
  if (!report.chef) return { ...base, text: '' };
  const counted = total !== undefined ? `${updated ?? 0}/${total} updated` : `${updated ?? 0} updated`;
  let text: string;
  switch (report.status) {
    case 'success':
      text = report.whyRun ? `${updated ?? 0}/${total ?? '?'} would be updated` : counted;
      break;
    case 'failure':
      text = failedResource ? `failed: ${failedResource}` : 'failed';
      break;
    case 'running':
      text = report.stage === 'converging' ? `converging: ${counted}` : report.stage;
      break;
    default:
      text = `ended while ${report.stage === 'finished' ? 'finishing' : report.stage}${report.stage === 'converging' ? `: ${updated ?? 0} updated` : ''}`;
  }
  return { ...base, text };
}

export interface RebuiltFiles {
  before: string;
  after: string;
}

/**
 * The two sides of a unified diff, as far as the diff shows them: each hunk's
 * lines, with one marker line standing for each stretch of the file the diff
 * left out — the same marker on both sides, so a diff editor shows those
 * stretches as unchanged. Malformed hunks are read as far as they go.
 */
export function rebuildFromUnifiedDiff(diff: string): RebuiltFiles {
  const before: string[] = [];
  const after: string[] = [];
  let oldNext = 1;
  let inHunk = false;
  let lastSide: 'old' | 'new' | 'both' | undefined;
  let oldNoEol = false;
  let newNoEol = false;
  const lines = diff.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const hunk = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@/.exec(line);
    if (hunk) {
      const oldStart = Number(hunk[1]);
      const oldCount = hunk[2] === undefined ? 1 : Number(hunk[2]);
      // An empty side's start is the line before: "-0,0" for a new file.
      const from = oldCount === 0 ? oldStart + 1 : oldStart;
      const skipped = from - oldNext;
      if (skipped > 0) {
        const marker = `⋯ ${skipped} line${skipped === 1 ? '' : 's'} not shown in Chef's diff ⋯`;
        before.push(marker);
        after.push(marker);
      }
      oldNext = from;
      inHunk = true;
      continue;
    }
    if (!inHunk) continue; // headers (---, +++) and anything before the first hunk
    if (line.startsWith('\\')) {
      if (lastSide === 'old' || lastSide === 'both') oldNoEol = true;
      if (lastSide === 'new' || lastSide === 'both') newNoEol = true;
      continue;
    }
    const mark = line[0];
    const text = line.slice(1);
    if (mark === '-') {
      before.push(text);
      oldNext++;
      lastSide = 'old';
    } else if (mark === '+') {
      after.push(text);
      lastSide = 'new';
    } else if (mark === ' ' || line === '') {
      before.push(text);
      after.push(text);
      oldNext++;
      lastSide = 'both';
    }
  }
  const join = (side: string[], noEol: boolean) => (side.length ? side.join('\n') + (noEol ? '' : '\n') : '');
  return { before: join(before, oldNoEol), after: join(after, newNoEol) };
}
