/**
 * Chef reports of a run's nodes, kept up to date as their output streams: one
 * incremental parser per (run, phase, node), fed by a Run or by every run of a
 * RunRegistry. A finished run that is only in history (KV) is parsed on demand
 * from its recorded log.
 */
import { Emitter } from '../util/emitter';
import type { Disposable } from '../util/emitter';
import type { NodeRun, OutputChunk, Run, RunChange, RunSnapshot } from '../runs/model';
import { FINISHED_NODE, touchedNodes } from '../runs/model';
import type { RunRegistry } from '../runs/registry';
import { ChefOutputParser } from './outputParser';
import type { ChefReport, ChefSummary } from './report';
import { chefSummary } from './report';

export interface ChefReportRef {
  id: string;
  phase: number;
  node: string;
}

export interface RunChefReportsOptions {
  /** Reads a node's recorded log (history's readNodeLog); without it only followed runs have reports. */
  readLog?: (id: string, phase: number, node: string) => Promise<string>;
  /** Runs whose reports are kept, newest first; older ones are parsed again when asked for. */
  keepRuns?: number;
}

interface Entry {
  parser: ChefOutputParser;
  ended: boolean;
}

const key = (id: string, phase: number, node: string) => `${id}\u0000${phase}\u0000${node}`;

export class RunChefReports implements Disposable {
  private readonly entries = new Map<string, Entry>();
  /** Run IDs in the order they were first seen, for dropping the oldest runs' reports. */
  private readonly runOrder: string[] = [];
  private readonly loading = new Map<string, Promise<ChefReport | undefined>>();
  private readonly changed = new Emitter<ChefReportRef>();
  /** Fires when a node's report may have changed (new output, its end, a retry that starts it again). */
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: Disposable[] = [];
  private readonly keepRuns: number;

  constructor(
    private readonly source: Run | RunRegistry,
    private readonly options: RunChefReportsOptions = {},
  ) {
    this.keepRuns = Math.max(1, options.keepRuns ?? 20);
    if (isRegistry(source)) {
      this.subscriptions.push(
        source.onOutput((c) => this.output(c.id, c)),
        source.onDidChange((c) => this.change(c)),
      );
      for (const run of source.all()) this.snapshot(run.snapshot());
    } else {
      const id = source.id;
      this.subscriptions.push(
        source.onOutput((c) => this.output(id, c)),
        source.onDidChange((c) => this.change(c)),
      );
      this.snapshot(source.snapshot());
    }
  }

  /** The node's report so far; undefined when nothing of that node was seen or loaded yet (see load()). */
  reportOf(id: string, phase: number, node: string): ChefReport | undefined {
    return this.entries.get(key(id, phase, node))?.parser.report;
  }

  summaryOf(id: string, phase: number, node: string): ChefSummary | undefined {
    const report = this.reportOf(id, phase, node);
    return report ? chefSummary(report) : undefined;
  }

  /**
   * The node's report, from the live run when it is followed, else parsed from
   * its recorded log (once; later calls answer from memory).
   */
  async load(id: string, phase: number, node: string): Promise<ChefReport | undefined> {
    const k = key(id, phase, node);
    const known = this.entries.get(k);
    if (known) return known.parser.report;
    const run = this.runOf(id);
    if (run) {
      const snapshot = run.snapshot();
      const nodeRun = snapshot.phases.find((p) => p.no === phase)?.nodes.find((n) => n.node === node);
      if (nodeRun) {
        const entry = this.seed(run, id, phase, node);
        if (FINISHED_NODE.includes(nodeRun.status)) this.endEntry(entry, { id, phase, node });
        return entry.parser.report;
      }
    }
    const readLog = this.options.readLog;
    if (!readLog) return undefined;
    const pending = this.loading.get(k);
    if (pending) return pending;
    const promise = readLog(id, phase, node)
      .then((log) => {
        // Output may have arrived meanwhile (the run was started here after all): that is fresher.
        const live = this.entries.get(k);
        if (live) return live.parser.report;
        const entry = this.create(id, k);
        entry.parser.push(log);
        this.endEntry(entry, { id, phase, node });
        return entry.parser.report;
      })
      .finally(() => this.loading.delete(k));
    this.loading.set(k, promise);
    return promise;
  }

  private runOf(id: string): Run | undefined {
    const source = this.source;
    if (isRegistry(source)) return source.get(id);
    return source.id === id ? source : undefined;
  }

  private create(id: string, k: string): Entry {
    const entry: Entry = { parser: new ChefOutputParser('output'), ended: false };
    this.entries.set(k, entry);
    if (!this.runOrder.includes(id)) {
      this.runOrder.push(id);
      this.forgetOldRuns();
    }
    return entry;
  }

  /** An entry holding what the run already has of the node's output. */
  private seed(run: Run, id: string, phase: number, node: string): Entry {
    const entry = this.create(id, key(id, phase, node));
    entry.parser.push(run.outputOf(phase, node));
    return entry;
  }

  private output(id: string, chunk: OutputChunk): void {
    const k = key(id, chunk.phase, chunk.node);
    const entry = this.entries.get(k);
    if (entry && !entry.ended) entry.parser.push(chunk.text);
    else if (!entry) {
      // First output seen of this node: the run already holds it, this chunk included.
      const run = this.runOf(id);
      if (run) this.seed(run, id, chunk.phase, chunk.node);
      else this.create(id, k).parser.push(chunk.text);
    } else return; // output after the node's end: a retry's, which comes with a fresh start
    this.changed.fire({ id, phase: chunk.phase, node: chunk.node });
  }

  private snapshot(s: RunSnapshot): void {
    for (const phase of s.phases) for (const n of phase.nodes) this.nodeState(s.id, phase.no, n);
  }

  /** Only the nodes the change touched: one for a node's change. */
  private change(c: RunChange): void {
    const run = this.runOf(c.id);
    if (run) for (const { phase, node } of touchedNodes(run, c)) this.nodeState(c.id, phase, node);
  }

  private nodeState(id: string, phase: number, n: Readonly<NodeRun>): void {
    const ref = { id, phase, node: n.node };
    const k = key(id, phase, n.node);
    const entry = this.entries.get(k);
    const finished = FINISHED_NODE.includes(n.status);
    if (entry && entry.ended && !finished) {
      // A retry started the node again: its old output is gone from the run.
      this.entries.delete(k);
      this.changed.fire(ref);
    } else if (entry && !entry.ended && finished) this.endEntry(entry, ref);
    else if (!entry && finished && n.outputBytes > 0) {
      const run = this.runOf(id);
      if (run) this.endEntry(this.seed(run, id, phase, n.node), ref);
    }
  }

  private endEntry(entry: Entry, ref: ChefReportRef): void {
    if (entry.ended) return;
    entry.ended = true;
    entry.parser.end();
    this.changed.fire(ref);
  }

  private forgetOldRuns(): void {
    while (this.runOrder.length > this.keepRuns) {
      const id = this.runOrder.shift()!;
      const prefix = `${id}\u0000`;
      for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
    }
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
    this.changed.dispose();
    this.entries.clear();
  }
}

function isRegistry(source: Run | RunRegistry): source is RunRegistry {
  return typeof (source as RunRegistry).all === 'function';
}
