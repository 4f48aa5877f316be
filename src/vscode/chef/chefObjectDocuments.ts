/**
 * Chef server objects as read-only JSON documents (`chef:` URIs): nodes
 * (merged attributes with each precedence level, and each level alone),
 * roles, environments, cookbook versions, data bag items, and the state of a
 * Reporting run's resource before and after its action, for the diff editor.
 *
 *   chef:/<profile>/nodes/<node>.json            merged + levels
 *   chef:/<profile>/nodes/<node>/<level>.json    default | normal | override | automatic
 *   chef:/<profile>/roles/<role>.json, environments/<env>.json
 *   chef:/<profile>/cookbooks/<name>/<version>.json
 *   chef:/<profile>/data/<bag>/<item>.json
 *   chef:/<profile>/runs/<node>/<runId>/<resource>/<before|after>.json
 */
import * as vscode from 'vscode';
import { jsonWithLines, nodeDocument, PRECEDENCE_LEVELS, PrecedenceLevel } from '../../core/chef/attributes';
import type { ChefReport } from '../../core/chef/report';
import type { ChefServerConnection } from './chefServer';

export const CHEF_OBJECT_SCHEME = 'chef';

export type ChefObjectRef =
  | { kind: 'node'; profile: string; name: string; level?: PrecedenceLevel }
  | { kind: 'role' | 'environment'; profile: string; name: string }
  | { kind: 'cookbook'; profile: string; name: string; version: string }
  | { kind: 'dataBagItem'; profile: string; bag: string; item: string }
  | { kind: 'resourceState'; profile: string; node: string; runId: string; resource: number; side: 'before' | 'after' };

const enc = encodeURIComponent;

export function chefObjectUri(ref: ChefObjectRef): vscode.Uri {
  const p = `/${enc(ref.profile)}`;
  let path: string;
  switch (ref.kind) {
    case 'node':
      path = ref.level ? `${p}/nodes/${enc(ref.name)}/${ref.level}.json` : `${p}/nodes/${enc(ref.name)}.json`;
      break;
    case 'role':
      path = `${p}/roles/${enc(ref.name)}.json`;
      break;
    case 'environment':
      path = `${p}/environments/${enc(ref.name)}.json`;
      break;
    case 'cookbook':
      path = `${p}/cookbooks/${enc(ref.name)}/${enc(ref.version)}.json`;
      break;
    case 'dataBagItem':
      path = `${p}/data/${enc(ref.bag)}/${enc(ref.item)}.json`;
      break;
    case 'resourceState':
      path = `${p}/runs/${enc(ref.node)}/${enc(ref.runId)}/${ref.resource}/${ref.side}.json`;
      break;
  }
  return vscode.Uri.from({ scheme: CHEF_OBJECT_SCHEME, path });
}

export function parseChefObjectUri(uri: vscode.Uri): ChefObjectRef | undefined {
  let parts: string[];
  try {
    parts = uri.path.split('/').slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return undefined; // a malformed %-escape: no Chef object
  }
  const last = (s: string | undefined) => (s?.endsWith('.json') ? s.slice(0, -5) : undefined);
  const [profile, collection] = parts;
  if (!profile) return undefined;
  if (collection === 'nodes' && parts.length === 3) return ok(last(parts[2]), (name) => ({ kind: 'node', profile, name }));
  if (collection === 'nodes' && parts.length === 4) {
    const level = last(parts[3]) as PrecedenceLevel | undefined;
    return level && PRECEDENCE_LEVELS.includes(level) && parts[2] ? { kind: 'node', profile, name: parts[2], level } : undefined;
  }
  if ((collection === 'roles' || collection === 'environments') && parts.length === 3)
    return ok(last(parts[2]), (name) => ({ kind: collection === 'roles' ? 'role' : 'environment', profile, name }));
  if (collection === 'cookbooks' && parts.length === 4 && parts[2]) return ok(last(parts[3]), (version) => ({ kind: 'cookbook', profile, name: parts[2], version }));
  if (collection === 'data' && parts.length === 4 && parts[2]) return ok(last(parts[3]), (item) => ({ kind: 'dataBagItem', profile, bag: parts[2], item }));
  if (collection === 'runs' && parts.length === 6 && parts[2] && parts[3] && /^\d+$/.test(parts[4])) {
    const side = last(parts[5]);
    if (side === 'before' || side === 'after') return { kind: 'resourceState', profile, node: parts[2], runId: parts[3], resource: Number(parts[4]), side };
  }
  return undefined;
}

