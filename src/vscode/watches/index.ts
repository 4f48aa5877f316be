/**
 * Watches in VS Code: the manager that runs them, the Watches view, the
 * read-only documents of a firing's old and new value (for the diff editor)
 * and the commands.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Notifier } from '../../core/notify/notifier';
import { WindowLease } from '../../core/util/windowLease';
import { AgentConfigError, formatOfPath, importAgentWatches, ImportResult, parseAgentConfigText } from '../../core/watches/agentConfig';
import { CHECK_STATES, parseWatch, WATCH_TYPES, WatchDefinition, WatchDefinitionError, WatchType } from '../../core/watches/model';
import { CommandInputError, registerCommand, registerItemCommand } from '../commands/register';
import type { ConnectionManager } from '../connectionManager';
import { WatchManager, WatchSummary } from './watchManager';
import { WatchesView, WatchItem } from './watchesView';

export const WATCH_DIFF_SCHEME = 'chefconsul-watch';
/** The largest agent config file Import Agent Watches reads. */
export const MAX_IMPORT_BYTES = 1024 * 1024;

export interface WatchFeatures {
  manager: WatchManager;
  view: WatchesView;
  /** Which window of this machine runs the watches (undefined: no lease directory, this one). */
  lease?: WindowLease;
}

/** `chefconsul-watch:/<name>/before` and `/after`: the last firing's values as text. */
class WatchDiffDocuments implements vscode.TextDocumentContentProvider {
  constructor(private readonly manager: WatchManager) {}

  static uri(name: string, side: 'before' | 'after', at: number): vscode.Uri {
    return vscode.Uri.from({ scheme: WATCH_DIFF_SCHEME, path: `/${encodeURIComponent(name)}/${side}`, query: String(at) });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const [, name, side] = uri.path.split('/');
    const firing = this.manager.lastFiring(decodeURIComponent(name));
    if (!firing) return '';
    const keyType = firing.watch.type === 'key' || firing.watch.type === 'keyprefix';
    if (keyType) return (side === 'before' ? firing.summary.before : firing.summary.after) ?? '';
    if (firing.slim) return (side === 'before' ? firing.beforeText : firing.afterText) ?? '';
    return JSON.stringify(side === 'before' ? firing.before : firing.after, null, 2) + '\n';
  }
}

function nameOf(raw: unknown): string | undefined {
  if (raw instanceof WatchItem) return raw.entry.definition.name;
  const o = raw && typeof raw === 'object' ? (raw as { id?: unknown; name?: unknown }) : undefined;
  const v = o?.id ?? o?.name;
  return typeof v === 'string' ? v : undefined;
}

/** The first parameter a type asks for, for the interactive Add Watch. */
const PARAM_PROMPT: Partial<Record<WatchType, { field: string; prompt: string; optional?: boolean }>> = {
  key: { field: 'key', prompt: 'Key to watch, e.g. app/config' },
  keyprefix: { field: 'prefix', prompt: 'Prefix to watch, e.g. app/ (empty: every key)', optional: true },
  service: { field: 'service', prompt: 'Service to watch, e.g. web' },
  event: { field: 'eventName', prompt: 'User event name to watch (empty: every event)', optional: true },
};

