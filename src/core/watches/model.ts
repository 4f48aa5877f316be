/**
 * Watch definitions: Consul's `consul watch` types with the same parameters,
 * plus what this editor does when one fires. Datacenter and token never come
 * from a definition: watches run on the active profile with its token.
 */
import { validateFireRequest } from '../consul/events';

export const WATCH_TYPES = ['key', 'keyprefix', 'services', 'nodes', 'service', 'checks', 'event'] as const;
export type WatchType = (typeof WATCH_TYPES)[number];

export const CHECK_STATES = ['any', 'passing', 'warning', 'critical', 'maintenance'] as const;

export type WatchAction =
  /** A VS Code notification saying what changed. */
  | { type: 'notify' }
  /**
   * A local command with the watch's JSON on stdin, as `consul watch` runs its
   * handler: `args` is executed as is; `command` goes through `/bin/sh -c`.
   */
  | { type: 'handler'; args?: string[]; command?: string; timeoutSeconds?: number }
  /** The notifier's webhook channel, with the watch's JSON as data. */
  | { type: 'webhook' }
  /**
   * A follow-up user event. On a production profile it fires only when
   * `confirmProduction` names that profile (the explicit opt-in).
   */
  | { type: 'event'; name: string; payload?: string; confirmProduction?: string };

export interface WatchDefinition {
  /** Unique among the watches; also its id. */
  name: string;
  type: WatchType;
  key?: string;
  prefix?: string;
  service?: string;
  tag?: string | string[];
  passingonly?: boolean;
  state?: string;
  /** The event name, for `event` watches (optional: every event when empty, as consul watch). */
  eventName?: string;
  actions: WatchAction[];
  /** Quiet time that merges a burst of changes into one firing (ms, default 1000). */
  debounceMs?: number;
  paused?: boolean;
}

export const DEFAULT_DEBOUNCE_MS = 1000;
export const DEFAULT_HANDLER_TIMEOUT_SECONDS = 30;

/** Which parameters each type takes, besides the common ones. */
export const PARAMS: Record<WatchType, readonly string[]> = {
  key: ['key'],
  keyprefix: ['prefix'],
  services: [],
  nodes: [],
  service: ['service', 'tag', 'passingonly'],
  checks: ['service', 'state'],
  event: ['eventName'],
};
const COMMON = ['name', 'type', 'actions', 'debounceMs', 'paused'];
const ACTION_FIELDS: Record<WatchAction['type'], readonly string[]> = {
  notify: ['type'],
  handler: ['type', 'args', 'command', 'timeoutSeconds'],
  webhook: ['type'],
  event: ['type', 'name', 'payload', 'confirmProduction'],
};

export class WatchDefinitionError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join(' '));
    this.name = 'WatchDefinitionError';
  }
}

function label(raw: Record<string, unknown>): string {
  return typeof raw.name === 'string' && raw.name.trim() ? `Watch "${raw.name}"` : 'The watch';
}

const isString = (v: unknown): v is string => typeof v === 'string';

function validateAction(a: unknown, i: number, who: string): string[] {
  const where = `${who}: action ${i + 1}`;
  if (!a || typeof a !== 'object' || Array.isArray(a)) return [`${where} must be an object like {"type": "notify"}.`];
  const action = a as Record<string, unknown>;
  const type = action.type;
  if (!isString(type) || !(type in ACTION_FIELDS)) {
    return [`${where} has type ${JSON.stringify(type)}; use one of ${Object.keys(ACTION_FIELDS).map((t) => `"${t}"`).join(', ')}.`];
  }
  const problems: string[] = [];
  for (const k of Object.keys(action)) {
    if (!ACTION_FIELDS[type as WatchAction['type']].includes(k)) problems.push(`${where} ("${type}") does not take "${k}".`);
  }
  if (type === 'handler') {
    const hasArgs = action.args !== undefined;
    const hasCommand = action.command !== undefined;
    if (hasArgs === hasCommand) problems.push(`${where} ("handler") needs exactly one of "args" (a program and its arguments) or "command" (a shell command).`);
    if (hasArgs && (!Array.isArray(action.args) || !action.args.length || !action.args.every((x) => isString(x) && x.length > 0))) {
      problems.push(`${where} ("handler"): "args" must be a non-empty array of non-empty strings, the program first.`);
    }
    if (hasCommand && (!isString(action.command) || !action.command.trim())) problems.push(`${where} ("handler"): "command" must be a non-empty string.`);
    const t = action.timeoutSeconds;
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > 3600)) {
      problems.push(`${where} ("handler"): "timeoutSeconds" must be a number of seconds between 0 and 3600.`);
    }
  }
  if (type === 'event') {
    if (!isString(action.name)) problems.push(`${where} ("event") needs "name", the user event to fire.`);
    else if (action.payload !== undefined && !isString(action.payload)) problems.push(`${where} ("event"): "payload" must be a string.`);
    else problems.push(...validateFireRequest({ name: action.name, payload: action.payload as string | undefined }).map((p) => `${where} ("event"): ${p}`));
    if (action.confirmProduction !== undefined && !isString(action.confirmProduction)) {
      problems.push(`${where} ("event"): "confirmProduction" must be the name of the production profile it may fire on.`);
    }
  }
  return problems;
}

