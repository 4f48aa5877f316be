import * as assert from 'node:assert/strict';
import {
  profileNameClash,
  allProfiles,
  parseAddress,
  profileFromEnvironment,
  ProfileError,
  resolveActiveProfile,
  tokenFromEnvironment,
  validateProfile,
} from '../../src/core/consul/profile';

describe('profile', () => {
  describe('parseAddress', () => {
    it('takes host:port as plain http', () => {
      assert.deepEqual(parseAddress('127.0.0.1:8500'), { secure: false, host: '127.0.0.1', port: 8500 });
    });
    it('takes a scheme over the TLS default', () => {
      assert.deepEqual(parseAddress('https://consul.local:8501'), { secure: true, host: 'consul.local', port: 8501 });
      assert.deepEqual(parseAddress('http://10.0.0.1:8500', true), { secure: false, host: '10.0.0.1', port: 8500 });
    });
    it('uses CONSUL_HTTP_SSL semantics for schemeless addresses', () => {
      assert.deepEqual(parseAddress('127.0.0.1:8501', true), { secure: true, host: '127.0.0.1', port: 8501 });
    });
    it('defaults the port by scheme', () => {
      assert.equal(parseAddress('https://consul.local').port, 8501);
      assert.equal(parseAddress('consul.local').port, 8500);
    });
    it('handles IPv6 literals', () => {
      assert.deepEqual(parseAddress('[::1]:8500'), { secure: false, host: '::1', port: 8500 });
    });
    it('rejects empty, pathful and foreign addresses with a specific message', () => {
      assert.throws(() => parseAddress('  '), (e: Error) => e instanceof ProfileError && /empty/.test(e.message));
      assert.throws(() => parseAddress('http://h:1/v1'), /must not contain a path/);
      assert.throws(() => parseAddress('unix:///var/run/consul.sock'), /Unsupported scheme/);
      assert.throws(() => parseAddress('http://h:99999'), /not a valid Consul address/);
    });
  });

  describe('profileFromEnvironment', () => {
    it('falls back to 127.0.0.1:8500 with nothing set', () => {
      const p = profileFromEnvironment({});
      assert.equal(p.address, 'http://127.0.0.1:8500');
      assert.equal(p.name, 'Environment');
    });
    it('reads every variable the consul CLI reads', () => {
      const p = profileFromEnvironment({
        CONSUL_HTTP_ADDR: '127.0.0.5:8501',
        CONSUL_HTTP_SSL: 'true',
        CONSUL_CACERT: '/ca.pem',
        CONSUL_CLIENT_CERT: '/c.pem',
        CONSUL_CLIENT_KEY: '/k.pem',
        CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
      });
      assert.deepEqual(p, {
        name: 'Environment',
        address: 'https://127.0.0.5:8501',
        caFile: '/ca.pem',
        certFile: '/c.pem',
        keyFile: '/k.pem',
        serverName: 'server.dc1.consul',
      });
    });
    it('skips verification only for CONSUL_HTTP_SSL_VERIFY=false', () => {
      assert.equal(profileFromEnvironment({ CONSUL_HTTP_SSL_VERIFY: 'false' }).insecureSkipVerify, true);
      assert.equal(profileFromEnvironment({ CONSUL_HTTP_SSL_VERIFY: 'true' }).insecureSkipVerify, undefined);
    });
    it('reads the token, ignoring blanks', () => {
      assert.equal(tokenFromEnvironment({ CONSUL_HTTP_TOKEN: ' abc ' }), 'abc');
      assert.equal(tokenFromEnvironment({ CONSUL_HTTP_TOKEN: '  ' }), undefined);
    });
  });

  describe('validateProfile', () => {
    it('accepts a complete profile', () => {
      assert.deepEqual(validateProfile({ name: 'prod', address: 'https://c:8501', caFile: '/ca', production: true }), []);
    });
    it('names each problem', () => {
      const problems = validateProfile({ name: '', address: 'ftp://x', production: 'yes', certFile: '/c' });
      assert.ok(problems.includes('"name" is required'));
      assert.ok(problems.some((p) => /Unsupported scheme/.test(p)));
      assert.ok(problems.includes('"production" must be true or false'));
      assert.ok(problems.includes('"certFile" and "keyFile" go together'));
      assert.deepEqual(validateProfile(null), ['a profile must be an object']);
    });
  });

  describe('resolveActiveProfile', () => {
    const a = { name: 'a', address: '127.0.0.2:8500' };
    const b = { name: 'b', address: '127.0.0.3:8500' };
    it('picks the named profile', () => {
      assert.equal(resolveActiveProfile([a, b], 'b', {}).name, 'b');
    });
    it('picks the first configured when the name is unknown or empty', () => {
      assert.equal(resolveActiveProfile([a, b], 'zzz', {}).name, 'a');
      assert.equal(resolveActiveProfile([a, b], undefined, {}).name, 'a');
    });
    it('uses the environment with no profile configured', () => {
      assert.equal(resolveActiveProfile([], undefined, { CONSUL_HTTP_ADDR: '127.0.0.9:1234' }).address, 'http://127.0.0.9:1234');
    });
    it('can select the environment profile by name', () => {
      assert.equal(resolveActiveProfile([a], 'Environment', {}).name, 'Environment');
      assert.deepEqual(allProfiles([a], {}).map((p) => p.name), ['a', 'Environment']);
    });
  });

  describe('profileNameClash', () => {
    it('refuses a name that differs from another only in case, naming both', () => {
      const why = profileNameClash(['Prod', 'dev'], 'prod');
      assert.match(why ?? '', /"prod" differs only in case from the profile "Prod"/);
      assert.equal(profileNameClash(['Prod', 'dev'], 'staging'), undefined);
      assert.equal(profileNameClash(['Prod'], 'Prod'), undefined, 'the same name is a replacement, not a clash');
    });
  });
});
