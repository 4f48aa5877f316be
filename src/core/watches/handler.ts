/**
 * Runs a watch handler as `consul watch` does: the JSON on standard input
 * (Go's encoder bytes, newline-terminated), CONSUL_INDEX in the environment,
 * `args` executed directly or `command` through `/bin/sh -c`. Bounded in
 * time and in the output kept.
 */
import { spawn } from 'node:child_process';
import { DEFAULT_HANDLER_TIMEOUT_SECONDS } from './model';

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

export function runHandler(spec: HandlerSpec, stdin: string, index: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<HandlerResult> {
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
      resolve({ ...r, stdout, stderr, timedOut });
    };
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), CONSUL_INDEX: index },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        // The whole process group: a shell's children go too.
        if (child.pid && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
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
