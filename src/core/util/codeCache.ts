/**
 * Loads a CommonJS file with V8's code cache, as VS Code does for its own
 * code: the first start compiles the file and, once the extension has run a
 * while, writes the bytecode V8 made (the functions activation and the first
 * views ran included) to a file in `cacheDir`; later starts hand that to V8
 * and skip both parsing the bundle and compiling what activation runs.
 *
 * What V8 checks of a cache is little: its version, its flags, the payload's
 * length and the source's length — not the source's text, and not the
 * payload's bytes (a flipped byte runs wrong code or crashes the process).
 * So the cache is tied to its source here: the file is named by the SHA-256
 * of the source, V8's version and the architecture (a rebuilt bundle, even of
 * the same length, or another VS Code gets its own file; the others are
 * removed when it is written), and it carries a SHA-256 of V8's bytes, checked
 * before V8 sees them: a torn, zeroed or flipped file is `rejected`, the file
 * runs compiled as usual and the cache is written again. A file that throws
 * while loading from a cache loses the cache (so does an activation that
 * throws, in src/bootstrap.ts). Anything that fails on the way
 * (no directory, no permission) costs the cache, never the load.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Module } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

/** used: compiled from the cache; created: no cache yet (save() writes one); rejected: the one there was damaged or V8 refused it (save() replaces it); off: loaded without a cache (the source could not be read or compiled here). */
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
/** Our envelope: this marker, the SHA-256 of V8's bytes, then V8's bytes (at byte 48, 8-aligned as V8 reads them without a copy). */
const MAGIC = Buffer.from('cco-v8cache-v2\n\n');
const DIGEST_BYTES = 32;
/** A half-written cache file this old is what a crash left, not another window's save in progress. */
const STALE_TMP_MS = 60_000;
/** How many characters Module.wrap puts before the source on its first line. */
const WRAPPER_OPENING = Module.wrap('\u0000').indexOf('\u0000');

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function cacheName(source: Buffer): string {
  const v8 = process.versions.v8.replace(/[^\w.-]/g, '_');
  return `${sha256(source).toString('hex').slice(0, 32)}-${v8}-${process.arch}${SUFFIX}`;
}

/** Removes a cache file (the next start compiles from the source); never throws. */
export function forget(cacheFile: string): void {
  try {
    fs.rmSync(cacheFile, { force: true });
  } catch {
    /* the next damaged or refused read replaces it */
  }
}

/** V8's bytes out of a cache file, when the file is whole and ours; undefined when there is none, 'damaged' otherwise. */
function readCache(file: string): Buffer | 'damaged' | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const head = MAGIC.length + DIGEST_BYTES;
  if (bytes.length <= head || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return 'damaged';
  const data = bytes.subarray(head);
  return sha256(data).equals(bytes.subarray(MAGIC.length, head)) ? data : 'damaged';
}

/**
 * `require(file)`, through the code cache in `cacheDir`. `requireFn` is the
 * caller's own require: the file's own require() calls go through it (so
 * `vscode` and paths relative to the caller's directory resolve as for the
 * caller, which must sit in the same directory as `file`). The file must not
 * use `import()` (the bundle is built without it) or `module` beyond
 * `module.exports`.
 */
export function requireWithCodeCache<T>(file: string, cacheDir: string, requireFn: NodeJS.Require): CodeCachedModule<T> {
  const started = performance.now();
  let script: vm.Script | undefined;
  let cacheFile: string | undefined;
  let status: CodeCacheStatus = 'off';
  try {
    const bytes = fs.readFileSync(file);
    cacheFile = path.join(cacheDir, cacheName(bytes));
    const cached = readCache(cacheFile);
    const cachedData = cached instanceof Buffer ? cached : undefined;
    // An ASCII file (esbuild's output is) decodes several times faster as latin1, to the same text.
    const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
    // The wrapper's opening is taken off line 1's columns, so stack traces point where require()'s would.
    script = new vm.Script(Module.wrap(source), { filename: file, cachedData, columnOffset: -WRAPPER_OPENING });
    status = cached === undefined ? 'created' : cached === 'damaged' || script.cachedDataRejected ? 'rejected' : 'used';
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
  try {
    run.call(mod.exports, mod.exports, requireFn, mod, file, path.dirname(file));
  } catch (e) {
    // Whatever the cause, the next start compiles from the source.
    if (status === 'used' && cacheFile) forget(cacheFile);
    throw e;
  }
  const made = script;
  const target = cacheFile!;
  let saved = false;
  const save = async (): Promise<boolean> => {
    if (saved || (status !== 'created' && status !== 'rejected')) return false;
    saved = true;
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      const data = made.createCachedData();
      await fs.promises.mkdir(cacheDir, { recursive: true });
      // Flushed, then renamed: another window starting now reads the old file or the new, never half.
      const handle = await fs.promises.open(tmp, 'w');
      try {
        await handle.writeFile(Buffer.concat([MAGIC, sha256(data), data]));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(tmp, target);
      // The caches of earlier builds and other VS Code versions, and what a crash left half written
      // (a minute old: another window may be writing its own right now).
      for (const name of await fs.promises.readdir(cacheDir)) {
        const other = path.join(cacheDir, name);
        if (other === target || !(name.endsWith(SUFFIX) || name.endsWith('.tmp'))) continue;
        try {
          if (name.endsWith('.tmp') && Date.now() - (await fs.promises.stat(other)).mtimeMs < STALE_TMP_MS) continue;
          await fs.promises.rm(other, { force: true });
        } catch {
          /* in use, or gone: left for the next save */
        }
      }
      return true;
    } catch {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      return false;
    }
  };
  return { exports: mod.exports, status, cacheFile, loadMs: performance.now() - started, save };
}
