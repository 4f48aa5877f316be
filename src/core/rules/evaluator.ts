/**
 * Rules evaluated over a stream of Chef runs, whatever they were read from:
 * a run of this editor (its nodes' output), the Chef server's Reporting
 * history or a report file — all as the one ChefReport. The evaluator keeps
 * a short history per node (for averages, the previous run's cookbook
 * versions and when a node last ran) and matches a rule at most once per run.
 */
import type { ChefReport } from '../chef/report';
import { resourceId } from '../chef/report';
import type { NotificationJump } from '../notify/notifier';
import type { Rule, RuleKind } from './model';

export type ObservationSource = 'run' | 'reporting' | 'file';

/** One Chef run of one node. */
export interface ChefRunObservation {
  node: string;
  /** Identifies the run within its source: a run ID of ours, a Reporting run_id, a report file's path. */
  runId: string;
  /** For runs of ours: the phase the node ran Chef in (a run may run Chef in several). */
  phase?: number;
  /** For runs of ours: when the node started in that phase (a retry runs Chef again: another run). */
  attempt?: number;
  source: ObservationSource;
  /** Epoch ms when the run ended (or, when that is not known, started). */
  time: number;
  report: ChefReport;
  /** Where a match on this run jumps: the run's report. */
  jump?: NotificationJump;
  /** For runs read from a report file: the file's name (said in notifications). */
  file?: string;
}

export interface RuleMatch {
  /** Unique among matches: a rule matches a run once. */
  key: string;
  rule: string;
  kind: RuleKind;
  node: string;
  /** The run that matched (node-missing-runs: the node's last run). */
  runId?: string;
  phase?: number;
  source: ObservationSource;
  /** Epoch ms: the run's time, or for node-missing-runs when the absence was noticed. */
  time: number;
  /** One line saying why it matched. Built from report text: untrusted, plain text. */
  summary: string;
  jump?: NotificationJump;
  /** The report file's name when the run was read from one. */
  file?: string;
}

interface HistoryEntry {
  id: string;
  runId: string;
  phase?: number;
  source: ObservationSource;
  time: number;
  durationSeconds?: number;
  versions?: Map<string, string>;
  jump?: NotificationJump;
}

export interface RuleEvaluatorOptions {
  /** Runs kept per node (for averages and the previous run). */
  historyPerNode?: number;
  /** Matched keys remembered for de-duplication before the oldest are forgotten. */
  rememberMatches?: number;
  /** A run the rules could not be evaluated on (it is skipped; the others are not). */
  onError?: (o: ChefRunObservation, error: unknown) => void;
}

const runKey = (o: { source: string; runId: string; phase?: number; attempt?: number }) =>
  `${o.source}:${o.runId}${o.phase === undefined ? '' : `#${o.phase}`}${o.attempt === undefined ? '' : `@${o.attempt}`}`;

export class RuleEvaluator {
  private rules: Rule[] = [];
  private readonly history = new Map<string, HistoryEntry[]>();
  private readonly matched = new Set<string>();
  private readonly historyPerNode: number;
  private readonly rememberMatches: number;
  private readonly onError: RuleEvaluatorOptions['onError'];

  constructor(rules: readonly Rule[] = [], options: RuleEvaluatorOptions = {}) {
    this.onError = options.onError;
    this.rules = [...rules];
    this.historyPerNode = Math.max(2, options.historyPerNode ?? 50);
    this.rememberMatches = Math.max(100, options.rememberMatches ?? 10_000);
  }

  /** New rules apply to runs observed from now on; history and what was matched stay. */
  setRules(rules: readonly Rule[]): void {
    this.rules = [...rules];
  }

  /** Nodes with at least one run seen, with the time of their last run. */
  knownNodes(): Array<{ node: string; lastRun: number }> {
    return [...this.history].map(([node, runs]) => ({ node, lastRun: runs[runs.length - 1].time }));
  }

