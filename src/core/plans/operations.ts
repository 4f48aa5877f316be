import * as path from 'node:path';
import { closest, type Diagnostics } from './diagnostics';
import { OPERATION_TYPES, type Operation, type OperationType, type PlanDefaults, type Severity } from './model';
import type { ParseOptions } from './parse';
import type { Span } from './positions';
import { ValueReader, type Field } from './values';
import { isNull, toJs, type YNode, type YSeq } from './yamlTree';

const OPERATION_KEYS: Record<OperationType, string[]> = {
  execute: ['file', 'script', 'arguments', 'output'],
  chef: ['run_list', 'attributes', 'attribute_keys', 'configurations'],
  'consul-kvs': ['action', 'key', 'value', 'name'],
  'consul-event': ['name', 'filter'],
  service: ['name', 'action'],
  echo: [],
};
const KVS_ACTIONS = ['get', 'put', 'delete'];
const JS_VALUE_BUDGET = 100000;

export class OperationReader extends ValueReader {
  /** Shared by all free-form values of one file, so aliases cannot multiply the work. */
  private readonly jsBudget = { left: JS_VALUE_BUDGET };

  constructor(
    d: Diagnostics,
    private readonly defaults: PlanDefaults,
    private readonly folder: string,
    private readonly patternName: string,
    private readonly opts: ParseOptions,
  ) {
    super(d);
  }

  readOperations(seq: YSeq, taskName: string): Operation[] {
    const out: Operation[] = [];
    for (const item of seq.items) {
      const map = this.map(item, `An operation of task '${taskName}'`, 'load');
      const fields = map ? [...this.fields(map, `an operation of task '${taskName}'`).values()] : [];
      if (fields.length === 0) {
        if (map || isNull(item)) {
          this.d.add('error', 'operation-invalid', `An operation of task '${taskName}' is empty; metronome cannot load it — each item needs exactly one key such as \`execute\` or \`chef\`.`, item);
        }
        continue;
      }
      if (fields.length > 1) {
        const names = fields.map((x) => `\`${x.name}\``).join(', ');
        for (const extra of fields.slice(1)) {
          this.d.add(
            'error',
            'operation-multiple-keys',
            `This operation item of task '${taskName}' has ${fields.length} keys (${names}); metronome needs exactly one per item — start a new \`- \` item for \`${extra.name}\`.`,
            extra.key,
            { key: extra.name },
          );
        }
      }
      const op = this.readOperation(fields[0], taskName);
      if (op) out.push(op);
    }
    return out;
  }

