/**
 * Reading metronome's two queues as its agents write them. Pure: a queue that
 * is not what metronome writes yields what can be used, and the problem in
 * one sentence, rather than a failure that would stop the following.
 */
import { EVENT_QUEUE_KEY, PROGRESS_QUEUE_KEY } from './metronomeLayout';

/** One EventTask of metronome's progress queue. */
export interface QueuedPhase {
  id: string;
  no: number;
  pattern: string;
  task: string;
  service: string;
  tag: string;
  skippable?: boolean;
}

export interface QueuedEvent {
  id: string;
  name: string;
}

const describe = (v: unknown) => (Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

/** metronome writes lowercase names; older builds wrote Go's default field names. */
function field(o: Record<string, unknown>, lower: string, upper: string): unknown {
  return lower in o ? o[lower] : o[upper];
}

function parseJsonArray(raw: string | undefined, key: string, hint = ''): { items: unknown[]; problem?: string } {
  if (raw === undefined || raw.trim() === '') return { items: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    return { items: [], problem: `${key} is not valid JSON (${(e as Error).message})${hint}.` };
  }
  // Go reads null into an empty slice, and so do we.
  if (parsed === null) return { items: [] };
  if (!Array.isArray(parsed)) return { items: [], problem: `${key} holds ${describe(parsed)}, not the JSON array metronome writes.` };
  return { items: parsed };
}

export function parseProgressQueue(raw: string | undefined): { phases: QueuedPhase[]; problem?: string } {
  // metronome formats each task with %s, unescaped: a quote in a name breaks the whole queue.
  const { items, problem } = parseJsonArray(raw, PROGRESS_QUEUE_KEY, ': metronome writes task, service and tag names unescaped, so a quote or backslash in one breaks it');
  const phases: QueuedPhase[] = [];
  for (const item of items) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
    const o = item as Record<string, unknown>;
    const id = field(o, 'id', 'ID');
    const no = field(o, 'no', 'No');
    if (typeof id !== 'string' || !id || typeof no !== 'number' || !Number.isInteger(no) || no < 0) continue;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    const skippable = field(o, 'skippable', 'Skippable');
    phases.push({
      id,
      no,
      pattern: text(field(o, 'pattern', 'Pattern')),
      task: text(field(o, 'task', 'Task')),
      service: text(field(o, 'service', 'Service')),
      tag: text(field(o, 'tag', 'Tag')),
      ...(typeof skippable === 'boolean' ? { skippable } : {}),
    });
  }
  const skipped = items.length - phases.length;
  return { phases, problem: problem ?? (skipped ? `${skipped} of ${items.length} entries in ${PROGRESS_QUEUE_KEY} are not metronome tasks (an object with an "id" and a whole "no"); they were ignored.` : undefined) };
}

export function parseEventQueue(raw: string | undefined): { events: QueuedEvent[]; problem?: string } {
  const { items, problem } = parseJsonArray(raw, EVENT_QUEUE_KEY);
  const events: QueuedEvent[] = [];
  for (const item of items) {
    if (!item || typeof item !== 'object') continue;
    const o = item as Record<string, unknown>;
    if (typeof o.ID === 'string' && o.ID) events.push({ id: o.ID, name: typeof o.Name === 'string' ? o.Name : '' });
  }
  const skipped = items.length - events.length;
  return { events, problem: problem ?? (skipped ? `${skipped} of ${items.length} entries in ${EVENT_QUEUE_KEY} are not Consul user events (no "ID"); they were ignored.` : undefined) };
}
