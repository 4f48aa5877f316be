/**
 * A signed request client for the Chef Infra Server API (and Chef 11-style
 * servers such as goiardi). Signs every request (X-Ops-Sign 1.3, falling back
 * to 1.1 and 1.0 where the server rejects the version, and remembering the one
 * that works), gzips large bodies, and turns every failure into a
 * ChefServerError with a kind and a message that says what to do.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import { SIGN_VERSIONS, SignVersion, signRequest } from './signing';

export type ChefServerErrorKind =
  | 'wrong-key'
  | 'unknown-client'
  | 'clock-skew'
  | 'forbidden'
  | 'not-found'
  | 'unreachable'
  | 'tls'
  | 'server'
  | 'bad-response';

export class ChefServerError extends Error {
  override readonly name = 'ChefServerError';
  constructor(
    readonly kind: ChefServerErrorKind,
    message: string,
    readonly details: {
      status?: number;
      method?: string;
      /** Full URL of the request (no query string). */
      url?: string;
      /** The server's own error text, when it gave one. */
      serverMessage?: string;
      /** Local clock minus server clock, in milliseconds (clock-skew). */
      skewMs?: number;
      /** The system error code (ECONNREFUSED, CERT_HAS_EXPIRED, …). */
      code?: string;
    } = {},
  ) {
    super(message);
  }
}

export type Clock = () => Date;

export interface ChefServerClientOptions {
  /** e.g. `https://chef.example.com/organizations/acme` or `http://127.0.0.1:4545`. */
  serverUrl: string;
  /** The client or user name (knife's node_name / client_name). */
  clientName: string;
  /** Path of the client's PEM private key; read when the first request is signed. */
  clientKeyPath?: string;
  /** The PEM key itself (tests); takes precedence over clientKeyPath. */
  clientKey?: string | crypto.KeyObject;
  /** The signing version to try first (default 1.3). */
  signVersion?: SignVersion;
  /** X-Ops-Server-API-Version (default '1'). */
  serverApiVersion?: string;
  /** Per request, milliseconds (default 30000). */
  timeoutMs?: number;
  /** Bodies of at least this many bytes are gzipped (default 64 KiB); 0 gzips every body. */
  gzipThreshold?: number;
  /** Injectable clock for the signature timestamp and for measuring clock skew. */
  clock?: Clock;
  /** Extra CA certificates (PEM) for a server with a private CA. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** false accepts any certificate (knife's ssl_verify_mode :verify_none). */
  verifyTls?: boolean;
  /** Sent as X-Chef-Version (some servers want one). */
  chefVersion?: string;
  /** Largest response body accepted, in bytes, before and after gunzip (default 64 MiB). */
  maxResponseBytes?: number;
}

export interface ChefRequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** true: gzip whatever the size; false: never; default: by gzipThreshold. */
  gzip?: boolean;
}

