import * as assert from 'node:assert/strict';
import { AgentConfigError, FIRST_READ_NOTE, importAgentWatches, parseAgentConfigText } from '../../src/core/watches/agentConfig';
import { capText, MAX_DIFF_TEXT, summarizeChange } from '../../src/core/watches/describe';
import { consulWatchArgs, parseWatchList, watchProblems } from '../../src/core/watches/model';
import { eventIdToIndex, formatGoDuration, goJson, parseGoDuration, shapeCheck, shapeKvPair } from '../../src/core/watches/queries';
import { newEvents, slimFiring, WatchFiring, WatchRunner } from '../../src/core/watches/runner';
import { describeHandlerResult, HandlerPool, handlerEnvironment, runHandler } from '../../src/core/watches/handler';
import { pidAlive } from '../../src/core/util/windowLease';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FollowUpGuard } from '../../src/core/watches/followUps';
import type { FeedUpdate } from '../../src/core/watches/queries';

const notify = [{ type: 'notify' }];

describe('watch definitions', () => {
  it('accepts each type with its consul watch parameters', () => {
    for (const w of [
      { name: 'a', type: 'key', key: 'app/config', actions: notify },
      { name: 'b', type: 'keyprefix', prefix: 'app/', actions: notify },
      { name: 'c', type: 'services', actions: notify },
      { name: 'd', type: 'nodes', actions: notify },
      { name: 'e', type: 'service', service: 'web', tag: ['a', 'b'], passingonly: true, actions: notify },
      { name: 'f', type: 'checks', state: 'critical', actions: notify },
      { name: 'g', type: 'event', eventName: 'deploy', actions: [{ type: 'handler', args: ['/bin/true'] }, { type: 'webhook' }, { type: 'event', name: 'ack', payload: 'x' }] },
    ]) {
      assert.deepEqual(watchProblems(w), [], JSON.stringify(w));
    }
  });

  it('says exactly what is wrong', () => {
    assert.deepEqual(watchProblems({ name: 'k', type: 'key', actions: notify }), ['Watch "k": a key watch needs "key".']);
    assert.deepEqual(watchProblems({ name: 'k', type: 'kv', actions: notify }), ['Watch "k" has type "kv"; use one of key, keyprefix, services, nodes, service, checks, event.']);
    assert.deepEqual(watchProblems({ name: 'k', type: 'key', key: 'a', prefix: 'b', actions: notify }), ['Watch "k": a key watch does not take "prefix" (it takes "key").']);
    assert.deepEqual(watchProblems({ name: 'k', type: 'key', key: 'a', token: 'x', actions: notify }), [
      `Watch "k": "token" is not taken from a watch: watches use the active profile's datacenter and ACL token.`,
    ]);
    assert.deepEqual(watchProblems({ name: 'c', type: 'checks', service: 'web', state: 'critical', actions: notify }), ['Watch "c": a checks watch takes "service" or "state", not both (as consul watch).']);
    assert.deepEqual(watchProblems({ name: 'c', type: 'checks', state: 'bad', actions: notify }), ['Watch "c": "state" "bad" is not one of any, passing, warning, critical, maintenance.']);
    assert.deepEqual(watchProblems({ name: 'n', type: 'nodes' }), ['Watch "n" needs "actions": a non-empty list like [{"type": "notify"}].']);
    assert.deepEqual(watchProblems({ name: 'n', type: 'nodes', actions: [{ type: 'handler', args: ['x'], command: 'y' }] }), [
      'Watch "n": action 1 ("handler") needs exactly one of "args" (a program and its arguments) or "command" (a shell command).',
    ]);
    assert.deepEqual(watchProblems({ name: 'n', type: 'nodes', actions: [{ type: 'event', name: 'a b' }] }), [
      'Watch "n": action 1 ("event"): The event name "a b" must not contain "/", "?", "#" or white space.',
    ]);
    assert.deepEqual(watchProblems({ name: 'n', type: 'nodes', actions: [{ type: 'mail' }] }), ['Watch "n": action 1 has type "mail"; use one of "notify", "handler", "webhook", "event".']);
    assert.deepEqual(watchProblems({ type: 'nodes', actions: notify }), ['A watch needs a "name" (unique among the watches).']);
  });

  it('keeps the first of two watches with one name and says so', () => {
    const { watches, problems } = parseWatchList([
      { name: 'x', type: 'nodes', actions: notify },
      { name: 'x', type: 'services', actions: notify },
      { name: 'y', type: 'bad', actions: notify },
    ]);
    assert.deepEqual(watches.map((w) => w.type), ['nodes']);
    assert.deepEqual(problems, ['Watch "x" is defined twice; only the first one runs.', 'Watch "y" has type "bad"; use one of key, keyprefix, services, nodes, service, checks, event.']);
  });

  it('writes the same consul watch flags', () => {
    assert.deepEqual(consulWatchArgs({ name: 's', type: 'service', service: 'web', tag: ['a', 'b'], passingonly: true, actions: [] }), ['-type=service', '-service=web', '-tag=a', '-tag=b', '-passingonly']);
    assert.deepEqual(consulWatchArgs({ name: 'e', type: 'event', eventName: 'deploy', actions: [] }), ['-type=event', '-name=deploy']);
  });
});

