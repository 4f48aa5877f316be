/**
 * What a node is sent for each remote operation. Values substituted into the
 * operator's chef and service command templates are shell-quoted (they can
 * come from KV); an `execute` file is read only from inside its pattern folder
 * and never from a FIFO or device; a script with arguments runs under its own
 * `#!` interpreter; and nothing goes out that an agent could not take.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_JOB_BYTES } from '../exec/rexecSpec';
import { fillCommandTemplate, MAX_ARG_BYTES, shellQuote } from '../exec/shellQuote';
import type { ExecuteOperation, Operation } from '../plans/model';
import { expandTemplate } from '../plans/template';

export interface OperationSettings {
  /** `{{run_list}}` is the comma-joined run list. */
  chefCommand: string;
  /** `{{name}}` and `{{action}}`. */
  serviceCommand: string;
}

export const DEFAULT_OPERATION_SETTINGS: OperationSettings = {
  chefCommand: 'chef-client -o {{run_list}}',
  serviceCommand: 'systemctl {{action}} {{name}}',
};

/** What one remote operation sends: a command for `sh -c`, or a script the agent writes to a file and runs. */
export interface NodeCommand {
  command?: string;
  script?: string;
  /** False for `execute: { output: false }`: the node discards the output and nothing of it is kept. */
  keepOutput: boolean;
}

export interface CommandContext {
  vars: Readonly<Record<string, string>>;
  /** Where `execute: file` is read from. */
  patternFolder?: string;
  settings: OperationSettings;
}

/** Something the operation would send that cannot or must not be sent; the message says which and why. */
export class OperationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationRefusedError';
  }
}

/** The job stores the script in base64 inside JSON: about three quarters of Consul's 512 KiB per key. */
const JOB_OVERHEAD_BYTES = 64;
export const MAX_SCRIPT_BYTES = Math.floor(((MAX_JOB_BYTES - JOB_OVERHEAD_BYTES) * 3) / 4);

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;

/** The command or script sent for a remote operation; undefined for operations the extension does itself. */
export function nodeCommand(op: Operation, ctx: CommandContext): NodeCommand | undefined {
  const x = (s: string) => expandTemplate(s, ctx.vars).text;
  switch (op.type) {
    case 'execute':
      return executeCommand(op, ctx, x);
    case 'chef':
      return shellCommand(commandFromTemplate(ctx.settings.chefCommand, { run_list: op.runList.map(x).join(',') }, ctx.vars), 'chefCommand');
    case 'service':
      return shellCommand(commandFromTemplate(ctx.settings.serviceCommand, { name: x(op.name ?? ''), action: x(op.action ?? '') }, ctx.vars), 'serviceCommand');
    default:
      return undefined;
  }
}

/**
 * An operator's command template with its placeholders filled: the
 * operation's own values first, then the plan's variables (expanded as
 * metronome would), each shell-quoted, in one pass, so that a value holding
 * `{{…}}` is never expanded again. Unknown placeholders stay as written.
 */
export function commandFromTemplate(template: string, own: Readonly<Record<string, string>>, vars: Readonly<Record<string, string>>): string {
  const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  return fillCommandTemplate(template, (name) => (has(own, name) ? own[name] : has(vars, name) ? expandTemplate(vars[name], vars).text : undefined));
}

/**
 * A command as `sh -c` takes it, or, when it is longer than Linux lets one
 * argument be, the same text as a job script: the agent writes it to a file
 * and its shell runs that (no `#!` line, so it is the same shell either way).
 */
function shellCommand(command: string, setting: string): NodeCommand {
  if (Buffer.byteLength(command) < MAX_ARG_BYTES) return { command, keepOutput: true };
  const script = `# chef-consul-ops: sent as a script, being longer than one command argument may be\n${command}\n`;
  checkScriptSize(script, `The \`${setting}\` command, filled in,`);
  return { script, keepOutput: true };
}

