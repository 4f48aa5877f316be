/**
 * Reads chef-client / chef-solo output (the default doc formatter, Chef Client
 * 12 to Chef Infra Client 18) into a ChefReport as it streams: chunks may cut
 * lines, ANSI colour codes and characters anywhere. What it does not recognise
 * stays as plain lines; no input makes it throw.
 *
 * This class follows the run: its stages, the cookbooks, the resources and
 * what each changed. Turning the stream into clean lines (outputLines.ts), the
 * file diffs under a change (outputDiffs.ts) and the error block and FATAL
 * lines of a failure (outputFailure.ts) are read apart.
 */
import type { ChefFileDiff, ChefReport, ChefResource } from './report';
import { emptyReport, MAX_PLAIN_LINES } from './report';
import {
  BANNER,
  CHANGE,
  CHEF_LOG,
  cleanLine,
  COMPILING,
  CONVERGING,
  COOKBOOK,
  FAILED,
  HANDLERS,
  LOG,
  OTHER_CHEF,
  OutputLineSplitter,
  RECIPE,
  RESOURCE,
  RUN_LIST,
  START,
  SUCCESS,
  SYNC,
  UP_TO_DATE_ALONE,
  UPDATE_FILE,
} from './outputLines';
import { ChefDiffReader } from './outputDiffs';
import { ChefFailureReader } from './outputFailure';

export class ChefOutputParser {
  private readonly state: ChefReport;
  private readonly lines = new OutputLineSplitter();
  private readonly diffs = new ChefDiffReader((line) => this.plain(line));
  private readonly failures: ChefFailureReader;
  private ended = false;
  private cookbook: string | undefined;
  private recipe: string | undefined;
  /** Resources whose action may still print, innermost last, with the indentation of their line. */
  private stack: Array<{ index: number; indent: number }> = [];
  private syncing = false;
  private countsFromChef = false;
  private dirty = false;

  constructor(source: ChefReport['source'] = 'output') {
    this.state = emptyReport(source);
    this.failures = new ChefFailureReader(
      this.state,
      (line) => this.plain(line),
      () => ({ cookbook: this.cookbook, recipe: this.recipe }),
    );
  }

  /** The report so far: a live object that later pushes change; clone it to keep it. */
  get report(): ChefReport {
    this.settle();
    return this.state;
  }

  /** Bytes are decoded as UTF-8 across chunk boundaries; strings are taken as they are. */
  push(chunk: string | Uint8Array): void {
    if (this.ended) return;
    for (const line of this.lines.push(chunk)) this.line(line);
  }

  /** The output is over: the last partial line counts, and a Chef run that did not say how it ended is 'unknown'. */
  end(): void {
    if (this.ended) return;
    const rest = this.lines.end();
    if (rest) this.line(rest);
    this.ended = true;
    this.diffs.close();
    this.failures.closeBlock();
    if (this.state.status === 'running') this.state.status = 'unknown';
    this.settle();
  }

  private line(raw: string): void {
    const line = cleanLine(raw);
    this.dirty = true;
    try {
      this.classify(line);
    } catch {
      // Odd input must never cost the report: keep the line as it came.
      this.plain(line);
    }
  }

