/**
 * A stand-in for metronome's agents (github.com/cloudconductor/metronome, Go),
 * playing their side in Consul KV step by step, so the metronome engine can be
 * tested against a real Consul without real agents. Plain Node, no vscode.
 *
 * It follows metronome's published source, point by point; each point names
 * where it comes from. Read for this: scheduler/run.go at commit 920eb3e
 * (TASK_TIMEOUT_WITHOUT_START = 120, TASK_TIMEOUT = 3600, the newest of its
 * versions), scheduler/event_task.go, scheduler/result.go (the version whose
 * NodeTaskResult keeps Log out of the record), scheduler/push.go,
 * scheduler/scheduler.go, scheduler/event.go, queue/queue.go,
 * config/config.go, util/consul.go, task/task.go; and, for the lock metronome
 * takes, hashicorp/consul api/lock.go (LockKey, Lock, Unlock).
 *
 * Each public step is one thing an agent does in its 1 s polling loop
 * (scheduler/run.go Run/polling), and each refuses what metronome would not do
 * at that point (an agent that is not the queue head's target, a dispatch
 * while the progress queue is not empty, a finish while nodes still run), so
 * a test cannot make it write what metronome never writes. Time is the
 * test's: the timeouts metronome waits for are a step (`expireHead`).
 * What it leaves out: running the operations themselves, and metronome's
 * per-node task timeout (task/task.go Run: after a task's `timeout`, default
 * 1800 s, the node's result is simply "error").
 */
import { consulJson, consulRequest } from './cluster';

// metronome: scheduler/scheduler.go (constants)
export const EVENT_QUEUE_KEY = 'metronome/event_queue';
export const PROGRESS_QUEUE_KEY = 'metronome/progress_task_queue';
/** Under the event queue's prefix: every poll of every agent takes and releases it. */
export const LOCK_KEY = 'metronome/event_queue/lock';
// metronome: scheduler/result.go EVENT_RESULT_KEY
export const RESULTS_PREFIX = 'metronome/results';

// metronome: scheduler/run.go TASK_TIMEOUT_WITHOUT_START: the queue head must get a TaskResult within 120 s...
export const TASK_TIMEOUT_WITHOUT_START_S = 120;
// metronome: scheduler/run.go TASK_TIMEOUT: ...and leave the head within 3600 s of starting.
export const TASK_TIMEOUT_S = 3600;
// metronome: scheduler/scheduler.go taskDefault: a task's own timeout on a node (task/task.go Run), 1800 s unless task.yml says otherwise.
export const TASK_DEFAULT_TIMEOUT_S = 1800;
// metronome: scheduler/event.go Event.UnmarshalJSON: an event's priority is 50 unless given.
export const DEFAULT_PRIORITY = 50;

// consul: api/lock.go DefaultLockSessionName, DefaultLockSessionTTL, LockFlagValue (0x2ddccbc058a50c18).
const LOCK_SESSION_NAME = 'Consul API Lock';
const LOCK_SESSION_TTL = '15s';
const LOCK_FLAG_VALUE = '3304740253564472344';

/** metronome's status words (scheduler/run.go, scheduler/event_task.go). */
export type MetronomeStatus = 'inprogress' | 'success' | 'error' | 'timeout' | 'skip';

/** A Consul user event, as `consul watch -type=event` hands it to `metronome push`. */
export interface UserEvent {
  ID: string;
  Name: string;
  /** base64, or null when there is none. */
  Payload?: string | null;
  NodeFilter?: string;
  ServiceFilter?: string;
  TagFilter?: string;
  Version?: number;
  LTime?: number;
}

/** One task.yml's events, as an agent loaded it (scheduler/scheduler.go load: the pattern is the task.yml's folder name). */
export interface PatternSchedule {
  pattern: string;
  events: Record<string, { priority?: number; task?: string; ordered_tasks?: Array<{ service?: string; tag?: string; task: string; skippable?: boolean }> }>;
}

/** metronome: scheduler/event_task.go EventTask, one entry of the progress queue. */
export interface EventTask {
  pattern: string;
  id: string;
  no: number;
  service: string;
  tag: string;
  task: string;
  skippable: boolean;
}

