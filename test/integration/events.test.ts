import * as assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { EVENT_LIST_PATH, eventListMethod, eventsFromList, EventRequestError, fireEvent, UserEvent } from '../../src/core/consul/events';
import { LiveQuery } from '../../src/core/consul/liveQuery';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';

/** A `consul watch -type=event` handler per agent, recording the event IDs it is handed. */
class EventWatchers {
  private readonly procs: ChildProcess[] = [];
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-event-watch-'));

  constructor(consulBin: string, agents: { name: string; httpAddr: string }[]) {
    for (const agent of agents) {
      const out = path.join(this.dir, agent.name);
      fs.mkdirSync(out);
      // The handler gets the agent's whole event list as JSON on stdin, once per delivery.
      const handler = `cat > '${out}'/$(date +%s%N).json`;
      const proc = spawn(consulBin, ['watch', '-type=event', `-http-addr=${agent.httpAddr}`, 'sh', '-c', handler], { stdio: 'ignore' });
      this.procs.push(proc);
    }
  }

  idsSeenBy(agent: string): Set<string> {
    const dir = path.join(this.dir, agent);
    const ids = new Set<string>();
    for (const file of fs.readdirSync(dir)) {
      try {
        for (const e of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Array<{ ID: string }>) ids.add(e.ID);
      } catch {
        // A file still being written is read on the next look.
      }
    }
    return ids;
  }

  stop(): void {
    for (const p of this.procs) if (p.pid && p.exitCode === null) p.kill('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('events against the real cluster', function () {
  this.timeout(30_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const names = cluster.agents.map((a) => a.name);
  let connection: ConsulConnection;
  let watchers: EventWatchers;

  before(async () => {
    connection = await connect({ name: 'events', address: server.httpAddr }, undefined);
    watchers = new EventWatchers(cluster.consulBin, cluster.agents);
    // A watch delivers the buffered list first: wait until each handler ran once.
    const warmup = await fireEvent(connection, { name: 'warmup' });
    await eventually('every watcher to be running', () => names.every((n) => watchers.idsSeenBy(n).has(warmup.id)) || undefined, 10_000);
  });

  after(() => {
    watchers?.stop();
    connection?.dispose();
  });

  const cases: Array<{ title: string; filters: { node?: string; service?: string; tag?: string }; expect: string[] }> = [
    { title: 'no filter', filters: {}, expect: ['consul-server-1', 'db-1', 'web-1'] },
    { title: 'a node filter', filters: { node: '^web-' }, expect: ['web-1'] },
    { title: 'a service filter', filters: { service: '^(db|cache)$' }, expect: ['db-1'] },
    { title: 'a service and tag filter', filters: { service: '^web$', tag: '^frontend$' }, expect: ['web-1'] },
    { title: 'a tag no instance has', filters: { service: '^web$', tag: '^nope$' }, expect: [] },
  ];

  for (const c of cases) {
    it(`lands only on the matching agents with ${c.title}`, async () => {
      const event = await fireEvent(connection, { name: 'it-deploy', payload: `case ${c.title}`, ...c.filters });
      assert.match(event.id, /^[0-9a-f-]{36}$/);
      assert.equal(event.payload, `case ${c.title}`);
      for (const n of c.expect) await eventually(`the event on ${n}`, () => watchers.idsSeenBy(n).has(event.id) || undefined, 10_000);
      // Gossip keeps no order: an unfiltered marker fired later, seen everywhere,
      // plus a second of grace, gives the event its chance on every other agent.
      const marker = await fireEvent(connection, { name: 'it-marker' });
      await eventually('the marker on every agent', () => names.every((n) => watchers.idsSeenBy(n).has(marker.id)) || undefined, 10_000);
      await new Promise((r) => setTimeout(r, 1000));
      const landed = names.filter((n) => watchers.idsSeenBy(n).has(event.id)).sort();
      assert.deepEqual(landed, c.expect);
    });
  }

  it('refuses, before sending, what Consul would refuse', async () => {
    await assert.rejects(fireEvent(connection, { name: 'x', tag: 'v1' }), (e: Error) => e instanceof EventRequestError && /tag filter needs a service filter/.test(e.message));
    await assert.rejects(fireEvent(connection, { name: 'x', payload: 'y'.repeat(500) }), /over Consul's limit of 512/);
  });

  it('follows the agent\'s event buffer live, newest first, with the payload decoded', async () => {
    let requests = 0;
    const query = new LiveQuery<UserEvent[]>(connection, {
      method(opts) {
        requests++;
        return eventListMethod.call(this, opts);
      },
      path: EVENT_LIST_PATH,
      transform: eventsFromList,
    });
    const sub = query.subscribe();
    try {
      await eventually('the first list', () => (query.current.kind === 'ready' ? true : undefined));
      const fired = await fireEvent(connection, { name: 'it-live', payload: 'héllo wörld', node: server.name });
      const seen = await eventually('the event in the list', () => {
        const s = query.current;
        return s.kind === 'ready' && s.data[0]?.id === fired.id ? s.data[0] : undefined;
        // The agent gets its own event by gossip, as every other.
      }, 15_000);
      assert.equal(seen.payload, 'héllo wörld');
      assert.equal(seen.nodeFilter, server.name);
      // The index is a hash, not a counter: the watch must settle into one blocking request, not spin.
      await new Promise((r) => setTimeout(r, 300));
      const before = requests;
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(requests - before <= 1, `${requests - before} requests in 1.5 s of quiet`);
    } finally {
      sub.dispose();
      query.dispose();
    }
  });
});
