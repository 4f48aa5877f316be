/**
 * One owner per machine among the editor windows: a lock file holding the
 * owner's PID, a token and a heartbeat, in a directory the adapter gives
 * (the extension's global storage, shared by every window of the profile).
 * The owner rewrites the heartbeat every interval; a lock whose PID is dead
 * or whose heartbeat is older than 3 intervals is stale, and the next window
 * to look takes over. Used by the watches and by Chef Reporting (one lease
 * per name). The owner can `announce()` news (a new token in `<name>.news`):
 * the other windows hear it at their next check (`onDidHearNews`).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Disposable, Emitter } from './emitter';

export type LeaseState = { kind: 'owner' } | { kind: 'other'; pid: number } | { kind: 'stopped' };

export interface WindowLeaseOptions {
  /** The directory of the lock file (created when missing). */
  dir: string;
  /** Which lease: the lock file is `<name>.lock`. */
  name: string;
  /** Heartbeat and poll interval (ms, default 2000). */
  intervalMs?: number;
  /** This window's PID (tests). */
  pid?: number;
  /** Whether the other windows listen for the owner's news (`announce()`); off: they never read the news file. */
  news?: boolean;
  now?: () => number;
}

interface LockContent {
  pid: number;
  token: string;
  heartbeat: number;
}

/** Whether a process with that PID exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class WindowLease implements Disposable {
  private readonly emitter = new Emitter<LeaseState>();
  readonly onDidChange = this.emitter.event;
  private readonly newsEmitter = new Emitter<void>();
  /** The owner announced news (`announce()`): heard by the other windows at their next check. */
  readonly onDidHearNews = this.newsEmitter.event;
  private readonly newsFile: string;
  /** The news last seen ('' none yet); taken when this window becomes one of the others, so older news is not heard. */
  private newsSeen: string | undefined;
  private stateValue: LeaseState = { kind: 'stopped' };
  private readonly token = randomUUID();
  private readonly file: string;
  private readonly intervalMs: number;
  private readonly pid: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WindowLeaseOptions) {
    if (!/^[\w.-]+$/.test(options.name)) throw new Error(`A lease name is letters, digits, ".", "_" or "-", not "${options.name}".`);
    this.file = path.join(options.dir, `${options.name}.lock`);
    this.newsFile = path.join(options.dir, `${options.name}.news`);
    this.intervalMs = options.intervalMs ?? 2000;
    this.pid = options.pid ?? process.pid;
  }

  get state(): LeaseState {
    return this.stateValue;
  }

  get isOwner(): boolean {
    return this.stateValue.kind === 'owner';
  }

  /** Whether start() was called (and dispose() not yet). */
  get started(): boolean {
    return this.timer !== undefined;
  }

  get lockFile(): string {
    return this.file;
  }

  /** Takes the lease when free or stale, then keeps checking every interval. */
  start(): LeaseState {
    if (this.timer) return this.stateValue;
    try {
      fs.mkdirSync(this.options.dir, { recursive: true });
    } catch {
      /* check() says so */
    }
    // Started before the first check: its listeners (which run inside it) already see `started`.
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref?.();
    this.check();
    return this.stateValue;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private read(): LockContent | undefined {
    try {
      const c = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<LockContent>;
      if (typeof c.pid === 'number' && typeof c.token === 'string' && typeof c.heartbeat === 'number') return c as LockContent;
    } catch {
      /* missing or half written: treated as stale below */
    }
    return undefined;
  }

  private stale(c: LockContent | undefined): boolean {
    if (!c) return true;
    return !pidAlive(c.pid) || this.now() - c.heartbeat > 3 * this.intervalMs;
  }

  private content(): string {
    return JSON.stringify({ pid: this.pid, token: this.token, heartbeat: this.now() } satisfies LockContent);
  }

  /** One round: heartbeat when owner (unless somebody took over), else take over a stale lock. */
  check(): LeaseState {
    try {
      const c = this.read();
      if (c?.token === this.token) {
        // Still ours: the heartbeat, written whole (rename) so a reader never sees half.
        const tmp = `${this.file}.${this.token}.tmp`;
        fs.writeFileSync(tmp, this.content());
        fs.renameSync(tmp, this.file);
        this.set({ kind: 'owner' });
      } else if (c && !this.stale(c)) {
        this.set({ kind: 'other', pid: c.pid });
        this.listen();
      } else {
        this.take(c);
      }
    } catch {
      // The directory vanished or is not writable: run nothing rather than twice.
      this.set({ kind: 'other', pid: 0 });
    }
    return this.stateValue;
  }

  private take(stale: LockContent | undefined): void {
    if (stale || fs.existsSync(this.file)) {
      // Only if it is still the stale one we read (another window may have taken it meanwhile).
      const again = this.read();
      if (again && again.token !== stale?.token) {
        if (!this.stale(again)) return this.set({ kind: 'other', pid: again.pid });
      }
      fs.rmSync(this.file, { force: true });
    }
    try {
      fs.writeFileSync(this.file, this.content(), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Whoever's file is there now owns it (two takers at once: one wins, the other sees it).
    const now = this.read();
    if (now?.token === this.token) this.set({ kind: 'owner' });
    else this.set({ kind: 'other', pid: now?.pid ?? 0 });
  }

  /**
   * The owner tells the other windows something changed: they hear it at
   * their next check (news announced within one interval is heard once).
   * Each announcement is a new token in the file, whatever the file system's
   * time stamps are worth.
   */
  announce(): void {
    if (!this.isOwner || !this.options.news) return;
    try {
      fs.writeFileSync(this.newsFile, randomUUID());
    } catch {
      /* no news then */
    }
  }

  private readNews(): string {
    try {
      return fs.readFileSync(this.newsFile, 'utf8').slice(0, 200);
    } catch {
      return '';
    }
  }

  /** A window that does not own the lease hears the owner's news at each check. */
  private listen(): void {
    if (!this.options.news || this.newsSeen === undefined) return;
    const now = this.readNews();
    if (now !== this.newsSeen) {
      this.newsSeen = now;
      this.newsEmitter.fire();
    }
  }

  private set(s: LeaseState): void {
    // Listening starts afresh whenever this window becomes one of the others: what was announced before is no news.
    if (s.kind !== 'other') this.newsSeen = undefined;
    else if (this.newsSeen === undefined && this.options.news) this.newsSeen = this.readNews();
    if (JSON.stringify(s) === JSON.stringify(this.stateValue)) return;
    this.stateValue = s;
    this.emitter.fire(s);
  }

  /** Stops; the owner removes its lock so another window takes over at its next check. */
  dispose(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    try {
      if (this.read()?.token === this.token) fs.rmSync(this.file, { force: true });
    } catch {
      /* nothing to release */
    }
    this.set({ kind: 'stopped' });
    this.emitter.dispose();
    this.newsEmitter.dispose();
  }
}
