/**
 * The checks that say why a metronome run is stuck, run by the engine on each
 * pass, and what they keep between passes: since when the head of the queue
 * waits, since when metronome's queues lack what it owes, the node names
 * already looked up, the catalog they are judged against, and the diagnostics
 * that still hold. They read the engine's state and never change it: what a
 * check decides for the run, the engine does. The sentences are in
 * metronomeDiagnosis.ts.
 */
import type { ConsulConnection } from '../consul/client';
import { readCatalog } from '../consul/nodeDump';
import { phaseTargets, type TargetNode } from '../plans/targeting';
import {
  cap,
  DiagnosticSet,
  label,
  noNodeSentence,
  orphanSentence,
  queueLoss,
  RUN_MESSAGE_KINDS,
  stallSentence,
  unknownNodeSentence,
  wipeSentence,
  type MetronomeDiagnostic,
  type MetronomeDiagnosticKind,
  type PhaseLabel,
} from './metronomeDiagnosis';
import { PROGRESS_QUEUE_KEY } from './metronomeLayout';
import type { PhaseInfo } from './metronomePhases';
import type { QueuedEvent, QueuedPhase } from './metronomeQueues';
import type { MetronomeOutcome } from './metronomeResults';
import type { PhaseStatus, Run } from './model';

/** The engine's state as the checks read it; the engine alone changes it. */
export interface DiagnoserContext {
  connection: ConsulConnection;
  run: Run;
  phases: ReadonlyMap<number, PhaseInfo>;
  /** Phases seen in metronome's progress queue. */
  seenQueued: ReadonlySet<number>;
  started: ReadonlySet<number>;
  finals: ReadonlyMap<number, PhaseStatus>;
  headTimeoutMs: number;
  graceMs: number;
  /** Asks the engine for a pass at that time. */
  wakeAt(at: number): void;
}

/** What the head check reads of the queues, as the last pass saw them. */
export interface QueueView {
  /** An agent has the event. */
  pickedUp: boolean;
  progress: readonly QueuedPhase[] | undefined;
  eventQueue: readonly QueuedEvent[] | undefined;
}

type HeadStage = 'queued' | 'phase';

export class MetronomeDiagnoser {
  private readonly diags = new DiagnosticSet();
  readonly onDidChange = this.diags.onDidChange;
  private catalog: TargetNode[] | undefined;
  private readonly checkedNodes = new Set<string>();
  private head: { key: string; no: number; stage: HeadStage; since: number } | undefined;
  private lostSince: number | undefined;
  private orphanSince: number | undefined;

  constructor(private readonly ctx: DiagnoserContext) {}

  /** The problems found so far that still hold, oldest first. */
  get all(): MetronomeDiagnostic[] {
    return this.diags.all;
  }

  /** Waiting for an agent counts from now: the fire, or the attach. */
  startWaiting(no: number): void {
    this.head = { key: 'queued', no, stage: 'queued', since: Date.now() };
    this.ctx.wakeAt(this.head.since + this.ctx.headTimeoutMs);
  }

  /** Phases that left the progress queue unrun, once that holds past the grace (or a failure explains it), with the note their end carries. */
  lostPhases(queued: ReadonlySet<number>): { lost: number[]; note: string } | undefined {
    const { lost, failed } = queueLoss({ seen: this.ctx.seenQueued, queued, finals: this.ctx.finals });
    if (!lost.length) {
      this.lostSince = undefined;
      return undefined;
    }
    const now = Date.now();
    if (!failed) {
      this.lostSince ??= now;
      if (now - this.lostSince < this.ctx.graceMs) {
        this.ctx.wakeAt(this.lostSince + this.ctx.graceMs);
        return undefined;
      }
    }
    const labels = lost.map((no) => this.labelOf(no));
    const message = failed
      ? wipeSentence({ ...this.labelOf(failed.no), status: failed.status }, labels)
      : `${lost.length === 1 ? cap(label(labels[0])) : `Phases ${lost.map((no) => no + 1).join(', ')}`} left metronome's progress queue without running (someone cleared ${PROGRESS_QUEUE_KEY}?).`;
    this.diagnose({ kind: 'queue-wiped', severity: 'error', message });
    return { lost, note: failed ? this.wipeNote(failed) : 'Never ran: it left metronome\'s progress queue unrun.' };
  }

  /** A wipe first seen when the event ended; the note of each phase it kept from running. */
  wipeSeenLate(failed: { no: number; status: PhaseStatus }, cancelled: readonly number[]): string {
    if (!this.diags.has('queue-wiped')) this.diagnose({ kind: 'queue-wiped', severity: 'error', message: wipeSentence({ ...this.labelOf(failed.no), status: failed.status }, cancelled.map((no) => this.labelOf(no))) });
    return this.wipeNote(failed);
  }

  private wipeNote(failed: { no: number; status: PhaseStatus }): string {
    return `Never ran: metronome cleared its progress queue after ${label(this.labelOf(failed.no))} ended ${failed.status}.`;
  }

  /** Why metronome can no longer finish the run, once that holds past the grace; undefined while it still may. */
  orphaned(eventResult: MetronomeOutcome | 'missing', queuedPhases: number, anyPhaseResult: boolean): string | undefined {
    const reason = orphanSentence({ eventResult, queuedPhases, anyPhaseResult, everQueued: this.ctx.seenQueued.size > 0 });
    if (!reason) {
      this.orphanSince = undefined;
      return undefined;
    }
    const now = Date.now();
    this.orphanSince ??= now;
    if (now - this.orphanSince < this.ctx.graceMs) {
      this.ctx.wakeAt(this.orphanSince + this.ctx.graceMs);
      return undefined;
    }
    this.diagnose({ kind: 'orphaned', severity: 'error', message: reason });
    return reason;
  }

