/**
 * Owns the active Consul connection: the profile from settings (or the consul
 * CLI's environment), its token from SecretStorage, the datacenter chosen, and
 * the one live catalog query every view shares.
 */
import { createHash } from 'node:crypto';
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
  profileFromEnvironment,
} from '../core/consul/profile';
import { parseStoredToken, StoredToken, tokenBinding } from '../core/consul/tokenBinding';

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

const SECRET_PREFIX = 'chefConsul.';
const MASKED_STATE_KEY = 'chefConsul.maskedPayloadDigests';

/** How secret payloads are remembered for masking: a digest, never the value. */
export function secretDigest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** What the stored token of a profile means for the profile as it is configured now. */
export type TokenLookup =
  | { kind: 'none' }
  | { kind: 'bound'; token: string }
  /** Saved for another address (or before tokens were bound): not sent until the user says so. */
  | { kind: 'mismatch'; savedFor: string | undefined; now: string };

export class ConnectionManager implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ConnectionState>();
  readonly onDidChange = this.emitter.event;
  private current: ConnectionState | undefined;
  private generation = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly secretEmitter = new vscode.EventEmitter<string>();
  /** Fires the name of a per-profile secret (e.g. the metronome token) of the active profile that changed. */
  readonly onDidChangeSecret = this.secretEmitter.event;
  /** Mismatched tokens already asked about in this window, by profile and address: ask once. */
  private readonly askedAbout = new Set<string>();

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
        const active = this.activeProfile().name;
        if (e.key === tokenKey(active)) void this.reconnect();
        else if (e.key.startsWith(SECRET_PREFIX) && e.key.endsWith(`.${active}`)) {
          this.secretEmitter.fire(e.key.slice(SECRET_PREFIX.length, -(active.length + 1)));
        }
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

  /**
   * The token to send to the profile as configured now. A stored token goes
   * only to the address (and TLS server name) it was saved for: a profile
   * redefined elsewhere does not receive it.
   */
  async lookupToken(profile: ConnectionProfile): Promise<TokenLookup> {
    const raw = await this.context.secrets.get(tokenKey(profile.name));
    if (raw) {
      const stored = parseStoredToken(raw);
      const now = tokenBinding(profile);
      if (stored?.boundTo === now) return { kind: 'bound', token: stored.token };
      return { kind: 'mismatch', savedFor: stored?.boundTo, now };
    }
    // CONSUL_HTTP_TOKEN belongs to CONSUL_HTTP_ADDR: a configured profile that took the name "Environment" elsewhere does not get it.
    const isEnvironment = profile.name === ENVIRONMENT_PROFILE_NAME && tokenBinding(profile) === tokenBinding(profileFromEnvironment(this.env));
    const fromEnv = isEnvironment ? tokenFromEnvironment(this.env) : undefined;
    return fromEnv ? { kind: 'bound', token: fromEnv } : { kind: 'none' };
  }

  async token(profileName: string): Promise<string | undefined> {
    const profile = this.profiles().find((p) => p.name === profileName);
    if (!profile) return undefined;
    const found = await this.lookupToken(profile);
    return found.kind === 'bound' ? found.token : undefined;
  }

  /** Stores the token bound to where the profile points now. */
  async setToken(profileName: string, token: string | undefined): Promise<void> {
    const profile = this.profiles().find((p) => p.name === profileName);
    if (token && profile) {
      const stored: StoredToken = { token, boundTo: tokenBinding(profile) };
      await this.context.secrets.store(tokenKey(profileName), JSON.stringify(stored));
    } else await this.context.secrets.delete(tokenKey(profileName));
  }

  /** Says that a token was held back, once per profile and address, and offers to send or forget it. */
  private askAboutMismatch(profile: ConnectionProfile, found: Extract<TokenLookup, { kind: 'mismatch' }>): void {
    const key = `${profile.name}\n${found.now}`;
    if (this.askedAbout.has(key)) return;
    this.askedAbout.add(key);
    const send = vscode.l10n.t('Send It to {0}', found.now);
    const forget = vscode.l10n.t('Forget the Token');
    const message = found.savedFor
      ? vscode.l10n.t('The ACL token of profile "{0}" was saved for {1}, but the profile now points at {2}. It was not sent.', profile.name, found.savedFor, found.now)
      : vscode.l10n.t('The ACL token of profile "{0}" was saved before tokens were bound to an address. It was not sent to {1}.', profile.name, found.now);
    void vscode.window.showWarningMessage(message, send, forget).then(async (choice) => {
      if (choice === send) {
        // Only to the address the user was shown: if the profile moved again meanwhile, ask again.
        const now = this.profiles().find((p) => p.name === profile.name);
        if (!now || tokenBinding(now) !== found.now) {
          this.askedAbout.delete(key);
          void vscode.window.showWarningMessage(vscode.l10n.t('Profile "{0}" changed again; its token was not sent.', profile.name));
          return;
        }
        const raw = await this.context.secrets.get(tokenKey(profile.name));
        const stored = raw ? parseStoredToken(raw) : undefined;
        if (stored) await this.setToken(profile.name, stored.token);
      } else if (choice === forget) {
        await this.setToken(profile.name, undefined);
      }
    });
  }

  /** The live connection, connecting first if needed; throws the reason when the profile is unusable. */
  async connected(): Promise<Extract<ConnectionState, { kind: 'connected' }>> {
    const state = this.current ?? (await this.reconnect());
    if (state.kind === 'invalid') throw new Error(state.message);
    return state;
  }

  /** A per-profile secret other than the ACL token (e.g. the metronome token). */
  async secret(name: string): Promise<string | undefined> {
    const profile = this.activeProfile();
    const raw = await this.context.secrets.get(`chefConsul.${name}.${profile.name}`);
    if (!raw) return undefined;
    // Bound like the ACL token: a profile moved elsewhere does not get it (fired as an event payload, it would be sent there).
    const stored = parseStoredToken(raw);
    if (stored && stored.boundTo === tokenBinding(profile)) return stored.token;
    this.log.warn(`Profile "${profile.name}": its ${name} was saved for ${stored?.boundTo ?? 'an unknown address'}, not ${tokenBinding(profile)}; not using it. Set it again for this address.`);
    return undefined;
  }

  async setSecret(name: string, value: string | undefined): Promise<void> {
    const profile = this.activeProfile();
    const key = `chefConsul.${name}.${profile.name}`;
    if (value) {
      await this.rememberMasked(value);
      await this.context.secrets.store(key, JSON.stringify({ token: value, boundTo: tokenBinding(profile) } satisfies StoredToken));
    } else await this.context.secrets.delete(key);
    // At once, not only when secret storage says so: views that hide it must know before anyone fires it.
    this.secretEmitter.fire(name);
  }

  /**
   * Digests of every secret payload ever set here, so that views keep hiding
   * old values (still in agents' event buffers) after a secret was rotated or cleared.
   */
  maskedDigests(): ReadonlySet<string> {
    return new Set(this.context.globalState.get<string[]>(MASKED_STATE_KEY) ?? []);
  }

  private async rememberMasked(value: string): Promise<void> {
    const digest = secretDigest(value);
    const known = (this.context.globalState.get<string[]>(MASKED_STATE_KEY) ?? []).filter((d) => d !== digest);
    await this.context.globalState.update(MASKED_STATE_KEY, [digest, ...known].slice(0, 50));
  }

  /** Drops the current connection and builds one from the settings in force. */
  async reconnect(): Promise<ConnectionState> {
    const generation = ++this.generation;
    const profile = this.activeProfile();
    const datacenter = this.datacenterOverride(profile.name) ?? profile.datacenter;
    let next: ConnectionState;
    try {
      const found = await this.lookupToken(profile);
      if (found.kind === 'mismatch') {
        this.log.warn(`Profile "${profile.name}": its stored ACL token was saved for ${found.savedFor ?? 'an unknown address'}, not ${found.now}; connecting without it.`);
        this.askAboutMismatch(profile, found);
      }
      const connection = await connect({ ...profile, datacenter }, found.kind === 'bound' ? found.token : undefined);
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
    this.secretEmitter.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
