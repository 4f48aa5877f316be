/**
 * Commands of the Chef server side. Each takes one argument object (and then
 * asks nothing) and returns plain JSON:
 *   chefConsul.chef.selectProfile {name} → name
 *   chefConsul.chef.testConnection {silent} → {ok, profile, serverVersion, nodes} | {ok: false, kind, message}
 *   chefConsul.chef.getNode {name} → the node with merged attributes and each precedence level
 *   chefConsul.chef.openNode {name, level} → the `chef:` URI opened
 *   chefConsul.chef.searchAttributes {node, path} → {uri, path, line}
 *   chefConsul.chef.listRuns {node, status, from, to} → runs, newest first
 *   chefConsul.chef.openRun {node, runId} → the ChefReport (shown in the Chef Report view)
 *   chefConsul.chef.openResourceState {id | runId, node, resource} → {before, after} URIs
 *   chefConsul.chef.filterRuns {status, days} → the filter
 */
import * as vscode from 'vscode';
import { flattenAttributes, nodeDocument, PRECEDENCE_LEVELS, PrecedenceLevel } from '../../core/chef/attributes';
import type { ChefReport } from '../../core/chef/report';
import { resourceId } from '../../core/chef/report';
import type { ChefReportShelf } from '../../core/chef/reportShelf';
import { ChefServerError } from '../../core/chef/server/chefServerClient';
import type { ChefRunSummary, ReportingStatusFilter } from '../../core/chef/server/reporting';
import { getRunDetail, listRuns } from '../../core/chef/server/reporting';
import type { ReportingRunDetail } from '../../core/chef/server/reportingReport';
import { reportingRunOf, reportingToChefReport } from '../../core/chef/server/reportingReport';
import { CommandInputError, registerCommand, registerItemCommand } from '../commands/register';
import { CHEF_SECTION, ChefServerConnection, serverVersionOf } from './chefServer';
import { chefObjectUri, ChefObjectDocuments } from './chefObjectDocuments';
import type { ChefReportView } from './chefReportView';
import type { ChefServerView, RunFilter } from './chefServerView';
import type { NodesChefJoin } from './nodesChefJoin';
import { errorToastText, plainToastText } from '../../core/util/toastText';

const STATUSES: readonly ReportingStatusFilter[] = ['success', 'failure', 'started', 'running'];

/** The Chef Report view's ref of a Chef server run. */
export function serverRunRef(node: string, runId: string): { id: string; phase: number; node: string } {
  return { id: `reporting:${runId}`, phase: 0, node };
}

function requiredString(v: unknown, what: string, hint: string): string {
  if (typeof v !== 'string' || !v.trim()) throw new CommandInputError(vscode.l10n.t('"{0}" is required: {1}.', what, hint));
  return v.trim();
}

/** A time given as epoch ms or an ISO 8601 / RFC 2822 date string. */
function timeArg(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new CommandInputError(vscode.l10n.t('"{0}" must be a date (ISO 8601, e.g. 2026-12-01T06:00:00Z) or epoch milliseconds, not {1}.', what, JSON.stringify(v)));
  return t;
}

function statusArg(v: unknown): ReportingStatusFilter | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !STATUSES.includes(v as ReportingStatusFilter)) throw new CommandInputError(vscode.l10n.t('"status" must be one of {0}, not {1}.', STATUSES.join(', '), JSON.stringify(v)));
  return v as ReportingStatusFilter;
}

/** A Chef server failure as the user reads it: the kind, then the sentence. */
/** Reporting runs kept after being opened (for their resource states and the report view). */
const MAX_OPENED_RUNS = 50;

function serverError(e: unknown): Error {
  if (e instanceof ChefServerError && e.kind === 'not-found') return new CommandInputError(e.message);
  // A date window Reporting cannot answer (over 90 days).
  if (e instanceof RangeError) return new CommandInputError(e.message);
  return e as Error;
}

export interface ChefServerCommandDeps {
  chef: ChefServerConnection;
  view: ChefServerView;
  documents: ChefObjectDocuments;
  shelf: ChefReportShelf;
  reportView: ChefReportView;
  /** The Nodes view's join: a Consul node item leads to the Chef node it maps to. */
  join?: NodesChefJoin;
  log: vscode.LogOutputChannel;
}

