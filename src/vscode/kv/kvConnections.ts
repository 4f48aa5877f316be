/**
 * The connection for a KV target: the active one when the target is the
 * active profile and datacenter, else a connection of its own (a compare or a
 * document of another profile), made with that profile's bound token and
 * dropped when connections change.
 */
import * as vscode from 'vscode';
import { connect, ConsulConnection } from '../../core/consul/client';
import type { ConnectionProfile } from '../../core/consul/profile';
import type { ConnectionManager } from '../connectionManager';
import type { KvTarget } from './kvUri';

export class KvConnections implements vscode.Disposable {
  private readonly others = new Map<string, Promise<ConsulConnection>>();
  private readonly subscription: vscode.Disposable;

  constructor(readonly manager: ConnectionManager) {
    this.subscription = manager.onDidChange(() => this.dropOthers());
  }

  /** The active profile and datacenter, as a URI names them. */
  activeTarget(): KvTarget {
    const profile = this.manager.activeProfile();
    const dc = this.manager.datacenterOverride(profile.name);
    return { profile: profile.name, ...(dc && dc !== profile.datacenter ? { datacenter: dc } : {}) };
  }

  /**
   * The profile a URI names. The workbench lowercases a URI's authority, so a
   * name is matched exactly first, then case-insensitively when that is unique.
   */
  profile(name: string): ConnectionProfile {
    const all = this.manager.profiles();
    const loose = all.filter((p) => p.name.toLowerCase() === name.toLowerCase());
    const profile = all.find((p) => p.name === name) ?? (loose.length === 1 ? loose[0] : undefined);
    if (!profile) throw vscode.FileSystemError.Unavailable(vscode.l10n.t('No connection profile is named "{0}".', name));
    return profile;
  }

  async connection(target: KvTarget): Promise<ConsulConnection> {
    const active = this.activeTarget();
    target = { ...target, profile: this.profile(target.profile).name };
    if (target.profile === active.profile && (target.datacenter ?? undefined) === (active.datacenter ?? undefined)) {
      return (await this.manager.connected()).connection;
    }
    const id = `${target.profile}\n${target.datacenter ?? ''}`;
    let pending = this.others.get(id);
    if (!pending) {
      const profile = this.profile(target.profile);
      pending = this.manager.token(profile.name).then((token) =>
        connect({ ...profile, datacenter: target.datacenter ?? profile.datacenter }, token),
      );
      pending.catch(() => this.others.delete(id));
      this.others.set(id, pending);
    }
    return pending;
  }

  private dropOthers(): void {
    const all = [...this.others.values()];
    this.others.clear();
    for (const p of all) void p.then((c) => c.dispose(), () => undefined);
  }

  dispose(): void {
    this.dropOthers();
    this.subscription.dispose();
  }
}
