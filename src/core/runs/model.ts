/**
 * The one run model: run → ordered phases → node results → output. Every
 * engine (exec, metronome, ad-hoc) fills it; the Runs view, the run monitor
 * and the history in KV only read it.
 */
import { Emitter } from '../util/emitter';
import { OutputTail } from './outputStore';
import type { RunOutputFiles } from './outputStore';

export type RunEngine = 'exec' | 'metronome' | 'adhoc';
export type RunStatus = 'pending' | 'running' | 'success' | 'error' | 'timeout' | 'cancelled' | 'interrupted';
export type PhaseStatus = 'pending' | 'running' | 'success' | 'error' | 'timeout' | 'skipped' | 'cancelled';
export type NodeStatus = 'pending' | 'running' | 'success' | 'error' | 'timeout' | 'lost' | 'cancelled';

export interface NodeRun {
  node: string;
  status: NodeStatus;
  exitCode?: number;
  startedAt?: number;
  endedAt?: number;
  outputBytes: number;
  /** Why a node ended as it did, in words (lost, timed out, bad exit value). */
  note?: string;
}

export interface PhaseRun {
  /** 0-based, as metronome numbers them. */
  no: number;
  pattern?: string;
  task: string;
  service?: string;
  tag?: string;
  status: PhaseStatus;
  startedAt?: number;
  endedAt?: number;
  nodes: NodeRun[];
  message?: string;
}

export interface RunSnapshot {
  id: string;
  engine: RunEngine;
  /** The event a phase run is for; absent for ad-hoc commands. */
  event?: string;
  command?: string;
  patterns: string[];
  startedBy: string;
  status: RunStatus;
  startedAt: number;
  endedAt?: number;
  phases: PhaseRun[];
  message?: string;
  /** An ad-hoc command's filters (regular expressions), so that a re-run reaches the same nodes. */
  target?: { node?: string; service?: string; tag?: string };
}

export interface OutputChunk {
  phase: number;
  node: string;
  text: string;
}

/**
 * What one change of a run touched. Events carry the change, not the run
 * (copying a 1,000-node run on every node's change is quadratic): a reader
 * that needs the whole run asks for it, `Run.snapshot()` (a copy to keep) or
 * `Run.view()` (the live state, to read at once).
 *  - `run`: the run's own fields; its phases and nodes may have changed too (start, end, reopen).
 *  - `phase`: a phase's fields, and with `nodes` its list of nodes (a phase started).
 *  - `node`: one node's result; `node` is a copy of it after the change, `changes` the fields that moved.
 * `status` is the run's status after the change.
 */
export type RunChange =
  | { kind: 'run'; id: string; status: RunStatus }
  | { kind: 'phase'; id: string; status: RunStatus; phase: number; nodes: boolean }
  | { kind: 'node'; id: string; status: RunStatus; phase: number; node: NodeRun; changes: ReadonlyArray<keyof NodeRun>; added: boolean };

/** A run's live state, read-only: valid while the caller runs; copy what is kept. */
export type RunView = Readonly<Omit<RunSnapshot, 'phases' | 'patterns' | 'target'>> & {
  readonly patterns: readonly string[];
  readonly target?: Readonly<NonNullable<RunSnapshot['target']>>;
  readonly phases: ReadonlyArray<Readonly<Omit<PhaseRun, 'nodes'>> & { readonly nodes: ReadonlyArray<Readonly<NodeRun>> }>;
};

export const FINISHED_RUN: readonly RunStatus[] = ['success', 'error', 'timeout', 'cancelled', 'interrupted'];
export const FINISHED_PHASE: readonly PhaseStatus[] = ['success', 'error', 'timeout', 'skipped', 'cancelled'];
export const FINISHED_NODE: readonly NodeStatus[] = ['success', 'error', 'timeout', 'lost', 'cancelled'];

export function isFinished(status: RunStatus): boolean {
  return FINISHED_RUN.includes(status);
}

/**
 * A run being filled by an engine. Output is kept per node, append-only: in
 * memory its last TAIL_BYTES (outputStore.ts), in full in a file once the
 * editor hands the run a `RunOutputFiles` (persistOutputTo).
 */
