/**
 * One running watch, with `consul watch` semantics: the first read only sets
 * the baseline, then it fires once per real change of the data (the index
 * alone may move without one), after a quiet time that merges bursts. An
 * event watch hands over only the events after the last one it delivered,
 * found by ID as consul watch does.
 */
import type { ConsulError } from '../consul/errors';
import { Disposable, Emitter } from '../util/emitter';
import { ChangeSummary, summarizeChange } from './describe';
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
  /** The data before and after (the whole buffer for event watches). */
  before: unknown;
  after: unknown;
  at: number;
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
  private baseline: { data: unknown; text: string } | undefined;
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
      this.baseline = { data: u.data, text };
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
    this.baseline = { data: pending.data, text: pending.text };
    const isOwn = this.options.isOwnEvent;
    const delivered =
      this.definition.type === 'event' ? newEvents(baseline.data, pending.data).filter((e) => !isOwn?.((e as { ID?: unknown })?.ID)) : pending.data;
    if (this.definition.type === 'event' && !(delivered as unknown[]).length) return;
    const summary = summarizeChange(this.definition, baseline.data, pending.data, delivered);
    const at = this.now();
    const firing: WatchFiring = { watch: this.definition, json: delivered, stdin: goJson(delivered), index: pending.index, summary, before: baseline.data, after: pending.data, at };
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
