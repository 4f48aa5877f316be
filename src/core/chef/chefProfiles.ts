/**
 * Which Chef servers the editor knows and which one is active: profiles from
 * the `chefConsul.chef.profiles` setting and from `~/.chef` (credentials,
 * knife.rb, config.rb; see server/credentials.ts). A profile may be tied to a
 * Consul profile: while that Consul profile is active, so is the Chef one.
 */
import type { ChefProfile } from './server/credentials';
import type { SignVersion } from './server/signing';
import { SIGN_VERSIONS } from './server/signing';

export interface ChefServerProfile {
  name: string;
  serverUrl: string;
  clientName: string;
  /** Path of the client's private key; never its content. */
  clientKey: string;
  /** The Consul profile this Chef server belongs to. */
  consulProfile?: string;
  signVersion?: SignVersion;
  /** `settings` or the file it was read from. */
  source: string;
}

/** One setting entry checked; `problem` says exactly what is wrong with it. */
export function chefProfileFromSetting(raw: unknown, index: number): { profile?: ChefServerProfile; problem?: string } {
  const where = `chefConsul.chef.profiles[${index}]`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { problem: `${where} is not an object` };
  const r = raw as Record<string, unknown>;
  const missing = (['name', 'serverUrl', 'clientName', 'clientKey'] as const).filter((k) => typeof r[k] !== 'string' || !(r[k] as string).trim());
  if (missing.length) return { problem: `${where}${typeof r.name === 'string' && r.name ? ` ("${r.name}")` : ''}: missing ${missing.join(', ')}` };
  const name = (r.name as string).trim();
  const key = (r.clientKey as string).trim();
  if (key.includes('-----BEGIN')) return { problem: `${where} ("${name}"): clientKey must be the path of the .pem file, not the key itself` };
  try {
    const url = new URL(r.serverUrl as string);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    return { problem: `${where} ("${name}"): serverUrl "${String(r.serverUrl)}" is not an http(s) URL` };
  }
  if (r.signVersion !== undefined && !SIGN_VERSIONS.includes(r.signVersion as SignVersion)) {
    return { problem: `${where} ("${name}"): signVersion must be one of ${SIGN_VERSIONS.join(', ')}` };
  }
  const profile: ChefServerProfile = { name, serverUrl: (r.serverUrl as string).trim(), clientName: (r.clientName as string).trim(), clientKey: key, source: 'settings' };
  if (typeof r.consulProfile === 'string' && r.consulProfile.trim()) profile.consulProfile = r.consulProfile.trim();
  if (r.signVersion !== undefined) profile.signVersion = r.signVersion as SignVersion;
  return { profile };
}

/**
 * Settings first, then file profiles whose name no setting took (a setting of
 * the same name overrides the file's). Names compare without case.
 */
export function mergeChefProfiles(settings: readonly unknown[], files: readonly ChefProfile[]): { profiles: ChefServerProfile[]; problems: string[] } {
  const profiles: ChefServerProfile[] = [];
  const problems: string[] = [];
  const taken = new Set<string>();
  settings.forEach((raw, i) => {
    const { profile, problem } = chefProfileFromSetting(raw, i);
    if (problem) problems.push(problem);
    if (!profile) return;
    if (taken.has(profile.name.toLowerCase())) return void problems.push(`chefConsul.chef.profiles[${i}]: a Chef profile named "${profile.name}" comes earlier; this one is ignored`);
    taken.add(profile.name.toLowerCase());
    profiles.push(profile);
  });
  for (const f of files) {
    if (taken.has(f.name.toLowerCase())) continue;
    taken.add(f.name.toLowerCase());
    profiles.push({ name: f.name, serverUrl: f.serverUrl, clientName: f.clientName, clientKey: f.clientKey, source: f.source });
  }
  return { profiles, problems };
}

/**
 * The active Chef profile: one tied to the active Consul profile (the one
 * named by `activeName` among them, else the first); else the one named by
 * `activeName`; else, with no choice made, the first profile that is tied to
 * no Consul profile. Undefined when nothing fits.
 */
export function pickActiveChefProfile(profiles: readonly ChefServerProfile[], activeName: string | undefined, consulProfile: string | undefined): ChefServerProfile | undefined {
  const same = (a: string | undefined, b: string | undefined) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
  const tied = profiles.filter((p) => same(p.consulProfile, consulProfile));
  if (tied.length) return tied.find((p) => same(p.name, activeName)) ?? tied[0];
  const named = profiles.find((p) => same(p.name, activeName));
  if (named) return named;
  return activeName ? undefined : profiles.find((p) => !p.consulProfile);
}
