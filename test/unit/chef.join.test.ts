import * as assert from 'node:assert/strict';
import { attributePath, flattenAttributes, jsonWithLines, mergeAttributes, nodeDocument } from '../../src/core/chef/attributes';
import { mergeChefProfiles, pickActiveChefProfile, whyNoActiveChefProfile } from '../../src/core/chef/chefProfiles';
import { chefJoinKey, joinConsulChef, runAge } from '../../src/core/chef/join';
import type { ChefNodeSummary } from '../../src/core/chef/server/chefApi';
import type { ChefRunSummary } from '../../src/core/chef/server/reporting';

const chef = (name: string, extra: Partial<ChefNodeSummary> = {}): ChefNodeSummary => ({ name, runList: [], ...extra });
const run = (node: string, status: ChefRunSummary['status'], extra: Partial<ChefRunSummary> = {}): ChefRunSummary => ({ runId: `${node}-r`, node, status, updatedResources: 0, ...extra });

describe('Consul ↔ Chef join', () => {
  const consul = [
    { name: 'web-1', address: '127.0.0.3' },
    { name: 'db-1', address: '127.0.0.4' },
    { name: 'consul-server-1', address: '127.0.0.2' },
  ];
  const chefNodes = [
    chef('web-1', { fqdn: 'web-1.shop.example', hostname: 'WEB-1', ipaddress: '10.0.0.3' }),
    chef('db-1', { fqdn: 'db-1.shop.example', hostname: 'db-1', ipaddress: '127.0.0.4' }),
    chef('legacy-1', { ipaddress: '127.0.0.9' }),
  ];
  const lastRuns = new Map([
    ['web-1', run('web-1', 'failure', { failedResource: 'package[nginx]' })],
    ['legacy-1', run('legacy-1', 'success')],
  ]);

  it('maps by node name by default and marks both one-sided kinds', () => {
    const j = joinConsulChef(consul, chefNodes, lastRuns);
    assert.equal(j.mapping, 'name');
    assert.deepEqual([...j.byConsulNode.keys()], ['web-1', 'db-1']);
    assert.equal(j.byConsulNode.get('web-1')?.lastRun?.failedResource, 'package[nginx]');
    assert.equal(j.byConsulNode.get('db-1')?.lastRun, undefined);
    assert.deepEqual(j.notInChef, ['consul-server-1']);
    assert.deepEqual(j.onlyInChef.map((s) => s.node.name), ['legacy-1']);
    assert.equal(j.onlyInChef[0].lastRun?.status, 'success');
  });

  it('maps by ipaddress against the Consul node address', () => {
    const j = joinConsulChef(consul, chefNodes, lastRuns, 'ipaddress');
    assert.deepEqual([...j.byConsulNode].map(([c, s]) => [c, s.node.name]), [['db-1', 'db-1']]);
    assert.deepEqual(j.notInChef, ['web-1', 'consul-server-1']);
    assert.deepEqual(j.onlyInChef.map((s) => s.node.name), ['legacy-1', 'web-1']);
  });

  it('maps by hostname and fqdn without case, and leaves nodes without the attribute Chef-only', () => {
    const byHost = joinConsulChef(consul, chefNodes, undefined, 'hostname');
    assert.deepEqual([...byHost.byConsulNode.keys()], ['web-1', 'db-1']);
    assert.deepEqual(byHost.onlyInChef.map((s) => s.node.name), ['legacy-1']);
    const byFqdn = joinConsulChef([{ name: 'Web-1.Shop.Example', address: 'x' }], chefNodes, undefined, 'fqdn');
    assert.equal(byFqdn.byConsulNode.get('Web-1.Shop.Example')?.node.name, 'web-1');
    assert.equal(chefJoinKey(chef('a'), 'fqdn'), undefined);
  });

  it('joins the first of Chef nodes sharing a key and reports the others', () => {
    const j = joinConsulChef([{ name: 'n', address: '10.1.1.1' }], [chef('b', { ipaddress: '10.1.1.1' }), chef('a', { ipaddress: '10.1.1.1' })], undefined, 'ipaddress');
    assert.equal(j.byConsulNode.get('n')?.node.name, 'a');
    assert.deepEqual(j.ambiguous, [{ key: '10.1.1.1', chefNodes: ['a', 'b'] }]);
    assert.deepEqual(j.onlyInChef.map((s) => s.node.name), ['b']);
  });

  it('joins 5,000 nodes on each side in well under a second', () => {
    const many = Array.from({ length: 5000 }, (_, i) => chef(`node-${i}`));
    const consulMany = Array.from({ length: 5000 }, (_, i) => ({ name: `node-${i + 10}`, address: '' }));
    const t = performance.now();
    const j = joinConsulChef(consulMany, many, new Map());
    assert.ok(performance.now() - t < 1000);
    assert.equal(j.byConsulNode.size, 4990);
    assert.equal(j.onlyInChef.length, 10);
    assert.equal(j.notInChef.length, 10);
  });

  it('joins 30,000 Chef nodes sharing one key (cloned VMs) in linear time', () => {
    const clones = Array.from({ length: 30_000 }, (_, i) => chef(`clone-${String(i).padStart(5, '0')}`, { ipaddress: '10.0.0.1' }));
    const t = performance.now();
    const j = joinConsulChef([{ name: 'n', address: '10.0.0.1' }], clones, undefined, 'ipaddress');
    assert.ok(performance.now() - t < 500, `took ${Math.round(performance.now() - t)} ms`);
    assert.equal(j.ambiguous[0].chefNodes.length, 30_000);
  });

  it('rounds ages to one unit', () => {
    const now = 1_000_000_000;
    assert.deepEqual(runAge(now - 10_000, now), { value: 0, unit: 'now' });
    assert.deepEqual(runAge(now - 5 * 60_000, now), { value: 5, unit: 'min' });
    assert.deepEqual(runAge(now - 3 * 3600_000, now), { value: 3, unit: 'h' });
    assert.deepEqual(runAge(now - 72 * 3600_000, now), { value: 3, unit: 'd' });
    assert.deepEqual(runAge(now + 60_000, now), { value: 0, unit: 'now' });
  });
});

