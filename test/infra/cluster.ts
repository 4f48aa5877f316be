// A real multi-agent Consul test cluster on loopback addresses, for tests,
// benchmarks and the sandbox. Plain Node (no `vscode`): it also runs from the CLI.
//
// Layout (basePort P, default 18500; every agent binds its own 127.0.0.x so the
// same ports never collide, and a developer's agent on 127.0.0.1:8500 is untouched):
//   dc1:       consul-server-1 @127.0.0.2, web-1 @127.0.0.3, db-1 @127.0.0.4
//   secure-dc: secure-server-1 @127.0.0.5 — ACLs (default deny) + HTTPS on P+5
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface AgentInfo {
  name: string;
  host: string;
  httpPort: number;
  /** "127.0.0.2:18500" */
  httpAddr: string;
  pid: number;
  configDir: string;
  dataDir: string;
  logFile: string;
  datacenter: string;
  role: 'server' | 'client';
}

export interface SecureInfo {
  agent: AgentInfo;
  /** "127.0.0.5:18505" */
  httpsAddr: string;
  caFile: string;
  managementToken: string;
  readOnlyToken: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** DNS name in the server certificate; the IP (127.0.0.5) is in it too. */
  serverName: string;
}

export interface ClusterState {
  consulBin: string;
  datacenter: string;
  baseDir: string;
  basePort: number;
  agents: AgentInfo[];
  secure?: SecureInfo;
  /** Milliseconds from spawn to ready, for benchmarks and the CLI summary. */
  readyMs: { cluster: number; secure?: number };
}

export interface StartOptions {
  /** Defaults to a fresh directory under os.tmpdir(). Agent dirs in it are wiped. */
  baseDir?: string;
  /** Also start the ACL + TLS single-node cluster. Default true. */
  withSecure?: boolean;
  /** Default 18500. Uses P..P+5 on each of 127.0.0.2-5. */
  basePort?: number;
  /** Skip scripts/provision-consul.sh and use this binary. */
  consulBin?: string;
  /** Upper bound for the whole start, default 60 s. */
  timeoutMs?: number;
  /** Aborting stops the agents started so far and rejects. */
  signal?: AbortSignal;
  /**
   * More server agents in dc1 (consul-server-2, … on 127.0.0.6, 127.0.0.7, …),
   * so that agents' stale reads can land on a follower. Default 0.
   */
  extraServers?: number;
  /** More client agents in dc1 with no services (agent-1, … on 127.0.0.70, 127.0.0.71, …), for scale benchmarks. Default 0. */
  extraClients?: number;
}

export interface DemoService {
  node: string;
  name: string;
  tags: string[];
  meta: Record<string, string>;
  port: number;
  /** Exit code of the script check; Consul maps 0/1/other to passing/warning/critical. */
  exitCode: number;
  status: CheckStatus;
  output: string;
}

export const DATACENTER = 'dc1';
export const SECURE_DATACENTER = 'secure-dc';
export const SERVER_NODE = 'consul-server-1';
export const CLIENT_NODES = ['web-1', 'db-1'] as const;
export const SECURE_NODE = 'secure-server-1';
export const SECURE_SERVICES = ['ledger', 'audit'] as const;
export const SECURE_KV_KEY = 'secure/greeting';

export const DEMO_SERVICES: readonly DemoService[] = [
  { node: 'web-1', name: 'web', tags: ['frontend', 'v1'], meta: { version: '1.0' }, port: 8080, exitCode: 0, status: 'passing', output: 'web ok' },
  { node: 'web-1', name: 'api', tags: ['backend', 'v2'], meta: { version: '2.3' }, port: 9090, exitCode: 1, status: 'warning', output: 'api latency high' },
  { node: 'db-1', name: 'db', tags: ['primary'], meta: { engine: 'postgres' }, port: 5432, exitCode: 0, status: 'passing', output: 'db ok' },
  { node: 'db-1', name: 'cache', tags: ['redis'], meta: { engine: 'redis' }, port: 6379, exitCode: 2, status: 'critical', output: 'cache down' },
];

const DEFAULT_BASE_PORT = 18500;
const DEFAULT_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const RESTART_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------
// Public API

