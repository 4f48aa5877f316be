#!/usr/bin/env node
// `npm run bench [-- nodes|activation]`: builds, provisions, runs the benchmarks.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!existsSync(join(root, 'node_modules', 'typescript'))) run('npm', ['ci', '--no-audit', '--no-fund']);
run(process.execPath, ['scripts/build.mjs']);
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
const only = process.argv.slice(2);
if (!only.length || only.includes('activation')) run('bash', ['scripts/provision-code-server.sh']);
run('bash', ['scripts/provision-consul.sh']);
run(process.execPath, ['out/test/bench/run.js', ...only]);
