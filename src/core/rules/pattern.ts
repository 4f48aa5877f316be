/**
 * Name patterns of rules (node names, resource types and names, cookbooks):
 * a plain glob (`web-*`, `template`, `/etc/nginx/?*.conf`) or, when it starts
 * with `^`, a regular expression anchored at both ends (`^web-[0-9]+$`).
 *
 * Patterns come from settings and are tested against names from reports, so
 * a pattern must not be able to hang the editor: both kinds compile to a
 * Thompson automaton that is simulated state set by state set — time linear
 * in the name's length times the pattern's size, whatever the pattern
 * (no backtracking at all, so `^(a+)+$` is as fast as `^a+$`). The price is
 * the constructs only a backtracker has (backreferences, lookarounds, word
 * boundaries): those are refused with the construct named, not guessed at.
 */

export class PatternError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
    /** 0-based index in the pattern, when the problem is at one place. */
    readonly index?: number,
  ) {
    super(`"${pattern}" is not a valid pattern: ${reason}${index === undefined ? '' : ` (at character ${index + 1})`}.`);
    this.name = 'PatternError';
  }
}

export interface NamePattern {
  readonly source: string;
  readonly kind: 'glob' | 'regex';
  /** True when the whole of `name` matches. */
  test(name: string): boolean;
}

/** Automaton states, in a flat array: a state reads one character, splits, or accepts. */
type State = { t: 'char'; test: (c: string) => boolean; out: number } | { t: 'split'; a: number; b: number } | { t: 'match' };

/** Larger patterns are refused: a rule pattern is a name pattern, and the automaton's size bounds the time per name. */
const MAX_STATES = 4000;
const MAX_REPEAT = 100;
/** Groups nest this deep at most (the reader and the automaton's builder recurse per level). */
export const MAX_NESTING = 100;

type Node =
  | { n: 'char'; test: (c: string) => boolean }
  | { n: 'seq'; items: Node[] }
  | { n: 'alt'; items: Node[] }
  | { n: 'repeat'; item: Node; min: number; max: number | undefined };

/** Compiles a pattern; throws PatternError with the reason and the place. */
export function compilePattern(source: string): NamePattern {
  if (typeof source !== 'string' || source === '') throw new PatternError(String(source ?? ''), 'a pattern must be a non-empty string');
  const kind = source.startsWith('^') ? 'regex' : 'glob';
  const ast = kind === 'regex' ? new RegexParser(source).parse() : parseGlob(source);
  const states = new Builder(source).build(ast);
  return { source, kind, test: (name) => simulate(states, name) };
}

/** Why the pattern cannot be used, in words; undefined when it can. */
export function patternProblem(source: string): string | undefined {
  try {
    compilePattern(source);
    return undefined;
  } catch (e) {
    if (e instanceof PatternError) return e.message;
    throw e;
  }
}

const exactly = (ch: string) => (c: string) => c === ch;
const any = () => true;

function parseGlob(source: string): Node {
  const items: Node[] = [];
  const chars = [...source];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') items.push({ n: 'repeat', item: { n: 'char', test: any }, min: 0, max: undefined });
    else if (c === '?') items.push({ n: 'char', test: any });
    else if (c === '\\') {
      if (i + 1 >= chars.length) throw new PatternError(source, 'a "\\" at the end escapes nothing', source.length - 1);
      items.push({ n: 'char', test: exactly(chars[++i]) });
    } else if (c === '[') {
      // As fnmatch reads it: after "!" or "^", a "]" first is a member; a backslash escapes the next character; a "[" never closed is the character.
      let k = i + 1;
      const negated = chars[k] === '!' || chars[k] === '^';
      if (negated) k++;
      const members: Array<{ c: string; escaped: boolean }> = [];
      let close = -1;
      for (; k < chars.length; k++) {
        if (chars[k] === ']' && members.length) {
          close = k;
          break;
        }
        if (chars[k] === '\\' && k + 1 < chars.length) members.push({ c: chars[++k], escaped: true });
        else members.push({ c: chars[k], escaped: false });
      }
      if (close < 0) {
        items.push({ n: 'char', test: exactly('[') });
        continue;
      }
      const tests: Array<(c: string) => boolean> = [];
      for (let m = 0; m < members.length; m++) {
        const dash = members[m + 1];
        if (dash && dash.c === '-' && !dash.escaped && m + 2 < members.length) {
          const lo = members[m].c;
          const hi = members[m + 2].c;
          if (lo > hi) throw new PatternError(source, `the range "${lo}-${hi}" is backwards`, i);
          tests.push((x) => x >= lo && x <= hi);
          m += 2;
        } else tests.push(exactly(members[m].c));
      }
      items.push({ n: 'char', test: (x) => tests.some((t) => t(x)) !== negated });
      i = close;
    } else items.push({ n: 'char', test: exactly(c) });
  }
  return { n: 'seq', items };
}

const CLASS_ESCAPES: Record<string, (c: string) => boolean> = {
  d: (c) => c >= '0' && c <= '9',
  w: (c) => /^[A-Za-z0-9_]$/.test(c),
  s: (c) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v',
};
const CONTROL_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v' };

