/**
 * Activation must not load the libraries that only the first connection, task.yml
 * read or credentials file needs (src/core/util/lazyLibs.ts): the modules that use
 * them load without them, and the first use loads them (test/support/lazyCheck.ts).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

describe('lazily loaded libraries', () => {
  it('loads none of them with the modules that use them, and each on first use (in a fresh process)', () => {
    const script = `require(${JSON.stringify(path.join(__dirname, '..', 'support', 'lazyCheck.js'))}).checkLazyLoading().then(() => process.exit(0), (e) => { console.error(e && e.stack || e); process.exit(1); });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `the check failed in a fresh process:\n${r.stderr}${r.stdout}`);
  });
});
