/**
 * Reads run history back from KV: ours and metronome's alike. A run still
 * marked in progress whose owner's session is gone is reported interrupted.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import { listKeys, mapLimited, readValue } from '../consul/kv';
import type { RunSnapshot } from './model';
import { isFinished } from './model';
import { nodeFromRecord, parseJsonRecord, phaseFromRecord, RESULTS_PREFIX, runFromRecord } from './metronomeLayout';

export async function sessionAlive(connection: ConsulConnection, session: string): Promise<boolean> {
  const info = await call(connection, `/v1/session/info/${session}`, () => connection.client.session.info(session));
  return Array.isArray(info) ? info.length > 0 : !!info;
}

async function withInterruption(connection: ConsulConnection, run: RunSnapshot, record: Record<string, unknown>): Promise<RunSnapshot> {
  const session = typeof record.OpsSession === 'string' ? record.OpsSession : undefined;
  if (isFinished(run.status) || !session) return run;
  return (await sessionAlive(connection, session)) ? run : { ...run, status: 'interrupted', message: run.message ?? 'The editor that ran it went away before it finished.' };
}

/**
 * Every recorded run, newest first, without phases' node details. Finished
 * runs found in `known` are not read again: a run's record stops changing
 * once it has ended, and every log write under the prefix wakes the caller.
 */
export async function listRuns(connection: ConsulConnection, known: ReadonlyMap<string, RunSnapshot> = new Map()): Promise<RunSnapshot[]> {
  const ids = (await listKeys(connection, `${RESULTS_PREFIX}/`, '/'))
    .map((k) => k.slice(RESULTS_PREFIX.length + 1).replace(/\/$/, ''))
    .filter((id, i, all) => id && !id.includes('/') && all.indexOf(id) === i);
  const runs = await mapLimited(ids, 8, async (id) => {
    const cached = known.get(id);
    if (cached && isFinished(cached.status)) return cached;
    const record = parseJsonRecord(await readValue(connection, `${RESULTS_PREFIX}/${id}`));
    return record ? withInterruption(connection, runFromRecord(record, id), record) : undefined;
  });
  return runs.filter((r): r is RunSnapshot => !!r).sort((a, b) => b.startedAt - a.startedAt);
}

/** One run with its phases and node results (logs are read separately: they can be large). */
export async function readRun(connection: ConsulConnection, id: string): Promise<RunSnapshot | undefined> {
  const record = parseJsonRecord(await readValue(connection, `${RESULTS_PREFIX}/${id}`));
  if (!record) return undefined;
  const run = await withInterruption(connection, runFromRecord(record, id), record);
  const all = await listKeys(connection, `${RESULTS_PREFIX}/${id}/`);
  const recordKeys = all.filter((k) => !k.endsWith('/log'));
  const values = await mapLimited(recordKeys, 8, async (k) => [k, parseJsonRecord(await readValue(connection, k))] as const);
  const phases = new Map(run.phases.map((p) => [p.no, p]));
  for (const [key, rec] of values) {
    if (!rec) continue;
    const parts = key.slice(`${RESULTS_PREFIX}/${id}/`.length).split('/');
    const no = Number(parts[0]);
    if (!Number.isInteger(no)) continue;
    if (parts.length === 1) phases.set(no, { ...phaseFromRecord(rec, no), nodes: phases.get(no)?.nodes ?? [] });
    else if (parts.length === 2) {
      const phase = phases.get(no) ?? { ...phaseFromRecord({}, no), status: 'running' as const };
      phase.nodes.push(nodeFromRecord(rec, parts[1]));
      phases.set(no, phase);
    }
  }
  return { ...run, phases: [...phases.values()].sort((a, b) => a.no - b.no) };
}

/**
 * A node's log: its log key, else the copy inside its record (metronome's own
 * records have only that; so has a running node whose large log is written
 * to its log key only now and then).
 */
export async function readNodeLog(connection: ConsulConnection, id: string, no: number, node: string): Promise<string> {
  const log = await readValue(connection, `${RESULTS_PREFIX}/${id}/${no}/${node}/log`);
  if (log !== undefined) return log;
  const record = parseJsonRecord(await readValue(connection, `${RESULTS_PREFIX}/${id}/${no}/${node}`));
  return typeof record?.Log === 'string' ? record.Log : '';
}
