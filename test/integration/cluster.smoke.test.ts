// Smoke test of the real Consul test cluster.
// Uses the running cluster described by $CCO_CLUSTER_STATE (from `cli.js start`);
// without it, starts a private cluster and stops it afterwards.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  ClusterState, consulJson, consulRequest, DEMO_SERVICES, readState, SECURE_NODE,
  secureTls, startCluster, stopCluster,
} from '../infra/cluster';

interface CatalogNode { Node: string; Address: string }
interface HealthCheck { Node: string; ServiceName: string; Status: string }

describe('Consul test cluster (smoke)', function () {
  this.timeout(90_000);
  let state: ClusterState;
  let ownCluster = false;

  before(async () => {
    const file = process.env.CCO_CLUSTER_STATE;
    if (file) {
      state = readState(file);
    } else {
      state = await startCluster();
      ownCluster = true;
    }
  });

  after(async () => {
    if (ownCluster && state) await stopCluster(state, { removeBaseDir: true });
  });

  const server = () => state.agents.find((a) => a.role === 'server')!;

  it('has three nodes in the catalog', async () => {
    const nodes = await consulJson<CatalogNode[]>(server().httpAddr, '/v1/catalog/nodes');
    assert.deepEqual(nodes.map((n) => n.Node).sort(), state.agents.map((a) => a.name).sort());
    assert.equal(nodes.length, 3);
  });

  it('shows passing, warning and critical checks as configured', async () => {
    const checks = await consulJson<HealthCheck[]>(server().httpAddr, '/v1/health/state/any');
    assert.deepEqual(new Set(checks.map((c) => c.Status)), new Set(['passing', 'warning', 'critical']));
    for (const s of DEMO_SERVICES) {
      const check = checks.find((c) => c.ServiceName === s.name);
      assert.equal(check?.Status, s.status, `check of ${s.name}`);
      assert.equal(check?.Node, s.node, `node of ${s.name}`);
    }
  });

  it('catalogs a service registered through an agent', async () => {
    const client = state.agents.find((a) => a.role === 'client')!;
    const name = `smoke-${process.pid}-${Date.now()}`;
    await consulJson(client.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { Name: name, Port: 1234, Tags: ['smoke'] } });
    try {
      const instances = await poll(async () => {
        const found = await consulJson<Array<{ Node: string }>>(server().httpAddr, `/v1/catalog/service/${name}`);
        return found.length > 0 ? found : undefined;
      }, 5_000);
      assert.equal(instances[0].Node, client.name);
    } finally {
      // The cluster may be a long-lived sandbox: leave it as it was.
      await consulJson(client.httpAddr, `/v1/agent/service/deregister/${name}`, { method: 'PUT' });
    }
  });

  describe('secure agent', () => {
    before(function () {
      if (!state.secure) this.skip();
    });

    it('answers over HTTPS with the cluster CA', async () => {
      const leader = await consulJson<string>(state.secure!.httpsAddr, '/v1/status/leader', { tls: secureTls(state.secure!) });
      assert.match(leader, /^127\.0\.0\.5:\d+$/);
      assert.ok(fs.existsSync(state.secure!.clientCertFile) && fs.existsSync(state.secure!.clientKeyFile));
    });

    it('is rejected over HTTPS without the CA', async () => {
      await assert.rejects(
        consulRequest(state.secure!.httpsAddr, '/v1/status/leader', { tls: {} }),
        (err: NodeJS.ErrnoException) => /CERT|SIGNATURE|ISSUER/.test(err.code ?? ''),
      );
    });

    it('lists nodes with the read-only token and nothing without a token', async () => {
      const { httpsAddr, readOnlyToken } = state.secure!;
      const tls = secureTls(state.secure!);
      const withToken = await consulJson<CatalogNode[]>(httpsAddr, '/v1/catalog/nodes', { tls, token: readOnlyToken });
      assert.deepEqual(withToken.map((n) => n.Node), [SECURE_NODE]);
      const anonymous = await consulJson<CatalogNode[]>(httpsAddr, '/v1/catalog/nodes', { tls });
      assert.deepEqual(anonymous, []);
    });

    it('forbids writes with the read-only token', async () => {
      const { httpsAddr, readOnlyToken } = state.secure!;
      const res = await consulRequest(httpsAddr, '/v1/kv/smoke', { method: 'PUT', body: 'x', tls: secureTls(state.secure!), token: readOnlyToken });
      assert.equal(res.status, 403);
    });
  });
});

async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
