/**
 * Runs inside the real VS Code as a "tests index": activates the extension
 * (CCO_BENCH_EXTENSION, by default ours) cold and writes to the file named by
 * CCO_BENCH_OUT how long activate() took and how long after the extension
 * host started the extension was active (performance.now() counts from the
 * process's start).
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';

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
  fs.writeFileSync(out, JSON.stringify({ totalMs, activateMs: api?.activationMs ?? totalMs, sinceHostStartMs: activeAt }));
}
