/**
 * Watches written for the consul agent (`watches` in an agent config file,
 * HCL or JSON) as definitions this editor runs, and the ones it cannot run
 * with the reason. HCL is read with js-hcl-parser: HashiCorp's HCL 1 parser
 * (the one Consul 1.x reads its config with) compiled to JavaScript.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { PARAMS, parseWatch, WATCH_TYPES, WatchAction, WatchDefinition, WatchDefinitionError } from './model';

export interface ImportResult {
  runnable: WatchDefinition[];
  notRunnable: { name?: string; index: number; reason: string }[];
  /** Things dropped from runnable watches, e.g. a datacenter or token (watches use the active profile's). */
  notes: string[];
}

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

/** The agent's parameters per type: ours, except that an event watch's event is `name` there (ours is `eventName`). */
const AGENT_PARAMS: Record<string, readonly string[]> = { ...PARAMS, event: ['name'] };
const AGENT_COMMON = ['type', 'datacenter', 'token', 'args', 'handler', 'handler_type', 'http_handler_config'];
const CONSUL_ONLY_TYPES: Record<string, string> = {
  connect_roots: 'watches the Connect CA roots',
  connect_leaf: 'watches a Connect leaf certificate',
  agent_service: "watches one agent's local service",
};

/** Reads the text of an agent config file; `format` from the file name when not given. */
export function parseAgentConfigText(text: string, format: 'json' | 'hcl'): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new AgentConfigError(`The file is not valid JSON: ${(e as Error).message}.`);
    }
  }
  const out = loadHcl().parse(text);
  if (/^unable to parse/i.test(out)) throw new AgentConfigError(`The file is not valid HCL: ${out.replace(/^unable to parse JSON:\s*/i, '')}.`);
  try {
    return JSON.parse(out);
  } catch {
    throw new AgentConfigError(`The HCL parser gave an unreadable result: ${out.slice(0, 200)}`);
  }
}

interface HclParser {
  parse(src: string): string;
}
let hclParser: HclParser | undefined;

/**
 * The parser is 1.5 MB of compiled Go: kept out of the extension bundle (it
 * would add ~100 ms to every activation) and loaded on first use — from
 * dist/hcl.js beside the bundle in the packaged extension (scripts/build.mjs
 * copies it there), else from node_modules.
 */
function loadHcl(): HclParser {
  if (hclParser) return hclParser;
  const load = createRequire(__filename);
  const beside = path.join(__dirname, 'hcl.js');
  hclParser = (existsSync(beside) ? load(beside) : load('js-hcl-parser')) as HclParser;
  return hclParser;
}

export function formatOfPath(path: string): 'json' | 'hcl' {
  return /\.json$/i.test(path) ? 'json' : 'hcl';
}

/** HCL 1 turns a nested block into a one-element list of objects; Consul flattens it back. */
function flatten(v: unknown): unknown {
  return Array.isArray(v) && v.length === 1 && v[0] && typeof v[0] === 'object' && !Array.isArray(v[0]) ? v[0] : v;
}

function defaultName(w: Record<string, unknown>): string {
  switch (w.type) {
    case 'key':
      return `key ${String(w.key)}`;
    case 'keyprefix':
      return `keyprefix ${String(w.prefix ?? '')}`;
    case 'service':
      return `service ${String(w.service)}`;
    case 'checks':
      return w.service ? `checks of ${String(w.service)}` : `checks ${String(w.state ?? 'any')}`;
    case 'event':
      return w.name ? `event ${String(w.name)}` : 'events';
    default:
      return String(w.type);
  }
}

function describeAgentWatch(w: Record<string, unknown>): string | undefined {
  return typeof w.type === 'string' ? defaultName(w) : undefined;
}

/** What the import says about every imported watch: this editor's semantics differ from consul watch's there. */
export const FIRST_READ_NOTE =
  'Unlike consul watch, which runs its handler once at start with the current data, these watches never fire on the first read: only on a change after it.';

/** A path relative to the current folder (not a bare program name, which the PATH finds). */
const isRelativePath = (p: string) => !path.isAbsolute(p) && (p.includes('/') || p.includes(path.sep));

/**
 * The agent's watches as this editor's definitions; `taken` are names already
 * in use. A handler program given by a relative path is resolved against
 * `baseDir` (the config file's folder): handlers run from the home folder.
 */
