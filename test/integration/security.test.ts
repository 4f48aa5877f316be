import * as assert from 'node:assert/strict';
import { connect } from '../../src/core/consul/client';
import { readCatalog } from '../../src/core/consul/nodeDump';
import { call } from '../../src/core/consul/client';
import { AclDeniedError, AclTokenNotFoundError, TlsError } from '../../src/core/consul/errors';
import { SECURE_NODE } from '../infra/cluster';
import { clusterFromEnv } from '../support/env';

describe('ACL and TLS against the real secure agent', function () {
  this.timeout(20_000);
  const cluster = clusterFromEnv();
  const secure = cluster.secure;
  if (!secure) throw new Error('the cluster was started without the secure agent');
  const profile = { name: 'secure', address: `https://${secure.httpsAddr}`, caFile: secure.caFile };

  it('lists nodes over HTTPS with the CA and a read-only token', async () => {
    const c = await connect(profile, secure.readOnlyToken);
    try {
      const snap = await readCatalog(c);
      assert.deepEqual(snap.nodes.map((n) => n.name), [SECURE_NODE]);
      assert.ok(snap.services.length > 0);
    } finally {
      c.dispose();
    }
  });

  it('sees nothing, not an error, without a token', async () => {
    const c = await connect(profile, undefined);
    try {
      const snap = await readCatalog(c);
      assert.equal(snap.nodes.length, 0);
    } finally {
      c.dispose();
    }
  });

  it('says "ACL not found" for an unknown token', async () => {
    const c = await connect(profile, '00000000-0000-0000-0000-000000000000');
    try {
      await assert.rejects(readCatalog(c), (e: Error) => e instanceof AclTokenNotFoundError && /ACL not found/.test(e.message));
    } finally {
      c.dispose();
    }
  });

  it('names the missing permission on a forbidden write, without the token', async () => {
    const c = await connect(profile, secure.readOnlyToken);
    try {
      await assert.rejects(
        call(c, '/v1/kv/app/config', () => c.client.kv.set('app/config', 'x'), 'PUT'),
        (e: Error) => e instanceof AclDeniedError && e.permission?.startsWith('key:write') === true && !e.message.includes(secure.readOnlyToken),
      );
    } finally {
      c.dispose();
    }
  });

  it('fails with a clear TLS message without the CA', async () => {
    const c = await connect({ ...profile, caFile: undefined }, secure.readOnlyToken);
    try {
      await assert.rejects(readCatalog(c), (e: Error) => e instanceof TlsError && /CA/.test(e.message));
    } finally {
      c.dispose();
    }
  });

  it('says which file is missing when the CA file cannot be read', async () => {
    await assert.rejects(connect({ ...profile, caFile: '/nonexistent/ca.pem' }, undefined), /Cannot read the CA file "\/nonexistent\/ca.pem": ENOENT/);
  });

  it('accepts the server with verification off when asked to', async () => {
    const c = await connect({ ...profile, caFile: undefined, insecureSkipVerify: true }, secure.readOnlyToken);
    try {
      assert.equal((await readCatalog(c)).nodes.length, 1);
    } finally {
      c.dispose();
    }
  });
});
