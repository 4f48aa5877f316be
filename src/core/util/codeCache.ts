/**
 * Loads a CommonJS file with V8's code cache, as VS Code does for its own
 * code: the first start compiles the file and, once the extension has run a
 * while, writes the bytecode V8 made (the functions activation and the first
 * views ran included) to a file in `cacheDir`; later starts hand that to V8
 * and skip both parsing the bundle and compiling what activation runs.
 *
 * The cache file is named by the SHA-256 of the source, V8's version and the
 * architecture: a rebuilt bundle (even of the same length, which is all V8
 * itself checks) or another VS Code gets its own file, and the others are
 * removed when it is written. V8 refuses a cache it did not make for this
 * source and these flags (`rejected`); then the file runs compiled as usual
 * and the cache is written again. Anything that fails on the way (no
 * directory, no permission, a torn file) costs the cache, never the load.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Module } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

/** used: compiled from the cache; created: no cache yet (save() writes one); rejected: V8 refused the one there; off: loaded without a cache (it could not be read or the source could not be compiled with it). */
export type CodeCacheStatus = 'used' | 'created' | 'rejected' | 'off';

export interface CodeCachedModule<T> {
  exports: T;
  status: CodeCacheStatus;
  /** The cache file of this source (there or to be written). */
  cacheFile: string | undefined;
  /** How long reading, compiling and running the file took (ms). */
  loadMs: number;
  /** Writes the cache when there is none to use (status created or rejected); true when written. */
  save(): Promise<boolean>;
}

const SUFFIX = '.v8cache';

function cacheName(source: Buffer): string {
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 32);
  const v8 = process.versions.v8.replace(/[^\w.-]/g, '_');
  return `${hash}-${v8}-${process.arch}${SUFFIX}`;
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * `require(file)`, through the code cache in `cacheDir`. `requireFn` is the
 * caller's own require: the file's own require() calls go through it (so
 * `vscode` and paths relative to the caller's directory resolve as for the
 * caller, which must sit in the same directory as `file`).
 */
export function requireWithCodeCache<T>(file: string, cacheDir: string, requireFn: NodeJS.Require): CodeCachedModule<T> {
  const started = performance.now();
  let script: vm.Script | undefined;
  let cacheFile: string | undefined;
  let status: CodeCacheStatus = 'off';
  try {
    const bytes = fs.readFileSync(file);
    cacheFile = path.join(cacheDir, cacheName(bytes));
    const cachedData = readOrUndefined(cacheFile);
    // An ASCII file (esbuild's output is) decodes several times faster as latin1, to the same text.
    const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
    script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
    status = !cachedData ? 'created' : script.cachedDataRejected ? 'rejected' : 'used';
  } catch {
    script = undefined;
  }
  if (!script) {
    // Not readable or not compilable here: the usual require says why, if anything is wrong.
    const exports = requireFn(file) as T;
    return { exports, status: 'off', cacheFile, loadMs: performance.now() - started, save: () => Promise.resolve(false) };
  }
  const mod = { exports: {} as T };
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  run.call(mod.exports, mod.exports, requireFn, mod, file, path.dirname(file));
  const made = script;
  const target = cacheFile!;
  let saved = false;
  const save = async (): Promise<boolean> => {
    if (saved || (status !== 'created' && status !== 'rejected')) return false;
    saved = true;
    try {
      const data = made.createCachedData();
      await fs.promises.mkdir(cacheDir, { recursive: true });
      // Written whole (rename), so another window starting now reads the old file or the new, never half.
      const tmp = `${target}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, data);
      await fs.promises.rename(tmp, target);
      // The caches of earlier builds and other VS Code versions.
      for (const name of await fs.promises.readdir(cacheDir)) {
        if (name.endsWith(SUFFIX) && path.join(cacheDir, name) !== target) await fs.promises.rm(path.join(cacheDir, name), { force: true });
      }
      return true;
    } catch {
      return false;
    }
  };
  return { exports: mod.exports, status, cacheFile, loadMs: performance.now() - started, save };
}
