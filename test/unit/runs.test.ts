import * as assert from 'node:assert/strict';
import { phaseFilters } from '../../src/core/runs/execEngine';
import { phaseStatusFromNodes, Run, RunChange, touchedNodes } from '../../src/core/runs/model';
import { KEEP_FINISHED_RUNS, RunRegistry } from '../../src/core/runs/registry';
import {
  eventResultRecord,
  metronomeStatus,
  nodeFromRecord,
  nodeResultRecord,
  phaseFromRecord,
  runFromRecord,
  taskResultRecord,
  truncateLog,
} from '../../src/core/runs/metronomeLayout';

function sampleRun(): Run {
  return new Run({
    id: 'r1',
    engine: 'exec',
    event: 'deploy',
    patterns: ['app'],
    startedBy: 'alice',
    phases: [
      { no: 0, task: 'db', service: 'db', pattern: 'app' },
      { no: 1, task: 'web', service: 'web', tag: 'v1', pattern: 'app' },
    ],
  });
}

describe('run model', () => {
  it('fills phases, nodes and output, and hands out copies', () => {
    const run = sampleRun();
    const seen: RunChange[] = [];
    run.onDidChange((c) => seen.push(c));
    run.start();
    run.startPhase(0, ['db-1']);
    run.nodeStarted(0, 'db-1');
    run.appendOutput(0, 'db-1', 'hello ');
    run.appendOutput(0, 'db-1', 'wörld');
    run.nodeEnded(0, 'db-1', 'success', 0);
    run.endPhase(0, 'success');
    const snap = run.snapshot();
    assert.equal(snap.phases[0].nodes[0].outputBytes, 12);
    assert.equal(run.outputOf(0, 'db-1'), 'hello wörld');
    snap.phases[0].status = 'error';
    assert.equal(run.snapshot().phases[0].status, 'success', 'a snapshot is a copy');
    assert.ok(seen.length >= 5);
  });

  it('adds nodes that answer without being expected', () => {
    const run = sampleRun();
    run.startPhase(1, ['web-1']);
    run.nodeStarted(1, 'web-2');
    assert.deepEqual(run.snapshot().phases[1].nodes.map((n) => n.node), ['web-1', 'web-2']);
  });

  it('marks phases not reached when the run ends early', () => {
    const run = sampleRun();
    run.start();
    run.startPhase(0, ['db-1']);
    run.nodeEnded(0, 'db-1', 'error', 2);
    run.endPhase(0, 'error');
    run.end('error', 'phase 0 failed');
    const s = run.snapshot();
    assert.deepEqual(s.phases.map((p) => p.status), ['error', 'cancelled']);
    assert.equal(s.status, 'error');
    assert.ok(s.endedAt);
  });

  it('emits what changed, not the run: node changes carry a copy of the node and the fields that moved', () => {
    const run = sampleRun();
    const seen: RunChange[] = [];
    run.onDidChange((c) => seen.push(c));
    run.start();
    run.startPhase(0, ['db-1', 'db-2']);
    run.nodeStarted(0, 'db-1');
    run.appendOutput(0, 'db-1', 'out');
    run.nodeEnded(0, 'db-1', 'error', 3, 'exit 3');
    run.nodeStarted(0, 'db-3');
    run.endPhase(0, 'error');
    run.end('error');
    assert.deepEqual(
      seen.map((c) => [c.kind, c.kind === 'run' ? c.status : c.phase, c.kind === 'node' ? c.node.node : c.kind === 'phase' ? c.nodes : undefined]),
      [
        ['run', 'running', undefined],
        ['phase', 0, true],
        ['node', 0, 'db-1'],
        ['node', 0, 'db-1'],
        ['node', 0, 'db-3'],
        ['phase', 0, false],
        ['run', 'error', undefined],
      ],
    );
    const ended = seen[3] as Extract<RunChange, { kind: 'node' }>;
    assert.deepEqual([...ended.changes].sort(), ['endedAt', 'exitCode', 'note', 'status']);
    assert.equal(ended.node.status, 'error');
    assert.equal(ended.node.outputBytes, 3);
    assert.equal(ended.added, false);
    assert.equal((seen[4] as Extract<RunChange, { kind: 'node' }>).added, true, 'a node the catalog did not list');
    ended.node.status = 'success';
    assert.equal(run.nodeView(0, 'db-1')?.status, 'error', "the event's node is a copy");
    assert.ok(seen.every((c) => c.id === 'r1'));
  });

  it('names the nodes a change touched: one node, a started phase, every node at the end', () => {
    const run = sampleRun();
    const touched: string[][] = [];
    run.onDidChange((c) => touched.push([...touchedNodes(run, c)].map((t) => `${t.phase}/${t.node.node}`)));
    run.startPhase(0, ['db-1', 'db-2']);
    run.nodeStarted(0, 'db-2');
    run.endPhase(0, 'success');
    run.startPhase(1, ['web-1']);
    run.end('cancelled');
    assert.deepEqual(touched, [['0/db-1', '0/db-2'], ['0/db-2'], [], ['1/web-1'], ['0/db-1', '0/db-2', '1/web-1']]);
  });

  it('keeps node lookups right across a retry of some nodes', () => {
    const run = sampleRun();
    run.startPhase(0, ['db-1', 'db-2']);
    run.nodeEnded(0, 'db-1', 'success', 0);
    run.nodeEnded(0, 'db-2', 'error', 1);
    run.startPhase(0, ['db-2'], true);
    assert.equal(run.nodeView(0, 'db-1')?.status, 'success');
    assert.equal(run.nodeView(0, 'db-2')?.status, 'pending');
    run.nodeEnded(0, 'db-2', 'success', 0);
    assert.deepEqual(run.snapshot().phases[0].nodes.map((n) => `${n.node}:${n.status}`), ['db-1:success', 'db-2:success']);
    run.end('success');
    run.reopen(0);
    run.startPhase(0, ['db-3']);
    assert.equal(run.nodeView(0, 'db-1'), undefined);
    assert.equal(run.view().phases[0].nodes.length, 1);
  });

  it('derives a phase status the way metronome does', () => {
    const n = (status: 'success' | 'error' | 'timeout' | 'lost' | 'cancelled') => ({ node: 'x', status, outputBytes: 0 });
    assert.equal(phaseStatusFromNodes([]), 'skipped');
    assert.equal(phaseStatusFromNodes([n('success'), n('timeout')]), 'timeout');
    assert.equal(phaseStatusFromNodes([n('timeout'), n('lost')]), 'error');
    assert.equal(phaseStatusFromNodes([n('success')]), 'success');
  });
});

