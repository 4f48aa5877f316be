/**
 * Where each watch type gets its data, as the JSON `consul watch` hands its
 * handler, and the blocking queries they share. One LiveQuery per distinct
 * query per connection: two watches on the same key share one long-poll, the
 * catalog types (services, nodes, service, checks) ride the connection's one
 * node-dump query that the Nodes and Services views read (a change there
 * triggers one plain read of the watch's own endpoint), and event watches
 * share one query on the agent's event buffer.
 */
import { EventEmitter } from 'node:events';
import type Consul from 'consul';
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import type { ConsulError } from '../consul/errors';
import { toConsulError } from '../consul/errors';
import { LiveQuery, LiveState } from '../consul/liveQuery';
import { NODE_DUMP_PATH, nodeDumpMethod } from '../consul/nodeDump';
import type { Disposable } from '../util/emitter';
import type { WatchDefinition } from './model';
import { consulUtils } from '../util/lazyLibs';


interface PrivateClient {
  _defaults?: object;
  _get(req: object, handler: unknown): Promise<unknown>;
}

type Query = Record<string, string | string[]>;

/**
 * A `consul` client method for GET `path` (under /v1) that hands back the raw
 * JSON body. A 404 (missing key, empty prefix) is an answer: `null` with its
 * index, as consul watch reads it.
 */
export function rawGetMethod(path: string, query: Query = {}) {
  return async function (this: { consul: Consul }, opts: Record<string, unknown> = {}): Promise<unknown> {
    const client = this.consul as unknown as PrivateClient;
    const utils = consulUtils();
    const merged = utils.defaults(utils.normalizeKeys({ ...opts }), client._defaults);
    const req = { name: `watch.get ${path}`, path, query: { ...query } };
    utils.options(req, merged);
    try {
      return await client._get(req, utils.body);
    } catch (e) {
      const res = (e as { response?: { statusCode?: number } }).response;
      if (res?.statusCode === 404) return [res, null];
      throw e;
    }
  };
}

interface RawResponse {
  headers: Record<string, string | undefined>;
}

/** One plain (non-blocking) read with the response's index. */
async function readOnce(connection: ConsulConnection, path: string, query: Query): Promise<{ body: unknown; index: string }> {
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
  const result = await call(connection, `/v1${path}`, () => rawGetMethod(path, query).call({ consul: connection.client }, { ctx }));
  const [res, body] = result as [RawResponse, unknown];
  return { body, index: res.headers['x-consul-index'] ?? '0' };
}

/* ---------------------------------------------------------------------------
 * Shaping: the JSON exactly as consul watch (Go's api structs) marshals it.
 * ------------------------------------------------------------------------- */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

