/**
 * A blocking query kept alive only while somebody looks at it, on top of the
 * `consul` client's `Watch`. Changes are coalesced: a burst of catalog writes
 * becomes one update. After a failure the watch is restarted from index 0, so
 * the first answer after recovery is delivered even if nothing changed.
 */
import type Consul from 'consul';
import type { ConsulConnection } from './client';
import { ConsulError, toConsulError } from './errors';
import { Disposable, Emitter } from '../util/emitter';

export interface QueryMeta {
  index: string | undefined;
  knownLeader: boolean | undefined;
}

export type LiveState<T> =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'ready'; data: T; meta: QueryMeta; updatedAt: number }
  | { kind: 'error'; error: ConsulError; data?: T; since: number };

export interface LiveQueryOptions<T> {
  /** A client method `(this: { consul }, opts) => Promise<[res, body]>` as `Watch` calls it. */
  method: (this: { consul: Consul }, opts: Record<string, unknown>) => Promise<unknown>;
  path: string;
  transform: (body: unknown) => T;
  /** Blocking wait per request. */
  wait?: string;
  /** Quiet time that merges a burst of changes into one update. */
  coalesceMs?: number;
  /** Cap on the delay between reconnection attempts. */
  maxRetryMs?: number;
}

interface Watch {
  on(event: 'change', l: (data: unknown, res: { headers: Record<string, string | undefined> }) => void): void;
  on(event: 'error', l: (err: unknown) => void): void;
  end(): void;
}

export class LiveQuery<T> implements Disposable {
  private readonly emitter = new Emitter<LiveState<T>>();
  readonly onDidChange = this.emitter.event;
  private state: LiveState<T> = { kind: 'idle' };
  private subscribers = 0;
  private watch: Watch | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private coalesceTimer: NodeJS.Timeout | undefined;
  private pending: { body: unknown; meta: QueryMeta } | undefined;
  private failures = 0;
  private disposed = false;

  constructor(
    private readonly connection: ConsulConnection,
    private readonly options: LiveQueryOptions<T>,
  ) {}

  get current(): LiveState<T> {
    return this.state;
  }

  get active(): boolean {
    return this.subscribers > 0;
  }

  /** Keeps the query running until the returned handle is disposed. */
  subscribe(): Disposable {
    this.subscribers++;
    if (this.subscribers === 1) this.start();
    let released = false;
    return {
      dispose: () => {
        if (released) return;
        released = true;
        this.subscribers--;
        if (this.subscribers === 0) this.stop();
      },
    };
  }

  /** Drops the watch and asks again from scratch (the manual Refresh). */
  refresh(): void {
    if (!this.active) return;
    this.stop();
    this.start();
  }

  private start(): void {
    if (this.disposed) return;
    if (this.state.kind === 'idle') this.setState({ kind: 'loading' });
    const watch = this.connection.client.watch({
      method: this.options.method,
      options: { wait: this.options.wait ?? '30s' },
      // Let this class own retries: a restarted watch begins at index 0 and so
      // reports recovery even when the data did not change meanwhile.
      maxAttempts: 0,
    }) as unknown as Watch;
    this.watch = watch;
    watch.on('change', (body, res) => {
      if (this.watch !== watch) return;
      this.failures = 0;
      this.schedule(body, {
        index: res.headers['x-consul-index'],
        knownLeader: res.headers['x-consul-knownleader'] === undefined ? undefined : res.headers['x-consul-knownleader'] === 'true',
      });
    });
    watch.on('error', (err) => {
      if (this.watch !== watch) return;
      this.watch = undefined;
      watch.end();
      this.fail(err);
    });
  }

  private stop(): void {
    const watch = this.watch;
    this.watch = undefined;
    watch?.end();
    clearTimeout(this.retryTimer);
    clearTimeout(this.coalesceTimer);
    this.retryTimer = this.coalesceTimer = undefined;
    this.pending = undefined;
  }

  private schedule(body: unknown, meta: QueryMeta): void {
    this.pending = { body, meta };
    // The first answer goes out at once; later ones wait for the burst to end.
    const delay = this.state.kind === 'ready' ? this.options.coalesceMs ?? 100 : 0;
    if (this.coalesceTimer) return;
    this.coalesceTimer = setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    this.coalesceTimer = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (!pending || !this.active) return;
    try {
      this.setState({ kind: 'ready', data: this.options.transform(pending.body), meta: pending.meta, updatedAt: Date.now() });
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(err: unknown): void {
    const error = toConsulError(err, this.connection.address, this.options.path);
    const data = this.state.kind === 'ready' || this.state.kind === 'error' ? this.state.data : undefined;
    const since = this.state.kind === 'error' ? this.state.since : Date.now();
    this.setState({ kind: 'error', error, data, since });
    this.failures++;
    const delay = Math.min(this.options.maxRetryMs ?? 3000, 250 * 2 ** Math.min(this.failures - 1, 6));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.active && !this.watch) this.start();
    }, delay);
  }

  private setState(state: LiveState<T>): void {
    this.state = state;
    this.emitter.fire(state);
  }

  dispose(): void {
    this.disposed = true;
    this.subscribers = 0;
    this.stop();
    this.emitter.dispose();
  }
}
