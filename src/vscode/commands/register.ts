import * as vscode from 'vscode';

/**
 * Registers a command whose inputs may come as one argument object; given
 * one, the handler must ask nothing. Errors reach the user as a message and
 * the caller as a rejection; the result goes back to the caller.
 */
export function registerCommand<A extends object, R>(
  id: string,
  handler: (args: Partial<A> | undefined) => Promise<R> | R,
  log: vscode.LogOutputChannel,
): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (raw?: unknown) => {
    // Invoked from a tree's context menu the first argument is a tree item, not options.
    const args = raw && typeof raw === 'object' && !(raw instanceof vscode.TreeItem) ? (raw as Partial<A>) : undefined;
    try {
      return await handler(args);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.error(`${id}: ${message}`);
      showError(e);
      throw e;
    }
  });
}

/** Shows an error to the user, with the button its CommandInputError offers (e.g. a jump to the cause). */
export function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  const action = e instanceof CommandInputError ? e.action : undefined;
  if (!action) {
    void vscode.window.showErrorMessage(message);
    return;
  }
  void vscode.window.showErrorMessage(message, action.title).then((choice) => (choice === action.title ? action.run() : undefined));
}

export class CommandInputError extends Error {
  constructor(
    message: string,
    /** Offered as a button where the error is shown. */
    readonly action?: { title: string; run: () => Thenable<unknown> | Promise<unknown> },
  ) {
    super(message);
    this.name = 'CommandInputError';
  }
}
