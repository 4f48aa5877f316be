/**
 * `consul` client methods over KV for the client's `Watch` (blocking queries).
 * A missing key or empty prefix answers 404 with an index to block on; the
 * client only hands that over on the error, so it is turned back into an
 * empty answer here rather than a failure that restarts the watch.
 */
import type Consul from 'consul';

export function kvKeysMethod(prefix: string, separator?: string) {
  return async function (this: { consul: Consul }, opts: Record<string, unknown> = {}): Promise<unknown> {
    try {
      return await this.consul.kv.keys({ ...opts, key: prefix, ...(separator ? { separator } : {}) } as never);
    } catch (e) {
      const res = (e as { response?: { statusCode?: number } }).response;
      if (res?.statusCode === 404) return [res, []];
      throw e;
    }
  };
}
