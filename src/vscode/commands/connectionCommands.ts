/** Profiles, tokens, datacenters and the connection test. */
import * as vscode from 'vscode';
import { ClusterInfo, readClusterInfo } from '../../core/consul/status';
import { ConnectionProfile, parseAddress, profileNameClash, validateProfile } from '../../core/consul/profile';
import { CONFIG_SECTION, ConnectionManager } from '../connectionManager';
import { CommandInputError, registerCommand } from './register';
import { QuickInputFactory, runSteps, Step, StepButton } from '../multiStepInput';

const PROFILE_FIELDS = ['name', 'address', 'datacenter', 'caFile', 'certFile', 'keyFile', 'serverName', 'insecureSkipVerify', 'production'] as const;

function pickProfileFields(args: Partial<ConnectionProfile>): Partial<ConnectionProfile> {
  const out: Record<string, unknown> = {};
  for (const k of PROFILE_FIELDS) if (args[k] !== undefined) out[k] = args[k];
  return out as Partial<ConnectionProfile>;
}

async function pickProfileName(connections: ConnectionManager, placeHolder: string): Promise<string | undefined> {
  const active = connections.activeProfile().name;
  const picked = await vscode.window.showQuickPick(
    connections.profiles().map((p) => ({
      label: p.name,
      description: p.address + (p.datacenter ? ` · ${p.datacenter}` : ''),
      detail: p.production ? vscode.l10n.t('Production') : undefined,
      picked: p.name === active,
    })),
    { placeHolder },
  );
  return picked?.label;
}

function requireProfile(connections: ConnectionManager, name: string): ConnectionProfile {
  const profile = connections.profiles().find((p) => p.name === name);
  if (!profile) {
    throw new CommandInputError(
      vscode.l10n.t('No Consul profile named "{0}". Known profiles: {1}.', name, connections.profiles().map((p) => p.name).join(', ')),
    );
  }
  return profile;
}

interface ProfileDraft {
  name: string;
  address: string;
  datacenter: string;
  production: string;
}

/** Opens the profiles setting, where TLS files, server name and the rest are edited. */
const TLS_SETTINGS: StepButton = {
  button: { iconPath: new vscode.ThemeIcon('settings-gear'), tooltip: vscode.l10n.t('TLS (CA file, client certificate, server name): edit the profile in Settings') },
  run: () => vscode.commands.executeCommand('workbench.action.openSettings', `@id:${CONFIG_SECTION}.profiles`),
};

