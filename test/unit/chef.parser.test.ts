import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChefOutputParser, parseChefOutput, parseDuration } from '../../src/core/chef/outputParser';
import type { ChefReport } from '../../src/core/chef/report';
import { chefSummary, rebuildFromUnifiedDiff, resourceId, resourcesByRecipe } from '../../src/core/chef/report';
import { mulberry32 } from '../support/random';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/chef');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const ALL = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.txt'));

function streamed(chunks: Array<string | Uint8Array>): ChefReport {
  const p = new ChefOutputParser();
  for (const c of chunks) p.push(c);
  p.end();
  return p.report;
}

describe('Chef output parser', () => {
  it('reads a successful Chef Client 12 run with file diffs', () => {
    const r = parseChefOutput(fixture('chef12-success-diff.txt'));
    assert.equal(r.chef, true);
    assert.equal(r.source, 'output');
    assert.equal(r.status, 'success');
    assert.equal(r.stage, 'finished');
    assert.equal(r.complete, true);
    assert.equal(r.product, 'Chef Client');
    assert.equal(r.chefVersion, '12.21.31');
    assert.deepEqual(r.runList, ['shop_web::default']);
    assert.deepEqual(r.cookbooks?.map((c) => `${c.name}@${c.version}`), ['shop_web@1.4.2', 'nginx@2.7.6', 'ohai@4.2.3']);
    assert.equal(r.totalResources, 8);
    assert.equal(r.updatedResources, 4);
    assert.equal(r.durationSeconds, 7);
    assert.deepEqual(r.plainLines, []);
    assert.equal(r.failure, undefined);
    assert.deepEqual(
      r.resources.map((x) => [resourceId(x), x.action, x.updated ? 'updated' : x.upToDate ? 'up to date' : '?']),
      [
        ['apt_package[nginx]', 'install', 'up to date'],
        ['directory[/var/www/shop]', 'create', 'updated'],
        ['template[/etc/nginx/sites-available/shop]', 'create', 'updated'],
        ['file[/var/www/shop/index.html]', 'create', 'updated'],
        ['link[/etc/nginx/sites-enabled/shop]', 'create', 'up to date'],
        ['service[nginx]', 'enable', 'up to date'],
        ['service[nginx]', 'start', 'up to date'],
        ['service[nginx]', 'reload', 'updated'],
      ],
    );
    assert.deepEqual(
      resourcesByRecipe(r).map((g) => [g.recipe, g.resources.length]),
      [
        ['nginx::package', 2],
        ['shop_web::default', 5],
        ['<Dynamically Defined Resource>', 1],
      ],
    );
    assert.deepEqual(r.resources[1].changes, ['create new directory /var/www/shop', "change mode from '' to '0755'", "change owner from '' to 'www-data'"]);
    const template = r.resources[2];
    assert.equal(template.diffs.length, 1);
    assert.equal(template.diffs[0].path, '/etc/nginx/sites-available/shop');
    assert.match(template.diffs[0].diff, /^--- \/etc\/nginx\/sites-available\/shop\t2017/);
    assert.deepEqual(rebuildFromUnifiedDiff(template.diffs[0].diff), {
      before: 'server {\n  listen 80;\n  server_name shop.example.internal;\n  root /var/www/shop;\n\n  location / {\n    try_files $uri $uri/ =404;\n  }\n}\n',
      after: 'server {\n  listen 8080;\n  server_name shop.example.internal;\n  root /var/www/shop;\n\n  location /api/ {\n    proxy_pass http://127.0.0.1:9000;\n    proxy_set_header Host $host;\n  }\n}\n',
    });
    // A new file: nothing before; the change after the diff is still the resource's.
    const file = r.resources[3];
    assert.deepEqual(rebuildFromUnifiedDiff(file.diffs[0].diff), { before: '', after: '<h1>shop</h1>\n<p>down for maintenance until 10:00 UTC</p>\n' });
    assert.equal(file.changes.at(-1), "change mode from '' to '0644'");
    assert.equal(r.resources[7].cookbook, undefined);
    assert.deepEqual(chefSummary(r), { status: 'success', chef: true, stage: 'finished', updated: 4, total: 8, failedResource: undefined, text: '4/8 updated' });
  });

  it('reads a run with nothing to change', () => {
    const r = parseChefOutput(fixture('chef14-no-changes.txt'));
    assert.equal(r.status, 'success');
    assert.equal(r.chefVersion, '14.14.29');
    assert.ok(r.resources.every((x) => x.upToDate && !x.updated && !x.diffs.length));
    assert.equal(r.resources.length, 5);
    assert.equal(chefSummary(r).text, '0/5 updated');
  });

  it('reads a converge failure: the failed resource, the exception, its sections and the FATAL lines (Infra Client 15)', () => {
    const r = parseChefOutput(fixture('chef15-converge-failure.txt'));
    assert.equal(r.status, 'failure');
    assert.equal(r.product, 'Chef Infra Client');
    assert.equal(r.updatedResources, 1);
    assert.equal(r.totalResources, 3);
    assert.equal(r.durationSeconds, 4);
    const f = r.failure!;
    assert.equal(f.resource, 'execute[run shop migrations]');
    assert.equal(f.action, 'run');
    assert.equal(f.stage, 'converging');
    assert.equal(f.title, "Error executing action `run` on resource 'execute[run shop migrations]'");
    assert.equal(f.exceptionClass, 'Mixlib::ShellOut::ShellCommandFailed');
    assert.equal(f.message.split('\n')[0], "Expected process to exit with [0], but received '3'");
    assert.match(f.message, /STDERR: ERROR: {2}column "currency" of relation "orders" already exists/);
    assert.deepEqual(f.sections.map((s) => s.title), ['Resource Declaration', 'Compiled Resource', 'System Info']);
    assert.deepEqual(f.sections[0].lines.slice(0, 3), ['# In /var/chef/cache/cookbooks/shop_db/recipes/migrate.rb', '', " 14: execute 'run shop migrations' do"]);
    assert.equal(f.sections[1].lines.at(-1), 'end');
    assert.deepEqual(f.sections[2].lines[0], 'chef_version=15.8.23');
    assert.equal(f.sections[2].lines.length, 6);
    assert.equal(f.stacktracePath, '/var/chef/cache/chef-stacktrace.out');
    assert.equal(f.fatal.length, 3);
    assert.equal(r.resources[f.resourceIndex!], r.resources[2]);
    assert.equal(r.resources[2].failed, true);
    assert.equal(r.resources[2].error, "Expected process to exit with [0], but received '3'");
    assert.equal(r.resources[1].updated, true);
    assert.deepEqual(rebuildFromUnifiedDiff(r.resources[1].diffs[0].diff), {
      before: "⋯ 2 lines not shown in Chef's diff ⋯\n  id bigserial primary key,\n  customer_id bigint not null,\n  total numeric(10,2)\n);\n",
      after: "⋯ 2 lines not shown in Chef's diff ⋯\n  id bigserial primary key,\n  customer_id bigint not null,\n  total numeric(12,2) not null,\n  currency char(3) not null default 'EUR'\n);\n",
    });
    assert.deepEqual(r.plainLines, []);
    assert.equal(chefSummary(r).text, 'failed: execute[run shop migrations]');
    assert.equal(chefSummary(r).failedResource, 'execute[run shop migrations]');
  });

  it('reads a compile failure: no resources, the exception, the cookbook trace and the file content (Infra Client 16)', () => {
    const r = parseChefOutput(fixture('chef16-compile-failure.txt'));
    assert.equal(r.status, 'failure');
    assert.deepEqual(r.runList, ['role[web]', 'shop_web::config']);
    assert.equal(r.resources.length, 0);
    const f = r.failure!;
    assert.equal(f.stage, 'compiling');
    assert.equal(f.resource, undefined);
    assert.equal(f.title, 'Recipe Compile Error in /var/chef/cache/cookbooks/shop_web/recipes/config.rb');
    assert.equal(f.exceptionClass, 'NoMethodError');
    assert.equal(f.message, "undefined method `[]' for nil:NilClass");
    assert.deepEqual(f.backtrace, ["/var/chef/cache/cookbooks/shop_web/recipes/config.rb:7:in `from_file'", "/var/chef/cache/cookbooks/shop_web/recipes/default.rb:3:in `from_file'"]);
    assert.deepEqual(f.sections.map((s) => s.title), ['Cookbook Trace: (most recent call first)', 'Relevant File Content', 'System Info']);
    assert.ok(f.sections[1].lines.includes("  7>> port = node['shop']['listen']['port']"));
    assert.equal(chefSummary(r).text, 'failed: NoMethodError');
  });

  it('reads a chef-solo template failure with its Template Context and keeps log lines as plain output (Chef 14)', () => {
    const r = parseChefOutput(fixture('chef14-solo-template-failure.txt'));
    assert.equal(r.status, 'failure');
    const f = r.failure!;
    assert.equal(f.resource, 'template[/etc/shop/app.yml]');
    assert.equal(f.exceptionClass, 'Chef::Mixin::Template::TemplateError');
    assert.deepEqual(f.sections.map((s) => s.title), ['Cookbook Trace', 'Resource Declaration', 'Compiled Resource', 'Template Context', 'Platform']);
    assert.equal(f.backtrace.length, 2);
    assert.deepEqual(f.sections[3].lines[0], 'on line #4');
    assert.equal(r.plainLines.length, 3);
    assert.match(r.plainLines[0], /WARN: Run List override has been provided\.$/);
  });

  it('reads Infra Client 18: nested resources of a custom resource, skipped ones, a diff of two hunks without final newlines', () => {
    const r = parseChefOutput(fixture('chef18-success-nested.txt'));
    assert.equal(r.product, 'Chef Infra Client');
    assert.equal(r.chefVersion, '18.2.7');
    assert.equal(r.status, 'success');
    assert.equal(r.durationSeconds, 72);
    assert.equal(chefSummary(r).text, '4/11 updated');
    const byId = (id: string) => r.resources.find((x) => resourceId(x) === id)!;
    const sessions = byId('shop_cache_instance[sessions]');
    assert.equal(sessions.updated, true, 'a custom resource is updated when what it declared was');
    assert.equal(byId('template[/etc/redis/sessions.conf]').depth, 1);
    assert.equal(r.resources[byId('template[/etc/redis/sessions.conf]').parent!], sessions);
    assert.equal(byId('execute[warm cache]').skipped, true);
    assert.equal(byId('execute[warm cache]').skipReason, 'skipped due to only_if');
    assert.equal(byId('shop_cache_instance[carts]').upToDate, true, '"(up to date)" on its own line is the custom resource\'s');
    assert.equal(byId('service[redis@carts]').parent, r.resources.indexOf(byId('shop_cache_instance[carts]')));
    const { before, after } = rebuildFromUnifiedDiff(byId('template[/etc/redis/sessions.conf]').diffs[0].diff);
    assert.equal(
      before,
      "⋯ 1 line not shown in Chef's diff ⋯\nport 6380\nbind 127.0.0.1\ntimeout 0\nmaxmemory 256mb\nmaxmemory-policy allkeys-lru\nsave \"\"\nappendonly no\n⋯ 12 lines not shown in Chef's diff ⋯\ndatabases 4\nloglevel notice\nlogfile /var/log/redis/sessions.log",
    );
    assert.equal(
      after,
      "⋯ 1 line not shown in Chef's diff ⋯\nport 6380\nbind 127.0.0.1\ntimeout 0\nmaxmemory 512mb\nmaxmemory-policy allkeys-lru\nsave \"\"\nappendonly no\n⋯ 12 lines not shown in Chef's diff ⋯\ndatabases 4\nloglevel notice\nlogfile /var/log/redis/sessions.log\nnotify-keyspace-events Ex",
    );
  });

  it('reads ANSI-coloured output as the same report', () => {
    const coloured = parseChefOutput(fixture('chef17-ansi.txt'));
    const plain = parseChefOutput(fixture('chef18-success-nested.txt'));
    assert.ok(fixture('chef17-ansi.txt').includes('\x1b[32m'));
    assert.equal(coloured.chefVersion, '17.10.3');
    assert.deepEqual({ ...coloured, chefVersion: '18.2.7' }, plain);
  });

  for (const name of ALL) {
    it(`reads CRLF output as the same report (${name})`, () => {
      assert.deepEqual(parseChefOutput(fixture(name).replace(/\n/g, '\r\n')), parseChefOutput(fixture(name)));
    });
  }

  it('reads diffs whose blank context lines lost their trailing space on the way', () => {
    const text = fixture('chef12-success-diff.txt').replace(/[ \t]+$/gm, '');
    const r = parseChefOutput(text);
    assert.deepEqual(r, parseChefOutput(fixture('chef12-success-diff.txt')));
  });

  it('keeps interleaved lines of other commands and log lines as plain output without losing the report', () => {
    const lines = fixture('chef12-success-diff.txt').split('\n');
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
    lines.splice(at('  * link['), 0, '[2017-06-12T09:41:28+00:00] WARN: Cloning resource attributes for service[nginx] from prior resource');
    lines.splice(at('Recipe: shop_web::default'), 0, 'deploy.sh: still waiting for the load balancer');
    lines.splice(at('    @@ -1,9'), 0, 'another process wrote this');
    const text = ['migrating shop', 'schema ok', ...lines, 'release shop done'].join('\n');
    const r = parseChefOutput(text);
    const clean = parseChefOutput(fixture('chef12-success-diff.txt'));
    assert.deepEqual(r.resources, clean.resources);
    assert.equal(r.status, 'success');
    assert.deepEqual(r.plainLines, [
      'migrating shop',
      'schema ok',
      'deploy.sh: still waiting for the load balancer',
      'another process wrote this',
      '[2017-06-12T09:41:28+00:00] WARN: Cloning resource attributes for service[nginx] from prior resource',
      'release shop done',
    ]);
  });

  it('follows a run cut off mid-converge: running while it streams, unknown once the output ended', () => {
    const text = fixture('chef12-success-diff.txt');
    const cut = text.slice(0, text.indexOf('    -  location / {'));
    const p = new ChefOutputParser();
    p.push(cut);
    assert.equal(p.report.status, 'running');
    assert.equal(p.report.stage, 'converging');
    assert.equal(p.report.totalResources, 6);
    assert.equal(chefSummary(p.report).text, 'converging: 2/6 updated');
    assert.match(p.report.resources[2].diffs[0].diff, /\+  listen 8080;\n/);
    p.end();
    assert.equal(p.report.status, 'unknown');
    assert.equal(p.report.complete, false);
    assert.equal(chefSummary(p.report).text, 'ended while converging: 2 updated');
  });

  it('shows the stage as soon as the output allows', () => {
    const p = new ChefOutputParser();
    p.push('Starting Chef Infra Client, version 15.8.23\nresolving cookbooks for run list: ["a"]\n');
    assert.deepEqual([p.report.status, p.report.stage, chefSummary(p.report).text], ['running', 'starting', 'starting']);
    p.push('Compiling Cookbooks...\n');
    assert.equal(chefSummary(p.report).text, 'compiling');
    p.push('Converging 2 resources\nRecipe: a::default\n  * file[/x] action create\n    - create new file /x\n  * execute[y] action run\n    \n    ===========================');
    assert.equal(chefSummary(p.report).text, 'converging: 1/2 updated');
    p.push("=====================================================\n    Error executing action `run` on resource 'execute[y]'\n    ================================================================================\n");
    assert.equal(chefSummary(p.report).text, 'failed: execute[y]', 'the failed resource is known from the banner on');
  });

  it('gives the same report however the bytes are cut, at every byte offset', () => {
    const text = fixture('chef15-converge-failure.txt') + 'STDOUT: café ✓ — ünïcode after the run\n';
    const bytes = Buffer.from(text, 'utf8');
    const whole = parseChefOutput(text);
    assert.equal(whole.plainLines.at(-1), 'STDOUT: café ✓ — ünïcode after the run');
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(streamed([bytes.subarray(0, i), bytes.subarray(i)]), whole, `cut at byte ${i}`);
    }
    // And as text chunks of random sizes, every fixture.
    const random = mulberry32(9);
    for (const name of ALL) {
      const source = fixture(name);
      const chunks: string[] = [];
      for (let at = 0; at < source.length; ) {
        const n = 1 + Math.floor(random() * 40);
        chunks.push(source.slice(at, at + n));
        at += n;
      }
      assert.deepEqual(streamed(chunks), parseChefOutput(source), name);
    }
  });

  it('reads output that is no Chef run as plain output with status unknown', () => {
    const r = parseChefOutput('migrating shop\nERROR: nothing to do here\n  - not a change\n================================\nschema ok\n');
    assert.equal(r.chef, false);
    assert.equal(r.status, 'unknown');
    assert.deepEqual(r.resources, []);
    assert.equal(r.failure, undefined);
    assert.equal(r.plainLines.length, 5);
    assert.equal(chefSummary(r).text, '');
    assert.equal(parseChefOutput('').status, 'unknown');
  });

  it('finds the failure in the FATAL lines when the log kept only its end', () => {
    const tail = fixture('chef15-converge-failure.txt').split('\n').slice(-4).join('\n');
    const r = parseChefOutput(`[… 524288 earlier bytes not kept …]\n${tail}`);
    assert.equal(r.status, 'failure');
    assert.equal(r.failure?.resource, 'execute[run shop migrations]');
    assert.equal(r.failure?.exceptionClass, 'Mixlib::ShellOut::ShellCommandFailed');
    assert.equal(r.failure?.message, "Expected process to exit with [0], but received '3'");
    assert.equal(chefSummary(r).text, 'failed: execute[run shop migrations]');
  });

  it('does not take a forked run\'s ChildConvergeError for the exception', () => {
    const r = parseChefOutput(
      [
        'Starting Chef Client, version 12.21.31',
        'Chef Client failed. 0 resources updated in 01 seconds',
        '[2017-06-12T09:41:28+00:00] ERROR: template[/etc/x] (app::default line 3) had an error: Errno::EACCES: Permission denied @ rb_sysopen - /etc/x',
        '[2017-06-12T09:41:28+00:00] FATAL: Chef::Exceptions::ChildConvergeError: Chef run process exited unsuccessfully (exit code 1)',
      ].join('\n'),
    );
    assert.equal(r.failure?.exceptionClass, 'Errno::EACCES');
    assert.equal(r.failure?.resource, 'template[/etc/x]');
    assert.equal(r.failure?.fatal.length, 1);
  });

  it('reads why-run mode', () => {
    const r = parseChefOutput(
      [
        'Starting Chef Client, version 13.12.14',
        'Converging 1 resources',
        'Recipe: a::default',
        '  * file[/etc/motd] action create',
        '    - Would update content in file /etc/motd from 0a1b2c to 3d4e5f',
        '    --- /etc/motd\t2018-01-01 00:00:00.000000000 +0000',
        '    +++ /etc/.chef-motd20180101-1-abc\t2018-01-01 00:00:00.000000000 +0000',
        '    @@ -1 +1 @@',
        '    -hello',
        '    +welcome',
        'Chef Client finished, 1/1 resources would have been updated',
      ].join('\n'),
    );
    assert.equal(r.whyRun, true);
    assert.equal(r.status, 'success');
    assert.deepEqual(rebuildFromUnifiedDiff(r.resources[0].diffs[0].diff), { before: 'hello\n', after: 'welcome\n' });
    assert.equal(chefSummary(r).text, '1/1 would be updated');
  });

  it('keeps the failure of an ignore_failure resource but reports the run as it ended', () => {
    const r = parseChefOutput(
      [
        'Starting Chef Infra Client, version 16.13.16',
        'Converging 2 resources',
        'Recipe: a::default',
        '  * execute[optional] action run',
        '    ================================================================================',
        "    Error executing action `run` on resource 'execute[optional]'",
        '    ================================================================================',
        '    Mixlib::ShellOut::ShellCommandFailed',
        '    ------------------------------------',
        "    Expected process to exit with [0], but received '1'",
        '  * file[/x] action create (up to date)',
        'Chef Infra Client finished, 0/2 resources updated in 01 seconds',
      ].join('\n'),
    );
    assert.equal(r.status, 'success');
    assert.equal(r.failure?.ignored, true);
    assert.equal(r.resources.length, 2);
    assert.equal(r.resources[0].failed, true);
  });

  it('reports the latest run when one output holds two', () => {
    const r = parseChefOutput(fixture('chef15-converge-failure.txt') + fixture('chef14-no-changes.txt'));
    assert.equal(r.status, 'success');
    assert.equal(r.failure, undefined);
    assert.equal(r.resources.length, 5);
    assert.equal(r.chefVersion, '14.14.29');
  });

  it('reads Chef\'s durations', () => {
    assert.equal(parseDuration('05 seconds'), 5);
    assert.equal(parseDuration('01 minutes 12 seconds'), 72);
    assert.equal(parseDuration('1 hours 02 minutes 03 seconds'), 3723);
    assert.equal(parseDuration('5.25 seconds'), 5.25);
    assert.equal(parseDuration('a while'), undefined);
  });

  it('never throws, whatever it is fed, and bounds what it keeps', () => {
    const random = mulberry32(42);
    const pieces = ['  * ', 'file[', ']', ' action ', 'create', '\n', '    - ', 'update content in file /x from a to b', '    @@ -1,2 +1 @@', '    +', '    -', '=================================', '\x1b[31m', '\x1b]8;;http://x\x07', '\r', '\u0000', 'Recipe: ', '::', 'Chef Client finished, 1/2 resources updated in 01 seconds', '[t] FATAL: X: y', 'Converging 3 resources', '----', 'Error executing action `a` on resource \'b\'', '(up to date)', ' ', 'é'];
    for (let round = 0; round < 300; round++) {
      const p = new ChefOutputParser();
      const parts: string[] = [];
      for (let i = 0; i < 60; i++) parts.push(pieces[Math.floor(random() * pieces.length)]);
      for (const part of parts) p.push(part);
      p.push(new Uint8Array([0xff, 0xfe, 0xc3]));
      p.end();
      const r = p.report;
      assert.ok(Array.isArray(r.resources));
      JSON.stringify(r);
      chefSummary(r);
      for (const x of r.resources) for (const d of x.diffs) rebuildFromUnifiedDiff(d.diff);
    }
    const p = new ChefOutputParser();
    for (let i = 0; i < 3000; i++) p.push(`line ${i}\n`);
    assert.equal(p.report.plainLines.length, 500);
    assert.equal(p.report.plainLines[0], 'line 2500');
    assert.equal(p.report.plainLinesDropped, 2500);
  });

  it('rebuilds what it can of malformed diffs', () => {
    assert.deepEqual(rebuildFromUnifiedDiff(''), { before: '', after: '' });
    assert.deepEqual(rebuildFromUnifiedDiff('@@ -1 +1 @@\n-a\n+b\n'), { before: 'a\n', after: 'b\n' });
    assert.deepEqual(rebuildFromUnifiedDiff('garbage\n@@ nonsense @@\n'), { before: '', after: '' });
  });
});
