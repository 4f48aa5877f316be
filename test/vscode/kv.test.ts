import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { activateExtension, removeProfiles } from './support';

describe('Key/Value in VS Code', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const root = `kvvs-${Date.now()}/`;
  let api: ChefConsulApi;
  const uri = (key: string) => vscode.Uri.parse(`consul-kv://Environment/${key}`);
  /** A raw PUT of the bytes, as another writer would. */
  const put = (key: string, value: string | Buffer) =>
    new Promise<void>((resolve, reject) => {
      const [host, port] = server.httpAddr.split(':');
      const req = http.request({ host, port: Number(port), method: 'PUT', path: `/v1/kv/${encodeURI(key)}`, agent: false }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(value);
    });
  const get = async (key: string) => {
    const r = await consulJson<Array<{ Value: string | null; Flags: number; ModifyIndex: number }> | undefined>(server.httpAddr, `/v1/kv/${key}`).catch(() => undefined);
    return r?.[0] && { value: Buffer.from(r[0].Value ?? '', 'base64'), flags: r[0].Flags, index: r[0].ModifyIndex };
  };

  before(async () => {
    api = await activateExtension();
    await api.connections.connected();
    await vscode.commands.executeCommand('chefConsul.kv.focus');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await consulRequest(server.httpAddr, `/v1/kv/${root}?recurse`, { method: 'DELETE' });
  });

  it('shows the top level, a folder one level at a time, and a key written elsewhere within 2 s', async () => {
    await put(`${root}app/config.json`, '{"port": 80}');
    await put(`${root}app/deep/x`, '1');
    const view = api.kv.view;
    await eventually('the root folder in the view', () => view.shown('').names.includes(root.slice(0, -1)) || undefined, 10_000);
    assert.ok(view.treeView.visible);
    await view.reveal(`${root}app/`);
    // Listed once the workbench has expanded the folder and asked for its children.
    await eventually('app listed', () => view.shown(`${root}app/`).names.join() === 'deep,config.json' || undefined, 15_000);
    await eventually('details of config.json', () => view.shown(`${root}app/`).entries.get(`${root}app/config.json`), 15_000);
    const t0 = Date.now();
    await put(`${root}app/new-key`, 'hello');
    await eventually('the new key in the view', () => view.shown(`${root}app/`).names.includes('new-key') || undefined, 2000);
    assert.ok(Date.now() - t0 <= 2000);
    const item = view.getTreeItem({ kind: 'key', key: `${root}app/config.json`, name: 'config.json' });
    assert.equal(item.description, '12 B');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'key');
    assert.equal(item.contextValue, 'chefConsul.kvKey');
  });

  it('works through workspace.fs: stat, readDirectory, read, write, rename, delete', async () => {
    const dir = uri(`${root}fs`);
    await vscode.workspace.fs.writeFile(uri(`${root}fs/a.txt`), Buffer.from('A'));
    assert.equal((await get(`${root}fs/a.txt`))?.value.toString(), 'A');
    assert.equal((await vscode.workspace.fs.stat(dir)).type, vscode.FileType.Directory);
    assert.equal((await vscode.workspace.fs.stat(uri(`${root}fs/a.txt`))).type, vscode.FileType.File);
    assert.deepEqual(await vscode.workspace.fs.readDirectory(dir), [['a.txt', vscode.FileType.File]]);
    assert.equal(Buffer.from(await vscode.workspace.fs.readFile(uri(`${root}fs/a.txt`))).toString(), 'A');
    await vscode.workspace.fs.writeFile(uri(`${root}fs/a.txt`), Buffer.from('B'));
    assert.equal((await get(`${root}fs/a.txt`))?.value.toString(), 'B');
    await vscode.workspace.fs.rename(dir, uri(`${root}fs2`));
    assert.equal(await get(`${root}fs/a.txt`), undefined);
    assert.equal((await get(`${root}fs2/a.txt`))?.value.toString(), 'B');
    await vscode.workspace.fs.delete(uri(`${root}fs2`), { recursive: true });
    assert.equal(await get(`${root}fs2/a.txt`), undefined);
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(uri(`${root}nothing`))), (e: vscode.FileSystemError) => e.code === 'FileNotFound');
  });

  it('round-trips a non-UTF-8 value byte for byte and refuses values over 512 KiB', async () => {
    const bytes = Buffer.from([0, 0xff, 0xfe, 0x80, 0xc3, 10]);
    await put(`${root}bin`, bytes);
    const read = await vscode.workspace.fs.readFile(uri(`${root}bin`));
    assert.deepEqual([...read], [...bytes]);
    await vscode.workspace.fs.writeFile(uri(`${root}bin`), read);
    assert.deepEqual([...(await get(`${root}bin`))!.value], [...bytes]);
    assert.match((await api.kv.documents.readOnlyReason(uri(`${root}bin`))) ?? '', /not UTF-8/);
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uri(`${root}huge`), new Uint8Array(512 * 1024 + 1))), /512 KiB/);
    assert.equal(await get(`${root}huge`), undefined);
  });

  it('opens a key as a document whose language follows its content, and saves it (CAS)', async () => {
    await put(`${root}doc/settings`, '{\n  "a": 1\n}\n');
    const doc = await vscode.workspace.openTextDocument(uri(`${root}doc/settings`));
    await vscode.window.showTextDocument(doc);
    await eventually('JSON language', () => doc.languageId === 'json' || undefined, 5000);
    const before = (await get(`${root}doc/settings`))!.index;
    const editor = vscode.window.activeTextEditor!;
    await editor.edit((e) => e.replace(new vscode.Range(0, 0, doc.lineCount, 0), '{\n  "a": 2\n}\n'));
    assert.ok(await doc.save());
    const after = await get(`${root}doc/settings`);
    assert.equal(after?.value.toString(), '{\n  "a": 2\n}\n');
    assert.ok(after!.index > before);
    assert.equal(api.kv.fileSystem.base(doc.uri)?.index, after!.index);
  });

  it('a save over a concurrent change overwrites nothing, shows the diff, and keep / overwrite / take theirs each do what they say', async () => {
    const key = `${root}doc/conflict.yml`;
    await put(key, 'a: 1\n');
    const doc = await vscode.workspace.openTextDocument(uri(key));
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((e) => e.insert(new vscode.Position(1, 0), 'ours: true\n'));
    await put(key, 'a: 1\ntheirs: true\n');
    const shown = new Promise<{ diff: vscode.Uri }>((resolve) => {
      const sub = api.kv.documents.onDidShowConflict((x) => {
        sub.dispose();
        resolve(x);
      });
    });
    assert.equal(await doc.save(), false, 'the save must fail');
    const { diff } = await shown;
    assert.equal((await vscode.workspace.openTextDocument(diff)).getText(), 'a: 1\ntheirs: true\n');
    assert.equal((await get(key))?.value.toString(), 'a: 1\ntheirs: true\n', 'their value is kept');
    assert.equal(doc.getText(), 'a: 1\nours: true\n', 'our value is kept');
    assert.ok(doc.isDirty);
    // Keep editing: nothing changes.
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.resolveConflict', { uri: doc.uri.toString(), choice: 'keep' }), false);
    assert.equal((await get(key))?.value.toString(), 'a: 1\ntheirs: true\n');
    // Overwrite: ours goes in, CAS on their index.
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.resolveConflict', { uri: doc.uri.toString(), choice: 'overwrite' }), true);
    assert.equal((await get(key))?.value.toString(), 'a: 1\nours: true\n');
    // Again, and this time take theirs.
    await vscode.window.showTextDocument(doc);
    await vscode.window.activeTextEditor!.edit((e) => e.insert(new vscode.Position(0, 0), '# mine\n'));
    await put(key, 'b: 2\n');
    assert.equal(await doc.save(), false);
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.resolveConflict', { uri: doc.uri.toString(), choice: 'theirs' }), true);
    await eventually('the document to hold their value', () => doc.getText() === 'b: 2\n' || undefined, 5000);
    assert.ok(!doc.isDirty);
    assert.equal((await get(key))?.value.toString(), 'b: 2\n');
  });

  it('a key deleted meanwhile is reported, not recreated', async () => {
    const key = `${root}doc/deleted`;
    await put(key, 'x');
    const doc = await vscode.workspace.openTextDocument(uri(key));
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'y'));
    await consulRequest(server.httpAddr, `/v1/kv/${key}`, { method: 'DELETE' });
    assert.equal(await doc.save(), false);
    assert.equal(await get(key), undefined);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('runs the operations with argument objects and returns what they produced', async () => {
    const p = `${root}ops/`;
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.newKey', { key: `${p}a`, value: 'va', flags: 3 }), `${p}a`);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.kv.newKey', { key: `${p}a`, value: 'again' })), /already exists/);
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.newFolder', { folder: `${p}sub` }), `${p}sub/`);
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.editFlags', { key: `${p}a`, flags: 9 }), 9);
    assert.equal((await get(`${p}a`))?.flags, 9);
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.copyValue', { key: `${p}a` }), 'va');
    assert.equal(await vscode.env.clipboard.readText(), 'va');
    assert.equal(await vscode.commands.executeCommand('chefConsul.kv.copyPath', { key: `${p}a` }), `${p}a`);
    const copied = await vscode.commands.executeCommand<{ copied: number }>('chefConsul.kv.copy', { from: p, to: `${root}ops-copy/` });
    assert.equal(copied.copied, 2);
    const moved = await vscode.commands.executeCommand<{ deleted: number }>('chefConsul.kv.move', { from: `${root}ops-copy/`, to: `${root}ops-moved/` });
    assert.equal(moved.deleted, 2);
    const hits = await vscode.commands.executeCommand<Array<{ key: string }>>('chefConsul.kv.search', { prefix: root, text: 'va', values: true });
    assert.deepEqual(hits.map((h) => h.key).sort(), [`${root}ops-moved/a`, `${p}a`]);
    const cmp = await vscode.commands.executeCommand<{ differences: unknown[]; same: number }>('chefConsul.kv.compare', { prefix: p, otherPrefix: `${root}ops-moved/` });
    assert.deepEqual(cmp.differences, []);
    assert.equal(cmp.same, 2);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cco-kv-vs-')), 'export.json');
    assert.equal((await vscode.commands.executeCommand<{ keys: number }>('chefConsul.kv.export', { prefix: p, path: file })).keys, 2);
    const dry = await vscode.commands.executeCommand<{ created: number; applied: boolean }>('chefConsul.kv.import', { path: file, fromPrefix: p, prefix: `${root}ops-imported/`, dryRun: true });
    assert.deepEqual([dry.created, dry.applied], [2, false]);
    const imported = await vscode.commands.executeCommand<{ created: number; applied: boolean }>('chefConsul.kv.import', { path: file, fromPrefix: p, prefix: `${root}ops-imported/` });
    assert.deepEqual([imported.created, imported.applied], [2, true]);
    const deleted = await vscode.commands.executeCommand<{ deleted: number }>('chefConsul.kv.delete', { key: `${root}ops-imported/` });
    assert.equal(deleted.deleted, 2);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.kv.move', { from: p, to: `${p}inside/` })), /inside/);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.kv.editFlags', { key: `${p}a`, flags: -1 })), /whole number/);
  });

  it('asks a production profile for the typed name before a write reaching several keys', async () => {
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'kv-prod', address: server.httpAddr, production: true });
    try {
      await put(`${root}prod/a`, '1');
      await put(`${root}prod/b`, '2');
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chefConsul.kv.delete', { key: `${root}prod/` })), /production.*"confirm": "kv-prod"/);
      assert.ok(await get(`${root}prod/a`));
      // The file system cannot ask: folder deletes and moves through it are refused on production.
      const folder = vscode.Uri.parse(`consul-kv://kv-prod/${root}prod`);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.delete(folder, { recursive: true })), /Profile "kv-prod" is production: folders are not changed through the file system/);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.rename(folder, vscode.Uri.parse(`consul-kv://kv-prod/${root}prod2`), { overwrite: false })), /is production/);
      assert.ok(await get(`${root}prod/a`));
      assert.ok(await get(`${root}prod/b`));
      const r = await vscode.commands.executeCommand<{ deleted: number }>('chefConsul.kv.delete', { key: `${root}prod/`, confirm: 'kv-prod' });
      assert.equal(r.deleted, 2);
    } finally {
      await vscode.commands.executeCommand('chefConsul.selectProfile', { name: 'Environment' });
      await removeProfiles('kv-prod');
    }
  });

  it('with a read-only token, documents are read-only and a write names the missing key:write permission', async function () {
    const secure = cluster.secure;
    if (!secure) return this.skip();
    await vscode.commands.executeCommand('chefConsul.addProfile', { name: 'kv-ro', address: `https://${secure.httpsAddr}`, caFile: secure.caFile, activate: false });
    await vscode.commands.executeCommand('chefConsul.setToken', { profile: 'kv-ro', token: secure.readOnlyToken });
    try {
      const u = vscode.Uri.parse('consul-kv://kv-ro/secure/greeting');
      const text = Buffer.from(await vscode.workspace.fs.readFile(u)).toString();
      assert.ok(text.length > 0);
      assert.match((await api.kv.documents.readOnlyReason(u)) ?? '', /key:write/);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(u, Buffer.from('x'))), /key:write on "secure\/greeting"/);
    } finally {
      await vscode.commands.executeCommand('chefConsul.clearToken', { profile: 'kv-ro' });
      await removeProfiles('kv-ro');
    }
  });
});
