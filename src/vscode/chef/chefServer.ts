/**
 * The active Chef server: profiles from the `chefConsul.chef.profiles`
 * setting and from ~/.chef (credentials, knife.rb, config.rb), the one tied
 * to the active Consul profile (or chosen), its signed client, and the node
 * inventory the Chef view and the Nodes view's join share — one partial search
 * for the nodes and one Reporting listing for every node's last run.
 */
import * as vscode from 'vscode';
import type { ChefServerProfile } from '../../core/chef/chefProfiles';
import { mergeChefProfiles, pickActiveChefProfile, whyNoActiveChefProfile } from '../../core/chef/chefProfiles';
import { ChefApi, ChefNodeSummary } from '../../core/chef/server/chefApi';
import { ChefServerClient, ChefServerError } from '../../core/chef/server/chefServerClient';
import { readCaFiles, readChefProfiles } from '../../core/chef/server/credentials';
import { lastRunsByNode } from '../../core/chef/server/reporting';
import type { ChefRunSummary } from '../../core/chef/server/reporting';
import type { ConnectionManager } from '../connectionManager';

export const CHEF_SECTION = 'chefConsul.chef';
/** How far back "last run" looks: nodes without a run in this window show none. */
const LAST_RUN_WINDOW_MS = 24 * 3_600_000;

export type ChefServerState =
  | { kind: 'none'; problems: string[]; /** Why none is active although there are profiles. */ reason?: string }
  | { kind: 'ready'; profile: ChefServerProfile; client: ChefServerClient; api: ChefApi }
  | { kind: 'invalid'; profile: ChefServerProfile; message: string };

export type ChefInventoryState =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'ready'; nodes: ChefNodeSummary[]; lastRuns: Map<string, ChefRunSummary>; reportingError?: string; loadedAt: number }
  | { kind: 'error'; error: Error; errorKind?: string };

