/** Plain KV reads shared by the run history and the metronome engine. */
import type { ConsulConnection } from './client';
import { call } from './client';
import { ConsulHttpError } from './errors';

/** A key's value as text; undefined when the key is missing or empty. */
export async function readValue(connection: ConsulConnection, key: string): Promise<string | undefined> {
  const item = (await call(connection, `/v1/kv/${key}`, () => connection.client.kv.get({ key }))) as { Value?: unknown } | undefined;
  return typeof item?.Value === 'string' && item.Value !== '' ? item.Value : undefined;
}

/** A key's value with its ModifyIndex; undefined when the key does not exist. */
export async function readIndexed(connection: ConsulConnection, key: string): Promise<{ value: string | undefined; modifyIndex: number } | undefined> {
  const item = (await call(connection, `/v1/kv/${key}`, () => connection.client.kv.get({ key }))) as { Value?: unknown; ModifyIndex?: unknown } | undefined;
  if (!item) return undefined;
  return { value: typeof item.Value === 'string' && item.Value !== '' ? item.Value : undefined, modifyIndex: Number(item.ModifyIndex) || 0 };
}

/** The keys under a prefix (one level with a separator); none when nothing is there. */
export async function listKeys(connection: ConsulConnection, prefix: string, separator?: string): Promise<string[]> {
  try {
    const keys = await call(connection, `/v1/kv/${prefix}?keys`, () => connection.client.kv.keys({ key: prefix, ...(separator ? { separator } : {}) }));
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  } catch (e) {
    if (e instanceof ConsulHttpError && e.statusCode === 404) return [];
    throw e;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, results in input order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}
