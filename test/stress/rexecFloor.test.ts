/**
 * A stress probe, not part of `npm test` (run it with `npm run stress`): 200
 * remote exec jobs back to back on a three-server cluster.
 *
 * What it found (issue 11): now and then Serf's gossip of the `_rexec` event
 * misses one agent (each node passes an event on a bounded number of times),
 * and that agent gets it only from the next push/pull sync, ~10 s later,
 * after the job has ended: it never acks, and later logs "remote exec
 * aborted, job spec missing". About 1 node-job in 500 on five agents, with or
 * without the CLI's 200 ms pause. The job now announces itself again, by
 * node name, to targets that have not acked a second after the fire.
 */
/**
 * Remote exec fires as soon as the job is written, with no "replication"
 * pause: on a cluster with three servers, where an agent's stale read of the
 * job can land on a follower that has not applied it yet, every agent must
 * still find the job (by its consistent retry), ack it and exit, every time.
 *
 * Starts its own cluster (three servers, two clients) on its own ports and
 * stops it at the end; CCO_FLOOR_BASE_PORT moves it.
 */
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { RemoteExecJob } from '../../src/core/exec/remoteExecJob';
import { ClusterState, consulJson, consulRequest, startCluster, stopCluster } from '../infra/cluster';

const ROUNDS = 200;
const BASE_PORT = Number(process.env.CCO_FLOOR_BASE_PORT ?? 18560);
/** What an agent logs at debug level when its stale read found no job, and when the consistent one did not either. */
const RETRIED = 'trying consistent fetch of remote exec job spec';
const MISSED = 'remote exec aborted, job spec missing';
/** What an agent logs (info) when it starts a job: once per job and agent, or it ran twice. */
const ran = (command: string) => `remote exec script: script="${command}"`;

