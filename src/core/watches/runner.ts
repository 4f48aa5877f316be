/**
 * One running watch, with `consul watch` semantics: the first read only sets
 * the baseline, then it fires once per real change of the data (the index
 * alone may move without one), after a quiet time that merges bursts. An
 * event watch hands over only the events after the last one it delivered,
 * found by ID as consul watch does.
 */
import type { ConsulError } from '../consul/errors';
import { Disposable, Emitter } from '../util/emitter';
import { capText, ChangeSummary, summarizeChange } from './describe';
import { DEFAULT_DEBOUNCE_MS, WatchDefinition } from './model';
import type { FeedUpdate, WatchFeed } from './queries';
import { comparable, goJson } from './queries';

export type WatchStateKind = 'idle' | 'watching' | 'error';

export interface WatchState {
  kind: WatchStateKind;
  /** The failure in words (names the missing ACL permission when Consul says so). */
  error?: string;
  consulError?: ConsulError;
  lastFired?: number;
  why?: string;
}

export interface WatchFiring {
  watch: WatchDefinition;
  /** What the handler gets: the JSON consul watch hands its handler for this type. */
  json: unknown;
  /** The exact bytes consul watch writes to its handler's stdin. */
  stdin: string;
  /** CONSUL_INDEX as consul watch sets it. */
  index: string;
  summary: ChangeSummary;
  /**
   * The data before and after (the whole buffer for event watches). Once the
   * actions are done (slimFiring) `json`, `stdin`, `before` and `after` are
   * dropped: key types keep only the summary's capped texts, the others
   * `beforeText` / `afterText` (pretty JSON, capped).
   */
  before: unknown;
  after: unknown;
  beforeText?: string;
  afterText?: string;
  at: number;
  /** Set once the data was dropped. */
  slim?: boolean;
}

/** The firing without the data the actions needed: what the view keeps for Show Last Change. */
export function slimFiring(f: WatchFiring): WatchFiring {
  if (f.slim) return f;
  const keyType = f.watch.type === 'key' || f.watch.type === 'keyprefix';
  return {
    ...f,
    json: undefined,
    stdin: '',
    before: undefined,
    after: undefined,
    ...(keyType ? {} : { beforeText: capText(JSON.stringify(f.before, null, 2) + '\n'), afterText: capText(JSON.stringify(f.after, null, 2) + '\n') }),
    slim: true,
  };
}

export interface WatchRunnerOptions {
  /** Overrides the definition's debounceMs. */
  debounceMs?: number;
  now?: () => number;
  /** Events this editor's own follow-up actions fired: never delivered (event watches). */
  isOwnEvent?: (id: unknown) => boolean;
}

export class WatchRunner implements Disposable {
  private readonly stateEmitter = new Emitter<WatchState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly fireEmitter = new Emitter<WatchFiring>();
  readonly onDidFire = this.fireEmitter.event;
  private stateValue: WatchState = { kind: 'idle' };
  private subscription: Disposable | undefined;
  // The baseline only as its comparable text (JSON), parsed back when it fires: a big keyprefix is held once between firings, not twice.
  private baseline: { text: string } | undefined;
  private pending: { data: unknown; index: string; text: string } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pendingSince = 0;
  private last: WatchFiring | undefined;

  constructor(
    readonly definition: WatchDefinition,
    private readonly feed: WatchFeed,
    private readonly options: WatchRunnerOptions = {},
  ) {}

  get state(): WatchState {
    return this.stateValue;
  }

  /** The last firing (old and new value for a diff). */
  get lastFiring(): WatchFiring | undefined {
    return this.last;
  }

  /** Drops the data of `firing` once its actions are done (kept: what Show Last Change shows). */
  release(firing: WatchFiring): WatchFiring | undefined {
    if (this.last !== firing) return undefined;
    this.last = slimFiring(firing);
    return this.last;
  }

  get running(): boolean {
    return this.subscription !== undefined;
  }

