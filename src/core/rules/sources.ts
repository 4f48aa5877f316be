/**
 * Chef runs as rule observations, from each source: the runs of this editor
 * (a node's report once its run has ended), the Reporting history of a Chef
 * server (polled: only runs new since the last poll) and report files.
 */
import type { ChefReport } from '../chef/report';
import { emptyReport } from '../chef/report';
import type { Disposable } from '../util/emitter';
import type { RunRegistry } from '../runs/registry';
import type { RunSnapshot } from '../runs/model';
import { FINISHED_NODE, isFinished } from '../runs/model';
import type { ChefRunObservation } from './evaluator';

/** What is needed of RunChefReports (src/core/chef/runReports.ts). */
export interface RunReportsLike {
  load(id: string, phase: number, node: string): Promise<ChefReport | undefined>;
}

/** The observations of a finished run: each node that ran Chef, per phase. */
export async function observationsOfRun(snapshot: RunSnapshot, reports: RunReportsLike): Promise<ChefRunObservation[]> {
  const out: ChefRunObservation[] = [];
  for (const phase of snapshot.phases) {
    for (const n of phase.nodes) {
      if (!FINISHED_NODE.includes(n.status) || n.outputBytes === 0) continue;
      const report = await reports.load(snapshot.id, phase.no, n.node).catch(() => undefined);
      if (!report || !report.chef) continue;
      out.push({
        node: n.node,
        runId: snapshot.id,
        phase: phase.no,
        ...(n.startedAt !== undefined ? { attempt: n.startedAt } : {}),
        source: 'run',
        time: n.endedAt ?? phase.endedAt ?? snapshot.endedAt ?? snapshot.startedAt,
        report: structuredClone(report),
        jump: { command: 'chefConsul.openChefReport', args: { id: snapshot.id, phase: phase.no, node: n.node } },
      });
    }
  }
  return out;
}

/**
 * Calls `sink` with a run's observations when the run ends. Only the run's
 * end is listened to (a snapshot is taken then), not its every change.
 */
export function followRunCompletions(registry: Pick<RunRegistry, 'onDidChange' | 'get'>, reports: RunReportsLike, sink: (o: ChefRunObservation[]) => void, onError?: (e: unknown) => void): Disposable {
  const ended = new Set<string>();
  return registry.onDidChange((c) => {
    if (c.kind !== 'run') return;
    if (!isFinished(c.status)) {
      ended.delete(c.id); // a retry reopens the run: its next end counts again
      return;
    }
    if (ended.has(c.id)) return;
    ended.add(c.id);
    const run = registry.get(c.id);
    if (!run) return;
    const snapshot = run.snapshot();
    // After the other listeners of this change (the reports end their nodes on it).
    void Promise.resolve()
      .then(() => observationsOfRun(snapshot, reports))
      .then((o) => o.length && sink(o))
      .catch((e: unknown) => onError?.(e));
  });
}

/** A run of a Reporting listing, as much as the poller needs (chef/server/reporting.ts ChefRunSummary fits). */
export interface ReportingRunRef {
  runId: string;
  node: string;
  /** 'running' until the run's end is posted. */
  status: string;
  startedAt?: number;
  endedAt?: number;
  durationSeconds?: number;
}

export interface ReportingSource {
  /** Runs that started at or after `from` (epoch ms), any order. */
  list(from: number): Promise<ReportingRunRef[]>;
  /** A run's report. */
  get(runId: string): Promise<ChefReport>;
}

export interface ReportingPollerOptions {
  /** How far back the first poll looks (ms); default 7 days. */
  lookBackMs?: number;
  /** A run still going is asked for again until it ends, at most this long after its start; default 6 hours. */
  maxRunMs?: number;
  clock?: () => number;
  /** Run IDs remembered as done, beyond which the oldest are forgotten. */
  remember?: number;
  /** A run whose detail request fails is asked for again at the next polls, this many times in all (default 3), then given up. */
  maxAttempts?: number;
  /** Where a failed detail request (and giving up on a run) is said. */
  log?: (message: string) => void;
  /**
   * Where an earlier poller of the same server left off (its `state()`): no
   * new baseline, the runs it did not see yet come as news.
   */
  resume?: ReportingPollerState;
}

