/**
 * Export and import of subtrees: the JSON of `consul kv export` / `consul kv
 * import` (an array of {key, flags, value: base64}), or a folder of files (one
 * file per key, like git2consul). An import is planned first — what will be
 * created, changed and left alone — and then applied in transactions, each
 * write CAS on what the plan saw.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ConsulConnection } from '../consul/client';
import { mapLimited } from '../consul/kv';
import { checkFlags, checkKey, checkValueSize, folderPrefix, isFolderKey, KvEntry, KvError, KvValueTooLargeError, MAX_VALUE_BYTES } from './model';
import { chunkOps, getEntry, getSubtree, runTxn, tooBigForTxn, TxnOp, writeEntry } from './kvStore';
import { KvConflictError } from './model';

export interface KvItem {
  key: string;
  flags: number;
  value: Buffer;
}

// ---------------------------------------------------------------------------
// consul kv export format

/** `consul kv export` output for these entries (same field order and indentation as the CLI). */
export function toExportJson(entries: readonly KvItem[]): string {
  const rows = entries.map((e) => ({ key: e.key, flags: e.flags, value: e.value.toString('base64') }));
  return `${JSON.stringify(rows, null, '\t')}\n`;
}

/** Reads `consul kv export` JSON, refusing anything `consul kv import` would not read the same way. */
export function parseExportJson(text: string): KvItem[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new KvError(`Not a consul kv export file: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new KvError('Not a consul kv export file: the top level must be a JSON array of {"key", "flags", "value"}.');
  return data.map((row, i) => {
    const r = row as { key?: unknown; flags?: unknown; value?: unknown };
    if (!r || typeof r !== 'object' || typeof r.key !== 'string') throw new KvError(`Entry ${i + 1}: "key" must be a string.`);
    const flags = r.flags === undefined ? 0 : r.flags;
    try {
      checkFlags(flags);
    } catch {
      throw new KvError(`Entry ${i + 1} ("${r.key}"): "flags" must be a whole number ≥ 0.`);
    }
    if (r.value !== undefined && r.value !== null && typeof r.value !== 'string') throw new KvError(`Entry ${i + 1} ("${r.key}"): "value" must be a base64 string.`);
    const b64 = (r.value as string | null | undefined) ?? '';
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new KvError(`Entry ${i + 1} ("${r.key}"): "value" is not valid base64.`);
    checkKey(r.key, `key of entry ${i + 1}`);
    const value = Buffer.from(b64, 'base64');
    checkValueSize(r.key, value);
    return { key: r.key, flags: flags as number, value };
  });
}

// ---------------------------------------------------------------------------
// Folder of files

function safeSegments(relative: string, key: string): string[] {
  const segments = relative.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0')) {
      throw new KvError(`The key "${key}" cannot be a file path (empty, "." or ".." segment, or a backslash): export it as JSON instead.`);
    }
  }
  return segments;
}

export interface FolderExportResult {
  files: number;
  /** Keys with non-zero flags: a folder of files cannot carry them. */
  flagsDropped: string[];
}

/** Writes one file per key below `prefix` into `dir` (which must be empty or missing). */
export async function exportToFolder(entries: readonly KvItem[], prefix: string, dir: string): Promise<FolderExportResult> {
  const p = prefix ? folderPrefix(prefix) : '';
  const files = new Map<string, KvItem>();
  const dirs = new Set<string>();
  for (const e of entries) {
    if (!e.key.startsWith(p)) continue;
    if (isFolderKey(e.key)) {
      if (e.key.length > p.length) dirs.add(safeSegments(e.key.slice(p.length, -1), e.key).join('/'));
      continue;
    }
    const segs = safeSegments(e.key.slice(p.length), e.key);
    files.set(segs.join('/'), e);
    for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
  }
  const clash = [...files.keys()].find((f) => dirs.has(f));
  if (clash) throw new KvError(`"${p}${clash}" is both a key and a folder: a folder of files cannot hold both; export it as JSON instead.`);
  const existing = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  if (existing.length) throw new KvError(`The folder "${dir}" is not empty: export into an empty or new folder.`);
  await fs.mkdir(dir, { recursive: true });
  for (const d of [...dirs].sort()) await fs.mkdir(path.join(dir, ...d.split('/')), { recursive: true });
  await mapLimited([...files], 16, async ([rel, e]) => fs.writeFile(path.join(dir, ...rel.split('/')), e.value, { flag: 'wx' }));
  return { files: files.size, flagsDropped: [...files.values()].filter((e) => e.flags !== 0).map((e) => e.key) };
}

/**
 * One item per regular file under `dir`, keyed by its path below `dir`.
 * Symbolic links are not followed, and hidden files and folders (".git",
 * ".DS_Store", editors' swap files) are left out and named in `skipped`. A file
 * over Consul's value limit is refused before it is read.
 */
export async function readFolder(dir: string, prefix = ''): Promise<KvItem[] & { skipped?: string[] }> {
  const p = prefix ? folderPrefix(prefix) : '';
  const out: KvItem[] & { skipped?: string[] } = [];
  const skipped: string[] = [];
  const walk = async (abs: string, rel: string[]) => {
    const list = await fs.readdir(abs, { withFileTypes: true });
    for (const d of list.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (d.name.startsWith('.')) {
        skipped.push([...rel, d.name].join('/') + (d.isDirectory() ? '/' : ''));
        continue;
      }
      if (d.isDirectory()) await walk(path.join(abs, d.name), [...rel, d.name]);
      else if (d.isFile()) {
        const key = p + [...rel, d.name].join('/');
        checkKey(key);
        const file = path.join(abs, d.name);
        const { size } = await fs.stat(file);
        if (size > MAX_VALUE_BYTES) throw new KvValueTooLargeError(key, size);
        const value = await fs.readFile(file);
        checkValueSize(key, value);
        out.push({ key, flags: 0, value });
      }
    }
  };
  await walk(dir, []);
  out.skipped = skipped;
  return out;
}

// ---------------------------------------------------------------------------
// Import: plan, then apply

export interface ImportPlan {
  create: KvItem[];
  change: Array<{ item: KvItem; current: KvEntry }>;
  unchanged: KvItem[];
}

/** Moves items from below `fromPrefix` to below `toPrefix` (keys outside `fromPrefix` are refused). */
export function retarget(items: readonly KvItem[], fromPrefix: string, toPrefix: string): KvItem[] {
  const from = fromPrefix ? folderPrefix(fromPrefix) : '';
  const to = toPrefix ? folderPrefix(toPrefix) : '';
  return items.map((i) => {
    if (!i.key.startsWith(from)) throw new KvError(`"${i.key}" is not under "${from}".`);
    return { ...i, key: checkKey(to + i.key.slice(from.length)) };
  });
}

function commonFolder(keys: readonly string[]): string {
  if (!keys.length) return '';
  let common = keys[0].slice(0, keys[0].lastIndexOf('/') + 1);
  for (const k of keys) while (common && !k.startsWith(common)) common = common.slice(0, common.slice(0, -1).lastIndexOf('/') + 1);
  return common;
}

export async function planImport(connection: ConsulConnection, items: readonly KvItem[]): Promise<ImportPlan> {
  const seen = new Set<string>();
  for (const i of items) {
    if (seen.has(i.key)) throw new KvError(`"${i.key}" appears twice in the import.`);
    seen.add(i.key);
  }
  // One read of the common folder when there are many keys; else key by key.
  const base = commonFolder(items.map((i) => i.key));
  const current = new Map<string, KvEntry>();
  if (items.length > 32) {
    for (const e of await getSubtree(connection, base)) current.set(e.key, e);
  } else {
    const got = await mapLimited(items, 8, (i) => getEntry(connection, i.key));
    got.forEach((e) => e && current.set(e.key, e));
  }
  const plan: ImportPlan = { create: [], change: [], unchanged: [] };
  for (const item of items) {
    const now = current.get(item.key);
    if (!now) plan.create.push(item);
    else if (now.value.equals(item.value) && now.flags === item.flags) plan.unchanged.push(item);
    else plan.change.push({ item, current: now });
  }
  return plan;
}

export interface ImportResult {
  created: number;
  changed: number;
  unchanged: number;
  /** Keys created or changed by someone else since the plan: left as they are. */
  conflicts: string[];
}

export async function applyImport(connection: ConsulConnection, plan: ImportPlan, onProgress?: (done: number, total: number) => void): Promise<ImportResult> {
  type Op = TxnOp & { kind: 'create' | 'change' };
  const ops: Op[] = [
    ...plan.create.map((i): Op => ({ verb: 'cas', key: i.key, value: i.value, flags: i.flags, index: 0, kind: 'create' })),
    ...plan.change.map((c): Op => ({ verb: 'cas', key: c.item.key, value: c.item.value, flags: c.item.flags, index: c.current.modifyIndex, kind: 'change' })),
  ];
  const result: ImportResult = { created: 0, changed: 0, unchanged: plan.unchanged.length, conflicts: [] };
  const count = (list: readonly Op[]) => {
    for (const o of list) {
      if (o.kind === 'create') result.created++;
      else result.changed++;
    }
  };
  let done = 0;
  for (const chunk of chunkOps(ops.filter((o) => !tooBigForTxn(o)))) {
    let pending = chunk;
    for (let attempt = 0; pending.length && attempt <= chunk.length; attempt++) {
      const r = await runTxn(connection, pending);
      if (r.ok) {
        count(pending);
        break;
      }
      const bad = new Set(r.errors.map((x) => x.opIndex));
      if (!bad.size) throw new KvError(`Consul refused a transaction of the import without saying why; ${done} of ${ops.length} keys were written.`);
      for (const i of bad) if (pending[i]) result.conflicts.push(pending[i].key);
      pending = pending.filter((_, i) => !bad.has(i));
    }
    done += chunk.length;
    onProgress?.(done, ops.length);
  }
  for (const op of ops.filter(tooBigForTxn)) {
    try {
      await writeEntry(connection, op.key, op.value!, { cas: op.index, flags: op.flags });
      count([op]);
    } catch (e) {
      if (!(e instanceof KvConflictError)) throw e;
      result.conflicts.push(op.key);
    }
    onProgress?.(++done, ops.length);
  }
  return result;
}

/** Every entry of a subtree as export items (folder markers included, as `consul kv export` does). */
export async function exportItems(connection: ConsulConnection, prefix: string): Promise<KvItem[]> {
  return (await getSubtree(connection, prefix)).map((e) => ({ key: e.key, flags: e.flags, value: e.value }));
}
