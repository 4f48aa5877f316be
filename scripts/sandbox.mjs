#!/usr/bin/env node
// `npm run sandbox [-- --check]`: installs, builds and packages, then starts the sandbox.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!existsSync(join(root, 'node_modules', 'typescript'))) run('npm', ['ci', '--no-audit', '--no-fund']);
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
run('npm', ['run', '--silent', 'package']);
run('bash', ['scripts/provision-code-server.sh']);
run('bash', ['scripts/provision-consul.sh']);
// Ctrl-C reaches the child too (same process group); it stops what it started.
const child = spawn(process.execPath, ['out/test/sandbox/main.js', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.on('SIGINT', () => undefined);
child.on('exit', (code) => process.exit(code ?? 1));
