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
import { consulJson, consulRequest } from '../infra/cluster';
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

const now = () => new Date().toISOString();
const GO_ZERO = '0001-01-01T00:00:00Z';

/**
 * Plays metronome's side in KV, key by key and in metronome's order (from its
 * Go source): push, dispatch, start/finish on a node, finish the task.
 */
class FakeMetronome {
  constructor(private readonly addr: string) {}

  async put(key: string, value: unknown): Promise<void> {
    await consulJson(this.addr, `/v1/kv/${key}`, { method: 'PUT', body: typeof value === 'string' ? value : JSON.stringify(value) });
  }

  async get(key: string): Promise<string | undefined> {
    const res = await consulRequest(this.addr, `/v1/kv/${key}?raw`);
    return res.status === 200 ? res.text : undefined;
  }

  async del(key: string, recurse = false): Promise<void> {
    await consulJson(this.addr, `/v1/kv/${key}${recurse ? '?recurse' : ''}`, { method: 'DELETE' });
  }

  private async list(key: string): Promise<Record<string, unknown>[]> {
    const raw = await this.get(key);
    return raw ? (JSON.parse(raw) as Record<string, unknown>[] | null) ?? [] : [];
  }

  /** An agent's event watch handler: `metronome push`. */
  async push(id: string, name = EVENT): Promise<void> {
    const events = await this.list(EVENT_QUEUE_KEY);
    events.push({ ID: id, Name: name, Payload: null, NodeFilter: '', ServiceFilter: '', TagFilter: '', Version: 1, LTime: events.length + 1 });
    await this.put(EVENT_QUEUE_KEY, events);
  }

  /** dispatchEvent: dequeue the event, enqueue one task at a time, then the EventResult. */
  async dispatch(id: string, tasks: Array<{ task: string; service?: string; tag?: string }>, name = EVENT): Promise<void> {
    const events = await this.list(EVENT_QUEUE_KEY);
    await this.put(EVENT_QUEUE_KEY, events.filter((e) => e.ID !== id));
    const queue = await this.list(PROGRESS_QUEUE_KEY);
    for (const [no, t] of tasks.entries()) {
      queue.push({ id, no, pattern: 'app', service: t.service ?? '', skippable: false, tag: t.tag ?? '', task: t.task });
      await this.put(PROGRESS_QUEUE_KEY, queue);
    }
    await this.put(`metronome/results/${id}`, { ID: id, Name: name, Status: 'inprogress', StartedAt: now(), FinishedAt: GO_ZERO });
  }

  /** WriteStartLog: the TaskResult if missing, then the node's record (and its /log). */
  async startNode(id: string, no: number, task: string, node: string): Promise<void> {
    const phase = `metronome/results/${id}/${no}`;
    if (!(await this.get(phase))) await this.put(phase, { EventID: id, No: no, Name: task, Status: 'inprogress', StartedAt: now(), FinishedAt: GO_ZERO });
    await this.put(`${phase}/${node}`, { EventID: id, No: no, Node: node, Status: 'inprogress', Log: '', StartedAt: now(), FinishedAt: GO_ZERO });
    await this.put(`${phase}/${node}/log`, '');
  }

  /** WriteFinishLog: the node's record with status and the whole log, then /log. */
  async finishNode(id: string, no: number, node: string, status: string, log: string): Promise<void> {
    const key = `metronome/results/${id}/${no}/${node}`;
    const rec = JSON.parse((await this.get(key)) ?? '{}') as Record<string, unknown>;
    await this.put(key, { ...rec, Status: status, Log: log, FinishedAt: now() });
    await this.put(`${key}/log`, log);
  }

  /** finishTask: on error the queue is cleared first; then the TaskResult, the dequeue, and the EventResult once empty. */
  async finishTask(id: string, no: number, task: string, status: string): Promise<void> {
    if (status === 'error' || status === 'timeout') await this.del(PROGRESS_QUEUE_KEY);
    const phase = `metronome/results/${id}/${no}`;
    const rec = JSON.parse((await this.get(phase)) ?? 'null') as Record<string, unknown> | null;
    await this.put(phase, { ...(rec ?? { EventID: id, No: no, Name: task, StartedAt: now() }), Status: status, FinishedAt: now() });
    const queue = await this.get(PROGRESS_QUEUE_KEY);
    const rest = queue ? ((JSON.parse(queue) as unknown[] | null) ?? []).slice(1) : [];
    if (queue !== undefined) await this.put(PROGRESS_QUEUE_KEY, rest);
    if (!rest.length) {
      const ev = JSON.parse((await this.get(`metronome/results/${id}`)) ?? '{}') as Record<string, unknown>;
      await this.put(`metronome/results/${id}`, { ...ev, Status: status, FinishedAt: now() });
    }
  }

  /** One phase on one node, start to finish. */
  async phase(id: string, no: number, task: string, node: string, status: string, log: string): Promise<void> {
    await this.startNode(id, no, task, node);
    await this.finishNode(id, no, node, status, log);
    await this.finishTask(id, no, task, status);
  }
}

