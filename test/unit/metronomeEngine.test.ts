import * as assert from 'node:assert/strict';
import {
  metronomeOutcome,
  noNodeSentence,
  orphanSentence,
  parseEventQueue,
  parseProgressQueue,
  PICKED_UP_QUESTION,
  queueLoss,
  resultKeyPart,
  stallSentence,
  unknownNodeSentence,
  wipeSentence,
} from '../../src/core/runs/metronomeEngine';
import type { PhaseStatus } from '../../src/core/runs/model';

const ID = '5d2bd6c6-1a8e-e1e4-c1d4-4d1b0b0c8a10';

describe('metronome engine: reading metronome\'s queues', () => {
  it('reads the progress queue as metronome marshals it, and as older builds did', () => {
    // Go re-marshals the array through maps: keys come back sorted.
    const now = `[{"id":"${ID}","no":0,"pattern":"app","service":"db","skippable":false,"tag":"","task":"setup_db"},{"id":"${ID}","no":1,"pattern":"app","service":"web","skippable":true,"tag":"v1","task":"setup_web"}]`;
    assert.deepEqual(parseProgressQueue(now), {
      phases: [
        { id: ID, no: 0, pattern: 'app', task: 'setup_db', service: 'db', tag: '', skippable: false },
        { id: ID, no: 1, pattern: 'app', task: 'setup_web', service: 'web', tag: 'v1', skippable: true },
      ],
      problem: undefined,
    });
    const old = JSON.stringify([{ Pattern: 'app', ID, No: 2, Service: '', Tag: '', Task: 'all' }]);
    assert.deepEqual(parseProgressQueue(old).phases, [{ id: ID, no: 2, pattern: 'app', task: 'all', service: '', tag: '' }]);
  });

  it('takes a missing, empty or deleted queue as empty, without a problem', () => {
    for (const raw of [undefined, '', '  ', '[]', 'null']) assert.deepEqual(parseProgressQueue(raw), { phases: [], problem: undefined });
  });

  it('names the likely cause when metronome\'s unescaped names break the JSON', () => {
    const broken = `[{ "pattern": "app","id": "${ID}","no": 0,"service": "db","tag": "","task": "say "hi"","skippable": false }]`;
    const { phases, problem } = parseProgressQueue(broken);
    assert.deepEqual(phases, []);
    assert.match(problem ?? '', /^metronome\/progress_task_queue is not valid JSON \(.+\): metronome writes task, service and tag names unescaped/);
  });

  it('says what the queue holds when it is not an array, and skips entries that are not tasks', () => {
    assert.match(parseProgressQueue('{"id":"x"}').problem ?? '', /holds an object, not the JSON array/);
    assert.match(parseProgressQueue('42').problem ?? '', /holds a number/);
    const mixed = parseProgressQueue(JSON.stringify([{ id: ID, no: 0, task: 't' }, { id: ID, no: 1.5 }, { no: 2 }, 'x', null, { id: ID, no: -1 }]));
    assert.deepEqual(mixed.phases.map((p) => p.no), [0]);
    assert.match(mixed.problem ?? '', /^5 of 6 entries/);
  });

  it('reads the event queue of Consul user events', () => {
    const raw = JSON.stringify([
      { ID: 'a', Name: 'deploy', Payload: 'dG9rZW4=', NodeFilter: '', ServiceFilter: '', TagFilter: '', Version: 1, LTime: 7 },
      { ID: ID, Name: 'setup', Payload: null, Version: 1, LTime: 8 },
    ]);
    assert.deepEqual(parseEventQueue(raw), { events: [{ id: 'a', name: 'deploy' }, { id: ID, name: 'setup' }], problem: undefined });
    assert.match(parseEventQueue('[{"Name":"x"}]').problem ?? '', /1 of 1 entries .* not Consul user events/);
    assert.match(parseEventQueue('not json').problem ?? '', /metronome\/event_queue is not valid JSON/);
  });

  it('tells the keys under metronome/results/<id> apart and ignores anything else', () => {
    const base = `metronome/results/${ID}`;
    assert.deepEqual(resultKeyPart(base, ID), { kind: 'event' });
    assert.deepEqual(resultKeyPart(`${base}/0`, ID), { kind: 'phase', no: 0 });
    assert.deepEqual(resultKeyPart(`${base}/12/web-1`, ID), { kind: 'node', no: 12, node: 'web-1' });
    assert.deepEqual(resultKeyPart(`${base}/1/web-1.example.com/log`, ID), { kind: 'log', no: 1, node: 'web-1.example.com' });
    for (const other of [`${base}x`, `${base}/`, `${base}/a`, `${base}/1.5`, `${base}/-1`, `${base}/1//log`, `${base}/1/n/other`, `${base}/1/n/log/x`, 'metronome/results/other/0']) {
      assert.equal(resultKeyPart(other, ID), undefined, other);
    }
  });

  it('knows metronome\'s status words and nothing else', () => {
    for (const s of ['inprogress', 'success', 'error', 'timeout', 'skip']) assert.equal(metronomeOutcome(s), s);
    for (const s of ['', 'Success', 'failed', 0, null, undefined, {}]) assert.equal(metronomeOutcome(s), undefined);
  });
});

