/**
 * task.yml → PatternPlan + diagnostics, with every problem placed at the line
 * and column it comes from. Never throws: whatever the input, the worst
 * outcome is `plan: undefined` and a diagnostic saying why.
 *
 * What counts as a problem follows what metronome does with the file: it loads
 * task.yml through YAML → JSON → Go structs, so a wrong type in an event or a
 * task makes it refuse the whole file (error), while a wrong type inside an
 * operation, or a key it does not know, is silently dropped (warning).
 */
import * as path from 'node:path';
import { EVENT_ID, getScalarValue, parseEvents, SCALAR_STYLE } from 'js-yaml';
import type { Event as YamlEvent, ScalarEvent } from 'js-yaml';
import {
  DEFAULT_PRIORITY,
  DEFAULT_TIMEOUT_SECONDS,
  OPERATION_TYPES,
  type Operation,
  type OperationType,
  type PatternPlan,
  type Phase,
  type PlanDefaults,
  type PlanDiagnostic,
  type PlanDiagnosticCode,
  type PlanDiagnosticData,
  type PlanEntry,
  type PlanEvent,
  type Position,
  type Range,
  type Severity,
  type Task,
} from './model';
import { findVariableCycles } from './template';

export interface ParseOptions {
  /** Lets the parser check `execute: { file }` against the pattern folder. */
  fileExists?: (absPath: string) => boolean;
}

export interface ParseResult {
  plan: PatternPlan | undefined;
  diagnostics: PlanDiagnostic[];
}

export function parsePlan(source: string, filePath: string, opts: ParseOptions = {}): ParseResult {
  const text = typeof source === 'string' ? source : '';
  const lines = new LineIndex(text);
  const diags = new Diagnostics(lines);
  try {
    const doc = readYaml(text, diags);
    if (!doc.ok) return { plan: undefined, diagnostics: diags.list };
    const plan = new PlanReader(diags, filePath, opts).read(doc.root);
    return { plan, diagnostics: sortByPosition(diags.list) };
  } catch (e) {
    // A bug here must not take the editor's Problems panel down with it.
    diags.list.push({
      severity: 'error',
      code: 'parse-internal',
      message: `Could not check this task.yml: ${e instanceof Error ? e.message : String(e)}`,
      range: lines.range(0, 0),
    });
    return { plan: undefined, diagnostics: diags.list };
  }
}

