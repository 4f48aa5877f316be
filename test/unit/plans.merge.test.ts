import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crossPatternDiagnostics, mergeEvents } from '../../src/core/plans/merge';
import type { PatternPlan } from '../../src/core/plans/model';
import { parsePlan } from '../../src/core/plans/parse';
import { instanceMatches, phaseTargets, type TargetNode, unreachedPhases } from '../../src/core/plans/targeting';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/plans');
const fixture = (name: string): PatternPlan => {
  const file = path.join(FIXTURES, name, 'task.yml');
  const { plan } = parsePlan(fs.readFileSync(file, 'utf8'), file);
  assert.ok(plan);
  return plan;
};
const inline = (pattern: string, source: string): PatternPlan => {
  const { plan } = parsePlan(source, `/srv/patterns/${pattern}/task.yml`);
  assert.ok(plan);
  return plan;
};
const order = (plans: PatternPlan[], event: string) =>
  mergeEvents(plans)
    .get(event)
    ?.phases.map((p) => `${p.pattern}:${p.service ?? '*'}${p.tag ? `/${p.tag}` : ''}:${p.task}`);

describe('plans: merge', () => {
  const tomcat = fixture('tomcat');
  const postgresql = fixture('postgresql');
  const haproxy = fixture('haproxy');
  const all = [tomcat, postgresql, haproxy];

  it('runs same-named events across patterns by ascending priority', () => {
    assert.deepEqual(order(all, 'configure'), [
      'postgresql:postgresql:register_tag',
      'postgresql:postgresql/primary:configure',
      'postgresql:postgresql/standby:configure',
      'tomcat:tomcat:configure',
      'tomcat:httpd:configure',
      'haproxy:*:configure',
    ]);
    assert.deepEqual(
      mergeEvents(all)
        .get('configure')
        ?.parts.map((p) => [p.pattern.name, p.event.priority]),
      [
        ['postgresql', 10],
        ['tomcat', 50],
        ['haproxy', 90],
      ],
    );
  });

  it('does not depend on the order the patterns are given in, except for ties', () => {
    assert.deepEqual(order([haproxy, tomcat, postgresql], 'configure'), order(all, 'configure'));
    assert.deepEqual(order([...all].reverse(), 'restore'), order(all, 'restore'));
    assert.deepEqual(order(all, 'restore'), [
      'postgresql:postgresql/primary:restore_database',
      'postgresql:postgresql/standby:start_replication',
      'tomcat:tomcat:restore',
      'tomcat:tomcat:restart_tomcat',
    ]);
  });

  it('keeps the input order for equal priorities (default 50)', () => {
    assert.deepEqual(order(all, 'setup'), ['tomcat:*:setup', 'postgresql:*:setup', 'haproxy:*:setup']);
    assert.deepEqual(order([postgresql, tomcat, haproxy], 'setup'), ['postgresql:*:setup', 'tomcat:*:setup', 'haproxy:*:setup']);
  });

  it('lists every event name once, and events of a single pattern as they are', () => {
    const merged = mergeEvents(all);
    assert.deepEqual([...merged.keys()], ['setup', 'configure', 'spec', 'deploy', 'backup', 'restore']);
    assert.deepEqual(order(all, 'deploy'), ['tomcat:tomcat/blue:deploy', 'tomcat:tomcat/green:deploy']);
    assert.equal(merged.get('deploy')?.phases[1].skippable, true);
  });

  it('resolves each phase to its own pattern\'s task', () => {
    const phases = mergeEvents(all).get('configure')!.phases;
    assert.equal(phases[1].taskDef?.operations[0].type, 'chef');
    assert.equal(phases[5].taskDef?.operations[0].type, 'execute');
    assert.equal(phases[5].taskDef?.timeout, 120);
    assert.equal(phases[3].taskDef, findTaskIn(tomcat, 'configure'));
  });

  it('leaves taskDef undefined for a task the pattern lacks, and follows `task` over ordered_tasks', () => {
    const p = inline(
      'odd',
      'events:\n  deploy:\n    task: missing\n    ordered_tasks:\n      - { service: web, task: other }\ntasks:\n  other: { operations: [] }\n',
    );
    const [phase] = mergeEvents([p]).get('deploy')!.phases;
    assert.equal(phase.task, 'missing');
    assert.equal(phase.service, undefined);
    assert.equal(phase.taskDef, undefined);
  });

  it('reports the same event at the same priority in several patterns, at each event key', () => {
    const diags = crossPatternDiagnostics(all);
    assert.deepEqual(
      diags.map((d) => [path.basename(path.dirname(d.filePath)), d.diagnostic.code, d.diagnostic.range.start.line, d.diagnostic.data?.patterns]),
      [
        ['tomcat', 'event-duplicate-priority', 20, ['postgresql']],
        ['postgresql', 'event-duplicate-priority', 15, ['tomcat']],
      ],
    );
    assert.equal(diags[0].diagnostic.severity, 'warning');
    assert.match(diags[0].diagnostic.message, /Event 'setup' has priority 50 here and in pattern 'postgresql'; metronome runs equal priorities in no fixed order/);
  });

  it('says nothing when priorities differ or only one pattern has the event', () => {
    assert.deepEqual(crossPatternDiagnostics([tomcat, haproxy]), []);
    assert.deepEqual(crossPatternDiagnostics([tomcat]), []);
    assert.deepEqual(mergeEvents([]).size, 0);
  });

  it('names all other patterns when three share a priority', () => {
    const mk = (n: string) => inline(n, 'events:\n  backup: { task: t, priority: 20 }\ntasks:\n  t: { operations: [] }\n');
    const diags = crossPatternDiagnostics([mk('a'), mk('b'), mk('c')]);
    assert.equal(diags.length, 3);
    assert.deepEqual(diags[1].diagnostic.data?.patterns, ['a', 'c']);
    assert.match(diags[1].diagnostic.message, /in patterns 'a', 'c'/);
  });

  describe('targeting', () => {
    const nodes: TargetNode[] = [
      { name: 'db-1', services: [{ service: 'postgresql', tags: ['primary'] }] },
      { name: 'db-2', services: [{ service: 'postgresql', tags: ['standby'] }] },
      { name: 'ap-1', services: [{ service: 'tomcat', tags: ['blue'] }, { service: 'httpd', tags: [] }] },
      { name: 'ap-2', services: [{ service: 'tomcat', id: 'tomcat-8081', tags: ['green'] }] },
      { name: 'lb-1', services: [] },
    ];

    it('reaches every node without a service, even with a tag', () => {
      assert.deepEqual(phaseTargets({}, nodes), ['db-1', 'db-2', 'ap-1', 'ap-2', 'lb-1']);
      assert.deepEqual(phaseTargets({ service: '', tag: 'blue' }, nodes), ['db-1', 'db-2', 'ap-1', 'ap-2', 'lb-1']);
    });

    it('reaches the nodes with an instance of the service, narrowed by tag', () => {
      assert.deepEqual(phaseTargets({ service: 'postgresql' }, nodes), ['db-1', 'db-2']);
      assert.deepEqual(phaseTargets({ service: 'postgresql', tag: 'standby' }, nodes), ['db-2']);
      assert.deepEqual(phaseTargets({ service: 'tomcat', tag: 'green' }, nodes), ['ap-2']);
      assert.deepEqual(phaseTargets({ service: 'httpd', tag: 'blue' }, nodes), []);
      assert.deepEqual(phaseTargets({ service: 'haproxy' }, nodes), []);
    });

    it('matches a service by its instance ID too, as metronome looks services up by ID', () => {
      assert.deepEqual(phaseTargets({ service: 'tomcat-8081' }, nodes), ['ap-2']);
      assert.equal(instanceMatches({ service: 'tomcat', id: 'tomcat-8081', tags: ['green'] }, { service: 'tomcat', tag: 'blue' }), false);
    });

    it('targets the merged configure event across the sandbox-like catalog', () => {
      const reach = mergeEvents(all)
        .get('configure')!
        .phases.map((p) => `${p.task}→${phaseTargets(p, nodes).join(',') || '(none)'}`);
      assert.deepEqual(reach, [
        'register_tag→db-1,db-2',
        'configure→db-1',
        'configure→db-2',
        'configure→ap-1,ap-2',
        'configure→ap-1',
        'configure→db-1,db-2,ap-1,ap-2,lb-1',
      ]);
    });
  });
});

function findTaskIn(plan: PatternPlan, name: string) {
  return plan.tasks.find((t) => t.name === name);
}

describe('phases that reach no node', () => {
  const yaml = `events:
  deploy:
    ordered_tasks:
      - service: web
        task: t
      - service: nosuch
        task: t
      - service: gone
        task: t
        skippable: true
tasks:
  t:
    operations:
      - echo: hi
`;
  const nodes = [{ name: 'web-1', services: [{ service: 'web', tags: [] }] }];

  it('warns at the service of each unreached phase, milder when skippable', () => {
    const { plan } = parsePlan(yaml, '/p/task.yml');
    const found = unreachedPhases(plan!, nodes);
    assert.deepEqual(found.map((d) => [d.code, d.severity, d.range.start.line]), [
      ['phase-no-node', 'warning', 5],
      ['phase-no-node', 'info', 7],
    ]);
    assert.match(found[0].message, /service "nosuch".*for 120 s, then end this one timeout and stop the event/);
  });
});
