import * as path from 'node:path';
import { checkReferences, checkVariableCycles } from './crossChecks';
import type { Diagnostics } from './diagnostics';
import { EventReader } from './events';
import { DEFAULT_TIMEOUT_SECONDS, OPERATION_TYPES, type PatternPlan, type PlanDefaults, type PlanEntry } from './model';
import { OperationReader } from './operations';
import type { ParseOptions } from './parse';
import { TaskReader } from './tasks';
import { INT32_MAX, ValueReader } from './values';
import { describe, isNull, type YNode } from './yamlTree';

const TOP_KEYS = ['environments', 'variables', 'default', 'events', 'tasks'];
const DEFAULT_KEYS = ['timeout', ...OPERATION_TYPES];

export class PlanReader extends ValueReader {
  private readonly folder: string;
  private readonly patternName: string;
  private defaults: PlanDefaults = { timeout: DEFAULT_TIMEOUT_SECONDS, chefAttributeKeys: [] };

  constructor(
    d: Diagnostics,
    private readonly filePath: string,
    private readonly opts: ParseOptions,
  ) {
    super(d);
    const file = typeof filePath === 'string' ? filePath : '';
    this.folder = path.dirname(file);
    this.patternName = path.basename(this.folder);
  }

  read(root: YNode | undefined): PatternPlan {
    const plan: PatternPlan = {
      name: this.patternName,
      folder: this.folder,
      filePath: this.filePath,
      environments: [],
      variables: [],
      defaults: this.defaults,
      events: [],
      tasks: [],
    };
    if (!root || isNull(root)) return plan;
    if (root.kind !== 'map') {
      this.d.add('error', 'value-type', `task.yml must be a map of \`events\`, \`tasks\`…, not ${describe(root)}; metronome cannot load it.`, root);
      return plan;
    }
    const top = this.fields(root, 'task.yml');
    this.checkKeys(top, TOP_KEYS, {}, 'at the top level of task.yml');
    const get = (k: string) => top.get(k)?.value;
    plan.environments = this.entries(get('environments'), 'environments');
    plan.variables = this.entries(get('variables'), 'variables');
    this.defaults = this.readDefaults(get('default'));
    plan.defaults = this.defaults;
    const operations = new OperationReader(this.d, this.defaults, this.folder, this.patternName, this.opts);
    plan.tasks = new TaskReader(this.d, this.defaults, operations).readTasks(get('tasks'));
    plan.events = new EventReader(this.d).readEvents(get('events'));
    checkReferences(this.d, plan);
    checkVariableCycles(this.d, plan);
    return plan;
  }

  // ---- environments, variables, default

  /** `name: value` maps that metronome reads as strings, turning scalars into text. */
  private entries(node: YNode | undefined, section: string): PlanEntry[] {
    const map = this.map(node, `\`${section}\``, 'load');
    if (!map) return [];
    const out: PlanEntry[] = [];
    for (const f of this.fields(map, `\`${section}\``).values()) {
      const v = f.value;
      if (v.kind !== 'scalar') {
        this.typeError('load', `The value of \`${section}.${f.name}\``, 'a string', v);
        continue;
      }
      const value = v.value === null ? '' : String(v.value);
      if (typeof v.value !== 'string' && v.value !== null && value !== v.text) {
        this.d.add('info', 'value-type', `\`${section}.${f.name}\` is read as ${describe(v)} and becomes '${value}'; quote it to keep '${v.text}'.`, v);
      }
      out.push({ name: f.name, value, keyRange: this.d.range(f.key), valueRange: this.d.range(v) });
    }
    return out;
  }

  private readDefaults(node: YNode | undefined): PlanDefaults {
    const defaults: PlanDefaults = { timeout: DEFAULT_TIMEOUT_SECONDS, chefAttributeKeys: [] };
    const map = this.map(node, '`default`', 'load');
    if (!map) return defaults;
    const fields = this.fields(map, '`default`');
    this.checkKeys(fields, DEFAULT_KEYS, { chef_config: 'only older metronome versions read it' }, 'in `default`');
    const timeout = fields.get('timeout');
    const t = this.integer(timeout?.value, '`default.timeout`', 'load', INT32_MAX);
    if (t !== undefined && t > 0 && timeout) {
      defaults.timeout = t;
      defaults.timeoutRange = this.d.range(timeout.value);
    }
    for (const type of OPERATION_TYPES) {
      const f = fields.get(type);
      if (!f) continue;
      const opMap = this.map(f.value, `\`default.${type}\``, 'load');
      if (!opMap) continue;
      const opFields = this.fields(opMap, `\`default.${type}\``);
      if (type !== 'chef') {
        for (const of of opFields.values()) {
          this.d.add('warning', 'key-ignored', `metronome ignores \`default.${type}.${of.name}\`: it has no defaults for \`${type}\` operations.`, of.key, { key: of.name });
        }
        continue;
      }
      this.checkKeys(opFields, ['attribute_keys'], {}, 'in `default.chef`', 'key-ignored');
      const keys = opFields.get('attribute_keys');
      // metronome asserts every item is a string and crashes otherwise, hence 'load'.
      defaults.chefAttributeKeys = this.stringList(keys?.value, '`default.chef.attribute_keys`', 'load') ?? [];
      if (keys) defaults.chefAttributeKeysRange = this.d.range(keys.value);
    }
    return defaults;
  }
}