export class Run {
  private readonly state: RunSnapshot;
  private readonly outputs = new Map<string, OutputTail>();
  private files: RunOutputFiles | undefined;
  /** Each phase's nodes by name (the lists can hold 1,000 nodes). */
  private readonly index = new Map<number, Map<string, NodeRun>>();
  private readonly changed = new Emitter<RunChange>();
  private readonly output = new Emitter<OutputChunk>();
  readonly onDidChange = this.changed.event;
  readonly onOutput = this.output.event;

  constructor(init: Omit<RunSnapshot, 'status' | 'startedAt' | 'phases'> & { phases: Array<Pick<PhaseRun, 'no' | 'task' | 'pattern' | 'service' | 'tag'>>; startedAt?: number }) {
    this.state = {
      ...init,
      status: 'pending',
      startedAt: init.startedAt ?? Date.now(),
      phases: init.phases.map((p) => ({ ...p, status: 'pending', nodes: [] })),
    };
  }

  get id(): string {
    return this.state.id;
  }

  get status(): RunStatus {
    return this.state.status;
  }

  /** A deep copy: what leaves the model never changes under the reader. */
  snapshot(): RunSnapshot {
    return structuredClone(this.state);
  }

  /** The live state without a copy, read-only; it changes under a reader that keeps it. */
  view(): RunView {
    return this.state;
  }

  /** One node's live result, read-only; undefined when the phase has no such node. */
  nodeView(no: number, node: string): Readonly<NodeRun> | undefined {
    return this.indexOf(no).get(node);
  }

  phase(no: number): PhaseRun {
    const phase = this.state.phases.find((p) => p.no === no);
    if (!phase) throw new Error(`run ${this.state.id} has no phase ${no}`);
    return phase;
  }

  /** A node's output: all of it up to TAIL_BYTES, else its last TAIL_BYTES (outputTail says how much is cut). */
  outputOf(no: number, node: string): string {
    return this.outputs.get(`${no}/${node}`)?.text() ?? '';
  }

  /** The output kept in memory and how many bytes before it are no longer held here. */
  outputTail(no: number, node: string): { text: string; dropped: number } {
    const tail = this.outputs.get(`${no}/${node}`);
    return { text: tail?.text() ?? '', dropped: tail?.dropped ?? 0 };
  }

  /**
   * From now on every node's output also goes, whole, to `files`; what is
   * already held goes first. Calling it again with the same store does nothing.
   */
  persistOutputTo(files: RunOutputFiles): void {
    if (this.files === files) return;
    this.files = files;
    for (const [key, tail] of this.outputs) {
      const cut = key.indexOf('/');
      files.append(this.state.id, Number(key.slice(0, cut)), key.slice(cut + 1), tail.text());
    }
  }

  start(): void {
    this.state.status = 'running';
    this.emitRun();
  }

  /** With `keepOthers` (a retry), nodes not listed keep their earlier results. */
  startPhase(no: number, nodes: string[], keepOthers = false): void {
    const phase = this.phase(no);
    phase.status = 'running';
    phase.startedAt = Date.now();
    const fresh = nodes.map((node): NodeRun => ({ node, status: 'pending', outputBytes: 0 }));
    const names = new Set(nodes);
    phase.nodes = keepOthers ? [...phase.nodes.filter((n) => !names.has(n.node)), ...fresh] : fresh;
    this.index.delete(no);
    for (const node of nodes) {
      this.outputs.delete(`${no}/${node}`);
      this.files?.reset(this.state.id, no, node);
    }
    this.changed.fire({ kind: 'phase', id: this.state.id, status: this.state.status, phase: no, nodes: true });
  }

  /** A node answered (acked) and is running the phase. Unknown nodes are added: a filter may reach more than the catalog said. */
  nodeStarted(no: number, node: string): void {
    const [n, added] = this.nodeOf(no, node);
    if (n.status === 'pending') {
      n.status = 'running';
      n.startedAt = Date.now();
      this.emitNode(no, n, ['status', 'startedAt'], added);
    } else if (added) this.emitNode(no, n, [], added);
  }

  appendOutput(no: number, node: string, text: string): void {
    if (!text) return;
    const [n, added] = this.nodeOf(no, node);
    // Output itself is an onOutput event, not a change; a node it brings in is one.
    if (added) this.emitNode(no, n, [], added);
    const bytes = Buffer.byteLength(text);
    n.outputBytes += bytes;
    const key = `${no}/${node}`;
    let tail = this.outputs.get(key);
    if (!tail) this.outputs.set(key, (tail = new OutputTail()));
    tail.append(text, bytes);
    this.files?.append(this.state.id, no, node, text);
    this.output.fire({ phase: no, node, text });
  }

