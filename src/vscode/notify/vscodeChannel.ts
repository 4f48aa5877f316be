/** The VS Code channel of the notifier: a notification toast by severity, with "Show" jumping to what it is about. */
import * as vscode from 'vscode';
import type { Notification, NotificationChannel } from '../../core/notify/notifier';

import { plainToastText } from '../../core/util/toastText';

/** Notification toasts render `[text](target)` as links: untrusted text must not make one (shared with error toasts). */
export { plainToastText };

/** One line: the title, then the exception or the first line of the message. */
export function toastText(n: Notification): string {
  const detail = n.exception ?? n.message.split('\n').find((l) => l.trim());
  const text = detail && !n.title.includes(detail) ? `${n.title} — ${detail}` : n.title;
  return plainToastText(text.length > 400 ? `${text.slice(0, 399)}…` : text);
}

export class VsCodeNotificationChannel implements NotificationChannel {
  readonly kind = 'vscode';
  /** The last toasts shown (text and severity), newest last: for tests and the log. */
  readonly recent: Array<{ key: string; severity: Notification['severity']; text: string }> = [];

  constructor(private readonly log?: vscode.LogOutputChannel) {}

  deliver(n: Notification): Promise<void> {
    const text = toastText(n);
    this.recent.push({ key: n.key, severity: n.severity, text });
    if (this.recent.length > 20) this.recent.shift();
    const show = vscode.l10n.t('Show');
    const buttons = n.jump ? [show] : [];
    const shown =
      n.severity === 'error'
        ? vscode.window.showErrorMessage(text, ...buttons)
        : n.severity === 'warning'
          ? vscode.window.showWarningMessage(text, ...buttons)
          : vscode.window.showInformationMessage(text, ...buttons);
    // Not awaited: the toast stays until the operator answers, delivery is done now.
    void Promise.resolve(shown).then(async (choice) => {
      if (choice !== show || !n.jump) return;
      try {
        await vscode.commands.executeCommand(n.jump.command, n.jump.args);
      } catch (e) {
        this.log?.warn(`notification "${n.title}": ${n.jump.command} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    return Promise.resolve();
  }
}
