/**
 * Consul nodes ↔ Chef nodes: which Chef node a Consul node is, by the Chef
 * node's name (default), its `fqdn` or `hostname` attribute (compared with
 * the Consul node's name) or its `ipaddress` attribute (compared with the
 * Consul node's address). Nodes known to one side only are kept apart, so a
 * node that left Chef or never joined Consul stands out.
 */
import type { ChefNodeSummary } from './server/chefApi';
import type { ChefRunSummary } from './server/reporting';

export type ChefNodeMapping = 'name' | 'fqdn' | 'hostname' | 'ipaddress';
export const CHEF_NODE_MAPPINGS: readonly ChefNodeMapping[] = ['name', 'fqdn', 'hostname', 'ipaddress'];

/** What the join needs of a Consul node (CatalogNode fits). */
export interface ConsulNodeRef {
  name: string;
  address: string;
}

export interface ChefSide {
  node: ChefNodeSummary;
  /** Its newest Reporting run, when Reporting has one. */
  lastRun?: ChefRunSummary;
}

export interface ChefConsulJoin {
  mapping: ChefNodeMapping;
  /** Consul node name → its Chef node; Consul nodes without one are in `notInChef`. */
  byConsulNode: Map<string, ChefSide>;
  /** Consul node names no Chef node maps to, in the order given. */
  notInChef: string[];
  /** Chef nodes no Consul node maps to, sorted by name. */
  onlyInChef: ChefSide[];
  /**
   * Keys two or more Chef nodes share (two nodes with the same ipaddress, say):
   * the first by name is joined, the others are listed here and in onlyInChef.
   */
  ambiguous: Array<{ key: string; chefNodes: string[] }>;
}

/** Host names and FQDNs compare without case (DNS does); names and addresses exactly. */
function normalise(mapping: ChefNodeMapping, value: string): string {
  return mapping === 'ipaddress' ? value.trim() : value.trim().toLowerCase();
}

/** The value a Chef node is matched by, or undefined when it lacks that attribute. */
export function chefJoinKey(node: ChefNodeSummary, mapping: ChefNodeMapping): string | undefined {
  const raw = mapping === 'name' ? node.name : node[mapping];
  return raw ? normalise(mapping, raw) : undefined;
}

/** The value a Consul node is matched by: its address for `ipaddress`, else its name. */
export function consulJoinKey(node: ConsulNodeRef, mapping: ChefNodeMapping): string | undefined {
  const raw = mapping === 'ipaddress' ? node.address : node.name;
  return raw ? normalise(mapping, raw) : undefined;
}

export function isChefNodeMapping(v: unknown): v is ChefNodeMapping {
  return typeof v === 'string' && (CHEF_NODE_MAPPINGS as readonly string[]).includes(v);
}

/**
 * Joins both sides. `lastRuns` is keyed by Chef node name (Reporting's
 * `lastRunsByNode`). Linear in the number of nodes on both sides.
 */
export function joinConsulChef(
  consulNodes: readonly ConsulNodeRef[],
  chefNodes: readonly ChefNodeSummary[],
  lastRuns: ReadonlyMap<string, ChefRunSummary> | undefined,
  mapping: ChefNodeMapping = 'name',
): ChefConsulJoin {
  const side = (node: ChefNodeSummary): ChefSide => {
    const lastRun = lastRuns?.get(node.name);
    return lastRun ? { node, lastRun } : { node };
  };
  const byKey = new Map<string, ChefNodeSummary>();
  const extra = new Map<string, string[]>();
  const sorted = [...chefNodes].sort((a, b) => a.name.localeCompare(b.name));
  for (const node of sorted) {
    const key = chefJoinKey(node, mapping);
    // A node without the attribute cannot be matched: it stays Chef-only.
    if (key === undefined) continue;
    if (!byKey.has(key)) byKey.set(key, node);
    else {
      const rest = extra.get(key);
      if (rest) rest.push(node.name);
      else extra.set(key, [node.name]);
    }
  }
  const joined = new Set<string>();
  const byConsulNode = new Map<string, ChefSide>();
  const notInChef: string[] = [];
  for (const c of consulNodes) {
    const key = consulJoinKey(c, mapping);
    const chef = key === undefined ? undefined : byKey.get(key);
    if (chef) {
      byConsulNode.set(c.name, side(chef));
      joined.add(chef.name);
    } else notInChef.push(c.name);
  }
  const onlyInChef = sorted.filter((n) => !joined.has(n.name)).map(side);
  const ambiguous = [...extra].map(([key, rest]) => ({ key, chefNodes: [byKey.get(key)!.name, ...rest] }));
  return { mapping, byConsulNode, notInChef, onlyInChef, ambiguous };
}

export type AgeUnit = 'now' | 'min' | 'h' | 'd';

/** The age of a time seen from `now`, rounded to one unit: under 45 s is 'now', then minutes, hours (under 48), days. */
export function runAge(time: number, now: number): { value: number; unit: AgeUnit } {
  const s = Math.max(0, Math.round((now - time) / 1000));
  if (s < 45) return { value: 0, unit: 'now' };
  const m = Math.max(1, Math.round(s / 60));
  if (m < 60) return { value: m, unit: 'min' };
  const h = Math.round(m / 60);
  if (h < 48) return { value: h, unit: 'h' };
  return { value: Math.round(h / 24), unit: 'd' };
}

/** When a run happened, for its age: its end, else its start. */
export function runTime(run: Pick<ChefRunSummary, 'endedAt' | 'startedAt'>): number | undefined {
  return run.endedAt ?? run.startedAt;
}
