/**
 * Reads the whole node dump (`/v1/internal/ui/nodes`: nodes, their service
 * instances and checks) in one request, the endpoint Consul's own UI uses. One
 * blocking query on it feeds both the Nodes and the Services view.
 */
import type Consul from 'consul';
import type { ConsulConnection } from './client';
import { call } from './client';
import { consulUtils } from '../util/lazyLibs';
import { CatalogSnapshot, snapshotFromNodeDump } from './catalog';


interface PrivateClient {
  _defaults?: object;
  _get(req: object, handler: unknown): Promise<unknown>;
}

export const NODE_DUMP_PATH = '/v1/internal/ui/nodes';

/** A `consul` client method, so it can drive the client's `Watch`. */
export function nodeDumpMethod(this: { consul: Consul }, opts: Record<string, unknown> = {}): Promise<unknown> {
  const client = this.consul as unknown as PrivateClient;
  // The client's own request helpers; its public typings do not expose them.
  const utils = consulUtils();
  const merged = utils.defaults(utils.normalizeKeys({ ...opts }), client._defaults);
  const req = { name: 'internal.ui.nodes', path: '/internal/ui/nodes' };
  utils.options(req, merged);
  return client._get(req, utils.body);
}

export async function readCatalog(connection: ConsulConnection): Promise<CatalogSnapshot> {
  const body = await call(connection, NODE_DUMP_PATH, () => nodeDumpMethod.call({ consul: connection.client }));
  return snapshotFromNodeDump(body);
}
