/** How a Chef server run reads in trees and tooltips: status words, icons and ages, localized. */
import * as vscode from 'vscode';
import { runAge, runTime } from '../../core/chef/join';
import type { ChefRunSummary } from '../../core/chef/server/reporting';

export function ageText(time: number, now = Date.now()): string {
  const { value, unit } = runAge(time, now);
  switch (unit) {
    case 'now':
      return vscode.l10n.t('just now');
    case 'min':
      return vscode.l10n.t('{0} min ago', value);
    case 'h':
      return vscode.l10n.t('{0} h ago', value);
    default:
      return vscode.l10n.t('{0} d ago', value);
  }
}

export function runStatusWord(status: ChefRunSummary['status']): string {
  switch (status) {
    case 'success':
      return vscode.l10n.t('succeeded');
    case 'failure':
      return vscode.l10n.t('failed');
    case 'running':
      return vscode.l10n.t('running');
    default:
      return vscode.l10n.t('unknown');
  }
}

export function runStatusIcon(status: ChefRunSummary['status'] | undefined): vscode.ThemeIcon {
  switch (status) {
    case 'success':
      return new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed'));
    case 'failure':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'running':
      return new vscode.ThemeIcon('sync~spin');
    default:
      return new vscode.ThemeIcon('circle-large-outline');
  }
}

/**
 * "Chef ✓ 5 min ago", "Chef ✗ package[nginx] · 2 h ago", "Chef: no run in 24 h" (the
 * inventory's window), "Chef: no run in 24 h · checked in 3 d ago" when the node's
 * `ohai_time` (its last chef-client start, as `knife status` shows it) says when — short, for a description.
 */
export function lastRunText(run: ChefRunSummary | undefined, now = Date.now(), ohaiTime?: number): string {
  if (!run) return ohaiTime === undefined ? vscode.l10n.t('Chef: no run in 24 h') : vscode.l10n.t('Chef: no run in 24 h · checked in {0}', ageText(ohaiTime, now));
  const t = runTime(run);
  const age = t === undefined ? '' : ageText(t, now);
  switch (run.status) {
    case 'success':
      return vscode.l10n.t('Chef ✓ {0}', age).trim();
    case 'failure':
      return run.failedResource ? vscode.l10n.t('Chef ✗ {0} · {1}', run.failedResource, age) : vscode.l10n.t('Chef ✗ failed · {0}', age);
    case 'running':
      return vscode.l10n.t('Chef running · {0}', age);
    default:
      return vscode.l10n.t('Chef {0} · {1}', run.status, age);
  }
}

/** The last run's lines for a tooltip (plain text; the caller appends them with appendText); `ohaiTime` as for lastRunText. */
export function lastRunLines(run: ChefRunSummary | undefined, now = Date.now(), ohaiTime?: number): string[] {
  if (!run) {
    const none = vscode.l10n.t('Last Chef run: none reported in the last 24 hours');
    return ohaiTime === undefined ? [none] : [none, vscode.l10n.t('Last check-in (ohai_time): {0} ({1})', ageText(ohaiTime, now), new Date(ohaiTime).toLocaleString())];
  }
  const t = runTime(run);
  const lines = [vscode.l10n.t('Last Chef run: {0}{1}', runStatusWord(run.status), t === undefined ? '' : `, ${ageText(t, now)} (${new Date(t).toLocaleString()})`)];
  if (run.failedResource) lines.push(vscode.l10n.t('Failed resource: {0}', run.failedResource));
  if (run.exceptionClass || run.message) lines.push([run.exceptionClass, run.message].filter(Boolean).join(': '));
  if (run.durationSeconds !== undefined) lines.push(vscode.l10n.t('Duration: {0} s', Math.round(run.durationSeconds)));
  return lines;
}

export function plainTooltip(lines: string[]): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  lines.filter(Boolean).forEach((l, i) => {
    if (i === 0) md.appendMarkdown('**').appendText(l).appendMarkdown('**');
    else md.appendMarkdown('  \n').appendText(l);
  });
  return md;
}
