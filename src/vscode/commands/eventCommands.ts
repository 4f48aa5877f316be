/** Firing user events from the palette, from a node or service in the trees, or with arguments. */
import * as vscode from 'vscode';
import {
  eventReach,
  exactNodeNames,
  FireEventRequest,
  fireEvent,
  goRegexProblem,
  remainingPayloadBytes,
  validateFireRequest,
} from '../../core/consul/events';
import { escapeRegex } from '../../core/util/regex';
import type { ConnectionManager } from '../connectionManager';
type Connected = Awaited<ReturnType<ConnectionManager['connected']>>;
import type { InstanceItem, NodeItem, ServiceItem } from '../views/catalogItems';
import type { EventsView } from '../views/eventsView';
import { CommandInputError, registerCommand, showError } from './register';
import { requireTrust } from '../trust';
import { confirmProduction } from '../production';
import { readCatalog } from '../../core/consul/nodeDump';

interface FireArgs extends FireEventRequest {
  /** For production profiles: the profile's name, typed as the confirmation. */
  confirm?: string;
}


async function ask(prefill: Partial<FireEventRequest>): Promise<FireEventRequest | undefined> {
  const total = 5;
  const title = (n: number) => vscode.l10n.t('Fire Consul Event ({0}/{1})', n, total);
  const name = await vscode.window.showInputBox({
    title: title(1),
    prompt: vscode.l10n.t('Event name'),
    value: prefill.name,
    validateInput: (v) => validateFireRequest({ name: v }).find((p) => /name/.test(p)),
  });
  if (!name) return undefined;
  const filtersSoFar = { node: prefill.node, service: prefill.service, tag: prefill.tag };
  const payload = await vscode.window.showInputBox({
    title: title(2),
    prompt: vscode.l10n.t('Payload (optional)'),
    value: prefill.payload,
    validateInput: (v) => {
      const left = remainingPayloadBytes({ name, payload: v, ...filtersSoFar });
      return left >= 0
        ? { message: vscode.l10n.t('{0} bytes left of the 512-byte event', left), severity: vscode.InputBoxValidationSeverity.Info }
        : { message: vscode.l10n.t('{0} bytes over the 512-byte event limit', -left), severity: vscode.InputBoxValidationSeverity.Error };
    },
  });
  if (payload === undefined) return undefined;
  const regexInput = async (n: number, prompt: string, value: string | undefined, extra?: (v: string) => string | undefined) =>
    vscode.window.showInputBox({
      title: title(n),
      prompt,
      value,
      // As Consul's agents read it (Go's regexp), not as JavaScript would.
      validateInput: (v) => (v && goRegexProblem(v)) || extra?.(v),
    });
  const node = await regexInput(3, vscode.l10n.t('Node filter: a regular expression on node names (empty: all nodes)'), prefill.node);
  if (node === undefined) return undefined;
  const service = await regexInput(4, vscode.l10n.t('Service filter: a regular expression on service names (empty: none)'), prefill.service);
  if (service === undefined) return undefined;
  const tag = await regexInput(5, vscode.l10n.t('Tag filter: a regular expression on tags of the matching services (empty: none)'), prefill.tag, (v) =>
    v && !service ? vscode.l10n.t('A tag filter needs a service filter') : undefined,
  );
  if (tag === undefined) return undefined;
  return { name, payload, node: node || undefined, service: service || undefined, tag: tag || undefined };
}

/**
 * Production profiles: an event that reaches more than one node needs the
 * profile's name typed. Connects first when nothing is connected yet, and
 * reads the catalog when the live one has not answered: never guessed.
 */
async function confirmEvent(connections: ConnectionManager, req: FireArgs, interactive: boolean): Promise<Connected | undefined> {
  const state = await connections.connected();
  if (!state.connection.profile.production) return state;
  // Only an exact list of node names says for sure which agents act.
  const named = exactNodeNames(req.node);
  let reach = named?.length;
  if (reach === undefined) {
    const catalog = state.catalog.current;
    const nodes = catalog.kind === 'ready' ? catalog.data.nodes : (await readCatalog(state.connection)).nodes;
    reach = eventReach(nodes, req).length;
  }
  const what = interactive ? vscode.l10n.t('event "{0}"', req.name) : vscode.l10n.t('this event');
  return (await confirmProduction(state.connection.profile, what, reach, req.confirm, interactive, 'nodes', named !== undefined)) ? state : undefined;
}

/** Checks, confirms and fires one event; exported for the tests that need a connection manager of their own. */
export async function fire(connections: ConnectionManager, events: Pick<EventsView, 'refresh'>, req: FireArgs, interactive: boolean): Promise<string | undefined> {
  requireTrust(vscode.l10n.t('Fire Event'));
  const problems = validateFireRequest(req);
  if (problems.length) throw new CommandInputError(problems.join(' '));
  // Fired on the connection it was confirmed for, even if the profile changes while the prompt is open.
  const state = await confirmEvent(connections, req, interactive);
  if (!state) return undefined;
  const { confirm, ...request } = req;
  const event = await fireEvent(state.connection, request);
  events.refresh();
  if (interactive) void vscode.window.showInformationMessage(vscode.l10n.t('Event "{0}" fired ({1}).', event.name, event.id));
  return event.id;
}

function prefillFrom(item: NodeItem | ServiceItem | InstanceItem | undefined): Partial<FireEventRequest> {
  switch (item?.kind) {
    case 'node':
      return { node: `^${escapeRegex(item.node.name)}$` };
    case 'service':
      // Agents match the filter against service IDs, which may differ from the name.
      return { service: `^(${[...new Set(item.service.instances.map((i) => i.id))].map(escapeRegex).join('|')})$` };
    case 'instance':
      return { node: `^${escapeRegex(item.instance.node)}$`, service: `^${escapeRegex(item.instance.id)}$` };
    default:
      return {};
  }
}

export function registerEventCommands(connections: ConnectionManager, events: EventsView, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return [
    registerCommand<FireArgs, string | undefined>(
      'chefConsul.fireEvent',
      async (args) => {
        if (args) return fire(connections, events, args as FireArgs, false);
        requireTrust(vscode.l10n.t('Fire Event'));
        const req = await ask({});
        return req ? fire(connections, events, req, true) : undefined;
      },
      log,
    ),
    vscode.commands.registerCommand('chefConsul.fireEventHere', async (item?: NodeItem | ServiceItem | InstanceItem) => {
      try {
        requireTrust(vscode.l10n.t('Fire Event'));
        const req = await ask(prefillFrom(item));
        return req ? await fire(connections, events, req, true) : undefined;
      } catch (e) {
        log.error(`chefConsul.fireEventHere: ${(e as Error).message}`);
        showError(e);
        return undefined;
      }
    }),
    vscode.commands.registerCommand('chefConsul.events.refresh', () => events.refresh()),
  ];
}
