/**
 * Deterministic fuzzing of parsePlan: valid task.yml files mutated the ways
 * editing goes wrong (lines lost, doubled, swapped or re-indented, stray
 * characters, cut-off files, a scalar typed where a list or map belongs).
 * Whatever comes out, parsePlan must not throw, must place every diagnostic
 * inside the file, and must stay fast.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crossPatternDiagnostics, mergeEvents } from '../../src/core/plans/merge';
import type { PatternPlan, PlanDiagnostic, Range } from '../../src/core/plans/model';
import { parsePlan } from '../../src/core/plans/parse';
import { mulberry32 } from '../support/random';
import { limit } from '../support/timing';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/plans');
const SEEDS = ['tomcat', 'postgresql', 'haproxy', 'broken'].map((p) => fs.readFileSync(path.join(FIXTURES, p, 'task.yml'), 'utf8'));
const CASES = 1500;
const PER_CASE_MS = 250;


const TOKENS = [
  ':', '-', '- ', '{', '}', '[', ']', ',', '"', "'", '#', '|', '>', '&a ', '*a', '<<: *a', '? ', '!!str ', '!!int ', '!custom ',
  '{{', '}}', '{{a}}', '$PATH', '\t', '\r\n', '\n', '---\n', '...\n', '%YAML 1.2\n', '@', '`', '\\', '\u00a0', 'é', '😀', '\u0000',
  'ordered_tasks:', 'task:', 'operations:', 'execute:', 'priority: x', 'tasks:', 'events:', 'null', '~', 'yes', '0x1F', '.inf',
];
const REPLACEMENTS = ['[a, b]', '{x: 1}', '[]', '{}', '~', '', '"quoted"', '|\n  block', '- item', '&x [1, *x]', '*missing', '12.5', 'no'];

type Mutation = (lines: string[], rnd: () => number) => string[];
const pick = <T>(list: readonly T[], rnd: () => number): T => list[Math.floor(rnd() * list.length)];
const at = (lines: string[], rnd: () => number) => Math.floor(rnd() * Math.max(1, lines.length));

const MUTATIONS: Record<string, Mutation> = {
  deleteLine: (l, r) => l.filter((_, i) => i !== at(l, r)),
  duplicateLine: (l, r) => {
    const i = at(l, r);
    return [...l.slice(0, i + 1), l[i] ?? '', ...l.slice(i + 1)];
  },
  swapLines: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    const j = at(l, r);
    [out[i], out[j]] = [out[j], out[i]];
    return out;
  },
  reindent: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    const delta = Math.floor(r() * 7) - 3;
    out[i] = delta >= 0 ? ' '.repeat(delta) + (out[i] ?? '') : (out[i] ?? '').replace(new RegExp(`^ {0,${-delta}}`), '');
    return out;
  },
  tabIndent: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    out[i] = (out[i] ?? '').replace(/^ +/, '\t');
    return out;
  },
  insertToken: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    const line = out[i] ?? '';
    const pos = Math.floor(r() * (line.length + 1));
    out[i] = line.slice(0, pos) + pick(TOKENS, r) + line.slice(pos);
    return out;
  },
  insertRandomChars: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    const line = out[i] ?? '';
    const pos = Math.floor(r() * (line.length + 1));
    const chars = Array.from({ length: 1 + Math.floor(r() * 6) }, () => String.fromCharCode(32 + Math.floor(r() * 95))).join('');
    out[i] = line.slice(0, pos) + chars + line.slice(pos);
    return out;
  },
  deleteChars: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    const line = out[i] ?? '';
    const pos = Math.floor(r() * (line.length + 1));
    out[i] = line.slice(0, pos) + line.slice(pos + 1 + Math.floor(r() * 5));
    return out;
  },
  truncate: (l, r) => {
    const text = l.join('\n');
    return text.slice(0, Math.floor(r() * text.length)).split('\n');
  },
  replaceScalar: (l, r) => {
    const out = [...l];
    const candidates = out.flatMap((line, i) => (/:\s+\S/.test(line) ? [i] : []));
    if (!candidates.length) return out;
    const i = pick(candidates, r);
    out[i] = out[i].replace(/:\s+.*$/, `: ${pick(REPLACEMENTS, r)}`);
    return out;
  },
  replaceValueWithBlock: (l, r) => {
    const out = [...l];
    const i = at(l, r);
    const indent = ((out[i] ?? '').match(/^ */) ?? [''])[0];
    out.splice(i + 1, 0, `${indent}  - nested`, `${indent}  - { key: value }`);
    return out;
  },
  moveBlock: (l, r) => {
    const i = at(l, r);
    const n = 1 + Math.floor(r() * 6);
    const block = l.slice(i, i + n);
    const rest = [...l.slice(0, i), ...l.slice(i + n)];
    const j = at(rest, r);
    return [...rest.slice(0, j), ...block, ...rest.slice(j)];
  },
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

function mutate(source: string, rnd: () => number): { text: string; applied: string[] } {
  let lines = source.split('\n');
  const applied: string[] = [];
  const count = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < count; k++) {
    const name = pick(MUTATION_NAMES, rnd);
    applied.push(name);
    lines = MUTATIONS[name](lines, rnd);
  }
  return { text: lines.join('\n'), applied };
}

