/**
 * The metronome engine: metronome's agents decide the order and run the
 * tasks; the editor fires the event and follows what they write to KV, live,
 * into the one run model. It also says why a run is stuck, because a stuck
 * metronome run is silent: nothing in KV changes.
 *
 * Blocking queries, each woken only by its own writes once it has something
 * to watch:
 *   - metronome/event_queue, read exactly (its prefix holds the agents' lock,
 *     rewritten every second), and only until an agent takes the event;
 *   - metronome/progress_task_queue, read as a prefix: when metronome deletes
 *     it, a prefix read blocks on the tombstone where an exact read of a
 *     missing key answers at every KV write;
 *   - the key names under metronome/results/<id>, once an agent took the
 *     event: a recursive read would send every finished log again on every
 *     change; names say what to read, and only records not final are read.
 * A node's log is taken once: from its final record where that holds it, else
 * from /log once /log was written after the final record (metronome writes it
 * second, so a read in between finds the empty /log of the node's start).
 *
 * The queries and their latest answers are kept in metronomeWatches.ts, the
 * checks that say why a run is stuck in metronomeDiagnoser.ts; this class
 * keeps the run's state and turns each pass's reads into the run model.
 */
import { listKeys, mapLimited, readIndexed, readValue } from '../consul/kv';
import type { ConsulConnection } from '../consul/client';
import { fireEvent } from '../consul/events';
import type { MergedEvent } from '../plans/merge';
import { MetronomeDiagnoser } from './metronomeDiagnoser';
import { cap, label, list, METRONOME_TASK_TIMEOUT_S, queueLoss, type MetronomeDiagnostic, type MetronomeDiagnosticKind, type PhaseLabel } from './metronomeDiagnosis';
import { readValues } from './metronomeFollower';
import { EVENT_QUEUE_KEY, logKey, parseJsonRecord, phaseKey, PROGRESS_QUEUE_KEY, runFromRecord, runKey } from './metronomeLayout';
import { phasesFromKv, phasesOf, type PhaseInfo } from './metronomePhases';
import { parseEventQueue, parseProgressQueue, type QueuedEvent, type QueuedPhase } from './metronomeQueues';
import { metronomeOutcome, nodeStatusOf, phaseStatusOf, resultKeyPart, runStatusOf, type MetronomeOutcome, type ResultKey } from './metronomeResults';
import { MetronomeWatches } from './metronomeWatches';
import { FINISHED_PHASE, PhaseStatus, Run, RunSnapshot, RunStatus } from './model';
import type { RunRegistry } from './registry';

export { METRONOME_TASK_TIMEOUT_S, parseEventQueue, parseProgressQueue, queueLoss, metronomeOutcome, resultKeyPart };
export { noNodeSentence, orphanSentence, PICKED_UP_QUESTION, stallSentence, unknownNodeSentence, wipeSentence, type StallContext } from './metronomeDiagnosis';
export type { MetronomeDiagnostic, MetronomeDiagnosticKind, MetronomeOutcome, PhaseLabel, QueuedEvent, QueuedPhase, ResultKey };

export const DEFAULT_HEAD_START_TIMEOUT_MS = 120_000;
/** Longer than metronome's 1 s poll, so the gap between two of its writes is never taken for a stop. */
export const DEFAULT_ORPHAN_GRACE_MS = 5_000;

export interface MetronomeFollowOptions {
  /** How long the head phase (or the event itself) may wait to start before it is reported; default 120 000. */
  headStartTimeoutMs?: number;
  /** How long metronome's queues may lack a phase it owes before that counts as a stop; default 5 000. */
  orphanGraceMs?: number;
  /** Quiet time merging a burst of KV writes into one read; default 20. */
  coalesceMs?: number;
}

export interface MetronomeFireRequest extends MetronomeFollowOptions {
  /** The event and the phases it should run, from the task.yml here. */
  merged: MergedEvent;
  /** metronome's token, sent as the event's payload. */
  token?: string;
  startedBy: string;
}

export interface MetronomeAttachRequest extends MetronomeFollowOptions {
  /** The Consul event ID, which names metronome/results/<id>. */
  id: string;
  /** The plan, when known; otherwise the phases are taken from KV. */
  merged?: MergedEvent;
  startedBy?: string;
}