describe('consul watch JSON', () => {
  it('encodes as Go does: HTML-safe escapes and a newline', () => {
    assert.equal(goJson({ a: '<b> & \u2028' }), '{"a":"\\u003cb\\u003e \\u0026 \\u2028"}\n');
  });

  it('shapes a KV entry as api.KVPair', () => {
    assert.equal(JSON.stringify(shapeKvPair({ LockIndex: 0, Key: 'k', Flags: 0, Value: null, CreateIndex: 1, ModifyIndex: 2 })), '{"Key":"k","CreateIndex":1,"ModifyIndex":2,"LockIndex":0,"Flags":0,"Value":null,"Session":""}');
  });

  it('writes check definitions with Go durations', () => {
    const c = shapeCheck({ Node: 'n', CheckID: 'c', Definition: { HTTP: 'http://x', Interval: '10s', Timeout: '1m30s' } }) as { Definition: Record<string, unknown> };
    assert.deepEqual(c.Definition, { Interval: '10s', Timeout: '1m30s', DeregisterCriticalServiceAfter: '0s', HTTP: 'http://x', Header: null, Method: '', Body: '', TLSSkipVerify: false, TCP: '' });
    assert.equal(formatGoDuration(parseGoDuration('90m')!), '1h30m0s');
    assert.equal(formatGoDuration(parseGoDuration('1.5s')!), '1.5s');
    assert.equal(formatGoDuration(parseGoDuration('100ms')!), '100ms');
  });

  it('computes the event index as Consul does', () => {
    // Observed on Consul 1.8.7: CONSUL_INDEX for this event ID.
    assert.equal(eventIdToIndex('cce1b64d-0054-570e-e729-76768a40f46b'), '3154982900925244261');
  });

  it('hands over only the events after the last delivered one', () => {
    assert.deepEqual(newEvents([{ ID: 'a' }, { ID: 'b' }], [{ ID: 'a' }, { ID: 'b' }, { ID: 'c' }]), [{ ID: 'c' }]);
    assert.deepEqual(newEvents([{ ID: 'gone' }], [{ ID: 'x' }]), [{ ID: 'x' }]);
    assert.deepEqual(newEvents([], [{ ID: 'x' }]), [{ ID: 'x' }]);
  });

  it('names the node and the check output when a service check goes critical', () => {
    const entry = (status: string, output: string) => [{ Node: { Node: 'web-2' }, Service: { ID: 'web' }, Checks: [{ Node: 'web-2', CheckID: 'http', Name: 'http', Status: status, Output: output, ServiceID: 'web' }] }];
    const s = summarizeChange({ name: 'w', type: 'service', service: 'web', actions: [] }, entry('passing', 'ok'), entry('critical', '\nconnection refused\nmore'), undefined);
    assert.equal(s.why, "web-2: service check 'http' critical: connection refused");
    assert.equal(s.severity, 'error');
    assert.equal(s.node, 'web-2');
  });
});

