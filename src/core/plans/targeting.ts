/**
 * Which catalog nodes a phase reaches, by metronome's rule: no service means
 * every node (a tag alone is then ignored too); a service means nodes with an
 * instance of it; a tag narrows that to instances carrying the tag.
 *
 * metronome looks the service up among the node's service IDs; an instance
 * whose ID is not its name (several instances on one node) is matched by
 * either, so a plan does not silently miss it here.
 */
import type { PatternPlan, PlanDiagnostic } from './model';
import { eventPhases } from './model';

export interface TargetInstance {
  service: string;
  id?: string;
  tags: readonly string[];
}

export interface TargetNode {
  name: string;
  services: readonly TargetInstance[];
}

export interface PhaseFilter {
  service?: string;
  tag?: string;
}

export function instanceMatches(instance: TargetInstance, filter: PhaseFilter): boolean {
  if (!filter.service) return true;
  if (instance.service !== filter.service && instance.id !== filter.service) return false;
  return !filter.tag || instance.tags.includes(filter.tag);
}

export function nodeMatches(node: TargetNode, filter: PhaseFilter): boolean {
  if (!filter.service) return true;
  return node.services.some((s) => instanceMatches(s, filter));
}

/** Names of the nodes the phase would run on, in catalog order. */
export function phaseTargets(filter: PhaseFilter, nodes: readonly TargetNode[]): string[] {
  return nodes.filter((n) => nodeMatches(n, filter)).map((n) => n.name);
}

/**
 * Warnings for phases the catalog gives no node right now: metronome would
 * skip such a phase when it is skippable; otherwise its queue waits 120 s for
 * a node to start it (scheduler/run.go), then ends it timeout and stops the event.
 */
export function unreachedPhases(plan: PatternPlan, nodes: readonly TargetNode[]): PlanDiagnostic[] {
  const found: PlanDiagnostic[] = [];
  for (const event of plan.events) {
    for (const phase of eventPhases(event)) {
      if (phaseTargets(phase, nodes).length) continue;
      const filter = [phase.service && `service "${phase.service}"`, phase.tag && `tag "${phase.tag}"`].filter(Boolean).join(' and ');
      found.push({
        severity: phase.skippable ? 'info' : 'warning',
        code: 'phase-no-node',
        range: phase.serviceRange ?? phase.range,
        message: phase.skippable
          ? `No node in the catalog has ${filter || 'any service'} right now: this phase of "${event.name}" would be skipped.`
          : `No node in the catalog has ${filter || 'any service'} right now: metronome would hold every later phase of "${event.name}" for 120 s, then end this one timeout and stop the event.`,
      });
    }
  }
  return found;
}
