/**
 * A folder as the tree shows it: sub-folders first, then keys, in pages. A
 * folder of 100,000 keys costs one `?keys&separator=/` answer; only the page
 * shown gets its keys' details (size, flags, lock) read.
 */
import { baseName, KvEntry } from './model';
import type { FolderLevel } from './kvStore';

export const DEFAULT_PAGE_SIZE = 100;

export interface KvChild {
  kind: 'folder' | 'key';
  /** Full key; folders end in "/". */
  key: string;
  name: string;
}

export function childrenOf(level: FolderLevel): KvChild[] {
  return [
    ...level.folders.map((key): KvChild => ({ kind: 'folder', key, name: baseName(key) })),
    ...level.keys.map((key): KvChild => ({ kind: 'key', key, name: baseName(key) })),
  ];
}

export interface KvPage {
  children: KvChild[];
  /** How many children are not shown yet. */
  more: number;
  total: number;
}

export function pageOf(children: readonly KvChild[], shown: number): KvPage {
  const n = Math.min(children.length, Math.max(0, shown));
  return { children: children.slice(0, n), more: children.length - n, total: children.length };
}

/**
 * The first `shown` children of a level, building only those: a folder of
 * 100,000 keys costs its listing, not 100,000 child objects.
 */
export function levelPage(level: FolderLevel, shown: number): KvPage {
  const total = level.folders.length + level.keys.length;
  const n = Math.min(total, Math.max(0, shown));
  const children: KvChild[] = [];
  for (let i = 0; i < n; i++) {
    const folder = i < level.folders.length;
    const key = folder ? level.folders[i] : level.keys[i - level.folders.length];
    children.push({ kind: folder ? 'folder' : 'key', key, name: baseName(key) });
  }
  return { children, more: total - n, total };
}

/** What the tree says about a key beside its name: size, and flags when non-zero. */
export function describeEntry(e: KvEntry, formatBytes: (n: number) => string): string {
  return [formatBytes(e.value.length), e.flags ? `flags ${e.flags}` : ''].filter(Boolean).join(' · ');
}
