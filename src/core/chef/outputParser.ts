/**
 * Reads chef-client / chef-solo output (the default doc formatter, Chef Client
 * 12 to Chef Infra Client 18) into a ChefReport as it streams: chunks may cut
 * lines, ANSI colour codes and characters anywhere. What it does not recognise
 * stays as plain lines; no input makes it throw.
 */
import type { ChefFailure, ChefFileDiff, ChefReport, ChefResource } from './report';
import { emptyReport, MAX_PLAIN_LINES, resourceId } from './report';

/** Lines kept in one error block (a Compiled Resource of a huge template can be long). */
const MAX_BLOCK_LINES = 2000;
const MAX_BACKTRACE_LINES = 10;
/** Lines kept in one file's diff: Chef itself suppresses diffs of big files, but output is untrusted. */
const MAX_DIFF_LINES = 20000;

// CSI (colours, cursor), OSC (titles, hyperlinks) and two-character escapes.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

const START = /^(?:Starting )?(Chef (?:Infra )?Client), version (\S+)/;
const RUN_LIST = /^resolving cookbooks for run list: (.*)$/i;
const SYNC = /^Synchronizing Cookbooks:?$/i;
const COOKBOOK = /^\s+- (\S+) \(([^)]*)\)$/;
const COMPILING = /^Compiling Cookbooks\.*$/i;
const CONVERGING = /^Converging (\d+) resources?/;
const RECIPE = /^\s*Recipe: (.+?)\s*$/;
const RESOURCE = /^(\s*)\* ([A-Za-z_][\w:]*)\[(.*)\] action (\w+)(.*)$/;
const UP_TO_DATE_ALONE = /^\s*\(up to date\)\s*$/;
const CHANGE = /^(\s*)- (.*)$/;
const UPDATE_FILE = /^(?:update|would update) content in file (.+) from \S+ to \S+$/i;
const BANNER = /^(\s*)={20,}\s*$/;
const DASHES = /^-{3,}\s*$/;
const HANDLERS = /^Running handlers( complete)?:?\s*$/;
const SUCCESS = /^(?:Chef (?:Infra )?Client finished|Infra Phase complete), (\d+)\/(\d+) resources (would have been )?updated(?: in (.*))?$/;
const FAILED = /^(?:Chef (?:Infra )?Client failed|Infra Phase failed)\. (\d+) resources (would have been )?updated(?: in (.*))?$/;
const OTHER_CHEF = /^(?:Patents: |Targeting node: |Infra Phase starting|Installing Cookbook Gems:|Loading Chef InSpec |Running handlers|Starting Compliance Phase|Compliance Phase)/i;
const LOG = /^(?:\[([^\]]+)\] )?(FATAL|ERROR|WARN|INFO|DEBUG|TRACE): (.*)$/;
const HAD_AN_ERROR = /^([A-Za-z_][\w:]*\[.*\]) \((\S+) line \d+\) had an error: ([A-Z][\w:]*): (.*)$/;
const CLASS_AND_MESSAGE = /^([A-Z][\w]*(?:::[A-Z][\w]*)*): (.*)$/;
const EXECUTING = /^Error executing action `([^`]*)` on resource '(.*)'$/;
const SPLIT_ID = /^([A-Za-z_][\w:]*)\[(.*)\]$/;
/** Log lines only Chef writes: enough to know a log whose head was cut is a Chef run's. */
const CHEF_LOG = /^Stacktrace dumped to \S*chef-stacktrace\.out$|^[A-Za-z_][\w:]*\[.*\] \(\S+ line \d+\) had an error: /;

/** Lines of Chef's own structure: they end a diff or an error block that another process's line would not. */
function isChefStructure(line: string): boolean {
  return [START, SUCCESS, FAILED, RESOURCE, RECIPE, CONVERGING, COMPILING, HANDLERS, CHANGE, UP_TO_DATE_ALONE, BANNER, OTHER_CHEF].some((re) => re.test(line)) || /^\[[^\]]+\] [A-Z]+: /.test(line);
}

interface DiffState {
  resource: ChefResource;
  entry: ChefFileDiff;
  indent: string;
  lines: string[];
  phase: 'expect' | 'headers' | 'hunk' | 'between';
  oldLeft: number;
  newLeft: number;
}

interface BlockState {
  indent: number;
  phase: 'title' | 'body';
  title: string[];
  /** Section 0 holds the lines before the first titled section. */
  sections: Array<{ title: string; lines: string[] }>;
  lineCount: number;
}

export class ChefOutputParser {
  private readonly state: ChefReport;
  private readonly decoder = new TextDecoder('utf-8');
  private partial = '';
  private ended = false;
  private cookbook: string | undefined;
  private recipe: string | undefined;
  /** Resources whose action may still print, innermost last, with the indentation of their line. */
  private stack: Array<{ index: number; indent: number }> = [];
  private diff: DiffState | undefined;
  private block: BlockState | undefined;
  private syncing = false;
  private countsFromChef = false;
  private dirty = false;

  constructor(source: ChefReport['source'] = 'output') {
    this.state = emptyReport(source);
  }

  /** The report so far: a live object that later pushes change; clone it to keep it. */
  get report(): ChefReport {
    this.settle();
    return this.state;
  }

  /** Bytes are decoded as UTF-8 across chunk boundaries; strings are taken as they are. */
  push(chunk: string | Uint8Array): void {
    if (this.ended) return;
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!text) return;
    // Only the new text is searched for line ends: output without newlines must not cost quadratic time.
    if (!text.includes('\n')) {
      this.partial = keepTail(this.partial + text);
      return;
    }
    const parts = text.split('\n');
    parts[0] = this.partial + parts[0];
    this.partial = keepTail(parts.pop() ?? '');
    for (const line of parts) this.line(line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line);
  }

  /** The output is over: the last partial line counts, and a Chef run that did not say how it ended is 'unknown'. */
  end(): void {
    if (this.ended) return;
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    if (rest) this.line(rest);
    this.ended = true;
    this.closeDiff();
    this.closeBlock();
    if (this.state.status === 'running') this.state.status = 'unknown';
    this.settle();
  }

  private line(raw: string): void {
    let line = raw.replace(ANSI, '');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const cr = line.lastIndexOf('\r');
    if (cr >= 0) line = line.slice(cr + 1);
    this.dirty = true;
    try {
      this.classify(line);
    } catch {
      // Odd input must never cost the report: keep the line as it came.
      this.plain(line);
    }
  }

  private classify(line: string): void {
    if (this.diff && this.diffLine(line)) return;
    if (this.block) {
      if (this.blockLine(line)) return;
    }
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
    if (this.state.chef && (m = BANNER.exec(line))) return this.openBlock(m[1].length);
    if ((m = LOG.exec(line)) && (this.state.chef || CHEF_LOG.test(m[3])) && this.logLine(m[2], m[3])) return;
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
    this.diff = undefined;
    this.block = undefined;
    this.cookbook = this.recipe = undefined;
    this.countsFromChef = false;
  }

  private finished(status: 'success' | 'failure', updated: number, total: number | undefined, whyRun: boolean, duration: string | undefined): void {
    this.detected();
    this.closeDiff();
    this.closeBlock();
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
    if (status === 'failure') this.ensureFailure();
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
    this.closeDiff();
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
    this.closeDiff();
    const resource = this.state.resources[owner.index];
    resource.changes.push(text);
    this.markUpdated(owner.index);
    if (/^would /i.test(text)) this.state.whyRun = true;
    const file = UPDATE_FILE.exec(text);
    if (file) {
      const entry: ChefFileDiff = { path: file[1], diff: '' };
      resource.diffs.push(entry);
      this.diff = { resource, entry, indent: ' '.repeat(indent), lines: [], phase: 'expect', oldLeft: 0, newLeft: 0 };
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

  /** True when the line belongs to the open diff. */
  private diffLine(line: string): boolean {
    const d = this.diff!;
    let body: string;
    if (line.startsWith(d.indent)) body = line.slice(d.indent.length);
    else if (!line.trim() && d.phase === 'hunk') body = '';
    else if (line.trim() && !isChefStructure(line)) {
      // Another process's line between a diff's lines: plain output, the diff goes on.
      this.plain(line);
      return true;
    } else {
      this.closeDiff();
      return false;
    }
    // A blank context line whose leading space was stripped on the way (trailing whitespace).
    if (body === '' && d.phase === 'hunk') body = ' ';
    const take = () => {
      if (d.lines.length < MAX_DIFF_LINES) d.lines.push(body);
      return true;
    };
    const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(body);
    switch (d.phase) {
      case 'expect':
        if (body.startsWith('--- ')) {
          d.phase = 'headers';
          return take();
        }
        if (/^\(.*\)$/.test(body.trim())) {
          d.entry.note = body.trim();
          this.closeDiff();
          return true;
        }
        break;
      case 'headers':
        if (body.startsWith('+++ ')) return take();
        break;
      case 'hunk':
        if (body.startsWith('\\')) return take();
        if (body === '' || body[0] === ' ') {
          d.oldLeft--;
          d.newLeft--;
        } else if (body[0] === '-') d.oldLeft--;
        else if (body[0] === '+') d.newLeft--;
        else break;
        if (d.oldLeft <= 0 && d.newLeft <= 0) d.phase = 'between';
        return take();
      case 'between':
        if (body.startsWith('\\')) return take();
        break;
    }
    if (hunk && d.phase !== 'expect') {
      d.phase = 'hunk';
      d.oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      d.newLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      if (d.oldLeft <= 0 && d.newLeft <= 0) d.phase = 'between';
      return take();
    }
    this.closeDiff();
    return false;
  }

  private closeDiff(): void {
    const d = this.diff;
    if (!d) return;
    this.diff = undefined;
    if (d.lines.length) d.entry.diff = d.lines.join('\n') + '\n';
  }

  private openBlock(indent: number): void {
    this.closeDiff();
    this.closeBlock();
    this.block = { indent, phase: 'title', title: [], sections: [{ title: '', lines: [] }], lineCount: 0 };
    const failure: ChefFailure = { stage: this.state.stage, message: '', sections: [], backtrace: [], fatal: [] };
    this.state.failure = failure;
    this.state.status = 'failure';
  }

  /** True when the line belongs to the open error block. */
  private blockLine(line: string): boolean {
    const b = this.block!;
    if (BANNER.test(line)) {
      if (b.phase === 'title') {
        b.phase = 'body';
        this.blockTitle(b.title.join(' ').trim());
        return true;
      }
      this.closeBlock();
      return false;
    }
    if (b.phase === 'title') {
      if (line.trim()) b.title.push(line.trim());
      if (b.title.length > 5) b.phase = 'body'; // a banner that never closes
      return true;
    }
    if (this.endsBlock(line)) {
      this.closeBlock();
      return false;
    }
    const indent = /^\s*/.exec(line)![0].length;
    if (line.trim() && indent < b.indent) {
      this.plain(line);
      return true;
    }
    if (++b.lineCount > MAX_BLOCK_LINES) return true;
    const text = line.slice(Math.min(indent, b.indent)).trimEnd();
    const current = b.sections[b.sections.length - 1];
    const previous = current.lines[current.lines.length - 1];
    if (DASHES.test(text.trim()) && previous?.trim()) {
      current.lines.pop();
      b.sections.push({ title: previous.trim().replace(/:$/, ''), lines: [] });
    } else current.lines.push(text);
    return true;
  }

  /** Chef's own next lines end an error block; anything else inside it is part of it. */
  private endsBlock(line: string): boolean {
    return [START, SUCCESS, FAILED, RESOURCE, RECIPE, CONVERGING, COMPILING, HANDLERS].some((re) => re.test(line)) || /^\[[^\]]+\] [A-Z]+: /.test(line);
  }

  private blockTitle(title: string): void {
    const failure = this.state.failure!;
    failure.title = title;
    const m = EXECUTING.exec(title);
    if (!m) return;
    failure.action = m[1];
    failure.resource = m[2];
    const id = SPLIT_ID.exec(m[2]);
    let index = this.state.resources.map((r) => resourceId(r)).lastIndexOf(m[2]);
    if (index < 0 && id) {
      // The output was cut before the resource's own line: the banner still names it.
      this.state.resources.push({ type: id[1], name: id[2], action: m[1], ...(this.cookbook ? { cookbook: this.cookbook, recipe: this.recipe } : {}), updated: false, upToDate: false, skipped: false, changes: [], diffs: [], depth: 0 });
      index = this.state.resources.length - 1;
    }
    if (index >= 0) {
      failure.resourceIndex = index;
      this.state.resources[index].failed = true;
    }
  }

  private closeBlock(): void {
    if (!this.block) return;
    this.applyBlock();
    this.block = undefined;
  }

  /** Fills the failure from the block's sections: the first titled section is the exception and its message. */
  private applyBlock(): void {
    const b = this.block;
    const failure = this.state.failure;
    if (!b || !failure) return;
    const titled = b.sections.filter((s) => s.title);
    const [exception, ...rest] = titled;
    if (exception) {
      failure.exceptionClass = exception.title;
      failure.message = trimBlank(exception.lines).join('\n');
    } else failure.message = trimBlank(b.sections[0].lines).join('\n');
    failure.sections = rest.map((s) => ({ title: s.title, lines: trimBlank(s.lines) }));
    const trace = rest.find((s) => /^Cookbook Trace/i.test(s.title));
    failure.backtrace = trace ? trace.lines.map((l) => l.trim()).filter(Boolean).slice(0, MAX_BACKTRACE_LINES) : [];
    if (failure.resourceIndex !== undefined) {
      const resource = this.state.resources[failure.resourceIndex];
      if (resource) resource.error = failure.message.split('\n')[0] || failure.exceptionClass;
    }
  }

  private ensureFailure(): ChefFailure {
    this.state.chef = true;
    this.state.status = 'failure';
    return (this.state.failure ??= { stage: this.state.stage, message: '', sections: [], backtrace: [], fatal: [] });
  }

  /** FATAL and ERROR lines after the run: the exception when no error block said it (output cut, forked run). */
  private logLine(level: string, text: string): boolean {
    if (level !== 'FATAL' && level !== 'ERROR') return false;
    if (/^(Running exception handlers|Exception handlers complete)$/.test(text)) return true;
    const had = HAD_AN_ERROR.exec(text);
    if (level === 'ERROR' && !had) return false;
    const failure = this.ensureFailure();
    if (level === 'FATAL') failure.fatal.push(text);
    const dumped = /^Stacktrace dumped to (.+)$/.exec(text);
    if (dumped) {
      failure.stacktracePath = dumped[1];
      return true;
    }
    if (/^Please provide the contents of the stacktrace/.test(text)) return true;
    if (had) {
      failure.resource ??= had[1];
      if (!failure.exceptionClass) {
        failure.exceptionClass = had[3];
        failure.message = had[4];
      }
      return true;
    }
    const cm = CLASS_AND_MESSAGE.exec(text);
    // A forked run's parent only says its child failed: that is not the exception.
    if (cm && !failure.exceptionClass && cm[1] !== 'Chef::Exceptions::ChildConvergeError') {
      failure.exceptionClass = cm[1];
      const inner = HAD_AN_ERROR.exec(cm[2]);
      failure.message = inner ? inner[4] : cm[2];
      if (inner) failure.resource ??= inner[1];
    } else if (!failure.message) failure.message = cm ? cm[2] : text;
    return true;
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
    if (this.diff?.lines.length) this.diff.entry.diff = this.diff.lines.join('\n') + '\n';
    if (this.block?.phase === 'body') this.applyBlock();
    const s = this.state;
    if (!this.countsFromChef && (s.stage === 'converging' || s.resources.length)) s.updatedResources = s.resources.filter((r) => r.updated).length;
    if (s.failure && s.failure.resource && s.failure.resourceIndex === undefined) {
      const index = s.resources.map((r) => resourceId(r)).lastIndexOf(s.failure.resource);
      if (index >= 0) {
        s.failure.resourceIndex = index;
        s.resources[index].failed = true;
        s.resources[index].error ??= s.failure.message.split('\n')[0];
      }
    }
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

function trimBlank(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && !lines[start].trim()) start++;
  while (end > start && !lines[end - 1].trim()) end--;
  return lines.slice(start, end);
}

/** No line Chef prints is longer; longer "lines" (binary output, progress bars) are cut to this. */
const MAX_LINE_CHARS = 64 * 1024;

/** A partial line past the limit keeps its end: a progress bar's latest state. */
function keepTail(partial: string): string {
  return partial.length > MAX_LINE_CHARS ? partial.slice(-MAX_LINE_CHARS) : partial;
}
