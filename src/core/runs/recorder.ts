/**
 * Writes a run into KV as it happens, in metronome's layout. Each change of
 * the run marks only the records it touched (the run's, a phase's, a node's);
 * records are encoded when their turn to be written comes, one at a time in
 * order, so a teammate following KV sees the run progress and no single step
 * re-encodes the whole run. A node's record is written when its result moves;
 * its output when the node ends and, while it runs, at most every
 * `logFlushMs` as the short copy inside the record (INLINE_LOG_BYTES) and the
 * log key with it while the log is that short; a longer log (up to 500 KiB a
 * write) goes to its log key at most every `fullLogFlushMs` of the node's
 * running, so that a run printing megabytes writes about its final size, not
 * that again every few seconds. A write that fails is
 * tried again on the next change and, once the run has ended, by finish()
 * with backoff until every key holds its last value or the time is up.
 */
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import type { Run, RunChange } from './model';
import { FINISHED_NODE } from './model';
import { eventResultRecord, INLINE_LOG_BYTES, logKey, nodeKey, nodeResultRecord, phaseKey, runKey, taskResultRecord, truncateLog } from './metronomeLayout';

/** How long the end of a run keeps trying to write its final records. */
export const FINAL_WRITE_BUDGET_MS = 30_000;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4000;
/** While a node runs: its record's copy of its output, at most this often. */
export const LOG_FLUSH_MS = 2000;
/** While a node runs: its log key, once longer than the record's copy, at most this often. */
export const FULL_LOG_FLUSH_MS = 30_000;

