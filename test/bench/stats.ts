/** Shared by the benchmarks: timing and the results file format. */
import * as fs from 'node:fs';

export interface BenchResult {
  value: number;
  unit: string;
  target: string;
}

export type BenchResults = Record<string, BenchResult>;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Merges into the results file so each benchmark can run on its own. */
export function recordResults(file: string, results: BenchResults): void {
  const existing: BenchResults = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults) : {};
  fs.writeFileSync(file, `${JSON.stringify({ ...existing, ...results }, null, 2)}\n`);
}
