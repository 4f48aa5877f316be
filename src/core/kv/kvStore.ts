/**
 * KV reads and writes with their indexes: entries as raw bytes, one folder
 * level at a time, CAS writes and deletes, and transactions whose refusals
 * come back as data (which operation, why) rather than as a bare 409.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import { AclDeniedError, ConsulHttpError, toConsulError } from '../consul/errors';
import { listKeys, mapLimited } from '../consul/kv';
import { checkFlags, checkKey, checkValueSize, folderPrefix, KvConflictError, KvEntry, MAX_TXN_BYTES, MAX_TXN_OPS } from './model';

interface RawEntry {
  Key: string;
  Value?: Buffer | string | null;
  Flags?: number;
  CreateIndex?: number;
  ModifyIndex?: number;
  LockIndex?: number;
  Session?: string;
}

export function entryFromRaw(raw: RawEntry): KvEntry {
  const v = raw.Value;
  return {
    key: raw.Key,
    value: Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.alloc(0),
    flags: raw.Flags ?? 0,
    createIndex: raw.CreateIndex ?? 0,
    modifyIndex: raw.ModifyIndex ?? 0,
    lockIndex: raw.LockIndex ?? 0,
    ...(raw.Session ? { session: raw.Session } : {}),
  };
}

const kvPath = (key: string) => `/v1/kv/${key}`;

/** One key; undefined when it does not exist. */
export async function getEntry(connection: ConsulConnection, key: string): Promise<KvEntry | undefined> {
  const raw = (await call(connection, kvPath(key), () => connection.client.kv.get({ key, buffer: true } as never))) as RawEntry | undefined;
  return raw ? entryFromRaw(raw) : undefined;
}

/** Every key under a prefix, values included (a whole subtree: for operations on it, never for drawing the tree). */
export async function getSubtree(connection: ConsulConnection, prefix: string): Promise<KvEntry[]> {
  const raw = (await call(connection, `${kvPath(prefix)}?recurse`, () => connection.client.kv.get({ key: prefix, recurse: true, buffer: true } as never))) as unknown as
    | RawEntry[]
    | undefined;
  return Array.isArray(raw) ? raw.map(entryFromRaw) : [];
}

/** Every key name under a prefix, without values. */
export function listAllKeys(connection: ConsulConnection, prefix: string): Promise<string[]> {
  return listKeys(connection, prefix);
}

export interface FolderLevel {
  prefix: string;
  /** Sub-folders, as full prefixes ending in "/". */
  folders: string[];
  /** Keys directly in the folder. */
  keys: string[];
}

/** Splits a `?keys&separator=/` answer into sub-folders and keys; the folder's own marker key is neither. */
export function splitLevel(prefix: string, names: readonly string[]): FolderLevel {
  const folders: string[] = [];
  // A flat folder (the 100,000-key case) keeps Consul's own array: no copy.
  let plain = true;
  for (let i = 0; i < names.length && plain; i++) {
    const name = names[i];
    plain = typeof name === 'string' && name !== prefix && name.charCodeAt(name.length - 1) !== 47;
  }
  if (plain) return { prefix, folders, keys: names as string[] };
  const keys: string[] = [];
  // A hot loop for folders of 100,000 keys: one char test per name, no copies.
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (typeof name !== 'string' || name === prefix) continue;
    if (name.charCodeAt(name.length - 1) === 47) folders.push(name);
    else keys.push(name);
  }
  return { prefix, folders, keys };
}

