/**
 * Go regular expressions (RE2 syntax, Go's `regexp` package) read as Consul's
 * agents read them, translated into an equivalent JavaScript RegExp.
 *
 * Consul agents compile event filters with `regexp.Compile` and test them
 * with `MatchString` (unanchored, match or no match). JavaScript reads some
 * of Go's syntax differently (`\A` is "A", `\z` is "z", `[[:digit:]]` is a
 * class followed by "]", `.` also refuses \r, \u2028, \u2029, `\s` takes
 * Unicode spaces, `\p{C}` takes unassigned code points) and accepts things Go
 * refuses (lookarounds, backreferences, `\cX`, `\u0041`). So the pattern is
 * parsed here the way Go's `regexp/syntax` parses it (Perl flags: one-line
 * `^`/`$`, `.` not matching \n unless (?s), classes may match \n, Unicode
 * groups) and written out again as a JavaScript pattern with the `u` flag
 * and no other flag: every Go construct becomes an explicit JS construct
 * (`.` → `[^\n]`, (?m)`^` → `(?:^|(?<=\n))`, (?i) → explicit case classes),
 * so no JS flag can change the meaning.
 *
 * A pattern Go refuses throws a GoRegexError of kind `rejected`: Consul's
 * HTTP API refuses the event and no agent could compile the filter. A
 * pattern that cannot be read here exactly as Go reads it throws kind
 * `unsure`, naming the construct and where it is, instead of guessing:
 *   - case-insensitive matching of non-ASCII letters and Unicode classes
 *     (Go folds them with its own tables; only ASCII, ſ and the Kelvin sign
 *     are folded here);
 *   - a quantifier straight after a flag group or an empty \Q\E (Go then
 *     repeats what came before them);
 *   - scripts newer than Unicode 12 (Consul 1.8.7 is built with Go 1.15,
 *     which knows Unicode 12; newer Go knows more).
 * Code points assigned after Go's Unicode version may still be classed
 * differently by `\p{…}`; node names, service IDs and tags are practically
 * never made of them.
 */

export type GoRegexErrorKind = 'rejected' | 'unsure';

export class GoRegexError extends Error {
  constructor(
    /** `rejected`: Go refuses the pattern. `unsure`: it cannot be read here exactly as Go reads it. */
    readonly kind: GoRegexErrorKind,
    readonly pattern: string,
    /** The construct, as written in the pattern. */
    readonly construct: string,
    /** 0-based index of the construct in the pattern (UTF-16 units). */
    readonly index: number,
    readonly reason: string,
  ) {
    super(
      kind === 'rejected'
        ? `"${pattern}" is not a valid regular expression for Consul's agents (Go's regexp): ${reason} — ${describe(construct, index)}. ` +
            'Consul refuses such a filter and no agent could compile it: the event would reach no node.'
        : `"${pattern}" cannot be read here exactly as Consul's agents (Go's regexp) read it: ${reason} — ${describe(construct, index)}. ` +
            'It is refused rather than guessed.',
    );
    this.name = 'GoRegexError';
  }
}

function describe(construct: string, index: number): string {
  return construct ? `"${construct}" at character ${index + 1}` : `at character ${index + 1}`;
}

/** The pattern as an equivalent JavaScript RegExp (flag `u`); throws GoRegexError. */
export function goRegExp(pattern: string): RegExp {
  const source = translateGoRegex(pattern);
  try {
    return new RegExp(source, 'u');
  } catch (e) {
    // A translation JS refuses is a bug here, not the user's: say so rather than guess.
    throw new GoRegexError('unsure', pattern, pattern, 0, `its translation "${source}" does not compile in JavaScript (${(e as Error).message})`);
  }
}

/** Why the pattern cannot be used as Consul reads it, in words; undefined when it can. */
export function goRegexProblem(pattern: string): string | undefined {
  try {
    goRegExp(pattern);
    return undefined;
  } catch (e) {
    if (e instanceof GoRegexError) return e.message;
    throw e;
  }
}

/** The JavaScript source (for flag `u`) equivalent to a Go pattern; throws GoRegexError. */
export function translateGoRegex(pattern: string): string {
  return new Parser(pattern).parse();
}

// ---------------------------------------------------------------------------
// Character sets

