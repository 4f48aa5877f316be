import * as assert from 'node:assert/strict';
import { eventReach, validateFireRequest } from '../../src/core/consul/events';
import { GO_SCRIPTS, GoRegexError, goRegExp, goRegexProblem, translateGoRegex } from '../../src/core/util/goRegex';
import { mulberry32 } from '../support/random';


function refusal(pattern: string): GoRegexError {
  try {
    goRegExp(pattern);
  } catch (e) {
    if (e instanceof GoRegexError) return e;
    throw e;
  }
  assert.fail(`${JSON.stringify(pattern)} was translated to /${translateGoRegex(pattern)}/u`);
}

describe('Go regular expressions', () => {
  describe('translation', () => {
    const table: Array<[string, string]> = [
      ['\\Aweb', '^web'],
      ['web\\z', 'web$'],
      ['^db-[[:digit:]]+\\z', '^db-[0-9]+$'],
      ['[[:^alpha:]]', '[^A-Za-z]'],
      ['[[:alpha:][:digit:]_]', '[0-9A-Z_a-z]'],
      ['.', '[^\\u{a}]'],
      ['(?s).', '[\\u{0}-\\u{10ffff}]'],
      ['(?m)^a$', '(?:^|(?<=\\n))a(?:$|(?=\\n))'],
      ['(?i)web', '[Ww][Ee][Bb]'],
      ['(?i)s', '[Ss\\u{17f}]'],
      ['(?i:a)b', '(?:[Aa])b'],
      ['a(?i)b', 'a[Bb]'],
      ['(a(?i)b)c', '(a[Bb])c'],
      ['(?i)a(?-i)b', '[Aa]b'],
      ['\\pL', '[\\p{L}]'],
      ['\\PL', '[\\P{L}]'],
      ['\\p{^L}', '[\\P{L}]'],
      ['\\p{Greek}', '[\\p{Script=Greek}]'],
      ['\\pC', '[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]'],
      ['\\x{41}\\x42', 'AB'],
      ['\\x{1F600}', '\\u{1f600}'],
      ['\\123\\0', 'S\\u{0}'],
      ['\\Qa.b\\E+', 'a\\.b+'],
      ['\\Q(unterminated', '\\(unterminated'],
      ['(?P<name>x)', '(x)'],
      ['(?:x)', '(?:x)'],
      ['a{01}', 'a\\{01\\}'],
      ['a{,2}', 'a\\{,2\\}'],
      ['a{2,}b{3}c{1,2}?', 'a{2,}b{3}c{1,2}?'],
      ['^*', '(?:^)*'],
      ['(?U)a*', 'a*?'],
      ['(?U)a*?', 'a*'],
      ['\\s', '[\\u{9}-\\u{a}\\u{c}-\\u{d} ]'],
      ['[]a]', '[\\]a]'],
      ['[^]a]', '[^\\]a]'],
      ['[a-]', '[\\-a]'],
      ['\\b\\B', '\\b\\B'],
      ['a|b', 'a|b'],
      ['(?)x', 'x'],
    ];
    for (const [go, js] of table) {
      it(`reads ${JSON.stringify(go)} as /${js}/u`, () => {
        assert.equal(translateGoRegex(go), js);
        assert.equal(goRegExp(go).flags, 'u');
      });
    }
  });

  describe("matching as Go's regexp does", () => {
    // Go's answers, reasoned from regexp/syntax (Perl flags: one-line ^ and $,
    // . without \n, ASCII \s \d \w \b, simple case folding) and checked against
    // Consul 1.8.7's agent (Go 1.15) with the integration tests' oracle.
    const subjects = ['web-1', 'WEB-1', 'db-12', 'db-1\n', 'a\nb', 'x\ry', 'ſ', '\u212a', 'k', 'é', '\u03a9', ' ', '\v', '{01}', ']'];
    const all = (...except: string[]) => subjects.filter((s) => !except.includes(s));
    const table: Array<[string, string[]]> = [
      ['\\Aweb', ['web-1']],
      ['1\\z', ['web-1', 'WEB-1']],
      // Without (?m), $ is the end of the text, not before a final \n as in Perl.
      ['1$', ['web-1', 'WEB-1']],
      ['(?m)1$', ['web-1', 'WEB-1', 'db-1\n']],
      ['^b', []],
      ['(?m)^b', ['a\nb']],
      ['a.b', []],
      ['(?s)a.b', ['a\nb']],
      // Go's . takes \r (JavaScript's does not).
      ['x.y', ['x\ry']],
      ['[[:digit:]]\\z', ['web-1', 'WEB-1', 'db-12']],
      ['^[[:^alpha:]]+$', ['ſ', '\u212a', 'é', '\u03a9', ' ', '\v', '{01}', ']']],
      // Go's \s is [\t\n\f\r ]: no \v; [[:space:]] has it.
      ['\\s', ['db-1\n', 'a\nb', 'x\ry', ' ']],
      ['[[:space:]]', ['db-1\n', 'a\nb', 'x\ry', ' ', '\v']],
      ['(?i)^WEB', ['web-1', 'WEB-1']],
      // Simple case folding: s ~ ſ, k ~ K (Kelvin sign).
      ['(?i)^s$', ['ſ']],
      ['(?i)k', ['\u212a', 'k']],
      ['(?i)[^k]', all('\u212a', 'k')],
      ['(?i)^[[:lower:]]$', ['ſ', '\u212a', 'k']],
      ['(?i)^\\W+$', ['é', '\u03a9', ' ', '\v', ']']],
      ['{01}', ['{01}']],
      ['\\Q{01}\\E', ['{01}']],
      ['[]]', [']']],
      ['\\pL', all(' ', '\v', '{01}', ']')],
      ['\\p{Greek}', ['\u03a9']],
      ['\\x{212A}', ['\u212a']],
      ['\\153', ['k']],
      ['^*', subjects],
      // \b between ASCII word characters and the rest.
      ['\\bb', ['a\nb']],
      ['b\\b', ['web-1', 'db-12', 'db-1\n', 'a\nb']],
      ['\\Bb', ['web-1', 'db-12', 'db-1\n']],
      ['(?U)^db-1+', ['db-12', 'db-1\n']],
    ];
    for (const [pattern, expected] of table) {
      it(`${JSON.stringify(pattern)} matches ${JSON.stringify(expected)}`, () => {
        const re = goRegExp(pattern);
        assert.deepEqual(subjects.filter((s) => re.test(s)), expected, `/${re.source}/u`);
      });
    }
  });

  describe('refusals', () => {
    // [pattern, construct quoted, 1-based character]: Go refuses these; Consul then refuses the event.
    const rejected: Array<[string, string, number, RegExp]> = [
      ['web(?=-1)', '(?=', 4, /lookahead/],
      ['(?!x)', '(?!', 1, /lookahead/],
      ['(?<=a)b', '(?<=', 1, /lookbehind/],
      ['(?<!a)b', '(?<!', 1, /lookbehind/],
      ['(a)\\1', '\\1', 4, /backreferences/],
      ['web\\Z', '\\Z', 4, /no \\Z/],
      ['\\cA', '\\c', 1, /control escapes/],
      ['\\u0041', '\\u', 1, /\\x\{…\}/],
      ['a++', '++', 2, /nested repetition/],
      ['a*+', '*+', 2, /nested repetition/],
      ['a{2}{3}', '{2}{3}', 2, /nested repetition/],
      ['a**', '**', 2, /nested repetition/],
      ['(?<n>a)', '(?<', 1, /Go 1\.22/],
      ['(?P<1-x>a)', '(?P<1-x>', 1, /named capture/],
      ['(?P=n)', '(?P=', 1, /backreferences/],
      ['(?#c)', '(?#', 1, /comments/],
      ['(?>a)', '(?>', 1, /atomic/],
      ['(?x)a', '(?x', 1, /flags are i, m, s and U/],
      ['(?i-)a', '(?i-)', 1, /unsupported/],
      ['[\\b]', '\\b', 2, /backspace/],
      ['\\C', '\\C', 1, /any byte/],
      ['\\p{Latn}', '\\p{Latn}', 1, /unknown Unicode class/],
      ['\\p{Letter}', '\\p{Letter}', 1, /unknown Unicode class/],
      ['\\p{Cn}', '\\p{Cn}', 1, /unknown Unicode class/],
      ['[[:word]]x:]]', '[:word]]x:]', 2, /unknown POSIX class/],
      ['[[:__proto__:]]', '[:__proto__:]', 2, /unknown POSIX class/],
      ['x{1001}', '{1001}', 2, /repeat count/],
      ['x{2,1}', '{2,1}', 2, /repeat count/],
      ['(a{10}){101}', '{101}', 8, /multiply beyond 1000/],
      ['((a{2})*){1000}', '{1000}', 10, /multiply beyond 1000/],
      ['*a', '*', 1, /missing argument/],
      ['a|*', '*', 3, /missing argument/],
      ['(?i)*', '*', 5, /missing argument/],
      ['\\Q\\E*', '*', 5, /missing argument/],
      ['web-(', '(', 5, /missing closing \)/],
      ['web)', ')', 4, /unexpected \)/],
      ['[a', '[a', 1, /missing closing \]/],
      ['[]', '[]', 1, /missing closing \]/],
      ['[z-a]', 'z-a', 2, /end is below the start/],
      ['[a-\\d]', '\\d', 4, /invalid escape/],
      ['\\8', '\\8', 1, /backreferences/],
      ['\\x{110000}', '\\x{110000', 1, /U\+10FFFF/],
      ['\\x{}', '\\x{}', 1, /hexadecimal/],
      ['\\xg1', '\\xg1', 1, /hexadecimal/],
      ['\\é', '\\é', 1, /invalid escape/],
      ['a\\', '\\', 2, /trailing backslash/],
      ['\uD800x', '', 1, /UTF-8/],
    ];
    for (const [pattern, construct, at, reason] of rejected) {
      it(`rejects ${JSON.stringify(pattern)} as Go does`, () => {
        const e = refusal(pattern);
        assert.equal(e.kind, 'rejected');
        assert.equal(e.construct, construct);
        assert.equal(e.index + 1, at);
        assert.match(e.reason, reason);
        assert.match(e.message, /is not a valid regular expression for Consul's agents/);
        assert.match(e.message, /would reach no node/);
        if (construct) assert.ok(e.message.includes(`"${construct}" at character ${at}`), e.message);
      });
    }

    const unsure: Array<[string, string, RegExp]> = [
      ['(?i)é', 'é', /non-ASCII letter/],
      ['(?i)[à-ÿ]', 'à', /non-ASCII letter/],
      ['(?i)\\pL', '\\pL', /Unicode class under \(\?i\)/],
      ['(?i)\\PL', '\\PL', /Unicode class under \(\?i\)/],
      ['a(?i)*', '*', /flag group/],
      ['a\\Q\\E+', '+', /empty \\Q\\E/],
      ['\\p{Yezidi}', '\\p{Yezidi}', /Go 1\.15 rejects/],
    ];
    for (const [pattern, construct, reason] of unsure) {
      it(`refuses ${JSON.stringify(pattern)}: it cannot be read exactly as Go reads it`, () => {
        const e = refusal(pattern);
        assert.equal(e.kind, 'unsure');
        assert.equal(e.construct, construct);
        assert.match(e.reason, reason);
        assert.match(e.message, /cannot be read here exactly as Consul's agents \(Go's regexp\) read it/);
      });
    }

    it('folds what it knows under (?i) and keeps caseless non-ASCII', () => {
      assert.ok(goRegExp('(?i)日本').test('日本'));
      // The Kelvin sign and the long s bring k, K, s and S in.
      assert.ok(goRegExp('(?i)[\\x{80}-\\x{10FFFF}]').test('k'));
      assert.ok(goRegExp('(?i)[\\x{80}-\\x{10FFFF}]').test('S'));
      assert.ok(!goRegExp('(?i)[\\x{80}-\\x{10FFFF}]').test('a'));
      assert.ok(goRegExp('(?i)\\p{Any}').test('x'));
    });

    it('gives validation messages, undefined when the pattern reads the same', () => {
      assert.equal(goRegexProblem('^web-[[:digit:]]+\\z'), undefined);
      assert.match(goRegexProblem('(?=x)') ?? '', /^"\(\?=x\)" is not a valid regular expression/);
    });
  });

  describe('properties', () => {
    const random = mulberry32(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const alphabet = ['a', 'b', 'A', 'k', 's', 'S', '0', '9', '-', '_', '.', ' ', '\n', '\r', '\t', '{', '}', '[', ']', '(', ')', '\\', '^', '$', '*', '|', 'é', 'ſ', '\u212a', '日', '😀'];
    const randomString = (max: number) => Array.from({ length: Math.floor(random() * max) }, () => pick(alphabet)).join('');
    // Go's regexp.QuoteMeta: a backslash before each of \.+*?()|[]{}^$
    const quoteMeta = (s: string) => s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');

    it('a quoted literal matches exactly the texts that contain it', () => {
      for (let n = 0; n < 300; n++) {
        const lit = randomString(6);
        const quoted = goRegExp(quoteMeta(lit));
        const q = lit.includes('\\E') ? undefined : goRegExp(`\\Q${lit}\\E`);
        for (let m = 0; m < 10; m++) {
          const text = randomString(3) + (random() < 0.5 ? lit : randomString(4)) + randomString(3);
          assert.equal(quoted.test(text), text.includes(lit), `${JSON.stringify(lit)} in ${JSON.stringify(text)}`);
          if (q) assert.equal(q.test(text), text.includes(lit));
        }
      }
    });

    it('POSIX and Perl classes hold exactly the ASCII characters Go documents, and nothing else', () => {
      const docs: Record<string, (c: string) => boolean> = {
        alnum: (c) => /[0-9A-Za-z]/.test(c),
        alpha: (c) => /[A-Za-z]/.test(c),
        ascii: (c) => c.charCodeAt(0) <= 0x7f,
        blank: (c) => c === ' ' || c === '\t',
        cntrl: (c) => c.charCodeAt(0) < 0x20 || c === '\x7f',
        digit: (c) => c >= '0' && c <= '9',
        graph: (c) => c > ' ' && c < '\x7f',
        lower: (c) => c >= 'a' && c <= 'z',
        print: (c) => c >= ' ' && c < '\x7f',
        punct: (c) => c > ' ' && c < '\x7f' && !/[0-9A-Za-z]/.test(c),
        space: (c) => ' \t\n\v\f\r'.includes(c),
        upper: (c) => c >= 'A' && c <= 'Z',
        word: (c) => /[0-9A-Za-z_]/.test(c),
        xdigit: (c) => /[0-9A-Fa-f]/.test(c),
      };
      const perl: Record<string, (c: string) => boolean> = { d: docs.digit, s: (c) => ' \t\n\f\r'.includes(c), w: docs.word };
      const chars = [...Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(i)), '\u0085', '\u00a0', 'é', '٣', '\u2028', '\u3000', '😀'];
      for (const [name, holds] of Object.entries(docs)) {
        const pos = goRegExp(`^[[:${name}:]]$`);
        const neg = goRegExp(`^[[:^${name}:]]$`);
        for (const c of chars) {
          assert.equal(pos.test(c), holds(c), `[[:${name}:]] on U+${c.codePointAt(0)?.toString(16)}`);
          assert.equal(neg.test(c), !holds(c), `[[:^${name}:]] on U+${c.codePointAt(0)?.toString(16)}`);
        }
      }
      for (const [name, holds] of Object.entries(perl)) {
        for (const c of chars) {
          assert.equal(goRegExp(`^\\${name}$`).test(c), holds(c), `\\${name} on U+${c.codePointAt(0)?.toString(16)}`);
          assert.equal(goRegExp(`^\\${name.toUpperCase()}$`).test(c), !holds(c));
        }
      }
    });

    it('on syntax Go and JavaScript read alike, the translation keeps the meaning', () => {
      // Literals, simple classes, groups, alternation, greedy and lazy quantifiers, ^ and $;
      // subjects without \r, \u2028, \u2029 (the only characters where . differs).
      const gen = (depth: number): string => {
        const r = random();
        if (depth > 2 || r < 0.35) return pick(['a', 'b', 'k', 'S', '0', '-', '.', '[a-c]', '[^b]', '[0-9]', '\\d', '\\w', '^', '$', '_', ' ']);
        if (r < 0.55) return gen(depth + 1) + gen(depth + 1);
        if (r < 0.7) return `(${gen(depth + 1)}|${gen(depth + 1)})`;
        if (r < 0.8) return `(?:${gen(depth + 1)})`;
        return `(${gen(depth + 1)})${pick(['*', '+', '?', '{2}', '{1,3}', '{0,}', '*?', '+?', '??'])}`;
      };
      const subjectAlphabet = ['a', 'b', 'k', 'S', 's', '0', '5', '-', '_', ' ', '\n', 'é'];
      for (let n = 0; n < 400; n++) {
        const pattern = gen(0);
        const ours = goRegExp(pattern);
        const theirs = new RegExp(pattern);
        for (let m = 0; m < 15; m++) {
          const text = Array.from({ length: Math.floor(random() * 6) }, () => pick(subjectAlphabet)).join('');
          assert.equal(ours.test(text), theirs.test(text), `${JSON.stringify(pattern)} → /${ours.source}/u on ${JSON.stringify(text)}`);
        }
      }
    });

    it('(?i) on ASCII matches every casing of the text', () => {
      for (let n = 0; n < 200; n++) {
        const word = Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick([...'abcdefghijklmnopqrstuvwxyz0123456789-'])).join('');
        const re = goRegExp(`(?i)^${quoteMeta(word)}$`);
        const cased = [...word].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join('');
        assert.ok(re.test(cased), `${word} ~ ${cased}`);
        assert.ok(!re.test(`${cased}x`));
      }
    });

    it('never fails otherwise than with a GoRegexError, and every translation compiles', () => {
      const pieces = ['a', '(', ')', '[', ']', '{', '}', '*', '+', '?', '|', '^', '$', '.', '\\', ':', '-', ',', '1', '0', 'P', '<', '>', '=', '!', 'i', 's', 'U', 'p', 'x', 'Q', 'E', 'A', 'z', 'b', 'd', 'é', '😀'];
      let accepted = 0;
      for (let n = 0; n < 3000; n++) {
        const pattern = Array.from({ length: 1 + Math.floor(random() * 10) }, () => pick(pieces)).join('');
        try {
          goRegExp(pattern);
          accepted++;
        } catch (e) {
          assert.ok(e instanceof GoRegexError, `${JSON.stringify(pattern)}: ${(e as Error).stack}`);
          assert.doesNotMatch(e.reason, /does not compile in JavaScript/, JSON.stringify(pattern));
        }
      }
      assert.ok(accepted > 300, `${accepted} accepted`);
    });

    it('knows every script it accepts in JavaScript too', () => {
      for (const name of GO_SCRIPTS) assert.ok(goRegExp(`\\p{${name}}`) instanceof RegExp, name);
    });
  });
});

