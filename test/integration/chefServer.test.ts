/**
 * The Chef server client, ChefApi and the Reporting API against real goiardi
 * with authentication (started by `cli.js start --with-chef`; npm test does
 * it). No goiardi → every test fails with what to do, none is skipped.
 * Objects and runs made here use unique names, so the seeded data others'
 * tests read stays as it is.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import * as zlib from 'node:zlib';
import { ChefApi } from '../../src/core/chef/server/chefApi';
import { ChefServerClient, ChefServerError } from '../../src/core/chef/server/chefServerClient';
import { getRun, lastRunsByNode, listRuns, postRunEnd, postRunStart } from '../../src/core/chef/server/reporting';
import type { RunEndInput } from '../../src/core/chef/server/reporting';
import { SIGN_VERSIONS } from '../../src/core/chef/server/signing';
import { CHEF_ONLY_NODE } from '../infra/chefSeed';
import { readState } from '../infra/cluster';
import { GoiardiState, goiardiClient, requireGoiardi } from '../infra/goiardi';
import { forward, listen, Listener, withBody } from '../support/http';

const isKind = (kind: ChefServerError['kind'], extra: (e: ChefServerError) => boolean = () => true) => (e: unknown) => {
  assert.ok(e instanceof ChefServerError, `expected a ChefServerError, got ${String(e)}`);
  assert.equal(e.kind, kind, `kind of: ${e.message}`);
  assert.ok(extra(e), `unexpected message: ${e.message}`);
  return true;
};

/** A proxy in front of goiardi that records each request's method, path and headers and the bytes of its body. */
async function recordingProxy(target: string): Promise<Listener & { seen: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders; body: Buffer }> }> {
  const seen: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders; body: Buffer }> = [];
  const listener = await listen(
    withBody((req, res, body) => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      forward(target, req, res, body);
    }),
  );
  return { ...listener, seen };
}

