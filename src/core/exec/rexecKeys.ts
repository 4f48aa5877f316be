/**
 * The KV layout of Consul's remote exec (agent/remote_exec.go, 1.8): one
 * directory per session, the job spec in `job`, and per answering node an
 * `ack`, numbered output chunks `out/%05x` and an `exit`. Everything under a
 * node's directory is written by that node and is untrusted.
 */

export const REXEC_PREFIX = '_rexec';
/** Agents only act on user events of exactly this name. */
export const REXEC_EVENT = '_rexec';

export const jobDir = (sessionId: string): string => `${REXEC_PREFIX}/${sessionId}/`;
export const jobKey = (sessionId: string): string => `${jobDir(sessionId)}job`;

/**
 * Where a re-announced job lives: agents read `<prefix>/<session>/job` and
 * write their keys beside it, so announcement N gets its own job key inside
 * the job's directory (the earlier one can be deleted) while every answer
 * stays under the same session and the same watched directory.
 */
export const retryPrefix = (sessionId: string, attempt: number): string => `${jobDir(sessionId)}retry-${attempt}`;
export const retryJobKey = (sessionId: string, attempt: number): string => `${retryPrefix(sessionId, attempt)}/${sessionId}/job`;

/** The `_rexec` event's body: where the agents find the job. */
export function rexecEventPayload(sessionId: string, prefix: string = REXEC_PREFIX): string {
  return JSON.stringify({ Prefix: prefix, Session: sessionId });
}

export type RexecKey =
  | { kind: 'ack'; node: string; key: string }
  | { kind: 'exit'; node: string; key: string }
  | { kind: 'out'; node: string; seq: number; key: string };

// Node names are taken as everything before a known suffix, so a name with
// a slash in it still parses. Eight hex digits is 16 TB of 4 KB chunks: a
// longer "number" is not something an agent wrote.
const NODE_KEY = /^(.+)\/(?:(ack)|(exit)|out\/([0-9a-f]{1,8}))$/;

/** A key under the job directory; undefined for the job itself and anything no agent writes. */
export function parseRexecKey(dir: string, key: string): RexecKey | undefined {
  if (!key.startsWith(dir)) return undefined;
  let rest = key.slice(dir.length);
  // An answer to a re-announcement: `retry-N/<session>/<node>/…`. The session
  // in the middle keeps a node that is itself named `retry-N` apart.
  const session = dir.slice(REXEC_PREFIX.length + 1, -1);
  const retry = /^retry-\d{1,4}\//.exec(rest);
  if (retry && rest.startsWith(`${session}/`, retry[0].length)) rest = rest.slice(retry[0].length + session.length + 1);
  const m = NODE_KEY.exec(rest);
  if (!m) return undefined;
  const node = m[1];
  if (m[2]) return { kind: 'ack', node, key };
  if (m[3]) return { kind: 'exit', node, key };
  return { kind: 'out', node, seq: parseInt(m[4], 16), key };
}

const RANK = { ack: 0, out: 1, exit: 2 } as const;

/**
 * The order in which keys must be applied: per node the ack, then output by
 * number (not by name: `%05x` stops sorting as text past 0xfffff), then the
 * exit. Consul lists `exit` before `out/…`, which is the wrong way round.
 */
export function compareRexecKeys(a: RexecKey, b: RexecKey): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  if (a.kind !== b.kind) return RANK[a.kind] - RANK[b.kind];
  return a.kind === 'out' && b.kind === 'out' ? a.seq - b.seq : 0;
}

export type ExitValue = { ok: true; code: number } | { ok: false; problem: string };

/**
 * The agent writes the decimal exit status; -1 is Go's way of saying the
 * process was ended by a signal. Anything else is reported, not trusted.
 */
export function parseExitCode(raw: Buffer | undefined): ExitValue {
  const text = raw?.toString('latin1') ?? '';
  if (/^-?\d{1,10}$/.test(text)) {
    const code = Number(text);
    if (code >= -(2 ** 31) && code < 2 ** 31) return { ok: true, code };
  }
  return { ok: false, problem: `the node wrote ${preview(text)} as its exit code` };
}

function preview(text: string): string {
  if (!text) return 'an empty value';
  const shown = JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text);
  return text.length > 24 ? `${shown} (${text.length} bytes)` : shown;
}