export interface FakeMetronomeOptions {
  /** The agents' -token (config/config.go): push drops events whose payload differs. */
  token?: string;
  /** The agents' -skippable (config/config.go: default true). */
  skippable?: boolean;
  /**
   * Time between NodeTaskResult.Save's two writes, the record and then /log
   * (scheduler/result.go). Each is its own request to the agent, forwarded to
   * the leader and committed; on a loaded cluster tens of ms. Default 0.
   */
  logWriteGapMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Go's encoding/json, as far as metronome's values need it.

/** A string as Go's json.Marshal writes it: HTML characters and U+2028/2029 escaped. */
function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value decoded into interface{} and marshalled again: maps come out with their keys sorted. */
function goGeneric(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goGeneric).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${goString(k)}:${goGeneric(o[k])}`).join(',')}}`;
}

/**
 * What json.Marshal makes of a type's own MarshalJSON text: it must be valid
 * JSON (else json.Marshal fails with a MarshalerError), and it is compacted,
 * with HTML characters inside strings escaped.
 */
function goCompact(raw: string, type: string): string {
  try {
    JSON.parse(raw);
  } catch (e) {
    throw new MarshalerError(`json: error calling MarshalJSON for type ${type}: ${(e as Error).message}`);
  }
  let out = '';
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === '\\') {
        out += c + raw[++i];
        continue;
      }
      if (c === '"') inString = false;
      out += /[<>&\u2028\u2029]/.test(c) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (!/\s/.test(c)) out += c;
  }
  return out;
}

export class MarshalerError extends Error {}

// metronome: scheduler/event_task.go EventTask.MarshalJSON: fields formatted with %s, unescaped, and
// `skippable` always the writing agent's -skippable flag, whatever the task said.
function marshalEventTask(et: EventTask, skippable: boolean): string {
  return goCompact(
    `{ "pattern": "${et.pattern}","id": "${et.id}","no": ${et.no},"service": "${et.service}","tag": "${et.tag}","task": "${et.task}","skippable": ${skippable} }`,
    'scheduler.EventTask',
  );
}

// consul: api/event.go UserEvent (field order; the optional fields are omitempty).
function marshalUserEvent(e: UserEvent): string {
  const parts = [`"ID":${goString(e.ID)}`, `"Name":${goString(e.Name)}`];
  if (e.Payload) parts.push(`"Payload":${goString(e.Payload)}`);
  if (e.NodeFilter) parts.push(`"NodeFilter":${goString(e.NodeFilter)}`);
  if (e.ServiceFilter) parts.push(`"ServiceFilter":${goString(e.ServiceFilter)}`);
  if (e.TagFilter) parts.push(`"TagFilter":${goString(e.TagFilter)}`);
  if (e.Version) parts.push(`"Version":${e.Version}`);
  if (e.LTime) parts.push(`"LTime":${e.LTime}`);
  return `{${parts.join(',')}}`;
}

