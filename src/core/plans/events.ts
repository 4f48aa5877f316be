import { DEFAULT_PRIORITY, type Phase, type PlanEvent } from './model';
import { ValueReader, type Field } from './values';
import { isNull, type YNode } from './yamlTree';

const EVENT_KEYS = ['description', 'priority', 'task', 'ordered_tasks'];
const EVENT_IGNORED: Record<string, string> = {
  name: 'the event is named by its key',
  path: 'metronome sets the path of task.yml itself',
  pattern: 'metronome sets the pattern (the folder name) itself',
};
const PHASE_KEYS = ['service', 'tag', 'task', 'skippable'];
const PHASE_IGNORED: Record<string, string> = {
  pattern: 'metronome fills it in when it queues the phase',
  id: 'metronome fills it in when it queues the phase',
  no: 'metronome fills it in when it queues the phase',
};

export class EventReader extends ValueReader {
  readEvents(node: YNode | undefined): PlanEvent[] {
    const map = this.map(node, '`events`', 'load');
    if (!map) return [];
    // Duplicates are all checked, but only the last one counts.
    const events = new Map<string, PlanEvent>();
    for (const f of this.allFields(map, '`events`')) {
      const ev = this.readEvent(f);
      if (ev) events.set(ev.name, ev);
    }
    return [...events.values()];
  }

  private readEvent(f: Field): PlanEvent | undefined {
    const event: PlanEvent = { name: f.name, priority: DEFAULT_PRIORITY, keyRange: this.d.range(f.key), valueRange: this.d.range(f.value) };
    if (isNull(f.value)) {
      this.d.add('error', 'value-type', `Event '${f.name}' is empty; metronome cannot load an event without \`task\` or \`ordered_tasks\`.`, f.key, { event: f.name });
      return event;
    }
    const map = this.map(f.value, `Event '${f.name}'`, 'load');
    if (!map) return undefined;
    const fields = this.fields(map, `event '${f.name}'`);
    this.checkKeys(fields, EVENT_KEYS, EVENT_IGNORED, `in event '${f.name}'`);
    event.description = this.string(fields.get('description')?.value, `\`description\` of event '${f.name}'`, 'load');
    const priority = fields.get('priority');
    const p = this.integer(priority?.value, `\`priority\` of event '${f.name}'`, 'load');
    if (p !== undefined && priority) {
      event.priority = p;
      event.priorityRange = this.d.range(priority.value);
    }
    const task = fields.get('task');
    event.task = this.string(task?.value, `\`task\` of event '${f.name}'`, 'load');
    if (task && event.task !== undefined) event.taskRange = this.d.range(task.value);
    const ordered = fields.get('ordered_tasks');
    if (ordered) event.orderedTasks = this.readPhases(ordered.value, f.name);

    const hasTask = event.task !== undefined && event.task !== '';
    if (hasTask && ordered) {
      this.d.add(
        'warning',
        'event-task-both',
        `Event '${f.name}' sets both \`task\` and \`ordered_tasks\`; metronome runs task '${event.task}' on every node and ignores \`ordered_tasks\`.`,
        ordered.key,
        { event: f.name },
      );
    } else if (!hasTask && !event.orderedTasks?.length) {
      this.d.add('warning', 'event-task-missing', `Event '${f.name}' has neither \`task\` nor any \`ordered_tasks\`; metronome runs nothing for it.`, f.key, {
        event: f.name,
      });
    }
    return event;
  }

  private readPhases(node: YNode, eventName: string): Phase[] {
    if (isNull(node)) return [];
    if (node.kind !== 'seq') {
      this.typeError('load', `\`ordered_tasks\` of event '${eventName}'`, 'a list of `{ service, tag, task }` items', node);
      return [];
    }
    const phases: Phase[] = [];
    for (const item of node.items) {
      if (isNull(item)) {
        this.d.add('error', 'phase-task-missing', `An empty \`ordered_tasks\` item of event '${eventName}' names no \`task\`; metronome fails the event when it reaches it.`, item, {
          event: eventName,
        });
        continue;
      }
      const map = this.map(item, `An \`ordered_tasks\` item of event '${eventName}'`, 'load');
      if (!map) continue;
      const where = `in an \`ordered_tasks\` item of event '${eventName}'`;
      const fields = this.fields(map, `an \`ordered_tasks\` item of event '${eventName}'`);
      this.checkKeys(fields, PHASE_KEYS, PHASE_IGNORED, where);
      const task = fields.get('task');
      const service = fields.get('service');
      const tag = fields.get('tag');
      const phase: Phase = {
        task: this.string(task?.value, `\`task\` ${where}`, 'load') ?? '',
        skippable: this.boolean(fields.get('skippable')?.value, `\`skippable\` ${where}`, 'load') ?? false,
        range: this.d.range(map),
        taskRange: this.d.range(task ? task.value : map),
      };
      const s = this.string(service?.value, `\`service\` ${where}`, 'load');
      if (s !== undefined && service) [phase.service, phase.serviceRange] = [s, this.d.range(service.value)];
      const t = this.string(tag?.value, `\`tag\` ${where}`, 'load');
      if (t !== undefined && tag) [phase.tag, phase.tagRange] = [t, this.d.range(tag.value)];
      if (!phase.task) {
        this.d.add('error', 'phase-task-missing', `This \`ordered_tasks\` item of event '${eventName}' names no \`task\`; metronome fails the event when it reaches it.`, task ? task.value : map, {
          event: eventName,
        });
      }
      if (phase.tag && !phase.service && tag) {
        this.d.add('warning', 'key-ignored', `metronome ignores \`tag\` when \`service\` is not set: this phase of event '${eventName}' runs on every node.`, tag.key, {
          key: 'tag',
          event: eventName,
        });
      }
      phases.push(phase);
    }
    return phases;
  }
}