const MAX_RUNE = 0x10ffff;
type Range = [number, number];

/** A set of code points: ranges plus JS property escapes (`\p{L}`, `\P{Script=Greek}`), never case-folded by JS. */
interface CharSet {
  ranges: Range[];
  props: string[];
}

function normalize(ranges: Range[]): Range[] {
  const sorted = ranges.filter(([lo, hi]) => lo <= hi).sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

const LONG_S = 0x17f; // ſ, folds with s and S
const KELVIN = 0x212a; // K, folds with k and K

/** Case-fold closure of an ASCII-only set, as Go's simple folding gives it. */
function foldAscii(ranges: Range[]): Range[] {
  const out: Range[] = [...ranges];
  for (const [lo, hi] of ranges) {
    for (let c = Math.max(lo, 0x41); c <= Math.min(hi, 0x7a); c++) {
      const lower = c | 0x20;
      if (lower < 0x61 || lower > 0x7a) continue;
      out.push([lower, lower], [lower - 0x20, lower - 0x20]);
      if (lower === 0x73) out.push([LONG_S, LONG_S]);
      if (lower === 0x6b) out.push([KELVIN, KELVIN]);
    }
  }
  return normalize(out);
}

/** True when JS knows upper/lower case forms for the code point (its Go fold orbit is then not known here). */
function isCased(c: number): boolean {
  const s = String.fromCodePoint(c);
  return s.toLowerCase() !== s || s.toUpperCase() !== s;
}

// Go's Perl and POSIX classes (regexp/syntax perl_groups.go): ASCII only.
const PERL_GROUPS: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
};
const POSIX_GROUPS = new Map<string, Range[]>(Object.entries({
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
} satisfies Record<string, Range[]>));

// Go's unicode.Categories: no Cn, no LC, no long names.
const GO_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);
// Go's unicode.Scripts as of Unicode 12 (Go 1.14/1.15, the Go of Consul 1.8.7).
export const GO_SCRIPTS: ReadonlySet<string> = new Set(
  (
    'Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki Bopomofo Brahmi ' +
    'Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee Common Coptic Cuneiform Cypriot ' +
    'Cyrillic Deseret Devanagari Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha ' +
    'Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited ' +
    'Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kayah_Li Kharoshthi Khmer Khojki Khudawadi Lao ' +
    'Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi ' +
    'Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean ' +
    'Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian ' +
    'Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau ' +
    'Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian ' +
    'Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangut Telugu Thaana ' +
    'Thai Tibetan Tifinagh Tirhuta Ugaritic Vai Wancho Warang_Citi Yi Zanabazar_Square'
  ).split(' '),
);
// Scripts of Unicode 13 and later: Go 1.15 rejects them, newer Go accepts them.
const LATER_SCRIPTS = new Set(
  (
    'Chorasmian Dives_Akuru Khitan_Small_Script Yezidi Cypro_Minoan Old_Uyghur Tangsa Toto Vithkuqi Kawi Nag_Mundari ' +
    'Garay Gurung_Khema Kirat_Rai Ol_Onal Sunuwar Todhri Tulu_Tigalari'
  ).split(' '),
);

/** Go's `\p{name}` (sign +1) or `\P{name}` (-1) as a CharSet; undefined for an unknown name. */
function unicodeClass(name: string, sign: 1 | -1): CharSet | undefined {
  if (name === 'Any') return sign > 0 ? { ranges: [[0, MAX_RUNE]], props: [] } : { ranges: [], props: [] };
  if (name === 'C') {
    // Go's C is Cc|Cf|Co|Cs; JavaScript's also takes unassigned code points (Cn).
    return sign > 0 ? { ranges: [], props: ['\\p{Cc}', '\\p{Cf}', '\\p{Co}', '\\p{Cs}'] } : { ranges: [], props: ['\\P{C}', '\\p{Cn}'] };
  }
  if (GO_CATEGORIES.has(name)) return { ranges: [], props: [`\\${sign > 0 ? 'p' : 'P'}{${name}}`] };
  if (GO_SCRIPTS.has(name)) return { ranges: [], props: [`\\${sign > 0 ? 'p' : 'P'}{Script=${name}}`] };
  return undefined;
}

