/**
 * The recorder's writes stay bounded: a running node's log goes to KV at most
 * once per flush interval however much it prints, a node's record when its
 * result moves, and a change of the run does not write nodes that did not
 * change. Counted at a proxy in front of the real Consul.
 */
import * as assert from 'node:assert/strict';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { readNodeLog, readRun } from '../../src/core/runs/history';
import { nodeKey, parseJsonRecord, RESULTS_PREFIX } from '../../src/core/runs/metronomeLayout';
import { Run } from '../../src/core/runs/model';
import { RunRecorder } from '../../src/core/runs/recorder';
import { consulRequest } from '../infra/cluster';
import { clusterFromEnv, serverAgent } from '../support/env';
import { countingProxy, Listener } from '../support/http';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('run recorder: bounded writes', function () {
  this.timeout(30_000);
  const server = serverAgent(clusterFromEnv());
  let proxy: Listener & { requests: string[]; readonly bodyBytes: number };
  let connection: ConsulConnection;

  before(async () => {
    proxy = await countingProxy(server.httpAddr);
    connection = await connect({ name: 'recorder', address: proxy.address }, undefined);
  });
  after(async () => {
    connection.dispose();
    await proxy.close();
  });

  it("writes a running node's log at most once per interval, its record when it changes, and all of it at the end", async () => {
    const id = `rec-${Date.now()}`;
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    const run = new Run({ id, engine: 'exec', event: 'deploy', patterns: [], startedBy: 'test', phases: [{ no: 0, task: 'deploy' }] });
    const recorder = new RunRecorder(connection, run, { logFlushMs: 400 });
    const from = proxy.requests.length;
    run.start();
    run.startPhase(0, nodes);
    for (const n of nodes) run.nodeStarted(0, n);
    const t0 = Date.now();
    let lines = 0;
    while (Date.now() - t0 < 1500) {
      for (const n of nodes) run.appendOutput(0, n, `${n} line ${lines}\n`);
      lines++;
      await sleep(10);
    }
    const took = Date.now() - t0;
    await recorder.flush();
    const puts = proxy.requests.slice(from).filter((r) => r.startsWith('PUT ')).map(decodeURIComponent);
    for (const n of nodes) {
      const logPuts = puts.filter((r) => r === `PUT /v1/kv/${nodeKey(id, 0, n)}/log`).length;
      // One per interval that saw output, plus the flush.
      assert.ok(logPuts >= 2 && logPuts <= Math.ceil(took / 400) + 2, `${n}: ${logPuts} log writes in ${took} ms of ${lines} lines`);
      const recordPuts = puts.filter((r) => r === `PUT /v1/kv/${nodeKey(id, 0, n)}`).length;
      assert.ok(recordPuts <= logPuts + 2, `${n}: ${recordPuts} record writes`);
    }
    for (const n of nodes.slice(0, 3)) run.nodeEnded(0, n, 'success', 0);
    run.nodeEnded(0, 'n4', 'error', 2, 'exit 2');
    run.endPhase(0, 'error');
    await recorder.flush();
    const beforeEnd = proxy.requests.length;
    run.end('error', 'n4 failed');
    await recorder.finish();
    const atEnd = proxy.requests.slice(beforeEnd).filter((r) => r.startsWith('PUT ')).map(decodeURIComponent);
    assert.deepEqual(atEnd, [`PUT /v1/kv/${RESULTS_PREFIX}/${id}`], 'ending the run writes its record, no node that did not change');
    assert.equal(recorder.error, undefined);

    const back = await readRun(connection, id);
    assert.equal(back?.status, 'error');
    assert.deepEqual(back?.phases[0].nodes.map((n) => `${n.node}:${n.status}`).sort(), ['n1:success', 'n2:success', 'n3:success', 'n4:error']);
    const whole = run.outputOf(0, 'n4');
    assert.equal(await readNodeLog(connection, id, 0, 'n4'), whole, 'the log key ends with all the output');
    const record = parseJsonRecord((await consulRequest(server.httpAddr, `/v1/kv/${nodeKey(id, 0, 'n4')}?raw`)).text);
    assert.equal(record?.Log, whole, "the record's copy of the log is the output's end");
    assert.equal(record?.OpsNote, 'exit 2');
    recorder.dispose();
  });

  it('writes a node that ends without output, and a node the catalog did not list', async () => {
    const id = `rec2-${Date.now()}`;
    const run = new Run({ id, engine: 'exec', event: 'deploy', patterns: [], startedBy: 'test', phases: [{ no: 0, task: 'deploy' }] });
    const recorder = new RunRecorder(connection, run, { logFlushMs: 200 });
    run.start();
    run.startPhase(0, ['quiet']);
    run.nodeEnded(0, 'quiet', 'success', 0);
    run.appendOutput(0, 'extra', 'hello\n');
    run.nodeEnded(0, 'extra', 'success', 0);
    run.endPhase(0, 'success');
    run.end('success');
    await recorder.finish();
    assert.equal(recorder.error, undefined);
    const back = await readRun(connection, id);
    assert.deepEqual(back?.phases[0].nodes.map((n) => `${n.node}:${n.status}`).sort(), ['extra:success', 'quiet:success']);
    assert.equal(await readNodeLog(connection, id, 0, 'extra'), 'hello\n');
    assert.equal(await readNodeLog(connection, id, 0, 'quiet'), '');
    recorder.dispose();
  });

  it("a retried node that ends with as many bytes of output as before still has the retry's output in KV", async () => {
    const id = `rec-retry-${Date.now()}`;
    const run = new Run({ id, engine: 'exec', event: 'deploy', patterns: [], startedBy: 'test', phases: [{ no: 0, task: 'deploy' }] });
    const recorder = new RunRecorder(connection, run, { logFlushMs: 50 });
    run.start();
    run.startPhase(0, ['n1']);
    run.nodeStarted(0, 'n1');
    run.appendOutput(0, 'n1', 'attempt 1 failed\n');
    run.nodeEnded(0, 'n1', 'error', 1, 'exit 1');
    run.endPhase(0, 'error');
    run.end('error', 'n1 failed');
    await recorder.flush();
    assert.equal(await readNodeLog(connection, id, 0, 'n1'), 'attempt 1 failed\n');
    // The retry: same node, output of the same length, same status, at another time.
    await sleep(5);
    run.reopen(0);
    run.start();
    run.startPhase(0, ['n1'], true);
    run.nodeStarted(0, 'n1');
    run.appendOutput(0, 'n1', 'attempt 2 failed\n');
    run.nodeEnded(0, 'n1', 'error', 1, 'exit 1');
    run.endPhase(0, 'error');
    run.end('error', 'n1 failed');
    await recorder.finish();
    assert.equal(await readNodeLog(connection, id, 0, 'n1'), 'attempt 2 failed\n');
    const record = parseJsonRecord((await consulRequest(server.httpAddr, `/v1/kv/${nodeKey(id, 0, 'n1')}?raw`)).text);
    assert.equal(record?.Log, 'attempt 2 failed\n');
    recorder.dispose();
  });
});
