import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findTask, type Operation } from '../../src/core/plans/model';
import { parsePlan } from '../../src/core/plans/parse';
import { expandEnvironmentValue, expandOperation, expandTemplate, findVariableCycles, placeholders, planVariables } from '../../src/core/plans/template';
import { limit } from '../support/timing';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/plans');
const fixture = (name: string) => {
  const file = path.join(FIXTURES, name, 'task.yml');
  const { plan } = parsePlan(fs.readFileSync(file, 'utf8'), file);
  assert.ok(plan);
  return plan;
};

describe('plans: template', () => {
  describe('expandTemplate', () => {
    it('replaces variables and config values', () => {
      const r = expandTemplate('{{dir}}/{{config.role}}.log', { dir: '/var/log' }, { role: 'web' });
      assert.deepEqual(r, { text: '/var/log/web.log', cycle: false, unresolved: [] });
    });

    it('expands repeatedly until the text settles', () => {
      const vars = { backup: '{{base}}/backup', base: '{{root}}/cc', root: '/var' };
      assert.equal(expandTemplate('rm -rf {{backup}}/*', vars).text, 'rm -rf /var/cc/backup/*');
    });

    it('leaves unknown placeholders, including unknown config keys, as written', () => {
      const r = expandTemplate('{{known}} {{unknown}} {{config.missing}}', { known: 'k' }, {});
      assert.deepEqual(r, { text: 'k {{unknown}} {{config.missing}}', cycle: false, unresolved: ['unknown', 'config.missing'] });
    });

    it('does not trim names, like metronome', () => {
      assert.equal(expandTemplate('{{ a }} {{a}}', { a: 'x' }).text, '{{ a }} x');
    });

    it('takes a Map as well as a record, and ignores inherited properties', () => {
      assert.equal(expandTemplate('{{a}}', new Map([['a', 'from map']])).text, 'from map');
      assert.equal(expandTemplate('{{toString}}', {}).text, '{{toString}}');
    });

    it('handles braces around a placeholder', () => {
      assert.equal(expandTemplate('{{{a}}}', { a: 'x' }).text, '{x}');
      assert.equal(expandTemplate('{{}} {{', { a: 'x' }).text, '{{}} {{');
    });

    it('reports a cycle instead of looping forever', () => {
      const r = expandTemplate('{{a}}', { a: '{{b}}', b: '{{a}}' });
      assert.equal(r.cycle, true);
      assert.ok(r.text === '{{a}}' || r.text === '{{b}}');
    });

    it('reports a variable that grows without end, quickly', () => {
      const started = Date.now();
      assert.equal(expandTemplate('{{a}}', { a: 'x{{a}}' }).cycle, true);
      assert.equal(expandTemplate('{{a}}', { a: '{{a}}{{a}}' }).cycle, true);
      assert.ok(Date.now() - started < limit(1000));
    });

    it('treats a variable that expands to itself as settled, as metronome does', () => {
      assert.deepEqual(expandTemplate('{{a}}', { a: '{{a}}' }), { text: '{{a}}', cycle: false, unresolved: ['a'] });
    });
  });

  describe('helpers', () => {
    it('lists placeholders once each, in order', () => {
      assert.deepEqual(placeholders('{{b}} {{a}} {{b}} {{config.x}}'), ['b', 'a', 'config.x']);
    });

    it('finds each cycle once, with its chain', () => {
      assert.deepEqual(findVariableCycles({ uses: '{{a}}x', a: '{{b}}', b: '{{c}}', c: '{{a}}', ok: 'plain' }), [['a', 'b', 'c']]);
      assert.deepEqual(findVariableCycles({ x: '{{y}}', y: '{{x}}', grows: '-{{grows}}' }), [['x', 'y'], ['grows']]);
      assert.deepEqual(findVariableCycles({ ok: '{{other}}', self: '{{self}}' }), []);
    });

    it('expands an environment value: $VARS from the agent first, then templates', () => {
      const env = { PATH: '/usr/bin:/bin' };
      assert.equal(expandEnvironmentValue('$PATH:/opt/chef/embedded/bin', env, {}).text, '/usr/bin:/bin:/opt/chef/embedded/bin');
      assert.equal(expandEnvironmentValue('$UNSET_VAR/x', env, {}).text, '/x');
      assert.equal(expandEnvironmentValue('{{config.role}}', env, {}, { role: 'ap' }).text, 'ap');
      // metronome's $NAME pattern takes `-` as part of the name.
      assert.equal(expandEnvironmentValue('$HOME-{{dir}}', { HOME: '/root' }, { dir: 'x' }).text, 'x');
    });

    it('builds a pattern\'s variables: role overrides task.yml, -var values only fill gaps', () => {
      const plan = fixture('tomcat');
      const vars = planVariables(plan, { role: 'web', app_dir: '/elsewhere', build: '42' });
      assert.deepEqual(vars, { app_dir: '/opt/tomcat/webapps', backup_directory: '/var/cloudconductor/backups/tomcat', role: 'web', build: '42' });
    });
  });

  describe('expandOperation (hover)', () => {
    const plan = fixture('tomcat');
    const vars = planVariables(plan, { role: 'web,ap' });
    const ops = (task: string): Operation[] => findTask(plan, task)!.operations;

    it('expands a multi-line script', () => {
      const [field] = expandOperation(ops('backup')[0], vars);
      assert.equal(field.field, 'script');
      assert.equal(
        field.expanded,
        'mkdir -p /var/cloudconductor/backups/tomcat\ntar czf /var/cloudconductor/backups/tomcat/webapps.tar.gz -C /opt/tomcat/webapps .\n',
      );
      assert.deepEqual(field.unresolved, []);
    });

    it('turns {{role}} in a run_list into one entry per role, with `all` first', () => {
      const fields = expandOperation(ops('setup')[1], vars);
      assert.deepEqual(
        fields.map((f) => [f.field, f.expanded]),
        [
          ['run_list[0]', 'role[all_setup], role[web_setup], role[ap_setup]'],
          ['attribute_keys[0]', 'cloudconductor'],
        ],
      );
    });

    it('walks chef attributes and shows what stays unresolved', () => {
      const fields = expandOperation(ops('deploy')[1], vars);
      assert.deepEqual(fields.find((f) => f.field === 'attributes.tomcat.app_dir')?.expanded, '/opt/tomcat/webapps');
      const echo = expandOperation(ops('deploy')[2], vars)[0];
      assert.equal(echo.expanded, 'deployed {{application}} to /opt/tomcat/webapps');
      assert.deepEqual(echo.unresolved, ['application']);
    });

    it('covers file, arguments, service, consul-kvs and consul-event fields', () => {
      assert.deepEqual(
        expandOperation(ops('setup')[0], vars).map((f) => f.field),
        ['file', 'arguments[0]'],
      );
      assert.deepEqual(
        expandOperation(ops('restart_tomcat')[0], vars).map((f) => `${f.field}=${f.expanded}`),
        ['name=tomcat7', 'action=restart'],
      );
      assert.deepEqual(
        expandOperation(ops('restart_tomcat')[1], vars).map((f) => `${f.field}=${f.expanded}`),
        ['name=restored', 'filter.service=httpd'],
      );
      assert.deepEqual(
        expandOperation(ops('deploy')[0], vars).map((f) => f.field),
        ['key', 'name'],
      );
    });

    it('marks a field whose variables loop', () => {
      const { plan: p } = parsePlan("variables: { a: '{{b}}', b: '{{a}}' }\ntasks:\n  t:\n    operations:\n      - echo: '{{a}}'\n", '/x/p/task.yml');
      const [field] = expandOperation(p!.tasks[0].operations[0], planVariables(p!));
      assert.equal(field.cycle, true);
    });
  });
});
