/**
 * The KV domain: entries with their indexes, key paths, and the typed errors
 * the KV features raise (each carries the sentence the user reads).
 */

/** One key as Consul holds it; the value is raw bytes (KV values need not be text). */
export interface KvEntry {
  key: string;
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  /** The session holding the key's lock, if any. */
  session?: string;
}

/** Consul refuses values larger than this (the raft entry limit of 1.8). */
export const MAX_VALUE_BYTES = 512 * 1024;
/** Consul 1.8 refuses transactions with more operations than this. */
export const MAX_TXN_OPS = 64;
/** Consul's default txn_max_req_len; base64 makes values a third larger on the way. */
export const MAX_TXN_BYTES = 512 * 1024;
/** Flags are an unsigned 64-bit integer in Consul; we accept what JSON numbers hold exactly. */
export const MAX_FLAGS = Number.MAX_SAFE_INTEGER;

export class KvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class KvValueTooLargeError extends KvError {
  constructor(
    readonly key: string,
    readonly bytes: number,
  ) {
    super(`The value for "${key}" is ${bytes.toLocaleString('en-US')} bytes: Consul refuses values over 512 KiB (${MAX_VALUE_BYTES.toLocaleString('en-US')} bytes). Nothing was sent.`);
  }
}

export class KvKeyError extends KvError {}

/** The key changed in the cluster since it was read: nothing was written. */
export class KvConflictError extends KvError {
  constructor(
    readonly key: string,
    readonly expectedIndex: number,
    /** The entry now in the cluster; undefined when the key was deleted meanwhile. */
    readonly current: KvEntry | undefined,
  ) {
    super(
      current
        ? `"${key}" changed in Consul since it was read (ModifyIndex ${expectedIndex} → ${current.modifyIndex}): nothing was overwritten.`
        : `"${key}" was deleted in Consul since it was read: it was not recreated.`,
    );
  }
}

/** Checks a key path as Consul would store it, refusing what would be lost or misread. */
export function checkKey(key: string, what = 'key'): string {
  if (typeof key !== 'string' || key === '') throw new KvKeyError(`The ${what} is empty.`);
  if (key.startsWith('/')) throw new KvKeyError(`The ${what} "${key}" starts with "/": Consul keys do not.`);
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new KvKeyError(`The ${what} ${JSON.stringify(key)} contains control characters.`);
  if (Buffer.byteLength(key) > 8192) throw new KvKeyError(`The ${what} is longer than 8 KiB.`);
  return key;
}

/** A folder prefix: empty (the root) or ending in "/". */
export function folderPrefix(path: string): string {
  if (path === '' || path === '/') return '';
  return path.endsWith('/') ? path : `${path}/`;
}

export function isFolderKey(key: string): boolean {
  return key === '' || key.endsWith('/');
}

/** The last segment of a key or folder ("a/b/" → "b", "a/c" → "c"). */
export function baseName(key: string): string {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The folder holding a key or folder ("a/b/" → "a/", "a" → ""). */
export function parentFolder(key: string): string {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}

export function checkFlags(flags: unknown): number {
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > MAX_FLAGS) {
    throw new KvError(`Flags must be a whole number from 0 to ${MAX_FLAGS}; got ${JSON.stringify(flags)}.`);
  }
  return flags;
}

export function checkValueSize(key: string, value: Buffer): void {
  if (value.length > MAX_VALUE_BYTES) throw new KvValueTooLargeError(key, value.length);
}

/** True when the bytes are valid UTF-8 (and so survive a round trip through text). */
export function isUtf8(value: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(value);
    return true;
  } catch {
    return false;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
