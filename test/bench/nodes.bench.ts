/**
 * nodes.5000: 5,000 nodes in the catalog; the time from request to the Nodes
 * view's items through our code (client, node dump, snapshot, filter) against
 * a bare HTTP GET of the same data, measured interleaved in one run.
 */
import * as http from 'node:http';
import { connect } from '../../src/core/consul/client';
import { filterNodes } from '../../src/core/consul/filter';
import { NODE_DUMP_PATH, readCatalog } from '../../src/core/consul/nodeDump';
import { consulJson } from '../infra/cluster';
import { BenchResults, median, round, timeMs } from './stats';

const NODES = 5000;
const ROUNDS = 21;
const WARMUP = 5;

async function registerNodes(addr: string, count: number): Promise<void> {
  // 64 operations is the transaction limit of Consul 1.8.
  const batches: object[][] = [];
  for (let i = 0; i < count; i += 64) {
    batches.push(
      Array.from({ length: Math.min(64, count - i) }, (_, j) => {
        const n = i + j;
        const node = `bench-${String(n).padStart(5, '0')}`;
        return { Node: { Verb: 'set', Node: { Node: node, Address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, Meta: { bench: 'true' } } } };
      }),
    );
  }
  const queue = [...batches];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let b = queue.shift(); b; b = queue.shift()) await consulJson(addr, '/v1/txn', { method: 'PUT', body: b });
    }),
  );
}

function bareGet(addr: string, path: string): Promise<number> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    http
      .get({ host, port: Number(port), path, agent: bareAgent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')).length));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const bareAgent = new http.Agent({ keepAlive: true });

export async function benchNodes(serverAddr: string): Promise<BenchResults> {
  const registerMs = await timeMs(() => registerNodes(serverAddr, NODES));
  console.log(`registered ${NODES} nodes in ${Math.round(registerMs)} ms`);
  const connection = await connect({ name: 'bench', address: serverAddr }, undefined);
  const ours: number[] = [];
  const bare: number[] = [];
  try {
    let seen = 0;
    // Warm-up: both paths open their keep-alive connection and JIT their code.
    for (let i = 0; i < WARMUP; i++) {
      await readCatalog(connection);
      await bareGet(serverAddr, NODE_DUMP_PATH);
    }
    for (let i = 0; i < ROUNDS; i++) {
      bare.push(await timeMs(async () => void (seen = await bareGet(serverAddr, NODE_DUMP_PATH))));
      ours.push(await timeMs(async () => void filterNodes((await readCatalog(connection)).nodes, undefined)));
    }
    if (seen < NODES) throw new Error(`only ${seen} nodes in the dump`);
  } finally {
    connection.dispose();
    bareAgent.destroy();
  }
  const oursMs = median(ours);
  const bareMs = median(bare);
  return {
    'nodes.5000.ours_ms': { value: round(oursMs), unit: 'ms', target: 'informational' },
    'nodes.5000.bare_ms': { value: round(bareMs), unit: 'ms', target: 'informational' },
    'nodes.5000.ratio': { value: round(oursMs / bareMs), unit: 'x', target: '<= 1.2' },
  };
}
