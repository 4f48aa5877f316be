/**
 * Search under a prefix by key name and, optionally, by value text. Names
 * alone need only the key list; values are read only when asked for.
 */
import type { ConsulConnection } from '../consul/client';
import { folderPrefix, isUtf8 } from './model';
import { getSubtree, listAllKeys } from './kvStore';

export interface SearchQuery {
  prefix: string;
  /** Matched case-insensitively against the key (below the prefix) and, with `values`, the value text. */
  text: string;
  values?: boolean;
  /** At most this many results (default 500). */
  limit?: number;
}

export interface SearchHit {
  key: string;
  /** Where it matched. */
  in: 'key' | 'value';
  /** For value matches: the line that matched, trimmed. */
  excerpt?: string;
}

export interface SearchResult {
  hits: SearchHit[];
  /** Keys looked at. */
  scanned: number;
  truncated: boolean;
}

export async function searchKv(connection: ConsulConnection, query: SearchQuery): Promise<SearchResult> {
  const prefix = query.prefix ? folderPrefix(query.prefix) : '';
  const needle = query.text.toLowerCase();
  const limit = query.limit ?? 500;
  const hits: SearchHit[] = [];
  const matchesName = (key: string) => key.slice(prefix.length).toLowerCase().includes(needle);
  if (!query.values) {
    const keys = await listAllKeys(connection, prefix);
    for (const key of keys) if (matchesName(key)) hits.push({ key, in: 'key' });
    return { hits: hits.slice(0, limit), scanned: keys.length, truncated: hits.length > limit };
  }
  const entries = await getSubtree(connection, prefix);
  for (const e of entries) {
    if (matchesName(e.key)) {
      hits.push({ key: e.key, in: 'key' });
      continue;
    }
    if (!needle || !isUtf8(e.value)) continue;
    const text = e.value.toString('utf8');
    const at = text.toLowerCase().indexOf(needle);
    if (at < 0) continue;
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const lineEnd = text.indexOf('\n', at);
    hits.push({ key: e.key, in: 'value', excerpt: text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd).trim().slice(0, 200) });
  }
  return { hits: hits.slice(0, limit), scanned: entries.length, truncated: hits.length > limit };
}
