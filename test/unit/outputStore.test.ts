import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Run } from '../../src/core/runs/model';
import { OutputTail, persistRunOutputs, RunOutputFiles, safeName, TAIL_BYTES } from '../../src/core/runs/outputStore';
import { truncateTail } from '../../src/core/runs/recorder';
import { LOG_LIMIT_BYTES, truncateLog } from '../../src/core/runs/metronomeLayout';
import { RunRegistry } from '../../src/core/runs/registry';
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
