/**
 * Runs one phase's operations on its nodes, in order, filling the run model.
 * Shared by the exec engine (ordered phases) and ad-hoc commands. A node that
 * fails an operation runs none of the later ones, as under metronome.
 */
import { StringDecoder } from 'node:string_decoder';
import type { ConsulConnection } from '../consul/client';
import { call } from '../consul/client';
import { fireEvent } from '../consul/events';
import { RemoteExecJob } from '../exec/remoteExecJob';
import { RemoteExecUnavailableError } from '../exec/errors';
import type { Operation } from '../plans/model';
import { expandTemplate } from '../plans/template';
import type { NodeStatus, Run } from './model';
import { nodeCommand, type OperationSettings } from './operationCommands';
import { unsupportedOperationKeys } from './unsupportedOperations';

export { DEFAULT_OPERATION_SETTINGS, type OperationSettings } from './operationCommands';

export interface PhaseWork {
  no: number;
  targets: string[];
  /** Filters for the `_rexec` event; targets were resolved with the same rule. */
  filters: { node?: string; service?: string; tag?: string };
  operations: Operation[];
  /** Where `execute: file` is read from. */
  patternFolder?: string;
  vars: Record<string, string>;
  timeoutMs: number;
  settings: OperationSettings;
  signal?: AbortSignal;
  ackGraceMs?: number;
}

const NOWHERE = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** A plain shell command as an operation, for ad-hoc runs (it has no place in a task.yml). */
export function shellOperation(command: string): Operation {
  return { type: 'execute', script: command, arguments: [], output: true, keyRange: NOWHERE, valueRange: NOWHERE };
}

/** Runs the phase; returns the nodes' final statuses. The caller ends the phase. */
export async function runPhase(connection: ConsulConnection, run: Run, work: PhaseWork): Promise<Map<string, NodeStatus>> {
  const final = new Map<string, NodeStatus>();
  const alive = new Set(work.targets);
  const deadline = Date.now() + work.timeoutMs;
  const note = new Map<string, string>();
  const exitCodes = new Map<string, number>();
  const say = (node: string, text: string) => run.appendOutput(work.no, node, text);
  /** An operation done for all nodes failed: each says why, ends in error, and runs nothing more. */
  const failAll = (line: string, why: string) => {
    for (const node of alive) {
      say(node, line);
      final.set(node, 'error');
      note.set(node, why);
    }
    alive.clear();
  };

  // A phase that would drop what an operation asks for runs none of it.
  const unsupported = unsupportedOperationKeys(work.operations);
  if (unsupported.length) {
    failAll(unsupported.map((u) => `[${u.op.type}] ${u.message}\n`).join(''), unsupported[0].message);
  }

  for (const op of work.operations) {
    if (!alive.size || work.signal?.aborted) break;
    const x = (s: string) => expandTemplate(s, work.vars).text;
    if (op.type === 'echo') {
      for (const node of alive) say(node, `${x(op.message)}\n`);
      continue;
    }
    if (op.type === 'consul-kvs') {
      const key = x(op.key ?? '');
      try {
        if (op.action === 'put') await call(connection, `/v1/kv/${key}`, () => connection.client.kv.set(key, x(op.value ?? '')), 'PUT');
        else if (op.action === 'delete') await call(connection, `/v1/kv/${key}`, () => connection.client.kv.del(key), 'DELETE');
        else {
          const item = (await call(connection, `/v1/kv/${key}`, () => connection.client.kv.get(key))) as { Value?: string } | undefined;
          if (op.name) work.vars[op.name] = item?.Value ?? '';
        }
        for (const node of alive) say(node, `[consul-kvs] ${op.action} ${key}\n`);
      } catch (e) {
        failAll(`[consul-kvs] ${op.action} ${key} failed: ${(e as Error).message}\n`, `consul-kvs ${op.action} ${key} failed`);
      }
      continue;
    }
    if (op.type === 'consul-event') {
      try {
        const ev = await fireEvent(connection, { name: x(op.name ?? ''), service: op.filter.service ? x(op.filter.service) : undefined, tag: op.filter.tag ? x(op.filter.tag) : undefined });
        for (const node of alive) say(node, `[consul-event] fired ${ev.name} (${ev.id})\n`);
      } catch (e) {
        failAll(`[consul-event] failed: ${(e as Error).message}\n`, 'consul-event failed');
      }
      continue;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      for (const node of alive) final.set(node, 'timeout');
      alive.clear();
      break;
    }
    let sent;
    try {
      sent = nodeCommand(op, work);
    } catch (e) {
      // e.g. the execute file is missing from the pattern: nothing was sent.
      failAll(`[${op.type}] ${(e as Error).message}\n`, (e as Error).message);
      break;
    }
    if (!sent) continue;
    const { keepOutput, ...spec } = sent;
    if (!keepOutput) for (const node of alive) say(node, '[execute] output not kept (output: false)\n');
    const decoders = new Map<string, StringDecoder>();
    const decode = (node: string, chunk: Buffer) => {
      let d = decoders.get(node);
      if (!d) decoders.set(node, (d = new StringDecoder('utf8')));
      return d.write(chunk);
    };
    const job = new RemoteExecJob(
      connection,
      { ...spec, ...work.filters, targets: [...alive], timeoutMs: remaining, ackGraceMs: work.ackGraceMs, signal: work.signal },
      {
        ack: (node) => run.nodeStarted(work.no, node),
        // The node discards it already; whatever still comes is dropped unread.
        output: (node, chunk) => keepOutput && say(node, decode(node, chunk)),
      },
    );
    let results;
    try {
      results = await job.run();
    } catch (e) {
      if (!(e instanceof RemoteExecUnavailableError)) throw e;
      results = e.results;
      for (const node of alive) note.set(node, e.message);
    }
    for (const [node, d] of decoders) say(node, d.end());
    for (const r of results) {
      if (r.exitCode !== undefined) exitCodes.set(r.node, r.exitCode);
      if (r.note && !note.has(r.node)) note.set(r.node, r.note);
      if (r.status !== 'success') {
        final.set(r.node, r.status satisfies NodeStatus);
        alive.delete(r.node);
      }
    }
  }
  for (const node of work.targets) {
    const status = final.get(node) ?? (work.signal?.aborted ? 'cancelled' : 'success');
    final.set(node, status);
    run.nodeEnded(work.no, node, status, exitCodes.get(node), note.get(node));
  }
  return final;
}
