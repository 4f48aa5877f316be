/**
 * goiardi (Chef Server 11 compatible, with the Reporting API) for tests,
 * benchmarks and the sandbox: in memory, authentication on, on 127.0.0.1:<port>,
 * started detached and stopped by PID only, like the Consul agents.
 *
 * How tests find it: the state is the `chef` section of the cluster state file
 * (`cli.js start --with-chef`), read by requireGoiardi() from CCO_CLUSTER_STATE;
 * or a state file of its own named by CCO_CHEF_STATE. The extension under test
 * gets CCO_CHEF_URL / CCO_CHEF_CLIENT / CCO_CHEF_KEY (scripts/test.mjs).
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ChefServerClient, ChefServerClientOptions } from '../../src/core/chef/server/chefServerClient';

const execFileAsync = promisify(execFile);

export interface GoiardiState {
  goiardiBin: string;
  pid: number;
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** --conf-root: goiardi writes admin.pem, chef-validator.pem, chef-webui.pem here. */
  confRoot: string;
  logFile: string;
  /** The admin client (may list Reporting runs, write everything). */
  adminClient: string;
  adminKeyPath: string;
  validatorClient: string;
  validatorKeyPath: string;
  webuiKeyPath: string;
  readyMs: number;
}

export interface StartGoiardiOptions {
  port: number;
  host?: string;
  /** Default: a fresh directory under os.tmpdir(). Emptied first. */
  confRoot?: string;
  /** Skip scripts/provision-goiardi.sh and use this binary. */
  goiardiBin?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const ADMIN_CLIENT = 'admin';
export const VALIDATOR_CLIENT = 'chef-validator';

/** Works from test/infra (ts sources) and out/test/infra (compiled) alike. */
function findRepoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'scripts', 'provision-goiardi.sh'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`scripts/provision-goiardi.sh not found above ${__dirname}`);
  }
}

/** scripts/provision-goiardi.sh: goiardi from PATH, else the Debian package. */
export async function provisionGoiardi(): Promise<string> {
  const script = path.join(findRepoRoot(), 'scripts', 'provision-goiardi.sh');
  const { stdout } = await execFileAsync('bash', [script], { timeout: 300_000, maxBuffer: 1 << 20 });
  const bin = stdout.trim().split('\n').pop() ?? '';
  if (!path.isAbsolute(bin)) throw new Error(`provision-goiardi.sh printed no binary path: ${JSON.stringify(stdout)}`);
  return bin;
}

function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`${host}:${port} is ${err.code === 'EADDRINUSE' ? 'in use (another goiardi still running?)' : `unusable: ${err.message}`}`)));
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

/** A client signed as goiardi's admin (or another client of the state). */
export function goiardiClient(state: GoiardiState, opts: Partial<ChefServerClientOptions> = {}): ChefServerClient {
  return new ChefServerClient({ serverUrl: state.url, clientName: state.adminClient, clientKeyPath: state.adminKeyPath, ...opts });
}

export async function startGoiardi(opts: StartGoiardiOptions): Promise<GoiardiState> {
  const started = Date.now();
  const host = opts.host ?? '127.0.0.1';
  const goiardiBin = opts.goiardiBin ?? (await provisionGoiardi());
  const confRoot = opts.confRoot ? path.resolve(opts.confRoot) : fs.mkdtempSync(path.join(os.tmpdir(), 'cco-goiardi-'));
  // Keys of an earlier server must not be mistaken for this one's.
  fs.rmSync(confRoot, { recursive: true, force: true });
  fs.mkdirSync(confRoot, { recursive: true });
  await assertPortFree(host, opts.port);
  const logFile = path.join(confRoot, 'goiardi.log');
  const fd = fs.openSync(logFile, 'a');
  let pid: number;
  try {
    const child = spawn(
      goiardiBin,
      ['-I', host, '-P', String(opts.port), '-H', host, '--use-auth', `--conf-root=${confRoot}`, '--log-events', '--use-unsafe-mem-store', '-g', 'info'],
      { cwd: confRoot, detached: true, stdio: ['ignore', fd, fd] },
    );
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not spawn ${goiardiBin}`);
    pid = child.pid;
  } finally {
    fs.closeSync(fd);
  }
  const state: GoiardiState = {
    goiardiBin,
    pid,
    host,
    port: opts.port,
    url: `http://${host}:${opts.port}`,
    confRoot,
    logFile,
    adminClient: ADMIN_CLIENT,
    adminKeyPath: path.join(confRoot, 'admin.pem'),
    validatorClient: VALIDATOR_CLIENT,
    validatorKeyPath: path.join(confRoot, 'chef-validator.pem'),
    webuiKeyPath: path.join(confRoot, 'chef-webui.pem'),
    readyMs: 0,
  };
  try {
    await waitReady(state, opts.timeoutMs ?? 20_000, opts.signal);
  } catch (e) {
    await stopGoiardi(state);
    throw e;
  }
  state.readyMs = Date.now() - started;
  return state;
}

