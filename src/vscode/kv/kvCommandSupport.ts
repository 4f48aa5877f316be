/**
 * What every KV command shares: reading its argument object (a tree node
 * from a context menu, or the options of a caller who must not be asked
 * anything), and the checks before a write.
 */
import * as vscode from 'vscode';
import type { ConsulConnection } from '../../core/consul/client';
import { checkFlags, checkKey } from '../../core/kv/model';
import { CommandInputError } from '../commands/register';
import { confirmProduction } from '../production';
import { requireTrust } from '../trust';
import type { KvConnections } from './kvConnections';
import type { KvNode } from './kvItems';
import type { KvTarget } from './kvUri';

export type Args = Record<string, unknown>;

/** A tree node handed over by a context menu, told apart from an argument object. */
export function asNode(args: Args | undefined): (KvNode & { kind: 'folder' | 'key' }) | undefined {
  const n = args as Partial<KvNode> | undefined;
  return n && (n.kind === 'folder' || n.kind === 'key') && typeof (n as { name?: unknown }).name === 'string' ? (n as KvNode & { kind: 'folder' | 'key' }) : undefined;
}

export function str(args: Args, name: string, required = true): string | undefined {
  const v = args[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new CommandInputError(vscode.l10n.t('"{0}" must be a string.', name));
  return v;
}

export function key(args: Args, name: string): string {
  try {
    return checkKey(str(args, name)!, name);
  } catch (e) {
    throw new CommandInputError((e as Error).message);
  }
}

/** For an input box's `validateInput`: the reason a typed key is refused, or undefined. */
export function validKey(v: string): string | undefined {
  try {
    checkKey(v);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function checkFlagsArg(v: unknown): number {
  try {
    return checkFlags(v);
  } catch (e) {
    throw new CommandInputError((e as Error).message);
  }
}

export function parseFormat(v: unknown): 'json' | 'folder' {
  if (v === undefined || v === 'json') return 'json';
  if (v === 'folder') return 'folder';
  throw new CommandInputError(vscode.l10n.t('"format" must be "json" or "folder".'));
}

export async function activeConnection(kv: KvConnections): Promise<{ connection: ConsulConnection; target: KvTarget }> {
  const target = kv.activeTarget();
  return { connection: await kv.connection(target), target };
}

/** Trust, then the production confirmation for work reaching `reach` keys. */
export async function mayWrite(kv: KvConnections, action: string, what: string, reach: number, args: Args | undefined): Promise<boolean> {
  requireTrust(action);
  const profile = kv.profile(kv.activeTarget().profile);
  return confirmProduction(profile, what, reach, typeof args?.confirm === 'string' ? args.confirm : undefined, !args || !!asNode(args), 'keys');
}
