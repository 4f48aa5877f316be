/** Status bar item: profile, datacenter, leader, and the count of failing checks. */
import * as vscode from 'vscode';
import type { CatalogSnapshot } from '../core/consul/catalog';
import type { LiveState } from '../core/consul/liveQuery';
import { ClusterInfo, readClusterInfo } from '../core/consul/status';
import type { ConnectionManager, ConnectionState } from './connectionManager';

/** The hover's links: [command, codicon, title]; only these commands are enabled in it. */
const LINKS: Array<[string, string, () => string]> = [
  ['chefConsul.selectProfile', 'plug', () => vscode.l10n.t('Select Profile')],
  ['chefConsul.selectDatacenter', 'globe', () => vscode.l10n.t('Select Datacenter')],
  ['chefConsul.testConnection', 'debug-disconnect', () => vscode.l10n.t('Test Connection')],
  ['chefConsul.showLog', 'output', () => vscode.l10n.t('Show Log')],
];

export class ConsulStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('chefConsul.status', vscode.StatusBarAlignment.Left, 50);
  private subscription: vscode.Disposable | undefined;
  private listener: { dispose(): void } | undefined;
  private datacenter: string | undefined;
  private leaderAddress: string | undefined;
  private info: ClusterInfo | undefined;
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
    this.info = undefined;
    if (state.kind === 'invalid') {
      this.item.text = `$(debug-disconnect) ${state.profileName}`;
      this.item.tooltip = this.tooltip(vscode.l10n.t('Profile "{0}" cannot be used', state.profileName), [], state.message);
      this.item.accessibilityInformation = { label: vscode.l10n.t('Consul profile {0}: cannot be used. {1}', state.profileName, state.message) };
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
        this.info = info;
        this.render(state, state.catalog.current);
      },
      () => undefined, // the catalog query reports the failure itself
    );
  }

  private render(state: Extract<ConnectionState, { kind: 'connected' }>, live: LiveState<CatalogSnapshot>): void {
    const profile = state.connection.profile;
    const dc = this.datacenter ?? state.connection.datacenter ?? '…';
    this.item.backgroundColor = undefined;
    const where: Array<[string, string | undefined]> = [
      [vscode.l10n.t('Address'), state.connection.address],
      [vscode.l10n.t('Datacenter'), dc],
    ];
    if (live.kind === 'error') {
      this.item.text = `$(debug-disconnect) ${profile.name} · ${dc}`;
      this.item.tooltip = this.tooltip(vscode.l10n.t('Profile "{0}": Consul does not answer', profile.name), where, live.error.message);
      this.item.accessibilityInformation = { label: vscode.l10n.t('Consul profile {0}, datacenter {1}: failing. {2}', profile.name, dc, live.error.message) };
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    }
    if (live.kind !== 'ready') {
      this.item.text = `$(sync~spin) ${profile.name} · ${dc}`;
      this.item.tooltip = this.tooltip(vscode.l10n.t('Connecting to {0}…', state.connection.address), where);
      this.item.accessibilityInformation = { label: vscode.l10n.t('Consul profile {0}: connecting', profile.name) };
      return;
    }
    const { critical, warning } = live.data.counts;
    // One icon, then words: counts next to $(error)/$(warning) would read as VS Code's Problems.
    const parts = [profile.name, dc];
    if (live.meta.knownLeader === false) parts.push(vscode.l10n.t('no leader'));
    const health = [
      ...(critical ? [vscode.l10n.t('{0} critical', critical)] : []),
      ...(warning ? [vscode.l10n.t('{0} warning', warning)] : []),
    ];
    if (health.length) parts.push(health.join(', '));
    this.item.text = `$(${profile.production ? 'shield' : 'server-environment'}) ${parts.join(' · ')}`;
    const leaderText = live.meta.knownLeader === false ? vscode.l10n.t('none known') : (this.leaderAddress ?? vscode.l10n.t('known'));
    this.item.tooltip = this.tooltip(
      vscode.l10n.t('Consul profile "{0}"', profile.name),
      [
        ...where,
        [vscode.l10n.t('Leader'), leaderText],
        [vscode.l10n.t('Consul version'), this.info?.version],
        [vscode.l10n.t('Latency'), this.info ? `${this.info.latencyMs} ms` : undefined],
        [vscode.l10n.t('Cluster checks'), vscode.l10n.t('{0} critical, {1} warning, {2} passing', critical, warning, live.data.counts.passing)],
      ],
      profile.production ? vscode.l10n.t('Production: multi-node actions ask for confirmation.') : undefined,
    );
    this.item.accessibilityInformation = {
      label: vscode.l10n.t(
        'Consul profile {0}, datacenter {1}, leader {2}; cluster checks: {3} critical, {4} warning',
        profile.name,
        dc,
        leaderText,
        critical,
        warning,
      ),
    };
  }

  /**
   * The item's hover: untrusted Markdown for every value (addresses, versions and
   * errors come from the cluster), then links to this extension's own commands,
   * the only commands the hover may run.
   */
  private tooltip(title: string, rows: Array<[string, string | undefined]>, note?: string): vscode.MarkdownString {
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: LINKS.map(([id]) => id) };
    md.supportHtml = false;
    md.appendMarkdown('**').appendText(title).appendMarkdown('**  \n');
    for (const [label, value] of rows) if (value) md.appendText(`${label}: ${value}`).appendMarkdown('  \n');
    if (note) md.appendMarkdown('\n').appendText(note).appendMarkdown('\n');
    md.appendMarkdown('\n---\n\n');
    md.appendMarkdown(LINKS.map(([id, icon, title]) => `[$(${icon}) ${title()}](command:${id})`).join(' · '));
    return md;
  }

  /** The item's hover as Markdown source (tests read it). */
  get tooltipMarkdown(): string {
    const t = this.item.tooltip;
    return t instanceof vscode.MarkdownString ? t.value : String(t ?? '');
  }

  /** What screen readers say for the item (tests read it). */
  get accessibilityLabel(): string | undefined {
    return this.item.accessibilityInformation?.label;
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
