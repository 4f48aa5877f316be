/**
 * monitor.*: the run monitor in the real browser (code-server + Chromium),
 * the packaged extension connected to the benchmark's own cluster. The load
 * (20 nodes × 1,000 lines/s) is a synthetic run put into the extension's
 * own RunRegistry by a helper extension (test/bench/monitorHelper): three
 * real agents cannot produce 20 nodes' worth of output at that rate. It goes
 * through the same path as a real run's output: Run → registry → panel →
 * page.
 *
 * - lines_per_s: lines that reached the page and were handed to the terminal, per second of load
 * - max_stall_ms: the longest main-thread task of the page during the load (PerformanceObserver 'longtask')
 * - open200k_ms: a finished run with a 200,000-line log, from the open command until its last line shows
 * - ext_heap_mb: extension host heap growth over the load
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { BenchResults, round } from './stats';
import { runFromPalette } from '../ui/workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const HELPER = path.join(ROOT, 'test', 'bench', 'monitorHelper');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`monitor benchmark: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function monitorFrame(page: Page, runPrefix: string): Promise<Frame> {
  return until(
    `the monitor page of ${runPrefix}`,
    async () => {
      for (const f of page.frames()) {
        const id = await f.evaluate<string | undefined>('document.querySelector("main#app") ? document.body.dataset.runId : undefined').catch(() => undefined);
        if (id?.startsWith(runPrefix)) return f;
      }
      return undefined;
    },
    60_000,
  );
}


const readOut = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number | string | boolean>;

export async function benchMonitor(serverAddr: string): Promise<BenchResults> {
  const { openWorkbench } = await import('../harness/codeServer');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-monitor-'));
  // The extension runs from this checkout's dist/ (built with --production by scripts/bench.mjs) as a
  // development extension: only then does it hand its run registry to the helper, which is installed
  // from a .vsix of its own (an installed copy of the extension shows other extensions its activation time only).
  const helperVsix = path.join(tmp, 'cco-bench-monitor.vsix');
  const packed = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', helperVsix], { cwd: HELPER, encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`vsce package of the helper failed: ${packed.stderr}${packed.stdout}`);
  const out = path.join(tmp, 'out.json');
  fs.writeFileSync(out, '{}');
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-monitor-ws-'));
  const wb = await openWorkbench({
    vsix: helperVsix,
    extensionDevelopmentPath: ROOT,
    folder,
    env: { ...process.env, CCO_BENCH_OUT: out, CCO_REPO_ROOT: ROOT },
    settings: { 'chefConsul.profiles': [{ name: 'bench', address: serverAddr }], 'chefConsul.activeProfile': 'bench' },
    viewport: { width: 1400, height: 900 },
  });
  try {
    return await measure(wb.page, out);
  } catch (e) {
    await wb.page.screenshot({ path: path.join(ROOT, 'test-results', 'monitor-bench-failure.png') }).catch(() => undefined);
    throw new Error(`${(e as Error).message}; helper said ${fs.readFileSync(out, 'utf8')}`);
  } finally {
    await wb.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

async function measure(page: Page, out: string): Promise<BenchResults> {
  {
    await page.locator('.statusbar-item', { hasText: 'bench' }).first().waitFor({ timeout: 60_000 });

    // --- 20 nodes × 1,000 lines/s
    await runFromPalette(page, 'CCO Bench: Monitor Load');
    let frame = await monitorFrame(page, 'bench-load-');
    await frame.locator('.status[data-received]').waitFor({ timeout: 30_000 });
    await frame.evaluate(`(() => {
      window.__maxLongTask = 0;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__maxLongTask = Math.max(window.__maxLongTask, e.duration); }).observe({ type: 'longtask' });
    })()`);
    const receivedAt = async () => Number(await frame.locator('.status').getAttribute('data-received'));
    const before = await receivedAt();
    fs.writeFileSync(out, JSON.stringify({ ...readOut(out), go: true }));
    const t0 = Date.now();
    await until('the load to end', async () => (readOut(out).loadDone ? true : readOut(out).error ? Promise.reject(new Error(String(readOut(out).error))) : undefined), 10 * 60_000);
    // What was still on its way when the load stopped counts if it arrives within a second.
    const sent = Number(readOut(out).linesSent);
    await until('the last lines', async () => ((await receivedAt()) - before >= sent ? true : undefined), 1000).catch(() => undefined);
    const seconds = (Date.now() - t0) / 1000;
    const delivered = (await receivedAt()) - before;
    const maxStall = Number(await frame.evaluate('window.__maxLongTask'));
    const r = readOut(out);

    // --- a finished run with a 200,000-line log
    await runFromPalette(page, 'CCO Bench: Monitor Open 200k');
    frame = await monitorFrame(page, 'bench-200k-');
    // Polled from outside: the page's CSP (rightly) refuses the eval that waitForFunction needs.
    await until('the last line to show', async () => (await frame.evaluate<boolean>('(document.querySelector(".xterm-rows")?.textContent ?? "").includes("line 200000 of")')) || undefined, 60_000);
    const shownAt = Date.now();
    const open200k = shownAt - Number(readOut(out).open200kStart);

    return {
      'monitor.lines_per_s': { value: round(delivered / seconds, 0), unit: 'lines/s', target: `≥ 20000 (${sent} sent, ${delivered} delivered)` },
      'monitor.max_stall_ms': { value: round(maxStall, 0), unit: 'ms', target: '≤ 100' },
      'monitor.open200k_ms': { value: round(open200k, 0), unit: 'ms', target: '< 2000' },
      'monitor.ext_heap_mb': { value: round(Number(r.heapEnd) - Number(r.heapStart), 1), unit: 'MB', target: `bounded (max ${round(Number(r.heapMax) - Number(r.heapStart), 1)} MB above start)` },
    };
  }
}