// ---------------------------------------------------------------------------
// Syntax tree

type Node =
  | { t: 'set'; set: CharSet; negate: boolean }
  | { t: 'assert'; js: string }
  | { t: 'group'; capture: boolean; alts: Node[][] }
  /** `counted`: written {n}, {n,} or {n,m} (Go's OpRepeat, the only kind its size check counts). */
  | { t: 'repeat'; sub: Node; min: number; max: number; lazy: boolean; counted: boolean };

interface Flags {
  /** (?i) */
  fold: boolean;
  /** (?m): ^ and $ also at line breaks */
  multiLine: boolean;
  /** (?s): . matches \n */
  dotNL: boolean;
  /** (?U): quantifiers lazy by default */
  ungreedy: boolean;
}

interface Frame {
  /** Flags to restore at the closing parenthesis. */
  outerFlags: Flags;
  capture: boolean;
  alts: Node[][];
  /** Where the group opened, for "missing closing )". */
  index: number;
}

function hex(c: number): string {
  return `\\u{${c.toString(16)}}`;
}

/** A code point written for a JS `u` pattern, inside a class or not. */
function jsChar(c: number, inClass = false): string {
  const ch = String.fromCodePoint(c);
  if (/^[\^$\\.*+?()[\]{}|/]$/.test(ch) || (inClass && ch === '-')) return `\\${ch}`;
  return c >= 0x20 && c <= 0x7e ? ch : hex(c);
}

function jsSet(set: CharSet, negate: boolean): string {
  let ranges = normalize(set.ranges);
  // Write the smaller side: [^\n] rather than every other range.
  if (!set.props.length && ranges.length > 1 && complement(ranges).length < ranges.length) {
    ranges = complement(ranges);
    negate = !negate;
  }
  if (!negate && !set.props.length && ranges.length === 1 && ranges[0][0] === ranges[0][1]) return jsChar(ranges[0][0]);
  const items = ranges.map(([lo, hi]) => (lo === hi ? jsChar(lo, true) : `${jsChar(lo, true)}-${jsChar(hi, true)}`));
  return `[${negate ? '^' : ''}${items.join('')}${set.props.join('')}]`;
}

function jsNode(n: Node): string {
  switch (n.t) {
    case 'set':
      return jsSet(n.set, n.negate);
    case 'assert':
      return n.js;
    case 'group':
      return `(${n.capture ? '' : '?:'}${n.alts.map((a) => a.map(jsNode).join('')).join('|')})`;
    case 'repeat': {
      let sub = jsNode(n.sub);
      // JS cannot quantify an assertion directly (Go can: `^*`).
      if (n.sub.t === 'assert') sub = `(?:${sub})`;
      const q =
        n.min === 0 && n.max === -1 ? '*' : n.min === 1 && n.max === -1 ? '+' : n.min === 0 && n.max === 1 ? '?' : n.max === -1 ? `{${n.min},}` : n.min === n.max ? `{${n.min}}` : `{${n.min},${n.max}}`;
      return `${sub}${q}${n.lazy ? '?' : ''}`;
    }
  }
}

/** Go's repeatIsValid: nested counted repetitions may not multiply beyond 1000. */
function repeatIsValid(n: Node, limit: number): boolean {
  if (n.t === 'repeat' && !n.counted) return repeatIsValid(n.sub, limit);
  if (n.t === 'repeat') {
    let m = n.max;
    if (m === 0) return true;
    if (m < 0) m = n.min;
    if (m > limit) return false;
    if (m > 0) limit = Math.floor(limit / m);
    return repeatIsValid(n.sub, limit);
  }
  if (n.t === 'group') return n.alts.every((alt) => alt.every((s) => repeatIsValid(s, limit)));
  return true;
}

// ---------------------------------------------------------------------------
// Parser: follows Go's regexp/syntax parser with the Perl flags, step by step.

const isDigit = (s: string | undefined) => s !== undefined && s >= '0' && s <= '9';
const isOctal = (s: string | undefined) => s !== undefined && s >= '0' && s <= '7';
const isAlnum = (s: string) => /^[A-Za-z0-9]$/.test(s);
const unhex = (s: string | undefined) => (s !== undefined && /^[0-9A-Fa-f]$/.test(s) ? parseInt(s, 16) : -1);