describe("metronome's KV layout", () => {
  it('writes metronome field names and status words, with ours beside them', () => {
    const run = sampleRun();
    run.start();
    run.startPhase(0, ['db-1']);
    run.nodeEnded(0, 'db-1', 'lost', undefined, 'never answered');
    run.endPhase(0, 'error');
    run.end('error');
    const s = run.snapshot();
    const ev = eventResultRecord(s, 'sess-1');
    assert.deepEqual(Object.keys(ev).slice(0, 5), ['ID', 'Name', 'Status', 'StartedAt', 'FinishedAt']);
    assert.equal(ev.Status, 'error');
    assert.equal(ev.OpsSession, 'sess-1');
    const task = taskResultRecord(s, s.phases[1]);
    // The phase that never started: metronome's error, with Go's zero time for both ends.
    assert.deepEqual([task.EventID, task.No, task.Name, task.Status, task.StartedAt, task.FinishedAt], ['r1', 1, 'web', 'error', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z']);
    // The phase that ran: real times, in order, as the model has them.
    const ran = taskResultRecord(s, s.phases[0]);
    assert.equal(Date.parse(String(ran.StartedAt)), s.phases[0].startedAt);
    assert.equal(Date.parse(String(ran.FinishedAt)), s.phases[0].endedAt);
    assert.ok(s.phases[0].endedAt! >= s.phases[0].startedAt!);
    const node = nodeResultRecord(s, s.phases[0], s.phases[0].nodes[0], 'log text');
    assert.deepEqual([node.Node, node.Status, node.OpsStatus, node.OpsNote, node.Log], ['db-1', 'error', 'lost', 'never answered', 'log text']);
  });

  it('uses Go\'s zero time for what has not ended', () => {
    const run = sampleRun();
    run.start();
    assert.equal(eventResultRecord(run.snapshot()).FinishedAt, '0001-01-01T00:00:00Z');
    assert.equal(eventResultRecord(run.snapshot()).Status, 'inprogress');
  });

  it('maps every status to a metronome word', () => {
    assert.deepEqual(['running', 'success', 'timeout', 'skipped', 'lost', 'cancelled'].map((s) => metronomeStatus(s as never)), ['inprogress', 'success', 'timeout', 'skip', 'error', 'error']);
  });

  it('reads records written by metronome itself', () => {
    const run = runFromRecord({ ID: 'm1', Name: 'configure', Status: 'inprogress', StartedAt: '2015-08-07T15:32:50+09:00', FinishedAt: '0001-01-01T00:00:00Z' }, 'm1');
    assert.deepEqual([run.engine, run.event, run.status, run.endedAt, run.startedBy], ['metronome', 'configure', 'running', undefined, 'metronome']);
    assert.equal(run.startedAt, Date.parse('2015-08-07T06:32:50Z'));
    const phase = phaseFromRecord({ EventID: 'm1', No: 2, Name: 'deploy', Status: 'skip' }, 9);
    assert.deepEqual([phase.no, phase.task, phase.status], [2, 'deploy', 'skipped']);
    // The key names the node; a record claiming another name is only data.
    const node = nodeFromRecord({ Node: 'somebody-else', Status: 'timeout' }, 'web-1');
    assert.deepEqual([node.node, node.status], ['web-1', 'timeout']);
  });

  it('reads garbage without throwing', () => {
    const run = runFromRecord({ ID: 5, Status: ['x'], StartedAt: 'yesterday', OpsPhases: [null, 'a', { No: 'x' }] }, 'fallback');
    assert.equal(run.id, 'fallback');
    assert.equal(run.status, 'error');
    assert.equal(run.startedAt, 0);
    assert.equal(run.phases.length, 1);
  });

  it('keeps the tail of a long log under the limit with a marker', () => {
    const long = 'a'.repeat(1000) + 'é'.repeat(100) + 'END';
    const cut = truncateLog(long, 300);
    assert.ok(Buffer.byteLength(cut) <= 300);
    assert.match(cut, /^\[… \d+ earlier bytes truncated/);
    assert.ok(cut.endsWith('END'));
    assert.ok(!cut.includes('\uFFFD'));
    assert.equal(truncateLog('short', 300), 'short');
  });

  it('cuts a long log as encoding all of it would, though it encodes only the tail', () => {
    // The cut as it was done before: the whole text encoded, its last bytes decoded.
    const reference = (text: string, limit: number) => {
      const bytes = Buffer.from(text, 'utf8');
      if (bytes.length <= limit) return text;
      const marker = `[… ${bytes.length - limit} earlier bytes truncated by chef-consul-ops: Consul values are limited to 512 KiB …]\n`;
      return marker + bytes.subarray(bytes.length - limit + Buffer.byteLength(marker)).toString('utf8').replace(/^\uFFFD+/, '');
    };
    const alphabet = ['a', 'é', '€', '😀', '\n', 'z'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: 100 + (next() % 400) }, () => alphabet[next() % alphabet.length]).join('');
      const limit = 130 + (next() % 300);
      assert.equal(truncateLog(text, limit), reference(text, limit), `text ${JSON.stringify(text)} limit ${limit}`);
    }
  });
});

describe('exec phase filters', () => {
  it('name the IDs of the matching instances, which agents match the service filter against', () => {
    const nodes = [
      { name: 'a', services: [{ service: 'web', id: 'web-1a', tags: ['blue'] }, { service: 'web', id: 'web-1b', tags: ['green'] }] },
      { name: 'b', services: [{ service: 'web', id: 'web', tags: ['blue'] }] },
    ];
    assert.deepEqual(phaseFilters({ service: 'web', tag: 'blue' }, nodes), { service: '^(web-1a|web)$', tag: '^blue$' });
    assert.deepEqual(phaseFilters({ service: 'db' }, nodes), { service: '^(db)$' });
    assert.deepEqual(phaseFilters({}, nodes), {});
  });
});

describe('run registry', () => {
  it('keeps the newest finished runs and forgets older ones', () => {
    const registry = new RunRegistry();
    const runs = Array.from({ length: KEEP_FINISHED_RUNS + 3 }, (_, i) => new Run({ id: `r${i}`, engine: 'adhoc', patterns: [], startedBy: 't', phases: [] }));
    for (const r of runs) {
      registry.add(r);
      r.start();
      r.end('success');
    }
    const live = new Run({ id: 'live', engine: 'adhoc', patterns: [], startedBy: 't', phases: [] });
    registry.add(live);
    live.start();
    assert.equal(registry.all().length, KEEP_FINISHED_RUNS + 1);
    assert.equal(registry.get('r0'), undefined);
    assert.ok(registry.get(`r${KEEP_FINISHED_RUNS + 2}`));
    assert.ok(registry.get('live'));
    assert.equal(registry.cancel('r0'), false);
    registry.dispose();
  });
});
