/** Health of nodes and services as the Consul UI aggregates it: the worst check wins. */

export type HealthStatus = 'passing' | 'warning' | 'critical';

const RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };

/** Unknown statuses (maintenance, garbage from a node) count as critical: never hide a problem. */
export function normalizeStatus(status: unknown): HealthStatus {
  return status === 'passing' || status === 'warning' ? status : 'critical';
}

export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let result: HealthStatus = 'passing';
  for (const s of statuses) if (RANK[s] > RANK[result]) result = s;
  return result;
}

export interface HealthCounts {
  passing: number;
  warning: number;
  critical: number;
}

export function countStatuses(statuses: Iterable<HealthStatus>): HealthCounts {
  const counts: HealthCounts = { passing: 0, warning: 0, critical: 0 };
  for (const s of statuses) counts[s]++;
  return counts;
}
