/**
 * Copy and move of a key or a whole folder, in transactions of at most 64
 * operations, without losing data whatever fails:
 *
 * 1. copy every key (each chunk refuses to overwrite a key that appeared at
 *    the destination: `cas` at index 0);
 * 2. verify the destination holds exactly what was read;
 * 3. (move) delete the source with `delete-cas` on the ModifyIndex each key
 *    had when copied.
 *
 * Until 2 succeeds the source is untouched; a failed copy deletes (CAS) only
 * what it wrote. A source key changed during the move fails its delete-CAS
 * and stays where it is, reported. The Consul UI and CLI have no folder move.
 */
import type { ConsulConnection } from '../consul/client';
import { checkKey, folderPrefix, isFolderKey, KvEntry, KvError } from './model';
import { chunkOps, deleteKey, getEntry, getSubtree, listAllKeys, runTxn, tooBigForTxn, TxnOp, TxnResult, writeEntry } from './kvStore';
import { KvConflictError } from './model';

export interface SubtreeProgress {
  phase: 'read' | 'copy' | 'verify' | 'delete' | 'rollback';
  done: number;
  total: number;
  /** The chunk just finished (copy/delete), from 0. */
  chunk?: number;
}

export interface TransferOptions {
  /** Called after each step; a test uses it to write concurrently. */
  onProgress?: (p: SubtreeProgress) => void | Promise<void>;
  /** Operations per transaction (default 64, Consul's limit). */
  chunkSize?: number;
  signal?: AbortSignal;
}

export interface TransferResult {
  /** Source keys and where each went. */
  keys: Array<{ from: string; to: string }>;
  copied: number;
  deleted: number;
  /** Source keys changed (or deleted) by someone else during a move: kept at the source, not deleted. */
  keptChanged: string[];
  chunks: number;
}

export class KvTransferError extends KvError {
  constructor(
    message: string,
    /** Destination keys written and then removed again. */
    readonly rolledBack: number,
    /** Destination keys that could not be removed again (changed by someone else): they hold copies. */
    readonly leftAtDestination: string[],
  ) {
    super(message);
  }
}

/** What a source maps to: a key to a key, a folder (ending in "/") to a folder. */
export function planTargets(source: string, destination: string): { sourcePrefix: string; destPrefix: string; folder: boolean } {
  checkKey(source, 'source');
  checkKey(destination, 'destination');
  const folder = isFolderKey(source);
  if (!folder) {
    if (isFolderKey(destination)) throw new KvError(`"${destination}" is a folder; a key moves to a key (give the full new key).`);
    if (source === destination) throw new KvError('The source and the destination are the same key.');
    return { sourcePrefix: source, destPrefix: destination, folder };
  }
  const dest = folderPrefix(destination);
  if (dest === source) throw new KvError('The source and the destination are the same folder.');
  if (dest.startsWith(source)) throw new KvError(`"${dest}" is inside "${source}": a folder cannot be moved into itself.`);
  return { sourcePrefix: source, destPrefix: dest, folder };
}

async function readSource(connection: ConsulConnection, sourcePrefix: string, folder: boolean): Promise<KvEntry[]> {
  if (!folder) {
    const e = await getEntry(connection, sourcePrefix);
    if (!e) throw new KvError(`"${sourcePrefix}" does not exist.`);
    return [e];
  }
  const entries = await getSubtree(connection, sourcePrefix);
  if (!entries.length) throw new KvError(`"${sourcePrefix}" holds no key.`);
  return entries;
}

function sameEntry(a: KvEntry, b: KvEntry | undefined): boolean {
  return !!b && a.flags === b.flags && a.value.equals(b.value);
}

/** Copies (keeping the source) a key or a folder. */
export function copySubtree(connection: ConsulConnection, source: string, destination: string, options: TransferOptions = {}): Promise<TransferResult> {
  return transfer(connection, source, destination, false, options);
}

/** Moves (renames) a key or a folder. */
export function moveSubtree(connection: ConsulConnection, source: string, destination: string, options: TransferOptions = {}): Promise<TransferResult> {
  return transfer(connection, source, destination, true, options);
}

