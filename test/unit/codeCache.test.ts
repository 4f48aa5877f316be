import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireWithCodeCache } from '../../src/core/util/codeCache';

interface Loaded {
  answer(): string;
  text: string;
  dep: string;
}

describe('requireWithCodeCache', () => {
  let dir: string;
  let cacheDir: string;
  let file: string;
  const runs = () => (globalThis as { __ccoCodeCacheRuns?: number }).__ccoCodeCacheRuns ?? 0;
  const write = (answer: string) =>
    fs.writeFileSync(file, `globalThis.__ccoCodeCacheRuns = (globalThis.__ccoCodeCacheRuns ?? 0) + 1;\nexports.dep = require('./dep.js');\nexports.answer = () => ${JSON.stringify(answer)} + __filename.slice(-8);\nexports.text = 'µs — ✓';\n`);
  const load = () => requireWithCodeCache<Loaded>(file, cacheDir, createRequire(file));
  // V8 keeps what it compiled per process and then ignores the cache handed to it:
  // whether it takes or refuses a cache is only seen in a process that has not compiled the file yet.
  const loadFresh = (save = false): { status: string; answer: string; saved: boolean } => {
    const script = `const { requireWithCodeCache } = require(${JSON.stringify(require.resolve('../../src/core/util/codeCache'))});
      const l = requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cacheDir)}, require('node:module').createRequire(${JSON.stringify(file)}));
      (${save} ? l.save() : Promise.resolve(false)).then((saved) => process.stdout.write(JSON.stringify({ status: l.status, answer: l.exports.answer(), saved })));`;
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { status: string; answer: string; saved: boolean };
  };
  const caches = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((n) => n.endsWith('.v8cache')) : []);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-codecache-'));
    cacheDir = path.join(dir, 'storage', 'code-cache');
    file = path.join(dir, 'main.js');
    fs.writeFileSync(path.join(dir, 'dep.js'), 'module.exports = "dep here";\n');
    write('first');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('compiles and runs the file once, writes the cache on save, and the next load uses it', async () => {
    const before = runs();
    const a = load();
    assert.equal(a.status, 'created');
    assert.equal(a.exports.answer(), 'first/main.js');
    assert.equal(a.exports.dep, 'dep here', 'its require() resolves next to the file');
    assert.equal(a.exports.text, 'µs — ✓', 'a file that is not ASCII is read as UTF-8');
    assert.equal(runs(), before + 1, 'the file ran exactly once');
    assert.equal(caches().length, 0, 'nothing is written before save()');
    assert.equal(await a.save(), true);
    assert.equal(await a.save(), false, 'written once');
    assert.deepEqual(caches(), [path.basename(a.cacheFile!)]);

    assert.deepEqual(loadFresh(true), { status: 'used', answer: 'first/main.js', saved: false }, 'V8 took the cache; a cache in use is not written again');
  });

  it('never uses the cache of another source, even of the same length, and removes it when the new one is written', async () => {
    const a = load();
    await a.save();
    write('other'); // same length as "first"
    const b = load();
    assert.notEqual(b.cacheFile, a.cacheFile);
    assert.equal(b.status, 'created');
    assert.equal(b.exports.answer(), 'other/main.js', 'the new source ran, not the cached one');
    assert.equal(await b.save(), true);
    assert.deepEqual(caches(), [path.basename(b.cacheFile!)], 'the old build’s cache is gone');
    assert.deepEqual(loadFresh(), { status: 'used', answer: 'other/main.js', saved: false });
  });

  it('a cache V8 refuses (torn, garbage) costs only the cache: the file runs and the cache is written again', async () => {
    const a = load();
    await a.save();
    const data = fs.readFileSync(a.cacheFile!);
    fs.writeFileSync(a.cacheFile!, data.subarray(0, Math.floor(data.length / 2)));
    assert.deepEqual(loadFresh(true), { status: 'rejected', answer: 'first/main.js', saved: true });
    assert.deepEqual(loadFresh(), { status: 'used', answer: 'first/main.js', saved: false });

    fs.writeFileSync(a.cacheFile!, Buffer.from('not a code cache at all'));
    assert.deepEqual(loadFresh(), { status: 'rejected', answer: 'first/main.js', saved: false });
  });

  it('a cache with a byte flipped (same length: V8 would run it) is refused before V8 sees it, and written again', async () => {
    const a = load();
    assert.equal(await a.save(), true);
    const data = fs.readFileSync(a.cacheFile!);
    for (const at of [Math.floor(data.length / 2), data.length - 1]) {
      const flipped = Buffer.from(data);
      flipped[at] ^= 0x55;
      fs.writeFileSync(a.cacheFile!, flipped);
      assert.deepEqual(loadFresh(true), { status: 'rejected', answer: 'first/main.js', saved: true }, `byte ${at} flipped`);
      assert.deepEqual(loadFresh(), { status: 'used', answer: 'first/main.js', saved: false });
    }
    // Zeroed past its head, as a crash before the data reached the disk leaves it.
    fs.writeFileSync(a.cacheFile!, Buffer.concat([data.subarray(0, 100), Buffer.alloc(data.length - 100)]));
    assert.deepEqual(loadFresh(), { status: 'rejected', answer: 'first/main.js', saved: false });
  });

  it('a file that throws while running from its cache loses the cache; what a crashed save left half written goes with the next save', async () => {
    fs.writeFileSync(file, 'if (process.env.CCO_CODE_CACHE_THROW) throw new Error("thrown at load");\nexports.answer = () => "ok";\n');
    const a = load();
    fs.mkdirSync(cacheDir, { recursive: true });
    const stale = `${a.cacheFile}.999999.tmp`;
    const writing = `${a.cacheFile}.999998.tmp`;
    fs.writeFileSync(stale, 'half');
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    fs.utimesSync(stale, twoMinutesAgo, twoMinutesAgo);
    fs.writeFileSync(writing, 'another window writing right now');
    assert.equal(await a.save(), true);
    assert.deepEqual(caches(), [path.basename(a.cacheFile!)]);
    assert.deepEqual(fs.readdirSync(cacheDir).sort(), [path.basename(a.cacheFile!), path.basename(writing)].sort(), 'the stale .tmp is gone, the fresh one kept');
    fs.rmSync(writing);
    const script = `require(${JSON.stringify(require.resolve('../../src/core/util/codeCache'))}).requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cacheDir)}, require)`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, CCO_CODE_CACHE_THROW: '1' } });
    assert.match(child.stderr, /thrown at load/);
    assert.deepEqual(caches(), [], 'the cache it ran from is deleted');
  });

  it('stack traces point at the same line and column as require() would', () => {
    fs.writeFileSync(file, 'exports.answer = () => { throw new Error("where"); };\nexports.text = "";\n');
    const frame = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as Error).stack!.split('\n')[1];
      }
      return '';
    };
    const viaCache = frame(() => load().exports.answer());
    delete require.cache[file];
    const viaRequire = frame(() => (createRequire(file)(file) as Loaded).answer());
    assert.match(viaCache, /main\.js:1:\d+\)$/);
    assert.equal(viaCache, viaRequire);
  });

  it('loads when the cache directory cannot be written (save says false)', async () => {
    fs.mkdirSync(path.dirname(cacheDir), { recursive: true });
    fs.writeFileSync(cacheDir, 'a file where the directory should be');
    const a = load();
    assert.equal(a.exports.answer(), 'first/main.js');
    assert.equal(await a.save(), false);
  });

  it('a file that does not compile fails as require() fails, with its SyntaxError', () => {
    fs.writeFileSync(file, 'exports.x = ;\n');
    assert.throws(() => load(), SyntaxError);
  });

  it('an error thrown while the file runs reaches the caller, and the file is not run a second time', () => {
    fs.writeFileSync(file, 'globalThis.__ccoCodeCacheRuns = (globalThis.__ccoCodeCacheRuns ?? 0) + 1;\nthrow new Error("boom at load");\n');
    const before = runs();
    assert.throws(() => load(), /boom at load/);
    assert.equal(runs(), before + 1);
  });
});
