/**
 * Typed failures that carry the sentence the user reads. None of them ever
 * contains the ACL token.
 */

export type ConsulErrorKind = 'unreachable' | 'tls' | 'aclDenied' | 'aclTokenNotFound' | 'http' | 'profile';

export abstract class ConsulError extends Error {
  abstract readonly kind: ConsulErrorKind;
  constructor(
    message: string,
    readonly address: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnreachableError extends ConsulError {
  readonly kind = 'unreachable';
  constructor(
    address: string,
    readonly reason: string,
  ) {
    super(`Cannot reach Consul at ${address}: ${reason}.`, address);
  }
}

export class TlsError extends ConsulError {
  readonly kind = 'tls';
  constructor(
    address: string,
    readonly reason: string,
  ) {
    super(`TLS handshake with ${address} failed: ${reason}`, address);
  }
}

export class AclDeniedError extends ConsulError {
  readonly kind = 'aclDenied';
  constructor(
    address: string,
    /** The ACL rule the token lacks, e.g. `node:read`, when the request tells. */
    readonly permission: string | undefined,
  ) {
    super(
      permission
        ? `Permission denied by Consul at ${address}: the token needs ${permission}.`
        : `Permission denied by Consul at ${address}: the token lacks the rights for this request.`,
      address,
    );
  }
}

export class AclTokenNotFoundError extends ConsulError {
  readonly kind = 'aclTokenNotFound';
  constructor(address: string) {
    super(`Consul at ${address} does not know the configured ACL token (ACL not found). Set a valid token.`, address);
  }
}

export class ConsulHttpError extends ConsulError {
  readonly kind = 'http';
  constructor(
    address: string,
    readonly statusCode: number,
    readonly detail: string,
  ) {
    super(`Consul at ${address} answered HTTP ${statusCode}: ${detail}`, address);
  }
}

const TLS_CODES: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate is signed by an unknown CA (set the CA file of the profile, or CONSUL_CACERT)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted (set the CA file of the profile)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not signed by a trusted CA (set the CA file of the profile, or CONSUL_CACERT)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer of the server certificate is unknown (set the CA file of the profile)',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this host (set the TLS server name of the profile)',
  EPROTO: 'the server does not speak TLS on this port (check http vs https)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on this port (check http vs https)',
};

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the agent running?)',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (DNS lookup failed)',
  ETIMEDOUT: 'the connection timed out',
  ECONNABORTED: 'the connection was aborted',
  EPIPE: 'the connection was closed',
};

interface ErrorLike {
  message?: string;
  code?: string;
  isTimeout?: boolean;
  cause?: unknown;
  response?: { statusCode?: number; body?: unknown; req?: { path?: string } };
}

function innermostCode(err: ErrorLike): string | undefined {
  let current: ErrorLike | undefined = err;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current.code) return current.code;
    current = current.cause as ErrorLike | undefined;
  }
  return undefined;
}

/** `rules` words Consul puts in some 403 bodies, e.g. "Permission denied: token lacks node:read". */
function permissionFromBody(body: string): string | undefined {
  const m = /\b((?:acl|agent|event|key|keyring|node|operator|query|service|session|intention)(?:_prefix)?:(?:read|write|list|deny))\b/i.exec(body);
  return m?.[1];
}

/** What a denied request to this API path needs, where the path says it. */
export function permissionForPath(path: string, method = 'GET'): string | undefined {
  const access = method === 'GET' ? 'read' : 'write';
  const p = path.replace(/^\/v1/, '').split('?')[0];
  const decode = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  };
  if (p.startsWith('/kv/')) return `key:${access} on "${decode(p.slice(4))}"`;
  if (p.startsWith('/event/fire/')) return `event:write on "${decode(p.slice(12))}"`;
  if (p.startsWith('/session/')) return `session:${access}`;
  if (p.startsWith('/agent/service/')) return 'service:write';
  if (p.startsWith('/agent/')) return `agent:${access}`;
  if (p.startsWith('/catalog/node') || p.startsWith('/health/node') || p.startsWith('/internal/ui/node')) return `node:${access}`;
  if (p.startsWith('/catalog/service') || p.startsWith('/health/service')) return `service:${access}`;
  if (p.startsWith('/acl/')) return `acl:${access}`;
  if (p.startsWith('/operator/')) return `operator:${access}`;
  return undefined;
}

/** Turns whatever the HTTP client threw into a ConsulError with a readable sentence. */
export function toConsulError(err: unknown, address: string, path?: string, method?: string): ConsulError {
  if (err instanceof ConsulError) return err;
  const e = (err ?? {}) as ErrorLike;
  const status = e.response?.statusCode;
  if (status !== undefined) {
    const body = typeof e.response?.body === 'string' ? e.response.body : e.message ?? '';
    if (status === 403 && /acl not found/i.test(body)) return new AclTokenNotFoundError(address);
    if (status === 403) {
      return new AclDeniedError(address, permissionFromBody(body) ?? (path ? permissionForPath(path, method) : undefined));
    }
    return new ConsulHttpError(address, status, sanitize(body || 'no detail'));
  }
  const code = innermostCode(e);
  if (code && TLS_CODES[code]) return new TlsError(address, TLS_CODES[code]);
  if (code && /^ERR_(TLS|SSL)_|^(CERT|UNABLE_TO)_/.test(code)) return new TlsError(address, `${code} ${sanitize(e.message ?? '')}`.trim());
  if (code && NETWORK_CODES[code]) return new UnreachableError(address, NETWORK_CODES[code]);
  if (e.isTimeout) return new UnreachableError(address, 'the request timed out');
  return new UnreachableError(address, sanitize(e.message ?? String(err)));
}

/** Bodies come from a remote server: keep them short and on one line. */
function sanitize(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
