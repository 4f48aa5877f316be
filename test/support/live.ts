/** Following the core's live queries in tests. */
import type { ConsulConnection } from '../../src/core/consul/client';
import { CatalogSnapshot, snapshotFromNodeDump } from '../../src/core/consul/catalog';
import { LiveQuery, LiveState } from '../../src/core/consul/liveQuery';
import { NODE_DUMP_PATH, nodeDumpMethod } from '../../src/core/consul/nodeDump';

export function liveCatalog(connection: ConsulConnection): LiveQuery<CatalogSnapshot> {
  return new LiveQuery(connection, { method: nodeDumpMethod, path: NODE_DUMP_PATH, transform: snapshotFromNodeDump, maxRetryMs: 500 });
}

/** Resolves with the first state the predicate accepts, or rejects after `timeoutMs`. */
export function until<T>(query: LiveQuery<T>, accept: (s: LiveState<T>) => boolean, timeoutMs: number): Promise<LiveState<T>> {
  if (accept(query.current)) return Promise.resolve(query.current);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      d.dispose();
      reject(new Error(`no accepted state within ${timeoutMs} ms; last: ${JSON.stringify(query.current.kind)}`));
    }, timeoutMs);
    const d = query.onDidChange((s) => {
      if (accept(s)) {
        clearTimeout(timer);
        d.dispose();
        resolve(s);
      }
    });
  });
}
