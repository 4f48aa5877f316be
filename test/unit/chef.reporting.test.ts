import * as assert from 'node:assert/strict';
import { chefSummary, rebuildFromUnifiedDiff } from '../../src/core/chef/report';
import { generateKeyPairSync } from 'node:crypto';
import { ChefServerClient } from '../../src/core/chef/server/chefServerClient';
import { listRuns, runEndBody, reportingTime, sortRuns, toRunSummary } from '../../src/core/chef/server/reporting';
import { listen } from '../support/http';
import type { ReportingRunDetail } from '../../src/core/chef/server/reportingReport';
import { failedResourceFromTitle, parseReportingTime, parseRunList, reportingToChefReport, stateChanges } from '../../src/core/chef/server/reportingReport';

const DELTA = '--- /etc/app.conf\t2026-11-30 10:00:00 +0000\n+++ /etc/.chef-app.conf\t2026-12-01 05:00:00 +0000\n@@ -1,2 +1,2 @@\n port 80\n-workers 2\n+workers 4\n';

/** As goiardi returns GET /reports/org/runs/<id> for a failed run. */
const FAILED: ReportingRunDetail = {
  resources: [
    { type: 'execute', name: 'apt-get update', id: 'apt-get update', before: {}, after: { command: 'apt-get update' }, duration: '2140', delta: '', result: 'run', cookbook_name: 'base', cookbook_version: '1.1.0' },
    {
      type: 'template', name: '/etc/app.conf', id: '/etc/app.conf',
      before: { path: '/etc/app.conf', mode: '0644', checksum: 'aa' }, after: { path: '/etc/app.conf', mode: '0640', checksum: 'bb' },
      duration: '233', delta: DELTA, result: 'create', cookbook_name: 'app', cookbook_version: '2.0.1',
    },
  ],
  run_detail: {
    run_id: 'r-1', node_name: 'web-1', status: 'failure',
    start_time: '2026-12-01T05:00:00Z', end_time: '2026-12-01T05:01:10Z', total_res_count: 42,
    run_list: '["role[base]","role[web]"]',
    data: {
      exception: {
        class: 'Chef::Exceptions::ValidationFailed',
        message: 'Proposed content for /etc/app.conf failed verification\nsecond line',
        backtrace: ['/opt/chef/lib/chef/resource/file/verification.rb:103:in `verify\'', '/opt/chef/lib/chef/provider/file.rb:364'],
        description: {
          title: "Error executing action `create` on resource 'template[/etc/app.conf]'",
          sections: [
            { 'Chef::Exceptions::ValidationFailed': 'Proposed content for /etc/app.conf failed verification' },
            { 'Resource Declaration:': "# In /var/chef/cache/cookbooks/app/recipes/default.rb\n\n 12: template '/etc/app.conf' do\n 13: end\n" },
          ],
        },
      },
    },
  },
};

