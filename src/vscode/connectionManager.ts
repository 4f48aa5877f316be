/**
 * Owns the active Consul connection: the profile from settings (or the consul
 * CLI's environment), its token from SecretStorage, the datacenter chosen, and
 * the one live catalog query and the one event-buffer query that every view and
 * watch shares.
 */
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import { connect, ConsulConnection } from '../core/consul/client';
import { CatalogSnapshot } from '../core/consul/catalog';
import { LiveQuery } from '../core/consul/liveQuery';
import { NODE_DUMP_PATH, nodeDumpMethod } from '../core/consul/nodeDump';
import { call } from '../core/consul/client';
import { AclDeniedError, AclTokenNotFoundError, ConsulError, ConsulHttpError, TlsError, toConsulError, UnreachableError } from '../core/consul/errors';
import { snapshotFromNodeDump } from '../core/consul/catalog';
import { eventBufferQuery } from '../core/watches/queries';
import {
  allProfiles,
  ConnectionProfile,
  resolveActiveProfile,
  tokenFromEnvironment,
  profileNameClash,
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
  | {
      kind: 'connected';
      connection: ConsulConnection;
      catalog: LiveQuery<CatalogSnapshot>;
      /** The agent's event buffer, raw (eventBufferQuery): the Events view and event watches share it. */
      events: LiveQuery<unknown>;
    }
  | { kind: 'invalid'; profileName: string; message: string };

/**
 * Whether a usable profile's agent answers: checked once on connecting (one
 * small catalog read), then by the shared catalog query while a view follows
 * it, and again on a growing timer while it fails.
 */
export type ConnectionHealth =
  | { kind: 'checking' }
  | { kind: 'ok' }
  | { kind: 'failed'; failure: FailureKind; error: ConsulError };

/** The `chefConsul.connectionFailure` context key: which welcome content a failed connection shows. */
export type FailureKind = 'unreachable' | 'tls' | 'forbidden' | 'http';

export function failureKind(error: ConsulError): FailureKind {
  switch (error.kind) {
    case 'unreachable':
      return 'unreachable';
    case 'tls':
      return 'tls';
    case 'aclDenied':
    case 'aclTokenNotFound':
      return 'forbidden';
    default:
      return 'http';
  }
}

/** The path the connection check reads: small (service names and tags), and denied like the catalog when the token is unknown. */
export const PROBE_PATH = '/v1/catalog/services';
const RECHECK_MS = [5_000, 10_000, 30_000, 60_000];

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
  private healthValue: ConnectionHealth = { kind: 'checking' };
  private readonly healthEmitter = new vscode.EventEmitter<ConnectionHealth>();
  /** Fires when the connection starts or stops answering (views show the failure's welcome content). */
  readonly onDidChangeHealth = this.healthEmitter.event;
  private recheckTimer: NodeJS.Timeout | undefined;
  private recheckAttempt = 0;
  private catalogSubscription: vscode.Disposable | undefined;
  private readonly contextValues: Record<string, string | boolean | undefined> = {};

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

  /** Whether the current connection answers; `checking` before the first answer. */
  get health(): ConnectionHealth {
    return this.current?.kind === 'connected' ? this.healthValue : { kind: 'checking' };
  }

  /** The failure of the current connection, when it has one (views show it above their welcome content). */
  get failure(): Extract<ConnectionHealth, { kind: 'failed' }> | undefined {
    const h = this.health;
    return h.kind === 'failed' ? h : undefined;
  }

  /** Why there is no usable connection (the profile's problem, or the agent's failure), else undefined. */
  get reason(): string | undefined {
    const state = this.current;
    if (state?.kind === 'invalid') return state.message;
    return this.failure?.error.message;
  }

  /**
   * The reason in a few words, for the views' title bar while their welcome content shows
   * (a view message would hide it): "connection refused (is the agent running?)", "ACL not
   * found", "token lacks key:write on …", "unusable profile"; undefined while connected.
   */
  get shortReason(): string | undefined {
    const state = this.current;
    if (state?.kind === 'invalid') return vscode.l10n.t('unusable profile');
    const error = this.failure?.error;
    if (!error) return undefined;
    if (error instanceof UnreachableError) return error.reason;
    if (error instanceof TlsError) return vscode.l10n.t('TLS: {0}', error.reason);
    if (error instanceof AclTokenNotFoundError) return vscode.l10n.t('ACL not found');
    if (error instanceof AclDeniedError) return error.permission ? vscode.l10n.t('token lacks {0}', error.permission) : vscode.l10n.t('permission denied');
    if (error instanceof ConsulHttpError) return `HTTP ${error.statusCode}`;
    return error.kind;
  }

  /** Reads the probe path once; returns the health it found (also what Test Connection calls first). */
  async check(): Promise<ConnectionHealth> {
    const state = this.current;
    if (state?.kind !== 'connected') return { kind: 'checking' };
    const health = await probe(state.connection);
    if (this.current === state) await this.setHealth(health);
    return health;
  }

  private async setHealth(health: ConnectionHealth): Promise<void> {
    const before = this.healthValue;
    this.healthValue = health;
    clearTimeout(this.recheckTimer);
    this.recheckTimer = undefined;
    if (health.kind === 'failed') {
      // Until it answers: a view that follows the catalog notices sooner, this covers the others.
      const delay = RECHECK_MS[Math.min(this.recheckAttempt++, RECHECK_MS.length - 1)];
      this.recheckTimer = setTimeout(() => void this.check(), delay);
      if (before.kind !== 'failed' || before.error.message !== health.error.message) this.log.warn(`Profile "${this.activeProfile().name}": ${health.error.message}`);
    } else this.recheckAttempt = 0;
    const same = before.kind === health.kind && (before.kind !== 'failed' || (health.kind === 'failed' && before.error.message === health.error.message));
    await this.publishContext();
    if (!same) this.healthEmitter.fire(health);
  }

  /**
   * Context keys for welcome content and enablement:
   * chefConsul.connectionState (connecting | connected | failed | invalid),
   * chefConsul.connectionFailure (unreachable | tls | forbidden | http),
   * chefConsul.connected (a usable profile: commands that need a connection),
   * chefConsul.noProfile (no profile configured: the consul CLI's environment or 127.0.0.1:8500).
   */
  private async publishContext(): Promise<void> {
    const state = this.current;
    const health = this.health;
    const value = !state ? 'connecting' : state.kind === 'invalid' ? 'invalid' : health.kind === 'ok' ? 'connected' : health.kind === 'failed' ? 'failed' : 'connecting';
    await this.setContextKeys({
      'chefConsul.connectionState': value,
      'chefConsul.connectionFailure': health.kind === 'failed' ? health.failure : undefined,
      'chefConsul.connected': state?.kind === 'connected',
      'chefConsul.noProfile': this.configuredProfiles().length === 0,
    });
  }

  private async setContextKeys(values: Record<string, string | boolean | undefined>): Promise<void> {
    Object.assign(this.contextValues, values);
    await Promise.all(Object.entries(values).map(([key, value]) => vscode.commands.executeCommand('setContext', key, value)));
  }

  /** The context keys this manager set, as it last set them (the window cannot be asked; tests read these). */
  get contextKeys(): Readonly<Record<string, string | boolean | undefined>> {
    return { ...this.contextValues };
  }

  configuredProfiles(): ConnectionProfile[] {
    const raw = vscode.workspace.getConfiguration(CONFIG_SECTION).get<unknown[]>('profiles') ?? [];
    const valid: ConnectionProfile[] = [];
    for (const p of raw) {
      const problems = validateProfile(p);
      const clash = problems.length ? undefined : profileNameClash(valid.map((v) => v.name), (p as ConnectionProfile).name);
      if (clash) problems.push(clash);
      else if (!problems.length && valid.some((v) => v.name === (p as ConnectionProfile).name)) problems.push('a profile of this name comes earlier in the list');
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
    // Views with nothing to show say "Connecting…" until the new connection answered (or failed).
    await this.setContextKeys({ 'chefConsul.connectionState': 'connecting' });
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
      next = { kind: 'connected', connection, catalog, events: eventBufferQuery(connection) };
      this.log.info(`Using profile "${profile.name}" at ${connection.address}${datacenter ? ` (datacenter ${datacenter})` : ''}`);
    } catch (e) {
      next = { kind: 'invalid', profileName: profile.name, message: (e as Error).message };
      this.log.error(`Profile "${profile.name}": ${(e as Error).message}`);
    }
    if (generation !== this.generation) {
      if (next.kind === 'connected') this.release(next);
      return this.current ?? next;
    }
    // Checked before anyone sees the connection, so views open on the right welcome content (a local agent answers in milliseconds).
    const health: ConnectionHealth = next.kind === 'connected' ? await probe(next.connection) : { kind: 'checking' };
    if (generation !== this.generation) {
      if (next.kind === 'connected') this.release(next);
      return this.current ?? next;
    }
    const previous = this.current;
    this.current = next;
    this.catalogSubscription?.dispose();
    this.catalogSubscription = undefined;
    this.recheckAttempt = 0;
    if (next.kind === 'connected') {
      const catalog = next.catalog;
      // The shared catalog query answers for the connection while a view follows it: a failure
      // before the first answer keeps the failure's welcome; once it answers, the connection is healthy.
      this.catalogSubscription = catalog.onDidChange(() => {
        const s = catalog.current;
        if (this.current !== next) return;
        if (s.kind === 'ready' && this.healthValue.kind !== 'ok') void this.setHealth({ kind: 'ok' });
        else if (s.kind === 'error' && this.healthValue.kind === 'failed') void this.setHealth({ kind: 'failed', failure: failureKind(s.error), error: s.error });
      });
    }
    await this.setHealth(health);
    this.emitter.fire(next);
    if (previous?.kind === 'connected') this.release(previous);
    return next;
  }

  private release(state: Extract<ConnectionState, { kind: 'connected' }>): void {
    state.catalog.dispose();
    state.events.dispose();
    state.connection.dispose();
  }

  dispose(): void {
    clearTimeout(this.recheckTimer);
    this.catalogSubscription?.dispose();
    if (this.current?.kind === 'connected') this.release(this.current);
    this.emitter.dispose();
    this.healthEmitter.dispose();
    this.secretEmitter.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

/** One small read that fails the way the views' reads would: unreachable, TLS, unknown token, HTTP errors. */
async function probe(connection: ConsulConnection): Promise<ConnectionHealth> {
  try {
    await call(connection, PROBE_PATH, () => connection.client.catalog.service.list());
    return { kind: 'ok' };
  } catch (e) {
    const error = toConsulError(e, connection.address, PROBE_PATH);
    return { kind: 'failed', failure: failureKind(error), error };
  }
}
