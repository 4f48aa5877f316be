// What the project's scripts share: where the repo is, running a step, and
// installing and compiling what a fresh checkout lacks.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a step with its output shown; a failed step ends the script with its code. */
export function runOrExit(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

export function ensureDependencies(run = runOrExit) {
  if (!existsSync(join(root, 'node_modules', 'typescript'))) run('npm', ['ci', '--no-audit', '--no-fund']);
}

/** The extension bundle and a fresh tsc build of sources and tests into out/. */
export function compile(run = runOrExit) {
  run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  // A file deleted from the sources must not keep running from a stale build.
  rmSync(join(root, 'out'), { recursive: true, force: true });
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
}