describe('metronome engine: diagnosis', () => {
  const finals = (entries: Array<[number, PhaseStatus]>) => new Map(entries);

  it('sees a wipe: phases left the queue unrun after a phase ended in error', () => {
    assert.deepEqual(queueLoss({ seen: [0, 1, 2, 3], queued: new Set(), finals: finals([[0, 'success'], [1, 'error']]) }), { lost: [2, 3], failed: { no: 1, status: 'error' } });
    assert.deepEqual(queueLoss({ seen: [0, 1, 2], queued: new Set(), finals: finals([[0, 'timeout']]) }).failed, { no: 0, status: 'timeout' });
  });

  it('sees nothing lost when phases left the queue as they finished', () => {
    assert.deepEqual(queueLoss({ seen: [0, 1, 2], queued: new Set([2]), finals: finals([[0, 'success'], [1, 'skipped']]) }), { lost: [] });
  });

  it('sees phases lost without a failure (the queue cleared by hand, or a result not written yet)', () => {
    assert.deepEqual(queueLoss({ seen: [2, 0, 1], queued: new Set(), finals: finals([[0, 'success']]) }), { lost: [1, 2] });
  });

  it('says why the event was not picked up, in the words the user needs', () => {
    const queued = stallSentence({ timeoutMs: 120_000, stage: 'queued', eventQueued: { position: 0, length: 1 } });
    assert.ok(queued.startsWith(`No ${PICKED_UP_QUESTION.slice(3)}`), queued);
    assert.match(queued, /has been in metronome\/event_queue for over 120 s\.$/);
    const never = stallSentence({ timeoutMs: 1500, stage: 'queued' });
    assert.match(never, /are the agents running and is the event queue being consumed\? In 1\.5 s the event did not even reach metronome\/event_queue/);
    const behind = stallSentence({ timeoutMs: 120_000, stage: 'queued', eventQueued: { position: 1, length: 2 }, blockedBy: { id: 'other', no: 2, task: 'deploy_app' } });
    assert.equal(behind, 'Not started after 120 s: the event waits (position 2 of 2 in metronome/event_queue) behind event other, whose phase 3 (deploy_app) is still in metronome\'s progress queue.');
  });

  it('says which nodes a queued head phase waits for', () => {
    const s = stallSentence({ timeoutMs: 120_000, stage: 'phase', phase: { no: 1, task: 'web', service: 'web', targets: ['web-1', 'web-2'] } });
    assert.equal(
      s,
      'Phase 2 (web) has not started within 120 s of reaching the head of metronome\'s queue: none of its nodes ("web-1", "web-2") wrote a result; are the metronome agents on them running, and is each agent\'s hostname its Consul node name?',
    );
    assert.match(stallSentence({ timeoutMs: 1000, stage: 'phase', phase: { no: 0, task: 't', targets: [] } }), /no node wrote a result/);
  });

  it('says what metronome will do with a phase that matches no node', () => {
    const phase = { no: 2, task: 'lb', service: 'haproxy', tag: 'edge' };
    assert.equal(
      noNodeSentence(phase, false),
      'Phase 3 (lb) matches no node in the Consul catalog (service "haproxy" with tag "edge"): it is not skippable, so metronome will hold its queue on it for 120 s, then end it timeout and stop the event.',
    );
    assert.match(noNodeSentence({ no: 0, task: 'x', service: 'db' }, true), /\(service "db"\): metronome will skip it\.$/);
  });

  it('names the unknown node and the catalog nodes metronome waits for', () => {
    const s = unknownNodeSentence({ no: 0, task: 'web' }, 'web-1.example.com', ['web-1']);
    assert.match(s, /^Phase 1 \(web\) has a result under node "web-1\.example\.com", which is not a node in the Consul catalog: .*hostname/);
    assert.match(s, /waits for a result under "web-1" instead, so the phase will not finish before its 120 s start timeout \(3600 s once started\)\.$/);
    assert.doesNotMatch(unknownNodeSentence({ no: 0, task: 'web' }, 'h', []), /waits/);
  });

  it('says a wipe in one sentence', () => {
    assert.equal(wipeSentence({ no: 1, task: 'web', status: 'error' }, [{ no: 2, task: 'lb' }]), 'metronome cleared its progress queue after phase 2 (web) ended error, so phase 3 (lb) never ran.');
    assert.match(wipeSentence({ no: 0, task: 'db', status: 'timeout' }, [{ no: 1, task: 'a' }, { no: 2, task: 'b' }]), /ended timeout, so phases 2, 3 never ran\.$/);
  });

  it('calls a run orphaned only when metronome holds none of it and its result is still open', () => {
    const base = { eventResult: 'inprogress' as const, queuedPhases: 0, anyPhaseResult: true, everQueued: true };
    assert.match(orphanSentence(base) ?? '', /no longer holds any phase of this event/);
    assert.match(orphanSentence({ ...base, anyPhaseResult: false, everQueued: false }) ?? '', /queued no phase for it/);
    assert.equal(orphanSentence({ ...base, queuedPhases: 1 }), undefined);
    assert.equal(orphanSentence({ ...base, eventResult: 'missing' }), undefined);
    assert.equal(orphanSentence({ ...base, eventResult: 'success' }), undefined);
  });
});
