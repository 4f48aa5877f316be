/** Wires the domain core to VS Code. Nothing else belongs here. */
import * as vscode from 'vscode';
import { ConnectionManager } from './vscode/connectionManager';
import { ConsulStatusBar } from './vscode/statusBar';
import { NodesView } from './vscode/views/nodesView';
import { ServicesView } from './vscode/views/servicesView';
import { EventsView } from './vscode/views/eventsView';
import { registerConnectionCommands } from './vscode/commands/connectionCommands';
import { registerViewCommands } from './vscode/commands/viewCommands';
import { registerCopyCommands } from './vscode/commands/copyCommands';
import { registerEventCommands } from './vscode/commands/eventCommands';
import { PlanFeatures, registerPlanFeatures } from './vscode/plans';
import { RunRegistry } from './core/runs/registry';
import { RunsView } from './vscode/views/runsView';
import { RUN_OUTPUT_SCHEME, RunOutputProvider } from './vscode/runs/runOutput';
import { RunCommands } from './vscode/runs/runCommands';
import { ChefReportFeatures, registerChefReports } from './vscode/chef';
import { NotificationFeatures, registerNotifications } from './vscode/notify';
import { RuleFeatures, registerRules } from './vscode/rules';
import { ChefReportFileEditor } from './vscode/chef/reportFileEditor';
import { ChefServerFeatures, registerChefServer } from './vscode/chef/chefServerFeatures';
import { persistRunOutputs, RunOutputFiles } from './core/runs/outputStore';
import { KvFeatures, registerKvFeatures } from './vscode/kv';
import { RunMonitor } from './vscode/monitor/runMonitor';
import { registerWatches, WatchFeatures } from './vscode/watches';
import type { CodeCacheStatus } from './core/util/codeCache';

/** What the entry point (src/bootstrap.ts) says of loading this bundle. */
export interface BootInfo {
  codeCache: CodeCacheStatus;
  /** Reading, compiling and running the bundle (ms). */
  loadMs: number;
  /** The code cache file of this bundle, in the extension's global storage (there, or written a few seconds after activation). */
  cacheFile: string | undefined;
}

/** What other extensions get from an installed copy. */
export interface PublicApi {
  activationMs: number;
}

/** What the extension hands to its tests (and in development). */
export interface ChefConsulApi {
  connections: ConnectionManager;
  nodesView: NodesView;
  servicesView: ServicesView;
  eventsView: EventsView;
  plans: PlanFeatures;
  runs: RunRegistry;
  runsView: RunsView;
  statusBar: ConsulStatusBar;
  kv: KvFeatures;
  /** Chef reports of runs' nodes (RunChefReports) and the Chef Report view. */
  chef: ChefReportFeatures;
  /** The one notifier (notifier.notify(...)) that Chef failures, watches and rules share, and its VS Code and webhook channels. */
  notifier: NotificationFeatures['notifier'];
  notifications: NotificationFeatures;
  /** Rules on Chef runs: the engine (matches, evaluation), the Rule Matches view, a Reporting poll now. */
  rules: RuleFeatures;
  /** The read-only editor of Chef report files (data collector messages, json_file handler reports). */
  reportFiles: ChefReportFileEditor;
  /** The Chef server: its connection and inventory, the Chef view, `chef:` documents, the Nodes view's join, the Reporting poller. */
  chefServer: ChefServerFeatures;
  /** Watches (consul watch in the editor): the manager running them and the Watches view. */
  watches: WatchFeatures;
  activationMs: number;
  /** How the bundle was loaded (undefined when loaded without the entry point). */
  boot: BootInfo | undefined;
}

