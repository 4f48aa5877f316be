import * as assert from 'node:assert/strict';
import {
  AclDeniedError,
  AclTokenNotFoundError,
  ConsulHttpError,
  permissionForPath,
  TlsError,
  toConsulError,
  UnreachableError,
} from '../../src/core/consul/errors';

const ADDR = 'http://127.0.0.2:18500';
const response = (statusCode: number, body: string) => Object.assign(new Error(body), { response: { statusCode, body } });

describe('errors', () => {
  it('turns a refused connection into UnreachableError with address and reason', () => {
    const e = toConsulError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ADDR);
    assert.ok(e instanceof UnreachableError);
    assert.match(e.message, /127\.0\.0\.2:18500/);
    assert.match(e.message, /connection refused/);
  });

  it('finds the code in a wrapped cause', () => {
    const e = toConsulError(Object.assign(new Error('request failed'), { cause: { code: 'SELF_SIGNED_CERT_IN_CHAIN' } }), ADDR);
    assert.ok(e instanceof TlsError);
    assert.match(e.message, /unknown CA/);
  });

  it('tells a plain-HTTP port from a TLS one', () => {
    const e = toConsulError({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'x' }, ADDR);
    assert.ok(e instanceof TlsError);
    assert.match(e.message, /http vs https/);
  });

  it('distinguishes an unknown token from a missing permission', () => {
    assert.ok(toConsulError(response(403, 'ACL not found'), ADDR) instanceof AclTokenNotFoundError);
    const denied = toConsulError(response(403, 'Permission denied'), ADDR, '/v1/kv/app/config', 'PUT');
    assert.ok(denied instanceof AclDeniedError);
    assert.equal((denied as AclDeniedError).permission, 'key:write on "app/config"');
    assert.match(denied.message, /needs key:write/);
  });

  it('prefers the permission named in the body', () => {
    const e = toConsulError(response(403, 'Permission denied: token lacks node:read'), ADDR, '/v1/kv/x');
    assert.equal((e as AclDeniedError).permission, 'node:read');
  });

  it('keeps other statuses with a short one-line detail', () => {
    const e = toConsulError(response(500, `boom\n${'x'.repeat(500)}`), ADDR);
    assert.ok(e instanceof ConsulHttpError);
    assert.equal((e as ConsulHttpError).statusCode, 500);
    assert.ok(!e.message.includes('\n'));
    assert.ok(e.message.length < 300);
  });

  it('maps API paths to ACL rules', () => {
    assert.equal(permissionForPath('/v1/internal/ui/nodes'), 'node:read');
    assert.equal(permissionForPath('/v1/event/fire/deploy', 'PUT'), 'event:write on "deploy"');
    assert.equal(permissionForPath('/v1/health/service/web?passing'), 'service:read');
    assert.equal(permissionForPath('/v1/status/leader'), undefined);
  });
});
