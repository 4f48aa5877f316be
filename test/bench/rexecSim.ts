/**
 * Simulated remote-exec agents for the exec.sim benchmark, in a process of
 * their own (so the extension side's CPU time is measured alone). Forked with
 * the Consul HTTP address; the parent sends `{ type: 'answer', nodes }` to
 * say which nodes the next job reaches (the `_rexec` event itself does not
 * show up anywhere an HTTP client can read). For each new job directory
 * under `_rexec/` it reads the job spec, then writes as an agent does, each
 * key under the job's session (`?acquire=<session>`): every node's `ack`,
 * then its output chunk `out/00000`, then its `exit` ("0").
 */
import * as http from 'node:http';

const addr = process.argv[2];
if (!addr || !process.send) throw new Error('usage: fork rexecSim.js <consul http addr>');
const [host, port] = addr.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
/** Writes in flight at once: agents write on their own, all at the same time. */
const PARALLEL = 48;

let nodes: string[] = [];
const seen = new Set<string>();

function request(method: string, path: string, body?: string): Promise<{ status: number; text: string; index: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), index: res.headers['x-consul-index'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function inParallel<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function put(path: string, body: string): Promise<void> {
  const r = await request('PUT', path, body);
  if (r.status !== 200 || r.text.trim() !== 'true') throw new Error(`PUT ${path} → ${r.status} ${r.text}`);
}

async function answer(sid: string): Promise<void> {
  const t0 = Date.now();
  // As an agent: a stale read first, a consistent one when it finds nothing.
  let job = await request('GET', `/v1/kv/_rexec/${sid}/job?stale`);
  if (job.status === 404) job = await request('GET', `/v1/kv/_rexec/${sid}/job?consistent`);
  if (job.status !== 200) return; // a job already gone (cleaned up): nothing to answer
  const targets = nodes;
  const key = (node: string, rest: string) => `/v1/kv/_rexec/${sid}/${encodeURIComponent(node)}/${rest}?acquire=${sid}`;
  await inParallel(targets, (n) => put(key(n, 'ack'), ''));
  await inParallel(targets, (n) => put(key(n, 'out/00000'), `hi from ${n}\n`));
  await inParallel(targets, (n) => put(key(n, 'exit'), '0'));
  process.send!({ type: 'answered', sid, nodes: targets.length, ms: Date.now() - t0 });
}

async function follow(): Promise<void> {
  let index = '0';
  for (;;) {
    let r;
    try {
      r = await request('GET', `/v1/kv/_rexec/?keys&separator=/&index=${index}&wait=30s`);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    if (r.index && Number(r.index) >= Number(index)) index = r.index;
    else index = '0';
    if (r.status !== 200) continue;
    for (const k of JSON.parse(r.text) as string[]) {
      const sid = /^_rexec\/([^/]+)\/$/.exec(k)?.[1];
      if (!sid || seen.has(sid)) continue;
      seen.add(sid);
      answer(sid).catch((e: unknown) => process.send!({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
    }
  }
}

process.on('message', (m: { type: string; nodes?: string[] }) => {
  if (m.type === 'answer' && m.nodes) {
    nodes = m.nodes;
    process.send!({ type: 'ok' });
  }
  if (m.type === 'stop') process.exit(0);
});
// Jobs that exist before the first answer list are not ours.
void request('GET', '/v1/kv/_rexec/?keys&separator=/').then((r) => {
  if (r.status === 200) for (const k of JSON.parse(r.text) as string[]) seen.add(/^_rexec\/([^/]+)\/$/.exec(k)?.[1] ?? '');
  process.send!({ type: 'ready' });
  void follow();
});
