/**
 * Rules on Chef runs, as the operator writes them in `chefConsul.rules`, and
 * their validation: every problem is reported with the rule it is in and the
 * parameter it is about, and a rule with a problem is left out (the others
 * still run).
 */
import type { NamePattern } from './pattern';
import { compilePattern, PatternError } from './pattern';

export type RuleKind = 'run-failed' | 'resource-failed' | 'slow-run' | 'cookbook-version-changed' | 'node-missing-runs';
export const RULE_KINDS: readonly RuleKind[] = ['run-failed', 'resource-failed', 'slow-run', 'cookbook-version-changed', 'node-missing-runs'];

/** The channels a match is sent to: the same as watches'. */
export type RuleChannel = 'vscode' | 'webhook';
export const RULE_CHANNELS: readonly RuleChannel[] = ['vscode', 'webhook'];

interface RuleBase {
  name: string;
  /** Only runs of nodes whose name matches. */
  node?: NamePattern;
  notify: RuleChannel[];
  /** The definition as written (plain JSON), for listing. */
  definition: Record<string, unknown>;
}

export type Rule =
  | (RuleBase & { kind: 'run-failed' })
  | (RuleBase & { kind: 'resource-failed'; resourceType?: NamePattern; resourceName?: NamePattern })
  | (RuleBase & { kind: 'slow-run'; factor: number; minSamples: number })
  | (RuleBase & { kind: 'cookbook-version-changed'; cookbook?: NamePattern })
  | (RuleBase & { kind: 'node-missing-runs'; hours: number });

export interface RuleProblem {
  /** Index in the setting's array. */
  index: number;
  /** The rule's name when it has one. */
  rule?: string;
  /** The parameter the problem is about. */
  param?: string;
  message: string;
}

export const DEFAULT_MIN_SAMPLES = 3;

const COMMON = ['name', 'kind', 'node', 'notify', 'description'];
const PARAMS: Record<RuleKind, string[]> = {
  'run-failed': [],
  'resource-failed': ['resourceType', 'resourceName'],
  'slow-run': ['factor', 'minSamples'],
  'cookbook-version-changed': ['cookbook'],
  'node-missing-runs': ['hours'],
};

export interface ParsedRules {
  rules: Rule[];
  problems: RuleProblem[];
}

/** Reads the setting's value: the valid rules, and a problem for each thing wrong. */
export function parseRules(raw: unknown): ParsedRules {
  if (raw === undefined || raw === null) return { rules: [], problems: [] };
  if (!Array.isArray(raw)) return { rules: [], problems: [{ index: -1, message: `chefConsul.rules must be an array of rules, got ${describe(raw)}.` }] };
  const rules: Rule[] = [];
  const problems: RuleProblem[] = [];
  const names = new Map<string, number>();
  raw.forEach((item, index) => {
    const found: RuleProblem[] = [];
    let rule: Rule | undefined;
    try {
      rule = parseRule(item, index, found);
    } catch (e) {
      // Whatever the reader did not foresee leaves this rule out, said, and the others apply.
      found.push({ index, message: `rule ${index + 1} cannot be read: ${e instanceof Error ? e.message : String(e)}` });
      rule = undefined;
    }
    if (rule) {
      const earlier = names.get(rule.name);
      if (earlier !== undefined) found.push({ index, rule: rule.name, param: 'name', message: `rule ${index + 1}: the name "${rule.name}" is already used by rule ${earlier + 1}; names must be unique.` });
      else names.set(rule.name, index);
    }
    problems.push(...found);
    if (rule && !found.length) rules.push(rule);
  });
  return { rules, problems };
}

