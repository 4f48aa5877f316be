import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { AclDeniedError } from '../../src/core/consul/errors';
import { kvKeysMethod } from '../../src/core/consul/kvMethods';
import { LiveQuery } from '../../src/core/consul/liveQuery';
import { compareSubtrees } from '../../src/core/kv/compare';
import { canWrite, deleteKey, deleteTree, getEntry, getSubtree, listLevel, runTxn, writeEntry } from '../../src/core/kv/kvStore';
import { levelPage } from '../../src/core/kv/listing';
import { KvConflictError, KvEntry, KvValueTooLargeError, MAX_VALUE_BYTES } from '../../src/core/kv/model';
import { searchKv } from '../../src/core/kv/search';
import { copySubtree, countKeys, deleteUnchanged, KvTransferError, moveSubtree, overwriteKey } from '../../src/core/kv/subtree';
import { applyImport, exportItems, exportToFolder, parseExportJson, planImport, readFolder, retarget, toExportJson } from '../../src/core/kv/transfer';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';

const execFileAsync = promisify(execFile);

/** Every key under a prefix with its value and flags, for before/after comparisons. */
async function snapshot(c: ConsulConnection, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await getSubtree(c, prefix)) out.set(e.key, `${e.flags}:${e.value.toString('base64')}`);
  return out;
}

async function seed(c: ConsulConnection, prefix: string, count: number, make: (i: number) => Buffer = (i) => Buffer.from(`value ${i}`)): Promise<void> {
  const ops = Array.from({ length: count }, (_, i) => ({ verb: 'set' as const, key: `${prefix}k${String(i).padStart(6, '0')}`, value: make(i), flags: i % 7 }));
  for (let i = 0; i < ops.length; i += 64) {
    const r = await runTxn(c, ops.slice(i, i + 64));
    assert.ok(r.ok, 'seeding transaction refused');
  }
}