async function transfer(connection: ConsulConnection, source: string, destination: string, move: boolean, options: TransferOptions): Promise<TransferResult> {
  const { sourcePrefix, destPrefix, folder } = planTargets(source, destination);
  const progress = async (p: SubtreeProgress) => options.onProgress?.(p);
  const entries = await readSource(connection, sourcePrefix, folder);
  const targetOf = (key: string) => (folder ? destPrefix + key.slice(sourcePrefix.length) : destPrefix);
  const pairs = entries.map((e) => ({ entry: e, to: targetOf(e.key) }));
  await progress({ phase: 'read', done: entries.length, total: entries.length });

  // 1. Copy. Remember each key written with the index it got, to undo exactly that.
  const written = new Map<string, number>();
  const copyOps: Array<TxnOp & { from: KvEntry }> = pairs.map((p) => ({ verb: 'cas', key: p.to, index: 0, value: p.entry.value, flags: p.entry.flags, from: p.entry }));
  const big = copyOps.filter(tooBigForTxn);
  const chunks = chunkOps(copyOps.filter((o) => !tooBigForTxn(o)), options.chunkSize);
  let done = 0;
  let chunkNo = 0;
  try {
    for (const chunk of chunks) {
      options.signal?.throwIfAborted();
      const result = await runTxn(connection, chunk);
      if (!result.ok) {
        const first = result.errors[0];
        const key = first ? chunk[first.opIndex]?.key : undefined;
        throw new KvError(`"${key ?? '?'}" already exists at the destination (it appeared there): nothing is overwritten. ${first?.what ?? ''}`.trim());
      }
      for (const e of result.entries) written.set(e.key, e.modifyIndex);
      done += chunk.length;
      await progress({ phase: 'copy', done, total: copyOps.length, chunk: chunkNo++ });
    }
    for (const op of big) {
      options.signal?.throwIfAborted();
      try {
        const e = await writeEntry(connection, op.key, op.value!, { cas: 0, flags: op.flags });
        written.set(e.key, e.modifyIndex);
      } catch (e) {
        if (e instanceof KvConflictError) throw new KvError(`"${op.key}" already exists at the destination: nothing is overwritten.`);
        throw e;
      }
      done++;
      await progress({ phase: 'copy', done, total: copyOps.length, chunk: chunkNo++ });
    }
    // 2. Verify what landed against what was read.
    const landed = folder ? await getSubtree(connection, destPrefix) : [await getEntry(connection, destPrefix)].filter((e): e is KvEntry => !!e);
    const byKey = new Map(landed.map((e) => [e.key, e]));
    const wrong = pairs.filter((p) => !sameEntry(p.entry, byKey.get(p.to)));
    if (wrong.length) throw new KvError(`Verification failed: ${wrong.length} key(s) at the destination differ from the source (first: "${wrong[0].to}").`);
    await progress({ phase: 'verify', done: pairs.length, total: pairs.length });
  } catch (e) {
    const left = await rollback(connection, written, progress);
    const why = e instanceof Error ? e.message : String(e);
    throw new KvTransferError(
      `${move ? 'Move' : 'Copy'} of "${sourcePrefix}" to "${destPrefix}" stopped: ${why} The source is unchanged; ${written.size - left.length} key(s) written at the destination were removed again${left.length ? `, ${left.length} changed there meanwhile and were left (first: "${left[0]}")` : ''}.`,
      written.size - left.length,
      left,
    );
  }
  const result: TransferResult = { keys: pairs.map((p) => ({ from: p.entry.key, to: p.to })), copied: pairs.length, deleted: 0, keptChanged: [], chunks: chunkNo };
  if (!move) return result;

  // 3. Delete the source, each key only if it still holds what was copied.
  const removal = await deleteUnchanged(
    connection,
    pairs.map((p) => ({ key: p.entry.key, modifyIndex: p.entry.modifyIndex })),
    { chunkSize: options.chunkSize, onChunk: (done, total, chunk) => progress({ phase: 'delete', done, total, chunk }) },
  );
  if (removal.failed.length) throw new KvError(`Consul refused deleting the source without saying which key: ${removal.failed.length} key(s) of "${sourcePrefix}" are still there and also at the destination.`);
  result.keptChanged.push(...removal.changed);
  result.deleted = removal.deleted;
  result.chunks += removal.chunks;
  return result;
}

