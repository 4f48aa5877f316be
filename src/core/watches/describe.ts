/**
 * What changed between two readings of a watch, in one line and a few lines
 * of detail. Everything here comes from the cluster: callers show it as
 * plain text.
 */
import type { WatchDefinition } from './model';

type Obj = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const firstLine = (s: string) => {
  const line = s.split(/\r?\n/).find((l) => l.trim()) ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
};

/** The most text kept per side of a diff (the view's old and new value). */
export const MAX_DIFF_TEXT = 256 * 1024;

/** `text`, cut at MAX_DIFF_TEXT characters with a marker saying how much was left out. */
export function capText(text: string, max = MAX_DIFF_TEXT): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n… (truncated: ${Math.ceil((text.length - max) / 1024)} KiB more not kept)\n`;
}

export interface ChangeSummary {
  /** One line: "web-2: service check 'http' critical: connection refused", "key app/config changed". */
  why: string;
  /** A few more lines (one per change). */
  details: string[];
  severity: 'info' | 'warning' | 'error';
  /** The node named first, for a check or instance change. */
  node?: string;
  /** For key types: the values before and after (text; base64 decoded). */
  before?: string;
  after?: string;
}

/** A KV value as text: base64 decoded; `undefined` for a missing key. */
export function kvText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  return Buffer.from(str(value), 'base64').toString('utf8');
}

function keyprefixText(entries: unknown): string {
  return arr(entries)
    .map((e) => `${str(e.Key)}: ${kvText(e.Value) ?? ''}`)
    .join('\n');
}

function more(list: string[], max = 3): string {
  return list.length > max ? `${list.slice(0, max).join(', ')} (+${list.length - max})` : list.join(', ');
}

function checkChanges(before: Obj[], after: Obj[]): ChangeSummary | undefined {
  const id = (c: Obj) => `${str(c.Node)}\u0000${str(c.CheckID)}`;
  const old = new Map(before.map((c) => [id(c), c]));
  const lines: { text: string; severity: ChangeSummary['severity']; node: string }[] = [];
  for (const c of after) {
    const prev = old.get(id(c));
    old.delete(id(c));
    const status = str(c.Status);
    if (prev && str(prev.Status) === status) continue;
    const kind = str(c.ServiceID) ? 'service check' : 'node check';
    const output = firstLine(str(c.Output));
    lines.push({
      text: `${str(c.Node)}: ${kind} '${str(c.Name) || str(c.CheckID)}' ${prev ? status : `${status} (new)`}${output ? `: ${output}` : ''}`,
      severity: status === 'critical' ? 'error' : status === 'warning' ? 'warning' : 'info',
      node: str(c.Node),
    });
  }
  for (const c of old.values()) lines.push({ text: `${str(c.Node)}: check '${str(c.Name) || str(c.CheckID)}' removed`, severity: 'info', node: str(c.Node) });
  if (!lines.length) return undefined;
  const rank = { error: 2, warning: 1, info: 0 } as const;
  lines.sort((a, b) => rank[b.severity] - rank[a.severity]);
  return { why: lines[0].text + (lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''), details: lines.map((l) => l.text), severity: lines[0].severity, node: lines[0].node };
}

function listDiff(before: string[], after: string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((x) => !b.has(x)), removed: before.filter((x) => !a.has(x)) };
}

/** What changed from `before` to `after` (the JSON a watch handler gets), for watch `w`. */
export function summarizeChange(w: WatchDefinition, before: unknown, after: unknown, delivered: unknown): ChangeSummary {
  switch (w.type) {
    case 'key': {
      const b = before === null ? undefined : kvText((before as Obj).Value);
      const a = after === null ? undefined : kvText((after as Obj).Value);
      const verb = before === null ? 'created' : after === null ? 'deleted' : b === a ? 'changed (flags, session or rewrite)' : 'changed';
      return { why: `key ${w.key} ${verb}`, details: [], severity: 'info', before: capText(b ?? ''), after: capText(a ?? '') };
    }
    case 'keyprefix': {
      const keyed = (v: unknown) => new Map(arr(v).map((e) => [str(e.Key), JSON.stringify(e)]));
      const b = keyed(before);
      const a = keyed(after);
      const changed = [...new Set([...b.keys(), ...a.keys()])].filter((k) => b.get(k) !== a.get(k)).sort();
      const lines = changed.map((k) => `${k} ${!b.has(k) ? 'created' : !a.has(k) ? 'deleted' : 'changed'}`);
      return {
        why: changed.length === 1 ? `key ${lines[0]}` : `${changed.length} keys under ${w.prefix || '(root)'} changed: ${more(changed)}`,
        details: lines,
        severity: 'info',
        before: capText(keyprefixText(before)),
        after: capText(keyprefixText(after)),
      };
    }
    case 'services': {
      const b = (before ?? {}) as Record<string, string[]>;
      const a = (after ?? {}) as Record<string, string[]>;
      const { added, removed } = listDiff(Object.keys(b), Object.keys(a));
      const sortedTags = (t: string[] | undefined) => JSON.stringify([...(t ?? [])].sort());
      const retagged = Object.keys(a).filter((k) => k in b && sortedTags(a[k]) !== sortedTags(b[k]));
      const lines = [...added.map((s) => `service ${s} registered`), ...removed.map((s) => `service ${s} deregistered`), ...retagged.map((s) => `service ${s} tags now ${(a[s] ?? []).join(', ') || '(none)'}`)];
      return { why: lines.length ? lines[0] + (lines.length > 1 ? ` (and ${lines.length - 1} more)` : '') : 'the service list changed', details: lines, severity: removed.length ? 'warning' : 'info' };
    }
    case 'nodes': {
      const names = (v: unknown) => arr(v).map((n) => str(n.Node));
      const { added, removed } = listDiff(names(before), names(after));
      const b = new Map(arr(before).map((n) => [str(n.Node), JSON.stringify(n)]));
      const changed = arr(after).filter((n) => b.has(str(n.Node)) && b.get(str(n.Node)) !== JSON.stringify(n)).map((n) => str(n.Node));
      const lines = [...added.map((n) => `node ${n} joined`), ...removed.map((n) => `node ${n} left`), ...changed.map((n) => `node ${n} changed (address or metadata)`)];
      return {
        why: lines.length ? lines[0] + (lines.length > 1 ? ` (and ${lines.length - 1} more)` : '') : 'the node list changed',
        details: lines,
        severity: removed.length ? 'warning' : 'info',
        node: added[0] ?? removed[0] ?? changed[0],
      };
    }
    case 'service': {
      const checks = (v: unknown) => arr(v).flatMap((e) => arr(e.Checks));
      const byChecks = checkChanges(checks(before), checks(after));
      const inst = (v: unknown) => arr(v).map((e) => `${str((e.Node as Obj)?.Node)}/${str((e.Service as Obj)?.ID)}`);
      const { added, removed } = listDiff(inst(before), inst(after));
      const lines = [...added.map((i) => `instance ${i} added`), ...removed.map((i) => `instance ${i} gone`)];
      if (byChecks) return { ...byChecks, details: [...byChecks.details, ...lines] };
      return {
        why: lines.length ? `service ${w.service}: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}` : `service ${w.service} changed`,
        details: lines,
        severity: removed.length ? 'warning' : 'info',
        node: (added[0] ?? removed[0])?.split('/')[0],
      };
    }
    case 'checks':
      return checkChanges(arr(before), arr(after)) ?? { why: `${w.service ? `checks of ${w.service}` : 'checks'} changed`, details: [], severity: 'info' };
    case 'event': {
      const events = arr(delivered);
      const last = events[events.length - 1];
      const payload = last ? kvText(last.Payload) : undefined;
      const name = last ? str(last.Name) : w.eventName ?? '';
      // The payload only in the details (the notification): `why` is kept across windows, and a payload may be a secret.
      return {
        why: `event ${name} fired${events.length > 1 ? ` ${events.length} times` : ''}`,
        details: [...(payload ? [`payload: ${firstLine(payload)}`] : []), ...events.map((e) => `${str(e.Name)} ${str(e.ID)} (LTime ${String(e.LTime)})`)],
        severity: 'info',
      };
    }
  }
}