function assertRangeInside(range: Range, lineLengths: number[], what: string): void {
  for (const p of [range.start, range.end]) {
    assert.ok(Number.isInteger(p.line) && Number.isInteger(p.character), `${what}: non-integer position ${JSON.stringify(p)}`);
    assert.ok(p.line >= 0 && p.line < lineLengths.length, `${what}: line ${p.line} outside 0..${lineLengths.length - 1}`);
    assert.ok(p.character >= 0 && p.character <= lineLengths[p.line], `${what}: character ${p.character} past line ${p.line} (${lineLengths[p.line]})`);
  }
  const ordered = range.start.line < range.end.line || (range.start.line === range.end.line && range.start.character <= range.end.character);
  assert.ok(ordered, `${what}: range ends before it starts ${JSON.stringify(range)}`);
}

/** Every `…Range`/`range` inside the plan, wherever it sits. */
function planRanges(value: unknown, out: Range[] = [], depth = 0): Range[] {
  if (!value || typeof value !== 'object' || depth > 12) return out;
  for (const [k, v] of Object.entries(value)) {
    if ((k === 'range' || k.endsWith('Range')) && v && typeof v === 'object') out.push(v as Range);
    else planRanges(v, out, depth + 1);
  }
  return out;
}

function checkDiagnostic(d: PlanDiagnostic, lineLengths: number[], label: string): void {
  assert.ok(['error', 'warning', 'info'].includes(d.severity), `${label}: bad severity ${d.severity}`);
  assert.notEqual(d.code, 'parse-internal', `${label}: internal error: ${d.message}`);
  assert.ok(typeof d.message === 'string' && d.message.length > 10, `${label}: empty message for ${d.code}`);
  assertRangeInside(d.range, lineLengths, `${label} ${d.code}`);
}

describe('plans: fuzz', function () {
  this.timeout(120_000);

  it(`parsePlan survives ${CASES} mutated task.yml files with in-range diagnostics`, () => {
    const rnd = mulberry32(0x5eed_c0de);
    const counts = new Map<string, number>();
    const plans: PatternPlan[] = [];
    let slowest = 0;
    let withPlan = 0;
    for (let n = 0; n < CASES; n++) {
      const { text, applied } = mutate(pick(SEEDS, rnd), rnd);
      const label = `case ${n} [${applied.join(', ')}]`;
      const started = process.hrtime.bigint();
      const result = parsePlan(text, `/fuzz/p${n % 7}/task.yml`, { fileExists: (p) => p.length % 2 === 0 });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      slowest = Math.max(slowest, ms);
      assert.ok(ms < limit(PER_CASE_MS), `${label}: took ${ms.toFixed(1)} ms`);
      assert.ok(Array.isArray(result.diagnostics), `${label}: no diagnostics array`);
      const lineLengths = text.split('\n').map((l) => l.length);
      for (const d of result.diagnostics) {
        checkDiagnostic(d, lineLengths, label);
        counts.set(d.code, (counts.get(d.code) ?? 0) + 1);
      }
      if (result.plan) {
        withPlan++;
        for (const r of planRanges(result.plan)) assertRangeInside(r, lineLengths, `${label} plan`);
        plans.push(result.plan);
      } else {
        assert.ok(
          result.diagnostics.some((d) => d.code === 'yaml-syntax'),
          `${label}: no plan and no syntax error`,
        );
      }
    }
    // The mutations must reach both outcomes, or the fuzzing proves little.
    assert.ok(withPlan > CASES * 0.2 && withPlan < CASES * 0.95, `plans for ${withPlan} of ${CASES}`);
    for (const code of ['yaml-syntax', 'key-unknown', 'value-type', 'task-undefined', 'operation-unknown']) {
      assert.ok((counts.get(code) ?? 0) > 0, `no ${code} in ${JSON.stringify([...counts])}`);
    }
    assert.doesNotThrow(() => mergeEvents(plans.slice(0, 200)));
    assert.doesNotThrow(() => crossPatternDiagnostics(plans.slice(0, 200)));
    assert.ok(slowest < limit(PER_CASE_MS));
  });

  it('stays bounded on hostile inputs: alias bombs, deep nesting, huge lines', () => {
    const hostile = [
      `a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n` +
        `tasks:\n  t:\n    operations:\n      - chef: { run_list: [r], attributes: { x: [*c, *c, *c, *c, *c, *c, *c, *c] } }\n`,
      'tasks:\n' + '  '.repeat(1) + 'a: ' + '['.repeat(500) + ']'.repeat(500) + '\n',
      'variables:\n  v: ' + '{{v}}'.repeat(2000) + '\n',
      'events:\n' + Array.from({ length: 3000 }, (_, i) => `  e${i}: { task: t${i} }`).join('\n') + '\n',
      'x: ' + 'y'.repeat(200_000),
      '\u0000\u0001\u0002: \ufeff',
      '&a [*a]',
    ];
    for (const text of hostile) {
      const started = Date.now();
      const r = parsePlan(text, '/fuzz/hostile/task.yml');
      assert.ok(Date.now() - started < limit(2000), `took ${Date.now() - started} ms on ${text.slice(0, 40)}`);
      const lineLengths = text.split('\n').map((l) => l.length);
      for (const d of r.diagnostics) checkDiagnostic(d, lineLengths, text.slice(0, 40));
    }
  });
});
