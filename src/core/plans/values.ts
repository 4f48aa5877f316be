import { closest, type Diagnostics } from './diagnostics';
import type { PlanDiagnosticCode, PlanDiagnosticData } from './model';
import { describe, isNull, type YMap, type YNode, type YScalar } from './yamlTree';

export interface Field {
  key: YScalar;
  name: string;
  value: YNode;
}

/** How metronome reacts to a bad value: refuse the whole file, or drop the value. */
export type Strictness = 'load' | 'drop';

export const INT32_MAX = 2147483647;

/** Shared by the readers of each part of task.yml, so all of them judge keys and values alike. */
export class ValueReader {
  constructor(protected readonly d: Diagnostics) {}

  // ---- maps and keys

  /** Every entry, duplicates included (each duplicate reported once). */
  protected allFields(map: YMap, where: string): Field[] {
    const out: Field[] = [];
    const firstByName = new Map<string, Field>();
    for (const { key, value } of map.pairs) {
      if (key.kind !== 'scalar') {
        this.d.add('error', 'value-type', `A key in ${where} is ${describe(key)}; metronome needs plain names as keys.`, key);
        continue;
      }
      const field = { key, name: key.text, value };
      const first = firstByName.get(field.name);
      if (first) {
        this.d.add(
          'error',
          'key-duplicate',
          `Duplicate key \`${field.name}\` in ${where} (first at line ${this.d.line(first.key)}); only one of them would be kept.`,
          key,
          { key: field.name },
        );
      } else firstByName.set(field.name, field);
      out.push(field);
    }
    return out;
  }

  /** By name; a duplicated key keeps its last value, as YAML loaders do. */
  protected fields(map: YMap, where: string): Map<string, Field> {
    return new Map(this.allFields(map, where).map((f) => [f.name, f]));
  }

  protected checkKeys(
    fields: Map<string, Field>,
    known: readonly string[],
    ignored: Record<string, string>,
    where: string,
    unknownCode: PlanDiagnosticCode = 'key-unknown',
  ): void {
    for (const f of fields.values()) {
      if (known.includes(f.name)) continue;
      if (Object.prototype.hasOwnProperty.call(ignored, f.name)) {
        this.d.add('warning', 'key-ignored', `metronome ignores \`${f.name}\` ${where}: ${ignored[f.name]}.`, f.key, { key: f.name });
        continue;
      }
      const suggestion = closest(f.name, known);
      const hint = suggestion ? ` Did you mean \`${suggestion}\`?` : ` Known keys: ${known.map((k) => `\`${k}\``).join(', ')}.`;
      const data: PlanDiagnosticData = { key: f.name };
      if (suggestion) data.suggestion = suggestion;
      this.d.add('warning', unknownCode, `metronome ignores unknown key \`${f.name}\` ${where}.${hint}`, f.key, data);
    }
  }

  // ---- typed values

  protected typeError(strictness: Strictness, what: string, expected: string, node: YNode): void {
    const consequence = strictness === 'load' ? 'metronome cannot load a task.yml with this' : 'metronome silently ignores the value';
    const quote = node.kind === 'scalar' && expected === 'a string' ? ` Quote it: '${node.text}'.` : '';
    this.d.add(strictness === 'load' ? 'error' : 'warning', 'value-type', `${what} must be ${expected}, not ${describe(node)}; ${consequence}.${quote}`, node);
  }

  protected string(node: YNode | undefined, what: string, strictness: Strictness): string | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'string') return node.value;
    this.typeError(strictness, what, 'a string', node);
    // metronome drops it; the load case keeps the text so the tree still shows something.
    return node.kind === 'scalar' && strictness === 'load' ? node.text : undefined;
  }

  protected integer(node: YNode | undefined, what: string, strictness: Strictness, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'number' && Number.isInteger(node.value) && Math.abs(node.value) <= max) return node.value;
    this.typeError(strictness, what, max === INT32_MAX ? 'a whole number of seconds' : 'a whole number', node);
    return undefined;
  }

  protected boolean(node: YNode | undefined, what: string, strictness: Strictness): boolean | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'boolean') return node.value;
    this.typeError(strictness, what, 'true or false', node);
    return undefined;
  }

  protected stringList(node: YNode | undefined, what: string, strictness: Strictness): string[] | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind !== 'seq') {
      this.typeError(strictness, what, 'a list of strings', node);
      return undefined;
    }
    const out: string[] = [];
    for (const item of node.items) {
      const s = this.string(item, `Each item of ${what}`, strictness);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  protected map(node: YNode | undefined, what: string, strictness: Strictness): YMap | undefined {
    if (!node || isNull(node)) return undefined;
    if (node.kind === 'map') return node;
    this.typeError(strictness, what, 'a map', node);
    return undefined;
  }
}