function checkScriptSize(script: string, what: string): void {
  const bytes = Buffer.byteLength(script);
  if (bytes > MAX_SCRIPT_BYTES) {
    throw new OperationRefusedError(
      `${what} is ${kib(bytes)}, but a remote exec job carries at most ${kib(MAX_SCRIPT_BYTES)} of script (Consul stores at most ${kib(MAX_JOB_BYTES)} per key, and the script travels in base64): not sent.`,
    );
  }
}

function executeCommand(op: ExecuteOperation, ctx: CommandContext, x: (s: string) => string): NodeCommand {
  const args = op.arguments.map(x);
  const body = op.file ? readPatternFile(ctx.patternFolder, x(op.file)) : x(op.script ?? '');
  const what = op.file ? `\`execute\` file '${x(op.file)}'` : 'The `execute` script';
  args.forEach((a, i) => {
    if (a.includes('\0')) throw new OperationRefusedError(`Argument ${i + 1} of ${what} contains a NUL character, which no process can receive: not sent.`);
    if (Buffer.byteLength(a) >= MAX_ARG_BYTES) {
      throw new OperationRefusedError(`Argument ${i + 1} of ${what} is ${kib(Buffer.byteLength(a))}; Linux passes at most ${kib(MAX_ARG_BYTES)} (less one byte) in one argument: not sent.`);
    }
  });
  if (body.trim() === '') throw new OperationRefusedError(`${what} is empty: there is nothing to run. Nothing was sent.`);
  if (body.includes('\0')) throw new OperationRefusedError(`${what} contains a NUL character; only text can be sent as a script: not sent.`);
  const script = !args.length && op.output ? body : scriptRunner(body, args, op.output);
  checkScriptSize(script, args.length || !op.output ? `${what}, with what runs it,` : what);
  return { script, keepOutput: op.output };
}

/**
 * A POSIX sh script that writes `body` to a temp file on the node and runs
 * it with `args`: by its own `#!` interpreter when it has one (kept, unlike
 * `sh -c body`), else by sh. The temp file is removed however the body
 * ends, and the body's exit status is the script's. With `keepOutput` false
 * the output is thrown away on the node, so none of it travels or is stored.
 * No size limit applies to the body but the job's: it is never an argument.
 */
export function scriptRunner(body: string, args: readonly string[], keepOutput = true): string {
  let delimiter: string;
  do delimiter = `CCO_SCRIPT_${randomBytes(8).toString('hex')}`;
  while (body.includes(delimiter));
  const text = body.endsWith('\n') ? body : `${body}\n`;
  const runner = body.startsWith('#!') ? '"$f"' : 'sh "$f"';
  const words = args.map((a) => ` ${shellQuote(a)}`).join('');
  return [
    '#!/bin/sh',
    '# chef-consul-ops: runs the operation\'s script with its arguments, by its own interpreter.',
    'f=$(mktemp "${TMPDIR:-/tmp}/cco-exec.XXXXXX") || exit 125',
    "trap 'rm -f \"$f\"; exit 129' HUP",
    "trap 'rm -f \"$f\"; exit 130' INT",
    "trap 'rm -f \"$f\"; exit 143' TERM",
    `cat > "$f" <<'${delimiter}' || { rm -f "$f"; exit 125; }`,
    `${text}${delimiter}`,
    'chmod 700 "$f" || { rm -f "$f"; exit 126; }',
    `${runner}${words}${keepOutput ? '' : ' >/dev/null 2>&1'}`,
    's=$?',
    'rm -f "$f"',
    'exit $s',
    '',
  ].join('\n');
}

const KIND_NAMES: Array<[(s: fs.Stats) => boolean, string]> = [
  [(s) => s.isFIFO(), 'a FIFO (named pipe)'],
  [(s) => s.isDirectory(), 'a directory'],
  [(s) => s.isCharacterDevice(), 'a character device'],
  [(s) => s.isBlockDevice(), 'a block device'],
  [(s) => s.isSocket(), 'a socket'],
];
const kindOf = (s: fs.Stats) => KIND_NAMES.find(([is]) => is(s))?.[1] ?? 'not a regular file';

