/**
 * Rules on Chef runs against a real Chef server's Reporting history
 * (goiardi with authentication): runs posted as chef-client posts them,
 * polled as the editor polls them, matched by the rules.
 */
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import type { ChefServerClient } from '../../src/core/chef/server/chefServerClient';
import { postRunEnd, postRunStart } from '../../src/core/chef/server/reporting';
import type { RunEndInput } from '../../src/core/chef/server/reporting';
import type { ReportingResource } from '../../src/core/chef/server/reportingReport';
import { Notifier } from '../../src/core/notify/notifier';
import type { Notification } from '../../src/core/notify/notifier';
import { RuleEngine } from '../../src/core/rules/ruleEngine';
import { reportingSourceOf } from '../../src/core/rules/reportingSource';
import { ReportingPoller } from '../../src/core/rules/sources';
import { goiardiClient, requireGoiardi } from '../infra/goiardi';

const MIN = 60_000;
const HOUR = 60 * MIN;

function template(cookbookVersion: string): ReportingResource {
  return {
    type: 'template',
    name: '/etc/nginx/nginx.conf',
    id: '/etc/nginx/nginx.conf',
    before: { checksum: '1f0e3c' },
    after: { checksum: '9a7b55' },
    duration: '41',
    delta: '--- /etc/nginx/nginx.conf\n+++ /etc/nginx/.chef-nginx.conf\n@@ -1,2 +1,2 @@\n-worker_processes 2;\n+worker_processes 4;\n events {}\n',
    result: 'create',
    cookbook_name: 'nginx',
    cookbook_version: cookbookVersion,
    recipe_name: 'default',
  };
}

const migrations: ReportingResource = {
  type: 'execute',
  name: 'run shop migrations',
  id: 'run shop migrations',
  before: {},
  after: {},
  duration: '1544',
  delta: '',
  result: 'run',
  cookbook_name: 'shop_db',
  cookbook_version: '0.9.0',
  recipe_name: 'migrate',
};

