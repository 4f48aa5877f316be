/**
 * Workspace trust: in a workspace the user has not trusted, browsing works but
 * nothing runs on nodes, fires events or writes to the cluster.
 */
import * as vscode from 'vscode';
import { CommandInputError } from './commands/register';

export class UntrustedWorkspaceError extends CommandInputError {
  constructor(action: string) {
    super(
      vscode.l10n.t(
        '{0} is not available in Restricted Mode: this workspace is not trusted, so nothing runs on nodes, fires events or writes to Consul from it. Trust the workspace (Workspaces: Manage Workspace Trust) to use it.',
        action,
      ),
    );
    this.name = 'UntrustedWorkspaceError';
  }
}

/** Throws, with the sentence the user reads, when the workspace is not trusted. */
export function requireTrust(action: string): void {
  if (!vscode.workspace.isTrusted) throw new UntrustedWorkspaceError(action);
}
