/**
 * The messages between the run monitor panel (extension side) and its page
 * (webview/), typed once and imported by both. Must not import `vscode`: the
 * page's bundle includes this file.
 *
 * Flow: the page posts `ready` when it (re)loads; the extension answers with
 * `init` (the run, and the output it holds). From then on the page pulls: it
 * posts `frame` once per animation frame when it is free, and the extension
 * answers with at most one `batch` of everything that happened since, so the
 * page is never sent more than it can draw.
 */
import type { NodeStatus, RunSnapshot } from '../../core/runs/model';

export const MONITOR_VIEW_TYPE = 'chefConsul.runMonitor';

/** One line of a node's output, as the page shows it. Text is untrusted: it carries only SGR colour sequences (see lines.ts). */
export interface OutputLine {
  phase: number;
  node: string;
  /** 1-based within that node's output in that phase as far as this panel knows it. */
  no: number;
  /** When the extension received it (ms since the epoch); absent for output read back from a tail, file or KV. */
  t?: number;
  text: string;
}

export interface ChefCell {
  phase: number;
  node: string;
  /** "3/12 updated", "failed: template[/etc/x]" (untrusted: a resource name comes from the node). */
  text: string;
  status: 'running' | 'success' | 'failure' | 'unknown';
}

export interface MonitorInit {
  type: 'init';
  run: RunSnapshot;
  /** live: this editor drives or follows it; history: read from KV (polled while it runs). */
  source: 'live' | 'history';
  lines: OutputLine[];
  /** Per `phase/node`: output that came before what `lines` holds was cut (full log has it). */
  cut: string[];
  chef: ChefCell[];
  /** Average duration of earlier finished runs of the same event or command, from history. */
  averageMs?: number;
  /** What the page had saved (filters, selection): given back after a reload. */
  restored?: MonitorViewState;
  /** Trusted workspace: actions that start runs are offered. */
  trusted: boolean;
  /** The extension's translations (vscode.l10n.bundle): the page's strings are looked up in it. */
  l10n?: Record<string, string>;
}

export interface MonitorBatch {
  type: 'batch';
  run?: RunSnapshot;
  lines: OutputLine[];
  /** `phase/node` whose output starts over (a retry): the page drops what it holds of them first. */
  reset?: string[];
  chef?: ChefCell[];
  averageMs?: number;
}

export interface MonitorError {
  type: 'error';
  message: string;
}

export type ToPage = MonitorInit | MonitorBatch | MonitorError;

/** What the page keeps in its webview state (survives hide and reload). */
export interface MonitorViewState {
  id: string;
  /** Output of one node (and phase, or every phase), or all nodes merged. */
  node?: string;
  phase?: number;
  status?: NodeStatus | 'failed' | '';
  lineNumbers?: boolean;
  timestamps?: boolean;
  follow?: boolean;
}

export type MonitorAction =
  | { type: 'cancel' }
  | { type: 'retryFailed'; phase: number }
  | { type: 'rerun' }
  | { type: 'openLog'; phase: number; node: string }
  | { type: 'openChefReport'; phase: number; node: string }
  | { type: 'saveLog'; phase?: number; node?: string }
  | { type: 'copy'; text: string };

export type FromPage = { type: 'ready'; state?: MonitorViewState } | { type: 'frame' } | { type: 'state'; state: MonitorViewState } | { type: 'action'; action: MonitorAction };

export const outputKey = (phase: number, node: string) => `${phase}/${node}`;

const MAX_TEXT = 4 * 1024 * 1024;
const isPhase = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);

/** A view state as the page may send it, or undefined when it is not one (unknown fields are dropped). */
export function parseViewState(v: unknown): MonitorViewState | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const ok =
    isName(s.id) &&
    optional(s.node, isName) &&
    optional(s.phase, isPhase) &&
    optional(s.status, (x) => typeof x === 'string' && x.length <= 32) &&
    ['lineNumbers', 'timestamps', 'follow'].every((k) => optional(s[k], (x) => typeof x === 'boolean'));
  if (!ok) return undefined;
  const { id, node, phase, status, lineNumbers, timestamps, follow } = s as unknown as MonitorViewState;
  return { id, node, phase, status, lineNumbers, timestamps, follow };
}

function parseAction(v: unknown): MonitorAction | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  switch (a.type) {
    case 'cancel':
    case 'rerun':
      return { type: a.type };
    case 'retryFailed':
      return isPhase(a.phase) ? { type: 'retryFailed', phase: a.phase } : undefined;
    case 'openLog':
    case 'openChefReport':
      return isPhase(a.phase) && isName(a.node) ? { type: a.type, phase: a.phase, node: a.node } : undefined;
    case 'saveLog':
      return optional(a.phase, isPhase) && optional(a.node, isName) ? { type: 'saveLog', phase: a.phase as number | undefined, node: a.node as string | undefined } : undefined;
    case 'copy':
      return typeof a.text === 'string' && a.text.length <= MAX_TEXT ? { type: 'copy', text: a.text } : undefined;
    default:
      return undefined;
  }
}

/**
 * What the page posted, checked: the page shows untrusted output, so whatever
 * it sends is read as untrusted too. Undefined for anything that is not one of
 * the messages above, with the right field types.
 */
export function parseFromPage(v: unknown): FromPage | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case 'ready': {
      if (m.state === undefined) return { type: 'ready' };
      const state = parseViewState(m.state);
      return state ? { type: 'ready', state } : { type: 'ready' };
    }
    case 'frame':
      return { type: 'frame' };
    case 'state': {
      const state = parseViewState(m.state);
      return state ? { type: 'state', state } : undefined;
    }
    case 'action': {
      const action = parseAction(m.action);
      return action ? { type: 'action', action } : undefined;
    }
    default:
      return undefined;
  }
}
