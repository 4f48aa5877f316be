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
  /** Bounded groups (e.g. Reporting runs opened one after another): key → ref, oldest first. */
  private readonly groups = new Map<string, Map<string, ChefReportRef>>();
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

  /**
   * Shelves the report in `group`, which keeps at most `max` reports: the
   * least recently put (or read with reportOf) goes first.
   */
  putBounded(ref: ChefReportRef, report: ChefReport, group: string, max: number): void {
    const k = key(ref.id, ref.phase, ref.node);
    let members = this.groups.get(group);
    if (!members) this.groups.set(group, (members = new Map()));
    members.delete(k);
    members.set(k, { id: ref.id, phase: ref.phase, node: ref.node });
    this.put(ref, report);
    for (const [oldest, oldRef] of members) {
      if (members.size <= max) break;
      members.delete(oldest);
      this.remove(oldRef);
    }
  }

  remove(ref: ChefReportRef): void {
    const k = key(ref.id, ref.phase, ref.node);
    for (const members of this.groups.values()) members.delete(k);
    if (this.shelved.delete(k)) this.changed.fire({ id: ref.id, phase: ref.phase, node: ref.node });
  }

  isShelved(ref: ChefReportRef): boolean {
    return this.shelved.has(key(ref.id, ref.phase, ref.node));
  }

  reportOf(id: string, phase: number, node: string): ChefReport | undefined {
    const k = key(id, phase, node);
    for (const members of this.groups.values()) {
      const ref = members.get(k);
      if (ref) {
        // Read: most recently used.
        members.delete(k);
        members.set(k, ref);
      }
    }
    return this.shelved.get(k) ?? this.runs.reportOf(id, phase, node);
  }

  load(id: string, phase: number, node: string): Promise<ChefReport | undefined> {
    const shelved = this.shelved.get(key(id, phase, node));
    return shelved ? Promise.resolve(shelved) : this.runs.load(id, phase, node);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
    this.shelved.clear();
    this.groups.clear();
  }
}