describe('Reporting → ChefReport', () => {
  it('converts a failed run: resources with before/after, delta as a diff, the failed resource and its exception', () => {
    const r = reportingToChefReport(FAILED);
    assert.equal(r.source, 'reporting');
    assert.equal(r.chef, true);
    assert.equal(r.status, 'failure');
    assert.equal(r.stage, 'finished');
    assert.equal(r.complete, true);
    assert.deepEqual(r.runList, ['role[base]', 'role[web]']);
    assert.equal(r.startedAt, Date.parse('2026-12-01T05:00:00Z'));
    assert.equal(r.durationSeconds, 70);
    assert.equal(r.totalResources, 42);
    assert.equal(r.updatedResources, 1);
    const [apt, tpl] = r.resources;
    assert.deepEqual(
      { type: apt.type, name: apt.name, action: apt.action, cookbook: apt.cookbook, updated: apt.updated, failed: apt.failed, diffs: apt.diffs, durationMs: apt.durationMs },
      { type: 'execute', name: 'apt-get update', action: 'run', cookbook: 'base', updated: true, failed: undefined, diffs: [], durationMs: 2140 },
    );
    assert.equal(tpl.failed, true);
    assert.equal(tpl.updated, false);
    assert.equal(tpl.error, 'Proposed content for /etc/app.conf failed verification');
    assert.deepEqual(tpl.diffs, [{ path: '/etc/app.conf', diff: DELTA }]);
    assert.deepEqual(tpl.before, { path: '/etc/app.conf', mode: '0644', checksum: 'aa' });
    assert.deepEqual(tpl.after, { path: '/etc/app.conf', mode: '0640', checksum: 'bb' });
    assert.deepEqual(tpl.changes, ['mode: "0644" → "0640"', 'checksum: "aa" → "bb"']);
    assert.equal(tpl.cookbookVersion, '2.0.1');
    assert.deepEqual(rebuildFromUnifiedDiff(tpl.diffs[0].diff), { before: 'port 80\nworkers 2\n', after: 'port 80\nworkers 4\n' });
    const f = r.failure!;
    assert.equal(f.resource, 'template[/etc/app.conf]');
    assert.equal(f.resourceIndex, 1);
    assert.equal(f.action, 'create');
    assert.equal(f.stage, 'converging');
    assert.equal(f.exceptionClass, 'Chef::Exceptions::ValidationFailed');
    assert.equal(f.message, 'Proposed content for /etc/app.conf failed verification\nsecond line');
    assert.equal(f.title, "Error executing action `create` on resource 'template[/etc/app.conf]'");
    assert.deepEqual(f.sections.map((s) => s.title), ['Chef::Exceptions::ValidationFailed', 'Resource Declaration']);
    assert.deepEqual(f.sections[1].lines, ['# In /var/chef/cache/cookbooks/app/recipes/default.rb', '', " 12: template '/etc/app.conf' do", ' 13: end']);
    assert.equal(f.backtrace.length, 2);
    assert.equal(chefSummary(r).text, 'failed: template[/etc/app.conf]');
  });

  it('a started run (no end yet, Go zero end time) is running, with no total or duration', () => {
    const r = reportingToChefReport({ run_id: 'r-2', status: 'started', start_time: '2026-12-01T05:00:00Z', end_time: '0001-01-01T00:00:00Z', total_res_count: 0, run_list: '', resources: null, data: null });
    assert.equal(r.status, 'running');
    assert.equal(r.complete, false);
    assert.equal(r.totalResources, undefined);
    assert.equal(r.durationSeconds, undefined);
    assert.equal(r.runList, undefined);
    assert.equal(r.failure, undefined);
  });

  it('a failure outside any resource is a compile failure with no failed resource', () => {
    const r = reportingToChefReport({
      run_id: 'r-3', status: 'failure', start_time: '2026-12-01 05:00:00 +0000', end_time: '2026-12-01 05:00:09 +0000', total_res_count: '0', run_list: ['recipe[app]'],
      data: { exception: { class: 'NoMethodError', message: "undefined method `foo' for nil:NilClass", backtrace: null, description: { title: 'Recipe Compile Error in /var/chef/cache/cookbooks/app/recipes/default.rb', sections: null } } },
    });
    assert.equal(r.failure?.stage, 'compiling');
    assert.equal(r.failure?.resource, undefined);
    assert.equal(r.durationSeconds, 9);
    assert.deepEqual(r.runList, ['recipe[app]']);
    assert.equal(chefSummary(r).text, 'failed: NoMethodError');
  });

  it('reads both time formats and the run list string; finds the failed resource in both title styles', () => {
    assert.equal(parseReportingTime('2026-12-01 05:00:00 +0100'), Date.parse('2026-12-01T04:00:00Z'));
    assert.equal(parseReportingTime('0001-01-01T00:00:00Z'), undefined);
    assert.equal(parseReportingTime('yesterday'), undefined);
    assert.deepEqual(parseRunList('not json'), ['not json']);
    assert.equal(failedResourceFromTitle("Error executing action `run` on resource 'execute[echo [x]]'"), 'execute[echo [x]]');
    assert.equal(failedResourceFromTitle('Error executing action `run` on resource execute[x]'), 'execute[x]');
    assert.deepEqual(stateChanges({ a: 1 }, { a: 1, b: 'x'.repeat(200) }), [`b: (none) → "${'x'.repeat(116)}…`]);
  });

  it('summarises and sorts listing rows newest first', () => {
    const rows = [
      { run_id: 'a', node_name: 'n1', status: 'success', start_time: '2026-12-01T01:00:00Z', end_time: '2026-12-01T01:01:00Z', total_res_count: 3, run_list: '[]', resources: [] },
      { run_id: 'b', node_name: 'n1', status: 'started', start_time: '2026-12-01T03:00:00Z', end_time: '0001-01-01T00:00:00Z', total_res_count: 0 },
      FAILED.run_detail,
    ].map(toRunSummary);
    assert.deepEqual(sortRuns(rows).map((r) => r.runId), ['r-1', 'b', 'a']);
    const failed = rows.find((r) => r.runId === 'r-1')!;
    assert.deepEqual(failed, {
      runId: 'r-1', node: 'web-1', status: 'failure', updatedResources: 0, startedAt: Date.parse('2026-12-01T05:00:00Z'), endedAt: Date.parse('2026-12-01T05:01:10Z'),
      durationSeconds: 70, totalResources: 42, runList: ['role[base]', 'role[web]'], failedResource: 'template[/etc/app.conf]',
      exceptionClass: 'Chef::Exceptions::ValidationFailed', message: 'Proposed content for /etc/app.conf failed verification',
    });
  });

  it('builds the run end body as chef-client does (run list as a JSON string, counts as strings)', () => {
    const body = runEndBody({ runId: 'r', startTime: Date.parse('2026-12-01T05:00:00Z'), endTime: Date.parse('2026-12-01T05:01:00Z'), status: 'success', runList: ['role[web]'], totalResources: 7, resources: [] });
    assert.deepEqual(body, { action: 'end', run_id: 'r', resources: [], status: 'success', run_list: '["role[web]"]', total_res_count: '7', data: {}, start_time: '2026-12-01 05:00:00 +0000', end_time: '2026-12-01 05:01:00 +0000' });
    assert.equal(reportingTime(new Date('2026-12-01T05:00:00.999Z')), '2026-12-01 05:00:00 +0000');
  });
});