describe('WatchRunner without a cluster', () => {
  it('does not fire on the first read nor when only the tag order of the service list changes', async () => {
    let push: (u: FeedUpdate) => void = () => undefined;
    const runner = new WatchRunner({ name: 's', type: 'services', actions: [], debounceMs: 10 }, (l) => {
      push = l;
      return { dispose: () => undefined };
    });
    let fired = 0;
    runner.onDidFire(() => fired++);
    runner.start();
    push({ kind: 'data', data: { web: ['a', 'b'] }, index: '1' });
    push({ kind: 'data', data: { web: ['b', 'a'] }, index: '2' });
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(fired, 0);
    push({ kind: 'data', data: { web: ['b', 'a'], db: [] }, index: '3' });
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(fired, 1);
    assert.equal(runner.state.why, 'service db registered');
    runner.dispose();
  });
});

describe('agent config import', () => {
  const hcl = `
datacenter = "dc1"
watches = [
  { type = "key", key = "app/config", handler_type = "script", args = ["/usr/local/bin/reload", "-q"] },
  { type = "checks", state = "critical", handler = "/usr/local/bin/page", datacenter = "dc2", token = "s3cr3t" },
  { type = "service", service = "web", handler_type = "http", http_handler_config { path = "https://hooks.example/x" method = "POST" } },
  { type = "connect_roots", args = ["/bin/true"] },
  { type = "key", key = "x" },
  { type = "key", key = "app/config", args = ["/bin/other"], foo = 1 }
]
watches {
  type = "event"
  name = "deploy"
  args = ["/bin/deploy-hook"]
}
`;

  it('reads HCL watch blocks (list and block forms) and says which cannot run and why', () => {
    const result = importAgentWatches(parseAgentConfigText(hcl, 'hcl'), ['key app/config']);
    assert.deepEqual(result.runnable, [
      { name: 'key app/config (2)', type: 'key', key: 'app/config', actions: [{ type: 'handler', args: ['/usr/local/bin/reload', '-q'] }] },
      { name: 'checks critical', type: 'checks', state: 'critical', actions: [{ type: 'handler', command: '/usr/local/bin/page' }] },
      { name: 'event deploy', type: 'event', eventName: 'deploy', actions: [{ type: 'handler', args: ['/bin/deploy-hook'] }] },
    ]);
    assert.deepEqual(result.notRunnable, [
      { name: 'service web', index: 2, reason: 'Its http handler posts to https://hooks.example/x; this editor sends webhooks only to the notifications\' webhook channel. Add the watch with a "webhook" action instead.' },
      { name: 'connect_roots', index: 3, reason: 'Type "connect_roots" watches the Connect CA roots; this editor runs key, keyprefix, services, nodes, service, checks, event.' },
      { name: 'key x', index: 4, reason: 'It has no handler ("args" or "handler"): the agent would refuse it too.' },
      { name: 'key app/config', index: 5, reason: 'A key watch does not take "foo" (the agent would refuse it too).' },
    ]);
    assert.deepEqual(result.notes, [
      "checks critical: its datacenter was dropped; watches use the active profile's datacenter.",
      "checks critical: its token was dropped; watches use the active profile's ACL token.",
      FIRST_READ_NOTE,
    ]);
    assert.ok(!JSON.stringify(result).includes('s3cr3t'));
  });

  it('reads JSON agent config', () => {
    const result = importAgentWatches(parseAgentConfigText('{"watches":[{"type":"keyprefix","prefix":"app/","args":["/bin/x"]}]}', 'json'));
    assert.deepEqual(result.runnable.map((w) => w.name), ['keyprefix app/']);
  });

  it('resolves a relative handler program against the config file folder; refuses a relative shell handler', () => {
    const config = parseAgentConfigText('{"watches":[{"type":"nodes","args":["./bin/hook","-v"]},{"type":"services","handler":"scripts/x.sh arg"},{"type":"key","key":"k","args":["logger"]}]}', 'json');
    const result = importAgentWatches(config, [], { baseDir: '/etc/consul.d' });
    assert.deepEqual(result.runnable.map((w) => w.actions[0]), [{ type: 'handler', args: ['/etc/consul.d/bin/hook', '-v'] }, { type: 'handler', args: ['logger'] }]);
    assert.deepEqual(result.notRunnable, [
      { name: 'services', index: 1, reason: 'Its handler "scripts/x.sh arg" starts with a relative path; handlers run from your home folder, so write it with an absolute path.' },
    ]);
    assert.match(importAgentWatches(config).notRunnable[0].reason, /handler program "\.\/bin\/hook" is a relative path/);
  });

  it('says where the HCL is broken and when there are no watches', () => {
    assert.throws(() => parseAgentConfigText('watches = [ { type = ', 'hcl'), (e: Error) => e instanceof AgentConfigError && /^The file is not valid HCL: At 1:\d+: /.test(e.message));
    assert.throws(() => importAgentWatches(parseAgentConfigText('datacenter = "dc1"', 'hcl')), /The file has no "watches"/);
    assert.throws(() => parseAgentConfigText('{', 'json'), /The file is not valid JSON/);
  });
});

