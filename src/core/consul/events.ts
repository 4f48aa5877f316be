/**
 * Consul user events: checking a request the way Consul will before it is
 * sent, firing it, and reading the agent's event buffer.
 */
import type Consul from 'consul';
import type { ConsulConnection } from './client';
import { call } from './client';
import { GoRegexError, goRegExp, goRegexProblem } from '../util/goRegex';

/** For input boxes: why a filter cannot be used as Consul's agents read it, as the user types. */
export { goRegexProblem };

export interface FireEventRequest {
  name: string;
  payload?: string;
  /** Regular expressions, as the API takes them. */
  node?: string;
  service?: string;
  tag?: string;
}

export interface UserEvent {
  id: string;
  name: string;
  payload: string;
  /** True when the payload is not valid UTF-8 text and is shown as base64. */
  payloadIsBinary: boolean;
  nodeFilter: string;
  serviceFilter: string;
  tagFilter: string;
  version: number;
  lTime: number;
}

/** Serf's limit on one user event, name and filters included. */
export const EVENT_SIZE_LIMIT = 512;

export class EventRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRequestError';
  }
}

const utf8 = (s: string | undefined): number => (s ? Buffer.byteLength(s, 'utf8') : 0);

/**
 * The event's encoded size as Consul 1.8.7 computes it. Fitted to the
 * largest payload Consul accepted for names of 1–150 bytes and each filter:
 * the name is carried twice (once prefixed), msgpack headers grow at 19 and
 * 32 bytes of name, a payload under 256 bytes has a shorter header, and each
 * filter costs its length plus 4.
 */
export function encodedEventSize(req: FireEventRequest): number {
  const name = utf8(req.name);
  const payload = utf8(req.payload);
  let size = 96 + 2 * name + payload;
  if (name >= 19) size += 2;
  if (name >= 32) size += 1;
  if (payload <= 255) size -= 1;
  for (const filter of [req.node, req.service, req.tag]) {
    const n = utf8(filter);
    if (n) size += n + 4 + (n >= 32 ? 1 : 0);
  }
  return size;
}

/** Bytes of payload still free with this name and these filters (negative: over). */
export function remainingPayloadBytes(req: FireEventRequest): number {
  return EVENT_SIZE_LIMIT - encodedEventSize(req);
}

/**
 * Agents compile filters with Go's regexp: refused here are what Go refuses
 * (Consul would refuse the event; no agent could match it) and what cannot
 * be read here exactly as Go reads it (the reach could not be counted).
 */
function checkRegex(what: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  const problem = goRegexProblem(value);
  return problem && `The ${what} filter ${problem}`;
}