  nodeEnded(no: number, node: string, status: NodeStatus, exitCode?: number, note?: string): void {
    const [n, added] = this.nodeOf(no, node);
    const changes: Array<keyof NodeRun> = ['endedAt'];
    if (n.status !== status) changes.push('status');
    if (n.exitCode !== exitCode) changes.push('exitCode');
    if (n.note !== note) changes.push('note');
    if (n.startedAt === undefined) changes.push('startedAt');
    n.status = status;
    n.exitCode = exitCode;
    n.note = note;
    n.startedAt ??= Date.now();
    n.endedAt = Date.now();
    this.emitNode(no, n, changes, added);
  }

  endPhase(no: number, status: PhaseStatus, message?: string): void {
    const phase = this.phase(no);
    phase.status = status;
    phase.message = message;
    phase.startedAt ??= Date.now();
    phase.endedAt = Date.now();
    this.changed.fire({ kind: 'phase', id: this.state.id, status: this.state.status, phase: no, nodes: false });
  }

  /** Ends the run; phases not reached are marked with `rest` (cancelled when the run stopped early). */
  end(status: RunStatus, message?: string, rest: PhaseStatus = 'cancelled'): void {
    for (const p of this.state.phases) {
      if (p.status === 'pending' || p.status === 'running') {
        p.status = rest;
        for (const n of p.nodes) if (!FINISHED_NODE.includes(n.status)) n.status = 'cancelled';
      }
    }
    this.state.status = status;
    this.state.message = message;
    this.state.endedAt = Date.now();
    this.emitRun();
  }

  /** Takes an ended run back to running from phase `no` on (a retry); earlier phases keep their results. */
  reopen(no: number): void {
    for (const p of this.state.phases) {
      if (p.no < no) continue;
      p.status = 'pending';
      p.startedAt = p.endedAt = undefined;
      p.message = undefined;
      if (p.no > no) {
        p.nodes = [];
        this.index.delete(p.no);
      }
    }
    this.state.status = 'pending';
    this.state.endedAt = undefined;
    this.state.message = undefined;
    this.emitRun();
  }

  private indexOf(no: number): Map<string, NodeRun> {
    let index = this.index.get(no);
    if (!index) {
      index = new Map(this.phase(no).nodes.map((n) => [n.node, n]));
      this.index.set(no, index);
    }
    return index;
  }

  /** The node's result, and whether it was added now. */
  private nodeOf(no: number, node: string): [NodeRun, boolean] {
    const index = this.indexOf(no);
    let n = index.get(node);
    if (n) return [n, false];
    n = { node, status: 'pending', outputBytes: 0 };
    this.phase(no).nodes.push(n);
    index.set(node, n);
    return [n, true];
  }

  private emitRun(): void {
    this.changed.fire({ kind: 'run', id: this.state.id, status: this.state.status });
  }

  private emitNode(no: number, n: NodeRun, changes: Array<keyof NodeRun>, added: boolean): void {
    this.changed.fire({ kind: 'node', id: this.state.id, status: this.state.status, phase: no, node: { ...n }, changes, added });
  }

  dispose(): void {
    this.changed.dispose();
    this.output.dispose();
  }
}

/**
 * The nodes a change touched, read from the run's live state: the node of a
 * node change, a phase's nodes when its list changed, every node for a run
 * change, none for a phase's own fields.
 */
export function* touchedNodes(run: Run, c: RunChange): Generator<{ phase: number; node: Readonly<NodeRun> }> {
  if (c.kind === 'node') {
    yield { phase: c.phase, node: run.nodeView(c.phase, c.node.node) ?? c.node };
    return;
  }
  for (const p of run.view().phases) {
    if (c.kind === 'phase' && (!c.nodes || p.no !== c.phase)) continue;
    for (const node of p.nodes) yield { phase: p.no, node };
  }
}

/** A phase's status from its nodes' results, the way metronome decides it. */
export function phaseStatusFromNodes(nodes: readonly NodeRun[]): PhaseStatus {
  if (!nodes.length) return 'skipped';
  if (nodes.some((n) => n.status === 'error' || n.status === 'lost')) return 'error';
  if (nodes.some((n) => n.status === 'timeout')) return 'timeout';
  if (nodes.some((n) => n.status === 'cancelled')) return 'cancelled';
  return 'success';
}
