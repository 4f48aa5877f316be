/**
 * Run records in KV, in metronome's own layout and field names, so metronome
 * tooling and teammates read the same history:
 *   metronome/results/<id>                 EventResult   {ID, Name, Status, StartedAt, FinishedAt}
 *   metronome/results/<id>/<no>            TaskResult    {EventID, No, Name, Status, StartedAt, FinishedAt}
 *   metronome/results/<id>/<no>/<node>     NodeTaskResult{EventID, No, Node, Status, Log, StartedAt, FinishedAt}
 *   metronome/results/<id>/<no>/<node>/log the node's output
 * Our own fields sit beside metronome's (prefixed `Ops`), never instead.
 */
import type { NodeRun, NodeStatus, PhaseRun, PhaseStatus, RunEngine, RunSnapshot, RunStatus, RunView } from './model';

type PhaseView = RunView['phases'][number];

export const RESULTS_PREFIX = 'metronome/results';
export const EVENT_QUEUE_KEY = 'metronome/event_queue';
export const PROGRESS_QUEUE_KEY = 'metronome/progress_task_queue';

/** Consul refuses values over 512 KiB; the log key keeps its tail under that with a marker. */
export const LOG_LIMIT_BYTES = 500 * 1024;
/** The copy of the log inside the node record stays short: readers take the full text from /log. */
export const INLINE_LOG_BYTES = 16 * 1024;
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export const runKey = (id: string) => `${RESULTS_PREFIX}/${id}`;
export const phaseKey = (id: string, no: number) => `${RESULTS_PREFIX}/${id}/${no}`;
export const nodeKey = (id: string, no: number, node: string) => `${RESULTS_PREFIX}/${id}/${no}/${node}`;
export const logKey = (id: string, no: number, node: string) => `${nodeKey(id, no, node)}/log`;

const time = (ms: number | undefined) => (ms === undefined ? GO_ZERO_TIME : new Date(ms).toISOString());

/** metronome knows inprogress, success, error, timeout and skip; our finer words go in OpsStatus. */
export function metronomeStatus(status: RunStatus | PhaseStatus | NodeStatus): string {
  switch (status) {
    case 'pending':
    case 'running':
      return 'inprogress';
    case 'success':
      return 'success';
    case 'timeout':
      return 'timeout';
    case 'skipped':
      return 'skip';
    default:
      return 'error';
  }
}

/** Keeps the last `limit` bytes of a log, with a marker saying how much was cut. */
export function truncateLog(text: string, limit = LOG_LIMIT_BYTES): string {
  const total = Buffer.byteLength(text, 'utf8');
  if (total <= limit) return text;
  const marker = `[… ${total - limit} earlier bytes truncated by chef-consul-ops: Consul values are limited to 512 KiB …]\n`;
  const keep = limit - Buffer.byteLength(marker);
  // The last `keep` bytes lie within the last `keep` UTF-16 units: only those are encoded, not the whole text.
  const end = Buffer.from(text.length > keep ? text.slice(text.length - keep) : text, 'utf8');
  // Cutting at a byte offset may split a character: drop the partial one.
  const tail = end.subarray(end.length - keep).toString('utf8').replace(/^\uFFFD+/, '');
  return marker + tail;
}

export function eventResultRecord(run: RunView, session?: string): Record<string, unknown> {
  return {
    ID: run.id,
    Name: run.event ?? run.command ?? '',
    Status: metronomeStatus(run.status),
    StartedAt: time(run.startedAt),
    FinishedAt: time(run.endedAt),
    OpsEngine: run.engine,
    OpsStatus: run.status,
    OpsStartedBy: run.startedBy,
    OpsPatterns: run.patterns,
    ...(run.command ? { OpsCommand: run.command } : {}),
    ...(run.target ? { OpsTarget: run.target } : {}),
    ...(run.message ? { OpsMessage: run.message } : {}),
    ...(session ? { OpsSession: session } : {}),
    OpsPhases: run.phases.map((p) => ({ No: p.no, Task: p.task, Pattern: p.pattern, Service: p.service, Tag: p.tag })),
  };
}

export function taskResultRecord(run: RunView, phase: PhaseView): Record<string, unknown> {
  return {
    EventID: run.id,
    No: phase.no,
    Name: phase.task,
    Status: metronomeStatus(phase.status),
    StartedAt: time(phase.startedAt),
    FinishedAt: time(phase.endedAt),
    OpsStatus: phase.status,
    ...(phase.pattern ? { OpsPattern: phase.pattern } : {}),
    ...(phase.service ? { OpsService: phase.service } : {}),
    ...(phase.tag ? { OpsTag: phase.tag } : {}),
    ...(phase.message ? { OpsMessage: phase.message } : {}),
  };
}