/** api.KVPair: Session is always there (""), Value is null when empty. */
export function shapeKvPair(raw: unknown): Obj {
  const e = obj(raw);
  const out: Obj = {
    Key: e.Key ?? '',
    CreateIndex: e.CreateIndex ?? 0,
    ModifyIndex: e.ModifyIndex ?? 0,
    LockIndex: e.LockIndex ?? 0,
    Flags: e.Flags ?? 0,
    Value: e.Value ?? null,
    Session: e.Session ?? '',
  };
  if (e.Namespace) out.Namespace = e.Namespace;
  return out;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when it cannot be read. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^([-+]?)((?:\d*\.?\d+(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (const part of m[2].matchAll(/(\d*\.?\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]];
  return m[1] === '-' ? -total : total;
}

/** Go's time.Duration.String() for a number of nanoseconds (e.g. "0s", "1m30s", "1.5s", "100ms"). */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.round(Math.abs(ns));
  const sign = neg ? '-' : '';
  const frac = (value: number, digits: number) => {
    const whole = Math.floor(value / 10 ** digits);
    const rest = value % 10 ** digits;
    return rest ? `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}` : `${whole}`;
  };
  if (n < 1e3) return `${sign}${n}ns`;
  if (n < 1e6) return `${sign}${frac(n, 3)}µs`;
  if (n < 1e9) return `${sign}${frac(n, 6)}ms`;
  let out = '';
  const h = Math.floor(n / 3600e9);
  n -= h * 3600e9;
  const m = Math.floor(n / 60e9);
  n -= m * 60e9;
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  return `${sign}${out}${frac(n, 9)}s`;
}

function goDurationField(v: unknown): string {
  if (typeof v === 'number') return formatGoDuration(v);
  if (typeof v === 'string') {
    const ns = parseGoDuration(v);
    return ns === undefined ? v : formatGoDuration(ns);
  }
  return '0s';
}

/** api.HealthCheckDefinition as its MarshalJSON writes it: every field, durations as Go strings. */
function shapeCheckDefinition(raw: unknown): Obj {
  const d = obj(raw);
  return {
    Interval: goDurationField(d.Interval),
    Timeout: goDurationField(d.Timeout),
    DeregisterCriticalServiceAfter: goDurationField(d.DeregisterCriticalServiceAfter),
    HTTP: d.HTTP ?? '',
    Header: d.Header ?? null,
    Method: d.Method ?? '',
    Body: d.Body ?? '',
    TLSSkipVerify: d.TLSSkipVerify ?? false,
    TCP: d.TCP ?? '',
  };
}

/** api.HealthCheck. */
export function shapeCheck(raw: unknown): Obj {
  const c = obj(raw);
  const out: Obj = {
    Node: c.Node ?? '',
    CheckID: c.CheckID ?? '',
    Name: c.Name ?? '',
    Status: c.Status ?? '',
    Notes: c.Notes ?? '',
    Output: c.Output ?? '',
    ServiceID: c.ServiceID ?? '',
    ServiceName: c.ServiceName ?? '',
    ServiceTags: c.ServiceTags ?? null,
    Type: c.Type ?? '',
  };
  if (c.Namespace) out.Namespace = c.Namespace;
  out.Definition = shapeCheckDefinition(c.Definition);
  out.CreateIndex = c.CreateIndex ?? 0;
  out.ModifyIndex = c.ModifyIndex ?? 0;
  return out;
}

/** api.AgentService's field order (what the server leaves out stays out: those fields are omitempty). */
const AGENT_SERVICE_ORDER = ['Kind', 'ID', 'Service', 'Tags', 'Meta', 'Port', 'Address', 'TaggedAddresses', 'Weights', 'EnableTagOverride', 'CreateIndex', 'ModifyIndex', 'ContentHash', 'Proxy', 'Connect', 'Namespace'];

function inOrder(raw: unknown, order: readonly string[]): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw ?? null;
  const src = raw as Obj;
  const out: Obj = {};
  for (const k of order) if (k in src) out[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in out)) out[k] = src[k];
  return out;
}

/** api.ServiceEntry: the node as the server sent it, the service in api.AgentService's order, checks as api.HealthCheck. */
export function shapeServiceEntry(raw: unknown): Obj {
  const e = obj(raw);
  return { Node: e.Node ?? null, Service: inOrder(e.Service, AGENT_SERVICE_ORDER), Checks: Array.isArray(e.Checks) ? e.Checks.map(shapeCheck) : null };
}

/** api.UserEvent. */
export function shapeEvent(raw: unknown): Obj {
  const e = obj(raw);
  return {
    ID: e.ID ?? '',
    Name: e.Name ?? '',
    Payload: e.Payload ?? null,
    NodeFilter: e.NodeFilter ?? '',
    ServiceFilter: e.ServiceFilter ?? '',
    TagFilter: e.TagFilter ?? '',
    Version: e.Version ?? 0,
    LTime: e.LTime ?? 0,
  };
}

/** Consul's event.IDToIndex: the index an event list blocks on, from its last event's UUID. */
export function eventIdToIndex(id: string): string {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) return '0';
  return (BigInt(`0x${hex.slice(0, 16)}`) ^ BigInt(`0x${hex.slice(16)}`)).toString();
}

/** The bytes `consul watch` writes to its handler: Go's json.Encoder (HTML-safe escapes) plus a newline. */
export function goJson(value: unknown): string {
  return (
    JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n'
  );
}

/* ---------------------------------------------------------------------------
 * Shared queries and the feeds built on them.
 * ------------------------------------------------------------------------- */

