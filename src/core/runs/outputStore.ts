/**
 * Bounded run output. In memory a run keeps only the last TAIL_BYTES of each
 * node's output (`OutputTail`); the whole output goes to one file per node
 * under a directory the editor hands in (`RunOutputFiles`), so a full log can
 * be opened or saved however long it grew, while memory stays flat. Old runs'
 * files are pruned by count and by total size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Disposable } from '../util/emitter';
import type { RunRegistry } from './registry';

/** What a node keeps in memory: twice what KV keeps (500 KiB), so the recorder always has its full share. */
export const TAIL_BYTES = 1024 * 1024;
export const KEEP_RUN_FILES = 50;
export const MAX_RUN_FILES_BYTES = 500 * 1024 * 1024;
/** Appends are gathered and written at most this often (or once this much is waiting). */
const WRITE_EVERY_MS = 200;
const WRITE_AT_BYTES = 256 * 1024;

/** The last `limit` bytes of a stream of text, and how many bytes before them were dropped. */
export class OutputTail {
  private chunks: string[] = [];
  private sizes: number[] = [];
  private bytes = 0;
  /** Bytes dropped from the front, over the tail's life. */
  dropped = 0;

  constructor(private readonly limit = TAIL_BYTES) {}

  get size(): number {
    return this.bytes;
  }

  append(text: string, byteLength = Buffer.byteLength(text)): void {
    if (!text) return;
    this.chunks.push(text);
    this.sizes.push(byteLength);
    this.bytes += byteLength;
    if (this.bytes > this.limit) this.trim();
  }

  text(): string {
    if (this.chunks.length > 1) {
      // Joined once and kept joined: readers (the recorder, documents) ask often.
      this.chunks = [this.chunks.join('')];
      this.sizes = [this.bytes];
    }
    return this.chunks[0] ?? '';
  }

  private trim(): void {
    let i = 0;
    while (this.bytes - this.sizes[i] >= this.limit) {
      this.bytes -= this.sizes[i];
      this.dropped += this.sizes[i];
      i++;
    }
    this.chunks.splice(0, i);
    this.sizes.splice(0, i);
    const over = this.bytes - this.limit;
    if (over > 0) {
      // Cut inside the first chunk at a byte offset, then past any partial UTF-8 character.
      const buf = Buffer.from(this.chunks[0], 'utf8');
      let cut = over;
      while (cut < buf.length && (buf[cut] & 0xc0) === 0x80) cut++;
      this.chunks[0] = buf.subarray(cut).toString('utf8');
      this.sizes[0] = buf.length - cut;
      this.bytes -= cut;
      this.dropped += cut;
    }
  }
}

