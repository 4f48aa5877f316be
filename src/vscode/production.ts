/**
 * The production profile's typed confirmation: work that reaches more than
 * one node (runs, events, writes) needs the profile's name. Interactive paths
 * ask; calls with argument objects must pass it as `confirm`.
 */
import * as vscode from 'vscode';
import type { ConnectionProfile } from '../core/consul/profile';
import { CommandInputError } from './commands/register';

/**
 * True when the work may go ahead; false when the user dismissed the prompt.
 * `what` names the work in a sentence ("event "deploy"", "the command");
 * `reach` is how many nodes (or keys, for writes) it touches. `certain` is
 * false when the catalog only suggests the reach: agents match service and
 * regex filters themselves, and a token that cannot read a node still
 * reaches its agent — then even a reach of 0 or 1 asks.
 */
export async function confirmProduction(
  profile: ConnectionProfile,
  what: string,
  reach: number,
  confirm: string | undefined,
  interactive: boolean,
  unit: 'nodes' | 'keys' = 'nodes',
  certain = true,
): Promise<boolean> {
  if (!profile.production || (certain && reach <= 1)) return true;
  const count =
    unit === 'keys'
      ? vscode.l10n.t('{0} keys', reach)
      : certain || reach > 1
        ? vscode.l10n.t('{0} nodes', reach)
        : vscode.l10n.t('every node whose agent matches (this token sees {0})', reach);
  if (!interactive) {
    if (confirm === profile.name) return true;
    throw new CommandInputError(vscode.l10n.t('Profile "{0}" is production and {1} reaches {2}: pass "confirm": "{0}" to go ahead.', profile.name, what, count));
  }
  const typed = await vscode.window.showInputBox({
    title: vscode.l10n.t('Production: confirm'),
    prompt: vscode.l10n.t('{0} reaches {1} of production profile "{2}". Type the profile name to go ahead.', what, count, profile.name),
    ignoreFocusOut: true,
    validateInput: (v) => (v === profile.name ? undefined : vscode.l10n.t('Type "{0}"', profile.name)),
  });
  return typed === profile.name;
}
