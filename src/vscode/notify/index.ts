/**
 * Notifications in VS Code: the one Notifier's channels (VS Code toasts, the
 * webhook whose URL lives in SecretStorage), their settings and commands, and
 * the failed Chef runs of this extension's runs as notifications.
 */
import * as vscode from 'vscode';
import type { RunChefReports } from '../../core/chef/runReports';
import { notifyChefRunFailures } from '../../core/notify/chefRunNotifications';
import type { Notification } from '../../core/notify/notifier';
import { Notifier } from '../../core/notify/notifier';
import { WebhookChannel } from '../../core/notify/webhook';
import type { RunRegistry } from '../../core/runs/registry';
import { CommandInputError, registerCommand } from '../commands/register';
import { VsCodeNotificationChannel } from './vscodeChannel';

export const WEBHOOK_SECRET = 'chefConsul.notifications.webhookUrl';
const SECTION = 'chefConsul.notifications';

export interface NotificationFeatures {
  notifier: Notifier;
  vscodeChannel: VsCodeNotificationChannel;
  webhook: WebhookChannel;
}

/** The URL, if it is one a webhook can be: http(s) with a host. Says what is wrong otherwise. */
export function checkWebhookUrl(value: unknown): string {
  if (typeof value !== 'string' || !value.trim()) throw new CommandInputError(vscode.l10n.t('"url" (the webhook\'s http or https URL) is required.'));
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new CommandInputError(vscode.l10n.t('"{0}…" is not a URL: a webhook URL looks like https://hooks.slack.com/services/…', value.trim().slice(0, 12)));
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CommandInputError(vscode.l10n.t('A webhook URL must start with https:// or http://, not {0}//.', url.protocol));
  if (!url.hostname) throw new CommandInputError(vscode.l10n.t('The webhook URL names no host.'));
  if (url.username || url.password) throw new CommandInputError(vscode.l10n.t('Put no user name or password in the webhook URL: use a URL with its token in the path, as Slack\'s are.'));
  return url.toString();
}

