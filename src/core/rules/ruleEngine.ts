/**
 * The rules at work: the evaluator fed by every source, the matches kept for
 * listing (newest first, bounded), each new match sent through the one
 * Notifier to the channels its rule names, and node-missing-runs checked on
 * a timer (clock and timer injectable for tests).
 */
import { Emitter } from '../util/emitter';
import type { Disposable } from '../util/emitter';
import type { Notification, Notifier } from '../notify/notifier';
import type { ChefRunObservation, RuleMatch } from './evaluator';
import { RuleEvaluator } from './evaluator';
import type { ParsedRules, Rule } from './model';
import { parseRules } from './model';

export const MAX_MATCHES = 1000;
/** How often node-missing-runs is checked. */
export const MISSING_CHECK_MS = 60_000;

export interface RuleEngineOptions {
  notifier?: Pick<Notifier, 'notify'>;
  clock?: () => number;
  /** Starts the periodic node-missing-runs check; returns how to stop it. */
  every?: (ms: number, fn: () => void) => Disposable;
  checkEveryMs?: number;
  maxMatches?: number;
  /** Where a run the rules could not be evaluated on is said. */
  log?: (message: string) => void;
}

const realTimer = (ms: number, fn: () => void): Disposable => {
  const t = setInterval(fn, ms);
  t.unref?.();
  return { dispose: () => clearInterval(t) };
};

export class RuleEngine implements Disposable {
  private readonly evaluator: RuleEvaluator;
  private parsed: ParsedRules = { rules: [], problems: [] };
  private matchList: RuleMatch[] = [];
  private readonly changed = new Emitter<RuleMatch[]>();
  /** Fires with the new matches (an empty array when the list was cleared or the rules changed). */
  readonly onDidChange = this.changed.event;
  private readonly clock: () => number;
  private readonly timer: Disposable;
  private readonly maxMatches: number;
  /**
   * Whether the timer checks node-missing-runs here: not in a window where
   * another window follows the Chef server's Reporting (it checks there).
   */
  checkMissingOnTimer = true;

  constructor(private readonly options: RuleEngineOptions = {}) {
    this.evaluator = new RuleEvaluator([], {
      onError: (o, e) => options.log?.(`rules: the run ${o.runId} of ${o.node} (${o.source}) is not evaluated: ${e instanceof Error ? e.message : String(e)}`),
    });
    this.clock = options.clock ?? Date.now;
    this.maxMatches = options.maxMatches ?? MAX_MATCHES;
    this.timer = (options.every ?? realTimer)(options.checkEveryMs ?? MISSING_CHECK_MS, () => this.checkMissingOnTimer && this.checkMissing());
  }

  /** Reads the setting's value; the valid rules apply from now on. Returns them with the problems found. */
  setRules(raw: unknown): ParsedRules {
    this.parsed = parseRules(raw);
    this.evaluator.setRules(this.parsed.rules);
    this.changed.fire([]);
    return this.parsed;
  }

  get rules(): ParsedRules {
    return this.parsed;
  }

  /**
   * Evaluates runs from any source; returns (and lists, and notifies) the
   * new matches. A baseline only enters history; `notify: false` lists
   * without notifying (report files restored with the window).
   */
  observe(observations: ChefRunObservation | readonly ChefRunObservation[], options: { baseline?: boolean; notify?: boolean } = {}): RuleMatch[] {
    return this.accept(this.evaluator.observe(observations, options), options.notify !== false);
  }

  checkMissing(now = this.clock()): RuleMatch[] {
    return this.accept(this.evaluator.checkMissing(now));
  }

  /** Matches, newest first; of one rule when `rule` is given. */
  matches(rule?: string): RuleMatch[] {
    return this.matchList.filter((m) => rule === undefined || m.rule === rule).map((m) => structuredClone(m));
  }

  /** Empties the list; a run already matched is not matched again. */
  clearMatches(): void {
    this.matchList = [];
    this.changed.fire([]);
  }

  private accept(matches: RuleMatch[], notify = true): RuleMatch[] {
    if (!matches.length) return matches;
    this.matchList = [...matches].reverse().concat(this.matchList).sort((a, b) => b.time - a.time).slice(0, this.maxMatches);
    const byName = new Map(this.parsed.rules.map((r) => [r.name, r]));
    for (const m of matches) {
      const rule = byName.get(m.rule);
      if (notify && rule && rule.notify.length) this.options.notifier?.notify(ruleNotification(m, rule), rule.notify);
    }
    this.changed.fire(matches);
    return matches;
  }

  dispose(): void {
    this.timer.dispose();
    this.changed.dispose();
  }
}

const SEVERITY: Record<Rule['kind'], Notification['severity']> = {
  'run-failed': 'error',
  'resource-failed': 'error',
  'slow-run': 'warning',
  'cookbook-version-changed': 'info',
  'node-missing-runs': 'warning',
};

export function ruleNotification(m: RuleMatch, rule: Pick<Rule, 'kind' | 'name'>): Notification {
  const n: Notification = {
    key: `rule:${m.key}`,
    source: 'rule',
    severity: SEVERITY[rule.kind],
    title: `Rule "${m.rule}" matched on ${m.node}${m.file !== undefined ? ` (report file ${m.file})` : ''}`,
    message: m.summary,
    node: m.node,
    data: { rule: m.rule, kind: m.kind, node: m.node, runId: m.runId, phase: m.phase, source: m.source, time: m.time, summary: m.summary, ...(m.file !== undefined ? { file: m.file } : {}) },
  };
  if (m.jump) n.jump = m.jump;
  return n;
}
