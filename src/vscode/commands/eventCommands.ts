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
import { QuickInputFactory, runSteps, Step } from '../multiStepInput';

interface FireArgs extends FireEventRequest {
  /** For production profiles: the profile's name, typed as the confirmation. */
  confirm?: string;
}


interface FireDraft {
  name: string;
  payload: string;
  node: string;
  service: string;
  tag: string;
}

/** The five steps of Fire Event, in one quick input with Back; prefilled from a tree item. Exported for the tests. */
export async function ask(prefill: Partial<FireEventRequest>, ui: QuickInputFactory = vscode.window): Promise<FireEventRequest | undefined> {
  const draft: FireDraft = {
    name: prefill.name ?? '',
    payload: prefill.payload ?? '',
    node: prefill.node ?? '',
    service: prefill.service ?? '',
    tag: prefill.tag ?? '',
  };
  const field = (key: keyof FireDraft) => ({ get: (d: FireDraft) => d[key], set: (d: FireDraft, v: string) => void (d[key] = v) });
  // As Consul's agents read it (Go's regexp), not as JavaScript would.
  const regex = (v: string) => (v && goRegexProblem(v)) || undefined;
  const steps: Array<Step<FireDraft>> = [
    {
      kind: 'text',
      prompt: vscode.l10n.t('Event name'),
      ...field('name'),
      validate: (v) => validateFireRequest({ name: v }).find((p) => /name/.test(p)),
    },
    {
      kind: 'text',
      prompt: vscode.l10n.t('Payload (optional)'),
      ...field('payload'),
      validate: (v, d) => {
        const left = remainingPayloadBytes({ name: d.name, payload: v, node: d.node || undefined, service: d.service || undefined, tag: d.tag || undefined });
        return left >= 0
          ? { message: vscode.l10n.t('{0} bytes left of the 512-byte event', left), severity: vscode.InputBoxValidationSeverity.Info }
          : { message: vscode.l10n.t('{0} bytes over the 512-byte event limit', -left), severity: vscode.InputBoxValidationSeverity.Error };
      },
    },
    {
      kind: 'text',
      prompt: vscode.l10n.t('Node filter: a regular expression on node names (empty: all nodes)'),
      ...field('node'),
      validate: regex,
    },
    {
      kind: 'text',
      prompt: vscode.l10n.t('Service filter: a regular expression on service names (empty: none)'),
      ...field('service'),
      validate: regex,
    },
    {
      kind: 'text',
      prompt: vscode.l10n.t('Tag filter: a regular expression on tags of the matching services (empty: none)'),
      ...field('tag'),
      validate: (v, d) => regex(v) || (v && !d.service ? vscode.l10n.t('A tag filter needs a service filter') : undefined),
    },
  ];
  const done = await runSteps(vscode.l10n.t('Fire Consul Event'), steps, draft, ui);
  if (!done) return undefined;
  return { name: done.name, payload: done.payload, node: done.node || undefined, service: done.service || undefined, tag: done.tag || undefined };
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
