import type { PlanDiagnostic, PlanDiagnosticCode, PlanDiagnosticData, Range, Severity } from './model';
import type { LineIndex, Span } from './positions';

export class Diagnostics {
  readonly list: PlanDiagnostic[] = [];
  constructor(readonly lines: LineIndex) {}

  add(severity: Severity, code: PlanDiagnosticCode, message: string, at: Span, data?: PlanDiagnosticData): void {
    const d: PlanDiagnostic = { severity, code, message, range: this.lines.range(at.start, at.end) };
    if (data) d.data = data;
    this.list.push(d);
  }

  range(at: Span): Range {
    return this.lines.range(at.start, at.end);
  }

  line(at: Span): number {
    return this.lines.position(at.start).line + 1;
  }
}

/** The closest known spelling within two edits, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const w = word.toLowerCase().replace(/[-_]/g, '');
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase().replace(/[-_]/g, ''));
    if (d < bestDistance && c !== word) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
