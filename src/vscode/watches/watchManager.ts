/**
 * Runs the watches of the `chefConsul.watches` setting (user settings only)
 * on the active profile while the extension is active: restarted on every
 * reconnect and settings change, keeping when each last fired and why. What a
 * firing does comes from the watch's actions.
 */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { fireEvent } from '../../core/consul/events';
import type { Notification, Notifier } from '../../core/notify/notifier';
import { FollowUpGuard } from '../../core/watches/followUps';
import { describeHandlerResult, HandlerPool, handlerEnvironment } from '../../core/watches/handler';
import { parseWatchList, WatchAction, WatchDefinition } from '../../core/watches/model';
import type { WindowLease } from '../../core/util/windowLease';
import { feedFor, SharedQueries } from '../../core/watches/queries';
import { WatchFiring, WatchRunner, WatchState } from '../../core/watches/runner';
import type { ConnectionManager, ConnectionState } from '../connectionManager';
import { confirmProduction } from '../production';

export const WATCHES_SETTING = 'watches';
/** When each watch last fired and why, kept across windows (never the values: a key may hold a secret). */
const LAST_FIRED_STATE_KEY = 'chefConsul.watches.lastFired';
const SECTION = 'chefConsul';

export interface WatchEntry {
  definition: WatchDefinition;
  runner: WatchRunner;
}

export interface WatchSummary {
  name: string;
  type: string;
  state: 'idle' | 'watching' | 'error' | 'paused';
  lastFired?: string;
  why?: string;
  error?: string;
  /** Set when another window of this machine runs the watches (its PID). */
  runningInPid?: number;
}

/** What a firing did, per action, for tests and the log. */
export interface ActionOutcome {
  watch: string;
  action: WatchAction['type'];
  ok: boolean;
  detail: string;
}

