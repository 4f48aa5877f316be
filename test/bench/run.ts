/**
 * `npm run bench`: every benchmark against a real local cluster of its own
 * (other ports than the tests'), a printed table, and bench-results.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCluster, stopCluster } from '../infra/cluster';
import { benchChef } from './chef.bench';
import { benchExec } from './exec.bench';
import { benchExec30 } from './exec30.bench';
import { benchKv } from './kv.bench';
import { benchMonitor } from './monitor.bench';
import { benchNodes } from './nodes.bench';
import { benchPhases } from './phases.bench';
import { benchRecord } from './record.bench';
import { benchSim } from './sim.bench';
import { benchWatches } from './watches.bench';
import { BenchResults, median, recordResults, round } from './stats';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'bench-results.json');

interface Activation {
  totalMs: number;
  activateMs: number;
  sinceHostStartMs: number;
  /** How our bundle was loaded (src/core/util/codeCache.ts); undefined for the empty extension. */
  codeCache?: string;
  /** Reading, compiling and running our bundle before activate() (ms). */
  loadMs?: number;
}

const OURS = 'chef-consul-ops.chef-consul-ops';

/**
 * One cold activation in a fresh VS Code (of ours, or of `extension` at
 * `developmentPath`) on the user data in `userDataDir`; a single sample
 * swings with the machine's load. With `waitForCodeCache` it waits until our
 * code cache is written in that user data's global storage.
 */
async function activateOnce(opts: { userDataDir: string; developmentPath?: string; extension?: string; waitForCodeCache?: boolean }): Promise<Activation> {
  // Loaded lazily: only this benchmark needs code-server.
  const { runExtensionTests } = await import('../harness/codeServer');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-')), 'activation.json');
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-ws-'));
  const cacheDir = path.join(opts.userDataDir, 'User', 'globalStorage', OURS, 'code-cache');
  const { exitCode } = await runExtensionTests({
    extensionDevelopmentPath: opts.developmentPath ?? ROOT,
    extensionTestsPath: path.join(ROOT, 'out', 'test', 'bench', 'activationIndex.js'),
    workspaceFolder: workspace,
    userDataDir: opts.userDataDir,
    env: {
      ...process.env,
      CCO_BENCH_OUT: out,
      ...(opts.extension ? { CCO_BENCH_EXTENSION: opts.extension } : {}),
      ...(opts.waitForCodeCache ? { CCO_BENCH_WAIT_CODE_CACHE: cacheDir } : {}),
    },
  });
  if (exitCode !== 0) throw new Error(`activation benchmark exited with ${exitCode}`);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as Activation;
}

const ACTIVATION_RUNS = 7;

/** An extension that does nothing (test/bench/emptyExtension), activated the same way, interleaved with ours. */
const EMPTY_EXTENSION = path.join(ROOT, 'test', 'bench', 'emptyExtension');

/**
 * Each round starts VS Code four times: ours on new user data (the first
 * start after installing or updating: no code cache yet), ours again on the
 * same user data (every later start: the code cache written by the first),
 * and the empty extension the same two ways, so that each is compared with
 * the empty extension under the same conditions.
 */
