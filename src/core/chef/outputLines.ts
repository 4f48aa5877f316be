/**
 * The lines of chef-client / chef-solo output, before anyone reads them: a
 * stream cut anywhere is put back into whole lines, each line loses its escape
 * codes and carriage-return overdraws, and the patterns say which lines are
 * Chef's own. The parser (outputParser.ts) and its diff and failure readers
 * all match against these.
 */

// CSI (colours, cursor), OSC (titles, hyperlinks) and two-character escapes.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

export const START = /^(?:Starting )?(Chef (?:Infra )?Client), version (\S+)/;
export const RUN_LIST = /^resolving cookbooks for run list: (.*)$/i;
export const SYNC = /^Synchronizing Cookbooks:?$/i;
export const COOKBOOK = /^\s+- (\S+) \(([^)]*)\)$/;
export const COMPILING = /^Compiling Cookbooks\.*$/i;
export const CONVERGING = /^Converging (\d+) resources?/;
export const RECIPE = /^\s*Recipe: (.+?)\s*$/;
export const RESOURCE = /^(\s*)\* ([A-Za-z_][\w:]*)\[(.*)\] action (\w+)(.*)$/;
export const UP_TO_DATE_ALONE = /^\s*\(up to date\)\s*$/;
export const CHANGE = /^(\s*)- (.*)$/;
export const UPDATE_FILE = /^(?:update|would update) content in file (.+) from \S+ to \S+$/i;
export const BANNER = /^(\s*)={20,}\s*$/;
export const HANDLERS = /^Running handlers( complete)?:?\s*$/;
export const SUCCESS = /^(?:Chef (?:Infra )?Client finished|Infra Phase complete), (\d+)\/(\d+) resources (would have been )?updated(?: in (.*))?$/;
export const FAILED = /^(?:Chef (?:Infra )?Client failed|Infra Phase failed)\. (\d+) resources (would have been )?updated(?: in (.*))?$/;
export const OTHER_CHEF = /^(?:Patents: |Targeting node: |Infra Phase starting|Installing Cookbook Gems:|Loading Chef InSpec |Running handlers|Starting Compliance Phase|Compliance Phase)/i;
export const LOG = /^(?:\[([^\]]+)\] )?(FATAL|ERROR|WARN|INFO|DEBUG|TRACE): (.*)$/;
/** Log lines only Chef writes: enough to know a log whose head was cut is a Chef run's. */
export const CHEF_LOG = /^Stacktrace dumped to \S*chef-stacktrace\.out$|^[A-Za-z_][\w:]*\[.*\] \(\S+ line \d+\) had an error: /;

/** Lines of Chef's own structure: they end a diff or an error block that another process's line would not. */
export function isChefStructure(line: string): boolean {
  return [START, SUCCESS, FAILED, RESOURCE, RECIPE, CONVERGING, COMPILING, HANDLERS, CHANGE, UP_TO_DATE_ALONE, BANNER, OTHER_CHEF].some((re) => re.test(line)) || /^\[[^\]]+\] [A-Z]+: /.test(line);
}

/** Chef's own next lines end an error block; anything else inside it is part of it. */
export function endsErrorBlock(line: string): boolean {
  return [START, SUCCESS, FAILED, RESOURCE, RECIPE, CONVERGING, COMPILING, HANDLERS].some((re) => re.test(line)) || /^\[[^\]]+\] [A-Z]+: /.test(line);
}

/** The line as the terminal would show it last: no escape codes, nothing before its last carriage return. */
export function cleanLine(raw: string): string {
  let line = raw.replace(ANSI, '');
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const cr = line.lastIndexOf('\r');
  if (cr >= 0) line = line.slice(cr + 1);
  return line;
}

/** No line Chef prints is longer; longer "lines" (binary output, progress bars) are cut to this. */
const MAX_LINE_CHARS = 64 * 1024;

/**
 * Puts a stream cut at any byte back into lines: bytes are decoded as UTF-8
 * across chunk boundaries, strings are taken as they are, and the line still
 * waiting for its newline stays bounded.
 */
export class OutputLineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private partial = '';

  /** The lines this chunk completes, each cut to the longest line kept. */
  push(chunk: string | Uint8Array): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!text) return [];
    // Only the new text is searched for line ends: output without newlines must not cost quadratic time.
    if (!text.includes('\n')) {
      this.partial = keepTail(this.partial + text);
      return [];
    }
    const parts = text.split('\n');
    parts[0] = this.partial + parts[0];
    this.partial = keepTail(parts.pop() ?? '');
    for (let i = 0; i < parts.length; i++) if (parts[i].length > MAX_LINE_CHARS) parts[i] = parts[i].slice(0, MAX_LINE_CHARS);
    return parts;
  }

  /** The stream is over: what is left after the last newline ('' when nothing is). */
  end(): string {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    return rest;
  }
}

/** A partial line past the limit keeps its end: a progress bar's latest state. */
function keepTail(partial: string): string {
  return partial.length > MAX_LINE_CHARS ? partial.slice(-MAX_LINE_CHARS) : partial;
}