/** What a poller has seen of a server, handed to the next poller of that server. */
export interface ReportingPollerState {
  from: number;
  /** Since when the history is read (the baseline's look-back). */
  covered: number;
  done: string[];
  attempts: Array<[string, number]>;
}

export interface ReportingPoll {
  observations: ChefRunObservation[];
  /**
   * The first poll: the history so far, from the listing alone (status, times,
   * durations; no detail requests), for averages and last runs — not news.
   */
  baseline: boolean;
  /**
   * Runs older than the history read so far, after a longer look-back was
   * asked for (`extendLookBack`): history like a baseline's, not news.
   */
  history?: ChefRunObservation[];
}

const ended = (status: string) => status === 'success' || status === 'failure';

/**
 * Every poller's polls, chained: the editor keeps one poller per Chef server
 * (src/vscode/chef/reportingFeed.ts), but a profile change or another user of
 * this module may overlap it, and goiardi's in-memory store dies ("concurrent
 * map writes" in its report listing) when two listings overlap.
 */
let pollsInTurn: Promise<void> = Promise.resolve();

/**
 * Polls a Reporting history for runs that ended since the last poll. The
 * first poll reads the history so far as a baseline; each later poll lists
 * the runs that started since the oldest run still going (or since the last
 * poll, less a minute's margin for clocks), fetches the detail of the ended
 * ones not seen yet and returns them.
 */
export class ReportingPoller {
  private from: number;
  private first = true;
  private readonly done = new Set<string>();
  private readonly clock: () => number;
  private readonly maxRunMs: number;
  private readonly remember: number;
  private readonly maxAttempts: number;
  /** Failed detail requests per run not done yet. */
  private readonly attempts = new Map<string, number>();
  /** Since when the history is read. */
  private covered: number;
  /** A longer look-back asked for: the next poll also reads the runs from here to `covered`, as history. */
  private backfillFrom: number | undefined;

  constructor(
    private readonly source: ReportingSource,
    private readonly jump: (run: ReportingRunRef) => ChefRunObservation['jump'],
    private readonly options: ReportingPollerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxRunMs = options.maxRunMs ?? 6 * 3_600_000;
    this.remember = options.remember ?? 50_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.from = this.clock() - (options.lookBackMs ?? 7 * 24 * 3_600_000);
    this.covered = this.from;
    const r = options.resume;
    if (r) {
      this.first = false;
      this.from = r.from;
      this.covered = r.covered;
      for (const id of r.done) this.done.add(id);
      for (const [id, n] of r.attempts) this.attempts.set(id, n);
      if (this.clock() - (options.lookBackMs ?? 0) < this.covered) this.extendLookBack(options.lookBackMs ?? 0);
    }
  }

  /** Whether the next poll is a baseline (the first of this server). */
  get baselineNext(): boolean {
    return this.first;
  }

  /** Where this poller is: for the next poller of the same server (`resume`). */
  state(): ReportingPollerState {
    return { from: this.from, covered: this.covered, done: [...this.done], attempts: [...this.attempts] };
  }

  /**
   * Reads further back than so far: before the first poll, its baseline
   * does; after it, the next poll returns the older runs as `history`.
   */
  extendLookBack(ms: number): void {
    const since = this.clock() - ms;
    if (since >= this.covered) return;
    if (this.first) {
      this.from = Math.min(this.from, since);
      this.covered = since;
    } else this.backfillFrom = Math.min(this.backfillFrom ?? since, since);
  }