export async function startCluster(opts: StartOptions = {}): Promise<ClusterState> {
  const basePort = opts.basePort ?? DEFAULT_BASE_PORT;
  const baseDir = prepareBaseDir(opts.baseDir);
  const consulBin = opts.consulBin ?? (await provisionConsul());
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const ctx: StartContext = { consulBin, baseDir, basePort, deadline, started: [], signal: opts.signal, extraServers: opts.extraServers ?? 0, extraClients: opts.extraClients ?? 0 };
  const { main, secure } = await startBoth(ctx, opts.withSecure !== false);
  return {
    consulBin,
    datacenter: DATACENTER,
    baseDir,
    basePort,
    agents: main.agents,
    secure: secure?.info,
    readyMs: { cluster: main.readyMs, secure: secure?.readyMs },
  };
}

/**
 * The two clusters are independent, so they start side by side. The first failure
 * aborts the sibling (nothing gets spawned after the clean-up), then every agent
 * started so far is stopped and that first error is rethrown.
 */
async function startBoth(outer: StartContext, withSecure: boolean) {
  const abort = new AbortController();
  const forwardAbort = () => abort.abort();
  outer.signal?.addEventListener('abort', forwardAbort);
  if (outer.signal?.aborted) abort.abort();
  const ctx: StartContext = { ...outer, signal: abort.signal };
  let firstError: unknown;
  const guard = <T>(p: Promise<T>): Promise<T> => p.catch((err: unknown) => {
    firstError ??= err;
    abort.abort();
    throw err;
  });
  const [main, secure] = await Promise.allSettled([
    guard(startMainCluster(ctx)),
    withSecure ? guard(startSecureCluster(ctx)) : Promise.resolve(undefined),
  ]);
  outer.signal?.removeEventListener('abort', forwardAbort);
  if (main.status === 'rejected' || secure.status === 'rejected') {
    await Promise.allSettled(ctx.started.map((a) => stopProcess(a)));
    throw firstError;
  }
  return { main: main.value, secure: secure.value };
}

export async function stopCluster(state: ClusterState, opts: { removeBaseDir?: boolean } = {}): Promise<void> {
  // A restart whose new PID never reached the state file must not leak: find
  // each agent's current PID by its own config dir, which no other process names.
  for (const agent of allAgents(state)) agent.pid = findAgentPid(agent) ?? agent.pid;
  await Promise.all(allAgents(state).map((a) => stopProcess(a)));
  if (opts.removeBaseDir) fs.rmSync(state.baseDir, { recursive: true, force: true });
}

export async function stopAgent(state: ClusterState, name: string): Promise<void> {
  const agent = findAgent(state, name);
  // Another test file may have restarted it since this copy of the state was read.
  agent.pid = findAgentPid(agent) ?? agent.pid;
  await stopProcess(agent);
}

/** Stops the agent if it still runs, starts it again with the same config and data. */
export async function restartAgent(state: ClusterState, name: string): Promise<AgentInfo> {
  const agent = findAgent(state, name);
  agent.pid = findAgentPid(agent) ?? agent.pid;
  await stopProcess(agent);
  await assertPortsFree(agent.host, state.basePort);
  agent.pid = spawnAgent(state.consulBin, agent);
  const deadline = Date.now() + RESTART_TIMEOUT_MS;
  const tls = agent === state.secure?.agent ? secureTls(state.secure) : undefined;
  const addr = tls && state.secure ? state.secure.httpsAddr : agent.httpAddr;
  // A leader seen through this agent means it has rejoined, not merely bound its port.
  await waitFor(`${name} to rejoin its cluster`, () => leaderVia(addr, tls), { deadline, agents: [agent] });
  if (!tls) await waitSettled(state, { deadline, agents: [agent] });
  return agent;
}

/** A script check starts critical with no output: settled means it ran and said what it says. */
function demoCheckSettled(c: { ServiceName: string; Status: string; Output: string }, d: DemoService): boolean {
  return c.ServiceName === d.name && c.Status === d.status && c.Output.includes(d.output);
}

/**
 * Waits until every node's serfHealth passes and every demo check is back in
 * its intended state, so tests after a restart see the cluster as it started.
 */
