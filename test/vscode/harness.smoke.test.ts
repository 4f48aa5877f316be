// Proves the harness itself: the right VS Code, our extension loaded from the
// development path, and the runner's environment in the extension host.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';

describe('extension-host harness', () => {
  it('runs inside VS Code 1.100', () => {
    assert.match(vscode.version, /^1\.100\./);
  });

  it('loads our extension from the development path (this checkout), not an installed copy', () => {
    const extension = vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops');
    assert.ok(extension, 'chef-consul-ops.chef-consul-ops is not known to the extension host');
    // Compiled layout: this file is out/test/vscode/, three levels under the checkout.
    const checkout = path.resolve(__dirname, '..', '..', '..');
    assert.equal(fs.realpathSync(extension.extensionUri.fsPath), fs.realpathSync(checkout));
    assert.equal(extension.packageJSON.main, './dist/extension.js');
  });

  it('loads the bundle through the entry point, which writes its V8 code cache in global storage after activation', async () => {
    const extension = vscode.extensions.getExtension<ChefConsulApi>('chef-consul-ops.chef-consul-ops')!;
    const api = await extension.activate();
    // Every suite starts on new user data: nothing cached yet.
    assert.equal(api.boot?.codeCache, 'created');
    const file = api.boot.cacheFile!;
    assert.match(path.basename(file), /^[0-9a-f]{32}-.+\.v8cache$/);
    assert.ok(file.includes(`${path.sep}globalStorage${path.sep}`), `${file} is not in global storage`);
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(fs.statSync(file).size > 10_000, 'the code cache was written');
  });

  it('receives environment variables from the test runner', () => {
    // scripts/run-vscode-tests.mjs sets a fresh value on every run.
    assert.match(process.env.CCO_HARNESS_PROBE ?? '', /^probe-[0-9a-f-]{36}$/);
  });

  it('keeps the runner PATH (no login-shell environment on top)', function () {
    const runnerPath = process.env.CCO_HARNESS_PROBE_PATH;
    if (!runnerPath) {
      this.skip(); // desktop runs via @vscode/test-electron do not set it
    }
    assert.ok(
      (process.env.PATH ?? '').endsWith(runnerPath),
      `PATH ${process.env.PATH} does not end with the runner's ${runnerPath}`,
    );
  });
});
