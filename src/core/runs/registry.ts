/** The runs this editor is driving right now, by ID; history comes from KV. */
import { Emitter } from '../util/emitter';
import type { OutputChunk, Run, RunChange } from './model';
import { isFinished } from './model';
import { RunShutdown } from './runEnding';

/** Finished runs kept in memory (output included) for retry and open documents; older ones are read back from KV. */
export const KEEP_FINISHED_RUNS = 20;
/** What shutdown() waits at most: VS Code gives deactivate() only a few seconds. */
export const SHUTDOWN_TIMEOUT_MS = 4000;

export class RunRegistry {
  private readonly runs = new Map<string, Run>();
  private readonly controllers = new Map<string, AbortController>();
  /** Each engine's `done` while it works, so that shutdown() can wait for the runs' ends to be recorded. */
  private readonly working = new Map<string, Promise<unknown>>();
  private shuttingDown = false;
  private readonly changed = new Emitter<RunChange>();
  /** Fires on every state change of any live run, with what changed (get(id) has the run). */
  readonly onDidChange = this.changed.event;
  private readonly output = new Emitter<OutputChunk & { id: string }>();
  /** Fires on every piece of output of any live run. */
  readonly onOutput = this.output.event;

  /** Registers a run; the returned signal aborts when somebody cancels it. */
  add(run: Run): AbortSignal {
    const controller = new AbortController();
    if (this.shuttingDown) controller.abort(new RunShutdown());
    this.controllers.set(run.id, controller);
    this.runs.set(run.id, run);
    run.onDidChange((c) => {
      this.changed.fire(c);
      if (c.kind === 'run' && isFinished(c.status)) this.evict();
    });
    run.onOutput((c) => this.output.fire({ ...c, id: run.id }));
    this.changed.fire({ kind: 'run', id: run.id, status: run.status });
    return controller.signal;
  }

  /** Drops the oldest finished runs beyond KEEP_FINISHED_RUNS: their history stays in KV. */
  private evict(): void {
    const finished = [...this.runs.values()].filter((r) => isFinished(r.status));
    for (const run of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED_RUNS))) {
      this.runs.delete(run.id);
      this.controllers.delete(run.id);
      run.dispose();
    }
  }

  /** A fresh cancel signal for a run that starts again (a retry). */
  renew(id: string): AbortSignal {
    const controller = new AbortController();
    if (this.shuttingDown) controller.abort(new RunShutdown());
    this.controllers.set(id, controller);
    return controller.signal;
  }

  /** Asks the engine driving the run to stop; false when this editor is not driving it. */
  cancel(id: string): boolean {
    const c = this.controllers.get(id);
    if (!c || c.signal.aborted) return false;
    c.abort();
    return true;
  }

  /** Engines hand over their `done` (again on a retry): shutdown() waits for it. */
  track(id: string, done: Promise<unknown>): void {
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.working.set(id, settled);
    void settled.then(() => {
      if (this.working.get(id) === settled) this.working.delete(id);
    });
  }

  /**
   * For deactivation: stops every run this editor drives so that each ends
   * `interrupted` — its final record written, its lock released, its
   * sessions destroyed — and waits for that, at most `timeoutMs`. Runs added
   * afterwards are stopped at once.
   */
  async shutdown(timeoutMs = SHUTDOWN_TIMEOUT_MS): Promise<void> {
    this.shuttingDown = true;
    for (const [id, controller] of this.controllers) {
      const run = this.runs.get(id);
      if (run && !isFinished(run.status) && !controller.signal.aborted) controller.abort(new RunShutdown());
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.working.values()), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  all(): Run[] {
    return [...this.runs.values()];
  }

  dispose(): void {
    this.changed.dispose();
    this.output.dispose();
    for (const r of this.runs.values()) r.dispose();
    this.runs.clear();
  }
}