/** The problems Consul would refuse the request for, in words; empty when it may go. */
export function validateFireRequest(req: FireEventRequest): string[] {
  const problems: string[] = [];
  if (typeof req.name !== 'string' || !req.name.trim()) problems.push('An event needs a name.');
  else if (/[/?#\s]/.test(req.name)) problems.push(`The event name "${req.name}" must not contain "/", "?", "#" or white space.`);
  for (const [key, value] of Object.entries({ payload: req.payload, node: req.node, service: req.service, tag: req.tag })) {
    if (value !== undefined && typeof value !== 'string') problems.push(`"${key}" must be a string.`);
  }
  if (problems.length) return problems;
  if (req.tag && !req.service) problems.push('A tag filter needs a service filter: Consul refuses a tag filter on its own.');
  for (const [what, value] of [['node', req.node], ['service', req.service], ['tag', req.tag]] as const) {
    const p = checkRegex(what, value);
    if (p) problems.push(p);
  }
  const over = -remainingPayloadBytes(req);
  if (over > 0) {
    problems.push(`The event is ${encodedEventSize(req)} bytes encoded, ${over} over Consul's limit of ${EVENT_SIZE_LIMIT}: shorten the payload (or name and filters).`);
  }
  return problems;
}

export async function fireEvent(connection: ConsulConnection, req: FireEventRequest): Promise<UserEvent> {
  const problems = validateFireRequest(req);
  if (problems.length) throw new EventRequestError(problems.join(' '));
  const result = await call(
    connection,
    `/v1/event/fire/${encodeURIComponent(req.name)}`,
    () =>
      connection.client.event.fire({
        name: req.name,
        // A Buffer makes the client hand the echoed payload back as bytes, not as text.
        payload: Buffer.from(req.payload ?? '', 'utf8'),
        ...(req.node ? { node: req.node } : {}),
        ...(req.service ? { service: req.service } : {}),
        ...(req.tag ? { tag: req.tag } : {}),
      }),
    'PUT',
  );
  return toUserEvent(result);
}

function decodePayload(raw: unknown): { payload: string; binary: boolean } {
  if (typeof raw !== 'string' || !raw) return { payload: '', binary: false };
  const bytes = Buffer.from(raw, 'base64');
  const text = bytes.toString('utf8');
  // A round trip that changes the bytes means it was not text.
  return Buffer.from(text, 'utf8').equals(bytes) ? { payload: text, binary: false } : { payload: raw, binary: true };
}

/** Events come from any node with event:write: every field is checked. */
export function toUserEvent(raw: unknown): UserEvent {
  const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const payloadRaw = e.Payload;
  const decoded = decodePayload(Buffer.isBuffer(payloadRaw) ? payloadRaw.toString('base64') : payloadRaw);
  return {
    id: str(e.ID),
    name: str(e.Name),
    payload: decoded.payload,
    payloadIsBinary: decoded.binary,
    nodeFilter: str(e.NodeFilter),
    serviceFilter: str(e.ServiceFilter),
    tagFilter: str(e.TagFilter),
    version: num(e.Version),
    lTime: num(e.LTime),
  };
}

/** Newest first, by Lamport time: the buffer's own order is the agent's arrival order. */
export function eventsFromList(body: unknown): UserEvent[] {
  return (Array.isArray(body) ? body : []).map(toUserEvent).filter((e) => e.id).sort((a, b) => b.lTime - a.lTime);
}

export const EVENT_LIST_PATH = '/v1/event/list';

/**
 * A `consul` client method over the agent's event buffer, for `Watch`. The
 * client keeps the index as a BigInt and only acts when it differs, which is
 * what this endpoint's hash-derived, non-monotonic index needs.
 */
export function eventListMethod(this: { consul: Consul }, opts: Record<string, unknown> = {}): Promise<unknown> {
  // Buffers, so that a binary payload is not mangled by a text decode.
  return this.consul.event.list({ ...opts, buffer: true } as never);
}

interface ReachableNode {
  name: string;
  /** `id` is what agents match the service filter against; the name stands in where it is missing. */
  services: { service: string; id?: string; tags: string[] }[];
}

/**
 * The catalog nodes whose agents would act on the event, as each agent
 * decides it: node name matches, a local service's ID matches, and one of
 * that service's tags matches — each filter read as Go's regexp reads it
 * (`\A`, `\z`, `[[:digit:]]`, `(?i)` …, see goRegExp). A filter Go refuses
 * reaches no node. A filter that cannot be read here exactly as Go reads it
 * is counted as reaching none too: validateFireRequest refuses it, and every
 * caller validates before firing.
 */
export function eventReach<T extends ReachableNode>(nodes: readonly T[], req: Pick<FireEventRequest, 'node' | 'service' | 'tag'>): T[] {
  const compile = (p: string | undefined): RegExp | null | undefined => {
    if (!p) return undefined;
    try {
      return goRegExp(p);
    } catch (e) {
      if (e instanceof GoRegexError) return null;
      throw e;
    }
  };
  const node = compile(req.node);
  const service = compile(req.service);
  const tag = compile(req.tag);
  if (node === null || service === null || tag === null) return [];
  return nodes.filter(
    (n) =>
      (!node || node.test(n.name)) &&
      (!service || n.services.some((s) => service.test(s.id ?? s.service) && (!tag || s.tags.some((t) => tag.test(t))))),
  );
}

/**
 * The node names a node filter names exactly (`^name$`, `^(a|b)$`, names
 * escaped as escapeRegex writes them), else undefined. Only such a filter
 * says for sure which agents act: anything else is decided by each agent,
 * including agents this token cannot see in the catalog.
 */
export function exactNodeNames(filter: string | undefined): string[] | undefined {
  if (!filter) return undefined;
  const m = /^\^(?:\((.*)\)|(.*))\$$/s.exec(filter);
  const body = m?.[1] ?? m?.[2];
  if (body === undefined || !body) return undefined;
  const alts = body.split(/(?<!\\)\|/);
  // `^a|b$` is (^a)|(b$): only a parenthesised list is a list of whole names.
  if (m?.[1] === undefined && alts.length > 1) return undefined;
  const names: string[] = [];
  for (const alt of alts) {
    // Every special character escaped; nothing else may stand unescaped.
    if (!/^(?:[^\\.*+?^${}()|[\]]|\\[.*+?^${}()|[\]\\])+$/.test(alt)) return undefined;
    names.push(alt.replace(/\\(.)/g, '$1'));
  }
  return names;
}