/** One level of a folder (`?keys&separator=/`): the whole key space is never fetched. */
export async function listLevel(connection: ConsulConnection, prefix: string): Promise<FolderLevel> {
  const p = folderPrefix(prefix);
  try {
    const names = await call(connection, `/v1/kv/${p}?keys`, () => connection.client.kv.keys({ key: p, separator: '/' }));
    return splitLevel(p, Array.isArray(names) ? (names as string[]) : []);
  } catch (e) {
    if (e instanceof ConsulHttpError && e.statusCode === 404) return { prefix: p, folders: [], keys: [] };
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Transactions

export type TxnVerb = 'set' | 'cas' | 'get' | 'delete' | 'delete-cas' | 'delete-tree' | 'check-index' | 'check-not-exists';

export interface TxnOp {
  verb: TxnVerb;
  key: string;
  value?: Buffer;
  flags?: number;
  index?: number;
}

export type TxnResult = { ok: true; entries: KvEntry[] } | { ok: false; errors: Array<{ opIndex: number; what: string }> };

/** The bytes an operation takes in the request body (base64 value plus some JSON). */
export function txnOpBytes(op: TxnOp): number {
  return Math.ceil(((op.value?.length ?? 0) * 4) / 3) + Buffer.byteLength(op.key) + 96;
}

/** Splits operations into transactions Consul accepts (at most 64 operations and within the request size). */
export function chunkOps<T extends TxnOp>(ops: readonly T[], maxOps = MAX_TXN_OPS, maxBytes = MAX_TXN_BYTES - 16 * 1024): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = txnOpBytes(op);
    if (current.length && (current.length >= maxOps || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(op);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** True when the operation alone is too big for a transaction (it must go as a plain PUT). */
export function tooBigForTxn(op: TxnOp): boolean {
  return txnOpBytes(op) > MAX_TXN_BYTES - 16 * 1024;
}

/**
 * Runs one transaction. A refused transaction (409) changes nothing and is
 * returned with Consul's reasons; a permission refusal is thrown as
 * AclDeniedError naming the key.
 */
export async function runTxn(connection: ConsulConnection, ops: readonly TxnOp[]): Promise<TxnResult> {
  if (ops.length > MAX_TXN_OPS) throw new Error(`a transaction holds at most ${MAX_TXN_OPS} operations (got ${ops.length})`);
  const body = ops.map((op) => ({
    KV: {
      Verb: op.verb,
      Key: op.key,
      ...(op.value !== undefined ? { Value: op.value.toString('base64') } : {}),
      ...(op.flags !== undefined ? { Flags: op.flags } : {}),
      ...(op.index !== undefined ? { Index: op.index } : {}),
    },
  }));
  let answer: { Results?: Array<{ KV?: RawEntry }> | null } | undefined;
  try {
    answer = (await call(connection, '/v1/txn', async () => {
      try {
        return await connection.client.transaction.create(body as never);
      } catch (e) {
        const res = (e as { response?: { statusCode?: number; body?: unknown } }).response;
        if (res?.statusCode === 409 && res.body && typeof res.body === 'object') return { refused: res.body };
        throw e;
      }
    }, 'PUT')) as typeof answer;
  } catch (e) {
    throw e instanceof ConsulHttpError ? e : toConsulError(e, connection.address, '/v1/txn', 'PUT');
  }
  const refused = (answer as { refused?: { Errors?: Array<{ OpIndex: number; What: string }> } } | undefined)?.refused;
  if (refused) {
    const errors = (refused.Errors ?? []).map((x) => ({ opIndex: x.OpIndex, what: String(x.What) }));
    const denied = errors.find((x) => /permission denied/i.test(x.what));
    if (denied) {
      const op = ops[denied.opIndex];
      const access = op && /^(get|check-index|check-not-exists)$/.test(op.verb) ? 'read' : 'write';
      throw new AclDeniedError(connection.address, `key:${access} on "${op?.key ?? ''}"`);
    }
    return { ok: false, errors };
  }
  const entries = (answer?.Results ?? []).flatMap((r) => (r.KV ? [entryFromRaw(r.KV)] : []));
  return { ok: true, entries };
}

// ---------------------------------------------------------------------------
// Single-key writes

export interface WriteOptions {
  /** CAS: only write when the key's ModifyIndex is this (0: only when the key does not exist). Absent: write unconditionally. */
  cas?: number;
  flags?: number;
}

/**
 * Writes one key and returns the entry written, or throws KvConflictError
 * (with what the cluster holds now) when the CAS index no longer matches.
 */
export async function writeEntry(connection: ConsulConnection, key: string, value: Buffer, options: WriteOptions = {}): Promise<KvEntry> {
  checkKey(key);
  checkValueSize(key, value);
  if (options.flags !== undefined) checkFlags(options.flags);
  const op: TxnOp =
    options.cas === undefined ? { verb: 'set', key, value, flags: options.flags } : { verb: 'cas', key, value, flags: options.flags, index: options.cas };
  if (!tooBigForTxn(op)) {
    // One transaction gives the index written in the same answer: no read-back race.
    const result = await runTxn(connection, [op]);
    if (result.ok && result.entries[0]) return { ...result.entries[0], value };
    if (!result.ok) throw new KvConflictError(key, options.cas ?? 0, await getEntry(connection, key));
  }
  const query = { ...(options.cas !== undefined ? { cas: options.cas } : {}), ...(options.flags !== undefined ? { flags: options.flags } : {}) };
  const ok = await call(connection, kvPath(key), () => connection.client.kv.set({ key, value, ...query } as never), 'PUT');
  const now = await getEntry(connection, key);
  if (ok !== true) throw new KvConflictError(key, options.cas ?? 0, now);
  if (!now) throw new KvConflictError(key, options.cas ?? 0, undefined);
  return now;
}

/** Deletes one key; with `cas`, only if its ModifyIndex is still that (false when it was not). */
export async function deleteKey(connection: ConsulConnection, key: string, options: { cas?: number } = {}): Promise<boolean> {
  checkKey(key);
  const ok = await call(
    connection,
    kvPath(key),
    () => connection.client.kv.del({ key, ...(options.cas !== undefined ? { cas: options.cas } : {}) } as never),
    'DELETE',
  );
  return ok !== false;
}

/** Deletes a whole folder (every key under the prefix). */
export async function deleteTree(connection: ConsulConnection, prefix: string): Promise<void> {
  checkKey(prefix, 'folder');
  await call(connection, `${kvPath(prefix)}?recurse`, () => connection.client.kv.del({ key: prefix, recurse: true } as never), 'DELETE');
}

/**
 * Whether the token may write this key, asked without writing: a transaction
 * whose first check always fails (so nothing is ever applied) and whose
 * second operation is a write Consul checks the ACL of beforehand.
 */
export async function canWrite(connection: ConsulConnection, key: string): Promise<boolean> {
  try {
    await runTxn(connection, [
      { verb: 'check-index', key, index: 0 },
      { verb: 'set', key, value: Buffer.alloc(0) },
    ]);
    return true;
  } catch (e) {
    if (e instanceof AclDeniedError) return false;
    throw e;
  }
}

/** Several keys at once (a page of a folder), a few requests in flight; missing keys are left out. */
export async function getEntries(connection: ConsulConnection, keys: readonly string[], concurrency = 8): Promise<Map<string, KvEntry>> {
  const found = await mapLimited(keys, concurrency, (k) => getEntry(connection, k).catch(() => undefined));
  return new Map(found.filter((e): e is KvEntry => !!e).map((e) => [e.key, e]));
}

/** The node holding a lock session; undefined when the session is gone. */
export async function sessionNode(connection: ConsulConnection, session: string): Promise<string | undefined> {
  const info = (await call(connection, `/v1/session/info/${session}`, () => connection.client.session.info({ id: session } as never))) as
    | { Node?: string }
    | Array<{ Node?: string }>
    | undefined;
  const first = Array.isArray(info) ? info[0] : info;
  return first?.Node;
}
