/**
 * watches.key_handler_ms: from a KV write to the handler having the JSON, our
 * key watch (debounce 0) against a real `consul watch -type=key` with the same
 * handler, both running beside each other on the same writes. The handler
 * records the time it started; ours runs it through runHandler as the
 * extension does.
 * watches.catalog_longpolls: blocking queries open for 40 catalog watches
 * (services, nodes, service, checks) — they share the one node-dump query.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '../../src/core/consul/client';
import { runHandler } from '../../src/core/watches/handler';
import { consulWatchArgs, parseWatch } from '../../src/core/watches/model';
import { feedFor, SharedQueries } from '../../src/core/watches/queries';
import { WatchRunner } from '../../src/core/watches/runner';
import { consulJson } from '../infra/cluster';
import { BenchResults, median, round } from './stats';

const ROUNDS = 15;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

export async function benchWatches(server: string, consulBin: string): Promise<BenchResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-watch-'));
  const script = path.join(dir, 'handler.sh');
  // Milliseconds since the epoch at the handler's start, then the value it got.
  fs.writeFileSync(script, '#!/bin/sh\nt=$(date +%s%3N)\nv=$(cat)\nprintf "%s %s\\n" "$t" "$v" >> "$OUT_FILE"\n', { mode: 0o755 });
  const key = `bench-watch/${Date.now()}`;
  await consulJson(server, `/v1/kv/${key}`, { method: 'PUT', body: 'v0' });
  const connection = await connect({ name: 'bench', address: `http://${server}` }, undefined);
  const shared = new SharedQueries(connection);
  const procs: ChildProcess[] = [];
  const runners: WatchRunner[] = [];
  try {
    const def = parseWatch({ name: 'bench', type: 'key', key, debounceMs: 0, actions: [{ type: 'handler', args: [script] }] });
    const theirsFile = path.join(dir, 'consul.out');
    const oursFile = path.join(dir, 'ours.out');
    procs.push(spawn(consulBin, ['watch', `-http-addr=${server}`, ...consulWatchArgs(def), script], { stdio: 'ignore', env: { ...process.env, OUT_FILE: theirsFile } }));
    const runner = new WatchRunner(def, feedFor(def, shared));
    runners.push(runner);
    runner.onDidFire((f) => void runHandler({ args: [script] }, f.stdin, f.index, { env: { ...process.env, OUT_FILE: oursFile } }));
    runner.start();
    const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : []);
    // consul watch runs its handler once on start; ours waits for a change.
    await waitFor(() => lines(theirsFile).length === 1 && runner.state.kind === 'watching', 10_000);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const value = `v${i}`;
      const wrote = Date.now();
      await consulJson(server, `/v1/kv/${key}`, { method: 'PUT', body: value });
      const seen = (file: string) => lines(file).find((l) => l.includes(Buffer.from(value).toString('base64')));
      await waitFor(() => Boolean(seen(oursFile) && seen(theirsFile)), 10_000);
      ours.push(Number(seen(oursFile)!.split(' ')[0]) - wrote);
      theirs.push(Number(seen(theirsFile)!.split(' ')[0]) - wrote);
      await sleep(50);
    }

    // 40 catalog watches: how many blocking queries are open.
    for (let i = 0; i < 40; i++) {
      const types = [{ type: 'services' }, { type: 'nodes' }, { type: 'service', service: 'web' }, { type: 'checks', state: 'critical' }];
      const d = parseWatch({ name: `c${i}`, ...types[i % 4], actions: [{ type: 'notify' }] });
      const r = new WatchRunner(d, feedFor(d, shared));
      runners.push(r);
      r.start();
    }
    await waitFor(() => runners.every((r) => r.state.kind === 'watching'), 10_000);
    const longPolls = shared.activeQueries().filter((q) => q === 'catalog').length;

    return {
      'watches.key_handler_ms': { value: round(median(ours)), unit: 'ms', target: 'informational' },
      'watches.key_handler_consul_ms': { value: round(median(theirs)), unit: 'ms', target: 'informational' },
      'watches.catalog40_longpolls': { value: longPolls, unit: 'queries', target: '1' },
    };
  } finally {
    for (const r of runners) r.dispose();
    for (const p of procs) p.kill();
    shared.dispose();
    connection.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