  private classify(line: string): void {
    if (this.diffs.line(line)) return;
    if (this.failures.blockLine(line)) return;
    if (!line.trim()) return;
    let m: RegExpExecArray | null;
    if ((m = START.exec(line))) return this.started(m[1], m[2]);
    if ((m = SUCCESS.exec(line))) return this.finished('success', Number(m[1]), Number(m[2]), !!m[3], m[4]);
    if ((m = FAILED.exec(line))) return this.finished('failure', Number(m[1]), undefined, !!m[2], m[3]);
    if ((m = RESOURCE.exec(line))) return this.resourceLine(m[1].length, m[2], m[3], m[4], m[5]);
    if ((m = RECIPE.exec(line))) return this.recipeLine(m[1]);
    if ((m = CONVERGING.exec(line))) {
      this.detected();
      this.syncing = false;
      this.state.stage = 'converging';
      this.state.totalResources = Number(m[1]);
      return;
    }
    if (COMPILING.test(line)) {
      this.detected();
      this.syncing = false;
      this.state.stage = 'compiling';
      return;
    }
    if ((m = RUN_LIST.exec(line))) {
      this.detected();
      this.state.runList = parseRubyList(m[1]);
      return;
    }
    if (SYNC.test(line)) {
      this.detected();
      this.syncing = true;
      return;
    }
    if (this.syncing && (m = COOKBOOK.exec(line))) {
      (this.state.cookbooks ??= []).push({ name: m[1], version: m[2] });
      return;
    }
    if (UP_TO_DATE_ALONE.test(line) && this.stack.length) return this.upToDateAlone();
    if ((m = CHANGE.exec(line)) && this.changeLine(m[1].length, m[2])) return;
    if (this.state.chef && (m = BANNER.exec(line))) {
      this.diffs.close();
      return this.failures.openBlock(m[1].length);
    }
    if ((m = LOG.exec(line)) && (this.state.chef || CHEF_LOG.test(m[3])) && this.failures.logLine(m[2], m[3])) return;
    if (OTHER_CHEF.test(line) || HANDLERS.test(line)) {
      this.syncing = false;
      return this.detected();
    }
    this.plain(line);
  }

  private detected(): void {
    this.state.chef = true;
    if (this.state.status === 'unknown' && !this.state.complete) this.state.status = 'running';
  }

  private started(product: string, version: string): void {
    // A second run in the same output (two chef operations in one phase): the report is the latest run's.
    if (this.state.chef && this.state.stage !== 'starting') this.reset();
    this.detected();
    this.state.product = product;
    this.state.chefVersion = version;
  }

  private reset(): void {
    const { plainLines, plainLinesDropped, source } = this.state;
    Object.assign(this.state, { ...emptyReport(source), plainLines, plainLinesDropped });
    for (const key of ['product', 'chefVersion', 'whyRun', 'runList', 'cookbooks', 'durationSeconds', 'totalResources', 'updatedResources', 'failure'] as const) delete this.state[key];
    this.stack = [];
    this.diffs.discard();
    this.failures.discard();
    this.cookbook = this.recipe = undefined;
    this.countsFromChef = false;
  }

  private finished(status: 'success' | 'failure', updated: number, total: number | undefined, whyRun: boolean, duration: string | undefined): void {
    this.detected();
    this.diffs.close();
    this.failures.closeBlock();
    this.stack = [];
    const s = this.state;
    s.status = status;
    s.stage = 'finished';
    s.complete = true;
    s.updatedResources = updated;
    if (total !== undefined) s.totalResources = total;
    this.countsFromChef = true;
    if (whyRun) s.whyRun = true;
    const seconds = duration ? parseDuration(duration) : undefined;
    if (seconds !== undefined) s.durationSeconds = seconds;
    // ignore_failure: Chef printed the error, then carried on and finished.
    if (status === 'success' && s.failure) s.failure.ignored = true;
    if (status === 'failure') this.failures.ensureFailure();
  }

  private recipeLine(label: string): void {
    this.detected();
    this.syncing = false;
    if (this.state.stage === 'starting' || this.state.stage === 'compiling') this.state.stage = 'converging';
    const sep = label.indexOf('::');
    if (label.startsWith('<') || sep < 0) {
      // "<Dynamically Defined Resource>" (or a recipe named without its cookbook: its default recipe).
      this.cookbook = label.startsWith('<') ? undefined : label;
      this.recipe = label.startsWith('<') ? undefined : 'default';
    } else {
      this.cookbook = label.slice(0, sep);
      this.recipe = label.slice(sep + 2);
    }
  }