export class WatchManager implements vscode.Disposable {
  private entries = new Map<string, WatchEntry>();
  private shared: SharedQueries | undefined;
  private settingProblems: string[] = [];
  /** When each watch last fired and why, across restarts (reconnects, edits). */
  private readonly memory = new Map<string, { lastFired?: number; why?: string; firing?: WatchFiring }>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly fired = new vscode.EventEmitter<WatchFiring>();
  readonly onDidFire = this.fired.event;
  private readonly acted = new vscode.EventEmitter<ActionOutcome>();
  readonly onDidAct = this.acted.event;
  private readonly disposables: vscode.Disposable[] = [];
  /** Our own follow-up events (never delivered to a watch) and the per-watch rate limit. */
  readonly followUps = new FollowUpGuard();
  /** Handlers: one run at a time per watch, the latest firing waiting; killed on dispose and profile switch. */
  readonly handlers = new HandlerPool();
  private profileName: string | undefined;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly notifier: Notifier,
    private readonly log: vscode.LogOutputChannel,
    private readonly state?: vscode.Memento,
    /** One window per machine runs the watches: the one holding this lease (none: this one). */
    private readonly lease?: WindowLease,
  ) {
    for (const [name, last] of Object.entries(state?.get<Record<string, { lastFired: number; why: string }>>(LAST_FIRED_STATE_KEY) ?? {})) {
      // Older versions kept an event's payload in its why: dropped here (and so at the next save).
      const why = typeof last?.why === 'string' ? last.why.replace(/^(event \S+ fired(?: \d+ times)?) \(payload: .*\)$/s, '$1') : undefined;
      if (typeof last?.lastFired === 'number' && why !== undefined) this.memory.set(name, { lastFired: last.lastFired, why });
    }
    this.disposables.push(
      this.changed,
      this.fired,
      this.acted,
      connections.onDidChange(() => {
        const s = connections.state;
        const name = s?.kind === 'connected' ? s.connection.profile.name : s?.kind === 'invalid' ? s.profileName : undefined;
        // Another profile (or none): what handlers still run for the old cluster must not outlive it.
        if (name !== this.profileName) this.handlers.killAll();
        this.profileName = name;
        this.restart(true);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(`${SECTION}.${WATCHES_SETTING}`) && this.restart()),
    );
    if (lease) {
      // The lease's emitter swallows what a listener throws: said here instead.
      const sub = lease.onDidChange(() => {
        try {
          this.restart(true);
        } catch (e) {
          this.log.error(`Watches: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
      this.disposables.push({ dispose: () => sub.dispose() });
    }
    const s = connections.state;
    this.profileName = s?.kind === 'connected' ? s.connection.profile.name : s?.kind === 'invalid' ? s.profileName : undefined;
    this.restart(true);
  }

  /** The raw list from user settings: workspace settings never define what runs here. */
  static storedList(): unknown[] {
    const value = vscode.workspace.getConfiguration(SECTION).inspect<unknown[]>(WATCHES_SETTING)?.globalValue;
    return Array.isArray(value) ? value : [];
  }

  static async store(list: unknown[]): Promise<void> {
    await vscode.workspace.getConfiguration(SECTION).update(WATCHES_SETTING, list, vscode.ConfigurationTarget.Global);
  }

  /** The PID of the window that runs the watches when it is not this one. */
  get runningElsewhere(): number | undefined {
    const s = this.lease?.state;
    return s?.kind === 'other' ? s.pid : undefined;
  }

  /** Whether watches have a connection to run on. */
  get connected(): boolean {
    return this.shared !== undefined;
  }

    get problems(): readonly string[] {
    return this.settingProblems;
  }

  list(): WatchEntry[] {
    return [...this.entries.values()];
  }

  get(name: string): WatchEntry | undefined {
    return this.entries.get(name);
  }

  lastFiring(name: string): WatchFiring | undefined {
    return this.entries.get(name)?.runner.lastFiring ?? this.memory.get(name)?.firing;
  }

  summary(entry: WatchEntry): WatchSummary {
    const s = entry.runner.state;
    return {
      name: entry.definition.name,
      type: entry.definition.type,
      state: entry.definition.paused ? 'paused' : s.kind,
      ...(s.lastFired ? { lastFired: new Date(s.lastFired).toISOString() } : {}),
      ...(s.why ? { why: s.why } : {}),
      ...(s.error ? { error: s.error } : {}),
      ...(this.runningElsewhere !== undefined ? { runningInPid: this.runningElsewhere } : {}),
    };
  }

  /**
   * Applies the setting: on a new connection every watch starts afresh;
   * otherwise only watches whose definition changed are restarted, so the
   * others keep their baseline and miss nothing.
   */
  restart(reconnect = false): void {
    const { watches, problems } = parseWatchList(WatchManager.storedList());
    // The lease is taken with the first watch (until then the window never touches it; it is
    // kept afterwards); its first state restarts everything through the lease's listener.
    if (watches.length && this.lease && !this.lease.started) {
      const before = this.lease.state;
      this.lease.start();
      if (this.lease.state === before) this.restart(true);
      return;
    }
    const wanted = new Map(watches.map((w) => [w.name, JSON.stringify(w)]));
    for (const [name, e] of [...this.entries]) {
      if (!reconnect && wanted.get(name) === JSON.stringify(e.definition)) continue;
      this.remember(e);
      e.runner.dispose();
      this.entries.delete(name);
    }
    if (reconnect) {
      this.shared?.dispose();
      this.shared = undefined;
      const state: ConnectionState | undefined = this.connections.state;
      // Another window of this machine runs them: this one runs none (handlers, webhooks, events would go N times).
      if (state?.kind === 'connected' && this.runningElsewhere === undefined) this.shared = new SharedQueries(state.connection, state.catalog as never, state.events);
    }
    this.prune(new Set(wanted.keys()));
    if (JSON.stringify(problems) !== JSON.stringify(this.settingProblems)) for (const p of problems) this.log.warn(`Watches: ${p}`);
    this.settingProblems = problems;
    for (const definition of watches) {
      if (this.entries.has(definition.name)) continue;
      const feed = this.shared ? feedFor(definition, this.shared) : () => ({ dispose: () => undefined });
      const runner = new WatchRunner(definition, feed, { isOwnEvent: (id) => this.followUps.isOwn(id) });
      runner.restore(this.memory.get(definition.name) ?? {});
      runner.onDidChangeState((s: WatchState) => {
        if (s.kind === 'error') this.log.warn(`Watch "${definition.name}": ${s.error}`);
        this.changed.fire();
      });
      runner.onDidFire((f) => this.onFire(f));
      this.entries.set(definition.name, { definition, runner });
      if (!definition.paused && this.shared) runner.start();
    }
    // The view lists them in the setting's order.
    this.entries = new Map(watches.map((w) => [w.name, this.entries.get(w.name)!]));
    this.changed.fire();
  }

  /** Forgets what removed or renamed watches left behind. */
  private prune(names: Set<string>): void {
    for (const n of [...this.memory.keys()]) if (!names.has(n)) this.memory.delete(n);
    this.followUps.prune(names);
  }

  private remember(e: WatchEntry): void {
    const s = e.runner.state;
    if (s.lastFired) this.memory.set(e.definition.name, { lastFired: s.lastFired, why: s.why, firing: e.runner.lastFiring });
  }

  private onFire(f: WatchFiring): void {
    const w = f.watch;
    this.log.info(`Watch "${w.name}" fired: ${f.summary.why}`);
    this.remember({ definition: w, runner: this.entries.get(w.name)!.runner });
    void this.persist();
    this.changed.fire();
    this.fired.fire(f);
    const runs = w.actions.map((action, i) =>
      this.act(action, f, i).then(
        (detail) => this.acted.fire({ watch: w.name, action: action.type, ok: true, detail }),
        (e: unknown) => {
          const detail = e instanceof Error ? e.message : String(e);
          this.log.warn(`Watch "${w.name}", ${action.type} action: ${detail}`);
          this.notifier.notify(
            {
              key: `watch-action:${w.name}:${action.type}:${f.at}`,
              source: 'watch',
              severity: 'warning',
              title: vscode.l10n.t('Watch "{0}": its {1} action failed', w.name, action.type),
              message: detail,
            },
            ['vscode'],
          );
          this.acted.fire({ watch: w.name, action: action.type, ok: false, detail });
        },
      ),
    );
    // The actions are done with the data: keep only what Show Last Change shows (capped).
    void Promise.allSettled(runs).then(() => {
      const entry = this.entries.get(w.name);
      const slim = entry?.runner.release(f);
      const m = this.memory.get(w.name);
      if (slim && m?.firing === f) m.firing = slim;
    });
  }

  private async persist(): Promise<void> {
    if (!this.state) return;
    const names = new Set(this.entries.keys());
    const kept: Record<string, { lastFired: number; why: string }> = {};
    for (const [name, m] of this.memory) if (names.has(name) && m.lastFired) kept[name] = { lastFired: m.lastFired, why: m.why ?? '' };
    await this.state.update(LAST_FIRED_STATE_KEY, kept);
  }

  private notification(f: WatchFiring, channel: string): Notification {
    const w = f.watch;
    const keyType = w.type === 'key' || w.type === 'keyprefix';
    return {
      key: `watch:${w.name}:${f.at}:${f.index}:${channel}`,
      source: 'watch',
      severity: f.summary.severity,
      title: vscode.l10n.t('Watch "{0}": {1}', w.name, f.summary.why),
      message: f.summary.details.join('\n') || (keyType ? vscode.l10n.t('Show opens the old and new value side by side.') : ''),
      ...(f.summary.node ? { node: f.summary.node } : {}),
      jump: { command: 'chefConsul.watches.showLastChange', args: { name: w.name } },
      // Not the watch's JSON: it is never sent (keyprefix values may be secrets), so not kept in the queue either.
    };
  }

  private async act(action: WatchAction, f: WatchFiring, i = 0): Promise<string> {
    switch (action.type) {
      case 'notify':
        return this.notifier.notify(this.notification(f, 'vscode'), ['vscode']) ? 'notified' : 'duplicate';
      case 'webhook':
        if (!this.notifier.channelKinds().includes('webhook')) {
          throw new Error(vscode.l10n.t('the webhook channel is off: set a webhook URL and turn on chefConsul.notifications.webhook.enabled.'));
        }
        return this.notifier.notify(this.notification(f, 'webhook'), ['webhook']) ? 'sent to the webhook channel' : 'duplicate';
      case 'handler': {
        if (!vscode.workspace.isTrusted) throw new Error(vscode.l10n.t('handlers run only in a trusted workspace; this one is in Restricted Mode.'));
        // Not the workspace folder: a handler from settings must not depend on (or run in) what is open.
        const cwd = os.homedir();
        const what = action.args ? action.args.join(' ') : action.command ?? '';
        // The active profile's cluster, not whatever CONSUL_* the editor was started with; no token.
        const s = this.connections.state;
        const env = handlerEnvironment(process.env, s?.kind === 'connected' ? s.connection.profile : undefined);
        const result = await this.handlers.run(`${f.watch.name}\u0000${i}`, action, f.stdin, f.index, { cwd, env });
        // As consul watch: while a handler runs, only the latest firing waits; earlier ones are skipped.
        if (!result) return vscode.l10n.t('skipped: a later firing replaced it while the previous run was busy (or the watches stopped)');
        const out = [result.stdout.trim() && `stdout: ${result.stdout.trim()}`, result.stderr.trim() && `stderr: ${result.stderr.trim()}`].filter(Boolean).join('\n');
        const line = `Watch "${f.watch.name}" handler ${what}: ${describeHandlerResult(result)}${out ? `\n${out}` : ''}`;
        if (result.exitCode === 0) {
          this.log.info(line);
          return describeHandlerResult(result);
        }
        throw new Error(line);
      }
      case 'event': {
        if (!vscode.workspace.isTrusted) throw new Error(vscode.l10n.t('follow-up events fire only in a trusted workspace; this one is in Restricted Mode.'));
        const state = await this.connections.connected();
        // Not interactive: on a production profile only `confirmProduction` naming the profile lets it fire.
        const profile = state.connection.profile;
        try {
          await confirmProduction(profile, vscode.l10n.t('the watch "{0}" firing event "{1}"', f.watch.name, action.name), 0, action.confirmProduction, false, 'nodes', false);
        } catch {
          throw new Error(
            vscode.l10n.t('Profile "{0}" is production: a watch fires follow-up events there only when its event action has "confirmProduction": "{0}". Event "{1}" was not fired.', profile.name, action.name),
          );
        }
        const slot = this.followUps.take(f.watch.name);
        if (!slot.ok) {
          const dropped = vscode.l10n.t(
            'Watch "{0}": follow-up event "{1}" dropped: a watch fires at most one follow-up event every 10 s (next in {2} s), which breaks loops between watches.',
            f.watch.name,
            action.name,
            Math.ceil(slot.waitMs / 1000),
          );
          this.log.warn(dropped);
          return dropped;
        }
        const fired = await fireEvent(state.connection, { name: action.name, ...(action.payload !== undefined ? { payload: action.payload } : {}) });
        this.followUps.remember(fired.id);
        return `fired event ${fired.name} (${fired.id})`;
      }
    }
  }

  dispose(): void {
    this.handlers.dispose();
    for (const e of this.entries.values()) e.runner.dispose();
    this.entries.clear();
    this.shared?.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