async function waitSettled(state: ClusterState, wait: WaitContext): Promise<void> {
  const server = state.agents.find((a) => a.role === 'server') ?? state.agents[0];
  await waitFor('checks to settle after the restart', async () => {
    const checks = await consulJson<Array<{ Node: string; CheckID: string; ServiceName: string; Status: string; Output: string }>>(server.httpAddr, '/v1/health/state/any');
    const serfOk = state.agents.every((a) => checks.some((c) => c.Node === a.name && c.CheckID === 'serfHealth' && c.Status === 'passing'));
    const demoOk = DEMO_SERVICES.every((d) => checks.some((c) => demoCheckSettled(c, d)));
    return serfOk && demoOk ? true : undefined;
  }, wait);
}

export function readState(file: string): ClusterState {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterState;
}

/** Owner-only permissions: the file holds the secure cluster's management token. */
export function writeState(file: string, s: ClusterState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function allAgents(state: ClusterState): AgentInfo[] {
  return state.secure ? [...state.agents, state.secure.agent] : [...state.agents];
}

/** TLS options to talk to the secure agent (CA only; client certs are not required). */
export function secureTls(secure: SecureInfo): TlsOptions {
  return { ca: fs.readFileSync(secure.caFile) };
}

// ---------------------------------------------------------------------------
// Minimal HTTP(S) client. node:http rather than fetch because fetch cannot take a
// custom CA per request; one helper keeps both schemes alike.

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
}

export interface ConsulRequest {
  method?: string;
  /** Strings are sent as-is (KV values, event payloads); anything else as JSON. */
  body?: unknown;
  token?: string;
  /** Present → HTTPS. */
  tls?: TlsOptions;
  timeoutMs?: number;
}

export interface ConsulResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export function consulRequest(addr: string, urlPath: string, req: ConsulRequest = {}): Promise<ConsulResponse> {
  const [host, port] = splitAddr(addr);
  const payload = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const headers: http.OutgoingHttpHeaders = {};
  if (req.token) headers['X-Consul-Token'] = req.token;
  if (payload !== undefined) headers['Content-Length'] = Buffer.byteLength(payload);
  const options: https.RequestOptions = {
    host, port, path: urlPath, method: req.method ?? 'GET', headers,
    timeout: req.timeoutMs ?? 5_000,
    // No keep-alive pool: a pooled socket would keep a finished CLI process alive.
    agent: false,
    ...req.tls,
  };
  const transport = req.tls ? https : http;
  return new Promise((resolve, reject) => {
    const r = transport.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`timeout: ${options.method} ${addr}${urlPath}`)));
    r.on('error', reject);
    r.end(payload);
  });
}

