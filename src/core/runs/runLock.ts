/**
 * One ordered run at a time per cluster, like metronome's lock: a Consul
 * session (TTL, renewed) acquires a key. If the editor holding it goes away,
 * the session expires, the lock frees itself, and the run's record — which
 * names the session — reads as interrupted.
 */
import type { ConsulConnection } from '../consul/client';
import { EventEmitter } from 'node:events';
import { call } from '../consul/client';
import { renewSession } from '../exec/rexecApi';

export const RUN_LOCK_KEY = 'chef-consul-ops/run-lock';
const TTL = '15s';
const RENEW_MS = 5000;

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
  private renewTimer: NodeJS.Timeout | undefined;
  private constructor(
    private readonly connection: ConsulConnection,
    readonly session: string,
  ) {}

  /** Who holds the lock now, if anybody. */
  static async holder(connection: ConsulConnection): Promise<LockHolder | undefined> {
    const item = (await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () => connection.client.kv.get(RUN_LOCK_KEY))) as { Value?: unknown; Session?: string } | undefined;
    return item?.Session ? parseHolder(item.Value) : undefined;
  }

  /**
   * Takes the lock. With `waitMs`, waits that long for the holder to finish,
   * reporting whom it waits for; otherwise refuses at once.
   */
  static async acquire(
    connection: ConsulConnection,
    holder: LockHolder,
    opts: { waitMs?: number; onWait?: (h: LockHolder | undefined) => void; signal?: AbortSignal; onLost?: () => void } = {},
  ): Promise<RunLock> {
    const created = (await call(connection, '/v1/session/create', () =>
      connection.client.session.create({ name: `chef-consul-ops run ${holder.runId}`, ttl: TTL, behavior: 'delete', lockdelay: '0s' } as never),
      'PUT',
    )) as { ID?: unknown } | undefined;
    if (typeof created?.ID !== 'string') throw new Error(`Consul at ${connection.address} created a session but its answer holds no session ID.`);
    const lock = new RunLock(connection, created.ID);
    lock.startRenewing(opts.onLost);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    try {
      for (;;) {
        const ok = await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () => connection.client.kv.set({ key: RUN_LOCK_KEY, value: JSON.stringify(holder), acquire: created.ID } as never), 'PUT');
        if (ok === true) return lock;
        const current = await RunLock.holder(connection);
        if (Date.now() >= deadline || opts.signal?.aborted) throw new RunLockBusyError(current);
        opts.onWait?.(current);
        // A blocking read returns as soon as the holder releases or its session expires.
        await RunLock.waitForChange(connection, Math.min(10_000, deadline - Date.now()), opts.signal);
      }
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Blocks until the lock key changes, `ms` passes, or the signal aborts (the client drops the request on 'cancel'). */
  private static async waitForChange(connection: ConsulConnection, ms: number, signal?: AbortSignal): Promise<void> {
    const first = (await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () => connection.client.kv.get({ key: RUN_LOCK_KEY } as never))) as { ModifyIndex?: number } | undefined;
    if (!first?.ModifyIndex || signal?.aborted) return;
    const ctx = new EventEmitter();
    const onAbort = () => ctx.emit('cancel');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await call(connection, `/v1/kv/${RUN_LOCK_KEY}`, () =>
        connection.client.kv.get({ key: RUN_LOCK_KEY, index: String(first.ModifyIndex), wait: `${Math.max(1, Math.round(ms / 1000))}s`, ctx } as never),
      ).catch(() => undefined);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A session gone (expired, destroyed) means the lock is gone: another run may start, so say so. */
  private startRenewing(onLost?: () => void): void {
    this.renewTimer = setInterval(() => {
      renewSession(this.connection, this.session).then(
        (alive) => {
          if (alive) return;
          clearInterval(this.renewTimer);
          onLost?.();
        },
        () => undefined, // unreachable for a moment: the TTL leaves room for the next try
      );
    }, RENEW_MS);
    this.renewTimer.unref?.();
  }

  async release(): Promise<void> {
    clearInterval(this.renewTimer);
    await this.connection.client.kv.set({ key: RUN_LOCK_KEY, value: '', release: this.session } as never).catch(() => undefined);
    await this.connection.client.session.destroy(this.session).catch(() => undefined);
  }
}