export function importAgentWatches(config: unknown, taken: readonly string[] = [], options: { baseDir?: string } = {}): ImportResult {
  const result: ImportResult = { runnable: [], notRunnable: [], notes: [] };
  const root = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  if (root.watches === undefined) throw new AgentConfigError('The file has no "watches" (an agent config file holds them as `watches = [ { type = "key" ... } ]`).');
  const raw = root.watches;
  const list = Array.isArray(raw) ? raw : [raw];
  const names = new Set(taken);
  list.forEach((item, index) => {
    const w = (item && typeof item === 'object' && !Array.isArray(item) ? item : undefined) as Record<string, unknown> | undefined;
    if (!w) {
      result.notRunnable.push({ index, reason: `Watch ${index + 1} is not an object.` });
      return;
    }
    const label = describeAgentWatch(w);
    const refuse = (reason: string) => result.notRunnable.push({ ...(label ? { name: label } : {}), index, reason });
    const type = w.type;
    if (typeof type !== 'string') return refuse(`Watch ${index + 1} has no "type".`);
    if (CONSUL_ONLY_TYPES[type]) return refuse(`Type "${type}" ${CONSUL_ONLY_TYPES[type]}; this editor runs ${WATCH_TYPES.join(', ')}.`);
    if (!AGENT_PARAMS[type]) return refuse(`Type "${type}" is not a Consul watch type.`);
    const unknown = Object.keys(w).filter((k) => !AGENT_COMMON.includes(k) && !AGENT_PARAMS[type].includes(k));
    if (unknown.length) return refuse(`A ${type} watch does not take ${unknown.map((k) => `"${k}"`).join(', ')} (the agent would refuse it too).`);
    const handlerType = w.handler_type ?? (w.http_handler_config !== undefined ? 'http' : 'script');
    let action: WatchAction;
    if (handlerType === 'http') {
      const cfg = flatten(w.http_handler_config) as Record<string, unknown> | undefined;
      return refuse(
        `Its http handler posts to ${typeof cfg?.path === 'string' ? cfg.path : 'its own URL'}; this editor sends webhooks only to the notifications' webhook channel. Add the watch with a "webhook" action instead.`,
      );
    } else if (handlerType !== 'script') {
      return refuse(`handler_type ${JSON.stringify(handlerType)} is neither "script" nor "http".`);
    } else if (Array.isArray(w.args) && w.args.length) {
      if (!w.args.every((a) => typeof a === 'string')) return refuse('"args" must be a list of strings.');
      const [program, ...rest] = w.args as string[];
      if (isRelativePath(program) && !options.baseDir) return refuse(`Its handler program "${program}" is a relative path; give an absolute one (handlers run from your home folder).`);
      action = { type: 'handler', args: [isRelativePath(program) ? path.resolve(options.baseDir!, program) : program, ...rest] };
    } else if (typeof w.handler === 'string' && w.handler.trim()) {
      const first = w.handler.trim().split(/\s+/)[0];
      if (isRelativePath(first)) {
        return refuse(`Its handler "${w.handler}" starts with a relative path; handlers run from your home folder, so write it with an absolute path.`);
      }
      action = { type: 'handler', command: w.handler };
    } else return refuse('It has no handler ("args" or "handler"): the agent would refuse it too.');
    let name = defaultName(w);
    for (let n = 2; names.has(name); n++) name = `${defaultName(w)} (${n})`;
    const def: Record<string, unknown> = { name, type };
    for (const p of AGENT_PARAMS[type]) {
      if (w[p] === undefined) continue;
      if (type === 'event' && p === 'name') def.eventName = w[p];
      else def[p] = w[p];
    }
    def.actions = [action];
    try {
      const parsed = parseWatch(def);
      names.add(name);
      result.runnable.push(parsed);
      for (const k of ['datacenter', 'token'] as const) {
        if (w[k] !== undefined) result.notes.push(`${name}: its ${k} was dropped; watches use the active profile's ${k === 'token' ? 'ACL token' : 'datacenter'}.`);
      }
    } catch (e) {
      refuse(e instanceof WatchDefinitionError ? e.problems.join(' ') : (e as Error).message);
    }
  });
  if (result.runnable.length) result.notes.push(FIRST_READ_NOTE);
  return result;
}
