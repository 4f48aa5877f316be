/**
 * Writes a run into KV as it happens, in metronome's layout. Only records
 * whose content changed are written, one at a time in order, so a teammate
 * following KV sees the run progress; node logs are written when the node
 * ends and, while it runs, at most every `logFlushMs`. A write that fails is
 * tried again on the next change and, once the run has ended, by finish()
 * with backoff until every key holds its last value or the time is up.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import type { Run, RunSnapshot } from './model';
import { FINISHED_NODE } from './model';
import { eventResultRecord, INLINE_LOG_BYTES, logKey, nodeKey, nodeResultRecord, phaseKey, runKey, taskResultRecord, truncateLog } from './metronomeLayout';

/** How long the end of a run keeps trying to write its final records. */
export const FINAL_WRITE_BUDGET_MS = 30_000;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4000;

/** truncateLog of a tail whose first `dropped` bytes the run no longer holds: its marker counts them too. */
export function truncateTail(tail: string, dropped: number, limit?: number): string {
  const cut = truncateLog(tail, limit);
  return dropped ? cut.replace(/^\[… (\d+) earlier bytes/, (_, n: string) => `[… ${Number(n) + dropped} earlier bytes`) : cut;
}

export class RunRecorder {
  private readonly written = new Map<string, string>();
  /** The last value recorded for each key: what KV must end up holding. */
  private readonly latest = new Map<string, string>();
  private readonly queued = new Map<string, string>();
  /** The last failure per key, cleared when a write of the key lands. */
  private readonly failures = new Map<string, Error>();
  /** Once set (by finish), writes past it are not attempted and requests are cut short to end by it. */
  private deadline: number | undefined;
  private readonly signatures = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();
  private lastLogFlush = 0;
  private logTimer: NodeJS.Timeout | undefined;
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

  /** Why a key still does not hold its last value, if one does not: the caller says so instead of pretending history was kept. */
  get error(): Error | undefined {
    for (const [key, value] of this.latest) if (this.written.get(key) !== value) return this.failures.get(key) ?? new Error(`${key} was not written.`);
    return undefined;
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
        // The run holds a tail of each node's output (larger than what KV keeps): enough for both copies.
        const { text: log, dropped } = this.run.outputTail(phase.no, node.node);
        const record = nodeResultRecord(s, phase, node, log);
        if (dropped) record.Log = truncateTail(log, dropped, INLINE_LOG_BYTES);
        writes.push([key, JSON.stringify(record)]);
        if (finished || (withRunningLogs && log)) writes.push([logKey(s.id, phase.no, node.node), truncateTail(log, dropped)]);
      }
    }
    for (const [key, value] of writes) {
      this.latest.set(key, value);
      this.enqueue(key, value);
    }
  }

  private enqueue(key: string, value: string): void {
    if (this.written.get(key) === value || this.queued.get(key) === value) return;
    this.queued.set(key, value);
    this.queue = this.queue.then(() => this.put(key, value));
  }

  private async put(key: string, value: string): Promise<void> {
    // A newer value for the key is queued behind this one: skip to it.
    if (this.queued.get(key) !== value) return;
    try {
      const left = this.deadline === undefined ? undefined : this.deadline - Date.now();
      if (left !== undefined && left <= 0) throw this.failures.get(key) ?? new Error(`No time was left to write ${key}.`);
      const timeout = left === undefined ? undefined : Math.max(250, Math.min(left, this.connection.requestTimeoutMs));
      await call(this.connection, `/v1/kv/${key}`, () => this.connection.client.kv.set({ key, value, ...(timeout ? { timeout } : {}) } as never), 'PUT');
      // Only a write that landed counts: a failed one is tried again on the next change.
      this.written.set(key, value);
      this.failures.delete(key);
    } catch (e) {
      this.failures.set(key, e as Error);
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

  /**
   * For the end of a run: flushes, then writes again, with backoff, every key
   * that does not hold its last value yet, for at most `budgetMs`. Resolves
   * when all landed or the time is up (`error` then says why).
   */
  async finish(budgetMs = FINAL_WRITE_BUDGET_MS): Promise<void> {
    this.deadline = Date.now() + budgetMs;
    await this.flush();
    for (let attempt = 0; this.error && Date.now() < this.deadline; attempt++) {
      const pause = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt, this.deadline - Date.now());
      await new Promise((r) => setTimeout(r, pause));
      // In the order first recorded: the run's own record, which says the run ended, comes first.
      for (const [key, value] of this.latest) if (this.written.get(key) !== value) this.enqueue(key, value);
      await this.queue;
    }
  }

  dispose(): void {
    clearTimeout(this.logTimer);
    this.subscriptions.forEach((s) => s.dispose());
  }
}