/** Set while active: ends running runs cleanly when the window closes or the extension stops. */
let endRuns: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext, boot?: BootInfo): ChefConsulApi | PublicApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Chef + Consul', { log: true });
  const connections = new ConnectionManager(context, log);
  const nodesView = new NodesView(connections);
  const servicesView = new ServicesView(connections);
  const eventsView = new EventsView(connections);
  const statusBar = new ConsulStatusBar(connections);
  context.subscriptions.push(
    log,
    connections,
    nodesView,
    servicesView,
    eventsView,
    statusBar,
    ...registerConnectionCommands(connections, log),
    ...registerViewCommands('nodes', nodesView, log),
    ...registerViewCommands('services', servicesView, log),
    ...registerCopyCommands(log),
    ...registerEventCommands(connections, eventsView, log),
  );
  const plans = registerPlanFeatures(context, connections);
  const runs = new RunRegistry();
  endRuns = () => runs.shutdown();
  const runsView = new RunsView(connections, runs);
  const outputFiles = new RunOutputFiles(vscode.Uri.joinPath(context.globalStorageUri, 'run-output').fsPath);
  const runOutput = new RunOutputProvider(runs, connections, outputFiles);
  const runCommands = new RunCommands(connections, runs, plans.workspace, log);
  context.subscriptions.push(
    persistRunOutputs(runs, outputFiles),
    { dispose: () => void outputFiles.dispose() },
    { dispose: () => runs.dispose() },
    runsView,
    runOutput,
    vscode.workspace.registerTextDocumentContentProvider(RUN_OUTPUT_SCHEME, runOutput),
    vscode.commands.registerCommand('chefConsul.runs.refresh', () => runsView.reload()),
    ...runCommands.register(),
    runCommands.onDidChangeNote(({ id, note }) => runsView.setNote(id, note)),
  );
  const chef = registerChefReports(connections, runs, log);
  context.subscriptions.push(runsView.useChefReports(chef.features.reports));
  context.subscriptions.push(...chef.disposables);
  const notifications = registerNotifications(context, log, { runs, reports: chef.features.reports });
  context.subscriptions.push(...notifications.disposables);
  const watches = registerWatches(connections, notifications.features.notifier, log, context.globalState, context.globalStorageUri.fsPath);
  context.subscriptions.push(...watches.disposables);
  const reportFiles = new ChefReportFileEditor(chef.features.shelf, chef.features.view, log);
  context.subscriptions.push(...reportFiles.register());
  const chefServer = registerChefServer({ connections, nodesView, reports: chef.features, notifier: () => notifications.features.notifier, log });
  context.subscriptions.push(...chefServer.disposables);
  // One window per machine polls Reporting and notifies (the rules' and the failure notifications').
  chefServer.features.reporting.useLease(context.globalStorageUri.fsPath);
  const rules = registerRules(log, { runs, reports: chef.features.reports, notifier: notifications.features.notifier, reporting: chefServer.features.reporting });
  context.subscriptions.push(...rules.disposables);
  const monitor = new RunMonitor({ extensionUri: context.extensionUri, registry: runs, connections, files: outputFiles, chef: chef.features.reports, log });
  context.subscriptions.push(...monitor.register());
  const kv = registerKvFeatures(context, connections, log);
  // Not awaited: reading the token is a round trip to the window, and the views
  // and status bar show "connecting" until the connection is there.
  void connections.reconnect();
  const activationMs = performance.now() - started;
  log.info(`Activated in ${activationMs.toFixed(1)} ms` + (boot ? ` (bundle loaded in ${boot.loadMs.toFixed(1)} ms, code cache ${boot.codeCache})` : ''));
  const api: ChefConsulApi = { connections, nodesView, servicesView, eventsView, plans, runs, runsView, statusBar, kv, chef: chef.features, notifier: notifications.features.notifier, notifications: notifications.features, reportFiles, chefServer: chefServer.features, rules: rules.features, watches: watches.features, activationMs, boot };
  // The full API holds the connection (and so the token) and runs without any of the commands' checks:
  // only tests and development get it; other extensions see the activation time only.
  return context.extensionMode === vscode.ExtensionMode.Production ? { activationMs } : api;
}

/**
 * Runs still going end interrupted, with their lock released, sessions
 * destroyed and final records written (within a few seconds); everything
 * else is in context.subscriptions, disposed after this.
 */
export async function deactivate(): Promise<void> {
  const end = endRuns;
  endRuns = undefined;
  await end?.();
}
