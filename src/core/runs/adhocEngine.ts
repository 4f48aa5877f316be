/**
 * Ad-hoc commands: one command on chosen nodes, a service or a tag, as a
 * one-phase run in the same model and the same history as phase runs.
 */
import { randomUUID } from 'node:crypto';
import type { ConsulConnection } from '../consul/client';
import { eventReach } from '../consul/events';
import { readCatalog } from '../consul/nodeDump';
import { phaseStatusFromNodes, Run, RunSnapshot } from './model';
import { DEFAULT_OPERATION_SETTINGS, runPhase, shellOperation } from './phaseRunner';
import { RunRecorder } from './recorder';
import type { RunRegistry } from './registry';

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
  }

  private async execute(): Promise<RunSnapshot> {
    const { run, req } = this;
    const recorder = new RunRecorder(this.connection, run);
    try {
      run.start();
      const filters = { node: req.node || undefined, service: req.service || undefined, tag: req.tag || undefined };
      const targets = eventReach((await readCatalog(this.connection)).nodes, filters).map((n) => n.name);
      if (!targets.length) {
        run.endPhase(0, 'error', 'No node in the catalog matches these filters.');
        run.end('error', 'No node matched: nothing was run.');
      } else {
        run.startPhase(0, targets);
        await runPhase(this.connection, run, {
          no: 0,
          targets,
          filters,
          operations: [shellOperation(req.command)],
          vars: {},
          timeoutMs: req.timeoutMs ?? 10 * 60_000,
          settings: DEFAULT_OPERATION_SETTINGS,
          signal: this.signal,
          ackGraceMs: req.ackGraceMs,
        });
        const status = phaseStatusFromNodes(run.phase(0).nodes);
        run.endPhase(0, status);
        if (this.signal.aborted) run.end('cancelled', 'Cancelled. The command keeps running where it already started.');
        else run.end(status === 'success' ? 'success' : status === 'timeout' ? 'timeout' : 'error');
      }
    } catch (e) {
      run.end('error', (e as Error).message);
    } finally {
      await recorder.flush();
      recorder.dispose();
      if (recorder.error) run.end(run.status, `${run.snapshot().message ?? ''} The history in KV is incomplete: ${recorder.error.message}`.trim());
    }
    return run.snapshot();
  }
}
