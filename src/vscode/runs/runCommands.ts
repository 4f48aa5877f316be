/** Starting, following, cancelling and retrying runs from the editor. */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { eventReach, exactNodeNames, validateFireRequest } from '../../core/consul/events';
import { escapeRegex } from '../../core/util/regex';
import type { MergedEvent } from '../../core/plans/merge';
import { phaseTargets } from '../../core/plans/targeting';
import { AdhocRun } from '../../core/runs/adhocEngine';
import { ExecRun } from '../../core/runs/execEngine';
import { MetronomeRun } from '../../core/runs/metronomeEngine';
import { readRun } from '../../core/runs/history';
import type { RunSnapshot } from '../../core/runs/model';
import { isFinished } from '../../core/runs/model';
import { DEFAULT_OPERATION_SETTINGS, OperationSettings } from '../../core/runs/phaseRunner';
import type { RunRegistry } from '../../core/runs/registry';
import { CONFIG_SECTION, ConnectionManager, METRONOME_TOKEN_SECRET } from '../connectionManager';
import { CommandInputError, registerCommand, registerItemCommand } from '../commands/register';
import { requireTrust } from '../trust';
import { RunGuards } from './runGuards';
import type { PlanWorkspace } from '../plans/planWorkspace';
import { runOutputUri } from './runOutput';
import { RunMonitor } from '../monitor/runMonitor';

const startedBy = () => `${os.userInfo().username}@${os.hostname()}`;

function settings(): OperationSettings & { continueOnFailure: boolean; lockWaitMs: number } {
  const c = vscode.workspace.getConfiguration(CONFIG_SECTION);
  return {
    chefCommand: c.get<string>('chefCommand') || DEFAULT_OPERATION_SETTINGS.chefCommand,
    serviceCommand: c.get<string>('serviceCommand') || DEFAULT_OPERATION_SETTINGS.serviceCommand,
    continueOnFailure: c.get<boolean>('continueOnFailure') ?? false,
    lockWaitMs: c.get<string>('whenClusterBusy') === 'refuse' ? 0 : 30 * 60_000,
  };
}

export interface RunEventArgs {
  event?: string;
  pattern?: string;
  /** Internal (Re-run): exactly these patterns. */
  patterns?: string[];
  engine?: string;
  confirm?: string;
  ignoreBusyNodes?: boolean;
}

export interface RunCommandArgs {
  command?: string;
  node?: string;
  service?: string;
  tag?: string;
  confirm?: string;
  ignoreBusyNodes?: boolean;
}