  private get debounceMs(): number {
    return this.options.debounceMs ?? this.definition.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Starts watching; the first answer sets the baseline and fires nothing. */
  start(): void {
    if (this.subscription) return;
    this.baseline = undefined;
    this.subscription = this.feed((u) => this.onUpdate(u));
  }

  /** Stops (pause, profile change); a later start() reads a fresh baseline. */
  stop(): void {
    this.subscription?.dispose();
    this.subscription = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
    this.baseline = undefined;
    this.setState({ kind: 'idle', lastFired: this.stateValue.lastFired, why: this.stateValue.why });
  }

  /** Restores what the view showed before a restart (lastFired, why). */
  restore(last: { lastFired?: number; why?: string; firing?: WatchFiring }): void {
    this.stateValue = { ...this.stateValue, lastFired: last.lastFired, why: last.why };
    if (last.firing) this.last = last.firing;
  }

  private onUpdate(u: FeedUpdate): void {
    if (u.kind === 'error') {
      this.setState({ kind: 'error', error: u.error.message, consulError: u.error, lastFired: this.stateValue.lastFired, why: this.stateValue.why });
      return;
    }
    const text = comparable(this.definition, u.data);
    if (this.stateValue.kind !== 'watching') this.setState({ kind: 'watching', lastFired: this.stateValue.lastFired, why: this.stateValue.why });
    if (!this.baseline) {
      this.baseline = { text };
      return;
    }
    if (text === this.baseline.text) {
      // Back where it was (or only the index moved): nothing to fire.
      clearTimeout(this.timer);
      this.timer = undefined;
      this.pending = undefined;
      return;
    }
    if (!this.pending) this.pendingSince = this.now();
    this.pending = { data: u.data, index: u.index, text };
    clearTimeout(this.timer);
    // Trailing debounce, but a change that never goes quiet still fires every 10 quiet times.
    const wait = Math.max(0, Math.min(this.debounceMs, this.pendingSince + 10 * this.debounceMs - this.now()));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    const pending = this.pending;
    const baseline = this.baseline;
    this.pending = undefined;
    if (!pending || !baseline || !this.subscription) return;
    this.baseline = { text: pending.text };
    const before: unknown = JSON.parse(baseline.text);
    // As Consul sent it (the services type's tags in its order, as consul watch hands them).
    const after = pending.data;
    const isOwn = this.options.isOwnEvent;
    const delivered =
      this.definition.type === 'event' ? newEvents(before, after).filter((e) => !isOwn?.((e as { ID?: unknown })?.ID)) : after;
    if (this.definition.type === 'event' && !(delivered as unknown[]).length) return;
    const summary = summarizeChange(this.definition, before, after, delivered);
    const at = this.now();
    const firing: WatchFiring = { watch: this.definition, json: delivered, stdin: goJson(delivered), index: pending.index, summary, before, after, at };
    this.last = firing;
    this.setState({ kind: 'watching', lastFired: at, why: summary.why });
    this.fireEmitter.fire(firing);
  }

  private setState(s: WatchState): void {
    this.stateValue = s;
    this.stateEmitter.fire(s);
  }

  dispose(): void {
    this.subscription?.dispose();
    this.subscription = undefined;
    clearTimeout(this.timer);
    this.stateEmitter.dispose();
    this.fireEmitter.dispose();
  }
}

/**
 * The events after the last one of `before`, as consul watch prunes: found
 * by ID; when it is gone from the buffer, every event is new.
 */
export function newEvents(before: unknown, after: unknown): unknown[] {
  const b = Array.isArray(before) ? (before as { ID?: string }[]) : [];
  const a = Array.isArray(after) ? (after as { ID?: string }[]) : [];
  if (!b.length) return a;
  const lastId = b[b.length - 1].ID;
  const at = a.findIndex((e) => e.ID === lastId);
  return at === -1 ? a : a.slice(at + 1);
}
