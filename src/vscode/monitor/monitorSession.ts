/**
 * What one monitor panel knows of its run, on the extension side: the run's
 * state, the last lines of each node's output (bounded), and what happened
 * since the page last pulled. Outlives the page: when the panel is hidden
 * the page is gone, and `init()` rebuilds it. No `vscode` here.
 */
import type { NodeRun, Run, RunChange, RunSnapshot } from '../../core/runs/model';
import { touchedNodes } from '../../core/runs/model';
import { LineSplitter, lastLines } from './lines';
import type { ChefCell, MonitorBatch, OutputLine } from './protocol';
import { outputKey } from './protocol';

/** Lines held per node and phase; the full log (file, KV) has the rest. */
export const MAX_LINES_PER_NODE = 5000;
/** What a (re)loaded page is sent at most, spread over the nodes. */
export const MAX_INIT_LINES = 60_000;
/** Lines one batch carries at most: beyond that the oldest of the batch are dropped (the page would scroll past them). */
export const MAX_BATCH_LINES = 20_000;
/** The most lines one batch carries: one frame's work for the page stays small; the rest waits for the next pull. */
export const LINES_PER_BATCH = 2_000;

interface Held {
  split: LineSplitter;
  lines: Array<OutputLine & { seq: number }>;
  count: number;
  cut: boolean;
}

export class MonitorSession {
  private readonly held = new Map<string, Held>();
  private seq = 0;
  private current: RunSnapshot | undefined;
  /** The live run followed, whose copy is taken when a batch or the page needs it, not on every change. */
  private live: Run | undefined;
  private stale = false;
  private queuedLines: OutputLine[] = [];
  private queuedReset = new Set<string>();
  private queuedRun = false;
  private readonly chefCells = new Map<string, ChefCell>();
  private queuedChef = new Set<string>();
  averageMs: number | undefined;
  private queuedAverage = false;
  /** Called when something is queued: the panel sends it if the page is waiting. */
  onQueued: () => void = () => undefined;

  constructor(readonly id: string) {}

  private heldOf(phase: number, node: string): Held {
    const key = outputKey(phase, node);
    let h = this.held.get(key);
    if (!h) this.held.set(key, (h = { split: new LineSplitter(), lines: [], count: 0, cut: false }));
    return h;
  }

  /** Output read back in one block (a run's tail, a file, a KV log): replaces what is held of that node. */
  seed(phase: number, node: string, text: string, cutBefore: boolean): void {
    const key = outputKey(phase, node);
    const { lines, cut } = lastLines(text, phase, node, MAX_LINES_PER_NODE);
    const h: Held = { split: new LineSplitter(), lines: lines.map((l) => ({ ...l, seq: this.seq++ })), count: lines.length ? lines[lines.length - 1].no : 0, cut: cut || cutBefore };
    // A partial last line stays partial: later output completes it.
    if (text && !text.endsWith('\n') && h.lines.length) {
      h.lines.pop();
      h.count--;
      h.split.push(text.slice(text.lastIndexOf('\n') + 1));
    }
    this.held.set(key, h);
  }

  output(phase: number, node: string, text: string, t = Date.now()): void {
    const h = this.heldOf(phase, node);
    for (const line of h.split.push(text)) this.add(h, phase, node, line, t);
  }

  /** A node's output ended: its partial last line is a line. */
  endOutput(phase: number, node: string, t = Date.now()): void {
    const h = this.held.get(outputKey(phase, node));
    if (!h) return;
    for (const line of h.split.end()) this.add(h, phase, node, line, t);
  }

  private add(h: Held, phase: number, node: string, text: string, t: number): void {
    const line = { phase, node, no: ++h.count, t, text, seq: this.seq++ };
    h.lines.push(line);
    if (h.lines.length > MAX_LINES_PER_NODE * 1.25) {
      h.lines.splice(0, h.lines.length - MAX_LINES_PER_NODE);
      h.cut = true;
    }
    this.queuedLines.push(line);
    if (this.queuedLines.length > MAX_BATCH_LINES * 1.25) this.queuedLines.splice(0, this.queuedLines.length - MAX_BATCH_LINES);
    this.onQueued();
  }

