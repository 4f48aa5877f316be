import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import Consul from 'consul';
import { ConnectionProfile, Endpoint, endpointUrl, parseAddress, ProfileError } from './profile';
import { toConsulError } from './errors';

/** One live connection: the `consul` client plus what the UI says about it. */
export interface ConsulConnection {
  readonly profile: ConnectionProfile;
  readonly endpoint: Endpoint;
  /** `http(s)://host:port`, safe to show: never holds the token. */
  readonly address: string;
  readonly client: Consul;
  readonly datacenter: string | undefined;
  dispose(): void;
}

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

export async function connect(profile: ConnectionProfile, token: string | undefined): Promise<ConsulConnection> {
  const endpoint = parseAddress(profile.address);
  const agent = await createAgent(profile, endpoint);
  const client = new Consul({
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.secure,
    agent,
    defaults: { ...(token ? { token } : {}), ...(profile.datacenter ? { dc: profile.datacenter } : {}) },
  });
  return {
    profile,
    endpoint,
    address: endpointUrl(endpoint),
    client,
    datacenter: profile.datacenter,
    dispose: () => client.destroy(),
  };
}

/** Runs one request and converts failures into typed, token-free errors. */
export async function call<T>(connection: ConsulConnection, path: string, fn: () => Promise<T>, method = 'GET'): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConsulError(e, connection.address, path, method);
  }
}
