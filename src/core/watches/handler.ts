/**
 * Runs a watch handler as `consul watch` does: the JSON on standard input
 * (Go's encoder bytes, newline-terminated), CONSUL_INDEX in the environment,
 * `args` executed directly or `command` through `/bin/sh -c`. Bounded in
 * time and in the output kept.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { ConnectionProfile, endpointUrl, parseAddress } from '../consul/profile';
import { DEFAULT_HANDLER_TIMEOUT_SECONDS } from './model';

/**
 * The environment a handler runs in: the editor's, without anything that
 * points the consul CLI elsewhere (every inherited CONSUL_* variable, e.g.
 * another cluster's CONSUL_HTTP_ADDR or CONSUL_HTTP_TOKEN) nor
 * ELECTRON_RUN_AS_NODE, plus the active profile's address and TLS settings as
 * the consul CLI reads them. The ACL token is not handed over; the consul CLI
 * has no environment variable for the datacenter.
 */
export function handlerEnvironment(base: NodeJS.ProcessEnv, profile: ConnectionProfile | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (k.toUpperCase().startsWith('CONSUL_') || k === 'ELECTRON_RUN_AS_NODE') continue;
    env[k] = v;
  }
  if (!profile) return env;
  const endpoint = parseAddress(profile.address);
  env.CONSUL_HTTP_ADDR = endpointUrl(endpoint);
  env.CONSUL_HTTP_SSL = endpoint.secure ? 'true' : 'false';
  if (profile.caFile) env.CONSUL_CACERT = profile.caFile;
  if (profile.certFile) env.CONSUL_CLIENT_CERT = profile.certFile;
  if (profile.keyFile) env.CONSUL_CLIENT_KEY = profile.keyFile;
  if (profile.serverName) env.CONSUL_TLS_SERVER_NAME = profile.serverName;
  if (profile.insecureSkipVerify) env.CONSUL_HTTP_SSL_VERIFY = 'false';
  return env;
}

export interface HandlerSpec {
  args?: string[];
  command?: string;
  timeoutSeconds?: number;
}

export interface HandlerResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  spawnError?: string;
}

const KEEP = 64 * 1024;

export interface RunHandlerOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Told of the child when it starts and when it ends (a pool tracks them to kill them on dispose). */
  onChild?: (child: ChildProcess, running: boolean) => void;
}

/** Kills a handler and everything it started (its process group). */
export function killHandler(child: ChildProcess): void {
  try {
    if (child.pid && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

export function runHandler(spec: HandlerSpec, stdin: string, index: string, options: RunHandlerOptions = {}): Promise<HandlerResult> {
  const [file, ...args] = spec.args?.length ? spec.args : ['/bin/sh', '-c', spec.command ?? ''];
  const timeoutMs = (spec.timeoutSeconds ?? DEFAULT_HANDLER_TIMEOUT_SECONDS) * 1000;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const done = (r: Omit<HandlerResult, 'stdout' | 'stderr' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.onChild?.(child, false);
      resolve({ ...r, stdout, stderr, timedOut });
    };
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), CONSUL_INDEX: index },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    options.onChild?.(child, true);
    const timer = setTimeout(() => {
      timedOut = true;
      // The whole process group: a shell's children go too.
      killHandler(child);
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < KEEP) stdout += d.toString('utf8').slice(0, KEEP - stdout.length);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < KEEP) stderr += d.toString('utf8').slice(0, KEEP - stderr.length);
    });
    child.on('error', (e) => done({ exitCode: null, signal: null, spawnError: e.message }));
    child.on('close', (code, signal) => done({ exitCode: code, signal }));
    // A handler that does not read its input must not fail the run.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** One line for the log: how the handler ended. */
export function describeHandlerResult(r: HandlerResult): string {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  if (r.timedOut) return 'killed after its timeout';
  if (r.signal) return `ended by ${r.signal}`;
  return `exit code ${r.exitCode}`;
}

interface Queued {
  spec: HandlerSpec;
  stdin: string;
  index: string;
  options: RunHandlerOptions;
  resolve: (r: HandlerResult | undefined) => void;
}

/**
 * Runs handlers as consul watch does: one run at a time per lane (a watch's
 * handler); a firing while one runs waits, and a later firing replaces a
 * waiting one (only the latest data matters). Tracks every child, so that
 * dispose (the extension ending, a profile switch) kills their process groups.
 */
export class HandlerPool {
  private readonly children = new Set<ChildProcess>();
  private readonly lanes = new Map<string, { busy: boolean; next?: Queued }>();
  private disposed = false;

  /** The result, or undefined when a later firing replaced this one before it ran (or the pool was disposed). */
  run(lane: string, spec: HandlerSpec, stdin: string, index: string, options: RunHandlerOptions = {}): Promise<HandlerResult | undefined> {
    if (this.disposed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const job: Queued = { spec, stdin, index, options, resolve };
      const l = this.lanes.get(lane) ?? { busy: false };
      this.lanes.set(lane, l);
      if (l.busy) {
        l.next?.resolve(undefined);
        l.next = job;
        return;
      }
      this.start(lane, l, job);
    });
  }

  private start(lane: string, l: { busy: boolean; next?: Queued }, job: Queued): void {
    l.busy = true;
    const onChild = (c: ChildProcess, running: boolean) => {
      if (running) this.children.add(c);
      else this.children.delete(c);
      job.options.onChild?.(c, running);
    };
    void runHandler(job.spec, job.stdin, job.index, { ...job.options, onChild }).then((r) => {
      job.resolve(r);
      l.busy = false;
      const next = l.next;
      l.next = undefined;
      if (next && !this.disposed) this.start(lane, l, next);
      else if (!next) this.lanes.delete(lane);
    });
  }

  /** How many handlers run now. */
  get running(): number {
    return this.children.size;
  }

  /** Kills every running handler (process groups) and drops the waiting ones. */
  killAll(): void {
    for (const l of this.lanes.values()) {
      l.next?.resolve(undefined);
      l.next = undefined;
    }
    for (const c of this.children) killHandler(c);
  }

  dispose(): void {
    this.disposed = true;
    this.killAll();
  }
}
