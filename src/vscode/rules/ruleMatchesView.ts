/**
 * Rule Matches view: the rules' matches grouped by rule, newest first, each
 * jumping to the run or report that matched; rules the setting got wrong
 * show first, as error items saying what is wrong.
 */
import * as vscode from 'vscode';
import type { RuleMatch } from '../../core/rules/evaluator';
import type { RuleKind, RuleProblem } from '../../core/rules/model';
import type { RuleEngine } from '../../core/rules/ruleEngine';

const KIND_ICONS: Record<RuleKind, string> = {
  'run-failed': 'error',
  'resource-failed': 'symbol-method',
  'slow-run': 'watch',
  'cookbook-version-changed': 'versions',
  'node-missing-runs': 'debug-disconnect',
};

const SOURCE_LABELS: Record<RuleMatch['source'], string> = {
  run: 'run of this editor',
  reporting: 'Chef server Reporting',
  file: 'report file',
};

/** Untrusted text only: every value comes from a report or a node. */
function tooltip(title: string, rows: Array<[string, string | number | undefined]>): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  md.appendMarkdown('**').appendText(title).appendMarkdown('**  \n');
  for (const [label, value] of rows) if (value !== undefined && value !== '') md.appendText(`${label}: ${value}`).appendMarkdown('  \n');
  return md;
}

export class RuleProblemItem extends vscode.TreeItem {
  constructor(readonly problem: RuleProblem) {
    super(problem.rule ?? vscode.l10n.t('rule {0}', problem.index + 1), vscode.TreeItemCollapsibleState.None);
    this.description = problem.message;
    this.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
    this.tooltip = tooltip(vscode.l10n.t('This rule is not applied'), [[vscode.l10n.t('Problem'), problem.message]]);
    this.contextValue = 'ruleProblem';
    this.command = { command: 'chefConsul.rules.add', title: vscode.l10n.t('Edit Rules') };
  }
}

export class RuleItem extends vscode.TreeItem {
  constructor(
    readonly rule: string,
    readonly kind: RuleKind,
    readonly matches: RuleMatch[],
  ) {
    super(rule, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `rule:${rule}`;
    this.description = matches.length === 1 ? vscode.l10n.t('1 match · {0}', kind) : vscode.l10n.t('{0} matches · {1}', matches.length, kind);
    this.iconPath = new vscode.ThemeIcon(KIND_ICONS[kind]);
    this.contextValue = 'rule';
  }
}

export class RuleMatchItem extends vscode.TreeItem {
  constructor(readonly match: RuleMatch) {
    super(match.node, vscode.TreeItemCollapsibleState.None);
    this.id = `match:${match.key}`;
    const when = new Date(match.time).toLocaleString();
    this.description = `${match.summary} · ${when}`;
    this.iconPath = new vscode.ThemeIcon('bell-dot');
    this.tooltip = tooltip(vscode.l10n.t('Rule "{0}" matched on {1}', match.rule, match.node), [
      [vscode.l10n.t('Why'), match.summary],
      [vscode.l10n.t('Run'), match.runId],
      [vscode.l10n.t('Phase'), match.phase === undefined ? undefined : match.phase + 1],
      [vscode.l10n.t('Source'), SOURCE_LABELS[match.source]],
      [vscode.l10n.t('When'), when],
    ]);
    this.contextValue = match.jump ? 'ruleMatch.jump' : 'ruleMatch';
    if (match.jump) this.command = { command: match.jump.command, title: vscode.l10n.t('Open the Run'), arguments: [match.jump.args] };
  }
}

type Item = RuleProblemItem | RuleItem | RuleMatchItem;

export class RuleMatchesView implements vscode.TreeDataProvider<Item>, vscode.Disposable {
  static readonly id = 'chefConsul.ruleMatches';
  private readonly changed = new vscode.EventEmitter<Item | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  readonly treeView: vscode.TreeView<Item>;

  constructor(private readonly engine: RuleEngine) {
    this.treeView = vscode.window.createTreeView(RuleMatchesView.id, { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(this.treeView, this.changed, { dispose: engine.onDidChange(() => this.refresh()).dispose });
    this.refresh();
  }

  /**
   * Another window of this machine follows the Chef server's Reporting
   * (pid, 0 when unknown) — its runs' matches list and notify there; this
   * one lists the matches of its own runs and report files — or undefined:
   * this one does.
   */
  setReportingElsewhere(pid: number | undefined): void {
    // Beside the title, not the view's message: a message would hide the welcome content.
    this.treeView.description =
      pid === undefined
        ? undefined
        : pid
          ? vscode.l10n.t('Reporting followed in another window (pid {0})', pid)
          : vscode.l10n.t('Reporting followed in another window');
  }

  refresh(): void {
    const { rules } = this.engine.rules;
    const matches = this.engine.matches();
    void vscode.commands.executeCommand('setContext', 'chefConsul.rules.hasRules', rules.length > 0);
    void vscode.commands.executeCommand('setContext', 'chefConsul.rules.hasMatches', matches.length > 0);
    this.treeView.badge = matches.length ? { value: matches.length, tooltip: vscode.l10n.t('{0} rule matches', matches.length) } : undefined;
    this.changed.fire(undefined);
  }

  getTreeItem(item: Item): vscode.TreeItem {
    return item;
  }

  getChildren(item?: Item): Item[] {
    if (item instanceof RuleItem) return item.matches.map((m) => new RuleMatchItem(m));
    if (item) return [];
    const { rules, problems } = this.engine.rules;
    const matches = this.engine.matches();
    const groups: Item[] = [];
    // Rules in the order of their newest match; matches of a rule that is gone still show under its name.
    const byRule = new Map<string, RuleMatch[]>();
    for (const m of matches) {
      const list = byRule.get(m.rule);
      if (list) list.push(m);
      else byRule.set(m.rule, [m]);
    }
    const kinds = new Map(rules.map((r) => [r.name, r.kind]));
    for (const [rule, list] of byRule) groups.push(new RuleItem(rule, kinds.get(rule) ?? list[0].kind, list));
    return [...problems.map((p) => new RuleProblemItem(p)), ...groups];
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