export function registerChefServerCommands(d: ChefServerCommandDeps): vscode.Disposable[] {
  const { chef, view, documents, shelf, reportView, log } = d;
  const nodeName = (a: { name?: unknown; node?: unknown } | undefined, item?: unknown): string | undefined => {
    // A Consul node of the Nodes view: its Chef node by the join's mapping (not necessarily the same name).
    if ((item as { kind?: unknown } | undefined)?.kind === 'node' && item instanceof vscode.TreeItem) {
      const consulName = (item as unknown as { node: { name: string } }).node.name;
      const side = d.join?.current?.byConsulNode.get(consulName);
      if (!side) throw new CommandInputError(vscode.l10n.t('The Consul node {0} is not in Chef (mapping by {1}).', consulName, d.join?.current?.mapping ?? 'name'));
      return side.node.name;
    }
    // A Chef view node item carries `node` (a summary), an "only in Chef" item `side.node`; an argument object names it.
    const fromItem = (item as { node?: { name?: unknown } } | undefined)?.node?.name ?? (item as { side?: { node?: { name?: unknown } } } | undefined)?.side?.node?.name;
    return [a?.name, a?.node, fromItem].find((v): v is string => typeof v === 'string' && v !== '');
  };
  const pickNode = async (): Promise<string | undefined> => {
    const inv = await chef.loadInventory();
    if (inv.kind === 'error') throw inv.error;
    if (inv.kind !== 'ready') return undefined;
    const pick = await vscode.window.showQuickPick(
      inv.nodes.map((n) => ({ label: n.name, description: [n.environment, n.platform].filter(Boolean).join(' · ') })),
      { title: vscode.l10n.t('Chef node'), matchOnDescription: true },
    );
    return pick?.label;
  };

  const openRun = async (node: string, runId: string): Promise<ChefReport> => {
    const { client } = chef.ready();
    let detail: ReportingRunDetail;
    try {
      detail = await getRunDetail(client, runId);
    } catch (e) {
      throw serverError(e);
    }
    // A run is shown under its own node only: another node's run named here would be labelled as this one's.
    const owner: unknown = reportingRunOf(detail).node_name;
    if (typeof owner === 'string' && owner !== '' && owner !== node) throw new CommandInputError(vscode.l10n.t('Run {0} is a run of node "{1}", not of "{2}".', runId, owner, node));
    const report = reportingToChefReport(detail);
    const ref = serverRunRef(node, runId);
    // Reporting runs opened one after another: the last 50 stay (a report is re-read when opened again).
    shelf.putBounded(ref, report, 'chef-server-runs', MAX_OPENED_RUNS);
    reportView.show(ref);
    await vscode.commands.executeCommand('chefConsul.chefReport.focus');
    return structuredClone(report);
  };

  return [
    registerCommand<{ name: string }, string | undefined>(
      'chefConsul.chef.selectProfile',
      async (a) => {
        await chef.reload();
        let name = a?.name;
        if (name === undefined) {
          const active = chef.state.kind === 'none' ? undefined : chef.state.profile.name;
          const pick = await vscode.window.showQuickPick(
            chef.profiles.map((p) => ({ label: p.name, description: `${p.serverUrl} · ${p.clientName}${p.consulProfile ? ` · Consul ${p.consulProfile}` : ''}`, detail: p.source, picked: p.name === active })),
            { title: vscode.l10n.t('Chef server profile') },
          );
          if (!pick) return undefined;
          name = pick.label;
        }
        const profile = chef.profiles.find((p) => p.name.toLowerCase() === String(name).toLowerCase());
        if (!profile) throw new CommandInputError(vscode.l10n.t('No Chef profile named "{0}". Known: {1}.', String(name), chef.profiles.map((p) => p.name).join(', ') || vscode.l10n.t('none')));
        await vscode.workspace.getConfiguration(CHEF_SECTION).update('activeProfile', profile.name, vscode.ConfigurationTarget.Global);
        // Switching one switches both: a Chef profile tied to a Consul profile brings it along.
        if (profile.consulProfile) await vscode.commands.executeCommand('chefConsul.selectProfile', { name: profile.consulProfile });
        await chef.reload();
        return profile.name;
      },
      log,
    ),
    vscode.commands.registerCommand('chefConsul.chef.testConnection', async (a?: { silent?: boolean }) => {
      const silent = !!(a && typeof a === 'object' && !(a instanceof vscode.TreeItem) && a.silent);
      await chef.reload();
      const s = chef.state;
      let result: { ok: true; profile: string; serverUrl: string; serverVersion?: string; signVersion: string; nodes: number } | { ok: false; profile?: string; kind?: string; message: string };
      if (s.kind === 'ready') {
        try {
          const res = await s.client.request<Record<string, string>>('GET', '/nodes');
          result = { ok: true, profile: s.profile.name, serverUrl: s.profile.serverUrl, serverVersion: serverVersionOf(res.headers), signVersion: s.client.signVersion, nodes: Object.keys(res.body ?? {}).length };
        } catch (e) {
          result = { ok: false, profile: s.profile.name, kind: e instanceof ChefServerError ? e.kind : undefined, message: (e as Error).message };
        }
      } else if (s.kind === 'invalid') result = { ok: false, profile: s.profile.name, kind: 'invalid-profile', message: s.message };
      else {
        const problems = chef.problems.length ? ` ${vscode.l10n.t('Not read: {0}', chef.problems.join('; '))}` : '';
        result = s.reason
          ? { ok: false, kind: 'no-active-profile', message: vscode.l10n.t('No active Chef server profile: {0}. Select one (Chef: Select Profile).', s.reason) + problems }
          : { ok: false, kind: 'no-profile', message: vscode.l10n.t('No Chef server profile: add one in the setting chefConsul.chef.profiles or in ~/.chef/credentials.') + problems };
      }
      if (result.ok) void chef.loadInventory(true);
      if (!silent) {
        if (result.ok) void vscode.window.showInformationMessage(plainToastText(vscode.l10n.t('Chef server {0}: {1}, signed with X-Ops-Sign {2}, {3} nodes.', result.serverUrl, result.serverVersion ?? vscode.l10n.t('version unknown'), result.signVersion, result.nodes)));
        else void vscode.window.showErrorMessage(errorToastText(result.kind ? `${result.kind}: ${result.message}` : result.message));
      }
      log.info(`Chef test connection: ${result.ok ? `ok (${result.serverVersion ?? '?'})` : `${result.kind}: ${result.message}`}`);
      return result;
    }),
    vscode.commands.registerCommand('chefConsul.chef.addServer', () => vscode.commands.executeCommand('workbench.action.openSettings', `${CHEF_SECTION}.profiles`)),
    vscode.commands.registerCommand('chefConsul.chef.refresh', async () => {
      await chef.reload();
      await view.refresh();
      documents.refreshOpen();
    }),
    vscode.commands.registerCommand('chefConsul.chef.showMore', () => view.showMore()),
    registerItemCommand(
      'chefConsul.chef.getNode',
      async (raw) => {
        const a = raw as { name?: unknown } | undefined;
        const name = requiredString(a?.name, 'name', vscode.l10n.t('a Chef node name'));
        try {
          return nodeDocument(await chef.ready().api.getNode(name));
        } catch (e) {
          throw serverError(e);
        }
      },
      log,
    ),
    registerItemCommand(
      'chefConsul.chef.openNode',
      async (raw) => {
        const a = raw as { name?: unknown; level?: unknown } | undefined;
        const name = nodeName(a as { name?: unknown }, raw) ?? (await pickNode());
        if (!name) return undefined;
        const level = a?.level;
        if (level !== undefined && !PRECEDENCE_LEVELS.includes(level as PrecedenceLevel))
          throw new CommandInputError(vscode.l10n.t('"level" must be one of {0}.', PRECEDENCE_LEVELS.join(', ')));
        const uri = chefObjectUri({ kind: 'node', profile: chef.ready().profile.name, name, level: level as PrecedenceLevel | undefined });
        const doc = await vscode.workspace.openTextDocument(uri);
        await vscode.window.showTextDocument(doc, { preview: true });
        return uri.toString();
      },
      log,
    ),
    registerItemCommand(
      'chefConsul.chef.searchAttributes',
      async (raw) => {
        const a = raw as { node?: unknown; name?: unknown; path?: unknown } | undefined;
        const name = nodeName(a as { node?: unknown }, raw) ?? (await pickNode());
        if (!name) return undefined;
        const { api, profile } = chef.ready();
        let doc;
        try {
          doc = nodeDocument(await api.getNode(name));
        } catch (e) {
          throw serverError(e);
        }
        const flat = flattenAttributes(doc.attributes, { levels: doc });
        let path = typeof a?.path === 'string' ? a.path : undefined;
        if (path === undefined) {
          const pick = await vscode.window.showQuickPick(
            flat.map((f) => ({ label: f.path, description: f.value, detail: f.level })),
            { title: vscode.l10n.t('Attributes of {0} (merged)', name), matchOnDescription: true, placeHolder: vscode.l10n.t('Type an attribute path or value') },
          );
          if (!pick) return undefined;
          path = pick.label;
        }
        const hit = flat.find((f) => f.path === path);
        if (!hit) throw new CommandInputError(vscode.l10n.t('Node {0} has no attribute {1}.', name, path));
        const uri = chefObjectUri({ kind: 'node', profile: profile.name, name });
        const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
        const line = documents.lineOf(uri, ['attributes', ...hit.segments]);
        if (line !== undefined) {
          const range = editor.document.lineAt(Math.min(line, editor.document.lineCount - 1)).range;
          editor.selection = new vscode.Selection(range.start, range.end);
          editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
        }
        return { uri: uri.toString(), path: hit.path, line, level: hit.level, value: hit.value };
      },
      log,
    ),
    registerCommand<{ node: string; status: string; from: string | number; to: string | number }, ChefRunSummary[]>(
      'chefConsul.chef.listRuns',
      async (a) => {
        const node = requiredString(a?.node, 'node', vscode.l10n.t('a Chef node name'));
        const status = statusArg(a?.status);
        const from = timeArg(a?.from, 'from');
        const to = timeArg(a?.to, 'to');
        if (from !== undefined && to !== undefined && from > to) throw new CommandInputError(vscode.l10n.t('"from" ({0}) is after "to" ({1}).', new Date(from).toISOString(), new Date(to).toISOString()));
        try {
          // listRuns works in whole seconds (as Reporting does): keep [from, to] to the millisecond.
          const runs = await listRuns(chef.ready().client, { node, status, from, to });
          return runs.filter((r) => r.startedAt === undefined || ((from === undefined || r.startedAt >= from) && (to === undefined || r.startedAt <= to)));
        } catch (e) {
          throw serverError(e);
        }
      },
      log,
    ),
    registerItemCommand(
      'chefConsul.chef.openRun',
      async (raw) => {
        const a = raw as { node?: unknown; runId?: unknown; run?: ChefRunSummary } | undefined;
        const node = requiredString(a?.run?.node ?? a?.node, 'node', vscode.l10n.t('the Chef node name'));
        const runId = requiredString(a?.run?.runId ?? a?.runId, 'runId', vscode.l10n.t('a Reporting run ID (chefConsul.chef.listRuns returns them)'));
        return openRun(node, runId);
      },
      log,
    ),
    registerItemCommand(
      'chefConsul.chef.openResourceState',
      async (raw) => {
        const a = raw as { id?: unknown; runId?: unknown; node?: unknown; resource?: unknown } | undefined;
        const node = requiredString(a?.node, 'node', vscode.l10n.t('the Chef node name'));
        const runId = typeof a?.runId === 'string' ? a.runId : typeof a?.id === 'string' ? a.id.replace(/^reporting:/, '') : undefined;
        if (!runId) throw new CommandInputError(vscode.l10n.t('"runId" is required.'));
        if (typeof a?.resource !== 'number' || !Number.isInteger(a.resource) || a.resource < 0) {
          throw new CommandInputError(vscode.l10n.t('"resource" is required: the 0-based index of a resource in the run (chefConsul.chef.openRun returns the run\'s resources).'));
        }
        const index = a.resource;
        const ref = serverRunRef(node, runId);
        const report = shelf.reportOf(ref.id, ref.phase, ref.node) ?? (await openRun(node, runId));
        const resource = report.resources[index];
        if (!resource) throw new CommandInputError(vscode.l10n.t('Run {0} of {1} has no resource {2}.', runId, node, index));
        const profile = chef.state.kind === 'none' ? 'chef' : chef.state.profile.name;
        const before = chefObjectUri({ kind: 'resourceState', profile, node, runId, resource: index, side: 'before' });
        const after = chefObjectUri({ kind: 'resourceState', profile, node, runId, resource: index, side: 'after' });
        await vscode.commands.executeCommand('vscode.diff', before, after, vscode.l10n.t('{0} on {1} (state before ↔ after)', resourceId(resource), node), { preview: true });
        return { before: before.toString(), after: after.toString() };
      },
      log,
    ),
    registerCommand<{ status: string; days: number }, RunFilter>(
      'chefConsul.chef.filterRuns',
      async (a) => {
        let filter: RunFilter;
        if (a) {
          const days = a.days;
          if (days !== undefined && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 90)) throw new CommandInputError(vscode.l10n.t('"days" must be a whole number of days from 1 to 90 (Chef Reporting answers at most 90 days).'));
          filter = { status: statusArg(a.status), days };
        } else {
          const pick = await vscode.window.showQuickPick(
            [
              { label: vscode.l10n.t('All runs, last 24 hours'), f: {} },
              { label: vscode.l10n.t('Failed runs, last 24 hours'), f: { status: 'failure' } },
              { label: vscode.l10n.t('Successful runs, last 24 hours'), f: { status: 'success' } },
              { label: vscode.l10n.t('Runs still going'), f: { status: 'started', days: 90 } },
              { label: vscode.l10n.t('Failed runs, last 7 days'), f: { status: 'failure', days: 7 } },
              { label: vscode.l10n.t('Last 90 days'), f: { days: 90 } },
            ] as Array<{ label: string; f: RunFilter }>,
            { title: vscode.l10n.t('Chef run history filter') },
          );
          if (!pick) return view.runFilter;
          filter = pick.f;
        }
        view.setRunFilter(filter);
        return filter;
      },
      log,
    ),
  ];
}

/** The ChefReport of a Chef server run already shown, for documents (resource states). */
export function shelvedServerReport(shelf: ChefReportShelf, node: string, runId: string): ChefReport | undefined {
  const ref = serverRunRef(node, runId);
  return shelf.reportOf(ref.id, ref.phase, ref.node);
}
