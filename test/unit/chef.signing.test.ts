import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import { ChefServerClient, ChefServerError, describeDuration } from '../../src/core/chef/server/chefServerClient';
import { canonicalPath, canonicalRequest, chefTimestamp, signRequest } from '../../src/core/chef/server/signing';

const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const TIME = new Date('2026-12-01T05:59:02.345Z');
const sha = (alg: string, data: Buffer | string) => crypto.createHash(alg).update(data).digest('base64');

function signature(headers: Record<string, string | string[] | undefined>): Buffer {
  const parts: string[] = [];
  for (let i = 1; headers[`x-ops-authorization-${i}`] !== undefined; i++) parts.push(String(headers[`x-ops-authorization-${i}`]));
  return Buffer.from(parts.join(''), 'base64');
}

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A local HTTP server that records requests and answers with `respond`. */
async function server(respond: (req: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(s);
      respond(s, res);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => srv.close(() => r())) };
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('Chef request signing', () => {
  it('timestamps to the second and canonicalises paths like mixlib-authentication', () => {
    assert.equal(chefTimestamp(TIME), '2026-12-01T05:59:02Z');
    assert.equal(canonicalPath('/organizations//acme/nodes/'), '/organizations/acme/nodes');
    assert.equal(canonicalPath('/'), '/');
  });

  it('1.3: sha256 canonical string with X-Ops-Sign and the server API version, RSA-SHA256 signature', () => {
    const body = '{"a":1}';
    const canonical = canonicalRequest({ method: 'post', path: '/nodes', body, userId: 'admin', version: '1.3', time: TIME, serverApiVersion: '1' });
    assert.equal(
      canonical,
      ['Method:POST', 'Path:/nodes', `X-Ops-Content-Hash:${sha('sha256', body)}`, 'X-Ops-Sign:version=1.3', 'X-Ops-Timestamp:2026-12-01T05:59:02Z', 'X-Ops-UserId:admin', 'X-Ops-Server-API-Version:1'].join('\n'),
    );
    const h = signRequest({ method: 'POST', path: '/nodes', body, userId: 'admin', key: pem, version: '1.3', time: TIME, serverApiVersion: '1' });
    assert.equal(h['X-Ops-Sign'], 'algorithm=sha256;version=1.3');
    assert.equal(h['X-Ops-Content-Hash'], sha('sha256', body));
    const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
    assert.ok(crypto.verify('sha256', Buffer.from(canonical), publicKey, signature(lower)));
    for (const [k, v] of Object.entries(h)) if (k.startsWith('X-Ops-Authorization-')) assert.ok(v.length <= 60, `${k} is ${v.length} long`);
  });

  it('1.1 hashes the user ID, 1.0 does not; both private-encrypt the sha1 canonical string', () => {
    for (const version of ['1.0', '1.1'] as const) {
      const h = signRequest({ method: 'GET', path: '/nodes/web-1', userId: 'admin', key: pem, version, time: TIME });
      assert.equal(h['X-Ops-Sign'], `algorithm=sha1;version=${version}`);
      const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
      const decrypted = crypto.publicDecrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, signature(lower)).toString();
      assert.equal(
        decrypted,
        [
          'Method:GET',
          `Hashed Path:${sha('sha1', '/nodes/web-1')}`,
          `X-Ops-Content-Hash:${sha('sha1', '')}`,
          'X-Ops-Timestamp:2026-12-01T05:59:02Z',
          `X-Ops-UserId:${version === '1.1' ? sha('sha1', 'admin') : 'admin'}`,
        ].join('\n'),
      );
    }
  });
});

