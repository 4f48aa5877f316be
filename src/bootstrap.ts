/**
 * The extension's entry point (dist/extension.js). It loads the extension
 * proper (src/extension.ts, bundled as dist/main.js) through V8's code cache
 * kept in the extension's global storage (src/core/util/codeCache.ts), and
 * hands over: from the second start on, activation neither parses the bundle
 * nor compiles what it runs. Nothing else belongs here.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { forget, requireWithCodeCache } from './core/util/codeCache';

type Main = typeof import('./extension');

/** Written this long after activation, so that it holds what activation and the first views compiled. */
const SAVE_AFTER_MS = 3000;

let main: Main | undefined;
let saveTimer: NodeJS.Timeout | undefined;

export function activate(context: vscode.ExtensionContext): ReturnType<Main['activate']> {
  const loaded = requireWithCodeCache<Main>(path.join(__dirname, 'main.js'), path.join(context.globalStorageUri.fsPath, 'code-cache'), require);
  main = loaded.exports;
  if (loaded.status === 'created' || loaded.status === 'rejected') {
    saveTimer = setTimeout(() => void loaded.save(), SAVE_AFTER_MS);
    saveTimer.unref?.();
  }
  try {
    return main.activate(context, { codeCache: loaded.status, loadMs: loaded.loadMs, cacheFile: loaded.cacheFile });
  } catch (e) {
    // Whatever the cause, the next start compiles from the source.
    if (loaded.status === 'used' && loaded.cacheFile) forget(loaded.cacheFile);
    throw e;
  }
}

export function deactivate(): Promise<void> | undefined {
  clearTimeout(saveTimer);
  return main?.deactivate();
}
