/**
 * The Consul requests a remote exec job makes, through the `consul` client,
 * each turning failures into typed ConsulErrors.
 */
import type Consul from 'consul';
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import { ConsulHttpError } from '../consul/errors';
import { fireEvent, validateFireRequest } from '../consul/events';
import { RemoteExecSetupError } from './errors';
import { jobDir, jobKey, REXEC_EVENT, rexecEventPayload } from './rexecKeys';

/**
 * Consul invalidates a TTL session only after twice its TTL, so a client
 * that dies mid-job leaves nothing behind for long: Behavior "delete" takes
 * every key the session locked (the job and all node keys) with it.
 */
export const SESSION_TTL = '15s';

export async function createSession(c: ConsulConnection): Promise<string> {
  const created = await call(c, '/v1/session/create', () => c.client.session.create({ name: 'Remote Exec', behavior: 'delete', ttl: SESSION_TTL }), 'PUT');
  const id = (created as { ID?: unknown } | undefined)?.ID;
  if (typeof id !== 'string' || !id) throw new RemoteExecSetupError(`Consul at ${c.address} created a session but its answer holds no session ID.`);
  return id;
}

/** False when the session no longer exists (it expired or was destroyed). */
export async function renewSession(c: ConsulConnection, sessionId: string): Promise<boolean> {
  try {
    await call(c, `/v1/session/renew/${sessionId}`, () => c.client.session.renew(sessionId), 'PUT');
    return true;
  } catch (e) {
    if (e instanceof ConsulHttpError && e.statusCode === 404) return false;
    throw e;
  }
}

/** Stores the job locked by the session, so it goes when the session goes. */
export async function putJob(c: ConsulConnection, sessionId: string, job: string, key = jobKey(sessionId)): Promise<boolean> {
  const locked = await call(c, `/v1/kv/${key}`, () => c.client.kv.set({ key, value: job, acquire: sessionId }), 'PUT');
  return locked === true;
}

export async function fireRexecEvent(c: ConsulConnection, sessionId: string, filters: { node?: string; service?: string; tag?: string }, prefix?: string): Promise<void> {
  await fireEvent(c, { name: REXEC_EVENT, payload: rexecEventPayload(sessionId, prefix), ...filters });
}

/** Deletes one key; an agent that reads it afterwards logs "job spec missing" and does nothing. */
export async function deleteKey(c: ConsulConnection, key: string): Promise<void> {
  await call(c, `/v1/kv/${key}`, () => c.client.kv.del({ key }), 'DELETE');
}

/** Every key under the job's directory, read from the leader (not a blocking query). */
export async function listKeysNow(c: ConsulConnection, sessionId: string): Promise<unknown> {
  const dir = jobDir(sessionId);
  try {
    return await call(c, `/v1/kv/${dir}?keys`, () => c.client.kv.keys({ key: dir, consistent: true } as never), 'GET');
  } catch (e) {
    if (e instanceof ConsulHttpError && e.statusCode === 404) return [];
    throw e;
  }
}

const goQuote = (name: string): string => name.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');

/**
 * Node filters naming exactly these nodes (`^(?:a|b)$`), as many as it takes
 * for each event to stay within Consul's event size with the other filters.
 */
export function exactNodeFilters(nodes: readonly string[], payload: string, filters: { service?: string; tag?: string }): string[] {
  const out: string[] = [];
  const fits = (group: string[]) => !validateFireRequest({ name: REXEC_EVENT, payload, node: `^(?:${group.map(goQuote).join('|')})$`, ...filters }).length;
  let group: string[] = [];
  for (const n of nodes) {
    if (group.length && !fits([...group, n])) {
      out.push(`^(?:${group.map(goQuote).join('|')})$`);
      group = [];
    }
    group.push(n);
  }
  if (group.length) out.push(`^(?:${group.map(goQuote).join('|')})$`);
  return out;
}

/** Consul 1.8 takes at most 64 operations per transaction. */
export const MAX_READS_PER_TXN = 64;

/**
 * The values of up to 64 keys in one round trip. Listing keys and reading
 * only the new ones keeps a long output linear: re-reading the directory
 * recursively on every change would fetch all earlier chunks again each time.
 * Empty values come back as empty buffers.
 */
export async function readValues(c: ConsulConnection, keys: readonly string[]): Promise<Map<string, Buffer>> {
  const ops = keys.map((Key) => ({ KV: { Verb: 'get', Key } }));
  const answer = await call(c, '/v1/txn', () => c.client.transaction.create(ops as never), 'PUT');
  const values = new Map<string, Buffer>();
  const results = (answer as { Results?: unknown } | undefined)?.Results;
  for (const r of Array.isArray(results) ? results : []) {
    const kv = (r as { KV?: { Key?: unknown; Value?: unknown } } | null)?.KV;
    if (typeof kv?.Key !== 'string') continue;
    values.set(kv.Key, typeof kv.Value === 'string' ? Buffer.from(kv.Value, 'base64') : Buffer.alloc(0));
  }
  return values;
}

/**
 * Both steps run side by side, each even if the other fails; the first
 * failure is rethrown. `timeoutMs` bounds each step. Their order does not
 * matter: every key an agent writes is locked by the session, whose
 * "delete" behavior removes it when the session is destroyed, and once the
 * session is gone no agent can write under it again.
 */
export async function removeJob(c: ConsulConnection, sessionId: string, timeoutMs?: number): Promise<void> {
  const limit = timeoutMs ? { timeout: timeoutMs } : {};
  const dir = jobDir(sessionId);
  const [destroyed, deleted] = await Promise.allSettled([
    call(c, `/v1/session/destroy/${sessionId}`, () => c.client.session.destroy({ id: sessionId, ...limit } as never), 'PUT'),
    call(c, `/v1/kv/${dir}?recurse`, () => c.client.kv.del({ key: dir, recurse: true, ...limit } as never), 'DELETE'),
  ]);
  if (destroyed.status === 'rejected') throw destroyed.reason;
  if (deleted.status === 'rejected') throw deleted.reason;
}

/** A client method over the job directory's key list, for `Watch`'s blocking queries. */
export function listJobKeys(this: { consul: Consul }, opts: Record<string, unknown>): Promise<unknown> {
  return this.consul.kv.keys(opts as never);
}