describe('watch handlers', () => {
  it('get the JSON on stdin and CONSUL_INDEX, as consul watch runs them', async () => {
    const r = await runHandler({ command: 'printf "%s|" "$CONSUL_INDEX"; cat' }, '{"a":1}\n', '42');
    assert.equal(r.stdout, '42|{"a":1}\n');
    assert.equal(describeHandlerResult(r), 'exit code 0');
    const direct = await runHandler({ args: ['/bin/sh', '-c', 'cat; exit 3'] }, 'x', '1');
    assert.equal(direct.stdout, 'x');
    assert.equal(describeHandlerResult(direct), 'exit code 3');
  });

  it('are killed after their timeout, children included', async () => {
    const started = Date.now();
    const r = await runHandler({ command: 'sleep 30 & sleep 30', timeoutSeconds: 0.3 }, '', '1');
    assert.ok(Date.now() - started < 5000, 'the timeout did not end the handler');
    assert.equal(r.timedOut, true);
    assert.equal(describeHandlerResult(r), 'killed after its timeout');
  });

  it('say when the program cannot start', async () => {
    const r = await runHandler({ args: ['/nonexistent/handler'] }, '', '1');
    assert.match(describeHandlerResult(r), /^could not start: spawn \/nonexistent\/handler ENOENT$/);
  });
});

describe('follow-up event loops', () => {
  it('refuses an event action whose name the same watch matches', () => {
    assert.deepEqual(watchProblems({ name: 'loop', type: 'event', eventName: 'deploy', actions: [{ type: 'event', name: 'deploy' }] }), [
      'Watch "loop": action 1 ("event") fires "deploy", which this watch itself matches (its eventName is "deploy"): it would re-trigger itself forever. Fire another event name.',
    ]);
    assert.deepEqual(watchProblems({ name: 'all', type: 'event', actions: [{ type: 'notify' }, { type: 'event', name: 'ack' }] }), [
      'Watch "all": action 2 ("event") fires "ack", which this watch itself matches (it has no eventName, so it matches every event): it would re-trigger itself forever. Fire another event name or set "eventName".',
    ]);
    assert.deepEqual(watchProblems({ name: 'ok', type: 'event', eventName: 'deploy', actions: [{ type: 'event', name: 'ack' }] }), []);
    // Other types may fire any event.
    assert.deepEqual(watchProblems({ name: 'k', type: 'key', key: 'a', actions: [{ type: 'event', name: 'deploy' }] }), []);
  });

  it('never delivers the events our own actions fired', async () => {
    let push: (u: FeedUpdate) => void = () => undefined;
    const guard = new FollowUpGuard();
    const runner = new WatchRunner({ name: 'e', type: 'event', actions: [], debounceMs: 5 }, (l) => {
      push = l;
      return { dispose: () => undefined };
    }, { isOwnEvent: (id) => guard.isOwn(id) });
    const got: unknown[] = [];
    runner.onDidFire((f) => got.push(f.json));
    runner.start();
    push({ kind: 'data', data: [{ ID: 'a', Name: 'x' }], index: '1' });
    guard.remember('mine');
    push({ kind: 'data', data: [{ ID: 'a', Name: 'x' }, { ID: 'mine', Name: 'ack' }], index: '2' });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(got, [], 'our own follow-up event was delivered');
    push({ kind: 'data', data: [{ ID: 'a', Name: 'x' }, { ID: 'mine', Name: 'ack' }, { ID: 'theirs', Name: 'ack' }], index: '3' });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(got, [[{ ID: 'theirs', Name: 'ack' }]]);
    runner.dispose();
  });

  it('lets a watch fire at most one follow-up event per interval', () => {
    let t = 0;
    const guard = new FollowUpGuard(10_000, () => t);
    assert.deepEqual(guard.take('a'), { ok: true });
    t = 4000;
    assert.deepEqual(guard.take('a'), { ok: false, waitMs: 6000 });
    assert.deepEqual(guard.take('b'), { ok: true });
    t = 10_000;
    assert.deepEqual(guard.take('a'), { ok: true });
  });
});

