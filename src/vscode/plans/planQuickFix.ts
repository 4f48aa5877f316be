/** Quick fixes where the fix is obvious: create a missing task, take a suggested spelling. */
import * as vscode from 'vscode';
import { TaskYmlDiagnostic } from './planDiagnostics';
import type { PlanWorkspace } from './planWorkspace';

export class PlanQuickFixProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly workspace: PlanWorkspace) {}

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of context.diagnostics) {
      if (!(diagnostic instanceof TaskYmlDiagnostic)) continue;
      const { code, data } = diagnostic.plan;
      if (code === 'task-undefined' && data?.task) {
        const create = this.createTask(document, data.task);
        if (create) {
          create.diagnostics = [diagnostic];
          actions.push(create);
        }
      }
      if (data?.suggestion && ['task-undefined', 'key-unknown', 'operation-unknown', 'operation-key-unknown'].includes(code)) {
        const rename = new vscode.CodeAction(vscode.l10n.t('Change to "{0}"', data.suggestion), vscode.CodeActionKind.QuickFix);
        rename.edit = new vscode.WorkspaceEdit();
        rename.edit.replace(document.uri, diagnostic.range, data.suggestion);
        rename.diagnostics = [diagnostic];
        rename.isPreferred = code !== 'task-undefined';
        actions.push(rename);
      }
    }
    return actions;
  }

  private createTask(document: vscode.TextDocument, name: string): vscode.CodeAction | undefined {
    const plan = this.workspace.get(document.uri)?.plan;
    const action = new vscode.CodeAction(vscode.l10n.t('Create task "{0}"', name), vscode.CodeActionKind.QuickFix);
    action.edit = new vscode.WorkspaceEdit();
    const last = plan?.tasks[plan.tasks.length - 1];
    if (last) {
      const indent = ' '.repeat(last.keyRange.start.character);
      const line = last.valueRange.end.line + (last.valueRange.end.character > 0 ? 1 : 0);
      const skeleton = [`${indent}${name}:`, `${indent}  description: TODO`, `${indent}  operations:`, `${indent}    - echo: "${name}"`, ''].join('\n');
      if (line < document.lineCount) action.edit.insert(document.uri, new vscode.Position(line, 0), skeleton);
      // The last task ends the file without a final newline.
      else action.edit.insert(document.uri, document.lineAt(document.lineCount - 1).range.end, `\n${skeleton}`);
    } else {
      const end = document.lineAt(document.lineCount - 1).range.end;
      const lead = document.getText().endsWith('\n') || document.getText() === '' ? '' : '\n';
      action.edit.insert(document.uri, end, `${lead}tasks:\n  ${name}:\n    description: TODO\n    operations:\n      - echo: "${name}"\n`);
    }
    action.isPreferred = true;
    return action;
  }
}
