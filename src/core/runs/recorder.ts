/**
 * Writes a run into KV as it happens, in metronome's layout. Only records
 * whose content changed are written, one at a time in order, so a teammate
 * following KV sees the run progress; node logs are written when the node
 * ends and, while it runs, at most every `logFlushMs`.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import type { Run, RunSnapshot } from './model';
import { FINISHED_NODE } from './model';
import { eventResultRecord, logKey, nodeKey, nodeResultRecord, phaseKey, runKey, taskResultRecord, truncateLog } from './metronomeLayout';

export class RunRecorder {
  private readonly written = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();
  private lastLogFlush = 0;
  private logTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private readonly subscriptions: Array<{ dispose(): void }> = [];

  constructor(
    private readonly connection: ConsulConnection,
    private readonly run: Run,
    private readonly options: { session?: string; logFlushMs?: number } = {},
  ) {
    this.subscriptions.push(
      run.onDidChange((s) => this.record(s)),
      run.onOutput(() => this.scheduleLogFlush()),
    );
    this.record(run.snapshot());
  }

  /** The first write error, if any: the caller says so instead of pretending history was kept. */
  get error(): Error | undefined {
    return this.failure;
  }

  private scheduleLogFlush(): void {
    const every = this.options.logFlushMs ?? 2000;
    if (this.logTimer) return;
    const wait = Math.max(0, this.lastLogFlush + every - Date.now());
    this.logTimer = setTimeout(() => {
      this.logTimer = undefined;
      this.lastLogFlush = Date.now();
      this.record(this.run.snapshot(), true);
    }, wait);
  }

  private record(s: RunSnapshot, withRunningLogs = false): void {
    const writes: Array<[string, string]> = [[runKey(s.id), JSON.stringify(eventResultRecord(s, this.options.session))]];
    for (const phase of s.phases) {
      if (phase.status === 'pending') continue;
      writes.push([phaseKey(s.id, phase.no), JSON.stringify(taskResultRecord(s, phase))]);
      for (const node of phase.nodes) {
        const log = this.run.outputOf(phase.no, node.node);
        writes.push([nodeKey(s.id, phase.no, node.node), JSON.stringify(nodeResultRecord(s, phase, node, log))]);
        if (FINISHED_NODE.includes(node.status) || (withRunningLogs && log)) writes.push([logKey(s.id, phase.no, node.node), truncateLog(log)]);
      }
    }
    for (const [key, value] of writes) {
      if (this.written.get(key) === value) continue;
      this.written.set(key, value);
      this.queue = this.queue.then(() => this.put(key, value));
    }
  }

  private async put(key: string, value: string): Promise<void> {
    try {
      await call(this.connection, `/v1/kv/${key}`, () => this.connection.client.kv.set(key, value), 'PUT');
    } catch (e) {
      this.failure ??= e as Error;
    }
  }

  /** Resolves once everything recorded so far is in KV. */
  async flush(): Promise<void> {
    if (this.logTimer) {
      clearTimeout(this.logTimer);
      this.logTimer = undefined;
      this.record(this.run.snapshot(), true);
    }
    await this.queue;
  }

  dispose(): void {
    clearTimeout(this.logTimer);
    this.subscriptions.forEach((s) => s.dispose());
  }
}