/** Resolves with the ms from `write` starting to the model showing `seen`. */
function timeToModel(m: MetronomeRun, write: () => Promise<void>, seen: (s: RunSnapshot) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sub = m.run.onDidChange((s) => {
      if (!seen(s)) return;
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
    const events = await consulJson<Array<{ ID: string; Payload: string }>>(server.httpAddr, `/v1/event/list?name=${EVENT}`);
    assert.equal(Buffer.from(events.find((e) => e.ID === id)?.Payload ?? '', 'base64').toString(), 's3cret');

    await sim.push(id);
    latencies.push(await timeToModel(m, () => sim.dispatch(id, TASKS), (s) => s.status === 'running'));
    for (const [no, node] of [[0, 'db-1'], [1, 'web-1']] as const) {
      latencies.push(await timeToModel(m, () => sim.startNode(id, no, TASKS[no].task, node), (s) => nodeOf(s, no, node)?.status === 'running'));
      assert.equal(m.run.snapshot().phases[no].status, 'running');
      latencies.push(await timeToModel(m, () => sim.finishNode(id, no, node, 'success', `${node}: chef ok\n\u001b[32mdone\u001b[0m\n`), (s) => nodeOf(s, no, node)?.status === 'success'));
      await sim.finishTask(id, no, TASKS[no].task, 'success');
      await eventually(`phase ${no} success`, () => m.run.snapshot().phases[no].status === 'success');
    }
    // The last phase runs everywhere.
    for (const node of ['consul-server-1', 'db-1', 'web-1']) {
      latencies.push(await timeToModel(m, () => sim.startNode(id, 2, 'finish', node), (s) => nodeOf(s, 2, node)?.status === 'running'));
    }
    for (const node of ['consul-server-1', 'db-1', 'web-1']) {
      latencies.push(await timeToModel(m, () => sim.finishNode(id, 2, node, 'success', `bye from ${node}\n`), (s) => nodeOf(s, 2, node)?.status === 'success'));
    }
    latencies.push(await timeToModel(m, () => sim.finishTask(id, 2, 'finish', 'success'), (s) => s.status === 'success'));
    // "Live": every write metronome makes reaches the run model within a second (the engine coalesces for 20 ms).
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
  });

  it('cancels the phases metronome never ran after it cleared its queue on an error', async () => {
    const m = await fire();
    const id = m.run.id;
    await sim.push(id);
    await sim.dispatch(id, TASKS);
    await sim.phase(id, 0, 'setup_db', 'db-1', 'success', 'db ok\n');
    await sim.startNode(id, 1, 'setup_web', 'web-1');
    await sim.finishNode(id, 1, 'web-1', 'error', 'FATAL: Chef::Exceptions::ChildConvergeError\n');
    await sim.finishTask(id, 1, 'setup_web', 'error');

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
    assert.match(noNode.message, /^Phase 2 \(setup_web\) matches no node in the Consul catalog \(service "nosuch"\): it is not skippable, so metronome will hold its queue on it until its 1800 s task timeout/);

    const stuck = await eventually('head-not-started', () => m.diagnostics.find((d) => d.kind === 'head-not-started'), 5000);
    assert.ok(Date.now() - m.run.snapshot().startedAt >= 1500);
    assert.equal(stuck.phase, 0);
    assert.match(stuck.message, /^No metronome agent picked up the event: are the agents running and is the event queue being consumed\? In 1\.5 s the event did not even reach metronome\/event_queue/);
    // The agents' watch puts it in the queue, but nobody consumes it.
    await sim.push(id(m));
    await eventually('queued wording', () => /has been in metronome\/event_queue for over 1\.5 s\.$/.test(m.diagnostics.find((d) => d.kind === 'head-not-started')?.message ?? ''));
    assert.equal(m.run.status, 'pending');

    // Picked up: the head phase is judged anew, and once it starts the stall is gone.
    await sim.dispatch(id(m), TASKS.map((t, no) => (no === 1 ? { ...t, service: 'nosuch' } : t)));
    await eventually('running', () => m.run.status === 'running' && !m.diagnostics.some((d) => d.kind === 'head-not-started'));
    const phaseStall = await eventually('phase stall', () => m.diagnostics.find((d) => d.kind === 'head-not-started'), 5000);
    assert.match(phaseStall.message, /^Phase 1 \(setup_db\) has not started within 1\.5 s of reaching the head of metronome's queue: none of its nodes \("db-1"\) wrote a result/);
    await sim.startNode(id(m), 0, 'setup_db', 'db-1');
    await eventually('stall resolved', () => !m.diagnostics.some((d) => d.kind === 'head-not-started'));

    registry.cancel(m.run.id);
    const run = await m.done;
    assert.equal(run.status, 'cancelled');
    assert.match(run.message ?? '', /^Stopped following: metronome's agents were not stopped and keep running this event/);
    assert.match(run.message ?? '', /matches no node in the Consul catalog/);
  });

  it('names a result under a node that is not in the catalog (hostname ≠ node name)', async () => {
    const m = await fire({ yaml: PLAN });
    const id = m.run.id;
    await sim.push(id);
    await sim.dispatch(id, TASKS.slice(0, 2));
    await sim.phase(id, 0, 'setup_db', 'db-1', 'success', 'ok\n');
    await sim.startNode(id, 1, 'setup_web', 'web-1.example.com');
    const d = await eventually('unknown-node', () => m.diagnostics.find((x) => x.kind === 'unknown-node'));
    assert.deepEqual([d.phase, d.node], [1, 'web-1.example.com']);
    assert.match(d.message, /under node "web-1\.example\.com", which is not a node in the Consul catalog/);
    assert.match(d.message, /waits for a result under "web-1" instead/);
    const running = m.run.snapshot().phases[1].nodes.map((n) => [n.node, n.status]);
    assert.deepEqual(running.sort(), [['web-1', 'pending'], ['web-1.example.com', 'running']]);

    // After its task timeout metronome counts the results it has, and goes on.
    await sim.finishNode(id, 1, 'web-1.example.com', 'success', 'web ok\n');
    await sim.finishTask(id, 1, 'setup_web', 'success');
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
    await sim.push(id);
    await sim.dispatch(id, TASKS.slice(0, 2));
    await sim.phase(id, 0, 'setup_db', 'db-1', 'success', 'db was set up\n');
    await sim.startNode(id, 1, 'setup_web', 'web-1');
    const started = JSON.parse((await sim.get(`metronome/results/${id}`)) ?? '{}') as { StartedAt: string };

    const m = await MetronomeRun.attach(connection, registry, { id });
    assert.equal(m.run.snapshot().event, EVENT);
    assert.equal(m.run.snapshot().startedAt, Date.parse(started.StartedAt));
    assert.deepEqual(m.run.snapshot().phases.map((p) => [p.no, p.task]), [[0, 'setup_db'], [1, 'setup_web']]);
    await eventually('caught up', () => nodeOf(m.run.snapshot(), 1, 'web-1')?.status === 'running');
    assert.equal(m.run.snapshot().phases[0].status, 'success');
    assert.equal(m.run.outputOf(0, 'db-1'), 'db was set up\n');

    await sim.finishNode(id, 1, 'web-1', 'success', 'web was set up\n');
    await sim.finishTask(id, 1, 'setup_web', 'success');
    const run = await m.done;
    assert.equal(run.status, 'success');
    assert.equal(m.run.outputOf(0, 'db-1'), 'db was set up\n', 'a log is appended once, however often the run is read');
    assert.equal(m.run.outputOf(1, 'web-1'), 'web was set up\n');

    // A finished run ends at once; an unknown one is refused with a reason.
    const again = await MetronomeRun.attach(connection, new RunRegistry(), { id });
    assert.equal((await again.done).status, 'success');
    await assert.rejects(MetronomeRun.attach(connection, registry, { id: randomUUID() }), /There is no metronome run .*: metronome\/results\/.* does not exist and neither of metronome's queues holds the event\./);
  });

  it('reports an attached run that metronome will never finish as interrupted', async () => {
    const id = randomUUID();
    ids.push(id);
    await sim.push(id);
    await sim.dispatch(id, TASKS.slice(0, 2));
    await sim.phase(id, 0, 'setup_db', 'db-1', 'success', 'ok\n');
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
    await sim.push(id);
    await sim.dispatch(id, TASKS);
    await sim.startNode(id, 0, 'setup_db', 'db-1');
    await eventually('node running', () => nodeOf(m.run.snapshot(), 0, 'db-1')?.status === 'running');
    assert.ok(registry.cancel(id));
    const run = await m.done;
    assert.equal(run.status, 'cancelled');
    assert.match(run.message ?? '', new RegExp(`keep running this event; its results still arrive in metronome/results/${id}\\.`));
    await sim.finishNode(id, 0, 'db-1', 'success', 'late\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(nodeOf(m.run.snapshot(), 0, 'db-1')?.status, 'cancelled');
    assert.equal(m.run.outputOf(0, 'db-1'), '');
  });

  it('turns what metronome could not have written into diagnostics, never a throw', async () => {
    const m = await fire();
    const id = m.run.id;
    await sim.push(id);
    await sim.dispatch(id, TASKS);
    await sim.put(`metronome/results/${id}/0`, '{"EventID": ');
    await sim.put(`metronome/results/${id}/0/db-1`, JSON.stringify({ Node: 'db-1', Status: 'exploded' }));
    await eventually('two malformed', () => m.diagnostics.filter((d) => d.kind === 'malformed').length === 2);
    await sim.put(PROGRESS_QUEUE_KEY, `[{ "pattern": "app","id": "${id}","no": 0,"service": "db","tag": "","task": "say "hi"","skippable": false }]`);
    const bad = await eventually('bad queue', () => m.diagnostics.find((d) => d.key === PROGRESS_QUEUE_KEY));
    assert.match(bad.message, /not valid JSON .* unescaped/);
    assert.equal(m.run.status, 'running');
    registry.cancel(id);
    assert.equal((await m.done).status, 'cancelled');
  });
});

const id = (m: MetronomeRun) => m.run.id;