/** A recursive-descent reader of the regex subset: literals, `.`, classes, groups, `|`, `* + ? {m,n}`. */
class RegexParser {
  private pos = 1; // after the leading ^
  private readonly end: number;
  private depth = 0;

  constructor(private readonly src: string) {
    const backslashes = /\\*(?=\$$)/.exec(src)?.[0].length ?? 0;
    if (!src.endsWith('$') || src.length < 2 || backslashes % 2 === 1)
      throw new PatternError(src, 'a regular expression must be anchored at both ends: start with "^" and end with "$" (without "^" it is read as a glob)');
    this.end = src.length - 1;
  }

  parse(): Node {
    const node = this.alternation();
    if (this.pos < this.end) throw this.fail(this.src[this.pos] === ')' ? 'a ")" closes no group' : `unexpected "${this.src[this.pos]}"`);
    return node;
  }

  private fail(reason: string, at = this.pos): PatternError {
    return new PatternError(this.src, reason, at);
  }

  private alternation(): Node {
    const items = [this.sequence()];
    while (this.pos < this.end && this.src[this.pos] === '|') {
      this.pos++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0] : { n: 'alt', items };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.pos < this.end && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') items.push(this.repeat());
    return { n: 'seq', items };
  }

  private repeat(): Node {
    const start = this.pos;
    let node = this.atom();
    for (;;) {
      const c = this.src[this.pos];
      if (this.pos >= this.end) break;
      let min: number;
      let max: number | undefined;
      if (c === '*') [min, max] = [0, undefined];
      else if (c === '+') [min, max] = [1, undefined];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos, this.end));
        if (!m) throw this.fail('a "{" must be a repeat count like {2}, {2,} or {2,5} (write "\\{" for the character)');
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
        if (min > MAX_REPEAT || (max ?? 0) > MAX_REPEAT) throw this.fail(`repeat counts go up to ${MAX_REPEAT}`);
        if (max !== undefined && max < min) throw this.fail(`the repeat count {${m[1]},${m[3]}} is backwards`);
        this.pos += m[0].length - 1;
      } else break;
      this.pos++;
      // A lazy quantifier matches the same names as a greedy one: the same automaton.
      if (this.src[this.pos] === '?' && this.pos < this.end) this.pos++;
      if (this.pos < this.end && ('*+?'.includes(this.src[this.pos]) || /^\{\d/.test(this.src.slice(this.pos, this.end))))
        throw this.fail('a repeat cannot follow a repeat (put the inner part in a group)');
      node = { n: 'repeat', item: node, min, max };
    }
    if (this.pos === start) throw this.fail(`unexpected "${this.src[this.pos]}"`);
    return node;
  }

  private atom(): Node {
    const c = this.src[this.pos];
    if (c === '(') {
      const open = this.pos;
      this.pos++;
      if (this.src[this.pos] === '?') {
        if (this.src[this.pos + 1] !== ':')
          throw this.fail('lookarounds, named groups and flags "(?…)" are not supported; "(?:…)" and "(…)" are', open);
        this.pos += 2;
      }
      if (++this.depth > MAX_NESTING) throw this.fail(`groups nest more than ${MAX_NESTING} deep`, open);
      const inner = this.alternation();
      if (this.src[this.pos] !== ')' || this.pos >= this.end) throw this.fail('a "(" group is not closed with ")"', open);
      this.pos++;
      this.depth--;
      return inner;
    }
    if (c === '[') return this.charClass();
    if (c === '.') {
      this.pos++;
      return { n: 'char', test: (x) => x !== '\n' };
    }
    if (c === '\\') return { n: 'char', test: this.escape(false) };
    if (c === '*' || c === '+' || c === '?') throw this.fail(`"${c}" repeats nothing here (write "\\${c}" for the character)`);
    if (c === '{') throw this.fail('"{" repeats nothing here (write "\\{" for the character)');
    if (c === '^' || c === '$') throw this.fail(`"${c}" is only allowed at the very start ("^") and end ("$") of the pattern (write "\\${c}" for the character)`);
    const cp = String.fromCodePoint(this.src.codePointAt(this.pos)!);
    this.pos += cp.length;
    return { n: 'char', test: exactly(cp) };
  }

  /** After a backslash; inside a class `\b` would be a backspace in JS — refused there too, to stay unambiguous. */
  private escape(inClass: boolean): (c: string) => boolean {
    const at = this.pos;
    const e = this.src[this.pos + 1];
    if (this.pos + 1 >= this.end) throw this.fail('a "\\" at the end escapes nothing', at);
    this.pos += 2;
    const cls = CLASS_ESCAPES[e.toLowerCase()];
    if (cls) return e === e.toLowerCase() ? cls : (x) => !cls(x);
    if (CONTROL_ESCAPES[e]) return exactly(CONTROL_ESCAPES[e]);
    if (/[1-9]/.test(e)) throw this.fail('backreferences ("\\1" …) are not supported', at);
    if (e === 'b' || e === 'B') throw this.fail(inClass ? `"\\${e}" is not supported in a class` : `word boundaries ("\\${e}") are not supported`, at);
    if (/[A-Za-z0-9]/.test(e)) throw this.fail(`"\\${e}" is not a supported escape (supported: \\d \\w \\s \\D \\W \\S \\n \\t \\r and "\\" before punctuation)`, at);
    return exactly(e);
  }

  private charClass(): Node {
    const open = this.pos;
    this.pos++;
    const negated = this.src[this.pos] === '^';
    if (negated) this.pos++;
    const tests: Array<(c: string) => boolean> = [];
    let first = true;
    while (this.pos < this.end && (this.src[this.pos] !== ']' || first)) {
      first = false;
      const lo = this.classChar();
      if (this.src[this.pos] === '-' && this.pos + 1 < this.end && this.src[this.pos + 1] !== ']') {
        const dash = this.pos;
        this.pos++;
        const hi = this.classChar();
        if (typeof lo !== 'string' || typeof hi !== 'string') throw this.fail('a range needs a single character at each end', dash);
        if (lo > hi) throw this.fail(`the range "${lo}-${hi}" is backwards`, dash);
        tests.push((x) => x >= lo && x <= hi);
      } else tests.push(typeof lo === 'string' ? exactly(lo) : lo);
    }
    if (this.pos >= this.end) throw this.fail('a "[" class is not closed with "]"', open);
    this.pos++;
    return { n: 'char', test: (x) => tests.some((t) => t(x)) !== negated };
  }

  /** One character of a class (a string) or a class escape (a test). */
  private classChar(): string | ((c: string) => boolean) {
    if (this.src[this.pos] === '\\') {
      const e = this.src[this.pos + 1];
      if (e !== undefined && !CLASS_ESCAPES[e.toLowerCase()] && !CONTROL_ESCAPES[e] && !/[A-Za-z0-9]/.test(e)) {
        this.pos += 2;
        return e;
      }
      if (e !== undefined && CONTROL_ESCAPES[e]) {
        this.pos += 2;
        return CONTROL_ESCAPES[e];
      }
      return this.escape(true);
    }
    const cp = String.fromCodePoint(this.src.codePointAt(this.pos)!);
    this.pos += cp.length;
    return cp;
  }
}

