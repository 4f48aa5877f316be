/**
 * Following metronome's keys with blocking queries, each woken only by its
 * own writes once it has something to watch (see metronomeEngine.ts for
 * which keys, and why each is read the way it is).
 */
import type Consul from 'consul';
import type { ConsulConnection } from '../consul/client';
import { mapLimited, readValue } from '../consul/kv';
import { LiveQuery } from '../consul/liveQuery';
import type { Disposable } from '../util/emitter';

/** A `consul` client method for Watch: the value of `key`, or (recursive) of every key under it. */
export function valueMethod(key: string, recurse: boolean) {
  return function (this: { consul: Consul }, opts: Record<string, unknown> = {}): Promise<unknown> {
    return this.consul.kv.get({ ...opts, key, ...(recurse ? { recurse: true } : {}) } as never);
  };
}

export type WatchMethod = (this: { consul: Consul }, opts: Record<string, unknown>) => Promise<unknown>;
/** Whether an answer brings nothing new after the one before. */
export type Unchanged = (previous: string | undefined, next: string) => boolean;

export const sameValue: Unchanged = (a, b) => a === b;
/** A key list keeps its names when a record is rewritten; only an empty list twice is nothing new. */
export const stillEmpty: Unchanged = (a, b) => a === '[]' && b === '[]';

/**
 * Consul answers a blocking read of an absent key or an empty prefix at every
 * KV write anywhere (its index is then the whole table's). Such answers bring
 * nothing new, so after two of them in a row the next request waits a little,
 * up to 2 s: bounded, while a real change still comes back at once.
 */
function damped(method: WatchMethod, unchanged: Unchanged): WatchMethod {
  let last: string | undefined;
  let idle = 0;
  return async function (this: { consul: Consul }, opts: Record<string, unknown>): Promise<unknown> {
    if (idle > 1) {
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** (idle - 2))).unref());
      if ((opts.ctx as { isRunning?: () => boolean } | undefined)?.isRunning?.() === false) throw new Error('watch ended');
    }
    const sent = Date.now();
    const answer = await method.call(this, opts);
    const body = JSON.stringify(Array.isArray(answer) ? answer[1] : answer) ?? '';
    idle = unchanged(last, body) && Date.now() - sent < 1000 ? idle + 1 : 0;
    last = body;
    return answer;
  };
}

/** The value of `key` in a kv.get answer (one item or, recursive, a list). */
export function valueIn(body: unknown, key: string): string | undefined {
  const items = Array.isArray(body) ? body : body ? [body] : [];
  const item = items.find((i): i is { Key: string; Value?: unknown } => !!i && typeof i === 'object' && (i as { Key?: unknown }).Key === key);
  return typeof item?.Value === 'string' ? item.Value : undefined;
}

export interface KvFollow {
  path: string;
  method: WatchMethod;
  coalesceMs: number;
  unchanged?: Unchanged;
}

export interface KvFollowHandlers {
  /** Every answer, new or not: Consul can be read again. */
  answered(): void;
  /** An answer that brings something new. */
  changed(body: unknown): void;
  failed(error: Error): void;
}

/** One blocking query, calling `changed` only for answers that bring something new. */
export function followKv(connection: ConsulConnection, { path, method, coalesceMs, unchanged = sameValue }: KvFollow, on: KvFollowHandlers): Disposable {
  const query = new LiveQuery<unknown>(connection, { method: damped(method, unchanged), path, transform: (b) => b, coalesceMs });
  let last: string | undefined;
  const listener = query.onDidChange((s) => {
    if (s.kind === 'ready') {
      on.answered();
      const body = JSON.stringify(s.data) ?? '';
      if (unchanged(last, body)) return;
      last = body;
      on.changed(s.data);
    } else if (s.kind === 'error') {
      on.failed(s.error);
    }
  });
  const sub = query.subscribe();
  return { dispose: () => (listener.dispose(), sub.dispose(), query.dispose()) };
}

export async function readValues(connection: ConsulConnection, keys: readonly string[]): Promise<Map<string, string | undefined>> {
  const values = await mapLimited(keys, 8, (key) => readValue(connection, key));
  return new Map(keys.map((k, i) => [k, values[i]]));
}
