/**
 * Requests, reconnects and records: a Consul that stops answering never
 * hangs a run, a run's end reaches KV even when a write fails, a run whose
 * editor died reads as interrupted, shutdown ends every run cleanly, and a
 * run keeps its connection until it ends.
 */
import * as assert from 'node:assert/strict';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { AdhocRun } from '../../src/core/runs/adhocEngine';
import { ExecRun } from '../../src/core/runs/execEngine';
import { readRun } from '../../src/core/runs/history';
import { Run, RunSnapshot } from '../../src/core/runs/model';
import { RunRecorder } from '../../src/core/runs/recorder';
import { DEFAULT_OPERATION_SETTINGS } from '../../src/core/runs/phaseRunner';
import { RunRegistry } from '../../src/core/runs/registry';
import { RUN_LOCK_KEY } from '../../src/core/runs/runLock';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { forward, listen, withBody } from '../support/http';
import { dbScriptYaml, planIn } from '../support/plans';
import { limit } from '../support/timing';

/** A one-phase exec run of `script` on the db service. */
function execRun(connection: ConsulConnection, registry: RunRegistry, script: string): ExecRun {
  const { plans, merged } = planIn(dbScriptYaml(script));
  return new ExecRun(connection, registry, { event: 'deploy', merged, plans, startedBy: 'test', settings: DEFAULT_OPERATION_SETTINGS, ackGraceMs: 3000 });
}


