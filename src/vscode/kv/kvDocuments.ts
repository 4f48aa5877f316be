/**
 * Keys in editors: the language follows the content, values that are not
 * UTF-8 or that the token may not write open read-only with a note, and a
 * save refused by CAS opens VS Code's diff editor (the cluster's value against
 * the user's) with the choices overwrite, take theirs, or keep editing.
 */
import * as vscode from 'vscode';
import { detectLanguage } from '../../core/kv/language';
import { CommandInputError } from '../commands/register';
import type { KvConflict, KvFileSystemProvider } from './kvFileSystem';
import { KV_SCHEME, parseKvUri } from './kvUri';

export const KV_THEIRS_SCHEME = 'consul-kv-theirs';

export type ConflictChoice = 'overwrite' | 'theirs' | 'keep';

export class KvDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly theirs = new Map<string, string>();
  /** The last refused save per document, until resolved. */
  private readonly pending = new Map<string, KvConflict>();
  private readonly noted = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly conflictShown = new vscode.EventEmitter<{ uri: vscode.Uri; diff: vscode.Uri }>();
  /** Fires when a conflict's diff editor is open (tests wait on it). */
  readonly onDidShowConflict = this.conflictShown.event;

  constructor(private readonly fs: KvFileSystemProvider) {
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(KV_THEIRS_SCHEME, this),
      fs.onDidConflict((c) => void this.showConflict(c)),
      vscode.workspace.onDidOpenTextDocument((d) => void this.onOpen(d)),
      vscode.window.onDidChangeActiveTextEditor((e) => e && void this.guard(e)),
      this.conflictShown,
    );
    for (const d of vscode.workspace.textDocuments) void this.onOpen(d);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.theirs.get(uri.toString()) ?? '';
  }

  private async onOpen(doc: vscode.TextDocument): Promise<void> {
    if (doc.uri.scheme !== KV_SCHEME) return;
    if (doc.languageId === 'plaintext') {
      const lang = detectLanguage(parseKvUri(doc.uri).key, doc.getText());
      if (lang !== 'plaintext' && (await vscode.languages.getLanguages()).includes(lang)) {
        await vscode.languages.setTextDocumentLanguage(doc, lang);
      }
    }
    const editor = vscode.window.activeTextEditor;
    if (editor?.document.uri.toString() === doc.uri.toString()) await this.guard(editor);
  }

  /** Why this document may not be edited, if it may not. */
  async readOnlyReason(uri: vscode.Uri): Promise<string | undefined> {
    const base = this.fs.base(uri);
    if (!base) return undefined;
    const key = parseKvUri(uri).key;
    if (base.binary) {
      return vscode.l10n.t('"{0}" is not UTF-8 text: it is shown read-only so that saving cannot change its bytes.', key);
    }
    if (!(await this.fs.writable(uri))) {
      return vscode.l10n.t('The ACL token may read "{0}" but not write it (it lacks key:write on that prefix): the document is read-only.', key);
    }
    return undefined;
  }

  private async guard(editor: vscode.TextEditor): Promise<void> {
    const uri = editor.document.uri;
    if (uri.scheme !== KV_SCHEME) return;
    const reason = await this.readOnlyReason(uri);
    if (!reason || vscode.window.activeTextEditor !== editor) return;
    await vscode.commands.executeCommand('workbench.action.files.setActiveEditorReadonlyInSession');
    if (!this.noted.has(uri.toString())) {
      this.noted.add(uri.toString());
      void vscode.window.showInformationMessage(reason);
    }
  }

  private async showConflict(c: KvConflict): Promise<void> {
    const id = c.uri.toString();
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === id);
    if (!doc) return;
    this.pending.set(id, c);
    const overwrite = vscode.l10n.t('Overwrite');
    const theirs = vscode.l10n.t('Take Theirs');
    const keep = vscode.l10n.t('Keep Editing');
    if (!c.current) {
      const recreate = vscode.l10n.t('Recreate It');
      const choice = await vscode.window.showWarningMessage(
        vscode.l10n.t('"{0}" was deleted in Consul since you opened it. It was not recreated; your text is still in the editor.', c.key),
        recreate,
        keep,
      );
      if (choice === recreate) await this.resolve(c.uri, 'overwrite');
      return;
    }
    const diff = vscode.Uri.from({ scheme: KV_THEIRS_SCHEME, path: `/${c.key}`, query: `index=${c.current.modifyIndex}&for=${encodeURIComponent(id)}` });
    this.theirs.set(diff.toString(), c.current.value.toString('utf8'));
    await vscode.commands.executeCommand(
      'vscode.diff',
      diff,
      c.uri,
      vscode.l10n.t('{0}: Consul (ModifyIndex {1}) ↔ Yours', c.key, c.current.modifyIndex),
      { preview: false },
    );
    this.conflictShown.fire({ uri: c.uri, diff });
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('"{0}" changed in Consul since you opened it (ModifyIndex {1} → {2}). Nothing was overwritten: compare, then choose.', c.key, c.expectedIndex, c.current.modifyIndex),
      overwrite,
      theirs,
      keep,
    );
    if (choice === overwrite) await this.resolve(c.uri, 'overwrite');
    else if (choice === theirs) await this.resolve(c.uri, 'theirs');
  }

  /** A read-only document with these bytes as text (a side of an import diff). */
  snapshot(key: string, label: string, value: Buffer): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: KV_THEIRS_SCHEME, path: `/${key}`, query: `side=${encodeURIComponent(label)}&n=${++this.snapshots}` });
    this.theirs.set(uri.toString(), value.toString('utf8'));
    return uri;
  }

  private snapshots = 0;

  /** Settles the last refused save of a document (also `chefConsul.kv.resolveConflict`). Returns whether the document is now saved. */
  async resolve(uri: vscode.Uri, choice: ConflictChoice): Promise<boolean> {
    const c = this.pending.get(uri.toString());
    if (!c) throw new CommandInputError(vscode.l10n.t('No refused save is waiting for {0}.', uri.toString()));
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (choice === 'keep') return false;
    this.pending.delete(uri.toString());
    if (!doc) return false;
    if (choice === 'overwrite') {
      this.fs.rebase(uri, c.current);
      return doc.save();
    }
    this.fs.forget(uri);
    await vscode.window.showTextDocument(doc, { preview: false });
    await vscode.commands.executeCommand('workbench.action.files.revert');
    return !doc.isDirty;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
