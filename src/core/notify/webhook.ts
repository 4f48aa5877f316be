/**
 * The webhook channel: each notification is POSTed as a Slack-compatible JSON
 * body (incoming-webhook `text` plus Block Kit `blocks`). Delivery runs in the
 * background from a bounded queue, one request at a time, retried with
 * exponential back-off; it never throws into and never blocks the caller.
 * The URL is a secret: it is read from a getter at each attempt and never logged.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Notification, NotificationChannel, NotifierLog } from './notifier';

export interface WebhookOptions {
  /** The URL, or undefined when none is configured (the notification is dropped, and that is logged). */
  url: () => Promise<string | undefined> | string | undefined;
  log?: NotifierLog;
  /** Attempts per notification, the first one included (default 5). */
  attempts?: number;
  /** Wait before the first retry; doubled for each further retry (default 1000 ms). */
  initialDelayMs?: number;
  /** Longest wait between two attempts (default 30 s). */
  maxDelayMs?: number;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  /** Notifications waiting beyond this are dropped, oldest first, and that is logged (default 100). */
  maxQueue?: number;
}

export interface WebhookResult {
  delivered: boolean;
  attempts: number;
  /** The HTTP status of the last answer, when there was one. */
  status?: number;
  /** Why it was not delivered. */
  error?: string;
}

/** Slack mrkdwn gives `&`, `<` and `>` a meaning: untrusted text is escaped so that it stays plain. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Backticks would close a code block around untrusted text. */
const codeSafe = (text: string) => escapeSlack(text).replace(/`/g, 'ˋ');

/** Slack's limit for a section's text is 3000 characters. */
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The JSON body Slack's incoming webhooks (and Mattermost, Teams' Slack-compatible endpoints…) accept. */
export function slackBody(n: Notification): { text: string; blocks: unknown[] } {
  const title = escapeSlack(clip(n.title, 300));
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: `*${title}*` } }];
  const fields: Array<{ type: 'mrkdwn'; text: string }> = [];
  if (n.node) fields.push({ type: 'mrkdwn', text: `*Node*\n${escapeSlack(clip(n.node, 500))}` });
  if (n.resource) fields.push({ type: 'mrkdwn', text: `*Failed resource*\n${escapeSlack(clip(n.resource, 500))}` });
  fields.push({ type: 'mrkdwn', text: `*Severity*\n${n.severity}` }, { type: 'mrkdwn', text: `*Source*\n${n.source}` });
  blocks.push({ type: 'section', fields });
  if (n.exception) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Exception*\n${escapeSlack(clip(n.exception, 2800))}` } });
  if (n.message) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${codeSafe(clip(n.message, 2800))}\`\`\`` } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Chef + Consul Ops' }] });
  const text = [title, n.node && `node ${escapeSlack(n.node)}`, n.resource && escapeSlack(n.resource), n.exception && escapeSlack(clip(n.exception, 500))].filter(Boolean).join(' · ');
  return { text, blocks };
}

class GiveUp extends Error {}

interface Job {
  n: Notification;
  done: (r: WebhookResult) => void;
}

export class WebhookChannel implements NotificationChannel {
  readonly kind = 'webhook';
  private readonly queue: Job[] = [];
  private running = false;
  private disposed = false;
  private readonly timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly attempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;

  constructor(private readonly options: WebhookOptions) {
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.initialDelayMs = options.initialDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxQueue = Math.max(1, options.maxQueue ?? 100);
  }

  /** Queues `n` and returns at once; the Notifier calls this. */
  deliver(n: Notification): Promise<void> {
    this.send(n);
    return Promise.resolve();
  }

  /** Delivers `n` (after the ones waiting) and rejects with why it was not delivered. */
  async check(n: Notification): Promise<void> {
    const result = await this.send(n);
    if (!result.delivered) throw new Error(`${result.error ?? 'not delivered'}${result.attempts > 1 ? ` (${result.attempts} attempts)` : ''}`);
  }

