/**
 * Events view: the connected agent's event buffer, live, newest first. Consul
 * keeps no time on an event, so the view shows when it first saw each one.
 * It reads the connection's one event-buffer query (ConnectionManager), which
 * event watches share: one long-poll on /v1/event/list, not one each.
 */
import * as vscode from 'vscode';
import { eventsFromList, UserEvent } from '../../core/consul/events';
import type { LiveQuery } from '../../core/consul/liveQuery';
import { ConnectionManager, METRONOME_TOKEN_SECRET, secretDigest } from '../connectionManager';
import { MessageItem } from './catalogItems';
import { VisibleFollower } from './visibleFollower';

export class EventItem extends vscode.TreeItem {
  readonly kind = 'event';
  constructor(
    readonly event: UserEvent,
    seenAt: Date | undefined,
    /** A payload that is a secret of ours (the metronome token) is never shown. */
    secret: boolean,
  ) {
    super(event.name, vscode.TreeItemCollapsibleState.None);
    if (secret) event = { ...event, payload: vscode.l10n.t('•••••• (the metronome token)'), payloadIsBinary: false };
    this.id = `event:${event.id}`;
    const filters = [
      event.nodeFilter && `node=${event.nodeFilter}`,
      event.serviceFilter && `service=${event.serviceFilter}`,
      event.tagFilter && `tag=${event.tagFilter}`,
    ].filter(Boolean);
    const time = seenAt ? seenAt.toLocaleTimeString() : '';
    this.description = [time, filters.join(' '), event.payload ? `“${event.payload.slice(0, 60)}”` : ''].filter(Boolean).join('  ');
    this.iconPath = new vscode.ThemeIcon('broadcast');
    this.contextValue = 'chefConsul.event';
    const md = new vscode.MarkdownString(undefined, false);
    md.isTrusted = false;
    md.appendMarkdown('**').appendText(event.name).appendMarkdown('**  \n');
    md.appendText(`ID ${event.id} · LTime ${event.lTime}`).appendMarkdown('  \n');
    md.appendText(seenAt ? vscode.l10n.t('First seen {0}', seenAt.toLocaleString()) : vscode.l10n.t('In the buffer when the view connected')).appendMarkdown('  \n');
    if (filters.length) md.appendText(vscode.l10n.t('Filters: {0}', filters.join(', '))).appendMarkdown('  \n');
    if (event.payload) {
      md.appendText(event.payloadIsBinary ? vscode.l10n.t('Payload (binary, base64):') : vscode.l10n.t('Payload:'));
      md.appendCodeblock(event.payload.slice(0, 2000), 'text');
    }
    this.tooltip = md;
  }
}

type EventsViewItem = EventItem | MessageItem;

