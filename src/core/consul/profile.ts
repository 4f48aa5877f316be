/**
 * Connection profiles: what the user configured, or what the consul CLI's
 * environment says, resolved to one concrete endpoint.
 */

export interface ConnectionProfile {
  name: string;
  /** `host:port`, `http://host:port` or `https://host:port`, as CONSUL_HTTP_ADDR takes it. */
  address: string;
  datacenter?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  /** Opt-in only: accept any server certificate. */
  insecureSkipVerify?: boolean;
  /** Multi-node events, exec and phase runs ask for typed confirmation. */
  production?: boolean;
}

export interface Endpoint {
  secure: boolean;
  host: string;
  port: number;
}

export const DEFAULT_ADDRESS = '127.0.0.1:8500';
export const ENVIRONMENT_PROFILE_NAME = 'Environment';

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

/**
 * Parses an address the way the consul CLI does: a scheme decides TLS, and
 * without one CONSUL_HTTP_SSL (or the caller's `secureDefault`) does.
 */
export function parseAddress(address: string, secureDefault = false): Endpoint {
  const trimmed = address.trim();
  if (!trimmed) {
    throw new ProfileError('The Consul address is empty; expected host:port, e.g. 127.0.0.1:8500.');
  }
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed);
  let url: URL;
  try {
    url = new URL(hasScheme ? trimmed : `${secureDefault ? 'https' : 'http'}://${trimmed}`);
  } catch {
    throw new ProfileError(`"${address}" is not a valid Consul address; expected host:port or http(s)://host:port.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProfileError(`Unsupported scheme "${url.protocol}" in Consul address "${address}"; use http or https.`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new ProfileError(`The Consul address "${address}" must not contain a path.`);
  }
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 8501 : 8500;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { secure, host, port };
}

export function endpointUrl(endpoint: Endpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.secure ? 'https' : 'http'}://${host}:${endpoint.port}`;
}

/** The profile the consul CLI would use with this environment. */
export function profileFromEnvironment(env: NodeJS.ProcessEnv): ConnectionProfile {
  const secure = isTruthy(env.CONSUL_HTTP_SSL);
  const rawAddress = env.CONSUL_HTTP_ADDR?.trim() || DEFAULT_ADDRESS;
  const endpoint = parseAddress(rawAddress, secure);
  const profile: ConnectionProfile = {
    name: ENVIRONMENT_PROFILE_NAME,
    address: endpointUrl(endpoint),
  };
  if (env.CONSUL_CACERT) profile.caFile = env.CONSUL_CACERT;
  if (env.CONSUL_CLIENT_CERT) profile.certFile = env.CONSUL_CLIENT_CERT;
  if (env.CONSUL_CLIENT_KEY) profile.keyFile = env.CONSUL_CLIENT_KEY;
  if (env.CONSUL_TLS_SERVER_NAME) profile.serverName = env.CONSUL_TLS_SERVER_NAME;
  // The CLI's CONSUL_HTTP_SSL_VERIFY=false is the only way to skip verification.
  if (env.CONSUL_HTTP_SSL_VERIFY?.trim().toLowerCase() === 'false') profile.insecureSkipVerify = true;
  return profile;
}

/** The token the consul CLI would send with this environment, if any. */
export function tokenFromEnvironment(env: NodeJS.ProcessEnv): string | undefined {
  return env.CONSUL_HTTP_TOKEN?.trim() || undefined;
}

/** Checks a configured profile; returns the problems in words, empty when fine. */
export function validateProfile(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['a profile must be an object'];
  const p = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof p.name !== 'string' || !p.name.trim()) problems.push('"name" is required');
  if (typeof p.address !== 'string' || !p.address.trim()) {
    problems.push('"address" is required');
  } else {
    try {
      parseAddress(p.address);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  for (const key of ['datacenter', 'caFile', 'certFile', 'keyFile', 'serverName'] as const) {
    if (p[key] !== undefined && typeof p[key] !== 'string') problems.push(`"${key}" must be a string`);
  }
  for (const key of ['insecureSkipVerify', 'production'] as const) {
    if (p[key] !== undefined && typeof p[key] !== 'boolean') problems.push(`"${key}" must be true or false`);
  }
  if ((p.certFile === undefined) !== (p.keyFile === undefined)) {
    problems.push('"certFile" and "keyFile" go together');
  }
  return problems;
}

/**
 * Why `name` cannot join profiles already named `taken`, or undefined. Names
 * that differ only in case are refused: a profile's name is the authority of
 * its `consul-kv:` URIs, which VS Code compares without case.
 */
export function profileNameClash(taken: readonly string[], name: string): string | undefined {
  const same = taken.find((t) => t !== name && t.toLowerCase() === name.toLowerCase());
  return same === undefined ? undefined : `the name "${name}" differs only in case from the profile "${same}"; profile names must differ in more than case`;
}

/**
 * The profile in force: the named one among the configured profiles, else the
 * first configured, else the environment's.
 */
export function resolveActiveProfile(
  configured: readonly ConnectionProfile[],
  activeName: string | undefined,
  env: NodeJS.ProcessEnv,
): ConnectionProfile {
  const all = allProfiles(configured, env);
  return all.find((p) => p.name === activeName) ?? (configured.length ? configured[0] : all[0]);
}

/** Configured profiles plus the environment's, which is always available. */
export function allProfiles(configured: readonly ConnectionProfile[], env: NodeJS.ProcessEnv): ConnectionProfile[] {
  const fromEnv = profileFromEnvironment(env);
  return configured.some((p) => p.name === fromEnv.name) ? [...configured] : [...configured, fromEnv];
}
