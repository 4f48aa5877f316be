/**
 * Failed Chef runs seen through Reporting while the extension runs → the
 * shared notifier (key `chef-run:<node>:<runId>`, jump chefConsul.chef.openRun
 * `{ node, runId }`). Polls every `chefConsul.chef.pollSeconds` (0 = off)
 * with the rules' ReportingPoller: the first poll is a baseline, never news,
 * and only runs that ended after the poller started are notified.
 */
import * as vscode from 'vscode';
import { chefFailureNotification } from '../../core/notify/chefRunNotifications';
import type { Notifier } from '../../core/notify/notifier';
import { ReportingPoller } from '../../core/rules/sources';
import { getRun, listRuns } from '../../core/chef/server/reporting';
import { CHEF_SECTION, ChefServerConnection } from './chefServer';

export class ChefRunPoller implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private poller: ReportingPoller | undefined;
  private startedAt = Date.now();
  private polling = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly polled = new vscode.EventEmitter<{ notified: number; baseline: boolean }>();
  /** After each poll (tests wait on it). */
  readonly onDidPoll = this.polled.event;

  constructor(
    private readonly chef: ChefServerConnection,
    private readonly notifier: () => Pick<Notifier, 'notify'> | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      chef.onDidChange(() => this.restart()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CHEF_SECTION}.pollSeconds`)) this.restart();
      }),
    );
    this.restart();
  }

  private intervalMs(): number {
    const s = vscode.workspace.getConfiguration(CHEF_SECTION).get<number>('pollSeconds', 60);
    return typeof s === 'number' && s > 0 ? Math.max(5, s) * 1000 : 0;
  }

  /** A new server (or interval): a new baseline; runs that ended before now are old news. */
  private restart(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.poller = undefined;
    this.startedAt = Date.now();
    const s = this.chef.state;
    if (s.kind !== 'ready' || !this.intervalMs()) return;
    const client = s.client;
    this.poller = new ReportingPoller(
      { list: (from) => listRuns(client, { from }), get: (runId) => getRun(client, runId) },
      (run) => ({ command: 'chefConsul.chef.openRun', args: { node: run.node, runId: run.runId } }),
      { lookBackMs: 24 * 3_600_000 },
    );
    this.schedule(0);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.pollNow(), ms);
  }

  /** One poll now (also for tests); returns how many failures it notified. */
  async pollNow(): Promise<number> {
    const poller = this.poller;
    if (!poller || this.polling) return 0;
    this.polling = true;
    clearTimeout(this.timer);
    let notified = 0;
    let baseline = false;
    try {
      const result = await poller.poll();
      baseline = result.baseline;
      if (poller !== this.poller) return 0;
      if (!baseline) {
        for (const o of result.observations) {
          if (o.time < this.startedAt) continue;
          const n = chefFailureNotification({ id: o.runId, phase: 0, node: o.node }, o.report, o.jump);
          if (n && this.notifier()?.notify(n)) notified++;
        }
        // New runs ended: the Chef view and the Nodes view show the new last runs.
        if (result.observations.length) void this.chef.loadInventory(true);
      }
      // The server answers again after a failure: the views recover by themselves.
      if (this.chef.inventory.kind === 'error') void this.chef.loadInventory(true);
    } catch (e) {
      this.log.warn(`Chef Reporting poll: ${(e as Error).message}`);
    } finally {
      this.polling = false;
      if (poller === this.poller && this.intervalMs()) this.schedule(this.intervalMs());
    }
    this.polled.fire({ notified, baseline });
    return notified;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.poller = undefined;
    this.disposables.forEach((d) => d.dispose());
    this.polled.dispose();
  }
}
