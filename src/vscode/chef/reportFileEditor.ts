/**
 * Chef report files (data collector messages, json_file handler reports) in a
 * read-only custom editor. The file is read as JSON into the one ChefReport
 * model (src/core/chef/reportFiles.ts), shelved beside the runs' reports, and
 * shown as the Chef Report view's own tree (ChefReportView.childrenOf): the
 * editor renders those same items, and "Show in Chef Report View" shows the
 * report in the view itself. Nothing in the file is executed; all of it is escaped.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ChefReportShelf } from '../../core/chef/reportShelf';
import type { ChefReportRef } from '../../core/chef/runReports';
import type { ReportFile } from '../../core/chef/reportFiles';
import { MAX_REPORT_FILE_BYTES, parseReportFile, ReportFileError } from '../../core/chef/reportFiles';
import { chefSummary } from '../../core/chef/report';
import { CommandInputError, registerItemCommand } from '../commands/register';
import { ChefReportView } from './chefReportView';

export const REPORT_FILE_VIEW_TYPE = 'chefConsul.chefReportFile';
/** The same editor, offered ("Reopen Editor With…") for any JSON file. */
export const REPORT_FILE_OPTION_VIEW_TYPE = 'chefConsul.chefReportFileOption';

/** Items rendered per editor: a report with more resources shows the rest in the view. */
const MAX_ITEMS = 5000;
const MAX_DEPTH = 8;

export class ReportFileDocument implements vscode.CustomDocument {
  file: ReportFile | undefined;
  error: string | undefined;
  ref: ChefReportRef | undefined;
  /** The file's modification time and size when it was last read. */
  stamp: string | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  /** The file changed on disk and was read again (a data collector file grows during a run). */
  readonly onDidChange = this.changed.event;

  constructor(
    readonly uri: vscode.Uri,
    private readonly onDispose: () => void,
  ) {}

  set(file: ReportFile | undefined, error: string | undefined, ref: ChefReportRef | undefined): void {
    this.file = file;
    this.error = error;
    this.ref = ref;
    this.changed.fire();
  }

  dispose(): void {
    this.onDispose();
    this.changed.dispose();
  }
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const GLYPHS: Record<string, string> = {
  error: '✖',
  'pass-filled': '✔',
  'circle-large-outline': '○',
  'circle-outline': '·',
  'debug-step-over': '↷',
  'sync~spin': '↻',
  question: '?',
  book: '▤',
  diff: '±',
  'list-flat': '≡',
  'list-ordered': '≡',
  'arrow-small-right': '→',
  versions: '◇',
  pulse: '∿',
  watch: '◷',
  info: 'ⓘ',
  ellipsis: '…',
};

interface Rendered {
  html: string;
  /** Commands of the items, by the index the page posts back. */
  commands: vscode.Command[];
  items: number;
}

/** The Chef Report view's tree for `ref`, as HTML: the same items, labels, descriptions, icons and commands. */
export function renderReportTree(view: Pick<ChefReportView, 'childrenOf'>, ref: ChefReportRef): Rendered {
  const commands: vscode.Command[] = [];
  let count = 0;
  const walk = (parent: vscode.TreeItem | undefined, depth: number): string => {
    const items = view.childrenOf(ref, parent as never);
    let out = '';
    for (const item of items) {
      if (count >= MAX_ITEMS) {
        out += `<div class="item more">${esc(vscode.l10n.t('… more items: show the report in the Chef Report view'))}</div>`;
        break;
      }
      count++;
      const label = typeof item.label === 'string' ? item.label : item.label?.label ?? '';
      const description = typeof item.description === 'string' ? item.description : '';
      const icon = item.iconPath instanceof vscode.ThemeIcon ? item.iconPath : undefined;
      const color = icon?.color ? ` style="color: var(--vscode-${esc(icon.color.id.replace(/\./g, '-'))})"` : '';
      const glyph = `<span class="icon"${color} aria-hidden="true">${esc(GLYPHS[icon?.id ?? ''] ?? '•')}</span>`;
      let text = `<span class="label">${esc(label)}</span>${description ? ` <span class="description">${esc(description)}</span>` : ''}`;
      if (item.command?.command.startsWith('chefConsul.')) {
        commands.push(item.command);
        text = `<a href="#" class="command" data-command="${commands.length - 1}" title="${esc(item.command.title)}">${text}</a>`;
      }
      const kind = esc((item as { kind?: string }).kind ?? 'item');
      const state = item.collapsibleState ?? vscode.TreeItemCollapsibleState.None;
      if (state === vscode.TreeItemCollapsibleState.None || depth >= MAX_DEPTH) out += `<div class="item ${kind}">${glyph}${text}</div>`;
      else
        out += `<details class="${kind}"${state === vscode.TreeItemCollapsibleState.Expanded ? ' open' : ''}><summary class="item">${glyph}${text}</summary><div class="children">${walk(item, depth + 1)}</div></details>`;
    }
    return out;
  };
  const html = walk(undefined, 0);
  return { html, commands, items: count };
}

export class ChefReportFileEditor implements vscode.CustomReadonlyEditorProvider<ReportFileDocument>, vscode.Disposable {
  private readonly documents = new Map<string, ReportFileDocument>();
  private readonly rendered = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly shelf: ChefReportShelf,
    private readonly view: ChefReportView,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(): vscode.Disposable[] {
    const options = { webviewOptions: { retainContextWhenHidden: false }, supportsMultipleEditorsPerDocument: true };
    this.disposables.push(
      vscode.window.registerCustomEditorProvider(REPORT_FILE_VIEW_TYPE, this, options),
      vscode.window.registerCustomEditorProvider(REPORT_FILE_OPTION_VIEW_TYPE, this, options),
      registerItemCommand('chefConsul.openChefReportFile', (a) => this.openCommand(a), this.log),
    );
    return [this, ...this.disposables];
  }