export class ChefServerConnection implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** The profile or its client changed. */
  readonly onDidChange = this.changed.event;
  private readonly inventoryChanged = new vscode.EventEmitter<ChefInventoryState>();
  /** Nodes and last runs loaded (or failed). */
  readonly onDidChangeInventory = this.inventoryChanged.event;
  private profilesValue: ChefServerProfile[] = [];
  private problemsValue: string[] = [];
  private stateValue: ChefServerState = { kind: 'none', problems: [] };
  private inventoryValue: ChefInventoryState = { kind: 'idle' };
  private loadSeq = 0;
  private loading: Promise<ChefInventoryState> | undefined;
  private generation = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private lastConsulProfile: string | undefined;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly log: vscode.LogOutputChannel,
    /** Where knife's files are (tests point it elsewhere); default ~/.chef. */
    private readonly chefDir?: string,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CHEF_SECTION}.profiles`) || e.affectsConfiguration(`${CHEF_SECTION}.activeProfile`) || e.affectsConfiguration(`${CHEF_SECTION}.readKnifeConfig`)) void this.reload();
      }),
      // A Chef profile tied to a Consul profile follows it.
      connections.onDidChange(() => {
        const consul = this.consulProfileName();
        if (consul !== this.lastConsulProfile) void this.reload();
      }),
    );
  }

  get profiles(): readonly ChefServerProfile[] {
    return this.profilesValue;
  }

  /** What could not be read from the setting or ~/.chef, one sentence each. */
  get problems(): readonly string[] {
    return this.problemsValue;
  }

  get state(): ChefServerState {
    return this.stateValue;
  }

  get inventory(): ChefInventoryState {
    return this.inventoryValue;
  }

  private consulProfileName(): string | undefined {
    try {
      return this.connections.activeProfile().name;
    } catch {
      return undefined;
    }
  }

  /** Reads the profiles again and connects to the active one (no request is made until something asks). */
  async reload(): Promise<ChefServerState> {
    const config = vscode.workspace.getConfiguration(CHEF_SECTION);
    const settings = config.get<unknown[]>('profiles') ?? [];
    const fromFiles = config.get<boolean>('readKnifeConfig', true) ? await readChefProfiles(this.chefDir ? { chefDir: this.chefDir } : {}) : { profiles: [], problems: [] };
    const merged = mergeChefProfiles(Array.isArray(settings) ? settings : [], fromFiles.profiles);
    this.profilesValue = merged.profiles;
    this.problemsValue = [...merged.problems, ...fromFiles.problems.map((p) => (p.message.startsWith(p.file) ? p.message : `${p.file}: ${p.message}`))];
    for (const p of this.problemsValue) this.log.warn(`Chef profiles: ${p}`);
    this.lastConsulProfile = this.consulProfileName();
    const active = pickActiveChefProfile(this.profilesValue, config.get<string>('activeProfile') || undefined, this.lastConsulProfile);
    const previous = this.stateValue;
    const activeName = config.get<string>('activeProfile') || undefined;
    if (!active) this.stateValue = { kind: 'none', problems: this.problemsValue, reason: whyNoActiveChefProfile(this.profilesValue, activeName, this.lastConsulProfile) };
    else if (previous.kind !== 'none' && sameProfile(previous.profile, active)) return previous;
    else {
      try {
        const client = new ChefServerClient({
          serverUrl: active.serverUrl,
          clientName: active.clientName,
          clientKeyPath: active.clientKey,
          signVersion: active.signVersion,
          ca: active.caFiles?.length ? readCaFiles(active.caFiles) : undefined,
          verifyTls: active.verifyTls ?? true,
        });
        this.stateValue = { kind: 'ready', profile: active, client, api: new ChefApi(client) };
        // The key's path may be logged; its content never is.
        this.log.info(`Chef server: profile "${active.name}" (${active.serverUrl} as ${active.clientName}, key ${active.clientKey}, from ${active.source})`);
      } catch (e) {
        this.stateValue = { kind: 'invalid', profile: active, message: (e as Error).message };
      }
    }
    this.generation++;
    this.setInventory({ kind: 'idle' });
    this.loading = undefined;
    await vscode.commands.executeCommand('setContext', 'chefConsul.chef.hasProfile', this.stateValue.kind !== 'none');
    await vscode.commands.executeCommand('setContext', 'chefConsul.chef.noActiveProfile', this.stateValue.kind === 'none' && !!this.stateValue.reason);
    this.changed.fire();
    return this.stateValue;
  }

  /** The ready client, or an error saying why there is none. */
  ready(): Extract<ChefServerState, { kind: 'ready' }> {
    const s = this.stateValue;
    if (s.kind === 'ready') return s;
    if (s.kind === 'invalid') throw new ChefServerError('unreachable', s.message);
    if (s.reason) throw new Error(vscode.l10n.t('No active Chef server profile: {0}. Select one (Chef: Select Profile).', s.reason));
    throw new Error(vscode.l10n.t('No Chef server profile: add one in the setting chefConsul.chef.profiles or in ~/.chef/credentials.'));
  }

  /**
   * Nodes (paged partial search) and each node's last run (one org-wide
   * Reporting listing), loaded once and shared; `force` loads again.
   */
  loadInventory(force = false): Promise<ChefInventoryState> {
    if (this.loading && !force) return this.loading;
    if (!force && this.inventoryValue.kind === 'ready') return Promise.resolve(this.inventoryValue);
    const generation = this.generation;
    const run = async (): Promise<ChefInventoryState> => {
      let s: Extract<ChefServerState, { kind: 'ready' }>;
      try {
        s = this.ready();
      } catch (e) {
        return { kind: 'error', error: e as Error, errorKind: e instanceof ChefServerError ? e.kind : undefined };
      }
      if (this.inventoryValue.kind !== 'ready') this.setInventory({ kind: 'loading' });
      try {
        const [nodes, runs] = await Promise.all([
          s.api.searchNodes(),
          lastRunsByNode(s.client, { from: Date.now() - LAST_RUN_WINDOW_MS }).then(
            (m) => ({ m, error: undefined as string | undefined }),
            // A server without Reporting (or a client that may not list runs) still lists nodes.
            (e: unknown) => ({ m: new Map<string, ChefRunSummary>(), error: (e as Error).message }),
          ),
        ]);
        const state: ChefInventoryState = { kind: 'ready', nodes, lastRuns: runs.m, loadedAt: Date.now() };
        if (runs.error) {
          state.reportingError = runs.error;
          this.log.warn(`Chef Reporting: ${runs.error}`);
        }
        return state;
      } catch (e) {
        this.log.error(`Chef server: ${(e as Error).message}`);
        return { kind: 'error', error: e as Error, errorKind: e instanceof ChefServerError ? e.kind : undefined };
      }
    };
    // Loads may overlap (a forced one while another runs): only the latest started is shown.
    const seq = ++this.loadSeq;
    const p = run().then((state) => {
      if (generation === this.generation && seq === this.loadSeq) {
        this.loading = undefined;
        this.setInventory(state);
      }
      return state;
    });
    this.loading = p;
    return p;
  }

  private setInventory(state: ChefInventoryState): void {
    this.inventoryValue = state;
    const failure = this.failureKind;
    void vscode.commands.executeCommand('setContext', 'chefConsul.chef.failed', failure !== undefined);
    // Which welcome the Chef view shows: one per kind of failure (the exact reason is Test Connection's answer).
    void vscode.commands.executeCommand('setContext', 'chefConsul.chef.failure', failure ?? '');
    this.inventoryChanged.fire(state);
  }

  /** The ChefServerError kind of the last failure (`invalid-profile` for a profile that cannot be used, `error` for others); undefined while all is well. */
  get failureKind(): string | undefined {
    if (this.stateValue.kind === 'invalid') return 'invalid-profile';
    return this.inventoryValue.kind === 'error' ? (this.inventoryValue.errorKind ?? 'error') : undefined;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
    this.changed.dispose();
    this.inventoryChanged.dispose();
  }
}

function sameProfile(a: ChefServerProfile, b: ChefServerProfile): boolean {
  return (
    a.name === b.name &&
    a.serverUrl === b.serverUrl &&
    a.clientName === b.clientName &&
    a.clientKey === b.clientKey &&
    a.signVersion === b.signVersion &&
    (a.caFiles ?? []).join('\n') === (b.caFiles ?? []).join('\n') &&
    a.verifyTls === b.verifyTls
  );
}

/** `goiardi 0.11.10 (Chef Server API 11.1.7)` or the Chef server's own version, from the X-Ops-API-Info header. */
export function serverVersionOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const info = String(headers['x-ops-api-info'] ?? '');
  const version = /version[:=]([\w.-]+)/.exec(info)?.[1];
  const goiardi = headers['x-goiardi-version'];
  if (goiardi) return `goiardi ${String(goiardi)}${version ? ` (Chef Server API ${version})` : ''}`;
  const flavor = /flavor=(\w+)/.exec(info)?.[1];
  return version ? `Chef Server ${version}${flavor ? ` (${flavor})` : ''}` : undefined;
}
