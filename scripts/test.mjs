#!/usr/bin/env node
// The whole test suite: installs and starts what the tests need (Consul,
// goiardi, code-server, Chromium), runs every layer against the real things, stops
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

/** How long a layer may take before it is stopped and failed (a hang must not stall CI). */
const LAYER_LIMIT_MIN = { unit: 10, integration: 30, vscode: 25, ui: 25 };

/**
 * Runs a test layer, echoing its output and reading the closing counts our
 * mocha reporter prints (one line per mocha run; the vscode layer runs two).
 * A layer that prints none crashed before it could count.
 */
function runLayer(name, cmd, argv, env) {
  return new Promise((resolveLayer) => {
    const started = Date.now();
    const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let text = '';
    let timedOut = false;
    const limitMs = (Number(process.env.CCO_LAYER_LIMIT_MIN) || LAYER_LIMIT_MIN[name]) * 60_000;
    // Its own process group, so that a time limit (or our own end) stops everything it started.
    const stopGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const onSignal = () => {
      stopGroup();
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\ntest: layer ${name} still running after ${limitMs / 60_000} min: stopping it (process group ${child.pid})`);
      stopGroup();
    }, limitMs);
    const take = (stream, out) => stream.on('data', (chunk) => {
      text += chunk.toString();
      out.write(chunk);
    });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on('close', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const counts = [...text.matchAll(/cco-tests: planned (\d+), passed (\d+), failed (\d+), pending (\d+), not run (\d+)/g)];
      const sum = (i) => counts.reduce((n, m) => n + Number(m[i]), 0);
      resolveLayer({
        name,
        code: timedOut ? 'timeout' : code,
        counted: counts.length > 0,
        planned: sum(1),
        passed: sum(2),
        failed: sum(3),
        pending: sum(4),
        notRun: sum(5),
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const reporter = join(root, 'scripts', 'mocha-reporter.cjs');

// Whatever narrows the suite says so; CI runs the whole suite or nothing.
const narrowing = ['CCO_VSCODE_GREP', 'CCO_VSCODE_FILES'].filter((v) => process.env[v]);
if (layerArg) narrowing.push(`--layer ${layerArg}`);
for (const n of narrowing) console.log(`test: WARNING: the suite is narrowed by ${n}: not every test runs`);
if (narrowing.length && process.env.CI) fail(`CI runs the whole suite: remove ${narrowing.join(', ')}`);
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
    step('provisioning Consul and goiardi, starting the test cluster and the Chef server');
    const consul = capture('bash', ['scripts/provision-consul.sh']);
    console.log(`consul: ${consul}`);
    console.log(`goiardi: ${capture('bash', ['scripts/provision-goiardi.sh'])}`);
    mkdirSync(dirname(statePath), { recursive: true });
    clusterStarted = true;
    run(process.execPath, ['out/test/infra/cli.js', 'start', '--state', statePath, '--with-chef']);
  }
  const env = { CCO_CLUSTER_STATE: statePath };
  if (needCluster) {
    // The extension under test finds the cluster the way a user's would: from the consul CLI's environment.
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    const server = state.agents.find((a) => a.role === 'server');
    env.CONSUL_HTTP_ADDR = server.httpAddr;
    // The seeded goiardi, as the admin client (tests also read the state's chef section).
    env.CCO_CHEF_URL = state.chef.url;
    env.CCO_CHEF_CLIENT = state.chef.adminClient;
    env.CCO_CHEF_KEY = state.chef.adminKeyPath;
  }

  for (const layer of layers) {
    step(`layer: ${layer}`);
    // --forbid-only: a stray .only fails the run instead of narrowing it.
    // --exit: a layer ends when its tests have, even if a test left a socket or timer open behind it.
    const mochaArgs = [mocha, '--forbid-only', '--exit', '--reporter', reporter];
    if (layer === 'unit') results.push(await runLayer(layer, process.execPath, [...mochaArgs, 'out/test/unit/**/*.test.js'], env));
    if (layer === 'integration') results.push(await runLayer(layer, process.execPath, [...mochaArgs, '--timeout', '30000', 'out/test/integration/**/*.test.js'], env));
    if (layer === 'vscode') results.push(await runLayer(layer, process.execPath, ['scripts/run-vscode-tests.mjs'], env));
    if (layer === 'ui') results.push(await runLayer(layer, process.execPath, [...mochaArgs, '--timeout', '120000', 'out/test/ui/**/*.test.js'], env));
  }
} catch (e) {
  console.error(`\ntest: ${e.message}`);
  // A failed setup counts as a failed test: the closing line must not read as clean.
  results.push({ name: 'setup', code: 1, counted: true, planned: 0, passed: 0, failed: 1, pending: 0, notRun: 0, seconds: 0 });
  exitCode = 1;
} finally {
  if (clusterStarted) {
    step('stopping the test cluster');
    spawnSync(process.execPath, ['out/test/infra/cli.js', 'stop', '--state', statePath], { cwd: root, stdio: 'inherit' });
  }
}

console.log('\n=== summary');
console.log('layer         planned  passed  failed  skipped  not run  exit     seconds');
let passed = 0;
let failed = 0;
for (const r of results) {
  const problems = [];
  if (r.code !== 0) problems.push(`exit ${r.code}`);
  if (r.counted === false) problems.push('printed no counts');
  if (r.counted && r.planned === 0) problems.push('ran no test');
  if (r.pending) problems.push(`${r.pending} skipped`);
  if (r.notRun) problems.push(`${r.notRun} did not run`);
  console.log(
    `${r.name.padEnd(12)} ${String(r.planned ?? 0).padStart(8)} ${String(r.passed).padStart(7)} ${String(r.failed).padStart(7)} ${String(r.pending).padStart(8)} ${String(r.notRun ?? 0).padStart(8)} ${String(r.code).padStart(5)} ${r.seconds.toFixed(1).padStart(11)}${problems.length ? `   FAILED: ${problems.join(', ')}` : ''}`,
  );
  passed += r.passed;
  // Everything that decided a failure counts in the closing line: failed, skipped and unrun tests,
  // and a layer that failed without a failing test (crash, time limit, no tests) counts once.
  const counted = r.failed + r.pending + (r.notRun ?? 0);
  failed += counted || (problems.length ? 1 : 0);
  if (problems.length || r.failed) exitCode = 1;
}
console.log(`suite wall time: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode);