/** Settles with the run, or rejects after `ms`: a run must never hang a test. */
async function within(done: Promise<RunSnapshot>, ms: number, what: string): Promise<RunSnapshot> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([done, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still not done after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('robustness: an agent that never answers', function () {
  this.timeout(20_000);
  let agent: { address: string; close: () => Promise<void> };
  const seen: string[] = [];
  let registry: RunRegistry;

  before(async () => {
    // Accepts connections, reads requests, never answers.
    agent = await listen((req) => seen.push(`${req.method} ${req.url?.split('?')[0]}`));
  });
  beforeEach(() => {
    registry = new RunRegistry();
    seen.length = 0;
  });
  afterEach(() => registry.dispose());
  after(() => agent.close());

  for (const engine of ['exec', 'adhoc'] as const) {
    it(`cancels an ${engine} run whose agent never answers /v1/session/create within 5 s`, async () => {
      // The default timeout (10 s) is longer than the test allows: only the cancel can end it in time.
      const connection = await connect({ name: 'mute', address: agent.address }, undefined);
      try {
        const started = engine === 'exec' ? execRun(connection, registry, "'true'") : new AdhocRun(connection, registry, { command: 'true', startedBy: 'test' });
        await eventually('the session request', () => seen.includes('PUT /v1/session/create'));
        const asked = Date.now();
        assert.ok(registry.cancel(started.run.id));
        const run = await within(started.done, 5000, 'cancelled run');
        assert.ok(Date.now() - asked < limit(5000));
        assert.equal(run.status, 'cancelled', run.message);
      } finally {
        connection.dispose();
      }
    });
  }

  it('ends a run whose agent never answers with an error naming the timeout, not hanging', async () => {
    const connection = await connect({ name: 'mute', address: agent.address }, undefined, { requestTimeoutMs: 1000 });
    try {
      for (const started of [execRun(connection, registry, "'true'"), new AdhocRun(connection, registry, { command: 'true', startedBy: 'test' })]) {
        const t0 = Date.now();
        const run = await within(started.done, 5000, `${started.run.snapshot().engine} run`);
        assert.equal(run.status, 'error');
        assert.match(run.message ?? '', /PUT \/v1\/session\/create got no answer within 1 s \(the request timed out\)/);
        assert.ok(Date.now() - t0 < limit(3000), `took ${Date.now() - t0} ms`);
      }
    } finally {
      connection.dispose();
    }
  });
});

describe('robustness: an agent that refuses every write', function () {
  this.timeout(10_000);

  it('keeps trying to write the final record with backoff, then gives up within its budget and says why', async () => {
    const puts: string[] = [];
    const agent = await listen((req, res) => {
      if (req.method === 'PUT') puts.push(decodeURIComponent(req.url ?? ''));
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('injected failure');
    });
    const connection = await connect({ name: 'refusing', address: agent.address }, undefined);
    try {
      const run = new Run({ id: 'r-refused', engine: 'adhoc', command: 'true', patterns: [], startedBy: 'test', phases: [{ no: 0, task: 'true' }] });
      const recorder = new RunRecorder(connection, run, { session: 's' });
      run.start();
      run.end('success');
      const t0 = Date.now();
      await recorder.finish(1500);
      const took = Date.now() - t0;
      assert.ok(took >= 1000 && took < 2500, `finish took ${took} ms`);
      assert.match(recorder.error?.message ?? '', /500.*injected failure|injected failure.*500/);
      const finalTries = puts.filter((u) => u.startsWith('/v1/kv/metronome/results/r-refused')).length;
      assert.ok(finalTries >= 3, `the run's record was tried ${finalTries} times`);
      recorder.dispose();
    } finally {
      connection.dispose();
      await agent.close();
    }
  });
});

describe('robustness: runs against the real cluster', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let direct: ConsulConnection;
  let registry: RunRegistry;

  const ours = async () =>
    (await consulJson<Array<{ ID: string; Name: string }>>(server.httpAddr, '/v1/session/list')).filter((x) => /^chef-consul-ops run|^Remote Exec/.test(x.Name));
  const recordOf = async (id: string) => {
    const res = await consulRequest(server.httpAddr, `/v1/kv/metronome/results/${id}`);
    if (res.status !== 200) return undefined;
    const [item] = JSON.parse(res.text) as Array<{ Value: string }>;
    return JSON.parse(Buffer.from(item.Value, 'base64').toString()) as { Status: string; OpsStatus: string; OpsSession?: string };
  };
  const nodeRunning = (r: { run: { snapshot(): RunSnapshot } }) => r.run.snapshot().phases[0]?.nodes.some((n) => n.status === 'running');

  before(async () => {
    direct = await connect({ name: 'direct', address: server.httpAddr }, undefined);
  });
  beforeEach(() => {
    registry = new RunRegistry();
  });
  afterEach(async () => {
    registry.dispose();
    // Commands left sleeping on nodes by a stopped run may still be finishing: their jobs' cleanup gets 20 s
    // (a session left to its TTL, 15 s that Consul may stretch to 30 s, would fail this).
    await eventually('no session of ours left', async () => (await ours()).length === 0 || undefined, 20_000).catch(async () => assert.deepEqual(await ours(), [], 'sessions left behind'));
    const leftovers = await consulRequest(server.httpAddr, '/v1/kv/_rexec?keys');
    assert.equal(leftovers.status, 404, `_rexec keys left behind: ${leftovers.text}`);
  });
  after(() => direct.dispose());

  it('the final record survives one failed PUT', async () => {
    // A proxy in front of the real agent that answers 500 to the first write of each run's final record.
    const failed = new Set<string>();
    const proxy = await listen(
      withBody((req, res, body) => {
        const id = req.method === 'PUT' ? /^\/v1\/kv\/metronome\/results\/([^/]+)$/.exec(decodeURIComponent((req.url ?? '').split('?')[0]))?.[1] : undefined;
        if (id && !failed.has(id)) {
          const status = (JSON.parse(body.toString()) as { OpsStatus?: string }).OpsStatus;
          if (status && !['pending', 'running'].includes(status)) {
            failed.add(id);
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end('injected failure');
            return;
          }
        }
        forward(server.httpAddr, req, res, body);
      }),
    );
    const viaProxy = await connect({ name: 'proxied', address: proxy.address }, undefined);
    try {
      for (const started of [execRun(viaProxy, registry, 'echo fine'), new AdhocRun(viaProxy, registry, { command: 'echo fine', service: '^db$', startedBy: 'test' })]) {
        const run = await started.done;
        assert.equal(run.status, 'success', run.message);
        assert.ok(failed.has(run.id), 'the proxy did not fail the final write');
        assert.doesNotMatch(run.message ?? '', /incomplete/);
        const stored = await readRun(direct, run.id);
        assert.equal(stored?.status, 'success', `${run.engine} run reads ${stored?.status} in KV`);
        assert.equal((await recordOf(run.id))?.Status, 'success');
      }
    } finally {
      viaProxy.dispose();
      await proxy.close();
    }
  });

  it('an ad-hoc run holds its own session, named in its record, and reads interrupted when its editor dies', async () => {
    const started = new AdhocRun(direct, registry, { command: 'sleep 8', node: '^db-1$', startedBy: 'test' });
    const record = await eventually('the record naming a session', async () => {
      const r = await recordOf(started.run.id);
      return r?.OpsSession ? r : undefined;
    });
    assert.equal(record.Status, 'inprogress');
    // No cluster lock for an ad-hoc run.
    const lock = await consulRequest(server.httpAddr, `/v1/kv/${RUN_LOCK_KEY}`);
    assert.ok(lock.status === 404 || !(JSON.parse(lock.text) as Array<{ Session?: string }>)[0].Session, `the ad-hoc run took the cluster lock: ${lock.text}`);
    // What the session's TTL does when the editor holding it disappears.
    await consulJson(server.httpAddr, `/v1/session/destroy/${record.OpsSession}`, { method: 'PUT' });
    const seen = await readRun(direct, started.run.id);
    assert.equal(seen?.status, 'interrupted');
    assert.match(seen?.message ?? '', /went away/);
    registry.cancel(started.run.id);
    assert.equal((await within(started.done, 5000, 'cancelled ad-hoc run')).status, 'cancelled');
  });

  it('shutdown() ends every running run interrupted, records it, frees the lock and leaves no session', async () => {
    const exec = execRun(direct, registry, 'sleep 10');
    const adhoc = new AdhocRun(direct, registry, { command: 'sleep 10', node: '^web-1$', startedBy: 'test' });
    await eventually('both runs running on their nodes', () => nodeRunning(exec) && nodeRunning(adhoc), 10_000);
    const asked = Date.now();
    await registry.shutdown();
    const took = Date.now() - asked;
    assert.ok(took < 5000, `shutdown took ${took} ms`);
    for (const started of [exec, adhoc]) {
      const run = await within(started.done, 100, 'a run after shutdown()');
      assert.equal(run.status, 'interrupted', run.message);
      assert.match(run.message ?? '', /editor shut down/);
      assert.equal((await readRun(direct, run.id))?.status, 'interrupted');
      assert.equal((await recordOf(run.id))?.OpsStatus, 'interrupted');
    }
    const lock = await consulRequest(server.httpAddr, `/v1/kv/${RUN_LOCK_KEY}`);
    assert.ok(lock.status === 404 || !(JSON.parse(lock.text) as Array<{ Session?: string }>)[0].Session, `lock still held: ${lock.text}`);
    assert.deepEqual(await ours(), []);
  });

  it('a run keeps its connection until it ends: dispose() meanwhile waits for it', async () => {
    const connection = await connect({ name: 'replaced', address: server.httpAddr }, undefined);
    let destroyedAt: number | undefined;
    const destroy = connection.client.destroy.bind(connection.client);
    connection.client.destroy = () => {
      destroyedAt = Date.now();
      destroy();
    };
    const started = execRun(connection, registry, "'sleep 1; echo finished'");
    await eventually('the node running', () => nodeRunning(started), 10_000);
    // What the editor does on reconnect.
    connection.dispose();
    assert.equal(destroyedAt, undefined, 'the connection was torn down under a running run');
    const run = await started.done;
    assert.equal(run.status, 'success', run.message);
    assert.match(started.run.outputOf(0, 'db-1'), /finished/);
    assert.equal((await readRun(direct, run.id))?.status, 'success');
    assert.ok(destroyedAt !== undefined && destroyedAt >= (run.endedAt ?? Infinity), 'the connection was not torn down once the run ended');
  });
});
