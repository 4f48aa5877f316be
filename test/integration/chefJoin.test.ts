import * as assert from 'node:assert/strict';
import { joinConsulChef } from '../../src/core/chef/join';
import { ChefApi } from '../../src/core/chef/server/chefApi';
import { lastRunsByNode } from '../../src/core/chef/server/reporting';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { readCatalog } from '../../src/core/consul/nodeDump';
import { goiardiClient, requireGoiardi } from '../infra/goiardi';
import { CHEF_ONLY_NODE } from '../infra/chefSeed';
import { clusterFromEnv, serverAgent } from '../support/env';

/** The Consul cluster's catalog joined with the seeded goiardi, as the Nodes view joins them. */
describe('Consul + Chef join against the real cluster and goiardi', function () {
  this.timeout(30_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let connection: ConsulConnection;

  beforeEach(async () => {
    connection = await connect({ name: 'test', address: server.httpAddr }, undefined);
  });
  afterEach(() => connection.dispose());

  it('maps every Consul node to its Chef node by name, with its last run; the Chef-only node stays apart', async () => {
    const client = goiardiClient(requireGoiardi());
    const [catalog, chefNodes, lastRuns] = await Promise.all([readCatalog(connection), new ChefApi(client).searchNodes(), lastRunsByNode(client)]);
    const join = joinConsulChef(catalog.nodes, chefNodes, lastRuns, 'name');
    assert.deepEqual([...join.byConsulNode.keys()].sort(), cluster.agents.map((a) => a.name).sort());
    assert.deepEqual(join.notInChef, []);
    assert.ok(join.onlyInChef.some((s) => s.node.name === CHEF_ONLY_NODE), 'the Chef-only node');
    assert.ok(!join.onlyInChef.some((s) => cluster.agents.some((a) => a.name === s.node.name)));
    const web = join.byConsulNode.get('web-1')!;
    assert.equal(web.lastRun?.node, 'web-1');
    assert.ok(web.lastRun?.status === 'success' || web.lastRun?.status === 'failure');
  });

  it('maps by ipaddress against the Consul node address, and by fqdn not at all (the seed fqdns are not Consul names)', async () => {
    const client = goiardiClient(requireGoiardi());
    const [catalog, chefNodes] = await Promise.all([readCatalog(connection), new ChefApi(client).searchNodes()]);
    const byIp = joinConsulChef(catalog.nodes, chefNodes, undefined, 'ipaddress');
    for (const node of catalog.nodes) assert.equal(byIp.byConsulNode.get(node.name)?.node.ipaddress, node.address, node.name);
    const byFqdn = joinConsulChef(catalog.nodes, chefNodes, undefined, 'fqdn');
    assert.equal(byFqdn.byConsulNode.size, 0);
    assert.deepEqual([...byFqdn.notInChef].sort(), catalog.nodes.map((n) => n.name).sort());
  });
});
