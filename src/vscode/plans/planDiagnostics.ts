/**
 * Problems panel entries for task.yml files: the parser's findings, the
 * cross-pattern ones, and phases that reach no node of the live catalog.
 */
import * as vscode from 'vscode';
import type { CatalogSnapshot } from '../../core/consul/catalog';
import type { PlanDiagnostic, Range } from '../../core/plans/model';
import { crossPatternDiagnostics } from '../../core/plans/merge';
import { unreachedPhases } from '../../core/plans/targeting';
import type { PlanWorkspace } from './planWorkspace';

export const DIAGNOSTIC_SOURCE = 'task.yml';

export function toRange(r: Range): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

function severity(s: PlanDiagnostic['severity']): vscode.DiagnosticSeverity {
  return s === 'error' ? vscode.DiagnosticSeverity.Error : s === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information;
}

/** Keeps the plan's own finding, for quick fixes. */
export class TaskYmlDiagnostic extends vscode.Diagnostic {
  constructor(readonly plan: PlanDiagnostic) {
    super(toRange(plan.range), plan.message, severity(plan.severity));
    this.source = DIAGNOSTIC_SOURCE;
    this.code = plan.code;
  }
}

export function toDiagnostic(d: PlanDiagnostic): TaskYmlDiagnostic {
  return new TaskYmlDiagnostic(d);
}

export class PlanDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('chefConsul.taskYml');
  private catalog: CatalogSnapshot | undefined;

  constructor(private readonly workspace: PlanWorkspace) {}

  setCatalog(catalog: CatalogSnapshot | undefined): void {
    this.catalog = catalog;
    this.update();
  }

  update(): void {
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const file of this.workspace.all()) byFile.set(file.uri.toString(), file.diagnostics.map(toDiagnostic));
    for (const fd of crossPatternDiagnostics(this.workspace.plans())) {
      const key = vscode.Uri.file(fd.filePath).toString();
      byFile.get(key)?.push(toDiagnostic(fd.diagnostic));
    }
    if (this.catalog) {
      for (const file of this.workspace.all()) {
        if (file.plan) byFile.get(file.uri.toString())?.push(...unreachedPhases(file.plan, this.catalog.nodes).map(toDiagnostic));
      }
    }
    this.collection.clear();
    for (const [key, list] of byFile) this.collection.set(vscode.Uri.parse(key), list);
  }

  dispose(): void {
    this.collection.dispose();
  }
}