export interface ChefResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const DEFAULT_GZIP_THRESHOLD = 64 * 1024;
/** Past this difference to the server's clock a rejected signature is blamed on the clock (Chef servers allow 15 minutes). */
const SKEW_BLAME_MS = 15 * 60_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class ChefServerClient {
  readonly serverUrl: URL;
  readonly clientName: string;
  private readonly options: ChefServerClientOptions;
  private key: crypto.KeyObject | undefined;
  /** mtime and size of the key file when `key` was read from it: a replaced file is read again. */
  private keyStamp: string | undefined;
  private version: SignVersion;
  private readonly clock: Clock;

  constructor(options: ChefServerClientOptions) {
    let url: URL;
    try {
      url = new URL(options.serverUrl);
    } catch {
      throw new ChefServerError('unreachable', `Not a Chef server URL: "${options.serverUrl}" (expected e.g. https://chef.example.com/organizations/acme)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ChefServerError('unreachable', `Not a Chef server URL: "${options.serverUrl}" (only http and https are supported)`);
    }
    if (url.username || url.password) {
      // Never echo the URL: it holds a password.
      throw new ChefServerError('unreachable', `The Chef server URL of "${options.clientName}" holds a user name or password (user:pass@): remove it — Chef servers authenticate requests by the client key`);
    }
    url.pathname = url.pathname.replace(/\/+$/, '');
    url.search = '';
    url.hash = '';
    this.serverUrl = url;
    this.clientName = options.clientName;
    this.options = options;
    this.version = options.signVersion ?? '1.3';
    this.clock = options.clock ?? (() => new Date());
    if (options.clientKey !== undefined) this.key = toKey(options.clientKey, 'the given key');
  }

  /** The signing version that worked last (or that is tried first). */
  get signVersion(): SignVersion {
    return this.version;
  }

  /** `/organizations/acme/nodes` for `nodes` or `/nodes`: the full path that is requested and signed. */
  fullPath(path: string): string {
    const rel = path.startsWith('/') ? path : `/${path}`;
    return `${this.serverUrl.pathname.replace(/\/+$/, '')}${rel}`;
  }

  get<T = unknown>(path: string, opts?: ChefRequestOptions): Promise<T> {
    return this.request<T>('GET', path, undefined, opts).then((r) => r.body);
  }

  post<T = unknown>(path: string, body: unknown, opts?: ChefRequestOptions): Promise<T> {
    return this.request<T>('POST', path, body, opts).then((r) => r.body);
  }

  put<T = unknown>(path: string, body: unknown, opts?: ChefRequestOptions): Promise<T> {
    return this.request<T>('PUT', path, body, opts).then((r) => r.body);
  }

  delete<T = unknown>(path: string, opts?: ChefRequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, undefined, opts).then((r) => r.body);
  }

  /** One signed request; the body is JSON-encoded. Throws ChefServerError for any failure. */
  async request<T = unknown>(method: string, path: string, body?: unknown, opts: ChefRequestOptions = {}): Promise<ChefResponse<T>> {
    method = method.toUpperCase();
    // URL parsing would drop `.`/`..` segments after the path was signed (and reach another object).
    const segment = path.split(/[?#]/)[0].split('/').find((p) => p === '.' || p === '..' || /^%2e(%2e)?$|^\.%2e$|^%2e\.$/i.test(p));
    if (segment !== undefined) throw new ChefServerError('not-found', `Not a Chef object path: "${path}" has a "${decodeURIComponent(segment)}" segment (a node or object name cannot be "." or "..")`, { method });
    const fullPath = this.fullPath(path);
    const url = new URL(this.serverUrl.href);
    url.pathname = fullPath;
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let payload: Buffer = Buffer.alloc(0);
    let gzipped = false;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      const threshold = this.options.gzipThreshold ?? DEFAULT_GZIP_THRESHOLD;
      if (opts.gzip ?? payload.length >= threshold) {
        payload = zlib.gzipSync(payload);
        gzipped = true;
      }
    }
    const key = this.loadKey();
    const tried = new Set<SignVersion>();
    for (;;) {
      const version = this.version;
      tried.add(version);
      const now = this.clock();
      const apiVersion = this.options.serverApiVersion ?? '1';
      const headers: Record<string, string> = {
        Accept: 'application/json',
        'Accept-Encoding': 'gzip',
        'X-Chef-Version': this.options.chefVersion ?? '14.0.0',
        'X-Ops-Server-API-Version': apiVersion,
        ...signRequest({ method, path: fullPath, body: payload, userId: this.clientName, key, version, time: now, serverApiVersion: apiVersion }),
        ...opts.headers,
      };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
        if (gzipped) headers['Content-Encoding'] = 'gzip';
      }
      const raw = await this.send(method, url, headers, payload, opts);
      if (raw.status >= 200 && raw.status < 300) return { status: raw.status, headers: raw.headers, body: parseBody<T>(raw, method, url) };
      const offered = offeredVersions(raw);
      const next = this.versionRejected(raw) ? SIGN_VERSIONS.find((v) => !tried.has(v) && (!offered.length || offered.includes(v))) : undefined;
      if (next) {
        this.version = next;
        continue;
      }
      throw this.failure(raw, method, url, now);
    }
  }

  /** The key; one read from a file is read again once the file changed (a replaced key is used at once). */
  private loadKey(): crypto.KeyObject {
    if (this.key && this.options.clientKey !== undefined) return this.key;
    const path = this.options.clientKeyPath;
    if (!path) throw new ChefServerError('wrong-key', `No client key for Chef client "${this.clientName}": set the path of its .pem file`);
    let pem: string;
    let stamp: string;
    try {
      const st = fs.statSync(path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (this.key && stamp === this.keyStamp) return this.key;
      pem = fs.readFileSync(path, 'utf8');
    } catch (e) {
      throw new ChefServerError('wrong-key', `Cannot read the client key ${path} of Chef client "${this.clientName}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.key = toKey(pem, path);
    this.keyStamp = stamp;
    return this.key;
  }

  /** The server said it does not speak our signing version. */
  private versionRejected(raw: RawResponse): boolean {
    if (raw.status !== 400 && raw.status !== 401) return false;
    const versions = offeredVersions(raw);
    if (raw.status === 401 && versions.length && !versions.includes(this.version)) return true;
    if (raw.status === 400) {
      const text = serverMessage(raw.text).toLowerCase();
      return /x-ops-sign|sign(ing)? version|version .*not supported|unsupported .*version|bad version|invalid version/.test(text) && !/api.version/.test(text);
    }
    return false;
  }

  private failure(raw: RawResponse, method: string, url: URL, sentAt: Date): ChefServerError {
    const server = serverMessage(raw.text);
    const where = `${method} ${url.pathname}`;
    const details = { status: raw.status, method, url: url.origin + url.pathname, serverMessage: server };
    const said = server ? `; the server said: ${server}` : '';
    if (raw.status === 401) {
      const dateHeader = raw.headers.date;
      const serverTime = dateHeader ? Date.parse(dateHeader) : NaN;
      const skewMs = Number.isNaN(serverTime) ? undefined : sentAt.getTime() - serverTime;
      const text = server.toLowerCase();
      if (/clock|timestamp|time skew|synchroni[sz]e/.test(text) || (skewMs !== undefined && Math.abs(skewMs) > SKEW_BLAME_MS)) {
        const how =
          skewMs === undefined
            ? 'by an unknown amount (the server sent no Date header)'
            : `by ${describeDuration(Math.abs(skewMs))} (${skewMs > 0 ? 'ahead of' : 'behind'} the server: local ${sentAt.toISOString()}, server ${new Date(serverTime).toISOString()})`;
        return new ChefServerError('clock-skew', `The Chef server ${this.serverUrl.origin} rejected the request time: this machine's clock is off ${how}. Synchronize the clock (NTP) and try again`, { ...details, skewMs });
      }
      if (/not found|no such|unknown|does not exist|failed to authenticate as/.test(text) && !/signature|verification/.test(text)) {
        return new ChefServerError('unknown-client', `The Chef server ${this.serverUrl.origin} does not know the client "${this.clientName}": check client_name / node_name${said}`, details);
      }
      return this.wrongKey(details, said);
    }
    if (raw.status === 403) {
      return new ChefServerError('forbidden', `Permission denied: the Chef client "${this.clientName}" may not ${where} on ${this.serverUrl.origin}${said}`, details);
    }
    if (raw.status === 404) {
      // Chef Infra Server serves an organisation's objects under /organizations/<org>; goiardi (Chef 11 style) at the root.
      const hint = raw.headers['x-goiardi'] !== 'yes' && !/\/organizations\/[^/]+/.test(this.serverUrl.pathname) && /^\/(nodes|roles|environments|clients|cookbooks|data|search|reports|users|sandboxes)\b/.test(url.pathname)
        ? ` (Chef Infra Server URLs end in /organizations/<org>: is the profile's server URL ${this.serverUrl.origin}${this.serverUrl.pathname} missing it?)`
        : '';
      return new ChefServerError('not-found', `Not found on the Chef server: ${where}${said}${hint}`, details);
    }
    if (raw.status === 406 && /api.version/i.test(raw.text)) {
      return new ChefServerError('server', `The Chef server does not accept X-Ops-Server-API-Version ${this.options.serverApiVersion ?? '1'}${said}`, details);
    }
    return new ChefServerError('server', `The Chef server answered ${raw.status} to ${where}${said}`, details);
  }

  private wrongKey(details: ChefServerError['details'], said: string): ChefServerError {
    const keyName = this.options.clientKeyPath ? ` (${this.options.clientKeyPath})` : '';
    return new ChefServerError('wrong-key', `The Chef server ${this.serverUrl.origin} rejected the signature of "${this.clientName}": the client key${keyName} is not this client's key${said}`, details);
  }

  private send(method: string, url: URL, headers: Record<string, string>, payload: Buffer, opts: ChefRequestOptions): Promise<RawResponse> {
    const signal = opts.signal;
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const lib = url.protocol === 'https:' ? https : http;
    const maxBytes = this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    return new Promise<RawResponse>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const req = lib.request(
        url,
        {
          method,
          headers,
          ca: this.options.ca,
          rejectUnauthorized: this.options.verifyTls ?? true,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const tooLarge = () =>
            new ChefServerError('bad-response', `The Chef server's answer to ${method} ${url.pathname} is larger than ${describeBytes(maxBytes)}, the most this client reads; ask for less (fewer rows, a narrower date window, a partial search)`, { status: res.statusCode, method, url: url.origin + url.pathname });
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              done();
              req.destroy();
              return reject(tooLarge());
            }
            chunks.push(c);
          });
          res.on('error', (e) => fail(e));
          res.on('end', () => {
            let data = Buffer.concat(chunks);
            try {
              if (/gzip/i.test(String(res.headers['content-encoding'] ?? ''))) data = zlib.gunzipSync(data, { maxOutputLength: maxBytes });
            } catch (e) {
              done();
              if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return reject(tooLarge());
              return reject(new ChefServerError('bad-response', `The Chef server sent a broken gzip body for ${method} ${url.pathname}`, { status: res.statusCode, method, url: url.origin + url.pathname }));
            }
            done();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: data.toString('utf8') });
          });
        },
      );
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      const onAbort = () => req.destroy(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: Error) => {
        done();
        if (signal?.aborted) return reject(abortError(signal));
        reject(this.networkError(e as NodeJS.ErrnoException, method, url));
      };
      req.on('error', fail);
      req.end(payload.length ? payload : undefined);
    });
  }

  private networkError(e: NodeJS.ErrnoException, method: string, url: URL): ChefServerError {
    const code = e.code ?? '';
    const details = { method, url: url.origin + url.pathname, code };
    if (TLS_CODES.has(code) || /^ERR_(SSL|TLS)|^CERT_|_CERT|SSL/.test(code) || /ssl|tls|certificate/i.test(e.message)) {
      const what = TLS_TEXT[code] ?? e.message;
      const advice = TRUST_CODES.has(code) ? `. ${TRUST_ADVICE}` : '';
      return new ChefServerError('tls', `TLS problem with the Chef server ${url.origin}: ${what} (${code || 'TLS'})${advice}`, details);
    }
    const why =
      code === 'ECONNREFUSED' ? 'connection refused (is the server running on that port?)'
      : code === 'ENOTFOUND' ? 'host name not found'
      : code === 'ETIMEDOUT' ? e.message
      : code === 'ECONNRESET' ? 'the connection was reset'
      : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'no route to the host'
      : e.message;
    return new ChefServerError('unreachable', `Chef server ${url.origin} unreachable: ${why}`, details);
  }
}

