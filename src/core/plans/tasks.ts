import type { Diagnostics } from './diagnostics';
import type { PlanDefaults, Task } from './model';
import type { OperationReader } from './operations';
import { INT32_MAX, ValueReader, type Field } from './values';
import { isNull, type YNode } from './yamlTree';

const TASK_KEYS = ['description', 'timeout', 'operations'];
const TASK_IGNORED: Record<string, string> = {
  name: 'the task is named by its key',
  service: "a task cannot choose its nodes; put `service` on the event's ordered_tasks item instead",
  tag: "a task cannot choose its nodes; put `tag` on the event's ordered_tasks item instead",
  filter: "this is the pre-events format; put `service`/`tag` on the event's ordered_tasks item instead",
  trigger: 'this is the pre-events format; reference the task from an event instead',
};

export class TaskReader extends ValueReader {
  constructor(
    d: Diagnostics,
    private readonly defaults: PlanDefaults,
    private readonly operations: OperationReader,
  ) {
    super(d);
  }

  readTasks(node: YNode | undefined): Task[] {
    const map = this.map(node, '`tasks`', 'load');
    if (!map) return [];
    const tasks = new Map<string, Task>();
    for (const f of this.allFields(map, '`tasks`')) {
      const t = this.readTask(f);
      if (t) tasks.set(t.name, t);
    }
    return [...tasks.values()];
  }

  private readTask(f: Field): Task | undefined {
    const task: Task = { name: f.name, effectiveTimeout: this.defaults.timeout, operations: [], keyRange: this.d.range(f.key), valueRange: this.d.range(f.value) };
    if (isNull(f.value)) {
      this.d.add('error', 'value-type', `Task '${f.name}' is empty; metronome cannot load a task without \`operations\`.`, f.key, { task: f.name });
      return task;
    }
    const map = this.map(f.value, `Task '${f.name}'`, 'load');
    if (!map) return undefined;
    const fields = this.fields(map, `task '${f.name}'`);
    this.checkKeys(fields, TASK_KEYS, TASK_IGNORED, `on task '${f.name}'`);
    task.description = this.string(fields.get('description')?.value, `\`description\` of task '${f.name}'`, 'load');
    const timeout = fields.get('timeout');
    const t = this.integer(timeout?.value, `\`timeout\` of task '${f.name}'`, 'load', INT32_MAX);
    if (t !== undefined && timeout) {
      task.timeout = t;
      task.timeoutRange = this.d.range(timeout.value);
      if (t > 0) task.effectiveTimeout = t;
    }
    const ops = fields.get('operations');
    if (!ops) {
      this.d.add(
        'error',
        'task-operations-missing',
        `Task '${f.name}' has no \`operations\`; metronome cannot load a task without them (write \`operations: []\` for a task that does nothing).`,
        f.key,
        { task: f.name },
      );
    } else if (!isNull(ops.value)) {
      if (ops.value.kind !== 'seq') this.typeError('load', `\`operations\` of task '${f.name}'`, 'a list like `- execute: …`', ops.value);
      else task.operations = this.operations.readOperations(ops.value, f.name);
    }
    return task;
  }
}