/** Removes what a failed copy wrote, each key only if it still holds our write. Returns the keys left. */
async function rollback(connection: ConsulConnection, written: Map<string, number>, progress: (p: SubtreeProgress) => Promise<void>): Promise<string[]> {
  if (!written.size) return [];
  const r = await deleteUnchanged(connection, [...written].map(([key, modifyIndex]) => ({ key, modifyIndex })), {
    tolerateErrors: true,
    onChunk: (done, total) => progress({ phase: 'rollback', done, total }),
  });
  return [...r.changed, ...r.failed];
}

export interface DeleteUnchangedResult {
  deleted: number;
  /** Keys that changed (or went) since they were read: kept. */
  changed: string[];
  /** Keys of a transaction that failed otherwise (only with `tolerateErrors`; without it the error is thrown). */
  failed: string[];
  chunks: number;
}

/**
 * Deletes each key only if its ModifyIndex is still the one read (`delete-cas`
 * in transactions of up to 64): what changed since is kept and named, never
 * lost. A refused transaction applies none of its operations, so the keys that
 * changed are dropped from it and it goes again.
 */
export async function deleteUnchanged(
  connection: ConsulConnection,
  entries: ReadonlyArray<{ key: string; modifyIndex: number }>,
  options: { chunkSize?: number; signal?: AbortSignal; tolerateErrors?: boolean; onChunk?: (done: number, total: number, chunk: number) => unknown } = {},
): Promise<DeleteUnchangedResult> {
  const ops: TxnOp[] = entries.map((e) => ({ verb: 'delete-cas', key: e.key, index: e.modifyIndex }));
  const result: DeleteUnchangedResult = { deleted: 0, changed: [], failed: [], chunks: 0 };
  let done = 0;
  for (const chunk of chunkOps(ops, options.chunkSize)) {
    options.signal?.throwIfAborted();
    let pending = chunk;
    for (let attempt = 0; pending.length && attempt <= chunk.length; attempt++) {
      let r: TxnResult;
      try {
        r = await runTxn(connection, pending);
      } catch (e) {
        if (!options.tolerateErrors) throw e;
        result.failed.push(...pending.map((o) => o.key));
        break;
      }
      if (r.ok) {
        result.deleted += pending.length;
        break;
      }
      const bad = new Set(r.errors.map((x) => x.opIndex));
      if (!bad.size) {
        result.failed.push(...pending.map((o) => o.key));
        break;
      }
      for (const i of bad) if (pending[i]) result.changed.push(pending[i].key);
      pending = pending.filter((_, i) => !bad.has(i));
    }
    done += chunk.length;
    await options.onChunk?.(done, ops.length, result.chunks++);
  }
  return result;
}

/** How many keys a delete of this key or folder removes. */
export async function countKeys(connection: ConsulConnection, keyOrFolder: string): Promise<number> {
  if (!isFolderKey(keyOrFolder)) return (await getEntry(connection, keyOrFolder)) ? 1 : 0;
  return (await listAllKeys(connection, keyOrFolder)).length;
}

/**
 * Copies (or moves) one key onto a destination that may already exist, with
 * no moment where the destination is gone: the destination is written with a
 * CAS on what it held when read, then (for a move) the source is deleted only
 * if it still holds what was copied.
 */
export async function overwriteKey(connection: ConsulConnection, source: string, destination: string, move: boolean): Promise<void> {
  checkKey(source);
  checkKey(destination);
  const from = await getEntry(connection, source);
  if (!from) throw new KvError(`"${source}" does not exist.`);
  const existing = await getEntry(connection, destination);
  await writeEntry(connection, destination, from.value, { cas: existing?.modifyIndex ?? 0, flags: from.flags });
  if (move && !(await deleteKey(connection, source, { cas: from.modifyIndex }))) {
    throw new KvError(`"${source}" changed while it was moved: "${destination}" holds the value read before the change, and "${source}" was kept.`);
  }
}
