/**
 * Rules on Chef runs in VS Code: the `chefConsul.rules` setting, the rule
 * engine fed by every source (runs of this editor, the Chef server's
 * Reporting history while a Chef server is configured — read from the Chef
 * server connection's one Reporting poll, which the failure notifications
 * share — report files opened in the report editor), the Rule Matches view
 * and the commands.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MAX_REPORT_FILE_BYTES } from '../../core/chef/reportFiles';
import type { Notifier } from '../../core/notify/notifier';
import type { ChefRunObservation, RuleMatch } from '../../core/rules/evaluator';
import { RuleEvaluator } from '../../core/rules/evaluator';
import { chefReportProblem, isChefReport, observationsOfReportFile, reportTime } from '../../core/rules/fileSource';
import type { ParsedRules, RuleProblem } from '../../core/rules/model';
import { parseRules } from '../../core/rules/model';
import { RuleEngine } from '../../core/rules/ruleEngine';
import type { ReportingPoll, RunReportsLike } from '../../core/rules/sources';
import { followRunCompletions } from '../../core/rules/sources';
import type { RunRegistry } from '../../core/runs/registry';
import { CommandInputError, registerCommand } from '../commands/register';
import { RuleMatchesView } from './ruleMatchesView';

const SETTING = 'chefConsul.rules';
const POLL_SETTING = 'chefConsul.rules.reportingPollSeconds';
const DEFAULT_POLL_SECONDS = 60;
const CONSUMER = 'rules';
/** The report file editor's view types (src/vscode/chef/reportFileEditor.ts). */
const REPORT_FILE_VIEW_TYPES = ['chefConsul.chefReportFile', 'chefConsul.chefReportFileOption'];

/** The Chef server connection's one Reporting poll (src/vscode/chef/reportingFeed.ts), as the rules use it. */
export interface ReportingAccess {
  onDidPoll(listener: (poll: ReportingPoll) => void): vscode.Disposable;
  /** A poll now (one in flight is joined): undefined without a Chef server or when it failed. */
  pollNow(): Promise<ReportingPoll | undefined>;
  /** How often the rules want news (ms). */
  want(consumer: string, ms: number): void;
  /** How far back the rules need the first poll to read. */
  requireLookBack(consumer: string, ms: number): void;
  /** The PID of the window that follows Reporting when it is not this one (one window per machine polls and notifies). */
  readonly followedElsewhere?: number;
  onDidChangeFollowing?(listener: () => void): vscode.Disposable;
}

export interface RuleFeatures {
  engine: RuleEngine;
  view: RuleMatchesView;
  /** Polls Reporting now (tests; the timer does it by itself): the new matches, undefined without a Chef server. */
  pollReporting(): Promise<RuleMatch[] | undefined>;
}

export interface RuleDeps {
  runs: RunRegistry;
  reports: RunReportsLike;
  notifier: Pick<Notifier, 'notify'>;
  reporting?: ReportingAccess;
}

