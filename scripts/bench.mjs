#!/usr/bin/env node
// `npm run bench [-- nodes|exec|phases|activation]`: builds, provisions, runs the benchmarks.
import { compile, ensureDependencies, runOrExit } from './lib.mjs';

ensureDependencies();
compile();
// Activation is measured on the bundle that ships: minified, as `npm run package` builds it.
runOrExit(process.execPath, ['scripts/build.mjs', '--production']);
const only = process.argv.slice(2);
if (!only.length || only.includes('activation')) runOrExit('bash', ['scripts/provision-code-server.sh']);
runOrExit('bash', ['scripts/provision-consul.sh']);
runOrExit(process.execPath, ['out/test/bench/run.js', ...only]);