function ok<T>(v: string | undefined, f: (v: string) => T): T | undefined {
  return v ? f(v) : undefined;
}

export class ChefObjectDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** Path → line of the last text served per open URI (for revealing a search hit); dropped when the document closes. */
  private readonly lineMaps = new Map<string, Map<string, number>>();
  private readonly closing: vscode.Disposable;

  constructor(
    private readonly chef: ChefServerConnection,
    /** Reporting runs' reports already fetched (resource states come from there). */
    private readonly reportOf: (node: string, runId: string) => ChefReport | undefined,
  ) {
    this.closing = vscode.workspace.onDidCloseTextDocument((doc) => {
      if (doc.uri.scheme === CHEF_OBJECT_SCHEME) this.lineMaps.delete(doc.uri.toString());
    });
  }

  /** The 0-based line of a JSON path (segments) in the document last served for `uri`. */
  lineOf(uri: vscode.Uri, segments: ReadonlyArray<string | number>): number | undefined {
    return this.lineMaps.get(uri.toString())?.get(JSON.stringify(segments));
  }

  /** Fetches the object; errors are thrown (commands report them), the document shows them as text. */
  async objectOf(ref: ChefObjectRef): Promise<unknown> {
    if (ref.kind === 'resourceState') {
      const report = this.reportOf(ref.node, ref.runId);
      const r = report?.resources[ref.resource];
      if (!r) throw new Error(vscode.l10n.t('Run {0} is not loaded, or has no resource {1}: open the run first.', ref.runId, ref.resource));
      return (ref.side === 'before' ? r.before : r.after) ?? {};
    }
    const { api, profile } = this.chef.ready();
    if (profile.name !== ref.profile) throw new Error(vscode.l10n.t('This document belongs to the Chef profile "{0}"; the active one is "{1}".', ref.profile, profile.name));
    switch (ref.kind) {
      case 'node': {
        const doc = nodeDocument(await api.getNode(ref.name));
        return ref.level ? doc[ref.level] : doc;
      }
      case 'role':
        return api.getRole(ref.name);
      case 'environment':
        return api.getEnvironment(ref.name);
      case 'cookbook':
        return api.getCookbook(ref.name, ref.version);
      case 'dataBagItem':
        return api.getDataBagItem(ref.bag, ref.item);
    }
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const ref = parseChefObjectUri(uri);
    if (!ref) throw vscode.FileSystemError.FileNotFound(vscode.l10n.t('Not a Chef object: {0} (expected e.g. chef:/<profile>/nodes/<node>.json)', uri.toString()));
    try {
      const { text, lines } = jsonWithLines(await this.objectOf(ref));
      this.lineMaps.set(uri.toString(), lines);
      return text + '\n';
    } catch (e) {
      this.lineMaps.delete(uri.toString());
      return `// ${(e as Error).message.replace(/\n/g, '\n// ')}\n`;
    }
  }

  /** Reads every open `chef:` document again (after a refresh or a profile switch). */
  refreshOpen(): void {
    for (const doc of vscode.workspace.textDocuments) if (doc.uri.scheme === CHEF_OBJECT_SCHEME) this.changed.fire(doc.uri);
  }

  dispose(): void {
    this.closing.dispose();
    this.changed.dispose();
    this.lineMaps.clear();
  }
}
