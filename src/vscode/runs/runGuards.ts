/**
 * What stands between a click and commands on a fleet: the production
 * profile's typed confirmation, plans metronome would refuse, and nodes that
 * another run is working on. Interactive paths ask; calls with argument
 * objects must carry the answer (`confirm`, `ignoreBusyNodes`) or are refused.
 */
import * as vscode from 'vscode';
import { readCatalog } from '../../core/consul/nodeDump';
import type { MergedEvent } from '../../core/plans/merge';
import { blockingErrors, describeErrors, execEngineGaps } from '../../core/plans/runnable';
import { listRuns, readRun } from '../../core/runs/history';
import { FINISHED_NODE, isFinished } from '../../core/runs/model';
import type { RunRegistry } from '../../core/runs/registry';
import type { ConnectionManager } from '../connectionManager';
import { CommandInputError } from '../commands/register';
import { confirmProduction } from '../production';
import type { PlanWorkspace } from '../plans/planWorkspace';
import { toRange } from '../plans/planDiagnostics';

export type Connected = Awaited<ReturnType<ConnectionManager['connected']>>;

export class RunGuards {
  constructor(
    private readonly connections: ConnectionManager,
    private readonly registry: RunRegistry,
    private readonly plans: PlanWorkspace,
  ) {}

  /** The catalog now: the live query's when it has one, else read once (never guessed empty). */
  async catalogNodes(state: Connected) {
    const c = state.catalog.current;
    return c.kind === 'ready' ? c.data.nodes : (await readCatalog(state.connection)).nodes;
  }

  /**
   * Production profiles: work reaching more than one node needs the profile's
   * name typed. Asks when interactive; otherwise `confirm` must be the name.
   */
  /** `certain`: the reach is an exact list of named nodes (see production.ts). */
  confirmProduction(state: Connected, what: string, reach: number, confirm: string | undefined, interactive: boolean, certain = false): Promise<boolean> {
    return confirmProduction(state.connection.profile, what, reach, confirm, interactive, 'nodes', certain);
  }

  /** Refuses an event whose task.yml files hold an error metronome would refuse, with a jump to the first. */
  refuseBrokenPlans(merged: MergedEvent, engine: 'exec' | 'metronome'): void {
    const files = this.plans.all().map((f) => ({ filePath: f.uri.fsPath, plan: f.plan, diagnostics: f.diagnostics }));
    const errors = blockingErrors(merged, files);
    const gaps = engine === 'exec' ? execEngineGaps(merged) : [];
    if (!errors.length && !gaps.length) return;
    const message = errors.length
      ? vscode.l10n.t(
          'Run of "{0}" refused: its task.yml has {1} error(s) that metronome would refuse, and nothing was sent.\n{2}',
          merged.name,
          errors.length,
          describeErrors(errors),
        )
      : vscode.l10n.t(
          'Run of "{0}" refused: the exec engine cannot do everything its task.yml asks, and nothing was sent (run it with the metronome engine).\n{1}',
          merged.name,
          describeErrors(gaps),
        );
    errors.push(...gaps);
    const first = errors[0];
    throw new CommandInputError(message, {
      title: vscode.l10n.t('Go to First Error'),
      run: async () => {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(first.filePath));
        await vscode.window.showTextDocument(doc, { selection: toRange(first.diagnostic.range) });
      },
    });
  }

  /**
   * Runs under way (ours, teammates', metronome's, ad-hoc) whose current
   * phase is working on any of `nodes`, as "what (by whom): nodes".
   */
  async busyWith(state: Connected, nodes: readonly string[]): Promise<string[]> {
    const wanted = new Set(nodes);
    const live = new Map(this.registry.all().map((r) => [r.id, r.snapshot()]));
    const recorded = await listRuns(state.connection, live);
    const found: string[] = [];
    for (const summary of recorded) {
      if (isFinished(summary.status)) continue;
      const run = live.get(summary.id) ?? (await readRun(state.connection, summary.id));
      if (!run || isFinished(run.status)) continue;
      const working = run.phases
        .filter((p) => p.status === 'running')
        .flatMap((p) => p.nodes.filter((n) => !FINISHED_NODE.includes(n.status)).map((n) => n.node))
        .filter((n) => wanted.has(n));
      if (working.length) found.push(`${run.event ?? run.command ?? run.id} (${run.engine}, ${run.startedBy}): ${[...new Set(working)].join(', ')}`);
    }
    return found;
  }

  /** Says which runs are working on these nodes and asks first; false when the user declines. */
  async confirmNotBusy(state: Connected, what: string, nodes: readonly string[], ignoreBusyNodes: boolean | undefined, interactive: boolean): Promise<boolean> {
    if (ignoreBusyNodes) return true;
    const busy = await this.busyWith(state, nodes);
    if (!busy.length) return true;
    const list = busy.join('; ');
    if (!interactive) {
      throw new CommandInputError(vscode.l10n.t('{0} would reach nodes another run is working on: {1}. Pass "ignoreBusyNodes": true to run it anyway.', what, list));
    }
    const go = vscode.l10n.t('Run Anyway');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('{0} would reach nodes another run is working on', what),
      { modal: true, detail: list },
      go,
    );
    return choice === go;
  }
}