describe('Chef node attributes', () => {
  const node = {
    name: 'web-1',
    chef_environment: 'production',
    run_list: ['role[web]'],
    default: { nginx: { port: 80, workers: 2, sites: ['a', 'b'] }, tz: 'UTC' },
    normal: { nginx: { workers: 4 } },
    override: { nginx: { sites: ['c'] } },
    automatic: { platform: 'debian', 'odd key': { x: null } },
  };

  it('merges precedence levels as chef-client does: hashes deeply, arrays replaced', () => {
    assert.deepEqual(mergeAttributes(node), { nginx: { port: 80, workers: 4, sites: ['c'] }, tz: 'UTC', platform: 'debian', 'odd key': { x: null } });
    const doc = nodeDocument(node);
    assert.deepEqual(doc.normal, { nginx: { workers: 4 } });
    assert.equal(doc.attributes.tz, 'UTC');
  });

  it('keeps keys named __proto__, constructor and toJSON as data: merged, flattened and printed as JSON.stringify prints them', () => {
    const raw = JSON.parse('{"name":"odd","chef_environment":"_default","run_list":[],"default":{"__proto__":{"a":1},"toJSON":"x","constructor":{"c":1}},"normal":{"__proto__":{"b":2},"constructor":{"d":2}},"override":{},"automatic":{}}') as Parameters<typeof nodeDocument>[0];
    const doc = nodeDocument(raw);
    assert.ok(Object.hasOwn(doc.attributes, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(doc.attributes, '__proto__')?.value, { a: 1, b: 2 });
    assert.equal(Object.getPrototypeOf(doc.attributes), Object.prototype, 'the prototype is untouched');
    assert.equal(doc.attributes.toJSON, 'x');
    assert.deepEqual(doc.attributes.constructor, { c: 1, d: 2 });
    const { text, lines } = jsonWithLines(doc);
    assert.equal(text, JSON.stringify(doc, null, 2));
    assert.ok(text.includes('"__proto__": {') && text.includes('"toJSON": "x"'), text);
    assert.equal(text.split('\n')[lines.get(JSON.stringify(['attributes', '__proto__', 'b']))!].trim(), '"b": 2');
    const flat = flattenAttributes(doc.attributes, { levels: raw });
    assert.deepEqual(flat.map((f) => [f.path, f.level]), [['__proto__.a', 'default'], ['__proto__.b', 'normal'], ['toJSON', 'default'], ['constructor.c', 'default'], ['constructor.d', 'normal']]);
    assert.equal(flattenAttributes({ a: {} }, { levels: { default: { a: {} } } }).find((f) => f.path === 'a')?.level, 'default');
    assert.equal(flattenAttributes({ constructor: 1 }, { levels: { default: {} } })[0].level, undefined, 'an inherited property sets nothing');
  });

  it('flattens into paths with the level that sets each', () => {
    const flat = flattenAttributes(mergeAttributes(node), { levels: node });
    assert.deepEqual(
      flat.map((f) => [f.path, f.value, f.level]),
      [
        ['nginx.port', '80', 'default'],
        ['nginx.workers', '4', 'normal'],
        ['nginx.sites[0]', '"c"', 'override'],
        ['tz', '"UTC"', 'default'],
        ['platform', '"debian"', 'automatic'],
        ['["odd key"].x', 'null', 'automatic'],
      ],
    );
    assert.equal(attributePath(['a', 0, 'b c']), 'a[0]["b c"]');
    assert.equal(flattenAttributes({ a: [1, 2, 3] }, { limit: 2 }).length, 2);
  });

  it('prints exactly JSON.stringify(…, null, 2) and knows the line of every path', () => {
    const doc = nodeDocument(node);
    const { text, lines } = jsonWithLines(doc);
    assert.equal(text, JSON.stringify(doc, null, 2));
    const textLines = text.split('\n');
    assert.match(textLines[lines.get(JSON.stringify(['attributes', 'nginx', 'workers']))!], /^ {6}"workers": 4,$/);
    assert.match(textLines[lines.get(JSON.stringify(['normal', 'nginx', 'workers']))!], /^ {6}"workers": 4$/);
    assert.match(textLines[lines.get(JSON.stringify(['attributes', 'nginx', 'sites', 0]))!], /^ {8}"c"$/);
    for (const odd of [{}, [], { a: [] }, [{ b: {} }], 'x', null, { u: undefined, d: new Date(0) }]) assert.equal(jsonWithLines(odd).text, JSON.stringify(odd, null, 2));
  });
});

describe('Chef profiles', () => {
  const files = [
    { name: 'default', serverUrl: 'https://chef.example/organizations/acme', clientName: 'me', clientKey: '/home/me/.chef/me.pem', source: '/home/me/.chef/credentials [default]' },
    { name: 'staging', serverUrl: 'https://chef-stg.example', clientName: 'me', clientKey: '/k.pem', source: '/home/me/.chef/credentials [staging]' },
  ];

  it('takes settings first, then file profiles of other names, and says what is wrong with a setting', () => {
    const { profiles, problems } = mergeChefProfiles(
      [
        { name: 'Staging', serverUrl: 'http://127.0.0.1:4545', clientName: 'admin', clientKey: '/a.pem', consulProfile: 'stg' },
        { name: 'bad', serverUrl: 'ftp://x', clientName: 'a', clientKey: '/a.pem' },
        { name: 'inline', serverUrl: 'http://x', clientName: 'a', clientKey: '-----BEGIN RSA PRIVATE KEY-----' },
        { name: 'nokey', serverUrl: 'http://x', clientName: 'a' },
        { name: 'sig', serverUrl: 'http://x', clientName: 'a', clientKey: '/k', signVersion: '1.4' },
      ],
      files,
    );
    assert.deepEqual(profiles.map((p) => [p.name, p.source]), [['Staging', 'settings'], ['default', '/home/me/.chef/credentials [default]']]);
    assert.equal(problems.length, 4);
    assert.match(problems[0], /\[1\] \("bad"\): serverUrl "ftp:\/\/x" is not an http\(s\) URL/);
    assert.match(problems[1], /clientKey must be the path/);
    assert.doesNotMatch(problems.join('\n'), /BEGIN/);
    assert.match(problems[2], /missing clientKey/);
    assert.match(problems[3], /signVersion must be one of 1.3, 1.1, 1.0/);
  });

  it('activates the profile tied to the active Consul profile, else the chosen one, else the first untied', () => {
    const profiles = [
      { name: 'prod-chef', serverUrl: 'http://a', clientName: 'a', clientKey: '/a', consulProfile: 'prod', source: 'settings' },
      { name: 'stg-chef', serverUrl: 'http://b', clientName: 'a', clientKey: '/a', consulProfile: 'stg', source: 'settings' },
      { name: 'lab', serverUrl: 'http://c', clientName: 'a', clientKey: '/a', source: 'settings' },
    ];
    assert.equal(pickActiveChefProfile(profiles, undefined, 'prod')?.name, 'prod-chef');
    assert.equal(pickActiveChefProfile(profiles, 'lab', 'stg')?.name, 'stg-chef');
    assert.equal(pickActiveChefProfile(profiles, 'lab', 'other')?.name, 'lab');
    assert.equal(pickActiveChefProfile(profiles, undefined, 'other')?.name, 'lab');
    assert.equal(pickActiveChefProfile(profiles, 'gone', 'other'), undefined);
    assert.equal(pickActiveChefProfile([], undefined, undefined), undefined);
  });

  it('resolves ~/ in clientKey and caFile, refuses other relative paths and credentials in the URL; caFile and verifyTls carried', () => {
    const { profiles, problems } = mergeChefProfiles(
      [
        { name: 'home', serverUrl: 'https://chef.example', clientName: 'a', clientKey: '~/.chef/a.pem', caFile: '~/ca/chef-ca.pem', verifyTls: true },
        { name: 'lab', serverUrl: 'https://lab.example', clientName: 'a', clientKey: '/k/a.pem', verifyTls: false },
        { name: 'rel', serverUrl: 'https://x', clientName: 'a', clientKey: 'keys/a.pem' },
        { name: 'relca', serverUrl: 'https://x', clientName: 'a', clientKey: '/a.pem', caFile: 'ca.pem' },
        { name: 'pw', serverUrl: 'https://admin:hunter2@x', clientName: 'a', clientKey: '/a.pem' },
        { name: 'tls', serverUrl: 'https://x', clientName: 'a', clientKey: '/a.pem', verifyTls: 'no' },
      ],
      [{ ...files[1], caFiles: ['/home/me/.chef/trusted_certs/chef.crt'], verifyTls: false }],
      '/home/me',
    );
    assert.deepEqual(profiles, [
      { name: 'home', serverUrl: 'https://chef.example', clientName: 'a', clientKey: '/home/me/.chef/a.pem', caFiles: ['/home/me/ca/chef-ca.pem'], source: 'settings' },
      { name: 'lab', serverUrl: 'https://lab.example', clientName: 'a', clientKey: '/k/a.pem', verifyTls: false, source: 'settings' },
      { ...files[1], caFiles: ['/home/me/.chef/trusted_certs/chef.crt'], verifyTls: false },
    ]);
    assert.equal(problems.length, 4);
    assert.match(problems[0], /\("rel"\): clientKey "keys\/a.pem" is a relative path; give an absolute path or one starting with ~\//);
    assert.match(problems[1], /\("relca"\): caFile "ca.pem" is a relative path/);
    assert.match(problems[2], /\("pw"\): serverUrl holds a user name or password/);
    assert.doesNotMatch(problems[2], /hunter2/);
    assert.match(problems[3], /verifyTls must be true or false/);
  });

  it('says why no profile is active although there are some: activeProfile names a missing one, or all belong to other Consul profiles', () => {
    const tied = [
      { name: 'prod-chef', serverUrl: 'http://a', clientName: 'a', clientKey: '/a', consulProfile: 'prod', source: 'settings' },
      { name: 'stg-chef', serverUrl: 'http://b', clientName: 'a', clientKey: '/a', consulProfile: 'stg', source: 'settings' },
    ];
    assert.equal(whyNoActiveChefProfile([], undefined, undefined), undefined);
    assert.equal(whyNoActiveChefProfile(tied, undefined, 'prod'), undefined);
    assert.equal(whyNoActiveChefProfile(tied, undefined, 'dev'), 'every Chef profile belongs to a Consul profile that is not active (prod-chef → prod, stg-chef → stg)');
    assert.equal(whyNoActiveChefProfile(tied, 'gone', 'dev'), 'chefConsul.chef.activeProfile names "gone", but no Chef profile has that name (there are: prod-chef, stg-chef)');
  });
});
