/** Reading the keys and statuses metronome writes under metronome/results/<id>. Pure. */
import { runKey } from './metronomeLayout';
import type { NodeStatus, PhaseStatus, RunStatus } from './model';

export type ResultKey = { kind: 'event' } | { kind: 'phase'; no: number } | { kind: 'node'; no: number; node: string } | { kind: 'log'; no: number; node: string };

/** What a key under metronome/results/<id> is; undefined for anything metronome does not write. */
export function resultKeyPart(key: string, id: string): ResultKey | undefined {
  const base = runKey(id);
  if (key === base) return { kind: 'event' };
  if (!key.startsWith(`${base}/`)) return undefined;
  const parts = key.slice(base.length + 1).split('/');
  if (!/^\d{1,6}$/.test(parts[0]) || parts.some((p) => !p)) return undefined;
  const no = Number(parts[0]);
  if (parts.length === 1) return { kind: 'phase', no };
  if (parts.length === 2) return { kind: 'node', no, node: parts[1] };
  if (parts.length === 3 && parts[2] === 'log') return { kind: 'log', no, node: parts[1] };
  return undefined;
}

export type MetronomeOutcome = 'inprogress' | 'success' | 'error' | 'timeout' | 'skip';

/** metronome's status words; undefined for anything else (which is not taken as an ending). */
export function metronomeOutcome(status: unknown): MetronomeOutcome | undefined {
  return (['inprogress', 'success', 'error', 'timeout', 'skip'] as const).find((s) => s === status);
}

export const phaseStatusOf = (o: Exclude<MetronomeOutcome, 'inprogress'>): PhaseStatus => (o === 'skip' ? 'skipped' : o);
export const nodeStatusOf = (o: Exclude<MetronomeOutcome, 'inprogress'>): NodeStatus => (o === 'skip' ? 'success' : o);
export const runStatusOf = (o: Exclude<MetronomeOutcome, 'inprogress'>): RunStatus => (o === 'skip' ? 'success' : o);
