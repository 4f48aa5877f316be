/**
 * The exec engine: the editor drives the order. For each phase it resolves
 * the nodes from the catalog, runs the task's operations there over remote
 * exec, waits for every node, and stops the remaining phases on failure.
 * A phase with no node is skipped at once when skippable, where metronome
 * would hold the queue until the task timeout; otherwise it fails at once.
 */
import { randomUUID } from 'node:crypto';
import type { ConsulConnection } from '../consul/client';
import { escapeRegex } from '../util/regex';
import { readCatalog } from '../consul/nodeDump';
import type { MergedEvent, ResolvedPhase } from '../plans/merge';
import type { PatternPlan } from '../plans/model';
import { instanceMatches, phaseTargets, TargetNode } from '../plans/targeting';
import { planVariables } from '../plans/template';
import { phaseStatusFromNodes, Run, RunSnapshot } from './model';
import { OperationSettings, runPhase } from './phaseRunner';
import { RunRecorder } from './recorder';
import type { RunRegistry } from './registry';
import { endBudget, historyIncomplete, isShutdown } from './runEnding';
import { LockHolder, RunLock } from './runLock';

export interface ExecRunRequest {
  event: string;
  merged: MergedEvent;
  plans: readonly PatternPlan[];
  startedBy: string;
  settings: OperationSettings;
  /** Run later phases even after one failed. */
  continueOnFailure?: boolean;
  /** How long to wait for another run's lock; 0 refuses at once. */
  lockWaitMs?: number;
  onLockWait?: (holder: LockHolder | undefined) => void;
  ackGraceMs?: number;
}


/**
 * The `_rexec` filters that reach what metronome's rule reaches. Agents match
 * the service filter against their local service IDs, so the filter names the
 * IDs of the matching instances, which may differ from the service's name.
 */
export function phaseFilters(phase: Pick<ResolvedPhase, 'service' | 'tag'>, nodes: readonly TargetNode[]): { node?: string; service?: string; tag?: string } {
  // No service: every node, as metronome does; no filter keeps the event small on big clusters.
  if (!phase.service) return {};
  const ids = new Set<string>();
  for (const node of nodes) for (const i of node.services) if (instanceMatches(i, phase)) ids.add(i.id ?? i.service);
  const names = ids.size ? [...ids] : [phase.service];
  return { service: `^(${names.map(escapeRegex).join('|')})$`, ...(phase.tag ? { tag: `^${escapeRegex(phase.tag)}$` } : {}) };
}

const LOCK_LOST = 'Stopped: the cluster lock was lost (its session expired), so another run could start; later phases were not run.';
const NOT_KILLED = 'Commands already running on nodes were not killed.';

export class ExecRun {
  readonly run: Run;
  /** Resolves when the run (or its latest retry) has ended. */
  done: Promise<RunSnapshot>;
  private signal: AbortSignal;
  private lockLost = false;

  constructor(
    private readonly connection: ConsulConnection,
    private readonly registry: RunRegistry,
    private readonly req: ExecRunRequest,
  ) {
    const patterns = [...new Set(req.merged.phases.map((p) => p.pattern))];
    this.run = new Run({
      id: randomUUID(),
      engine: 'exec',
      event: req.event,
      patterns,
      startedBy: req.startedBy,
      phases: req.merged.phases.map((p, no) => ({ no, task: p.task, pattern: p.pattern, service: p.service, tag: p.tag })),
    });
    this.signal = registry.add(this.run);
    this.done = this.execute(0);
    registry.track(this.run.id, this.done);
  }

  /** Runs phase `no` again on its failed nodes only, then the phases after it. */
  retryFailed(no: number): Promise<RunSnapshot> {
    const failed = this.run.phase(no).nodes.filter((n) => n.status !== 'success').map((n) => n.node);
    if (!failed.length) throw new Error(`Phase ${no + 1} has no failed node to retry.`);
    this.run.reopen(no);
    this.signal = this.registry.renew(this.run.id);
    this.done = this.execute(no, failed);
    this.registry.track(this.run.id, this.done);
    return this.done;
  }

