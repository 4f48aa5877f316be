import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { mergeEvents } from '../../src/core/plans/merge';
import { parsePlan } from '../../src/core/plans/parse';
import { EVENT_QUEUE_KEY, PROGRESS_QUEUE_KEY } from '../../src/core/runs/metronomeLayout';
import { MetronomeDiagnostic, MetronomeFollowOptions, MetronomeRun } from '../../src/core/runs/metronomeEngine';
import type { RunSnapshot } from '../../src/core/runs/model';
import { RunRegistry } from '../../src/core/runs/registry';
import { FakeMetronome, type PatternSchedule } from '../infra/fakeMetronome';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { limit } from '../support/timing';

const EVENT = 'metro_deploy';
const PLAN = `events:
  ${EVENT}:
    ordered_tasks:
      - service: db
        task: setup_db
      - service: web
        task: setup_web
      - task: finish
tasks:
  setup_db:
    operations:
      - execute:
          script: echo db
  setup_web:
    operations:
      - execute:
          script: echo web
  finish:
    operations:
      - echo: done
`;
const TASKS = [
  { task: 'setup_db', service: 'db' },
  { task: 'setup_web', service: 'web' },
  { task: 'finish', service: '' },
];

function mergedFor(yaml: string, event = EVENT) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-metro-'));
  const file = path.join(folder, 'task.yml');
  fs.writeFileSync(file, yaml);
  const { plan, diagnostics } = parsePlan(yaml, file, { fileExists: fs.existsSync });
  assert.ok(plan, JSON.stringify(diagnostics));
  const merged = mergeEvents([plan]).get(event);
  assert.ok(merged, `event ${event}`);
  return merged;
}

/** The agents' copy of the plan: one task.yml (pattern "app") with the event's ordered tasks. */
const schedule = (tasks: ReadonlyArray<{ task: string; service?: string }> = TASKS): PatternSchedule[] => [{ pattern: 'app', events: { [EVENT]: { ordered_tasks: [...tasks] } } }];

/** Resolves with the ms from `write` starting to the model showing `seen`. */
function timeToModel(m: MetronomeRun, write: () => Promise<void>, seen: (s: RunSnapshot) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sub = m.run.onDidChange(() => {
      if (!seen(m.run.snapshot())) return;
      sub.dispose();
      resolve(performance.now() - t0);
    });
    write().catch(reject);
  });
}

const kinds = (d: readonly MetronomeDiagnostic[]) => d.map((x) => x.kind);
const nodeOf = (s: RunSnapshot, no: number, node: string) => s.phases[no].nodes.find((n) => n.node === node);