export function registerNotifications(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  deps: { runs: RunRegistry; reports: RunChefReports },
): { features: NotificationFeatures; disposables: vscode.Disposable[] } {
  const notifier = new Notifier({ info: (m) => log.info(m), warn: (m) => log.warn(m) });
  const vscodeChannel = new VsCodeNotificationChannel(log);
  const webhook = new WebhookChannel({ url: () => Promise.resolve(context.secrets.get(WEBHOOK_SECRET)), log: { info: (m) => log.info(m), warn: (m) => log.warn(m) } });
  const config = () => vscode.workspace.getConfiguration(SECTION);
  const disposables: vscode.Disposable[] = [{ dispose: () => notifier.dispose() }, { dispose: () => webhook.dispose() }];
  disposables.push(notifier.addChannel(vscodeChannel));

  // The webhook is a channel only while the setting is on.
  let webhookRegistration: { dispose(): void } | undefined;
  const applyWebhookSetting = () => {
    const on = config().get<boolean>('webhook.enabled', false);
    if (on && !webhookRegistration) webhookRegistration = notifier.addChannel(webhook);
    if (!on && webhookRegistration) {
      webhookRegistration.dispose();
      webhookRegistration = undefined;
    }
  };
  applyWebhookSetting();
  disposables.push(
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(`${SECTION}.webhook.enabled`) && applyWebhookSetting()),
    { dispose: () => webhookRegistration?.dispose() },
  );

  // Failed Chef runs of runs started in this window: once per node per run.
  const chefFailures = notifyChefRunFailures(
    deps.reports,
    { notify: (n: Notification) => (config().get<boolean>('chefFailures', true) ? notifier.notify(n) : false) },
    { isLive: (id) => deps.runs.get(id) !== undefined },
  );
  disposables.push(chefFailures);

  disposables.push(
    registerCommand<{ url: string }, { stored: true; host: string; webhookEnabled: boolean } | undefined>(
      'chefConsul.notifications.setWebhookUrl',
      async (args) => {
        let raw: unknown = args?.url;
        if (args === undefined) {
          raw = await vscode.window.showInputBox({
            title: vscode.l10n.t('Webhook URL for notifications'),
            prompt: vscode.l10n.t('A Slack-compatible incoming webhook (https://hooks.slack.com/services/…). Kept in VS Code\'s secret storage.'),
            password: true,
            ignoreFocusOut: true,
            validateInput: (v) => {
              try {
                checkWebhookUrl(v);
                return undefined;
              } catch (e) {
                return (e as Error).message;
              }
            },
          });
          if (raw === undefined) return undefined;
        }
        const url = checkWebhookUrl(raw);
        await context.secrets.store(WEBHOOK_SECRET, url);
        const host = new URL(url).host;
        const webhookEnabled = config().get<boolean>('webhook.enabled', false);
        log.info(`Webhook URL stored (host ${host})`);
        if (args === undefined) {
          const enable = vscode.l10n.t('Turn On Webhook Notifications');
          if (!webhookEnabled) {
            void vscode.window.showInformationMessage(vscode.l10n.t('Webhook URL stored for {0}. Webhook notifications are off.', host), enable).then((c) =>
              c === enable ? config().update('webhook.enabled', true, vscode.ConfigurationTarget.Global) : undefined,
            );
          } else void vscode.window.showInformationMessage(vscode.l10n.t('Webhook URL stored for {0}.', host));
        }
        return { stored: true, host, webhookEnabled };
      },
      log,
    ),
    registerCommand<object, { cleared: boolean }>(
      'chefConsul.notifications.clearWebhookUrl',
      async (args) => {
        const had = (await context.secrets.get(WEBHOOK_SECRET)) !== undefined;
        await context.secrets.delete(WEBHOOK_SECRET);
        log.info(had ? 'Webhook URL removed' : 'No webhook URL was stored');
        if (args === undefined) void vscode.window.showInformationMessage(had ? vscode.l10n.t('Webhook URL removed.') : vscode.l10n.t('No webhook URL was stored.'));
        return { cleared: had };
      },
      log,
    ),
    registerCommand<{ channels: string[] }, { channels: string[]; delivered: Record<string, boolean>; errors: Record<string, string> }>(
      'chefConsul.notifications.sendTest',
      async (args) => {
        if (args?.channels !== undefined && (!Array.isArray(args.channels) || args.channels.some((c) => typeof c !== 'string')))
          throw new CommandInputError(vscode.l10n.t('"channels" must be a list of channel kinds, e.g. ["vscode", "webhook"].'));
        const unknown = args?.channels?.filter((c) => !notifier.channelKinds().includes(c)) ?? [];
        if (unknown.length)
          throw new CommandInputError(
            vscode.l10n.t('No notification channel {0}: the channels on are {1}.', unknown.join(', '), notifier.channelKinds().join(', ')) +
              (unknown.includes('webhook') ? ' ' + vscode.l10n.t('Turn on the setting chefConsul.notifications.webhook.enabled for the webhook.') : ''),
          );
        const channels = args?.channels ?? notifier.channelKinds();
        const n: Notification = {
          key: `test:${Date.now()}`,
          source: 'test',
          severity: 'info',
          title: vscode.l10n.t('Chef + Consul Ops: test notification'),
          message: vscode.l10n.t('If you read this, notifications reach this channel ({0}).', vscode.env.appName),
        };
        const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Sending a test notification…') }, () => notifier.deliverNow(n, channels));
        const delivered: Record<string, boolean> = {};
        const errors: Record<string, string> = {};
        for (const kind of channels) {
          delivered[kind] = results[kind] === true;
          if (results[kind] !== true) errors[kind] = results[kind] ?? 'not delivered';
        }
        if (args === undefined && Object.keys(errors).length)
          void vscode.window.showWarningMessage(vscode.l10n.t('Test notification not delivered via {0}', Object.entries(errors).map(([k, e]) => `${k}: ${e}`).join('; ')));
        return { channels, delivered, errors };
      },
      log,
    ),
  );
  return { features: { notifier, vscodeChannel, webhook }, disposables };
}
