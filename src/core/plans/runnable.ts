/**
 * Whether a merged event may run: metronome refuses a task.yml with errors,
 * so neither engine runs an event any of whose patterns has one.
 */
import type { MergedEvent } from './merge';
import { crossPatternDiagnostics } from './merge';
import type { FileDiagnostic, PatternPlan, PlanDiagnostic } from './model';
import { unsupportedOperationKeys } from '../runs/unsupportedOperations';

export interface PlanFileFindings {
  filePath: string;
  plan: PatternPlan | undefined;
  diagnostics: readonly PlanDiagnostic[];
}

/** Every error in the task.yml files that take part in the event, file by file, in line order. */
export function blockingErrors(event: MergedEvent, files: readonly PlanFileFindings[]): FileDiagnostic[] {
  const involved = new Set(event.parts.map((p) => p.pattern.filePath));
  const errors: FileDiagnostic[] = [];
  for (const f of files) {
    if (!involved.has(f.filePath)) continue;
    for (const d of f.diagnostics) if (d.severity === 'error') errors.push({ filePath: f.filePath, diagnostic: d });
  }
  const plans = files.map((f) => f.plan).filter((p): p is PatternPlan => !!p);
  for (const fd of crossPatternDiagnostics(plans)) {
    if (involved.has(fd.filePath) && fd.diagnostic.severity === 'error') errors.push(fd);
  }
  return errors.sort((a, b) => a.filePath.localeCompare(b.filePath) || a.diagnostic.range.start.line - b.diagnostic.range.start.line);
}

/**
 * Operation keys the exec engine would have to drop (chef attributes and
 * configurations): that engine refuses the event rather than run a different
 * chef run than metronome would.
 */
export function execEngineGaps(event: MergedEvent): FileDiagnostic[] {
  const found: FileDiagnostic[] = [];
  for (const part of event.parts) {
    const tasks = new Set(part.phases.map((p) => p.taskDef).filter((t) => !!t));
    for (const task of tasks) {
      for (const gap of unsupportedOperationKeys(task.operations)) {
        found.push({
          filePath: part.pattern.filePath,
          diagnostic: { severity: 'error', code: 'operation-key-unsupported', message: `Task '${task.name}': ${gap.message}`, range: gap.range, data: { key: gap.key } },
        });
      }
    }
  }
  return found;
}

/** One line per error, as `file:line:column message`, at most `max` of them. */
export function describeErrors(errors: readonly FileDiagnostic[], max = 10): string {
  const lines = errors.slice(0, max).map((e) => `${e.filePath}:${e.diagnostic.range.start.line + 1}:${e.diagnostic.range.start.character + 1} ${e.diagnostic.message}`);
  if (errors.length > max) lines.push(`… and ${errors.length - max} more`);
  return lines.join('\n');
}
