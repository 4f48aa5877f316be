/**
 * Which Chef servers the editor knows and which one is active: profiles from
 * the `chefConsul.chef.profiles` setting and from `~/.chef` (credentials,
 * knife.rb, config.rb; see server/credentials.ts). A profile may be tied to a
 * Consul profile: while that Consul profile is active, so is the Chef one.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChefProfile } from './server/credentials';
import { resolveKeyPath } from './server/credentials';
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
  /** CA certificate files (PEM) to trust besides the system's: the setting's `caFile`, or `~/.chef/trusted_certs/*`. */
  caFiles?: string[];
  /** false accepts any certificate (the setting's `verifyTls`, knife.rb's `ssl_verify_mode :verify_none`). */
  verifyTls?: boolean;
  /** `settings` or the file it was read from. */
  source: string;
}

/** A path from a setting: absolute, or `~/…`; anything else is refused (relative to what?). */
function settingPath(value: string, where: string, setting: string, home: string): { path?: string; problem?: string } {
  if (value === '~' || value.startsWith('~/') || path.isAbsolute(value)) return { path: resolveKeyPath(value, '/', home) };
  return { problem: `${where}: ${setting} "${value}" is a relative path; give an absolute path or one starting with ~/` };
}

/** One setting entry checked; `problem` says exactly what is wrong with it. */
export function chefProfileFromSetting(raw: unknown, index: number, home = os.homedir()): { profile?: ChefServerProfile; problem?: string } {
  const where = `chefConsul.chef.profiles[${index}]`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { problem: `${where} is not an object` };
  const r = raw as Record<string, unknown>;
  const missing = (['name', 'serverUrl', 'clientName', 'clientKey'] as const).filter((k) => typeof r[k] !== 'string' || !(r[k] as string).trim());
  if (missing.length) return { problem: `${where}${typeof r.name === 'string' && r.name ? ` ("${r.name}")` : ''}: missing ${missing.join(', ')}` };
  const name = (r.name as string).trim();
  const key = (r.clientKey as string).trim();
  if (key.includes('-----BEGIN')) return { problem: `${where} ("${name}"): clientKey must be the path of the .pem file, not the key itself` };
  const keyPath = settingPath(key, `${where} ("${name}")`, 'clientKey', home);
  if (keyPath.problem) return { problem: keyPath.problem };
  let url: URL;
  try {
    url = new URL(r.serverUrl as string);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    return { problem: `${where} ("${name}"): serverUrl "${String(r.serverUrl)}" is not an http(s) URL` };
  }
  // Never echo such a URL: it holds a password.
  if (url.username || url.password) return { problem: `${where} ("${name}"): serverUrl holds a user name or password (user:pass@); remove it — Chef servers authenticate by the client key` };
  let caFiles: string[] | undefined;
  if (r.caFile !== undefined) {
    if (typeof r.caFile !== 'string' || !r.caFile.trim()) return { problem: `${where} ("${name}"): caFile must be the path of a PEM CA certificate` };
    const ca = settingPath(r.caFile.trim(), `${where} ("${name}")`, 'caFile', home);
    if (ca.problem) return { problem: ca.problem };
    caFiles = [ca.path!];
  }
  if (r.verifyTls !== undefined && typeof r.verifyTls !== 'boolean') return { problem: `${where} ("${name}"): verifyTls must be true or false` };
  if (r.signVersion !== undefined && !SIGN_VERSIONS.includes(r.signVersion as SignVersion)) {
    return { problem: `${where} ("${name}"): signVersion must be one of ${SIGN_VERSIONS.join(', ')}` };
  }
  const profile: ChefServerProfile = { name, serverUrl: (r.serverUrl as string).trim(), clientName: (r.clientName as string).trim(), clientKey: keyPath.path!, source: 'settings' };
  if (caFiles) profile.caFiles = caFiles;
  if (r.verifyTls === false) profile.verifyTls = false;
  if (typeof r.consulProfile === 'string' && r.consulProfile.trim()) profile.consulProfile = r.consulProfile.trim();
  if (r.signVersion !== undefined) profile.signVersion = r.signVersion as SignVersion;
  return { profile };
}

/**
 * Settings first, then file profiles whose name no setting took (a setting of
 * the same name overrides the file's). Names compare without case.
 */
export function mergeChefProfiles(settings: readonly unknown[], files: readonly ChefProfile[], home = os.homedir()): { profiles: ChefServerProfile[]; problems: string[] } {
  const profiles: ChefServerProfile[] = [];
  const problems: string[] = [];
  const taken = new Set<string>();
  settings.forEach((raw, i) => {
    const { profile, problem } = chefProfileFromSetting(raw, i, home);
    if (problem) problems.push(problem);
    if (!profile) return;
    if (taken.has(profile.name.toLowerCase())) return void problems.push(`chefConsul.chef.profiles[${i}]: a Chef profile named "${profile.name}" comes earlier; this one is ignored`);
    taken.add(profile.name.toLowerCase());
    profiles.push(profile);
  });
  for (const f of files) {
    if (taken.has(f.name.toLowerCase())) continue;
    taken.add(f.name.toLowerCase());
    const p: ChefServerProfile = { name: f.name, serverUrl: f.serverUrl, clientName: f.clientName, clientKey: f.clientKey, source: f.source };
    if (f.caFiles?.length) p.caFiles = [...f.caFiles];
    if (f.verifyTls === false) p.verifyTls = false;
    profiles.push(p);
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

/**
 * Why no profile is active although there are some (for the view's welcome
 * and errors); undefined when one is active or there are none.
 */
export function whyNoActiveChefProfile(profiles: readonly ChefServerProfile[], activeName: string | undefined, consulProfile: string | undefined): string | undefined {
  if (!profiles.length || pickActiveChefProfile(profiles, activeName, consulProfile)) return undefined;
  const same = (a: string | undefined, b: string | undefined) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
  if (activeName && !profiles.some((p) => same(p.name, activeName))) {
    return `chefConsul.chef.activeProfile names "${activeName}", but no Chef profile has that name (there are: ${profiles.map((p) => p.name).join(', ')})`;
  }
  return `every Chef profile belongs to a Consul profile that is not active (${profiles.map((p) => `${p.name} → ${p.consulProfile}`).join(', ')})`;
}
