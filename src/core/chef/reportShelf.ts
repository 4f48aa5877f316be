/**
 * Chef reports that come from no run of ours — a report file, a Reporting run
 * — put beside the runs' reports, so that the one report view, its documents
 * (diffs, failure text) and commands show them the same way. A shelved report
 * has a ref like a run's node: `{ id: 'file:<path>', phase: 0, node }`.
 */
import { Emitter } from '../util/emitter';
import type { Disposable } from '../util/emitter';
import type { ChefReport } from './report';
import type { ChefReportRef } from './runReports';

/** What the report view and documents read (RunChefReports has it). */
export interface ChefReportLookup {
  reportOf(id: string, phase: number, node: string): ChefReport | undefined;
  load(id: string, phase: number, node: string): Promise<ChefReport | undefined>;
  onDidChange(listener: (ref: ChefReportRef) => void): Disposable;
}

const key = (id: string, phase: number, node: string) => `${id}\u0000${phase}\u0000${node}`;

export class ChefReportShelf implements ChefReportLookup, Disposable {
  private readonly shelved = new Map<string, ChefReport>();
  private readonly changed = new Emitter<ChefReportRef>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: Disposable;

  constructor(private readonly runs: ChefReportLookup) {
    this.subscription = runs.onDidChange((ref) => this.changed.fire(ref));
  }

  /** Shelves (or replaces) the report under `ref`; the view and documents showing it refresh. */
  put(ref: ChefReportRef, report: ChefReport): void {
    this.shelved.set(key(ref.id, ref.phase, ref.node), report);
    this.changed.fire({ id: ref.id, phase: ref.phase, node: ref.node });
  }

  remove(ref: ChefReportRef): void {
    if (this.shelved.delete(key(ref.id, ref.phase, ref.node))) this.changed.fire({ id: ref.id, phase: ref.phase, node: ref.node });
  }

  isShelved(ref: ChefReportRef): boolean {
    return this.shelved.has(key(ref.id, ref.phase, ref.node));
  }

  reportOf(id: string, phase: number, node: string): ChefReport | undefined {
    return this.shelved.get(key(id, phase, node)) ?? this.runs.reportOf(id, phase, node);
  }

  load(id: string, phase: number, node: string): Promise<ChefReport | undefined> {
    const shelved = this.shelved.get(key(id, phase, node));
    return shelved ? Promise.resolve(shelved) : this.runs.load(id, phase, node);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
    this.shelved.clear();
  }
}
