/**
 * `consul-kv://<profile name>/<key path>[?dc=<datacenter>]`: the URI names the
 * profile (and the datacenter when it is not the profile's), so keys of
 * several profiles and datacenters open side by side.
 */
import * as vscode from 'vscode';

export const KV_SCHEME = 'consul-kv';

export interface KvTarget {
  profile: string;
  /** Set only when it is not the profile's own datacenter. */
  datacenter?: string;
}

export interface KvLocation extends KvTarget {
  /** The key (or folder, without its trailing "/"); "" for the root. */
  key: string;
}

export function kvUri(target: KvTarget, key: string): vscode.Uri {
  return vscode.Uri.from({
    scheme: KV_SCHEME,
    authority: target.profile,
    path: `/${key.replace(/\/$/, '')}`,
    query: target.datacenter ? `dc=${encodeURIComponent(target.datacenter)}` : '',
  });
}

export function parseKvUri(uri: vscode.Uri): KvLocation {
  if (uri.scheme !== KV_SCHEME) throw new Error(`not a ${KV_SCHEME}: URI: ${uri.toString()}`);
  if (!uri.authority) throw vscode.FileSystemError.FileNotFound(uri);
  const dc = new URLSearchParams(uri.query).get('dc') || undefined;
  return { profile: uri.authority, datacenter: dc, key: uri.path.replace(/^\//, '') };
}
