/**
 * kv.list100k: the first level of a 100,000-key folder through our code
 * (client, `?keys&separator=/`, split into folders and keys, first page)
 * against a bare HTTP GET of the same listing, interleaved in one run.
 * kv.move1000: a chunked, verified subtree move of 1,000 keys.
 */
import * as http from 'node:http';
import { connect } from '../../src/core/consul/client';
import { deleteTree, listLevel, runTxn, TxnOp } from '../../src/core/kv/kvStore';
import { DEFAULT_PAGE_SIZE, levelPage } from '../../src/core/kv/listing';
import { moveSubtree } from '../../src/core/kv/subtree';
import { BenchResults, median, round, timeMs } from './stats';

const KEYS = 100_000;
const MOVE_KEYS = 1000;
const ROUNDS = 15;
const WARMUP = 3;
const MOVES = 5;

async function seed(connection: Awaited<ReturnType<typeof connect>>, prefix: string, count: number): Promise<void> {
  const batches: TxnOp[][] = [];
  for (let i = 0; i < count; i += 64) {
    batches.push(Array.from({ length: Math.min(64, count - i) }, (_, j) => ({ verb: 'set', key: `${prefix}k${String(i + j).padStart(6, '0')}`, value: Buffer.from(`value ${i + j}`) })));
  }
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let b = batches.shift(); b; b = batches.shift()) {
        const r = await runTxn(connection, b);
        if (!r.ok) throw new Error('seeding refused');
      }
    }),
  );
}

const bareAgent = new http.Agent({ keepAlive: true });

function bareGet(addr: string, path: string): Promise<number> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    http
      .get({ host, port: Number(port), path, agent: bareAgent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function benchKv(serverAddr: string): Promise<BenchResults> {
  const connection = await connect({ name: 'bench', address: serverAddr }, undefined);
  const prefix = 'bench-kv/big/';
  const ours: number[] = [];
  const bare: number[] = [];
  const moves: number[] = [];
  try {
    const seedMs = await timeMs(() => seed(connection, prefix, KEYS));
    console.log(`wrote ${KEYS} keys in ${Math.round(seedMs)} ms`);
    const path = `/v1/kv/${prefix}?keys&separator=/`;
    let seen = 0;
    for (let i = 0; i < WARMUP; i++) {
      await listLevel(connection, prefix);
      await bareGet(serverAddr, path);
    }
    for (let i = 0; i < ROUNDS; i++) {
      bare.push(await timeMs(async () => void (seen = await bareGet(serverAddr, path))));
      ours.push(await timeMs(async () => void levelPage(await listLevel(connection, prefix), DEFAULT_PAGE_SIZE)));
    }
    if (seen < KEYS) throw new Error(`only ${seen} keys listed`);
    await deleteTree(connection, 'bench-kv/');
    for (let m = 0; m < MOVES; m++) {
      const from = `bench-kv/move${m}/src/`;
      await seed(connection, from, MOVE_KEYS);
      moves.push(
        await timeMs(async () => {
          const r = await moveSubtree(connection, from, `bench-kv/move${m}/dst/`);
          if (r.deleted !== MOVE_KEYS) throw new Error(`moved ${r.deleted} of ${MOVE_KEYS}`);
        }),
      );
    }
  } finally {
    await deleteTree(connection, 'bench-kv/').catch(() => undefined);
    connection.dispose();
    bareAgent.destroy();
  }
  const oursMs = median(ours);
  const bareMs = median(bare);
  return {
    'kv.list100k.ours_ms': { value: round(oursMs), unit: 'ms', target: 'informational' },
    'kv.list100k.bare_ms': { value: round(bareMs), unit: 'ms', target: 'informational' },
    'kv.list100k.ratio': { value: round(oursMs / bareMs), unit: 'x', target: '<= 1.2' },
    'kv.move1000.ms': { value: round(median(moves)), unit: 'ms', target: 'informational' },
  };
}
