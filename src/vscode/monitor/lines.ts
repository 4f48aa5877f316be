/**
 * Node output → the lines the monitor shows. Output is untrusted: only SGR
 * colour sequences (ESC [ … m) survive; every other escape (cursor moves,
 * screen clears, OSC 8 hyperlinks, OSC 52 clipboard, title changes, device
 * queries) and control character is removed, so one node cannot move the
 * cursor over another's lines, plant a link, or make the terminal answer.
 * No `vscode` here: unit-tested in Node.
 */
import type { OutputLine } from './protocol';

// CSI (ESC [ or 0x9B) … final byte; OSC (ESC ] or 0x9D) … BEL or ST; DCS/SOS/PM/APC … ST; other 2-byte escapes.
const ESCAPES = /(?:\u001b\[|\u009b)([0-?]*[ -/]*)([@-~])|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[\s\S]*?(?:\u0007|\u001b\\|\u009c|$)|\u001b[ -/]*[0-~]?/g;
const CONTROLS = /[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f]/g;

/** Keeps SGR sequences with plain numeric parameters; drops every other escape and control character. */
export function sanitizeLine(text: string): string {
  const kept = text.replace(ESCAPES, (all, params: string | undefined, final: string | undefined) =>
    final === 'm' && all.startsWith('\u001b[') && /^[\d;:]*$/.test(params ?? '') ? all : '',
  );
  // What is left of ESC is only inside kept SGR sequences; protect them while removing controls.
  return kept
    .split(/(\u001b\[[\d;:]*m)/)
    .map((part, i) => (i % 2 ? part : part.replace(CONTROLS, '')))
    .join('');
}

/** A name (node, task) for one line of a terminal: no escapes, no controls at all. */
export function plainName(text: string): string {
  return sanitizeLine(text).replace(/\u001b\[[\d;:]*m/g, '');
}

/**
 * Splits one node's stream into lines, holding the partial last line. A lone
 * CR (a progress bar redrawing itself) keeps what follows it.
 */
export class LineSplitter {
  private partial = '';

  push(text: string): string[] {
    // Only the new text is searched: a stream without newlines must not cost quadratic time or unbounded memory.
    if (!text.includes('\n')) {
      this.partial = capLine(this.partial + text);
      return [];
    }
    const parts = text.split('\n');
    parts[0] = this.partial + parts[0];
    this.partial = capLine(parts.pop() ?? '');
    return parts.map((p) => finish(capLine(p)));
  }

  /** The partial line, if any (shown as is; it is completed by later output). */
  get pending(): string {
    return this.partial;
  }

  end(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest ? [finish(rest)] : [];
  }
}

function finish(line: string): string {
  const body = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cr = body.lastIndexOf('\r');
  return sanitizeLine(cr >= 0 ? body.slice(cr + 1) : body);
}

/**
 * The last `max` lines of a block of output read back (a tail, a file, a KV
 * log), numbered from the block's start; only those lines are split and cleaned.
 */
export function lastLines(text: string, phase: number, node: string, max: number): { lines: OutputLine[]; cut: boolean } {
  let total = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) total++;
  const complete = text.endsWith('\n');
  const count = total + (complete || !text ? 0 : 1);
  let start = text.length - (complete ? 1 : 0);
  let taken = 0;
  while (taken < max && start > 0) {
    const nl = text.lastIndexOf('\n', start - 1);
    taken++;
    start = nl < 0 ? 0 : nl;
    if (nl < 0) break;
  }
  // A block starting with a newline has an empty first line before it.
  if (start === 0 && text.startsWith('\n') && taken < max) taken++;
  const from = count - taken;
  const body = from > 0 ? text.slice(start + 1) : text;
  const split = new LineSplitter();
  const lines = [...split.push(body), ...split.end()];
  return { lines: lines.map((t, i) => ({ phase, node, no: from + i + 1, text: t })), cut: from > 0 };
}

/** The most of one line the monitor keeps: the end, which a progress bar's redraws leave current. */
const MAX_LINE_CHARS = 16 * 1024;

function capLine(line: string): string {
  return line.length > MAX_LINE_CHARS ? line.slice(-MAX_LINE_CHARS) : line;
}
