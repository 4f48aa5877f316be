/**
 * The task.yml files of the workspace, parsed: from the editor's text when a
 * file is open (so diagnostics follow typing), else from disk. A pattern is
 * the folder holding a task.yml.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { PatternPlan, PlanDiagnostic } from '../../core/plans/model';
import { parsePlan } from '../../core/plans/parse';
import { mergeEvents, MergedEvent } from '../../core/plans/merge';
import { CONFIG_SECTION } from '../connectionManager';

export interface PlanFile {
  uri: vscode.Uri;
  plan: PatternPlan | undefined;
  diagnostics: PlanDiagnostic[];
}

export class PlanWorkspace implements vscode.Disposable {
  private readonly files = new Map<string, PlanFile>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private watcher: vscode.FileSystemWatcher | undefined;
  private scanning: Promise<void> | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.files.has(e.document.uri.toString())) this.schedule(() => this.parse(e.document.uri, e.document.getText()));
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CONFIG_SECTION}.taskFiles`)) void this.rescan();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.rescan()),
    );
  }

  private glob(): string {
    return vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('taskFiles') || '**/task.yml';
  }

  /** Finds and parses every task.yml; later changes arrive through the watcher. */
  ready(): Promise<void> {
    this.scanning ??= this.rescan();
    return this.scanning;
  }

  async rescan(): Promise<void> {
    this.watcher?.dispose();
    const glob = this.glob();
    this.watcher = vscode.workspace.createFileSystemWatcher(glob);
    this.watcher.onDidCreate((u) => void this.load(u));
    this.watcher.onDidChange((u) => {
      // An open document is the source of truth while it is open.
      if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === u.toString())) void this.load(u);
    });
    this.watcher.onDidDelete((u) => {
      this.files.delete(u.toString());
      this.changed.fire();
    });
    const uris = await vscode.workspace.findFiles(glob, '**/node_modules/**');
    this.files.clear();
    await Promise.all(uris.map((u) => this.load(u, false)));
    this.changed.fire();
  }

  private async load(uri: vscode.Uri, notify = true): Promise<void> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const text = open ? open.getText() : Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    this.parse(uri, text, notify);
  }

  private parse(uri: vscode.Uri, text: string, notify = true): void {
    const result = parsePlan(text, uri.fsPath, { fileExists: (p) => fs.existsSync(p) });
    this.files.set(uri.toString(), { uri, plan: result.plan, diagnostics: result.diagnostics });
    if (notify) this.changed.fire();
  }

  private schedule(fn: () => void): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(fn, 150);
  }

  all(): PlanFile[] {
    return [...this.files.values()].sort((a, b) => a.uri.fsPath.localeCompare(b.uri.fsPath));
  }

  get(uri: vscode.Uri): PlanFile | undefined {
    return this.files.get(uri.toString());
  }

  plans(): PatternPlan[] {
    return this.all()
      .map((f) => f.plan)
      .filter((p): p is PatternPlan => !!p);
  }

  /** Same-named events of all patterns, merged in run order. */
  mergedEvents(): Map<string, MergedEvent> {
    return mergeEvents(this.plans());
  }

  dispose(): void {
    clearTimeout(this.debounce);
    this.watcher?.dispose();
    this.changed.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