  private resourceLine(indent: number, type: string, name: string, action: string, rest: string): void {
    this.detected();
    this.syncing = false;
    this.diffs.close();
    if (this.state.stage === 'starting' || this.state.stage === 'compiling') this.state.stage = 'converging';
    while (this.stack.length && this.stack[this.stack.length - 1].indent >= indent) this.stack.pop();
    const parent = this.stack[this.stack.length - 1];
    const resource: ChefResource = {
      type,
      name,
      action,
      updated: false,
      upToDate: false,
      skipped: false,
      changes: [],
      diffs: [],
      depth: this.stack.length,
    };
    if (this.cookbook) {
      resource.cookbook = this.cookbook;
      resource.recipe = this.recipe;
    }
    if (parent) resource.parent = parent.index;
    const suffix = /\(([^()]*)\)\s*$/.exec(rest.trim());
    if (suffix) {
      const words = suffix[1];
      if (words === 'up to date') resource.upToDate = true;
      else if (words.startsWith('skipped')) {
        resource.skipped = true;
        resource.skipReason = words;
      }
    }
    this.state.resources.push(resource);
    this.stack.push({ index: this.state.resources.length - 1, indent });
  }

  /** " (up to date)" on a line of its own closes a custom resource whose inner resources printed in between. */
  private upToDateAlone(): void {
    const resources = this.state.resources;
    const open = [...this.stack].reverse().map((s) => resources[s.index]);
    const target = open.find((r) => !r.updated && !r.upToDate && !r.skipped && resources.some((x) => x.parent === resources.indexOf(r))) ?? open[0];
    if (target && !target.updated) target.upToDate = true;
  }

  private changeLine(indent: number, text: string): boolean {
    const owner = [...this.stack].reverse().find((s) => s.indent < indent);
    if (!owner) return false;
    this.diffs.close();
    const resource = this.state.resources[owner.index];
    resource.changes.push(text);
    this.markUpdated(owner.index);
    if (/^would /i.test(text)) this.state.whyRun = true;
    const file = UPDATE_FILE.exec(text);
    if (file) {
      const entry: ChefFileDiff = { path: file[1], diff: '' };
      resource.diffs.push(entry);
      this.diffs.open(entry, indent);
    }
    return true;
  }

  private markUpdated(index: number): void {
    // A custom resource is updated when anything its action declared was.
    for (let i: number | undefined = index; i !== undefined; i = this.state.resources[i].parent) {
      const r = this.state.resources[i];
      r.updated = true;
      r.upToDate = false;
    }
  }

  private plain(line: string): void {
    const lines = this.state.plainLines;
    lines.push(line);
    if (lines.length > MAX_PLAIN_LINES) {
      lines.splice(0, lines.length - MAX_PLAIN_LINES);
      this.state.plainLinesDropped++;
    }
  }

  /** Brings derived fields up to date: the open diff's text, the open error block, the running count. */
  private settle(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.diffs.settle();
    this.failures.settle();
    const s = this.state;
    if (!this.countsFromChef && (s.stage === 'converging' || s.resources.length)) s.updatedResources = s.resources.filter((r) => r.updated).length;
  }
}

/** A whole output at once. */
export function parseChefOutput(text: string | Uint8Array, source: ChefReport['source'] = 'output'): ChefReport {
  const parser = new ChefOutputParser(source);
  parser.push(text);
  parser.end();
  return parser.report;
}

/** "05 seconds", "1 minutes 05 seconds", "2 hours 01 minutes 05 seconds", "5.063 seconds". */
export function parseDuration(text: string): number | undefined {
  let total = 0;
  let found = false;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)\s*(hours?|minutes?|seconds?)/g)) {
    found = true;
    const n = Number(m[1]);
    total += m[2].startsWith('hour') ? n * 3600 : m[2].startsWith('minute') ? n * 60 : n;
  }
  return found ? total : undefined;
}

/** Chef prints the run list as a Ruby array: `["recipe[app]", "role[web]"]`. */
function parseRubyList(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed.map(String);
  } catch {
    // Ruby's inspect is not always JSON: read the quoted items.
  }
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
}