  private readOperation(f: Field, taskName: string): Operation | undefined {
    const type = f.name;
    if (!(OPERATION_TYPES as readonly string[]).includes(type)) {
      const suggestion = closest(type, OPERATION_TYPES);
      const hint =
        type === 'task'
          ? " A task cannot call another task; add it as another phase of the event's `ordered_tasks` instead."
          : suggestion
            ? ` Did you mean \`${suggestion}\`?`
            : ` metronome knows ${OPERATION_TYPES.map((t) => `\`${t}\``).join(', ')}.`;
      this.d.add('error', 'operation-unknown', `Unknown operation \`${type}\` in task '${taskName}'; metronome cannot load this task.yml.${hint}`, f.key, {
        key: type,
        ...(suggestion ? { suggestion } : {}),
      });
      return undefined;
    }
    const base = { keyRange: this.d.range(f.key), valueRange: this.d.range(f.value) };
    const where = `of \`${type}\` in task '${taskName}'`;
    if (type === 'echo') {
      const message = this.string(f.value, `The message ${where}`, 'drop') ?? '';
      return { type, ...base, message };
    }
    if (type === 'execute' && f.value.kind === 'scalar' && !isNull(f.value)) {
      this.d.add(
        'error',
        'value-type',
        `\`execute\` in task '${taskName}' takes a map with \`file\` or \`script\`; metronome silently ignores a plain string, so this runs nothing. Write \`script: |\` under it.`,
        f.key,
      );
    }
    const map = f.value.kind === 'map' ? f.value : undefined;
    if (!map && f.value.kind === 'seq') this.typeError('drop', `\`${type}\` in task '${taskName}'`, 'a map', f.value);
    const fields = map ? this.fields(map, `\`${type}\` in task '${taskName}'`) : new Map<string, Field>();
    this.checkKeys(fields, OPERATION_KEYS[type as OperationType], {}, `in \`${type}\` of task '${taskName}'`, 'operation-key-unknown');
    const at = (k: string) => fields.get(k);
    const str = (k: string) => this.string(at(k)?.value, `\`${k}\` ${where}`, 'drop');
    const invalid = (severity: Severity, message: string, at: Span = f.key) => this.d.add(severity, 'operation-invalid', message, at);

    switch (type as OperationType) {
      case 'execute': {
        const file = str('file');
        const script = str('script');
        const op: Operation = {
          type: 'execute',
          ...base,
          arguments: this.stringList(at('arguments')?.value, `\`arguments\` ${where}`, 'drop') ?? [],
          output: this.boolean(at('output')?.value, `\`output\` ${where}`, 'drop') ?? true,
        };
        if (file) [op.file, op.fileRange] = [file, this.d.range(at('file')!.value)];
        if (script !== undefined && !file) [op.script, op.scriptRange] = [script, this.d.range(at('script')!.value)];
        if (file && script !== undefined) {
          this.d.add('warning', 'key-ignored', `metronome runs \`file\` and ignores \`script\` when an \`execute\` in task '${taskName}' sets both.`, at('script')!.key, { key: 'script' });
        }
        if (!file && at('arguments')) {
          this.d.add('warning', 'key-ignored', `metronome ignores \`arguments\` without \`file\` in an \`execute\` of task '${taskName}'.`, at('arguments')!.key, { key: 'arguments' });
        }
        const plainString = f.value.kind === 'scalar' && !isNull(f.value);
        if (!file && script === undefined && !plainString) invalid('error', `\`execute\` in task '${taskName}' has neither \`file\` nor \`script\`, so it runs nothing.`);
        if (file) this.checkFile(file, at('file')!.value, taskName);
        return op;
      }
      case 'chef': {
        const runList = this.stringList(at('run_list')?.value, `\`run_list\` ${where}`, 'drop') ?? [];
        const ownKeys = this.stringList(at('attribute_keys')?.value, `\`attribute_keys\` ${where}`, 'drop') ?? [];
        const op: Operation = { type: 'chef', ...base, runList, attributeKeys: ownKeys.length ? ownKeys : [...this.defaults.chefAttributeKeys] };
        const attrs = this.map(at('attributes')?.value, `\`attributes\` ${where}`, 'drop');
        if (attrs) op.attributes = toJs(attrs, this.jsBudget) as Record<string, unknown>;
        const conf = this.map(at('configurations')?.value, `\`configurations\` ${where}`, 'drop');
        if (conf) op.configurations = toJs(conf, this.jsBudget) as Record<string, unknown>;
        if (!runList.length) invalid('warning', `\`chef\` in task '${taskName}' has an empty \`run_list\`; chef-solo would run nothing.`);
        return op;
      }
      case 'consul-kvs': {
        const action = str('action') ?? '';
        const op: Operation = { type: 'consul-kvs', ...base, action };
        const key = str('key');
        const value = str('value');
        const name = str('name');
        if (key !== undefined) op.key = key;
        if (value !== undefined) op.value = value;
        if (name !== undefined) op.name = name;
        if (!KVS_ACTIONS.includes(action)) {
          const got = action ? `'${action}'` : 'nothing';
          invalid('error', `\`consul-kvs\` in task '${taskName}' needs \`action\` get, put or delete (got ${got}); metronome fails the task.`, at('action')?.value);
        }
        if (!key) invalid('error', `\`consul-kvs\` in task '${taskName}' has no \`key\`.`);
        if (action === 'get' && !name) invalid('warning', `\`consul-kvs\` get in task '${taskName}' has no \`name\`, so the value it reads is stored nowhere.`);
        return op;
      }
      case 'consul-event': {
        const op: Operation = { type: 'consul-event', ...base, filter: {} };
        const name = str('name');
        if (name) op.name = name;
        else invalid('error', `\`consul-event\` in task '${taskName}' has no event \`name\`.`);
        const filter = this.map(at('filter')?.value, `\`filter\` ${where}`, 'drop');
        if (filter) {
          const ff = this.fields(filter, `\`filter\` ${where}`);
          this.checkKeys(ff, ['service', 'tag'], {}, `in \`filter\` ${where}`, 'operation-key-unknown');
          const service = this.string(ff.get('service')?.value, `\`filter.service\` ${where}`, 'drop');
          const tag = this.string(ff.get('tag')?.value, `\`filter.tag\` ${where}`, 'drop');
          if (service) op.filter.service = service;
          if (tag) op.filter.tag = tag;
        }
        return op;
      }
      case 'service': {
        const op: Operation = { type: 'service', ...base };
        const name = str('name');
        const action = str('action');
        if (name) op.name = name;
        if (action) op.action = action;
        if (!name || !action) invalid('error', `\`service\` in task '${taskName}' needs both \`name\` and \`action\` (e.g. restart).`);
        return op;
      }
      default:
        return undefined;
    }
  }

  private checkFile(file: string, node: YNode, taskName: string): void {
    // Templated or absolute paths depend on the node that runs them.
    if (!this.opts.fileExists || file.includes('{{') || path.isAbsolute(file)) return;
    const absPath = path.resolve(this.folder, file);
    let exists = true;
    try {
      exists = this.opts.fileExists(absPath);
    } catch {
      return;
    }
    if (!exists) {
      this.d.add(
        'error',
        'execute-file-missing',
        `\`execute\` in task '${taskName}' runs '${file}', which does not exist in pattern folder '${this.patternName}' (looked for ${absPath}).`,
        node,
        { file, absPath, task: taskName },
      );
    }
  }
}