/** Add Profile's steps in one quick input with Back: name, address, datacenter, production. Exported for the tests. */
export async function askProfile(existing: readonly string[], ui: QuickInputFactory = vscode.window): Promise<Partial<ConnectionProfile> | undefined> {
  const draft: ProfileDraft = { name: '', address: '127.0.0.1:8500', datacenter: '', production: 'no' };
  const field = (key: keyof ProfileDraft) => ({ get: (d: ProfileDraft) => d[key], set: (d: ProfileDraft, v: string) => void (d[key] = v) });
  const steps: Array<Step<ProfileDraft>> = [
    {
      kind: 'text',
      prompt: vscode.l10n.t('Profile name'),
      ...field('name'),
      validate: (v) => (!v.trim() ? vscode.l10n.t('A name is required') : existing.includes(v.trim()) ? vscode.l10n.t('A profile with this name exists') : undefined),
    },
    {
      kind: 'text',
      prompt: vscode.l10n.t('Address of a Consul agent (host:port or https://host:port); TLS files and server name: the gear button opens Settings'),
      ...field('address'),
      buttons: [TLS_SETTINGS],
      validate: (v) => {
        try {
          parseAddress(v);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      },
    },
    { kind: 'text', prompt: vscode.l10n.t("Datacenter (empty: the agent's own)"), ...field('datacenter') },
    {
      kind: 'pick',
      placeholder: vscode.l10n.t('Is this a production cluster?'),
      ...field('production'),
      items: [
        { label: vscode.l10n.t('Not production'), value: 'no' },
        {
          label: `$(shield) ${vscode.l10n.t('Production')}`,
          detail: vscode.l10n.t('Events, exec and runs that reach more than one node ask for the profile name, typed.'),
          value: 'yes',
        },
      ],
    },
  ];
  const done = await runSteps(vscode.l10n.t('Add Consul Profile'), steps, draft, ui);
  if (!done) return undefined;
  return {
    name: done.name.trim(),
    address: done.address.trim(),
    ...(done.datacenter.trim() ? { datacenter: done.datacenter.trim() } : {}),
    ...(done.production === 'yes' ? { production: true } : {}),
  };
}

export function registerConnectionCommands(connections: ConnectionManager, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return [
    registerCommand<{ name: string }, string | undefined>(
      'chefConsul.selectProfile',
      async (args) => {
        const name = args?.name ?? (await pickProfileName(connections, vscode.l10n.t('Select the Consul profile to use')));
        if (!name) return undefined;
        requireProfile(connections, name);
        await vscode.workspace.getConfiguration(CONFIG_SECTION).update('activeProfile', name, vscode.ConfigurationTarget.Global);
        await connections.reconnect();
        return name;
      },
      log,
    ),

    registerCommand<ConnectionProfile & { activate: boolean }, ConnectionProfile | undefined>(
      'chefConsul.addProfile',
      async (args) => {
        // Only a profile's own fields reach settings.json: never a token or anything else passed along.
        let profile: Partial<ConnectionProfile> | undefined = args ? pickProfileFields(args) : undefined;
        const activate = args?.activate ?? true;
        if (!profile) {
          profile = await askProfile(connections.configuredProfiles().map((p) => p.name));
          if (!profile) return undefined;
        }
        const problems = validateProfile(profile);
        const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
        const existing = (config.get<ConnectionProfile[]>('profiles') ?? []).filter((p) => p?.name !== profile.name);
        const clash = typeof profile.name === 'string' ? profileNameClash(existing.map((p) => String(p?.name)), profile.name) : undefined;
        if (clash) problems.push(clash);
        if (problems.length) throw new CommandInputError(vscode.l10n.t('Invalid profile: {0}.', problems.join('; ')));
        await config.update('profiles', [...existing, profile], vscode.ConfigurationTarget.Global);
        if (activate) await config.update('activeProfile', profile.name, vscode.ConfigurationTarget.Global);
        await connections.reconnect();
        return profile as ConnectionProfile;
      },
      log,
    ),

    registerCommand<{ datacenter: string }, string | undefined>(
      'chefConsul.selectDatacenter',
      async (args) => {
        const state = await connections.connected();
        let datacenter = args?.datacenter;
        if (datacenter === undefined) {
          const info = await readClusterInfo(state.connection);
          const picked = await vscode.window.showQuickPick(
            info.datacenters.map((dc) => ({ label: dc, picked: dc === info.datacenter, description: dc === info.datacenter ? vscode.l10n.t('current') : undefined })),
            { placeHolder: vscode.l10n.t('Select the datacenter') },
          );
          datacenter = picked?.label;
          if (!datacenter) return undefined;
        }
        await connections.setDatacenter(datacenter || undefined);
        return datacenter;
      },
      log,
    ),

    registerCommand<{ silent: boolean }, ClusterInfo>(
      'chefConsul.testConnection',
      async (args) => {
        const state = await connections.connected();
        const info = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Testing the connection to {0}…', state.connection.address) },
          async () => {
            // The check first: its answer (or failure) also moves the views between data and their welcome content.
            const health = await connections.check();
            if (health.kind === 'failed') throw health.error;
            return readClusterInfo(state.connection);
          },
        );
        const message = vscode.l10n.t(
          'Connected to {0} in {1} ms: datacenter {2}, leader {3}{4}.',
          info.address,
          info.latencyMs,
          info.datacenter,
          info.leader ?? vscode.l10n.t('none'),
          info.version ? `, Consul ${info.version}` : '',
        );
        log.info(message);
        if (!args?.silent) void vscode.window.showInformationMessage(message);
        return info;
      },
      log,
    ),

    registerCommand<{ token: string; profile: string }, { profile: string } | undefined>(
      'chefConsul.setToken',
      async (args) => {
        const profileName = args?.profile ?? connections.activeProfile().name;
        requireProfile(connections, profileName);
        const token =
          args?.token ??
          (await vscode.window.showInputBox({
            title: vscode.l10n.t('Consul ACL token for "{0}"', profileName),
            prompt: vscode.l10n.t('Stored in VS Code\'s secret storage, never in settings or logs.'),
            password: true,
            ignoreFocusOut: true,
            validateInput: (v) => (v.trim() ? undefined : vscode.l10n.t('The token is empty')),
          }));
        if (!token?.trim()) return undefined;
        await connections.setToken(profileName, token.trim());
        log.info(`Stored an ACL token for profile "${profileName}"`);
        await connections.reconnect();
        return { profile: profileName };
      },
      log,
    ),

    registerCommand<{ profile: string }, { profile: string }>(
      'chefConsul.clearToken',
      async (args) => {
        const profileName = args?.profile ?? connections.activeProfile().name;
        await connections.setToken(profileName, undefined);
        log.info(`Cleared the ACL token of profile "${profileName}"`);
        await connections.reconnect();
        return { profile: profileName };
      },
      log,
    ),

    vscode.commands.registerCommand('chefConsul.showLog', () => log.show()),
  ];
}
