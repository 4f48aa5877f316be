/**
 * `consul exec` over the HTTP API. Knowing which nodes must answer, the job
 * ends the moment the last of them has exited, where the CLI waits a fixed
 * 2 s of quiet. One job is one session; whatever it created is removed when
 * it ends, however it ends.
 */
import type { ConsulConnection } from '../consul/client';
import { AclDeniedError, AclTokenNotFoundError, ConsulError, ConsulHttpError, toConsulError } from '../consul/errors';
import { RemoteExecSetupError, RemoteExecUnavailableError } from './errors';
import { NodeProgress } from './nodeProgress';
import { createSession, deleteKey, exactNodeFilters, fireRexecEvent, listJobKeys, listKeysNow, MAX_READS_PER_TXN, putJob, readValues, removeJob, renewSession } from './rexecApi';
import { compareRexecKeys, jobDir, jobKey, parseRexecKey, retryJobKey, retryPrefix, RexecKey, rexecEventPayload } from './rexecKeys';
import { NodeExecResult, planJob, RemoteExecEvents, RemoteExecSpec, RexecPlan } from './rexecSpec';

export type { NodeExecResult, NodeExecStatus, RemoteExecEvents, RemoteExecSpec } from './rexecSpec';

const RENEW_EVERY_MS = 5_000;
const READ_RETRY_MS = 250;
/** How long an exit that is listed but unreadable may outlive the timeout. */
const EXIT_READ_GRACE_MS = 10_000;
/** Each cleanup request after a cancel gives up after this: the session's TTL removes what is left. */
const CANCELLED_CLEANUP_TIMEOUT_MS = 1500;
/**
 * Serf gossips a user event a bounded number of times (4 x log10(n+1)
 * sends per node); now and then that misses a node, which then gets the
 * event only at the next push/pull sync, up to 30 s later. Measured on five
 * agents: about 1 node-job in 500, delivered by push/pull ~10 s after the
 * fire. Gossip reaches every node within a few 200 ms rounds and an agent
 * acks within ~40 ms, so a target still silent this long after the fire is
 * announced the job again, by name.
 */
export const REANNOUNCE_AFTER_MS = 1_000;
/** Room for an agent that read the job just before it was deleted to write its ack. */
const ACK_SETTLE_MS = 250;

interface KeyWatch {
  on(event: 'change', listener: (keys: unknown) => void): void;
  on(event: 'error', listener: (err: unknown) => void): void;
  end(): void;
}

export class RemoteExecJob {
  private sid: string | undefined;
  private readonly events: RemoteExecEvents;
  private readonly nodes = new Map<string, NodeProgress>();
  private targets: string[] = [];
  private readonly strangers: string[] = [];
  private readonly listed = new Set<string>();
  private readonly toRead: RexecKey[] = [];
  private reading = false;
  private watch: KeyWatch | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private firedAt: number | undefined;
  private plan: RexecPlan | undefined;
  private reannounceTimer: NodeJS.Timeout | undefined;
  /** The job key the agents were last told about. */
  private announcedKey: string | undefined;
  /** Targets announced the job again because they had not acked (a target may count more than once). */
  reannounced = 0;
  private started = false;
  private ended = false;
  private fatal: unknown;
  private transportProblem: string | undefined;
  private settle: () => void = () => undefined;
  private readonly settled = new Promise<void>((resolve) => (this.settle = resolve));
  /** Set when removing the session and keys failed; the session's TTL removes them later. */
  cleanupError: ConsulError | undefined;

  constructor(
    private readonly connection: ConsulConnection,
    private readonly spec: RemoteExecSpec,
    events: Partial<RemoteExecEvents> = {},
  ) {
    // A throwing listener must not leave a job half-cleaned.
    const guard =
      <A extends unknown[]>(fn: ((...args: A) => void) | undefined) =>
      (...args: A) => {
        try {
          fn?.(...args);
        } catch {
          // The job's own bookkeeping comes first.
        }
      };
    this.events = { ack: guard(events.ack), output: guard(events.output), exit: guard(events.exit) };
  }

  get sessionId(): string | undefined {
    return this.sid;
  }