describe('Reporting listings', () => {
  it('never overlap on one server, whichever client object asks (goiardi crashes on concurrent listings)', async () => {
    let inFlight = 0;
    let most = 0;
    let served = 0;
    const server = await listen((req, res) => {
      if (req.headers['x-ops-userid'] === 'c') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":["boom"]}');
        return;
      }
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        served++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ run_history: [] }));
      }, 30);
    });
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const key = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      const a = new ChefServerClient({ serverUrl: `http://${server.address}`, clientName: 'a', clientKey: key });
      const b = new ChefServerClient({ serverUrl: `http://${server.address}`, clientName: 'b', clientKey: key });
      const failing = new ChefServerClient({ serverUrl: `http://${server.address}`, clientName: 'c', clientKey: key });
      const results = await Promise.allSettled([listRuns(a), listRuns(b, { node: 'web-1' }), listRuns(failing), listRuns(a, { status: 'failure' })]);
      assert.equal(most, 1, 'two listings were in flight at once');
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3, 'a failed listing must not stop the ones queued after it');
      assert.ok(served >= 3);
    } finally {
      await server.close();
    }
  });

  it('always sends both from and until (default: the last 24 hours), and refuses a window over 90 days saying so', async () => {
    const queries: URLSearchParams[] = [];
    const server = await listen((req, res) => {
      queries.push(new URL(req.url ?? '/', 'http://x').searchParams);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ run_history: [] }));
    });
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const key = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      const client = new ChefServerClient({ serverUrl: `http://${server.address}`, clientName: 'a', clientKey: key });
      const now = Math.floor(Date.now() / 1000);
      await listRuns(client, { node: 'web-1' });
      const [q] = queries;
      assert.ok(q.has('from') && q.has('until'), q.toString());
      // until: now plus 15 minutes of clock slack (a node whose clock is ahead is not missed); from: 24 hours ago.
      assert.ok(Math.abs(Number(q.get('until')) - (now + 900)) <= 3, q.toString());
      assert.ok(Math.abs(Number(q.get('from')) - (now - 86_400)) <= 3, q.toString());
      const to = Date.UTC(2026, 11, 1);
      await listRuns(client, { to, from: to - 90 * 86_400_000 });
      assert.equal(queries.length, 2);
      // The view's "Last 90 days": the clock slack never takes the window past 90 days.
      await listRuns(client, { from: Date.now() - 90 * 86_400_000 });
      assert.equal(queries.length, 3);
      assert.ok(Number(queries[2].get('until')) - Number(queries[2].get('from')) <= 90 * 86_400 + 2, queries[2].toString());
      await assert.rejects(listRuns(client, { from: to - 91 * 86_400_000, to }), (e: Error) => e instanceof RangeError && /at most 90 days/.test(e.message) && /91 days/.test(e.message));
      await assert.rejects(listRuns(client, { from: 0 }), /at most 90 days/);
      assert.equal(queries.length, 3, 'a refused window is not sent');
    } finally {
      await server.close();
    }
  });
});