/**
 * An event watch whose own event action fires a name its filter matches
 * would re-trigger itself on every agent of the fleet, once per debounce.
 */
function selfTriggers(w: Record<string, unknown>, who: string): string[] {
  const filter = isString(w.eventName) ? w.eventName : '';
  const problems: string[] = [];
  (w.actions as unknown[]).forEach((a, i) => {
    const action = a as Record<string, unknown> | null;
    if (!action || action.type !== 'event' || !isString(action.name)) return;
    if (filter && action.name !== filter) return;
    problems.push(
      `${who}: action ${i + 1} ("event") fires "${action.name}", which this watch itself matches (${filter ? `its eventName is "${filter}"` : 'it has no eventName, so it matches every event'}): it would re-trigger itself forever. Fire another event name${filter ? '' : ' or set "eventName"'}.`,
    );
  });
  return problems;
}

/** Every problem with a definition, in words; empty when it can run. */
export function watchProblems(raw: unknown): string[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return ['A watch must be an object like {"name": "...", "type": "key", "key": "...", "actions": [{"type": "notify"}]}.'];
  const w = raw as Record<string, unknown>;
  const who = label(w);
  const problems: string[] = [];
  if (!isString(w.name) || !w.name.trim()) problems.push('A watch needs a "name" (unique among the watches).');
  else if (w.name !== w.name.trim()) problems.push(`${who}: the name must not start or end with white space.`);
  const type = w.type;
  if (!isString(type) || !(WATCH_TYPES as readonly string[]).includes(type)) {
    problems.push(`${who} has type ${JSON.stringify(type)}; use one of ${WATCH_TYPES.join(', ')}.`);
    return problems;
  }
  const t = type as WatchType;
  for (const k of Object.keys(w)) {
    if (COMMON.includes(k) || PARAMS[t].includes(k)) continue;
    if (k === 'datacenter' || k === 'token') problems.push(`${who}: "${k}" is not taken from a watch: watches use the active profile's datacenter and ACL token.`);
    else problems.push(`${who}: a ${t} watch does not take "${k}"${PARAMS[t].length ? ` (it takes ${PARAMS[t].map((p) => `"${p}"`).join(', ')})` : ''}.`);
  }
  const str = (k: string, required: boolean) => {
    const v = w[k];
    if (v === undefined) {
      if (required) problems.push(`${who}: a ${t} watch needs "${k}".`);
    } else if (!isString(v) || (required && !v)) problems.push(`${who}: "${k}" must be a${required ? ' non-empty' : ''} string.`);
  };
  switch (t) {
    case 'key':
      str('key', true);
      if (isString(w.key) && w.key.startsWith('/')) problems.push(`${who}: the key "${w.key}" must not start with "/".`);
      break;
    case 'keyprefix':
      str('prefix', false);
      if (isString(w.prefix) && w.prefix.startsWith('/')) problems.push(`${who}: the prefix "${w.prefix}" must not start with "/".`);
      break;
    case 'service':
      str('service', true);
      if (w.tag !== undefined && !isString(w.tag) && !(Array.isArray(w.tag) && w.tag.every(isString))) problems.push(`${who}: "tag" must be a string or a list of strings.`);
      if (w.passingonly !== undefined && typeof w.passingonly !== 'boolean') problems.push(`${who}: "passingonly" must be true or false.`);
      break;
    case 'checks':
      str('service', false);
      str('state', false);
      if (w.service !== undefined && w.state !== undefined) problems.push(`${who}: a checks watch takes "service" or "state", not both (as consul watch).`);
      if (isString(w.state) && !(CHECK_STATES as readonly string[]).includes(w.state)) problems.push(`${who}: "state" ${JSON.stringify(w.state)} is not one of ${CHECK_STATES.join(', ')}.`);
      break;
    case 'event':
      str('eventName', false);
      break;
  }
  if (!Array.isArray(w.actions) || !w.actions.length) problems.push(`${who} needs "actions": a non-empty list like [{"type": "notify"}].`);
  else {
    w.actions.forEach((a, i) => problems.push(...validateAction(a, i, who)));
    if (t === 'event') problems.push(...selfTriggers(w, who));
  }
  if (w.debounceMs !== undefined && (typeof w.debounceMs !== 'number' || !Number.isFinite(w.debounceMs) || w.debounceMs < 0 || w.debounceMs > 600_000)) {
    problems.push(`${who}: "debounceMs" must be a number of milliseconds between 0 and 600000.`);
  }
  if (w.paused !== undefined && typeof w.paused !== 'boolean') problems.push(`${who}: "paused" must be true or false.`);
  return problems;
}

