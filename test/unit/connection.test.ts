import * as assert from 'node:assert/strict';
import { call, connect, ConsulConnection, DEFAULT_REQUEST_TIMEOUT_MS, RequestCancelledError } from '../../src/core/consul/client';

/** Counts the real teardowns of the connection's sockets. */
function spyDestroy(connection: ConsulConnection): () => number {
  let count = 0;
  const original = connection.client.destroy.bind(connection.client);
  connection.client.destroy = () => {
    count++;
    original();
  };
  return () => count;
}

describe('a connection held by runs', () => {
  // Nothing listens on port 1: none of these tests gets as far as a socket.
  const profile = { name: 'unit', address: '127.0.0.1:1' };

  it('destroys its client at dispose when nobody holds it', async () => {
    const connection = await connect(profile, undefined);
    const destroyed = spyDestroy(connection);
    connection.dispose();
    connection.dispose();
    assert.equal(destroyed(), 1);
  });

  it('defers the destroy until every retain() is released, each release counting once', async () => {
    const connection = await connect(profile, undefined);
    const destroyed = spyDestroy(connection);
    const releaseA = connection.retain();
    const releaseB = connection.withSignal(new AbortController().signal).retain();
    connection.dispose();
    assert.equal(destroyed(), 0, 'destroyed under a run still holding it');
    releaseA();
    releaseA();
    assert.equal(destroyed(), 0, 'a second release of the same holder counted again');
    releaseB();
    assert.equal(destroyed(), 1);
  });

  it('does not destroy on release alone, before anybody disposed it', async () => {
    const connection = await connect(profile, undefined);
    const destroyed = spyDestroy(connection);
    connection.retain()();
    assert.equal(destroyed(), 0);
  });

  it('takes a request timeout on connect, 10 s by default', async () => {
    assert.equal((await connect(profile, undefined)).requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
    assert.equal(DEFAULT_REQUEST_TIMEOUT_MS, 10_000);
    assert.equal((await connect(profile, undefined, { requestTimeoutMs: 1500 })).requestTimeoutMs, 1500);
  });

  it('refuses requests through a connection whose signal aborted, saying it was cancelled; its root still works', async () => {
    const connection = await connect(profile, undefined);
    const controller = new AbortController();
    const scoped = connection.withSignal(controller.signal);
    assert.equal(scoped.root, connection);
    assert.equal(connection.root, connection);
    controller.abort();
    await assert.rejects(
      call(scoped, '/v1/kv/x', () => scoped.client.kv.get('x')),
      (e: unknown) => e instanceof RequestCancelledError && /GET \/v1\/kv\/x to Consul at http:\/\/127\.0\.0\.1:1 was cancelled/.test((e as Error).message),
    );
    // The root's request does go out (and finds nobody on port 1).
    await assert.rejects(
      call(connection, '/v1/kv/x', () => connection.client.kv.get('x')),
      (e: unknown) => !(e instanceof RequestCancelledError) && /connection refused/.test((e as Error).message),
    );
    connection.dispose();
  });
});
