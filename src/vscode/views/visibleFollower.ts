import * as vscode from 'vscode';
import type { LiveQuery, LiveState } from '../../core/consul/liveQuery';

/**
 * Keeps a live query subscribed while a tree view is visible, and only then:
 * a hidden view costs no long-poll. The query may change (a new connection).
 */
export class VisibleFollower<T> implements vscode.Disposable {
  private query: LiveQuery<T> | undefined;
  private subscription: { dispose(): void } | undefined;
  private listener: { dispose(): void } | undefined;
  private readonly visibility: vscode.Disposable;

  constructor(
    private readonly view: vscode.TreeView<unknown>,
    private readonly onState: (state: LiveState<T>) => void,
  ) {
    this.visibility = view.onDidChangeVisibility(() => this.attach());
  }

  follow(query: LiveQuery<T> | undefined): void {
    // Following the same query again would restart its watch for nothing.
    if (query === this.query) return;
    this.query = query;
    this.attach();
  }

  private attach(): void {
    this.subscription?.dispose();
    this.listener?.dispose();
    this.subscription = this.listener = undefined;
    if (this.query && this.view.visible) {
      this.listener = this.query.onDidChange(this.onState);
      this.subscription = this.query.subscribe();
    }
  }

  dispose(): void {
    this.subscription?.dispose();
    this.listener?.dispose();
    this.visibility.dispose();
  }
}
