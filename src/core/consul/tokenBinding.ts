/**
 * ACL tokens are bound to the endpoint they were saved for: the address and
 * the TLS server name. A profile whose address changed (or that a settings
 * file redefined) does not get the token until the user says so.
 */
import { ConnectionProfile, endpointUrl, parseAddress } from './profile';

export interface StoredToken {
  token: string;
  /** tokenBinding() of the profile when the token was saved; undefined for tokens saved before binding. */
  boundTo?: string;
}

/** Where a token for this profile goes, in words the user can compare: `https://host:port` (+ TLS name). */
export function tokenBinding(profile: Pick<ConnectionProfile, 'address' | 'serverName'>): string {
  let address: string;
  try {
    address = endpointUrl(parseAddress(profile.address));
  } catch {
    address = profile.address.trim();
  }
  return profile.serverName ? `${address} (TLS name ${profile.serverName})` : address;
}

/** Reads what secret storage holds: the bound form, or a bare token from before binding. */
export function parseStoredToken(raw: string): StoredToken | undefined {
  if (!raw) return undefined;
  if (raw.startsWith('{')) {
    try {
      const v = JSON.parse(raw) as Partial<StoredToken>;
      if (typeof v.token === 'string' && v.token) return { token: v.token, boundTo: typeof v.boundTo === 'string' ? v.boundTo : undefined };
    } catch {
      // Not ours: treat as a bare token.
    }
  }
  return { token: raw };
}
