/**
 * One node's part in a job: turns the keys it writes, in whatever batches
 * they are read, into ack → output in order, each chunk once → exit, and
 * finally one result. After the result, nothing more about it is reported.
 */
import { parseExitCode } from './rexecKeys';
import type { NodeExecResult, NodeExecStatus, RemoteExecEvents } from './rexecSpec';

export class NodeProgress {
  ackedAt: number | undefined;
  /** Any key it writes proves the agent alive; heartbeats exist for this. */
  lastSeenAt = 0;
  /** Its exit is known to exist and is being read: no deadline should overtake it. */
  exitListed = false;
  result: NodeExecResult | undefined;
  private nextSeq = 0;
  private readonly held = new Map<number, Buffer>();

  constructor(
    readonly node: string,
    private readonly events: RemoteExecEvents,
  ) {}

  get final(): boolean {
    return this.result !== undefined;
  }

  /** A key of this node was listed. An agent writes its ack first, so any key implies one. */
  seen(now: number): void {
    if (this.final) return;
    this.lastSeenAt = now;
    if (this.ackedAt === undefined) {
      this.ackedAt = now;
      this.events.ack(this.node);
    }
  }

  /** Chunk `seq`'s value; empty values are heartbeats and take a number too. */
  output(seq: number, chunk: Buffer): void {
    if (this.final || seq < this.nextSeq || this.held.has(seq)) return;
    this.held.set(seq, chunk);
    for (let next = this.held.get(this.nextSeq); next !== undefined; next = this.held.get(this.nextSeq)) {
      this.held.delete(this.nextSeq);
      this.nextSeq++;
      if (next.length) this.events.output(this.node, next);
    }
  }

  exit(raw: Buffer | undefined, now: number): void {
    if (this.final) return;
    // Chunks held behind one that never arrived are still delivered, in order.
    const gap = this.held.size > 0;
    for (const seq of [...this.held.keys()].sort((a, b) => a - b)) {
      const chunk = this.held.get(seq);
      if (chunk?.length) this.events.output(this.node, chunk);
    }
    this.held.clear();
    const missing = gap ? ' Some output chunks were missing.' : '';
    const parsed = parseExitCode(raw);
    if (!parsed.ok) {
      this.end('error', now, undefined, `Its exit status is unreadable: ${parsed.problem}.${missing}`);
      return;
    }
    this.events.exit(this.node, parsed.code);
    const signalled = parsed.code === -1 ? 'The command was ended by a signal.' : '';
    this.end(parsed.code === 0 ? 'success' : 'error', now, parsed.code, `${signalled}${missing}`.trim() || undefined);
  }

  end(status: NodeExecStatus, now: number, exitCode?: number, note?: string): void {
    if (this.final) return;
    this.held.clear();
    this.result = {
      node: this.node,
      status,
      ...(exitCode !== undefined ? { exitCode } : {}),
      ...(this.ackedAt !== undefined ? { ackedAt: this.ackedAt } : {}),
      endedAt: now,
      ...(note ? { note } : {}),
    };
  }
}