  /**
   * Evaluates the rules on runs, oldest first. Runs that have not ended yet,
   * or are no Chef run at all, are left for later; runs already seen are skipped.
   * With `baseline`, runs only enter the history (what happened before the
   * editor looked: averages and last runs, not news).
   */
  observe(observations: ChefRunObservation | readonly ChefRunObservation[], options: { baseline?: boolean } = {}): RuleMatch[] {
    const list = (Array.isArray(observations) ? [...observations] : [observations as ChefRunObservation]).sort((a, b) => a.time - b.time);
    const matches: RuleMatch[] = [];
    for (const o of list) {
      // One run the rules trip over (a report of an unforeseen shape) skips that run, not the others;
      // its history and matches are committed only once it was evaluated whole.
      try {
        matches.push(...this.observeOne(o, options.baseline === true));
      } catch (e) {
        this.onError?.(o, e);
      }
    }
    return matches;
  }

  private observeOne(o: ChefRunObservation, baseline: boolean): RuleMatch[] {
    const matches: RuleMatch[] = [];
    if (!o.report.chef || (o.report.status !== 'success' && o.report.status !== 'failure')) return matches;
    const runs = this.history.get(o.node) ?? [];
    const id = runKey(o);
    if (runs.some((r) => r.id === id)) return matches;
    const previous = runs.filter((r) => r.time <= o.time);
    const entry: HistoryEntry = { id, runId: o.runId, phase: o.phase, source: o.source, time: o.time, durationSeconds: o.report.durationSeconds, versions: cookbookVersions(o.report), jump: o.jump };
    for (const rule of baseline ? [] : this.rules) {
      if (rule.kind === 'node-missing-runs' || (rule.node && !rule.node.test(o.node))) continue;
      const summary = evaluate(rule, o, previous);
      if (summary === undefined) continue;
      const m = this.match(rule, o, `${rule.name}\u0000${o.node}\u0000${id}`, summary, o.time, false);
      if (m) matches.push(m);
    }
    for (const m of matches) this.remember(m.key);
    const updated = [...runs, entry].sort((a, b) => a.time - b.time);
    if (updated.length > this.historyPerNode) updated.splice(0, updated.length - this.historyPerNode);
    this.history.set(o.node, updated);
    return matches;
  }

  /**
   * node-missing-runs: each known node whose last run is older than the
   * rule's hours, once per last run. Runs read from report files do not
   * count: a file opened is no sign of a node that runs Chef.
   */
  checkMissing(now: number): RuleMatch[] {
    const matches: RuleMatch[] = [];
    for (const rule of this.rules) {
      if (rule.kind !== 'node-missing-runs') continue;
      for (const [node, runs] of this.history) {
        if (rule.node && !rule.node.test(node)) continue;
        const last = [...runs].reverse().find((r) => r.source !== 'file');
        if (!last) continue;
        const silentMs = now - last.time;
        if (silentMs <= rule.hours * 3_600_000) continue;
        const summary = `no Chef run for ${formatHours(silentMs)} (more than ${rule.hours} h); last run ${new Date(last.time).toISOString()}`;
        const m = this.match(rule, { node, runId: last.runId, phase: last.phase, source: last.source, jump: last.jump }, `${rule.name}\u0000${node}\u0000missing-after\u0000${last.id}`, summary, now);
        if (m) matches.push(m);
      }
    }
    return matches;
  }

  private remember(key: string): void {
    this.matched.add(key);
    if (this.matched.size > this.rememberMatches) this.matched.delete(this.matched.values().next().value as string);
  }

  /** A match unless `key` matched before; remembered now unless `commit` is false (the caller does once the run is evaluated whole). */
  private match(rule: Rule, o: Pick<ChefRunObservation, 'node' | 'runId' | 'phase' | 'source' | 'jump' | 'file'>, key: string, summary: string, time: number, commit = true): RuleMatch | undefined {
    if (this.matched.has(key)) return undefined;
    if (commit) this.remember(key);
    const m: RuleMatch = { key, rule: rule.name, kind: rule.kind, node: o.node, runId: o.runId, source: o.source, time, summary };
    if (o.phase !== undefined) m.phase = o.phase;
    if (o.jump) m.jump = o.jump;
    if (o.file !== undefined) m.file = o.file;
    return m;
  }
}

