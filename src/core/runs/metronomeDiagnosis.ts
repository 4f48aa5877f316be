/**
 * What can keep a metronome run from finishing, said in one sentence each: a
 * stuck metronome run is silent, as nothing in KV changes. Pure, but for the
 * set that keeps the diagnostics that still hold.
 */
import { Emitter } from '../util/emitter';
import { EVENT_QUEUE_KEY } from './metronomeLayout';
import type { MetronomeOutcome } from './metronomeResults';
import type { PhaseStatus } from './model';

/** metronome (scheduler/run.go): how long the head phase of its queue may wait for a node to start it. */
export const METRONOME_START_TIMEOUT_S = 120;
/** metronome (scheduler/run.go): how long a started phase may take before metronome times it out. */
export const METRONOME_TASK_TIMEOUT_S = 3600;

export type MetronomeDiagnosticKind =
  /** (a) the head phase (or the event itself) has not started in time. */
  | 'head-not-started'
  /** (b) a phase matches no node in the catalog. */
  | 'no-node'
  /** (c) metronome cleared its progress queue, so later phases never run. */
  | 'queue-wiped'
  /** (d) a result under a name that is not a Consul node (hostname ≠ node name). */
  | 'unknown-node'
  /** metronome will never finish this event: its queues no longer hold it. */
  | 'orphaned'
  /** the agents' plan differs from the task.yml the run was started from. */
  | 'plan-mismatch'
  /** a value in metronome's keys is not what metronome writes. */
  | 'malformed'
  /** Consul could not be read; following resumes by itself. */
  | 'follow-error';

export interface MetronomeDiagnostic {
  kind: MetronomeDiagnosticKind;
  severity: 'error' | 'warning' | 'info';
  /** One sentence for the user. */
  message: string;
  phase?: number;
  node?: string;
  key?: string;
  since: number;
}

/** The kinds that say why a run stopped or stalls, and so belong in the run's own message. */
export const RUN_MESSAGE_KINDS: readonly MetronomeDiagnosticKind[] = ['head-not-started', 'no-node', 'queue-wiped', 'unknown-node', 'orphaned'];

/**
 * Phases that left the progress queue without a final TaskResult, and the
 * failed phase that explains it (metronome clears the queue after an error or
 * a timeout, before it writes that phase's result).
 */
export function queueLoss(input: { seen: Iterable<number>; queued: ReadonlySet<number>; finals: ReadonlyMap<number, PhaseStatus> }): { lost: number[]; failed?: { no: number; status: PhaseStatus } } {
  const lost = [...input.seen].filter((no) => !input.queued.has(no) && !input.finals.has(no)).sort((a, b) => a - b);
  const failed = [...input.finals]
    .filter(([, s]) => s === 'error' || s === 'timeout')
    .sort((a, b) => a[0] - b[0])
    .map(([no, status]) => ({ no, status }))[0];
  return { lost, ...(failed ? { failed } : {}) };
}

export interface PhaseLabel {
  no: number;
  task: string;
  service?: string;
  tag?: string;
}

export const label = (p: PhaseLabel) => `phase ${p.no + 1}${p.task ? ` (${p.task})` : ''}`;
export const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
export const list = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');
export const PICKED_UP_QUESTION = 'no metronome agent picked up the event: are the agents running and is the event queue being consumed?';

export interface StallContext {
  timeoutMs: number;
  /** queued: no agent has taken the event yet; phase: metronome queued the phase but no node started it. */
  stage: 'queued' | 'phase';
  /** Where the event sits in metronome/event_queue; undefined when it is not there. */
  eventQueued?: { position: number; length: number };
  /** The event metronome is busy with instead, from the head of its progress queue. */
  blockedBy?: { id: string; no: number; task: string };
  phase?: PhaseLabel & { targets: readonly string[] };
}

export function stallSentence(c: StallContext): string {
  const after = `${Math.round(c.timeoutMs / 100) / 10} s`;
  if (c.stage === 'phase' && c.phase) {
    const nodes = c.phase.targets.length ? `none of its nodes (${list(c.phase.targets)}) wrote a result` : 'no node wrote a result';
    return `${cap(label(c.phase))} has not started within ${after} of reaching the head of metronome's queue: ${nodes}; are the metronome agents on them running, and is each agent's hostname its Consul node name?`;
  }
  if (c.blockedBy) {
    const where = c.eventQueued ? ` (position ${c.eventQueued.position + 1} of ${c.eventQueued.length} in ${EVENT_QUEUE_KEY})` : '';
    return `Not started after ${after}: the event waits${where} behind event ${c.blockedBy.id}, whose phase ${c.blockedBy.no + 1} (${c.blockedBy.task}) is still in metronome's progress queue.`;
  }
  const where = c.eventQueued
    ? `The event has been in ${EVENT_QUEUE_KEY} for over ${after}.`
    : `In ${after} the event did not even reach ${EVENT_QUEUE_KEY}, where each agent's event watch puts it.`;
  return `${cap(PICKED_UP_QUESTION)} ${where}`;
}