describe('remote exec at the protocol floor (three servers)', function () {
  this.timeout(60_000);
  let cluster: ClusterState | undefined;
  const connections: ConsulConnection[] = [];
  const monitors: http.ClientRequest[] = [];
  const logs = new Map<string, string>();

  before(async function () {
    this.timeout(90_000);
    cluster = await startCluster({ basePort: BASE_PORT, withSecure: false, extraServers: 2 });
    const servers = cluster.agents.filter((a) => a.role === 'server');
    assert.equal(servers.length, 3);
    const peers = await consulJson<string[]>(servers[0].httpAddr, '/v1/status/peers');
    assert.equal(peers.length, 3, `raft peers: ${peers.join(', ')}`);
    // Each agent's debug log, streamed without changing its configured level.
    for (const agent of cluster.agents) {
      logs.set(agent.name, '');
      const [host, port] = agent.httpAddr.split(':');
      const req = http.get({ host, port: Number(port), path: '/v1/agent/monitor?loglevel=debug', agent: false }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => logs.set(agent.name, logs.get(agent.name) + chunk));
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      monitors.push(req);
    }
    // Jobs go in through every agent in turn: the leader, its followers and the clients.
    for (const agent of cluster.agents) connections.push(await connect({ name: `floor-${agent.name}`, address: agent.httpAddr }, undefined));
  });

  after(async () => {
    for (const m of monitors) m.destroy();
    for (const c of connections) c.dispose();
    if (cluster) await stopCluster(cluster, { removeBaseDir: true });
  });

  it(`every agent acks and exits each of ${ROUNDS} jobs fired without a replication pause`, async function () {
    // About 45 s on an idle 2-core machine; the limit only guards against a hang.
    this.timeout(150_000);
    const state = cluster!;
    const targets = state.agents.map((a) => a.name);
    assert.equal(targets.length, 5);
    const times: number[] = [];
    let undelivered = 0;
    let reannounced = 0;
    const misses: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const acked = new Set<string>();
      const started = Date.now();
      const job = new RemoteExecJob(connections[round % connections.length], { command: `echo round-${round}`, targets, timeoutMs: 10_000, ackGraceMs: 5_000 }, { ack: (node) => acked.add(node) });
      const results = await job.run();
      times.push(Date.now() - started);
      reannounced += job.reannounced;
      // Every node acks and runs the job to the end; one the gossip missed gets it again by name.
      for (const r of results) {
        if (acked.has(r.node)) assert.deepEqual([r.status, r.exitCode], ['success', 0], `round ${round} (session ${job.sessionId}): ${r.node} acked but ended ${r.status}: ${r.note ?? ''}`);
        else {
          assert.equal(r.status, 'lost', `round ${round}: ${r.node} never acked but ended ${r.status}`);
          undelivered++;
          misses.push(`round ${round} session ${job.sessionId} node ${r.node} started ${new Date(started).toISOString()}`);
        }
      }
      assert.deepEqual(job.unexpectedNodes, [], `round ${round}`);
      assert.equal(job.cleanupError, undefined, `round ${round}: ${job.cleanupError?.message}`);
    }
    if (process.env.CCO_FLOOR_LOG_DIR) {
      const fs = await import('node:fs');
      fs.mkdirSync(process.env.CCO_FLOOR_LOG_DIR, { recursive: true });
      for (const [name, text] of logs) fs.writeFileSync(`${process.env.CCO_FLOOR_LOG_DIR}/${name}.log`, text);
      fs.writeFileSync(`${process.env.CCO_FLOOR_LOG_DIR}/misses.txt`, misses.join('\n'));
    }
    const server = state.agents[0].httpAddr;
    const keys = await consulRequest(server, '/v1/kv/_rexec?keys');
    assert.equal(keys.status, 404, `_rexec keys left behind: ${keys.text}`);
    const sessions = await consulJson<Array<{ Name: string }>>(server, '/v1/session/list');
    assert.deepEqual(sessions.filter((s) => s.Name === 'Remote Exec'), []);
    const count = (text: string, what: string) => text.split(what).length - 1;
    const retried = [...logs.values()].reduce((n, text) => n + count(text, RETRIED), 0);
    // A late copy of an announcement that was replaced finds no job: that is how it is kept from running twice.
    const late = [...logs.values()].reduce((n, text) => n + count(text, MISSED), 0);
    assert.equal(undelivered, 0, `${undelivered} of ${ROUNDS * targets.length} node-jobs were never acted on:\n${misses.join('\n')}`);
    // No agent ran any job twice (a re-announcement reached only nodes that had not run it).
    for (const [name, text] of logs) {
      for (let round = 0; round < ROUNDS; round++) assert.equal(count(text, ran(`echo round-${round}`)), 1, `${name} ran round ${round} ${count(text, ran(`echo round-${round}`))} times`);
    }
    times.sort((a, b) => a - b);
    const mean = Math.round(times.reduce((a, b) => a + b, 0) / ROUNDS);
    console.log(
      `      ${ROUNDS} jobs × ${targets.length} agents: median ${times[ROUNDS >> 1]} ms, mean ${mean} ms, max ${times[ROUNDS - 1]} ms; ` +
        `stale reads retried consistently: ${retried}; node-jobs re-announced: ${reannounced}; late announcements that found no job: ${late}; never acted on: ${undelivered}`,
    );
  });

  it('announces the job again, by name, to a target the first announcement missed, which runs it once', async function () {
    this.timeout(30_000);
    const state = cluster!;
    const targets = state.agents.map((a) => a.name);
    // The first event's node filter leaves db-1 out, as a gossip miss would.
    const acked: string[] = [];
    const job = new RemoteExecJob(connections[0], { command: 'echo missed-once', node: '^(?:consul|web)', targets, timeoutMs: 10_000, ackGraceMs: 5_000 }, { ack: (node) => acked.push(node) });
    const results = await job.run();
    assert.deepEqual(
      results.map((r) => [r.node, r.status, r.exitCode]),
      targets.map((t) => [t, 'success', 0]),
    );
    assert.equal(job.reannounced, 1);
    assert.deepEqual(acked.filter((n) => n === 'db-1'), ['db-1']);
    await new Promise((r) => setTimeout(r, 500));
    for (const [name, text] of logs) assert.equal(text.split(ran('echo missed-once')).length - 1, 1, `${name} ran the job ${text.split(ran('echo missed-once')).length - 1} times`);
  });
});