export function registerRules(log: vscode.LogOutputChannel, deps: RuleDeps): { features: RuleFeatures; disposables: vscode.Disposable[] } {
  const engine = new RuleEngine({ notifier: deps.notifier, log: (m) => log.warn(m) });
  const disposables: vscode.Disposable[] = [{ dispose: () => engine.dispose() }];

  let reported = '';
  const applySetting = () => {
    let parsed: ParsedRules;
    try {
      parsed = engine.setRules(vscode.workspace.getConfiguration().get<unknown>(SETTING, []));
    } catch (e) {
      // A setting the reader did not foresee never breaks activation: no rules apply, and it is said.
      engine.setRules([]);
      parsed = { rules: [], problems: [{ index: 0, message: vscode.l10n.t('The setting cannot be read: {0}', message(e)) }] };
    }
    const text = parsed.problems.map((p) => p.message).join('\n');
    // Say what is wrong once per change of the setting, not on every read.
    if (text && text !== reported) {
      log.warn(`chefConsul.rules: ${text}`);
      const show = vscode.l10n.t('Show Rule Matches');
      void vscode.window
        .showWarningMessage(vscode.l10n.t('{0} of the Chef run rules cannot be applied: {1}', parsed.problems.length, parsed.problems[0].message), show)
        .then((c) => (c === show ? vscode.commands.executeCommand(`${RuleMatchesView.id}.focus`) : undefined));
    }
    reported = text;
  };
  applySetting();
  const view = new RuleMatchesView(engine);
  disposables.push(
    view,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SETTING)) {
        applySetting();
        // A node-missing-runs rule over more hours than the history read so far needs a longer one.
        deps.reporting?.requireLookBack(CONSUMER, lookBackMs());
      }
      if (e.affectsConfiguration(POLL_SETTING)) wantPolls();
    }),
  );

  // Runs of this editor: each finished run's Chef nodes.
  disposables.push(followRunCompletions(deps.runs, deps.reports, (o) => engine.observe(o), (e) => log.warn(`rules: reading a run's Chef reports failed: ${message(e)}`)));

  // Reporting: the Chef server connection's one poll, while a Chef server is configured; its first poll is the history so far.
  const matchesOf = new WeakMap<ReportingPoll, RuleMatch[]>();
  const pollReporting = async (): Promise<RuleMatch[] | undefined> => {
    if (!deps.reporting) return undefined;
    const poll = await deps.reporting.pollNow();
    // Undefined: no Chef server; a failed poll (the feed logs it) matched nothing.
    return poll ? (matchesOf.get(poll) ?? []) : undefined;
  };
  /**
   * How far back the first poll reads: a day, or longer when a
   * node-missing-runs rule needs it.
   */
  const lookBackMs = () => Math.max(0, ...engine.rules.rules.map((r) => (r.kind === 'node-missing-runs' ? r.hours * 3_600_000 + 3_600_000 : 0)));
  /** The poll runs at the shorter of this and chefConsul.chef.pollSeconds. */
  const wantPolls = () => deps.reporting?.want(CONSUMER, Math.max(10, vscode.workspace.getConfiguration().get<number>(POLL_SETTING, DEFAULT_POLL_SECONDS)) * 1000);
  if (deps.reporting) {
    disposables.push(
      deps.reporting.onDidPoll((poll) => {
        // Older runs read after a longer look-back (node-missing-runs): history only.
        if (poll.history?.length) engine.observe(poll.history, { baseline: true });
        matchesOf.set(poll, engine.observe(poll.observations, { baseline: poll.baseline }));
      }),
    );
    deps.reporting.requireLookBack(CONSUMER, lookBackMs());
    wantPolls();
    const feed = deps.reporting;
    disposables.push({ dispose: () => feed.want(CONSUMER, 0) });
    // Another window follows Reporting (and notifies its matches): this one lists the matches of its own runs and report files.
    const following = () => {
      const pid = feed.followedElsewhere;
      view.setReportingElsewhere(pid);
      // node-missing-runs is checked where Reporting's runs are seen, not in every window.
      engine.checkMissingOnTimer = pid === undefined;
    };
    following();
    if (feed.onDidChangeFollowing) disposables.push(feed.onDidChangeFollowing(following));
  }

  // Report files opened in the report editor.
  const seenTabs = new Set<string>();
  /** `notify: false` for the tabs restored with the window: their matches are listed, not notified again at every reload. */
  const observeTabs = (tabs: readonly vscode.Tab[], notify: boolean) => {
    for (const tab of tabs) {
      const input = tab.input;
      if (!(input instanceof vscode.TabInputCustom) || !REPORT_FILE_VIEW_TYPES.includes(input.viewType) || input.uri.scheme !== 'file') continue;
      const key = input.uri.toString();
      if (seenTabs.has(key)) continue;
      seenTabs.add(key);
      void readReportFile(input.uri.fsPath)
        .then((o) => engine.observe(o, { notify }))
        .catch((e: unknown) => log.info(`rules: ${input.uri.fsPath} is not evaluated: ${message(e)}`));
    }
  };
  observeTabs(vscode.window.tabGroups.all.flatMap((g) => g.tabs), false);
  disposables.push(vscode.window.tabGroups.onDidChangeTabs((e) => observeTabs(e.opened, true)));

  disposables.push(
    registerCommand<object, { rules: Array<{ name: string; kind: string; notify: string[]; definition: Record<string, unknown> }>; problems: RuleProblem[] }>(
      'chefConsul.rules.list',
      () => {
        const { rules, problems } = engine.rules;
        return { rules: rules.map((r) => ({ name: r.name, kind: r.kind, notify: [...r.notify], definition: structuredClone(r.definition) })), problems: structuredClone(problems) };
      },
      log,
    ),
    registerCommand<{ rule: string }, RuleMatch[]>(
      'chefConsul.rules.matches',
      (args) => {
        const rule = args?.rule;
        if (rule !== undefined && (typeof rule !== 'string' || !rule)) throw new CommandInputError(vscode.l10n.t('"rule" must be the name of a rule.'));
        if (rule !== undefined && !engine.rules.rules.some((r) => r.name === rule) && !engine.matches(rule).length)
          throw new CommandInputError(vscode.l10n.t('No rule named "{0}". Rules: {1}.', rule, engine.rules.rules.map((r) => `"${r.name}"`).join(', ') || vscode.l10n.t('none')));
        return engine.matches(rule);
      },
      log,
    ),
    registerCommand<{ reports: unknown; rules: unknown; record: boolean }, RuleMatch[]>(
      'chefConsul.rules.evaluate',
      async (args) => {
        const observations = await evaluationInput(args?.reports);
        if (args?.record === true) {
          if (args.rules !== undefined) throw new CommandInputError(vscode.l10n.t('"record" applies the configured rules: give no "rules" with it.'));
          return engine.observe(observations);
        }
        const parsed: ParsedRules = args?.rules === undefined ? engine.rules : parseRules(args.rules);
        if (args?.rules !== undefined && parsed.problems.length) throw new CommandInputError(parsed.problems.map((p) => p.message).join(' '));
        const evaluator = new RuleEvaluator(parsed.rules);
        const matches = evaluator.observe(observations);
        if (parsed.rules.some((r) => r.kind === 'node-missing-runs')) matches.push(...evaluator.checkMissing(Date.now()));
        return matches.sort((a, b) => b.time - a.time);
      },
      log,
    ),
    registerCommand<object, { cleared: number }>(
      'chefConsul.rules.clearMatches',
      () => {
        const cleared = engine.matches().length;
        engine.clearMatches();
        return { cleared };
      },
      log,
    ),
    registerCommand<object, void>('chefConsul.rules.add', async () => void (await vscode.commands.executeCommand('workbench.action.openSettings', SETTING)), log),
  );

  return { features: { engine, view, pollReporting }, disposables };
}

