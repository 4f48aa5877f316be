/**
 * Event filters are read by Consul's agents with Go's regexp. These tests
 * check goRegExp and eventReach against the real thing: which agents
 * actually take a filtered event, which patterns Consul refuses, and — for
 * a broad table and random patterns — what Go's regexp answers, asked
 * through Consul's own filter expressions (`Meta.s matches "…"`, compiled
 * with Go's regexp in the agent).
 */
import * as assert from 'node:assert/strict';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { EVENT_LIST_PATH, eventReach, fireEvent, validateFireRequest } from '../../src/core/consul/events';
import { readCatalog } from '../../src/core/consul/nodeDump';
import { GoRegexError, goRegExp } from '../../src/core/util/goRegex';
import { clusterFromEnv, eventually, serverAgent } from '../support/env';
import { mulberry32 } from '../support/random';

type Filters = { node?: string; service?: string; tag?: string };

async function http(addr: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${addr}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}


describe('Go regular expressions against the real cluster', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let connection: ConsulConnection;

  before(async () => {
    connection = await connect({ name: 'goregex', address: server.httpAddr }, undefined);
  });
  after(() => connection?.dispose());

  describe('filtered events land on the agents eventReach counts', () => {
    // Each case reads differently in JavaScript's own RegExp (or not at all).
    const cases: Array<{ title: string; filters: Filters }> = [
      { title: '\\A as start of text', filters: { node: '\\Aweb' } },
      { title: '\\z as end of text, after a POSIX class', filters: { node: '[[:digit:]]\\z' } },
      { title: 'a POSIX class between anchors', filters: { node: '^db-[[:digit:]]+\\z' } },
      { title: 'a negated POSIX class', filters: { node: '\\A[[:^digit:]]+-1\\z' } },
      { title: 'a leading (?i)', filters: { node: '(?i)^WEB-\\d' } },
      { title: 'a scoped (?i:…)', filters: { node: '^(?i:CONSUL)-server' } },
      { title: '\\Q…\\E quoting', filters: { node: '\\Qdb-1\\E' } },
      { title: 'a named group (?P<…>)', filters: { node: '(?P<kind>db|web)-1\\z' } },
      { title: 'Unicode classes \\pL and \\p{Nd}', filters: { node: '\\A\\pL+-\\pL+-\\p{Nd}\\z' } },
      { title: 'a \\x{…} escape', filters: { node: '\\x{77}eb' } },
      { title: 'service and tag with \\A, \\z and POSIX classes', filters: { service: '\\A(?:api|web)\\z', tag: '\\Av[[:digit:]]\\z' } },
      { title: 'a tag in a POSIX class only', filters: { service: '\\Aweb\\z', tag: '\\A[[:lower:]]+\\z' } },
      { title: 'a filter that reaches no agent', filters: { node: '[[:upper:]]' } },
    ];

    it('match what the agents do', async () => {
      const catalog = await readCatalog(connection);
      const agents = cluster.agents.map((a) => a.name);
      const fired: Array<{ title: string; filters: Filters; id: string; expect: string[] }> = [];
      for (const [i, c] of cases.entries()) {
        assert.deepEqual(validateFireRequest({ name: 'x', ...c.filters }), [], c.title);
        const expect = eventReach(catalog.nodes, c.filters).map((n) => n.name).filter((n) => agents.includes(n)).sort();
        const event = await fireEvent(connection, { name: `it-goregex-${i}`, payload: c.title, ...c.filters });
        fired.push({ ...c, id: event.id, expect });
      }
      // Spot checks that the cases do say something: JS's own RegExp gets these wrong.
      const byTitle = (t: string) => fired.find((f) => f.title.startsWith(t))?.expect;
      assert.deepEqual(byTitle('\\A as start'), ['web-1']);
      assert.deepEqual(byTitle('\\z as end'), ['consul-server-1', 'db-1', 'web-1']);
      assert.deepEqual(byTitle('a POSIX class between'), ['db-1']);

      const seen = async (agent: string): Promise<Set<string>> => {
        const addr = cluster.agents.find((a) => a.name === agent)?.httpAddr as string;
        const { text } = await http(addr, 'GET', EVENT_LIST_PATH);
        return new Set((JSON.parse(text) as Array<{ ID: string }>).map((e) => e.ID));
      };
      for (const f of fired) {
        for (const agent of f.expect) await eventually(`${f.title} on ${agent}`, async () => (await seen(agent)).has(f.id) || undefined, 10_000);
      }
      // Gossip keeps no order: an unfiltered marker seen by every agent, plus
      // a second of grace, gives each event its chance everywhere else.
      const marker = await fireEvent(connection, { name: 'it-goregex-marker' });
      for (const agent of agents) await eventually(`the marker on ${agent}`, async () => (await seen(agent)).has(marker.id) || undefined, 10_000);
      await new Promise((r) => setTimeout(r, 1000));
      const lists = new Map<string, Set<string>>();
      for (const agent of agents) lists.set(agent, await seen(agent));
      for (const f of fired) {
        const landed = agents.filter((a) => lists.get(a)?.has(f.id)).sort();
        assert.deepEqual(landed, f.expect, `${f.title}: ${JSON.stringify(f.filters)}`);
      }
    });
  });

  describe('what Consul refuses', () => {
    const rejected = ['(?=web)', 'web(?!-2)', '(?<=a)b', '(\\w)\\1', '\\Z', 'web\\Z', '\\cA', '\\u0041', 'a++', 'a{2}{3}', '(?<n>web)', '[\\b]', '\\p{Latn}', '[[:word]]x:]]', '(a{10}){101}', 'x{1001}', '(?#c)', '\\8', 'web-('];
    for (const p of rejected) {
      it(`refuses ${JSON.stringify(p)} as Consul does`, async () => {
        assert.throws(() => goRegExp(p), (e: Error) => e instanceof GoRegexError && e.kind === 'rejected');
        assert.match(validateFireRequest({ name: 'x', node: p })[0] ?? '', /not a valid regular expression for Consul's agents/);
        // Straight to the agent, past our own check: Consul refuses it too.
        const res = await http(server.httpAddr, 'PUT', `/v1/event/fire/it-goregex-refused?node=${encodeURIComponent(p)}`);
        assert.equal(res.status, 500, res.text);
        assert.match(res.text, /Invalid node filter: error parsing regexp/);
      });
    }
  });

  describe("agreeing with Go's regexp on many strings", () => {
    // Subjects registered as catalog nodes, each with its string in Meta "s".
    const subjects = [
      'web-1', 'WEB-1', 'db-12', 'db-1\n', 'a\nb', 'x\ry', 'x\u2028y', '\t', ' ', '\v', '\u00a0', 'a_b', 'a{01}', '{}', '[]', ']',
      'ſ', '\u212a', 's', 'S', 'k', 'K', 'é', 'É', 'αβγ', 'Ω', '日本', 'µ', '\u0345', '\u00ad', '\u0378', 'A', 'a.b', 'ab', 'aaa',
      'v1', 'v22', 'a-b', 'a^b', 'a$b', '\\', '"', '`', 'x', 'ß', '\u1e9e', '\u00c5', '\u212b', 'Ⅻ', '٣', '\u0000', '😀',
    ];
    const nodeOf = (i: number) => `goregex-subject-${i}`;

    before(async function () {
      for (const [i, s] of subjects.entries()) {
        const res = await http(server.httpAddr, 'PUT', '/v1/catalog/register', { Node: nodeOf(i), Address: '127.0.0.9', NodeMeta: { s } });
        assert.equal(res.status, 200, `${JSON.stringify(s)}: ${res.text}`);
      }
    });
    after(async () => {
      for (const i of subjects.keys()) await http(server.httpAddr, 'PUT', '/v1/catalog/deregister', { Node: nodeOf(i) });
    });

    /** Go's answer: the subjects the pattern matches, or the compile error. */
    async function goAnswer(pattern: string): Promise<{ matches: string[] } | { error: string }> {
      const quoted = pattern.includes('`') ? `"${pattern.replace(/[\\"]/g, (c) => `\\${c}`)}"` : `\`${pattern}\``;
      const res = await http(server.httpAddr, 'GET', `/v1/catalog/nodes?filter=${encodeURIComponent(`Meta.s matches ${quoted}`)}`);
      if (res.status !== 200) {
        if (!/error parsing regexp/.test(res.text)) throw new Error(`${JSON.stringify(pattern)}: ${res.text}`);
        return { error: res.text };
      }
      const names = new Set((JSON.parse(res.text) as Array<{ Node: string }>).map((n) => n.Node));
      return { matches: subjects.filter((_, i) => names.has(nodeOf(i))) };
    }

    async function agrees(pattern: string): Promise<'same' | 'unsure'> {
      const go = await goAnswer(pattern);
      let re: RegExp;
      try {
        re = goRegExp(pattern);
      } catch (e) {
        if (!(e instanceof GoRegexError)) throw e;
        if (e.kind === 'unsure') return 'unsure';
        assert.ok('error' in go, `${JSON.stringify(pattern)}: refused here (${e.message}) but Go compiles it`);
        return 'same';
      }
      assert.ok('matches' in go, `${JSON.stringify(pattern)}: Go refuses it (${'error' in go ? go.error : ''}) but it was translated to ${re.source}`);
      assert.deepEqual(subjects.filter((s) => re.test(s)), go.matches, `${JSON.stringify(pattern)} → /${re.source}/u`);
      return 'same';
    }

    const table = [
      '\\Aweb', 'web\\z', '1\\z', '1$', '(?m)1$', '(?m)^b', '^b', '(?s)a.b', 'a.b', 'x.y', '^.$', '(?s)^.$', '^[^a]$',
      '[[:digit:]]', '[[:^digit:]]', '[[:alpha:]]+\\z', '^[[:^alpha:]]+$', '[[:space:]]', '\\s', '\\S', '[[:blank:]]', '[[:cntrl:]]',
      '[[:punct:]]', '[[:print:]]', '^[[:graph:]]+$', '[[:word:]]', '[[:xdigit:]]{2}', '[[:ascii:]]', '[[:^ascii:]]', '[[:upper:][:digit:]]',
      '(?i)web', '(?i)^s$', '(?i)^k$', '(?i)[k]', '(?i)[^k]', '(?i)[[:upper:]]', '(?i)[[:^upper:]]', '(?i)\\W', '(?i)^\\w$', '(?i)[a-z]\\z',
      '(?i:W)EB', 'W(?i)eb', '(?i)W(?-i)EB', '\\Qa.b\\E', '\\Qa{01}', 'a{01}', 'a{,2}', '{}', '^\\{\\}$', '[]]', '[^]]', '[]a]',
      '\\pL', '\\PL', '\\p{L}', '\\p{Lu}', '\\p{Greek}', '\\P{Greek}', '\\pN', '\\p{Nd}', '\\pC', '\\PC', '\\p{Cf}', '\\p{Han}', '\\p{Any}',
      '\\x{1F600}', '\\x41', '\\101', '\\0', '\\x{212A}', '\\b', '\\bb\\b', '\\B', '^*', '$+', '(?U)a+', 'a*?', '(a|b)+\\z', '(?P<x>a)(?P<x>b)',
      '[\\d-z]', '[a-]', '[-a]', '[\\x{100}-\\x{10FFFF}]', '\\pZ', '\\p{Zs}', '[\\pL\\d]', '[^\\pL\\d]', '[[:alpha:]\\p{Greek}]', '(?s:.)\\z',
      '(?i)é', '(?i)\\pL', 'a(?i)*', '\\p{Yezidi}',
    ];
    it('on a table of constructs', async () => {
      const unsure: string[] = [];
      for (const p of table) if ((await agrees(p)) === 'unsure') unsure.push(p);
      assert.deepEqual(unsure, ['(?i)é', '(?i)\\pL', 'a(?i)*', '\\p{Yezidi}']);
    });

    it('on random patterns', async () => {
      const random = mulberry32(20240611);
      const atoms = [
        'a', 'b', 'k', 's', 'S', 'x', '1', '-', '.', '^', '$', '\\A', '\\z', '\\b', '\\d', '\\w', '\\s', '\\W', '[[:digit:]]', '[[:^alpha:]]',
        '[[:upper:]]', '[^a]', '[a-z]', '\\pL', '\\p{Greek}', '\\PN', '\\x{2A}', '\\Q.\\E', '{', '}', '(?i)', '(?s)', '(?m)', '(?U)', '\\n',
        'é', 'ſ', '\\', '(', ')', '|', '[', ']', '*', '+', '?', '{2}', '{1,}', '{01}', '\\1', '(?=', '(?:', '(?P<n>', '\\Z',
      ];
      let compared = 0;
      let unsure = 0;
      for (let n = 0; n < 150; n++) {
        const len = 1 + Math.floor(random() * 7);
        let p = '';
        for (let i = 0; i < len; i++) p += atoms[Math.floor(random() * atoms.length)];
        if ((await agrees(p)) === 'unsure') unsure++;
        else compared++;
      }
      assert.ok(compared > 120, `${compared} compared, ${unsure} refused as unsure`);
    });
  });
});