/** truncateLog of a tail whose first `dropped` bytes the run no longer holds: its marker counts them too. */
export function truncateTail(tail: string, dropped: number, limit?: number): string {
  const cut = truncateLog(tail, limit);
  return dropped ? cut.replace(/^\[\u2026 (\d+) earlier bytes/, (_, n: string) => `[… ${Number(n) + dropped} earlier bytes`) : cut;
}

export class RunRecorder {
  private readonly written = new Map<string, string>();
  /** The last value recorded for each key: what KV must end up holding. */
  private readonly latest = new Map<string, string>();
  /** Keys waiting for their turn, with what encodes them then (undefined: nothing to write). */
  private readonly queued = new Map<string, { encode: (withLog: boolean) => string | undefined; withLog: boolean }>();
  /** The last failure per key, cleared when a write of the key lands. */
  private readonly failures = new Map<string, Error>();
  /** Keys whose last write failed: queued again on the next change. */
  private readonly retry = new Set<string>();
  /** Once set (by finish), writes past it are not attempted and requests are cut short to end by it. */
  private deadline: number | undefined;
  /** What each node record or log was last encoded from: the same state is not encoded again. */
  private readonly signatures = new Map<string, string>();
  /** The short copy of the log inside each node record, as last taken from the output, and the output's size then. */
  private readonly inlineLogs = new Map<string, { text: string; bytes: number; startedAt?: number }>();
  /** When each running node's log key was last queued (or the node started). */
  private readonly fullLogAt = new Map<string, number>();
  /** Nodes ("<phase>/<node>") with output not written yet. */
  private readonly outputDirty = new Map<string, { phase: number; node: string }>();
  private queue: Promise<void> = Promise.resolve();
  private lastLogFlush = 0;
  private logTimer: NodeJS.Timeout | undefined;
  private readonly subscriptions: Array<{ dispose(): void }> = [];

  constructor(
    private readonly connection: ConsulConnection,
    private readonly run: Run,
    private readonly options: { session?: string; logFlushMs?: number; fullLogFlushMs?: number } = {},
  ) {
    this.subscriptions.push(
      run.onDidChange((c) => this.record(c)),
      run.onOutput((c) => {
        this.outputDirty.set(`${c.phase}/${c.node}`, { phase: c.phase, node: c.node });
        this.scheduleLogFlush();
      }),
    );
    this.record({ kind: 'run', id: run.id, status: run.status });
  }

  /** Why a key still does not hold its last value, if one does not: the caller says so instead of pretending history was kept. */
  get error(): Error | undefined {
    for (const [key, value] of this.latest) if (this.written.get(key) !== value) return this.failures.get(key) ?? new Error(`${key} was not written.`);
    return undefined;
  }

  private scheduleLogFlush(): void {
    const every = this.options.logFlushMs ?? LOG_FLUSH_MS;
    if (this.logTimer) return;
    const wait = Math.max(0, this.lastLogFlush + every - Date.now());
    this.logTimer = setTimeout(() => {
      this.logTimer = undefined;
      this.lastLogFlush = Date.now();
      this.recordLogs();
    }, wait);
  }

  /** Nodes whose output grew since their log was last written: their record and log, encoded when their turn comes. */
  private recordLogs(final = false): void {
    const dirty = [...this.outputDirty.values()];
    this.outputDirty.clear();
    for (const { phase, node } of dirty) {
      if (this.run.view().phases.find((p) => p.no === phase)?.status === 'pending') continue;
      this.enqueueNode(phase, node, true, final);
    }
  }

  private record(c: RunChange): void {
    for (const key of this.retry) this.enqueue(key, () => this.latest.get(key));
    this.retry.clear();
    const view = this.run.view();
    const id = view.id;
    if (c.kind === 'run') this.enqueue(runKey(id), () => JSON.stringify(eventResultRecord(this.run.view(), this.options.session)));
    for (const phase of view.phases) {
      if (phase.status === 'pending') continue;
      if (c.kind === 'node') {
        if (phase.no === c.phase) this.enqueueNode(c.phase, c.node.node, false);
        continue;
      }
      if (c.kind === 'phase' && phase.no !== c.phase) continue;
      const no = phase.no;
      this.enqueue(phaseKey(id, no), () => {
        const p = this.run.view().phases.find((x) => x.no === no);
        return p && JSON.stringify(taskResultRecord(this.run.view(), p));
      });
      if (c.kind === 'phase' && !c.nodes) continue;
      for (const node of phase.nodes) this.enqueueNode(no, node.node, false);
    }
  }

  /**
   * A node's record and, once it ended, its log key. With `withLog` (a running
   * node's output grew) the record takes the output's end, and the log key is
   * written if it is short, or `fullLog` says so (flush()), or the last one is
   * `fullLogFlushMs` old.
   */
  private enqueueNode(no: number, name: string, withLog: boolean, fullLog = false): void {
    const id = this.run.id;
    const key = nodeKey(id, no, name);
    this.enqueue(key, (withOutput) => this.encodeNode(key, no, name, withOutput), withLog);
    const node = this.run.nodeView(no, name);
    if (!node) return;
    const log = logKey(id, no, name);
    if (!this.fullLogAt.has(log)) this.fullLogAt.set(log, node.startedAt ?? Date.now());
    // Whether a running node's log key is due is decided when its turn comes, from its output then.
    if (withLog || FINISHED_NODE.includes(node.status)) this.enqueue(log, (force) => this.encodeLog(log, no, name, force), fullLog);
  }

  private encodeNode(key: string, no: number, name: string, withLog: boolean): string | undefined {
    const view = this.run.view();
    const phase = view.phases.find((p) => p.no === no);
    const node = this.run.nodeView(no, name);
    if (!phase || !node) return undefined;
    let inline = this.inlineLogs.get(key);
    // Taking a node's output is the costly part: only with its log (while it runs, every few seconds), at its end, or when a retry emptied it.
    // A retry starts the node's output over: the same byte count from another attempt is other output.
    const sameAttempt = inline?.startedAt === node.startedAt;
    const refresh = !sameAttempt || ((withLog || FINISHED_NODE.includes(node.status)) ? node.outputBytes !== inline?.bytes : node.outputBytes < (inline?.bytes ?? 0));
    if (refresh) {
      // The run holds a tail of each node's output (larger than what KV keeps): enough for both copies.
      const { text, dropped } = this.run.outputTail(no, name);
      inline = { text: dropped ? truncateTail(text, dropped, INLINE_LOG_BYTES) : truncateLog(text, INLINE_LOG_BYTES), bytes: node.outputBytes, startedAt: node.startedAt };
      this.inlineLogs.set(key, inline);
    }
    const signature = `${node.status}|${node.exitCode}|${node.startedAt}|${node.endedAt}|${node.note}|${inline?.bytes ?? 0}`;
    const last = this.latest.get(key);
    if (last !== undefined && this.signatures.get(key) === signature) return last;
    this.signatures.set(key, signature);
    const record = nodeResultRecord(view, phase, node, '');
    record.Log = inline?.text ?? '';
    return JSON.stringify(record);
  }

  /**
   * A node's log key: its output's tail, once the node ended; while it runs
   * (once there is output), if the log is short, or `force`, or the last
   * one is `fullLogFlushMs` old.
   */
  private encodeLog(key: string, no: number, name: string, force: boolean): string | undefined {
    const node = this.run.nodeView(no, name);
    if (!node) return undefined;
    const signature = `${node.outputBytes}|${node.status}|${node.startedAt}`;
    const last = this.latest.get(key);
    if (last !== undefined && this.signatures.get(key) === signature) return last;
    const finished = FINISHED_NODE.includes(node.status);
    const now = Date.now();
    if (!finished) {
      if (!node.outputBytes) return undefined;
      const due = force || node.outputBytes <= INLINE_LOG_BYTES || now - (this.fullLogAt.get(key) ?? 0) >= (this.options.fullLogFlushMs ?? FULL_LOG_FLUSH_MS);
      if (!due) return undefined;
    }
    this.fullLogAt.set(key, now);
    const { text, dropped } = this.run.outputTail(no, name);
    this.signatures.set(key, signature);
    return truncateTail(text, dropped);
  }

  private enqueue(key: string, encode: (withLog: boolean) => string | undefined, withLog = false): void {
    const waiting = this.queued.get(key);
    if (waiting) {
      // Already waiting for its turn: it is encoded then, from the state at that time.
      waiting.encode = encode;
      waiting.withLog ||= withLog;
      return;
    }
    this.queued.set(key, { encode, withLog });
    this.queue = this.queue.then(() => this.put(key));
  }

  private async put(key: string): Promise<void> {
    const job = this.queued.get(key);
    this.queued.delete(key);
    if (!job) return;
    let value: string | undefined;
    try {
      value = job.encode(job.withLog);
    } catch (e) {
      this.failures.set(key, e as Error);
      return;
    }
    if (value === undefined) return;
    this.latest.set(key, value);
    if (this.written.get(key) === value) return;
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
      this.retry.add(key);
    }
  }

  /** Resolves once everything recorded so far is in KV; output that arrived since the last log flush goes now, log keys included. */
  async flush(): Promise<void> {
    if (this.logTimer) {
      clearTimeout(this.logTimer);
      this.logTimer = undefined;
      this.recordLogs(true);
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
      for (const [key, value] of this.latest) if (this.written.get(key) !== value) this.enqueue(key, () => this.latest.get(key) ?? value);
      await this.queue;
    }
  }

  dispose(): void {
    clearTimeout(this.logTimer);
    this.subscriptions.forEach((s) => s.dispose());
  }
}
