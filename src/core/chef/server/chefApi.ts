/**
 * The Chef server objects the editor shows: nodes (one, names, and a paged
 * partial search that lists thousands without fetching every node object),
 * roles, environments, cookbooks with versions, data bags and their items.
 */
import type { ChefServerClient } from './chefServerClient';

type Json = Record<string, unknown>;

export interface ChefNode {
  name: string;
  chef_environment: string;
  run_list: string[];
  json_class?: string;
  chef_type?: string;
  default: Json;
  normal: Json;
  override: Json;
  automatic: Json;
  policy_name?: string | null;
  policy_group?: string | null;
}

/** What a node list shows, from partial search (one small row per node). */
export interface ChefNodeSummary {
  name: string;
  environment?: string;
  platform?: string;
  platformVersion?: string;
  runList: string[];
  fqdn?: string;
  hostname?: string;
  ipaddress?: string;
  /** When ohai last ran on the node (its last check-in), epoch ms. */
  ohaiTime?: number;
}

export interface SearchNodesOptions {
  /** Solr query (default `*:*`). */
  query?: string;
  /** Rows per request (default 1000). */
  pageSize?: number;
  signal?: AbortSignal;
  /** Called after each page with the rows so far (for progress). */
  onPage?: (loaded: number, total: number | undefined) => void;
}

export interface CookbookVersions {
  name: string;
  /** Newest first. */
  versions: string[];
}

/** The partial-search body: result key → attribute path. */
export const NODE_SUMMARY_KEYS: Record<string, string[]> = {
  name: ['name'],
  chef_environment: ['chef_environment'],
  platform: ['platform'],
  platform_version: ['platform_version'],
  run_list: ['run_list'],
  fqdn: ['fqdn'],
  hostname: ['hostname'],
  ipaddress: ['ipaddress'],
  ohai_time: ['ohai_time'],
};

const seg = (s: string) => encodeURIComponent(s);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

export function nodeSummaryFromRow(data: Json): ChefNodeSummary {
  const runList = Array.isArray(data.run_list) ? data.run_list.map(String) : [];
  const summary: ChefNodeSummary = { name: String(data.name ?? ''), runList };
  const set = (key: keyof ChefNodeSummary, value: string | undefined) => {
    if (value !== undefined) (summary as unknown as Record<string, unknown>)[key] = value;
  };
  set('environment', str(data.chef_environment));
  set('platform', str(data.platform));
  set('platformVersion', str(data.platform_version));
  set('fqdn', str(data.fqdn));
  set('hostname', str(data.hostname));
  set('ipaddress', str(data.ipaddress));
  const ohai = Number(data.ohai_time);
  if (data.ohai_time !== undefined && data.ohai_time !== null && Number.isFinite(ohai)) summary.ohaiTime = Math.round(ohai * 1000);
  return summary;
}

/** Compares Chef versions (`1.10.0` > `1.9.2`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return a.localeCompare(b);
}

/** What "every row" asks of a server that cannot page partial search. */
const UNPAGED_ROWS = 1_000_000;

const sortByName = (m: Map<string, ChefNodeSummary>) => [...m.values()].sort((a, b) => a.name.localeCompare(b.name));

export class ChefApi {
  /** The server cannot page partial search (goiardi), learned from its first answer. */
  private unpagedSearch = false;

  constructor(readonly client: ChefServerClient) {}

  getNode(name: string, signal?: AbortSignal): Promise<ChefNode> {
    return this.client.get<ChefNode>(`/nodes/${seg(name)}`, { signal });
  }

  /** Every node name (`GET /nodes`), sorted. */
  async listNodeNames(signal?: AbortSignal): Promise<string[]> {
    return Object.keys((await this.client.get<Record<string, string>>('/nodes', { signal })) ?? {}).sort();
  }