  reset(phase: number, node: string): void {
    const key = outputKey(phase, node);
    this.held.delete(key);
    this.queuedLines = this.queuedLines.filter((l) => outputKey(l.phase, l.node) !== key);
    this.queuedReset.add(key);
    this.onQueued();
  }

  /** The run as last known: a live run's copy is taken here, at most once per change. */
  get run(): RunSnapshot | undefined {
    if (this.live && this.stale) {
      this.current = this.live.snapshot();
      this.stale = false;
    }
    return this.current;
  }

  /** A new state of the run (read from history); a node that starts over (a retry) drops its output. */
  snapshot(s: RunSnapshot): void {
    for (const p of s.phases) for (const n of p.nodes) this.nodeState(p.no, n);
    this.live = undefined;
    this.stale = false;
    this.current = s;
    this.queuedRun = true;
    this.onQueued();
  }

  /** A change of the live run: only the nodes it touched are looked at. */
  change(run: Run, c: RunChange): void {
    for (const { phase, node } of touchedNodes(run, c)) this.nodeState(phase, node);
    this.live = run;
    this.stale = true;
    this.queuedRun = true;
    this.onQueued();
  }

  private nodeState(phase: number, n: Readonly<NodeRun>): void {
    const h = this.held.get(outputKey(phase, n.node));
    if (h && n.outputBytes === 0 && (h.lines.length || h.split.pending)) this.reset(phase, n.node);
    else if (h && h.split.pending && ['success', 'error', 'timeout', 'lost', 'cancelled'].includes(n.status)) this.endOutput(phase, n.node);
  }

  chef(cell: ChefCell): void {
    const key = outputKey(cell.phase, cell.node);
    this.chefCells.set(key, cell);
    this.queuedChef.add(key);
    this.onQueued();
  }

  setAverage(ms: number | undefined): void {
    this.averageMs = ms;
    this.queuedAverage = true;
    this.onQueued();
  }

  get hasQueued(): boolean {
    return this.queuedRun || this.queuedAverage || this.queuedLines.length > 0 || this.queuedReset.size > 0 || this.queuedChef.size > 0;
  }

  /** Everything since the last batch, in one message; undefined when nothing happened. */
  takeBatch(): MonitorBatch | undefined {
    if (!this.hasQueued) return undefined;
    const batch: MonitorBatch = { type: 'batch', lines: this.queuedLines.splice(0, LINES_PER_BATCH).map(strip) };
    if (this.queuedRun && this.run) batch.run = this.run;
    if (this.queuedReset.size) batch.reset = [...this.queuedReset];
    if (this.queuedChef.size) batch.chef = [...this.queuedChef].map((k) => this.chefCells.get(k)!).filter(Boolean);
    if (this.queuedAverage) batch.averageMs = this.averageMs;
    this.clearQueue(false);
    return batch;
  }

  /** `lines`: also the queued lines (a batch leaves the ones past its cap queued). */
  private clearQueue(lines = true): void {
    if (lines) this.queuedLines = [];
    this.queuedReset = new Set();
    this.queuedChef = new Set();
    this.queuedRun = false;
    this.queuedAverage = false;
  }

  /** What a page that (re)loads starts from: every node's last lines, in arrival order, within MAX_INIT_LINES. */
  initial(): { lines: OutputLine[]; cut: string[]; chef: ChefCell[] } {
    this.clearQueue();
    const perNode = Math.max(500, Math.floor(MAX_INIT_LINES / Math.max(1, this.held.size)));
    const lines: Array<OutputLine & { seq: number }> = [];
    const cut: string[] = [];
    for (const [key, h] of this.held) {
      const from = Math.max(0, h.lines.length - perNode);
      lines.push(...h.lines.slice(from));
      if (from > 0 || h.cut) cut.push(key);
    }
    lines.sort((a, b) => a.seq - b.seq);
    return { lines: lines.map(strip), cut, chef: [...this.chefCells.values()] };
  }
}

function strip(l: OutputLine & { seq?: number }): OutputLine {
  const { seq: _seq, ...line } = l;
  return line;
}
