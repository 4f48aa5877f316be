/**
 * The one Reporting poll of the active Chef server: one ReportingPoller per
 * Chef server connection, whose polls every consumer subscribes to — the
 * Chef view's failure notifications (chefRunPoller.ts) and the rules
 * (src/vscode/rules). Each consumer says how often it wants news
 * (`want(consumer, ms)`, 0 = not at all) and how far back the first poll must
 * read (`requireLookBack`); the poll runs at the shortest interval wanted and
 * only while somebody wants it. With a window lease (`useLease`), only the
 * window holding it polls: one window per machine follows Reporting and
 * notifies, the others say so.
 */
import * as vscode from 'vscode';
import { reportingSourceOf } from '../../core/rules/reportingSource';
import type { ReportingPoll, ReportingPollerState } from '../../core/rules/sources';
import { ReportingPoller } from '../../core/rules/sources';
import { WindowLease } from '../../core/util/windowLease';
import type { ChefServerConnection } from './chefServer';

/** How far back the first poll reads unless a consumer needs more: a day (an organisation's runs of a day are one listing). */
export const DEFAULT_LOOK_BACK_MS = 24 * 3_600_000;
/** Servers whose poller state is kept for when they are connected again. */
const MAX_SERVERS = 20;

export class ReportingFeed implements vscode.Disposable {
  private poller: ReportingPoller | undefined;
  private pollerClient: unknown;
  /** The poller's server (its URL, organization included). */
  private pollerServer: string | undefined;
  /** Where the pollers of servers left before were: a server seen again carries on from there. */
  private readonly states = new Map<string, ReportingPollerState>();
  private pollerLookBack = 0;
  private readonly lookBacks = new Map<string, number>();
  private readonly intervals = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<ReportingPoll | undefined> | undefined;
  private lastError = '';
  private readonly polled = new vscode.EventEmitter<ReportingPoll>();
  /** Each poll's observations (the first of a server is its baseline), to every consumer. */
  readonly onDidPoll = this.polled.event;
  private readonly restarted = new vscode.EventEmitter<{ baseline: boolean }>();
  /** Another Chef server connection (or none); `baseline`: the next poll is a baseline (a server seen for the first time). */
  readonly onDidRestart = this.restarted.event;
  private readonly newsHeard = new vscode.EventEmitter<void>();
  /** The window that follows Reporting saw runs end (this window does not poll: its views reload what they show). */
  readonly onDidHearNews = this.newsHeard.event;
  private readonly followingChanged = new vscode.EventEmitter<void>();
  /** This window started or stopped following Reporting (the lease moved). */
  readonly onDidChangeFollowing = this.followingChanged.event;
  private lease: WindowLease | undefined;
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

  /** The PID of the window of this machine that follows Reporting when it is not this one (0: unknown). */
  get followedElsewhere(): number | undefined {
    const s = this.lease?.state;
    return s?.kind === 'other' ? s.pid : undefined;
  }

  /** Whether this window polls (no lease, or holding it). */
  private get mine(): boolean {
    return !this.lease || this.lease.isOwner;
  }

  /**
   * One window per machine polls: the one holding the lease `reporting` in
   * `dir` (the extension's global storage, shared by the windows), or the
   * lease given (tests). Taken over when its holder closes or hangs. The
   * lease is only taken once there is a Chef server to poll.
   */
  useLease(lease: WindowLease | string): WindowLease {
    this.lease?.dispose();
    const l = typeof lease === 'string' ? new WindowLease({ dir: lease, name: 'reporting', news: true }) : lease;
    this.lease = l;
    const sub = l.onDidChange(() => {
      // Taken: poll here (carrying on from where this window was); lost: stop.
      try {
        if (this.mine) this.restart();
        else this.cancel();
      } catch (e) {
        this.log.error(`Chef Reporting: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.followingChanged.fire();
    });
    const news = l.onDidHearNews(() => this.newsHeard.fire());
    this.disposables.push({ dispose: () => sub.dispose() }, { dispose: () => news.dispose() }, l);
    this.startLease();
    return l;
  }

  /** Takes part in the lease once there is a server to poll (not at activation, nor in windows without a Chef server). */
  private startLease(): void {
    if (!this.lease || this.lease.started || !this.poller) return;
    // Its first state reaches the listener above (restart, onDidChangeFollowing).
    this.lease.start();
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

  /**
   * `consumer` needs the history this far back: a longer look-back than so
   * far reads the older runs at the next poll, as history (no new baseline).
   */
  requireLookBack(consumer: string, ms: number): void {
    this.lookBacks.set(consumer, ms);
    const lookBack = this.lookBackMs();
    if (this.poller && lookBack > this.pollerLookBack) {
      this.pollerLookBack = lookBack;
      this.poller.extendLookBack(lookBack);
    }
  }

  private lookBackMs(): number {
    return Math.max(DEFAULT_LOOK_BACK_MS, ...this.lookBacks.values());
  }

  /**
   * Follows the connection's Chef server: the same connection carries on; a
   * new one to a server seen before resumes where its poller was (runs
   * ended meanwhile are news); only a server seen for the first time starts
   * with a baseline.
   */
  private restart(): void {
    this.cancel();
    const s = this.chef.state;
    if (s.kind === 'ready' && this.poller && this.pollerClient === s.client) {
      if (this.intervalMs) this.schedule(0);
      return;
    }
    if (this.poller && this.pollerServer !== undefined && !this.poller.baselineNext) {
      this.states.delete(this.pollerServer);
      this.states.set(this.pollerServer, this.poller.state());
      if (this.states.size > MAX_SERVERS) this.states.delete(this.states.keys().next().value as string);
    }
    this.poller = undefined;
    this.pollerClient = undefined;
    this.pollerServer = undefined;
    if (s.kind === 'ready') {
      const server = s.profile.serverUrl.replace(/\/+$/, '');
      const resume = this.states.get(server);
      this.poller = new ReportingPoller(reportingSourceOf(s.client), (run) => ({ command: 'chefConsul.chef.openRun', args: { node: run.node, runId: run.runId } }), {
        lookBackMs: (this.pollerLookBack = this.lookBackMs()),
        log: (m) => this.log.warn(m),
        ...(resume ? { resume } : {}),
      });
      this.pollerClient = s.client;
      this.pollerServer = server;
    }
    this.lastError = '';
    this.restarted.fire({ baseline: this.poller?.baselineNext ?? false });
    this.startLease();
    if (this.poller && this.intervalMs) this.schedule(0);
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.cancel();
    if (this.poller && this.mine) this.timer = setTimeout(() => void this.pollNow(), ms);
  }

  /**
   * One poll now (a poll in flight is joined, not doubled): its result after
   * every consumer saw it; undefined without a Chef server, when another
   * window follows Reporting or when it failed.
   */
  pollNow(): Promise<ReportingPoll | undefined> {
    if (this.polling) return this.polling;
    const poller = this.poller;
    if (!poller || !this.mine) return Promise.resolve(undefined);
    this.cancel();
    this.polling = (async () => {
      try {
        const result = await poller.poll();
        // A new server meanwhile: this one's runs are no news there.
        if (poller !== this.poller || !this.mine) return undefined;
        this.lastError = '';
        this.polled.fire(result);
        // The other windows of this machine do not poll: they hear that runs ended.
        if (!result.baseline && result.observations.length) this.lease?.announce();
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
    this.lease = undefined;
    this.polled.dispose();
    this.restarted.dispose();
    this.newsHeard.dispose();
    this.followingChanged.dispose();
  }
}