/** `reports`: a report file's path, or ChefReports (bare, or as `{ node, report, runId?, time? }`). */
async function evaluationInput(raw: unknown): Promise<ChefRunObservation[]> {
  if (typeof raw === 'string' && raw) return readReportFile(raw);
  if (!Array.isArray(raw))
    throw new CommandInputError(vscode.l10n.t('"reports" is required: the path of a report file, or an array of Chef reports (each a report, or { node, report, runId?, time? }).'));
  return raw.map((item: unknown, i): ChefRunObservation => {
    const x = item as { node?: unknown; report?: unknown; runId?: unknown; time?: unknown } | undefined;
    const wrapped = !!x && typeof x === 'object' && 'report' in x;
    const report = wrapped ? x.report : item;
    if (!isChefReport(report)) throw new CommandInputError(vscode.l10n.t('reports[{0}] is not a Chef report: it needs "status", "chef" and "resources" as in the reports chefConsul.openChefReport returns.', i));
    const problem = chefReportProblem(report);
    if (problem) throw new CommandInputError(vscode.l10n.t('reports[{0}] is not a valid Chef report: {1}.', i, problem));
    if (wrapped && x.node !== undefined && (typeof x.node !== 'string' || !x.node)) throw new CommandInputError(vscode.l10n.t('reports[{0}].node must be a node name.', i));
    if (wrapped && x.time !== undefined && (typeof x.time !== 'number' || !Number.isFinite(x.time))) throw new CommandInputError(vscode.l10n.t('reports[{0}].time must be epoch milliseconds.', i));
    const node = wrapped && typeof x.node === 'string' ? x.node : vscode.l10n.t('report {0}', i + 1);
    const runId = wrapped && typeof x.runId === 'string' && x.runId ? x.runId : `report-${i + 1}`;
    // Without a time, reports count in the order given.
    const time = wrapped && typeof x.time === 'number' ? x.time : (reportTime(report) ?? i);
    return { node, runId, source: 'file', time, report };
  });
}

async function readReportFile(file: string): Promise<ChefRunObservation[]> {
  const absolute = path.resolve(file);
  let stat;
  try {
    stat = await fs.stat(absolute);
  } catch (e) {
    throw new CommandInputError(vscode.l10n.t('Cannot read the report file {0}: {1}', absolute, message(e)));
  }
  if (!stat.isFile()) throw new CommandInputError(vscode.l10n.t('{0} is not a file.', absolute));
  if (stat.size > MAX_REPORT_FILE_BYTES) throw new CommandInputError(vscode.l10n.t('{0} is larger than {1} MiB: too large for a Chef report.', absolute, MAX_REPORT_FILE_BYTES / 1024 / 1024));
  const text = await fs.readFile(absolute, 'utf8');
  try {
    return observationsOfReportFile(text, path.basename(absolute), stat.mtimeMs, absolute, { command: 'chefConsul.openChefReportFile', args: { uri: vscode.Uri.file(absolute).toString() } });
  } catch (e) {
    throw new CommandInputError(message(e));
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