  /** Queues `n`; the promise settles (never rejects) when it was delivered or given up. */
  send(n: Notification): Promise<WebhookResult> {
    if (this.disposed) return Promise.resolve({ delivered: false, attempts: 0, error: 'the webhook channel is closed' });
    return new Promise((done) => {
      this.queue.push({ n, done });
      while (this.queue.length > this.maxQueue) {
        const dropped = this.queue.shift()!;
        this.options.log?.warn(`webhook: queue full (${this.maxQueue}), dropped "${dropped.n.title}"`);
        dropped.done({ delivered: false, attempts: 0, error: 'dropped: the webhook queue was full' });
      }
      void this.pump();
    });
  }

  /** Notifications waiting (not counting the one being sent). */
  get pending(): number {
    return this.queue.length;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length && !this.disposed) {
        const job = this.queue.shift()!;
        job.done(await this.attemptAll(job.n));
      }
    } finally {
      this.running = false;
    }
  }

  private async attemptAll(n: Notification): Promise<WebhookResult> {
    let status: number | undefined;
    let error = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (this.disposed) return { delivered: false, attempts: attempt - 1, status, error: 'the webhook channel was closed' };
      let url: string | undefined;
      try {
        url = await this.options.url();
      } catch (e) {
        url = undefined;
        error = `could not read the webhook URL: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (!url) {
        error ||= 'no webhook URL is set';
        this.options.log?.warn(`webhook: "${n.title}" not sent: ${error}`);
        return { delivered: false, attempts: attempt - 1, error };
      }
      try {
        status = await this.post(url, JSON.stringify(slackBody(n)));
        if (status >= 200 && status < 300) {
          if (attempt > 1) this.options.log?.info(`webhook: "${n.title}" delivered on attempt ${attempt}`);
          return { delivered: true, attempts: attempt, status };
        }
        error = `the receiver answered HTTP ${status}`;
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
          error += ' (a client error: retrying would not help)';
          throw new GiveUp(error);
        }
      } catch (e) {
        if (e instanceof GiveUp) {
          error = e.message;
          this.options.log?.warn(`webhook: gave up on "${n.title}" after attempt ${attempt}: ${error}`);
          return { delivered: false, attempts: attempt, status, error };
        }
        error = e instanceof Error ? e.message : String(e);
      }
      if (attempt === this.attempts) break;
      const delay = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (attempt - 1));
      this.options.log?.warn(`webhook: attempt ${attempt}/${this.attempts} for "${n.title}" failed: ${error}; retrying in ${delay} ms`);
      await this.sleep(delay);
    }
    this.options.log?.warn(`webhook: gave up on "${n.title}" after ${this.attempts} attempts: ${error}`);
    return { delivered: false, attempts: this.attempts, status, error };
  }

  private sleep(ms: number): Promise<void> {
    // Disposed while an attempt was in flight: no waiting for a retry that will not come.
    if (this.disposed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.timers.add(entry);
    });
  }

  /** Resolves with the HTTP status; rejects on network errors and timeouts (with the URL left out: it is a secret). */
  private post(url: string, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        reject(new GiveUp('the webhook URL is not a valid URL'));
        return;
      }
      const lib = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
      if (!lib) {
        reject(new GiveUp(`the webhook URL must be http or https, not ${parsed.protocol}`));
        return;
      }
      const req = lib.request(parsed, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'user-agent': 'chef-consul-ops' },
        agent: false,
      });
      // One deadline from the start: a receiver that trickles bytes must not hold the queue (an idle timeout would wait forever).
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        reject(new Error(e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message));
      });
      req.on('response', (res) => {
        // The status is the answer; the body means nothing to us and is not waited for.
        clearTimeout(deadline);
        resolve(res.statusCode ?? 0);
        res.on('error', () => undefined);
        res.destroy();
      });
      req.end(body);
    });
  }

  /** Drops waiting notifications (they resolve as not delivered) and stops retrying. */
  dispose(): void {
    this.disposed = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.wake();
    }
    this.timers.clear();
    for (const job of this.queue.splice(0)) job.done({ delivered: false, attempts: 0, error: 'the webhook channel was closed' });
  }
}
