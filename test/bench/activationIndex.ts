/**
 * Runs inside the real VS Code as a "tests index": activates the extension
 * cold and writes how long that took to the file named by CCO_BENCH_OUT.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { ChefConsulApi } from '../../src/extension';

export async function run(): Promise<void> {
  const out = process.env.CCO_BENCH_OUT;
  if (!out) throw new Error('CCO_BENCH_OUT is not set');
  const ext = vscode.extensions.getExtension<ChefConsulApi>('chef-consul-ops.chef-consul-ops');
  if (!ext) throw new Error('the extension is not installed');
  if (ext.isActive) throw new Error('the extension was already active: the measurement would not be cold');
  const started = performance.now();
  const api = await ext.activate();
  const totalMs = performance.now() - started;
  fs.writeFileSync(out, JSON.stringify({ totalMs, activateMs: api.activationMs }));
}
