import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { eventPhases, findEvent, findTask, type Operation, type PatternPlan, type PlanDiagnostic } from '../../src/core/plans/model';
import { parsePlan, type ParseResult } from '../../src/core/plans/parse';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/plans');
const FILE = '/srv/patterns/app/task.yml';

/** Strips the common indentation so sources read naturally; line 1 is the first line after the backtick. */
function yml(strings: TemplateStringsArray): string {
  const lines = strings.join('').replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

const parse = (source: string, fileExists?: (p: string) => boolean): ParseResult => parsePlan(source, FILE, fileExists ? { fileExists } : {});
/** `code@line:column`, 1-based like the editor shows them. */
const where = (d: PlanDiagnostic) => `${d.code}@${d.range.start.line + 1}:${d.range.start.character + 1}`;
const found = (r: ParseResult) => r.diagnostics.map(where);
const codes = (r: ParseResult) => r.diagnostics.map((d) => d.code);
const one = (r: ParseResult, code: string): PlanDiagnostic => {
  const list = r.diagnostics.filter((d) => d.code === code);
  assert.equal(list.length, 1, `expected one ${code}, got ${JSON.stringify(found(r))}`);
  return list[0];
};
const plan = (r: ParseResult): PatternPlan => {
  assert.ok(r.plan, `no plan: ${JSON.stringify(found(r))}`);
  return r.plan;
};
const op = <T extends Operation['type']>(p: PatternPlan, task: string, index: number, type: T): Extract<Operation, { type: T }> => {
  const o = findTask(p, task)?.operations[index];
  assert.equal(o?.type, type);
  return o as Extract<Operation, { type: T }>;
};
const readFixture = (name: string) => {
  const file = path.join(FIXTURES, name, 'task.yml');
  return parsePlan(fs.readFileSync(file, 'utf8'), file, { fileExists: fs.existsSync });
};

describe('plans: parse', () => {
  describe('well-formed CloudConductor-style patterns', () => {
    it('reads the tomcat pattern without a single diagnostic', () => {
      const r = readFixture('tomcat');
      assert.deepEqual(found(r), []);
      const p = plan(r);
      assert.equal(p.name, 'tomcat');
      assert.equal(p.folder, path.join(FIXTURES, 'tomcat'));
      assert.deepEqual(
        p.events.map((e) => [e.name, e.priority]),
        [['setup', 50], ['configure', 50], ['spec', 50], ['deploy', 60], ['backup', 30], ['restore', 90]],
      );
      assert.deepEqual(p.tasks.map((t) => t.name), ['setup', 'configure', 'spec', 'deploy', 'backup', 'restore', 'restart_tomcat']);
    });

    it('keeps environments raw, with $PATH and {{config.*}} left for the agent', () => {
      const p = plan(readFixture('tomcat'));
      assert.deepEqual(
        p.environments.map((e) => [e.name, e.value]),
        [
          ['HOME', '/root'],
          ['PATH', '$PATH:/opt/chefdk/embedded/bin:/opt/chef/embedded/bin:/usr/bin'],
          ['ROLE', '{{config.role}}'],
          ['CONSUL_SECRET_KEY', '{{config.token}}'],
        ],
      );
      assert.deepEqual(p.environments[2].keyRange, { start: { line: 6, character: 2 }, end: { line: 6, character: 6 } });
      assert.deepEqual(p.variables.map((v) => v.name), ['app_dir', 'backup_directory']);
    });

    it('applies default.timeout and default.chef.attribute_keys', () => {
      const p = plan(readFixture('tomcat'));
      assert.equal(p.defaults.timeout, 1800);
      assert.deepEqual(p.defaults.chefAttributeKeys, ['cloudconductor']);
      assert.deepEqual(op(p, 'setup', 1, 'chef').attributeKeys, ['cloudconductor']);
      assert.deepEqual(op(p, 'deploy', 1, 'chef').attributeKeys, ['cloudconductor', 'tomcat']);
      assert.equal(findTask(p, 'setup')?.effectiveTimeout, 1800);
      assert.equal(findTask(p, 'spec')?.timeout, 600);
      assert.equal(findTask(p, 'spec')?.effectiveTimeout, 600);
    });

    it('reads ordered tasks with and without tags, and the task form as one unfiltered phase', () => {
      const p = plan(readFixture('tomcat'));
      const configure = findEvent(p, 'configure')!;
      assert.deepEqual(
        configure.orderedTasks?.map((ph) => [ph.service, ph.tag, ph.task, ph.skippable]),
        [
          ['tomcat', undefined, 'configure', false],
          ['httpd', undefined, 'configure', false],
        ],
      );
      const deploy = findEvent(p, 'deploy')!;
      assert.deepEqual(
        deploy.orderedTasks?.map((ph) => [ph.service, ph.tag, ph.skippable]),
        [
          ['tomcat', 'blue', false],
          ['tomcat', 'green', true],
        ],
      );
      assert.deepEqual(deploy.orderedTasks?.[1].tagRange, { start: { line: 45, character: 13 }, end: { line: 45, character: 18 } });
      const setup = findEvent(p, 'setup')!;
      assert.equal(setup.task, 'setup');
      assert.deepEqual(
        eventPhases(setup).map((ph) => [ph.service, ph.task]),
        [[undefined, 'setup']],
      );
      assert.deepEqual(setup.keyRange, { start: { line: 20, character: 2 }, end: { line: 20, character: 7 } });
    });

    it('reads every operation type with its fields', () => {
      const p = plan(readFixture('tomcat'));
      const prepare = op(p, 'setup', 0, 'execute');
      assert.equal(prepare.file, 'prepare.sh');
      assert.deepEqual(prepare.arguments, ['--quiet']);
      assert.equal(prepare.output, true);
      assert.deepEqual(op(p, 'setup', 1, 'chef').runList, ['role[{{role}}_setup]']);
      assert.equal(op(p, 'spec', 0, 'execute').output, false);
      assert.equal(
        op(p, 'backup', 0, 'execute').script,
        'mkdir -p {{backup_directory}}\ntar czf {{backup_directory}}/webapps.tar.gz -C {{app_dir}} .\n',
      );
      const get = op(p, 'deploy', 0, 'consul-kvs');
      assert.deepEqual([get.action, get.key, get.name], ['get', 'cloudconductor/parameters/application', 'application']);
      assert.deepEqual(op(p, 'deploy', 1, 'chef').attributes, { tomcat: { app_dir: '{{app_dir}}' } });
      assert.equal(op(p, 'deploy', 2, 'echo').message, 'deployed {{application}} to {{app_dir}}');
      const svc = op(p, 'restart_tomcat', 0, 'service');
      assert.deepEqual([svc.name, svc.action], ['tomcat7', 'restart']);
      const ev = op(p, 'restart_tomcat', 1, 'consul-event');
      assert.deepEqual([ev.name, ev.filter], ['restored', { service: 'httpd' }]);
    });

    it('reads the postgresql pattern: tags primary/standby, quoted KV values, chef configurations', () => {
      const r = readFixture('postgresql');
      assert.deepEqual(found(r), []);
      const p = plan(r);
      assert.equal(p.defaults.timeout, 3600);
      assert.equal(findTask(p, 'setup')?.effectiveTimeout, 3600);
      assert.equal(findTask(p, 'backup')?.effectiveTimeout, 7200);
      assert.deepEqual(
        findEvent(p, 'restore')?.orderedTasks?.map((ph) => `${ph.service}/${ph.tag}:${ph.task}`),
        ['postgresql/primary:restore_database', 'postgresql/standby:start_replication'],
      );
      const put = op(p, 'restore_database', 0, 'consul-kvs');
      assert.deepEqual([put.action, put.key, put.value], ['put', '{{lock_key}}', 'true']);
      assert.deepEqual(op(p, 'configure', 0, 'chef').configurations, { log_level: ':debug' });
      assert.deepEqual(op(p, 'configure', 0, 'chef').attributeKeys, []);
    });

    it('reads the haproxy pattern with flow-style arguments and a file under bin/', () => {
      const r = readFixture('haproxy');
      assert.deepEqual(found(r), []);
      const exec = op(plan(r), 'configure', 0, 'execute');
      assert.equal(exec.file, 'bin/render-haproxy-cfg');
      assert.deepEqual(exec.arguments, ['--backend', 'tomcat']);
    });

    it('finds every problem of the broken pattern on the line marked for it', () => {
      const file = path.join(FIXTURES, 'broken', 'task.yml');
      const source = fs.readFileSync(file, 'utf8');
      const r = readFixture('broken');
      assert.deepEqual(found(r), [
        'variable-cycle@6:3',
        'value-type@8:9',
        'value-type@11:12',
        'key-unknown@13:1',
        'event-task-both@21:5',
        'event-task-missing@25:3',
        'value-type@29:15',
        'key-ignored@31:9',
        'task-undefined@34:15',
        'key-ignored@39:5',
        'execute-file-missing@42:17',
        'value-type@43:9',
        'operation-unknown@45:9',
        'operation-invalid@47:19',
        'value-type@49:18',
        'operation-multiple-keys@51:9',
        'operation-invalid@57:9',
        'operation-key-unknown@58:11',
        'task-operations-missing@61:3',
        'task-unused@61:3',
        'key-duplicate@64:3',
        'value-type@65:17',
      ]);
      const marked = source.split('\n').flatMap((l, i) => (l.includes('# <- ') ? [i] : []));
      assert.deepEqual([...new Set(r.diagnostics.map((d) => d.range.start.line))], marked);
      assert.equal(r.diagnostics.find((d) => d.code === 'value-type' && d.range.start.line === 7)?.severity, 'info');
      assert.deepEqual(one(r, 'task-undefined').data, { task: 'deplyo', event: 'deploy', suggestion: 'deploy' });
      assert.equal(one(r, 'key-unknown').data?.suggestion, 'events');
      assert.equal(one(r, 'operation-key-unknown').data?.suggestion, 'run_list');
    });
  });

  describe('YAML syntax', () => {
    it('reports an unclosed flow sequence at the line where the parser gave up', () => {
      const r = parse(yml`
        events:
          setup:
            ordered_tasks: [a, b
          deploy:
            task: deploy
      `);
      assert.equal(r.plan, undefined);
      assert.deepEqual(codes(r), ['yaml-syntax']);
      assert.equal(r.diagnostics[0].severity, 'error');
      assert.equal(r.diagnostics[0].range.start.line, 3);
      assert.match(r.diagnostics[0].message, /^YAML syntax error: .+ \(line 4, column \d+\)/);
    });

    it('reports tab indentation', () => {
      const r = parse('tasks:\n\tsetup:\n\t\toperations: []\n');
      assert.deepEqual(codes(r), ['yaml-syntax']);
      assert.equal(r.diagnostics[0].range.start.line, 1);
    });

    it('reports an unterminated quoted string', () => {
      const r = parse(yml`
        variables:
          a: "open
        tasks: {}
      `);
      assert.deepEqual(codes(r), ['yaml-syntax']);
      assert.equal(r.plan, undefined);
    });

    it('reports a key indented out of its mapping', () => {
      const r = parse(yml`
        tasks:
          setup:
            operations: []
           description: x
      `);
      assert.deepEqual(found(r).map((f) => f.split(':')[0]), ['yaml-syntax@4']);
    });

    it('reads only the first document and says so', () => {
      const r = parse(yml`
        tasks:
          a:
            operations: []
        ---
        tasks:
          b:
            operations: []
      `);
      assert.deepEqual(found(r), ['task-unused@2:3', 'yaml-multiple-documents@5:1']);
      assert.deepEqual(plan(r).tasks.map((t) => t.name), ['a']);
    });

    it('accepts an empty file or one with only comments', () => {
      for (const src of ['', '# nothing yet\n', '\n\n']) {
        const r = parse(src);
        assert.deepEqual(found(r), []);
        assert.deepEqual(plan(r).events, []);
      }
    });

    it('rejects a root that is not a map', () => {
      assert.deepEqual(found(parse('- setup\n- deploy\n')), ['value-type@1:1']);
      assert.deepEqual(found(parse('just words\n')), ['value-type@1:1']);
    });

    it('counts positions in UTF-16 units and ignores CRLF', () => {
      const r = parse('events:\r\n  "déployer😀": { task: nope }\r\n');
      const d = one(r, 'task-undefined');
      assert.deepEqual(d.range, { start: { line: 1, character: 24 }, end: { line: 1, character: 28 } });
    });

    it('never throws, even when handed something that is not a string', () => {
      assert.doesNotThrow(() => parsePlan(undefined as unknown as string, FILE));
      assert.doesNotThrow(() => parsePlan('a: b', undefined as unknown as string));
    });
  });

  describe('events', () => {
    it('warns when an event has both task and ordered_tasks, and runs the task', () => {
      const r = parse(yml`
        events:
          setup:
            task: setup
            ordered_tasks:
              - service: web
                task: setup
        tasks:
          setup:
            operations: []
      `);
      assert.deepEqual(found(r), ['event-task-both@4:5']);
      assert.equal(r.diagnostics[0].severity, 'warning');
      assert.match(r.diagnostics[0].message, /Event 'setup' sets both `task` and `ordered_tasks`; metronome runs task 'setup'/);
      assert.deepEqual(eventPhases(findEvent(plan(r), 'setup')!).map((p) => p.service), [undefined]);
    });

    it('warns when an event has neither, or an empty ordered_tasks', () => {
      const r = parse(yml`
        events:
          setup:
            description: nothing to do
          deploy:
            ordered_tasks: []
          backup:
            task: ''
      `);
      assert.deepEqual(found(r), ['event-task-missing@2:3', 'event-task-missing@4:3', 'event-task-missing@6:3']);
      assert.deepEqual(r.diagnostics[0].data, { event: 'setup' });
    });

    it('uses ordered_tasks when task is empty', () => {
      const r = parse(yml`
        events:
          deploy:
            task: ''
            ordered_tasks:
              - service: web
                task: deploy
        tasks:
          deploy:
            operations: []
      `);
      assert.deepEqual(found(r), []);
      assert.deepEqual(eventPhases(findEvent(plan(r), 'deploy')!).map((p) => p.service), ['web']);
    });

    it('defaults priority to 50 and insists on a whole number', () => {
      const r = parse(yml`
        events:
          a: { task: t }
          b: { task: t, priority: '10' }
          c: { task: t, priority: 10.5 }
          d: { task: t, priority: -5 }
        tasks:
          t: { operations: [] }
      `);
      assert.deepEqual(found(r), ['value-type@3:28', 'value-type@4:27']);
      assert.match(r.diagnostics[0].message, /`priority` of event 'b' must be a whole number, not the string '10'; metronome cannot load/);
      assert.deepEqual(plan(r).events.map((e) => e.priority), [50, 50, 50, -5]);
    });

    it('reports undefined tasks with the event, the name and a suggestion', () => {
      const r = parse(yml`
        events:
          configure:
            ordered_tasks:
              - service: db
                task: configure_db
              - service: web
                task: configur
        tasks:
          configure:
            operations: []
      `);
      assert.deepEqual(found(r), ['task-undefined@5:15', 'task-undefined@7:15', 'task-unused@9:3']);
      assert.deepEqual(r.diagnostics[0].data, { task: 'configure_db', event: 'configure', suggestion: 'configure' });
      assert.deepEqual(r.diagnostics[1].data, { task: 'configur', event: 'configure', suggestion: 'configure' });
      assert.match(r.diagnostics[1].message, /Event 'configure' runs task 'configur', which is not defined under `tasks` of pattern 'app'\. Did you mean 'configure'\?/);
      assert.deepEqual(r.diagnostics[0].range, { start: { line: 4, character: 14 }, end: { line: 4, character: 26 } });
    });

    it('checks ordered_tasks items: task, types, tag without service, unknown and internal keys', () => {
      const r = parse(yml`
        events:
          deploy:
            ordered_tasks:
              - service: web
              -
              - tag: blue
                task: t
              - service: web
                tag: 1
                task: t
              - services: web
                task: t
                skippable: yes
              - service: web
                task: t
                id: abc
                skippable: maybe
              - just a string
        tasks:
          t: { operations: [] }
      `);
      assert.deepEqual(found(r), [
        'phase-task-missing@4:9',
        'phase-task-missing@5:7',
        'key-ignored@6:9',
        'value-type@9:14',
        'key-unknown@11:9',
        'key-ignored@16:9',
        'value-type@17:20',
        'value-type@18:9',
      ]);
      assert.match(r.diagnostics[2].message, /ignores `tag` when `service` is not set: this phase of event 'deploy' runs on every node/);
      assert.match(r.diagnostics[3].message, /`tag` .* must be a string, not the number 1; metronome cannot load .* Quote it: '1'\./);
      assert.equal(r.diagnostics[4].data?.suggestion, 'service');
      const phases = findEvent(plan(r), 'deploy')!.orderedTasks!;
      assert.deepEqual(
        phases.map((p) => [p.service, p.tag, p.task, p.skippable]),
        [
          ['web', undefined, '', false],
          [undefined, 'blue', 't', false],
          ['web', '1', 't', false],
          [undefined, undefined, 't', true],
          ['web', undefined, 't', false],
        ],
      );
    });

    it('reads YAML 1.1 booleans the way metronome does, so `tag: no` is not a string', () => {
      const r = parse(yml`
        events:
          e:
            ordered_tasks:
              - { service: web, tag: no, task: t }
        tasks:
          t: { operations: [] }
      `);
      assert.deepEqual(found(r), ['value-type@4:30']);
      assert.match(r.diagnostics[0].message, /not the boolean false/);
    });

    it('rejects an empty or non-map event, and flags keys metronome overrides or does not know', () => {
      const r = parse(yml`
        events:
          setup:
          deploy: run it
          backup:
            name: nightly
            prority: 10
            description: 12
            task: t
        tasks:
          t: { operations: [] }
      `);
      assert.deepEqual(found(r), ['value-type@2:3', 'value-type@3:11', 'key-ignored@5:5', 'key-unknown@6:5', 'value-type@7:18']);
      assert.equal(r.diagnostics[3].data?.suggestion, 'priority');
      assert.deepEqual(plan(r).events.map((e) => e.name), ['setup', 'backup']);
    });
  });

  describe('tasks', () => {
    it('flags service, tag, filter, trigger and name on a task as ignored', () => {
      const r = parse(yml`
        tasks:
          backup:
            name: backup
            service: postgresql
            tag: primary
            filter: { service: postgresql }
            trigger: backup
            operations: []
      `);
      assert.deepEqual(found(r), ['task-unused@2:3', 'key-ignored@3:5', 'key-ignored@4:5', 'key-ignored@5:5', 'key-ignored@6:5', 'key-ignored@7:5']);
      assert.ok(r.diagnostics.slice(1).every((d) => d.severity === 'warning' && d.message.startsWith('metronome ignores `')));
      assert.match(r.diagnostics[2].message, /put `service` on the event's ordered_tasks item instead/);
    });

    it('requires operations (null and [] are fine) and a list for them', () => {
      const r = parse(yml`
        events:
          e:
            ordered_tasks: [{ task: a }, { task: b }, { task: c }, { task: d }]
        tasks:
          a:
            description: no operations
          b:
            operations:
          c:
            operations: []
          d:
            operations: { execute: { script: ls } }
      `);
      assert.deepEqual(found(r), ['task-operations-missing@5:3', 'value-type@12:17']);
      assert.equal(r.diagnostics[0].severity, 'error');
    });

    it('uses its own timeout, else the default, and rejects durations', () => {
      const r = parse(yml`
        default:
          timeout: 900
        tasks:
          a: { timeout: 60, operations: [] }
          b: { timeout: 0, operations: [] }
          c: { timeout: 5m, operations: [] }
          d: { timeout: 3000000000, operations: [] }
      `);
      assert.deepEqual(
        r.diagnostics.filter((d) => d.code !== 'task-unused').map(where),
        ['value-type@6:17', 'value-type@7:17'],
      );
      assert.deepEqual(plan(r).tasks.map((t) => t.effectiveTimeout), [60, 900, 900, 900]);
    });

    it('rejects an empty task and reports tasks no event runs as info', () => {
      const r = parse(yml`
        tasks:
          empty:
          lonely:
            operations: []
      `);
      assert.deepEqual(found(r), ['value-type@2:3', 'task-unused@2:3', 'task-unused@3:3']);
      assert.deepEqual(
        r.diagnostics.map((d) => d.severity),
        ['error', 'info', 'info'],
      );
    });
  });

  describe('operations', () => {
    const task = (ops: string, fileExists?: (p: string) => boolean) =>
      parse(`events:\n  e: { task: t }\ntasks:\n  t:\n    operations:\n${ops.replace(/^\n/, '').replace(/^/gm, '      ')}\n`, fileExists);

    it('rejects unknown operations with a suggestion, and explains `task`', () => {
      const r = task(yml`
        - consul_kvs: { action: delete, key: k }
        - shell: ls
        - task: other
      `);
      assert.deepEqual(found(r), ['operation-unknown@6:9', 'operation-unknown@7:9', 'operation-unknown@8:9']);
      assert.equal(r.diagnostics[0].data?.suggestion, 'consul-kvs');
      assert.match(r.diagnostics[2].message, /A task cannot call another task/);
      assert.deepEqual(findTask(plan(r), 't')?.operations, []);
    });

    it('rejects an item with two operations (the classic indentation slip) or none', () => {
      const r = task(yml`
        - execute:
            file: a.sh
          chef:
            run_list: [x]
        -
        - {}
        - echo hi
      `);
      assert.deepEqual(found(r), ['operation-multiple-keys@8:9', 'operation-invalid@10:7', 'operation-invalid@11:9', 'value-type@12:9']);
      assert.match(r.diagnostics[0].message, /has 2 keys \(`execute`, `chef`\); metronome needs exactly one per item/);
      assert.equal(op(plan(r), 't', 0, 'execute').file, 'a.sh');
    });

    it('checks execute: string form, neither, both, arguments without file', () => {
      const r = task(yml`
        - execute: ls -l
        - execute:
        - execute:
            output: no
        - execute:
            file: run.sh
            script: echo never
        - execute:
            script: |
              echo one
              echo two
            arguments: [x]
      `);
      assert.deepEqual(found(r), ['value-type@6:9', 'operation-invalid@7:9', 'operation-invalid@8:9', 'key-ignored@12:11', 'key-ignored@17:11']);
      assert.match(r.diagnostics[0].message, /silently ignores a plain string, so this runs nothing/);
      const p = plan(r);
      assert.equal(op(p, 't', 0, 'execute').script, undefined);
      assert.equal(op(p, 't', 2, 'execute').output, false);
      assert.equal(op(p, 't', 3, 'execute').script, undefined);
      assert.equal(op(p, 't', 4, 'execute').script, 'echo one\necho two\n');
    });

    it('looks up execute files relative to the pattern folder, skipping templates and absolute paths', () => {
      const asked: string[] = [];
      const r = task(
        yml`
          - execute: { file: scripts/missing.sh }
          - execute: { file: ./present.sh }
          - execute: { file: '{{tool_dir}}/run.sh' }
          - execute: { file: /usr/local/bin/run.sh }
        `,
        (p) => {
          asked.push(p);
          return p.endsWith('present.sh');
        },
      );
      assert.deepEqual(asked, ['/srv/patterns/app/scripts/missing.sh', '/srv/patterns/app/present.sh']);
      assert.deepEqual(found(r), ['execute-file-missing@6:26']);
      assert.deepEqual(r.diagnostics[0].data, { file: 'scripts/missing.sh', absPath: '/srv/patterns/app/scripts/missing.sh', task: 't' });
      assert.match(r.diagnostics[0].message, /runs 'scripts\/missing\.sh', which does not exist in pattern folder 'app'/);
    });

    it('does not check files without fileExists, and survives one that throws', () => {
      assert.deepEqual(found(task('- execute: { file: x.sh }')), []);
      const r = task('- execute: { file: x.sh }', () => {
        throw new Error('EACCES');
      });
      assert.deepEqual(found(r), []);
    });

    it('checks chef: run_list shape, unknown keys, attributes as plain values', () => {
      const r = task(yml`
        - chef:
            run_list: role[web]
        - chef:
            runlist: [a]
        - chef:
            run_list:
              - role[web_setup]
              - recipe[x::y]
            attributes:
              port: 8080
              enabled: yes
              hosts: [a, b]
              nested: { deep: ~ }
      `);
      assert.deepEqual(found(r), ['operation-invalid@6:9', 'value-type@7:21', 'operation-invalid@8:9', 'operation-key-unknown@9:11']);
      assert.equal(r.diagnostics[1].severity, 'warning');
      const chef = op(plan(r), 't', 2, 'chef');
      assert.deepEqual(chef.runList, ['role[web_setup]', 'recipe[x::y]']);
      assert.deepEqual(chef.attributes, { port: 8080, enabled: true, hosts: ['a', 'b'], nested: { deep: null } });
    });

    it('checks consul-kvs: action, key, name for get, string values', () => {
      const r = task(yml`
        - consul-kvs: { action: set, key: a }
        - consul-kvs: { action: put }
        - consul-kvs: { action: get, key: a }
        - consul-kvs: { action: put, key: a, value: 42 }
        - consul-kvs: { action: put, key: a, value: '42' }
      `);
      assert.deepEqual(found(r), ['operation-invalid@6:31', 'operation-invalid@7:9', 'operation-invalid@8:9', 'value-type@9:51']);
      assert.deepEqual(
        r.diagnostics.map((d) => d.severity),
        ['error', 'error', 'warning', 'warning'],
      );
      assert.equal(op(plan(r), 't', 4, 'consul-kvs').value, '42');
      assert.equal(op(plan(r), 't', 3, 'consul-kvs').value, undefined);
    });

    it('checks consul-event, service and echo', () => {
      const r = task(yml`
        - consul-event: { filter: { service: web } }
        - consul-event: { name: go, filter: { services: web } }
        - service: { name: httpd }
        - echo: { message: hi }
        - echo: 42
        - echo: all done
      `);
      assert.deepEqual(found(r), ['operation-invalid@6:9', 'operation-key-unknown@7:45', 'operation-invalid@8:9', 'value-type@9:15', 'value-type@10:15']);
      assert.equal(op(plan(r), 't', 5, 'echo').message, 'all done');
      assert.equal(op(plan(r), 't', 3, 'echo').message, '');
    });

    it('carries a range for the operation key and its value', () => {
      const r = task('- service: { name: httpd, action: restart }');
      const s = op(plan(r), 't', 0, 'service');
      assert.deepEqual(s.keyRange, { start: { line: 5, character: 8 }, end: { line: 5, character: 15 } });
      assert.equal(s.valueRange.start.character, 17);
    });
  });

  describe('default, environments and variables', () => {
    it('checks default: timeout, chef.attribute_keys, legacy and unknown keys', () => {
      const r = parse(yml`
        default:
          timeout: 600
          chef_config: solo.rb
          chef:
            attribute_keys: cloudconductor
            run_list: [x]
          execute:
            output: false
          retries: 3
      `);
      assert.deepEqual(found(r), ['key-ignored@3:3', 'value-type@5:21', 'key-ignored@6:5', 'key-ignored@8:5', 'key-unknown@9:3']);
      assert.equal(r.diagnostics[1].severity, 'error');
      assert.equal(plan(r).defaults.timeout, 600);
    });

    it('turns scalar values into the strings metronome sees, and says when that changes them', () => {
      const r = parse(yml`
        variables:
          version: 1.10
          port: 8080
          debug: yes
          empty:
          name: web
        environments:
          LIST: [a, b]
      `);
      assert.deepEqual(found(r), ['value-type@2:12', 'value-type@4:10', 'value-type@8:9']);
      assert.deepEqual(
        r.diagnostics.map((d) => d.severity),
        ['info', 'info', 'error'],
      );
      assert.deepEqual(
        plan(r).variables.map((v) => [v.name, v.value]),
        [
          ['version', '1.1'],
          ['port', '8080'],
          ['debug', 'true'],
          ['empty', ''],
          ['name', 'web'],
        ],
      );
      assert.deepEqual(plan(r).environments, []);
    });

    it('reports variables that refer to each other, not ones that settle', () => {
      const r = parse(yml`
        variables:
          a: '{{b}}/x'
          b: '{{c}}'
          c: '{{a}}'
          self: '{{self}}'
          grows: 'x{{grows}}'
          fine: '{{a_missing}}'
      `);
      assert.deepEqual(found(r), ['variable-cycle@2:3', 'variable-cycle@6:3']);
      assert.deepEqual(r.diagnostics[0].data, { cycle: ['a', 'b', 'c'] });
      assert.match(r.diagnostics[0].message, /Variables a → b → c → a refer to each other/);
      assert.deepEqual(r.diagnostics[1].data, { cycle: ['grows'] });
      assert.match(r.diagnostics[1].message, /^Variable 'grows' contains itself, so expanding it never finishes; metronome hangs/);
    });

    it('flags unknown top-level keys and suggests the intended one', () => {
      const r = parse(yml`
        variable:
          a: b
        task: {}
        pattern: web
      `);
      assert.deepEqual(found(r), ['key-unknown@1:1', 'key-unknown@3:1', 'key-unknown@4:1']);
      assert.deepEqual(
        r.diagnostics.map((d) => d.data?.suggestion),
        ['variables', 'tasks', undefined],
      );
      assert.match(r.diagnostics[2].message, /^metronome ignores unknown key `pattern` at the top level of task\.yml\. Known keys: `environments`/);
    });
  });

  describe('YAML features real files use', () => {
    it('follows anchors, aliases and merge keys', () => {
      const r = parse(yml`
        base: &base
          description: shared
          timeout: 120
        events:
          a: { task: one }
          b: { task: two }
        tasks:
          one:
            <<: *base
            operations: &ops
              - echo: hi
          two:
            <<: *base
            timeout: 30
            operations: *ops
      `);
      assert.deepEqual(found(r), ['key-unknown@1:1']);
      const [one_, two] = plan(r).tasks;
      assert.deepEqual([one_.description, one_.timeout, one_.operations.length], ['shared', 120, 1]);
      assert.deepEqual([two.description, two.timeout, two.operations.length], ['shared', 30, 1]);
    });

    it('reads quoted, folded and literal scalars', () => {
      const r = parse(yml`
        events:
          "set up": { task: 'setup' }
        tasks:
          setup:
            description: >
              folded
              text
            operations:
              - execute:
                  script: |-
                    line one
                    line two
      `);
      assert.deepEqual(found(r), []);
      const p = plan(r);
      assert.equal(p.events[0].name, 'set up');
      assert.equal(p.tasks[0].description, 'folded text\n');
      assert.equal(op(p, 'setup', 0, 'execute').script, 'line one\nline two');
    });

    it('reports duplicate keys in events and keeps the last one', () => {
      const r = parse(yml`
        events:
          setup: { task: a }
          setup: { task: b }
        tasks:
          a: { operations: [] }
          b: { operations: [] }
      `);
      assert.deepEqual(found(r), ['key-duplicate@3:3', 'task-unused@5:3']);
      assert.match(r.diagnostics[0].message, /Duplicate key `setup` in `events` \(first at line 2\)/);
      assert.equal(plan(r).events[0].task, 'b');
    });
  });

  describe('taskSchema.json (for yamlValidation)', () => {
    type Validate = ((data: unknown) => boolean) & { errors?: unknown };
    type AjvClass = new (opts: object) => { compile(schema: object): Validate };
    const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../src/core/plans/taskSchema.json'), 'utf8')) as object;
    let validate: Validate;

    before(async () => {
      const mod = (await import('ajv')) as unknown as { default: AjvClass };
      validate = new mod.default({ strict: false, allErrors: true }).compile(schema);
    });

    it('is a draft-07 schema', () => {
      assert.equal((schema as { $schema?: string }).$schema, 'http://json-schema.org/draft-07/schema#');
    });

    it('accepts the well-formed fixtures', () => {
      for (const name of ['tomcat', 'postgresql', 'haproxy']) {
        const doc = load(fs.readFileSync(path.join(FIXTURES, name, 'task.yml'), 'utf8'));
        assert.equal(validate(doc), true, `${name}: ${JSON.stringify(validate.errors)}`);
      }
    });

    it('rejects what metronome cannot load', () => {
      const bad = [
        'events: { e: { task: t, priority: high } }',
        'tasks: { t: { description: no operations } }',
        'tasks: { t: { operations: [ { execute: { file: a }, chef: { run_list: [] } } ] } }',
        'tasks: { t: { operations: [ { shell: ls } ] } }',
        'tasks: { t: { operations: [ { consul-kvs: { action: set, key: k } } ] } }',
        'tasks: { t: { timeout: 30m, operations: [] } }',
      ];
      for (const src of bad) assert.equal(validate(load(src)), false, src);
    });
  });
});
