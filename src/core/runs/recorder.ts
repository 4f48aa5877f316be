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
  private readonly queued = new Map<string, string>();
  private readonly signatures = new Map<string, string>();
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
        const key = nodeKey(s.id, phase.no, node.node);
        const finished = FINISHED_NODE.includes(node.status);
        // Joining a node's whole output is the costly part: only for a node whose state moved.
        const signature = `${node.status}|${node.exitCode}|${node.outputBytes}|${node.startedAt}|${finished || withRunningLogs}`;
        if (this.signatures.get(key) === signature) continue;
        this.signatures.set(key, signature);
        const log = this.run.outputOf(phase.no, node.node);
        writes.push([key, JSON.stringify(nodeResultRecord(s, phase, node, log))]);
        if (finished || (withRunningLogs && log)) writes.push([logKey(s.id, phase.no, node.node), truncateLog(log)]);
      }
    }
    for (const [key, value] of writes) {
      if (this.written.get(key) === value || this.queued.get(key) === value) continue;
      this.queued.set(key, value);
      this.queue = this.queue.then(() => this.put(key, value));
    }
  }

  private async put(key: string, value: string): Promise<void> {
    // A newer value for the key is queued behind this one: skip to it.
    if (this.queued.get(key) !== value) return;
    try {
      await call(this.connection, `/v1/kv/${key}`, () => this.connection.client.kv.set(key, value), 'PUT');
      // Only a write that landed counts: a failed one is tried again on the next change.
      this.written.set(key, value);
    } catch (e) {
      this.failure ??= e as Error;
      this.signatures.delete(key.replace(/\/log$/, ''));
    } finally {
      if (this.queued.get(key) === value) this.queued.delete(key);
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
