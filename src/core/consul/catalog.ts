/**
 * The catalog as the views show it: nodes with their service instances and
 * checks, and the same data grouped by service. Built from Consul's node dump,
 * which is untrusted input: every field is checked before use.
 */
import { countStatuses, HealthCounts, HealthStatus, normalizeStatus, worst } from './health';

export interface Check {
  node: string;
  checkId: string;
  name: string;
  status: HealthStatus;
  output: string;
  notes: string;
  serviceId: string;
  serviceName: string;
}

export interface ServiceInstance {
  id: string;
  service: string;
  node: string;
  /** The service's own address, or the node's when the service has none. */
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  checks: Check[];
  health: HealthStatus;
}

export interface CatalogNode {
  name: string;
  address: string;
  datacenter: string;
  meta: Record<string, string>;
  services: ServiceInstance[];
  /** Node-level checks (serfHealth and friends), not those of a service. */
  nodeChecks: Check[];
  checks: Check[];
  health: HealthStatus;
}

export interface CatalogService {
  name: string;
  tags: string[];
  instances: ServiceInstance[];
  health: HealthStatus;
}

export interface CatalogSnapshot {
  nodes: CatalogNode[];
  services: CatalogService[];
  counts: HealthCounts;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const record = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) out[k] = str(o[k]);
  }
  return out;
};
const NO_CHECKS: readonly unknown[] = [];
const byName = <T extends { name: string }>(a: T, b: T): number => a.name.localeCompare(b.name);

function toCheck(raw: unknown, node: string): Check {
  const c = (raw ?? {}) as Record<string, unknown>;
  return {
    node,
    checkId: str(c.CheckID),
    name: str(c.Name) || str(c.CheckID),
    status: normalizeStatus(c.Status),
    output: str(c.Output),
    notes: str(c.Notes),
    serviceId: str(c.ServiceID),
    serviceName: str(c.ServiceName),
  };
}

function toNode(raw: unknown): CatalogNode | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const n = raw as Record<string, unknown>;
  const name = str(n.Node);
  if (!name) return undefined;
  const address = str(n.Address);
  // Thousands of nodes per read, most without services or checks: no work for what is not there.
  const rawChecks = Array.isArray(n.Checks) ? n.Checks : NO_CHECKS;
  const checks = rawChecks.length ? rawChecks.map((c) => toCheck(c, name)) : [];
  const nodeChecks = checks.length ? checks.filter((c) => !c.serviceId) : [];
  const services: ServiceInstance[] = [];
  for (const s of Array.isArray(n.Services) ? (n.Services as unknown[]) : NO_CHECKS) {
    if (!s || typeof s !== 'object') continue;
    const r = s as Record<string, unknown>;
    const id = str(r.ID) || str(r.Service);
    const own = checks.filter((c) => c.serviceId === id);
    // A node-level failure (agent down) takes every instance on it down too.
    const health = worst([...own, ...nodeChecks].map((c) => c.status));
    services.push({
      id,
      service: str(r.Service),
      node: name,
      address: str(r.Address) || address,
      port: num(r.Port),
      tags: strings(r.Tags),
      meta: record(r.Meta),
      checks: own,
      health,
    });
  }
  if (services.length > 1) services.sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
  let health: HealthStatus = 'passing';
  if (checks.length) health = worst(checks.map((c) => c.status));
  return {
    name,
    address,
    datacenter: str(n.Datacenter),
    meta: record(n.Meta),
    services,
    nodeChecks,
    checks,
    health,
  };
}

export function groupServices(nodes: readonly CatalogNode[]): CatalogService[] {
  const map = new Map<string, ServiceInstance[]>();
  for (const node of nodes) {
    for (const instance of node.services) {
      const list = map.get(instance.service);
      if (list) list.push(instance);
      else map.set(instance.service, [instance]);
    }
  }
  return [...map.entries()]
    .map(([name, instances]) => ({
      name,
      tags: [...new Set(instances.flatMap((i) => i.tags))].sort(),
      instances: instances.sort((a, b) => a.node.localeCompare(b.node) || a.id.localeCompare(b.id)),
      health: worst(instances.map((i) => i.health)),
    }))
    .sort(byName);
}

/** Builds the snapshot from the body of `/v1/internal/ui/nodes`. */
export function snapshotFromNodeDump(body: unknown): CatalogSnapshot {
  const nodes: CatalogNode[] = [];
  if (Array.isArray(body)) {
    for (const raw of body) {
      const node = toNode(raw);
      if (node) nodes.push(node);
    }
  }
  nodes.sort(byName);
  const counts = countStatuses([]);
  for (const n of nodes) for (const c of n.checks) counts[c.status]++;
  return { nodes, services: groupServices(nodes), counts };
}
