import { EventEmitter } from 'node:events';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type Consul from 'consul';
import { ConnectionProfile, Endpoint, endpointUrl, parseAddress, ProfileError } from './profile';
import { toConsulError, UnreachableError } from './errors';
import { consulClient } from '../util/lazyLibs';

/** One live connection: the `consul` client plus what the UI says about it. */
export interface ConsulConnection {
  readonly profile: ConnectionProfile;
  readonly endpoint: Endpoint;
  /** `http(s)://host:port`, safe to show: never holds the token. */
  readonly address: string;
  readonly client: Consul;
  readonly datacenter: string | undefined;
  /** How long a request that is not a blocking query waits for an answer, in ms. */
  readonly requestTimeoutMs: number;
  /** Set on a connection made by withSignal(): its requests are dropped once this aborts. */
  readonly signal?: AbortSignal;
  /** The connection connect() made, without any signal: for cleanup that must run after a cancel. */
  readonly root: ConsulConnection;
  /**
   * Keeps the client usable until the returned function is called, even if
   * dispose() comes first: a run holds its connection until it ends.
   */
  retain(): () => void;
  /**
   * The same connection for one piece of work: every request made through it
   * is aborted the moment `signal` aborts, and refused after that.
   */
  withSignal(signal: AbortSignal): ConsulConnection;
  /** Closes the connection's sockets once every retain() has been released. */
  dispose(): void;
}

export interface ConnectOptions {
  /** Per-request limit for requests that are not blocking queries, in ms (default 10 s). Blocking queries wait their `wait` plus a margin. */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

async function readTlsFile(file: string | undefined, what: string): Promise<Buffer | undefined> {
  if (!file) return undefined;
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new ProfileError(`Cannot read the ${what} "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
  }
}

async function createAgent(profile: ConnectionProfile, endpoint: Endpoint): Promise<http.Agent | https.Agent> {
  // Keep-alive matters: every view holds a long-poll open, and reconnecting per
  // request would double the latency of each change.
  if (!endpoint.secure) return new http.Agent({ keepAlive: true });
  const [ca, cert, key] = await Promise.all([
    readTlsFile(profile.caFile, 'CA file'),
    readTlsFile(profile.certFile, 'client certificate'),
    readTlsFile(profile.keyFile, 'client key'),
  ]);
  return new https.Agent({
    keepAlive: true,
    ca,
    cert,
    key,
    servername: profile.serverName || undefined,
    rejectUnauthorized: !profile.insecureSkipVerify,
  });
}

export async function connect(profile: ConnectionProfile, token: string | undefined, options: ConnectOptions = {}): Promise<ConsulConnection> {
  const endpoint = parseAddress(profile.address);
  const agent = await createAgent(profile, endpoint);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // `timeout` here is the HTTP client's own default for every request; a
  // blocking query passes its own (the client's Watch adds a margin to `wait`).
  const ConsulClient = consulClient();
  const makeClient = () =>
    new ConsulClient({
      host: endpoint.host,
      port: endpoint.port,
      secure: endpoint.secure,
      agent,
      timeout: requestTimeoutMs,
      defaults: { ...(token ? { token } : {}), ...(profile.datacenter ? { dc: profile.datacenter } : {}) },
    } as ConstructorParameters<typeof Consul>[0]);
  const client = makeClient();
  let users = 0;
  let disposed = false;
  let destroyed = false;
  const destroyWhenIdle = () => {
    if (!disposed || users > 0 || destroyed) return;
    destroyed = true;
    client.destroy();
  };
  const base = {
    profile,
    endpoint,
    address: endpointUrl(endpoint),
    datacenter: profile.datacenter,
    requestTimeoutMs,
  };
  const root: ConsulConnection = {
    ...base,
    client,
    get root() {
      return root;
    },
    retain() {
      users++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        users--;
        destroyWhenIdle();
      };
    },
    withSignal: (signal) => scoped(signal),
    dispose() {
      disposed = true;
      destroyWhenIdle();
    },
  };
  const scoped = (signal: AbortSignal): ConsulConnection => {
    // A second client over the same sockets: only its requests carry the signal.
    const own = makeClient();
    const ctx = new EventEmitter() as EventEmitter & { canceled?: boolean };
    ctx.setMaxListeners(0);
    const onAbort = () => {
      ctx.canceled = true;
      ctx.emit('cancel');
    };
    if (signal.aborted) ctx.canceled = true;
    else signal.addEventListener('abort', onAbort, { once: true });
    (own as unknown as PapiClient)._ext('onCreate', (request, next) => {
      if (signal.aborted) return next(Object.assign(new Error('request aborted'), { isAbort: true }));
      // A watch brings its own context (ending the watch drops its request).
      request.ctx ??= ctx;
      next();
    });
    return {
      ...base,
      client: own,
      signal,
      root,
      retain: () => root.retain(),
      withSignal: (s) => scoped(AbortSignal.any([signal, s])),
      // The sockets belong to the root connection.
      dispose: () => signal.removeEventListener('abort', onAbort),
    };
  };
  return root;
}

/** The bit of the HTTP client (papi) under `consul` used to attach a cancel context to every request. */
interface PapiClient {
  _ext(event: 'onCreate', fn: (request: { ctx?: EventEmitter }, next: (err?: Error) => void) => void): void;
}

/** Thrown by call() for a request dropped because its connection's signal aborted. */
export class RequestCancelledError extends UnreachableError {
  constructor(address: string, path: string, method: string) {
    super(address, 'the request was cancelled');
    this.message = `${method} ${path} to Consul at ${address} was cancelled.`;
  }
}

/** Runs one request and converts failures into typed, token-free errors; a timeout says how long it waited. */
export async function call<T>(connection: ConsulConnection, path: string, fn: () => Promise<T>, method = 'GET'): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (connection.signal?.aborted) throw new RequestCancelledError(connection.address, path, method);
    const err = e as { isTimeout?: boolean; message?: string };
    if (err?.isTimeout) {
      const ms = Number(/\((\d+)ms\)/.exec(err.message ?? '')?.[1]) || connection.requestTimeoutMs;
      throw new UnreachableError(connection.address, `${method} ${path} got no answer within ${formatSeconds(ms)} (the request timed out)`);
    }
    throw toConsulError(e, connection.address, path, method);
  }
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
