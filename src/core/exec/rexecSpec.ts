/**
 * What a caller asks of a remote exec job, checked the way Consul and the
 * agents would take it, and turned into the job spec stored in KV.
 */
import { validateFireRequest } from '../consul/events';
import { RemoteExecSpecError } from './errors';
import { REXEC_EVENT, rexecEventPayload } from './rexecKeys';
import { commandLine } from './shellQuote';

export interface RemoteExecSpec {
  /** Run by the agent's shell (`$SHELL -c`, else /bin/sh). */
  command?: string;
  /** Sent inside the job; the agent writes it to a temp file and runs that. */
  script?: string;
  /**
   * Appended to the command, each shell-quoted. Not allowed with a script:
   * the agent runs the uploaded file with no arguments, and the job has no
   * field that would carry them.
   */
  args?: string[];
  /** Regular expressions for the `_rexec` event, as `consul exec` takes them. */
  node?: string;
  service?: string;
  tag?: string;
  /** The nodes expected to answer (the caller resolved them from the catalog). */
  targets: string[];
  /** A node that acked but has not exited by then (from the event) is 'timeout'. */
  timeoutMs: number;
  /** A target with no ack by then is 'lost'. */
  ackGraceMs?: number;
  /** The job's `Wait`: how often a node with nothing to say writes a heartbeat. */
  heartbeatMs?: number;
  /** Stops waiting: remaining nodes end 'cancelled' (their processes keep running). */
  signal?: AbortSignal;
}

export type NodeExecStatus = 'success' | 'error' | 'timeout' | 'lost' | 'cancelled';

export interface NodeExecResult {
  node: string;
  status: NodeExecStatus;
  exitCode?: number;
  ackedAt?: number;
  endedAt: number;
  /** Why the node ended as it did, in words: lost, timed out, bad exit value. */
  note?: string;
}

export interface RemoteExecEvents {
  ack(node: string): void;
  output(node: string, chunk: Buffer): void;
  exit(node: string, code: number): void;
}

export const DEFAULT_ACK_GRACE_MS = 3_000;
export const DEFAULT_HEARTBEAT_MS = 1_000;
// Every heartbeat is a Raft write per node: faster than this only loads the servers.
const MIN_HEARTBEAT_MS = 100;
/** Consul's default `kv_max_value_size`. */
export const MAX_JOB_BYTES = 512 * 1024;

export interface RexecPlan {
  /** The JSON stored at `_rexec/<session>/job`. */
  job: string;
  targets: string[];
  filters: { node?: string; service?: string; tag?: string };
  timeoutMs: number;
  ackGraceMs: number;
  heartbeatMs: number;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Everything wrong with the spec, in words; empty when it can run. */
export function specProblems(spec: RemoteExecSpec): string[] {
  const problems: string[] = [];
  const hasCommand = spec.command !== undefined;
  const hasScript = spec.script !== undefined;
  if (hasCommand === hasScript) problems.push('Give either a command or a script, not both and not neither.');
  if (hasCommand && !isText(spec.command)) problems.push('The command is empty.');
  if (hasScript && !isText(spec.script)) problems.push('The script is empty.');
  if (spec.command?.includes('\0') || spec.script?.includes('\0')) problems.push('The command or script contains a NUL character, which no shell can take.');
  if (spec.args !== undefined) {
    if (!Array.isArray(spec.args) || spec.args.some((a) => typeof a !== 'string')) problems.push('Arguments must be a list of strings.');
    else if (spec.args.some((a) => a.includes('\0'))) problems.push('An argument contains a NUL character, which no process can receive.');
    else if (hasScript && spec.args.length) {
      problems.push("Arguments cannot be passed to a script: Consul runs the uploaded script file without arguments. Put them in the script, or run a command instead.");
    }
  }
  if (!Array.isArray(spec.targets) || !spec.targets.length) problems.push('There are no target nodes: nothing would run.');
  else if (spec.targets.some((t) => !isText(t))) problems.push('Every target must be a node name.');
  if (!isPositive(spec.timeoutMs)) problems.push('The timeout must be a positive number of milliseconds.');
  if (spec.ackGraceMs !== undefined && !isPositive(spec.ackGraceMs)) problems.push('The acknowledgement grace must be a positive number of milliseconds.');
  if (spec.heartbeatMs !== undefined && !(isPositive(spec.heartbeatMs) && spec.heartbeatMs >= MIN_HEARTBEAT_MS)) {
    problems.push(`The heartbeat interval must be at least ${MIN_HEARTBEAT_MS} ms.`);
  }
  // The session ID is not known yet; every ID has the same length.
  const sample = rexecEventPayload('00000000-0000-0000-0000-000000000000');
  problems.push(...validateFireRequest({ name: REXEC_EVENT, payload: sample, node: spec.node || undefined, service: spec.service || undefined, tag: spec.tag || undefined }));
  return problems;
}

function jobSpec(spec: RemoteExecSpec, heartbeatMs: number): string {
  // Go reads `Wait` as a time.Duration: nanoseconds. Zero would make every
  // agent write heartbeats in a tight loop.
  const wait = Math.round(heartbeatMs) * 1_000_000;
  if (spec.script !== undefined) return JSON.stringify({ Script: Buffer.from(spec.script, 'utf8').toString('base64'), Wait: wait });
  return JSON.stringify({ Command: commandLine(spec.command ?? '', spec.args), Wait: wait });
}

/** Checks the spec and builds the job; throws RemoteExecSpecError with every problem at once. */
export function planJob(spec: RemoteExecSpec): RexecPlan {
  const problems = specProblems(spec);
  if (problems.length) throw new RemoteExecSpecError(problems);
  const heartbeatMs = spec.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const job = jobSpec(spec, heartbeatMs);
  const size = Buffer.byteLength(job);
  if (size > MAX_JOB_BYTES) {
    throw new RemoteExecSpecError([
      `The job is ${Math.ceil(size / 1024)} KB but Consul stores at most ${MAX_JOB_BYTES / 1024} KB per key` +
        (spec.script !== undefined ? ' (a script grows by a third in base64, so about 380 KB of script fit).' : '.'),
    ]);
  }
  return {
    job,
    targets: [...new Set(spec.targets)],
    filters: { node: spec.node || undefined, service: spec.service || undefined, tag: spec.tag || undefined },
    timeoutMs: spec.timeoutMs,
    ackGraceMs: spec.ackGraceMs ?? DEFAULT_ACK_GRACE_MS,
    heartbeatMs,
  };
}