class Parser {
  private pos = 0;
  private flags: Flags = { fold: false, multiLine: false, dotNL: false, ungreedy: false };
  private readonly stack: Frame[] = [];
  private alts: Node[][] = [[]];
  /** The text of the last repetition operator, when the previous token was one (Go refuses `a**`). */
  private lastRepeat = '';
  /** The previous token produced no node (a flag group, an empty \Q\E). */
  private lastWasEmpty = false;

  constructor(private readonly src: string) {}

  private reject(construct: string, index: number, reason: string): never {
    throw new GoRegexError('rejected', this.src, construct, index, reason);
  }

  private unsure(construct: string, index: number, reason: string): never {
    throw new GoRegexError('unsure', this.src, construct, index, reason);
  }

  /** The code point at `i` as a string (one or two UTF-16 units). */
  private charAt(i: number): string | undefined {
    if (i >= this.src.length) return undefined;
    return String.fromCodePoint(this.src.codePointAt(i) as number);
  }

  private get current(): Node[] {
    return this.alts[this.alts.length - 1];
  }

  private push(n: Node): void {
    this.current.push(n);
  }

  parse(): string {
    const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(this.src);
    if (lone) this.reject('', lone.index, 'invalid UTF-8 (a lone surrogate)');
    const s = this.src;
    while (this.pos < s.length) {
      const start = this.pos;
      const c = s[this.pos];
      let repeat = '';
      let empty = false;
      switch (c) {
        case '(':
          if (s[this.pos + 1] === '?') empty = this.parsePerlFlags();
          else {
            this.open(true, start);
            this.pos++;
          }
          break;
        case '|':
          this.alts.push([]);
          this.pos++;
          break;
        case ')':
          this.close(start);
          this.pos++;
          break;
        case '^':
          this.push({ t: 'assert', js: this.flags.multiLine ? '(?:^|(?<=\\n))' : '^' });
          this.pos++;
          break;
        case '$':
          this.push({ t: 'assert', js: this.flags.multiLine ? '(?:$|(?=\\n))' : '$' });
          this.pos++;
          break;
        case '.':
          this.push({ t: 'set', set: { ranges: this.flags.dotNL ? [[0, MAX_RUNE]] : [[0, 9], [11, MAX_RUNE]], props: [] }, negate: false });
          this.pos++;
          break;
        case '[':
          this.parseClass();
          break;
        case '*':
        case '+':
        case '?': {
          this.pos++;
          const [min, max] = c === '*' ? [0, -1] : c === '+' ? [1, -1] : [0, 1];
          repeat = this.repeat(min, max, start);
          break;
        }
        case '{': {
          const r = this.parseRepeat(this.pos);
          if (!r) {
            // Not a valid {n}, {n,} or {n,m}: Go takes the brace literally.
            this.literal(0x7b);
            this.pos++;
            break;
          }
          const text = s.slice(start, r.end);
          if (r.min < 0 || r.min > 1000 || r.max > 1000 || (r.max >= 0 && r.min > r.max)) {
            this.reject(text, start, 'invalid repeat count (counts go up to 1000, and the minimum may not exceed the maximum)');
          }
          this.pos = r.end;
          repeat = this.repeat(r.min, r.max, start);
          break;
        }
        case '\\':
          empty = this.parseBackslash();
          break;
        default: {
          const ch = this.charAt(this.pos) as string;
          this.literal(ch.codePointAt(0) as number);
          this.pos += ch.length;
        }
      }
      this.lastRepeat = repeat;
      this.lastWasEmpty = empty;
    }
    if (this.stack.length) this.reject('(', this.stack[this.stack.length - 1].index, 'missing closing )');
    return this.alts.map((a) => a.map(jsNode).join('')).join('|');
  }

  private open(capture: boolean, index: number): void {
    this.stack.push({ outerFlags: { ...this.flags }, capture, alts: this.alts, index });
    this.alts = [[]];
  }

  private close(index: number): void {
    const frame = this.stack.pop();
    if (!frame) this.reject(')', index, 'unexpected ) (no group to close)');
    const group: Node = { t: 'group', capture: frame.capture, alts: this.alts };
    this.alts = frame.alts;
    this.flags = frame.outerFlags;
    this.push(group);
  }

