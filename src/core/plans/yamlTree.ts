import type { Event as YamlEvent, ScalarEvent } from 'js-yaml';
import { jsYaml } from '../util/lazyLibs';
import type { Diagnostics } from './diagnostics';
import type { Span } from './positions';
import { resolvePlain, resolveTagged, type ScalarValue } from './yamlScalars';

export interface YScalar extends Span {
  kind: 'scalar';
  text: string;
  value: ScalarValue;
}
export interface YSeq extends Span {
  kind: 'seq';
  items: YNode[];
}
export interface YMap extends Span {
  kind: 'map';
  pairs: { key: YNode; value: YNode }[];
}
export type YNode = YScalar | YSeq | YMap;

type YamlRead = { ok: true; root: YNode | undefined } | { ok: false };

interface Frame {
  node: YSeq | YMap;
  anchor?: string;
  key?: YNode;
}

export function readYaml(text: string, diags: Diagnostics): YamlRead {
  const { parseEvents } = jsYaml();
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
  const { EVENT_ID } = jsYaml();
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
  const { EVENT_ID } = jsYaml();
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
  const { SCALAR_STYLE, getScalarValue } = jsYaml();
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

export function isNull(node: YNode): boolean {
  return node.kind === 'scalar' && node.value === null;
}

export function describe(node: YNode): string {
  if (node.kind === 'seq') return 'a list';
  if (node.kind === 'map') return 'a map';
  const v = node.value;
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'number') return `the number ${node.text}`;
  return `the string '${node.text}'`;
}

/** Plain JS for free-form maps (chef attributes); the budget stops alias bombs. */
export function toJs(node: YNode, budget: { left: number }): unknown {
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