describe('KV against the real cluster', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let c: ConsulConnection;
  const root = `kvtest-${process.pid}-${Date.now()}/`;

  before(async () => {
    c = await connect({ name: 'kv', address: server.httpAddr }, undefined);
  });
  after(async () => {
    await deleteTree(c, root).catch(() => undefined);
    c?.dispose();
  });

  it('writes and reads values byte for byte, binary included, with flags', async () => {
    const bin = Buffer.from([0, 255, 254, 0x80, 10, 13, 0xc3]);
    const w = await writeEntry(c, `${root}bin`, bin, { flags: 42 });
    const r = await getEntry(c, `${root}bin`);
    assert.ok(r);
    assert.deepEqual([...r.value], [...bin]);
    assert.equal(r.flags, 42);
    assert.equal(r.modifyIndex, w.modifyIndex);
    const empty = await writeEntry(c, `${root}empty`, Buffer.alloc(0));
    assert.equal((await getEntry(c, `${root}empty`))?.value.length, 0);
    assert.ok(empty.modifyIndex > 0);
  });

  it('detects a concurrent edit: nothing is overwritten and both values are kept', async () => {
    const key = `${root}cas/doc.json`;
    const first = await writeEntry(c, key, Buffer.from('{"v":1}'));
    // Someone else writes after we read.
    const theirs = await writeEntry(c, key, Buffer.from('{"v":"theirs"}'));
    const ours = Buffer.from('{"v":"ours"}');
    await assert.rejects(writeEntry(c, key, ours, { cas: first.modifyIndex }), (e: unknown) => {
      assert.ok(e instanceof KvConflictError);
      assert.equal(e.current?.value.toString(), '{"v":"theirs"}');
      assert.equal(e.current?.modifyIndex, theirs.modifyIndex);
      assert.match(e.message, /nothing was overwritten/);
      return true;
    });
    assert.equal((await getEntry(c, key))?.value.toString(), '{"v":"theirs"}');
    assert.equal(ours.toString(), '{"v":"ours"}');
    // Overwrite is a CAS on the index now seen.
    const over = await writeEntry(c, key, ours, { cas: theirs.modifyIndex });
    assert.equal((await getEntry(c, key))?.modifyIndex, over.modifyIndex);
  });

  it('reports a key deleted meanwhile and does not recreate it', async () => {
    const key = `${root}cas/gone`;
    const w = await writeEntry(c, key, Buffer.from('x'));
    await deleteKey(c, key);
    await assert.rejects(writeEntry(c, key, Buffer.from('y'), { cas: w.modifyIndex }), (e: unknown) => e instanceof KvConflictError && !e.current && /deleted/.test(e.message));
    assert.equal(await getEntry(c, key), undefined);
  });

  it('refuses values over 512 KiB before sending, naming the limit; 512 KiB exactly is written (as a plain PUT)', async () => {
    await assert.rejects(writeEntry(c, `${root}big`, Buffer.alloc(MAX_VALUE_BYTES + 1)), (e: unknown) => e instanceof KvValueTooLargeError && /512 KiB/.test(e.message));
    assert.equal(await getEntry(c, `${root}big`), undefined);
    const w = await writeEntry(c, `${root}big`, Buffer.alloc(MAX_VALUE_BYTES, 7), { cas: 0 });
    assert.equal(w.value.length, MAX_VALUE_BYTES);
    await assert.rejects(writeEntry(c, `${root}big`, Buffer.from('z'), { cas: 0 }), KvConflictError);
  });

  it('lists one level: sub-folders and keys, not the folder itself', async () => {
    await writeEntry(c, `${root}lvl/`, Buffer.alloc(0));
    await writeEntry(c, `${root}lvl/a`, Buffer.from('1'));
    await writeEntry(c, `${root}lvl/sub/deep/x`, Buffer.from('2'));
    const level = await listLevel(c, `${root}lvl`);
    assert.deepEqual(level.folders, [`${root}lvl/sub/`]);
    assert.deepEqual(level.keys, [`${root}lvl/a`]);
    assert.deepEqual((await listLevel(c, `${root}nothing-here/`)).keys, []);
  });

  it('a live folder sees a key written elsewhere within 2 s', async () => {
    const prefix = `${root}live/`;
    const q = new LiveQuery<string[]>(c, { method: kvKeysMethod(prefix, '/'), path: `/v1/kv/${prefix}?keys`, transform: (b) => b as string[], wait: '10s' });
    const sub = q.subscribe();
    try {
      await eventually('first answer', () => q.current.kind === 'ready' || undefined, 5000);
      const t0 = Date.now();
      await writeEntry(c, `${prefix}new`, Buffer.from('1'));
      await eventually('the new key', () => (q.current.kind === 'ready' && q.current.data.includes(`${prefix}new`)) || undefined, 2000);
      assert.ok(Date.now() - t0 < 2000);
      await deleteKey(c, `${prefix}new`);
      await eventually('the key gone', () => (q.current.kind === 'ready' && !q.current.data.includes(`${prefix}new`)) || undefined, 2000);
    } finally {
      sub.dispose();
      q.dispose();
    }
  });

  it('moves a single key (rename) and copies one', async () => {
    await writeEntry(c, `${root}ren/a`, Buffer.from('A'), { flags: 3 });
    const r = await moveSubtree(c, `${root}ren/a`, `${root}ren/b`);
    assert.equal(r.deleted, 1);
    assert.equal(await getEntry(c, `${root}ren/a`), undefined);
    const b = await getEntry(c, `${root}ren/b`);
    assert.equal(b?.value.toString(), 'A');
    assert.equal(b?.flags, 3);
    await copySubtree(c, `${root}ren/b`, `${root}ren/c`);
    assert.equal((await getEntry(c, `${root}ren/b`))?.value.toString(), 'A');
    assert.equal((await getEntry(c, `${root}ren/c`))?.value.toString(), 'A');
    await assert.rejects(moveSubtree(c, `${root}ren/b`, `${root}ren/c`), KvTransferError);
    await assert.rejects(moveSubtree(c, `${root}ren/`, `${root}ren/inner/`), /inside/);
  });

  describe('subtree moves of 320 keys in 5 chunks', () => {
    const N = 320;
    const bin = (i: number) => (i % 10 === 0 ? Buffer.from([i & 255, 0, 0xff, 0xfe]) : Buffer.from(`v${i}`));

    it('moves everything, in at least 5 copy chunks, and leaves nothing at the source', async () => {
      const src = `${root}mv1/src/`;
      await seed(c, src, N, bin);
      const before = await snapshot(c, src);
      const chunks: number[] = [];
      const r = await moveSubtree(c, src, `${root}mv1/dst/`, { onProgress: (p) => void (p.phase === 'copy' && chunks.push(p.chunk!)) });
      assert.ok(chunks.length >= 5, `only ${chunks.length} copy chunks`);
      assert.equal(r.copied, N);
      assert.equal(r.deleted, N);
      assert.equal((await snapshot(c, src)).size, 0);
      const after = await snapshot(c, `${root}mv1/dst/`);
      assert.deepEqual([...after].map(([k, v]) => [k.replace('/dst/', '/src/'), v]), [...before]);
    });

    it('keeps (and reports) a source key a concurrent writer changes mid-move; every value stays recoverable', async () => {
      const src = `${root}mv2/src/`;
      const dst = `${root}mv2/dst/`;
      await seed(c, src, N, bin);
      const before = await snapshot(c, src);
      const victim = `${src}k000100`;
      const r = await moveSubtree(c, src, dst, {
        onProgress: async (p) => {
          if (p.phase === 'copy' && p.chunk === 2) await writeEntry(c, victim, Buffer.from('changed during the move'));
        },
      });
      assert.deepEqual(r.keptChanged, [victim]);
      assert.equal(r.deleted, N - 1);
      const srcAfter = await snapshot(c, src);
      const dstAfter = await snapshot(c, dst);
      assert.deepEqual([...srcAfter.keys()], [victim]);
      assert.equal((await getEntry(c, victim))?.value.toString(), 'changed during the move');
      // The value read before the move is at the destination: nothing is lost.
      assert.equal(dstAfter.size, N);
      for (const [k, v] of before) assert.equal(dstAfter.get(k.replace(src, dst)), v, k);
    });

    it('a later chunk that fails removes what the earlier chunks wrote and leaves the source complete', async () => {
      const src = `${root}mv3/src/`;
      const dst = `${root}mv3/dst/`;
      await seed(c, src, N, bin);
      const before = await snapshot(c, src);
      // A key already at the destination, in the fifth chunk (keys 256..319).
      const blocker = `${dst}k000300`;
      await writeEntry(c, blocker, Buffer.from('was here first'));
      let copyChunks = 0;
      await assert.rejects(
        moveSubtree(c, src, dst, { onProgress: (p) => void (p.phase === 'copy' && copyChunks++) }),
        (e: unknown) => e instanceof KvTransferError && e.rolledBack === 256 && /already exists/.test(e.message) && /source is unchanged/.test(e.message),
      );
      assert.equal(copyChunks, 4);
      assert.deepEqual([...(await snapshot(c, src))], [...before]);
      assert.deepEqual([...(await snapshot(c, dst)).keys()], [blocker]);
      assert.equal((await getEntry(c, blocker))?.value.toString(), 'was here first');
    });

    it('copies a folder (the source stays) and counts keys for the delete confirmation', async () => {
      const src = `${root}cp/src/`;
      await seed(c, src, 100);
      const r = await copySubtree(c, src, `${root}cp/dst`);
      assert.equal(r.copied, 100);
      assert.equal(await countKeys(c, src), 100);
      assert.equal(await countKeys(c, `${root}cp/dst/`), 100);
      await deleteTree(c, `${root}cp/`);
      assert.equal(await countKeys(c, `${root}cp/`), 0);
    });
  });

  describe('export and import', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-kv-'));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    async function seedMixed(prefix: string): Promise<void> {
      await writeEntry(c, `${prefix}app/config.json`, Buffer.from('{"a": 1}\n'), { flags: 5 });
      await writeEntry(c, `${prefix}app/bin`, Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]));
      await writeEntry(c, `${prefix}app/empty`, Buffer.alloc(0));
      await writeEntry(c, `${prefix}app/deep/er/x.yml`, Buffer.from('a: b\n'));
      await writeEntry(c, `${prefix}app/ünïcode key`, Buffer.from('ü'));
    }

    it('export → import round trip is byte-identical, binary values included', async () => {
      const p = `${root}rt/`;
      await seedMixed(p);
      const first = toExportJson(await exportItems(c, p));
      await deleteTree(c, p);
      const plan = await planImport(c, parseExportJson(first));
      assert.equal(plan.create.length, 5);
      const applied = await applyImport(c, plan);
      assert.equal(applied.created, 5);
      assert.equal(toExportJson(await exportItems(c, p)), first);
      // Importing again changes nothing.
      const again = await planImport(c, parseExportJson(first));
      assert.equal(again.unchanged.length, 5);
      assert.equal(again.create.length + again.change.length, 0);
    });

    it('plans changes with the current values and applies them CAS, leaving keys changed since the plan', async () => {
      const p = `${root}plan/`;
      await writeEntry(c, `${p}same`, Buffer.from('s'));
      await writeEntry(c, `${p}changed`, Buffer.from('old'));
      await writeEntry(c, `${p}raced`, Buffer.from('old'));
      const items = [
        { key: `${p}same`, flags: 0, value: Buffer.from('s') },
        { key: `${p}changed`, flags: 0, value: Buffer.from('new') },
        { key: `${p}raced`, flags: 0, value: Buffer.from('new') },
        { key: `${p}created`, flags: 1, value: Buffer.from('c') },
      ];
      const plan = await planImport(c, items);
      assert.deepEqual(plan.create.map((i) => i.key), [`${p}created`]);
      assert.deepEqual(plan.change.map((x) => [x.item.key, x.current.value.toString()]), [[`${p}changed`, 'old'], [`${p}raced`, 'old']]);
      assert.deepEqual(plan.unchanged.map((i) => i.key), [`${p}same`]);
      await writeEntry(c, `${p}raced`, Buffer.from('someone else'));
      const r = await applyImport(c, plan);
      assert.deepEqual(r.conflicts, [`${p}raced`]);
      assert.equal(r.created + r.changed, 2);
      assert.equal((await getEntry(c, `${p}raced`))?.value.toString(), 'someone else');
      assert.equal((await getEntry(c, `${p}changed`))?.value.toString(), 'new');
    });

    it('imports a file written by the real `consul kv export`, and the real `consul kv import` reads ours', async () => {
      const p = `${root}cli/`;
      await seedMixed(p);
      const { stdout } = await execFileAsync(cluster.consulBin, ['kv', 'export', `-http-addr=${server.httpAddr}`, p], { maxBuffer: 64 << 20 });
      const theirs = parseExportJson(stdout);
      assert.equal(theirs.length, 5);
      // Theirs, imported by us under another prefix.
      const moved = retarget(theirs, p, `${root}cli-ours/`);
      await applyImport(c, await planImport(c, moved));
      const cmp = await compareSubtrees({ connection: c, prefix: p }, { connection: c, prefix: `${root}cli-ours/` });
      assert.deepEqual(cmp.differences, []);
      assert.equal(cmp.same, 5);
      // Ours, imported by the CLI.
      const file = path.join(tmp, 'ours.json');
      fs.writeFileSync(file, toExportJson(retarget(await exportItems(c, p), p, `${root}cli-theirs/`)));
      await execFileAsync(cluster.consulBin, ['kv', 'import', `-http-addr=${server.httpAddr}`, `@${file}`]);
      const cmp2 = await compareSubtrees({ connection: c, prefix: p }, { connection: c, prefix: `${root}cli-theirs/` });
      assert.deepEqual(cmp2.differences, []);
      // And the CLI's export of what it imported is what we wrote.
      const { stdout: back } = await execFileAsync(cluster.consulBin, ['kv', 'export', `-http-addr=${server.httpAddr}`, `${root}cli-theirs/`]);
      assert.deepEqual(parseExportJson(back), parseExportJson(fs.readFileSync(file, 'utf8')));
    });

    it('exports to a folder of files and imports it back byte for byte', async () => {
      const p = `${root}files/`;
      await seedMixed(p);
      const dir = path.join(tmp, 'tree');
      const r = await exportToFolder(await exportItems(c, p), p, dir);
      assert.equal(r.files, 5);
      assert.deepEqual(r.flagsDropped, [`${p}app/config.json`]);
      assert.deepEqual([...fs.readFileSync(path.join(dir, 'app', 'bin'))], [0, 1, 2, 0xff, 0xfe, 0x80]);
      await assert.rejects(exportToFolder(await exportItems(c, p), p, dir), /not empty/);
      const items = await readFolder(dir, `${root}files-back/`);
      await applyImport(c, await planImport(c, items));
      const cmp = await compareSubtrees({ connection: c, prefix: p }, { connection: c, prefix: `${root}files-back/` });
      assert.deepEqual(cmp.differences.map((d) => [d.relative, d.status]), [['app/config.json', 'flags']]);
    });

    it('refuses malformed export files with the entry named', () => {
      assert.throws(() => parseExportJson('{}'), /JSON array/);
      assert.throws(() => parseExportJson('[{"key":"a","flags":0,"value":"!!"}]'), /Entry 1 \("a"\).*base64/);
      assert.throws(() => parseExportJson('[{"key":"/a","flags":0,"value":""}]'), /starts with "\/"/);
      assert.throws(() => parseExportJson('[{"key":"a","flags":-1,"value":""}]'), /flags/);
    });
  });

  it('searches by key name and by value text under a prefix', async () => {
    const p = `${root}search/`;
    await writeEntry(c, `${p}web/port`, Buffer.from('8080'));
    await writeEntry(c, `${p}db/conn`, Buffer.from('host=db.internal\nport=5432'));
    await writeEntry(c, `${p}db/bin`, Buffer.from([0xff, 0xfe]));
    assert.deepEqual((await searchKv(c, { prefix: p, text: 'PORT' })).hits.map((h) => h.key), [`${p}web/port`]);
    const v = await searchKv(c, { prefix: p, text: 'db.internal', values: true });
    assert.deepEqual(v.hits, [{ key: `${p}db/conn`, in: 'value', excerpt: 'host=db.internal' }]);
  });

  it('compares a subtree across two clusters (datacenters) and names each difference', async function () {
    const secure = cluster.secure;
    if (!secure) return this.skip();
    const other = await connect({ name: 'secure', address: `https://${secure.httpsAddr}`, caFile: secure.caFile }, secure.managementToken);
    try {
      const p = `${root}cmp/`;
      await writeEntry(c, `${p}same`, Buffer.from('1'));
      await writeEntry(c, `${p}differs`, Buffer.from('staging'));
      await writeEntry(c, `${p}flags`, Buffer.from('f'), { flags: 1 });
      await writeEntry(c, `${p}only-left`, Buffer.from('x'));
      await writeEntry(other, `${p}same`, Buffer.from('1'));
      await writeEntry(other, `${p}differs`, Buffer.from('production'));
      await writeEntry(other, `${p}flags`, Buffer.from('f'), { flags: 2 });
      await writeEntry(other, `${p}only-right`, Buffer.from('y'));
      const r = await compareSubtrees({ connection: c, prefix: p }, { connection: other, prefix: p });
      assert.deepEqual(r.differences.map((d) => [d.relative, d.status]), [
        ['differs', 'differs'],
        ['flags', 'flags'],
        ['only-left', 'onlyLeft'],
        ['only-right', 'onlyRight'],
      ]);
      assert.equal(r.same, 1);
      await deleteTree(other, root);
    } finally {
      other.dispose();
    }
  });

  describe('with a read-only ACL token', () => {
    const secure = cluster.secure;
    const profile = secure && { name: 'secure', address: `https://${secure.httpsAddr}`, caFile: secure.caFile };

    it('reads, knows it cannot write, and a write names the missing key:write permission', async function () {
      if (!secure || !profile) return this.skip();
      const ro = await connect(profile, secure.readOnlyToken);
      const admin = await connect(profile, secure.managementToken);
      try {
        const key = `${root}acl/doc`;
        const w = await writeEntry(admin, key, Buffer.from('v'));
        assert.equal((await getEntry(ro, key))?.value.toString(), 'v');
        assert.equal(await canWrite(ro, key), false);
        assert.equal(await canWrite(admin, key), true);
        assert.equal(await canWrite(admin, `${root}acl/not-yet`), true);
        assert.equal(await getEntry(admin, `${root}acl/not-yet`), undefined, 'the probe must never write');
        assert.equal((await getEntry(admin, key))?.modifyIndex, w.modifyIndex, 'the probe must never write');
        await assert.rejects(writeEntry(ro, key, Buffer.from('x'), { cas: w.modifyIndex }), (e: unknown) => {
          assert.ok(e instanceof AclDeniedError);
          assert.equal(e.permission, `key:write on "${key}"`);
          assert.ok(!e.message.includes(secure.readOnlyToken));
          return true;
        });
        await assert.rejects(moveSubtree(ro, key, `${key}2`), /key:write/);
        assert.equal((await getEntry(admin, key))?.value.toString(), 'v');
        await deleteTree(admin, root);
      } finally {
        ro.dispose();
        admin.dispose();
      }
    });
  });

  it('deletes only what was read: a key changed after the read is kept and named', async () => {
    const p = `${root}del-cas/`;
    await seed(c, p, 70);
    const read = await getSubtree(c, p);
    await writeEntry(c, `${p}k000003`, Buffer.from('changed after the read'));
    await writeEntry(c, `${p}k000069`, Buffer.from('also changed'));
    await writeEntry(c, `${p}new-after-read`, Buffer.from('appeared'));
    const r = await deleteUnchanged(c, read);
    assert.equal(r.deleted, 68);
    assert.deepEqual(r.changed.sort(), [`${p}k000003`, `${p}k000069`]);
    assert.deepEqual(r.failed, []);
    assert.deepEqual([...(await snapshot(c, p)).keys()].sort(), [`${p}k000003`, `${p}k000069`, `${p}new-after-read`]);
  });

  it('moves a key onto an existing one without a moment where the destination is gone; a missing source changes nothing', async () => {
    const src = `${root}ow/src`;
    const dst = `${root}ow/dst`;
    await writeEntry(c, src, Buffer.from('new'), { flags: 7 });
    await writeEntry(c, dst, Buffer.from('old'));
    await overwriteKey(c, src, dst, true);
    const moved = await getEntry(c, dst);
    assert.equal(moved?.value.toString(), 'new');
    assert.equal(moved?.flags, 7);
    assert.equal(await getEntry(c, src), undefined);
    // A source that is missing loses nothing at the destination.
    await assert.rejects(overwriteKey(c, `${root}ow/missing`, dst, true), /does not exist/);
    assert.equal((await getEntry(c, dst))?.value.toString(), 'new');
  });

  it('reads a folder for import without its hidden files, and refuses an oversized file before reading it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-kv-hidden-'));
    try {
      fs.mkdirSync(path.join(dir, '.git'));
      fs.writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main');
      fs.writeFileSync(path.join(dir, '.DS_Store'), 'x');
      fs.mkdirSync(path.join(dir, 'app'));
      fs.writeFileSync(path.join(dir, 'app', 'port'), '8080');
      const items = await readFolder(dir, 'p/');
      assert.deepEqual(items.map((i) => i.key), ['p/app/port']);
      assert.deepEqual(items.skipped, ['.DS_Store', '.git/']);
      fs.writeFileSync(path.join(dir, 'app', 'big'), Buffer.alloc(MAX_VALUE_BYTES + 1));
      await assert.rejects(readFolder(dir, 'p/'), (e: unknown) => e instanceof KvValueTooLargeError && /p\/app\/big/.test((e as Error).message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

});

describe('a 100,000-key folder', function () {
  this.timeout(240_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let c: ConsulConnection;
  const prefix = `kvbig-${process.pid}/`;
  const N = 100_000;

  before(async () => {
    c = await connect({ name: 'kv', address: server.httpAddr }, undefined);
    const batches: { verb: 'set'; key: string; value: Buffer }[][] = [];
    for (let i = 0; i < N; i += 64) {
      batches.push(Array.from({ length: Math.min(64, N - i) }, (_, j) => ({ verb: 'set' as const, key: `${prefix}k${String(i + j).padStart(6, '0')}`, value: Buffer.from('x') })));
    }
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let b = batches.shift(); b; b = batches.shift()) assert.ok((await runTxn(c, b)).ok);
      }),
    );
  });
  after(async () => {
    await deleteTree(c, prefix).catch(() => undefined);
    c?.dispose();
  });

  it('lists its first page from one level, without the values', async () => {
    const t0 = Date.now();
    const level = await listLevel(c, prefix);
    const page = levelPage(level, 100);
    const ms = Date.now() - t0;
    assert.equal(page.total, N);
    assert.equal(page.children.length, 100);
    assert.equal(page.more, N - 100);
    assert.equal(page.children[0].name, 'k000000');
    assert.ok(ms < 5000, `listing took ${ms} ms`);
  });

  it('keeps entries apart from listing: a page of details is one read per shown key', async () => {
    const e = (await getEntry(c, `${prefix}k099999`)) as KvEntry;
    assert.equal(e.value.toString(), 'x');
  });
});