export function noNodeSentence(phase: PhaseLabel, skippable: boolean): string {
  const filter = phase.service ? `service "${phase.service}"${phase.tag ? ` with tag "${phase.tag}"` : ''}` : 'any service';
  const then = skippable
    ? 'metronome will skip it.'
    : `it is not skippable, so metronome will hold its queue on it for ${METRONOME_START_TIMEOUT_S} s, then end it timeout and stop the event.`;
  return `${cap(label(phase))} matches no node in the Consul catalog (${filter}): ${then}`;
}

export function unknownNodeSentence(phase: PhaseLabel, node: string, waitingFor: readonly string[]): string {
  const wait = waitingFor.length
    ? ` metronome waits for a result under ${list(waitingFor)} instead, so the phase will not finish before its ${METRONOME_START_TIMEOUT_S} s start timeout (${METRONOME_TASK_TIMEOUT_S} s once started).`
    : '';
  return `${cap(label(phase))} has a result under node "${node}", which is not a node in the Consul catalog: metronome names results after the agent's hostname, and that agent's hostname is not its Consul node name.${wait}`;
}

export function wipeSentence(failed: PhaseLabel & { status: PhaseStatus }, cancelled: readonly PhaseLabel[]): string {
  const never = cancelled.length === 1 ? `${label(cancelled[0])} never ran` : `phases ${cancelled.map((p) => p.no + 1).join(', ')} never ran`;
  return `metronome cleared its progress queue after ${label(failed)} ended ${failed.status}, so ${never}.`;
}

/** Why metronome will never finish an event whose EventResult says inprogress; undefined while it still may. */
export function orphanSentence(s: { eventResult: MetronomeOutcome | 'missing'; queuedPhases: number; anyPhaseResult: boolean; everQueued: boolean }): string | undefined {
  if (s.eventResult !== 'inprogress' || s.queuedPhases > 0) return undefined;
  if (!s.anyPhaseResult && !s.everQueued) {
    return 'metronome took the event but queued no phase for it (no task.yml on its agents defines it), so its EventResult stays inprogress for ever.';
  }
  return `metronome's progress queue no longer holds any phase of this event (it was cleared), so no agent will finish it and its EventResult stays inprogress.`;
}

/** The diagnostics that still hold, each under one id: a new one with the same id replaces it. */
export class DiagnosticSet {
  private readonly diags = new Map<string, MetronomeDiagnostic>();
  private readonly emitter = new Emitter<MetronomeDiagnostic[]>();
  readonly onDidChange = this.emitter.event;

  /** Oldest first. */
  get all(): MetronomeDiagnostic[] {
    return [...this.diags.values()].sort((a, b) => a.since - b.since);
  }

  has(kind: MetronomeDiagnosticKind, key?: string, phase?: number, node?: string): boolean {
    return this.diags.has(diagKey(kind, key, phase, node));
  }

  /** A diagnostic that says the same as before keeps its `since` and wakes nobody. */
  set(d: Omit<MetronomeDiagnostic, 'since'>, id = diagKey(d.kind, d.key, d.phase, d.node)): void {
    const prev = this.diags.get(id);
    if (prev && prev.message === d.message && prev.severity === d.severity) return;
    this.diags.set(id, { ...d, since: prev?.since ?? Date.now() });
    this.emitter.fire(this.all);
  }

  /** Drops diagnostics that no longer hold (phase/key given: only those). */
  forget(kind: MetronomeDiagnosticKind, key?: string, phase?: number): void {
    let changed = false;
    for (const [id, d] of this.diags) {
      if (d.kind === kind && (key === undefined || d.key === key) && (phase === undefined || d.phase === phase)) changed = this.diags.delete(id) || changed;
    }
    if (changed) this.emitter.fire(this.all);
  }
}

function diagKey(kind: MetronomeDiagnosticKind, key?: string, phase?: number, node?: string): string {
  return `${kind}|${phase ?? ''}|${node ?? ''}|${key ?? ''}`;
}