async function waitReady(state: GoiardiState, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (signal?.aborted) throw new Error('aborted while waiting for goiardi');
    if (!isRunning(state)) throw new Error(`goiardi (pid ${state.pid}) exited while starting\n${logTail(state)}`);
    if (fs.existsSync(state.adminKeyPath)) {
      try {
        await goiardiClient(state, { timeoutMs: 2_000 }).get('/nodes');
        return;
      } catch (e) {
        lastError = (e as Error).message;
      }
    }
    if (Date.now() >= deadline) throw new Error(`timed out waiting for goiardi on ${state.url}${lastError ? ` (last error: ${lastError})` : ''}\n${logTail(state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True only for the goiardi we started (its PID with our --conf-root), not a reused PID. */
export function isRunning(state: GoiardiState): boolean {
  if (state.pid <= 0) return false;
  try {
    process.kill(state.pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0').includes(`--conf-root=${state.confRoot}`);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync('/proc/self');
  }
}

/** SIGTERM, then SIGKILL, to the recorded PID only. Safe to repeat. */
export async function stopGoiardi(state: GoiardiState, opts: { removeConfRoot?: boolean } = {}): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(state.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  const waitExit = async (ms: number) => {
    const until = Date.now() + ms;
    while (isRunning(state)) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  };
  if (isRunning(state)) {
    signal('SIGTERM');
    if (!(await waitExit(3_000))) {
      signal('SIGKILL');
      if (!(await waitExit(3_000))) throw new Error(`goiardi (pid ${state.pid}) survived SIGKILL`);
    }
  }
  if (opts.removeConfRoot) fs.rmSync(state.confRoot, { recursive: true, force: true });
}

function logTail(state: GoiardiState, lines = 15): string {
  let text: string;
  try {
    text = fs.readFileSync(state.logFile, 'utf8');
  } catch {
    text = '(no log)';
  }
  return `--- goiardi ${state.logFile} (last ${lines} lines) ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
}

/**
 * The running goiardi tests use: the `chef` section of the state file named by
 * CCO_CLUSTER_STATE, or the state file named by CCO_CHEF_STATE. Fails (never
 * skips) with what to do when there is none or it is not running.
 */
export function requireGoiardi(): GoiardiState {
  const fromCluster = process.env.CCO_CLUSTER_STATE;
  const own = process.env.CCO_CHEF_STATE;
  let state: GoiardiState | undefined;
  let where = '';
  if (own) {
    state = JSON.parse(fs.readFileSync(own, 'utf8')) as GoiardiState;
    where = `CCO_CHEF_STATE=${own}`;
  } else if (fromCluster && fs.existsSync(fromCluster)) {
    state = (JSON.parse(fs.readFileSync(fromCluster, 'utf8')) as { chef?: GoiardiState }).chef;
    where = `the "chef" section of CCO_CLUSTER_STATE=${fromCluster}`;
  }
  if (!state) {
    throw new Error(
      'No goiardi (Chef server) for these tests: start one with `node out/test/infra/cli.js start --state <file> --with-chef [--chef-port <n>]` ' +
        'and set CCO_CLUSTER_STATE=<file> (npm test does this), or set CCO_CHEF_STATE to a goiardi state file. ' +
        'goiardi itself: bash scripts/provision-goiardi.sh',
    );
  }
  if (!isRunning(state)) throw new Error(`goiardi from ${where} (pid ${state.pid}, ${state.url}) is not running: start it again`);
  return state;
}