/** Thompson's construction into a flat array of states. */
class Builder {
  private readonly states: State[] = [];

  constructor(private readonly source: string) {}

  build(ast: Node): State[] {
    // State 0 is where simulation starts: filled in once the start is known.
    this.add({ t: 'match' });
    const match = this.add({ t: 'match' });
    const start = this.compile(ast, match);
    this.states[0] = { t: 'split', a: start, b: start };
    return this.states;
  }

  private add(s: State): number {
    if (this.states.length >= MAX_STATES) throw new PatternError(this.source, `it is too large (more than ${MAX_STATES} states once its repeats are counted out)`);
    this.states.push(s);
    return this.states.length - 1;
  }

  /** Compiles `node` so that it continues at `next`; returns its entry state. */
  private compile(node: Node, next: number): number {
    switch (node.n) {
      case 'char':
        return this.add({ t: 'char', test: node.test, out: next });
      case 'seq': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = this.compile(node.items[i], entry);
        return entry;
      }
      case 'alt': {
        let entry = this.compile(node.items[node.items.length - 1], next);
        for (let i = node.items.length - 2; i >= 0; i--) entry = this.add({ t: 'split', a: this.compile(node.items[i], next), b: entry });
        return entry;
      }
      case 'repeat': {
        let entry = next;
        if (node.max === undefined) {
          // item* : a split that either enters the item (which loops back to the split) or leaves.
          const loop = this.add({ t: 'split', a: -1, b: next });
          const body = this.compile(node.item, loop);
          (this.states[loop] as { a: number }).a = body;
          entry = loop;
        } else {
          for (let i = node.max; i > node.min; i--) entry = this.add({ t: 'split', a: this.compile(node.item, entry), b: next });
        }
        for (let i = 0; i < node.min; i++) entry = this.compile(node.item, entry);
        return entry;
      }
    }
  }
}

function simulate(states: State[], name: string): boolean {
  let current = closure(states, [0]);
  for (const c of name) {
    const next: number[] = [];
    for (const s of current) {
      const st = states[s];
      if (st.t === 'char' && st.test(c)) next.push(st.out);
    }
    if (!next.length) return false;
    current = closure(states, next);
  }
  return current.some((s) => states[s].t === 'match');
}

/** The states reachable from `from` without reading (each once). */
function closure(states: State[], from: number[]): number[] {
  const seen = new Uint8Array(states.length);
  const out: number[] = [];
  const stack = [...from];
  while (stack.length) {
    const s = stack.pop()!;
    if (seen[s]) continue;
    seen[s] = 1;
    const st = states[s];
    if (st.t === 'split') stack.push(st.b, st.a);
    else out.push(s);
  }
  return out;
}
