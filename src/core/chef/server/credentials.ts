/**
 * Chef connection profiles from the files knife and chef-client read:
 *   - `~/.chef/credentials`: TOML, one table per profile with `client_name`
 *     (or `node_name`), `client_key` and `chef_server_url`;
 *   - `knife.rb` / `config.rb`: only plain `key value` lines are read
 *     (`node_name "admin"`, `client_key "/path/admin.pem"`,
 *     `chef_server_url "https://…"`); Ruby code is never evaluated, and every
 *     line that is code is reported as such, with its number.
 * The client key stays a file path: its content is never read here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { smolToml } from '../../util/lazyLibs';

export interface ChefProfile {
  name: string;
  serverUrl: string;
  clientName: string;
  /** Absolute path of the client's private key (never its content). */
  clientKey: string;
  /** Where the profile was read: `/home/me/.chef/credentials [default]`, `/home/me/.chef/knife.rb`. */
  source: string;
  /** Extra CA certificate files to trust (`~/.chef/trusted_certs/*.crt|*.pem`). */
  caFiles?: string[];
  /** false: knife.rb's `ssl_verify_mode :verify_none`. */
  verifyTls?: boolean;
}

export interface ChefConfigProblem {
  file: string;
  /** 1-based, when the problem is on one line. */
  line?: number;
  message: string;
}

export interface ChefConfigResult {
  profiles: ChefProfile[];
  problems: ChefConfigProblem[];
}

/**
 * The CAs a client trusts for a profile: the system's plus the PEM files
 * given (Node's `ca` replaces the system's, so both are passed). Throws a
 * clear error naming a file that cannot be read or holds no certificate.
 */
export function readCaFiles(files: readonly string[]): string[] {
  const extra = files.map((file) => {
    let pem: string;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`Cannot read the CA certificate ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return pem;
  });
  return [...tls.rootCertificates, ...extra];
}

/** `~/x` → home; relative paths are relative to `baseDir`. */
export function resolveKeyPath(p: string, baseDir: string, home = os.homedir()): string {
  if (p === '~' || p.startsWith('~/')) return path.join(home, p.slice(1));
  return path.resolve(baseDir, p);
}

/**
 * Profiles of a credentials file. Relative `client_key` paths are relative
 * to the file's directory (as knife reads them); an inline key (the PEM text
 * itself) is refused: keys stay files.
 */
export function parseCredentials(text: string, file: string, home = os.homedir()): ChefConfigResult {
  const result: ChefConfigResult = { profiles: [], problems: [] };
  let doc: Record<string, unknown>;
  try {
    doc = smolToml().parse(text) as Record<string, unknown>;
  } catch (e) {
    const line = e instanceof smolToml().TomlError ? e.line : undefined;
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    result.problems.push({ file, line, message: `not TOML: ${message}` });
    return result;
  }
  for (const [name, value] of Object.entries(doc)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      result.problems.push({ file, message: `"${name}" is not a profile table ([${name}] with client_name, client_key, chef_server_url)` });
      continue;
    }
    const table = value as Record<string, unknown>;
    const where = `profile [${name}]`;
    const clientName = table.client_name ?? table.node_name;
    const missing: string[] = [];
    if (typeof clientName !== 'string' || !clientName) missing.push('client_name');
    if (typeof table.chef_server_url !== 'string' || !table.chef_server_url) missing.push('chef_server_url');
    if (typeof table.client_key !== 'string' || !table.client_key) missing.push('client_key');
    if (missing.length) {
      result.problems.push({ file, message: `${where}: missing ${missing.join(', ')}` });
      continue;
    }
    const key = table.client_key as string;
    if (key.includes('-----BEGIN')) {
      result.problems.push({ file, message: `${where}: client_key holds the key itself; save it in a .pem file and give its path` });
      continue;
    }
    result.profiles.push({
      name,
      serverUrl: table.chef_server_url as string,
      clientName: clientName as string,
      clientKey: resolveKeyPath(key, path.dirname(file), home),
      source: `${file} [${name}]`,
    });
  }
  return result;
}

const KNIFE_KEYS: Record<string, 'clientName' | 'clientKey' | 'serverUrl'> = {
  node_name: 'clientName',
  client_name: 'clientName',
  client_key: 'clientKey',
  chef_server_url: 'serverUrl',
};

/** The value of a plain `key value` line, or undefined when it is Ruby code. */
function plainValue(raw: string): string | undefined {
  const v = raw.trim();
  let m = /^'((?:[^'\\]|\\.)*)'$/.exec(v);
  if (m) return m[1].replace(/\\(['\\])/g, '$1');
  m = /^"((?:[^"\\#]|\\.|#(?!\{))*)"$/.exec(v);
  if (m) return m[1].replace(/\\(["\\])/g, '$1');
  if (/^:[A-Za-z_]\w*$/.test(v)) return v.slice(1);
  if (/^-?\d+(\.\d+)?$/.test(v) || v === 'true' || v === 'false' || v === 'nil') return v;
  return undefined;
}

/**
 * Reads a line's quotes: where a `# comment` outside quotes starts, and which
 * quote the line leaves open (none when it is closed or a comment starts).
 */
function scanQuotes(line: string): { commentAt?: number; open?: string } {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return { commentAt: i };
  }
  return { open: quote };
}

/** Strips a trailing `# comment` outside quotes. */
function stripComment(line: string): string {
  const { commentAt } = scanQuotes(line);
  return commentAt === undefined ? line : line.slice(0, commentAt);
}

/**
 * Where an unclosed string that began on an earlier line ends: the index just
 * past its closing quote in `line`, or -1 when the string goes on.
 */
function closingQuote(line: string, quote: string): number {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === quote) return i + 1;
  }
  return -1;
}

