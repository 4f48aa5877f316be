/**
 * Failed Chef runs seen through Reporting while the extension runs → the
 * shared notifier (key `chef-run:<node>:<runId>`, jump chefConsul.chef.openRun
 * `{ node, runId }`). It reads the Chef server connection's one Reporting poll
 * (ReportingFeed, which the rules read too) and asks it for news every
 * `chefConsul.chef.pollSeconds` (0 = no failure notifications; the rules may
 * still poll): the first poll is a baseline, never news, and only runs that
 * ended after the notifications started are notified.
 */
import * as vscode from 'vscode';
import { chefFailureNotification } from '../../core/notify/chefRunNotifications';
import type { Notifier } from '../../core/notify/notifier';
import type { ReportingPoll } from '../../core/rules/sources';
import { CHEF_SECTION, ChefServerConnection } from './chefServer';
import type { ReportingFeed } from './reportingFeed';

const CONSUMER = 'chef-failures';

export class ChefRunPoller implements vscode.Disposable {
  private startedAt = Date.now();
  /** Whether failures are notified (chefConsul.chef.pollSeconds is not 0). */
  private enabled = false;
  private readonly notifiedBy = new WeakMap<ReportingPoll, number>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly polled = new vscode.EventEmitter<{ notified: number; baseline: boolean }>();
  /** After each poll (tests wait on it). */
  readonly onDidPoll = this.polled.event;

  constructor(
    private readonly chef: ChefServerConnection,
    private readonly feed: ReportingFeed,
    private readonly notifier: () => Pick<Notifier, 'notify'> | undefined,
  ) {
    this.disposables.push(
      // A new server's history is its first poll, a baseline (never news); a server seen
      // again carries on where it was: its runs that ended meanwhile are news.
      feed.onDidPoll((p) => this.observe(p)),
      // Another window follows Reporting and saw runs end: the Chef view and the Nodes view here show the new last runs too.
      feed.onDidHearNews(() => {
        // Only an inventory something here has loaded (a view showed it), and only with a server to ask.
        if (this.chef.state.kind === 'ready' && this.chef.inventory.kind !== 'idle') void this.chef.loadInventory(true);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CHEF_SECTION}.pollSeconds`)) this.apply();
      }),
    );
    this.apply();
  }

  private intervalMs(): number {
    const s = vscode.workspace.getConfiguration(CHEF_SECTION).get<number>('pollSeconds', 60);
    return typeof s === 'number' && s > 0 ? Math.max(5, s) * 1000 : 0;
  }

  private apply(): void {
    const ms = this.intervalMs();
    // Turned on again: what ended while it was off is no news.
    if (ms && !this.enabled) this.startedAt = Date.now();
    this.enabled = ms > 0;
    this.feed.want(CONSUMER, ms);
  }

  private observe(result: ReportingPoll): void {
    let notified = 0;
    if (!result.baseline) {
      if (this.enabled) {
        for (const o of result.observations) {
          if (o.time < this.startedAt) continue;
          const n = chefFailureNotification({ id: o.runId, phase: 0, node: o.node }, o.report, o.jump);
          if (n && this.notifier()?.notify(n)) notified++;
        }
      }
      // New runs ended: the Chef view and the Nodes view show the new last runs.
      if (result.observations.length) void this.chef.loadInventory(true);
    }
    // The server answers again after a failure: the views recover by themselves.
    if (this.chef.inventory.kind === 'error') void this.chef.loadInventory(true);
    this.notifiedBy.set(result, notified);
    this.polled.fire({ notified, baseline: result.baseline });
  }

  /** One poll of the shared feed now (also for tests); returns how many failures it notified. */
  async pollNow(): Promise<number> {
    if (!this.enabled) return 0;
    const result = await this.feed.pollNow();
    return result ? (this.notifiedBy.get(result) ?? 0) : 0;
  }

  dispose(): void {
    this.feed.want(CONSUMER, 0);
    this.disposables.forEach((d) => d.dispose());
    this.polled.dispose();
  }
}
