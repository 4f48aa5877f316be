/**
 * Guards against follow-up event loops: the IDs of the events our own watch
 * actions fired (never delivered to any event watch of this editor), and a
 * per-watch rate limit on follow-up events, which breaks a cycle between two
 * watches (A fires what B watches, B fires what A watches).
 */

/** At most one follow-up event per watch in this many ms. */
export const FOLLOW_UP_MIN_INTERVAL_MS = 10_000;
/** How many of our own event IDs are remembered (the agent's buffer holds 256 events). */
const KEEP_IDS = 512;

export class FollowUpGuard {
  private readonly ids = new Set<string>();
  private readonly lastFired = new Map<string, number>();

  constructor(
    private readonly minIntervalMs = FOLLOW_UP_MIN_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether `watch` may fire a follow-up event now; counts it when so. When
   * not, returns how long until it may (ms).
   */
  take(watch: string): { ok: true } | { ok: false; waitMs: number } {
    const t = this.now();
    const last = this.lastFired.get(watch);
    if (last !== undefined && t - last < this.minIntervalMs) return { ok: false, waitMs: this.minIntervalMs - (t - last) };
    this.lastFired.set(watch, t);
    return { ok: true };
  }

  /** Remembers the ID of an event one of our actions fired. */
  remember(id: string): void {
    this.ids.add(id);
    if (this.ids.size > KEEP_IDS) this.ids.delete(this.ids.values().next().value as string);
  }

  isOwn(id: unknown): boolean {
    return typeof id === 'string' && this.ids.has(id);
  }

  /** Forgets the rate-limit slots of watches that no longer exist. */
  prune(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const n of [...this.lastFired.keys()]) if (!keep.has(n)) this.lastFired.delete(n);
  }
}