export function registerWatches(
  connections: ConnectionManager,
  notifier: Notifier,
  log: vscode.LogOutputChannel,
  globalState?: vscode.Memento,
  /** Where the window lease lives (the extension's global storage): one window per machine runs the watches. */
  leaseDir?: string,
): { features: WatchFeatures; disposables: vscode.Disposable[] } {
  // Started by the manager with the first watch.
  const lease = leaseDir ? new WindowLease({ dir: leaseDir, name: 'watches' }) : undefined;
  const manager = new WatchManager(connections, notifier, log, globalState, lease);
  const view = new WatchesView(manager);
  const documents = new WatchDiffDocuments(manager);

  const requireWatch = (raw: unknown) => {
    const name = nameOf(raw);
    if (!name) throw new CommandInputError(vscode.l10n.t('Name the watch: pass {"name": "<watch name>"}.'));
    const stored = WatchManager.storedList();
    const index = stored.findIndex((w) => (w as { name?: unknown })?.name === name);
    if (index === -1) throw new CommandInputError(vscode.l10n.t('There is no watch named "{0}" in the user settings (chefConsul.watches).', name));
    return { name, stored, index };
  };

  const setPaused = async (raw: unknown, paused: boolean) => {
    const { name, stored, index } = requireWatch(raw);
    const next = [...stored];
    const w = { ...(next[index] as Record<string, unknown>) };
    if (paused) w.paused = true;
    else delete w.paused;
    next[index] = w;
    await WatchManager.store(next);
    manager.restart();
    return { name, paused };
  };

  const add = async (args: Partial<WatchDefinition> | undefined): Promise<WatchDefinition | undefined> => {
    let raw: Record<string, unknown>;
    if (args) {
      raw = { ...args };
      if (raw.actions === undefined) raw.actions = [{ type: 'notify' }];
      if (raw.name === undefined && typeof raw.type === 'string') raw.name = defaultName(raw);
    } else {
      const type = await vscode.window.showQuickPick(
        WATCH_TYPES.map((t) => ({ label: t, description: TYPE_HELP[t] })),
        { title: vscode.l10n.t('Add Watch'), placeHolder: vscode.l10n.t('What to watch (as consul watch -type)') },
      );
      if (!type) return undefined;
      raw = { type: type.label };
      const param = PARAM_PROMPT[type.label as WatchType];
      if (param) {
        const value = await vscode.window.showInputBox({ title: vscode.l10n.t('Add Watch'), prompt: vscode.l10n.t(param.prompt), ignoreFocusOut: true, validateInput: (v) => (!param.optional && !v.trim() ? vscode.l10n.t('Required') : undefined) });
        if (value === undefined) return undefined;
        if (value.trim() || !param.optional) raw[param.field] = value.trim();
      }
      if (type.label === 'checks') {
        const state = await vscode.window.showQuickPick([...CHECK_STATES], { title: vscode.l10n.t('Add Watch'), placeHolder: vscode.l10n.t('Check state to watch') });
        if (!state) return undefined;
        raw.state = state;
      }
      raw.name = defaultName(raw);
      raw.actions = [{ type: 'notify' }];
    }
    const stored = WatchManager.storedList();
    if (typeof raw.name === 'string' && !args) {
      const base = raw.name;
      for (let n = 2; stored.some((w) => (w as { name?: unknown })?.name === raw.name); n++) raw.name = `${base} (${n})`;
    }
    let definition: WatchDefinition;
    try {
      definition = parseWatch(raw);
    } catch (e) {
      if (e instanceof WatchDefinitionError) throw new CommandInputError(e.message);
      throw e;
    }
    if (stored.some((w) => (w as { name?: unknown })?.name === definition.name)) {
      throw new CommandInputError(vscode.l10n.t('A watch named "{0}" exists already: pick another "name".', definition.name));
    }
    await WatchManager.store([...stored, definition]);
    manager.restart();
    if (!args) {
      const edit = vscode.l10n.t('Edit');
      void vscode.window
        .showInformationMessage(vscode.l10n.t('Watch "{0}" added. Edit its actions (notify, handler, webhook, event) in settings.', definition.name), edit)
        .then((picked) => picked === edit && vscode.commands.executeCommand('chefConsul.watches.edit'));
    }
    return definition;
  };

  const importConfig = async (
    args: { path?: string; dryRun?: boolean; runHandlers?: boolean } | undefined,
  ): Promise<(ImportResult & { added: string[]; paused: string[] }) | undefined> => {
    let file = args?.path;
    if (args && (typeof file !== 'string' || !file)) throw new CommandInputError(vscode.l10n.t('"path" (an agent config file, .hcl or .json) is required.'));
    if (!args) {
      const picked = await vscode.window.showOpenDialog({ title: vscode.l10n.t('Import Agent Watches'), canSelectMany: false, filters: { [vscode.l10n.t('Consul agent config')]: ['hcl', 'json'] } });
      if (!picked?.[0]) return undefined;
      file = picked[0].fsPath;
    } else if (!path.isAbsolute(file!)) {
      // Relative to the workspace folder (else the home folder), and errors say the resolved path.
      file = path.resolve(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir(), file!);
    }
    let text: string;
    try {
      const size = (await fs.stat(file!)).size;
      if (size > MAX_IMPORT_BYTES) throw new CommandInputError(vscode.l10n.t('"{0}" is {1} KiB; an agent config file to import may be at most 1 MiB.', file!, Math.ceil(size / 1024)));
      text = await fs.readFile(file!, 'utf8');
    } catch (e) {
      if (e instanceof CommandInputError) throw e;
      throw new CommandInputError(vscode.l10n.t('Cannot read "{0}": {1}.', file!, (e as NodeJS.ErrnoException).code ?? (e as Error).message));
    }
    const stored = WatchManager.storedList();
    let result: ImportResult;
    try {
      result = importAgentWatches(parseAgentConfigText(text, formatOfPath(file!)), stored.map((w) => String((w as { name?: unknown })?.name)), { baseDir: path.dirname(file!) });
    } catch (e) {
      if (e instanceof AgentConfigError) throw new CommandInputError(`${file}: ${e.message}`);
      throw e;
    }
    for (const n of result.notRunnable) log.warn(`Import ${file}: ${n.name ?? `watch ${n.index + 1}`} cannot run here: ${n.reason}`);
    for (const n of result.notes) log.info(`Import ${file}: ${n}`);
    const handlerLines = (w: WatchDefinition) => w.actions.flatMap((a) => (a.type === 'handler' ? [a.args ? a.args.join(' ') : a.command ?? ''] : []));
    let chosen = result.runnable;
    // Shell commands from a file are untrusted: they run unattended once imported.
    let runHandlers = args?.runHandlers === true;
    if (!args && result.runnable.length) {
      const picks = await vscode.window.showQuickPick(
        result.runnable.map((w) => {
          const lines = handlerLines(w);
          return {
            label: w.name,
            description: w.actions.map((a) => a.type).join(', '),
            ...(lines.length ? { detail: vscode.l10n.t('Runs: {0}', lines.join(' ; ')) } : {}),
            // A handler runs a command from the file: the operator opts in to each.
            picked: !lines.length,
            w,
          };
        }),
        { title: vscode.l10n.t('Import Agent Watches: {0} runnable, {1} not', result.runnable.length, result.notRunnable.length), canPickMany: true, matchOnDetail: true },
      );
      if (!picks) return undefined;
      chosen = picks.map((p) => p.w);
      const commands = chosen.flatMap((w) => handlerLines(w).map((l) => `${w.name}: ${l}`));
      if (commands.length) {
        if (!vscode.workspace.isTrusted) runHandlers = false;
        else {
          const run = vscode.l10n.t('Import and Run Them');
          const paused = vscode.l10n.t('Import Paused');
          const answer = await vscode.window.showWarningMessage(
            vscode.l10n.t('These watches run commands on this machine each time they fire:'),
            { modal: true, detail: `${commands.join('\n')}\n\n${vscode.l10n.t('Run them only if you trust {0}.', file!)}` },
            run,
            paused,
          );
          if (!answer) return undefined;
          runHandlers = answer === run;
        }
      }
    }
    // In Restricted Mode, or without the explicit opt-in, watches with handlers come in paused.
    if (!vscode.workspace.isTrusted) runHandlers = false;
    const paused: string[] = [];
    chosen = chosen.map((w) => {
      if (runHandlers || !handlerLines(w).length) return w;
      paused.push(w.name);
      return { ...w, paused: true };
    });
    if (paused.length) log.info(`Import ${file}: imported paused (they run commands; resume each after reading it): ${paused.join(', ')}`);
    const added: string[] = [];
    if (!args?.dryRun && chosen.length) {
      await WatchManager.store([...stored, ...chosen]);
      added.push(...chosen.map((w) => w.name));
      manager.restart();
    }
    if (!args) {
      const msg = paused.length
        ? vscode.l10n.t('Imported {0} watches ({1} with commands are paused: resume them after reading them); {2} cannot run here (see the log).', added.length, paused.length, result.notRunnable.length)
        : vscode.l10n.t('Imported {0} watches; {1} cannot run here (see the log).', added.length, result.notRunnable.length);
      void vscode.window.showInformationMessage(msg);
    }
    return { ...result, runnable: chosen, added, paused };
  };

  const disposables: vscode.Disposable[] = [
    manager,
    // After the manager: its watches stop before another window may take over.
    ...(lease ? [lease] : []),
    view,
    vscode.workspace.registerTextDocumentContentProvider(WATCH_DIFF_SCHEME, documents),
    registerCommand<Partial<WatchDefinition>, WatchDefinition | undefined>('chefConsul.watches.add', add, log),
    registerCommand<{ id: string; name: string }, { removed: string } | undefined>(
      'chefConsul.watches.remove',
      async (args) => {
        const { name, stored, index } = requireWatch(args);
        await WatchManager.store(stored.filter((_, i) => i !== index));
        manager.restart();
        return { removed: name };
      },
      log,
    ),
    // Tree items come through here too (the context menu's Remove asks first).
    registerItemCommand('chefConsul.watches.removeItem', async (raw) => {
      const name = nameOf(raw);
      if (!name) throw new CommandInputError(vscode.l10n.t('Name the watch: pass {"name": "<watch name>"}.'));
      const remove = vscode.l10n.t('Remove');
      if ((await vscode.window.showWarningMessage(vscode.l10n.t('Remove watch "{0}"?', name), { modal: true }, remove)) !== remove) return undefined;
      return vscode.commands.executeCommand('chefConsul.watches.remove', { name });
    }, log),
    registerCommand<object, WatchSummary[]>('chefConsul.watches.list', () => manager.list().map((e) => manager.summary(e)), log),
    registerCommand<{ path: string; dryRun: boolean; runHandlers: boolean }, (ImportResult & { added: string[]; paused: string[] }) | undefined>('chefConsul.watches.importAgentConfig', importConfig, log),
    registerItemCommand('chefConsul.watches.pause', (raw) => setPaused(raw, true), log),
    registerItemCommand('chefConsul.watches.resume', (raw) => setPaused(raw, false), log),
    vscode.commands.registerCommand('chefConsul.watches.edit', () => vscode.commands.executeCommand('workbench.action.openSettingsJson', { revealSetting: { key: 'chefConsul.watches', edit: true } })),
    registerItemCommand('chefConsul.watches.showLastChange', async (raw) => {
      const name = nameOf(raw);
      if (!name) throw new CommandInputError(vscode.l10n.t('Which watch? Pass {"name": "<watch name>"}.'));
      const firing = manager.lastFiring(name);
      if (!firing) {
        void vscode.window.showInformationMessage(vscode.l10n.t('Watch "{0}" has not fired since the window opened.', name));
        return undefined;
      }
      const title = vscode.l10n.t('{0}: before ↔ after ({1})', name, new Date(firing.at).toLocaleTimeString());
      await vscode.commands.executeCommand('vscode.diff', WatchDiffDocuments.uri(name, 'before', firing.at), WatchDiffDocuments.uri(name, 'after', firing.at), title, { preview: true });
      return { name, why: firing.summary.why };
    }, log),
  ];
  return { features: { manager, view, lease }, disposables };
}

const TYPE_HELP: Record<WatchType, string> = {
  key: 'one KV key',
  keyprefix: 'every key under a prefix',
  services: 'the list of services and their tags',
  nodes: 'the list of nodes',
  service: "one service's instances and their health",
  checks: 'health checks by state or service',
  event: 'user events by name',
};

function defaultName(raw: Record<string, unknown>): string {
  const target = raw.key ?? raw.prefix ?? raw.service ?? raw.eventName ?? raw.state;
  return typeof target === 'string' && target ? `${String(raw.type)} ${target}` : String(raw.type);
}
