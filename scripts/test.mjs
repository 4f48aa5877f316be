#!/usr/bin/env node
// The whole test suite: installs and starts what the tests need (Consul,
// code-server, Chromium), runs every layer against the real things, stops
// everything it started by PID, and prints one closing line of counts.
//
//   npm test                          all layers
//   npm test -- --layer unit,vscode   some layers
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compile, ensureDependencies, root } from './lib.mjs';

const LAYERS = ['unit', 'integration', 'vscode', 'ui'];
const args = process.argv.slice(2);
const layerArg = args.includes('--layer') ? args[args.indexOf('--layer') + 1] : undefined;
const layers = layerArg ? layerArg.split(',') : LAYERS;
for (const l of layers) if (!LAYERS.includes(l)) fail(`unknown layer "${l}"; layers: ${LAYERS.join(', ')}`);

function fail(message) {
  console.error(`test: ${message}`);
  process.exit(2);
}

function step(title) {
  console.log(`\n=== ${title}`);
}

/** Runs a command, streaming its output; throws on a non-zero exit. */
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status ?? r.signal}`);
}

function capture(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status ?? r.signal}`);
  return r.stdout.trim().split('\n').pop();
}

/** Runs a test layer, echoing its output and reading mocha's closing counts from it. */
function runLayer(name, cmd, argv, env) {
  return new Promise((resolveLayer) => {
    const started = Date.now();
    const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const take = (stream, out) => stream.on('data', (chunk) => {
      text += chunk.toString();
      out.write(chunk);
    });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on('close', (code) => {
      // Mocha prints one summary per run; the vscode layer runs two windows (trusted, restricted): add them up.
      const sum = (re) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
      const passed = sum(/^\s*(\d+) passing/gm);
      const failed = sum(/^\s*(\d+) failing/gm);
      const pending = sum(/^\s*(\d+) pending/gm);
      resolveLayer({ name, code, passed, failed, pending, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const statePath = join(root, '.vscode-test', 'cluster-state.json');
const needCluster = layers.some((l) => l !== 'unit');
const needCodeServer = layers.includes('vscode') || layers.includes('ui');
const results = [];
const suiteStarted = Date.now();
let clusterStarted = false;
let exitCode = 0;

try {
  step('installing npm dependencies where missing, and building');
  ensureDependencies(run);
  compile(run);

  if (layers.includes('ui')) {
    step('packaging the .vsix the UI tests install');
    run('npm', ['run', '--silent', 'package']);
  }
  if (needCodeServer) {
    step('provisioning code-server and Chromium');
    capture('bash', ['scripts/provision-code-server.sh']);
  }
  if (needCluster) {
    step('provisioning Consul and starting the test cluster');
    const consul = capture('bash', ['scripts/provision-consul.sh']);
    console.log(`consul: ${consul}`);
    mkdirSync(dirname(statePath), { recursive: true });
    clusterStarted = true;
    run(process.execPath, ['out/test/infra/cli.js', 'start', '--state', statePath]);
  }
  const env = { CCO_CLUSTER_STATE: statePath };
  if (needCluster) {
    // The extension under test finds the cluster the way a user's would: from the consul CLI's environment.
    const server = JSON.parse(readFileSync(statePath, 'utf8')).agents.find((a) => a.role === 'server');
    env.CONSUL_HTTP_ADDR = server.httpAddr;
  }

  for (const layer of layers) {
    step(`layer: ${layer}`);
    if (layer === 'unit') results.push(await runLayer(layer, process.execPath, [mocha, '--reporter', 'spec', 'out/test/unit/**/*.test.js'], env));
    if (layer === 'integration') results.push(await runLayer(layer, process.execPath, [mocha, '--reporter', 'spec', '--timeout', '30000', 'out/test/integration/**/*.test.js'], env));
    if (layer === 'vscode') results.push(await runLayer(layer, process.execPath, ['scripts/run-vscode-tests.mjs'], env));
    if (layer === 'ui') results.push(await runLayer(layer, process.execPath, [mocha, '--reporter', 'spec', '--timeout', '120000', 'out/test/ui/**/*.test.js'], env));
  }
} catch (e) {
  console.error(`\ntest: ${e.message}`);
  // A failed setup counts as a failed test: the closing line must not read as clean.
  results.push({ name: 'setup', code: 1, passed: 0, failed: 1, pending: 0, seconds: 0 });
  exitCode = 1;
} finally {
  if (clusterStarted) {
    step('stopping the test cluster');
    spawnSync(process.execPath, ['out/test/infra/cli.js', 'stop', '--state', statePath], { cwd: root, stdio: 'inherit' });
  }
}

console.log('\n=== summary');
console.log('layer         passed  failed  skipped  exit  seconds');
for (const r of results) {
  console.log(`${r.name.padEnd(12)} ${String(r.passed).padStart(7)} ${String(r.failed).padStart(7)} ${String(r.pending).padStart(8)} ${String(r.code).padStart(5)} ${r.seconds.toFixed(1).padStart(8)}`);
  // A layer that crashed, skipped tests or ran none is a failure, whatever it counted.
  if (r.code !== 0 || r.failed > 0 || r.pending > 0 || r.passed === 0) exitCode = 1;
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed + (r.code !== 0 && r.failed === 0 ? 1 : 0), 0);
console.log(`suite wall time: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode);
