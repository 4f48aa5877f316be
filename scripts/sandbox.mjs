#!/usr/bin/env node
// `npm run sandbox [-- --check]`: installs, builds and packages, then starts the sandbox.
import { spawn } from 'node:child_process';
import { compile, ensureDependencies, root, runOrExit } from './lib.mjs';

ensureDependencies();
compile();
runOrExit('npm', ['run', '--silent', 'package']);
runOrExit('bash', ['scripts/provision-code-server.sh']);
runOrExit('bash', ['scripts/provision-consul.sh']);
runOrExit('bash', ['scripts/provision-goiardi.sh']);
// Ctrl-C reaches the child too (same process group); it stops what it started.
const child = spawn(process.execPath, ['out/test/sandbox/main.js', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.on('SIGINT', () => undefined);
child.on('exit', (code) => process.exit(code ?? 1));