  /**
   * Nodes through partial search (`POST /search/node` with NODE_SUMMARY_KEYS):
   * one small row per node, never the node objects. Page by page (`rows`,
   * `start`) on a Chef Infra Server. goiardi cannot page partial search (its
   * row order changes between requests, so pages overlap and miss nodes, and
   * its `total` is the page's row count): against goiardi, a full first page
   * is followed by one request for every row, and later calls ask for every
   * row at once. Sorted by name.
   */
  async searchNodes(opts: SearchNodesOptions = {}): Promise<ChefNodeSummary[]> {
    const q = opts.query ?? '*:*';
    const pageSize = opts.pageSize ?? 1000;
    const byName = new Map<string, ChefNodeSummary>();
    type Page = { rows?: Array<{ data?: Json }> | null; total?: number; start?: number };
    const take = (page: Page | undefined) => {
      for (const row of page?.rows ?? []) {
        if (!row?.data) continue;
        const s = nodeSummaryFromRow(row.data);
        if (s.name) byName.set(s.name, s);
      }
    };
    const search = (rows: number, start?: number) =>
      this.client.request<Page>('POST', '/search/node', NODE_SUMMARY_KEYS, { query: { q, rows, start }, signal: opts.signal });
    if (this.unpagedSearch) {
      take((await search(UNPAGED_ROWS)).body);
      opts.onPage?.(byName.size, byName.size);
      return sortByName(byName);
    }
    let start = 0;
    for (;;) {
      const res = await search(pageSize, start);
      const rows = res.body?.rows ?? [];
      if (res.headers['x-goiardi'] === 'yes') {
        this.unpagedSearch = true;
        if (start === 0 && rows.length >= pageSize) {
          take((await search(UNPAGED_ROWS)).body);
        } else take(res.body);
        opts.onPage?.(byName.size, byName.size);
        break;
      }
      take(res.body);
      const total = res.body?.total;
      start += rows.length;
      opts.onPage?.(byName.size, total);
      if (rows.length < pageSize || (total !== undefined && start >= total)) break;
    }
    return sortByName(byName);
  }

  /** Full node objects through search (`GET /search/node`), for queries whose rows are needed whole. */
  async searchNodeObjects(query: string, signal?: AbortSignal): Promise<ChefNode[]> {
    const res = await this.client.get<{ rows?: ChefNode[] }>('/search/node', { query: { q: query }, signal });
    return res?.rows ?? [];
  }

  async listRoles(signal?: AbortSignal): Promise<string[]> {
    return Object.keys((await this.client.get<Record<string, string>>('/roles', { signal })) ?? {}).sort();
  }

  getRole(name: string, signal?: AbortSignal): Promise<Json> {
    return this.client.get<Json>(`/roles/${seg(name)}`, { signal });
  }

  async listEnvironments(signal?: AbortSignal): Promise<string[]> {
    return Object.keys((await this.client.get<Record<string, string>>('/environments', { signal })) ?? {}).sort();
  }

  getEnvironment(name: string, signal?: AbortSignal): Promise<Json> {
    return this.client.get<Json>(`/environments/${seg(name)}`, { signal });
  }

  /** Every cookbook with every version (`/cookbooks?num_versions=all`), versions newest first. */
  async listCookbooks(signal?: AbortSignal): Promise<CookbookVersions[]> {
    const res = (await this.client.get<Record<string, { versions?: Array<{ version: string }> }>>('/cookbooks', { query: { num_versions: 'all' }, signal })) ?? {};
    return Object.entries(res)
      .map(([name, v]) => ({ name, versions: (v?.versions ?? []).map((x) => x.version).sort((a, b) => compareVersions(b, a)) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  getCookbook(name: string, version: string, signal?: AbortSignal): Promise<Json> {
    return this.client.get<Json>(`/cookbooks/${seg(name)}/${seg(version)}`, { signal });
  }

  async listDataBags(signal?: AbortSignal): Promise<string[]> {
    return Object.keys((await this.client.get<Record<string, string>>('/data', { signal })) ?? {}).sort();
  }

  async listDataBagItems(bag: string, signal?: AbortSignal): Promise<string[]> {
    return Object.keys((await this.client.get<Record<string, string>>(`/data/${seg(bag)}`, { signal })) ?? {}).sort();
  }

  getDataBagItem(bag: string, item: string, signal?: AbortSignal): Promise<Json> {
    return this.client.get<Json>(`/data/${seg(bag)}/${seg(item)}`, { signal });
  }
}
