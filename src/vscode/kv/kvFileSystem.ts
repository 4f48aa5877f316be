/**
 * `consul-kv:` as a file system: keys are files, folders directories. A save
 * is a CAS write on the ModifyIndex the document was read at; when the key
 * changed (or went) meanwhile nothing is written, the write fails with the
 * reason and `onDidConflict` tells the editor side, which offers the choices.
 */
import * as vscode from 'vscode';
import { ConsulError, AclDeniedError } from '../../core/consul/errors';
import { listKeys } from '../../core/consul/kv';
import { canWrite, deleteKey, deleteTree, getEntry, listLevel, writeEntry } from '../../core/kv/kvStore';
import { folderPrefix, isUtf8, KvConflictError, KvEntry, KvError, KvValueTooLargeError } from '../../core/kv/model';
import { copySubtree, moveSubtree, overwriteKey } from '../../core/kv/subtree';
import type { KvConnections } from './kvConnections';
import { KvLocation, parseKvUri } from './kvUri';

/** What a document was read at. */
interface ReadBase {
  /** The CAS index of the next save. */
  index: number;
  /** What stat reports to the editor (the read), kept when the user chose to overwrite a newer value. */
  shownIndex: number;
  size: number;
  flags: number;
  binary: boolean;
  /** Whether the token may write the key; undefined until asked. */
  writable?: Promise<boolean>;
}

export interface KvConflict {
  uri: vscode.Uri;
  key: string;
  /** The bytes the user tried to save. */
  ours: Uint8Array;
  /** What the cluster holds now; undefined when the key was deleted. */
  current: KvEntry | undefined;
  expectedIndex: number;
}