export class EventsView implements vscode.TreeDataProvider<EventsViewItem>, vscode.Disposable {
  static readonly id = 'chefConsul.events';
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly treeView: vscode.TreeView<EventsViewItem>;
  private query: LiveQuery<unknown> | undefined;
  private readonly follower: VisibleFollower<unknown>;
  /** The last body read and its events (the shared query hands out the agent's JSON). */
  private parsed: { body: unknown; events: UserEvent[] } | undefined;
  /** When this view first saw each event; undefined for those already buffered. */
  private readonly seen = new Map<string, Date | undefined>();
  private loaded = false;
  private secretPayload: string | undefined;
  private secretUnknown = false;
  private secretReady: Promise<void> = Promise.resolve();
  private secretLoaded = false;
  private empty: boolean | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly connections: ConnectionManager) {
    this.treeView = vscode.window.createTreeView(EventsView.id, { treeDataProvider: this });
    this.follower = new VisibleFollower(this.treeView, (s) => {
      if (s.kind === 'ready') this.remember(this.list(s.data));
      this.changed.fire();
    });
    this.disposables.push(
      this.treeView,
      this.follower,
      connections.onDidChange(() => this.reset()),
      connections.onDidChangeHealth(() => {
        this.setMessage();
        this.changed.fire();
      }),
      connections.onDidChangeSecret((name) => {
        if (name !== METRONOME_TOKEN_SECRET) return;
        // Nothing is shown until the new token is known.
        this.secretLoaded = false;
        this.changed.fire();
        void this.loadSecret().then(() => {
          this.secretLoaded = true;
          this.changed.fire();
        });
      }),
    );
    this.reset();
  }

  /** The payload never to show; read before any event is shown, and again whenever it changes. */
  private loadSecret(): Promise<void> {
    this.secretReady = this.connections.secret(METRONOME_TOKEN_SECRET).then(
      (t) => {
        this.secretPayload = t;
      },
      () => {
        // Unknown secret: show no payload at all rather than risk showing it.
        this.secretPayload = undefined;
        this.secretUnknown = true;
      },
    );
    return this.secretReady;
  }

  private reset(): void {
    this.follower.follow(undefined);
    // The connection's query: the connection manager disposes of it, not this view.
    this.query = undefined;
    this.parsed = undefined;
    this.seen.clear();
    this.loaded = false;
    this.secretLoaded = false;
    this.secretUnknown = false;
    void this.loadSecret().then(() => {
      this.secretLoaded = true;
      this.changed.fire();
    });
    const state = this.connections.state;
    if (state?.kind === 'connected') this.query = state.events;
    this.setMessage();
    this.follower.follow(this.query);
    this.changed.fire();
  }

  private setMessage(): void {
    const state = this.connections.state;
    this.treeView.description = this.connections.shortReason;
    // The buffer's note belongs to an agent that answers and a list to read; otherwise none
    // (VS Code hides welcome content while a view has a message; the "no events" welcome says it).
    this.treeView.message =
      state?.kind === 'connected' && !this.connections.failure && !this.empty
        ? vscode.l10n.t('The event buffer of the agent at {0}: its last 256 events; events with filters reach only matching agents.', state.connection.address)
        : undefined;
  }

  /** Whether the view shows the "no events" welcome (tests read it). */
  get showsNoEvents(): boolean {
    return this.empty === true;
  }

  private setEmpty(empty: boolean): void {
    if (this.empty === empty) return;
    this.empty = empty;
    this.setMessage();
    void vscode.commands.executeCommand('setContext', 'chefConsul.events.empty', empty);
  }

  /** The events of a body of the shared query, newest first (parsed once per answer). */
  private list(body: unknown): UserEvent[] {
    let parsed = this.parsed;
    if (!parsed || parsed.body !== body) parsed = this.parsed = { body, events: eventsFromList(body) };
    return parsed.events;
  }

  private remember(events: UserEvent[]): void {
    const now = this.loaded ? new Date() : undefined;
    for (const e of events) if (!this.seen.has(e.id)) this.seen.set(e.id, now);
    this.loaded = true;
  }

  refresh(): void {
    this.query?.refresh();
  }

  getTreeItem(element: EventsViewItem): vscode.TreeItem {
    return element;
  }

  getChildren(element?: EventsViewItem): EventsViewItem[] {
    if (element) return [];
    // No connection, or one that never answered: the welcome content (and the reason as the message).
    if (!this.query || this.connections.failure) return this.setEmpty(false), [];
    const s = this.query.current;
    this.setEmpty(s.kind === 'ready' && this.secretLoaded && !this.list(s.data).length);
    if (s.kind === 'error') return [new MessageItem(s.error.message, 'error', vscode.l10n.t('retrying'))];
    if (s.kind !== 'ready' || !this.secretLoaded) return [new MessageItem(vscode.l10n.t('Loading events…'), 'loading')];
    // None in the buffer, or none this token may read: the "no events" welcome offers Fire Event.
    const events = this.list(s.data);
    if (!events.length) return [];
    return events.map((e) => new EventItem(e, this.seen.get(e.id), this.isSecret(e)));
  }

  /** A payload that is (or holds) the metronome token; every payload while the token cannot be read. */
  isSecret(e: UserEvent): boolean {
    if (!e.payload) return false;
    if (this.secretUnknown) return true;
    if (this.secretPayload && e.payload.includes(this.secretPayload)) return true;
    // Earlier values too: a rotated or cleared token may still be valid, and the buffer keeps it.
    return this.connections.maskedDigests().has(secretDigest(e.payload));
  }

  /** What the view shows now (tests read it). */
  get events(): UserEvent[] {
    const s = this.query?.current;
    return s?.kind === 'ready' ? this.list(s.data) : [];
  }

  dispose(): void {
    this.follower.dispose();
    this.changed.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
