/**
 * The KV commands that carry keys across the active profile's edge: export
 * to a JSON file or a folder of files, import from one (planned, reviewed,
 * then applied by CAS), and compare a prefix with another profile,
 * datacenter or prefix.
 */
import * as fs from 'node:fs/promises';
import * as vscode from 'vscode';
import { compareSubtrees, CompareResult } from '../../core/kv/compare';
import {
  applyImport,
  exportItems,
  exportToFolder,
  ImportPlan,
  ImportResult,
  KvItem,
  parseExportJson,
  planImport,
  readFolder,
  retarget,
  toExportJson,
} from '../../core/kv/transfer';
import { CommandInputError } from '../commands/register';
import { requireTrust } from '../trust';
import { activeConnection, Args, asNode, mayWrite, parseFormat, str } from './kvCommandSupport';
import type { KvConnections } from './kvConnections';
import type { KvDocuments } from './kvDocuments';
import { KvTarget, kvUri } from './kvUri';

export class KvTransferCommands {
  constructor(
    private readonly kv: KvConnections,
    private readonly docs: KvDocuments,
  ) {}

  async export(a: Args | undefined): Promise<{ keys: number; path: string; flagsDropped?: number } | undefined> {
    const node = asNode(a);
    const interactive = !a || !!node;
    let prefix = node?.kind === 'folder' ? node.key : node ? node.key : '';
    let format: 'json' | 'folder' = 'json';
    let out: string | undefined;
    if (!interactive) {
      prefix = str(a!, 'prefix', false) ?? '';
      format = parseFormat(a!.format);
      out = str(a!, 'path');
    } else {
      const f = await vscode.window.showQuickPick(
        [
          { label: vscode.l10n.t('JSON file (consul kv export format)'), format: 'json' as const },
          { label: vscode.l10n.t('Folder of files (one file per key)'), format: 'folder' as const },
        ],
        { title: vscode.l10n.t('Export "{0}" as', prefix || '/') },
      );
      if (!f) return undefined;
      format = f.format;
      const uri =
        format === 'json'
          ? await vscode.window.showSaveDialog({ filters: { JSON: ['json'] }, saveLabel: vscode.l10n.t('Export') })
          : (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Export Here') }))?.[0];
      if (!uri) return undefined;
      out = uri.fsPath;
    }
    const { connection } = await activeConnection(this.kv);
    // A key chosen in the tree is that key (and what is under it as a folder), not every key its name begins (app/db → app/db-password).
    const all = await exportItems(connection, prefix);
    const items = node?.kind === 'key' ? all.filter((i) => i.key === prefix || i.key.startsWith(`${prefix}/`)) : all;
    if (!items.length) throw new CommandInputError(vscode.l10n.t('"{0}" holds no key: nothing to export.', prefix || '/'));
    if (format === 'json') {
      await fs.writeFile(out!, toExportJson(items));
      return { keys: items.length, path: out! };
    }
    const r = await exportToFolder(items, prefix, out!);
    if (r.flagsDropped.length && interactive) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} key(s) have flags, which a folder of files cannot keep (first: {1}). Export as JSON to keep them.', r.flagsDropped.length, r.flagsDropped[0]));
    }
    return { keys: r.files, path: out!, flagsDropped: r.flagsDropped.length };
  }

  async import(a: Args | undefined): Promise<(ImportResult & { skippedHidden: string[]; applied: boolean }) | undefined> {
    // Before any picking and planning: in Restricted Mode nothing of it could be applied.
    requireTrust(vscode.l10n.t('Import'));
    const node = asNode(a);
    const interactive = !a || !!node;
    let file: string | undefined;
    let format: 'json' | 'folder' = 'json';
    let fromPrefix = '';
    let toPrefix = node?.kind === 'folder' ? node.key : '';
    if (!interactive) {
      file = str(a!, 'path');
      format = parseFormat(a!.format);
      fromPrefix = str(a!, 'fromPrefix', false) ?? '';
      toPrefix = str(a!, 'prefix', false) ?? '';
    } else {
      const uri = (await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, openLabel: vscode.l10n.t('Import'), title: vscode.l10n.t('A consul kv export JSON file, or a folder of files') }))?.[0];
      if (!uri) return undefined;
      file = uri.fsPath;
      format = (await fs.stat(file)).isDirectory() ? 'folder' : 'json';
      const typed = await vscode.window.showInputBox({ title: vscode.l10n.t('Import into prefix'), prompt: format === 'json' ? vscode.l10n.t('Empty: the keys as they are in the file') : vscode.l10n.t('The folder\'s files become keys under this prefix'), value: toPrefix });
      if (typed === undefined) return undefined;
      toPrefix = typed;
    }
    let items: KvItem[];
    let skippedHidden: string[] = [];
    try {
      if (format === 'folder') {
        const read = await readFolder(file!, toPrefix);
        skippedHidden = read.skipped ?? [];
        items = read;
      } else items = parseExportJson(await fs.readFile(file!, 'utf8'));
      if (format === 'json' && (fromPrefix || toPrefix)) items = retarget(items, fromPrefix, toPrefix);
    } catch (e) {
      throw new CommandInputError((e as Error).message);
    }
    if (!items.length) throw new CommandInputError(vscode.l10n.t('"{0}" holds no key to import.', file!));
    const { connection } = await activeConnection(this.kv);
    const plan = await planImport(connection, items);
    const writes = plan.create.length + plan.change.length;
    const summary = { created: plan.create.length, changed: plan.change.length, unchanged: plan.unchanged.length, conflicts: [] as string[], skippedHidden };
    if (!interactive && a!.dryRun === true) return { ...summary, applied: false };
    if (interactive && !(await this.reviewImport(plan))) return { ...summary, applied: false };
    if (!writes) return { ...summary, applied: false };
    if (!(await mayWrite(this.kv, vscode.l10n.t('Import'), vscode.l10n.t('the import'), writes, a))) return { ...summary, applied: false };
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Importing {0} keys', writes) }, (progress) =>
      applyImport(connection, plan, (done, total) => progress.report({ message: `${done}/${total}` })),
    );
    if (result.conflicts.length && interactive) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} key(s) changed in Consul since the plan and were left as they are: {1}', result.conflicts.length, result.conflicts.slice(0, 5).join(', ')));
    }
    return { ...result, skippedHidden, applied: true };
  }

  /** Shows what the import will create, change (each opens a diff) and leave alone; true to apply. */
  private async reviewImport(plan: ImportPlan): Promise<boolean> {
    type Item = vscode.QuickPickItem & { action?: 'apply' | 'diff'; index?: number };
    const apply: Item = {
      label: `$(check) ${vscode.l10n.t('Apply: create {0}, change {1}, leave {2} alone', plan.create.length, plan.change.length, plan.unchanged.length)}`,
      action: 'apply',
    };
    const items: Item[] = [
      apply,
      { label: vscode.l10n.t('Changed'), kind: vscode.QuickPickItemKind.Separator },
      ...plan.change.map((c, index): Item => ({ label: `$(diff) ${c.item.key}`, description: vscode.l10n.t('changed — pick to see the diff'), action: 'diff', index })),
      { label: vscode.l10n.t('Created'), kind: vscode.QuickPickItemKind.Separator },
      ...plan.create.map((c): Item => ({ label: `$(add) ${c.key}`, description: vscode.l10n.t('new') })),
      { label: vscode.l10n.t('Unchanged'), kind: vscode.QuickPickItemKind.Separator },
      ...plan.unchanged.slice(0, 500).map((c): Item => ({ label: `$(circle-slash) ${c.key}`, description: vscode.l10n.t('same value') })),
    ];
    for (;;) {
      const pick = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Import: review'), placeHolder: vscode.l10n.t('Pick a changed key for its diff, or Apply') });
      if (!pick) return false;
      if (pick.action === 'apply') return true;
      if (pick.action === 'diff' && pick.index !== undefined) {
        const c = plan.change[pick.index];
        const left = this.docs.snapshot(`${c.item.key}`, 'cluster', c.current.value);
        const right = this.docs.snapshot(`${c.item.key}`, 'import', c.item.value);
        await vscode.commands.executeCommand('vscode.diff', left, right, vscode.l10n.t('{0}: Consul ↔ Import', c.item.key));
      }
    }
  }

  async compare(a: Args | undefined): Promise<CompareResult | undefined> {
    const node = asNode(a);
    const interactive = !a || !!node;
    const active = this.kv.activeTarget();
    let left: KvTarget = active;
    let right: KvTarget;
    let prefix = node?.kind === 'folder' ? node.key : '';
    let otherPrefix: string;
    if (!interactive) {
      prefix = str(a!, 'prefix', false) ?? '';
      otherPrefix = str(a!, 'otherPrefix', false) ?? prefix;
      if (a!.profile !== undefined) left = { profile: str(a!, 'profile')!, datacenter: str(a!, 'datacenter', false) };
      right = { profile: str(a!, 'otherProfile', false) ?? left.profile, datacenter: str(a!, 'otherDatacenter', false) };
      if (right.profile === left.profile && right.datacenter === left.datacenter && otherPrefix === prefix) {
        throw new CommandInputError(vscode.l10n.t('Both sides are the same: give "otherProfile", "otherDatacenter" or "otherPrefix".'));
      }
    } else {
      if (!node) {
        const p = await vscode.window.showInputBox({ title: vscode.l10n.t('Compare: prefix'), prompt: vscode.l10n.t('e.g. config/app/'), value: prefix });
        if (p === undefined) return undefined;
        prefix = p;
      }
      const profiles = this.kv.manager.profiles();
      const pick = await vscode.window.showQuickPick(
        profiles.map((p) => ({ label: p.name, description: [p.address, p.datacenter, p.production ? vscode.l10n.t('production') : ''].filter(Boolean).join(' · ') })),
        { title: vscode.l10n.t('Compare "{0}" of {1} with the profile…', prefix || '/', active.profile) },
      );
      if (!pick) return undefined;
      const dc = await vscode.window.showInputBox({ title: vscode.l10n.t('Datacenter of {0}', pick.label), prompt: vscode.l10n.t('Empty: the profile\'s own') });
      if (dc === undefined) return undefined;
      const op = await vscode.window.showInputBox({ title: vscode.l10n.t('Prefix on {0}', pick.label), value: prefix });
      if (op === undefined) return undefined;
      right = { profile: pick.label, ...(dc ? { datacenter: dc } : {}) };
      otherPrefix = op;
    }
    const [lc, rc] = await Promise.all([this.kv.connection(left), this.kv.connection(right)]);
    const result = await compareSubtrees({ connection: lc, prefix }, { connection: rc, prefix: otherPrefix });
    if (!interactive) return result;
    const side = (t: KvTarget) => (t.datacenter ? `${t.profile}@${t.datacenter}` : t.profile);
    const statusText: Record<string, string> = {
      onlyLeft: vscode.l10n.t('only in {0}', side(left)),
      onlyRight: vscode.l10n.t('only in {0}', side(right)),
      differs: vscode.l10n.t('values differ'),
      flags: vscode.l10n.t('flags differ'),
    };
    for (;;) {
      const chosen = await vscode.window.showQuickPick(
        result.differences.map((d) => ({ label: d.relative, description: statusText[d.status], d })),
        {
          title: vscode.l10n.t('{0} ↔ {1}: {2} difference(s), {3} the same', `${side(left)}:${result.left.prefix || '/'}`, `${side(right)}:${result.right.prefix || '/'}`, result.differences.length, result.same),
        },
      );
      if (!chosen) return result;
      const l = kvUri(left, chosen.d.leftKey);
      const r = kvUri(right, chosen.d.rightKey);
      if (chosen.d.status === 'onlyLeft') await vscode.window.showTextDocument(l, { preview: true });
      else if (chosen.d.status === 'onlyRight') await vscode.window.showTextDocument(r, { preview: true });
      else await vscode.commands.executeCommand('vscode.diff', l, r, `${chosen.d.relative}: ${side(left)} ↔ ${side(right)}`);
    }
  }
}
