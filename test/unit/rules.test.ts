import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChefReport } from '../../src/core/chef/report';
import { RunChefReports } from '../../src/core/chef/runReports';
import { Notifier } from '../../src/core/notify/notifier';
import type { Notification } from '../../src/core/notify/notifier';
import type { ChefRunObservation } from '../../src/core/rules/evaluator';
import { cookbookVersions, RuleEvaluator } from '../../src/core/rules/evaluator';
import { parseRules } from '../../src/core/rules/model';
import { compilePattern, patternProblem } from '../../src/core/rules/pattern';
import { RuleEngine } from '../../src/core/rules/ruleEngine';
import type { ReportingRunRef } from '../../src/core/rules/sources';
import { followRunCompletions, ReportingPoller } from '../../src/core/rules/sources';
import { observationsOfReportFile } from '../../src/core/rules/fileSource';
import { Run } from '../../src/core/runs/model';
import { WindowLease } from '../../src/core/util/windowLease';
import * as os from 'node:os';
import { RunRegistry } from '../../src/core/runs/registry';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/chef');
const report = (name: string): ChefReport => JSON.parse(fs.readFileSync(path.join(FIXTURES, 'rules', name), 'utf8')) as ChefReport;
const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-30T08:00:00Z');

let seq = 0;
function obs(node: string, name: string, change: Partial<ChefReport> = {}, at = T0 + seq * HOUR): ChefRunObservation {
  seq++;
  return { node, runId: `run-${seq}`, source: 'reporting', time: at, report: { ...report(name), ...change }, jump: { command: 'chefConsul.chef.openRun', args: { node, runId: `run-${seq}` } } };
}

function evaluator(rules: unknown[]): RuleEvaluator {
  const parsed = parseRules(rules);
  assert.deepEqual(parsed.problems, []);
  return new RuleEvaluator(parsed.rules);
}

describe('Rule patterns', () => {
  it('reads globs and anchored regular expressions as whole-name matches', () => {
    const glob = compilePattern('web-*');
    assert.equal(glob.kind, 'glob');
    assert.ok(glob.test('web-1') && glob.test('web-') && !glob.test('db-web-1') && !glob.test('Web-1'));
    assert.ok(compilePattern('/etc/nginx/?*.conf').test('/etc/nginx/a.conf'));
    assert.ok(!compilePattern('/etc/nginx/?*.conf').test('/etc/nginx/.conf'));
    assert.ok(compilePattern('db-[0-9]').test('db-7') && !compilePattern('db-[!0-9]').test('db-7'));
    assert.ok(compilePattern('execute\\[x\\]').test('execute[x]'));
    const re = compilePattern('^(web|app)-[0-9]{1,3}(\\.prod)?$');
    assert.equal(re.kind, 'regex');
    assert.ok(re.test('web-12') && re.test('app-1.prod') && !re.test('web-1234') && !re.test('xweb-1') && !re.test('web-1.prodx'));
    assert.ok(compilePattern('^\\w+\\s\\d$').test('ab 1'));
    assert.ok(compilePattern('^[^/]+\\.conf$').test('nginx.conf') && !compilePattern('^[^/]+\\.conf$').test('a/nginx.conf'));
    assert.ok(compilePattern('^a*?b$').test('aaab'));
    assert.ok(compilePattern('^$').test(''));
  });

  it('refuses what it cannot run in linear time, and says what and where', () => {
    assert.match(patternProblem('^(a)\\1$')!, /backreferences .* not supported \(at character 5\)/);
    assert.match(patternProblem('^(?=a)a$')!, /lookarounds/);
    assert.match(patternProblem('^web-1')!, /anchored at both ends/);
    assert.match(patternProblem('^web\\$')!, /anchored at both ends/);
    assert.match(patternProblem('^a**$')!, /a repeat cannot follow a repeat/);
    assert.match(patternProblem('^(ab$')!, /not closed with "\)"/);
    assert.match(patternProblem('^a{2,1}$')!, /backwards/);
    assert.match(patternProblem('^a{1000}$')!, /repeat counts go up to 100/);
    assert.match(patternProblem('^\\bweb$')!, /word boundaries/);
    assert.match(patternProblem('^\\q$')!, /not a supported escape/);
    assert.equal(patternProblem('db-[0-9'), undefined, 'an unclosed "[" is the character (as fnmatch reads it)');
    assert.match(patternProblem('')!, /non-empty/);
    assert.match(patternProblem('^(a{100}){100}$')!, /too large/);
  });

  it('has no catastrophic backtracking: nested repeats on a long non-matching name stay fast', () => {
    const evil = compilePattern('^(a+)+$');
    const alternation = compilePattern('^(a|a)*b$');
    const name = 'a'.repeat(20_000) + 'c';
    const started = performance.now();
    assert.equal(evil.test(name), false);
    assert.equal(alternation.test(name), false);
    assert.equal(evil.test('a'.repeat(20_000)), true);
    // A backtracking engine takes longer than the age of the universe on these.
    assert.ok(performance.now() - started < 2000, `took ${performance.now() - started} ms`);
  });

  it('reads glob classes as fnmatch does: "]" first is a member, a backslash escapes in a class, an unclosed "[" is the character', () => {
    const g = (p: string) => compilePattern(p);
    assert.ok(g('[]a]').test(']') && g('[]a]').test('a') && !g('[]a]').test('b'), '"]" first is a member');
    assert.ok(g('[!]a]').test('b') && !g('[!]a]').test(']') && !g('[!]a]').test('a'), 'after "!" too');
    assert.ok(g('[!]').test('[!]') && !g('[!]').test('x'), '"[!]" is not a class: the three characters');
    assert.ok(g('[\\]]').test(']') && !g('[\\]]').test('\\'), '"[\\]]" is the class of "]"');
    assert.ok(g('[a\\-z]').test('-') && !g('[a\\-z]').test('b'), 'an escaped "-" is no range');
    assert.ok(g('a[').test('a[') && !g('a[').test('a'), 'an unclosed "[" is the character');
    assert.ok(g('web-[').test('web-[') && g('[][]').test('[') && g('[][]').test(']'));
    assert.match(patternProblem('[z-a]')!, /backwards/);
  });

  it('refuses groups nested deeper than 100 as a pattern error, without overflowing the stack', () => {
    const deep = '^' + '('.repeat(20000) + 'a' + ')'.repeat(20000) + '$';
    assert.throws(() => compilePattern(deep), (e: Error) => e.name !== 'RangeError' && /groups nest more than 100 deep/.test(e.message));
    assert.match(patternProblem(deep) ?? '', /groups nest more than 100 deep/);
    const parsed = parseRules([{ name: 'deep', kind: 'run-failed', node: deep }, { name: 'fine', kind: 'run-failed', node: '^' + '('.repeat(100) + 'a' + ')'.repeat(100) + '$' }]);
    assert.deepEqual(parsed.rules.map((r) => r.name), ['fine'], 'the others apply');
    assert.equal(parsed.problems.length, 1);
    assert.match(parsed.problems[0].message, /^rule 1 \("deep"\): "node": .*groups nest more than 100 deep/);
    assert.ok(parsed.rules[0].node!.test('a'));
  });
});