export type FeedUpdate = { kind: 'data'; data: unknown; index: string } | { kind: 'error'; error: ConsulError };

export type WatchFeed = (listener: (update: FeedUpdate) => void) => Disposable;

/**
 * The agent's event buffer as a blocking query, its body as the agent sends it
 * (payloads base64, as consul watch hands them on): one per connection, which
 * event watches shape as api.UserEvent and the Events view reads with
 * eventsFromList.
 */
export function eventBufferQuery(connection: ConsulConnection): LiveQuery<unknown> {
  return new LiveQuery(connection, { method: rawGetMethod('/event/list'), path: '/v1/event/list', transform: (b) => b, coalesceMs: 0 });
}

/**
 * The blocking queries of one connection, shared by key. The catalog query
 * may be handed in (the connection's, which the views read); otherwise it is
 * made here on the same node-dump endpoint.
 */
export class SharedQueries implements Disposable {
  private readonly owned = new Map<string, LiveQuery<unknown>>();

  constructor(
    readonly connection: ConsulConnection,
    private readonly catalogQuery?: LiveQuery<unknown>,
    /** The connection's event-buffer query (eventBufferQuery), which the Events view reads; else made here. */
    private readonly eventsQuery?: LiveQuery<unknown>,
  ) {}

  /** The live query for `key`, made on first use. */
  query(key: string, make: () => LiveQuery<unknown>): LiveQuery<unknown> {
    let q = this.owned.get(key);
    if (!q) {
      q = make();
      this.owned.set(key, q);
    }
    return q;
  }

  /** The keys of the queries made here and still held (tests: a removed watch's query is gone). */
  heldQueries(): string[] {
    return [...this.owned.keys()];
  }

  /** Disposes the query of `key` when nobody follows it any more (a removed watch's key). */
  release(key: string): void {
    const q = this.owned.get(key);
    if (q && !q.active) {
      q.dispose();
      this.owned.delete(key);
    }
  }

  catalog(): LiveQuery<unknown> {
    return this.catalogQuery ?? this.query('catalog', () => new LiveQuery(this.connection, { method: nodeDumpMethod, path: NODE_DUMP_PATH, transform: (b) => b }));
  }

  events(): LiveQuery<unknown> {
    return this.eventsQuery ?? this.query('/event/list', () => eventBufferQuery(this.connection));
  }

  /** How many distinct blocking queries are in use now (tests and the tooltip). */
  activeQueries(): string[] {
    const keys = [...this.owned].filter(([, q]) => q.active).map(([k]) => k);
    if (this.catalogQuery?.active) keys.push('catalog');
    if (this.eventsQuery?.active) keys.push('/event/list');
    return keys;
  }

  dispose(): void {
    for (const q of this.owned.values()) q.dispose();
    this.owned.clear();
  }
}

function followLive(query: LiveQuery<unknown>, toUpdate: (state: Extract<LiveState<unknown>, { kind: 'ready' }>) => FeedUpdate | undefined, listener: (u: FeedUpdate) => void): Disposable {
  const onState = (s: LiveState<unknown>) => {
    if (s.kind === 'ready') {
      const u = toUpdate(s);
      if (u) listener(u);
    } else if (s.kind === 'error') listener({ kind: 'error', error: s.error });
  };
  const sub = query.onDidChange(onState);
  const hold = query.subscribe();
  // Somebody else may have it running already: start from what it holds.
  if (query.current.kind === 'ready' || query.current.kind === 'error') onState(query.current);
  return { dispose: () => { sub.dispose(); hold.dispose(); } };
}

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** The query parameters of a watch's own endpoint, as consul watch sends them. */
function endpointOf(w: WatchDefinition): { path: string; query: Query } {
  switch (w.type) {
    case 'key':
      return { path: `/kv/${encodeKey(w.key ?? '')}`, query: {} };
    case 'keyprefix':
      return { path: `/kv/${encodeKey(w.prefix ?? '')}`, query: { recurse: 'true' } };
    case 'services':
      return { path: '/catalog/services', query: {} };
    case 'nodes':
      return { path: '/catalog/nodes', query: {} };
    case 'service': {
      const tags = w.tag === undefined ? [] : Array.isArray(w.tag) ? w.tag : [w.tag];
      const query: Query = {};
      if (tags.length) query.tag = tags.length === 1 ? tags[0] : tags;
      if (w.passingonly) query.passing = '1';
      return { path: `/health/service/${encodeURIComponent(w.service ?? '')}`, query };
    }
    case 'checks':
      return w.service
        ? { path: `/health/checks/${encodeURIComponent(w.service)}`, query: {} }
        : { path: `/health/state/${encodeURIComponent(w.state ?? 'any')}`, query: {} };
    case 'event':
      return { path: '/event/list', query: {} };
  }
}

