/**
 * The blocking queries that follow one metronome run, and their latest
 * answers (metronomeEngine.ts says which keys, and why each is read the way
 * it is). Each answer that brings something new asks the engine for a pass;
 * a query that fails says so in the run's diagnostics until it answers again.
 */
import type { ConsulConnection } from '../consul/client';
import { kvKeysMethod } from '../consul/kvMethods';
import type { Disposable } from '../util/emitter';
import type { MetronomeDiagnoser } from './metronomeDiagnoser';
import { followKv, sameValue, stillEmpty, valueIn, valueMethod, type Unchanged, type WatchMethod } from './metronomeFollower';
import { EVENT_QUEUE_KEY, PROGRESS_QUEUE_KEY, runKey } from './metronomeLayout';
import { parseEventQueue, parseProgressQueue, type QueuedEvent, type QueuedPhase } from './metronomeQueues';

export interface MetronomeWatchOptions {
  runId: string;
  coalesceMs: number;
  /** An agent already has the event: its results are followed from the start, the event queue never. */
  pickedUp: boolean;
}

export class MetronomeWatches {
  /** The key names under the run's results; the engine lists them afresh when the answer may be older than the queue it saw. */
  keys: string[] | undefined;
  /** metronome's progress queue, every event's phases. */
  progress: QueuedPhase[] | undefined;
  /** metronome's event queue, while no agent has the event. */
  eventQueue: QueuedEvent[] | undefined;

  private readonly progressWatch: Disposable;
  private eventQueueWatch: Disposable | undefined;
  private resultsWatch: Disposable | undefined;

  constructor(
    private readonly connection: ConsulConnection,
    private readonly options: MetronomeWatchOptions,
    private readonly diagnoser: MetronomeDiagnoser,
    /** Asks the engine for a pass. */
    private readonly changed: () => void,
  ) {
    this.progressWatch = this.follow(`/v1/kv/${PROGRESS_QUEUE_KEY}?recurse`, valueMethod(PROGRESS_QUEUE_KEY, true), (body) => {
      const { phases, problem } = parseProgressQueue(valueIn(body, PROGRESS_QUEUE_KEY));
      this.progress = phases;
      this.diagnoser.malformed(PROGRESS_QUEUE_KEY, problem);
    });
    if (options.pickedUp) this.followResults();
    else {
      this.eventQueueWatch = this.follow(`/v1/kv/${EVENT_QUEUE_KEY}`, valueMethod(EVENT_QUEUE_KEY, false), (body) => {
        const { events, problem } = parseEventQueue(valueIn(body, EVENT_QUEUE_KEY));
        this.eventQueue = events;
        this.diagnoser.malformed(EVENT_QUEUE_KEY, problem);
      });
    }
  }

  /** Every query followed now has answered at least once. */
  get answered(): boolean {
    return !(this.progress === undefined || (this.resultsWatch && this.keys === undefined) || (this.eventQueueWatch && this.eventQueue === undefined));
  }

  /** The run's results are followed: an agent took the event. */
  get followingResults(): boolean {
    return !!this.resultsWatch;
  }

  /** Once an agent has the event, the event queue says nothing more about it. */
  dropEventQueue(): void {
    this.eventQueueWatch?.dispose();
    this.eventQueueWatch = undefined;
  }

  /** Only once the event is taken: before, its results prefix is empty, and an empty prefix wakes at every KV write. */
  followResults(): void {
    if (this.resultsWatch) return;
    this.keys = undefined;
    const key = runKey(this.options.runId);
    this.resultsWatch = this.follow(`/v1/kv/${key}?keys`, kvKeysMethod(key), (body) => {
      this.keys = Array.isArray(body) ? body.filter((k): k is string => typeof k === 'string') : [];
    }, stillEmpty);
  }

  dispose(): void {
    for (const w of [this.progressWatch, this.eventQueueWatch, this.resultsWatch]) w?.dispose();
    this.eventQueueWatch = this.resultsWatch = undefined;
  }

  /** One blocking query; a pass runs on each answer that brings something new. */
  private follow(path: string, method: WatchMethod, take: (body: unknown) => void, unchanged: Unchanged = sameValue): Disposable {
    return followKv(this.connection, { path, method, coalesceMs: this.options.coalesceMs, unchanged }, {
      answered: () => this.diagnoser.forget('follow-error', path),
      changed: (body) => {
        take(body);
        this.changed();
      },
      failed: (error) => this.diagnoser.diagnose({ kind: 'follow-error', severity: 'warning', key: path, message: `Following metronome paused: ${error.message} It resumes by itself.` }),
    });
  }
}
