import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { RemoteExecSpecError } from '../../src/core/exec/errors';
import { NodeProgress } from '../../src/core/exec/nodeProgress';
import { exactNodeFilters } from '../../src/core/exec/rexecApi';
import { compareRexecKeys, jobDir, jobKey, parseExitCode, parseRexecKey, retryJobKey, retryPrefix, RexecKey, rexecEventPayload } from '../../src/core/exec/rexecKeys';
import { validateFireRequest } from '../../src/core/consul/events';
import { MAX_JOB_BYTES, planJob, RemoteExecSpec, specProblems } from '../../src/core/exec/rexecSpec';
import { commandLine, shellQuote } from '../../src/core/exec/shellQuote';

const SID = 'f33f53f4-33d5-12b4-53f1-00e25efb62ea';
const DIR = jobDir(SID);

describe('remote exec', () => {
  describe('shell quoting', () => {
    it('leaves plain words alone', () => {
      for (const word of ['hi', '/etc/hosts', 'a=b', 'v1.2.3', '-n', 'user@host:22', '50%']) assert.equal(shellQuote(word), word);
    });

    it('single-quotes anything a shell would touch, and escapes quotes inside', () => {
      assert.equal(shellQuote(''), "''");
      assert.equal(shellQuote('a b'), "'a b'");
      assert.equal(shellQuote('$HOME'), "'$HOME'");
      assert.equal(shellQuote("it's"), "'it'\\''s'");
      assert.equal(shellQuote('~'), "'~'");
    });

    it('refuses a NUL, which no process can receive', () => {
      assert.throws(() => shellQuote('a\0b'), RangeError);
    });

    it('gets every argument through a real shell as one unexpanded word', () => {
      const args = ['a b', "it's", '$HOME', '`id`', '$(id)', '*', '', 'x\ny', '\\', '"q"', ';exit 1', '#c', '-e', 'é ✓'];
      const out = execFileSync('/bin/sh', ['-c', commandLine("printf '[%s]\\n'", args)], { encoding: 'utf8' });
      assert.equal(out, args.map((a) => `[${a}]\n`).join(''));
    });

    it('returns the command unchanged without arguments', () => {
      assert.equal(commandLine('echo hi; exit 3'), 'echo hi; exit 3');
      assert.equal(commandLine('echo', []), 'echo');
    });
  });

  describe('keys', () => {
    it('names the job and the event payload as agents expect', () => {
      assert.equal(jobKey(SID), `_rexec/${SID}/job`);
      assert.deepEqual(JSON.parse(rexecEventPayload(SID)), { Prefix: '_rexec', Session: SID });
    });

    it('parses ack, exit and numbered output per node', () => {
      assert.deepEqual(parseRexecKey(DIR, `${DIR}web-1/ack`), { kind: 'ack', node: 'web-1', key: `${DIR}web-1/ack` });
      assert.deepEqual(parseRexecKey(DIR, `${DIR}db-1/exit`), { kind: 'exit', node: 'db-1', key: `${DIR}db-1/exit` });
      assert.deepEqual(parseRexecKey(DIR, `${DIR}db-1/out/0001f`), { kind: 'out', node: 'db-1', seq: 31, key: `${DIR}db-1/out/0001f` });
      assert.equal((parseRexecKey(DIR, `${DIR}db-1/out/100000`) as { seq: number }).seq, 0x100000);
    });

    it('reads the answers to a re-announcement (its own job key in the job directory) as the same nodes', () => {
      const prefix = retryPrefix(SID, 2);
      assert.equal(retryJobKey(SID, 2), `${DIR}retry-2/${SID}/job`);
      assert.deepEqual(JSON.parse(rexecEventPayload(SID, prefix)), { Prefix: `${DIR}retry-2`, Session: SID });
      assert.deepEqual(parseRexecKey(DIR, `${prefix}/${SID}/web-1/ack`), { kind: 'ack', node: 'web-1', key: `${prefix}/${SID}/web-1/ack` });
      assert.deepEqual(parseRexecKey(DIR, `${prefix}/${SID}/db-1/out/00002`), { kind: 'out', node: 'db-1', seq: 2, key: `${prefix}/${SID}/db-1/out/00002` });
      assert.equal(parseRexecKey(DIR, retryJobKey(SID, 2)), undefined);
      // A node that is itself called retry-1 is not taken for a re-announcement.
      assert.equal(parseRexecKey(DIR, `${DIR}retry-1/out/00000`)?.node, 'retry-1');
      assert.equal(parseRexecKey(DIR, `${DIR}retry-1/ack`)?.node, 'retry-1');
    });

    it('re-announces to exactly the named nodes, split to fit the event size', () => {
      const payload = rexecEventPayload(SID, retryPrefix(SID, 1));
      const [one] = exactNodeFilters(['web-1', 'db.1'], payload, {});
      assert.equal(one, '^(?:web-1|db\\.1)$');
      const re = new RegExp(one);
      assert.ok(re.test('db.1') && re.test('web-1') && !re.test('dbx1') && !re.test('web-10'));
      const many = Array.from({ length: 60 }, (_, i) => `node-${String(i).padStart(3, '0')}.example.internal`);
      const filters = exactNodeFilters(many, payload, { service: 'web' });
      assert.ok(filters.length > 1);
      for (const node of filters) assert.deepEqual(validateFireRequest({ name: '_rexec', payload, node, service: 'web' }), [], node);
      assert.deepEqual(many.filter((n) => filters.some((f) => new RegExp(f).test(n))), many);
    });

    it('keeps a node name with slashes whole', () => {
      assert.equal(parseRexecKey(DIR, `${DIR}rack/a/out/00000`)?.node, 'rack/a');
      assert.equal(parseRexecKey(DIR, `${DIR}n/ack/exit`)?.node, 'n/ack');
    });

    it('ignores the job key, other sessions and keys no agent writes', () => {
      for (const key of [jobKey(SID), `_rexec/other/web-1/ack`, `${DIR}web-1/out/xyz`, `${DIR}web-1/out/`, `${DIR}web-1/out/123456789`, `${DIR}ack`, `${DIR}web-1/other`, `${DIR}web-1/out/0000A`]) {
        assert.equal(parseRexecKey(DIR, key), undefined, key);
      }
    });

    it('orders a listing as it must be applied: ack, output by number, exit', () => {
      // Consul's listing: sorted as text, so `exit` comes before `out/*`, and past
      // 0xfffff six hex digits sort between five-digit ones.
      const listing = ['db-1/ack', 'db-1/exit', 'db-1/out/00000', 'db-1/out/100000', 'db-1/out/fffff', 'db-1/out/0000a', 'a/exit', 'a/out/00000'];
      const sorted = listing
        .map((k) => parseRexecKey(DIR, DIR + k))
        .filter((k): k is RexecKey => k !== undefined)
        .sort(compareRexecKeys)
        .map((k) => k.key.slice(DIR.length));
      assert.deepEqual(sorted, ['a/out/00000', 'a/exit', 'db-1/ack', 'db-1/out/00000', 'db-1/out/0000a', 'db-1/out/fffff', 'db-1/out/100000', 'db-1/exit']);
    });
  });

  describe('exit values', () => {
    it('reads decimal codes, including the -1 of a signalled process', () => {
      for (const [text, code] of [['0', 0], ['3', 3], ['255', 255], ['-1', -1], ['2147483647', 2147483647]] as const) {
        assert.deepEqual(parseExitCode(Buffer.from(text)), { ok: true, code });
      }
    });

    it('reports anything else with a short, safe preview', () => {
      for (const raw of [undefined, Buffer.alloc(0), Buffer.from('3\n'), Buffer.from('abc'), Buffer.from('1e3'), Buffer.from('99999999999'), Buffer.from('2147483648'), Buffer.from('x'.repeat(1000))]) {
        const parsed = parseExitCode(raw);
        assert.equal(parsed.ok, false, String(raw));
        if (!parsed.ok) assert.ok(parsed.problem.length < 80, parsed.problem);
      }
      const bad = parseExitCode(Buffer.from('\u001b[31mboom'));
      assert.ok(!bad.ok && bad.problem.includes('\\u001b'));
    });
  });

  describe('spec', () => {
    const base: RemoteExecSpec = { command: 'uptime', targets: ['web-1'], timeoutMs: 5000 };

    it('builds the job with Wait in nanoseconds and quoted arguments', () => {
      const plan = planJob({ ...base, command: 'echo', args: ['a b'], heartbeatMs: 500, node: '^web' });
      assert.deepEqual(JSON.parse(plan.job), { Command: "echo 'a b'", Wait: 500_000_000 });
      assert.deepEqual(plan.filters, { node: '^web', service: undefined, tag: undefined });
      assert.equal(plan.ackGraceMs, 3000);
    });

    it('sends a script as base64 bytes', () => {
      const script = '#!/bin/sh\necho "é"\n';
      const job = JSON.parse(planJob({ ...base, command: undefined, script }).job) as { Script: string; Command?: string };
      assert.equal(Buffer.from(job.Script, 'base64').toString('utf8'), script);
      assert.equal(job.Command, undefined);
    });

    it('drops duplicate targets', () => {
      assert.deepEqual(planJob({ ...base, targets: ['a', 'b', 'a'] }).targets, ['a', 'b']);
    });

    it('names every problem at once', () => {
      const problems = specProblems({ command: 'x', script: 'y', targets: [], timeoutMs: 0, heartbeatMs: 0, tag: 'v1' });
      for (const re of [/either a command or a script/, /no target/, /timeout/, /heartbeat/, /tag filter needs a service/]) {
        assert.ok(problems.some((p) => re.test(p)), `${re} in ${JSON.stringify(problems)}`);
      }
    });

    it('refuses arguments for a script, saying why', () => {
      assert.throws(
        () => planJob({ ...base, command: undefined, script: 'echo $1', args: ['x'] }),
        (e: unknown) => e instanceof RemoteExecSpecError && /without arguments/.test(e.message),
      );
      assert.doesNotThrow(() => planJob({ ...base, command: undefined, script: 'echo', args: [] }));
    });

    it('refuses empty commands, NULs and invalid filters', () => {
      assert.ok(specProblems({ ...base, command: '  ' }).length);
      assert.ok(specProblems({ ...base, args: ['a\0'] }).length);
      assert.ok(specProblems({ ...base, node: '(' }).some((p) => /not a valid regular expression/.test(p)));
      assert.ok(specProblems({ ...base, node: 'n'.repeat(400) }).some((p) => /over Consul's limit/.test(p)));
    });

    it('refuses a job larger than one KV value', () => {
      assert.throws(() => planJob({ ...base, command: undefined, script: 'x'.repeat(400 * 1024) }), /at most 512 KB/);
      assert.doesNotThrow(() => planJob({ ...base, command: undefined, script: 'x'.repeat(Math.floor((MAX_JOB_BYTES * 3) / 4) - 100) }));
    });
  });

  describe('node progress', () => {
    function recorder() {
      const log: string[] = [];
      const node = new NodeProgress('web-1', {
        ack: (n) => log.push(`ack ${n}`),
        output: (n, chunk) => log.push(`out ${chunk.toString()}`),
        exit: (n, code) => log.push(`exit ${code}`),
      });
      return { node, log };
    }

    it('acks once, whichever key shows up first', () => {
      const { node, log } = recorder();
      node.seen(10);
      node.seen(20);
      assert.deepEqual(log, ['ack web-1']);
      assert.equal(node.ackedAt, 10);
      assert.equal(node.lastSeenAt, 20);
    });

    it('emits chunks in order and once, holding early ones, skipping heartbeats', () => {
      const { node, log } = recorder();
      node.output(1, Buffer.from('b'));
      node.output(0, Buffer.from('a'));
      node.output(0, Buffer.from('a'));
      node.output(2, Buffer.alloc(0));
      node.output(4, Buffer.from('d'));
      node.output(3, Buffer.from('c'));
      node.output(1, Buffer.from('b'));
      assert.deepEqual(log, ['out a', 'out b', 'out c', 'out d']);
    });

    it('ends on exit after all output, with the status the code means', () => {
      const { node, log } = recorder();
      node.seen(1);
      node.output(0, Buffer.from('x'));
      node.exit(Buffer.from('3'), 5);
      node.output(1, Buffer.from('late'));
      assert.deepEqual(log, ['ack web-1', 'out x', 'exit 3']);
      assert.deepEqual(node.result, { node: 'web-1', status: 'error', exitCode: 3, ackedAt: 1, endedAt: 5 });
    });

    it('delivers output held behind a missing chunk before the exit, and says so', () => {
      const { node, log } = recorder();
      node.output(2, Buffer.from('c'));
      node.output(1, Buffer.from('b'));
      node.exit(Buffer.from('0'), 9);
      assert.deepEqual(log, ['out b', 'out c', 'exit 0']);
      assert.equal(node.result?.status, 'success');
      assert.match(node.result?.note ?? '', /missing/);
    });

    it('turns an unreadable exit into an error with a note and no exit event', () => {
      const { node, log } = recorder();
      node.exit(Buffer.from('ok'), 3);
      assert.deepEqual(log, []);
      assert.equal(node.result?.status, 'error');
      assert.equal(node.result?.exitCode, undefined);
      assert.match(node.result?.note ?? '', /"ok" as its exit code/);
    });

    it('keeps the first ending', () => {
      const { node } = recorder();
      node.end('timeout', 7, undefined, 'slow');
      node.exit(Buffer.from('0'), 8);
      node.end('lost', 9);
      assert.deepEqual(node.result, { node: 'web-1', status: 'timeout', endedAt: 7, note: 'slow' });
    });
  });
});