  /** (a): the event, then each head phase, gets the head timeout to start. */
  async checkHead(queued: ReadonlySet<number>, queues: QueueView): Promise<void> {
    const { run, started, finals, headTimeoutMs } = this.ctx;
    let next: { key: string; no: number; stage: HeadStage } | undefined;
    if (!queues.pickedUp) next = { key: 'queued', no: this.head?.no ?? 0, stage: 'queued' };
    else {
      const no = Math.min(...queued);
      if (Number.isFinite(no) && !started.has(no) && !finals.has(no)) next = { key: `phase:${no}`, no, stage: 'phase' };
    }
    const now = Date.now();
    if (next?.key !== this.head?.key) {
      this.forget('head-not-started');
      this.head = next && { ...next, since: now };
      if (!next) return;
      // Nodes come and go: judge the new head against the catalog of now.
      await this.refreshCatalog();
      const info = this.ctx.phases.get(next.no);
      if (info) this.checkReach(info);
      this.ctx.wakeAt(now + headTimeoutMs);
      return;
    }
    const head = this.head;
    if (!head) return;
    if (now - head.since < headTimeoutMs) return this.ctx.wakeAt(head.since + headTimeoutMs);
    // A phase with no node already has its own, more precise diagnostic.
    if (head.stage === 'phase' && this.diags.has('no-node', undefined, head.no)) return;
    const blocker = (queues.progress ?? []).find((p) => p.id !== run.id);
    const position = (queues.eventQueue ?? []).findIndex((e) => e.id === run.id);
    const message = stallSentence({
      timeoutMs: headTimeoutMs,
      stage: head.stage,
      ...(position >= 0 ? { eventQueued: { position, length: queues.eventQueue?.length ?? 0 } } : {}),
      ...(blocker ? { blockedBy: { id: blocker.id, no: blocker.no, task: blocker.task } } : {}),
      ...(head.stage === 'phase' ? { phase: { ...this.labelOf(head.no), targets: this.targets(head.no) } } : {}),
    });
    this.diagnose({ kind: 'head-not-started', severity: blocker && head.stage === 'queued' ? 'info' : 'warning', phase: head.no, message }, 'head-not-started');
  }

  /** (b): judged only for phases that have not started. */
  checkReach(p: PhaseInfo): void {
    if (!this.catalog || this.ctx.started.has(p.no) || this.ctx.finals.has(p.no)) return;
    if (phaseTargets(p, this.catalog).length) this.forget('no-node', undefined, p.no);
    else this.diagnose({ kind: 'no-node', severity: p.skippable ? 'info' : 'warning', phase: p.no, message: noNodeSentence(p, !!p.skippable) });
  }

  /** (d): a result under a name the catalog does not know, after one fresh look at the catalog. */
  async checkNode(no: number, node: string): Promise<void> {
    if (!this.catalog || this.catalog.some((n) => n.name === node) || this.checkedNodes.has(node)) return;
    this.checkedNodes.add(node);
    await this.refreshCatalog();
    if (this.catalog.some((n) => n.name === node)) return;
    const names = new Set(this.catalog.map((n) => n.name));
    const waiting = this.ctx.run.phase(no).nodes.filter((n) => n.status === 'pending' && names.has(n.node)).map((n) => n.node);
    this.diagnose({ kind: 'unknown-node', severity: 'warning', phase: no, node, message: unknownNodeSentence(this.labelOf(no), node, waiting) });
  }

  /** What the diagnostics say about one phase, for the note it ends with. */
  phaseNotes(no: number): string | undefined {
    const notes = this.all.filter((d) => d.phase === no && (d.kind === 'no-node' || d.kind === 'unknown-node' || d.kind === 'head-not-started')).map((d) => d.message);
    return notes.length ? notes.join(' ') : undefined;
  }

  /** The run's message: the sentence, then why it stopped or stalls. */
  runMessage(first: string | undefined): string | undefined {
    const rest = this.all.filter((d) => RUN_MESSAGE_KINDS.includes(d.kind) && d.message !== first).map((d) => d.message);
    const all = [first, ...rest].filter((s): s is string => !!s);
    return all.length ? all.join(' ') : undefined;
  }

  // --- the catalog --------------------------------------------------------------

  /** False until the catalog was read once. */
  get hasCatalog(): boolean {
    return !!this.catalog;
  }

  async refreshCatalog(): Promise<void> {
    try {
      this.catalog = (await readCatalog(this.ctx.connection)).nodes;
    } catch {
      // Diagnosis only: keep the last catalog rather than report a node as unknown.
    }
  }

  /** The nodes a phase targets in the catalog as last read. */
  targets(no: number): string[] {
    const p = this.ctx.phases.get(no);
    return p && this.catalog ? phaseTargets(p, this.catalog) : [];
  }

  labelOf(no: number): PhaseLabel {
    const p = this.ctx.phases.get(no);
    return { no, task: p?.task ?? '', service: p?.service, tag: p?.tag };
  }

  // --- the set ------------------------------------------------------------------

  diagnose(d: Omit<MetronomeDiagnostic, 'since'>, id?: string): void {
    this.diags.set(d, id);
  }

  forget(kind: MetronomeDiagnosticKind, key?: string, phase?: number): void {
    this.diags.forget(kind, key, phase);
  }

  /** A value in metronome's keys that is not what metronome writes, or no longer. */
  malformed(key: string, problem: string | undefined): void {
    if (problem) this.diagnose({ kind: 'malformed', severity: 'warning', key, message: problem });
    else this.forget('malformed', key);
  }
}
