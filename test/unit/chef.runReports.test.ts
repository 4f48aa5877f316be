import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseChefOutput } from '../../src/core/chef/outputParser';
import type { ChefReportRef } from '../../src/core/chef/runReports';
import { RunChefReports } from '../../src/core/chef/runReports';
import { Run } from '../../src/core/runs/model';
import { RunRegistry } from '../../src/core/runs/registry';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/chef');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

function newRun(id = 'r1'): Run {
  return new Run({ id, engine: 'exec', event: 'deploy', patterns: ['shop'], startedBy: 'test', phases: [{ no: 0, task: 'converge' }, { no: 1, task: 'web' }] });
}

/** Feeds text to a node in chunks of `size` characters, as remote exec delivers it. */
function feed(run: Run, phase: number, node: string, text: string, size = 37): void {
  for (let i = 0; i < text.length; i += size) run.appendOutput(phase, node, text.slice(i, i + size));
}

describe('RunChefReports', () => {
  it('keeps one report per phase and node up to date as a run streams, and ends it with the node', () => {
    const run = newRun();
    const reports = new RunChefReports(run);
    const events: ChefReportRef[] = [];
    reports.onDidChange((e) => events.push(e));
    run.start();
    run.startPhase(0, ['db-1', 'web-1']);
    assert.equal(reports.reportOf('r1', 0, 'db-1'), undefined);
    const failing = fixture('chef15-converge-failure.txt');
    const half = failing.indexOf('  * execute[run shop migrations]');
    feed(run, 0, 'db-1', failing.slice(0, half));
    assert.equal(reports.reportOf('r1', 0, 'db-1')?.status, 'running');
    assert.equal(reports.summaryOf('r1', 0, 'db-1')?.text, 'converging: 1/3 updated');
    feed(run, 0, 'db-1', failing.slice(half));
    feed(run, 0, 'web-1', fixture('chef12-success-diff.txt'));
    assert.deepEqual(reports.summaryOf('r1', 0, 'db-1')?.failedResource, 'execute[run shop migrations]');
    assert.ok(events.some((e) => e.id === 'r1' && e.phase === 0 && e.node === 'web-1'));
    // Cut mid-line: the last line counts once the node has ended.
    run.appendOutput(0, 'web-1', '\nChef Client finished, 9/9 resources updated in 01 seconds');
    assert.equal(reports.summaryOf('r1', 0, 'web-1')?.text, '4/8 updated');
    events.length = 0;
    run.nodeEnded(0, 'web-1', 'success', 0);
    assert.equal(reports.summaryOf('r1', 0, 'web-1')?.text, '9/9 updated');
    assert.deepEqual(events, [{ id: 'r1', phase: 0, node: 'web-1' }]);
    run.nodeEnded(0, 'db-1', 'error', 1);
    assert.deepEqual(reports.reportOf('r1', 0, 'db-1'), parseChefOutput(failing));
    assert.equal(reports.reportOf('r1', 1, 'db-1'), undefined);
    assert.equal(reports.reportOf('other', 0, 'db-1'), undefined);
    reports.dispose();
  });

  it('reads what a run already holds when it starts following late, and starts again on a retry', () => {
    const run = newRun();
    run.start();
    run.startPhase(0, ['db-1', 'web-1']);
    feed(run, 0, 'web-1', fixture('chef14-no-changes.txt'));
    run.nodeEnded(0, 'web-1', 'success', 0);
    feed(run, 0, 'db-1', fixture('chef15-converge-failure.txt').slice(0, 400));
    const reports = new RunChefReports(run);
    assert.equal(reports.summaryOf('r1', 0, 'web-1')?.text, '0/5 updated', 'finished nodes are read at once');
    assert.equal(reports.reportOf('r1', 0, 'db-1'), undefined, 'running nodes are read with their next output');
    feed(run, 0, 'db-1', fixture('chef15-converge-failure.txt').slice(400));
    run.nodeEnded(0, 'db-1', 'error', 1);
    assert.equal(reports.reportOf('r1', 0, 'db-1')?.status, 'failure');
    // Retry the failed node: its old output is gone and so is its report.
    run.startPhase(0, ['db-1'], true);
    assert.equal(reports.reportOf('r1', 0, 'db-1'), undefined);
    assert.equal(reports.summaryOf('r1', 0, 'web-1')?.text, '0/5 updated');
    feed(run, 0, 'db-1', fixture('chef14-no-changes.txt'));
    run.nodeEnded(0, 'db-1', 'success', 0);
    assert.equal(reports.reportOf('r1', 0, 'db-1')?.status, 'success');
    reports.dispose();
  });

  it('follows every run of a registry and parses finished history on demand, once', async () => {
    const registry = new RunRegistry();
    const reads: string[] = [];
    const reports = new RunChefReports(registry, {
      keepRuns: 2,
      readLog: async (id, phase, node) => {
        reads.push(`${id}/${phase}/${node}`);
        await new Promise((r) => setTimeout(r, 5));
        return fixture('chef16-compile-failure.txt');
      },
    });
    const events: ChefReportRef[] = [];
    reports.onDidChange((e) => events.push(e));
    for (const id of ['a', 'b', 'c']) {
      const run = newRun(id);
      registry.add(run);
      run.start();
      run.startPhase(0, ['n1']);
      feed(run, 0, 'n1', fixture('chef18-success-nested.txt'), 512);
      run.nodeEnded(0, 'n1', 'success', 0);
    }
    assert.equal(reports.summaryOf('c', 0, 'n1')?.text, '4/11 updated');
    assert.equal(reports.reportOf('a', 0, 'n1'), undefined, 'only the newest keepRuns runs stay in memory');
    // Still in the registry: read again from the run, not from KV.
    assert.equal((await reports.load('a', 0, 'n1'))?.status, 'success');
    assert.deepEqual(reads, []);
    // Only in history: read from the log, once for callers at the same time.
    events.length = 0;
    const [x, y] = await Promise.all([reports.load('old', 2, 'db-1'), reports.load('old', 2, 'db-1')]);
    assert.equal(x, y);
    assert.equal(x?.status, 'failure');
    assert.equal(x?.failure?.exceptionClass, 'NoMethodError');
    assert.deepEqual(reads, ['old/2/db-1']);
    assert.deepEqual(events, [{ id: 'old', phase: 2, node: 'db-1' }]);
    assert.equal(reports.summaryOf('old', 2, 'db-1')?.text, 'failed: NoMethodError');
    assert.equal(await new RunChefReports(registry).load('nowhere', 0, 'x'), undefined, 'without readLog history has no reports');
    reports.dispose();
    registry.dispose();
  });

  it('says "unknown" for a node whose Chef run stopped without saying how it ended', () => {
    const run = newRun();
    const reports = new RunChefReports(run);
    run.start();
    run.startPhase(0, ['db-1']);
    const text = fixture('chef12-success-diff.txt');
    feed(run, 0, 'db-1', text.slice(0, text.indexOf('  * link[')));
    assert.equal(reports.reportOf('r1', 0, 'db-1')?.status, 'running');
    run.nodeEnded(0, 'db-1', 'lost', undefined, 'agent went away');
    assert.equal(reports.reportOf('r1', 0, 'db-1')?.status, 'unknown');
    assert.equal(reports.summaryOf('r1', 0, 'db-1')?.text, 'ended while converging: 3 updated');
  });
});
