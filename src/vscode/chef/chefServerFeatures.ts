/**
 * The Chef server in VS Code: its connection, its one Reporting poll (which run
 * notifications and the rules share), the Chef view, `chef:` documents, the
 * Nodes view's join, run notifications and commands.
 */
import * as vscode from 'vscode';
import type { Notifier } from '../../core/notify/notifier';
import type { ConnectionManager } from '../connectionManager';
import type { NodesView } from '../views/nodesView';
import type { ChefReportFeatures } from './index';
import { ChefServerConnection } from './chefServer';
import { CHEF_OBJECT_SCHEME, ChefObjectDocuments } from './chefObjectDocuments';
import { registerChefServerCommands, shelvedServerReport } from './chefServerCommands';
import { ChefRunPoller } from './chefRunPoller';
import { ChefServerView } from './chefServerView';
import { ReportingFeed } from './reportingFeed';
import { NodesChefJoin } from './nodesChefJoin';

export interface ChefServerFeatures {
  connection: ChefServerConnection;
  view: ChefServerView;
  documents: ChefObjectDocuments;
  join: NodesChefJoin;
  /** Failed runs → notifications, from `reporting`. */
  poller: ChefRunPoller;
  /** The one Reporting poll of the active Chef server: the notifications and the rules subscribe to it. */
  reporting: ReportingFeed;
}

export function registerChefServer(opts: {
  connections: ConnectionManager;
  nodesView: NodesView;
  reports: ChefReportFeatures;
  notifier: () => Pick<Notifier, 'notify'> | undefined;
  log: vscode.LogOutputChannel;
}): { features: ChefServerFeatures; disposables: vscode.Disposable[] } {
  const { connections, nodesView, reports, log } = opts;
  const connection = new ChefServerConnection(connections, log);
  const documents = new ChefObjectDocuments(connection, (node, runId) => shelvedServerReport(reports.shelf, node, runId));
  const view = new ChefServerView(connection);
  const join = new NodesChefJoin(connection, () => nodesView.redraw());
  nodesView.chefJoin = join;
  const reporting = new ReportingFeed(connection, log);
  const poller = new ChefRunPoller(connection, reporting, opts.notifier);
  const disposables: vscode.Disposable[] = [
    connection,
    reporting,
    documents,
    view,
    join,
    poller,
    { dispose: () => (nodesView.chefJoin = undefined) },
    vscode.workspace.registerTextDocumentContentProvider(CHEF_OBJECT_SCHEME, documents),
    ...registerChefServerCommands({ chef: connection, view, documents, shelf: reports.shelf, reportView: reports.view, join, log }),
  ];
  // Not awaited: reading ~/.chef is a file read; the view shows nothing until it is done.
  void connection.reload();
  return { features: { connection, view, documents, join, poller, reporting }, disposables };
}