/** Like consulRequest but insists on 2xx and parses JSON. */
export async function consulJson<T>(addr: string, urlPath: string, req: ConsulRequest = {}): Promise<T> {
  const res = await consulRequest(addr, urlPath, req);
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${req.method ?? 'GET'} ${urlPath} → ${res.status} ${res.text.trim()}`);
  }
  // Some writes (agent token, deregister) answer 200 with an empty body.
  if (res.text.trim() === '') return undefined as T;
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new Error(`${req.method ?? 'GET'} ${urlPath} → ${res.status} with non-JSON body ${JSON.stringify(res.text.slice(0, 200))}`);
  }
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

// ---------------------------------------------------------------------------
// Provisioning and directories

async function provisionConsul(): Promise<string> {
  const script = path.join(findRepoRoot(), 'scripts', 'provision-consul.sh');
  // Five minutes covers a cold apt fetch on a slow mirror.
  const { stdout } = await execFileAsync('bash', [script], { timeout: 300_000, maxBuffer: 1 << 20 });
  const bin = stdout.trim().split('\n').pop() ?? '';
  if (!path.isAbsolute(bin)) throw new Error(`provision-consul.sh printed no binary path: ${JSON.stringify(stdout)}`);
  return bin;
}

/** Works from test/infra (ts sources) and out/test/infra (compiled) alike. */
function findRepoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'scripts', 'provision-consul.sh'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`scripts/provision-consul.sh not found above ${__dirname}`);
  }
}

function prepareBaseDir(baseDir: string | undefined): string {
  if (!baseDir) return fs.mkdtempSync(path.join(os.tmpdir(), 'cco-consul-'));
  const abs = path.resolve(baseDir);
  fs.mkdirSync(abs, { recursive: true });
  return abs;
}

/** Fresh config and data dirs: stale raft or ACL state would change what "ready" means. */
function prepareAgent(baseDir: string, name: string, host: string, basePort: number, datacenter: string, role: AgentInfo['role']): AgentInfo {
  const root = path.join(baseDir, name);
  fs.rmSync(root, { recursive: true, force: true });
  const configDir = path.join(root, 'config');
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(configDir, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });
  return {
    name, host, httpPort: basePort, httpAddr: `${host}:${basePort}`, pid: 0,
    configDir, dataDir, logFile: path.join(root, 'agent.log'), datacenter, role,
  };
}

function writeConfig(agent: AgentInfo, file: string, config: Record<string, unknown>): void {
  // JSON rather than HCL: Consul reads both, and JSON needs no hand-escaping.
  fs.writeFileSync(path.join(agent.configDir, file), JSON.stringify(config, null, 2) + '\n');
}

function baseConfig(agent: AgentInfo, basePort: number, httpsPort = -1): Record<string, unknown> {
  return {
    node_name: agent.name,
    datacenter: agent.datacenter,
    data_dir: agent.dataDir,
    bind_addr: agent.host,
    client_addr: agent.host,
    advertise_addr: agent.host,
    ports: { http: basePort, dns: basePort + 1, serf_lan: basePort + 2, serf_wan: basePort + 3, server: basePort + 4, grpc: -1, https: httpsPort },
    disable_remote_exec: false,
    enable_local_script_checks: true,
    // Sync check output to the catalog as it changes, not every 5 min: a script
    // check that starts critical with no output stays critical, so only its
    // output changes, and tests read that output.
    check_update_interval: '0s',
    disable_update_check: true,
    // A stopped agent should look failed (serfHealth critical), not gracefully gone:
    // that is what "agent killed" tests want to observe.
    leave_on_terminate: false,
    skip_leave_on_interrupt: true,
    performance: { raft_multiplier: 1 },
    // Memberlist defaults take ~5 s to mark a killed agent failed; these take ~2 s
    // while leaving room for a loaded 2-core machine not to cause false alarms.
    gossip_lan: { probe_interval: '500ms', probe_timeout: '250ms', suspicion_mult: 3 },
    log_level: 'info',
  };
}

// ---------------------------------------------------------------------------
// Main cluster (dc1)

interface StartContext {
  consulBin: string;
  baseDir: string;
  basePort: number;
  deadline: number;
  started: AgentInfo[];
  signal?: AbortSignal;
  extraServers?: number;
  extraClients?: number;
}

async function startMainCluster(ctx: StartContext): Promise<{ agents: AgentInfo[]; readyMs: number }> {
  const { baseDir, basePort } = ctx;
  const server = prepareAgent(baseDir, SERVER_NODE, '127.0.0.2', basePort, DATACENTER, 'server');
  const clients = CLIENT_NODES.map((name, i) => prepareAgent(baseDir, name, `127.0.0.${3 + i}`, basePort, DATACENTER, 'client'));
  // After 127.0.0.5, the secure cluster's address.
  const more = Array.from({ length: ctx.extraServers ?? 0 }, (_, i) => prepareAgent(baseDir, `consul-server-${2 + i}`, `127.0.0.${6 + i}`, basePort, DATACENTER, 'server'));
  if ((ctx.extraClients ?? 0) > 180) throw new Error('at most 180 extra clients (127.0.0.70-249)');
  const plain = Array.from({ length: ctx.extraClients ?? 0 }, (_, i) => prepareAgent(baseDir, `agent-${1 + i}`, `127.0.0.${70 + i}`, basePort, DATACENTER, 'client'));
  const agents = [server, ...more, ...clients, ...plain];

  writeConfig(server, 'agent.json', { ...baseConfig(server, basePort), server: true, bootstrap_expect: 1 + more.length });
  for (const s of more) {
    writeConfig(s, 'agent.json', { ...baseConfig(s, basePort), server: true, bootstrap_expect: 1 + more.length, retry_join: [`${server.host}:${basePort + 2}`], retry_interval: '1s' });
  }
  for (const client of clients) {
    writeConfig(client, 'agent.json', {
      ...baseConfig(client, basePort),
      retry_join: [`${server.host}:${basePort + 2}`],
      // The default 30 s retry would dominate start-up when a client beats the server.
      retry_interval: '1s',
    });
    writeConfig(client, 'services.json', { services: DEMO_SERVICES.filter((s) => s.node === client.name).map(serviceDefinition) });
  }
  for (const client of plain) writeConfig(client, 'agent.json', { ...baseConfig(client, basePort), retry_join: [`${server.host}:${basePort + 2}`], retry_interval: '1s' });

  const t0 = Date.now();
  for (const agent of agents) await launch(ctx, agent);
  await waitMainReady(ctx, server, agents);
  return { agents, readyMs: Date.now() - t0 };
}

function serviceDefinition(s: DemoService): Record<string, unknown> {
  return {
    name: s.name, tags: s.tags, meta: s.meta, port: s.port,
    checks: [{
      id: `${s.name}-check`,
      name: `${s.name} health`,
      args: ['/bin/sh', '-c', `echo '${s.output}'; exit ${s.exitCode}`],
      interval: '1s',
      timeout: '1s',
    }],
  };
}

async function waitMainReady(ctx: StartContext, server: AgentInfo, agents: AgentInfo[]): Promise<void> {
  const wait = { deadline: ctx.deadline, agents, signal: ctx.signal };
  // Through each agent: a client answers /status/leader only once it has joined.
  for (const agent of agents) {
    await waitFor(`${agent.name} to see a leader`, () => leaderVia(agent.httpAddr), wait);
  }
  await waitFor('all nodes in the catalog', async () => {
    const nodes = await consulJson<Array<{ Node: string }>>(server.httpAddr, '/v1/catalog/nodes');
    const names = new Set(nodes.map((n) => n.Node));
    return agents.every((a) => names.has(a.name)) ? true : undefined;
  }, wait);
  // Script checks start critical until their first run, so wait for the intended states.
  await waitFor('demo checks to settle', async () => {
    const checks = await consulJson<Array<{ ServiceName: string; Status: string; Output: string }>>(server.httpAddr, '/v1/health/state/any');
    return DEMO_SERVICES.every((s) => checks.some((c) => demoCheckSettled(c, s))) ? true : undefined;
  }, wait);
}

// ---------------------------------------------------------------------------
// Secure cluster (secure-dc): ACLs default-deny, HTTPS with a self-signed CA

async function startSecureCluster(ctx: StartContext): Promise<{ info: SecureInfo; readyMs: number }> {
  const { baseDir, basePort } = ctx;
  const agent = prepareAgent(baseDir, SECURE_NODE, '127.0.0.5', basePort, SECURE_DATACENTER, 'server');
  const tlsFiles = await createTlsFiles(ctx.consulBin, path.join(baseDir, SECURE_NODE, 'tls'), agent.host);
  const httpsPort = basePort + 5;
  writeConfig(agent, 'agent.json', {
    // Plain HTTP stays on (ACLs still apply) so every AgentInfo has a usable httpAddr.
    ...baseConfig(agent, basePort, httpsPort),
    server: true,
    bootstrap_expect: 1,
    primary_datacenter: SECURE_DATACENTER,
    acl: { enabled: true, default_policy: 'deny', enable_token_persistence: true },
    ca_file: tlsFiles.caFile,
    cert_file: tlsFiles.serverCertFile,
    key_file: tlsFiles.serverKeyFile,
    verify_incoming_https: false,
    verify_incoming_rpc: false,
    verify_outgoing: false,
  });

  const t0 = Date.now();
  await launch(ctx, agent);
  const httpsAddr = `${agent.host}:${httpsPort}`;
  const tls: TlsOptions = { ca: fs.readFileSync(tlsFiles.caFile) };
  const wait = { deadline: ctx.deadline, agents: [agent], signal: ctx.signal };
  await waitFor(`${agent.name} to elect itself leader`, () => leaderVia(httpsAddr, tls), wait);
  const managementToken = await waitFor('ACL bootstrap', () => tryBootstrap(httpsAddr, tls), wait);
  const readOnlyToken = await seedSecureCluster(httpsAddr, tls, managementToken);
  await waitFor('secure services visible to the read-only token', async () => {
    const services = await consulJson<Record<string, string[]>>(httpsAddr, '/v1/catalog/services', { tls, token: readOnlyToken });
    return SECURE_SERVICES.every((s) => s in services) ? true : undefined;
  }, wait);

  return {
    readyMs: Date.now() - t0,
    info: {
      agent, httpsAddr, caFile: tlsFiles.caFile, managementToken, readOnlyToken,
      clientCertFile: tlsFiles.clientCertFile, clientKeyFile: tlsFiles.clientKeyFile,
      serverName: `server.${SECURE_DATACENTER}.consul`,
    },
  };
}

interface TlsFiles { caFile: string; serverCertFile: string; serverKeyFile: string; clientCertFile: string; clientKeyFile: string }

/** `consul tls` writes into its cwd and refuses to overwrite, hence a fresh dir. */
async function createTlsFiles(consulBin: string, dir: string, ip: string): Promise<TlsFiles> {
  fs.mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileAsync(consulBin, ['tls', ...args], { cwd: dir, timeout: 30_000 });
  await run('ca', 'create');
  await run('cert', 'create', '-server', `-dc=${SECURE_DATACENTER}`, `-additional-ipaddress=${ip}`);
  await run('cert', 'create', '-client', `-dc=${SECURE_DATACENTER}`);
  const file = (name: string) => {
    const p = path.join(dir, name);
    if (!fs.existsSync(p)) throw new Error(`consul tls did not create ${p}`);
    return p;
  };
  return {
    caFile: file('consul-agent-ca.pem'),
    serverCertFile: file(`${SECURE_DATACENTER}-server-consul-0.pem`),
    serverKeyFile: file(`${SECURE_DATACENTER}-server-consul-0-key.pem`),
    clientCertFile: file(`${SECURE_DATACENTER}-client-consul-0.pem`),
    clientKeyFile: file(`${SECURE_DATACENTER}-client-consul-0-key.pem`),
  };
}

/** Right after election the ACL system may still report legacy mode: a retryable 500. */
async function tryBootstrap(addr: string, tls: TlsOptions): Promise<string> {
  const res = await consulRequest(addr, '/v1/acl/bootstrap', { method: 'PUT', tls });
  if (res.status === 200) return (JSON.parse(res.text) as { SecretID: string }).SecretID;
  throw new Error(`PUT /v1/acl/bootstrap → ${res.status} ${res.text.trim()}`);
}

const READ_ONLY_RULES = `
node_prefix "" { policy = "read" }
service_prefix "" { policy = "read" }
key_prefix "" { policy = "read" }
agent_prefix "" { policy = "read" }
event_prefix "" { policy = "read" }
session_prefix "" { policy = "read" }
`;

/** Returns the read-only token's secret. */
async function seedSecureCluster(addr: string, tls: TlsOptions, token: string): Promise<string> {
  const put = <T>(urlPath: string, body: unknown) => consulJson<T>(addr, urlPath, { method: 'PUT', tls, token, body });
  // Test-only shortcut: without an agent token the agent cannot sync its node info
  // and services to the catalog under default-deny.
  await put('/v1/agent/token/agent', { Token: token });
  const policy = await put<{ ID: string }>('/v1/acl/policy', { Name: 'read-only', Rules: READ_ONLY_RULES });
  const ro = await put<{ SecretID: string }>('/v1/acl/token', { Description: 'read-only (tests)', Policies: [{ ID: policy.ID }] });
  for (const [i, name] of SECURE_SERVICES.entries()) {
    await put('/v1/agent/service/register', { Name: name, Tags: ['secure'], Port: 7000 + i, Meta: { tier: 'restricted' } });
  }
  await put(`/v1/kv/${SECURE_KV_KEY}`, 'hello from secure-dc');
  return ro.SecretID;
}

// ---------------------------------------------------------------------------
// Processes

async function launch(ctx: StartContext, agent: AgentInfo): Promise<void> {
  if (ctx.signal?.aborted) throw new Error(`aborted before starting ${agent.name}`);
  // Otherwise an already-running cluster on these addresses would answer every
  // readiness probe while the new agent dies on "address already in use".
  await assertPortsFree(agent.host, ctx.basePort);
  agent.pid = spawnAgent(ctx.consulBin, agent);
  ctx.started.push(agent);
}

async function assertPortsFree(host: string, basePort: number): Promise<void> {
  for (let port = basePort; port <= basePort + 5; port++) await assertPortFree(host, port);
}

function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`${host}:${port} is ${err.code === 'EADDRINUSE' ? 'in use (another test cluster still running?)' : `unusable: ${err.message}`}`)));
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

/** Detached (own session) so agents outlive a CLI invocation; tracked by PID only. */
function spawnAgent(consulBin: string, agent: AgentInfo): number {
  const fd = fs.openSync(agent.logFile, 'a');
  try {
    // Its own data dir as working directory: remote exec runs commands there, and the caller's may be deleted later.
    const child = spawn(consulBin, ['agent', `-config-dir=${agent.configDir}`], { cwd: agent.dataDir, detached: true, stdio: ['ignore', fd, fd] });
    // Spawn failures arrive as an event; the missing pid below reports them.
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not spawn ${consulBin} for ${agent.name}`);
    return child.pid;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * True only for the agent we started: after a reboot or a long pause the PID may
 * belong to someone else, and an exited child of ours may linger as a zombie
 * (empty cmdline). Without /proc (macOS) fall back to signal 0.
 */
