/**
 * The Key/Value view, a save conflict and a cross-profile compare as a person
 * sees them: the packaged .vsix in code-server, screenshots in test-results/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { consulRequest } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { collapsePane, expandPane, openChefConsulContainer, runFromPalette, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');

describe('UI: the Key/Value view, a save conflict and a compare', function () {
  this.timeout(180_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const root = 'ui-kv';
  let wb: Workbench;
  const put = (key: string, value: string, flags = 0) =>
    new Promise<void>((resolve, reject) => {
      const [host, port] = server.httpAddr.split(':');
      const req = http.request({ host, port: Number(port), method: 'PUT', path: `/v1/kv/${key}${flags ? `?flags=${flags}` : ''}`, agent: false }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(value);
    });
  const get = async (key: string) => {
    const r = await consulRequest(server.httpAddr, `/v1/kv/${key}?raw`);
    return r.status === 200 ? r.text : undefined;
  };

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    await consulRequest(server.httpAddr, `/v1/kv/${root}/?recurse`, { method: 'DELETE' });
    await put(`${root}/staging/app/settings.json`, '{\n  "replicas": 2,\n  "log": "info"\n}\n');
    await put(`${root}/staging/app/db.yml`, 'host: db.staging\npool: 10\n', 5);
    await put(`${root}/staging/app/feature-x`, 'on');
    await put(`${root}/production/app/settings.json`, '{\n  "replicas": 6,\n  "log": "warn"\n}\n');
    await put(`${root}/production/app/db.yml`, 'host: db.production\npool: 40\n', 5);
    wb = await openWorkbench({
      vsix: VSIX,
      folder: fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-kv-')),
      viewport: { width: 1400, height: 900 },
      settings: {
        'chefConsul.profiles': [
          { name: 'staging', address: server.httpAddr },
          { name: 'production', address: server.httpAddr, production: true },
        ],
        'chefConsul.activeProfile': 'staging',
      },
    });
    await openChefConsulContainer(wb.page);
    await collapsePane(wb.page, 'Nodes');
    await collapsePane(wb.page, 'Services');
    await expandPane(wb.page, 'Key/Value');
  });

  after(async () => {
    await wb?.close();
    await consulRequest(server.httpAddr, `/v1/kv/${root}/?recurse`, { method: 'DELETE' });
  });

  it('shows folders one level at a time, keys with size and flags', async () => {
    await viewRow(wb.page, 'Key/Value', root).waitFor({ timeout: 30_000 });
    await viewRow(wb.page, 'Key/Value', root).click();
    await viewRow(wb.page, 'Key/Value', 'staging').click();
    await viewRow(wb.page, 'Key/Value', 'app').click();
    await viewRow(wb.page, 'Key/Value', 'db.yml').waitFor({ timeout: 10_000 });
    await eventually('the details of db.yml', async () => /flags 5/.test(await viewRow(wb.page, 'Key/Value', 'db.yml').innerText()) || undefined, 10_000);
    // Written elsewhere, shown without a refresh: within the blocking query's 30 s wait (liveQuery.ts),
    // so only the query's answer to the write can show it in time.
    await put(`${root}/staging/app/written-elsewhere`, 'x');
    await viewRow(wb.page, 'Key/Value', 'written-elsewhere').waitFor({ timeout: 20_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'kv-view.png') });
  });

  it('a save over a change made elsewhere opens the diff and overwrites nothing', async () => {
    await viewRow(wb.page, 'Key/Value', 'settings.json').click();
    const editor = wb.page.locator('.editor-instance .monaco-editor').first();
    await editor.waitFor({ timeout: 15_000 });
    await editor.locator('.view-lines').click();
    await wb.page.keyboard.press('Control+End');
    await wb.page.keyboard.type('// mine\n');
    await put(`${root}/staging/app/settings.json`, '{\n  "replicas": 3,\n  "log": "debug"\n}\n');
    await wb.page.keyboard.press('Control+S');
    await wb.page.locator('.monaco-diff-editor').first().waitFor({ timeout: 15_000 });
    await wb.page.locator('.notifications-toasts', { hasText: 'changed in Consul' }).first().waitFor({ timeout: 10_000 });
    assert.equal(await get(`${root}/staging/app/settings.json`), '{\n  "replicas": 3,\n  "log": "debug"\n}\n');
    await wb.page.screenshot({ path: path.join(RESULTS, 'kv-conflict.png') });
    await wb.page.locator('.notifications-toasts .monaco-button', { hasText: 'Keep Editing' }).first().click();
  });

  it('compares a folder across profiles, each difference opening the diff editor', async () => {
    await runFromPalette(wb.page, 'Consul KV: Compare with Another');
    const input = wb.page.locator('.quick-input-widget input');
    // Each prompt by its title: a value typed before its prompt shows would go to the one before.
    const step = async (title: string, value: string, row?: string) => {
      await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).first().waitFor({ timeout: 15_000 });
      if (row) await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: row }).first().waitFor({ timeout: 10_000 });
      await input.fill(value);
      await wb.page.keyboard.press('Enter');
    };
    await step('Compare: prefix', `${root}/staging/app/`);
    await step('with the profile', 'production', 'production');
    await step('Datacenter of production', '');
    await step('Prefix on production', `${root}/production/app/`);
    await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'feature-x' }).first().waitFor({ timeout: 15_000 });
    const rows = await wb.page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
    assert.ok(rows.some((r) => r.includes('db.yml')) && rows.some((r) => r.includes('settings.json')), rows.join(', '));
    await input.fill('db.yml');
    await wb.page.keyboard.press('Enter');
    await wb.page.locator('.monaco-diff-editor').first().waitFor({ timeout: 15_000 });
    // The list comes back after each diff (to open the next one): close it to see the diff.
    await wb.page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 10_000 });
    await wb.page.keyboard.press('Escape');
    await wb.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    await wb.page.screenshot({ path: path.join(RESULTS, 'kv-compare.png') });
  });
});
