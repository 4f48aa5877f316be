import * as assert from 'node:assert/strict';
import { snapshotFromNodeDump } from '../../src/core/consul/catalog';
import { describeFilter, filterNodes, filterServices, isEmptyFilter } from '../../src/core/consul/filter';
import { countStatuses, normalizeStatus, worst } from '../../src/core/consul/health';

const serf = (node: string, status = 'passing') => ({ Node: node, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: status, ServiceID: '', Output: 'Agent alive and reachable' });

const dump = [
  {
    Node: 'web-1',
    Address: '127.0.0.3',
    Datacenter: 'dc1',
    Meta: { rack: 'r1' },
    Services: [
      { ID: 'web', Service: 'web', Tags: ['frontend', 'v1'], Port: 8080, Address: '', Meta: { version: '1.0' } },
      { ID: 'api-1', Service: 'api', Tags: ['internal'], Port: 9090, Address: '10.1.1.1' },
    ],
    Checks: [
      serf('web-1'),
      { Node: 'web-1', CheckID: 'service:web', Name: 'web alive', Status: 'passing', ServiceID: 'web', ServiceName: 'web', Output: 'ok' },
      { Node: 'web-1', CheckID: 'service:api-1', Name: 'api alive', Status: 'warning', ServiceID: 'api-1', ServiceName: 'api', Output: 'slow' },
    ],
  },
  {
    Node: 'db-1',
    Address: '127.0.0.4',
    Datacenter: 'dc1',
    Services: [{ ID: 'db', Service: 'db', Tags: ['primary'], Port: 5432 }],
    Checks: [serf('db-1'), { Node: 'db-1', CheckID: 'service:db', Name: 'db', Status: 'critical', ServiceID: 'db', Output: 'down' }],
  },
  { Node: 'bare', Address: '127.0.0.9', Services: null, Checks: [serf('bare', 'maintenance')] },
];

describe('catalog snapshot', () => {
  const snap = snapshotFromNodeDump(dump);

  it('sorts nodes and aggregates the worst check', () => {
    assert.deepEqual(snap.nodes.map((n) => [n.name, n.health]), [
      ['bare', 'critical'],
      ['db-1', 'critical'],
      ['web-1', 'warning'],
    ]);
  });

  it('attaches checks to their instance and fills the node address', () => {
    const web = snap.nodes.find((n) => n.name === 'web-1')!;
    assert.deepEqual(web.services.map((s) => [s.service, s.address, s.port, s.health]), [
      ['api', '10.1.1.1', 9090, 'warning'],
      ['web', '127.0.0.3', 8080, 'passing'],
    ]);
    assert.deepEqual(web.nodeChecks.map((c) => c.checkId), ['serfHealth']);
    assert.equal(web.services[1].checks[0].output, 'ok');
  });

  it('takes a node-level failure into each instance on it', () => {
    const s = snapshotFromNodeDump([{ Node: 'n', Services: [{ ID: 'x', Service: 'x' }], Checks: [serf('n', 'critical')] }]);
    assert.equal(s.services[0].instances[0].health, 'critical');
  });

  it('groups instances by service with the union of tags', () => {
    assert.deepEqual(snap.services.map((s) => [s.name, s.instances.length, s.health, s.tags]), [
      ['api', 1, 'warning', ['internal']],
      ['db', 1, 'critical', ['primary']],
      ['web', 1, 'passing', ['frontend', 'v1']],
    ]);
  });

  it('counts checks by status', () => {
    assert.deepEqual(snap.counts, { passing: 3, warning: 1, critical: 2 });
  });

  it('survives garbage without throwing', () => {
    for (const body of [null, 42, 'x', {}, [null, 1, 'a', { Node: 7 }, { Node: 'ok', Checks: [null, { Status: 5 }], Services: [null, 'x', { Port: 'NaN', Tags: 'no' }] }]]) {
      const s = snapshotFromNodeDump(body);
      assert.ok(Array.isArray(s.nodes));
    }
    const s = snapshotFromNodeDump([{ Node: 'ok', Checks: [null, { Status: 5 }], Services: [{ Port: 'NaN', Tags: 'no', Service: 's' }] }]);
    assert.equal(s.nodes[0].health, 'critical');
    assert.equal(s.nodes[0].services[0].port, 0);
    assert.deepEqual(s.nodes[0].services[0].tags, []);
  });
});

describe('health', () => {
  it('treats unknown statuses as critical', () => {
    assert.equal(normalizeStatus('maintenance'), 'critical');
    assert.equal(normalizeStatus(undefined), 'critical');
    assert.equal(normalizeStatus('warning'), 'warning');
  });
  it('orders passing < warning < critical', () => {
    assert.equal(worst([]), 'passing');
    assert.equal(worst(['passing', 'warning']), 'warning');
    assert.equal(worst(['critical', 'warning']), 'critical');
    assert.deepEqual(countStatuses(['passing', 'critical', 'critical']), { passing: 1, warning: 0, critical: 2 });
  });
});

describe('filters', () => {
  const snap = snapshotFromNodeDump(dump);

  it('matches nodes by name, address, service and tag, case-insensitively', () => {
    assert.deepEqual(filterNodes(snap.nodes, { text: 'WEB' }).map((n) => n.name), ['web-1']);
    assert.deepEqual(filterNodes(snap.nodes, { text: '127.0.0.4' }).map((n) => n.name), ['db-1']);
    assert.deepEqual(filterNodes(snap.nodes, { text: 'primary' }).map((n) => n.name), ['db-1']);
  });

  it('filters nodes by health', () => {
    assert.deepEqual(filterNodes(snap.nodes, { health: ['warning'] }).map((n) => n.name), ['web-1']);
    assert.deepEqual(filterNodes(snap.nodes, { health: ['critical'], text: 'db' }).map((n) => n.name), ['db-1']);
  });

  it('keeps only matching instances of services not matched by name', () => {
    const byTag = filterServices(snap.services, { text: 'frontend' });
    assert.deepEqual(byTag.map((s) => s.name), ['web']);
    const byNode = filterServices(snap.services, { text: 'db-1' });
    assert.deepEqual(byNode.map((s) => s.name), ['db']);
    assert.deepEqual(filterServices(snap.services, { health: ['passing'] }).map((s) => s.name), ['web']);
  });

  it('describes itself for the view description', () => {
    assert.equal(describeFilter({ text: ' web ', health: ['critical', 'warning'] }), '"web" · critical, warning');
    assert.equal(describeFilter({}), '');
    assert.ok(isEmptyFilter({ text: '  ', health: [] }));
    assert.deepEqual(filterNodes(snap.nodes, undefined).length, 3);
  });
});