  /** A quantifier over the previous node; returns the operator's text (with its `?`). */
  private repeat(min: number, max: number, start: number): string {
    const s = this.src;
    let lazy = this.flags.ungreedy;
    if (s[this.pos] === '?') {
      lazy = !lazy;
      this.pos++;
    }
    const text = s.slice(start, this.pos);
    if (this.lastRepeat) {
      this.reject(this.lastRepeat + text, start - this.lastRepeat.length, 'invalid nested repetition operator (Go allows no quantifier on a quantifier; possessive quantifiers are not supported)');
    }
    const nodes = this.current;
    const sub = nodes[nodes.length - 1];
    if (!sub) this.reject(text, start, 'missing argument to repetition operator');
    if (this.lastWasEmpty) {
      this.unsure(text, start, 'a quantifier right after a flag group or an empty \\Q\\E applies, in Go, to what came before them');
    }
    const counted = text[0] === '{';
    const node: Node = { t: 'repeat', sub, min, max, lazy, counted };
    if (counted && (min >= 2 || max >= 2) && !repeatIsValid(node, 1000)) {
      this.reject(text, start, 'invalid repeat count (nested counted repetitions may not multiply beyond 1000)');
    }
    nodes[nodes.length - 1] = node;
    return text;
  }

  /** Go's parseRepeat: `{n}`, `{n,}`, `{n,m}` from `at`; undefined when the brace is a literal. */
  private parseRepeat(at: number): { min: number; max: number; end: number } | undefined {
    const s = this.src;
    let i = at + 1;
    const int = (): number | undefined => {
      if (!isDigit(s[i])) return undefined;
      if (s[i] === '0' && isDigit(s[i + 1])) return undefined; // no leading zeros
      let n = 0;
      const from = i;
      while (isDigit(s[i])) i++;
      for (const d of s.slice(from, i)) {
        // Too large to read: Go's -1 (for a maximum, kept apart from "no maximum").
        if (n >= 1e8) return -2;
        n = n * 10 + Number(d);
      }
      return n;
    };
    const min = int();
    if (min === undefined || i >= s.length) return undefined;
    let max: number;
    if (s[i] !== ',') max = min;
    else {
      i++;
      if (i >= s.length) return undefined;
      if (s[i] === '}') max = -1;
      else {
        const m = int();
        if (m === undefined) return undefined;
        max = m;
      }
    }
    if (s[i] !== '}') return undefined;
    // A maximum too large to read makes the whole count invalid, as in Go.
    return { min: max < -1 ? -1 : min, max, end: i + 1 };
  }

  /** A literal code point, folded under (?i). */
  private literal(c: number): void {
    if (!this.flags.fold) {
      this.push({ t: 'set', set: { ranges: [[c, c]], props: [] }, negate: false });
      return;
    }
    this.push({ t: 'set', set: { ranges: this.foldRange(c, c, this.pos), props: [] }, negate: false });
  }

  /** The case-fold closure of [lo, hi], as far as it is known here. */
  private foldRange(lo: number, hi: number, index: number): Range[] {
    const ascii: Range[] = lo <= 0x7f ? [[lo, Math.min(hi, 0x7f)]] : [];
    const out: Range[] = [...foldAscii(ascii)];
    if (hi > 0x7f) {
      const from = Math.max(lo, 0x80);
      out.push([from, hi]);
      // A range over every cased code point is its own closure, plus ASCII partners of ſ and K.
      if (!(from <= 0xb5 && hi >= 0x1e943)) {
        if (hi - from > 0x20000) this.unsure(this.src.slice(index, index + 1), index, 'case-insensitive matching of a wide non-ASCII range is not known here');
        for (let c = from; c <= hi; c++) {
          if (c === LONG_S || c === KELVIN) continue;
          if (isCased(c)) {
            this.unsure(String.fromCodePoint(c), index, `(?i) on the non-ASCII letter "${String.fromCodePoint(c)}": Go folds it with its own Unicode tables, not known here`);
          }
        }
      }
      if (from <= LONG_S && LONG_S <= hi) out.push(...foldAscii([[0x73, 0x73]]));
      if (from <= KELVIN && KELVIN <= hi) out.push(...foldAscii([[0x6b, 0x6b]]));
    }
    return normalize(out);
  }

