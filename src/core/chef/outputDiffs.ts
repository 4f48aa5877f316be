/**
 * The unified diff Chef prints under "update content in file …": one file's
 * diff at a time, read line by line with its hunk counts so that it ends where
 * Chef's diff ends, not at the next line that happens to start with a space.
 */
import type { ChefFileDiff } from './report';
import { isChefStructure } from './outputLines';

/** Lines kept in one file's diff: Chef itself suppresses diffs of big files, but output is untrusted. */
const MAX_DIFF_LINES = 20000;

interface OpenDiff {
  entry: ChefFileDiff;
  indent: string;
  lines: string[];
  phase: 'expect' | 'headers' | 'hunk' | 'between';
  oldLeft: number;
  newLeft: number;
}

export class ChefDiffReader {
  private diff: OpenDiff | undefined;

  /** `plain` keeps another process's line that came between a diff's lines. */
  constructor(private readonly plain: (line: string) => void) {}

  /** A diff for `entry` may follow, indented deeper than `indent` (the change line's). */
  open(entry: ChefFileDiff, indent: number): void {
    this.close();
    this.diff = { entry, indent: ' '.repeat(indent), lines: [], phase: 'expect', oldLeft: 0, newLeft: 0 };
  }

  /** True when the line belongs to the open diff; false (and the diff is closed) when it does not, or none is open. */
  line(line: string): boolean {
    const d = this.diff;
    if (!d) return false;
    let body: string;
    if (line.startsWith(d.indent)) body = line.slice(d.indent.length);
    else if (!line.trim() && d.phase === 'hunk') body = '';
    else if (line.trim() && !isChefStructure(line)) {
      // Another process's line between a diff's lines: plain output, the diff goes on.
      this.plain(line);
      return true;
    } else {
      this.close();
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
          this.close();
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
    this.close();
    return false;
  }

  /** The diff is over: its entry gets the text read. */
  close(): void {
    const d = this.diff;
    if (!d) return;
    this.diff = undefined;
    if (d.lines.length) d.entry.diff = d.lines.join('\n') + '\n';
  }

  /** The open diff's text so far, for a report read mid-stream. */
  settle(): void {
    if (this.diff?.lines.length) this.diff.entry.diff = this.diff.lines.join('\n') + '\n';
  }

  /** A new run starts in the same output: the open diff is forgotten as it is. */
  discard(): void {
    this.diff = undefined;
  }
}
