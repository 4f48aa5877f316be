import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { AdhocRun } from '../../src/core/runs/adhocEngine';
import { ExecRun } from '../../src/core/runs/execEngine';
import { listRuns, readNodeLog, readRun } from '../../src/core/runs/history';
import { DEFAULT_OPERATION_SETTINGS } from '../../src/core/runs/phaseRunner';
import { RunRegistry } from '../../src/core/runs/registry';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { dbScriptYaml, planIn } from '../support/plans';
import { limit } from '../support/timing';



describe('exec engine: ordered phases over remote exec', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let connection: ConsulConnection;
  let registry: RunRegistry;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-order-'));

  before(async () => {
    connection = await connect({ name: 'engine', address: server.httpAddr }, undefined);
  });
  beforeEach(() => {
    registry = new RunRegistry();
  });
  afterEach(async () => {
    registry.dispose();
    const leftovers = await consulRequest(server.httpAddr, '/v1/kv/_rexec?keys');
    assert.equal(leftovers.status, 404, `_rexec keys left behind: ${leftovers.text}`);
    const sessions = await consulJson<Array<{ Name: string }>>(server.httpAddr, '/v1/session/list');
    assert.deepEqual(sessions.filter((x) => /^chef-consul-ops run|^Remote Exec/.test(x.Name)), [], 'sessions left behind');
  });
  after(() => connection.dispose());

  function start(yaml: string, event: string, extra: Partial<ConstructorParameters<typeof ExecRun>[2]> = {}) {
    const { plans, merged } = planIn(yaml, { event });
    return new ExecRun(connection, registry, { event, merged, plans, startedBy: 'test', settings: DEFAULT_OPERATION_SETTINGS, ackGraceMs: 3000, ...extra });
  }

  /** Waits until a run has the cluster lock: its first phase starts only then (not a fixed pause: a loaded machine may take longer). */
  async function holdsLock(run: ExecRun): Promise<void> {
    await eventually('the run to hold the cluster lock', () => run.run.view().phases.some((p) => p.status === 'running') || undefined, 15_000);
  }

  it('runs phases in order: no phase starts before every node of the previous one finished', async () => {
    const log = path.join(out, 'order.log');
    const step = (n: number, sleep: string) => `
  p${n}:
    operations:
      - execute:
          script: |
            echo "start ${n} $(date +%s%N)" >> ${log}
            sleep ${sleep}
            echo "end ${n} $(date +%s%N)" >> ${log}
            echo "phase ${n} done"`;
    const exec = start(
      `events:
  deploy:
    ordered_tasks:
      - task: p1
      - service: db
        task: p2
      - service: web
        tag: frontend
        task: p3
      - task: p4
tasks:${step(1, '0.3')}${step(2, '0.2')}${step(3, '0.1')}${step(4, '0.2')}
`,
      'deploy',
    );
    const run = await exec.done;
    assert.equal(run.status, 'success', run.message);
    assert.deepEqual(run.phases.map((p) => [p.status, p.nodes.map((n) => n.node).sort()]), [
      ['success', ['consul-server-1', 'db-1', 'web-1']],
      ['success', ['db-1']],
      ['success', ['web-1']],
      ['success', ['consul-server-1', 'db-1', 'web-1']],
    ]);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
    const at = (kind: string, n: number) => lines.filter((l) => l[0] === kind && l[1] === String(n)).map((l) => BigInt(l[2]));
    for (let n = 1; n < 4; n++) {
      const ends = at('end', n);
      const starts = at('start', n + 1);
      assert.equal(ends.length, run.phases[n - 1].nodes.length);
      const lastEnd = ends.reduce((a, b) => (a > b ? a : b));
      const firstStart = starts.reduce((a, b) => (a < b ? a : b));
      assert.ok(lastEnd < firstStart, `phase ${n + 1} started before phase ${n} ended everywhere`);
    }
    assert.match(exec.run.outputOf(0, 'web-1'), /phase 1 done/);
  });

  it('stops the later phases when a phase fails, and records it in metronome\'s layout', async () => {
    const exec = start(
      `events:
  deploy:
    ordered_tasks:
      - service: db
        task: ok
      - service: web
        task: fail
      - task: ok
tasks:
  ok:
    operations:
      - execute:
          script: echo fine
  fail:
    operations:
      - echo: about to fail
      - execute:
          script: |
            echo broken >&2
            exit 3
`,
      'deploy',
    );
    const run = await exec.done;
    assert.equal(run.status, 'error');
    assert.deepEqual(run.phases.map((p) => p.status), ['success', 'error', 'cancelled']);
    assert.equal(run.phases[1].nodes[0].exitCode, 3);
    assert.match(run.message ?? '', /phase 2 \(fail\) ended error/);

    const record = await consulJson<Array<{ Value: string }>>(server.httpAddr, `/v1/kv/metronome/results/${run.id}`);
    const ev = JSON.parse(Buffer.from(record[0].Value, 'base64').toString()) as Record<string, unknown>;
    assert.deepEqual([ev.ID, ev.Name, ev.Status, ev.OpsEngine], [run.id, 'deploy', 'error', 'exec']);
    const history = await readRun(connection, run.id);
    assert.deepEqual(history?.phases.map((p) => [p.no, p.task, p.status]), [
      [0, 'ok', 'success'],
      [1, 'fail', 'error'],
      [2, 'ok', 'cancelled'],
    ]);
    assert.deepEqual(history?.phases[1].nodes.map((n) => [n.node, n.status, n.exitCode]), [['web-1', 'error', 3]]);
    assert.equal(await readNodeLog(connection, run.id, 1, 'web-1'), 'about to fail\nbroken\n');
    assert.ok((await listRuns(connection)).some((r) => r.id === run.id && r.status === 'error'));
  });

  it('skips a phase that matches no node at once when skippable, and fails it when not', async () => {
    const yaml = (skippable: boolean) => `events:
  deploy:
    ordered_tasks:
      - service: no-such-service
        task: t
        skippable: ${skippable}
      - service: db
        task: t
tasks:
  t:
    operations:
      - execute:
          script: echo hi
`;
    const started = Date.now();
    const skipped = await start(yaml(true), 'deploy').done;
    assert.deepEqual(skipped.phases.map((p) => p.status), ['skipped', 'success']);
    assert.ok(Date.now() - started < limit(5000));
    const failed = await start(yaml(false), 'deploy').done;
    assert.deepEqual(failed.phases.map((p) => p.status), ['error', 'cancelled']);
    assert.match(failed.phases[0].message ?? '', /No node in the catalog has service "no-such-service"/);
  });

  it('ends a node that outlives the task timeout as timeout, and the run returns', async () => {
    const started = Date.now();
    const run = await start(
      dbScriptYaml('sleep 20', 2),
      'deploy',
    ).done;
    assert.equal(run.status, 'timeout');
    assert.deepEqual(run.phases[0].nodes.map((n) => n.status), ['timeout']);
    assert.ok(Date.now() - started < limit(8000), `returned after ${Date.now() - started} ms`);
  });

  it('lets one ordered run hold the cluster at a time', async () => {
    const yaml = dbScriptYaml('sleep 2');
    const first = start(yaml, 'deploy');
    await holdsLock(first);
    const refused = await start(yaml, 'deploy', { lockWaitMs: 0 }).done;
    assert.equal(refused.status, 'error');
    assert.match(refused.message ?? '', /Another run holds the cluster: "deploy" \(run [0-9a-f-]+\) started by test/);
    let waitedFor: string | undefined;
    const waiting = start(yaml, 'deploy', { lockWaitMs: 20_000, onLockWait: (h) => (waitedFor = h?.runId) });
    assert.equal((await first.done).status, 'success');
    assert.equal((await waiting.done).status, 'success');
    assert.equal(waitedFor, first.run.id);
  });

  it('cancels a run that waits for the lock at once, and runs nothing', async () => {
    const marker = path.join(out, `waited-${Date.now()}`);
    const holder = start(dbScriptYaml('sleep 3'), 'deploy');
    await holdsLock(holder);
    const waiting = start(dbScriptYaml(`touch ${marker}`), 'deploy', { lockWaitMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    const asked = Date.now();
    registry.cancel(waiting.run.id);
    const cancelled = await waiting.done;
    assert.ok(Date.now() - asked < limit(1500), `took ${Date.now() - asked} ms to cancel`);
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(cancelled.phases.map((p) => p.nodes.length), [0]);
    assert.equal((await holder.done).status, 'success');
    // Nothing reached a node: the cancelled run's command never ran, even after the lock was free.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fs.existsSync(marker), false, 'the cancelled run ran its command');
  });

  it('retries only the failed nodes of a phase, then continues', async () => {
    const marker = path.join(out, 'retry-ok');
    const exec = start(
      `events:
  deploy:
    ordered_tasks:
      - task: flaky
      - service: db
        task: after
tasks:
  flaky:
    operations:
      - execute:
          script: |
            if [ -e ${marker} ]; then echo recovered; exit 0; fi
            exit 1
  after:
    operations:
      - execute:
          script: echo after
`,
      'deploy',
    );
    const first = await exec.done;
    assert.deepEqual(first.phases.map((p) => p.status), ['error', 'cancelled']);
    fs.writeFileSync(marker, '');
    const retried = await exec.retryFailed(0);
    assert.equal(retried.status, 'success', retried.message);
    assert.deepEqual(retried.phases.map((p) => p.status), ['success', 'success']);
    assert.match(exec.run.outputOf(0, 'db-1'), /recovered/);
  });

  it('shows a run whose editor went away as interrupted to everyone reading KV', async () => {
    const exec = start(
      dbScriptYaml('sleep 2'),
      'deploy',
    );
    const record = async () => {
      const [item] = await consulJson<Array<{ Value: string }>>(server.httpAddr, `/v1/kv/metronome/results/${exec.run.id}`);
      return JSON.parse(Buffer.from(item.Value, 'base64').toString()) as { Status: string; OpsSession?: string };
    };
    let running: { Status: string; OpsSession?: string } | undefined;
    for (let i = 0; i < 50 && !running?.OpsSession; i++) {
      await new Promise((r) => setTimeout(r, 100));
      running = await record().catch(() => undefined);
    }
    assert.equal(running?.Status, 'inprogress');
    // What the session's TTL does when the editor holding it disappears.
    await consulJson(server.httpAddr, `/v1/session/destroy/${running!.OpsSession}`, { method: 'PUT' });
    const seen = (await listRuns(connection)).find((r) => r.id === exec.run.id);
    assert.equal(seen?.status, 'interrupted');
    assert.match(seen?.message ?? '', /went away/);
    await exec.done;
  });

  it('cancels: no further phase starts', async () => {
    const exec = start(
      `events:
  deploy:
    ordered_tasks:
      - service: db
        task: slow
      - service: db
        task: slow
tasks:
  slow:
    operations:
      - execute:
          script: sleep 1
`,
      'deploy',
    );
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(registry.cancel(exec.run.id));
    const run = await exec.done;
    assert.equal(run.status, 'cancelled');
    assert.equal(run.phases[1].status, 'cancelled');
    assert.equal(run.phases[1].nodes.length, 0);
  });
});

describe('ad-hoc commands', function () {
  this.timeout(30_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let connection: ConsulConnection;
  let registry: RunRegistry;

  before(async () => {
    connection = await connect({ name: 'adhoc', address: server.httpAddr }, undefined);
    registry = new RunRegistry();
  });
  after(() => {
    registry.dispose();
    connection.dispose();
  });

  it('runs one command on the nodes of a service as a one-phase run in the same history', async () => {
    const run = await new AdhocRun(connection, registry, { command: 'echo "on $(uname -s)"', service: '^web$', startedBy: 'test' }).done;
    assert.equal(run.status, 'success');
    assert.equal(run.engine, 'adhoc');
    assert.deepEqual(run.phases[0].nodes.map((n) => [n.node, n.status, n.exitCode]), [['web-1', 'success', 0]]);
    assert.equal(await readNodeLog(connection, run.id, 0, 'web-1'), 'on Linux\n');
    const listed = (await listRuns(connection)).find((r) => r.id === run.id);
    assert.deepEqual([listed?.engine, listed?.command, listed?.status], ['adhoc', 'echo "on $(uname -s)"', 'success']);
  });

  it('says so when no node matches, and runs nothing', async () => {
    const marker = path.join(os.tmpdir(), `cco-no-node-${Date.now()}`);
    const run = await new AdhocRun(connection, registry, { command: `touch ${marker}`, node: '^nope$', startedBy: 'test' }).done;
    assert.equal(run.status, 'error');
    assert.match(run.message ?? '', /No node matched/);
    assert.deepEqual(run.phases[0].nodes, []);
    // No job was sent: no agent ran the command (the agents run on this machine).
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fs.existsSync(marker), false);
  });
});
