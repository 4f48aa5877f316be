/**
 * The typed model of a metronome `task.yml` ("phase plan"). A pattern is the
 * folder holding one task.yml; metronome names it after that folder.
 *
 * Ranges are 0-based line/character pairs (UTF-16 units, like LSP) so the
 * editor layer can turn them into diagnostics, CodeLenses and hovers as-is.
 */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type Severity = 'error' | 'warning' | 'info';

export type PlanDiagnosticCode =
  | 'yaml-syntax'
  | 'yaml-multiple-documents'
  | 'key-duplicate'
  | 'key-unknown'
  | 'key-ignored'
  | 'value-type'
  | 'event-task-both'
  | 'event-task-missing'
  | 'phase-task-missing'
  | 'task-undefined'
  | 'task-unused'
  | 'task-operations-missing'
  | 'operation-unknown'
  | 'operation-multiple-keys'
  | 'operation-key-unknown'
  | 'operation-invalid'
  | 'operation-key-unsupported'
  | 'execute-file-missing'
  | 'variable-cycle'
  | 'event-duplicate-priority'
  | 'phase-no-node'
  | 'parse-internal';

/** Extra facts a quick fix needs; which fields are set depends on the code. */
export interface PlanDiagnosticData {
  /** task-undefined: the missing task; task-unused: the unused one. */
  task?: string;
  event?: string;
  /** key-unknown / key-ignored / operation-key-unknown: the offending key. */
  key?: string;
  /** A likely intended spelling (key-unknown, operation-unknown, task-undefined…). */
  suggestion?: string;
  /** execute-file-missing: the file as written and where it was looked for. */
  file?: string;
  absPath?: string;
  /** variable-cycle: the variables in the cycle, in reference order. */
  cycle?: string[];
  /** event-duplicate-priority: the other patterns with the same event and priority. */
  patterns?: string[];
}

export interface PlanDiagnostic {
  severity: Severity;
  message: string;
  range: Range;
  code: PlanDiagnosticCode;
  data?: PlanDiagnosticData;
}

/** A diagnostic that belongs to one file among several (cross-pattern checks). */
export interface FileDiagnostic {
  filePath: string;
  diagnostic: PlanDiagnostic;
}

/** One `name: value` entry of `environments` or `variables`. */
export interface PlanEntry {
  name: string;
  /** The value as metronome stores it: scalars become their string form. */
  value: string;
  keyRange: Range;
  valueRange: Range;
}

export interface PlanDefaults {
  /** Seconds; metronome's own default is 1800 when task.yml sets none. */
  timeout: number;
  timeoutRange?: Range;
  /** `default.chef.attribute_keys`, the one per-operation default metronome applies. */
  chefAttributeKeys: string[];
  chefAttributeKeysRange?: Range;
}

/** One step of an event: a task run on the nodes its service/tag filter selects. */
export interface Phase {
  service?: string;
  tag?: string;
  task: string;
  /** As written; when absent metronome falls back to its `-skippable` flag (default false). */
  skippable: boolean;
  range: Range;
  taskRange: Range;
  serviceRange?: Range;
  tagRange?: Range;
}

export interface PlanEvent {
  name: string;
  description?: string;
  /** Lower runs first across patterns; 50 when not set. */
  priority: number;
  priorityRange?: Range;
  /** The `task:` form: one phase on every node. Wins over `ordered_tasks` when both are set. */
  task?: string;
  taskRange?: Range;
  orderedTasks?: Phase[];
  keyRange: Range;
  valueRange: Range;
}

interface OperationBase {
  /** The operation's key (`execute`, `chef`…) inside the list item. */
  keyRange: Range;
  valueRange: Range;
}

export interface ExecuteOperation extends OperationBase {
  type: 'execute';
  /** Relative to the pattern folder; runs instead of `script` when both are set. */
  file?: string;
  fileRange?: Range;
  script?: string;
  scriptRange?: Range;
  arguments: string[];
  /** Whether metronome logs the command's output (default true). */
  output: boolean;
}

export interface ChefOperation extends OperationBase {
  type: 'chef';
  runList: string[];
  attributes?: Record<string, unknown>;
  /** Own keys, or `default.chef.attribute_keys` when the operation sets none. */
  attributeKeys: string[];
  configurations?: Record<string, unknown>;
}

export interface ConsulKvsOperation extends OperationBase {
  type: 'consul-kvs';
  action: string;
  key?: string;
  value?: string;
  /** `get` stores the value into this variable for later operations. */
  name?: string;
}

export interface ConsulEventOperation extends OperationBase {
  type: 'consul-event';
  name?: string;
  filter: { service?: string; tag?: string };
}

export interface ServiceOperation extends OperationBase {
  type: 'service';
  name?: string;
  action?: string;
}

export interface EchoOperation extends OperationBase {
  type: 'echo';
  message: string;
}

export type Operation =
  | ExecuteOperation
  | ChefOperation
  | ConsulKvsOperation
  | ConsulEventOperation
  | ServiceOperation
  | EchoOperation;

export type OperationType = Operation['type'];

export const OPERATION_TYPES: readonly OperationType[] = ['execute', 'chef', 'consul-kvs', 'consul-event', 'service', 'echo'];

export interface Task {
  name: string;
  description?: string;
  /** As written (seconds); undefined when the task relies on the default. */
  timeout?: number;
  /** What metronome will use: own timeout, else `default.timeout`. */
  effectiveTimeout: number;
  timeoutRange?: Range;
  operations: Operation[];
  keyRange: Range;
  valueRange: Range;
}

export interface PatternPlan {
  /** The folder's base name, which is how metronome names the pattern. */
  name: string;
  folder: string;
  filePath: string;
  environments: PlanEntry[];
  variables: PlanEntry[];
  defaults: PlanDefaults;
  /** In source order. */
  events: PlanEvent[];
  tasks: Task[];
}

/** Older name for a pattern's plan; same thing. */
export type PhasePlan = PatternPlan;

export const DEFAULT_PRIORITY = 50;
export const DEFAULT_TIMEOUT_SECONDS = 1800;

export function findTask(plan: PatternPlan, name: string): Task | undefined {
  return plan.tasks.find((t) => t.name === name);
}

export function findEvent(plan: PatternPlan, name: string): PlanEvent | undefined {
  return plan.events.find((e) => e.name === name);
}

/**
 * The phases metronome actually runs for an event: `task:` becomes a single
 * unfiltered phase and then `ordered_tasks` is not looked at.
 */
export function eventPhases(event: PlanEvent): Phase[] {
  if (event.task !== undefined && event.task !== '') {
    const range = event.taskRange ?? event.keyRange;
    return [{ task: event.task, skippable: false, range, taskRange: range }];
  }
  return event.orderedTasks ?? [];
}
