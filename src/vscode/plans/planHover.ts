/** Hover on a task or an operation: its fields with the templates expanded as metronome would. */
import * as vscode from 'vscode';
import type { Operation, PatternPlan, Range } from '../../core/plans/model';
import { expandOperation, planVariables } from '../../core/plans/template';
import type { PlanWorkspace } from './planWorkspace';
import { toRange } from './planDiagnostics';

function contains(range: Range, pos: vscode.Position): boolean {
  return toRange(range).contains(pos);
}

function describeOperation(md: vscode.MarkdownString, plan: PatternPlan, op: Operation): void {
  const fields = expandOperation(op, planVariables(plan));
  md.appendMarkdown('**').appendText(op.type).appendMarkdown('**\n\n');
  for (const f of fields) {
    md.appendText(`${f.field}: `);
    md.appendCodeblock(f.expanded, 'text');
    if (f.cycle) md.appendText(vscode.l10n.t('⚠ The variables reference each other in a cycle.')).appendMarkdown('\n\n');
    if (f.unresolved.length) md.appendText(vscode.l10n.t('Left as written (unknown here): {0}', f.unresolved.join(', '))).appendMarkdown('\n\n');
  }
}

export class PlanHoverProvider implements vscode.HoverProvider {
  constructor(private readonly workspace: PlanWorkspace) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const plan = this.workspace.get(document.uri)?.plan;
    if (!plan) return undefined;
    for (const task of plan.tasks) {
      const op = task.operations.find((o) => contains(o.valueRange, position) || contains(o.keyRange, position));
      if (op) {
        const md = new vscode.MarkdownString();
        describeOperation(md, plan, op);
        return new vscode.Hover(md, toRange(op.keyRange));
      }
      if (contains(task.keyRange, position)) {
        const md = new vscode.MarkdownString();
        md.appendMarkdown('**').appendText(vscode.l10n.t('Task {0}', task.name)).appendMarkdown('**');
        md.appendText(` — ${vscode.l10n.t('timeout {0} s', task.effectiveTimeout)}`).appendMarkdown('\n\n');
        if (task.description) md.appendText(task.description).appendMarkdown('\n\n');
        for (const o of task.operations) describeOperation(md, plan, o);
        return new vscode.Hover(md, toRange(task.keyRange));
      }
    }
    return undefined;
  }
}