async function benchActivation(): Promise<BenchResults> {
  const first: Activation[] = [];
  const later: Activation[] = [];
  const emptyFirst: Activation[] = [];
  const emptyLater: Activation[] = [];
  for (let i = 0; i < ACTIVATION_RUNS; i++) {
    const ours = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-user-'));
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-user-'));
    try {
      const oursTwice = async () => {
        first.push(await activateOnce({ userDataDir: ours, waitForCodeCache: true }));
        later.push(await activateOnce({ userDataDir: ours }));
      };
      const emptyTwice = async () => {
        emptyFirst.push(await activateOnce({ userDataDir: empty, developmentPath: EMPTY_EXTENSION, extension: 'cco-bench.cco-bench-empty' }));
        emptyLater.push(await activateOnce({ userDataDir: empty, developmentPath: EMPTY_EXTENSION, extension: 'cco-bench.cco-bench-empty' }));
      };
      // Who goes first alternates from round to round.
      if (i % 2) {
        await emptyTwice();
        await oursTwice();
      } else {
        await oursTwice();
        await emptyTwice();
      }
    } finally {
      fs.rmSync(ours, { recursive: true, force: true });
      fs.rmSync(empty, { recursive: true, force: true });
    }
    const f = (a: Activation) => a.totalMs.toFixed(1);
    console.log(`activation round ${i + 1}: ours ${f(first.at(-1)!)} ms first start, ${f(later.at(-1)!)} ms later; empty ${f(emptyFirst.at(-1)!)} / ${f(emptyLater.at(-1)!)} ms`);
    if (first.at(-1)!.codeCache !== 'created') throw new Error(`the first start should have had no code cache, it says ${first.at(-1)!.codeCache}`);
    if (later.at(-1)!.codeCache !== 'used') throw new Error(`the second start did not use the code cache the first wrote: ${later.at(-1)!.codeCache}`);
  }
  const ms = (xs: Activation[]) => median(xs.map((x) => x.totalMs));
  // Each round's ours against the empty extension's in the same round (same minute, same load), then the median of those.
  const paired = (xs: Activation[], ys: Activation[]) => median(xs.map((x, i) => x.totalMs / ys[i].totalMs));
  // What ours costs beyond VS Code's own activation of an extension, in ms (median of the rounds' differences).
  const extra = (xs: Activation[], ys: Activation[]) => median(xs.map((x, i) => x.totalMs - ys[i].totalMs));
  return {
    // Every start on new user data, as this benchmark measured before the code cache: no cache to use.
    'activation.ms': { value: round(ms(first)), unit: 'ms', target: '< 100' },
    'activation.activate_fn_ms': { value: round(median(first.map((x) => x.activateMs))), unit: 'ms', target: 'informational' },
    // The same cold activate() of an extension that does nothing: what VS Code itself costs, under the same load.
    'activation.load_bundle_ms': { value: round(median(first.map((x) => x.loadMs ?? 0))), unit: 'ms', target: 'informational' },
    'activation.empty.ms': { value: round(ms(emptyFirst)), unit: 'ms', target: 'informational' },
    'activation.ratio_vs_empty': { value: round(paired(first, emptyFirst)), unit: 'x', target: '<= 1.5' },
    'activation.extra_ms': { value: round(extra(first, emptyFirst)), unit: 'ms', target: 'informational' },
    // Every later start on the same user data: the bundle compiled from the code cache the first start wrote.
    'activation.code_cache.ms': { value: round(ms(later)), unit: 'ms', target: '< 100' },
    'activation.code_cache.activate_fn_ms': { value: round(median(later.map((x) => x.activateMs))), unit: 'ms', target: 'informational' },
    'activation.code_cache.load_bundle_ms': { value: round(median(later.map((x) => x.loadMs ?? 0))), unit: 'ms', target: 'informational' },
    'activation.code_cache.empty.ms': { value: round(ms(emptyLater)), unit: 'ms', target: 'informational' },
    'activation.code_cache.ratio_vs_empty': { value: round(paired(later, emptyLater)), unit: 'x', target: '<= 1.5' },
    'activation.code_cache.extra_ms': { value: round(extra(later, emptyLater)), unit: 'ms', target: 'informational' },
    // From the extension host's start to the extension being active, ours and the empty one's (first starts).
    'activation.since_host_start_ms': { value: round(median(first.map((x) => x.sinceHostStartMs))), unit: 'ms', target: 'informational' },
    'activation.empty.since_host_start_ms': { value: round(median(emptyFirst.map((x) => x.sinceHostStartMs))), unit: 'ms', target: 'informational' },
  };
}

function printTable(results: BenchResults): void {
  const rows = Object.entries(results).map(([name, r]) => [name, String(r.value), r.unit, r.target]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['benchmark', 'value', 'unit', 'target'], ...rows].map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(line(['benchmark', 'value', 'unit', 'target']));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const want = (name: string) => !only.length || only.includes(name);
  const results: BenchResults = {};
  if (want('nodes') || want('exec') || want('phases') || want('monitor') || want('kv') || want('record') || want('sim') || want('watches')) {
    const cluster = await startCluster({ basePort: Number(process.env.CCO_BENCH_BASE_PORT ?? 28500), withSecure: false });
    const server = cluster.agents.find((a) => a.role === 'server')!.httpAddr;
    try {
      // exec first: the 5,000 nodes of the nodes benchmark stay in the catalog afterwards.
      if (want('exec')) Object.assign(results, await benchExec(server, cluster.consulBin, cluster.agents));
      if (want('phases')) Object.assign(results, await benchPhases(server));
      if (want('kv')) Object.assign(results, await benchKv(server));
      if (want('record')) Object.assign(results, await benchRecord(server));
      if (want('sim')) Object.assign(results, await benchSim(server));
      if (want('watches')) Object.assign(results, await benchWatches(server, cluster.consulBin));
      if (want('monitor')) Object.assign(results, await benchMonitor(server));
      if (want('nodes')) Object.assign(results, await benchNodes(server));
    } finally {
      await stopCluster(cluster, { removeBaseDir: true });
    }
  }
  // Its own 30-agent cluster, on the next ports, once the first one is gone.
  if (want('exec30')) Object.assign(results, await benchExec30(Number(process.env.CCO_BENCH_BASE_PORT ?? 28500) + 10));
  // Its own goiardi (no Consul needed).
  if (want('chef')) Object.assign(results, await benchChef(Number(process.env.CCO_BENCH_CHEF_PORT ?? 28545)));
  if (want('activation')) Object.assign(results, await benchActivation());
  recordResults(RESULTS, results);
  console.log('');
  printTable(results);
  console.log(`\nwritten to ${RESULTS}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