/** The quote of a string `line` leaves open (after comments are stripped), if any. */
function openQuote(line: string): string | undefined {
  return scanQuotes(line).open;
}

/** Chef's starter kit: `current_dir = File.dirname(__FILE__)`, then `"#{current_dir}/admin.pem"`. */
const CURRENT_DIR_LINE = /^current_dir\s*=\s*File\.dirname\(\s*__FILE__\s*\)$/;
const FILE_DIR_INTERPOLATION = /#\{\s*(?:current_dir|File\.dirname\(\s*__FILE__\s*\))\s*\}/g;

/**
 * A knife.rb / config.rb of plain `key value` lines as one profile (named
 * `profileName`, default: the file's name). Every line that is not a plain
 * `key value` (variables, interpolation, method calls, blocks, `knife[:x] =`)
 * is reported by its number and setting name only — never its text, which may
 * be part of a key (`client_key_contents "-----BEGIN…` spans lines; the lines
 * inside such a string are skipped). `current_dir = File.dirname(__FILE__)`
 * and `#{current_dir}` / `#{File.dirname(__FILE__)}` in values are read as the
 * file's own directory, as Chef's starter kit writes them. `ssl_verify_mode
 * :verify_none` turns certificate verification off for the profile.
 */
export function parseKnifeRb(text: string, file: string, profileName?: string, home = os.homedir()): ChefConfigResult {
  const result: ChefConfigResult = { profiles: [], problems: [] };
  const found: Partial<Record<'clientName' | 'clientKey' | 'serverUrl', string>> = {};
  let verifyNone = false;
  const dir = path.dirname(file);
  let inString: string | undefined;
  text.split(/\r?\n/).forEach((original, i) => {
    if (inString) {
      const end = closingQuote(original, inString);
      if (end < 0) return; // inside a multi-line string: never read, never echoed
      // Whatever follows the string's end on this line belongs to the statement already reported.
      inString = openQuote(stripComment(original.slice(end)));
      return;
    }
    const line = stripComment(original).trim();
    if (!line) return;
    if (CURRENT_DIR_LINE.test(line)) return;
    const m = /^([a-z_][a-z0-9_]*)\s*\((.*)\)$/.exec(line) ?? /^([a-z_][a-z0-9_]*)\s+(.+)$/.exec(line);
    const setting = /^[A-Za-z_][\w]*/.exec(line)?.[0];
    // Ruby interpolates only in double quotes.
    const interpolated = m && m[2].trim().startsWith('"') ? m[2].replace(FILE_DIR_INTERPOLATION, dir.replace(/[\\"]/g, (c) => `\\${c}`)) : m?.[2];
    const value = m && interpolated !== undefined ? plainValue(interpolated) : undefined;
    if (!m || value === undefined) {
      inString = openQuote(line);
      const what = setting ? `${setting}: ` : '';
      result.problems.push({ file, line: i + 1, message: `line ${i + 1}: ${what}not read (Ruby code is not evaluated)` });
      return;
    }
    if (value.includes('-----BEGIN')) {
      result.problems.push({ file, line: i + 1, message: `line ${i + 1}: ${m[1]} holds a key itself; save it in a .pem file and give its path` });
      return;
    }
    const field = KNIFE_KEYS[m[1]];
    if (field) found[field] = value;
    if (m[1] === 'ssl_verify_mode') verifyNone = value === 'verify_none';
  });
  const missing = (['clientName', 'clientKey', 'serverUrl'] as const).filter((k) => !found[k]);
  if (missing.length) {
    const names = { clientName: 'node_name', clientKey: 'client_key', serverUrl: 'chef_server_url' };
    result.problems.push({ file, message: `no profile: missing ${missing.map((k) => names[k]).join(', ')}${result.problems.length ? ' (maybe set by a line that was not read)' : ''}` });
    return result;
  }
  const profile: ChefProfile = {
    name: profileName ?? path.basename(file, '.rb'),
    serverUrl: found.serverUrl!,
    clientName: found.clientName!,
    clientKey: resolveKeyPath(found.clientKey!, dir, home),
    source: file,
  };
  if (verifyNone) profile.verifyTls = false;
  result.profiles.push(profile);
  return result;
}

/**
 * Every profile of `<chefDir>/credentials`, `<chefDir>/config.rb` and
 * `<chefDir>/knife.rb` (chefDir default `~/.chef`), with each file's problems.
 * Missing files are no problem.
 */
export async function readChefProfiles(opts: { chefDir?: string; home?: string } = {}): Promise<ChefConfigResult> {
  const home = opts.home ?? os.homedir();
  const dir = opts.chefDir ?? path.join(home, '.chef');
  const result: ChefConfigResult = { profiles: [], problems: [] };
  const read = async (file: string) => {
    try {
      return await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') result.problems.push({ file, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return undefined;
    }
  };
  const add = (r: ChefConfigResult) => {
    result.profiles.push(...r.profiles);
    result.problems.push(...r.problems);
  };
  const credentials = path.join(dir, 'credentials');
  const text = await read(credentials);
  if (text !== undefined) add(parseCredentials(text, credentials, home));
  for (const name of ['config.rb', 'knife.rb']) {
    const file = path.join(dir, name);
    const rb = await read(file);
    if (rb !== undefined) add(parseKnifeRb(rb, file, name.replace(/\.rb$/, ''), home));
  }
  // knife and chef-client trust the certificates `knife ssl fetch` saved here.
  const trusted = path.join(dir, 'trusted_certs');
  const certs = await fs.promises.readdir(trusted).then(
    (names) => names.filter((n) => /\.(crt|pem)$/i.test(n)).sort().map((n) => path.join(trusted, n)),
    () => [] as string[],
  );
  if (certs.length) for (const p of result.profiles) p.caFiles = certs;
  return result;
}