  /** One poll; polls of every ReportingPoller run one at a time (see `pollsInTurn`). */
  poll(): Promise<ReportingPoll> {
    const mine = pollsInTurn.then(() => this.pollNow());
    pollsInTurn = mine.then(
      () => undefined,
      () => undefined,
    );
    return mine;
  }

  private async pollNow(): Promise<ReportingPoll> {
    const now = this.clock();
    const backfill = this.backfillFrom;
    const runs = await this.source.list(backfill === undefined ? this.from : Math.min(this.from, backfill));
    const covered = this.covered;
    // Runs that started before the history read so far (a longer look-back): history, not news.
    const older = (r: ReportingRunRef) => backfill !== undefined && r.startedAt !== undefined && r.startedAt < covered;
    const fresh = runs.filter((r) => !this.done.has(r.runId) && !(older(r) && !ended(r.status)));
    const observations: ChefRunObservation[] = [];
    const history: ChefRunObservation[] = [];
    // Committed only once the poll resolves: a poll that fails leaves nothing marked done.
    const doneNow: string[] = [];
    const baseline = this.first;
    const open = fresh.filter((r) => !ended(r.status));
    for (const run of fresh.filter((r) => ended(r.status))) {
      let report: ChefReport;
      const asHistory = baseline || older(run);
      if (asHistory) {
        report = emptyReport('reporting');
        Object.assign(report, { chef: true, status: run.status, complete: true, stage: 'finished' });
        if (run.startedAt !== undefined) report.startedAt = run.startedAt;
        if (run.durationSeconds !== undefined) report.durationSeconds = run.durationSeconds;
      } else {
        try {
          report = await this.source.get(run.runId);
        } catch (e) {
          // One run's detail failing loses neither it nor the others: asked again next poll, a few times.
          const attempts = (this.attempts.get(run.runId) ?? 0) + 1;
          const text = e instanceof Error ? e.message : String(e);
          if (attempts >= this.maxAttempts) {
            this.attempts.delete(run.runId);
            doneNow.push(run.runId);
            this.options.log?.(`Chef Reporting: gave up on run ${run.runId} of ${run.node} after ${attempts} failed detail requests: ${text}`);
          } else {
            this.attempts.set(run.runId, attempts);
            open.push(run); // listed again next time
            this.options.log?.(`Chef Reporting: the detail of run ${run.runId} of ${run.node} failed (attempt ${attempts} of ${this.maxAttempts}, asked again at the next poll): ${text}`);
          }
          continue;
        }
        if (!ended(report.status)) {
          open.push(run); // the listing ran ahead of the detail: ask again
          continue;
        }
      }
      this.attempts.delete(run.runId);
      doneNow.push(run.runId);
      const time = run.endedAt ?? (report.startedAt !== undefined && report.durationSeconds !== undefined ? report.startedAt + report.durationSeconds * 1000 : (run.startedAt ?? now));
      const o: ChefRunObservation = { node: run.node, runId: run.runId, source: 'reporting', time, report };
      const jump = this.jump(run);
      if (jump) o.jump = jump;
      (asHistory && !baseline ? history : observations).push(o);
    }
    this.first = false;
    if (backfill !== undefined) {
      this.covered = Math.min(this.covered, backfill);
      if (this.backfillFrom === backfill) this.backfillFrom = undefined;
    }
    // Next time: from the start of the oldest run still going (if it started less than maxRunMs ago), else the last minute.
    let next = now - 60_000;
    // A second early: listings filter by whole seconds, and goiardi's `from` leaves out a run that started within its second.
    for (const r of open) if (r.startedAt !== undefined && now - r.startedAt < this.maxRunMs) next = Math.min(next, r.startedAt - 1000);
    this.from = next;
    for (const id of doneNow) this.markDone(id);
    return history.length ? { observations, baseline, history } : { observations, baseline };
  }

  private markDone(runId: string): void {
    this.done.add(runId);
    if (this.done.size > this.remember) this.done.delete(this.done.values().next().value as string);
  }
}
