/**
 * Runs inside the real VS Code as a "tests index": activates the extension
 * (CCO_BENCH_EXTENSION, by default ours) cold and writes to the file named by
 * CCO_BENCH_OUT how long activate() took, how long after the extension host
 * started the extension was active (performance.now() counts from the
 * process's start) and how the bundle was loaded (code cache used or not).
 * With CCO_BENCH_WAIT_CODE_CACHE (a directory) it then waits until the code
 * cache has been written there, for the next start to use.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';

const CODE_CACHE_WAIT_MS = 20_000;

async function waitForCodeCache(dir: string): Promise<void> {
  const deadline = Date.now() + CODE_CACHE_WAIT_MS;
  while (Date.now() < deadline) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.endsWith('.v8cache'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no code cache was written in ${dir} within ${CODE_CACHE_WAIT_MS} ms`);
}

export async function run(): Promise<void> {
  const out = process.env.CCO_BENCH_OUT;
  if (!out) throw new Error('CCO_BENCH_OUT is not set');
  const id = process.env.CCO_BENCH_EXTENSION ?? 'chef-consul-ops.chef-consul-ops';
  const ext = vscode.extensions.getExtension<ChefConsulApi | undefined>(id);
  if (!ext) throw new Error(`the extension ${id} is not installed`);
  if (ext.isActive) throw new Error('the extension was already active: the measurement would not be cold');
  const started = performance.now();
  const api = await ext.activate();
  const activeAt = performance.now();
  const totalMs = activeAt - started;
  fs.writeFileSync(out, JSON.stringify({ totalMs, activateMs: api?.activationMs ?? totalMs, sinceHostStartMs: activeAt, codeCache: api?.boot?.codeCache, loadMs: api?.boot?.loadMs }));
  const cacheDir = process.env.CCO_BENCH_WAIT_CODE_CACHE;
  if (cacheDir) await waitForCodeCache(cacheDir);
}