  /** A named ASCII group (Perl or POSIX), folded under (?i) before any negation, as Go does. */
  private group(ranges: Range[], negated: boolean): Range[] {
    const base = this.flags.fold ? foldAscii(ranges) : ranges;
    return negated ? complement(base) : base;
  }

  /** `(?` … : flags, non-capturing and named groups. Returns true when nothing was pushed. */
  private parsePerlFlags(): boolean {
    const s = this.src;
    const start = this.pos;
    const rest = s.slice(start);
    if (rest.startsWith('(?=') || rest.startsWith('(?!')) this.reject(rest.slice(0, 3), start, 'lookahead is not supported');
    if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) this.reject(rest.slice(0, 4), start, 'lookbehind is not supported');
    if (rest.startsWith('(?<')) {
      this.reject('(?<', start, 'named groups written (?<name>…) need Go 1.22 or later; Consul 1.8.7 (Go 1.15) rejects them — write (?P<name>…)');
    }
    if (rest.length > 4 && rest.startsWith('(?P<')) {
      const end = rest.indexOf('>');
      if (end < 0) this.reject(rest, start, 'invalid named capture (no closing >)');
      const name = rest.slice(4, end);
      if (!/^[A-Za-z0-9_]+$/.test(name)) this.reject(rest.slice(0, end + 1), start, 'invalid named capture (a name is letters, digits and _)');
      this.open(true, start);
      this.pos = start + end + 1;
      return false;
    }
    if (rest.startsWith('(?P=') || rest.startsWith('(?P>')) this.reject(rest.slice(0, 4), start, 'backreferences and subroutine calls are not supported');
    const flags = { ...this.flags };
    let sign = 1;
    let sawFlag = false;
    let i = start + 2;
    for (; i < s.length; i++) {
      const c = s[i];
      switch (c) {
        case 'i':
        case 'm':
        case 's':
        case 'U': {
          const on = sign > 0;
          if (c === 'i') flags.fold = on;
          if (c === 'm') flags.multiLine = on;
          if (c === 's') flags.dotNL = on;
          if (c === 'U') flags.ungreedy = on;
          sawFlag = true;
          continue;
        }
        case '-':
          if (sign < 0) break;
          sign = -1;
          sawFlag = false;
          continue;
        case ':':
        case ')':
          if (sign < 0 && !sawFlag) break;
          if (c === ':') {
            this.open(false, start);
            this.flags = flags;
            this.pos = i + 1;
            return false;
          }
          this.flags = flags;
          this.pos = i + 1;
          return true;
        default:
          break;
      }
      break;
    }
    const bad = s.slice(start, Math.min(i + 1, s.length));
    const what =
      s[start + 2] === '#' ? 'comments (?#…) are not supported' : s[start + 2] === '>' ? 'atomic groups are not supported' : 'invalid or unsupported Perl syntax (flags are i, m, s and U)';
    this.reject(bad, start, what);
  }

  /** A backslash outside a class. Returns true when nothing was pushed. */
  private parseBackslash(): boolean {
    const s = this.src;
    const start = this.pos;
    const c = s[start + 1];
    switch (c) {
      case 'A':
        this.push({ t: 'assert', js: '^' });
        this.pos += 2;
        return false;
      case 'z':
        this.push({ t: 'assert', js: '$' });
        this.pos += 2;
        return false;
      case 'b':
        // Go's word characters are ASCII, as JavaScript's are without the i flag.
        this.push({ t: 'assert', js: '\\b' });
        this.pos += 2;
        return false;
      case 'B':
        this.push({ t: 'assert', js: '\\B' });
        this.pos += 2;
        return false;
      case 'C':
        return this.reject('\\C', start, '\\C (any byte) is not supported');
      case 'Q': {
        const end = s.indexOf('\\E', start + 2);
        const lit = end < 0 ? s.slice(start + 2) : s.slice(start + 2, end);
        this.pos = start + 2;
        for (const ch of lit) {
          this.literal(ch.codePointAt(0) as number);
          this.pos += ch.length;
        }
        this.pos = end < 0 ? s.length : end + 2;
        return lit.length === 0;
      }
    }
    const unicode = this.parseUnicodeClass();
    if (unicode) {
      this.push({ t: 'set', set: unicode, negate: false });
      return false;
    }
    const perl = this.parsePerlClass();
    if (perl) {
      this.push({ t: 'set', set: { ranges: perl, props: [] }, negate: false });
      return false;
    }
    this.literal(this.parseEscape(false));
    return false;
  }

  /** `\d \D \s \S \w \W` at pos, advancing past it. */
  private parsePerlClass(): Range[] | undefined {
    const c = this.src[this.pos + 1];
    const g = c && PERL_GROUPS[c.toLowerCase()];
    if (!g || !'dswDSW'.includes(c)) return undefined;
    this.pos += 2;
    return this.group(g, c !== c.toLowerCase());
  }

  /** `\pL`, `\p{Greek}`, `\P{^Lu}` at pos, advancing past it. */
  private parseUnicodeClass(): CharSet | undefined {
    const s = this.src;
    const start = this.pos;
    if (s[start] !== '\\' || (s[start + 1] !== 'p' && s[start + 1] !== 'P')) return undefined;
    let sign: 1 | -1 = s[start + 1] === 'P' ? -1 : 1;
    let name: string;
    let end: number;
    if (s[start + 2] !== '{') {
      name = this.charAt(start + 2) ?? '';
      end = start + 2 + name.length;
    } else {
      const close = s.indexOf('}', start);
      if (close < 0) this.reject(s.slice(start), start, 'invalid character class range (no closing })');
      name = s.slice(start + 3, close);
      end = close + 1;
    }
    const seq = s.slice(start, end);
    if (name.startsWith('^')) {
      sign = -sign as 1 | -1;
      name = name.slice(1);
    }
    if (LATER_SCRIPTS.has(name)) {
      this.unsure(seq, start, `the script ${name} is newer than Unicode 12: Consul 1.8.7's Go 1.15 rejects it, newer Go accepts it`);
    }
    const set = unicodeClass(name, sign);
    if (!set) {
      this.reject(seq, start, 'unknown Unicode class (Go knows general categories such as L, Lu, Nd, scripts such as Greek or Latin, and Any)');
    }
    if (this.flags.fold && name !== 'Any') {
      this.unsure(seq, start, 'a Unicode class under (?i): Go adds the case variants from its own tables, not known here');
    }
    this.pos = end;
    return set;
  }

  /**
   * Go's parseEscape at pos: one code point, advancing past it. `inClass`
   * only changes the wording of refusals.
   */
  private parseEscape(inClass: boolean): number {
    const s = this.src;
    const start = this.pos;
    if (start + 1 >= s.length) this.reject('\\', start, 'trailing backslash at end of expression');
    const c = this.charAt(start + 1) as string;
    const bad = (reason: string, len = 2): never => this.reject(s.slice(start, start + len), start, reason);
    if (c.length === 1 && c.charCodeAt(0) < 0x80 && !isAlnum(c)) {
      this.pos = start + 2;
      return c.charCodeAt(0);
    }
    if (c >= '1' && c <= '7' && !isOctal(s[start + 2])) bad('backreferences are not supported (a single digit after \\ is one; octal codes take \\0 or two or three digits)');
    if (c >= '0' && c <= '7') {
      let r = Number(c);
      let i = start + 2;
      for (let k = 1; k < 3 && isOctal(s[i]); k++, i++) r = r * 8 + Number(s[i]);
      this.pos = i;
      return r;
    }
    switch (c) {
      case 'x': {
        if (s[start + 2] === '{') {
          let i = start + 3;
          let r = 0;
          let n = 0;
          for (; i < s.length && s[i] !== '}'; i++) {
            const v = unhex(s[i]);
            if (v < 0) bad('invalid escape sequence (\\x{…} takes hexadecimal digits)', i - start + 1);
            r = r * 16 + v;
            if (r > MAX_RUNE) bad('invalid escape sequence (beyond U+10FFFF)', i - start + 1);
            n++;
          }
          if (i >= s.length || n === 0) bad('invalid escape sequence (\\x{…} needs hexadecimal digits and a closing })', i - start + 1);
          this.pos = i + 1;
          return r;
        }
        const x = unhex(s[start + 2]);
        const y = unhex(s[start + 3]);
        if (x < 0 || y < 0) bad('invalid escape sequence (\\x takes two hexadecimal digits or \\x{…})', 4);
        this.pos = start + 4;
        return x * 16 + y;
      }
      case 'a':
        this.pos = start + 2;
        return 0x07;
      case 'f':
        this.pos = start + 2;
        return 0x0c;
      case 'n':
        this.pos = start + 2;
        return 0x0a;
      case 'r':
        this.pos = start + 2;
        return 0x0d;
      case 't':
        this.pos = start + 2;
        return 0x09;
      case 'v':
        this.pos = start + 2;
        return 0x0b;
    }
    const hints = new Map<string, string>(Object.entries({
      Z: 'Go has no \\Z: write \\z (end of text) or $',
      c: 'control escapes \\cX are not supported: write \\x01 … \\x1F',
      u: 'Go has no \\u escapes: write \\x{…}',
      U: 'Go has no \\U escapes: write \\x{…}',
      '8': 'backreferences are not supported',
      '9': 'backreferences are not supported',
      k: 'named backreferences are not supported',
      g: 'backreferences are not supported',
      G: '\\G is not supported',
      K: '\\K is not supported',
      E: '\\E without \\Q',
    }));
    if (inClass && c === 'b') hints.set('b', 'Go has no backspace escape [\\b]: write \\x08');
    const hint = hints.get(c);
    return bad(`invalid escape sequence${hint ? ` (${hint})` : ''}`, 1 + c.length);
  }

  /** Go's parseClass: `[` … `]`. */
  private parseClass(): void {
    const s = this.src;
    const start = this.pos;
    let i = start + 1;
    let negate = false;
    if (s[i] === '^') {
      negate = true;
      i++;
    }
    const ranges: Range[] = [];
    const props: string[] = [];
    let first = true;
    while (i >= s.length || s[i] !== ']' || first) {
      if (i >= s.length) this.reject(s.slice(start), start, 'missing closing ]');
      first = false;
      // POSIX [:alnum:] etc.
      if (s[i] === '[' && s[i + 1] === ':' && i + 2 < s.length) {
        const close = s.indexOf(':]', i + 2);
        if (close >= 0) {
          const name = s.slice(i, close + 2);
          const inner = name.slice(2, -2);
          const neg = inner.startsWith('^');
          const g = POSIX_GROUPS.get(neg ? inner.slice(1) : inner);
          if (!g) this.reject(name, i, 'invalid character class range (unknown POSIX class)');
          ranges.push(...this.group(g, neg));
          i = close + 2;
          continue;
        }
      }
      this.pos = i;
      const unicode = this.parseUnicodeClass();
      if (unicode) {
        ranges.push(...unicode.ranges);
        props.push(...unicode.props);
        i = this.pos;
        continue;
      }
      const perl = this.parsePerlClass();
      if (perl) {
        ranges.push(...perl);
        i = this.pos;
        continue;
      }
      const rangeStart = i;
      const lo = this.classChar(i, start);
      i = this.pos;
      let hi = lo;
      if (s[i] === '-' && i + 1 < s.length && s[i + 1] !== ']') {
        hi = this.classChar(i + 1, start);
        if (hi < lo) this.reject(s.slice(rangeStart, this.pos), rangeStart, 'invalid character class range (the end is below the start)');
        i = this.pos;
      }
      ranges.push(...(this.flags.fold ? this.foldRange(lo, hi, rangeStart) : [[lo, hi] as Range]));
    }
    this.pos = i + 1;
    this.push({ t: 'set', set: { ranges: normalize(ranges), props }, negate });
  }

  /** One class character at `i` (escapes allowed), leaving pos after it. */
  private classChar(i: number, classStart: number): number {
    const s = this.src;
    if (i >= s.length) this.reject(s.slice(classStart), classStart, 'missing closing ]');
    this.pos = i;
    if (s[i] === '\\') return this.parseEscape(true);
    const ch = this.charAt(i) as string;
    this.pos = i + ch.length;
    return ch.codePointAt(0) as number;
  }
}