describe('Rule validation', () => {
  it('accepts every kind with its parameters and defaults', () => {
    const { rules, problems } = parseRules([
      { name: 'failures', kind: 'run-failed', node: 'web-*' },
      { name: 'templates', kind: 'resource-failed', resourceType: 'template', notify: ['vscode', 'webhook'] },
      { name: 'slow', kind: 'slow-run', factor: 2 },
      { name: 'cookbooks', kind: 'cookbook-version-changed', cookbook: '^(nginx|postgresql)$', notify: [] },
      { name: 'silent', kind: 'node-missing-runs', hours: 4 },
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(rules.map((r) => r.kind), ['run-failed', 'resource-failed', 'slow-run', 'cookbook-version-changed', 'node-missing-runs']);
    assert.deepEqual(rules[0].notify, ['vscode']);
    assert.deepEqual(rules[3].notify, []);
    assert.equal(rules[2].kind === 'slow-run' && rules[2].minSamples, 3);
  });

  it('names the rule and the parameter of each problem, and keeps the valid rules', () => {
    const { rules, problems } = parseRules([
      { name: 'ok', kind: 'run-failed' },
      { kind: 'run-failed' },
      { name: 'typo', kind: 'run-fail' },
      { name: 'slow', kind: 'slow-run', factor: 0.5, minSamples: 1.5 },
      { name: 'rf', kind: 'resource-failed' },
      { name: 'bad pattern', kind: 'resource-failed', resourceName: '^(a)\\1$' },
      { name: 'extra', kind: 'run-failed', hours: 3 },
      { name: 'ok', kind: 'node-missing-runs', hours: 1 },
      { name: 'chan', kind: 'run-failed', notify: ['slack'] },
      'run-failed',
    ]);
    assert.deepEqual(rules.map((r) => r.name), ['ok']);
    const text = problems.map((p) => `${p.index}:${p.param ?? ''}:${p.message}`);
    const has = (re: RegExp) => assert.ok(text.some((t) => re.test(t)), `no problem like ${re}: ${text.join('\n')}`);
    has(/^1:name:rule 2: "name" is required/);
    has(/^2:kind:rule 3 \("typo"\): "kind" must be one of "run-failed", .*"node-missing-runs", got "run-fail"/);
    has(/^3:factor:.*"factor" must be a number greater than 1.*got number 0\.5/);
    has(/^3:minSamples:.*whole number of at least 1.*got number 1\.5/);
    has(/^4:resourceType:.*needs "resourceType".*"resourceName".*or both/);
    has(/^5:resourceName:.*backreferences/);
    has(/^6:hours:.*"hours" is not a parameter of a run-failed rule/);
    has(/^7:name:.*"ok" is already used by rule 1/);
    has(/^8:notify:.*"vscode" or "webhook"/);
    has(/^9::rule 10 must be an object/);
    assert.match(parseRules({}).problems[0].message, /must be an array/);
  });
});

describe('Rule evaluation', () => {
  it('run-failed matches failed runs only, of the nodes its pattern names', () => {
    const e = evaluator([{ name: 'web failures', kind: 'run-failed', node: 'web-*' }]);
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json')), []);
    assert.deepEqual(e.observe(obs('db-1', 'output-converge-failure.json')), []);
    const [m] = e.observe(obs('web-1', 'output-template-failure.json'));
    assert.equal(m.rule, 'web failures');
    assert.equal(m.node, 'web-1');
    assert.equal(m.kind, 'run-failed');
    assert.match(m.summary, /^Chef run failed: template\[\/etc\/shop\/app\.yml\] — /);
    assert.deepEqual(m.jump, { command: 'chefConsul.chef.openRun', args: { node: 'web-1', runId: m.runId } });
    const compile = e.observe(obs('web-2', 'output-compile-failure.json'));
    assert.match(compile[0].summary, /^Chef run failed: NoMethodError/);
  });

  it('resource-failed matches by resource type and by name pattern, from output and from Reporting', () => {
    const e = evaluator([
      { name: 'execs', kind: 'resource-failed', resourceType: 'execute' },
      { name: 'migrations', kind: 'resource-failed', resourceName: '^run shop (migrations|seeds)$' },
      { name: 'app templates', kind: 'resource-failed', resourceType: 'template', resourceName: '/etc/shop/*.yml' },
    ]);
    const fromOutput = e.observe(obs('db-1', 'output-converge-failure.json'));
    assert.deepEqual(fromOutput.map((m) => m.rule).sort(), ['execs', 'migrations']);
    assert.match(fromOutput[0].summary, /^execute\[run shop migrations\] failed: Expected process to exit with \[0\], but received '3'$/);
    const fromReporting = e.observe(obs('db-2', 'reporting-failure.json'));
    assert.deepEqual(fromReporting.map((m) => m.rule).sort(), ['execs', 'migrations']);
    assert.deepEqual(e.observe(obs('app-1', 'output-template-failure.json')).map((m) => m.rule), ['app templates']);
    assert.deepEqual(e.observe(obs('web-1', 'output-compile-failure.json')), [], 'a compile error is no resource failure');
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json')), []);
  });

  it('slow-run compares with the node\'s average of previous runs once there are enough of them', () => {
    const e = evaluator([{ name: 'slow', kind: 'slow-run', factor: 2, minSamples: 3 }]);
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json', { durationSeconds: 60 })), []);
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json', { durationSeconds: 300 })), [], 'one sample is not enough');
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json', { durationSeconds: 60 })), []);
    // Average of 60, 300, 60 = 140; 2 × 140 = 280.
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json', { durationSeconds: 280 })), [], 'not longer than the limit');
    assert.deepEqual(e.observe(obs('db-1', 'output-success.json', { durationSeconds: 900 })), [], 'another node has its own average');
    const [m] = e.observe(obs('web-1', 'output-success.json', { durationSeconds: 700 }));
    // Average of 60, 300, 60, 280 = 175.
    assert.equal(m.summary, 'run took 11 min 40 s, 4.0× the average of 2 min 55 s over 4 previous runs (limit 2×)');
    const late = obs('web-1', 'output-success.json', { durationSeconds: 100 }, T0 - HOUR);
    assert.deepEqual(e.observe(late), [], 'a run older than all others has no previous runs');
  });

  it('cookbook-version-changed compares a run with the node\'s previous run, from output and Reporting resources', () => {
    const e = evaluator([
      { name: 'any cookbook', kind: 'cookbook-version-changed' },
      { name: 'postgres', kind: 'cookbook-version-changed', cookbook: 'postgresql' },
    ]);
    assert.deepEqual(e.observe(obs('web-1', 'output-success.json')), [], 'no previous run');
    const [web] = e.observe(obs('web-1', 'output-compile-failure.json'));
    assert.equal(web.rule, 'any cookbook');
    assert.equal(web.summary, 'cookbook version changed: shop_web 1.4.2 → 1.5.0, nginx 2.7.6 → 10.2.0');
    assert.deepEqual(e.observe(obs('web-1', 'output-compile-failure.json')), [], 'the same versions again');
    assert.deepEqual(cookbookVersions(report('reporting-success.json')), new Map([['postgresql', '7.1.9'], ['shop_db', '0.9.0']]));
    assert.deepEqual(e.observe(obs('db-1', 'reporting-success.json')), []);
    const db = e.observe(obs('db-1', 'reporting-failure.json'));
    assert.deepEqual(db.map((m) => [m.rule, m.summary]), [
      ['any cookbook', 'cookbook version changed: postgresql 7.1.9 → 7.2.0'],
      ['postgres', 'cookbook version changed: postgresql 7.1.9 → 7.2.0'],
    ]);
    const pinned = { ...report('reporting-success.json'), resources: [], runList: ['recipe[nginx::default@2.7.6]', 'role[web]'] };
    assert.deepEqual(cookbookVersions(pinned), new Map([['nginx', '2.7.6']]));
  });

  it('matches a run once, ignores runs still going and evaluates them when they end', () => {
    const e = evaluator([{ name: 'failures', kind: 'run-failed' }]);
    const failed = obs('db-1', 'reporting-failure.json');
    assert.equal(e.observe(failed).length, 1);
    assert.equal(e.observe(failed).length, 0);
    assert.equal(e.observe({ ...failed, report: structuredClone(failed.report) }).length, 0, 'the same run from a second poll');
    const going = obs('db-2', 'reporting-running.json');
    assert.deepEqual(e.observe(going), []);
    assert.equal(e.observe({ ...going, report: report('reporting-failure.json') }).length, 1, 'the run ended: it counts now');
    const notChef = obs('db-3', 'reporting-failure.json', { chef: false });
    assert.deepEqual(e.observe(notChef), [], 'output with no Chef run in it');
  });
});

describe('RuleEngine', () => {
  function engine(now: { t: number }, notifier = new Notifier()) {
    let tick: (() => void) | undefined;
    const e = new RuleEngine({ notifier, clock: () => now.t, every: (_ms, fn) => ((tick = fn), { dispose: () => (tick = undefined) }) });
    return { e, tick: () => tick?.() };
  }

  it('node-missing-runs: a node silent for longer than N hours matches once per last run, on the timer', () => {
    const now = { t: T0 };
    const { e, tick } = engine(now);
    e.setRules([{ name: 'silent', kind: 'node-missing-runs', hours: 4, node: 'web-*' }]);
    e.observe([obs('web-1', 'output-success.json', {}, T0), obs('web-2', 'output-success.json', {}, T0 + 2 * HOUR), obs('db-1', 'output-success.json', {}, T0)]);
    now.t = T0 + 4 * HOUR;
    tick();
    assert.deepEqual(e.matches(), [], 'exactly 4 hours is not more than 4');
    now.t = T0 + 5 * HOUR;
    tick();
    assert.deepEqual(e.matches().map((m) => m.node), ['web-1'], 'db-1 is not named by the pattern');
    assert.match(e.matches()[0].summary, /^no Chef run for 5 h \(more than 4 h\); last run 2026-11-30T08:00:00\.000Z$/);
    assert.equal(e.matches()[0].time, T0 + 5 * HOUR);
    now.t = T0 + 7 * HOUR;
    tick();
    assert.deepEqual(e.matches().map((m) => m.node), ['web-2', 'web-1'], 'web-1 once, web-2 now too; newest first');
    // web-1 runs again, then falls silent again: a new match.
    e.observe(obs('web-1', 'output-success.json', {}, T0 + 8 * HOUR));
    now.t = T0 + 13 * HOUR;
    tick();
    assert.deepEqual(e.matches().filter((m) => m.node === 'web-1').length, 2);
    e.dispose();
  });

  it('lists matches newest first per rule, notifies each once through the rule\'s channels, and clears', async () => {
    const delivered: Array<{ kind: string; n: Notification }> = [];
    const notifier = new Notifier();
    for (const kind of ['vscode', 'webhook']) notifier.addChannel({ kind, deliver: async (n) => void delivered.push({ kind, n }) });
    const { e } = engine({ t: T0 }, notifier);
    const parsed = e.setRules([
      { name: 'failures', kind: 'run-failed', notify: ['vscode', 'webhook'] },
      { name: 'quiet', kind: 'resource-failed', resourceType: 'execute', notify: [] },
    ]);
    assert.deepEqual(parsed.problems, []);
    const first = obs('db-1', 'reporting-failure.json', {}, T0);
    const second = obs('db-2', 'output-converge-failure.json', {}, T0 + HOUR);
    e.observe([second, first]);
    e.observe(first);
    assert.deepEqual(e.matches('failures').map((m) => m.node), ['db-2', 'db-1']);
    assert.deepEqual(e.matches('quiet').map((m) => m.node), ['db-2', 'db-1']);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(delivered.map((d) => `${d.kind}:${d.n.node}`).sort(), ['vscode:db-1', 'vscode:db-2', 'webhook:db-1', 'webhook:db-2']);
    const n = delivered.find((d) => d.n.node === 'db-1')!.n;
    assert.equal(n.source, 'rule');
    assert.equal(n.severity, 'error');
    assert.equal(n.title, 'Rule "failures" matched on db-1');
    assert.deepEqual(n.jump, first.jump);
    e.clearMatches();
    assert.deepEqual(e.matches(), []);
    e.observe(first);
    assert.deepEqual(e.matches(), [], 'a cleared match does not come back');
    e.dispose();
  });

  it('report files: their runs are listed, not notified, when restored with the window; notifications name the file; they never feed node-missing-runs', async () => {
    const delivered: Notification[] = [];
    const notifier = new Notifier();
    notifier.addChannel({ kind: 'vscode', deliver: async (n) => void delivered.push(n) });
    const now = { t: T0 };
    const { e, tick } = engine(now, notifier);
    e.setRules([
      { name: 'failures', kind: 'run-failed' },
      { name: 'silent', kind: 'node-missing-runs', hours: 1 },
    ]);
    const text = fs.readFileSync(path.join(FIXTURES, 'rules', 'reporting-failure.json'), 'utf8');
    const restored = observationsOfReportFile(text, 'restored.json', T0, '/tmp/restored.json');
    assert.equal(restored[0].file, 'restored.json');
    e.observe(restored, { notify: false });
    assert.deepEqual(e.matches('failures').map((m) => [m.node, m.file]), [['restored.json', 'restored.json']], 'listed');
    await new Promise((r) => setImmediate(r));
    assert.equal(delivered.length, 0, 'not notified');
    e.observe(observationsOfReportFile(text, 'opened.json', T0, '/tmp/opened.json'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(delivered.map((n) => n.title), ['Rule "failures" matched on opened.json (report file opened.json)']);
    // A file of web-1, later a run of web-1 itself: the node's last run is its own, not the file's.
    e.observe({ ...observationsOfReportFile(text, 'web.json', T0 + 3 * HOUR, '/tmp/web.json')[0], node: 'web-1' });
    e.observe(obs('web-1', 'output-success.json', {}, T0 + 2 * HOUR));
    now.t = T0 + 10 * HOUR;
    tick();
    assert.deepEqual(e.matches('silent').map((m) => [m.node, m.source]), [['web-1', 'reporting']], 'file-only nodes (restored.json, opened.json) are not missing runs');
    assert.match(e.matches('silent')[0].summary, /last run 2026-11-30T10:00:00\.000Z$/, 'the last run of its own, not the file');
    e.dispose();
  });
});

describe('Rule sources', () => {
  it('runs of this editor: a finished run\'s Chef nodes, once, with a jump to their report', async () => {
    const registry = new RunRegistry();
    const reports = new RunChefReports(registry);
    const seen: ChefRunObservation[][] = [];
    const sub = followRunCompletions(registry, reports, (o) => seen.push(o));
    const run = new Run({ id: 'r7', engine: 'exec', event: 'deploy', patterns: ['shop'], startedBy: 'test', phases: [{ no: 0, task: 'converge' }] });
    registry.add(run);
    run.start();
    run.startPhase(0, ['db-1', 'web-1', 'plain-1']);
    run.appendOutput(0, 'db-1', fs.readFileSync(path.join(FIXTURES, 'chef15-converge-failure.txt'), 'utf8'));
    run.appendOutput(0, 'web-1', fs.readFileSync(path.join(FIXTURES, 'chef12-success-diff.txt'), 'utf8'));
    run.appendOutput(0, 'plain-1', 'hello\n');
    run.nodeEnded(0, 'db-1', 'error', 1);
    run.nodeEnded(0, 'web-1', 'success', 0);
    run.nodeEnded(0, 'plain-1', 'success', 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 0, 'nothing before the run ends');
    run.endPhase(0, 'error');
    run.end('error');
    for (let i = 0; i < 20 && !seen.length; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0].map((o) => [o.node, o.report.status, o.source, o.runId, o.phase]), [
      ['db-1', 'failure', 'run', 'r7', 0],
      ['web-1', 'success', 'run', 'r7', 0],
    ]);
    assert.deepEqual(seen[0][0].jump, { command: 'chefConsul.openChefReport', args: { id: 'r7', phase: 0, node: 'db-1' } });
    const e = evaluator([{ name: 'failures', kind: 'run-failed' }]);
    assert.deepEqual(e.observe(seen[0]).map((m) => m.node), ['db-1']);
    // Retry Failed: db-1 runs Chef again in the same phase, and fails again: another Chef run, matched again; web-1's is the same run.
    await new Promise((r) => setTimeout(r, 5));
    run.reopen(0);
    run.start();
    run.startPhase(0, ['db-1'], true);
    run.nodeStarted(0, 'db-1');
    run.appendOutput(0, 'db-1', fs.readFileSync(path.join(FIXTURES, 'chef15-converge-failure.txt'), 'utf8'));
    run.nodeEnded(0, 'db-1', 'error', 1);
    run.endPhase(0, 'error');
    run.end('error');
    for (let i = 0; i < 20 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(seen.length, 2);
    assert.deepEqual(e.observe(seen[1]).map((m) => [m.node, m.runId]), [['db-1', 'r7']]);
    assert.deepEqual(e.observe(seen[1]), [], 'each attempt once');
    sub.dispose();
    reports.dispose();
    registry.dispose();
  });

  it('Reporting: the first poll is a baseline from the listing, later polls fetch only new ended runs', async () => {
    let now = T0;
    const listed: ReportingRunRef[] = [
      { runId: 'a', node: 'db-1', status: 'success', startedAt: T0 - 3 * HOUR, durationSeconds: 40 },
      { runId: 'b', node: 'db-1', status: 'failure', startedAt: T0 - 2 * HOUR, durationSeconds: 19 },
    ];
    const froms: number[] = [];
    const gets: string[] = [];
    const poller = new ReportingPoller(
      {
        list: async (from) => (froms.push(from), listed.filter((r) => (r.startedAt ?? 0) >= from)),
        get: async (runId) => (gets.push(runId), runId === 'd' && gets.length < 3 ? report('reporting-running.json') : report('reporting-failure.json')),
      },
      (r) => ({ command: 'chefConsul.chef.openRun', args: { node: r.node, runId: r.runId } }),
      { clock: () => now, lookBackMs: 24 * HOUR },
    );
    const first = await poller.poll();
    assert.equal(first.baseline, true);
    assert.deepEqual(first.observations.map((o) => [o.runId, o.report.status, o.report.durationSeconds]), [['a', 'success', 40], ['b', 'failure', 19]]);
    assert.deepEqual(gets, [], 'a baseline asks for no detail');
    assert.equal(froms[0], T0 - 24 * HOUR);
    now = T0 + 5 * 60_000;
    listed.push({ runId: 'c', node: 'db-1', status: 'failure', startedAt: T0 + 60_000 }, { runId: 'd', node: 'db-2', status: 'running', startedAt: T0 + 2 * 60_000 });
    const second = await poller.poll();
    assert.equal(second.baseline, false);
    assert.equal(froms[1], T0 - 60_000);
    assert.deepEqual(second.observations.map((o) => [o.runId, o.node, o.report.status]), [['c', 'db-1', 'failure']]);
    assert.deepEqual(second.observations[0].jump, { command: 'chefConsul.chef.openRun', args: { node: 'db-1', runId: 'c' } });
    assert.deepEqual(gets, ['c']);
    now = T0 + 60 * 60_000;
    listed[3] = { ...listed[3], status: 'success' };
    const third = await poller.poll();
    assert.equal(froms[2], T0 + 2 * 60_000 - 1000, 'from (a second before) the start of the run that was still going');
    assert.deepEqual(third.observations.map((o) => o.runId), [], 'its detail still says running: asked again next time');
    assert.deepEqual(gets, ['c', 'd']);
    now = T0 + 61 * 60_000;
    const fourth = await poller.poll();
    assert.equal(froms[3], T0 + 2 * 60_000 - 1000, 'still from its start');
    assert.deepEqual(fourth.observations.map((o) => o.runId), ['d']);
    assert.equal(froms.length, 4);
  });

  it('Reporting: a failing detail request loses no run: the others are returned, it is asked again, given up after 3 attempts with a log line', async () => {
    let now = T0;
    const listed: ReportingRunRef[] = [{ runId: 'old', node: 'db-1', status: 'success', startedAt: T0 - HOUR, durationSeconds: 10 }];
    const gets: string[] = [];
    const logs: string[] = [];
    let flaky = 1;
    const poller = new ReportingPoller(
      {
        list: async (from) => listed.filter((r) => (r.startedAt ?? 0) >= from),
        get: async (runId) => {
          gets.push(runId);
          if (runId === 'broken') throw new Error('HTTP 500');
          if (runId === 'flaky' && flaky-- > 0) throw new Error('socket hang up');
          return report('reporting-failure.json');
        },
      },
      () => undefined,
      { clock: () => now, lookBackMs: 24 * HOUR, log: (m) => logs.push(m) },
    );
    assert.equal((await poller.poll()).baseline, true);
    now = T0 + 5 * 60_000;
    listed.push(
      { runId: 'broken', node: 'web-1', status: 'failure', startedAt: T0 + 60_000 },
      { runId: 'flaky', node: 'web-2', status: 'failure', startedAt: T0 + 2 * 60_000 },
      { runId: 'fine', node: 'web-3', status: 'failure', startedAt: T0 + 3 * 60_000 },
    );
    const second = await poller.poll();
    assert.deepEqual(second.observations.map((o) => o.runId), ['fine'], 'what was gathered is returned');
    assert.equal(logs.length, 2);
    assert.match(logs[0], /broken of web-1 failed \(attempt 1 of 3, asked again at the next poll\): HTTP 500/);
    now = T0 + 30 * 60_000; // long after: the runs that failed are listed again all the same
    const third = await poller.poll();
    assert.deepEqual(third.observations.map((o) => o.runId), ['flaky'], 'the run whose detail failed once comes next poll');
    const fourth = await poller.poll();
    assert.deepEqual(fourth.observations.map((o) => o.runId), []);
    assert.match(logs[logs.length - 1], /gave up on run broken of web-1 after 3 failed detail requests: HTTP 500/);
    const before = gets.length;
    const fifth = await poller.poll();
    assert.deepEqual(fifth.observations, []);
    assert.equal(gets.length, before, 'given up: not asked again');
    assert.deepEqual(gets.filter((g) => g === 'broken').length, 3);
    assert.deepEqual(gets.filter((g) => g === 'fine').length, 1);
  });

  it('Reporting lease: of two windows one follows Reporting; the lease is its own (the watches\' does not hold it) and passes on when its holder closes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-rules-lease-'));
    const watches = new WindowLease({ dir, name: 'watches' });
    const a = new WindowLease({ dir, name: 'reporting' });
    const b = new WindowLease({ dir, name: 'reporting', pid: process.pid });
    try {
      assert.equal(watches.start().kind, 'owner');
      assert.equal(a.start().kind, 'owner', 'the watches\' lease is another lock');
      assert.deepEqual(b.start(), { kind: 'other', pid: process.pid });
      assert.deepEqual(a.check(), { kind: 'owner' });
      a.dispose();
      assert.equal(b.check().kind, 'owner');
    } finally {
      [watches, a, b].forEach((l) => l.dispose());
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Reporting: a new poller of the same server carries on from the last one (no new baseline); a longer look-back reads the older runs as history', async () => {
    let now = T0;
    const listed: ReportingRunRef[] = [
      { runId: 'week-old', node: 'db-1', status: 'success', startedAt: T0 - 100 * HOUR, durationSeconds: 30 },
      { runId: 'a', node: 'db-1', status: 'success', startedAt: T0 - 3 * HOUR, durationSeconds: 40 },
    ];
    const froms: number[] = [];
    const source = { list: async (from: number) => (froms.push(from), listed.filter((r) => (r.startedAt ?? 0) >= from)), get: async () => report('reporting-failure.json') };
    const first = new ReportingPoller(source, () => undefined, { clock: () => now, lookBackMs: 24 * HOUR });
    assert.equal(first.baselineNext, true);
    assert.deepEqual((await first.poll()).observations.map((o) => o.runId), ['a']);
    now = T0 + 5 * 60_000;
    listed.push({ runId: 'b', node: 'db-1', status: 'failure', startedAt: T0 + 60_000 });
    assert.deepEqual((await first.poll()).observations.map((o) => o.runId), ['b']);
    // The connection changes (same server): runs that end meanwhile are news for the next poller.
    now = T0 + 20 * 60_000;
    listed.push({ runId: 'c', node: 'web-1', status: 'failure', startedAt: T0 + 10 * 60_000 });
    const second = new ReportingPoller(source, () => undefined, { clock: () => now, lookBackMs: 24 * HOUR, resume: first.state() });
    assert.equal(second.baselineNext, false);
    const carried = await second.poll();
    assert.equal(carried.baseline, false);
    assert.deepEqual(carried.observations.map((o) => o.runId), ['c'], 'the run that ended meanwhile is news, the ones seen are not again');
    assert.equal(carried.history, undefined);
    // A node-missing-runs rule over 5 days: the older runs come as history at the next poll, not as news.
    second.extendLookBack(5 * 24 * HOUR);
    listed.push({ runId: 'd', node: 'web-1', status: 'failure', startedAt: T0 + 19 * 60_000 });
    const extended = await second.poll();
    assert.equal(extended.baseline, false);
    assert.equal(froms[froms.length - 1], now - 5 * 24 * HOUR);
    assert.deepEqual(extended.history?.map((o) => [o.runId, o.report.status, o.report.durationSeconds]), [['week-old', 'success', 30]]);
    assert.deepEqual(extended.observations.map((o) => o.runId), ['d']);
    const after = await second.poll();
    assert.deepEqual([after.observations, after.history], [[], undefined]);
    assert.ok(froms[froms.length - 1] > now - HOUR, 'back to the short listing');
    // Resumed with a longer look-back than its state covers: the same.
    const third = new ReportingPoller(source, () => undefined, { clock: () => now, lookBackMs: 10 * 24 * HOUR, resume: first.state() });
    listed.push({ runId: 'ancient', node: 'db-9', status: 'success', startedAt: T0 - 8 * 24 * HOUR });
    const resumed = await third.poll();
    assert.deepEqual(resumed.history?.map((o) => o.runId).sort(), ['ancient', 'week-old']);
    assert.deepEqual(resumed.observations.map((o) => o.runId).sort(), ['c', 'd']);
  });

  it('malformed reports: refused at the file with the field named; a run the rules trip over is skipped without stopping the others or half-updating history', () => {
    const good = report('reporting-failure.json');
    const file = (change: Record<string, unknown>) => JSON.stringify({ ...good, ...change });
    assert.throws(() => observationsOfReportFile(file({ resources: [null] }), 'r.json', 0), /^ReportFileError: r\.json is not a valid Chef report: resources\[0\] must be an object, got null\.$/);
    assert.throws(() => observationsOfReportFile(file({ failure: { ...good.failure, message: 42 } }), 'r.json', 0), /failure\.message must be a string, got number/);
    assert.throws(() => observationsOfReportFile(file({ runList: ['recipe[a]', 7] }), 'r.json', 0), /runList\[1\] must be a string, got number/);
    assert.throws(() => observationsOfReportFile(JSON.stringify([good, { ...good, resources: [{ type: 'file' }] }]), 'two.json', 0), /two\.json \(report 2\) is not a valid Chef report: resources\[0\]\.name must be a string, got undefined/);

    const errors: string[] = [];
    const parsed = parseRules([
      { name: 'failed', kind: 'run-failed' },
      { name: 'resources', kind: 'resource-failed', resourceType: '*' },
    ]);
    const ev = new RuleEvaluator(parsed.rules, { onError: (o, e) => errors.push(`${o.runId}: ${(e as Error).message}`) });
    const bad = obs('bad-1', 'reporting-failure.json', { resources: [null as never] });
    const batch = [obs('ok-1', 'reporting-failure.json'), bad, obs('ok-2', 'reporting-failure.json')];
    const matches = ev.observe(batch);
    assert.deepEqual([...new Set(matches.map((m) => m.node))], ['ok-1', 'ok-2'], 'the others are evaluated');
    assert.equal(errors.length, 1);
    assert.match(errors[0], new RegExp(`^${bad.runId}: `));
    assert.deepEqual(ev.knownNodes().map((n) => n.node).sort(), ['ok-1', 'ok-2'], 'the bad run left no history');
    // Its run-failed match (found before resource-failed tripped) was not kept either: the run, read again whole, matches.
    const again = ev.observe({ ...bad, report: { ...bad.report, resources: [] } });
    assert.deepEqual(again.map((m) => m.rule).sort(), ['failed', 'resources']);
  });

  it('report files: ChefReport JSON (one or an array), json_file handler reports and data collector files', () => {
    const jump = { command: 'chefConsul.openChefReportFile', args: { uri: 'file:///x' } };
    const one = observationsOfReportFile(fs.readFileSync(path.join(FIXTURES, 'rules', 'reporting-failure.json'), 'utf8'), 'saved.json', 5, '/tmp/saved.json', jump);
    assert.deepEqual(one.map((o) => [o.node, o.runId, o.source, o.time, o.report.status]), [['saved.json', '/tmp/saved.json', 'file', 1764493200000 + 19_000, 'failure']]);
    assert.deepEqual(one[0].jump, jump);
    const two = observationsOfReportFile(JSON.stringify([{ ...report('output-success.json'), node: 'web-1' }, report('output-compile-failure.json')]), 'two.json', 7, '/tmp/two.json');
    assert.deepEqual(two.map((o) => [o.node, o.runId, o.time]), [['web-1', '/tmp/two.json#1', 7], ['two.json', '/tmp/two.json#2', 8]], 'without times, in the order of the file');
    const handler = observationsOfReportFile(fs.readFileSync(path.join(FIXTURES, 'chef-run-report-20261130220141.json'), 'utf8'), 'chef-run-report.json', 0);
    assert.deepEqual(handler.map((o) => [o.node, o.runId, o.report.status]), [['web-1', 'a7c2e0f1-5b3d-4c8e-9f10-2d3e4f5a6b7c', 'failure']]);
    const collector = observationsOfReportFile(fs.readFileSync(path.join(FIXTURES, 'data-collector-failure.json'), 'utf8'), 'dc.json', 0);
    assert.equal(collector.length, 1);
    assert.equal(collector[0].report.source, 'file');
    assert.throws(() => observationsOfReportFile('{"hello": 1}', 'other.json', 0), /other\.json is JSON, but not a Chef report/);
  });

  it('Reporting: polls of different pollers never overlap (goiardi dies on concurrent report listings)', async () => {
    let inFlight = 0;
    let most = 0;
    const source = {
      list: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
        return [];
      },
      get: async () => report('reporting-failure.json'),
    };
    const failing = new ReportingPoller({ ...source, list: async () => Promise.reject(new Error('unreachable')) }, () => undefined);
    const pollers = [new ReportingPoller(source, () => undefined), new ReportingPoller(source, () => undefined)];
    const results = await Promise.allSettled([pollers[0].poll(), failing.poll(), pollers[1].poll(), pollers[0].poll()]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'], 'a failed poll does not stop the others');
    assert.equal(most, 1);
  });
});
