import * as assert from 'node:assert/strict';
import { chunkOps, splitLevel, TxnOp } from '../../src/core/kv/kvStore';
import { detectLanguage } from '../../src/core/kv/language';
import { childrenOf, levelPage, pageOf } from '../../src/core/kv/listing';
import { baseName, checkKey, folderPrefix, isUtf8, parentFolder } from '../../src/core/kv/model';
import { planTargets } from '../../src/core/kv/subtree';
import { parseExportJson, retarget, toExportJson } from '../../src/core/kv/transfer';

describe('KV model', () => {
  it('names keys and folders', () => {
    assert.equal(baseName('a/b/'), 'b');
    assert.equal(baseName('a/c'), 'c');
    assert.equal(parentFolder('a/b/'), 'a/');
    assert.equal(parentFolder('a'), '');
    assert.equal(folderPrefix('a'), 'a/');
    assert.equal(folderPrefix(''), '');
    assert.throws(() => checkKey('/a'), /starts with/);
    assert.throws(() => checkKey(''), /empty/);
    assert.throws(() => checkKey('a\nb'), /control/);
  });

  it('tells UTF-8 from other bytes', () => {
    assert.ok(isUtf8(Buffer.from('héllo')));
    assert.ok(!isUtf8(Buffer.from([0xff, 0xfe])));
  });

  it('splits a level, pages it, and keeps the folder marker out', () => {
    const level = splitLevel('app/', ['app/', 'app/a', 'app/b/', 'app/c']);
    assert.deepEqual(level, { prefix: 'app/', folders: ['app/b/'], keys: ['app/a', 'app/c'] });
    const page = pageOf(childrenOf(level), 2);
    assert.deepEqual(page.children.map((c) => `${c.kind}:${c.name}`), ['folder:b', 'key:a']);
    assert.equal(page.more, 1);
    assert.deepEqual(levelPage(level, 2), page);
  });

  it('chunks transactions by operation count and by size', () => {
    const ops: TxnOp[] = Array.from({ length: 130 }, (_, i) => ({ verb: 'set', key: `k${i}`, value: Buffer.alloc(10) }));
    assert.deepEqual(chunkOps(ops).map((c) => c.length), [64, 64, 2]);
    const big: TxnOp[] = Array.from({ length: 4 }, (_, i) => ({ verb: 'set', key: `k${i}`, value: Buffer.alloc(200 * 1024) }));
    assert.deepEqual(chunkOps(big).map((c) => c.length), [1, 1, 1, 1]);
  });

  it('plans targets and refuses a folder moved into itself', () => {
    assert.deepEqual(planTargets('a/', 'b'), { sourcePrefix: 'a/', destPrefix: 'b/', folder: true });
    assert.throws(() => planTargets('a/', 'a/b/'), /inside/);
    assert.throws(() => planTargets('a', 'a'), /same/);
    assert.throws(() => planTargets('a', 'b/'), /folder/);
  });

  it('writes and reads the consul kv export format', () => {
    const items = [{ key: 'a/b', flags: 3, value: Buffer.from([0, 255]) }];
    const text = toExportJson(items);
    assert.equal(text, '[\n\t{\n\t\t"key": "a/b",\n\t\t"flags": 3,\n\t\t"value": "AP8="\n\t}\n]\n');
    assert.deepEqual(parseExportJson(text), items);
    assert.deepEqual(retarget(items, 'a/', 'x/y')[0].key, 'x/y/b');
    assert.throws(() => retarget(items, 'z/', 'x/'), /not under/);
  });

  it('detects languages by extension and by content', () => {
    assert.equal(detectLanguage('x.json', ''), 'json');
    assert.equal(detectLanguage('x', '{"a": 1}'), 'json');
    assert.equal(detectLanguage('x', 'a: 1\nb:\n  - c\n'), 'yaml');
    assert.equal(detectLanguage('x', 'service "web" {\n  port = 80\n}\n'), 'hcl');
    assert.equal(detectLanguage('x', 'a.b=1\nc=2\n'), 'properties');
    assert.equal(detectLanguage('x', '#!/bin/sh\necho hi\n'), 'shellscript');
    assert.equal(detectLanguage('x', 'just some words'), 'plaintext');
  });
});
