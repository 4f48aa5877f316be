/**
 * A subtree on one side (profile/datacenter/prefix) against another: the keys
 * that exist on one side only or differ in value or flags.
 */
import type { ConsulConnection } from '../consul/client';
import { folderPrefix } from './model';
import { getSubtree } from './kvStore';

export interface CompareSide {
  connection: ConsulConnection;
  prefix: string;
}

export type CompareStatus = 'onlyLeft' | 'onlyRight' | 'differs' | 'flags' | 'same';

export interface CompareEntry {
  /** The key below each side's prefix. */
  relative: string;
  status: CompareStatus;
  leftKey: string;
  rightKey: string;
}

export interface CompareResult {
  left: { prefix: string; keys: number };
  right: { prefix: string; keys: number };
  /** Every relative key that is not the same on both sides, sorted. */
  differences: CompareEntry[];
  same: number;
}

export async function compareSubtrees(left: CompareSide, right: CompareSide): Promise<CompareResult> {
  const lp = left.prefix ? folderPrefix(left.prefix) : '';
  const rp = right.prefix ? folderPrefix(right.prefix) : '';
  const [a, b] = await Promise.all([getSubtree(left.connection, lp), getSubtree(right.connection, rp)]);
  const la = new Map(a.map((e) => [e.key.slice(lp.length), e]));
  const lb = new Map(b.map((e) => [e.key.slice(rp.length), e]));
  const all = [...new Set([...la.keys(), ...lb.keys()])].sort();
  const differences: CompareEntry[] = [];
  let same = 0;
  for (const rel of all) {
    const x = la.get(rel);
    const y = lb.get(rel);
    const status: CompareStatus = !x ? 'onlyRight' : !y ? 'onlyLeft' : !x.value.equals(y.value) ? 'differs' : x.flags !== y.flags ? 'flags' : 'same';
    if (status === 'same') same++;
    else differences.push({ relative: rel, status, leftKey: lp + rel, rightKey: rp + rel });
  }
  return { left: { prefix: lp, keys: a.length }, right: { prefix: rp, keys: b.length }, differences, same };
}
