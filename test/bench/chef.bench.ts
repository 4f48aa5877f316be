/**
 * chef.nodes5000.ratio: listing 5,000 Chef nodes with their last run status
 * as the Chef view and the Nodes view's join do (ChefApi.searchNodes — paged
 * partial search — and one Reporting listing through lastRunsByNode, side by
 * side) against the bare signed requests the same data needs (one unpaged
 * partial search and one org-wide run listing, answers parsed, nothing
 * else), in the same run against a goiardi of its own.
 */
import * as crypto from 'node:crypto';
import { ChefApi, NODE_SUMMARY_KEYS } from '../../src/core/chef/server/chefApi';
import type { ChefServerClient } from '../../src/core/chef/server/chefServerClient';
import { lastRunsByNode, postRunEnd, postRunStart, REPORTING_PROTOCOL_VERSION } from '../../src/core/chef/server/reporting';
import { goiardiClient, startGoiardi, stopGoiardi } from '../infra/goiardi';
import { BenchResults, median, round, timeMs } from './stats';

const NODES = 5000;
/** Nodes with run history, and runs each (the last one of every 5th node fails). */
const NODES_WITH_RUNS = 500;
const RUNS_PER_NODE = 2;
const SAMPLES = 7;
const WINDOW_MS = 30 * 24 * 3_600_000;
/** Every row in one partial search, as ChefApi asks goiardi (src/core/chef/server/chefApi.ts). */
const UNPAGED_ROWS = 1_000_000;

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function nodeBody(i: number): Record<string, unknown> {
  const name = `node-${String(i).padStart(4, '0')}`;
  return {
    name,
    chef_type: 'node',
    json_class: 'Chef::Node',
    chef_environment: i % 3 ? 'production' : 'staging',
    run_list: ['role[base]', i % 2 ? 'role[web]' : 'role[db]'],
    default: { base: { ntp_servers: ['0.pool.ntp.org'] } },
    normal: {},
    override: {},
    automatic: {
      platform: 'debian',
      platform_version: '12.5',
      fqdn: `${name}.example.internal`,
      hostname: name,
      ipaddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      ohai_time: Date.now() / 1000,
      // Some of what makes a real node object heavy, which partial search leaves on the server.
      kernel: { name: 'Linux', release: '6.1.0-18-amd64', machine: 'x86_64' },
      packages: Object.fromEntries(Array.from({ length: 20 }, (_, p) => [`pkg-${p}`, { version: `1.${p}.0`, arch: 'amd64' }])),
    },
  };
}

async function seed(client: ChefServerClient): Promise<void> {
  const ids = Array.from({ length: NODES }, (_, i) => i);
  await pool(ids, 16, (i) => client.post('/nodes', nodeBody(i)));
  const now = Date.now();
  await pool(ids.slice(0, NODES_WITH_RUNS), 16, async (i) => {
    const node = `node-${String(i).padStart(4, '0')}`;
    for (let r = 0; r < RUNS_PER_NODE; r++) {
      const runId = crypto.randomUUID();
      const endTime = now - (RUNS_PER_NODE - r) * 30 * 60_000 - i * 1000;
      const startTime = endTime - 60_000;
      const failed = r === RUNS_PER_NODE - 1 && i % 5 === 0;
      await postRunStart(client, node, { runId, startTime });
      await postRunEnd(client, node, {
        runId,
        startTime,
        endTime,
        status: failed ? 'failure' : 'success',
        runList: ['role[base]'],
        totalResources: 40,
        resources: [{ type: 'template', name: '/etc/motd', id: '/etc/motd', before: {}, after: {}, duration: '12', delta: '', result: 'create', cookbook_name: 'base', cookbook_version: '1.0.0' }],
        exception: failed ? { class: 'RuntimeError', message: 'boom', backtrace: [], description: { title: "Error executing action `create` on resource 'template[/etc/motd]'", sections: [] } } : undefined,
      });
    }
  });
}

export async function benchChef(port: number): Promise<BenchResults> {
  const state = await startGoiardi({ port });
  try {
    const client = goiardiClient(state);
    const seedMs = await timeMs(() => seed(client));
    // goiardi indexes nodes for search in the background: wait until search sees them all.
    const indexedBy = Date.now() + 120_000;
    for (let seen = 0; seen < NODES; ) {
      const res = await client.request<{ rows: unknown[] }>('POST', '/search/node', { name: ['name'] }, { query: { q: '*:*', rows: UNPAGED_ROWS } });
      seen = res.body.rows.length;
      if (seen < NODES && Date.now() > indexedBy) throw new Error(`goiardi's search index holds ${seen} of ${NODES} nodes after 2 minutes`);
      if (seen < NODES) await new Promise((r) => setTimeout(r, 500));
    }
    const api = new ChefApi(client);
    const ours = async () => {
      const [nodes, runs] = await Promise.all([api.searchNodes(), lastRunsByNode(client, { from: Date.now() - WINDOW_MS })]);
      if (nodes.length !== NODES) throw new Error(`searchNodes listed ${nodes.length} nodes, not ${NODES}`);
      if (runs.size !== NODES_WITH_RUNS) throw new Error(`lastRunsByNode found ${runs.size} nodes with runs, not ${NODES_WITH_RUNS}`);
    };
    const bare = async () => {
      const [search, runs] = await Promise.all([
        // goiardi pages partial search unreliably: every row in one request, as ChefApi asks it.
        client.request<{ rows: unknown[] }>('POST', '/search/node', NODE_SUMMARY_KEYS, { query: { q: '*:*', rows: UNPAGED_ROWS } }),
        client.request<{ run_history: unknown[] }>('GET', '/reports/org/runs', undefined, {
          headers: { 'X-Ops-Reporting-Protocol-Version': REPORTING_PROTOCOL_VERSION },
          query: { rows: 1_000_000, from: Math.floor((Date.now() - WINDOW_MS) / 1000) },
        }),
      ]);
      if (search.body.rows.length !== NODES) throw new Error(`the bare search listed ${search.body.rows.length} nodes`);
      if (runs.body.run_history.length < NODES_WITH_RUNS) throw new Error(`the bare listing returned ${runs.body.run_history.length} runs`);
    };
    // Warm up both, then alternate so that load swings hit both alike.
    await ours();
    await bare();
    const oursMs: number[] = [];
    const bareMs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      oursMs.push(await timeMs(ours));
      bareMs.push(await timeMs(bare));
    }
    const o = median(oursMs);
    const b = median(bareMs);
    return {
      'chef.nodes5000.ratio': { value: round(o / b), unit: 'x', target: '<= 1.5' },
      'chef.nodes5000.ours_ms': { value: round(o), unit: 'ms', target: 'informational' },
      'chef.nodes5000.bare_ms': { value: round(b), unit: 'ms', target: 'informational' },
      'chef.nodes5000.seed_ms': { value: round(seedMs), unit: 'ms', target: 'informational' },
    };
  } finally {
    await stopGoiardi(state, { removeConfRoot: true });
  }
}
