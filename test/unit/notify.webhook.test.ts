import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import * as net from 'node:net';
import type { Listener } from '../support/http';
import { listen, withBody } from '../support/http';
import type { Notification } from '../../src/core/notify/notifier';
import { Notifier } from '../../src/core/notify/notifier';
import { escapeSlack, slackBody, WebhookChannel } from '../../src/core/notify/webhook';

const failure: Notification = {
  key: 'chef-run:web-1:r1',
  source: 'chef-run',
  severity: 'error',
  title: 'Chef run failed on web-1: execute[migrate]',
  message: 'Expected process to exit with [0], but received \'1\'\nSTDERR: <b>relation "orders" does not exist</b> & more\n```injected```',
  node: 'web-1 <!channel>',
  resource: 'execute[migrate]',
  exception: 'Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0] <@U123>',
  jump: { command: 'chefConsul.openChefReport', args: { id: 'r1', phase: 0, node: 'web-1' } },
};

interface Received {
  at: number;
  path: string;
  contentType: string | undefined;
  body: { text: string; blocks: Array<{ type: string; text?: { text: string }; fields?: Array<{ text: string }> }> };
}

/** A receiver answering each request with the next status of `statuses` (the last one repeats). */
async function receiver(statuses: number[], delayMs = 0): Promise<Listener & { got: Received[]; url: string }> {
  const got: Received[] = [];
  const listener = await listen(
    withBody((req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
      got.push({ at: Date.now(), path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(body.toString('utf8')) as Received['body'] });
      const status = statuses[Math.min(got.length - 1, statuses.length - 1)];
      setTimeout(() => res.writeHead(status).end(status < 300 ? 'ok' : 'no'), delayMs);
    }),
  );
  return { ...listener, got, url: `http://${listener.address}/services/T000/B000/secret` };
}

function recordingLog() {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) };
}

