/**
 * Operation keys that task.yml may set but the exec engine cannot carry out
 * as metronome would. A run is refused for them, before anything is sent,
 * instead of running the operation with the keys silently dropped: a chef run
 * without its attributes or solo configuration is a different chef run.
 */
import type { Operation, Range } from '../plans/model';

export type UnsupportedKey = 'attributes' | 'attribute_keys' | 'configurations';

export interface UnsupportedOperationKey {
  /** The operation's place in the list given. */
  index: number;
  op: Operation;
  key: UnsupportedKey;
  /** The operation's key (`chef`): the model keeps no range per key inside it. */
  range: Range;
  /** The sentence the user reads. */
  message: string;
}

const WHY: Record<UnsupportedKey, string> = {
  attributes: 'chef `attributes` are not supported by the exec engine',
  attribute_keys: 'chef `attribute_keys` (set on the operation or by `default.chef.attribute_keys`) are not supported by the exec engine',
  configurations: 'chef `configurations` are not supported by the exec engine',
};

const isSet = (v: unknown) => (Array.isArray(v) ? v.length > 0 : !!v && typeof v === 'object' && Object.keys(v).length > 0);

/** Every key the exec engine would have to drop, in operation order; empty when all can run. */
export function unsupportedOperationKeys(operations: readonly Operation[]): UnsupportedOperationKey[] {
  const found: UnsupportedOperationKey[] = [];
  operations.forEach((op, index) => {
    if (op.type !== 'chef') return;
    const keys: Array<[UnsupportedKey, unknown]> = [
      ['attributes', op.attributes],
      ['attribute_keys', op.attributeKeys],
      ['configurations', op.configurations],
    ];
    for (const [key, value] of keys) {
      if (isSet(value)) found.push({ index, op, key, range: op.keyRange, message: `${WHY[key]}: not run; use the metronome engine.` });
    }
  });
  return found;
}