describe('event reach with Go syntax', () => {
  const nodes = [
    { name: 'web-1', services: [{ service: 'web', tags: ['frontend', 'v1'] }, { service: 'api', tags: ['v2'] }] },
    { name: 'web-2', services: [{ service: 'web', tags: ['frontend', 'v2'] }] },
    { name: 'db-1', services: [{ service: 'db', tags: ['primary'] }] },
  ];
  const reach = (req: object) => eventReach(nodes, req).map((n) => n.name);

  it('counts the nodes Go would match, where JavaScript reads the filter differently', () => {
    assert.deepEqual(reach({ node: '\\Aweb' }), ['web-1', 'web-2']);
    assert.deepEqual(reach({ node: '^db-[[:digit:]]+\\z' }), ['db-1']);
    assert.deepEqual(reach({ node: '[[:digit:]]\\z' }), ['web-1', 'web-2', 'db-1']);
    assert.deepEqual(reach({ node: '(?i)^WEB-' }), ['web-1', 'web-2']);
    assert.deepEqual(reach({ service: '\\Aweb\\z', tag: '\\Av[[:digit:]]\\z' }), ['web-1', 'web-2']);
    assert.deepEqual(reach({ service: '\\Aapi\\z', tag: '(?P<v>v)2' }), ['web-1']);
  });
  it('reaches no node with what Go refuses or cannot be read the same way', () => {
    assert.deepEqual(reach({ node: '(?=web)' }), []);
    assert.deepEqual(reach({ node: 'web\\Z' }), []);
    assert.deepEqual(reach({ node: '(?i)wéb' }), []);
  });
  it('refuses such filters before sending, saying why', () => {
    const [p] = validateFireRequest({ name: 'deploy', node: 'web(?!-2)' });
    assert.match(p, /^The node filter "web\(\?!-2\)" is not a valid regular expression for Consul's agents \(Go's regexp\): lookahead is not supported — "\(\?!" at character 4\./);
    const [q] = validateFireRequest({ name: 'deploy', service: 'web', tag: '(?i)é' });
    assert.match(q, /^The tag filter "\(\?i\)é" cannot be read here exactly as Consul's agents/);
    assert.deepEqual(validateFireRequest({ name: 'deploy', node: '\\Aweb-[[:digit:]]\\z' }), []);
  });
});
