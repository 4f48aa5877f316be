/**
 * exec.sim: the exec engine at 250, 500 and 1,000 nodes, at the protocol
 * level. 1,000 external nodes are registered in the catalog with service
 * "sim" (tags t250, t500, t1000 on the first 250, 500 and all); a one-phase
 * ordered run on `service: sim, tag: tN` goes through the whole engine
 * (catalog, run lock, session, job, `_rexec` event, the job's watch, the run
 * model, the recorder's KV records), and simulated agents in another process
 * (rexecSim.ts) answer the job for those nodes as agents do: ack, output,
 * exit, each under the job's session. No real agent has the service, so none
 * acts on the event.
 *  - exec.sim1000.ms: 1,000 nodes, from the run's start to its end (the job
 *    fired, every node answered and ended, the records written).
 *  - exec.sim.cpu_us_per_node.N: this process's CPU time (user + system) over
 *    the run, per node: flat from 250 to 1,000 when the engine is linear.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '../../src/core/consul/client';
import { mergeEvents } from '../../src/core/plans/merge';
import { parsePlan } from '../../src/core/plans/parse';
import { ExecRun } from '../../src/core/runs/execEngine';
import { DEFAULT_OPERATION_SETTINGS } from '../../src/core/runs/phaseRunner';
import { RunRegistry } from '../../src/core/runs/registry';
import { consulJson } from '../infra/cluster';
import { BenchResults, median, round } from './stats';

const SIZES = [250, 500, 1000] as const;
const ROUNDS = 2;
const name = (i: number) => `sim-${String(i).padStart(4, '0')}`;

const PLAN = `events:
${SIZES.map((n) => `  sim${n}:\n    ordered_tasks:\n      - service: sim\n        tag: t${n}\n        task: hi`).join('\n')}
tasks:
  hi:
    operations:
      - execute:
          script: echo hi
`;

async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function registerSimNodes(addr: string, count: number): Promise<void> {
  const all = Array.from({ length: count }, (_, i) => i);
  await inParallel(all, 16, (i) =>
    consulJson(addr, '/v1/catalog/register', {
      method: 'PUT',
      body: {
        Node: name(i),
        Address: `10.77.${(i >> 8) & 255}.${i & 255}`,
        NodeMeta: { bench: 'sim' },
        Service: { ID: 'sim', Service: 'sim', Tags: SIZES.filter((n) => i < n).map((n) => `t${n}`) },
      },
    }),
  );
}

async function deregisterSimNodes(addr: string, count: number): Promise<void> {
  const all = Array.from({ length: count }, (_, i) => i);
  await inParallel(all, 16, (i) => consulJson(addr, '/v1/catalog/deregister', { method: 'PUT', body: { Node: name(i) } }));
}

type SimMessage = { type: 'ready' | 'ok' } | { type: 'answered'; sid: string; nodes: number; ms: number } | { type: 'error'; message: string };

export async function benchSim(serverAddr: string): Promise<BenchResults> {
  const total = SIZES[SIZES.length - 1];
  await registerSimNodes(serverAddr, total);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-sim-'));
  const file = path.join(folder, 'task.yml');
  fs.writeFileSync(file, PLAN);
  const { plan } = parsePlan(PLAN, file);
  if (!plan) throw new Error('the simulation plan does not parse');
  const merged = mergeEvents([plan]);
  const sim = fork(path.join(__dirname, 'rexecSim.js'), [serverAddr], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: SimMessage[] = [];
  const waiters: Array<(m: SimMessage) => boolean> = [];
  sim.on('message', (m: SimMessage) => {
    messages.push(m);
    if (m.type === 'error') console.error(`simulated agents: ${m.message}`);
    for (const w of [...waiters]) if (w(m)) waiters.splice(waiters.indexOf(w), 1);
  });
  const next = (type: SimMessage['type']) =>
    new Promise<SimMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the simulated agents did not say "${type}" within 60 s`)), 60_000);
      waiters.push((m) => {
        if (m.type !== type) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      });
    });
  const connection = await connect({ name: 'bench-sim', address: serverAddr }, undefined);
  const registry = new RunRegistry();
  const ms: Record<number, number[]> = {};
  const cpu: Record<number, number[]> = {};
  try {
    await next('ready');
    const runOnce = async (n: (typeof SIZES)[number]) => {
      sim.send({ type: 'answer', nodes: Array.from({ length: n }, (_, i) => name(i)) });
      await next('ok');
      const answered = next('answered');
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const run = await new ExecRun(connection, registry, { event: `sim${n}`, merged: merged.get(`sim${n}`)!, plans: [plan], startedBy: 'bench', settings: DEFAULT_OPERATION_SETTINGS, ackGraceMs: 60_000 }).done;
      const took = performance.now() - t0;
      const used = process.cpuUsage(cpu0);
      await answered;
      const nodes = run.phases[0]?.nodes ?? [];
      const ok = nodes.filter((x) => x.status === 'success').length;
      if (run.status !== 'success' || ok !== n) throw new Error(`simulated run of ${n} nodes ended ${run.status} with ${ok} nodes done: ${run.message ?? ''}`);
      return { took, cpuUs: used.user + used.system };
    };
    // Warm-up: the JIT, the connection, the servers' first big writes.
    await runOnce(SIZES[0]);
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of SIZES) {
        const { took, cpuUs } = await runOnce(n);
        (ms[n] ??= []).push(took);
        (cpu[n] ??= []).push(cpuUs / n);
        console.log(`sim ${n} nodes: ${Math.round(took)} ms, ${Math.round(cpuUs / n)} µs CPU per node`);
      }
    }
  } finally {
    sim.send({ type: 'stop' });
    registry.dispose();
    connection.dispose();
    fs.rmSync(folder, { recursive: true, force: true });
    await deregisterSimNodes(serverAddr, total).catch(() => undefined);
  }
  const results: BenchResults = {
    'exec.sim1000.ms': { value: round(median(ms[1000])), unit: 'ms', target: 'informational' },
  };
  for (const n of SIZES) {
    results[`exec.sim${n}.ms`] ??= { value: round(median(ms[n])), unit: 'ms', target: 'informational' };
    results[`exec.sim.cpu_us_per_node.${n}`] = { value: round(median(cpu[n]), 0), unit: 'µs', target: 'flat in N (linear)' };
  }
  return results;
}