describe('Chef server client against real goiardi (authentication on)', function () {
  this.timeout(30_000);
  let chef: GoiardiState;
  let admin: ChefServerClient;
  const id = crypto.randomBytes(3).toString('hex');
  const node = `itest-${id}`;

  before(() => {
    chef = requireGoiardi();
    admin = goiardiClient(chef);
  });

  after(async () => {
    if (!admin) return;
    for (const path of [`/nodes/${node}`, `/nodes/${node}-b`, `/nodes/${node}-c`, `/roles/${node}`, `/cookbooks/cb-${id}/1.0.0`, `/cookbooks/cb-${id}/1.10.0`, `/data/bag-${id}`]) {
      await admin.delete(path).catch(() => undefined);
    }
  });

  describe('the seeded Chef server (cli.js start --with-chef)', () => {
    it('has a Chef node for every Consul node plus one only Chef knows, and failed runs with an exception and a failed resource with a delta', async () => {
      const consulNodes = readState(process.env.CCO_CLUSTER_STATE!).agents.map((a) => a.name);
      const api = new ChefApi(admin);
      const chefNodes = await api.searchNodes();
      for (const name of consulNodes) assert.ok(chefNodes.some((n) => n.name === name), `Chef node ${name}`);
      assert.ok(chefNodes.some((n) => n.name === CHEF_ONLY_NODE) && !consulNodes.includes(CHEF_ONLY_NODE));
      const failures = await listRuns(admin, { node: 'web-1', status: 'failure' });
      assert.ok(failures.length >= 1, 'web-1 has a failed run');
      const report = await getRun(admin, failures[0].runId);
      const failed = report.resources[report.failure?.resourceIndex ?? -1];
      assert.ok(failed?.failed && failed.diffs.length === 1, 'the failed resource carries its delta');
      assert.ok(report.failure?.exceptionClass && report.failure.backtrace.length > 3 && report.failure.sections.length > 2);
      assert.ok((await listRuns(admin, { node: 'web-1', status: 'success' })).length >= 3, 'and successes before it');
      const environments = await api.listEnvironments();
      assert.ok(environments.includes('production') && environments.includes('staging'), environments.join(', '));
    });
  });

  describe('signing and errors', () => {
    for (const version of SIGN_VERSIONS) {
      it(`signs with X-Ops-Sign ${version}: a GET and a POST with a body are accepted`, async () => {
        const client = goiardiClient(chef, { signVersion: version });
        const name = `${node}-v${version.replace('.', '')}`;
        await client.post('/roles', { name, json_class: 'Chef::Role', chef_type: 'role', description: `signed with ${version}`, run_list: [], default_attributes: {}, override_attributes: {}, env_run_lists: {} });
        const role = await client.get<{ description: string }>(`/roles/${name}`);
        assert.equal(role.description, `signed with ${version}`);
        await client.delete(`/roles/${name}`);
        assert.equal(client.signVersion, version, 'no fallback was needed');
      });
    }

    it('a key that is not the client\'s → wrong-key', async () => {
      const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const client = goiardiClient(chef, { clientKey: other });
      await assert.rejects(client.get('/nodes'), isKind('wrong-key', (e) => e.message.includes('"admin"') && e.details.status === 401));
    });

    it('a clock 20 minutes off → clock-skew, saying by how much', async () => {
      const client = goiardiClient(chef, { clock: () => new Date(Date.now() + 20 * 60_000) });
      await assert.rejects(
        client.get('/nodes'),
        isKind('clock-skew', (e) => /off by 20 minutes \(ahead of the server/.test(e.message) && Math.abs((e.details.skewMs ?? 0) - 20 * 60_000) < 5_000),
      );
      const behind = goiardiClient(chef, { clock: () => new Date(Date.now() - 20 * 60_000) });
      await assert.rejects(behind.get('/nodes'), isKind('clock-skew', (e) => /off by 20 minutes \(behind the server/.test(e.message)));
    });

    it('an unknown client → unknown-client', async () => {
      const client = goiardiClient(chef, { clientName: `nobody-${id}` });
      await assert.rejects(client.get('/nodes'), isKind('unknown-client', (e) => e.message.includes(`"nobody-${id}"`)));
    });

    it('a request the client may not make → forbidden, naming the request; a missing object → not-found', async () => {
      const validator = goiardiClient(chef, { clientName: chef.validatorClient, clientKeyPath: chef.validatorKeyPath });
      await assert.rejects(validator.delete(`/nodes/${node}-nope`), isKind('forbidden', (e) => e.message.includes(`"chef-validator" may not DELETE /nodes/${node}-nope`)));
      await assert.rejects(admin.get(`/nodes/${node}-nope`), isKind('not-found', (e) => e.message.includes(`GET /nodes/${node}-nope`) && !e.message.includes('/organizations/<org>')));
    });

    it('a node named "." or ".." is refused before signing (URL parsing would have asked for /nodes or the root)', async () => {
      const api = new ChefApi(admin);
      for (const name of ['.', '..']) await assert.rejects(api.getNode(name), isKind('not-found', (e) => /cannot be "\." or "\.\."/.test(e.message)));
      assert.equal((await api.getNode('web-1')).name, 'web-1', 'ordinary names still work');
    });

    it('a server that is not there → unreachable, naming the URL', async () => {
      const client = goiardiClient(chef, { serverUrl: 'http://127.0.0.1:9' });
      await assert.rejects(client.get('/nodes'), isKind('unreachable', (e) => e.message.includes('http://127.0.0.1:9')));
    });
  });

  describe('ChefApi', () => {
    it('lists nodes by partial search (goiardi cannot page it: one request for every row after a full page), and gets one node whole', async () => {
      const api = new ChefApi(admin);
      for (const [i, suffix] of ['', '-b', '-c'].entries()) {
        await admin.post('/nodes', {
          name: `${node}${suffix}`, chef_type: 'node', json_class: 'Chef::Node', chef_environment: '_default', run_list: ['role[web]'],
          default: {}, normal: {}, override: {}, automatic: { platform: 'debian', platform_version: '12.5', fqdn: `n${i}.example`, hostname: `n${i}`, ipaddress: `10.9.0.${i}`, ohai_time: 1764570000.25 },
        });
      }
      const pages: number[] = [];
      const found = await api.searchNodes({ query: `name:${node}*`, pageSize: 2, onPage: (n) => pages.push(n) });
      assert.deepEqual(found.map((n) => n.name), [node, `${node}-b`, `${node}-c`]);
      assert.deepEqual(found[1], { name: `${node}-b`, runList: ['role[web]'], environment: '_default', platform: 'debian', platformVersion: '12.5', fqdn: 'n1.example', hostname: 'n1', ipaddress: '10.9.0.1', ohaiTime: 1764570000250 });
      assert.equal(pages.at(-1), 3);
      // The second search on the same ChefApi knows goiardi cannot page: one request for every row.
      const counter = await recordingProxy(`${chef.host}:${chef.port}`);
      try {
        const viaProxy = new ChefApi(goiardiClient(chef, { serverUrl: `http://${counter.address}` }));
        assert.equal((await viaProxy.searchNodes({ query: `name:${node}*`, pageSize: 2 })).length, 3);
        assert.equal((await viaProxy.searchNodes({ query: `name:${node}*`, pageSize: 2 })).length, 3);
        assert.deepEqual(counter.seen.map((r) => new URL(r.path, 'http://x').searchParams.get('rows')), ['2', '1000000', '1000000']);
      } finally {
        await counter.close();
      }
      const whole = await api.getNode(node);
      assert.equal(whole.automatic.ipaddress, '10.9.0.0');
      assert.ok((await api.listNodeNames()).includes(`${node}-c`));
    });

    it('lists roles, environments, cookbooks with every version (newest first), data bags and items', async () => {
      const api = new ChefApi(admin);
      await admin.post('/roles', { name: node, json_class: 'Chef::Role', chef_type: 'role', description: '', run_list: ['recipe[x]'], default_attributes: {}, override_attributes: {}, env_run_lists: {} });
      for (const version of ['1.0.0', '1.10.0']) {
        await admin.put(`/cookbooks/cb-${id}/${version}`, { name: `cb-${id}-${version}`, cookbook_name: `cb-${id}`, version, json_class: 'Chef::CookbookVersion', chef_type: 'cookbook_version', 'frozen?': false, metadata: { name: `cb-${id}`, version, dependencies: {}, recipes: {} } });
      }
      await admin.post('/data', { name: `bag-${id}` });
      await admin.post(`/data/bag-${id}`, { id: 'item1', secret: false });
      assert.ok((await api.listRoles()).includes(node));
      assert.equal((await api.getRole(node)).name, node);
      assert.ok((await api.listEnvironments()).includes('_default'));
      assert.deepEqual((await api.listCookbooks()).find((c) => c.name === `cb-${id}`), { name: `cb-${id}`, versions: ['1.10.0', '1.0.0'] });
      assert.ok((await api.listDataBags()).includes(`bag-${id}`));
      assert.deepEqual(await api.listDataBagItems(`bag-${id}`), ['item1']);
      assert.deepEqual(await api.getDataBagItem(`bag-${id}`, 'item1'), { id: 'item1', secret: false });
    });
  });

  describe('Reporting API', () => {
    const hour = 3600_000;
    const base = Date.now() - 10 * hour;
    /** Four runs of `node`; their run IDs sort with time, so goiardi's rows=N (the first N+1 by run ID) would return the oldest. */
    const runs: Array<{ runId: string; start: number; status: 'success' | 'failure' | 'started' }> = [
      { runId: `00${id}-0000-4000-8000-000000000001`, start: base + 1 * hour, status: 'success' },
      { runId: `55${id}-0000-4000-8000-000000000002`, start: base + 2 * hour, status: 'failure' },
      { runId: `aa${id}-0000-4000-8000-000000000003`, start: base + 3 * hour, status: 'success' },
      { runId: `ff${id}-0000-4000-8000-000000000004`, start: base + 4 * hour, status: 'started' },
    ];
    const failedRun = (r: (typeof runs)[number]): RunEndInput => ({
      runId: r.runId, startTime: r.start, endTime: r.start + 42_000, status: 'failure', runList: ['role[web]'], totalResources: 12,
      resources: [
        { type: 'template', name: '/etc/app.conf', id: '/etc/app.conf', before: { mode: '0644' }, after: { mode: '0600' }, duration: '17', delta: '--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n', result: 'create', cookbook_name: 'app', cookbook_version: '1.0.0' },
        { type: 'execute', name: 'reload app', id: 'reload app', before: {}, after: { command: 'systemctl reload app' }, duration: '1200', delta: '', result: 'run', cookbook_name: 'app', cookbook_version: '1.0.0' },
      ],
      exception: {
        class: 'Mixlib::ShellOut::ShellCommandFailed',
        message: "Expected process to exit with [0], but received '1'",
        backtrace: ['/opt/chef/lib/mixlib/shellout.rb:300:in `invalid!\''],
        description: { title: "Error executing action `run` on resource 'execute[reload app]'", sections: [{ 'Mixlib::ShellOut::ShellCommandFailed': "Expected process to exit with [0], but received '1'" }] },
      },
    });
    let proxy: Awaited<ReturnType<typeof recordingProxy>>;

    before(async () => {
      proxy = await recordingProxy(`${chef.host}:${chef.port}`);
      const viaProxy = goiardiClient(chef, { serverUrl: `http://${proxy.address}` });
      for (const r of runs) {
        await postRunStart(viaProxy, node, { runId: r.runId, startTime: r.start });
        if (r.status === 'success') await postRunEnd(viaProxy, node, { runId: r.runId, startTime: r.start, endTime: r.start + 60_000, status: 'success', runList: ['role[web]'], totalResources: 12, resources: [] });
        if (r.status === 'failure') await postRunEnd(viaProxy, node, failedRun(r));
      }
    });
    after(() => proxy?.close());

    it('a run end goes gzipped, as chef-client sends it, signed over the gzip bytes, and is accepted and readable', async () => {
      const ends = proxy.seen.filter((s) => s.method === 'POST' && /\/runs\/./.test(s.path));
      assert.equal(ends.length, 3);
      for (const end of ends) {
        assert.equal(end.headers['content-encoding'], 'gzip');
        assert.equal(end.headers['x-ops-content-hash'], crypto.createHash('sha256').update(end.body).digest('base64'));
        assert.equal(JSON.parse(zlib.gunzipSync(end.body).toString()).action, 'end');
      }
      const report = await getRun(admin, runs[1].runId);
      assert.equal(report.status, 'failure');
      assert.equal(report.resources.length, 2);
    });

    it('lists a node\'s runs newest first (not in run ID order), with status, date and rows filters', async () => {
      const all = await listRuns(admin, { node });
      assert.deepEqual(all.map((r) => r.runId), [...runs].reverse().map((r) => r.runId));
      assert.deepEqual(all.map((r) => r.status), ['running', 'success', 'failure', 'success']);
      assert.equal(all[2].failedResource, 'execute[reload app]');
      assert.equal(all[2].durationSeconds, 42);
      assert.deepEqual(all[2].runList, ['role[web]']);
      assert.deepEqual((await listRuns(admin, { node, status: 'failure' })).map((r) => r.runId), [runs[1].runId]);
      assert.deepEqual((await listRuns(admin, { node, status: 'running' })).map((r) => r.runId), [runs[3].runId]);
      const window = await listRuns(admin, { node, from: base + 1.5 * hour, to: base + 3.5 * hour });
      assert.deepEqual(window.map((r) => r.runId), [runs[2].runId, runs[1].runId]);
      // A window whose ends are the runs' own start seconds holds both (goiardi alone leaves out its boundary seconds).
      const second = (t: number) => Math.floor(t / 1000) * 1000;
      const edges = await listRuns(admin, { node, from: second(runs[1].start), to: second(runs[2].start) });
      assert.deepEqual(edges.map((r) => r.runId), [runs[2].runId, runs[1].runId]);
      // goiardi answers rows=N with N+1 rows, picked by run ID: we still get exactly the newest N.
      assert.deepEqual((await listRuns(admin, { node, rows: 2 })).map((r) => r.runId), [runs[3].runId, runs[2].runId]);
      assert.deepEqual((await listRuns(admin, { node, rows: 1 })).map((r) => r.runId), [runs[3].runId]);
    });

    it('lists org-wide runs and each node\'s latest run in one request', async () => {
      const org = await listRuns(admin, { from: base });
      assert.ok(runs.every((r) => org.some((o) => o.runId === r.runId && o.node === node)));
      const counter = await recordingProxy(`${chef.host}:${chef.port}`);
      try {
        const latest = await lastRunsByNode(goiardiClient(chef, { serverUrl: `http://${counter.address}` }));
        assert.equal(counter.seen.length, 1, 'one request');
        assert.equal(latest.get(node)?.runId, runs[3].runId);
        assert.equal(latest.get(node)?.status, 'running');
      } finally {
        await counter.close();
      }
    });

    it('reads a failed run\'s detail as a ChefReport: resources with before/after and delta, failed resource, exception, run list, duration', async () => {
      const report = await getRun(admin, runs[1].runId);
      assert.equal(report.source, 'reporting');
      assert.equal(report.status, 'failure');
      assert.deepEqual(report.runList, ['role[web]']);
      assert.equal(report.durationSeconds, 42);
      assert.equal(report.startedAt, Math.floor(runs[1].start / 1000) * 1000);
      assert.equal(report.totalResources, 12);
      const [tpl, exec] = report.resources;
      assert.deepEqual(tpl.before, { mode: '0644' });
      assert.deepEqual(tpl.after, { mode: '0600' });
      assert.deepEqual(tpl.diffs, [{ path: '/etc/app.conf', diff: '--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n' }]);
      assert.equal(tpl.action, 'create');
      assert.equal(tpl.cookbook, 'app');
      assert.equal(exec.failed, true);
      assert.equal(exec.durationMs, 1200);
      assert.equal(report.failure?.resource, 'execute[reload app]');
      assert.equal(report.failure?.resourceIndex, 1);
      assert.equal(report.failure?.exceptionClass, 'Mixlib::ShellOut::ShellCommandFailed');
      assert.deepEqual(report.failure?.backtrace, ['/opt/chef/lib/mixlib/shellout.rb:300:in `invalid!\'']);
      assert.deepEqual(report.failure?.sections.map((s) => s.title), ['Mixlib::ShellOut::ShellCommandFailed']);
      await assert.rejects(getRun(admin, crypto.randomUUID()), isKind('not-found'));
    });

    it('Reporting needs an admin: the validator is forbidden, and told which request', async () => {
      const validator = goiardiClient(chef, { clientName: chef.validatorClient, clientKeyPath: chef.validatorKeyPath });
      await assert.rejects(listRuns(validator, { node }), isKind('forbidden', (e) => e.message.includes(`GET /reports/nodes/${node}/runs`)));
    });
  });
});
