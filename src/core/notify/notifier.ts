/**
 * The one notifier: a failed Chef run, a fired watch and a matched rule all
 * leave through here, to whichever channels the operator chose (a VS Code
 * notification, a webhook, a local command, a follow-up user event). It never
 * throws and never blocks its caller: delivery happens in the background and
 * failures are logged by the channels themselves.
 */
import { Emitter } from '../util/emitter';

export type NotificationSource = 'chef-run' | 'watch' | 'rule' | 'test';
export type NotificationSeverity = 'info' | 'warning' | 'error';

/** Where "Show" jumps: a command of ours and its argument object. */
export interface NotificationJump {
  command: string;
  args?: unknown;
}

export interface Notification {
  /**
   * What makes two notifications the same one, e.g. `chef-run:<node>:<runId>`:
   * a key is delivered at most once per notifier (so at most one per node per run).
   */
  key: string;
  source: NotificationSource;
  severity: NotificationSeverity;
  /** One line, e.g. "Chef run failed on web-1". Untrusted parts are plain text. */
  title: string;
  /** A few lines of detail (failure snippet, what changed). Plain text. */
  message: string;
  node?: string;
  /** `type[name]` of the failed resource, for Chef failures. */
  resource?: string;
  /** The exception's message, for Chef failures. */
  exception?: string;
  jump?: NotificationJump;
  /** Anything else a channel may forward as is (a watch's JSON, a rule's match). */
  data?: unknown;
}

export interface NotificationChannel {
  /** `vscode`, `webhook`, `command`, `event`, … */
  readonly kind: string;
  deliver(n: Notification): Promise<void>;
  /**
   * Optional: delivers `n` and settles only once it was delivered, rejecting
   * with why not (a test notification wants the outcome; `deliver` may only queue).
   */
  check?(n: Notification): Promise<void>;
}

export interface NotifierLog {
  info(message: string): void;
  warn(message: string): void;
}

/** How many keys are remembered for de-duplication before the oldest are forgotten. */
const REMEMBERED_KEYS = 10_000;

export class Notifier {
  private readonly channels = new Map<string, NotificationChannel>();
  private readonly seen = new Set<string>();
  private readonly delivered = new Emitter<{ notification: Notification; channels: string[] }>();
  /** Fires once per notification accepted (not a duplicate), with the channels it went to. */
  readonly onDidNotify = this.delivered.event;

  constructor(private readonly log?: NotifierLog) {}

  /** Adds (or replaces) the channel of this kind. */
  addChannel(channel: NotificationChannel): { dispose(): void } {
    this.channels.set(channel.kind, channel);
    return { dispose: () => { if (this.channels.get(channel.kind) === channel) this.channels.delete(channel.kind); } };
  }

  channelKinds(): string[] {
    return [...this.channels.keys()];
  }

  /**
   * Sends `n` to the given channel kinds (all channels when omitted) unless its
   * key was already notified. Returns false for a duplicate. Never throws.
   */
  notify(n: Notification, kinds?: readonly string[]): boolean {
    if (this.seen.has(n.key)) return false;
    this.seen.add(n.key);
    if (this.seen.size > REMEMBERED_KEYS) this.seen.delete(this.seen.values().next().value as string);
    const targets = (kinds ?? [...this.channels.keys()]).filter((k) => this.channels.has(k));
    for (const kind of targets) {
      const channel = this.channels.get(kind)!;
      void Promise.resolve()
        .then(() => channel.deliver(n))
        .catch((e: unknown) => this.log?.warn(`notification "${n.title}" via ${kind} failed: ${e instanceof Error ? e.message : String(e)}`));
    }
    this.delivered.fire({ notification: n, channels: targets });
    return true;
  }

  /**
   * Delivers `n` now to the given channel kinds (all when omitted), without
   * de-duplication, and says per channel whether it was delivered: `true`, or
   * why not. For test notifications; never throws.
   */
  async deliverNow(n: Notification, kinds?: readonly string[]): Promise<Record<string, true | string>> {
    const targets = (kinds ?? [...this.channels.keys()]).filter((k) => this.channels.has(k));
    const results: Record<string, true | string> = {};
    await Promise.all(
      targets.map(async (kind) => {
        const channel = this.channels.get(kind)!;
        try {
          await (channel.check ? channel.check(n) : channel.deliver(n));
          results[kind] = true;
        } catch (e) {
          results[kind] = e instanceof Error ? e.message : String(e);
          this.log?.warn(`notification "${n.title}" via ${kind} failed: ${results[kind]}`);
        }
      }),
    );
    return results;
  }

  /** Forgets that `key` was notified, so it may be notified again (a test notification, a re-armed rule). */
  forget(key: string): void {
    this.seen.delete(key);
  }

  dispose(): void {
    this.channels.clear();
    this.delivered.dispose();
  }
}