export class KvFileSystemProvider implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;
  private readonly conflicts = new vscode.EventEmitter<KvConflict>();
  readonly onDidConflict = this.conflicts.event;
  private readonly bases = new Map<string, ReadBase>();
  /** URIs whose next write may create the key again (the user chose to recreate it). */
  private readonly recreate = new Set<string>();

  /** Whether the token may write a key, asked at most once a minute per key and connection (each probe is a Raft write). */
  private readonly probes = new WeakMap<object, Map<string, { at: number; writable: Promise<boolean> }>>();

  constructor(private readonly connections: KvConnections) {}

  private writeProbe(connection: Parameters<typeof canWrite>[0], key: string): Promise<boolean> {
    let byKey = this.probes.get(connection);
    if (!byKey) this.probes.set(connection, (byKey = new Map()));
    const cached = byKey.get(key);
    if (cached && Date.now() - cached.at < 60_000) return cached.writable;
    if (byKey.size > 1000) byKey.clear();
    const writable = canWrite(connection, key).catch(() => true);
    byKey.set(key, { at: Date.now(), writable });
    return writable;
  }

  private async locate(uri: vscode.Uri): Promise<{ loc: KvLocation; connection: Awaited<ReturnType<KvConnections['connection']>> }> {
    const loc = parseKvUri(uri);
    try {
      return { loc, connection: await this.connections.connection(loc) };
    } catch (e) {
      throw toFsError(e, uri);
    }
  }

  watch(): vscode.Disposable {
    // Views follow the cluster with blocking queries; documents are checked on save (CAS).
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const { loc, connection } = await this.locate(uri);
    if (loc.key === '') return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    try {
      const entry = await getEntry(connection, loc.key);
      if (entry) {
        // The editor compares these with what it read: the index it was read at, so a
        // change in the cluster is caught by the CAS of the save, with our choices.
        const base = this.bases.get(uri.toString());
        return {
          type: vscode.FileType.File,
          ctime: entry.createIndex,
          mtime: base?.shownIndex ?? entry.modifyIndex,
          size: base?.size ?? entry.value.length,
        };
      }
      const below = await listKeys(connection, folderPrefix(loc.key), '/');
      if (below.length) return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    } catch (e) {
      throw toFsError(e, uri);
    }
    throw vscode.FileSystemError.FileNotFound(uri);
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const { loc, connection } = await this.locate(uri);
    try {
      const level = await listLevel(connection, loc.key);
      const cut = level.prefix.length;
      return [
        ...level.folders.map((f): [string, vscode.FileType] => [f.slice(cut, -1), vscode.FileType.Directory]),
        ...level.keys.map((k): [string, vscode.FileType] => [k.slice(cut), vscode.FileType.File]),
      ];
    } catch (e) {
      throw toFsError(e, uri);
    }
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const { loc, connection } = await this.locate(uri);
    let entry: KvEntry | undefined;
    try {
      entry = await getEntry(connection, loc.key);
    } catch (e) {
      throw toFsError(e, uri);
    }
    if (!entry) throw vscode.FileSystemError.FileNotFound(uri);
    this.bases.set(uri.toString(), {
      index: entry.modifyIndex,
      shownIndex: entry.modifyIndex,
      size: entry.value.length,
      flags: entry.flags,
      binary: !isUtf8(entry.value),
      writable: this.writeProbe(connection, loc.key),
    });
    this.recreate.delete(uri.toString());
    return new Uint8Array(entry.value.buffer, entry.value.byteOffset, entry.value.length);
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array, options: { create: boolean; overwrite: boolean }): Promise<void> {
    requireTrustedWrite(uri);
    const { loc, connection } = await this.locate(uri);
    const value = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    const id = uri.toString();
    const base = this.bases.get(id);
    try {
      let cas: number;
      let flags: number | undefined;
      if (base && !this.recreate.has(id)) {
        cas = base.index;
        flags = base.flags;
      } else {
        const now = await getEntry(connection, loc.key);
        if (now && !options.overwrite) throw vscode.FileSystemError.FileExists(uri);
        if (!now && !options.create) throw vscode.FileSystemError.FileNotFound(uri);
        cas = now?.modifyIndex ?? 0;
        flags = now?.flags;
      }
      const written = await writeEntry(connection, loc.key, value, { cas, flags });
      this.recreate.delete(id);
      this.bases.set(id, { index: written.modifyIndex, shownIndex: written.modifyIndex, size: value.length, flags: written.flags, binary: !isUtf8(value), writable: Promise.resolve(true) });
      this.changes.fire([{ type: base || cas !== 0 ? vscode.FileChangeType.Changed : vscode.FileChangeType.Created, uri }]);
    } catch (e) {
      if (e instanceof KvConflictError) {
        this.conflicts.fire({ uri, key: loc.key, ours: content, current: e.current, expectedIndex: e.expectedIndex });
      }
      throw toFsError(e, uri);
    }
  }

  async createDirectory(uri: vscode.Uri): Promise<void> {
    requireTrustedWrite(uri);
    const { loc, connection } = await this.locate(uri);
    try {
      await writeEntry(connection, folderPrefix(loc.key), Buffer.alloc(0), { cas: 0 });
    } catch (e) {
      if (e instanceof KvConflictError) return;
      throw toFsError(e, uri);
    }
    this.changes.fire([{ type: vscode.FileChangeType.Created, uri }]);
  }

  async delete(uri: vscode.Uri, options: { recursive: boolean }): Promise<void> {
    requireTrustedWrite(uri);
    const { loc, connection } = await this.locate(uri);
    try {
      const entry = await getEntry(connection, loc.key);
      if (entry) {
        if (!(await deleteKey(connection, loc.key, { cas: entry.modifyIndex }))) throw new KvConflictError(loc.key, entry.modifyIndex, await getEntry(connection, loc.key));
      } else {
        const prefix = folderPrefix(loc.key);
        const below = await listKeys(connection, prefix);
        if (!below.length) throw vscode.FileSystemError.FileNotFound(uri);
        // The file system cannot ask for the typed confirmation (any extension may call it): the view's Delete does.
        if (connection.profile.production) throw vscode.FileSystemError.NoPermissions(productionRefusal(connection.profile.name, vscode.l10n.t('Delete')));
        if (!options.recursive && below.some((k) => k !== prefix)) throw vscode.FileSystemError.NoPermissions(vscode.l10n.t('"{0}" holds {1} keys: delete it recursively.', prefix, below.length));
        await deleteTree(connection, prefix);
      }
    } catch (e) {
      throw toFsError(e, uri);
    }
    this.bases.delete(uri.toString());
    this.changes.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
  }

  rename(oldUri: vscode.Uri, newUri: vscode.Uri, options: { overwrite: boolean }): Promise<void> {
    return this.transfer(oldUri, newUri, options, true);
  }

  copy(source: vscode.Uri, destination: vscode.Uri, options: { overwrite: boolean }): Promise<void> {
    return this.transfer(source, destination, options, false);
  }

  private async transfer(from: vscode.Uri, to: vscode.Uri, options: { overwrite: boolean }, move: boolean): Promise<void> {
    requireTrustedWrite(to);
    const a = await this.locate(from);
    const b = parseKvUri(to);
    if (b.profile !== a.loc.profile || (b.datacenter ?? '') !== (a.loc.datacenter ?? '')) {
      throw vscode.FileSystemError.NoPermissions(vscode.l10n.t('Keys move and copy within one profile and datacenter; use Export and Import between clusters.'));
    }
    const stat = await this.stat(from);
    const folder = stat.type === vscode.FileType.Directory;
    if (folder && a.connection.profile.production) throw vscode.FileSystemError.NoPermissions(productionRefusal(a.connection.profile.name, move ? vscode.l10n.t('Move') : vscode.l10n.t('Copy')));
    try {
      const src = folder ? folderPrefix(a.loc.key) : a.loc.key;
      const dst = folder ? folderPrefix(b.key) : b.key;
      if (!folder && options.overwrite) await overwriteKey(a.connection, src, dst, move);
      else if (move) await moveSubtree(a.connection, src, dst);
      else await copySubtree(a.connection, src, dst);
    } catch (e) {
      if (e instanceof KvError && /already exists/.test(e.message)) throw vscode.FileSystemError.FileExists(to);
      throw toFsError(e, to);
    }
    if (move) this.bases.delete(from.toString());
    this.changes.fire([
      ...(move ? [{ type: vscode.FileChangeType.Deleted, uri: from }] : []),
      { type: vscode.FileChangeType.Created, uri: to },
    ]);
  }

  /** What the document at this URI was read at (tests and the conflict UI read it). */
  base(uri: vscode.Uri): { index: number; binary: boolean; flags: number } | undefined {
    const b = this.bases.get(uri.toString());
    return b && { index: b.index, binary: b.binary, flags: b.flags };
  }

  /** Whether the token may write the key the document shows (asked once per read). */
  async writable(uri: vscode.Uri): Promise<boolean> {
    return (await this.bases.get(uri.toString())?.writable) ?? true;
  }

  /** The next save of this document is a CAS on `index` (the user chose to overwrite what is there now). */
  rebase(uri: vscode.Uri, current: KvEntry | undefined): void {
    const id = uri.toString();
    const b = this.bases.get(id);
    if (!current) {
      this.recreate.add(id);
      return;
    }
    // Only the CAS index moves: the editor still holds what it read, and a stat saying
    // otherwise would make it refuse the save as "newer on disk".
    this.bases.set(id, {
      index: current.modifyIndex,
      shownIndex: b?.shownIndex ?? current.modifyIndex,
      size: b?.size ?? current.value.length,
      flags: current.flags,
      binary: b?.binary ?? false,
      writable: b?.writable,
    });
  }

  /** Forgets the read index (the document is read again). */
  forget(uri: vscode.Uri): void {
    this.bases.delete(uri.toString());
    this.recreate.delete(uri.toString());
  }

  dispose(): void {
    this.changes.dispose();
    this.conflicts.dispose();
  }
}

