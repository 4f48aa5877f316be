import * as assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { AclDeniedError } from '../../src/core/consul/errors';
import { runHandler } from '../../src/core/watches/handler';
import { consulWatchArgs, parseWatch, WatchDefinition } from '../../src/core/watches/model';
import { feedFor, SharedQueries } from '../../src/core/watches/queries';
import { WatchFiring, WatchRunner } from '../../src/core/watches/runner';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';

const DEBOUNCE = 300;
const notify = [{ type: 'notify' as const }];
const run = Math.random().toString(36).slice(2, 8);

/** A handler script as `consul watch` runs it: stdin and CONSUL_INDEX into a new numbered file of `dir`. */
function handlerScript(dir: string): string {
  const script = path.join(dir, 'handler.sh');
  fs.writeFileSync(script, '#!/bin/sh\nn=$(date +%s%N)\ncat > "$OUT_DIR/$n.json"\nprintf %s "$CONSUL_INDEX" > "$OUT_DIR/$n.idx"\n', { mode: 0o755 });
  return script;
}

function outputs(dir: string): { json: string; index: string }[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ json: fs.readFileSync(path.join(dir, f), 'utf8'), index: fs.existsSync(path.join(dir, f.replace(/json$/, 'idx'))) ? fs.readFileSync(path.join(dir, f.replace(/json$/, 'idx')), 'utf8') : '' }));
}

