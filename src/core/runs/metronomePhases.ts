/** The phases a metronome run is followed with: from the plan here, or from what metronome already wrote. */
import type { ConsulConnection } from '../consul/client';
import type { MergedEvent } from '../plans/merge';
import type { PhaseLabel } from './metronomeDiagnosis';
import { readValues } from './metronomeFollower';
import { parseJsonRecord, phaseKey } from './metronomeLayout';
import type { QueuedPhase } from './metronomeQueues';
import { resultKeyPart, type ResultKey } from './metronomeResults';

export interface PhaseInfo extends PhaseLabel {
  pattern?: string;
  skippable?: boolean;
}

export function phasesOf(merged: MergedEvent): PhaseInfo[] {
  return merged.phases.map((p, no) => ({ no, task: p.task, pattern: p.pattern, service: p.service, tag: p.tag, skippable: p.skippable }));
}

/** Without a plan, the phases of a run already under way: its TaskResults, then what is still queued. */
export async function phasesFromKv(connection: ConsulConnection, id: string, keys: readonly string[], queued: readonly QueuedPhase[]): Promise<PhaseInfo[]> {
  const phases = new Map<number, PhaseInfo>();
  for (const p of queued) phases.set(p.no, { no: p.no, task: p.task, pattern: p.pattern || undefined, service: p.service || undefined, tag: p.tag || undefined, skippable: p.skippable });
  const nos = [...new Set(keys.map((k) => resultKeyPart(k, id)).filter((p): p is Exclude<ResultKey, { kind: 'event' }> => !!p && p.kind !== 'event').map((p) => p.no))].filter((no) => !phases.has(no));
  const values = await readValues(connection, nos.map((no) => phaseKey(id, no)));
  for (const no of nos) {
    const name = parseJsonRecord(values.get(phaseKey(id, no)))?.Name;
    phases.set(no, { no, task: typeof name === 'string' ? name : '' });
  }
  return [...phases.values()].sort((a, b) => a.no - b.no);
}
