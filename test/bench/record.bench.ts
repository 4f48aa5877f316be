/**
 * runs.record.*: what recording a run in KV costs. 50 nodes print 4 MiB each
 * (in 8 KiB chunks, over about ten seconds, as agents stream it) while the
 * recorder writes the run through a counting proxy in front of the real
 * Consul; then every node ends and the run ends.
 *  - mb_written: request bodies the recorder sent, in MiB (target ≤ 2× the
 *    final size of the records, final_mb).
 *  - max_block_ms: the longest stretch the recorder held the event loop in one
 *    go (one change, one log flush, one write's encoding), timed around its
 *    own synchronous steps in CPU time; max_block_wall_ms the same in wall
 *    time, which on a busy machine also counts waiting for a core.
 *  - loop_max_ms: the longest the event loop was held by anything in the
 *    process meanwhile (output arriving, the proxy, the recorder): informational.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { connect } from '../../src/core/consul/client';
import { RESULTS_PREFIX } from '../../src/core/runs/metronomeLayout';
import { Run } from '../../src/core/runs/model';
import { RunRecorder } from '../../src/core/runs/recorder';
import { consulJson } from '../infra/cluster';
import { countingProxy } from '../support/http';
import { BenchResults, round } from './stats';

const NODES = 50;
const BYTES_PER_NODE = 4 * 1024 * 1024;
const CHUNK = 8 * 1024;
/** Output spread over about this long, so that several log flushes happen while nodes run. */
const SPREAD_MS = 10_000;

/**
 * Wraps the recorder's synchronous steps (whatever their names in this
 * version) and keeps the longest, in CPU time (on a loaded machine wall time
 * also counts the time the process waited for a core) and in wall time.
 */
function timeSteps(recorder: RunRecorder, names: string[]): { max: number; maxWall: number; steps: number; by: Record<string, number> } {
  const seen = { max: 0, maxWall: 0, steps: 0, by: {} as Record<string, number> };
  const target = recorder as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of names) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    target[name] = function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      try {
        return original.apply(this, args);
      } finally {
        const cpu = process.cpuUsage(cpu0);
        const took = (cpu.user + cpu.system) / 1000;
        seen.maxWall = Math.max(seen.maxWall, performance.now() - t0);
        seen.steps++;
        if (took > seen.max) seen.max = took;
        if (took > (seen.by[name] ?? 0)) seen.by[name] = took;
      }
    };
  }
  return seen;
}

function chunkOf(node: number, i: number): string {
  const line = `node-${node} chunk ${i} ${'x'.repeat(80)}\n`;
  return line.repeat(Math.ceil(CHUNK / line.length)).slice(0, CHUNK - 1) + '\n';
}

export async function benchRecord(serverAddr: string): Promise<BenchResults> {
  const proxy = await countingProxy(serverAddr);
  const connection = await connect({ name: 'bench-record', address: proxy.address }, undefined);
  const id = `bench-record-${Date.now()}`;
  const names = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(2, '0')}`);
  const run = new Run({ id, engine: 'exec', event: 'bench', patterns: [], startedBy: 'bench', phases: [{ no: 0, task: 'print' }] });
  // Subscribing is one of its steps too: the wrapper goes on before the run changes.
  const recorder = new RunRecorder(connection, run, { session: 'bench' });
  const steps = timeSteps(recorder, ['record', 'recordLogs', 'put', 'enqueue']);
  const sizes: Record<string, number> = {};
  if (process.env.CCO_BENCH_DEBUG) {
    const kv = connection.client.kv as unknown as { set: (o: { key: string; value: string }) => Promise<unknown> };
    const set = kv.set.bind(kv);
    kv.set = (o) => {
      const k = o.key.endsWith('/log') ? 'log' : 'record';
      sizes[k] = (sizes[k] ?? 0) + Buffer.byteLength(o.value);
      return set(o);
    };
  }
  const loop = monitorEventLoopDelay({ resolution: 5 });
  try {
    const bodyBytesBefore = proxy.bodyBytes;
    loop.enable();
    const t0 = Date.now();
    run.start();
    run.startPhase(0, names);
    for (const n of names) run.nodeStarted(0, n);
    const rounds = BYTES_PER_NODE / CHUNK;
    for (let r = 0; r < rounds; r++) {
      for (let n = 0; n < NODES; n++) run.appendOutput(0, names[n], chunkOf(n, r));
      // Paced: what arrives in one round is what agents send in SPREAD_MS / rounds.
      const due = t0 + ((r + 1) * SPREAD_MS) / rounds;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    for (const n of names) run.nodeEnded(0, n, 'success', 0);
    run.endPhase(0, 'success');
    run.end('success');
    await recorder.finish();
    loop.disable();
    if (recorder.error) throw recorder.error;
    const written = proxy.bodyBytes - bodyBytesBefore;
    if (process.env.CCO_BENCH_DEBUG) {
      const kinds: Record<string, number> = {};
      for (const r of proxy.requests) if (r.startsWith('PUT')) { const k = decodeURIComponent(r).endsWith('/log') ? 'log' : 'record'; kinds[k] = (kinds[k] ?? 0) + 1; }
      console.log(steps.by, kinds, sizes);
    }
    const entries = await consulJson<Array<{ Key: string; Value: string | null }>>(serverAddr, `/v1/kv/${RESULTS_PREFIX}/${id}?recurse`);
    const final = entries.reduce((sum, e) => sum + (e.Value ? Buffer.from(e.Value, 'base64').length : 0), 0);
    await consulJson(serverAddr, `/v1/kv/${RESULTS_PREFIX}/${id}?recurse`, { method: 'DELETE' });
    const mib = 1024 * 1024;
    return {
      'runs.record.mb_written': { value: round(written / mib), unit: 'MiB', target: `≤ ${round((2 * final) / mib)} (2× final)` },
      'runs.record.final_mb': { value: round(final / mib), unit: 'MiB', target: 'informational' },
      'runs.record.written_ratio': { value: round(written / final), unit: '×', target: '≤ 2' },
      'runs.record.max_block_ms': { value: round(steps.max), unit: 'ms', target: '≤ 50' },
      'runs.record.max_block_wall_ms': { value: round(steps.maxWall), unit: 'ms', target: 'informational' },
      'runs.record.loop_max_ms': { value: round(loop.max / 1e6), unit: 'ms', target: 'informational' },
    };
  } finally {
    recorder.dispose();
    run.dispose();
    connection.dispose();
    await proxy.close();
  }
}