describe('Rules on Chef runs, against the Reporting history of a real Chef server', function () {
  this.timeout(60_000);
  let client: ChefServerClient;
  const tag = crypto.randomBytes(3).toString('hex');
  const web = `rules-web-${tag}`;
  const silent = `rules-silent-${tag}`;

  before(async () => {
    client = goiardiClient(requireGoiardi());
    for (const name of [web, silent]) {
      await client.post('/nodes', { name, json_class: 'Chef::Node', chef_type: 'node', chef_environment: '_default', run_list: ['recipe[nginx]'], normal: {}, default: {}, override: {}, automatic: {} });
    }
  });

  after(async () => {
    for (const name of [web, silent]) await client.delete(`/nodes/${name}`).catch(() => undefined);
  });

  const end = (runId: string, startTime: number, endTime: number, status: 'success' | 'failure', resources: ReportingResource[], exception?: RunEndInput['exception']): RunEndInput => ({
    runId,
    startTime,
    endTime,
    status,
    runList: ['recipe[nginx]'],
    totalResources: 30,
    resources,
    exception,
  });

  async function post(node: string, startTime: number, endTime: number, status: 'success' | 'failure', resources: ReportingResource[] = [], exception?: RunEndInput['exception']): Promise<string> {
    const runId = crypto.randomUUID();
    await postRunStart(client, node, { runId, startTime });
    await postRunEnd(client, node, end(runId, startTime, endTime, status, resources, exception));
    return runId;
  }

  it('reads the history as a baseline, then matches each new run once: failure, failed resource, slow run, cookbook change, silent node', async () => {
    const now = Date.now();
    // History: web ran three times, a minute each; the silent node last ran three hours ago.
    for (const hoursAgo of [4, 3, 2]) await post(web, now - hoursAgo * HOUR, now - hoursAgo * HOUR + MIN, 'success', [template('2.7.0')]);
    await post(silent, now - 3 * HOUR - MIN, now - 3 * HOUR, 'success');
    // A run of web is going while the editor first looks (started 200 s ago, no end yet).
    const slowId = crypto.randomUUID();
    const slowStart = now - 200_000;
    await postRunStart(client, web, { runId: slowId, startTime: slowStart });

    const delivered: Notification[] = [];
    const notifier = new Notifier();
    notifier.addChannel({ kind: 'vscode', deliver: async (n) => void delivered.push(n) });
    const engine = new RuleEngine({ notifier, every: () => ({ dispose: () => undefined }) });
    const parsed = engine.setRules([
      { name: 'web failures', kind: 'run-failed', node: `rules-web-*` },
      { name: 'migrations', kind: 'resource-failed', resourceType: 'execute', resourceName: '^run shop (migrations|seeds)$' },
      { name: 'slow', kind: 'slow-run', factor: 2, minSamples: 3, node: `^rules-web-${tag}$` },
      { name: 'nginx versions', kind: 'cookbook-version-changed', cookbook: 'nginx', node: `rules-*-${tag}` },
      { name: 'silent', kind: 'node-missing-runs', hours: 1, node: `rules-silent-${tag}` },
    ]);
    assert.deepEqual(parsed.problems, []);
    const poller = new ReportingPoller(reportingSourceOf(client), (r) => ({ command: 'chefConsul.chef.openRun', args: { node: r.node, runId: r.runId } }), { lookBackMs: 24 * HOUR });
    const poll = async () => {
      const { observations, baseline } = await poller.poll();
      return { baseline, observations, matches: engine.observe(observations, { baseline }) };
    };
    const mine = (m: { node: string }) => m.node === web || m.node === silent;

    const first = await poll();
    assert.equal(first.baseline, true);
    const history = first.observations.filter(mine).sort((a, b) => a.time - b.time);
    assert.deepEqual(history.map((o) => [o.node, o.report.status, Math.round(o.report.durationSeconds ?? -1)]), [
      [web, 'success', 60],
      [silent, 'success', 60],
      [web, 'success', 60],
      [web, 'success', 60],
    ]);
    assert.equal(first.observations.filter(mine).length, 4, 'the ended runs of the history, not the one going');
    assert.deepEqual(first.matches, [], 'history is not news');
    assert.deepEqual(engine.checkMissing(Date.now()).map((m) => [m.rule, m.node]), [['silent', silent]]);
    assert.match(engine.matches('silent')[0].summary, /^no Chef run for 3(\.\d)? h \(more than 1 h\)/);

    // The run that was going ends: failed in the migrations, after 200 s (average 60 s), with nginx 2.8.1.
    await postRunEnd(
      client,
      web,
      end(slowId, slowStart, slowStart + 200_000, 'failure', [template('2.8.1'), migrations], {
        class: 'Mixlib::ShellOut::ShellCommandFailed',
        message: "Expected process to exit with [0], but received '3'\n---- Begin output of /opt/shop/bin/migrate ----",
        backtrace: ["/var/chef/cache/cookbooks/shop_db/recipes/migrate.rb:12:in `from_file'"],
        description: { title: "Error executing action `run` on resource 'execute[run shop migrations]'", sections: [{ 'Resource Declaration:': "12: execute 'run shop migrations' do" }] },
      }),
    );
    const second = await poll();
    assert.equal(second.baseline, false);
    assert.deepEqual(second.observations.filter(mine).map((o) => o.runId), [slowId]);
    const matched = second.matches.filter(mine).map((m) => [m.rule, m.node, m.runId]);
    assert.deepEqual(matched.sort(), [
      ['migrations', web, slowId],
      ['slow', web, slowId],
      ['web failures', web, slowId],
    ]);
    const failure = second.matches.find((m) => m.rule === 'web failures')!;
    assert.equal(failure.source, 'reporting');
    assert.match(failure.summary, /^Chef run failed: execute\[run shop migrations\] — Expected process to exit with \[0\], but received '3'$/);
    assert.deepEqual(failure.jump, { command: 'chefConsul.chef.openRun', args: { node: web, runId: slowId } });
    assert.match(second.matches.find((m) => m.rule === 'slow')!.summary, /^run took 3 min 20 s, 3\.3× the average of 1 min 0 s over 3 previous runs \(limit 2×\)$/);
    assert.equal(second.matches.some((m) => m.rule === 'nginx versions'), false, 'the history read from the listing carries no versions to compare');

    // The next run: nginx moved on again; it succeeds quickly.
    const nextStart = Date.now();
    const nextId = await post(web, nextStart, nextStart + 1000, 'success', [template('2.9.0')]);
    const third = await poll();
    assert.deepEqual(third.observations.filter(mine).map((o) => o.runId), [nextId]);
    assert.deepEqual(third.matches.filter(mine).map((m) => [m.rule, m.summary]), [['nginx versions', 'cookbook version changed: nginx 2.8.1 → 2.9.0']]);

    // Nothing new: nothing is fetched or matched again.
    const fourth = await poll();
    assert.deepEqual(fourth.observations.filter(mine), []);
    assert.deepEqual(engine.checkMissing(Date.now()).filter(mine), [], 'the silent node matched once for its last run');

    await new Promise((r) => setImmediate(r));
    const notified = delivered.filter((n) => n.node === web || n.node === silent).map((n) => n.title).sort();
    assert.deepEqual(notified, [
      `Rule "migrations" matched on ${web}`,
      `Rule "nginx versions" matched on ${web}`,
      `Rule "silent" matched on ${silent}`,
      `Rule "slow" matched on ${web}`,
      `Rule "web failures" matched on ${web}`,
    ]);
    engine.dispose();
  });
});