/** True when `target` is `folder` itself or below it (both already resolved). */
function isInside(folder: string, target: string): boolean {
  const rel = path.relative(folder, target);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * The text of an `execute` file, read only from inside the pattern folder:
 * absolute paths, `..` escapes and symbolic links leading out are refused,
 * and so is anything but a regular file (a FIFO or a device could block the
 * read forever, or never end). Nothing outside the folder is opened.
 */
export function readPatternFile(patternFolder: string | undefined, file: string): string {
  const named = `\`execute\` file '${file}'`;
  if (!patternFolder) throw new OperationRefusedError(`${named} cannot be read: this run has no pattern folder to read it from. Nothing was sent.`);
  if (file.trim() === '') throw new OperationRefusedError('`execute` names an empty `file`. Nothing was sent.');
  if (file.includes('\0')) throw new OperationRefusedError(`${JSON.stringify(file)} is no file name: it contains a NUL character. Nothing was sent.`);
  if (path.isAbsolute(file)) {
    throw new OperationRefusedError(`${named} is an absolute path; \`execute\` reads files only from inside the pattern folder (${patternFolder}): write the path relative to it. Nothing was sent.`);
  }
  const folder = path.resolve(patternFolder);
  const wanted = path.resolve(folder, file);
  if (!isInside(folder, wanted)) {
    throw new OperationRefusedError(`${named} points outside the pattern folder (${folder}); \`execute\` reads files only from inside it. Nothing was sent.`);
  }
  let realFolder: string;
  let real: string;
  try {
    realFolder = fs.realpathSync.native(folder);
    real = fs.realpathSync.native(wanted);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ELOOP' ? 'is a loop of symbolic links' : code === 'EACCES' ? 'cannot be reached (permission denied)' : `cannot be resolved (${(e as Error).message})`;
    throw new OperationRefusedError(`${named} ${why} in the pattern folder (looked for ${wanted}). Nothing was sent.`);
  }
  if (!isInside(realFolder, real)) {
    throw new OperationRefusedError(`${named} leads outside the pattern folder (${realFolder}) through a symbolic link, to ${real}; \`execute\` reads files only from inside it. Nothing was sent.`);
  }
  const before = fs.lstatSync(real);
  if (!before.isFile()) throw new OperationRefusedError(`${named} is ${kindOf(before)}, not a regular file, so it is not read (reading it could block or never end). Nothing was sent.`);
  if (before.size > MAX_SCRIPT_BYTES) {
    throw new OperationRefusedError(`${named} is ${kib(before.size)}, but a remote exec job carries at most ${kib(MAX_SCRIPT_BYTES)} of script. Nothing was sent.`);
  }
  // The path was checked a moment ago; what is opened is checked again, and opening never waits.
  const fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile() || opened.ino !== before.ino || opened.dev !== before.dev) {
      throw new OperationRefusedError(`${named} changed while it was being opened (now ${opened.isFile() ? 'another file' : kindOf(opened)}); not read. Nothing was sent.`);
    }
    // A folder on the way swapped for a symbolic link after the check would lead elsewhere:
    // where the open descriptor really points is asked of the kernel (Linux).
    let openedAt: string | undefined;
    try {
      openedAt = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      openedAt = undefined; // no /proc: the checks above stand
    }
    if (openedAt !== undefined && !isInside(realFolder, openedAt)) {
      throw new OperationRefusedError(`${named} led outside the pattern folder while it was being opened (to ${openedAt}); not read. Nothing was sent.`);
    }
    const bytes = Buffer.alloc(Math.min(opened.size, MAX_SCRIPT_BYTES + 1));
    let got = 0;
    while (got < bytes.length) {
      const n = fs.readSync(fd, bytes, got, bytes.length - got, got);
      if (n === 0) break;
      got += n;
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, got));
    } catch {
      throw new OperationRefusedError(`${named} is not UTF-8 text; only text scripts can be sent. Nothing was sent.`);
    }
  } finally {
    fs.closeSync(fd);
  }
}