export function nodeResultRecord(run: RunView, phase: PhaseView, node: Readonly<NodeRun>, log: string): Record<string, unknown> {
  return {
    EventID: run.id,
    No: phase.no,
    Node: node.node,
    Status: metronomeStatus(node.status),
    Log: truncateLog(log, INLINE_LOG_BYTES),
    StartedAt: time(node.startedAt),
    FinishedAt: time(node.endedAt),
    OpsStatus: node.status,
    ...(node.exitCode !== undefined ? { OpsExitCode: node.exitCode } : {}),
    ...(node.note ? { OpsNote: node.note } : {}),
  };
}

// ---------------------------------------------------------------------------
// Reading records back, from us or from metronome itself. All of it is untrusted.

const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'success', 'error', 'timeout', 'cancelled', 'interrupted'];
const PHASE_STATUSES: readonly PhaseStatus[] = ['pending', 'running', 'success', 'error', 'timeout', 'skipped', 'cancelled'];
const NODE_STATUSES: readonly NodeStatus[] = ['pending', 'running', 'success', 'error', 'timeout', 'lost', 'cancelled'];

function fromMetronome(status: unknown): 'running' | 'success' | 'error' | 'timeout' | 'skipped' {
  switch (status) {
    case 'success':
      return 'success';
    case 'timeout':
      return 'timeout';
    case 'skip':
      return 'skipped';
    case 'inprogress':
      return 'running';
    default:
      return 'error';
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
function parseTime(v: unknown): number | undefined {
  if (typeof v !== 'string' || v.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

export function parseJsonRecord(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function runFromRecord(rec: Record<string, unknown>, id: string): RunSnapshot {
  const ops = str(rec.OpsStatus) as RunStatus | undefined;
  const fallback = fromMetronome(rec.Status);
  const status: RunStatus = ops && RUN_STATUSES.includes(ops) ? ops : fallback === 'skipped' ? 'success' : fallback;
  const engine = (['exec', 'metronome', 'adhoc'] as const).find((e) => e === rec.OpsEngine) ?? ('metronome' satisfies RunEngine);
  const phases = Array.isArray(rec.OpsPhases)
    ? rec.OpsPhases.filter((p): p is Record<string, unknown> => !!p && typeof p === 'object').map((p, i) => ({
        no: int(p.No) ?? i,
        task: str(p.Task) ?? '',
        pattern: str(p.Pattern),
        service: str(p.Service),
        tag: str(p.Tag),
        status: 'pending' as PhaseStatus,
        nodes: [],
      }))
    : [];
  return {
    // The key names the run; a record's own ID field is only data.
    id,
    engine,
    event: engine === 'adhoc' ? undefined : str(rec.Name),
    command: str(rec.OpsCommand),
    patterns: Array.isArray(rec.OpsPatterns) ? rec.OpsPatterns.filter((p): p is string => typeof p === 'string') : [],
    startedBy: str(rec.OpsStartedBy) ?? 'metronome',
    status,
    startedAt: parseTime(rec.StartedAt) ?? 0,
    endedAt: parseTime(rec.FinishedAt),
    phases,
    message: str(rec.OpsMessage),
    target: targetFromRecord(rec.OpsTarget),
  };
}

function targetFromRecord(v: unknown): RunSnapshot['target'] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const t = v as Record<string, unknown>;
  return { node: str(t.node), service: str(t.service), tag: str(t.tag) };
}

export function phaseFromRecord(rec: Record<string, unknown>, no: number): PhaseRun {
  const ops = str(rec.OpsStatus) as PhaseStatus | undefined;
  return {
    no: int(rec.No) ?? no,
    task: str(rec.Name) ?? '',
    pattern: str(rec.OpsPattern),
    service: str(rec.OpsService),
    tag: str(rec.OpsTag),
    status: ops && PHASE_STATUSES.includes(ops) ? ops : fromMetronome(rec.Status),
    startedAt: parseTime(rec.StartedAt),
    endedAt: parseTime(rec.FinishedAt),
    nodes: [],
    message: str(rec.OpsMessage),
  };
}

export function nodeFromRecord(rec: Record<string, unknown>, node: string): NodeRun {
  const ops = str(rec.OpsStatus) as NodeStatus | undefined;
  const status = ops && NODE_STATUSES.includes(ops) ? ops : fromMetronome(rec.Status);
  return {
    node,
    status: status === 'skipped' ? 'success' : status,
    exitCode: int(rec.OpsExitCode),
    startedAt: parseTime(rec.StartedAt),
    endedAt: parseTime(rec.FinishedAt),
    outputBytes: typeof rec.Log === 'string' ? Buffer.byteLength(rec.Log) : 0,
    note: str(rec.OpsNote),
  };
}
