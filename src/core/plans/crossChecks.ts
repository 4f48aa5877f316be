import { closest, type Diagnostics } from './diagnostics';
import type { PatternPlan, PlanDiagnosticData, Range } from './model';
import { findVariableCycles } from './template';

export function checkReferences(d: Diagnostics, plan: PatternPlan): void {
  const names = plan.tasks.map((t) => t.name);
  const used = new Set<string>();
  for (const ev of plan.events) {
    const refs: { task: string; range?: Range }[] = [];
    if (ev.task) refs.push({ task: ev.task, range: ev.taskRange });
    for (const p of ev.orderedTasks ?? []) if (p.task) refs.push({ task: p.task, range: p.taskRange });
    for (const ref of refs) {
      used.add(ref.task);
      if (names.includes(ref.task)) continue;
      const suggestion = closest(ref.task, names);
      const data: PlanDiagnosticData = { task: ref.task, event: ev.name };
      if (suggestion) data.suggestion = suggestion;
      d.list.push({
        severity: 'error',
        code: 'task-undefined',
        message: `Event '${ev.name}' runs task '${ref.task}', which is not defined under \`tasks\` of pattern '${plan.name}'.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
        range: ref.range ?? ev.keyRange,
        data,
      });
    }
  }
  for (const t of plan.tasks) {
    if (used.has(t.name)) continue;
    d.list.push({ severity: 'info', code: 'task-unused', message: `Task '${t.name}' is not run by any event of pattern '${plan.name}'.`, range: t.keyRange, data: { task: t.name } });
  }
}

export function checkVariableCycles(d: Diagnostics, plan: PatternPlan): void {
  const vars: Record<string, string> = {};
  for (const v of plan.variables) vars[v.name] = v.value;
  for (const cycle of findVariableCycles(vars)) {
    const first = plan.variables.find((v) => v.name === cycle[0]);
    if (!first) continue;
    const what =
      cycle.length === 1
        ? `Variable '${cycle[0]}' contains itself, so expanding it never finishes`
        : `Variables ${[...cycle, cycle[0]].join(' → ')} refer to each other, so expanding them never finishes`;
    d.list.push({
      severity: 'error',
      code: 'variable-cycle',
      message: `${what}; metronome hangs on any text that uses ${cycle.length === 1 ? 'it' : 'them'}.`,
      range: first.keyRange,
      data: { cycle },
    });
  }
}
