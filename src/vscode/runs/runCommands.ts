/** Starting, following, cancelling and retrying runs from the editor. */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { eventReach } from '../../core/consul/events';
import { readCatalog } from '../../core/consul/nodeDump';
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
import { CommandInputError, registerCommand } from '../commands/register';
import type { PlanWorkspace } from '../plans/planWorkspace';
import { runOutputUri } from './runOutput';

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

export class RunCommands {
  /** Runs this editor started, by ID, for retry. */
  private readonly execRuns = new Map<string, ExecRun>();
  /** Where a run's progress notification takes extra news (e.g. whom it waits for). */
  private readonly progressNotes = new Map<string, (message: string) => void>();

  constructor(
    private readonly connections: ConnectionManager,
    private readonly registry: RunRegistry,
    private readonly plans: PlanWorkspace,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  private async mergedEvent(name: string, pattern?: string): Promise<MergedEvent> {
    await this.plans.ready();
    const merged = this.plans.mergedEvents().get(name);
    if (!merged) {
      const known = [...this.plans.mergedEvents().keys()].join(', ') || vscode.l10n.t('none');
      throw new CommandInputError(vscode.l10n.t('No task.yml in this workspace defines the event "{0}". Events: {1}.', name, known));
    }
    if (!pattern) return merged;
    const parts = merged.parts.filter((p) => p.pattern.name === pattern);
    if (!parts.length) throw new CommandInputError(vscode.l10n.t('Pattern "{0}" does not define the event "{1}".', pattern, name));
    return { name, parts, phases: parts.flatMap((p) => p.phases) };
  }

  /** Production profiles: a run reaching more than one node needs the profile's name typed. */
  private async confirmProduction(what: string, reach: number, confirm: string | undefined, interactive: boolean): Promise<boolean> {
    const state = await this.connections.connected();
    const profile = state.connection.profile;
    if (!profile.production || reach <= 1) return true;
    if (!interactive) {
      if (confirm === profile.name) return true;
      throw new CommandInputError(vscode.l10n.t('Profile "{0}" is production and {1} reaches {2} nodes: pass "confirm": "{0}" to run it.', profile.name, what, reach));
    }
    const typed = await vscode.window.showInputBox({
      title: vscode.l10n.t('Production: confirm the run'),
      prompt: vscode.l10n.t('{0} reaches {1} nodes of production profile "{2}". Type the profile name to run it.', what, reach, profile.name),
      ignoreFocusOut: true,
      validateInput: (v) => (v === profile.name ? undefined : vscode.l10n.t('Type "{0}"', profile.name)),
    });
    return typed === profile.name;
  }

  /** The catalog now: the live query's when it has one, else read once (never guessed empty). */
  private async catalogNodes(state: Awaited<ReturnType<ConnectionManager['connected']>>) {
    const c = state.catalog.current;
    return c.kind === 'ready' ? c.data.nodes : (await readCatalog(state.connection)).nodes;
  }

  async runEvent(args: { event?: string; pattern?: string; engine?: string; confirm?: string } | undefined): Promise<string | undefined> {
    const interactive = !args;
    let event = args?.event;
    if (!event) {
      await this.plans.ready();
      const names = [...this.plans.mergedEvents().values()].map((m) => ({ label: m.name, description: vscode.l10n.t('{0} phases · {1}', m.phases.length, m.parts.map((p) => p.pattern.name).join(', ')) }));
      if (!names.length) throw new CommandInputError(vscode.l10n.t('No task.yml with events in this workspace.'));
      event = (await vscode.window.showQuickPick(names, { placeHolder: vscode.l10n.t('Event to run, phase by phase') }))?.label;
      if (!event) return undefined;
    }
    const engine = args?.engine ?? vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('engine') ?? 'exec';
    if (engine !== 'exec' && engine !== 'metronome') throw new CommandInputError(vscode.l10n.t('Unknown engine "{0}": use "exec" or "metronome".', engine));
    const merged = await this.mergedEvent(event, args?.pattern);
    const state = await this.connections.connected();
    const nodes = await this.catalogNodes(state);
    const reach = new Set(merged.phases.flatMap((p) => phaseTargets(p, nodes))).size;
    if (!(await this.confirmProduction(vscode.l10n.t('event "{0}"', event), reach, args?.confirm, interactive))) return undefined;
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
      },
    });
    this.execRuns.set(exec.run.id, exec);
    // The registry forgets old finished runs; forget their engines with them.
    for (const id of this.execRuns.keys()) if (!this.registry.get(id)) this.execRuns.delete(id);
    this.follow(exec.run.id, vscode.l10n.t('Running "{0}"', event), exec.done);
    return exec.run.id;
  }

  async runCommand(args: { command?: string; node?: string; service?: string; tag?: string; confirm?: string } | undefined): Promise<string | undefined> {
    const interactive = !args;
    const state = await this.connections.connected();
    let req = args;
    if (!req) {
      const command = await vscode.window.showInputBox({ title: vscode.l10n.t('Run Command on Nodes (1/2)'), prompt: vscode.l10n.t('Shell command') });
      if (!command) return undefined;
      const picked = await vscode.window.showQuickPick(
        (await this.catalogNodes(state)).map((n) => ({ label: n.name, description: n.address })),
        { title: vscode.l10n.t('Run Command on Nodes (2/2)'), canPickMany: true, placeHolder: vscode.l10n.t('Nodes to run it on') },
      );
      if (!picked?.length) return undefined;
      req = { command, node: `^(${picked.map((p) => escapeRegex(p.label)).join('|')})$` };
    }
    if (!req.command?.trim()) throw new CommandInputError(vscode.l10n.t('"command" is required.'));
    const reach = eventReach(await this.catalogNodes(state), req).length;
    if (!(await this.confirmProduction(vscode.l10n.t('the command'), reach, req.confirm, interactive))) return undefined;
    const adhoc = new AdhocRun(state.connection, this.registry, { command: req.command, node: req.node, service: req.service, tag: req.tag, startedBy: startedBy() });
    this.follow(adhoc.run.id, vscode.l10n.t('Running "{0}"', req.command), adhoc.done);
    return adhoc.run.id;
  }

  /** Progress while it runs (with Cancel), a notification with a jump to the failure when it fails. */
  private follow(id: string, title: string, done: Promise<RunSnapshot>): void {
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      token.onCancellationRequested(() => this.registry.cancel(id));
      this.progressNotes.set(id, (message) => progress.report({ message }));
      const sub = this.registry.onDidChange((s) => {
        if (s.id !== id) return;
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
    const choice = await vscode.window.showErrorMessage(
      vscode.l10n.t('Run "{0}" ended {1}: {2}', run.event ?? run.command ?? run.id, run.status, run.message ?? ''),
      show,
    );
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

  async retryFailed(id: string, phase: number): Promise<string> {
    const exec = this.registry.get(id) ? this.execRuns.get(id) : undefined;
    if (!exec) throw new CommandInputError(vscode.l10n.t('Run {0} was not started by this editor: use Re-run.', id));
    if (!isFinished(exec.run.status)) throw new CommandInputError(vscode.l10n.t('Run {0} is still running.', id));
    const done = exec.retryFailed(phase);
    this.follow(id, vscode.l10n.t('Retrying phase {0} of "{1}"', phase + 1, exec.run.snapshot().event ?? id), done);
    return id;
  }

  async rerun(id: string): Promise<string | undefined> {
    const run = await this.getRun(id);
    if (!run) throw new CommandInputError(vscode.l10n.t('No run {0} in this cluster\'s history.', id));
    if (run.engine === 'adhoc') {
      // Without its recorded filters a command would go to every node: refuse instead.
      if (!run.command || !run.target) throw new CommandInputError(vscode.l10n.t('Run {0} does not record which nodes its command ran on; run it again with Run Command on Nodes.', id));
      return this.runCommand({ command: run.command, ...run.target });
    }
    if (!run.event) throw new CommandInputError(vscode.l10n.t('Run {0} names no event to run again.', id));
    return this.runEvent({ event: run.event });
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
        id: x?.id ?? x?.run?.id,
        phase: typeof x?.phase === 'number' ? x.phase : x?.phase?.no,
        node: typeof x?.node === 'string' ? x.node : x?.node?.node,
      };
    };
    const byItem = (id: string, fn: (a: unknown) => unknown) =>
      vscode.commands.registerCommand(id, async (a?: unknown) => {
        try {
          return await fn(a);
        } catch (e) {
          log.error(`${id}: ${(e as Error).message}`);
          void vscode.window.showErrorMessage((e as Error).message);
          throw e;
        }
      });
    return [
      registerCommand('chefConsul.runEvent', (a) => this.runEvent(a as never), log),
      registerCommand('chefConsul.runCommand', (a) => this.runCommand(a as never), log),
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
        return this.retryFailed(r.id, r.phase);
      }),
      byItem('chefConsul.rerun', (a) => this.rerun(ref(a).id ?? '')),
      byItem('chefConsul.openNodeOutput', (a) => {
        const r = ref(a);
        if (!r.id || r.phase === undefined || !r.node) throw new CommandInputError(vscode.l10n.t('"id", "phase" and "node" are required.'));
        return this.openOutput(r as Ref);
      }),
    ];
  }
}