describe('what a watch keeps', () => {
  it('caps each side of a diff at 256 KiB with a marker', () => {
    const big = 'v'.repeat(MAX_DIFF_TEXT + 5000);
    const s = summarizeChange({ name: 'k', type: 'key', key: 'k', actions: [] }, { Value: Buffer.from('a').toString('base64') }, { Value: Buffer.from(big).toString('base64') }, undefined);
    assert.equal(s.before, 'a');
    assert.ok(s.after!.startsWith('v'.repeat(MAX_DIFF_TEXT)));
    assert.match(s.after!, /\n… \(truncated: 5 KiB more not kept\)\n$/);
    assert.equal(capText('short'), 'short');
  });

  it('drops the JSON, stdin and data of a firing once its actions are done, keeping capped text for the diff', async () => {
    let push: (u: FeedUpdate) => void = () => undefined;
    const runner = new WatchRunner({ name: 'n', type: 'nodes', actions: [], debounceMs: 5 }, (l) => {
      push = l;
      return { dispose: () => undefined };
    });
    let fired: WatchFiring | undefined;
    runner.onDidFire((f) => (fired = f));
    runner.start();
    push({ kind: 'data', data: [{ Node: 'a' }], index: '1' });
    push({ kind: 'data', data: [{ Node: 'a' }, { Node: 'b' }], index: '2' });
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(fired);
    assert.equal(fired.stdin, '[{"Node":"a"},{"Node":"b"}]\n');
    const slim = runner.release(fired)!;
    assert.equal(runner.lastFiring, slim);
    assert.deepEqual([slim.json, slim.stdin, slim.before, slim.after, slim.slim], [undefined, '', undefined, undefined, true]);
    assert.equal(slim.afterText, JSON.stringify([{ Node: 'a' }, { Node: 'b' }], null, 2) + '\n');
    assert.equal(slim.summary.why, 'node b joined');
    // Key types keep only the summary's texts.
    const k = slimFiring({ ...fired, watch: { name: 'k', type: 'key', key: 'k', actions: [] } });
    assert.equal(k.afterText, undefined);
    runner.dispose();
  });
});