describe('WebhookChannel', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
  });

  it('posts a Slack-compatible body with the node, failed resource, snippet and exception, all escaped', async () => {
    const r = await receiver([200]);
    open.push(r);
    const channel = new WebhookChannel({ url: () => r.url, initialDelayMs: 10 });
    const result = await channel.send(failure);
    assert.deepEqual(result, { delivered: true, attempts: 1, status: 200 });
    assert.equal(r.got.length, 1);
    assert.equal(r.got[0].path, '/services/T000/B000/secret');
    assert.match(r.got[0].contentType ?? '', /^application\/json/);
    const body = r.got[0].body;
    const all = JSON.stringify(body);
    assert.match(body.text, /Chef run failed on web-1/);
    assert.ok(all.includes('web-1 &lt;!channel&gt;'), all);
    assert.ok(all.includes('execute[migrate]'));
    assert.ok(all.includes('&lt;@U123&gt;'));
    assert.ok(all.includes('&lt;b&gt;relation'));
    assert.ok(all.includes('&amp; more'));
    // Nothing untrusted reaches Slack as a mention, link or formatting.
    assert.ok(!/<[!@#]|<b>|<http/.test(all), all);
    // The snippet sits in one code block that untrusted backticks cannot close.
    const code = body.blocks.find((b) => b.text?.text.startsWith('```'));
    assert.ok(code);
    assert.equal(code.text!.text.match(/```/g)?.length, 2);
    channel.dispose();
  });

  it('escapes Slack control characters', () => {
    assert.equal(escapeSlack('a & <b> >c'), 'a &amp; &lt;b&gt; &gt;c');
    assert.ok(slackBody({ ...failure, title: '<https://evil|click>' }).text.startsWith('&lt;https://evil|click&gt;'));
  });

  it('retries with exponential back-off until a receiver that failed twice recovers, logging each failure', async () => {
    const r = await receiver([503, 500, 200]);
    open.push(r);
    const log = recordingLog();
    const channel = new WebhookChannel({ url: () => r.url, log, initialDelayMs: 100, attempts: 5 });
    const result = await channel.send(failure);
    assert.deepEqual(result, { delivered: true, attempts: 3, status: 200 });
    assert.equal(r.got.length, 3);
    const gap1 = r.got[1].at - r.got[0].at;
    const gap2 = r.got[2].at - r.got[1].at;
    assert.ok(gap1 >= 95 && gap1 < 1000, `first retry after ${gap1} ms`);
    assert.ok(gap2 >= 195 && gap2 < 1500, `second retry after ${gap2} ms (doubled)`);
    assert.equal(log.lines.filter((l) => /attempt \d\/5 .* failed: the receiver answered HTTP 50\d; retrying in/.test(l)).length, 2, log.lines.join('\n'));
    assert.ok(log.lines.some((l) => /delivered on attempt 3/.test(l)));
    // The URL is a secret: it is in no log line.
    assert.ok(!log.lines.some((l) => l.includes('secret')));
    channel.dispose();
  });

  it('gives up at once on 400, saying why', async () => {
    const r = await receiver([400]);
    open.push(r);
    const log = recordingLog();
    const channel = new WebhookChannel({ url: () => r.url, log, initialDelayMs: 10, attempts: 5 });
    const result = await channel.send(failure);
    assert.equal(result.delivered, false);
    assert.equal(result.attempts, 1);
    assert.equal(result.status, 400);
    assert.match(result.error ?? '', /HTTP 400 \(a client error: retrying would not help\)/);
    assert.equal(r.got.length, 1);
    assert.ok(log.lines.some((l) => /gave up on .* after attempt 1: the receiver answered HTTP 400/.test(l)), log.lines.join('\n'));
    channel.dispose();
  });

  it('retries 429 and network errors, and gives up after the last attempt with a log line', async () => {
    const r = await receiver([429]);
    open.push(r);
    const log = recordingLog();
    const channel = new WebhookChannel({ url: () => r.url, log, initialDelayMs: 5, attempts: 3 });
    const limited = await channel.send(failure);
    assert.deepEqual([limited.delivered, limited.attempts, limited.status], [false, 3, 429]);
    assert.equal(r.got.length, 3);
    await r.close();
    const refused = await channel.send({ ...failure, key: 'other' });
    assert.equal(refused.delivered, false);
    assert.equal(refused.attempts, 3);
    assert.match(refused.error ?? '', /ECONNREFUSED/);
    assert.ok(log.lines.some((l) => /gave up on .* after 3 attempts: .*ECONNREFUSED/.test(l)), log.lines.join('\n'));
    channel.dispose();
  });

  it('times out a receiver that does not answer, and retries', async () => {
    const r = await receiver([200], 400);
    open.push(r);
    const channel = new WebhookChannel({ url: () => r.url, timeoutMs: 100, initialDelayMs: 5, attempts: 2 });
    const result = await channel.send(failure);
    assert.equal(result.delivered, false);
    assert.match(result.error ?? '', /no answer within 100 ms/);
    assert.equal(r.got.length, 2);
    channel.dispose();
  });

  it('gives a receiver that trickles a byte every 200 ms one deadline (timeoutMs 500), and does not wait for a body after the status', async () => {
    const sockets = new Set<net.Socket>();
    const timers = new Set<NodeJS.Timeout>();
    /** Answers each connection with `head` at once, then one byte of `trickle` every 200 ms, forever. */
    const trickler = async (head: string, trickle: string) => {
      const srv = net.createServer((sock) => {
        sockets.add(sock);
        sock.on('error', () => undefined);
        sock.once('data', () => {
          sock.write(head);
          let i = 0;
          const t = setInterval(() => {
            if (sock.destroyed) return clearInterval(t);
            sock.write(trickle[i++ % trickle.length]);
          }, 200);
          timers.add(t);
        });
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/hook`, close: () => new Promise<void>((r) => srv.close(() => r())) };
    };
    const before = await trickler('', 'HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    const after = await trickler('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n', 'x');
    try {
      const slow = new WebhookChannel({ url: () => before.url, timeoutMs: 500, attempts: 1 });
      const started = Date.now();
      const result = await slow.send(failure);
      assert.equal(result.delivered, false);
      assert.match(result.error ?? '', /no answer within 500 ms/);
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      slow.dispose();
      const bodyless = new WebhookChannel({ url: () => after.url, timeoutMs: 500, attempts: 1 });
      const t0 = Date.now();
      assert.deepEqual(await bodyless.send(failure), { delivered: true, attempts: 1, status: 200 });
      assert.ok(Date.now() - t0 < 500, `took ${Date.now() - t0} ms`);
      bodyless.dispose();
    } finally {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await Promise.all([before.close(), after.close()]);
    }
  });

  it('notify() returns at once while the receiver is slow; deliveries go one at a time in order', async () => {
    const r = await receiver([200], 300);
    open.push(r);
    const channel = new WebhookChannel({ url: () => r.url });
    const notifier = new Notifier();
    notifier.addChannel(channel);
    const started = performance.now();
    assert.equal(notifier.notify(failure), true);
    assert.equal(notifier.notify({ ...failure, key: 'chef-run:web-2:r1', node: 'web-2' }), true);
    assert.equal(notifier.notify(failure), false, 'the same key is not notified twice');
    const took = performance.now() - started;
    assert.ok(took < 50, `notify took ${took.toFixed(1)} ms`);
    assert.equal(r.got.length, 0);
    const deadline = Date.now() + 3000;
    while (r.got.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(
      r.got.map((g) => JSON.stringify(g.body).includes('web-2')),
      [false, true],
    );
    assert.ok(r.got[1].at - r.got[0].at >= 290, 'the second waits for the first answer');
    notifier.dispose();
    channel.dispose();
  });

  it('bounds its queue, dropping the oldest with a log line', async () => {
    const r = await receiver([200], 200);
    open.push(r);
    const log = recordingLog();
    const channel = new WebhookChannel({ url: () => r.url, log, maxQueue: 2 });
    const results = [1, 2, 3, 4].map((i) => channel.send({ ...failure, key: `k${i}`, title: `n${i}` }));
    assert.equal(channel.pending, 2);
    const settled = await Promise.all(results);
    // The first was in flight; the second was dropped for the fourth.
    assert.deepEqual(settled.map((s) => s.delivered), [true, false, true, true]);
    assert.match(settled[1].error ?? '', /queue was full/);
    assert.ok(log.lines.some((l) => /queue full \(2\), dropped "n2"/.test(l)));
    channel.dispose();
  });

  it('without a URL it drops the notification and says so; a bad URL gives up at once', async () => {
    const log = recordingLog();
    const none = new WebhookChannel({ url: () => undefined, log });
    assert.deepEqual(await none.send(failure), { delivered: false, attempts: 0, error: 'no webhook URL is set' });
    assert.ok(log.lines.some((l) => /not sent: no webhook URL is set/.test(l)));
    const bad = new WebhookChannel({ url: () => 'ftp://example.com/hook', log, initialDelayMs: 5 });
    const result = await bad.send(failure);
    assert.equal(result.attempts, 1);
    assert.match(result.error ?? '', /must be http or https, not ftp:/);
    none.dispose();
    bad.dispose();
  });

  it('dispose stops retries and settles waiting notifications', async () => {
    const r = await receiver([500]);
    open.push(r);
    const channel = new WebhookChannel({ url: () => r.url, initialDelayMs: 60_000, attempts: 5 });
    const pending = channel.send(failure);
    const queued = channel.send({ ...failure, key: 'k2' });
    while (r.got.length < 1) await new Promise((res) => setTimeout(res, 10));
    channel.dispose();
    const [a, b] = await Promise.all([pending, queued]);
    assert.equal(a.delivered, false);
    assert.equal(b.delivered, false);
    assert.equal(r.got.length, 1);
  });
});

describe('Notifier.deliverNow (test notifications)', () => {
  it('delivers to every channel without de-duplication and says per channel whether it arrived', async () => {
    const ok = await receiver([200]);
    const notifier = new Notifier();
    const webhook = new WebhookChannel({ url: () => ok.url, initialDelayMs: 5, attempts: 2 });
    notifier.addChannel(webhook);
    notifier.addChannel({ kind: 'broken', deliver: () => Promise.reject(new Error('no display')) });
    const n = { ...failure, key: 'test:1' };
    assert.deepEqual(await notifier.deliverNow(n), { webhook: true, broken: 'no display' });
    assert.deepEqual(await notifier.deliverNow(n, ['webhook', 'absent']), { webhook: true });
    assert.equal(ok.got.length, 2);
    await ok.close();
    const down = await notifier.deliverNow(n, ['webhook']);
    assert.match(String(down.webhook), /ECONNREFUSED.*\(2 attempts\)/);
    webhook.dispose();
    notifier.dispose();
  });
});