/** The service list's tags in a stable order: Consul gives them in Go map order. */
function sortTags(type: string, json: unknown): unknown {
  if (type !== 'services') return json;
  return Object.fromEntries(Object.entries(json as Record<string, string[]>).map(([k, v]) => [k, [...v].sort()]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Watches against the real cluster', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  const web = cluster.agents.find((a) => a.name === 'web-1')!;
  let connection: ConsulConnection;
  let shared: SharedQueries;
  const runners: WatchRunner[] = [];
  const procs: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-watches-'));

  before(async () => {
    connection = await connect({ name: 'watches-test', address: `http://${server.httpAddr}` }, undefined);
    shared = new SharedQueries(connection);
  });

  afterEach(async () => {
    for (const r of runners.splice(0)) r.dispose();
    for (const p of procs.splice(0)) p.kill();
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
  });

  after(() => {
    shared.dispose();
    connection.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function start(def: Omit<WatchDefinition, 'actions'> & { actions?: WatchDefinition['actions'] }): Promise<{ runner: WatchRunner; fired: WatchFiring[] }> {
    const definition = parseWatch({ debounceMs: DEBOUNCE, actions: notify, ...def });
    const runner = new WatchRunner(definition, feedFor(definition, shared));
    runners.push(runner);
    const fired: WatchFiring[] = [];
    runner.onDidFire((f) => fired.push(f));
    runner.start();
    await eventually(`${def.name} watching`, () => runner.state.kind === 'watching', 10_000);
    return { runner, fired };
  }

  /** Waits for the first firing, then for the debounce (and more) to pass, so a second would show. */
  async function firedOnce(fired: WatchFiring[], what: string): Promise<WatchFiring> {
    await eventually(`${what} to fire`, () => fired.length > 0, 10_000);
    await sleep(DEBOUNCE * 4);
    assert.equal(fired.length, 1, `${what} fired ${fired.length} times: ${fired.map((f) => f.summary.why).join(' | ')}`);
    return fired[0];
  }

  const kvPut = (key: string, value: string) => consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: value });
  const kvDelete = (key: string, recurse = false) => consulRequest(server.httpAddr, `/v1/kv/${key}${recurse ? '?recurse' : ''}`, { method: 'DELETE' });

  /** Waits until the catalog has the service (web-1's agent syncs it there), as the watches read it. */
  const inCatalog = (id: string) =>
    eventually(`${id} in the catalog`, async () => (await consulJson<unknown[]>(server.httpAddr, `/v1/health/service/${id}`)).length > 0 || undefined, 15_000);

  async function registerTtlService(id: string, tags: string[] = ['watched']): Promise<void> {
    await consulJson(web.httpAddr, '/v1/agent/service/register', { method: 'PUT', body: { ID: id, Name: id, Tags: tags, Port: 9100, Check: { CheckID: `${id}-ttl`, Name: `${id} ttl`, TTL: '10m', Status: 'passing' } } });
    cleanups.push(() => consulRequest(web.httpAddr, `/v1/agent/service/deregister/${id}`, { method: 'PUT' }));
  }
  const failCheck = (id: string, note: string) => consulRequest(web.httpAddr, `/v1/agent/check/fail/${id}-ttl?note=${encodeURIComponent(note)}`, { method: 'PUT' });

  it('key: fires once per real change, never on the first read, with old and new value', async () => {
    const key = `watches/${run}/config`;
    await kvPut(key, 'one');
    cleanups.push(() => kvDelete(key));
    const { runner, fired } = await start({ name: 'key', type: 'key', key });
    await sleep(DEBOUNCE * 3);
    assert.equal(fired.length, 0, 'fired on the first read');
    await kvPut(key, 'two');
    const f = await firedOnce(fired, 'key');
    assert.equal(f.summary.why, `key ${key} changed`);
    assert.equal(f.summary.before, 'one');
    assert.equal(f.summary.after, 'two');
    assert.equal((f.json as { Value: string }).Value, Buffer.from('two').toString('base64'));
    assert.equal(runner.state.why, f.summary.why);
    assert.ok(runner.state.lastFired);
    await kvDelete(key);
    await eventually('key deletion to fire', () => fired.length === 2, 10_000);
    assert.equal(fired[1].json, null);
    assert.equal(fired[1].summary.why, `key ${key} deleted`);
  });

  it('key: a burst of writes fires once, with the last value', async () => {
    const key = `watches/${run}/burst`;
    await kvPut(key, 'v0');
    cleanups.push(() => kvDelete(key));
    // A quiet time well above the writes' spacing, so a loaded machine cannot split the burst.
    const { fired } = await start({ name: 'burst', type: 'key', key, debounceMs: 1500 });
    for (let i = 1; i <= 6; i++) await kvPut(key, `v${i}`);
    const f = await firedOnce(fired, 'burst');
    assert.equal(f.summary.before, 'v0');
    assert.equal(f.summary.after, 'v6');
  });

  it('keyprefix: fires once when a key under the prefix changes, not for keys elsewhere', async () => {
    const prefix = `watches/${run}/prefix/`;
    await kvPut(`${prefix}a`, '1');
    cleanups.push(() => kvDelete(prefix, true));
    const { fired } = await start({ name: 'prefix', type: 'keyprefix', prefix });
    await kvPut(`watches/${run}/elsewhere`, 'x');
    cleanups.push(() => kvDelete(`watches/${run}/elsewhere`));
    await sleep(DEBOUNCE * 3);
    assert.equal(fired.length, 0, 'a key outside the prefix fired the watch');
    await kvPut(`${prefix}b`, '2');
    const f = await firedOnce(fired, 'keyprefix');
    assert.equal(f.summary.why, `key ${prefix}b created`);
    assert.deepEqual((f.json as { Key: string }[]).map((e) => e.Key), [`${prefix}a`, `${prefix}b`]);
  });

  it('services, service and checks: one firing each when a check goes critical or a service registers; catalog watches share the one node-dump query', async () => {
    const id = `wsvc-${run}`;
    const services = await start({ name: 'services', type: 'services' });
    const before = shared.activeQueries();
    assert.deepEqual(before, ['catalog']);
    await registerTtlService(id);
    const s = await firedOnce(services.fired, 'services');
    assert.equal(s.summary.why, `service ${id} registered`);
    assert.deepEqual((s.json as Record<string, string[]>)[id], ['watched']);

    const service = await start({ name: 'service', type: 'service', service: id });
    const checks = await start({ name: 'checks', type: 'checks', state: 'critical' });
    assert.deepEqual(shared.activeQueries(), ['catalog'], 'a catalog watch opened its own long-poll');
    await failCheck(id, 'connection refused\nsecond line');
    const sf = await firedOnce(service.fired, 'service');
    assert.equal(sf.summary.why, `web-1: service check '${id} ttl' critical: connection refused`);
    assert.equal(sf.summary.severity, 'error');
    assert.equal(sf.summary.node, 'web-1');
    const cf = await firedOnce(checks.fired, 'checks');
    assert.match(cf.summary.why, new RegExp(`^web-1: service check '${id} ttl' critical \\(new\\): connection refused`));
    // The services list did not change: only the catalog's index did.
    assert.equal(services.fired.length, 1, `services fired for a check change: ${services.fired.map((f) => f.summary.why).join(' | ')}`);
  });

  it('nodes: fires once when a node joins the catalog', async () => {
    const node = `ext-${run}`;
    const { fired } = await start({ name: 'nodes', type: 'nodes' });
    await consulJson(server.httpAddr, '/v1/catalog/register', { method: 'PUT', body: { Node: node, Address: '192.0.2.10' } });
    cleanups.push(() => consulJson(server.httpAddr, '/v1/catalog/deregister', { method: 'PUT', body: { Node: node } }));
    const f = await firedOnce(fired, 'nodes');
    assert.equal(f.summary.why, `node ${node} joined`);
  });

  it('event: fires for new events of its name only, handing over just the new ones', async () => {
    const name = `wev-${run}`;
    const fire = (n: string, payload: string) => consulJson<{ ID: string }>(server.httpAddr, `/v1/event/fire/${n}`, { method: 'PUT', body: payload });
    const old = await fire(name, 'old');
    // The agent that fired it receives it through gossip like any other: in its event list before the
    // watch starts, or the watch would rightly see it arrive (seen once on a loaded machine).
    await eventually('the old event in the agent\'s list', async () => (await consulJson<{ ID: string }[]>(server.httpAddr, `/v1/event/list?name=${name}`)).some((e) => e.ID === old.ID), 10_000);
    const { fired } = await start({ name: 'event', type: 'event', eventName: name });
    await fire(`other-${run}`, 'x');
    await sleep(DEBOUNCE * 3);
    assert.equal(fired.length, 0, 'an event of another name fired the watch');
    const sent = await fire(name, 'go');
    const f = await firedOnce(fired, 'event');
    const events = f.json as { ID: string; Payload: string }[];
    assert.deepEqual(events.map((e) => e.ID), [sent.ID]);
    assert.equal(events[0].Payload, Buffer.from('go').toString('base64'));
    // The payload is in the details (the notification), never in `why`, which is kept across windows.
    assert.equal(f.summary.why, `event ${name} fired`);
    assert.equal(f.summary.details[0], 'payload: go');
  });

  describe('a handler gets the same JSON as a real `consul watch` handler', () => {
    /**
     * Starts `consul watch` with the handler script beside our watch, makes
     * the change, and compares the last thing each handler received.
     */
    async function compare(def: Omit<WatchDefinition, 'actions' | 'name'>, change: () => Promise<unknown>, settle: (json: unknown) => boolean, exactBytes: boolean): Promise<void> {
      const dir = fs.mkdtempSync(path.join(tmp, `${def.type}-`));
      const theirs = path.join(dir, 'consul');
      const ours = path.join(dir, 'ours');
      fs.mkdirSync(theirs);
      fs.mkdirSync(ours);
      const script = handlerScript(dir);
      const definition = parseWatch({ ...def, name: `cmp-${def.type}`, debounceMs: DEBOUNCE, actions: [{ type: 'handler', args: [script] }] });
      const proc = spawn(cluster.consulBin, ['watch', `-http-addr=${server.httpAddr}`, ...consulWatchArgs(definition), script], { stdio: 'ignore', env: { ...process.env, OUT_DIR: theirs } });
      procs.push(proc);
      // consul watch hands its handler the current data on start; ours does not.
      await eventually('consul watch to start', () => outputs(theirs).length > 0, 10_000);
      const { fired } = await start(definition);
      const handled: Promise<unknown>[] = [];
      fired.length = 0;
      runners[runners.length - 1].onDidFire((f) => handled.push(runHandler({ args: [script] }, f.stdin, f.index, { env: { ...process.env, OUT_DIR: ours } })));
      await change();
      await eventually('our handler to run', () => outputs(ours).length > 0 && settle(JSON.parse(outputs(ours).at(-1)!.json)), 10_000);
      await Promise.all(handled);
      await eventually('consul watch to see the change', () => settle(JSON.parse(outputs(theirs).at(-1)!.json)), 10_000);
      await sleep(DEBOUNCE * 2);
      const a = outputs(theirs).at(-1)!;
      const b = outputs(ours).at(-1)!;
      // Ordering aside (object keys; the service list's tags, which Consul itself
      // returns in map order, differently from one read to the next), the data must be the same.
      assert.deepEqual(sortTags(def.type, JSON.parse(b.json)), sortTags(def.type, JSON.parse(a.json)));
      if (exactBytes) assert.equal(b.json, a.json, 'not byte-identical to consul watch');
      assert.equal(b.index, a.index, 'CONSUL_INDEX differs');
    }

    it('key (byte-identical)', async () => {
      const key = `watches/${run}/cmp`;
      await kvPut(key, '<a & b>');
      cleanups.push(() => kvDelete(key));
      await compare({ type: 'key', key }, () => kvPut(key, 'after <change> & more'), (j) => (j as { Value?: string } | null)?.Value === Buffer.from('after <change> & more').toString('base64'), true);
    });

    it('keyprefix (byte-identical)', async () => {
      const prefix = `watches/${run}/cmpp/`;
      await kvPut(`${prefix}a`, 'x');
      cleanups.push(() => kvDelete(prefix, true));
      await compare({ type: 'keyprefix', prefix }, () => kvPut(`${prefix}b`, 'y'), (j) => Array.isArray(j) && j.length === 2, true);
    });

    it('event (byte-identical)', async () => {
      const name = `cmp-${run}`;
      await compare({ type: 'event', eventName: name }, () => consulJson(server.httpAddr, `/v1/event/fire/${name}`, { method: 'PUT', body: 'payload' }), (j) => Array.isArray(j) && j.length === 1, true);
    });

    it('service (byte-identical)', async () => {
      const id = `wcmp-${run}`;
      await registerTtlService(id);
      await inCatalog(id);
      await compare({ type: 'service', service: id }, () => failCheck(id, 'down'), (j) => JSON.stringify(j).includes('"Status":"critical"'), true);
    });

    it('checks by service (byte-identical)', async () => {
      const id = `wcmpc-${run}`;
      await registerTtlService(id);
      await inCatalog(id);
      await compare({ type: 'checks', service: id }, () => failCheck(id, 'down'), (j) => JSON.stringify(j).includes('"Status":"critical"'), true);
    });

    it('services (same data; tags in map order on both sides)', async () => {
      const id = `wcmps-${run}`;
      await compare({ type: 'services' }, () => registerTtlService(id), (j) => id in (j as object), false);
    });

    it('nodes (byte-identical)', async () => {
      const node = `cmpn-${run}`;
      cleanups.push(() => consulJson(server.httpAddr, '/v1/catalog/deregister', { method: 'PUT', body: { Node: node } }));
      await compare({ type: 'nodes' }, () => consulJson(server.httpAddr, '/v1/catalog/register', { method: 'PUT', body: { Node: node, Address: '192.0.2.11' } }), (j) => JSON.stringify(j).includes(node), true);
    });
  });

  it('disposes the query of a key nobody watches any more; two watches on one key share one until both stop', async () => {
    const key = `watches/${run}/released`;
    const a = await start({ name: 'rel-a', type: 'key', key });
    const b = await start({ name: 'rel-b', type: 'key', key });
    const held = () => shared.heldQueries().filter((k) => k.includes('released'));
    assert.equal(held().length, 1);
    a.runner.dispose();
    assert.equal(held().length, 1, 'the query went while another watch followed it');
    b.runner.dispose();
    assert.deepEqual(held(), [], 'the query of a removed key stayed until reconnect');
  });

  it('a watch on a forbidden key says which permission is missing', async function () {
    const secure = cluster.secure;
    if (!secure) throw new Error('the cluster was started without the secure agent (start it without --no-secure)');
    const tls = { ca: fs.readFileSync(secure.caFile) };
    const policy = await consulJson<{ ID: string }>(secure.httpsAddr, '/v1/acl/policy', {
      method: 'PUT',
      token: secure.managementToken,
      tls,
      body: { Name: `watches-${run}`, Rules: 'key_prefix "allowed/" { policy = "read" }' },
    });
    const token = await consulJson<{ SecretID: string; AccessorID: string }>(secure.httpsAddr, '/v1/acl/token', { method: 'PUT', token: secure.managementToken, tls, body: { Policies: [{ ID: policy.ID }] } });
    const c = await connect({ name: 'secure', address: `https://${secure.httpsAddr}`, caFile: secure.caFile }, token.SecretID);
    const hub = new SharedQueries(c);
    try {
      const def = parseWatch({ name: 'forbidden', type: 'key', key: 'secret/db-password', actions: notify });
      const runner = new WatchRunner(def, feedFor(def, hub));
      runners.push(runner);
      runner.start();
      await eventually('the watch to fail', () => runner.state.kind === 'error', 10_000);
      assert.ok(runner.state.consulError instanceof AclDeniedError);
      assert.equal(runner.state.error, `Permission denied by Consul at https://${secure.httpsAddr}: the token needs key:read on "secret/db-password".`);
      assert.ok(!runner.state.error!.includes(token.SecretID));
      // The allowed key works with the same token.
      const ok = parseWatch({ name: 'allowed', type: 'key', key: 'allowed/x', actions: notify });
      const okRunner = new WatchRunner(ok, feedFor(ok, hub));
      runners.push(okRunner);
      okRunner.start();
      await eventually('the allowed watch to run', () => okRunner.state.kind === 'watching', 10_000);
    } finally {
      for (const r of runners.splice(0)) r.dispose();
      hub.dispose();
      c.dispose();
      await consulRequest(secure.httpsAddr, `/v1/acl/token/${token.AccessorID}`, { method: 'DELETE', token: secure.managementToken, tls });
      await consulRequest(secure.httpsAddr, `/v1/acl/policy/${policy.ID}`, { method: 'DELETE', token: secure.managementToken, tls });
    }
  });
});
