/**
 * One ordered run at a time per cluster, like metronome's lock: a Consul
 * session (TTL, renewed) acquires a key. If the editor holding it goes away,
 * the session expires, the lock frees itself, and the run's record — which
 * names the session — reads as interrupted.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import { CLEANUP_TIMEOUT_MS, RunSession } from './runSession';

export const RUN_LOCK_KEY = 'chef-consul-ops/run-lock';

export interface LockHolder {
  runId: string;
  startedBy: string;
  what: string;
  since: number;
}

export class RunLockBusyError extends Error {
  constructor(readonly holder: LockHolder | undefined) {
    super(
      holder
        ? `Another run holds the cluster: "${holder.what}" (run ${holder.runId}) started by ${holder.startedBy} at ${new Date(holder.since).toLocaleString()}.`
        : 'Another run holds the cluster lock.',
    );
    this.name = 'RunLockBusyError';
  }
}

function parseHolder(value: unknown): LockHolder | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const h = JSON.parse(value) as Partial<LockHolder>;
    return typeof h.runId === 'string' ? { runId: h.runId, startedBy: String(h.startedBy ?? '?'), what: String(h.what ?? '?'), since: Number(h.since) || 0 } : undefined;
  } catch {
    return undefined;
  }
}

export class RunLock {
  private constructor(
    private readonly connection: ConsulConnection,
    private readonly held: RunSession,
  ) {}

  /** The session holding the lock, named in the run's record. */
  get session(): string {
    return this.held.id;
  }

  /** Who holds the lock now, if anybody. */
  static async holder(connection: ConsulConnection): Promise<LockHolder | undefined> {
    const item = (await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () => connection.client.kv.get(RUN_LOCK_KEY))) as { Value?: unknown; Session?: string } | undefined;
    return item?.Session ? parseHolder(item.Value) : undefined;
  }

  /**
   * Takes the lock. With `waitMs`, waits that long for the holder to finish,
   * reporting whom it waits for; otherwise refuses at once. Every request
   * made while taking it is dropped when `signal` aborts.
   */
  static async acquire(
    connection: ConsulConnection,
    holder: LockHolder,
    opts: { waitMs?: number; onWait?: (h: LockHolder | undefined) => void; signal?: AbortSignal; onLost?: () => void } = {},
  ): Promise<RunLock> {
    const work = opts.signal ? connection.withSignal(opts.signal) : connection;
    const session = await RunSession.create(connection, holder.runId, { signal: opts.signal, behavior: 'delete', onLost: opts.onLost });
    const lock = new RunLock(connection.root, session);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    try {
      for (;;) {
        const ok = await call(work, `/v1/kv/${RUN_LOCK_KEY}`, () => work.client.kv.set({ key: RUN_LOCK_KEY, value: JSON.stringify(holder), acquire: session.id } as never), 'PUT');
        if (ok === true) return lock;
        const current = await RunLock.holder(work);
        if (Date.now() >= deadline || opts.signal?.aborted) throw new RunLockBusyError(current);
        opts.onWait?.(current);
        // A blocking read returns as soon as the holder releases or its session expires.
        await RunLock.waitForChange(work, Math.min(10_000, deadline - Date.now()));
      }
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Blocks until the lock key changes or `ms` passes; a cancel drops the request through the connection's signal. */
  private static async waitForChange(connection: ConsulConnection, ms: number): Promise<void> {
    const first = (await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () => connection.client.kv.get({ key: RUN_LOCK_KEY } as never))) as { ModifyIndex?: number } | undefined;
    if (!first?.ModifyIndex || connection.signal?.aborted) return;
    const waitS = Math.max(1, Math.round(ms / 1000));
    await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () =>
      // A blocking query answers after `wait` at the latest: the margin covers Consul's own jitter (wait/16).
      connection.client.kv.get({ key: RUN_LOCK_KEY, index: String(first.ModifyIndex), wait: `${waitS}s`, timeout: waitS * 1000 + Math.max(1000, waitS * 100) + 1000 } as never),
    ).catch(() => undefined);
  }

  /** Frees the lock and ends its session, best effort: each step gives up after `timeoutMs`. Never throws. */
  async release(timeoutMs = CLEANUP_TIMEOUT_MS): Promise<void> {
    await this.connection.client.kv.set({ key: RUN_LOCK_KEY, value: '', release: this.held.id, timeout: timeoutMs } as never).catch(() => undefined);
    await this.held.destroy(timeoutMs);
  }
}
