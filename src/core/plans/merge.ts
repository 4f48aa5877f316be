/**
 * Same-named events across patterns, in the order metronome runs them.
 *
 * metronome collects the event from every pattern and sorts by ascending
 * priority. Its sort is not stable and it walks the patterns in Go map order,
 * so patterns with equal priority run in no fixed order; here ties keep the
 * order of the input, and a diagnostic says the tie is unsafe.
 */
import { eventPhases, findTask, type FileDiagnostic, type PatternPlan, type Phase, type PlanEvent, type Task } from './model';

export interface ResolvedPhase extends Phase {
  /** The pattern whose task.yml defines the event (and so the task). */
  pattern: string;
  event: string;
  /** undefined when the task is not defined in that pattern (see task-undefined). */
  taskDef?: Task;
}

export interface MergedEventPart {
  pattern: PatternPlan;
  event: PlanEvent;
  phases: ResolvedPhase[];
}

export interface MergedEvent {
  name: string;
  /** One part per pattern defining the event, in run order. */
  parts: MergedEventPart[];
  /** All phases of all parts, flattened in run order. */
  phases: ResolvedPhase[];
}

export function mergeEvents(plans: readonly PatternPlan[]): Map<string, MergedEvent> {
  const byName = new Map<string, { pattern: PatternPlan; event: PlanEvent; order: number }[]>();
  let order = 0;
  for (const pattern of plans) {
    for (const event of pattern.events) {
      const list = byName.get(event.name) ?? [];
      list.push({ pattern, event, order: order++ });
      byName.set(event.name, list);
    }
  }
  const merged = new Map<string, MergedEvent>();
  for (const [name, list] of byName) {
    list.sort((a, b) => a.event.priority - b.event.priority || a.order - b.order);
    const parts = list.map(({ pattern, event }) => ({ pattern, event, phases: resolvePhases(pattern, event) }));
    merged.set(name, { name, parts, phases: parts.flatMap((p) => p.phases) });
  }
  return merged;
}

function resolvePhases(pattern: PatternPlan, event: PlanEvent): ResolvedPhase[] {
  return eventPhases(event).map((phase) => {
    const resolved: ResolvedPhase = { ...phase, pattern: pattern.name, event: event.name };
    const task = findTask(pattern, phase.task);
    if (task) resolved.taskDef = task;
    return resolved;
  });
}

/**
 * `event-duplicate-priority`: the same event with the same priority in more
 * than one pattern, reported at each of those event keys.
 */
export function crossPatternDiagnostics(plans: readonly PatternPlan[]): FileDiagnostic[] {
  const groups = new Map<string, { pattern: PatternPlan; event: PlanEvent }[]>();
  for (const pattern of plans) {
    for (const event of pattern.events) {
      const key = `${event.name}\u0000${event.priority}`;
      const list = groups.get(key) ?? [];
      list.push({ pattern, event });
      groups.set(key, list);
    }
  }
  const out: FileDiagnostic[] = [];
  for (const list of groups.values()) {
    if (list.length < 2) continue;
    for (const { pattern, event } of list) {
      const others = list.filter((x) => x.pattern !== pattern).map((x) => x.pattern.name);
      out.push({
        filePath: pattern.filePath,
        diagnostic: {
          severity: 'warning',
          code: 'event-duplicate-priority',
          message:
            `Event '${event.name}' has priority ${event.priority} here and in pattern${others.length > 1 ? 's' : ''} ` +
            `${others.map((o) => `'${o}'`).join(', ')}; metronome runs equal priorities in no fixed order. Give each pattern its own priority.`,
          range: event.keyRange,
          data: { event: event.name, patterns: others },
        },
      });
    }
  }
  return out;
}
