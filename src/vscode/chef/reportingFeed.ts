/**
 * The one Reporting poll of the active Chef server: one ReportingPoller per
 * Chef server connection, whose polls every consumer subscribes to — the
 * Chef view's failure notifications (chefRunPoller.ts) and the rules
 * (src/vscode/rules). Each consumer says how often it wants news
 * (`want(consumer, ms)`, 0 = not at all) and how far back the first poll must
 * read (`requireLookBack`); the poll runs at the shortest interval wanted and
 * only while somebody wants it.
 */
import * as vscode from 'vscode';
import { reportingSourceOf } from '../../core/rules/reportingSource';
import type { ReportingPoll } from '../../core/rules/sources';
import { ReportingPoller } from '../../core/rules/sources';
import type { ChefServerConnection } from './chefServer';

/** How far back the first poll reads unless a consumer needs more: a day (an organisation's runs of a day are one listing). */
export const DEFAULT_LOOK_BACK_MS = 24 * 3_600_000;

export class ReportingFeed implements vscode.Disposable {
  private poller: ReportingPoller | undefined;
  private pollerLookBack = 0;
  private readonly lookBacks = new Map<string, number>();
  private readonly intervals = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<ReportingPoll | undefined> | undefined;
  private lastError = '';
  private readonly polled = new vscode.EventEmitter<ReportingPoll>();
  /** Each poll's observations (the first of a server is its baseline), to every consumer. */
  readonly onDidPoll = this.polled.event;
  private readonly restarted = new vscode.EventEmitter<void>();
  /** A new server (or a longer look-back): the next poll is a new baseline. */
  readonly onDidRestart = this.restarted.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly chef: Pick<ChefServerConnection, 'state' | 'onDidChange'>,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(chef.onDidChange(() => this.restart()));
    this.restart();
  }

  /** The interval the poll runs at now (the shortest wanted), 0 while nobody wants it. */
  get intervalMs(): number {
    const wanted = [...this.intervals.values()].filter((ms) => ms > 0);
    return wanted.length ? Math.min(...wanted) : 0;
  }

  /** Whether there is a Chef server to poll. */
  get active(): boolean {
    return this.poller !== undefined;
  }

  /** `consumer` wants news every `ms` (0: none); the poll follows the shortest. */
  want(consumer: string, ms: number): void {
    const before = this.intervalMs;
    this.intervals.set(consumer, ms > 0 ? ms : 0);
    const now = this.intervalMs;
    if (now === before) return;
    // Somebody wants it sooner (or it was off): poll now, then at the new pace.
    if (!before || (now && now < before)) this.schedule(0);
    else if (!now) this.cancel();
  }

  /** `consumer`'s first poll must read this far back; a longer one than the poller has makes a new poller (a new baseline). */
  requireLookBack(consumer: string, ms: number): void {
    this.lookBacks.set(consumer, ms);
    if (this.poller && this.lookBackMs() > this.pollerLookBack) this.restart();
  }

  private lookBackMs(): number {
    return Math.max(DEFAULT_LOOK_BACK_MS, ...this.lookBacks.values());
  }

  private restart(): void {
    this.cancel();
    const s = this.chef.state;
    this.poller =
      s.kind === 'ready'
        ? new ReportingPoller(reportingSourceOf(s.client), (run) => ({ command: 'chefConsul.chef.openRun', args: { node: run.node, runId: run.runId } }), {
            lookBackMs: (this.pollerLookBack = this.lookBackMs()),
            log: (m) => this.log.warn(m),
          })
        : undefined;
    this.lastError = '';
    this.restarted.fire();
    if (this.poller && this.intervalMs) this.schedule(0);
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.cancel();
    if (this.poller) this.timer = setTimeout(() => void this.pollNow(), ms);
  }

  /**
   * One poll now (a poll in flight is joined, not doubled): its result after
   * every consumer saw it; undefined without a Chef server or when it failed.
   */
  pollNow(): Promise<ReportingPoll | undefined> {
    if (this.polling) return this.polling;
    const poller = this.poller;
    if (!poller) return Promise.resolve(undefined);
    this.cancel();
    this.polling = (async () => {
      try {
        const result = await poller.poll();
        // A new server meanwhile: this one's runs are no news there.
        if (poller !== this.poller) return undefined;
        this.lastError = '';
        this.polled.fire(result);
        return result;
      } catch (e) {
        const text = e instanceof Error ? e.message : String(e);
        if (text !== this.lastError) this.log.warn(`Chef Reporting poll: ${text}`);
        this.lastError = text;
        return undefined;
      } finally {
        this.polling = undefined;
        if (poller === this.poller && this.intervalMs) this.schedule(this.intervalMs);
      }
    })();
    return this.polling;
  }

  dispose(): void {
    this.cancel();
    this.poller = undefined;
    this.disposables.forEach((d) => d.dispose());
    this.polled.dispose();
    this.restarted.dispose();
  }
}
