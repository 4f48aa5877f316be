import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chefSummary, rebuildFromUnifiedDiff } from '../../src/core/chef/report';
import { MAX_REPORT_FILE_BYTES, parseChefTime, parseReportFile, ReportFileError } from '../../src/core/chef/reportFiles';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/chef');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

describe('Chef report files', () => {
  it('reads a failed run from data collector messages (run_start, then run_converge, one per line)', () => {
    const file = parseReportFile(fixture('data-collector-failure.json'));
    assert.equal(file.kind, 'data-collector');
    assert.equal(file.node, 'web-2');
    assert.equal(file.runId, '2b6f7f57-1d2c-4d4e-8d0a-6b1c2f3e4d5a');
    assert.equal(file.runs, 1);
    assert.deepEqual(file.warnings, []);
    const r = file.report;
    assert.equal(r.source, 'file');
    assert.equal(r.chef, true);
    assert.equal(r.complete, true);
    assert.equal(r.status, 'failure');
    assert.equal(r.stage, 'converging');
    assert.equal(r.product, 'Chef Infra Client');
    assert.equal(r.chefVersion, '17.10.3');
    assert.deepEqual(r.runList, ['role[web]']);
    assert.deepEqual(r.cookbooks, [{ name: 'shop', version: '2.4.1' }, { name: 'nginx', version: '12.0.0' }]);
    assert.equal(r.startedAt, Date.parse('2026-11-30T21:14:02Z'));
    assert.equal(r.durationSeconds, 45);
    assert.equal(r.totalResources, 5);
    assert.equal(r.updatedResources, 1);
    assert.deepEqual(
      r.resources.map((x) => [`${x.type}[${x.name}]`, x.action, x.updated, x.upToDate, x.skipped, !!x.failed, `${x.cookbook}::${x.recipe}`]),
      [
        ['apt_package[nginx]', 'install', false, true, false, false, 'nginx::default'],
        ['template[/etc/nginx/sites-enabled/shop]', 'create', true, false, false, false, 'shop::web'],
        ['service[nginx]', 'nothing', false, false, true, false, 'shop::web'],
        ['execute[shop-migrate]', 'run', false, false, false, true, 'shop::deploy'],
        ['service[shop]', 'restart', false, false, false, false, 'shop::deploy'],
      ],
    );
    assert.equal(r.resources[2].skipReason, "skipped due to not_if { ::File.exist?('/etc/shop/maintenance') }");
    // Before/after state as changes, the delta as a diff the diff editor can show.
    const tmpl = r.resources[1];
    assert.deepEqual(tmpl.changes, ['mode: "0640" → "0644"', 'checksum: "41d7aa0c8e21" → "9f2c0e5d1a3b"']);
    assert.equal(tmpl.before?.mode, '0640');
    assert.equal(tmpl.after?.mode, '0644');
    assert.equal(tmpl.durationMs, 38);
    assert.equal(tmpl.cookbookVersion, '2.4.1');
    assert.equal(tmpl.diffs.length, 1);
    assert.equal(tmpl.diffs[0].path, '/etc/nginx/sites-enabled/shop');
    const sides = rebuildFromUnifiedDiff(tmpl.diffs[0].diff);
    assert.match(sides.before, /server 127\.0\.0\.1:8080;/);
    assert.match(sides.after, /server 127\.0\.0\.1:8081;/);
    assert.equal(r.resources[3].error, "Expected process to exit with [0], but received '1'");
    const f = r.failure!;
    assert.equal(f.resource, 'execute[shop-migrate]');
    assert.equal(f.resourceIndex, 3);
    assert.equal(f.action, 'run');
    assert.equal(f.exceptionClass, 'Mixlib::ShellOut::ShellCommandFailed');
    assert.equal(f.title, "Error executing action `run` on resource 'execute[shop-migrate]'");
    assert.match(f.message, /STDERR: ERROR: {2}relation "orders" does not exist/);
    assert.deepEqual(f.sections.map((s) => s.title), ['Mixlib::ShellOut::ShellCommandFailed', 'Resource Declaration', 'System Info']);
    assert.equal(f.backtrace.length, 6);
    assert.match(f.backtrace[0], /shellout\.rb:300:in `invalid!'/);
    assert.equal(chefSummary(r).text, 'failed: execute[shop-migrate]');
  });

  it('takes the last run of a data collector file holding several', () => {
    const file = parseReportFile(fixture('data-collector-two-runs.json'));
    assert.equal(file.runs, 2);
    assert.equal(file.node, 'web-2');
    assert.equal(file.report.status, 'failure');
    // The first run alone, cut where the second starts.
    const first = fixture('data-collector-two-runs.json').split('\n').slice(0, 2).join('\n');
    const one = parseReportFile(first);
    assert.equal(one.node, 'db-1');
    assert.equal(one.report.status, 'success');
    assert.equal(one.report.stage, 'finished');
    assert.equal(one.report.failure, undefined);
    assert.equal(chefSummary(one.report).text, '1/2 updated');
    // A delta without a final newline still rebuilds both sides.
    assert.equal(rebuildFromUnifiedDiff(one.report.resources[1].diffs[0].diff).after, 'shared_buffers = 2GB\nwork_mem = 16MB\n');
  });

  it('reads one pretty-printed message, and a run_start alone as a run that never reported its end', () => {
    const lines = fixture('data-collector-failure.json').trim().split('\n');
    const pretty = JSON.stringify(JSON.parse(lines[1]), null, 2);
    assert.deepEqual(parseReportFile(pretty).report, parseReportFile(lines.join('\n')).report);
    const started = parseReportFile(lines[0]);
    assert.equal(started.node, 'web-2');
    assert.equal(started.report.status, 'unknown');
    assert.equal(started.report.complete, false);
    assert.match(started.warnings.join(), /not its end/);
  });

  it('reads a failed chef-run-report-*.json of the json_file handler with its exception and backtrace', () => {
    const file = parseReportFile(fixture('chef-run-report-20261130220141.json'));
    assert.equal(file.kind, 'json-file-handler');
    assert.equal(file.node, 'web-1');
    assert.equal(file.runId, 'a7c2e0f1-5b3d-4c8e-9f10-2d3e4f5a6b7c');
    const r = file.report;
    assert.equal(r.source, 'file');
    assert.equal(r.status, 'failure');
    assert.equal(r.complete, true);
    assert.equal(r.chefVersion, '16.17.51');
    assert.equal(r.product, 'Chef Infra Client');
    assert.deepEqual(r.runList, ['recipe[nginx]', 'recipe[shop::deploy]']);
    assert.equal(r.startedAt, Date.parse('2026-11-30T22:00:58Z'));
    assert.equal(r.durationSeconds, 43.1);
    assert.equal(r.totalResources, 4);
    assert.equal(r.updatedResources, 1);
    assert.deepEqual(
      r.resources.map((x) => [`${x.type}[${x.name}]`, x.action, x.updated, x.upToDate, !!x.failed]),
      [
        ['apt_package[nginx]', 'install', false, true, false],
        ['template[/etc/nginx/nginx.conf]', 'create', true, false, false],
        ['remote_file[/opt/shop/releases/shop-2.4.1.tar.gz]', 'create', false, false, true],
        ['service[shop]', 'restart', false, false, false],
      ],
    );
    assert.match(rebuildFromUnifiedDiff(r.resources[1].diffs[0].diff).after, /worker_connections 4096;/);
    const f = r.failure!;
    assert.equal(f.resource, 'remote_file[/opt/shop/releases/shop-2.4.1.tar.gz]');
    assert.equal(f.resourceIndex, 2);
    assert.equal(f.exceptionClass, 'Net::HTTPClientException');
    assert.equal(f.message, '404 "Not Found" <a href="x">&amp;</a>', 'kept as text: whoever shows it escapes it');
    assert.equal(f.backtrace.length, 5);
    assert.deepEqual(f.sections, []);
    assert.match(f.backtrace[4], /deploy\.rb:8:in `from_file'/);
    assert.equal(r.resources[2].error, f.message);
  });

  it('reads a successful json_file report with Ruby time strings', () => {
    const data = JSON.parse(fixture('chef-run-report-20261130220141.json')) as Record<string, unknown>;
    const ok = parseReportFile(JSON.stringify({ ...data, success: true, exception: null, backtrace: null, elapsed_time: undefined }));
    assert.equal(ok.report.status, 'success');
    assert.equal(ok.report.failure, undefined);
    assert.equal(ok.report.durationSeconds, 43);
    assert.equal(ok.report.resources.filter((x) => x.failed).length, 0);
    assert.equal(parseChefTime('2026-11-30 22:01:41 +0100'), Date.parse('2026-11-30T21:01:41Z'));
    assert.equal(parseChefTime('nonsense'), undefined);
  });

  it('says exactly what is wrong with files that are not Chef reports, and never throws anything else', () => {
    const error = (text: string) => {
      try {
        parseReportFile(text, 'x.json');
      } catch (e) {
        assert.ok(e instanceof ReportFileError, String(e));
        return e.message;
      }
      assert.fail('no error');
    };
    assert.equal(error(''), 'The file is empty.');
    assert.match(error('hello'), /not a JSON file/);
    assert.match(error('{"a": '), /not valid JSON/);
    assert.match(error('{"name": "package.json", "version": "1.0.0"}'), /x\.json is JSON, but not a Chef report/);
    assert.match(error('{"message_type": "action"}'), /no run_start or run_converge message/);
    assert.match(error(' '.repeat(MAX_REPORT_FILE_BYTES + 1)), /larger than 20 MiB/);
    // Malformed lines in a data collector file are skipped with a warning.
    const lines = fixture('data-collector-failure.json').trim().split('\n');
    const damaged = parseReportFile([lines[0], '{"message_type": "run_conv', lines[1]].join('\n'));
    assert.equal(damaged.report.status, 'failure');
    assert.match(damaged.warnings[0], /line 2 is not valid JSON/);
    // Wrong types everywhere: read as far as they go.
    const odd = parseReportFile(JSON.stringify({ message_type: 'run_converge', node_name: ['x'], status: 'failure', resources: [null, 3, { type: {}, status: 'failed', error: 'boom' }], error: 'text' }));
    assert.equal(odd.node, undefined);
    assert.equal(odd.report.status, 'failure');
    assert.equal(odd.report.resources.length, 1);
    assert.equal(odd.report.failure?.resource, 'resource[]');
  });
});

describe('ChefReportShelf', () => {
  it('puts file reports beside the runs\' reports, and passes both on', async () => {
    const { ChefReportShelf } = await import('../../src/core/chef/reportShelf');
    const { RunChefReports } = await import('../../src/core/chef/runReports');
    const { RunRegistry } = await import('../../src/core/runs/registry');
    const runs = new RunChefReports(new RunRegistry(), { readLog: () => Promise.resolve(fixture('chef14-no-changes.txt')) });
    const shelf = new ChefReportShelf(runs);
    const changes: string[] = [];
    shelf.onDidChange((r) => changes.push(`${r.id}/${r.node}`));
    const file = parseReportFile(fixture('data-collector-failure.json'));
    const ref = { id: 'file:///tmp/dc.json', phase: 0, node: 'web-2' };
    shelf.put(ref, file.report);
    assert.equal(shelf.reportOf(ref.id, 0, 'web-2'), file.report);
    assert.equal(await shelf.load(ref.id, 0, 'web-2'), file.report);
    assert.equal((await shelf.load('r1', 0, 'db-1'))?.status, 'success', 'other refs are the runs\' reports');
    assert.deepEqual(changes, ['file:///tmp/dc.json/web-2', 'r1/db-1']);
    shelf.remove(ref);
    assert.equal(shelf.reportOf(ref.id, 0, 'web-2'), undefined);
    shelf.dispose();
    runs.dispose();
  });

  it('keeps at most N reports of a bounded group (Reporting runs opened), dropping the least recently used; others stay', async () => {
    const { ChefReportShelf } = await import('../../src/core/chef/reportShelf');
    const { RunChefReports } = await import('../../src/core/chef/runReports');
    const { RunRegistry } = await import('../../src/core/runs/registry');
    const runs = new RunChefReports(new RunRegistry(), { readLog: () => Promise.resolve('') });
    const shelf = new ChefReportShelf(runs);
    const report = parseReportFile(fixture('data-collector-failure.json')).report;
    const file = { id: 'file:///tmp/dc.json', phase: 0, node: 'web-2' };
    shelf.put(file, report);
    const run = (i: number) => ({ id: `reporting:run-${i}`, phase: 0, node: 'web-1' });
    for (let i = 0; i < 3; i++) shelf.putBounded(run(i), report, 'chef-server-runs', 3);
    assert.ok(shelf.reportOf(run(0).id, 0, 'web-1'), 'read: now the most recently used');
    shelf.putBounded(run(3), report, 'chef-server-runs', 3);
    assert.deepEqual([0, 1, 2, 3].map((i) => shelf.isShelved(run(i))), [true, false, true, true]);
    for (let i = 4; i < 60; i++) shelf.putBounded(run(i), report, 'chef-server-runs', 3);
    assert.equal([...Array(60).keys()].filter((i) => shelf.isShelved(run(i))).length, 3);
    assert.ok(shelf.isShelved(file), 'a report outside the group stays');
    shelf.dispose();
    runs.dispose();
  });
});
