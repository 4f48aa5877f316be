import * as vscode from 'vscode';
import { errorToastText } from '../../core/util/toastText';

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
  // Invoked from a tree's context menu the first argument is a tree item, not options.
  return registerItemCommand(id, (raw) => handler(raw && typeof raw === 'object' && !(raw instanceof vscode.TreeItem) ? (raw as Partial<A>) : undefined), log);
}

/**
 * Registers a command that takes a tree item or an argument object as it
 * comes; errors are logged, shown to the user and passed to the caller.
 */
export function registerItemCommand<R>(id: string, handler: (raw: unknown) => Promise<R> | R, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (raw?: unknown) => {
    try {
      return await handler(raw);
    } catch (e) {
      log.error(`${id}: ${e instanceof Error ? e.message : String(e)}`);
      showError(e);
      throw e;
    }
  });
}

/** Shows an error to the user, with the button its CommandInputError offers (e.g. a jump to the cause). */
export function showError(e: unknown): void {
  // Error texts carry servers' and nodes' words: no links in the toast.
  const message = errorToastText(e instanceof Error ? e.message : String(e));
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
