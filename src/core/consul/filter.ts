/** Filtering of the Nodes and Services views by text and health. */
import type { CatalogNode, CatalogService, ServiceInstance } from './catalog';
import type { HealthStatus } from './health';

export interface ViewFilter {
  /** Case-insensitive substring of a node, service, tag or address. */
  text?: string;
  /** Show only items whose aggregated health is one of these. */
  health?: HealthStatus[];
}

export function isEmptyFilter(filter: ViewFilter | undefined): boolean {
  return !filter || (!filter.text?.trim() && !filter.health?.length);
}

/** How the view's description shows the filter, e.g. `"web" · critical, warning`. */
export function describeFilter(filter: ViewFilter | undefined): string {
  if (!filter || isEmptyFilter(filter)) return '';
  const parts: string[] = [];
  if (filter.text?.trim()) parts.push(`"${filter.text.trim()}"`);
  if (filter.health?.length) parts.push(filter.health.join(', '));
  return parts.join(' · ');
}

function textMatcher(filter: ViewFilter): (...values: string[]) => boolean {
  const needle = filter.text?.trim().toLowerCase();
  if (!needle) return () => true;
  return (...values) => values.some((v) => v.toLowerCase().includes(needle));
}

function healthMatcher(filter: ViewFilter): (h: HealthStatus) => boolean {
  const wanted = filter.health?.length ? new Set(filter.health) : undefined;
  return (h) => !wanted || wanted.has(h);
}

function instanceText(i: ServiceInstance): string[] {
  return [i.service, i.id, i.node, i.address, ...i.tags];
}

export function filterNodes(nodes: readonly CatalogNode[], filter: ViewFilter | undefined): CatalogNode[] {
  if (!filter || isEmptyFilter(filter)) return [...nodes];
  const text = textMatcher(filter);
  const health = healthMatcher(filter);
  return nodes.filter(
    (n) => health(n.health) && (text(n.name, n.address) || n.services.some((i) => text(...instanceText(i)))),
  );
}

export function filterServices(services: readonly CatalogService[], filter: ViewFilter | undefined): CatalogService[] {
  if (!filter || isEmptyFilter(filter)) return [...services];
  const text = textMatcher(filter);
  const health = healthMatcher(filter);
  const result: CatalogService[] = [];
  for (const s of services) {
    // A service matching by name keeps all its instances; otherwise only the
    // instances that match (by node, tag or address) stay.
    const instances = s.instances.filter(
      (i) => health(i.health) && (text(s.name) || text(...instanceText(i))),
    );
    if (instances.length) result.push({ ...s, instances });
  }
  return result;
}
