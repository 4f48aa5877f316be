/** Status bar item: profile, datacenter, leader, and the count of failing checks. */
import * as vscode from 'vscode';
import type { CatalogSnapshot } from '../core/consul/catalog';
import type { LiveState } from '../core/consul/liveQuery';
import { readClusterInfo } from '../core/consul/status';
import type { ConnectionManager, ConnectionState } from './connectionManager';

export class ConsulStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('chefConsul.status', vscode.StatusBarAlignment.Left, 50);
  private subscription: vscode.Disposable | undefined;
  private listener: { dispose(): void } | undefined;
  private datacenter: string | undefined;
  private leaderAddress: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly connections: ConnectionManager) {
    this.item.name = vscode.l10n.t('Consul connection');
    this.item.command = { command: 'chefConsul.selectProfile', title: vscode.l10n.t('Select Profile…') };
    this.disposables.push(this.item, connections.onDidChange((s) => this.attach(s)));
    if (connections.state) this.attach(connections.state);
    this.item.show();
  }

  private attach(state: ConnectionState): void {
    this.subscription?.dispose();
    this.listener?.dispose();
    this.subscription = this.listener = undefined;
    this.datacenter = this.leaderAddress = undefined;
    if (state.kind === 'invalid') {
      this.item.text = `$(debug-disconnect) ${state.profileName}`;
      this.item.tooltip = state.message;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    }
    // The status bar shares the views' catalog query: no extra long-poll.
    this.listener = state.catalog.onDidChange((s) => this.render(state, s));
    this.subscription = state.catalog.subscribe();
    this.render(state, state.catalog.current);
    readClusterInfo(state.connection).then(
      (info) => {
        if (this.connections.state !== state) return;
        this.datacenter = info.datacenter;
        this.leaderAddress = info.leader;
        this.render(state, state.catalog.current);
      },
      () => undefined, // the catalog query reports the failure itself
    );
  }

  private render(state: Extract<ConnectionState, { kind: 'connected' }>, live: LiveState<CatalogSnapshot>): void {
    const profile = state.connection.profile;
    const dc = this.datacenter ?? state.connection.datacenter ?? '…';
    const prod = profile.production ? ' $(shield)' : '';
    this.item.backgroundColor = undefined;
    if (live.kind === 'error') {
      this.item.text = `$(debug-disconnect) ${profile.name} · ${dc}${prod}`;
      this.item.tooltip = live.error.message;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    }
    if (live.kind !== 'ready') {
      this.item.text = `$(sync~spin) ${profile.name} · ${dc}${prod}`;
      this.item.tooltip = vscode.l10n.t('Connecting to {0}…', state.connection.address);
      return;
    }
    const { critical, warning } = live.data.counts;
    const leader = live.meta.knownLeader === false ? ` $(alert) ${vscode.l10n.t('no leader')}` : '';
    const health = critical || warning ? ` $(error) ${critical} $(warning) ${warning}` : ' $(pass)';
    this.item.text = `$(server-environment) ${profile.name} · ${dc}${prod}${leader}${health}`;
    this.item.tooltip = [
      vscode.l10n.t('Profile: {0}', profile.name),
      vscode.l10n.t('Address: {0}', state.connection.address),
      vscode.l10n.t('Datacenter: {0}', dc),
      live.meta.knownLeader === false
        ? vscode.l10n.t('Leader: none known')
        : vscode.l10n.t('Leader: {0}', this.leaderAddress ?? vscode.l10n.t('known')),
      vscode.l10n.t('Checks: {0} critical, {1} warning, {2} passing', critical, warning, live.data.counts.passing),
      profile.production ? vscode.l10n.t('Production: multi-node actions ask for confirmation') : '',
    ]
      .filter(Boolean)
      .join('\n');
  }

  /** What the item shows now (tests read it). */
  get text(): string {
    return this.item.text;
  }

  dispose(): void {
    this.subscription?.dispose();
    this.listener?.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