/** Go's time.Format(time.RFC3339) of time.Now(): local time, whole seconds, "Z" for UTC. */
export function goRfc3339(d = new Date()): string {
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 19);
  if (off === 0) return `${local}Z`;
  const a = Math.abs(off);
  return `${local}${off > 0 ? '+' : '-'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// metronome: scheduler/result.go EventResult/TaskResult/NodeTaskResult MarshalJSON: each field formatted with %s,
// StartedAt/FinishedAt (RFC3339) only when set; NodeTaskResult has no Log field (`json:"-"`): its log is only in /log.
interface Times {
  StartedAt?: string;
  FinishedAt?: string;
}
export interface EventResult extends Times {
  ID: string;
  Name: string;
  Status: MetronomeStatus;
}
export interface TaskResult extends Times {
  EventID: string;
  No: number;
  Name: string;
  Status: MetronomeStatus;
}
export interface NodeTaskResult extends Times {
  EventID: string;
  No: number;
  Node: string;
  Status: MetronomeStatus;
}

function marshalResult(fields: Array<[string, string | number]>, times: Times, type: string): string {
  const cols = fields.map(([k, v]) => (typeof v === 'number' ? `"${k}": ${v}` : `"${k}": "${v}"`));
  if (times.StartedAt) cols.push(`"StartedAt": "${times.StartedAt}"`);
  if (times.FinishedAt) cols.push(`"FinishedAt": "${times.FinishedAt}"`);
  return goCompact(`{ ${cols.join(',')} }`, type);
}

// ---------------------------------------------------------------------------

interface KvEntry {
  value: string;
  modifyIndex: number;
}

export class FakeMetronome {
  private readonly token: string;
  private readonly skippable: boolean;
  private readonly logWriteGapMs: number;
  /** The task each agent (by hostname) is running: runTask holds it between WriteStartLog and WriteFinishLog. */
  private readonly running = new Map<string, EventTask>();

  constructor(
    private readonly addr: string,
    opts: FakeMetronomeOptions = {},
  ) {
    this.token = opts.token ?? '';
    this.skippable = opts.skippable ?? true;
    this.logWriteGapMs = opts.logWriteGapMs ?? 0;
  }

  // --- plain KV ---------------------------------------------------------------

  private async entry(key: string): Promise<KvEntry | undefined> {
    const res = await consulRequest(this.addr, `/v1/kv/${key}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${key} → ${res.status} ${res.text}`);
    const [e] = JSON.parse(res.text) as Array<{ Value: string | null; ModifyIndex: number }>;
    return { value: e.Value ? Buffer.from(e.Value, 'base64').toString('utf8') : '', modifyIndex: e.ModifyIndex };
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.entry(key))?.value;
  }

  async put(key: string, value: string): Promise<void> {
    await consulJson(this.addr, `/v1/kv/${key}`, { method: 'PUT', body: value });
  }

  async del(key: string, recurse = false): Promise<void> {
    await consulJson(this.addr, `/v1/kv/${key}${recurse ? '?recurse' : ''}`, { method: 'DELETE' });
  }

  // --- the lock (consul api/lock.go, taken by scheduler/run.go polling and scheduler/push.go Push) --

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    // consul: api/lock.go Lock: a session of its own ("Consul API Lock", TTL 15s), renewed while held.
    const { ID: session } = await consulJson<{ ID: string }>(this.addr, '/v1/session/create', { method: 'PUT', body: { Name: LOCK_SESSION_NAME, TTL: LOCK_SESSION_TTL } });
    try {
      // consul: api/lock.go Lock: a key with other flags is not a lock (ErrLockConflict); a held one is waited for.
      for (let attempt = 0; ; attempt++) {
        const res = await consulRequest(this.addr, `/v1/kv/${LOCK_KEY}`);
        const flags = /"Flags":(\d+)/.exec(res.text)?.[1];
        if (res.status === 200 && flags !== '0' && flags !== LOCK_FLAG_VALUE) throw new Error(`${LOCK_KEY} holds flags ${flags}: not a lock (ErrLockConflict)`);
        const ok = await consulJson<boolean>(this.addr, `/v1/kv/${LOCK_KEY}?acquire=${session}&flags=${LOCK_FLAG_VALUE}`, { method: 'PUT' });
        if (ok) break;
        if (attempt >= 50) throw new Error(`${LOCK_KEY} stayed held by another session`);
        await sleep(100);
      }
      return await fn();
    } finally {
      // consul: api/lock.go Unlock: release with the same flags; ending the renewal destroys the session.
      await consulJson(this.addr, `/v1/kv/${LOCK_KEY}?release=${session}&flags=${LOCK_FLAG_VALUE}`, { method: 'PUT' });
      await consulJson(this.addr, `/v1/session/destroy/${session}`, { method: 'PUT' });
    }
  }

  // --- metronome: queue/queue.go --------------------------------------------

  /** Queue.EnQueue: read, append, compare-and-set; on a lost race wait 1–2 s and retry. */
  private async enQueue(key: string, item: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await this.entry(key);
      const items = e && e.value.length > 0 ? (JSON.parse(e.value) as unknown[] | null) ?? [] : [];
      // The items already there were decoded into interface{}: marshalled again as maps, keys sorted.
      const value = `[${[...items.map(goGeneric), item].join(',')}]`;
      if (await this.cas(key, value, e?.modifyIndex ?? 0)) return;
      await sleep(1000 + Math.random() * 1000);
    }
    throw new Error(`${key}: lost the compare-and-set race five times`);
  }

  /** Queue.deQueue: the head comes off with a compare-and-set; a missing or empty queue yields nothing. */
  private async deQueue(key: string): Promise<unknown | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await this.entry(key);
      if (!e) return undefined;
      const items = e.value.length > 0 ? (JSON.parse(e.value) as unknown[] | null) ?? [] : [];
      if (!items.length) return undefined;
      if (await this.cas(key, `[${items.slice(1).map(goGeneric).join(',')}]`, e.modifyIndex)) return items[0];
      await sleep(1000 + Math.random() * 1000);
    }
    throw new Error(`${key}: lost the compare-and-set race five times`);
  }

  private async cas(key: string, value: string, index: number): Promise<boolean> {
    return consulJson<boolean>(this.addr, `/v1/kv/${key}?cas=${index}`, { method: 'PUT', body: value });
  }

  /** Queue.Items into []EventTask, through EventTask.UnmarshalJSON (scheduler/event_task.go). */
  async progressQueue(): Promise<EventTask[]> {
    const raw = await this.get(PROGRESS_QUEUE_KEY);
    if (!raw) return [];
    const items = (JSON.parse(raw) as Array<Record<string, unknown>> | null) ?? [];
    return items.map((o) => ({
      pattern: String(o.pattern ?? ''),
      id: String(o.id ?? ''),
      no: Number(o.no ?? 0),
      service: String(o.service ?? ''),
      tag: String(o.tag ?? ''),
      task: String(o.task ?? ''),
      // metronome: scheduler/event_task.go UnmarshalJSON: this agent's -skippable unless the entry says otherwise.
      skippable: typeof o.skippable === 'boolean' ? o.skippable : this.skippable,
    }));
  }

  /** Queue.Items into []api.UserEvent. */
  async eventQueue(): Promise<UserEvent[]> {
    const raw = await this.get(EVENT_QUEUE_KEY);
    return raw ? ((JSON.parse(raw) as UserEvent[] | null) ?? []) : [];
  }

  // --- metronome: scheduler/push.go Push --------------------------------------

  /** The event as the agent's `consul watch -type=event` handler gets it (from the agent's event buffer). */
  async consulEvent(id: string): Promise<UserEvent> {
    // Delivery to the agent's buffer (by gossip) takes a few ms after the fire: wait for it, up to
    // 15 s (a loaded machine).
    for (let attempt = 0; attempt < 300; attempt++) {
      const e = (await consulJson<UserEvent[]>(this.addr, '/v1/event/list')).find((x) => x.ID === id);
      if (e) return e;
      await sleep(50);
    }
    throw new Error(`event ${id} did not reach the agent's event buffer in 15 s`);
  }

  /** `metronome push`: each event enqueued once; returns the IDs it enqueued. */
  async push(...events: UserEvent[]): Promise<string[]> {
    return this.withLock(async () => {
      const pushed: string[] = [];
      for (const re of events) {
        // metronome: scheduler/push.go pushSingleEvent: with -token set, an event whose payload is not the token is dropped.
        const payload = re.Payload ? Buffer.from(re.Payload, 'base64').toString('utf8') : '';
        if (this.token !== '' && payload !== this.token) continue;
        // metronome: scheduler/push.go pushSingleEvent: an event already in the queue is not queued again
        // (only the queue is checked: an event already run is dropped later, by dispatchEvent).
        if ((await this.eventQueue()).some((se) => se.ID === re.ID)) continue;
        await this.enQueue(EVENT_QUEUE_KEY, marshalUserEvent(re));
        pushed.push(re.ID);
      }
      return pushed;
    });
  }

  // --- metronome: scheduler/run.go polling ------------------------------------

  /**
   * polling with an empty progress queue → dispatchEvent: the event queue's
   * head comes off; unless it already has an EventResult, its tasks over all
   * patterns go into the progress queue, then its EventResult "inprogress".
   * Returns the event's ID, or undefined when there was nothing to dispatch.
   */
  async dispatchEvent(schedules: readonly PatternSchedule[]): Promise<string | undefined> {
    return this.withLock(async () => {
      // metronome: scheduler/run.go polling: only an agent that finds the progress queue empty dispatches,
      // so the queue never holds more than one event.
      const queued = await this.progressQueue();
      if (queued.length) throw new Error(`metronome dispatches only when ${PROGRESS_QUEUE_KEY} is empty; it holds ${queued.length} task(s)`);
      const ev = (await this.deQueue(EVENT_QUEUE_KEY)) as UserEvent | undefined;
      if (!ev) return undefined;
      // metronome: scheduler/run.go dispatchEvent: an event that already has an EventResult is ignored.
      if (await this.get(`${RESULTS_PREFIX}/${ev.ID}`)) return undefined;
      // metronome: scheduler/scheduler.go sortedEvents: the event's definitions over all patterns, by
      // priority (scheduler/event.go Events.Less); sort.Sort is not stable and patterns come from a Go map,
      // so equal priorities run in no fixed order. Here: pattern order.
      const defs = schedules
        .map((s, i) => ({ s, i, e: s.events[ev.Name] }))
        .filter((x) => x.e)
        .sort((a, b) => (a.e.priority ?? DEFAULT_PRIORITY) - (b.e.priority ?? DEFAULT_PRIORITY) || a.i - b.i);
      let c = 0;
      for (const { s, e } of defs) {
        // metronome: scheduler/run.go dispatchEvent: `task:` is one task on every node; `ordered_tasks:` one
        // entry each; every entry is its own enqueue (a compare-and-set write), numbered from 0 across patterns.
        const tasks = e.task ? [{ task: e.task }] : e.ordered_tasks ?? [];
        for (const t of tasks) {
          const et: EventTask = { pattern: s.pattern, id: ev.ID, no: c, service: t.service ?? '', tag: t.tag ?? '', task: t.task, skippable: this.skippable };
          try {
            await this.enQueue(PROGRESS_QUEUE_KEY, marshalEventTask(et, this.skippable));
          } catch (err) {
            // metronome: scheduler/run.go dispatchEvent ignores EnQueue's error: a task whose name breaks
            // EventTask.MarshalJSON (a quote, a bad backslash) is left out, and its number is skipped.
            if (!(err instanceof MarshalerError)) throw err;
          }
          c += 1;
        }
      }
      // metronome: scheduler/run.go dispatchEvent: the EventResult is written last (also when no pattern defines the event).
      await this.saveEventResult({ ID: ev.ID, Name: ev.Name, Status: 'inprogress', StartedAt: goRfc3339() });
      return ev.ID;
    });
  }

  /**
   * polling → runTask, first half: the agent on `node` (its hostname) finds
   * the queue head runnable, releases the lock and writes its start
   * (EventTask.WriteStartLog). Refuses what Runnable refuses.
   */
  async startTask(node: string): Promise<EventTask> {
    const head = await this.withLock(async () => {
      const [h] = await this.progressQueue();
      if (!h) throw new Error(`${PROGRESS_QUEUE_KEY} is empty: the agent on "${node}" would dispatch, not run`);
      // metronome: scheduler/event_task.go Runnable → util/consul.go HasCatalogRecord: the agent's hostname must
      // be a node in the Consul catalog with the head's service (by service ID) and tag; otherwise it never runs it.
      const why = await this.notRunnable(h, node);
      if (why) throw new Error(why);
      return h;
      // metronome: scheduler/run.go polling: runTask runs after Unlock, in parallel on every target node.
    });
    await this.writeStartLog(head, node);
    this.running.set(node, head);
    return head;
  }

  /** runTask, second half: the task ended on `node` (EventTask.WriteFinishLog). runTask knows only success and error. */
  async finishNodeTask(node: string, status: 'success' | 'error', log: string): Promise<void> {
    const task = this.running.get(node);
    if (!task) throw new Error(`the agent on "${node}" is not running a task`);
    this.running.delete(node);
    await this.writeFinishLog(task, node, status, log);
  }

  /** runTask, whole. */
  async runTask(node: string, status: 'success' | 'error', log: string): Promise<EventTask> {
    const t = await this.startTask(node);
    await this.finishNodeTask(node, status, log);
    return t;
  }

  /**
   * polling → IsFinished → finishTask: when every target node finished the
   * head (or none can run it and it is skippable), one agent ends it.
   * Returns the TaskResult's status. Refuses while IsFinished is false.
   */
  async finishTask(): Promise<MetronomeStatus> {
    return this.withLock(async () => {
      const [head] = await this.progressQueue();
      if (!head) throw new Error(`${PROGRESS_QUEUE_KEY} is empty: there is no task to finish`);
      const waiting = await this.unfinished(head);
      if (waiting) throw new Error(`metronome would not finish task ${head.no} (${head.task}) yet: ${waiting}`);
      return this.finish(head);
    });
  }

  /**
   * The head timed out (scheduler/run.go taskTimeout): no TaskResult within
   * TASK_TIMEOUT_WITHOUT_START, or still the head TASK_TIMEOUT after it
   * started. IsFinished then answers true, and finishTask counts what it has.
   */
  async expireHead(): Promise<MetronomeStatus> {
    return this.withLock(async () => {
      const [head] = await this.progressQueue();
      if (!head) throw new Error(`${PROGRESS_QUEUE_KEY} is empty: there is no task to time out`);
      return this.finish(head);
    });
  }

  // --- metronome: scheduler/event_task.go --------------------------------------

  /** Runnable(node), as a reason when false. */
  private async notRunnable(et: EventTask, node: string): Promise<string | undefined> {
    if (!(await this.hasCatalogRecord(node, et.service, et.tag))) {
      return `the agent on "${node}" does not run task ${et.no} (${et.task}): "${node}" is not a node in the Consul catalog${et.service ? ` with service "${et.service}"${et.tag ? ` tagged "${et.tag}"` : ''}` : ''} (metronome names an agent by its hostname)`;
    }
    // metronome: scheduler/event_task.go Runnable: a node that already finished this task (success or error) does not run it again.
    const r = await this.nodeTaskResult(et.id, et.no, node);
    if (r && (r.Status === 'success' || r.Status === 'error')) return `"${node}" already finished task ${et.no} (${et.task})`;
    return undefined;
  }

  // metronome: util/consul.go HasCatalogRecord: Catalog().Node(node); any service when none is asked;
  // else the node's Services map (keyed by service ID) must hold it, and the tag must be among its tags.
  private async hasCatalogRecord(node: string, service: string, tag: string): Promise<boolean> {
    const res = await consulRequest(this.addr, `/v1/catalog/node/${encodeURIComponent(node)}`);
    if (res.status !== 200) return false;
    const c = JSON.parse(res.text) as { Services?: Record<string, { Tags?: string[] | null }> } | null;
    if (!c) return false;
    if (!service) return true;
    const s = c.Services?.[service];
    if (!s) return false;
    return !tag || (s.Tags ?? []).includes(tag);
  }

  /** IsFinished without a timeout, as a reason while false. */
  private async unfinished(et: EventTask): Promise<string | undefined> {
    const nodes = (await consulJson<Array<{ Node: string }>>(this.addr, '/v1/catalog/nodes')).map((n) => n.Node);
    // metronome: scheduler/event_task.go filterNodes: the catalog nodes that have a result for the task, or
    // match its service and tag (a result under a name that is no catalog node is not waited for).
    const targets: string[] = [];
    for (const n of nodes) {
      if ((await this.nodeTaskResult(et.id, et.no, n)) || (await this.hasCatalogRecord(n, et.service, et.tag))) targets.push(n);
    }
    // metronome: scheduler/event_task.go IsFinished: no target node → finished only when skippable (else it
    // waits for the timeout).
    if (!targets.length) return et.skippable ? undefined : `no node can run it and it is not skippable: it waits ${TASK_TIMEOUT_WITHOUT_START_S} s for its timeout`;
    const open: string[] = [];
    for (const n of targets) {
      const r = await this.nodeTaskResult(et.id, et.no, n);
      if (!r || (r.Status !== 'success' && r.Status !== 'error')) open.push(n);
    }
    return open.length ? `no finished result yet from ${open.map((n) => `"${n}"`).join(', ')}` : undefined;
  }

  /** metronome: scheduler/event_task.go WriteStartLog: the TaskResult when there is none yet, then the node's record (and its empty /log). */
  private async writeStartLog(et: EventTask, node: string): Promise<void> {
    if (!(await this.taskResult(et.id, et.no))) {
      await this.saveTaskResult({ EventID: et.id, No: et.no, Name: et.task, Status: 'inprogress', StartedAt: goRfc3339() });
    }
    await this.saveNodeTaskResult({ EventID: et.id, No: et.no, Node: node, Status: 'inprogress', StartedAt: goRfc3339() }, '');
  }

  /** metronome: scheduler/event_task.go WriteFinishLog: the node's record read back, status and finish time set, saved with the whole log. */
  private async writeFinishLog(et: EventTask, node: string, status: 'success' | 'error', log: string): Promise<void> {
    const r = await this.nodeTaskResult(et.id, et.no, node);
    if (!r) throw new Error(`no record for "${node}" in task ${et.no}: WriteFinishLog would dereference nil`);
    await this.saveNodeTaskResult({ ...r, Status: status, FinishedAt: goRfc3339() }, log);
  }

  // --- metronome: scheduler/run.go finishTask -----------------------------------

  private async finish(et: EventTask): Promise<MetronomeStatus> {
    // metronome: scheduler/event_task.go GetResult: the TaskResult, or a new one started now when no node wrote one.
    const result: TaskResult = (await this.taskResult(et.id, et.no)) ?? { EventID: et.id, No: et.no, Name: et.task, Status: 'inprogress', StartedAt: goRfc3339() };
    // metronome: scheduler/result.go GetNodeResults: every node record under the task (not the /log keys).
    // (It lists the prefix without a trailing slash, so task 1 would also meet tasks 10-19's keys; those
    // are not written while task 1 is the head, so the slash here changes nothing.)
    const nodeResults = await this.nodeResults(et.id, et.no);
    // metronome: scheduler/run.go finishTask: success; no node result at all → skip when skippable, else
    // timeout; any node error → error; a node still inprogress (the head timed out) → timeout.
    let status: MetronomeStatus = 'success';
    if (!nodeResults.length) status = et.skippable ? 'skip' : 'timeout';
    for (const nr of nodeResults) {
      if (nr.Status === 'error') {
        status = 'error';
        break;
      }
      if (nr.Status === 'inprogress') status = 'timeout';
    }
    // metronome: scheduler/run.go finishTask: on error or timeout the whole progress queue is deleted first,
    // so the event's later tasks never run.
    if (status === 'error' || status === 'timeout') await this.del(PROGRESS_QUEUE_KEY);
    // metronome: scheduler/run.go finishTask: then the TaskResult, then the dequeue (nothing left to dequeue after a clear)...
    await this.saveTaskResult({ ...result, Status: status, FinishedAt: goRfc3339() });
    await this.deQueue(PROGRESS_QUEUE_KEY);
    // ...and, once the queue is empty, the EventResult takes this last task's status.
    if (!(await this.progressQueue()).length) {
      const ev = await this.eventResult(et.id);
      if (!ev) throw new Error(`no EventResult for ${et.id}: finishTask would dereference nil`);
      await this.saveEventResult({ ...ev, Status: status, FinishedAt: goRfc3339() });
    }
    return status;
  }

  // --- metronome: scheduler/result.go -------------------------------------------

  private async saveEventResult(r: EventResult): Promise<void> {
    await this.put(`${RESULTS_PREFIX}/${r.ID}`, marshalResult([['ID', r.ID], ['Name', r.Name], ['Status', r.Status]], r, '*scheduler.EventResult'));
  }

  private async saveTaskResult(r: TaskResult): Promise<void> {
    await this.put(`${RESULTS_PREFIX}/${r.EventID}/${r.No}`, marshalResult([['EventID', r.EventID], ['No', r.No], ['Name', r.Name], ['Status', r.Status]], r, '*scheduler.TaskResult'));
  }

  /** NodeTaskResult.Save: the record, then the log under /log, two writes in that order. */
  private async saveNodeTaskResult(r: NodeTaskResult, log: string): Promise<void> {
    const key = `${RESULTS_PREFIX}/${r.EventID}/${r.No}/${r.Node}`;
    await this.put(key, marshalResult([['EventID', r.EventID], ['No', r.No], ['Node', r.Node], ['Status', r.Status]], r, '*scheduler.NodeTaskResult'));
    if (this.logWriteGapMs) await sleep(this.logWriteGapMs);
    await this.put(`${key}/log`, log);
  }

  /** getResult: a missing or empty value is no result. */
  private async result<T>(key: string): Promise<T | undefined> {
    const v = await this.get(key);
    return v ? (JSON.parse(v) as T) : undefined;
  }

  eventResult(id: string): Promise<EventResult | undefined> {
    return this.result<EventResult>(`${RESULTS_PREFIX}/${id}`);
  }

  taskResult(id: string, no: number): Promise<TaskResult | undefined> {
    return this.result<TaskResult>(`${RESULTS_PREFIX}/${id}/${no}`);
  }

  nodeTaskResult(id: string, no: number, node: string): Promise<NodeTaskResult | undefined> {
    return this.result<NodeTaskResult>(`${RESULTS_PREFIX}/${id}/${no}/${node}`);
  }

  private async nodeResults(id: string, no: number): Promise<NodeTaskResult[]> {
    const prefix = `${RESULTS_PREFIX}/${id}/${no}/`;
    const res = await consulRequest(this.addr, `/v1/kv/${prefix}?keys`);
    const keys = res.status === 200 ? (JSON.parse(res.text) as string[]) : [];
    const out: NodeTaskResult[] = [];
    for (const k of keys) {
      const node = k.slice(prefix.length);
      if (!node || node.endsWith('/log')) continue;
      const r = await this.nodeTaskResult(id, no, node);
      if (r) out.push(r);
    }
    return out;
  }
}