/** Why the rule matches the run, in one line; undefined when it does not. */
function evaluate(rule: Rule, o: ChefRunObservation, previous: HistoryEntry[]): string | undefined {
  const report = o.report;
  switch (rule.kind) {
    case 'run-failed': {
      if (report.status !== 'failure') return undefined;
      const f = report.failure;
      const what = f?.resource ?? f?.exceptionClass;
      const message = f?.message.split('\n')[0];
      return `Chef run failed${what ? `: ${what}` : ''}${message ? ` — ${message}` : ''}`;
    }
    case 'resource-failed': {
      const failed = failedResources(report).filter((r) => (!rule.resourceType || rule.resourceType.test(r.type)) && (!rule.resourceName || rule.resourceName.test(r.name)));
      if (!failed.length) return undefined;
      const first = failed[0];
      return `${resourceId(first)} failed${first.error ? `: ${first.error}` : ''}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}`;
    }
    case 'slow-run': {
      const duration = report.durationSeconds;
      if (duration === undefined) return undefined;
      const samples = previous.filter((r) => r.durationSeconds !== undefined).map((r) => r.durationSeconds!);
      if (samples.length < rule.minSamples) return undefined;
      const average = samples.reduce((a, b) => a + b, 0) / samples.length;
      if (!(duration > rule.factor * average)) return undefined;
      const ratio = average > 0 ? `${(duration / average).toFixed(1)}×` : 'more than';
      return `run took ${formatSeconds(duration)}, ${ratio} the average of ${formatSeconds(average)} over ${samples.length} previous run${samples.length === 1 ? '' : 's'} (limit ${rule.factor}×)`;
    }
    case 'cookbook-version-changed': {
      const now = cookbookVersions(report);
      if (!now) return undefined;
      const before = [...previous].reverse().find((r) => r.versions)?.versions;
      if (!before) return undefined;
      const changes: string[] = [];
      for (const [name, version] of now) {
        const was = before.get(name);
        if (was !== undefined && was !== version && (!rule.cookbook || rule.cookbook.test(name))) changes.push(`${name} ${was} → ${version}`);
      }
      return changes.length ? `cookbook version changed: ${changes.join(', ')}` : undefined;
    }
    case 'node-missing-runs':
      return undefined;
  }
}

/** Failed resources: those flagged, and the failure's resource when no resource of the report carries the flag. */
export function failedResources(report: ChefReport): Array<{ type: string; name: string; error?: string }> {
  const flagged = report.resources.filter((r) => r.failed).map((r) => ({ type: r.type, name: r.name, error: r.error }));
  if (flagged.length || !report.failure?.resource) return flagged;
  const m = /^([^[\]]+)\[(.*)\]$/s.exec(report.failure.resource);
  return m ? [{ type: m[1], name: m[2], error: report.failure.message.split('\n')[0] || undefined }] : [];
}

/**
 * Cookbook versions of a run: the cookbooks Chef synchronized (output), the
 * versions Reporting gives each resource, and `recipe[x@1.2.3]` pins of the
 * run list. Undefined when the report carries none.
 */
export function cookbookVersions(report: ChefReport): Map<string, string> | undefined {
  const versions = new Map<string, string>();
  for (const item of report.runList ?? []) {
    const m = /^recipe\[([^:@\]]+)(?:::[^@\]]*)?@([^\]]+)\]$/.exec(item.trim());
    if (m) versions.set(m[1], m[2]);
  }
  for (const r of report.resources) if (r.cookbook && r.cookbookVersion) versions.set(r.cookbook, r.cookbookVersion);
  for (const c of report.cookbooks ?? []) versions.set(c.name, c.version);
  return versions.size ? versions : undefined;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return `${m} min ${rest} s`;
}

function formatHours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48 ? `${Math.floor(h / 24)} days ${Math.round(h % 24)} h` : `${Math.round(h * 10) / 10} h`;
}