  /**
   * The run's work goes through a connection that drops its requests on
   * cancel; recording and releasing go through the plain one, so they still
   * happen after a cancel, each bounded in time.
   */
  private async execute(first: number, retryNodes?: string[]): Promise<RunSnapshot> {
    const { run, req } = this;
    const signal = this.signal;
    const release = this.connection.retain();
    const root = this.connection.root;
    let lock: RunLock | undefined;
    let recorder: RunRecorder | undefined;
    try {
      lock = await RunLock.acquire(
        root,
        { runId: run.id, startedBy: req.startedBy, what: req.event, since: Date.now() },
        {
          waitMs: req.lockWaitMs,
          onWait: req.onLockWait,
          signal,
          onLost: () => {
            this.lockLost = true;
            this.registry.cancel(run.id);
          },
        },
      );
      recorder = new RunRecorder(root, run, { session: lock.session });
      run.start();
      await this.phasesFrom(root.withSignal(signal), signal, first, retryNodes);
    } catch (e) {
      if (run.status === 'pending' || run.status === 'running') {
        if (signal.aborted) this.endStopped(signal, !lock);
        else run.end('error', (e as Error).message);
      }
    } finally {
      const budget = endBudget(signal);
      // The final record before the lock: once the session is gone, a record still in progress reads as interrupted.
      await recorder?.finish(budget.finalWriteMs);
      recorder?.dispose();
      await lock?.release(budget.cleanupMs);
      if (recorder?.error) run.end(run.status, `${run.snapshot().message ?? ''} ${historyIncomplete(recorder.error, true)}`.trim());
      release();
    }
    return run.snapshot();
  }

  /** Ends a run whose signal aborted: lock lost, editor shut down, or cancelled. */
  private endStopped(signal: AbortSignal, nothingRan: boolean, laterPhases = false): void {
    const { run } = this;
    if (this.lockLost) run.end('error', LOCK_LOST);
    else if (isShutdown(signal)) {
      run.end('interrupted', nothingRan ? 'The editor shut down while the run waited for the cluster lock: nothing ran.' : `Interrupted: the editor shut down; later phases were not started. ${NOT_KILLED}`);
    } else if (nothingRan) run.end('cancelled', 'Cancelled while waiting for the cluster lock: nothing ran.');
    else run.end('cancelled', laterPhases ? `Cancelled: later phases were not started. ${NOT_KILLED}` : `Cancelled. ${NOT_KILLED}`);
  }

  private async phasesFrom(connection: ConsulConnection, signal: AbortSignal, first: number, retryNodes?: string[]): Promise<void> {
    const { run, req } = this;
    const phases = req.merged.phases;
    let failed: string | undefined;
    for (let no = first; no < phases.length; no++) {
      if (signal.aborted) {
        this.endStopped(signal, false, true);
        return;
      }
      const phase = phases[no];
      const plan = req.plans.find((p) => p.name === phase.pattern);
      const catalog = (await readCatalog(connection)).nodes;
      const targets = no === first && retryNodes ? retryNodes : phaseTargets(phase, catalog);
      if (!targets.length) {
        if (phase.skippable) {
          run.endPhase(no, 'skipped', 'No node in the catalog matched: skipped at once.');
          continue;
        }
        run.endPhase(no, 'error', `No node in the catalog has ${phase.service ? `service "${phase.service}"` : 'any service'}${phase.tag ? ` with tag "${phase.tag}"` : ''}, and the phase is not skippable.`);
        failed = `phase ${no + 1} (${phase.task}) reached no node`;
      } else if (!phase.taskDef) {
        run.startPhase(no, targets);
        run.endPhase(no, 'error', `Task "${phase.task}" is not defined in pattern ${phase.pattern}.`);
        failed = `task "${phase.task}" is not defined`;
      } else {
        run.startPhase(no, targets, !!retryNodes && no === first);
        await runPhase(connection, run, {
          no,
          targets,
          filters: retryNodes && no === first ? { node: `^(${targets.map(escapeRegex).join('|')})$` } : phaseFilters(phase, catalog),
          operations: phase.taskDef.operations,
          patternFolder: plan?.folder,
          vars: plan ? planVariables(plan) : {},
          timeoutMs: phase.taskDef.effectiveTimeout * 1000,
          settings: req.settings,
          signal,
          ackGraceMs: req.ackGraceMs,
        });
        const results = run.phase(no).nodes;
        const status = phaseStatusFromNodes(results);
        // The first node's reason says the most (e.g. remote exec disabled on the agents).
        const reason = results.find((n) => n.status !== 'success' && n.note)?.note;
        run.endPhase(no, status === 'skipped' ? 'success' : status, reason);
        if (status !== 'success' && status !== 'skipped') failed = `phase ${no + 1} (${phase.task}) ended ${status}${reason ? `: ${reason}` : ''}`;
      }
      if (failed && !req.continueOnFailure) break;
    }
    if (signal.aborted) this.endStopped(signal, false);
    else if (failed) run.end(run.snapshot().phases.some((p) => p.status === 'timeout') && !run.snapshot().phases.some((p) => p.status === 'error') ? 'timeout' : 'error', `Stopped: ${failed}.`);
    else run.end('success');
  }
}
