import * as assert from 'node:assert/strict';
import { encodedEventSize, eventReach, eventsFromList, remainingPayloadBytes, toUserEvent, validateFireRequest } from '../../src/core/consul/events';

describe('user events', () => {
  describe('encoded size', () => {
    // The largest payload Consul 1.8.7 accepted, measured by bisection against a real agent.
    const measured: Array<[number, number, { node?: string; service?: string; tag?: string }?]> = [
      [1, 414],
      [6, 404],
      [18, 380],
      [19, 376],
      [31, 352],
      [32, 349],
      [80, 254],
      [150, 114],
      [6, 397, { node: 'web' }],
      [6, 386, { node: 'web-1234567890' }],
      [6, 391, { service: 'web', tag: 'v1' }],
      [6, 375, { service: 'webwebwebwe', tag: 'v1v1v1v1v1' }],
      [6, 389, { node: 'n', service: 's', tag: 't' }],
    ];
    for (const [nameLength, maxPayload, filters] of measured) {
      it(`fits a ${maxPayload}-byte payload and no more with a ${nameLength}-byte name${filters ? ` and ${JSON.stringify(filters)}` : ''}`, () => {
        const req = { name: 'x'.repeat(nameLength), ...filters };
        assert.equal(encodedEventSize({ ...req, payload: 'p'.repeat(maxPayload) }), 512);
        assert.equal(remainingPayloadBytes({ ...req, payload: 'p'.repeat(maxPayload + 1) }), -1);
      });
    }
    it('counts UTF-8 bytes, not characters', () => {
      assert.equal(encodedEventSize({ name: 'e', payload: 'é'.repeat(10) }) - encodedEventSize({ name: 'e', payload: 'e'.repeat(10) }), 10);
    });
  });

  describe('validation', () => {
    it('accepts a plain event', () => {
      assert.deepEqual(validateFireRequest({ name: 'deploy', payload: 'v1.2', service: 'web', tag: 'v1' }), []);
    });
    it('refuses a tag filter without a service filter, as Consul does', () => {
      assert.deepEqual(validateFireRequest({ name: 'deploy', tag: 'v1' }), ['A tag filter needs a service filter: Consul refuses a tag filter on its own.']);
    });
    it('names an invalid regular expression', () => {
      const [p] = validateFireRequest({ name: 'deploy', node: 'web-(' });
      assert.match(p, /node filter "web-\(" is not a valid regular expression/);
    });
    it('says how far over the limit an event is', () => {
      const [p] = validateFireRequest({ name: 'deploy', payload: 'x'.repeat(410) });
      assert.match(p, /518 bytes encoded, 6 over Consul's limit of 512/);
    });
    it('refuses empty names and names that break the URL', () => {
      assert.deepEqual(validateFireRequest({ name: ' ' }), ['An event needs a name.']);
      assert.match(validateFireRequest({ name: 'a/b' })[0], /must not contain/);
      assert.match(validateFireRequest({ name: 'a', payload: 5 as unknown as string })[0], /"payload" must be a string/);
    });
  });

  describe('decoding', () => {
    it('decodes base64 text payloads and keeps binary ones as base64', () => {
      const text = toUserEvent({ ID: 'a', Name: 'n', Payload: Buffer.from('héllo').toString('base64'), LTime: 3 });
      assert.deepEqual([text.payload, text.payloadIsBinary], ['héllo', false]);
      const bin = toUserEvent({ ID: 'b', Name: 'n', Payload: Buffer.from([0xff, 0xfe, 0]).toString('base64') });
      assert.deepEqual([bin.payload, bin.payloadIsBinary], ['//4A', true]);
      const buf = toUserEvent({ ID: 'c', Payload: Buffer.from('x') });
      assert.equal(buf.payload, 'x');
    });
    it('sorts newest first and drops garbage', () => {
      const list = eventsFromList([{ ID: 'a', LTime: 1 }, null, 'x', { ID: 'b', LTime: 5 }, { LTime: 9 }]);
      assert.deepEqual(list.map((e) => e.id), ['b', 'a']);
      assert.deepEqual(eventsFromList({}), []);
    });
  });
});

describe('event reach', () => {
  const nodes = [
    { name: 'web-1', services: [{ service: 'web', tags: ['frontend', 'v1'] }, { service: 'api', tags: ['v2'] }] },
    { name: 'web-2', services: [{ service: 'web', tags: ['frontend', 'v2'] }] },
    { name: 'db-1', services: [{ service: 'db', tags: ['primary'] }] },
  ];
  const reach = (req: object) => eventReach(nodes, req).map((n) => n.name);

  it('reaches every node without filters', () => {
    assert.deepEqual(reach({}), ['web-1', 'web-2', 'db-1']);
  });
  it('applies node, service and tag the way each agent does', () => {
    assert.deepEqual(reach({ node: '^web' }), ['web-1', 'web-2']);
    assert.deepEqual(reach({ service: 'db' }), ['db-1']);
    assert.deepEqual(reach({ service: '^web$', tag: 'v1' }), ['web-1']);
    // The tag must belong to the matching service, not to any service on the node.
    assert.deepEqual(reach({ service: '^web$', tag: '^v2$' }), ['web-2']);
    assert.deepEqual(reach({ node: 'web-2', service: 'api' }), []);
  });
  it('reaches nothing with a pattern it cannot read', () => {
    assert.deepEqual(reach({ node: '(' }), []);
  });
});

describe('event reach by service ID', () => {
  it('matches the service filter against instance IDs, as agents do', () => {
    const nodes = [{ name: 'a', services: [{ service: 'web', id: 'web-8080', tags: [] }] }];
    assert.deepEqual(eventReach(nodes, { service: '^web-8080$' }).map((n) => n.name), ['a']);
    assert.deepEqual(eventReach(nodes, { service: '^web$' }).map((n) => n.name), []);
  });
});