function requireTrustedWrite(uri: vscode.Uri): void {
  if (!vscode.workspace.isTrusted) {
    throw vscode.FileSystemError.NoPermissions(
      vscode.l10n.t('Writing {0} is not available in Restricted Mode: this workspace is not trusted, so nothing writes to Consul from it.', uri.toString()),
    );
  }
}

/** Keeps the sentence the user should read; FileSystemErrors pass through. */
export function toFsError(e: unknown, uri: vscode.Uri): Error {
  if (e instanceof vscode.FileSystemError) return e;
  if (e instanceof AclDeniedError) return vscode.FileSystemError.NoPermissions(e.message);
  if (e instanceof KvValueTooLargeError) return new vscode.FileSystemError(e.message);
  if (e instanceof KvError || e instanceof ConsulError) return new vscode.FileSystemError(e.message);
  return new vscode.FileSystemError(e instanceof Error ? e.message : String(e) || uri.toString());
}

/** Why a folder operation through the file system is refused on a production profile, and where it can be done. */
function productionRefusal(profile: string, action: string): string {
  return vscode.l10n.t(
    'Profile "{0}" is production: folders are not changed through the file system, which cannot ask for the typed confirmation. Use {1} in the Key/Value view (or its command with "confirm").',
    profile,
    action,
  );
}
