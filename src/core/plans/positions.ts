import type { Position, Range } from './model';

export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  position(offset: number): Position {
    const o = Math.max(0, Math.min(Number.isFinite(offset) ? offset : 0, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo] };
  }

  range(start: number, end: number): Range {
    return { start: this.position(start), end: this.position(Math.max(start, end)) };
  }

  /** A YAML error mark as a one-character range, clipped to its line. */
  markRange(line: number, column: number): Range {
    const l = Math.max(0, Math.min(line, this.starts.length - 1));
    const lineEnd = l + 1 < this.starts.length ? this.starts[l + 1] - 1 : this.text.length;
    const start = Math.min(this.starts[l] + Math.max(0, column), lineEnd);
    return this.range(start, Math.min(start + 1, lineEnd));
  }
}

export interface Span {
  start: number;
  end: number;
}