function parseRule(item: unknown, index: number, problems: RuleProblem[]): Rule | undefined {
  const at = `rule ${index + 1}`;
  if (!item || typeof item !== 'object' || Array.isArray(item)) {
    problems.push({ index, message: `${at} must be an object with "name" and "kind", got ${describe(item)}.` });
    return undefined;
  }
  const x = item as Record<string, unknown>;
  const name = typeof x.name === 'string' ? x.name.trim() : '';
  const where = name ? `${at} ("${name}")` : at;
  const problem = (param: string | undefined, message: string) => problems.push({ index, rule: name || undefined, param, message: `${where}: ${message}` });
  if (!name) problem('name', `"name" is required: a non-empty string that names the rule in matches and notifications${x.name === undefined ? '' : `, got ${describe(x.name)}`}.`);
  const kind = x.kind;
  if (typeof kind !== 'string' || !RULE_KINDS.includes(kind as RuleKind)) {
    problem('kind', `"kind" must be one of ${RULE_KINDS.map((k) => `"${k}"`).join(', ')}, got ${describe(kind)}.`);
    return undefined;
  }
  const k = kind as RuleKind;
  for (const key of Object.keys(x)) {
    if (!COMMON.includes(key) && !PARAMS[k].includes(key)) {
      const allowed = [...PARAMS[k], 'node', 'notify'].map((p) => `"${p}"`).join(', ');
      problem(key, `"${key}" is not a parameter of a ${k} rule (its parameters: ${allowed}).`);
    }
  }
  const pattern = (param: string, required = false): NamePattern | undefined => {
    const v = x[param];
    if (v === undefined) {
      if (required) problem(param, `"${param}" is required.`);
      return undefined;
    }
    if (typeof v !== 'string' || !v) {
      problem(param, `"${param}" must be a non-empty pattern string (a glob like "web-*" or an anchored regular expression like "^web-[0-9]+$"), got ${describe(v)}.`);
      return undefined;
    }
    try {
      return compilePattern(v);
    } catch (e) {
      if (e instanceof PatternError) problem(param, `"${param}": ${e.message}`);
      else throw e;
      return undefined;
    }
  };
  const number = (param: string, test: (n: number) => boolean, what: string, fallback?: number): number => {
    const v = x[param];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) {
      problem(param, `"${param}" must be ${what}, got ${v === undefined ? 'nothing' : describe(v)}.`);
      return NaN;
    }
    return v;
  };
  let notify: RuleChannel[] = ['vscode'];
  if (x.notify !== undefined) {
    if (!Array.isArray(x.notify) || x.notify.some((c) => !RULE_CHANNELS.includes(c as RuleChannel)))
      problem('notify', `"notify" must be an array of channels, each ${RULE_CHANNELS.map((c) => `"${c}"`).join(' or ')} (an empty array lists matches without notifying), got ${describe(x.notify)}.`);
    else notify = [...new Set(x.notify as RuleChannel[])];
  }
  const base = { name, node: pattern('node'), notify, definition: structuredClone(x) };
  switch (k) {
    case 'run-failed':
      return { ...base, kind: k };
    case 'resource-failed': {
      const resourceType = pattern('resourceType');
      const resourceName = pattern('resourceName');
      if (x.resourceType === undefined && x.resourceName === undefined)
        problem('resourceType', 'a resource-failed rule needs "resourceType" (e.g. "template"), "resourceName" (e.g. "/etc/nginx/*") or both; for any failed run use a run-failed rule.');
      return { ...base, kind: k, resourceType, resourceName };
    }
    case 'slow-run':
      return {
        ...base,
        kind: k,
        factor: number('factor', (n) => n > 1, 'a number greater than 1 (the run is slow when it took longer than factor × the average of the node\'s previous runs)'),
        minSamples: number('minSamples', (n) => Number.isInteger(n) && n >= 1, 'a whole number of at least 1 (previous runs needed before an average counts)', DEFAULT_MIN_SAMPLES),
      };
    case 'cookbook-version-changed':
      return { ...base, kind: k, cookbook: pattern('cookbook') };
    case 'node-missing-runs':
      return { ...base, kind: k, hours: number('hours', (n) => n > 0, 'a number of hours greater than 0') };
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array (${truncate(JSON.stringify(v))})`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `"${truncate(v)}"`;
  return `${typeof v} ${String(v)}`;
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