describe('metronome engine: following metronome through KV', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const sim = new FakeMetronome(server.httpAddr);
  const latencies: number[] = [];
  const putRtts: number[] = [];
  let connection: ConsulConnection;
  let registry: RunRegistry;
  let ids: string[];

  const fire = async (opts: MetronomeFollowOptions & { yaml?: string; token?: string } = {}) => {
    const m = await MetronomeRun.fire(connection, registry, { merged: mergedFor(opts.yaml ?? PLAN), startedBy: 'test', ...opts });
    ids.push(m.run.id);
    return m;
  };

  before(async () => {
    connection = await connect({ name: 'metronome', address: server.httpAddr }, undefined);
  });
  beforeEach(async () => {
    registry = new RunRegistry();
    ids = [];
    await sim.del(EVENT_QUEUE_KEY);
    await sim.del(PROGRESS_QUEUE_KEY);
  });
  afterEach(async () => {
    for (const run of registry.all()) registry.cancel(run.id);
    registry.dispose();
    for (const id of ids) await sim.del(`metronome/results/${id}`, true);
    await sim.del(EVENT_QUEUE_KEY);
    await sim.del(PROGRESS_QUEUE_KEY);
  });
  after(() => {
    connection.dispose();
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
      return `n=${sorted.length} median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`;
    };
    // metronome writes a record, then /log: the first change after a quiet spell is passed on at once, later ones coalesced.
    if (latencies.length) console.log(`      metronome KV write → run model: ${stats(latencies)} (from the start of the writes); bare KV PUT: ${stats(putRtts)}`);
  });

  it('follows a run to success, live, with each node\'s log once and the token as payload', async () => {
    const m = await fire({ token: 's3cret' });
    const id = m.run.id;
    assert.equal(m.run.status, 'pending');
    const fired = await sim.consulEvent(id);
    assert.equal(Buffer.from(fired.Payload ?? '', 'base64').toString(), 's3cret');
    // metronome's push drops an event whose payload is not its -token, and queues the one that is.
    assert.deepEqual(await new FakeMetronome(server.httpAddr, { token: 'other' }).push(fired), []);
    const agents = new FakeMetronome(server.httpAddr, { token: 's3cret' });
    assert.deepEqual(await agents.push(fired), [id]);

    latencies.push(await timeToModel(m, async () => assert.equal(await agents.dispatchEvent(schedule()), id), (s) => s.status === 'running'));
    for (const [no, node] of [[0, 'db-1'], [1, 'web-1']] as const) {
      latencies.push(await timeToModel(m, async () => void (await agents.startTask(node)), (s) => nodeOf(s, no, node)?.status === 'running'));
      assert.equal(m.run.snapshot().phases[no].status, 'running');
      latencies.push(await timeToModel(m, () => agents.finishNodeTask(node, 'success', `${node}: chef ok\n\u001b[32mdone\u001b[0m\n`), (s) => nodeOf(s, no, node)?.status === 'success'));
      assert.equal(await agents.finishTask(), 'success');
      await eventually(`phase ${no} success`, () => m.run.snapshot().phases[no].status === 'success');
    }
    // The last phase runs everywhere.
    for (const node of ['consul-server-1', 'db-1', 'web-1']) {
      latencies.push(await timeToModel(m, async () => void (await agents.startTask(node)), (s) => nodeOf(s, 2, node)?.status === 'running'));
    }
    await assert.rejects(agents.finishTask(), /would not finish task 2 \(finish\) yet: no finished result yet from "consul-server-1", "db-1", "web-1"/);
    for (const node of ['consul-server-1', 'db-1', 'web-1']) {
      latencies.push(await timeToModel(m, () => agents.finishNodeTask(node, 'success', `bye from ${node}\n`), (s) => nodeOf(s, 2, node)?.status === 'success'));
    }
    latencies.push(await timeToModel(m, async () => assert.equal(await agents.finishTask(), 'success'), (s) => s.status === 'success'));
    // "Live": every step metronome takes reaches the run model within a second (the engine coalesces for 20 ms).
    const slowest = Math.max(...latencies);
    assert.ok(slowest < limit(1000), `a metronome write took ${slowest.toFixed(0)} ms to reach the run model`);
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      await sim.put('metronome-test/rtt', String(i));
      putRtts.push(performance.now() - t0);
    }
    await sim.del('metronome-test', true);

    const run = await m.done;
    assert.equal(run.status, 'success', run.message);
    assert.equal(run.engine, 'metronome');
    assert.equal(run.message, undefined);
    assert.deepEqual(run.phases.map((p) => [p.status, p.nodes.map((n) => [n.node, n.status, n.exitCode]).sort()]), [
      ['success', [['db-1', 'success', undefined]]],
      ['success', [['web-1', 'success', undefined]]],
      ['success', [['consul-server-1', 'success', undefined], ['db-1', 'success', undefined], ['web-1', 'success', undefined]]],
    ]);
    assert.equal(m.run.outputOf(0, 'db-1'), 'db-1: chef ok\n\u001b[32mdone\u001b[0m\n');
    assert.equal(m.run.outputOf(2, 'web-1'), 'bye from web-1\n');
    assert.deepEqual(m.diagnostics, []);
    // metronome's own record format: no Log in the record (it is only under /log), whole-second RFC 3339 times.
    const rec = JSON.parse((await sim.get(`metronome/results/${id}/0/db-1`)) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(rec), ['EventID', 'No', 'Node', 'Status', 'StartedAt', 'FinishedAt']);
    assert.match(String(rec.FinishedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  });

  it('keeps a node\'s log, which metronome writes to /log only after the node\'s final record', async () => {
    // metronome's NodeTaskResult record has no Log (scheduler/result.go: `json:"-"`); the log follows in a
    // second write. A reader that takes the record as final before that write must not lose the log.
    const slow = new FakeMetronome(server.httpAddr, { logWriteGapMs: 300 });
    const m = await fire();
    await slow.push(await slow.consulEvent(id(m)));
    await slow.dispatchEvent(schedule(TASKS.slice(0, 1)));
    await slow.runTask('db-1', 'success', 'the whole log\n');
    assert.equal(await slow.finishTask(), 'success');
    const run = await m.done;
    assert.equal(run.status, 'success');
    assert.equal(m.run.outputOf(0, 'db-1'), 'the whole log\n');
  });

  it('cancels the phases metronome never ran after it cleared its queue on an error', async () => {
    const m = await fire();
    const id = m.run.id;
    await sim.push(await sim.consulEvent(id));
    await sim.dispatchEvent(schedule());
    await sim.runTask('db-1', 'success', 'db ok\n');
    await sim.finishTask();
    await sim.startTask('web-1');
    await sim.finishNodeTask('web-1', 'error', 'FATAL: Chef::Exceptions::ChildConvergeError\n');
    assert.equal(await sim.finishTask(), 'error');
    assert.equal(await sim.get(PROGRESS_QUEUE_KEY), undefined, 'metronome deletes its progress queue on an error');

    const run = await m.done;
    assert.equal(run.status, 'error');
    assert.deepEqual(run.phases.map((p) => p.status), ['success', 'error', 'cancelled']);
    assert.match(run.phases[2].message ?? '', /^Never ran: metronome cleared its progress queue after phase 2 \(setup_web\) ended error\.$/);
    assert.match(run.message ?? '', /^Phase 2 \(setup_web\) ended error on "web-1"\. metronome cleared its progress queue after phase 2 \(setup_web\) ended error, so phase 3 \(finish\) never ran\.$/);
    assert.deepEqual(kinds(m.diagnostics), ['queue-wiped']);
    assert.match(m.run.outputOf(1, 'web-1'), /ChildConvergeError/);
  });

  it('reports a head that does not start, and a phase that matches no node', async () => {
    const yaml = PLAN.replace('- service: web', '- service: nosuch');
    const m = await fire({ yaml, headStartTimeoutMs: 1500 });
    const noNode = await eventually('no-node', () => m.diagnostics.find((d) => d.kind === 'no-node'));
    assert.equal(noNode.phase, 1);
    assert.match(noNode.message, /^Phase 2 \(setup_web\) matches no node in the Consul catalog \(service "nosuch"\): it is not skippable, so metronome will hold its queue on it for 120 s, then end it timeout and stop the event/);

    const stuck = await eventually('head-not-started', () => m.diagnostics.find((d) => d.kind === 'head-not-started'), 5000);
    assert.ok(Date.now() - m.run.snapshot().startedAt >= 1500);
    assert.equal(stuck.phase, 0);
    assert.match(stuck.message, /^No metronome agent picked up the event: are the agents running and is the event queue being consumed\? In 1\.5 s the event did not even reach metronome\/event_queue/);
    // The agents' watch puts it in the queue, but nobody consumes it.
    const strict = new FakeMetronome(server.httpAddr, { skippable: false });
    await strict.push(await strict.consulEvent(id(m)));
    await eventually('queued wording', () => /has been in metronome\/event_queue for over 1\.5 s\.$/.test(m.diagnostics.find((d) => d.kind === 'head-not-started')?.message ?? ''));
    assert.equal(m.run.status, 'pending');

    // Picked up (by agents started with -skippable=false): the head phase is judged anew, and once it starts the stall is gone.
    await strict.dispatchEvent(schedule(TASKS.map((t, no) => (no === 1 ? { ...t, service: 'nosuch' } : t))));
    await eventually('running', () => m.run.status === 'running' && !m.diagnostics.some((d) => d.kind === 'head-not-started'));
    const phaseStall = await eventually('phase stall', () => m.diagnostics.find((d) => d.kind === 'head-not-started'), 5000);
    assert.match(phaseStall.message, /^Phase 1 \(setup_db\) has not started within 1\.5 s of reaching the head of metronome's queue: none of its nodes \("db-1"\) wrote a result/);
    await strict.startTask('db-1');
    await eventually('stall resolved', () => !m.diagnostics.some((d) => d.kind === 'head-not-started'));

    registry.cancel(m.run.id);
    const run = await m.done;
    assert.equal(run.status, 'cancelled');
    assert.match(run.message ?? '', /^Stopped following: metronome's agents were not stopped and keep running this event/);
    assert.match(run.message ?? '', /matches no node in the Consul catalog/);
  });

  it('follows metronome skipping a phase no node can run (its agents\' default -skippable)', async () => {
    const m = await fire({ yaml: PLAN.replace('- service: web', '- service: nosuch') });
    await sim.push(await sim.consulEvent(id(m)));
    await sim.dispatchEvent(schedule(TASKS.map((t, no) => (no === 1 ? { ...t, service: 'nosuch' } : t))));
    // The queue says skippable: the warning becomes a note that metronome will skip it.
    await eventually('skip note', () => m.diagnostics.find((d) => d.kind === 'no-node' && d.severity === 'info' && /metronome will skip it\.$/.test(d.message)));
    await sim.runTask('db-1', 'success', 'db ok\n');
    assert.equal(await sim.finishTask(), 'success');
    assert.equal(await sim.finishTask(), 'skip');
    for (const node of ['consul-server-1', 'db-1', 'web-1']) await sim.runTask(node, 'success', 'done\n');
    assert.equal(await sim.finishTask(), 'success');

    const run = await m.done;
    assert.equal(run.status, 'success', run.message);
    assert.deepEqual(run.phases.map((p) => p.status), ['success', 'skipped', 'success']);
    assert.deepEqual(run.phases[1].nodes, []);
  });

  it('follows metronome timing out a phase no node can run when its agents are not skippable', async () => {
    const m = await fire({ yaml: PLAN.replace('- service: web', '- service: nosuch') });
    const strict = new FakeMetronome(server.httpAddr, { skippable: false });
    await strict.push(await strict.consulEvent(id(m)));
    await strict.dispatchEvent(schedule(TASKS.map((t, no) => (no === 1 ? { ...t, service: 'nosuch' } : t))));
    await strict.runTask('db-1', 'success', 'db ok\n');
    assert.equal(await strict.finishTask(), 'success');
    await assert.rejects(strict.finishTask(), /no node can run it and it is not skippable: it waits 120 s for its timeout/);
    // metronome's 120 s without a start pass: the phase ends timeout and its queue is deleted.
    assert.equal(await strict.expireHead(), 'timeout');

    const run = await m.done;
    assert.equal(run.status, 'timeout');
    assert.deepEqual(run.phases.map((p) => p.status), ['success', 'timeout', 'cancelled']);
    assert.match(run.message ?? '', /^Phase 2 \(setup_web\) ended timeout\. /);
    assert.match(run.message ?? '', / metronome cleared its progress queue after phase 2 \(setup_web\) ended timeout, so phase 3 \(finish\) never ran\./);
    assert.match(run.message ?? '', /Phase 2 \(setup_web\) matches no node in the Consul catalog \(service "nosuch"\)/);
    assert.deepEqual(kinds(m.diagnostics).sort(), ['no-node', 'queue-wiped']);
  });

  it('reports a phase whose agent never starts because its hostname is not its node name, which metronome then skips', async () => {
    const m = await fire({ headStartTimeoutMs: 1500 });
    await sim.push(await sim.consulEvent(id(m)));
    await sim.dispatchEvent(schedule(TASKS.slice(0, 2)));
    await sim.runTask('db-1', 'success', 'ok\n');
    await sim.finishTask();
    // metronome names an agent by its hostname, and runs a task only when that is a catalog node with the service.
    await assert.rejects(sim.startTask('web-1.example.com'), /"web-1\.example\.com" is not a node in the Consul catalog with service "web"/);
    const stall = await eventually('phase stall', () => m.diagnostics.find((d) => d.kind === 'head-not-started' && d.phase === 1), 5000);
    assert.match(stall.message, /^Phase 2 \(setup_web\) has not started within 1\.5 s of reaching the head of metronome's queue: none of its nodes \("web-1"\) wrote a result; are the metronome agents on them running, and is each agent's hostname its Consul node name\?$/);
    // After its 120 s without a start, metronome finishes the phase with no node result: skip, with the
    // agents' default -skippable, and the event goes on (here it was the last queued phase).
    assert.equal(await sim.expireHead(), 'skip');
    assert.equal((await sim.eventResult(id(m)))?.Status, 'skip');
    const run = await m.done;
    assert.equal(run.status, 'success');
    assert.deepEqual(run.phases.map((p) => p.status), ['success', 'skipped', 'cancelled']);
    assert.deepEqual(run.phases[1].nodes, []);
    assert.match(run.phases[1].message ?? '', /is each agent's hostname its Consul node name\?/);
  });

  it('names a result under a name that is no catalog node (a record metronome\'s own agents never write)', async () => {
    const m = await fire({ yaml: PLAN });
    const id = m.run.id;
    await sim.push(await sim.consulEvent(id));
    await sim.dispatchEvent(schedule(TASKS.slice(0, 2)));
    await sim.runTask('db-1', 'success', 'ok\n');
    await sim.finishTask();
    // Written by hand, in metronome's format: an agent whose hostname is no catalog node never runs a task
    // (see the test above), so only another writer puts a result there.
    const key = `metronome/results/${id}/1/web-1.example.com`;
    await sim.put(key, JSON.stringify({ EventID: id, No: 1, Node: 'web-1.example.com', Status: 'inprogress', StartedAt: new Date().toISOString() }));
    await sim.put(`${key}/log`, '');
    const d = await eventually('unknown-node', () => m.diagnostics.find((x) => x.kind === 'unknown-node'));
    assert.deepEqual([d.phase, d.node], [1, 'web-1.example.com']);
    assert.match(d.message, /under node "web-1\.example\.com", which is not a node in the Consul catalog/);
    assert.match(d.message, /waits for a result under "web-1" instead/);
    const running = m.run.snapshot().phases[1].nodes.map((n) => [n.node, n.status]);
    assert.deepEqual(running.sort(), [['web-1', 'pending'], ['web-1.example.com', 'running']]);

    // metronome waits for "web-1" (its catalog target) until its task timeout, then counts every record it has.
    await sim.put(key, JSON.stringify({ EventID: id, No: 1, Node: 'web-1.example.com', Status: 'success', StartedAt: new Date().toISOString(), FinishedAt: new Date().toISOString() }));
    await sim.put(`${key}/log`, 'web ok\n');
    await assert.rejects(sim.finishTask(), /no finished result yet from "web-1"/);
    assert.equal(await sim.expireHead(), 'success');
    const run = await m.done;
    assert.equal(run.status, 'success');
    assert.equal(run.phases[2].status, 'cancelled');
    assert.match(run.phases[2].message ?? '', /never ran this phase|never queued this phase/);
    assert.deepEqual(nodeOf(run, 1, 'web-1')?.status, 'lost');
    assert.match(run.phases[1].message ?? '', /not a node in the Consul catalog/);
    assert.equal(m.run.outputOf(1, 'web-1.example.com'), 'web ok\n');
  });

  it('attaches to a run already in progress, without a plan, and follows it to the end', async () => {
    const id = randomUUID();
    ids.push(id);
    await sim.push({ ID: id, Name: EVENT, Version: 1, LTime: 1 });
    await sim.dispatchEvent(schedule(TASKS.slice(0, 2)));
    await sim.runTask('db-1', 'success', 'db was set up\n');
    await sim.finishTask();
    await sim.startTask('web-1');
    const started = JSON.parse((await sim.get(`metronome/results/${id}`)) ?? '{}') as { StartedAt: string };

    const m = await MetronomeRun.attach(connection, registry, { id });
    assert.equal(m.run.snapshot().event, EVENT);
    assert.equal(m.run.snapshot().startedAt, Date.parse(started.StartedAt));
    assert.deepEqual(m.run.snapshot().phases.map((p) => [p.no, p.task]), [[0, 'setup_db'], [1, 'setup_web']]);
    await eventually('caught up', () => nodeOf(m.run.snapshot(), 1, 'web-1')?.status === 'running');
    assert.equal(m.run.snapshot().phases[0].status, 'success');
    assert.equal(m.run.outputOf(0, 'db-1'), 'db was set up\n');

    await sim.finishNodeTask('web-1', 'success', 'web was set up\n');
    await sim.finishTask();
    const run = await m.done;
    assert.equal(run.status, 'success');
    assert.equal(m.run.outputOf(0, 'db-1'), 'db was set up\n', 'a log is appended once, however often the run is read');
    assert.equal(m.run.outputOf(1, 'web-1'), 'web was set up\n');

    // A finished run ends at once; an unknown one is refused with a reason.
    const again = await MetronomeRun.attach(connection, new RunRegistry(), { id });
    assert.equal((await again.done).status, 'success');
    await assert.rejects(MetronomeRun.attach(connection, registry, { id: randomUUID() }), /There is no metronome run .*: metronome\/results\/.* does not exist and neither of metronome's queues holds the event\./);
    // metronome's dispatch ignores an event pushed again after it ran.
    await sim.push({ ID: id, Name: EVENT, Version: 1, LTime: 1 });
    assert.equal(await sim.dispatchEvent(schedule()), undefined);
    assert.deepEqual(await sim.progressQueue(), []);
  });

  it('reports an attached run that metronome will never finish as interrupted', async () => {
    const id = randomUUID();
    ids.push(id);
    await sim.push({ ID: id, Name: EVENT, Version: 1, LTime: 1 });
    await sim.dispatchEvent(schedule(TASKS.slice(0, 2)));
    await sim.runTask('db-1', 'success', 'ok\n');
    await sim.finishTask();
    await sim.del(PROGRESS_QUEUE_KEY); // an operator "unsticking" metronome
    const m = await MetronomeRun.attach(connection, registry, { id, orphanGraceMs: 300 });
    const run = await m.done;
    assert.equal(run.status, 'interrupted');
    assert.match(run.message ?? '', /^metronome's progress queue no longer holds any phase of this event \(it was cleared\), so no agent will finish it/);
    assert.deepEqual(kinds(m.diagnostics), ['orphaned']);
  });

  it('on cancel stops following, says metronome keeps running, and ignores later writes', async () => {
    const m = await fire();
    const id = m.run.id;
    await sim.push(await sim.consulEvent(id));
    await sim.dispatchEvent(schedule());
    await sim.startTask('db-1');
    await eventually('node running', () => nodeOf(m.run.snapshot(), 0, 'db-1')?.status === 'running');
    assert.ok(registry.cancel(id));
    const run = await m.done;
    assert.equal(run.status, 'cancelled');
    assert.match(run.message ?? '', new RegExp(`keep running this event; its results still arrive in metronome/results/${id}\\.`));
    await sim.finishNodeTask('db-1', 'success', 'late\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(nodeOf(m.run.snapshot(), 0, 'db-1')?.status, 'cancelled');
    assert.equal(m.run.outputOf(0, 'db-1'), '');
  });

  it('turns what metronome could not have written into diagnostics, never a throw', async () => {
    const m = await fire();
    const id = m.run.id;
    await sim.push(await sim.consulEvent(id));
    await sim.dispatchEvent(schedule());
    await sim.put(`metronome/results/${id}/0`, '{"EventID": ');
    await sim.put(`metronome/results/${id}/0/db-1`, JSON.stringify({ Node: 'db-1', Status: 'exploded' }));
    await eventually('two malformed', () => m.diagnostics.filter((d) => d.kind === 'malformed').length === 2);
    // metronome itself cannot write this: Go's json.Marshal rejects the invalid JSON its EventTask.MarshalJSON
    // makes of a quoted name, and dispatchEvent then leaves that task out (see test/infra/fakeMetronome.ts).
    await sim.put(PROGRESS_QUEUE_KEY, `[{ "pattern": "app","id": "${id}","no": 0,"service": "db","tag": "","task": "say "hi"","skippable": false }]`);
    const bad = await eventually('bad queue', () => m.diagnostics.find((d) => d.key === PROGRESS_QUEUE_KEY));
    assert.match(bad.message, /not valid JSON .* unescaped/);
    assert.equal(m.run.status, 'running');
    registry.cancel(id);
    assert.equal((await m.done).status, 'cancelled');
  });
});

const id = (m: MetronomeRun) => m.run.id;
