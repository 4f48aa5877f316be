/**
 * metronome's `{{…}}` template expansion, reproduced for hovers and checks.
 *
 * metronome replaces every `{{name}}` (no spaces trimmed) by the variable of
 * that exact name and `{{config.key}}` by its agent setting, leaves unknown
 * placeholders untouched, and repeats until the text stops changing. It has
 * no bound, so variables that refer to each other hang it; here the loop is
 * bounded and such a cycle is reported instead.
 */
import type { Operation, PatternPlan } from './model';

export type TemplateValues = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

export interface TemplateExpansion {
  text: string;
  /** True when expansion never settled (variables referring to each other, or growing). */
  cycle: boolean;
  /** Placeholders left as written because nothing defines them, without braces. */
  unresolved: string[];
}

const PLACEHOLDER = /{{([^{}]+)}}/g;
const CONFIG_PREFIX = 'config.';
const MAX_ITERATIONS = 32;
/** Past this size a self-growing variable is a cycle, not a value. */
const MAX_LENGTH = 256 * 1024;

function lookup(values: TemplateValues | undefined, key: string): string | undefined {
  if (!values) return undefined;
  if (values instanceof Map) return values.get(key);
  const rec = values as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;
}

export function expandTemplate(text: string, vars: TemplateValues, config: TemplateValues = {}): TemplateExpansion {
  const seen = new Set<string>([text]);
  let current = text;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    const next = expandOnce(current, vars, config);
    if (next === current) return { text: current, cycle: false, unresolved: placeholders(current) };
    if (next === undefined || seen.has(next)) return { text: current, cycle: true, unresolved: placeholders(current) };
    seen.add(next);
    current = next;
  }
  return { text: current, cycle: true, unresolved: placeholders(current) };
}

/** One pass over text; undefined once the result outgrows MAX_LENGTH, before building it. */
function expandOnce(text: string, vars: TemplateValues, config: TemplateValues): string | undefined {
  const parts: string[] = [];
  let length = 0;
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    const key = m[1];
    const value = key.startsWith(CONFIG_PREFIX) ? lookup(config, key.slice(CONFIG_PREFIX.length)) : lookup(vars, key);
    const piece = text.slice(last, m.index) + (value ?? m[0]);
    length += piece.length;
    if (length > MAX_LENGTH) return undefined;
    parts.push(piece);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(text.slice(last));
  return parts.join('');
}

/** The names inside `{{…}}` in text, in order, without duplicates. */
export function placeholders(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(PLACEHOLDER)) names.add(m[1]);
  return [...names];
}

/**
 * Variables whose expansion never settles, each with the chain of variables
 * it runs through (`['a', 'b']` for a → b → a). One entry per cycle.
 */
export function findVariableCycles(vars: Readonly<Record<string, string>>): string[][] {
  const cycles: string[][] = [];
  const inCycle = new Set<string>();
  for (const name of Object.keys(vars)) {
    if (inCycle.has(name) || !expandTemplate(`{{${name}}}`, vars).cycle) continue;
    // A variable that merely uses a looping one leads to a cycle already found.
    const chain = referenceChain(name, vars);
    if (chain.some((n) => inCycle.has(n))) continue;
    chain.forEach((n) => inCycle.add(n));
    cycles.push(chain);
  }
  return cycles;
}

/** Follows references from start until one repeats: the repeating tail is the cycle. */
function referenceChain(start: string, vars: Readonly<Record<string, string>>): string[] {
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    if (onPath.has(name)) return path.slice(path.indexOf(name));
    path.push(name);
    onPath.add(name);
    for (const ref of placeholders(vars[name] ?? '')) {
      if (ref.startsWith(CONFIG_PREFIX) || !Object.prototype.hasOwnProperty.call(vars, ref)) continue;
      const found = visit(ref);
      if (found) return found;
    }
    path.pop();
    onPath.delete(name);
    return undefined;
  };
  return visit(start) ?? [start];
}

/**
 * An `environments` value as metronome sets it: `$NAME` from the agent's own
 * environment first (missing ones become empty), then the templates.
 */
export function expandEnvironmentValue(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  vars: TemplateValues,
  config: TemplateValues = {},
): TemplateExpansion {
  const withEnv = value.replace(/\$[a-zA-Z0-9_-]+/g, (ref) => env[ref.slice(1)] ?? '');
  return expandTemplate(withEnv, vars, config);
}

/** The variables a pattern's templates see: task.yml `variables`, then `role` and the agent's `-var`s. */
export function planVariables(plan: PatternPlan, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const v of plan.variables) vars[v.name] = v.value;
  // metronome sets `role` over task.yml and adds -var values only where task.yml has none.
  for (const [k, v] of Object.entries(extra)) if (k === 'role' || !(k in vars)) vars[k] = v;
  return vars;
}

export interface ExpandedField {
  /** e.g. `script`, `run_list[0]`, `filter.service`. */
  field: string;
  value: string;
  expanded: string;
  cycle: boolean;
  unresolved: string[];
}

/** Every string field of an operation next to its expansion, for a hover. */
export function expandOperation(op: Operation, vars: TemplateValues, config: TemplateValues = {}): ExpandedField[] {
  const out: ExpandedField[] = [];
  const add = (field: string, value: string | undefined) => {
    if (value === undefined) return;
    const r = expandTemplate(value, vars, config);
    out.push({ field, value, expanded: r.text, cycle: r.cycle, unresolved: r.unresolved });
  };
  switch (op.type) {
    case 'execute':
      add('file', op.file);
      op.arguments.forEach((a, i) => add(`arguments[${i}]`, a));
      add('script', op.script);
      break;
    case 'chef':
      op.runList.forEach((r, i) => add(`run_list[${i}]`, expandRoleEntry(r, vars)));
      op.attributeKeys.forEach((k, i) => add(`attribute_keys[${i}]`, k));
      addStrings(op.attributes, 'attributes', add);
      break;
    case 'consul-kvs':
      add('key', op.key);
      add('value', op.value);
      add('name', op.name);
      break;
    case 'consul-event':
      add('name', op.name);
      add('filter.service', op.filter.service);
      add('filter.tag', op.filter.tag);
      break;
    case 'service':
      add('name', op.name);
      add('action', op.action);
      break;
    case 'echo':
      add('message', op.message);
      break;
  }
  return out;
}

/**
 * metronome turns a run_list entry holding `{{role}}` into one entry per role:
 * `all` plus each comma-separated role of the agent.
 */
function expandRoleEntry(entry: string, vars: TemplateValues): string {
  const role = lookup(vars, 'role');
  if (role === undefined || !entry.includes('{{role}}')) return entry;
  return ['all', ...role.split(',')].map((r) => entry.split('{{role}}').join(r)).join(', ');
}

function addStrings(value: unknown, path: string, add: (field: string, v: string) => void, depth = 0): void {
  if (depth > 8) return;
  if (typeof value === 'string') add(path, value);
  else if (Array.isArray(value)) value.forEach((v, i) => addStrings(v, `${path}[${i}]`, add, depth + 1));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) addStrings(v, `${path}.${k}`, add, depth + 1);
  }
}
