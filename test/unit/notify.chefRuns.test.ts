import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseChefOutput } from '../../src/core/chef/outputParser';
import { RunChefReports } from '../../src/core/chef/runReports';
import type { Notification, NotificationChannel } from '../../src/core/notify/notifier';
import { Notifier } from '../../src/core/notify/notifier';
import { chefFailureNotification, notifyChefRunFailures } from '../../src/core/notify/chefRunNotifications';
import { Run } from '../../src/core/runs/model';
import { RunRegistry } from '../../src/core/runs/registry';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/chef');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

function newRun(id: string): Run {
  return new Run({ id, engine: 'exec', event: 'deploy', patterns: ['shop'], startedBy: 'test', phases: [{ no: 0, task: 'converge' }, { no: 1, task: 'web' }] });
}

function feed(run: Run, phase: number, node: string, text: string, size = 53): void {
  for (let i = 0; i < text.length; i += size) run.appendOutput(phase, node, text.slice(i, i + size));
}

class Recorder implements NotificationChannel {
  readonly kind = 'record';
  readonly got: Notification[] = [];
  deliver(n: Notification): Promise<void> {
    this.got.push(n);
    return Promise.resolve();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Chef run failures → notifications', () => {
  it('makes one error notification of a failed report, with the failed resource, exception, snippet and a jump to the report', () => {
    const report = parseChefOutput(fixture('chef15-converge-failure.txt'));
    const n = chefFailureNotification({ id: 'r1', phase: 1, node: 'db-1' }, report);
    assert.ok(n);
    assert.equal(n.key, 'chef-run:db-1:r1');
    assert.equal(n.severity, 'error');
    assert.equal(n.source, 'chef-run');
    assert.equal(n.resource, 'execute[run shop migrations]');
    assert.equal(n.title, 'Chef run failed on db-1: execute[run shop migrations]');
    assert.match(n.exception ?? '', /^Mixlib::ShellOut::ShellCommandFailed: /);
    assert.ok(n.message.split('\n').length <= 13);
    assert.match(n.message, /Error executing action `run` on resource 'execute\[run shop migrations\]'/);
    assert.deepEqual(n.jump, { command: 'chefConsul.openChefReport', args: { id: 'r1', phase: 1, node: 'db-1' } });
  });

  it('makes none of a successful or unfinished report, and names the stage of a compile failure', () => {
    assert.equal(chefFailureNotification({ id: 'r', phase: 0, node: 'n' }, parseChefOutput(fixture('chef12-success-diff.txt'))), undefined);
    const failing = fixture('chef15-converge-failure.txt');
    assert.equal(chefFailureNotification({ id: 'r', phase: 0, node: 'n' }, parseChefOutput(failing.slice(0, failing.indexOf('  * execute[run shop migrations]')))), undefined);
    const compile = chefFailureNotification({ id: 'r', phase: 0, node: 'n' }, parseChefOutput(fixture('chef16-compile-failure.txt')));
    assert.ok(compile);
    assert.equal(compile.resource, undefined);
    assert.equal(compile.title, 'Chef run failed on n');
    assert.equal((compile.data as { stage: string }).stage, 'compiling');
  });

  it('notifies each failed node of a live run once per run, whatever the phases and retries, and a new run again', async () => {
    const registry = new RunRegistry();
    const reports = new RunChefReports(registry);
    const notifier = new Notifier();
    const recorder = new Recorder();
    notifier.addChannel(recorder);
    const sub = notifyChefRunFailures(reports, notifier, { isLive: (id) => registry.get(id) !== undefined });

    const run = newRun('r1');
    registry.add(run);
    run.start();
    run.startPhase(0, ['db-1', 'web-1']);
    feed(run, 0, 'db-1', fixture('chef15-converge-failure.txt'));
    feed(run, 0, 'web-1', fixture('chef12-success-diff.txt'));
    run.nodeEnded(0, 'db-1', 'error', 1);
    run.nodeEnded(0, 'web-1', 'success', 0);
    // Fails again in a retry of the phase, and in the next phase.
    run.startPhase(0, ['db-1'], true);
    feed(run, 0, 'db-1', fixture('chef16-compile-failure.txt'));
    run.nodeEnded(0, 'db-1', 'error', 1);
    run.startPhase(1, ['db-1']);
    feed(run, 1, 'db-1', fixture('chef15-converge-failure.txt'));
    run.nodeEnded(1, 'db-1', 'error', 1);
    await tick();
    assert.deepEqual(recorder.got.map((n) => n.key), ['chef-run:db-1:r1']);
    assert.equal(recorder.got[0].resource, 'execute[run shop migrations]');

    const again = newRun('r2');
    registry.add(again);
    again.start();
    again.startPhase(0, ['db-1', 'web-1']);
    feed(again, 0, 'web-1', fixture('chef14-solo-template-failure.txt'));
    feed(again, 0, 'db-1', fixture('chef15-converge-failure.txt'));
    again.nodeEnded(0, 'web-1', 'error', 1);
    again.nodeEnded(0, 'db-1', 'error', 1);
    await tick();
    assert.deepEqual(recorder.got.map((n) => n.key), ['chef-run:db-1:r1', 'chef-run:web-1:r2', 'chef-run:db-1:r2']);
    sub.dispose();
    reports.dispose();
    notifier.dispose();
  });

  it('does not notify reports read later from history', async () => {
    const registry = new RunRegistry();
    const reports = new RunChefReports(registry, { readLog: () => Promise.resolve(fixture('chef15-converge-failure.txt')) });
    const notifier = new Notifier();
    const recorder = new Recorder();
    notifier.addChannel(recorder);
    const sub = notifyChefRunFailures(reports, notifier, { isLive: (id) => registry.get(id) !== undefined });
    const report = await reports.load('old-run', 0, 'db-1');
    assert.equal(report?.status, 'failure');
    await tick();
    assert.deepEqual(recorder.got, []);
    sub.dispose();
    reports.dispose();
  });
});