describe('handler pool', () => {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-pool-'));
  after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

  it('runs one handler at a time per watch, the latest waiting firing replacing earlier ones', async () => {
    const pool = new HandlerPool();
    const log = path.join(tmpDir, 'runs');
    const spec = { command: `read line; echo "start $line" >> '${log}'; sleep 0.3; echo "end $line" >> '${log}'` };
    const results = await Promise.all(['1', '2', '3'].map((n) => pool.run('w', spec, `${n}\n`, n)));
    assert.deepEqual(results.map((r) => r && describeHandlerResult(r)), ['exit code 0', undefined, 'exit code 0']);
    assert.equal(fs.readFileSync(log, 'utf8'), 'start 1\nend 1\nstart 3\nend 3\n');
    pool.dispose();
  });

  it('kills the process groups of running handlers on dispose', async function () {
    this.timeout(10_000);
    const pool = new HandlerPool();
    const pidFile = path.join(tmpDir, 'pid');
    const done = pool.run('w', { command: `sleep 60 & echo $! > '${pidFile}'; wait`, timeoutSeconds: 120 }, '', '1');
    await eventuallyTrue(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.equal(pool.running, 1);
    pool.dispose();
    const r = await done;
    assert.equal(r?.signal, 'SIGKILL');
    // Dead, or a zombie waiting for init to reap it.
    const gone = () => {
      try {
        return !pidAlive(grandchild) || / Z /.test(fs.readFileSync(`/proc/${grandchild}/stat`, 'utf8').replace(/^.*\)/, ')'));
      } catch {
        return true;
      }
    };
    await eventuallyTrue(gone);
    assert.equal(pool.running, 0);
    assert.equal(await pool.run('w', { command: 'true' }, '', '1'), undefined, 'a disposed pool ran a handler');
  });
});

async function eventuallyTrue(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('what is kept across windows', () => {
  it('an event watch\'s why leaves the payload out (it may be a secret); the details carry it', () => {
    const ev = { ID: 'x', Name: 'deploy', Payload: Buffer.from('token=s3cr3t\nmore').toString('base64'), LTime: 3 };
    const s = summarizeChange({ name: 'e', type: 'event', eventName: 'deploy', actions: [] }, [], [ev], [ev]);
    assert.equal(s.why, 'event deploy fired');
    assert.deepEqual(s.details, ['payload: token=s3cr3t', 'deploy x (LTime 3)']);
  });
});

describe('handler environment', () => {
  const base = {
    PATH: '/usr/bin',
    HOME: '/home/op',
    CONSUL_HTTP_ADDR: 'other-cluster:8500',
    CONSUL_HTTP_TOKEN: 'other-token',
    CONSUL_HTTP_TOKEN_FILE: '/tmp/t',
    CONSUL_CACERT: '/other/ca.pem',
    ELECTRON_RUN_AS_NODE: '1',
  };

  it("points the consul CLI at the active profile with its TLS settings, and hands over no token nor another cluster's settings", () => {
    const env = handlerEnvironment(base, { name: 'p', address: 'https://consul.example:8501', caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', serverName: 'consul.internal' });
    assert.deepEqual(env, {
      PATH: '/usr/bin',
      HOME: '/home/op',
      CONSUL_HTTP_ADDR: 'https://consul.example:8501',
      CONSUL_HTTP_SSL: 'true',
      CONSUL_CACERT: '/ca.pem',
      CONSUL_CLIENT_CERT: '/c.pem',
      CONSUL_CLIENT_KEY: '/k.pem',
      CONSUL_TLS_SERVER_NAME: 'consul.internal',
    });
    assert.deepEqual(handlerEnvironment(base, { name: 'q', address: '10.0.0.1:8500', insecureSkipVerify: true }), {
      PATH: '/usr/bin',
      HOME: '/home/op',
      CONSUL_HTTP_ADDR: 'http://10.0.0.1:8500',
      CONSUL_HTTP_SSL: 'false',
      CONSUL_HTTP_SSL_VERIFY: 'false',
    });
  });

  it('is what the handler sees', async () => {
    const r = await runHandler({ command: 'printf "%s|%s|%s" "$CONSUL_HTTP_ADDR" "${CONSUL_HTTP_TOKEN-unset}" "${ELECTRON_RUN_AS_NODE-unset}"' }, '', '1', {
      env: handlerEnvironment({ ...process.env, ...base }, { name: 'p', address: '127.0.0.9:8500' }),
    });
    assert.equal(r.stdout, 'http://127.0.0.9:8500|unset|unset');
  });
});