function sortByPosition(list: PlanDiagnostic[]): PlanDiagnostic[] {
  return list.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

// ---------------------------------------------------------------- positions

class LineIndex {
  private readonly starts: number[] = [0];
  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  position(offset: number): Position {
    const o = Math.max(0, Math.min(Number.isFinite(offset) ? offset : 0, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo] };
  }

  range(start: number, end: number): Range {
    return { start: this.position(start), end: this.position(Math.max(start, end)) };
  }

  /** A YAML error mark as a one-character range, clipped to its line. */
  markRange(line: number, column: number): Range {
    const l = Math.max(0, Math.min(line, this.starts.length - 1));
    const lineEnd = l + 1 < this.starts.length ? this.starts[l + 1] - 1 : this.text.length;
    const start = Math.min(this.starts[l] + Math.max(0, column), lineEnd);
    return this.range(start, Math.min(start + 1, lineEnd));
  }
}

interface Span {
  start: number;
  end: number;
}

class Diagnostics {
  readonly list: PlanDiagnostic[] = [];
  constructor(readonly lines: LineIndex) {}

  add(severity: Severity, code: PlanDiagnosticCode, message: string, at: Span, data?: PlanDiagnosticData): void {
    const d: PlanDiagnostic = { severity, code, message, range: this.lines.range(at.start, at.end) };
    if (data) d.data = data;
    this.list.push(d);
  }

  range(at: Span): Range {
    return this.lines.range(at.start, at.end);
  }

  line(at: Span): number {
    return this.lines.position(at.start).line + 1;
  }
}

// ---------------------------------------------------------- positioned YAML

type ScalarValue = string | number | boolean | null;

interface YScalar extends Span {
  kind: 'scalar';
  text: string;
  value: ScalarValue;
}
interface YSeq extends Span {
  kind: 'seq';
  items: YNode[];
}
interface YMap extends Span {
  kind: 'map';
  pairs: { key: YNode; value: YNode }[];
}
type YNode = YScalar | YSeq | YMap;

type YamlRead = { ok: true; root: YNode | undefined } | { ok: false };

interface Frame {
  node: YSeq | YMap;
  anchor?: string;
  key?: YNode;
}

function readYaml(text: string, diags: Diagnostics): YamlRead {
  let events: YamlEvent[];
  try {
    events = parseEvents(text, {});
  } catch (e) {
    const err = e as { reason?: unknown; message?: unknown; mark?: { line?: unknown; column?: unknown } };
    const line = typeof err.mark?.line === 'number' ? err.mark.line : 0;
    const column = typeof err.mark?.column === 'number' ? err.mark.column : 0;
    const reason = typeof err.reason === 'string' && err.reason ? err.reason : String(err.message ?? e);
    diags.list.push({
      severity: 'error',
      code: 'yaml-syntax',
      message: `YAML syntax error: ${reason} (line ${line + 1}, column ${column + 1}). metronome cannot load this task.yml.`,
      range: diags.lines.markRange(line, column),
    });
    return { ok: false };
  }
  return { ok: true, root: buildTree(text, events, diags) };
}

function buildTree(text: string, events: YamlEvent[], diags: Diagnostics): YNode | undefined {
  const anchors = new Map<string, YNode>();
  const stack: Frame[] = [];
  let root: YNode | undefined;
  let documents = 0;
  let lastEnd = 0;

  const attach = (node: YNode) => {
    lastEnd = Math.max(lastEnd, node.end);
    const top = stack[stack.length - 1];
    if (!top) {
      root = node;
      return;
    }
    top.node.end = Math.max(top.node.end, node.end);
    if (top.node.kind === 'seq') top.node.items.push(node);
    else if (top.key === undefined) top.key = node;
    else {
      top.node.pairs.push({ key: top.key, value: node });
      top.key = undefined;
    }
  };
  const anchorName = (s: number, e: number) => (s >= 0 && e > s ? text.slice(s, e) : undefined);
  // An empty value has no offset of its own: a sequence item points at its `-`, a map value at the key's end.
  const emptyAt = (): Span => {
    const top = stack[stack.length - 1];
    if (top?.node.kind !== 'seq') return { start: lastEnd, end: lastEnd };
    if (top.node.items.length === 0) return { start: top.node.start, end: top.node.start + 1 };
    const dash = findDash(text, lastEnd);
    return dash === undefined ? { start: lastEnd, end: lastEnd } : { start: dash, end: dash + 1 };
  };

  for (const ev of events) {
    if (ev.type === EVENT_ID.DOCUMENT) {
      documents++;
      if (documents > 1) {
        const at = firstOffset(events, events.indexOf(ev)) ?? lastEnd;
        diags.add('warning', 'yaml-multiple-documents', 'metronome reads only the first YAML document of task.yml; everything after this `---` is ignored.', {
          start: at,
          end: at,
        });
        break;
      }
      continue;
    }
    if (ev.type === EVENT_ID.SEQUENCE || ev.type === EVENT_ID.MAPPING) {
      const span = { start: ev.start, end: ev.start + 1 };
      lastEnd = Math.max(lastEnd, span.end);
      const node: YSeq | YMap = ev.type === EVENT_ID.SEQUENCE ? { kind: 'seq', ...span, items: [] } : { kind: 'map', ...span, pairs: [] };
      stack.push({ node, anchor: anchorName(ev.anchorStart, ev.anchorEnd) });
    } else if (ev.type === EVENT_ID.SCALAR) {
      const node = scalarNode(text, ev, ev.valueStart < 0 ? emptyAt() : { start: lastEnd, end: lastEnd });
      const anchor = anchorName(ev.anchorStart, ev.anchorEnd);
      if (anchor) anchors.set(anchor, node);
      attach(node);
    } else if (ev.type === EVENT_ID.ALIAS) {
      const name = anchorName(ev.anchorStart, ev.anchorEnd) ?? '';
      // An alias to a collection still being built would make the tree cyclic.
      attach(anchors.get(name) ?? { kind: 'scalar', start: ev.anchorStart, end: ev.anchorEnd, text: '', value: null });
    } else if (ev.type === EVENT_ID.POP) {
      const frame = stack.pop();
      if (!frame) continue;
      if (frame.node.kind === 'map') applyMergeKeys(frame.node);
      if (frame.anchor) anchors.set(frame.anchor, frame.node);
      attach(frame.node);
    }
  }
  return root;
}

function firstOffset(events: YamlEvent[], from: number): number | undefined {
  for (let i = from; i < events.length; i++) {
    const ev = events[i];
    if (ev.type === EVENT_ID.SEQUENCE || ev.type === EVENT_ID.MAPPING) return ev.start;
    if (ev.type === EVENT_ID.SCALAR && ev.valueStart >= 0) return ev.valueStart;
  }
  return undefined;
}

/** The next `-` after from, skipping blanks and comments; undefined when something else comes first. */
function findDash(text: string, from: number): number | undefined {
  const limit = Math.min(text.length, from + 4096);
  for (let i = from; i < limit; i++) {
    const c = text[i];
    if (c === '-') return i;
    if (c === '#') while (i + 1 < limit && text[i + 1] !== '\n') i++;
    else if (!' \t\r\n,]}'.includes(c)) return undefined;
  }
  return undefined;
}

function scalarNode(text: string, ev: ScalarEvent, empty: Span): YScalar {
  const isEmpty = ev.valueStart < 0;
  const start = isEmpty ? empty.start : ev.valueStart;
  const end = isEmpty ? empty.end : Math.max(ev.valueStart, ev.valueEnd);
  const decoded = isEmpty ? '' : getScalarValue(text, ev);
  const tag = ev.tagStart >= 0 ? text.slice(ev.tagStart, ev.tagEnd) : undefined;
  let value: ScalarValue;
  if (tag !== undefined) value = resolveTagged(tag, decoded);
  else if (ev.style === SCALAR_STYLE.PLAIN) value = resolvePlain(decoded);
  else value = decoded;
  return { kind: 'scalar', start, end, text: decoded, value };
}

/**
 * Plain scalars as metronome's YAML library (go-yaml v2, YAML 1.1) reads them:
 * `yes`/`no`/`on`/`off` are booleans and `0755` is octal.
 */
function resolvePlain(s: string): ScalarValue {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (/^(?:y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(s)) return true;
  if (/^(?:n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/.test(s)) return false;
  const t = s.replace(/_/g, '');
  if (/^[-+]?(?:0|[1-9][0-9]*)$/.test(t)) return Number(t);
  if (/^[-+]?0x[0-9a-fA-F]+$/.test(t)) return signed(t, (u) => parseInt(u.slice(2), 16));
  if (/^[-+]?0b[01]+$/.test(t)) return signed(t, (u) => parseInt(u.slice(2), 2));
  if (/^[-+]?0[0-7]+$/.test(t)) return signed(t, (u) => parseInt(u, 8));
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(t)) return Number(t);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(s)) return NaN;
  return s;
}

function signed(t: string, parse: (unsigned: string) => number): number {
  const negative = t.startsWith('-');
  const n = parse(t.replace(/^[-+]/, ''));
  return negative ? -n : n;
}

function resolveTagged(tag: string, s: string): ScalarValue {
  const name = tag.replace(/^!!/, '').replace(/^tag:yaml\.org,2002:/, '');
  if (name === 'null') return null;
  if (name === 'bool' || name === 'int' || name === 'float') {
    const v = resolvePlain(s);
    return v === null ? s : v;
  }
  return s;
}

/** `<<: *base` merges, which go-yaml honours: explicit keys win over merged ones. */
function applyMergeKeys(map: YMap): void {
  if (!map.pairs.some(isMergePair)) return;
  const explicit = map.pairs.filter((p) => !isMergePair(p));
  const have = new Set(explicit.map((p) => (p.key.kind === 'scalar' ? p.key.text : '')));
  const merged: YMap['pairs'] = [];
  for (const p of map.pairs.filter(isMergePair)) {
    const sources = p.value.kind === 'seq' ? p.value.items : [p.value];
    for (const src of sources) {
      if (src.kind !== 'map') continue;
      for (const sp of src.pairs) {
        const k = sp.key.kind === 'scalar' ? sp.key.text : '';
        if (have.has(k)) continue;
        have.add(k);
        merged.push(sp);
      }
    }
  }
  map.pairs = [...explicit, ...merged];
}

function isMergePair(p: { key: YNode }): boolean {
  return p.key.kind === 'scalar' && p.key.text === '<<';
}

// ------------------------------------------------------------- reading plans

interface Field {
  key: YScalar;
  name: string;
  value: YNode;
}

/** How metronome reacts to a bad value: refuse the whole file, or drop the value. */
type Strictness = 'load' | 'drop';

const TOP_KEYS = ['environments', 'variables', 'default', 'events', 'tasks'];
const EVENT_KEYS = ['description', 'priority', 'task', 'ordered_tasks'];
const EVENT_IGNORED: Record<string, string> = {
  name: 'the event is named by its key',
  path: 'metronome sets the path of task.yml itself',
  pattern: 'metronome sets the pattern (the folder name) itself',
};
const PHASE_KEYS = ['service', 'tag', 'task', 'skippable'];
const PHASE_IGNORED: Record<string, string> = {
  pattern: 'metronome fills it in when it queues the phase',
  id: 'metronome fills it in when it queues the phase',
  no: 'metronome fills it in when it queues the phase',
};
const TASK_KEYS = ['description', 'timeout', 'operations'];
const TASK_IGNORED: Record<string, string> = {
  name: 'the task is named by its key',
  service: "a task cannot choose its nodes; put `service` on the event's ordered_tasks item instead",
  tag: "a task cannot choose its nodes; put `tag` on the event's ordered_tasks item instead",
  filter: "this is the pre-events format; put `service`/`tag` on the event's ordered_tasks item instead",
  trigger: 'this is the pre-events format; reference the task from an event instead',
};
const DEFAULT_KEYS = ['timeout', ...OPERATION_TYPES];
const OPERATION_KEYS: Record<OperationType, string[]> = {
  execute: ['file', 'script', 'arguments', 'output'],
  chef: ['run_list', 'attributes', 'attribute_keys', 'configurations'],
  'consul-kvs': ['action', 'key', 'value', 'name'],
  'consul-event': ['name', 'filter'],
  service: ['name', 'action'],
  echo: [],
};
const KVS_ACTIONS = ['get', 'put', 'delete'];
const INT32_MAX = 2147483647;
const JS_VALUE_BUDGET = 100000;

class PlanReader {
  private readonly folder: string;
  private readonly patternName: string;
  private defaults: PlanDefaults = { timeout: DEFAULT_TIMEOUT_SECONDS, chefAttributeKeys: [] };
  /** Shared by all free-form values of one file, so aliases cannot multiply the work. */
  private readonly jsBudget = { left: JS_VALUE_BUDGET };

  constructor(
    private readonly d: Diagnostics,
    private readonly filePath: string,
    private readonly opts: ParseOptions,
  ) {
    const file = typeof filePath === 'string' ? filePath : '';
    this.folder = path.dirname(file);
    this.patternName = path.basename(this.folder);
  }

  read(root: YNode | undefined): PatternPlan {
    const plan: PatternPlan = {
      name: this.patternName,
      folder: this.folder,
      filePath: this.filePath,
      environments: [],
      variables: [],
      defaults: this.defaults,
      events: [],
      tasks: [],
    };
    if (!root || isNull(root)) return plan;
    if (root.kind !== 'map') {
      this.d.add('error', 'value-type', `task.yml must be a map of \`events\`, \`tasks\`…, not ${describe(root)}; metronome cannot load it.`, root);
      return plan;
    }
    const top = this.fields(root, 'task.yml');
    this.checkKeys(top, TOP_KEYS, {}, 'at the top level of task.yml');
    const get = (k: string) => top.get(k)?.value;
    plan.environments = this.entries(get('environments'), 'environments');
    plan.variables = this.entries(get('variables'), 'variables');
    this.defaults = this.readDefaults(get('default'));
    plan.defaults = this.defaults;
    plan.tasks = this.readTasks(get('tasks'));
    plan.events = this.readEvents(get('events'));
    this.checkReferences(plan);
    this.checkVariableCycles(plan);
    return plan;
  }

  // ---- maps and keys

  /** Every entry, duplicates included (each duplicate reported once). */
  private allFields(map: YMap, where: string): Field[] {
    const out: Field[] = [];
    const firstByName = new Map<string, Field>();
    for (const { key, value } of map.pairs) {
      if (key.kind !== 'scalar') {
        this.d.add('error', 'value-type', `A key in ${where} is ${describe(key)}; metronome needs plain names as keys.`, key);
        continue;
      }
      const field = { key, name: key.text, value };
      const first = firstByName.get(field.name);
      if (first) {
        this.d.add(
          'error',
          'key-duplicate',
          `Duplicate key \`${field.name}\` in ${where} (first at line ${this.d.line(first.key)}); only one of them would be kept.`,
          key,
          { key: field.name },
        );
      } else firstByName.set(field.name, field);
      out.push(field);
    }
    return out;
  }

  /** By name; a duplicated key keeps its last value, as YAML loaders do. */
  private fields(map: YMap, where: string): Map<string, Field> {
    return new Map(this.allFields(map, where).map((f) => [f.name, f]));
  }

  private checkKeys(
    fields: Map<string, Field>,
    known: readonly string[],
    ignored: Record<string, string>,
    where: string,
    unknownCode: PlanDiagnosticCode = 'key-unknown',
  ): void {
    for (const f of fields.values()) {
      if (known.includes(f.name)) continue;
      if (Object.prototype.hasOwnProperty.call(ignored, f.name)) {
        this.d.add('warning', 'key-ignored', `metronome ignores \`${f.name}\` ${where}: ${ignored[f.name]}.`, f.key, { key: f.name });
        continue;
      }
      const suggestion = closest(f.name, known);
      const hint = suggestion ? ` Did you mean \`${suggestion}\`?` : ` Known keys: ${known.map((k) => `\`${k}\``).join(', ')}.`;
      const data: PlanDiagnosticData = { key: f.name };
      if (suggestion) data.suggestion = suggestion;
      this.d.add('warning', unknownCode, `metronome ignores unknown key \`${f.name}\` ${where}.${hint}`, f.key, data);
    }
  }

  // ---- typed values

  private typeError(strictness: Strictness, what: string, expected: string, node: YNode): void {
    const consequence = strictness === 'load' ? 'metronome cannot load a task.yml with this' : 'metronome silently ignores the value';
    const quote = node.kind === 'scalar' && expected === 'a string' ? ` Quote it: '${node.text}'.` : '';
    this.d.add(strictness === 'load' ? 'error' : 'warning', 'value-type', `${what} must be ${expected}, not ${describe(node)}; ${consequence}.${quote}`, node);
  }

  private string(node: YNode | undefined, what: string, strictness: Strictness): string | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'string') return node.value;
    this.typeError(strictness, what, 'a string', node);
    // metronome drops it; the load case keeps the text so the tree still shows something.
    return node.kind === 'scalar' && strictness === 'load' ? node.text : undefined;
  }

  private integer(node: YNode | undefined, what: string, strictness: Strictness, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'number' && Number.isInteger(node.value) && Math.abs(node.value) <= max) return node.value;
    this.typeError(strictness, what, max === INT32_MAX ? 'a whole number of seconds' : 'a whole number', node);
    return undefined;
  }

  private boolean(node: YNode | undefined, what: string, strictness: Strictness): boolean | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'boolean') return node.value;
    this.typeError(strictness, what, 'true or false', node);
    return undefined;
  }

  private stringList(node: YNode | undefined, what: string, strictness: Strictness): string[] | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind !== 'seq') {
      this.typeError(strictness, what, 'a list of strings', node);
      return undefined;
    }
    const out: string[] = [];
    for (const item of node.items) {
      const s = this.string(item, `Each item of ${what}`, strictness);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  private map(node: YNode | undefined, what: string, strictness: Strictness): YMap | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'map') return node;
    this.typeError(strictness, what, 'a map', node);
    return undefined;
  }

  // ---- environments, variables, default

  /** `name: value` maps that metronome reads as strings, turning scalars into text. */
  private entries(node: YNode | undefined, section: string): PlanEntry[] {
    const map = this.map(node, `\`${section}\``, 'load');
    if (!map) return [];
    const out: PlanEntry[] = [];
    for (const f of this.fields(map, `\`${section}\``).values()) {
      const v = f.value;
      if (v.kind !== 'scalar') {
        this.typeError('load', `The value of \`${section}.${f.name}\``, 'a string', v);
        continue;
      }
      const value = v.value === null ? '' : String(v.value);
      if (typeof v.value !== 'string' && v.value !== null && value !== v.text) {
        this.d.add('info', 'value-type', `\`${section}.${f.name}\` is read as ${describe(v)} and becomes '${value}'; quote it to keep '${v.text}'.`, v);
      }
      out.push({ name: f.name, value, keyRange: this.d.range(f.key), valueRange: this.d.range(v) });
    }
    return out;
  }

  private readDefaults(node: YNode | undefined): PlanDefaults {
    const defaults: PlanDefaults = { timeout: DEFAULT_TIMEOUT_SECONDS, chefAttributeKeys: [] };
    const map = this.map(node, '`default`', 'load');
    if (!map) return defaults;
    const fields = this.fields(map, '`default`');
    this.checkKeys(fields, DEFAULT_KEYS, { chef_config: 'only older metronome versions read it' }, 'in `default`');
    const timeout = fields.get('timeout');
    const t = this.integer(timeout?.value, '`default.timeout`', 'load', INT32_MAX);
    if (t !== undefined && t > 0 && timeout) {
      defaults.timeout = t;
      defaults.timeoutRange = this.d.range(timeout.value);
    }
    for (const type of OPERATION_TYPES) {
      const f = fields.get(type);
      if (!f) continue;
      const opMap = this.map(f.value, `\`default.${type}\``, 'load');
      if (!opMap) continue;
      const opFields = this.fields(opMap, `\`default.${type}\``);
      if (type !== 'chef') {
        for (const of of opFields.values()) {
          this.d.add('warning', 'key-ignored', `metronome ignores \`default.${type}.${of.name}\`: it has no defaults for \`${type}\` operations.`, of.key, { key: of.name });
        }
        continue;
      }
      this.checkKeys(opFields, ['attribute_keys'], {}, 'in `default.chef`', 'key-ignored');
      const keys = opFields.get('attribute_keys');
      // metronome asserts every item is a string and crashes otherwise, hence 'load'.
      defaults.chefAttributeKeys = this.stringList(keys?.value, '`default.chef.attribute_keys`', 'load') ?? [];
      if (keys) defaults.chefAttributeKeysRange = this.d.range(keys.value);
    }
    return defaults;
  }

  // ---- events

  private readEvents(node: YNode | undefined): PlanEvent[] {
    const map = this.map(node, '`events`', 'load');
    if (!map) return [];
    // Duplicates are all checked, but only the last one counts.
    const events = new Map<string, PlanEvent>();
    for (const f of this.allFields(map, '`events`')) {
      const ev = this.readEvent(f);
      if (ev) events.set(ev.name, ev);
    }
    return [...events.values()];
  }

  private readEvent(f: Field): PlanEvent | undefined {
    const event: PlanEvent = { name: f.name, priority: DEFAULT_PRIORITY, keyRange: this.d.range(f.key), valueRange: this.d.range(f.value) };
    if (isNull(f.value)) {
      this.d.add('error', 'value-type', `Event '${f.name}' is empty; metronome cannot load an event without \`task\` or \`ordered_tasks\`.`, f.key, { event: f.name });
      return event;
    }
    const map = this.map(f.value, `Event '${f.name}'`, 'load');
    if (!map) return undefined;
    const fields = this.fields(map, `event '${f.name}'`);
    this.checkKeys(fields, EVENT_KEYS, EVENT_IGNORED, `in event '${f.name}'`);
    event.description = this.string(fields.get('description')?.value, `\`description\` of event '${f.name}'`, 'load');
    const priority = fields.get('priority');
    const p = this.integer(priority?.value, `\`priority\` of event '${f.name}'`, 'load');
    if (p !== undefined && priority) {
      event.priority = p;
      event.priorityRange = this.d.range(priority.value);
    }
    const task = fields.get('task');
    event.task = this.string(task?.value, `\`task\` of event '${f.name}'`, 'load');
    if (task && event.task !== undefined) event.taskRange = this.d.range(task.value);
    const ordered = fields.get('ordered_tasks');
    if (ordered) event.orderedTasks = this.readPhases(ordered.value, f.name);

    const hasTask = event.task !== undefined && event.task !== '';
    if (hasTask && ordered) {
      this.d.add(
        'warning',
        'event-task-both',
        `Event '${f.name}' sets both \`task\` and \`ordered_tasks\`; metronome runs task '${event.task}' on every node and ignores \`ordered_tasks\`.`,
        ordered.key,
        { event: f.name },
      );
    } else if (!hasTask && !event.orderedTasks?.length) {
      this.d.add('warning', 'event-task-missing', `Event '${f.name}' has neither \`task\` nor any \`ordered_tasks\`; metronome runs nothing for it.`, f.key, {
        event: f.name,
      });
    }
    return event;
  }

  private readPhases(node: YNode, eventName: string): Phase[] {
    if (isNull(node)) return [];
    if (node.kind !== 'seq') {
      this.typeError('load', `\`ordered_tasks\` of event '${eventName}'`, 'a list of `{ service, tag, task }` items', node);
      return [];
    }
    const phases: Phase[] = [];
    for (const item of node.items) {
      if (isNull(item)) {
        this.d.add('error', 'phase-task-missing', `An empty \`ordered_tasks\` item of event '${eventName}' names no \`task\`; metronome fails the event when it reaches it.`, item, {
          event: eventName,
        });
        continue;
      }
      const map = this.map(item, `An \`ordered_tasks\` item of event '${eventName}'`, 'load');
      if (!map) continue;
      const where = `in an \`ordered_tasks\` item of event '${eventName}'`;
      const fields = this.fields(map, `an \`ordered_tasks\` item of event '${eventName}'`);
      this.checkKeys(fields, PHASE_KEYS, PHASE_IGNORED, where);
      const task = fields.get('task');
      const service = fields.get('service');
      const tag = fields.get('tag');
      const phase: Phase = {
        task: this.string(task?.value, `\`task\` ${where}`, 'load') ?? '',
        skippable: this.boolean(fields.get('skippable')?.value, `\`skippable\` ${where}`, 'load') ?? false,
        range: this.d.range(map),
        taskRange: this.d.range(task ? task.value : map),
      };
      const s = this.string(service?.value, `\`service\` ${where}`, 'load');
      if (s !== undefined && service) [phase.service, phase.serviceRange] = [s, this.d.range(service.value)];
      const t = this.string(tag?.value, `\`tag\` ${where}`, 'load');
      if (t !== undefined && tag) [phase.tag, phase.tagRange] = [t, this.d.range(tag.value)];
      if (!phase.task) {
        this.d.add('error', 'phase-task-missing', `This \`ordered_tasks\` item of event '${eventName}' names no \`task\`; metronome fails the event when it reaches it.`, task ? task.value : map, {
          event: eventName,
        });
      }
      if (phase.tag && !phase.service && tag) {
        this.d.add('warning', 'key-ignored', `metronome ignores \`tag\` when \`service\` is not set: this phase of event '${eventName}' runs on every node.`, tag.key, {
          key: 'tag',
          event: eventName,
        });
      }
      phases.push(phase);
    }
    return phases;
  }

  // ---- tasks

  private readTasks(node: YNode | undefined): Task[] {
    const map = this.map(node, '`tasks`', 'load');
    if (!map) return [];
    const tasks = new Map<string, Task>();
    for (const f of this.allFields(map, '`tasks`')) {
      const t = this.readTask(f);
      if (t) tasks.set(t.name, t);
    }
    return [...tasks.values()];
  }

  private readTask(f: Field): Task | undefined {
    const task: Task = { name: f.name, effectiveTimeout: this.defaults.timeout, operations: [], keyRange: this.d.range(f.key), valueRange: this.d.range(f.value) };
    if (isNull(f.value)) {
      this.d.add('error', 'value-type', `Task '${f.name}' is empty; metronome cannot load a task without \`operations\`.`, f.key, { task: f.name });
      return task;
    }
    const map = this.map(f.value, `Task '${f.name}'`, 'load');
    if (!map) return undefined;
    const fields = this.fields(map, `task '${f.name}'`);
    this.checkKeys(fields, TASK_KEYS, TASK_IGNORED, `on task '${f.name}'`);
    task.description = this.string(fields.get('description')?.value, `\`description\` of task '${f.name}'`, 'load');
    const timeout = fields.get('timeout');
    const t = this.integer(timeout?.value, `\`timeout\` of task '${f.name}'`, 'load', INT32_MAX);
    if (t !== undefined && timeout) {
      task.timeout = t;
      task.timeoutRange = this.d.range(timeout.value);
      if (t > 0) task.effectiveTimeout = t;
    }
    const ops = fields.get('operations');
    if (!ops) {
      this.d.add(
        'error',
        'task-operations-missing',
        `Task '${f.name}' has no \`operations\`; metronome cannot load a task without them (write \`operations: []\` for a task that does nothing).`,
        f.key,
        { task: f.name },
      );
    } else if (!isNull(ops.value)) {
      if (ops.value.kind !== 'seq') this.typeError('load', `\`operations\` of task '${f.name}'`, 'a list like `- execute: …`', ops.value);
      else task.operations = this.readOperations(ops.value, f.name);
    }
    return task;
  }

  private readOperations(seq: YSeq, taskName: string): Operation[] {
    const out: Operation[] = [];
    for (const item of seq.items) {
      const map = this.map(item, `An operation of task '${taskName}'`, 'load');
      const fields = map ? [...this.fields(map, `an operation of task '${taskName}'`).values()] : [];
      if (fields.length === 0) {
        if (map || isNull(item)) {
          this.d.add('error', 'operation-invalid', `An operation of task '${taskName}' is empty; metronome cannot load it — each item needs exactly one key such as \`execute\` or \`chef\`.`, item);
        }
        continue;
      }
      if (fields.length > 1) {
        const names = fields.map((x) => `\`${x.name}\``).join(', ');
        for (const extra of fields.slice(1)) {
          this.d.add(
            'error',
            'operation-multiple-keys',
            `This operation item of task '${taskName}' has ${fields.length} keys (${names}); metronome needs exactly one per item — start a new \`- \` item for \`${extra.name}\`.`,
            extra.key,
            { key: extra.name },
          );
        }
      }
      const op = this.readOperation(fields[0], taskName);
      if (op) out.push(op);
    }
    return out;
  }

  private readOperation(f: Field, taskName: string): Operation | undefined {
    const type = f.name;
    if (!(OPERATION_TYPES as readonly string[]).includes(type)) {
      const suggestion = closest(type, OPERATION_TYPES);
      const hint =
        type === 'task'
          ? " A task cannot call another task; add it as another phase of the event's `ordered_tasks` instead."
          : suggestion
            ? ` Did you mean \`${suggestion}\`?`
            : ` metronome knows ${OPERATION_TYPES.map((t) => `\`${t}\``).join(', ')}.`;
      this.d.add('error', 'operation-unknown', `Unknown operation \`${type}\` in task '${taskName}'; metronome cannot load this task.yml.${hint}`, f.key, {
        key: type,
        ...(suggestion ? { suggestion } : {}),
      });
      return undefined;
    }
    const base = { keyRange: this.d.range(f.key), valueRange: this.d.range(f.value) };
    const where = `of \`${type}\` in task '${taskName}'`;
    if (type === 'echo') {
      const message = this.string(f.value, `The message ${where}`, 'drop') ?? '';
      return { type, ...base, message };
    }
    if (type === 'execute' && f.value.kind === 'scalar' && !isNull(f.value)) {
      this.d.add(
        'error',
        'value-type',
        `\`execute\` in task '${taskName}' takes a map with \`file\` or \`script\`; metronome silently ignores a plain string, so this runs nothing. Write \`script: |\` under it.`,
        f.key,
      );
    }
    const map = f.value.kind === 'map' ? f.value : undefined;
    if (!map && f.value.kind === 'seq') this.typeError('drop', `\`${type}\` in task '${taskName}'`, 'a map', f.value);
    const fields = map ? this.fields(map, `\`${type}\` in task '${taskName}'`) : new Map<string, Field>();
    this.checkKeys(fields, OPERATION_KEYS[type as OperationType], {}, `in \`${type}\` of task '${taskName}'`, 'operation-key-unknown');
    const at = (k: string) => fields.get(k);
    const str = (k: string) => this.string(at(k)?.value, `\`${k}\` ${where}`, 'drop');
    const invalid = (severity: Severity, message: string, at: Span = f.key) => this.d.add(severity, 'operation-invalid', message, at);

    switch (type as OperationType) {
      case 'execute': {
        const file = str('file');
        const script = str('script');
        const op: Operation = {
          type: 'execute',
          ...base,
          arguments: this.stringList(at('arguments')?.value, `\`arguments\` ${where}`, 'drop') ?? [],
          output: this.boolean(at('output')?.value, `\`output\` ${where}`, 'drop') ?? true,
        };
        if (file) [op.file, op.fileRange] = [file, this.d.range(at('file')!.value)];
        if (script !== undefined && !file) [op.script, op.scriptRange] = [script, this.d.range(at('script')!.value)];
        if (file && script !== undefined) {
          this.d.add('warning', 'key-ignored', `metronome runs \`file\` and ignores \`script\` when an \`execute\` in task '${taskName}' sets both.`, at('script')!.key, { key: 'script' });
        }
        if (!file && at('arguments')) {
          this.d.add('warning', 'key-ignored', `metronome ignores \`arguments\` without \`file\` in an \`execute\` of task '${taskName}'.`, at('arguments')!.key, { key: 'arguments' });
        }
        const plainString = f.value.kind === 'scalar' && !isNull(f.value);
        if (!file && script === undefined && !plainString) invalid('error', `\`execute\` in task '${taskName}' has neither \`file\` nor \`script\`, so it runs nothing.`);
        if (file) this.checkFile(file, at('file')!.value, taskName);
        return op;
      }
      case 'chef': {
        const runList = this.stringList(at('run_list')?.value, `\`run_list\` ${where}`, 'drop') ?? [];
        const ownKeys = this.stringList(at('attribute_keys')?.value, `\`attribute_keys\` ${where}`, 'drop') ?? [];
        const op: Operation = { type: 'chef', ...base, runList, attributeKeys: ownKeys.length ? ownKeys : [...this.defaults.chefAttributeKeys] };
        const attrs = this.map(at('attributes')?.value, `\`attributes\` ${where}`, 'drop');
        if (attrs) op.attributes = toJs(attrs, this.jsBudget) as Record<string, unknown>;
        const conf = this.map(at('configurations')?.value, `\`configurations\` ${where}`, 'drop');
        if (conf) op.configurations = toJs(conf, this.jsBudget) as Record<string, unknown>;
        if (!runList.length) invalid('warning', `\`chef\` in task '${taskName}' has an empty \`run_list\`; chef-solo would run nothing.`);
        return op;
      }
      case 'consul-kvs': {
        const action = str('action') ?? '';
        const op: Operation = { type: 'consul-kvs', ...base, action };
        const key = str('key');
        const value = str('value');
        const name = str('name');
        if (key !== undefined) op.key = key;
        if (value !== undefined) op.value = value;
        if (name !== undefined) op.name = name;
        if (!KVS_ACTIONS.includes(action)) {
          const got = action ? `'${action}'` : 'nothing';
          invalid('error', `\`consul-kvs\` in task '${taskName}' needs \`action\` get, put or delete (got ${got}); metronome fails the task.`, at('action')?.value);
        }
        if (!key) invalid('error', `\`consul-kvs\` in task '${taskName}' has no \`key\`.`);
        if (action === 'get' && !name) invalid('warning', `\`consul-kvs\` get in task '${taskName}' has no \`name\`, so the value it reads is stored nowhere.`);
        return op;
      }
      case 'consul-event': {
        const op: Operation = { type: 'consul-event', ...base, filter: {} };
        const name = str('name');
        if (name) op.name = name;
        else invalid('error', `\`consul-event\` in task '${taskName}' has no event \`name\`.`);
        const filter = this.map(at('filter')?.value, `\`filter\` ${where}`, 'drop');
        if (filter) {
          const ff = this.fields(filter, `\`filter\` ${where}`);
          this.checkKeys(ff, ['service', 'tag'], {}, `in \`filter\` ${where}`, 'operation-key-unknown');
          const service = this.string(ff.get('service')?.value, `\`filter.service\` ${where}`, 'drop');
          const tag = this.string(ff.get('tag')?.value, `\`filter.tag\` ${where}`, 'drop');
          if (service) op.filter.service = service;
          if (tag) op.filter.tag = tag;
        }
        return op;
      }
      case 'service': {
        const op: Operation = { type: 'service', ...base };
        const name = str('name');
        const action = str('action');
        if (name) op.name = name;
        if (action) op.action = action;
        if (!name || !action) invalid('error', `\`service\` in task '${taskName}' needs both \`name\` and \`action\` (e.g. restart).`);
        return op;
      }
      default:
        return undefined;
    }
  }

  private checkFile(file: string, node: YNode, taskName: string): void {
    // Templated or absolute paths depend on the node that runs them.
    if (!this.opts.fileExists || file.includes('{{') || path.isAbsolute(file)) return;
    const absPath = path.resolve(this.folder, file);
    let exists = true;
    try {
      exists = this.opts.fileExists(absPath);
    } catch {
      return;
    }
    if (!exists) {
      this.d.add(
        'error',
        'execute-file-missing',
        `\`execute\` in task '${taskName}' runs '${file}', which does not exist in pattern folder '${this.patternName}' (looked for ${absPath}).`,
        node,
        { file, absPath, task: taskName },
      );
    }
  }

  // ---- cross-checks

  private checkReferences(plan: PatternPlan): void {
    const names = plan.tasks.map((t) => t.name);
    const used = new Set<string>();
    for (const ev of plan.events) {
      const refs: { task: string; range?: Range }[] = [];
      if (ev.task) refs.push({ task: ev.task, range: ev.taskRange });
      for (const p of ev.orderedTasks ?? []) if (p.task) refs.push({ task: p.task, range: p.taskRange });
      for (const ref of refs) {
        used.add(ref.task);
        if (names.includes(ref.task)) continue;
        const suggestion = closest(ref.task, names);
        const data: PlanDiagnosticData = { task: ref.task, event: ev.name };
        if (suggestion) data.suggestion = suggestion;
        this.d.list.push({
          severity: 'error',
          code: 'task-undefined',
          message: `Event '${ev.name}' runs task '${ref.task}', which is not defined under \`tasks\` of pattern '${plan.name}'.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
          range: ref.range ?? ev.keyRange,
          data,
        });
      }
    }
    for (const t of plan.tasks) {
      if (used.has(t.name)) continue;
      this.d.list.push({ severity: 'info', code: 'task-unused', message: `Task '${t.name}' is not run by any event of pattern '${plan.name}'.`, range: t.keyRange, data: { task: t.name } });
    }
  }

  private checkVariableCycles(plan: PatternPlan): void {
    const vars: Record<string, string> = {};
    for (const v of plan.variables) vars[v.name] = v.value;
    for (const cycle of findVariableCycles(vars)) {
      const first = plan.variables.find((v) => v.name === cycle[0]);
      if (!first) continue;
      const what =
        cycle.length === 1
          ? `Variable '${cycle[0]}' contains itself, so expanding it never finishes`
          : `Variables ${[...cycle, cycle[0]].join(' → ')} refer to each other, so expanding them never finishes`;
      this.d.list.push({
        severity: 'error',
        code: 'variable-cycle',
        message: `${what}; metronome hangs on any text that uses ${cycle.length === 1 ? 'it' : 'them'}.`,
        range: first.keyRange,
        data: { cycle },
      });
    }
  }
}

// ------------------------------------------------------------------ helpers

function isNull(node: YNode): boolean {
  return node.kind === 'scalar' && node.value === null;
}

function describe(node: YNode): string {
  if (node.kind === 'seq') return 'a list';
  if (node.kind === 'map') return 'a map';
  const v = node.value;
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'number') return `the number ${node.text}`;
  return `the string '${node.text}'`;
}

/** Plain JS for free-form maps (chef attributes); the budget stops alias bombs. */
function toJs(node: YNode, budget: { left: number }): unknown {
  if (--budget.left < 0) return undefined;
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map((i) => toJs(i, budget));
  const out: Record<string, unknown> = {};
  for (const { key, value } of node.pairs) {
    const k = key.kind === 'scalar' ? key.text : '';
    Object.defineProperty(out, k, { value: toJs(value, budget), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The closest known spelling within two edits, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const w = word.toLowerCase().replace(/[-_]/g, '');
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase().replace(/[-_]/g, ''));
    if (d < bestDistance && c !== word) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