export class RunCommands {
  /** Runs this editor started, by ID, for retry. */
  private readonly execRuns = new Map<string, ExecRun>();
  /** Where a run's progress notification takes extra news (e.g. whom it waits for). */
  private readonly progressNotes = new Map<string, (message: string) => void>();
  private readonly noteEmitter = new vscode.EventEmitter<{ id: string; note: string | undefined }>();
  /** A run's note before its first phase (whom it waits for), or undefined once it is under way: the Runs view shows it. */
  readonly onDidChangeNote = this.noteEmitter.event;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly registry: RunRegistry,
    private readonly plans: PlanWorkspace,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.guards = new RunGuards(connections, registry, plans);
  }

  private readonly guards: RunGuards;

  private async mergedEvent(name: string, patterns?: readonly string[]): Promise<MergedEvent> {
    await this.plans.ready();
    const merged = this.plans.mergedEvents().get(name);
    if (!merged) {
      const known = [...this.plans.mergedEvents().keys()].join(', ') || vscode.l10n.t('none');
      throw new CommandInputError(vscode.l10n.t('No task.yml in this workspace defines the event "{0}". Events: {1}.', name, known));
    }
    if (!patterns?.length) return merged;
    for (const pattern of patterns) {
      if (!merged.parts.some((p) => p.pattern.name === pattern)) throw new CommandInputError(vscode.l10n.t('Pattern "{0}" does not define the event "{1}".', pattern, name));
    }
    const parts = merged.parts.filter((p) => patterns.includes(p.pattern.name));
    return { name, parts, phases: parts.flatMap((p) => p.phases) };
  }

  async runEvent(args: RunEventArgs | undefined, interactive = !args): Promise<string | undefined> {
    requireTrust(vscode.l10n.t('Run Event'));
    let event = args?.event;
    if (!event) {
      if (!interactive) throw new CommandInputError(vscode.l10n.t('"event" is required.'));
      await this.plans.ready();
      const names = [...this.plans.mergedEvents().values()].map((m) => ({ label: m.name, description: vscode.l10n.t('{0} phases · {1}', m.phases.length, m.parts.map((p) => p.pattern.name).join(', ')) }));
      if (!names.length) throw new CommandInputError(vscode.l10n.t('No task.yml with events in this workspace.'));
      event = (await vscode.window.showQuickPick(names, { placeHolder: vscode.l10n.t('Event to run, phase by phase') }))?.label;
      if (!event) return undefined;
    }
    const engine = args?.engine ?? vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('engine') ?? 'exec';
    if (engine !== 'exec' && engine !== 'metronome') throw new CommandInputError(vscode.l10n.t('Unknown engine "{0}": use "exec" or "metronome".', engine));
    const patterns = args?.patterns ?? (args?.pattern ? [args.pattern] : undefined);
    const merged = await this.mergedEvent(event, patterns);
    this.guards.refuseBrokenPlans(merged, engine);
    const state = await this.connections.connected();
    const nodes = await this.guards.catalogNodes(state);
    const targets = [...new Set(merged.phases.flatMap((p) => phaseTargets(p, nodes)))];
    if (!(await this.guards.confirmProduction(state, vscode.l10n.t('event "{0}"', event), targets.length, args?.confirm, interactive))) return undefined;
    if (!(await this.guards.confirmNotBusy(state, vscode.l10n.t('Event "{0}"', event), targets, args?.ignoreBusyNodes, interactive))) return undefined;
    if (engine === 'metronome') {
      const token = await this.connections.secret(METRONOME_TOKEN_SECRET);
      const followed = await MetronomeRun.fire(state.connection, this.registry, { merged, token, startedBy: startedBy() });
      followed.onDidChangeDiagnostics((d) => d.forEach((x) => this.log.warn(`metronome run ${followed.run.id}: ${x.message}`)));
      this.follow(followed.run.id, vscode.l10n.t('metronome is running "{0}"', event), followed.done);
      return followed.run.id;
    }
    const s = settings();
    const exec = new ExecRun(state.connection, this.registry, {
      event,
      merged,
      plans: this.plans.plans(),
      startedBy: startedBy(),
      settings: s,
      continueOnFailure: s.continueOnFailure,
      lockWaitMs: s.lockWaitMs,
      onLockWait: (h) => {
        const message = h
          ? vscode.l10n.t('waiting for run {0} ("{1}") by {2}', h.runId, h.what, h.startedBy)
          : vscode.l10n.t('waiting for the cluster lock');
        this.log.info(`Run of "${event}": ${message}`);
        this.progressNotes.get(exec.run.id)?.(message);
        this.noteEmitter.fire({ id: exec.run.id, note: message });
      },
    });
    this.execRuns.set(exec.run.id, exec);
    // The registry forgets old finished runs; forget their engines with them.
    for (const id of this.execRuns.keys()) if (!this.registry.get(id)) this.execRuns.delete(id);
    this.follow(exec.run.id, vscode.l10n.t('Running "{0}"', event), exec.done);
    return exec.run.id;
  }

  async runCommand(args: RunCommandArgs | undefined, interactive = !args): Promise<string | undefined> {
    requireTrust(vscode.l10n.t('Run Command on Nodes'));
    const state = await this.connections.connected();
    let req = args;
    if (!req) {
      const command = await vscode.window.showInputBox({ title: vscode.l10n.t('Run Command on Nodes (1/2)'), prompt: vscode.l10n.t('Shell command') });
      if (!command) return undefined;
      const picked = await vscode.window.showQuickPick(
        (await this.guards.catalogNodes(state)).map((n) => ({ label: n.name, description: n.address })),
        { title: vscode.l10n.t('Run Command on Nodes (2/2)'), canPickMany: true, placeHolder: vscode.l10n.t('Nodes to run it on') },
      );
      if (!picked?.length) return undefined;
      req = { command, node: `^(${picked.map((p) => escapeRegex(p.label)).join('|')})$` };
    }
    if (!req.command?.trim()) throw new CommandInputError(vscode.l10n.t('"command" is required.'));
    const problems = validateFireRequest({ name: '_rexec', node: req.node, service: req.service, tag: req.tag });
    if (problems.length) throw new CommandInputError(problems.join(' '));
    const reached = eventReach(await this.guards.catalogNodes(state), req).map((n) => n.name);
    // Agents decide for themselves; only an exact list of node names is sure of its reach.
    const named = exactNodeNames(req.node);
    const reach = named ? named.length : reached.length;
    if (!(await this.guards.confirmProduction(state, vscode.l10n.t('the command'), reach, req.confirm, interactive, !!named))) return undefined;
    if (!(await this.guards.confirmNotBusy(state, vscode.l10n.t('The command'), reached, req.ignoreBusyNodes, interactive))) return undefined;
    const adhoc = new AdhocRun(state.connection, this.registry, { command: req.command, node: req.node, service: req.service, tag: req.tag, startedBy: startedBy() });
    this.follow(adhoc.run.id, vscode.l10n.t('Running "{0}"', req.command), adhoc.done);
    return adhoc.run.id;
  }

  /** Progress while it runs (with Cancel), a notification with a jump to the failure when it fails. */
  private follow(id: string, title: string, done: Promise<RunSnapshot>): void {
    // Opens the monitor beside the editor when chefConsul.openMonitorOnRun is on.
    RunMonitor.openAfterStart(id);
    // The note (whom it waits for) stands until a phase starts or the run ends.
    const underWay = this.registry.onDidChange((c) => {
      if (c.id !== id || c.kind === 'node') return;
      if (this.registry.get(id)?.view().phases.some((p) => p.status !== 'pending')) this.noteEmitter.fire({ id, note: undefined });
    });
    void done.finally(() => {
      underWay.dispose();
      this.noteEmitter.fire({ id, note: undefined });
    });
    // The Runs view always shows progress and a badge; the notification (with Cancel) is the setting's choice.
    if (!vscode.workspace.getConfiguration(CONFIG_SECTION).get<boolean>('runNotification', true)) {
      void done.then((run) => this.announce(run));
      return;
    }
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      token.onCancellationRequested(() => this.registry.cancel(id));
      this.progressNotes.set(id, (message) => progress.report({ message }));
      const sub = this.registry.onDidChange((c) => {
        // Phases start and end in phase and run changes; a node's change moves no phase.
        const s = c.id === id && c.kind !== 'node' ? this.registry.get(id)?.view() : undefined;
        if (!s) return;
        const current = s.phases.find((p) => p.status === 'running');
        if (current) progress.report({ message: vscode.l10n.t('phase {0}/{1}: {2}', current.no + 1, s.phases.length, current.task) });
      });
      return done.finally(() => {
        sub.dispose();
        this.progressNotes.delete(id);
      });
    });
    void done.then((run) => this.announce(run));
  }

  private async announce(run: RunSnapshot): Promise<void> {
    this.log.info(`Run ${run.id} (${run.event ?? run.command}) ended ${run.status}${run.message ? `: ${run.message}` : ''}`);
    if (run.status === 'success' || run.status === 'cancelled') return;
    const failedPhase = run.phases.find((p) => p.status === 'error' || p.status === 'timeout');
    const failedNode = failedPhase?.nodes.find((n) => n.status !== 'success');
    const show = vscode.l10n.t('Show Failure');
    const monitor = vscode.l10n.t('Open Run Monitor');
    const choice = await vscode.window.showErrorMessage(
      vscode.l10n.t('Run "{0}" ended {1}: {2}', run.event ?? run.command ?? run.id, run.status, run.message ?? ''),
      show,
      monitor,
    );
    if (choice === monitor) {
      await Promise.resolve(vscode.commands.executeCommand('chefConsul.openRunMonitor', { id: run.id })).catch(() => undefined);
      return;
    }
    // The failed node (or phase), selected in the Runs view, then its output.
    if (choice === show && failedPhase) await Promise.resolve(vscode.commands.executeCommand('chefConsul.runs.reveal', { id: run.id, phase: failedPhase.no, node: failedNode?.node })).catch(() => undefined);
    if (choice === show && failedPhase && failedNode) await this.openOutput({ id: run.id, phase: failedPhase.no, node: failedNode.node });
  }

  /** Follows a metronome run already under way (after a reload, or started elsewhere). */
  async attach(id: string | undefined): Promise<string> {
    if (!id) throw new CommandInputError(vscode.l10n.t('"id" is required.'));
    const state = await this.connections.connected();
    const followed = await MetronomeRun.attach(state.connection, this.registry, { id, startedBy: startedBy() });
    this.follow(id, vscode.l10n.t('Following metronome run {0}', id), followed.done);
    return id;
  }

  async getRun(id: string | undefined): Promise<RunSnapshot | undefined> {
    if (!id) throw new CommandInputError(vscode.l10n.t('"id" is required.'));
    const live = this.registry.get(id);
    if (live) return live.snapshot();
    const state = await this.connections.connected();
    return readRun(state.connection, id);
  }

  cancel(id: string): boolean {
    return this.registry.cancel(id);
  }

  async retryFailed(args: { id: string; phase: number; confirm?: string; ignoreBusyNodes?: boolean }, interactive: boolean): Promise<string | undefined> {
    requireTrust(vscode.l10n.t('Retry Failed Nodes'));
    const { id, phase } = args;
    const exec = this.registry.get(id) ? this.execRuns.get(id) : undefined;
    if (!exec) throw new CommandInputError(vscode.l10n.t('Run {0} was not started by this editor: use Re-run.', id));
    if (!isFinished(exec.run.status)) throw new CommandInputError(vscode.l10n.t('Run {0} is still running.', id));
    const snapshot = exec.run.snapshot();
    const failed = snapshot.phases[phase]?.nodes.filter((n) => n.status !== 'success').map((n) => n.node);
    if (!failed?.length) throw new CommandInputError(vscode.l10n.t('Phase {0} of run {1} has no failed node to retry.', phase + 1, id));
    // A retry goes on with every later phase, on all of its targets.
    const state = await this.connections.connected();
    const nodes = await this.guards.catalogNodes(state);
    const laterPhases = snapshot.phases.filter((p) => p.no > phase);
    const later = laterPhases.flatMap((p) => phaseTargets({ service: p.service, tag: p.tag }, nodes));
    const reach = new Set([...failed, ...later]);
    const what = vscode.l10n.t('retrying phase {0} of "{1}" and the phases after it', phase + 1, snapshot.event ?? id);
    // The failed nodes are named exactly; later phases go wherever their services are.
    if (!(await this.guards.confirmProduction(state, what, reach.size, args.confirm, interactive, laterPhases.length === 0))) return undefined;
    if (!(await this.guards.confirmNotBusy(state, vscode.l10n.t('Retry of run {0}', id), [...reach], args.ignoreBusyNodes, interactive))) return undefined;
    const done = exec.retryFailed(phase);
    this.follow(id, vscode.l10n.t('Retrying phase {0} of "{1}"', phase + 1, snapshot.event ?? id), done);
    return id;
  }

  private async confirmRecordedCommand(command: string, target: { node?: string; service?: string; tag?: string }, startedBy: string): Promise<boolean> {
    const filters = Object.entries(target)
      .filter(([, v]) => v)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const go = vscode.l10n.t('Run Again');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('Run this command again, as recorded in KV by {0}?', startedBy),
      { modal: true, detail: `${command}\n\n${filters || vscode.l10n.t('(no filter: every node)')}` },
      go,
    );
    return choice === go;
  }

  /** Starts the run again as it was: same event, patterns and engine, or the same command on the same nodes. */
  async rerun(args: { id: string; confirm?: string; ignoreBusyNodes?: boolean }, interactive: boolean): Promise<string | undefined> {
    requireTrust(vscode.l10n.t('Re-run'));
    const { id } = args;
    const run = await this.getRun(id);
    if (!run) throw new CommandInputError(vscode.l10n.t('No run {0} in this cluster\'s history.', id));
    const extra = { confirm: args.confirm, ignoreBusyNodes: args.ignoreBusyNodes };
    if (run.engine === 'adhoc') {
      // Without its recorded filters a command would go to every node: refuse instead.
      if (!run.command || !run.target) throw new CommandInputError(vscode.l10n.t('Run {0} does not record which nodes its command ran on; run it again with Run Command on Nodes.', id));
      // The command comes from KV, which anybody with key:write on metronome/ can write: show all of it before it runs.
      if (interactive && !(await this.confirmRecordedCommand(run.command, run.target, run.startedBy))) return undefined;
      return this.runCommand({ command: run.command, ...run.target, ...extra }, interactive);
    }
    if (!run.event) throw new CommandInputError(vscode.l10n.t('Run {0} names no event to run again.', id));
    return this.runEvent({ event: run.event, patterns: run.patterns.length ? run.patterns : undefined, engine: run.engine, ...extra }, interactive);
  }

  async openOutput(args: { id: string; phase: number; node: string }): Promise<vscode.TextEditor> {
    const doc = await vscode.workspace.openTextDocument(runOutputUri(args.id, args.phase, args.node));
    return vscode.window.showTextDocument(doc, { preview: true });
  }

  register(): vscode.Disposable[] {
    const log = this.log;
    type Ref = { id: string; phase: number; node: string };
    // From a Runs view item the argument is the item; from a caller, an object with the fields.
    const ref = (a: unknown): Partial<Ref> => {
      const x = a as { run?: { id: string }; phase?: { no: number } | number; node?: { node: string } | string; id?: string } | undefined;
      return {
        // A tree item's own `id` is its place in the tree (run:<id>/phase:…), not the run's ID.
        id: a instanceof vscode.TreeItem ? x?.run?.id : x?.id ?? x?.run?.id,
        phase: typeof x?.phase === 'number' ? x.phase : x?.phase?.no,
        node: typeof x?.node === 'string' ? x.node : x?.node?.node,
      };
    };
    const byItem = (id: string, fn: (a: unknown) => unknown) => registerItemCommand(id, fn, log);
    return [
      byItem('chefConsul.runEvent', (a) => {
        // From the Phases view the argument is the event's row: run that event, asking as the palette does.
        if (a instanceof vscode.TreeItem) return this.runEvent({ event: (a as { event?: { name?: string } }).event?.name }, true);
        return this.runEvent(a as RunEventArgs | undefined);
      }),
      // The CodeLens: an editor gesture, so it asks what a click must ask (production confirmation).
      byItem('chefConsul.runEventFromEditor', (a) => this.runEvent({ event: (a as RunEventArgs | undefined)?.event, pattern: (a as RunEventArgs | undefined)?.pattern }, true)),
      byItem('chefConsul.runCommand', (a) => this.runCommand(a instanceof vscode.TreeItem ? undefined : (a as RunCommandArgs | undefined))),
      registerCommand<{ id: string }, RunSnapshot | undefined>('chefConsul.getRun', (a) => this.getRun(a?.id), log),
      byItem('chefConsul.attachRun', (a) => this.attach(ref(a).id)),
      registerCommand<{ token: string }, boolean | undefined>(
        'chefConsul.setMetronomeToken',
        async (a) => {
          const token = a?.token ?? (await vscode.window.showInputBox({ title: vscode.l10n.t('metronome token'), prompt: vscode.l10n.t('Sent as the payload of events fired for metronome agents; kept in secret storage.'), password: true }));
          if (token === undefined) return undefined;
          await this.connections.setSecret(METRONOME_TOKEN_SECRET, token || undefined);
          return true;
        },
        log,
      ),
      byItem('chefConsul.cancelRun', (a) => this.cancel(ref(a).id ?? '')),
      byItem('chefConsul.retryFailed', (a) => {
        const r = ref(a);
        if (!r.id || r.phase === undefined) throw new CommandInputError(vscode.l10n.t('"id" and "phase" are required.'));
        return this.retryFailed({ id: r.id, phase: r.phase, confirm: (a as { confirm?: string })?.confirm, ignoreBusyNodes: (a as { ignoreBusyNodes?: boolean })?.ignoreBusyNodes }, a instanceof vscode.TreeItem);
      }),
      byItem('chefConsul.rerun', (a) => {
        const r = ref(a);
        if (!r.id) throw new CommandInputError(vscode.l10n.t('"id" is required.'));
        const x = a as { confirm?: string; ignoreBusyNodes?: boolean };
        return this.rerun({ id: r.id, confirm: x?.confirm, ignoreBusyNodes: x?.ignoreBusyNodes }, a instanceof vscode.TreeItem);
      }),
      // The run monitor's buttons: clicks, so they ask what a click must ask (production confirmation,
      // busy nodes, a recorded command shown before it runs again). Any caller of these gets the prompts.
      byItem('chefConsul.retryFailedFromEditor', (a) => {
        const r = ref(a);
        if (!r.id || r.phase === undefined) throw new CommandInputError(vscode.l10n.t('"id" and "phase" are required.'));
        return this.retryFailed({ id: r.id, phase: r.phase }, true);
      }),
      byItem('chefConsul.rerunFromEditor', (a) => {
        const r = ref(a);
        if (!r.id) throw new CommandInputError(vscode.l10n.t('"id" is required.'));
        return this.rerun({ id: r.id }, true);
      }),
      byItem('chefConsul.openNodeOutput', (a) => {
        const r = ref(a);
        if (!r.id || r.phase === undefined || !r.node) throw new CommandInputError(vscode.l10n.t('"id", "phase" and "node" are required.'));
        return this.openOutput(r as Ref);
      }),
    ];
  }
}
