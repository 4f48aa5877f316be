import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { RemoteExecUnavailableError } from '../../src/core/exec/errors';
import { NodeExecResult, REANNOUNCE_AFTER_MS, RemoteExecJob, RemoteExecSpec } from '../../src/core/exec/remoteExecJob';
import { consulJson, consulRequest, stopAgent } from '../infra/cluster';
import { clusterFromEnv, restartAndRecord, serverAgent } from '../support/env';
import { limit } from '../support/timing';

interface Outcome {
  job: RemoteExecJob;
  results: Record<string, NodeExecResult>;
  output: Record<string, string>;
  chunks: Record<string, Buffer[]>;
  /** Per node, the events in the order they came: "ack", "out", "exit <code>". */
  trail: Record<string, string[]>;
  startedAt: number;
  lastExitAt: number | undefined;
  endedAt: number;
}

/**
 * Every agent of the test cluster runs on this machine in the same
 * environment; the agent's command line (the parent of the shell) names its
 * config dir, which is how a command can behave differently per node.
 */
const ON_NODE = (node: string) => `tr '\\0' ' ' < /proc/$PPID/cmdline | grep -q '/${node}/config'`;

describe('remote exec against the real cluster', function () {
  this.timeout(60_000);
  this.slow(3_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const all = cluster.agents.map((a) => a.name);
  let connection: ConsulConnection;
  let sessions: string[] = [];

  before(async () => {
    connection = await connect({ name: 'rexec', address: server.httpAddr }, undefined);
  });

  after(() => connection?.dispose());

  afterEach(async () => {
    const keys = await consulRequest(server.httpAddr, '/v1/kv/_rexec?keys');
    assert.equal(keys.status, 404, `_rexec keys left behind: ${keys.text}`);
    // Only this suite's sessions: other suites sharing the cluster may hold their own.
    const left = await consulJson<Array<{ ID: string; Name: string }>>(server.httpAddr, '/v1/session/list');
    assert.deepEqual(left.filter((s) => s.Name === 'Remote Exec' || sessions.includes(s.ID)), []);
    sessions = [];
  });

  async function execute(spec: Omit<RemoteExecSpec, 'targets' | 'timeoutMs'> & Partial<Pick<RemoteExecSpec, 'targets' | 'timeoutMs'>>, onAck?: (node: string) => void): Promise<Outcome> {
    const chunks: Record<string, Buffer[]> = {};
    const trail: Record<string, string[]> = {};
    const note = (node: string, what: string) => (trail[node] ??= []).push(what);
    let lastExitAt: number | undefined;
    const job = new RemoteExecJob(connection, { targets: all, timeoutMs: 20_000, ...spec }, {
      ack: (node) => {
        note(node, 'ack');
        onAck?.(node);
      },
      output: (node, chunk) => {
        note(node, 'out');
        (chunks[node] ??= []).push(chunk);
      },
      exit: (node, code) => {
        note(node, `exit ${code}`);
        lastExitAt = Date.now();
      },
    });
    const startedAt = Date.now();
    try {
      const list = await job.run();
      const results = Object.fromEntries(list.map((r) => [r.node, r]));
      const output = Object.fromEntries(Object.entries(chunks).map(([n, c]) => [n, Buffer.concat(c).toString('utf8')]));
      return { job, results, output, chunks, trail, startedAt, lastExitAt, endedAt: Date.now() };
    } finally {
      if (job.sessionId) sessions.push(job.sessionId);
      assert.equal(job.cleanupError, undefined);
    }
  }

  it('runs echo on all three nodes and ends right after the last exit', async () => {
    const o = await execute({ command: 'echo hi' });
    for (const node of all) {
      assert.equal(o.results[node].status, 'success', node);
      assert.equal(o.results[node].exitCode, 0);
      assert.ok(o.results[node].ackedAt! <= o.results[node].endedAt);
      assert.equal(o.output[node], 'hi\n');
      assert.deepEqual(o.trail[node], ['ack', 'out', 'exit 0']);
    }
    const afterLastExit = o.endedAt - o.lastExitAt!;
    console.log(`      echo on 3 nodes: ${o.endedAt - o.startedAt} ms in all, ${afterLastExit} ms after the last exit`);
    assert.ok(afterLastExit < limit(500), `${afterLastExit} ms after the last exit`);
    assert.ok(o.endedAt - o.startedAt < limit(2_000), `${o.endedAt - o.startedAt} ms`);
    assert.deepEqual(o.job.unexpectedNodes, []);
  });

  it('reports a failing command on one node as an error with its exit code', async () => {
    const o = await execute({ command: `if ${ON_NODE('db-1')}; then echo broken >&2; exit 3; fi; echo fine` });
    assert.deepEqual(
      all.map((n) => [n, o.results[n].status, o.results[n].exitCode, o.output[n]]),
      all.map((n) => (n === 'db-1' ? [n, 'error', 3, 'broken\n'] : [n, 'success', 0, 'fine\n'])),
    );
  });

  it('appends arguments shell-quoted', async () => {
    const o = await execute({ command: "printf '[%s]'", args: ['a b', "it's", '$HOME', '`id`', ''], node: '^web-1$', targets: ['web-1'] });
    assert.equal(o.results['web-1'].status, 'success');
    assert.equal(o.output['web-1'], "[a b][it's][$HOME][`id`][]");
  });

  it('reaches only the nodes with a matching service', async () => {
    const o = await execute({ command: 'echo db', service: '^db$', ackGraceMs: 1_500 });
    assert.equal(o.results['db-1'].status, 'success');
    for (const node of ['consul-server-1', 'web-1']) {
      assert.equal(o.results[node].status, 'lost');
      assert.match(o.results[node].note ?? '', /did not acknowledge/);
      assert.equal(o.trail[node], undefined, `${node} answered`);
    }
  });

  it('reaches only the nodes with a matching service and tag', async () => {
    const o = await execute({ command: 'echo web', service: '^web$', tag: '^frontend$', targets: ['web-1'] });
    assert.equal(o.results['web-1'].status, 'success');
    assert.equal(o.output['web-1'], 'web\n');
    // Give a wrongly reached node time to show up before concluding none did.
    const wrong = await execute({ command: 'echo none', service: '^web$', tag: '^nope$', targets: ['web-1'], ackGraceMs: 1_000 }).catch((e: unknown) => e);
    assert.ok(wrong instanceof RemoteExecUnavailableError);
    assert.deepEqual(wrong.answeredBy, []);
  });

  it('announces the job again, by name, to a target the first event missed, and every node runs it once', async () => {
    // The first event's node filter leaves db-1 out, as a gossip miss would. The
    // agents share this machine, so a file shows how often the command ran.
    const file = path.join(os.tmpdir(), `cco-rexec-once-${process.pid}-${Date.now()}`);
    try {
      const o = await execute({ command: `echo ran >> ${file}; echo done`, node: '^(?:consul|web)' });
      assert.deepEqual(
        all.map((n) => [n, o.results[n].status, o.output[n]]),
        all.map((n) => [n, 'success', 'done\n']),
      );
      assert.equal(o.job.reannounced, 1);
      assert.ok(o.results['db-1'].ackedAt! - o.startedAt >= REANNOUNCE_AFTER_MS, 'db-1 answered the first event');
      assert.equal(fs.readFileSync(file, 'utf8'), 'ran\n'.repeat(all.length));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('runs a multi-line script the nodes have no copy of', async () => {
    const script = ['#!/bin/sh', 'set -e', 'total=0', 'for i in 1 2 3; do', '  total=$((total + i))', 'done', 'cat <<EOF', 'sum=$total', "quote='single' \"double\"", 'EOF', 'exit 0', ''].join('\n');
    const o = await execute({ script });
    for (const node of all) {
      assert.equal(o.results[node].status, 'success', `${node}: ${o.results[node].note ?? ''} ${o.output[node] ?? ''}`);
      assert.equal(o.output[node], 'sum=6\nquote=\'single\' "double"\n');
    }
  });

  it('delivers a megabyte of output per node intact and in order', async () => {
    const lines = 170_000;
    const expected = Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join('');
    assert.ok(expected.length > 1024 * 1024);
    const o = await execute({ command: `seq 1 ${lines}`, timeoutMs: 50_000 });
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    for (const node of all) {
      assert.equal(o.results[node].status, 'success');
      assert.equal(o.output[node].length, expected.length, node);
      assert.equal(sha(o.output[node]), sha(expected), node);
      assert.ok(o.chunks[node].every((c) => c.length > 0 && c.length <= 4096));
      assert.equal(o.trail[node].at(-1), 'exit 0');
    }
    console.log(`      ${expected.length} bytes × 3 nodes in ${o.endedAt - o.startedAt} ms (${o.chunks['web-1'].length} chunks per node)`);
  });

  it('times out a node that runs too long, and returns promptly', async () => {
    const o = await execute({ command: 'sleep 6', timeoutMs: 1_500 });
    for (const node of all) {
      assert.equal(o.results[node].status, 'timeout', node);
      assert.ok(o.results[node].ackedAt);
      assert.match(o.results[node].note ?? '', /Still running after 1\.5 s/);
    }
    const took = o.endedAt - o.startedAt;
    console.log(`      timeout of 1500 ms: returned after ${took} ms`);
    assert.ok(took < limit(2_800), `${took} ms`);
  });

  it('gives up on a node whose agent dies mid-command instead of hanging', async () => {
    let killed: Promise<void> | undefined;
    try {
      const o = await execute({ command: 'sleep 3; echo done', heartbeatMs: 500, timeoutMs: 30_000 }, (node) => {
        if (node === 'db-1') killed = stopAgent(cluster, 'db-1');
      });
      await killed;
      assert.ok(['lost', 'timeout'].includes(o.results['db-1'].status), JSON.stringify(o.results['db-1']));
      for (const node of ['consul-server-1', 'web-1']) assert.equal(o.results[node].status, 'success');
      const took = o.endedAt - o.startedAt;
      console.log(`      db-1 stopped: ${o.results['db-1'].status} ("${o.results['db-1'].note}"), returned after ${took} ms`);
      assert.ok(took < limit(8_000), `${took} ms`);
    } finally {
      await killed?.catch(() => undefined);
      await restartAndRecord(cluster, 'db-1');
    }
  });

  it('cancels on abort: remaining nodes end cancelled at once', async () => {
    const abort = new AbortController();
    const acked = new Set<string>();
    let abortedAt = 0;
    const o = await execute({ command: 'sleep 6', signal: abort.signal }, (node) => {
      acked.add(node);
      if (acked.size === all.length) {
        abortedAt = Date.now();
        abort.abort();
      }
    });
    for (const node of all) {
      assert.equal(o.results[node].status, 'cancelled');
      assert.ok(o.results[node].ackedAt);
    }
    console.log(`      abort: returned ${o.endedAt - abortedAt} ms after the abort`);
    assert.ok(o.endedAt - abortedAt < 500);
  });

  it('creates nothing when aborted before it runs', async () => {
    const o = await execute({ command: 'echo never', signal: AbortSignal.abort() });
    assert.equal(o.job.sessionId, undefined);
    assert.deepEqual(all.map((n) => o.results[n].status), ['cancelled', 'cancelled', 'cancelled']);
  });

  it('says remote exec is probably disabled when no target acknowledges', async () => {
    const error = await execute({ command: 'echo never', node: '^no-such-node$', targets: ['no-such-node'], ackGraceMs: 800 }).catch((e: unknown) => e);
    assert.ok(error instanceof RemoteExecUnavailableError, String(error));
    assert.match(error.message, /disable_remote_exec = false/);
    assert.deepEqual(error.results.map((r) => r.status), ['lost']);
  });
});
