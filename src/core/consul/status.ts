/** What the status bar and "Test Connection" report about a cluster. */
import type { ConsulConnection } from './client';
import { call } from './client';

export interface ClusterInfo {
  address: string;
  datacenter: string;
  /** The leader's `ip:port`, or undefined when the cluster has none. */
  leader: string | undefined;
  datacenters: string[];
  nodeName: string | undefined;
  version: string | undefined;
  latencyMs: number;
}

interface AgentSelf {
  Config?: { Datacenter?: unknown; NodeName?: unknown; Version?: unknown };
}

export async function readClusterInfo(connection: ConsulConnection): Promise<ClusterInfo> {
  const started = Date.now();
  const leader = await call(connection, '/v1/status/leader', () => connection.client.status.leader());
  const latencyMs = Date.now() - started;
  const datacenters = await call(connection, '/v1/catalog/datacenters', () => connection.client.catalog.datacenters());
  // agent/self needs agent:read; without it the rest still says enough.
  let self: AgentSelf | undefined;
  try {
    self = (await connection.client.agent.self()) as AgentSelf;
  } catch {
    self = undefined;
  }
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  return {
    address: connection.address,
    datacenter: connection.datacenter ?? text(self?.Config?.Datacenter) ?? (Array.isArray(datacenters) && typeof datacenters[0] === 'string' ? datacenters[0] : ''),
    leader: text(leader),
    datacenters: Array.isArray(datacenters) ? datacenters.filter((d): d is string => typeof d === 'string') : [],
    nodeName: text(self?.Config?.NodeName),
    version: text(self?.Config?.Version),
    latencyMs,
  };
}