  /** Nodes outside the targets that answered the event (their results are not returned). */
  get unexpectedNodes(): readonly string[] {
    return this.strangers;
  }

  /**
   * Resolves with one result per target, in the targets' order. Rejects with
   * RemoteExecSpecError before anything is created, RemoteExecUnavailableError
   * when no target answers, or a ConsulError when Consul refuses the job.
   */
  async run(): Promise<NodeExecResult[]> {
    if (this.started) throw new Error('A RemoteExecJob runs once; create another to run again.');
    this.started = true;
    const plan = planJob(this.spec);
    this.plan = plan;
    this.targets = plan.targets;
    for (const t of plan.targets) this.nodes.set(t, new NodeProgress(t, this.events));
    const signal = this.spec.signal;
    const onAbort = () => this.endRemaining('cancelled', 'Cancelled before the node finished; its command may still be running.');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      try {
        await this.launch(plan);
      } catch (e) {
        // A cancel drops the launch's requests (the connection carries the signal): the nodes already read cancelled.
        if (!signal?.aborted) throw e;
      }
      await this.settled;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.finish();
      await this.cleanup();
    }
    if (this.fatal !== undefined) throw this.fatal;
    return this.results();
  }

  private async launch(plan: RexecPlan): Promise<void> {
    if (this.ended) return;
    this.sid = await createSession(this.connection);
    const sid = this.sid;
    if (this.ended) return;
    this.renewTimer = setInterval(() => void this.renew(sid), RENEW_EVERY_MS);
    if (!(await putJob(this.connection, sid, plan.job))) {
      throw new RemoteExecSetupError(`Consul at ${this.connection.address} did not let the job's own session lock "${jobDir(sid)}job".`);
    }
    if (this.ended) return;
    // Listening before the event fires: the first answer then sets the index
    // that every agent write moves past.
    this.startWatch(sid);
    // Fired as soon as the job is written, without the CLI's 200 ms
    // "replication" pause: an agent reads the job with a stale read and, when
    // a lagging server answers with nothing, reads it again consistently from
    // the leader, which has the write the PUT above waited for (Consul's
    // agent/remote_exec.go, remoteExecGetSpec, 1.8 and later).
    await fireRexecEvent(this.connection, sid, plan.filters);
    this.firedAt = Date.now();
    this.announcedKey = jobKey(sid);
    this.sweep();
    this.scheduleReannounce(1);
  }

  private scheduleReannounce(attempt: number): void {
    if (this.ended || this.firedAt === undefined || !this.plan) return;
    const at = this.firedAt + attempt * REANNOUNCE_AFTER_MS;
    if (at >= this.firedAt + Math.min(this.plan.ackGraceMs, this.plan.timeoutMs)) return;
    // A failed re-announcement leaves the earlier one standing: the ack grace decides.
    const next = () => this.scheduleReannounce(attempt + 1);
    this.reannounceTimer = setTimeout(() => void this.reannounce(attempt).then(next, next), Math.max(0, at - Date.now()));
  }

  private unacked(): string[] {
    return this.targets.filter((t) => {
      const n = this.nodes.get(t);
      return n !== undefined && !n.final && n.ackedAt === undefined;
    });
  }

  /**
   * Announces the job again to the targets that have not acked, and only to
   * them: Consul's agent keeps no record of the jobs it ran, so every `_rexec`
   * event that finds a job runs it. So that a late copy of an earlier
   * announcement (push/pull delivers it seconds later) cannot run the job a
   * second time, the earlier job key is deleted first (a late agent then logs
   * "job spec missing" and does nothing) and the new announcement points at a
   * job key of its own.
   */
  private async reannounce(attempt: number): Promise<void> {
    const sid = this.sid;
    const plan = this.plan;
    if (this.ended || !sid || !plan || !this.unacked().length) return;
    if (this.announcedKey) {
      await deleteKey(this.connection, this.announcedKey);
      this.announcedKey = undefined;
    }
    await new Promise((r) => setTimeout(r, ACK_SETTLE_MS));
    if (this.ended) return;
    // The acks written before the delete, read from the leader rather than waiting for the watch.
    this.onKeys(jobDir(sid), await listKeysNow(this.connection, sid));
    const missing = this.unacked();
    if (this.ended || !missing.length) return;
    const key = retryJobKey(sid, attempt);
    if (!(await putJob(this.connection, sid, plan.job, key))) return;
    this.announcedKey = key;
    const prefix = retryPrefix(sid, attempt);
    const { service, tag } = plan.filters;
    for (const node of exactNodeFilters(missing, rexecEventPayload(sid, prefix), { service, tag })) {
      if (this.ended) return;
      await fireRexecEvent(this.connection, sid, { node, service, tag }, prefix);
    }
    this.reannounced += missing.length;
  }

  private startWatch(sid: string): void {
    const dir = jobDir(sid);
    const watch = this.connection.client.watch({
      method: listJobKeys,
      options: { key: dir, wait: '10s' },
      // Retry soon after a failure: the deadlines, not the backoff, end a job.
      backoffFactor: 50,
      backoffMax: 1_000,
    }) as unknown as KeyWatch;
    this.watch = watch;
    watch.on('change', (keys) => this.onKeys(dir, keys));
    watch.on('error', (err) => this.onTransportError(err, `/v1/kv/${dir}?keys`));
  }

  private onKeys(dir: string, keys: unknown): void {
    if (this.ended || !Array.isArray(keys)) return;
    this.transportProblem = undefined;
    const now = Date.now();
    for (const key of keys) {
      if (typeof key !== 'string' || this.listed.has(key)) continue;
      this.listed.add(key);
      const parsed = parseRexecKey(dir, key);
      if (!parsed) continue;
      const node = this.progressOf(parsed.node);
      if (node.final) continue;
      node.seen(now);
      if (parsed.kind === 'ack') continue;
      if (parsed.kind === 'exit') node.exitListed = true;
      this.toRead.push(parsed);
    }
    this.drain().catch((e: unknown) => this.fail(e));
  }

  private progressOf(name: string): NodeProgress {
    let node = this.nodes.get(name);
    if (!node) {
      node = new NodeProgress(name, this.events);
      this.nodes.set(name, node);
      this.strangers.push(name);
    }
    return node;
  }

  /** One reader at a time, so values are applied in the order keys were listed and sorted. */
  private async drain(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (!this.ended && this.toRead.length) {
        this.toRead.sort(compareRexecKeys);
        const batch = this.toRead.splice(0, MAX_READS_PER_TXN);
        let values: Map<string, Buffer>;
        try {
          values = await readValues(this.connection, batch.map((k) => k.key));
        } catch (e) {
          this.toRead.unshift(...batch);
          if (!this.onTransportError(e, '/v1/txn')) return;
          await new Promise((r) => setTimeout(r, READ_RETRY_MS));
          continue;
        }
        if (this.ended) return;
        const now = Date.now();
        for (const k of batch) {
          const node = this.nodes.get(k.node);
          if (!node) continue;
          if (k.kind === 'out') node.output(k.seq, values.get(k.key) ?? Buffer.alloc(0));
          else if (k.kind === 'exit') node.exit(values.get(k.key), now);
        }
        this.checkDone();
      }
    } finally {
      this.reading = false;
    }
  }

  /** True when the failure is worth retrying; otherwise the job has been ended. */
  private onTransportError(err: unknown, path: string): boolean {
    if (this.ended) return false;
    const error = toConsulError(err, this.connection.address, path, path === '/v1/txn' ? 'PUT' : 'GET');
    if (error instanceof AclDeniedError || error instanceof AclTokenNotFoundError) {
      this.fail(error);
      return false;
    }
    // 404 on the listing, 409 on a read: the job's keys are gone, so its
    // session ended (expired, or destroyed by someone else).
    if (error instanceof ConsulHttpError && (error.statusCode === 404 || error.statusCode === 409)) {
      this.endRemaining('lost', "The job's session ended before the node finished, taking the job's keys with it.");
      return false;
    }
    // Any other refusal would be repeated on every retry.
    if (error instanceof ConsulHttpError && error.statusCode >= 400 && error.statusCode < 500 && error.statusCode !== 429) {
      this.fail(error);
      return false;
    }
    this.transportProblem = error.message;
    return true;
  }

  private async renew(sid: string): Promise<void> {
    try {
      if (!(await renewSession(this.connection, sid))) {
        this.endRemaining('lost', "The job's session expired before the node finished.");
      }
    } catch {
      // The next renewal retries; the TTL leaves room for two misses.
    }
  }

  /** Ends overdue targets and arms a timer for the next deadline. */
  private sweep(): void {
    clearTimeout(this.deadlineTimer);
    if (this.ended || this.firedAt === undefined || !this.plan) return;
    const { ackGraceMs, timeoutMs, heartbeatMs } = this.plan;
    const now = Date.now();
    const ackBy = this.firedAt + Math.min(ackGraceMs, timeoutMs);
    const timeoutAt = this.firedAt + timeoutMs;
    // Three missed heartbeats plus slack for a busy Raft log.
    const silenceMs = 3 * heartbeatMs + 1_000;
    const why = this.transportProblem ? ` (reading from Consul failed: ${this.transportProblem})` : '';
    let next = Infinity;
    for (const name of this.targets) {
      const node = this.nodes.get(name);
      if (!node || node.final) continue;
      if (node.ackedAt === undefined) {
        if (now >= ackBy) node.end('lost', now, undefined, `It did not acknowledge the job within ${seconds(ackBy - this.firedAt)}${why}.`);
        else next = Math.min(next, ackBy);
      } else if (node.exitListed) {
        const limit = timeoutAt + EXIT_READ_GRACE_MS;
        if (now >= limit) node.end('timeout', now, undefined, `Its exit status could not be read${why}.`);
        else next = Math.min(next, limit);
      } else if (now >= timeoutAt) {
        node.end('timeout', now, undefined, `Still running after ${seconds(timeoutMs)}; the command may still be running on the node${why}.`);
      } else if (now >= node.lastSeenAt + silenceMs) {
        node.end('lost', now, undefined, `No output or heartbeat for ${seconds(now - node.lastSeenAt)}: its agent stopped or lost contact with the servers${why}.`);
      } else {
        next = Math.min(next, timeoutAt, node.lastSeenAt + silenceMs);
      }
    }
    if (this.targets.every((t) => this.nodes.get(t)?.ackedAt === undefined && this.nodes.get(t)?.final)) {
      this.fail(new RemoteExecUnavailableError(this.targets, ackBy - this.firedAt, this.results(), this.strangers.filter((s) => this.nodes.get(s)?.ackedAt !== undefined)));
      return;
    }
    this.checkDone();
    if (!this.ended && Number.isFinite(next)) this.deadlineTimer = setTimeout(() => this.sweep(), Math.max(0, next - now) + 1);
  }

  private checkDone(): void {
    if (this.targets.every((t) => this.nodes.get(t)?.final)) this.finish();
  }

  private endRemaining(status: 'lost' | 'cancelled', note: string): void {
    if (this.ended) return;
    const now = Date.now();
    for (const t of this.targets) this.nodes.get(t)?.end(status, now, undefined, note);
    this.finish();
  }

  private fail(error: unknown): void {
    if (this.ended) return;
    this.fatal = error;
    this.finish();
  }

  /** Also stops what a launch step started after the job had already ended. */
  private finish(): void {
    this.watch?.end();
    this.watch = undefined;
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.reannounceTimer);
    if (this.ended) return;
    this.ended = true;
    this.settle();
  }

  /** Through the connection's root: a cancel that dropped the job's requests must not stop its cleanup, only hurry it. */
  private async cleanup(): Promise<void> {
    if (!this.sid) return;
    try {
      await removeJob(this.connection.root, this.sid, this.spec.signal?.aborted ? CANCELLED_CLEANUP_TIMEOUT_MS : undefined);
    } catch (e) {
      this.cleanupError = toConsulError(e, this.connection.address);
    }
  }

  private results(): NodeExecResult[] {
    const now = Date.now();
    return this.targets.map((t) => this.nodes.get(t)?.result ?? { node: t, status: 'cancelled', endedAt: now, note: 'The job ended before the node finished.' });
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
