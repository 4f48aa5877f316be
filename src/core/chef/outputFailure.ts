/**
 * How a Chef run failed, read from its output: the error block Chef frames in
 * `====` banners (title, exception and message, its sections, the cookbook
 * trace) and, when that block is missing or cut, the FATAL and ERROR lines
 * printed after the run. The failure is tied to the resource it names.
 */
import type { ChefFailure, ChefReport } from './report';
import { resourceId } from './report';
import { BANNER, endsErrorBlock } from './outputLines';

/** Lines kept in one error block (a Compiled Resource of a huge template can be long). */
const MAX_BLOCK_LINES = 2000;
const MAX_BACKTRACE_LINES = 10;

const DASHES = /^-{3,}\s*$/;
const HAD_AN_ERROR = /^([A-Za-z_][\w:]*\[.*\]) \((\S+) line \d+\) had an error: ([A-Z][\w:]*): (.*)$/;
const CLASS_AND_MESSAGE = /^([A-Z][\w]*(?:::[A-Z][\w]*)*): (.*)$/;
const EXECUTING = /^Error executing action `([^`]*)` on resource '(.*)'$/;
const SPLIT_ID = /^([A-Za-z_][\w:]*)\[(.*)\]$/;

interface OpenBlock {
  indent: number;
  phase: 'title' | 'body';
  title: string[];
  /** Section 0 holds the lines before the first titled section. */
  sections: Array<{ title: string; lines: string[] }>;
  lineCount: number;
}

/** Where the parser is in the run list, for a failed resource whose own line was cut. */
export interface RecipePosition {
  cookbook: string | undefined;
  recipe: string | undefined;
}

export class ChefFailureReader {
  private block: OpenBlock | undefined;

  /**
   * `state` is the parser's live report; `plain` keeps a line that came from
   * elsewhere; `position` says which recipe is converging.
   */
  constructor(
    private readonly state: ChefReport,
    private readonly plain: (line: string) => void,
    private readonly position: () => RecipePosition,
  ) {}

  /** A banner opened an error block indented by `indent`: the run failed. */
  openBlock(indent: number): void {
    this.closeBlock();
    this.block = { indent, phase: 'title', title: [], sections: [{ title: '', lines: [] }], lineCount: 0 };
    const failure: ChefFailure = { stage: this.state.stage, message: '', sections: [], backtrace: [], fatal: [] };
    this.state.failure = failure;
    this.state.status = 'failure';
  }

  /** True when the line belongs to the open error block; false (and the block is closed) when it does not, or none is open. */
  blockLine(line: string): boolean {
    const b = this.block;
    if (!b) return false;
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
    if (endsErrorBlock(line)) {
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
      const { cookbook, recipe } = this.position();
      this.state.resources.push({ type: id[1], name: id[2], action: m[1], ...(cookbook ? { cookbook, recipe } : {}), updated: false, upToDate: false, skipped: false, changes: [], diffs: [], depth: 0 });
      index = this.state.resources.length - 1;
    }
    if (index >= 0) {
      failure.resourceIndex = index;
      this.state.resources[index].failed = true;
    }
  }

  /** The error block is over: the failure gets what it said. */
  closeBlock(): void {
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

  /** The run failed: the failure so far, or an empty one. */
  ensureFailure(): ChefFailure {
    this.state.chef = true;
    this.state.status = 'failure';
    return (this.state.failure ??= { stage: this.state.stage, message: '', sections: [], backtrace: [], fatal: [] });
  }

  /** FATAL and ERROR lines after the run: the exception when no error block said it (output cut, forked run). */
  logLine(level: string, text: string): boolean {
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

  /** For a report read mid-stream: the open block's body so far, and the failed resource once its line is known. */
  settle(): void {
    if (this.block?.phase === 'body') this.applyBlock();
    const s = this.state;
    if (s.failure && s.failure.resource && s.failure.resourceIndex === undefined) {
      const index = s.resources.map((r) => resourceId(r)).lastIndexOf(s.failure.resource);
      if (index >= 0) {
        s.failure.resourceIndex = index;
        s.resources[index].failed = true;
        s.resources[index].error ??= s.failure.message.split('\n')[0];
      }
    }
  }

  /** A new run starts in the same output: the open block is forgotten as it is. */
  discard(): void {
    this.block = undefined;
  }
}

function trimBlank(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && !lines[start].trim()) start++;
  while (end > start && !lines[end - 1].trim()) end--;
  return lines.slice(start, end);
}
