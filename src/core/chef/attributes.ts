/**
 * A Chef node's attributes: merged the way chef-client merges its precedence
 * levels (default < normal < override < automatic; hashes merge deeply, any
 * other value — arrays included, as since Chef 11 — is replaced by the higher
 * level's), flattened into searchable paths, and printed as JSON with the
 * line of every path, so a search hit can reveal its line in the document.
 */
import type { ChefNode } from './server/chefApi';

export const PRECEDENCE_LEVELS = ['default', 'normal', 'override', 'automatic'] as const;
export type PrecedenceLevel = (typeof PRECEDENCE_LEVELS)[number];

type Json = Record<string, unknown>;

const isHash = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets an own property, whatever the key (`__proto__` included: assignment would set the prototype). */
function put(o: Json, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Node attributes are data: keys like `__proto__`, `constructor` or `toJSON` are just keys (own properties, looked up with Object.hasOwn). */
function deepMerge(lower: unknown, higher: unknown): unknown {
  if (!isHash(lower) || !isHash(higher)) return higher === undefined ? lower : higher;
  const out: Json = {};
  for (const [k, v] of Object.entries(lower)) put(out, k, v);
  for (const [k, v] of Object.entries(higher)) put(out, k, Object.hasOwn(out, k) ? deepMerge(out[k], v) : v);
  return out;
}

/** The merged attributes of a node (what `node['x']` reads in a recipe). */
export function mergeAttributes(node: Pick<ChefNode, PrecedenceLevel>): Json {
  let merged: unknown = {};
  for (const level of PRECEDENCE_LEVELS) merged = deepMerge(merged, node[level] ?? {});
  return merged as Json;
}

/** The JSON `chefConsul.chef.getNode` returns and the node document shows: the node, less its class markers, plus the merged attributes. */
export type ChefNodeDocument = Omit<ChefNode, 'json_class' | 'chef_type'> & {
  /** The merged attributes. */
  attributes: Json;
};

export function nodeDocument(node: ChefNode): ChefNodeDocument {
  const doc: ChefNodeDocument = {
    name: node.name,
    chef_environment: node.chef_environment,
    run_list: node.run_list ?? [],
    attributes: mergeAttributes(node),
    default: node.default ?? {},
    normal: node.normal ?? {},
    override: node.override ?? {},
    automatic: node.automatic ?? {},
  };
  if (node.policy_name) doc.policy_name = node.policy_name;
  if (node.policy_group) doc.policy_group = node.policy_group;
  return doc;
}

/** A JSON path as a Ruby-ish attribute path: `nginx.sites[0].port`; keys that are not identifiers are quoted. */
export function attributePath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

export interface FlatAttribute {
  path: string;
  segments: Array<string | number>;
  /** JSON text of a leaf (or `{}` / `[]` for an empty container), cut at 200 characters. */
  value: string;
  /** The highest precedence level that sets this path, when levels are given. */
  level?: PrecedenceLevel;
}

function levelOf(segments: ReadonlyArray<string | number>, levels: Partial<Record<PrecedenceLevel, unknown>>): PrecedenceLevel | undefined {
  for (const level of [...PRECEDENCE_LEVELS].reverse()) {
    let v: unknown = levels[level];
    for (const s of segments) {
      if (v === null || typeof v !== 'object') {
        v = undefined;
        break;
      }
      v = Object.hasOwn(v, s) ? (v as Record<string | number, unknown>)[s] : undefined;
    }
    if (v !== undefined) return level;
  }
  return undefined;
}

/**
 * Every leaf of `attrs` as a path and its value, depth first in key order,
 * at most `limit` of them (default 100,000).
 */
export function flattenAttributes(attrs: unknown, opts: { levels?: Partial<Record<PrecedenceLevel, unknown>>; limit?: number } = {}): FlatAttribute[] {
  const out: FlatAttribute[] = [];
  const limit = opts.limit ?? 100_000;
  const walk = (v: unknown, segments: Array<string | number>) => {
    if (out.length >= limit) return;
    const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : isHash(v) ? Object.entries(v) : [];
    if (entries.length && segments.length < 64) {
      for (const [k, x] of entries) walk(x, [...segments, k]);
      return;
    }
    if (!segments.length) return;
    const text = JSON.stringify(v) ?? 'null';
    const item: FlatAttribute = { path: attributePath(segments), segments, value: text.length > 200 ? `${text.slice(0, 199)}…` : text };
    if (opts.levels) {
      const level = levelOf(segments, opts.levels);
      if (level) item.level = level;
    }
    out.push(item);
  };
  walk(attrs, []);
  return out;
}

/**
 * `JSON.stringify(value, null, 2)` — the same text — plus the 0-based line of
 * every path (key `JSON.stringify(segments)`), for revealing a search hit.
 */
export function jsonWithLines(value: unknown): { text: string; lines: Map<string, number> } {
  const lines = new Map<string, number>();
  const parts: string[] = [];
  let line = 0;
  const write = (s: string) => {
    parts.push(s);
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) line++;
  };
  const emit = (v: unknown, indent: string, segments: Array<string | number>) => {
    // As JSON.stringify: toJSON only when it is a method (an attribute named toJSON is data).
    const toJSON = v !== null && typeof v === 'object' ? (v as { toJSON?: unknown }).toJSON : undefined;
    const json = v === undefined || typeof v === 'function' ? undefined : typeof toJSON === 'function' ? (toJSON as () => unknown).call(v) : v;
    if (Array.isArray(json)) {
      if (!json.length) return write('[]');
      write('[');
      const inner = indent + '  ';
      json.forEach((x, i) => {
        write(`${i ? ',' : ''}\n${inner}`);
        lines.set(JSON.stringify([...segments, i]), line);
        emit(x === undefined || typeof x === 'function' ? null : x, inner, [...segments, i]);
      });
      return write(`\n${indent}]`);
    }
    if (isHash(json)) {
      const entries = Object.entries(json).filter(([, x]) => x !== undefined && typeof x !== 'function');
      if (!entries.length) return write('{}');
      write('{');
      const inner = indent + '  ';
      entries.forEach(([k, x], i) => {
        write(`${i ? ',' : ''}\n${inner}${JSON.stringify(k)}: `);
        lines.set(JSON.stringify([...segments, k]), line);
        emit(x, inner, [...segments, k]);
      });
      return write(`\n${indent}}`);
    }
    write(JSON.stringify(json) ?? 'null');
  };
  emit(value, '', []);
  return { text: parts.join(''), lines };
}