function shape(w: WatchDefinition, body: unknown): unknown {
  switch (w.type) {
    case 'key':
      return Array.isArray(body) && body.length ? shapeKvPair(body[0]) : null;
    case 'keyprefix':
      return Array.isArray(body) && body.length ? body.map(shapeKvPair) : null;
    case 'services':
      return body ?? {};
    case 'nodes':
      return Array.isArray(body) ? body : [];
    case 'service':
      return Array.isArray(body) ? body.map(shapeServiceEntry) : [];
    case 'checks':
      return Array.isArray(body) ? body.map(shapeCheck) : [];
    case 'event':
      return (Array.isArray(body) ? body : []).map(shapeEvent).filter((e) => !w.eventName || e.Name === w.eventName);
  }
}

/**
 * The text two readings are compared by. The service list's tags are the
 * union over instances in whatever order Consul's map iteration gives (it
 * differs between two reads of the same catalog): sorted here, so that only
 * a real change fires.
 */
export function comparable(w: WatchDefinition, data: unknown): string {
  if (w.type === 'services' && data && typeof data === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) sorted[k] = Array.isArray(v) ? [...(v as string[])].sort() : v;
    return JSON.stringify(sorted);
  }
  return JSON.stringify(data);
}

/** The feed of a watch: its data as consul watch shapes it, each time its query answers. */
export function feedFor(w: WatchDefinition, shared: SharedQueries): WatchFeed {
  const { path, query } = endpointOf(w);
  const connection = shared.connection;
  if (w.type === 'key' || w.type === 'keyprefix') {
    const key = `${path}?${new URLSearchParams(query as Record<string, string>).toString()}`;
    const live = () => shared.query(key, () => new LiveQuery(connection, { method: rawGetMethod(path, query), path: `/v1${path}`, transform: (b) => b, coalesceMs: 0 }));
    return (listener) => {
      const sub = followLive(live(), (s) => ({ kind: 'data', data: shape(w, s.data), index: s.meta.index ?? '0' }), listener);
      return {
        dispose: () => {
          sub.dispose();
          shared.release(key);
        },
      };
    };
  }
  if (w.type === 'event') {
    // The whole buffer, shared by every event watch (and the Events view); each keeps its name.
    const live = () => shared.events();
    return (listener) =>
      followLive(
        live(),
        (s) => {
          const events = shape(w, s.data) as Obj[];
          return { kind: 'data', data: events, index: events.length ? eventIdToIndex(String(events[events.length - 1].ID)) : '1' };
        },
        listener,
      );
  }
  // Catalog types: a change of the shared node dump triggers one read of the watch's endpoint.
  return (listener) => {
    let disposed = false;
    let reading = false;
    let again = false;
    let retry: NodeJS.Timeout | undefined;
    const read = async () => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      clearTimeout(retry);
      try {
        const { body, index } = await readOnce(connection, path, query);
        if (!disposed) listener({ kind: 'data', data: shape(w, body), index });
      } catch (e) {
        if (!disposed) {
          listener({ kind: 'error', error: toConsulError(e, connection.address, `/v1${path}`) });
          retry = setTimeout(() => void read(), 3000);
        }
      } finally {
        reading = false;
        if (again && !disposed) {
          again = false;
          void read();
        }
      }
    };
    const sub = followLive(shared.catalog(), () => {
      void read();
      return undefined;
    }, listener);
    return {
      dispose: () => {
        disposed = true;
        clearTimeout(retry);
        sub.dispose();
      },
    };
  };
}
