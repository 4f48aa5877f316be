import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Run } from '../../src/core/runs/model';
import { OutputTail, persistRunOutputs, RunOutputFiles, safeName, TAIL_BYTES } from '../../src/core/runs/outputStore';
import { truncateTail } from '../../src/core/runs/recorder';
import { LOG_LIMIT_BYTES, truncateLog } from '../../src/core/runs/metronomeLayout';
import { RunRegistry } from '../../src/core/runs/registry';
import { lastLines, LineSplitter, sanitizeLine } from '../../src/vscode/monitor/lines';
import { ChefOutputParser } from '../../src/core/chef/outputParser';
import { MAX_LINES_PER_NODE, MonitorSession } from '../../src/vscode/monitor/monitorSession';
import { mulberry32 } from '../support/random';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cco-output-'));
}

function sampleRun(id = 'r1'): Run {
  return new Run({ id, engine: 'adhoc', command: 'x', patterns: [], startedBy: 't', phases: [{ no: 0, task: 'x' }] });
}

describe('bounded run output', () => {
  describe('OutputTail', () => {
    it('keeps everything up to its limit', () => {
      const t = new OutputTail(10);
      t.append('abc');
      t.append('defg');
      assert.equal(t.text(), 'abcdefg');
      assert.equal(t.dropped, 0);
    });

    it('keeps exactly the last bytes, whatever the chunking, and counts what it dropped', () => {
      const random = mulberry32(7);
      const words = ['a', 'bb', 'ccc\n', 'wörld ', '€', '😀', 'x'.repeat(40)];
      for (let round = 0; round < 200; round++) {
        const limit = 1 + Math.floor(random() * 80);
        const t = new OutputTail(limit);
        let all = '';
        for (let i = 0; i < 30; i++) {
          const w = words[Math.floor(random() * words.length)];
          all += w;
          t.append(w);
          if (random() < 0.3) t.text(); // reading in between must not change the result
        }
        const whole = Buffer.from(all);
        const kept = Buffer.from(t.text());
        assert.ok(kept.length <= limit, `at most ${limit} bytes, got ${kept.length}`);
        // What is kept is the end of the stream, cut at a character boundary at most 3 bytes into the limit.
        assert.ok(whole.subarray(whole.length - kept.length).equals(kept), `${JSON.stringify(t.text())} ends ${JSON.stringify(all)}`);
        assert.ok(kept.length >= Math.min(whole.length, limit) - 3);
        assert.equal(t.dropped + kept.length, whole.length, 'dropped + kept = everything');
        assert.equal(t.size, kept.length);
      }
    });

    it('holds a bounded amount however much is appended', () => {
      const t = new OutputTail();
      const line = 'y'.repeat(99) + '\n';
      for (let i = 0; i < 30_000; i++) t.append(line); // 3 MB
      assert.equal(Buffer.byteLength(t.text()), TAIL_BYTES);
      assert.equal(t.dropped, 3_000_000 - TAIL_BYTES);
    });
  });

  describe('Run with a bounded tail', () => {
    it('outputOf is unchanged below the limit and is the tail above it', () => {
      const run = sampleRun();
      run.startPhase(0, ['n1']);
      run.appendOutput(0, 'n1', 'hello ');
      run.appendOutput(0, 'n1', 'wörld');
      assert.equal(run.outputOf(0, 'n1'), 'hello wörld');
      const block = `${'z'.repeat(1023)}\n`;
      for (let i = 0; i < 2048; i++) run.appendOutput(0, 'n1', block); // 2 MiB more
      const { text, dropped } = run.outputTail(0, 'n1');
      assert.equal(Buffer.byteLength(text), TAIL_BYTES);
      assert.equal(dropped, 12 + 2 * 1024 * 1024 - TAIL_BYTES);
      assert.equal(run.outputOf(0, 'n1'), text);
      assert.equal(run.snapshot().phases[0].nodes[0].outputBytes, 12 + 2 * 1024 * 1024, 'the byte count covers everything');
    });

    it('the KV copy of a cut tail names every byte cut, and is the same as from the whole output', () => {
      const run = sampleRun();
      run.startPhase(0, ['n1']);
      let all = '';
      for (let i = 0; i < 30_000; i++) {
        const line = `line ${i} ${'q'.repeat(i % 50)}\n`;
        all += line;
        run.appendOutput(0, 'n1', line);
      }
      const { text, dropped } = run.outputTail(0, 'n1');
      assert.ok(dropped > 0);
      assert.equal(truncateTail(text, dropped), truncateLog(all));
      assert.ok(Buffer.byteLength(truncateTail(text, dropped)) <= LOG_LIMIT_BYTES + 8);
    });
  });

  describe('RunOutputFiles', () => {
    it('writes each node whole, past the in-memory tail, and starts a node over on a retry', async () => {
      const dir = tempDir();
      const files = new RunOutputFiles(dir);
      const registry = new RunRegistry();
      const sub = persistRunOutputs(registry, files);
      const run = sampleRun('run/../../evil');
      registry.add(run);
      run.startPhase(0, ['a', '../b']);
      let all = '';
      for (let i = 0; i < 25_000; i++) {
        const line = `${i}: ${'w'.repeat(60)}\n`;
        all += line;
        run.appendOutput(0, 'a', line);
        if (i % 1000 === 0) run.appendOutput(0, '../b', `b${i}\n`);
      }
      assert.ok(Buffer.byteLength(all) > 1.5 * TAIL_BYTES);
      assert.equal(await files.read('run/../../evil', 0, 'a'), all);
      assert.match((await files.read('run/../../evil', 0, '../b'))!, /^b0\nb1000\n/);
      // Untrusted names stay inside the directory.
      for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) assert.ok(!f.split(path.sep).some((p) => p === '..'), f);
      assert.ok(files.pathOf('run/../../evil', 0, '../b').startsWith(dir + path.sep));
      run.startPhase(0, ['a'], true);
      run.appendOutput(0, 'a', 'again\n');
      assert.equal(await files.read('run/../../evil', 0, 'a'), 'again\n');
      assert.match((await files.read('run/../../evil', 0, '../b'))!, /^b0\n/, 'nodes not retried keep their file');
      assert.equal(await files.read('run/../../evil', 0, 'nobody'), undefined);
      assert.equal(files.error, undefined);
      sub.dispose();
      registry.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('writes what a run already held when it is handed the store late', async () => {
      const dir = tempDir();
      const files = new RunOutputFiles(dir);
      const run = sampleRun();
      run.startPhase(0, ['n']);
      run.appendOutput(0, 'n', 'early\n');
      run.persistOutputTo(files);
      run.persistOutputTo(files);
      run.appendOutput(0, 'n', 'late\n');
      assert.equal(await files.read('r1', 0, 'n'), 'early\nlate\n');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('prunes the oldest runs beyond the count and the size, never one being written', async () => {
      const dir = tempDir();
      const write = (id: string, bytes: number, ageS: number) => {
        const f = path.join(dir, safeName(id), '0', 'n.log');
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, 'x'.repeat(bytes));
        const t = new Date(Date.now() - ageS * 1000);
        fs.utimesSync(f, t, t);
      };
      for (let i = 0; i < 8; i++) write(`old${i}`, 100, 100 - i); // old7 is the newest
      const files = new RunOutputFiles(dir, { keepRuns: 5, maxBytes: 350 });
      files.append('live', 0, 'n', 'y'.repeat(50)); // written now: kept, counts as one
      await files.flush();
      await files.prune();
      const left = fs.readdirSync(dir).sort();
      // 5 runs at most (live + 4), and at most 350 bytes among the old ones: old7, old6, old5.
      assert.deepEqual(left, ['live', 'old5', 'old6', 'old7']);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps going, and says why, when the directory cannot be written', async () => {
      const blocker = path.join(tempDir(), 'file');
      fs.writeFileSync(blocker, '');
      const files = new RunOutputFiles(path.join(blocker, 'sub'));
      files.append('r', 0, 'n', 'text');
      await files.flush();
      assert.ok(files.error);
      assert.equal(await files.read('r', 0, 'n'), undefined);
    });
  });

  it('safeName never yields a path separator or a dot name', () => {
    for (const n of ['.', '..', 'a/b', 'a\\b', '', '<img src=x onerror=alert(1)>', 'web-1.example.com']) {
      const s = safeName(n);
      assert.ok(!/[/\\]/.test(s) && s !== '.' && s !== '..' && s.length > 0, s);
    }
  });
});

describe('monitor lines and session', () => {
  it('keeps SGR colours and drops every other escape and control', () => {
    assert.equal(sanitizeLine('\u001b[31mred\u001b[0m'), '\u001b[31mred\u001b[0m');
    assert.equal(sanitizeLine('\u001b]8;;javascript:alert(1)\u001b\\link\u001b]8;;\u001b\\'), 'link');
    assert.equal(sanitizeLine('a\u001b[2Jb\u001b[10;1Hc\u001bcd'), 'abcd');
    assert.equal(sanitizeLine('t\u001b]0;title\u0007x\u001b]52;c;aGk=\u0007y'), 'txy');
    assert.equal(sanitizeLine('bell\u0007 nul\u0000 del\u007f c1\u009b31m'), 'bell nul del c1');
    assert.equal(sanitizeLine('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>', 'markup is text to a terminal: kept as is');
    assert.equal(sanitizeLine('\u001b[38;5;196mx\u001b[?25l'), '\u001b[38;5;196mx');
  });

  it('splits streams cut anywhere into the same lines, CRLF and progress CRs included', () => {
    const text = 'one\r\ntwo\nprogress 10%\rprogress 100%\nlast';
    for (let cut = 0; cut <= text.length; cut++) {
      const s = new LineSplitter();
      assert.deepEqual([...s.push(text.slice(0, cut)), ...s.push(text.slice(cut)), ...s.end()], ['one', 'two', 'progress 100%', 'last']);
    }
  });

  it('lastLines numbers the last lines of a block from its start', () => {
    const text = Array.from({ length: 200_000 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const { lines, cut } = lastLines(text, 0, 'n', 3);
    assert.equal(cut, true);
    assert.deepEqual(lines.map((l) => [l.no, l.text]), [[199_998, 'line 199998'], [199_999, 'line 199999'], [200_000, 'line 200000']]);
    assert.deepEqual(lastLines('a\nb', 0, 'n', 5).lines.map((l) => [l.no, l.text]), [[1, 'a'], [2, 'b']]);
    assert.deepEqual(lastLines('\n\nc\n', 0, 'n', 5).lines.map((l) => l.text), ['', '', 'c']);
    assert.deepEqual(lastLines('', 0, 'n', 5).lines, []);
  });

  it('a session batches what happened since the last pull, bounded, and drops a retried node', () => {
    const run = sampleRun();
    const session = new MonitorSession('r1');
    let queued = 0;
    session.onQueued = () => queued++;
    run.startPhase(0, ['a']);
    session.snapshot(run.snapshot());
    session.output(0, 'a', 'x1\nx');
    session.output(0, 'a', '2\n');
    const batch = session.takeBatch()!;
    assert.deepEqual(batch.lines.map((l) => [l.no, l.text]), [[1, 'x1'], [2, 'x2']]);
    assert.ok(batch.run && queued > 0);
    assert.equal(session.takeBatch(), undefined, 'nothing new, no message');
    for (let i = 0; i < MAX_LINES_PER_NODE * 2; i++) session.output(0, 'a', `l${i}\n`);
    const init = session.initial();
    assert.ok(init.lines.length <= MAX_LINES_PER_NODE * 1.25, `${init.lines.length} lines held`);
    assert.deepEqual(init.cut, ['0/a']);
    assert.equal(init.lines[init.lines.length - 1].text, `l${MAX_LINES_PER_NODE * 2 - 1}`);
    run.startPhase(0, ['a'], true); // a retry: the node starts over
    session.snapshot(run.snapshot());
    const reset = session.takeBatch()!;
    assert.deepEqual(reset.reset, ['0/a']);
    assert.equal(session.initial().lines.length, 0);
  });

  it('a session following a live run looks only at the nodes a change touched and copies the run once per batch', () => {
    const run = sampleRun();
    const session = new MonitorSession('r1');
    run.onDidChange((c) => session.change(run, c));
    run.onOutput((c) => session.output(c.phase, c.node, c.text));
    let copies = 0;
    const snapshot = run.snapshot.bind(run);
    run.snapshot = () => (copies++, snapshot());
    run.startPhase(0, ['a', 'b']);
    run.appendOutput(0, 'a', 'one\npart');
    run.nodeStarted(0, 'a');
    run.nodeStarted(0, 'b');
    assert.equal(copies, 0, 'no copy per change');
    const first = session.takeBatch()!;
    assert.equal(copies, 1);
    assert.deepEqual(first.run?.phases[0].nodes.map((n) => n.status), ['running', 'running']);
    assert.deepEqual(first.lines.map((l) => l.text), ['one']);
    run.nodeEnded(0, 'a', 'success', 0); // its partial last line is a line now
    const second = session.takeBatch()!;
    assert.deepEqual(second.lines.map((l) => l.text), ['part']);
    assert.equal(second.run?.phases[0].nodes[0].status, 'success');
    run.startPhase(0, ['a'], true); // a retry of a: its output goes
    assert.deepEqual(session.takeBatch()!.reset, ['0/a']);
    assert.equal(session.run?.phases[0].nodes.find((n) => n.node === 'a')?.status, 'pending');
  });
});

describe('a stream without newlines (a binary dump, a progress bar)', () => {
  it('keeps a bounded partial line in the monitor and splits only what arrives', () => {
    const split = new LineSplitter();
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 200; i++) assert.deepEqual(split.push(chunk), []);
    assert.equal(split.pending.length, 16 * 1024);
    const lines = split.push('tail\nnext');
    assert.equal(lines.length, 1);
    assert.ok(lines[0].endsWith('tail') && lines[0].length <= 16 * 1024);
    assert.equal(split.pending, 'next');
  });

  it('lets the Chef parser read a run after 13 MB on one line, and cuts that line', () => {
    const parser = new ChefOutputParser();
    for (let i = 0; i < 200; i++) parser.push('y'.repeat(64 * 1024));
    parser.push('\nStarting Chef Infra Client, version 18.2.7\nChef Infra Client finished, 0/3 resources updated in 02 seconds\n');
    parser.end();
    assert.equal(parser.report.status, 'success');
    assert.equal(parser.report.totalResources, 3);
    assert.ok(parser.report.plainLines.every((l) => l.length <= 64 * 1024));
  });
});
