import * as assert from 'node:assert/strict';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import type { CatalogSnapshot } from '../../src/core/consul/catalog';
import type { LiveState } from '../../src/core/consul/liveQuery';
import { readCatalog } from '../../src/core/consul/nodeDump';
import { profileFromEnvironment } from '../../src/core/consul/profile';
import { readClusterInfo } from '../../src/core/consul/status';
import { consulJson, DEMO_SERVICES } from '../infra/cluster';
import { clusterFromEnv, serverAgent } from '../support/env';
import { countingProxy } from '../support/http';
import { liveCatalog, until } from '../support/live';

const hasService = (name: string) => (s: LiveState<CatalogSnapshot>) => s.kind === 'ready' && s.data.services.some((x) => x.name === name);

describe('catalog against the real cluster', function () {
  this.timeout(30_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let connection: ConsulConnection;

  beforeEach(async () => {
    connection = await connect({ name: 'test', address: server.httpAddr }, undefined);
  });
  afterEach(() => connection.dispose());

  it('reads every node with its aggregated health', async () => {
    const snap = await readCatalog(connection);
    assert.deepEqual(snap.nodes.map((n) => n.name).sort(), cluster.agents.map((a) => a.name).sort());
    for (const demo of DEMO_SERVICES) {
      const instance = snap.nodes.find((n) => n.name === demo.node)?.services.find((s) => s.service === demo.name);
      assert.ok(instance, `${demo.name} on ${demo.node}`);
      assert.equal(instance.health, demo.status, `${demo.name} health`);
      assert.equal(instance.port, demo.port);
      assert.deepEqual(instance.tags, demo.tags);
    }
    const web1 = snap.nodes.find((n) => n.name === 'web-1')!;
    assert.equal(web1.health, 'warning');
    assert.equal(snap.nodes.find((n) => n.name === 'db-1')!.health, 'critical');
    assert.ok(snap.counts.passing > 0 && snap.counts.warning > 0 && snap.counts.critical > 0);
  });

  it('reports the datacenter and the leader', async () => {
    const info = await readClusterInfo(connection);
    assert.equal(info.datacenter, cluster.datacenter);
    assert.ok(info.leader, 'a leader is known');
    assert.ok(info.datacenters.includes(cluster.datacenter));
  });

  it('connects with the profile the consul CLI environment describes', async () => {
    const fromEnv = await connect(profileFromEnvironment({ CONSUL_HTTP_ADDR: server.httpAddr }), undefined);
    try {
      const snap = await readCatalog(fromEnv);
      assert.equal(snap.nodes.length, cluster.agents.length);
    } finally {
      fromEnv.dispose();
    }
  });

  it('sees a registered service, a health flip and a deregistration within 2 s each', async () => {
    const query = liveCatalog(connection);
    const sub = query.subscribe();
    const agent = cluster.agents.find((a) => a.role === 'client')!;
    const id = `live-${Date.now()}`;
    try {
      await until(query, (s) => s.kind === 'ready', 5000);
      await consulJson(agent.httpAddr, '/v1/agent/service/register', {
        method: 'PUT',
        body: { ID: id, Name: id, Port: 7000, Tags: ['it'], Check: { CheckID: `${id}-ttl`, TTL: '60s', Status: 'passing' } },
      });
      const seen = await until(query, hasService(id), 2000);
      assert.equal(seen.kind === 'ready' && seen.data.services.find((s) => s.name === id)?.health, 'passing');

      await consulJson(agent.httpAddr, `/v1/agent/check/fail/${id}-ttl?note=broken`, { method: 'PUT' });
      await until(query, (s) => s.kind === 'ready' && s.data.services.find((x) => x.name === id)?.health === 'critical', 2000);

      await consulJson(agent.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' });
      await until(query, (s) => s.kind === 'ready' && !s.data.services.some((x) => x.name === id), 2000);
    } finally {
      sub.dispose();
      query.dispose();
      await consulJson(agent.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' }).catch(() => undefined);
    }
  });

  it('coalesces a burst of registrations into few updates', async () => {
    const query = liveCatalog(connection);
    const sub = query.subscribe();
    const ids = Array.from({ length: 20 }, (_, i) => `burst-${Date.now()}-${i}`);
    let updates = 0;
    try {
      await until(query, (s) => s.kind === 'ready', 5000);
      const counter = query.onDidChange(() => updates++);
      const burstStart = Date.now();
      await Promise.all(ids.map((id) => consulJson(server.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: id, Name: 'burst' } })));
      const burstMs = Date.now() - burstStart;
      await until(query, (s) => s.kind === 'ready' && (s.data.services.find((x) => x.name === 'burst')?.instances.length ?? 0) === ids.length, 3000);
      counter.dispose();
      // At most one update per coalescing window (100 ms) the burst lasted, plus the one that ends it.
      const bound = 1 + Math.ceil(burstMs / 100);
      assert.ok(updates <= Math.min(bound, ids.length - 1), `${updates} updates for ${ids.length} writes in ${burstMs} ms (bound ${bound})`);
    } finally {
      sub.dispose();
      query.dispose();
      await Promise.all(ids.map((id) => consulJson(server.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' }).catch(() => undefined)));
    }
  });

  it('runs no request while nobody subscribes, and none after the last subscriber leaves', async () => {
    // Requests counted where they happen: at a proxy in front of the agent.
    const proxy = await countingProxy(server.httpAddr);
    const counted = await connect({ name: 'counted', address: proxy.address }, undefined);
    const id = `quiet-${Date.now()}`;
    try {
      const query = liveCatalog(counted);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(proxy.requests, [], 'requests before anybody subscribed');
      const sub = query.subscribe();
      await until(query, (s) => s.kind === 'ready', 5000);
      assert.ok(proxy.requests.length >= 1, 'a subscriber starts the query');
      sub.dispose();
      // A request the watch had already sent may still be on its way to the proxy.
      await new Promise((r) => setTimeout(r, 300));
      const atEnd = proxy.requests.length;
      // A catalog change answers any blocking query still open: none may follow it.
      await consulJson(server.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: id, Name: id } });
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(proxy.requests.slice(atEnd), [], 'requests after the last subscriber left');
      query.dispose();
    } finally {
      await consulJson(server.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' }).catch(() => undefined);
      counted.dispose();
      await proxy.close();
    }
  });
});