  /** The report file's document while an editor has it open (for tests and commands). */
  documentOf(uri: vscode.Uri): ReportFileDocument | undefined {
    return this.documents.get(uri.toString());
  }

  /** The HTML the editor of `uri` shows now (for tests). */
  htmlOf(uri: vscode.Uri): string | undefined {
    return this.rendered.get(uri.toString());
  }

  async openCustomDocument(uri: vscode.Uri): Promise<ReportFileDocument> {
    const key = uri.toString();
    const subs: vscode.Disposable[] = [];
    const doc: ReportFileDocument = new ReportFileDocument(uri, () => {
      subs.forEach((d) => d.dispose());
      if (this.documents.get(key) === doc) {
        this.documents.delete(key);
        this.rendered.delete(key);
      }
      // The view may still show it: keep it shelved while it does.
      if (doc.ref && !(this.view.current && this.view.current.id === doc.ref.id)) this.shelf.remove(doc.ref);
    });
    await this.load(doc);
    if (uri.scheme === 'file') {
      // Chef appends to a data collector file as the run goes (run_start, then run_converge): follow it.
      const name = uri.path.split('/').pop() ?? '';
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(uri, '..'), name), false, false, true);
      let timer: NodeJS.Timeout | undefined;
      const reload = () => {
        clearTimeout(timer);
        timer = setTimeout(() => void this.load(doc), 300);
      };
      // The watcher starts in the workbench a moment after this: a change in between (the file read
      // above) would go unseen until the next one. Looked at again once it runs (seen in a test that
      // appends right after opening, on a loaded machine).
      const catchUp = setTimeout(() => {
        void vscode.workspace.fs.stat(uri).then(
          (stat) => {
            if (`${stat.mtime}:${stat.size}` !== doc.stamp) reload();
          },
          () => undefined,
        );
      }, 2_000);
      subs.push(watcher, watcher.onDidChange(reload), watcher.onDidCreate(reload), { dispose: () => (clearTimeout(timer), clearTimeout(catchUp)) });
    }
    this.documents.set(key, doc);
    return doc;
  }

  /** Reads the file (again) into its document and the shelf. */
  private async load(doc: ReportFileDocument): Promise<void> {
    const uri = doc.uri;
    const name = uri.path.split('/').pop() || uri.toString();
    let file: ReportFile | undefined;
    let error: string | undefined;
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      doc.stamp = `${stat.mtime}:${stat.size}`;
      if (stat.size > MAX_REPORT_FILE_BYTES)
        throw new ReportFileError(vscode.l10n.t('{0} is {1} MiB, larger than {2} MiB: too large to show as a Chef report. Open it with the text editor instead.', name, (stat.size / 1024 / 1024).toFixed(1), MAX_REPORT_FILE_BYTES / 1024 / 1024));
      const bytes = await vscode.workspace.fs.readFile(uri);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new ReportFileError(vscode.l10n.t('{0} is not UTF-8 text: a Chef report file is JSON.', name));
      }
      file = parseReportFile(text, name);
    } catch (e) {
      error = e instanceof ReportFileError ? e.message : vscode.l10n.t('Could not read {0}: {1}', name, e instanceof Error ? e.message : String(e));
      this.log.warn(`Chef report file ${uri.toString()}: ${error}`);
    }
    const ref = file ? { id: `file:${uri.toString()}`, phase: 0, node: file.node || name } : undefined;
    if (doc.ref && (!ref || ref.node !== doc.ref.node)) this.shelf.remove(doc.ref);
    if (file && ref) this.shelf.put(ref, file.report);
    doc.set(file, error, ref);
  }

  resolveCustomEditor(document: ReportFileDocument, panel: vscode.WebviewPanel): void {
    panel.webview.options = { enableScripts: true, localResourceRoots: [] };
    const render = () => {
      const { html, commands } = this.page(panel.webview, document);
      this.rendered.set(document.uri.toString(), html);
      panel.webview.html = html;
      return commands;
    };
    let commands = render();
    const subs: vscode.Disposable[] = [
      panel.webview.onDidReceiveMessage(async (m: { type?: unknown; index?: unknown }) => {
        try {
          if (m?.type === 'command' && typeof m.index === 'number') {
            const c = commands[m.index];
            if (c) await vscode.commands.executeCommand(c.command, ...(c.arguments ?? []));
          } else if (m?.type === 'showInView' && document.ref) {
            this.view.show(document.ref);
            await vscode.commands.executeCommand(`${ChefReportView.id}.focus`);
          } else if (m?.type === 'openAsText') {
            await vscode.commands.executeCommand('vscode.openWith', document.uri, 'default');
          }
        } catch (e) {
          this.log.warn(`Chef report file: ${e instanceof Error ? e.message : String(e)}`);
        }
      }),
      vscode.window.onDidChangeActiveColorTheme(() => (commands = render())),
      document.onDidChange(() => (commands = render())),
    ];
    panel.onDidDispose(() => subs.forEach((s) => s.dispose()));
  }

  private page(webview: vscode.Webview, document: ReportFileDocument): { html: string; commands: vscode.Command[] } {
    const nonce = randomBytes(18).toString('base64');
    const csp = ["default-src 'none'", `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join('; ');
    const name = document.uri.path.split('/').pop() ?? '';
    let body: string;
    let commands: vscode.Command[] = [];
    const textButton = `<button type="button" data-action="openAsText">${esc(vscode.l10n.t('Open as Text'))}</button>`;
    if (!document.file || !document.ref) {
      body = `<div class="error" role="alert"><h1>${esc(vscode.l10n.t('Not a Chef report'))}</h1><p>${esc(document.error ?? vscode.l10n.t('The file could not be read.'))}</p>
<p>${esc(vscode.l10n.t('Chef report files are the data collector\'s messages (run_start / run_converge, as data_collector.output_locations files writes them) and the json_file handler\'s chef-run-report-*.json.'))}</p>${textButton}</div>`;
    } else {
      const f = document.file;
      const tree = renderReportTree(this.view, document.ref);
      commands = tree.commands;
      const facts = [
        f.kind === 'data-collector' ? vscode.l10n.t('data collector messages') : vscode.l10n.t('json_file handler report'),
        f.runId ? vscode.l10n.t('run {0}', f.runId) : '',
        f.report.startedAt !== undefined ? new Date(f.report.startedAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '',
        f.runs > 1 ? vscode.l10n.t('the last of {0} runs in the file', f.runs) : '',
      ].filter(Boolean);
      const warnings = f.warnings.length ? `<ul class="warnings">${f.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
      body = `<header><h1><span class="status ${esc(f.report.status)}">${esc(f.report.status)}</span> ${esc(document.ref.node)}</h1>
<p class="facts">${facts.map(esc).join(' · ')} — ${esc(chefSummary(f.report).text)}</p>
<div class="actions"><button type="button" data-action="showInView">${esc(vscode.l10n.t('Show in Chef Report View'))}</button>${textButton}</div>${warnings}</header>
<main class="tree" aria-label="${esc(vscode.l10n.t('Chef report of {0}', document.ref.node))}">${tree.html}</main>`;
    }
    const html = `<!DOCTYPE html>
<html lang="${esc(vscode.env.language)}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(name)}</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 16px 16px; }
h1 { font-size: 1.3em; font-weight: 600; }
.facts { color: var(--vscode-descriptionForeground); }
.status { text-transform: uppercase; font-size: 0.75em; padding: 1px 6px; border-radius: 3px; border: 1px solid currentColor; vertical-align: middle; }
.status.failure { color: var(--vscode-testing-iconFailed); }
.status.success { color: var(--vscode-testing-iconPassed); }
.actions { display: flex; gap: 8px; margin: 8px 0 12px; }
button { font: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 10px; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
.tree { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.item { padding: 1px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
summary.item { cursor: pointer; }
.children { padding-left: 18px; }
div.item { padding-left: 14px; }
.icon { display: inline-block; width: 1.4em; text-align: center; }
.description { color: var(--vscode-descriptionForeground); }
a.command { color: var(--vscode-textLink-foreground); text-decoration: none; }
a.command:hover { text-decoration: underline; }
.error { border-left: 3px solid var(--vscode-errorForeground); padding: 4px 12px; }
.error h1 { color: var(--vscode-errorForeground); }
.warnings { color: var(--vscode-editorWarning-foreground); }
</style>
</head>
<body>
${body}
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
document.addEventListener('click', (e) => {
  const a = e.target.closest('[data-command]');
  if (a) { e.preventDefault(); vscode.postMessage({ type: 'command', index: Number(a.dataset.command) }); return; }
  const b = e.target.closest('[data-action]');
  if (b) vscode.postMessage({ type: b.dataset.action });
});
</script>
</body>
</html>`;
    return { html, commands };
  }

  /** `chefConsul.openChefReportFile` `{ uri }` (or an explorer Uri): opens the file in this editor and returns its report. */
  private async openCommand(a: unknown): Promise<{ uri: string; node?: string; kind: string; runId?: string; status: string; report: unknown } | undefined> {
    let uri: vscode.Uri | undefined;
    if (a instanceof vscode.Uri) uri = a;
    else if (a && typeof a === 'object' && 'uri' in a) {
      const raw = (a as { uri: unknown }).uri;
      if (raw instanceof vscode.Uri) uri = raw;
      else if (typeof raw === 'string' && raw) uri = /^[a-z][\w+.-]*:/i.test(raw) && !/^[a-z]:[\\/]/i.test(raw) ? vscode.Uri.parse(raw, true) : vscode.Uri.file(raw);
      else throw new CommandInputError(vscode.l10n.t('"uri" (the report file: a URI or a path) is required.'));
    } else if (a === undefined) {
      const active = vscode.window.activeTextEditor?.document.uri;
      if (active && active.path.endsWith('.json')) uri = active;
      else {
        const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('Chef report files')]: ['json'] }, openLabel: vscode.l10n.t('Open as Chef Report') });
        uri = picked?.[0];
        if (!uri) return undefined;
      }
    } else throw new CommandInputError(vscode.l10n.t('"uri" (the report file: a URI or a path) is required.'));
    await vscode.commands.executeCommand('vscode.openWith', uri, REPORT_FILE_VIEW_TYPE);
    const doc = this.documentOf(uri);
    if (!doc) throw new CommandInputError(vscode.l10n.t('{0} did not open as a Chef report.', uri.toString()));
    if (!doc.file) throw new CommandInputError(doc.error ?? vscode.l10n.t('{0} is not a Chef report.', uri.toString()));
    return { uri: uri.toString(), node: doc.file.node, kind: doc.file.kind, runId: doc.file.runId, status: doc.file.report.status, report: structuredClone(doc.file.report) };
  }

  dispose(): void {
    this.documents.clear();
    this.rendered.clear();
  }
}