/** A file or directory name for any string (run IDs and node names are untrusted): no separators, no dot names. */
export function safeName(name: string): string {
  return encodeURIComponent(name).replace(/[.*!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`) || '%00';
}

export interface RunOutputFilesOptions {
  keepRuns?: number;
  maxBytes?: number;
}

/**
 * One file per run, phase and node: `<dir>/<run>/<phase>/<node>.log`.
 * Appends never throw (output keeps flowing when the disk does not take it);
 * `error` says what failed last.
 */
export class RunOutputFiles {
  private readonly pending = new Map<string, string[]>();
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly madeDirs = new Set<string>();
  /** Runs written in this session: never pruned while the editor may still write them. */
  private readonly active = new Set<string>();
  error: Error | undefined;

  constructor(
    readonly dir: string,
    private readonly options: RunOutputFilesOptions = {},
  ) {}

  pathOf(id: string, phase: number, node: string): string {
    return path.join(this.dir, safeName(id), String(phase), `${safeName(node)}.log`);
  }

  append(id: string, phase: number, node: string, text: string): void {
    if (!text) return;
    if (!this.active.has(id)) {
      this.active.add(id);
      void this.prune();
    }
    const file = this.pathOf(id, phase, node);
    const list = this.pending.get(file);
    if (list) list.push(text);
    else this.pending.set(file, [text]);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= WRITE_AT_BYTES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), WRITE_EVERY_MS);
  }

  /** A node's output starts over (a retry): what was written and what waits is dropped. */
  reset(id: string, phase: number, node: string): void {
    const file = this.pathOf(id, phase, node);
    this.pending.delete(file);
    this.writing = this.writing.then(() => this.attempt(() => fs.promises.rm(file, { force: true })));
  }

  /** Resolves once everything appended so far is on disk. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    this.pendingBytes = 0;
    this.writing = this.writing.then(async () => {
      for (const [file, texts] of batch) {
        await this.attempt(async () => {
          const dir = path.dirname(file);
          if (!this.madeDirs.has(dir)) {
            await fs.promises.mkdir(dir, { recursive: true });
            this.madeDirs.add(dir);
          }
          await fs.promises.appendFile(file, texts.join(''), 'utf8');
        });
      }
    });
    return this.writing;
  }

  private async attempt(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (e) {
      this.error = e as Error;
    }
  }

  /** A node's whole output as written, or undefined when this editor has no file for it. */
  async read(id: string, phase: number, node: string): Promise<string | undefined> {
    await this.flush();
    try {
      return await fs.promises.readFile(this.pathOf(id, phase, node), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** The last `bytes` of a node's file (from a line start when cut), and whether it was cut. */
  async readTail(id: string, phase: number, node: string, bytes: number): Promise<{ text: string; cut: boolean } | undefined> {
    await this.flush();
    let handle: fs.promises.FileHandle | undefined;
    try {
      handle = await fs.promises.open(this.pathOf(id, phase, node), 'r');
      const size = (await handle.stat()).size;
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await handle.read(buf, 0, buf.length, start);
      if (!start) return { text: buf.toString('utf8'), cut: false };
      const nl = buf.indexOf(10);
      return { text: buf.subarray(nl + 1).toString('utf8'), cut: true };
    } catch {
      return undefined;
    } finally {
      await handle?.close();
    }
  }

  async exists(id: string, phase: number, node: string): Promise<boolean> {
    await this.flush();
    return fs.promises.access(this.pathOf(id, phase, node)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Keeps the newest runs (by their last write) up to `keepRuns` and
   * `maxBytes` in all; runs written in this session are kept regardless.
   */
  async prune(): Promise<void> {
    const keepRuns = this.options.keepRuns ?? KEEP_RUN_FILES;
    const maxBytes = this.options.maxBytes ?? MAX_RUN_FILES_BYTES;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.dir, { withFileTypes: true });
    } catch {
      return; // nothing written yet
    }
    const active = new Set([...this.active].map(safeName));
    const runs = await Promise.all(
      entries.filter((e) => e.isDirectory() && !active.has(e.name)).map(async (e) => ({ name: e.name, ...(await usage(path.join(this.dir, e.name))) })),
    );
    runs.sort((a, b) => b.newest - a.newest);
    let kept = active.size;
    let total = 0;
    for (const r of runs) {
      total += r.bytes;
      if (kept < keepRuns && total <= maxBytes) {
        kept++;
        continue;
      }
      await this.attempt(() => fs.promises.rm(path.join(this.dir, r.name), { recursive: true, force: true }));
    }
  }

  dispose(): Promise<void> {
    return this.flush();
  }
}

async function usage(dir: string): Promise<{ bytes: number; newest: number }> {
  let bytes = 0;
  let newest = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.promises.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const st = await fs.promises.stat(p).catch(() => undefined);
        if (st) {
          bytes += st.size;
          newest = Math.max(newest, st.mtimeMs);
        }
      }
    }
  };
  await walk(dir);
  return { bytes, newest };
}

/**
 * Every run the registry learns about writes its output to `files`: the
 * registry announces a run as it is added, before any output.
 */
export function persistRunOutputs(registry: RunRegistry, files: RunOutputFiles): Disposable {
  void files.prune();
  return registry.onDidChange((s) => registry.get(s.id)?.persistOutputTo(files));
}