/** How to trust a self-signed or private-CA server, with the exact settings. */
export const TRUST_ADVICE =
  'To trust it, set "caFile" (the path of its CA certificate, PEM) on the profile in the setting chefConsul.chef.profiles, or save the certificate in ~/.chef/trusted_certs/ (knife ssl fetch) for profiles from ~/.chef; "verifyTls": false turns verification off for that profile';
const TLS_TEXT: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate is in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate cannot be verified against a known CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer of the certificate is unknown',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  CERT_NOT_YET_VALID: 'the server certificate is not valid yet (check this machine\'s clock)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host',
  EPROTO: 'the TLS handshake failed (is it an http:// server?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on that port (try http://)',
};
const TLS_CODES = new Set(Object.keys(TLS_TEXT));
const TRUST_CODES = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);

function describeBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / (1024 * 1024))} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} bytes`;
}

/** The signing versions a 401 offers in `WWW-Authenticate: X-Ops-Sign version="1.0" version="1.1"`. */
function offeredVersions(raw: RawResponse): string[] {
  const header = String(raw.headers['www-authenticate'] ?? '');
  return [...header.matchAll(/version="([\d.]+)"/g)].map((m) => m[1]);
}

function toKey(pem: string | crypto.KeyObject, where: string): crypto.KeyObject {
  if (typeof pem !== 'string') return pem;
  try {
    return crypto.createPrivateKey(pem);
  } catch (e) {
    throw new ChefServerError('wrong-key', `The client key ${where} is not a PEM private key: ${(e as Error).message}`);
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('The Chef server request was cancelled');
  e.name = 'AbortError';
  return e;
}

function parseBody<T>(raw: RawResponse, method: string, url: URL): T {
  if (raw.text.trim() === '') return undefined as T;
  try {
    return JSON.parse(raw.text) as T;
  } catch {
    throw new ChefServerError('bad-response', `The Chef server's answer to ${method} ${url.pathname} is not JSON: ${raw.text.slice(0, 120)}`, { status: raw.status, method, url: url.origin + url.pathname });
  }
}

/** Longest server error text kept (it reaches messages and toasts). */
export const MAX_SERVER_MESSAGE = 300;

/** The server's error text: `{"error": ["…"]}` (Chef), `{"error": "…"}`, or the body itself; at most 300 characters. */
export function serverMessage(text: string): string {
  let message = text.trim();
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    const e = j.error ?? j.message;
    if (Array.isArray(e)) message = [...new Set(e.map(String))].join('; ');
    else if (typeof e === 'string') message = e;
  } catch {
    // not JSON
  }
  return message.length > MAX_SERVER_MESSAGE ? `${message.slice(0, MAX_SERVER_MESSAGE - 1)}…` : message;
}

/** "20 minutes", "1 hour 5 minutes", "45 seconds". */
export function describeDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minutes`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return `${h} hour${h === 1 ? '' : 's'}${rest ? ` ${rest} minute${rest === 1 ? '' : 's'}` : ''}`;
}
