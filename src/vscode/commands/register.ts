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
      void vscode.window.showErrorMessage(message);
      throw e;
    }
  });
}

export class CommandInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandInputError';
  }
}