interface Init {
  id: string;
  event: string;
  phases: PhaseInfo[];
  startedBy: string;
  startedAt?: number;
  pickedUp: boolean;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export class MetronomeRun {
  readonly run: Run;
  /** Resolves when the run ended: finished by metronome, stopped (interrupted), or no longer followed (cancelled). */
  readonly done: Promise<RunSnapshot>;
  readonly onDidChangeDiagnostics: MetronomeDiagnoser['onDidChange'];
  /** The checks that say why the run is stuck, and the diagnostics that still hold. */
  private readonly diagnoser: MetronomeDiagnoser;

  private resolveDone!: (s: RunSnapshot) => void;
  private readonly phases = new Map<number, PhaseInfo>();
  /** The blocking queries, and their latest answers. */
  private readonly watches: MetronomeWatches;
  private readonly headTimeoutMs: number;
  private readonly graceMs: number;

  private readonly started = new Set<number>();
  private readonly finals = new Map<number, PhaseStatus>();
  private readonly nodeFinals = new Set<string>();
  private readonly seenQueued = new Set<number>();
  /** An agent has the event: it is out of the event queue, into the progress queue or results. */
  private pickedUp: boolean;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private syncing = false;
  /** Whether every phase was judged against the catalog yet. */
  private reachChecked = false;
  private dirty = false;
  private finished = false;

  /** Fires the event for metronome's agents and follows it. */
  static async fire(connection: ConsulConnection, registry: RunRegistry, req: MetronomeFireRequest): Promise<MetronomeRun> {
    const event = await fireEvent(connection, { name: req.merged.name, ...(req.token ? { payload: req.token } : {}) });
    if (!ID_RE.test(event.id)) throw new Error(`Consul fired "${req.merged.name}" but answered with no usable event ID, so its metronome results cannot be followed.`);
    return new MetronomeRun(connection, registry, { id: event.id, event: req.merged.name, phases: phasesOf(req.merged), startedBy: req.startedBy, pickedUp: false }, req);
  }

  /** Follows an event metronome already has (after a reload, or fired elsewhere); a finished one ends at once. */
  static async attach(connection: ConsulConnection, registry: RunRegistry, req: MetronomeAttachRequest): Promise<MetronomeRun> {
    const { id } = req;
    if (!ID_RE.test(id)) throw new Error(`"${id}" is not a Consul event ID.`);
    if (registry.get(id)) throw new Error(`Event ${id} is already being followed in this editor.`);
    const [eventValue, progressValue, eventQueueValue, keys] = await Promise.all([
      readValue(connection, runKey(id)),
      readValue(connection, PROGRESS_QUEUE_KEY),
      readValue(connection, EVENT_QUEUE_KEY),
      listKeys(connection, runKey(id)),
    ]);
    const queued = parseProgressQueue(progressValue).phases.filter((p) => p.id === id);
    const waiting = parseEventQueue(eventQueueValue).events.find((e) => e.id === id);
    if (!eventValue && !queued.length && !waiting && !keys.length) {
      throw new Error(`There is no metronome run ${id}: ${runKey(id)} does not exist and neither of metronome's queues holds the event.`);
    }
    const record = parseJsonRecord(eventValue);
    const phases = req.merged ? phasesOf(req.merged) : await phasesFromKv(connection, id, keys, queued);
    const startedAt = record ? runFromRecord(record, id).startedAt : 0;
    return new MetronomeRun(
      connection,
      registry,
      {
        id,
        event: req.merged?.name ?? (typeof record?.Name === 'string' ? record.Name : waiting?.name ?? ''),
        phases,
        startedBy: req.startedBy ?? 'metronome',
        ...(startedAt > 0 ? { startedAt } : {}),
        pickedUp: !waiting,
      },
      req,
    );
  }

  private constructor(
    private readonly connection: ConsulConnection,
    registry: RunRegistry,
    init: Init,
    options: MetronomeFollowOptions,
  ) {
    this.headTimeoutMs = options.headStartTimeoutMs ?? DEFAULT_HEAD_START_TIMEOUT_MS;
    this.graceMs = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
    for (const p of init.phases) this.phases.set(p.no, p);
    this.run = new Run({
      id: init.id,
      engine: 'metronome',
      event: init.event,
      patterns: [...new Set(init.phases.map((p) => p.pattern).filter((p): p is string => !!p))],
      startedBy: init.startedBy,
      startedAt: init.startedAt,
      phases: init.phases.map(({ no, task, pattern, service, tag }) => ({ no, task, pattern, service, tag })),
    });
    const { phases, seenQueued, started, finals, headTimeoutMs, graceMs } = this;
    this.diagnoser = new MetronomeDiagnoser({ connection, run: this.run, phases, seenQueued, started, finals, headTimeoutMs, graceMs, wakeAt: (at) => this.wakeAt(at) });
    this.onDidChangeDiagnostics = this.diagnoser.onDidChange;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    // The connection stays usable until the run ends, even if the editor disposes it meanwhile.
    const release = connection.retain();
    void this.done.then(release, release);
    const signal = registry.add(this.run);
    registry.track(this.run.id, this.done);
    signal.addEventListener('abort', () => this.cancel(), { once: true });

    this.pickedUp = init.pickedUp;
    this.watches = new MetronomeWatches(connection, { runId: this.run.id, coalesceMs: options.coalesceMs ?? 20, pickedUp: this.pickedUp }, this.diagnoser, () => this.requestSync());
    this.diagnoser.startWaiting(init.phases[0]?.no ?? 0);
  }

  /** The problems found so far that still hold, oldest first. */
  get diagnostics(): MetronomeDiagnostic[] {
    return this.diagnoser.all;
  }

  // --- the sync pass --------------------------------------------------------

  private requestSync(): void {
    if (this.finished || !this.watches.answered) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = true;
    void (async () => {
      do {
        this.dirty = false;
        try {
          await this.sync();
          this.diagnoser.forget('follow-error', 'read');
        } catch (e) {
          this.diagnoser.diagnose({ kind: 'follow-error', severity: 'warning', key: 'read', message: `Reading metronome's results failed: ${(e as Error).message} Retrying.` });
          this.wakeAt(Date.now() + 2000);
        }
      } while (this.dirty && !this.finished);
      this.syncing = false;
    })();
  }

  private async sync(freshKeys = false): Promise<void> {
    const id = this.run.id;
    if (!this.diagnoser.hasCatalog) await this.diagnoser.refreshCatalog();
    const parts = (this.watches.keys ?? []).map((k) => resultKeyPart(k, id)).filter((p): p is ResultKey => !!p);
    // Before the results are followed, their first record is looked for on each change of the queues.
    const hasEvent = !this.watches.followingResults || parts.some((p) => p.kind === 'event');
    const ours = (this.watches.progress ?? []).filter((p) => p.id === id);
    const queued = new Set(ours.map((p) => p.no));
    for (const p of ours) this.noteQueued(p);

    // Read what is not final yet, plus the TaskResult of every phase that left the queue: it is
    // written before the dequeue, and this key list may be older than the queue we saw.
    const phaseNos = new Set(parts.filter((p) => p.kind === 'phase').map((p) => p.no));
    for (const no of this.seenQueued) if (!queued.has(no)) phaseNos.add(no);
    const openPhases = [...phaseNos].filter((no) => !this.finals.has(no)).sort((a, b) => a - b);
    const nodes = parts.filter((p): p is Extract<ResultKey, { kind: 'node' }> => p.kind === 'node' && !this.nodeFinals.has(`${p.no}/${p.node}`));
    const logs = new Set(parts.filter((p) => p.kind === 'log').map((p) => `${p.no}/${p.node}`));
    // metronome writes a node's record, then the TaskResult, then the EventResult: reading them in
    // the reverse order means a final record seen implies the records written before it are seen too.
    const values = new Map<string, string | undefined>();
    for (const batch of [hasEvent ? [runKey(id)] : [], openPhases.map((no) => phaseKey(id, no)), nodes.map((n) => `${runKey(id)}/${n.no}/${n.node}`)]) {
      for (const [k, v] of await readValues(this.connection, batch)) values.set(k, v);
    }
    if (this.finished) return;
    // A phase that ended may have node records newer than the key list this pass started from
    // (the queue watch can wake first): list the keys again once, so no node is taken for lost.
    const phaseEnded = openPhases.some((no) => {
      const outcome = metronomeOutcome(parseJsonRecord(values.get(phaseKey(id, no)))?.Status);
      return outcome !== undefined && outcome !== 'inprogress';
    });
    if (phaseEnded && !freshKeys) {
      this.watches.keys = await listKeys(this.connection, runKey(id));
      if (this.finished) return;
      return this.sync(true);
    }
    if (values.get(runKey(id)) !== undefined || ours.length || nodes.length || openPhases.length) this.pickUp();

    const ended: Array<{ no: number; node: string; outcome: Exclude<MetronomeOutcome, 'inprogress'>; log?: string }> = [];
    for (const { no, node } of nodes) {
      const key = `${runKey(id)}/${no}/${node}`;
      const rec = this.record(key, values.get(key));
      if (!rec || !this.knownPhase(no, key)) continue;
      const outcome = metronomeOutcome(rec.Status);
      if (!outcome) {
        this.diagnoser.malformed(key, `${key} has status ${JSON.stringify(rec.Status)}, which metronome does not write; the node is shown as it was.`);
        continue;
      }
      this.startPhase(no);
      await this.diagnoser.checkNode(no, node);
      if (this.finished) return;
      if (outcome === 'inprogress') this.run.nodeStarted(no, node);
      else ended.push({ no, node, outcome, ...(typeof rec.Log === 'string' ? { log: rec.Log } : {}) });
    }
    // metronome keeps the log out of the final record and writes /log after it: a /log not
    // written since the record is still the empty one from the node's start. Such a node stays
    // running; the write of its /log wakes the results watch again.
    const missing = ended.filter((e) => e.log === undefined && logs.has(`${e.no}/${e.node}`));
    const logValues = new Map<string, string | undefined>();
    const notYet = new Set<string>();
    await mapLimited(missing, 8, async (e) => {
      const [rec, log] = await Promise.all([readIndexed(this.connection, `${runKey(id)}/${e.no}/${e.node}`), readIndexed(this.connection, logKey(id, e.no, e.node))]);
      if (log && rec && log.modifyIndex <= rec.modifyIndex) notYet.add(`${e.no}/${e.node}`);
      else logValues.set(logKey(id, e.no, e.node), log?.value);
    });
    if (this.finished) return;
    for (const e of ended) {
      this.run.nodeStarted(e.no, e.node);
      if (notYet.has(`${e.no}/${e.node}`)) continue;
      this.run.appendOutput(e.no, e.node, e.log ?? logValues.get(logKey(id, e.no, e.node)) ?? '');
      this.run.nodeEnded(e.no, e.node, nodeStatusOf(e.outcome));
      this.nodeFinals.add(`${e.no}/${e.node}`);
    }

    for (const no of openPhases) {
      const key = phaseKey(id, no);
      const rec = this.record(key, values.get(key));
      if (!rec || !this.knownPhase(no, key)) continue;
      const outcome = metronomeOutcome(rec.Status);
      if (!outcome) this.diagnoser.malformed(key, `${key} has status ${JSON.stringify(rec.Status)}, which metronome does not write; the phase is shown as it was.`);
      else if (outcome === 'inprogress') this.startPhase(no);
      else this.endPhase(no, outcome);
    }

    this.checkQueueLoss(queued);
    const eventRec = this.record(runKey(id), values.get(runKey(id)));
    const eventOutcome = eventRec ? metronomeOutcome(eventRec.Status) : undefined;
    if (eventRec && !eventOutcome) this.diagnoser.malformed(runKey(id), `${runKey(id)} has status ${JSON.stringify(eventRec.Status)}, which metronome does not write; the run is followed on.`);
    if (eventOutcome && eventOutcome !== 'inprogress') return this.finish(eventOutcome);
    // Ends the run when metronome can no longer finish it.
    const orphaned = this.diagnoser.orphaned(eventOutcome ?? 'missing', queued.size, phaseNos.size > 0 || this.started.size > 0);
    if (orphaned) return this.end('interrupted', this.diagnoser.runMessage(orphaned));
    // Every phase not started is judged once against the catalog; heads again as they come.
    // (once, by the first pass that gets this far: not one restarted after a fresh key list, nor one that failed before).
    if (!this.reachChecked) {
      this.reachChecked = true;
      for (const p of this.phases.values()) this.diagnoser.checkReach(p);
    }
    await this.diagnoser.checkHead(queued, { pickedUp: this.pickedUp, progress: this.watches.progress, eventQueue: this.watches.eventQueue });
  }

  // --- what a pass decides --------------------------------------------------

  private pickUp(): void {
    if (!this.pickedUp) {
      this.pickedUp = true;
      this.watches.dropEventQueue();
    }
    this.watches.followResults();
    if (this.run.status === 'pending') this.run.start();
  }

  private noteQueued(p: QueuedPhase): void {
    this.seenQueued.add(p.no);
    const known = this.phases.get(p.no);
    if (!known) {
      this.diagnoser.diagnose({ kind: 'plan-mismatch', severity: 'warning', phase: p.no, message: `metronome queued phase ${p.no + 1} (${p.task}) of pattern "${p.pattern}", which the plan here does not have: the agents run their own copy of the patterns, and this phase's results are not shown.` });
    } else if (known.task !== p.task) {
      // Pattern names are folder names, which differ between checkouts harmlessly; a task does not.
      this.diagnoser.diagnose({ kind: 'plan-mismatch', severity: 'warning', phase: p.no, message: `metronome queued ${label({ no: p.no, task: p.task })} of pattern "${p.pattern}" where the plan here has task "${known.task}": the agents run their own copy of the patterns.` });
    } else {
      // The agents' copy decides the nodes, and the dispatching agent's -skippable flag the skipping.
      const agents = { service: p.service || undefined, tag: p.tag || undefined, skippable: p.skippable ?? known.skippable };
      if (agents.service === known.service && agents.tag === known.tag && agents.skippable === known.skippable) return;
      Object.assign(known, agents);
      this.diagnoser.checkReach(known);
    }
  }

  private knownPhase(no: number, key: string): boolean {
    if (this.phases.has(no)) return true;
    this.diagnoser.diagnose({ kind: 'plan-mismatch', severity: 'warning', phase: no, key, message: `metronome has results for phase ${no + 1}, which the plan here does not have; they are not shown.` });
    return false;
  }

  private startPhase(no: number): void {
    if (this.started.has(no) || this.finals.has(no)) return;
    this.started.add(no);
    this.pickUp();
    this.diagnoser.forget('head-not-started');
    this.diagnoser.forget('no-node', undefined, no);
    this.run.startPhase(no, this.diagnoser.targets(no));
  }

  private endPhase(no: number, outcome: Exclude<MetronomeOutcome, 'inprogress'>): void {
    const status = phaseStatusOf(outcome);
    for (const n of this.run.phase(no).nodes) {
      if (n.status === 'running') this.run.nodeEnded(no, n.node, outcome === 'timeout' ? 'timeout' : 'lost', undefined, outcome === 'timeout' ? `Still in progress when metronome's ${METRONOME_TASK_TIMEOUT_S} s task timeout ended the phase.` : 'metronome ended the phase before this node reported a result.');
      else if (n.status === 'pending') this.run.nodeEnded(no, n.node, 'lost', undefined, 'metronome ended the phase without a result under this node name.');
    }
    const notes = this.diagnoser.phaseNotes(no);
    this.finals.set(no, status);
    this.diagnoser.forget('head-not-started', undefined, no);
    this.run.endPhase(no, status, notes);
  }

  private checkQueueLoss(queued: ReadonlySet<number>): void {
    const loss = this.diagnoser.lostPhases(queued);
    if (!loss) return;
    for (const no of loss.lost) {
      this.finals.set(no, 'cancelled');
      this.run.endPhase(no, 'cancelled', loss.note);
    }
  }

  private finish(outcome: Exclude<MetronomeOutcome, 'inprogress'>): void {
    const failed = queueLoss({ seen: [], queued: new Set(), finals: this.finals }).failed;
    const open = this.run.snapshot().phases.filter((p) => !FINISHED_PHASE.includes(p.status));
    const after = open.filter((p) => failed && p.no > failed.no);
    if (failed && after.length) {
      // Attached after the wipe, or the queue was gone before we saw it: the same story.
      const note = this.diagnoser.wipeSeenLate(failed, after.map((p) => p.no));
      for (const p of after) this.run.endPhase(p.no, 'cancelled', note);
    }
    for (const p of open.filter((p) => !after.includes(p) && p.status === 'pending')) {
      this.run.endPhase(p.no, 'cancelled', this.seenQueued.has(p.no) ? 'metronome finished the event without running this phase.' : 'metronome never queued this phase: the task.yml on its agents does not have it.');
    }
    const status = runStatusOf(outcome);
    let message: string | undefined;
    if (status !== 'success') {
      const bad = failed && this.run.phase(failed.no).nodes.filter((n) => n.status === 'error' || n.status === 'timeout').map((n) => n.node);
      message = failed ? `${cap(label(this.diagnoser.labelOf(failed.no)))} ended ${failed.status}${bad?.length ? ` on ${list(bad)}` : ''}.` : `metronome ended the event ${outcome}.`;
    }
    this.end(status, this.diagnoser.runMessage(message));
  }

  private cancel(): void {
    if (this.finished) return;
    this.end('cancelled', this.diagnoser.runMessage(`Stopped following: metronome's agents were not stopped and keep running this event; its results still arrive in ${runKey(this.run.id)}.`));
  }

  private end(status: RunStatus, message: string | undefined): void {
    this.finished = true;
    this.stop();
    this.run.end(status, message);
    this.resolveDone(this.run.snapshot());
  }

  private stop(): void {
    this.watches.dispose();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // --- small helpers ----------------------------------------------------------

  /** One timer for every deadline: the earliest wins, and each wake runs a pass that sets the next. */
  private wakeAt(at: number): void {
    if (this.finished || (this.timer && at >= this.timerAt)) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.requestSync();
    }, Math.max(0, at - Date.now()) + 5);
  }

  private record(key: string, value: string | undefined): Record<string, unknown> | undefined {
    if (value === undefined) return undefined;
    const rec = parseJsonRecord(value);
    this.diagnoser.malformed(key, rec ? undefined : `${key} is not the JSON object metronome writes; it is ignored.`);
    return rec;
  }
}