describe('ChefServerClient (against a local HTTP server)', () => {
  it('signs the full path of an organisation URL, without the query string', async () => {
    const s = await server((_req, res) => json(res, 200, { ok: true }));
    try {
      const client = new ChefServerClient({ serverUrl: `${s.url}/organizations/x/`, clientName: 'alice', clientKey: pem, clock: () => TIME });
      assert.equal(client.fullPath('nodes'), '/organizations/x/nodes');
      assert.deepEqual(await client.get('/nodes', { query: { q: 'a b' } }), { ok: true });
      const req = s.seen[0];
      assert.equal(req.path, '/organizations/x/nodes?q=a+b');
      assert.equal(req.headers['x-ops-server-api-version'], '1');
      assert.equal(req.headers['x-ops-userid'], 'alice');
      const canonical = canonicalRequest({ method: 'GET', path: '/organizations/x/nodes', body: '', userId: 'alice', version: '1.3', time: TIME, serverApiVersion: '1' });
      assert.ok(crypto.verify('sha256', Buffer.from(canonical), publicKey, signature(req.headers)), 'the signature covers /organizations/x/nodes');
    } finally {
      await s.close();
    }
  });

  it('gzips bodies over the threshold and hashes the gzip bytes; small bodies go plain', async () => {
    const s = await server((_req, res) => json(res, 201, {}));
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem, gzipThreshold: 1000 });
      const big = { data: 'x'.repeat(5000) };
      await client.post('/reports/nodes/n/runs/1', big);
      await client.post('/nodes', { name: 'small' });
      const [gz, plain] = s.seen;
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.deepEqual(JSON.parse(zlib.gunzipSync(gz.body).toString()), big);
      assert.equal(gz.headers['x-ops-content-hash'], sha('sha256', gz.body));
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.body.toString(), '{"name":"small"}');
    } finally {
      await s.close();
    }
  });

  it('falls back from 1.3 to 1.1 when the server rejects the version, and remembers it', async () => {
    const s = await server((req, res) => {
      // goiardi's words for a version it does not know.
      if (String(req.headers['x-ops-sign']).includes('1.3')) json(res, 400, { error: ["Bad version number '1.3' in X-Ops-Header"] });
      else json(res, 200, { version: req.headers['x-ops-sign'] });
    });
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem });
      assert.deepEqual(await client.get('/nodes'), { version: 'algorithm=sha1;version=1.1' });
      assert.equal(client.signVersion, '1.1');
      await client.get('/roles');
      assert.deepEqual(s.seen.map((r) => String(r.headers['x-ops-sign'])), ['algorithm=sha256;version=1.3', 'algorithm=sha1;version=1.1', 'algorithm=sha1;version=1.1']);
    } finally {
      await s.close();
    }
  });

  it('on a 401 offering only some versions (WWW-Authenticate), goes straight to one it offers', async () => {
    const s = await server((req, res) => {
      if (String(req.headers['x-ops-sign']).endsWith('version=1.0')) json(res, 200, {});
      else json(res, 401, { error: ['Failed to authenticate.'] }, { 'WWW-Authenticate': 'X-Ops-Sign version="1.0"' });
    });
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem });
      await client.get('/nodes');
      assert.equal(client.signVersion, '1.0');
      assert.deepEqual(s.seen.map((r) => String(r.headers['x-ops-sign'])), ['algorithm=sha256;version=1.3', 'algorithm=sha1;version=1.0']);
    } finally {
      await s.close();
    }
  });

  it('measures clock skew from the Date header; names forbidden requests; reads non-JSON as bad-response', async () => {
    const serverNow = new Date('2026-12-01T06:00:00Z');
    const s = await server((req, res) => {
      if (req.path === '/skew') json(res, 401, { error: ['Authentication failed. Please check your system\'s clock.'] }, { Date: serverNow.toUTCString() });
      else if (req.path === '/secret') json(res, 403, { error: ['You are not allowed to perform this action'] });
      else {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>proxy</html>');
      }
    });
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem, clock: () => new Date(serverNow.getTime() + 20 * 60_000) });
      await assert.rejects(client.get('/skew'), (e: ChefServerError) => e.kind === 'clock-skew' && /by 20 minutes \(ahead of the server/.test(e.message) && e.details.skewMs === 20 * 60_000);
      await assert.rejects(client.delete('/secret'), (e: ChefServerError) => e.kind === 'forbidden' && e.message.includes('"alice" may not DELETE /secret'));
      await assert.rejects(client.get('/html'), (e: ChefServerError) => e.kind === 'bad-response' && e.message.includes('not JSON'));
    } finally {
      await s.close();
    }
  });

  it('times out, honours AbortSignal, and names an unreachable URL', async () => {
    const s = await server(() => undefined); // never answers
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem, timeoutMs: 200 });
      await assert.rejects(client.get('/slow'), (e: ChefServerError) => e.kind === 'unreachable' && e.message.includes(s.url) && e.message.includes('200 ms'));
      const abort = new AbortController();
      const p = client.get('/slow', { signal: abort.signal, timeoutMs: 10_000 });
      setTimeout(() => abort.abort(), 50);
      await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    } finally {
      await s.close();
    }
    const gone = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem });
    await assert.rejects(gone.get('/nodes'), (e: ChefServerError) => e.kind === 'unreachable' && e.message === `Chef server ${s.url} unreachable: connection refused (is the server running on that port?)`);
  });

  it('names TLS problems: a self-signed certificate, then accepted with its CA; https to a plain HTTP port', async () => {
    const dir = path.resolve(__dirname, '../../../test/fixtures/chef/tls');
    const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
    const srv = https.createServer({ cert, key: fs.readFileSync(path.join(dir, 'key.pem')) }, (_req, res) => json(res, 200, { tls: true }));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      await assert.rejects(
        new ChefServerClient({ serverUrl: url, clientName: 'alice', clientKey: pem }).get('/nodes'),
        (e: ChefServerError) => e.kind === 'tls' && e.message.includes(url) && e.message.includes('self-signed') && e.details.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' && e.message.includes('"caFile"') && e.message.includes('chefConsul.chef.profiles') && e.message.includes('~/.chef/trusted_certs') && e.message.includes('"verifyTls": false'),
      );
      assert.deepEqual(await new ChefServerClient({ serverUrl: url, clientName: 'alice', clientKey: pem, ca: cert }).get('/nodes'), { tls: true });
      assert.deepEqual(await new ChefServerClient({ serverUrl: url, clientName: 'alice', clientKey: pem, verifyTls: false }).get('/nodes'), { tls: true });
    } finally {
      await new Promise((r) => srv.close(r));
    }
    const plain = await server((_req, res) => json(res, 200, {}));
    try {
      const tlsToPlain = new ChefServerClient({ serverUrl: plain.url.replace('http:', 'https:'), clientName: 'alice', clientKey: pem });
      await assert.rejects(tlsToPlain.get('/nodes'), (e: ChefServerError) => e.kind === 'tls' && /TLS/.test(e.message));
    } finally {
      await plain.close();
    }
  });

  it('says which key file cannot be read, without reading it into a message', async () => {
    const client = new ChefServerClient({ serverUrl: 'http://127.0.0.1:1', clientName: 'alice', clientKeyPath: '/nonexistent/alice.pem' });
    await assert.rejects(client.get('/nodes'), (e: ChefServerError) => e.kind === 'wrong-key' && e.message.includes('/nonexistent/alice.pem') && e.message.includes('ENOENT'));
    assert.throws(() => new ChefServerClient({ serverUrl: 'chef.example.com', clientName: 'a', clientKey: pem }), /Not a Chef server URL/);
  });

  it('caps responses: a body over maxResponseBytes, and a gzip bomb, fail naming the request and the limit', async () => {
    const big = Buffer.alloc(256 * 1024, 'a');
    const s = await server((req, res) => {
      if (req.path === '/big') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(big);
      } else if (req.path === '/bomb') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
        res.end(zlib.gzipSync(Buffer.from(`"${'b'.repeat(512 * 1024)}"`)));
      } else json(res, 200, { ok: true });
    });
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem, maxResponseBytes: 100 * 1024 });
      await assert.rejects(client.get('/big'), (e: ChefServerError) => e.kind === 'bad-response' && e.message.includes('GET /big') && e.message.includes('100 KiB'));
      await assert.rejects(client.get('/bomb'), (e: ChefServerError) => e.kind === 'bad-response' && e.message.includes('GET /bomb') && e.message.includes('100 KiB'));
      assert.deepEqual(await client.get('/small'), { ok: true });
    } finally {
      await s.close();
    }
  });

  it('clips the server error text to 300 characters; hints at /organizations/<org> on a 404 from a non-goiardi server', async () => {
    const s = await server((req, res) => {
      if (req.path === '/long') json(res, 500, { error: ['x'.repeat(5000)] });
      else json(res, 404, { error: ['not found'] }, req.path.startsWith('/g/') ? { 'X-Goiardi': 'yes' } : {});
    });
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem });
      await assert.rejects(client.get('/long'), (e: ChefServerError) => e.details.serverMessage!.length === 300 && e.message.length < 400);
      await assert.rejects(client.get('/nodes/web-1'), (e: ChefServerError) => e.kind === 'not-found' && e.message.includes('Chef Infra Server URLs end in /organizations/<org>'));
      const org = new ChefServerClient({ serverUrl: `${s.url}/organizations/acme`, clientName: 'alice', clientKey: pem });
      await assert.rejects(org.get('/nodes/web-1'), (e: ChefServerError) => e.kind === 'not-found' && !e.message.includes('/organizations/<org>'));
    } finally {
      await s.close();
    }
  });

  it('refuses "." and ".." path segments (URL parsing would change the signed path) and credentials in the server URL', async () => {
    const s = await server((_req, res) => json(res, 200, {}));
    try {
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem });
      for (const name of ['.', '..', '%2e%2E']) {
        await assert.rejects(client.get(`/nodes/${name}`), (e: ChefServerError) => e.kind === 'not-found' && /cannot be "\." or "\.\."/.test(e.message));
      }
      assert.equal(s.seen.length, 0);
    } finally {
      await s.close();
    }
    assert.throws(
      () => new ChefServerClient({ serverUrl: 'https://admin:hunter2@chef.example.com', clientName: 'a', clientKey: pem }),
      (e: Error) => /user name or password/.test(e.message) && !e.message.includes('hunter2'),
    );
  });

  it('blames a rejected signature on the clock only past 15 minutes of skew: 6 minutes off is a wrong key', async () => {
    const serverNow = new Date('2026-12-01T06:00:00Z');
    const s = await server((_req, res) => json(res, 401, { error: ['Invalid signature for user or client \'alice\''] }, { Date: serverNow.toUTCString() }));
    try {
      const off = (min: number) => new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKey: pem, clock: () => new Date(serverNow.getTime() + min * 60_000) });
      await assert.rejects(off(6).get('/nodes'), (e: ChefServerError) => e.kind === 'wrong-key');
      await assert.rejects(off(16).get('/nodes'), (e: ChefServerError) => e.kind === 'clock-skew');
    } finally {
      await s.close();
    }
  });

  it('reads a replaced key file again (its mtime changed) without a new client', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-key-'));
    const keyFile = path.join(dir, 'alice.pem');
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const accepted = { key: publicKey };
    const s = await server((req, res) => {
      let ok = false;
      try {
        ok = crypto.publicDecrypt(accepted.key, signature(req.headers)).length > 0;
      } catch {
        // signed with another key
      }
      json(res, ok ? 200 : 401, ok ? { ok: true } : { error: ['bad'] });
    });
    try {
      fs.writeFileSync(keyFile, pem);
      const client = new ChefServerClient({ serverUrl: s.url, clientName: 'alice', clientKeyPath: keyFile, signVersion: '1.1' });
      assert.deepEqual(await client.get('/nodes'), { ok: true });
      fs.writeFileSync(keyFile, other.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
      fs.utimesSync(keyFile, new Date(), new Date(Date.now() + 5000));
      accepted.key = other.publicKey;
      assert.deepEqual(await client.get('/nodes'), { ok: true });
    } finally {
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describes durations for people', () => {
    assert.equal(describeDuration(45_000), '45 seconds');
    assert.equal(describeDuration(20 * 60_000 + 400), '20 minutes');
    assert.equal(describeDuration(65 * 60_000), '1 hour 5 minutes');
  });
});
