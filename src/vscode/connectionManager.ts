/**
 * Owns the active Consul connection: the profile from settings (or the consul
 * CLI's environment), its token from SecretStorage, the datacenter chosen, and
 * the one live catalog query every view shares.
 */
import * as vscode from 'vscode';
import { connect, ConsulConnection } from '../core/consul/client';
import { CatalogSnapshot } from '../core/consul/catalog';
import { LiveQuery } from '../core/consul/liveQuery';
import { NODE_DUMP_PATH, nodeDumpMethod } from '../core/consul/nodeDump';
import { snapshotFromNodeDump } from '../core/consul/catalog';
import {
  allProfiles,
  ConnectionProfile,
  resolveActiveProfile,
  tokenFromEnvironment,
  validateProfile,
  ENVIRONMENT_PROFILE_NAME,
} from '../core/consul/profile';

export const CONFIG_SECTION = 'chefConsul';
const DATACENTER_STATE_KEY = 'chefConsul.datacenter';
/** The metronome token: sent as the payload of events for metronome agents, never shown. */
export const METRONOME_TOKEN_SECRET = 'metronomeToken';

export type ConnectionState =
  | { kind: 'connected'; connection: ConsulConnection; catalog: LiveQuery<CatalogSnapshot> }
  | { kind: 'invalid'; profileName: string; message: string };

function tokenKey(profileName: string): string {
  return `chefConsul.token.${profileName}`;
}

export class ConnectionManager implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ConnectionState>();
  readonly onDidChange = this.emitter.event;
  private current: ConnectionState | undefined;
  private generation = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        // Only what a connection is made of: other settings must not reset running work.
        if (e.affectsConfiguration(`${CONFIG_SECTION}.profiles`) || e.affectsConfiguration(`${CONFIG_SECTION}.activeProfile`)) void this.reconnect();
      }),
      context.secrets.onDidChange((e) => {
        if (e.key === tokenKey(this.activeProfile().name)) void this.reconnect();
      }),
    );
  }

  get state(): ConnectionState | undefined {
    return this.current;
  }

  configuredProfiles(): ConnectionProfile[] {
    const raw = vscode.workspace.getConfiguration(CONFIG_SECTION).get<unknown[]>('profiles') ?? [];
    const valid: ConnectionProfile[] = [];
    for (const p of raw) {
      const problems = validateProfile(p);
      if (problems.length) {
        this.log.warn(`Ignoring profile ${JSON.stringify((p as { name?: unknown })?.name ?? '?')}: ${problems.join('; ')}`);
      } else {
        valid.push(p as ConnectionProfile);
      }
    }
    return valid;
  }

  profiles(): ConnectionProfile[] {
    return allProfiles(this.configuredProfiles(), this.env);
  }

  activeProfile(): ConnectionProfile {
    const active = vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('activeProfile') || undefined;
    return resolveActiveProfile(this.configuredProfiles(), active, this.env);
  }

  /** The datacenter picked with "Select Datacenter", per profile; else the profile's. */
  datacenterOverride(profileName: string): string | undefined {
    return this.context.globalState.get<Record<string, string>>(DATACENTER_STATE_KEY)?.[profileName];
  }

  async setDatacenter(datacenter: string | undefined): Promise<void> {
    const all = { ...(this.context.globalState.get<Record<string, string>>(DATACENTER_STATE_KEY) ?? {}) };
    const name = this.activeProfile().name;
    if (datacenter) all[name] = datacenter;
    else delete all[name];
    await this.context.globalState.update(DATACENTER_STATE_KEY, all);
    await this.reconnect();
  }

  async token(profileName: string): Promise<string | undefined> {
    const stored = await this.context.secrets.get(tokenKey(profileName));
    if (stored) return stored;
    return profileName === ENVIRONMENT_PROFILE_NAME ? tokenFromEnvironment(this.env) : undefined;
  }

  async setToken(profileName: string, token: string | undefined): Promise<void> {
    if (token) await this.context.secrets.store(tokenKey(profileName), token);
    else await this.context.secrets.delete(tokenKey(profileName));
  }

  /** The live connection, connecting first if needed; throws the reason when the profile is unusable. */
  async connected(): Promise<Extract<ConnectionState, { kind: 'connected' }>> {
    const state = this.current ?? (await this.reconnect());
    if (state.kind === 'invalid') throw new Error(state.message);
    return state;
  }

  /** A per-profile secret other than the ACL token (e.g. the metronome token). */
  async secret(name: string): Promise<string | undefined> {
    return (await this.context.secrets.get(`chefConsul.${name}.${this.activeProfile().name}`)) || undefined;
  }

  async setSecret(name: string, value: string | undefined): Promise<void> {
    const key = `chefConsul.${name}.${this.activeProfile().name}`;
    if (value) await this.context.secrets.store(key, value);
    else await this.context.secrets.delete(key);
  }

  /** Drops the current connection and builds one from the settings in force. */
  async reconnect(): Promise<ConnectionState> {
    const generation = ++this.generation;
    const profile = this.activeProfile();
    const datacenter = this.datacenterOverride(profile.name) ?? profile.datacenter;
    let next: ConnectionState;
    try {
      const connection = await connect({ ...profile, datacenter }, await this.token(profile.name));
      const catalog = new LiveQuery<CatalogSnapshot>(connection, {
        method: nodeDumpMethod,
        path: NODE_DUMP_PATH,
        transform: snapshotFromNodeDump,
      });
      next = { kind: 'connected', connection, catalog };
      this.log.info(`Using profile "${profile.name}" at ${connection.address}${datacenter ? ` (datacenter ${datacenter})` : ''}`);
    } catch (e) {
      next = { kind: 'invalid', profileName: profile.name, message: (e as Error).message };
      this.log.error(`Profile "${profile.name}": ${(e as Error).message}`);
    }
    if (generation !== this.generation) {
      if (next.kind === 'connected') this.release(next);
      return this.current ?? next;
    }
    const previous = this.current;
    this.current = next;
    await vscode.commands.executeCommand('setContext', 'chefConsul.connectionState', next.kind);
    this.emitter.fire(next);
    if (previous?.kind === 'connected') this.release(previous);
    return next;
  }

  private release(state: Extract<ConnectionState, { kind: 'connected' }>): void {
    state.catalog.dispose();
    state.connection.dispose();
  }

  dispose(): void {
    if (this.current?.kind === 'connected') this.release(this.current);
    this.emitter.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
