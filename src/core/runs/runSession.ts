/**
 * The session a run holds while its editor drives it: a Consul TTL session,
 * renewed, named in the run's record. If the editor goes away the session
 * expires and readers of KV see the run as interrupted; when the run ends the
 * session is destroyed. Ordered runs lock the cluster with it (RunLock);
 * ad-hoc runs hold one without any lock.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import { renewSession } from '../exec/rexecApi';

export const RUN_SESSION_TTL = '15s';
const RENEW_MS = 5000;
/** Ending a run is best effort: a Consul that does not answer must not hold the run (or the editor's shutdown) for long. */
export const CLEANUP_TIMEOUT_MS = 2000;

export const runSessionName = (runId: string) => `chef-consul-ops run ${runId}`;

export class RunSession {
  private renewTimer: NodeJS.Timeout | undefined;
  private ended = false;

  private constructor(
    private readonly connection: ConsulConnection,
    readonly id: string,
  ) {}

  /**
   * Creates the session; the request is dropped if `signal` aborts. Renewals
   * go through the connection's root, so a cancel never stops them early.
   * `onLost` is called once if Consul says the session is gone.
   */
  static async create(
    connection: ConsulConnection,
    runId: string,
    opts: { signal?: AbortSignal; behavior?: 'release' | 'delete'; onLost?: () => void } = {},
  ): Promise<RunSession> {
    const work = opts.signal ? connection.withSignal(opts.signal) : connection;
    const created = (await call(
      work,
      '/v1/session/create',
      () => work.client.session.create({ name: runSessionName(runId), ttl: RUN_SESSION_TTL, behavior: opts.behavior ?? 'release', lockdelay: '0s' } as never),
      'PUT',
    )) as { ID?: unknown } | undefined;
    if (typeof created?.ID !== 'string' || !created.ID) throw new Error(`Consul at ${connection.address} created a session but its answer holds no session ID.`);
    const session = new RunSession(connection.root, created.ID);
    session.startRenewing(opts.onLost);
    return session;
  }

  /** A session gone (expired, destroyed) is reported once; a failed renewal is not (the TTL leaves room for the next). */
  private startRenewing(onLost?: () => void): void {
    this.renewTimer = setInterval(() => {
      renewSession(this.connection, this.id).then(
        (alive) => {
          if (alive || this.ended) return;
          clearInterval(this.renewTimer);
          onLost?.();
        },
        () => undefined,
      );
    }, RENEW_MS);
    this.renewTimer.unref?.();
  }

  /** Stops renewing and destroys the session, best effort within `timeoutMs`; never throws. */
  async destroy(timeoutMs = CLEANUP_TIMEOUT_MS): Promise<void> {
    this.ended = true;
    clearInterval(this.renewTimer);
    await this.connection.client.session.destroy({ id: this.id, timeout: timeoutMs } as never).catch(() => undefined);
  }
}
