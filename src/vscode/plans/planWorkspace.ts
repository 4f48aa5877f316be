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
  private readonly debounces = new Map<string, NodeJS.Timeout>();

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        const key = e.document.uri.toString();
        if (this.files.has(key)) this.schedule(key, () => this.parse(e.document.uri, e.document.getText()));
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
    // A failed scan is not cached: the next caller tries again.
    this.scanning ??= this.rescan().catch((e: unknown) => {
      this.scanning = undefined;
      throw e;
    });
    return this.scanning;
  }

  async rescan(): Promise<void> {
    this.watcher?.dispose();
    const glob = this.glob();
    this.watcher = vscode.workspace.createFileSystemWatcher(glob);
    this.watcher.onDidCreate((u) => {
      if (u.scheme === 'file') void this.load(u);
    });
    this.watcher.onDidChange((u) => {
      // An open document is the source of truth while it is open.
      if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === u.toString())) void this.load(u);
    });
    this.watcher.onDidDelete((u) => {
      this.files.delete(u.toString());
      this.changed.fire();
    });
    // Plans are read from disk (execute files, file checks): a virtual workspace's are not loaded.
    const uris = (await vscode.workspace.findFiles(glob, '**/node_modules/**')).filter((u) => u.scheme === 'file');
    this.files.clear();
    await Promise.all(uris.map((u) => this.load(u, false)));
    this.changed.fire();
  }

  /** Never rejects: a file deleted or unreadable meanwhile is dropped, the others stay. */
  private async load(uri: vscode.Uri, notify = true): Promise<void> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    let text: string;
    try {
      text = open ? open.getText() : Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    } catch {
      this.files.delete(uri.toString());
      if (notify) this.changed.fire();
      return;
    }
    this.parse(uri, text, notify);
  }

  private parse(uri: vscode.Uri, text: string, notify = true): void {
    const result = parsePlan(text, uri.fsPath, { fileExists: (p) => fs.existsSync(p) });
    this.files.set(uri.toString(), { uri, plan: result.plan, diagnostics: result.diagnostics });
    if (notify) this.changed.fire();
  }

  /** Per file: typing in one task.yml must not swallow a pending update of another. */
  private schedule(key: string, fn: () => void): void {
    clearTimeout(this.debounces.get(key));
    this.debounces.set(
      key,
      setTimeout(() => {
        this.debounces.delete(key);
        fn();
      }, 150),
    );
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
    for (const t of this.debounces.values()) clearTimeout(t);
    this.watcher?.dispose();
    this.changed.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