function findAgentPid(agent: AgentInfo): number | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes(`-config-dir=${agent.configDir}`)) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

function isRunning(agent: AgentInfo): boolean {
  if (agent.pid <= 0) return false;
  try {
    process.kill(agent.pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').includes(agent.configDir);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync('/proc/self');
  }
}

async function stopProcess(agent: AgentInfo): Promise<void> {
  if (!isRunning(agent)) return;
  signalAgent(agent, 'SIGTERM');
  if (await waitExit(agent, STOP_GRACE_MS)) return;
  signalAgent(agent, 'SIGKILL');
  if (!(await waitExit(agent, 3_000))) throw new Error(`${agent.name} (pid ${agent.pid}) survived SIGKILL`);
}

function signalAgent(agent: AgentInfo, sig: NodeJS.Signals): void {
  try {
    process.kill(agent.pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitExit(agent: AgentInfo, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isRunning(agent)) {
    if (Date.now() >= until) return false;
    await sleep(50);
  }
  return true;
}

function findAgent(state: ClusterState, name: string): AgentInfo {
  const agent = allAgents(state).find((a) => a.name === name);
  if (!agent) throw new Error(`no agent named ${name}; have ${allAgents(state).map((a) => a.name).join(', ')}`);
  return agent;
}

// ---------------------------------------------------------------------------
// Waiting

async function leaderVia(addr: string, tls?: TlsOptions): Promise<string | undefined> {
  const leader = await consulJson<string>(addr, '/v1/status/leader', { tls, timeoutMs: 2_000 });
  return leader || undefined;
}

interface WaitContext { deadline: number; agents: AgentInfo[]; signal?: AbortSignal }

/**
 * Polls until probe yields a value. Probe errors count as "not yet" but are kept
 * for the timeout message; a dead agent or an abort ends the wait at once.
 */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ctx: WaitContext): Promise<T> {
  let lastError: unknown;
  for (;;) {
    if (ctx.signal?.aborted) throw new Error(`aborted while waiting for ${what}`);
    const dead = ctx.agents.find((a) => !isRunning(a));
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}\n${logTail(dead)}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= ctx.deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out waiting for ${what}${cause}\n${ctx.agents.map(logTail).join('\n')}`);
    }
    await sleep(100);
  }
}

function logTail(agent: AgentInfo, lines = 15): string {
  let text: string;
  try {
    text = fs.readFileSync(agent.logFile, 'utf8');
  } catch {
    text = '(no log)';
  }
  return `--- ${agent.name} ${agent.logFile} (last ${lines} lines) ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
