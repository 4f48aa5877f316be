/**
 * Ad-hoc commands: one command on chosen nodes, a service or a tag, as a
 * one-phase run in the same model and the same history as phase runs.
 */
import { randomUUID } from 'node:crypto';
import type { ConsulConnection } from '../consul/client';
import { eventReach } from '../consul/events';
import { readCatalog } from '../consul/nodeDump';
import { isFinished, phaseStatusFromNodes, Run, RunSnapshot } from './model';
import { DEFAULT_OPERATION_SETTINGS, runPhase, shellOperation } from './phaseRunner';
import { RunRecorder } from './recorder';
import type { RunRegistry } from './registry';
import { endBudget, historyIncomplete, isShutdown } from './runEnding';
import { RunSession } from './runSession';

export interface AdhocRequest {
  command: string;
  /** Regular expressions, as `consul exec` takes them. */
  node?: string;
  service?: string;
  tag?: string;
  startedBy: string;
  timeoutMs?: number;
  ackGraceMs?: number;
}

export class AdhocRun {
  readonly run: Run;
  readonly done: Promise<RunSnapshot>;
  private readonly signal: AbortSignal;

  constructor(
    private readonly connection: ConsulConnection,
    registry: RunRegistry,
    private readonly req: AdhocRequest,
  ) {
    this.run = new Run({
      id: randomUUID(),
      engine: 'adhoc',
      command: req.command,
      patterns: [],
      startedBy: req.startedBy,
      phases: [{ no: 0, task: req.command, service: req.service, tag: req.tag }],
      target: { node: req.node || undefined, service: req.service || undefined, tag: req.tag || undefined },
    });
    this.signal = registry.add(this.run);
    this.done = this.execute();
    registry.track(this.run.id, this.done);
  }

  /**
   * Like an ordered run, an ad-hoc run holds a session named in its record
   * (so that it reads as interrupted if this editor goes away), but takes no
   * cluster lock. Its work is dropped on cancel; recording and the session's
   * end still happen, each bounded in time.
   */
  private async execute(): Promise<RunSnapshot> {
    const { run, req, signal } = this;
    const release = this.connection.retain();
    const root = this.connection.root;
    const work = root.withSignal(signal);
    let session: RunSession | undefined;
    let recorder: RunRecorder | undefined;
    try {
      session = await RunSession.create(root, run.id, { signal });
      recorder = new RunRecorder(root, run, { session: session.id });
      run.start();
      const filters = { node: req.node || undefined, service: req.service || undefined, tag: req.tag || undefined };
      const targets = eventReach((await readCatalog(work)).nodes, filters).map((n) => n.name);
      if (!targets.length) {
        run.endPhase(0, 'error', 'No node in the catalog matches these filters.');
        run.end('error', 'No node matched: nothing was run.');
      } else {
        run.startPhase(0, targets);
        await runPhase(work, run, {
          no: 0,
          targets,
          filters,
          operations: [shellOperation(req.command)],
          vars: {},
          timeoutMs: req.timeoutMs ?? 10 * 60_000,
          settings: DEFAULT_OPERATION_SETTINGS,
          signal,
          ackGraceMs: req.ackGraceMs,
        });
        const status = phaseStatusFromNodes(run.phase(0).nodes);
        run.endPhase(0, status);
        if (signal.aborted) this.endStopped();
        else run.end(status === 'success' ? 'success' : status === 'timeout' ? 'timeout' : 'error');
      }
    } catch (e) {
      if (!isFinished(run.status)) {
        if (signal.aborted) this.endStopped();
        else run.end('error', (e as Error).message);
      }
    } finally {
      const budget = endBudget(signal);
      await recorder?.finish(budget.finalWriteMs);
      recorder?.dispose();
      await session?.destroy(budget.cleanupMs);
      if (recorder?.error) run.end(run.status, `${run.snapshot().message ?? ''} ${historyIncomplete(recorder.error, true)}`.trim());
      release();
    }
    return run.snapshot();
  }

  private endStopped(): void {
    const keepsRunning = 'The command keeps running where it already started.';
    if (isShutdown(this.signal)) this.run.end('interrupted', `Interrupted: the editor shut down. ${keepsRunning}`);
    else this.run.end('cancelled', `Cancelled. ${keepsRunning}`);
  }
}