/** The definition, checked; throws WatchDefinitionError listing every problem. */
export function parseWatch(raw: unknown): WatchDefinition {
  const problems = watchProblems(raw);
  if (problems.length) throw new WatchDefinitionError(problems);
  return raw as WatchDefinition;
}

/** Reads the setting: the valid definitions and why the others were left out. Names must be unique. */
export function parseWatchList(raw: unknown): { watches: WatchDefinition[]; problems: string[] } {
  if (raw === undefined || raw === null) return { watches: [], problems: [] };
  if (!Array.isArray(raw)) return { watches: [], problems: ['The watches setting must be a list of watch definitions.'] };
  const watches: WatchDefinition[] = [];
  const problems: string[] = [];
  const names = new Set<string>();
  for (const item of raw) {
    const p = watchProblems(item);
    if (p.length) {
      problems.push(...p);
      continue;
    }
    const w = item as WatchDefinition;
    if (names.has(w.name)) {
      problems.push(`Watch "${w.name}" is defined twice; only the first one runs.`);
      continue;
    }
    names.add(w.name);
    watches.push(w);
  }
  return { watches, problems };
}

/** What the watch looks at, in the words of `consul watch` flags, e.g. `key app/config`. */
export function describeTarget(w: WatchDefinition): string {
  switch (w.type) {
    case 'key':
      return `key ${w.key}`;
    case 'keyprefix':
      return `keys under ${w.prefix || '(root)'}`;
    case 'services':
      return 'the service list';
    case 'nodes':
      return 'the node list';
    case 'service': {
      const tags = w.tag === undefined ? [] : Array.isArray(w.tag) ? w.tag : [w.tag];
      return `service ${w.service}${tags.length ? ` tagged ${tags.join(', ')}` : ''}${w.passingonly ? ' (passing only)' : ''}`;
    }
    case 'checks':
      return w.service ? `checks of service ${w.service}` : `checks in state ${w.state ?? 'any'}`;
    case 'event':
      return w.eventName ? `event ${w.eventName}` : 'every user event';
  }
}

/** The `consul watch` command line that watches the same thing (for docs, tests and the tooltip). */
export function consulWatchArgs(w: WatchDefinition): string[] {
  const args = [`-type=${w.type}`];
  if (w.type === 'key') args.push(`-key=${w.key}`);
  if (w.type === 'keyprefix') args.push(`-prefix=${w.prefix ?? ''}`);
  if (w.type === 'service') {
    args.push(`-service=${w.service}`);
    const tags = w.tag === undefined ? [] : Array.isArray(w.tag) ? w.tag : [w.tag];
    for (const t of tags) args.push(`-tag=${t}`);
    if (w.passingonly) args.push('-passingonly');
  }
  if (w.type === 'checks') {
    if (w.service) args.push(`-service=${w.service}`);
    if (w.state) args.push(`-state=${w.state}`);
  }
  if (w.type === 'event' && w.eventName) args.push(`-name=${w.eventName}`);
  return args;
}
