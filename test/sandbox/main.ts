/**
 * `npm run sandbox`: a real three-node Consul cluster with demo services and
 * KV data, a Chef server (goiardi, authenticated) seeded with nodes named like
 * the Consul nodes plus one known only to Chef and their run history, and VS
 * Code (code-server) with the freshly packaged extension connected to both. Ctrl-C stops everything. `--check` does the same
 * headless, verifies the Nodes view shows the cluster, and exits 0/1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openWorkbench, startCodeServer, installExtension, CodeServerHandle } from '../harness/codeServer';
import { ClusterState, consulJson, startCluster, stopCluster } from '../infra/cluster';
import { seedChef } from '../infra/chefSeed';
import { GoiardiState, goiardiClient, startGoiardi, stopGoiardi } from '../infra/goiardi';
import { openChefConsulContainer, viewRow } from '../ui/workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const STATE_DIR = path.join(ROOT, '.vscode-test', 'sandbox');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');
const WORKSPACE = path.join(ROOT, 'test', 'fixtures', 'sandbox');
const SANDBOX_PORT = 29500;
/** goiardi listens on 127.0.0.1:<this>. */
const SANDBOX_CHEF_PORT = SANDBOX_PORT + 45;

/** The sandbox's Chef profile, tied to the Consul connection the sandbox gives VS Code (CONSUL_HTTP_ADDR). */
function chefSettings(chef: GoiardiState): Record<string, unknown> {
  return {
    'chefConsul.chef.profiles': [
      { name: 'sandbox', serverUrl: chef.url, clientName: chef.adminClient, clientKey: chef.adminKeyPath, consulProfile: 'Environment' },
    ],
  };
}

const DEMO_KV: Record<string, string> = {
  'metronome/config/token': 'sandbox-token',
  'app/web/config.json': JSON.stringify({ listen: 8080, upstreams: ['api.service.consul'] }, null, 2),
  'app/web/feature-flags.yml': 'new_checkout: true\ndark_mode: false\n',
  'app/db/replication': 'primary',
  'cloudconductor/patterns/tomcat_pattern/revision': 'v1.4.2',
};

async function seedKv(cluster: ClusterState): Promise<void> {
  const server = cluster.agents.find((a) => a.role === 'server')!;
  for (const [key, value] of Object.entries(DEMO_KV)) {
    await consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: value });
  }
}

function serverAddr(cluster: ClusterState): string {
  return cluster.agents.find((a) => a.role === 'server')!.httpAddr;
}

async function check(cluster: ClusterState, chef: GoiardiState): Promise<boolean> {
  const wb = await openWorkbench({ vsix: VSIX, folder: WORKSPACE, env: { CONSUL_HTTP_ADDR: serverAddr(cluster) }, settings: chefSettings(chef) });
  try {
    await openChefConsulContainer(wb.page);
    for (const agent of cluster.agents) await viewRow(wb.page, 'Nodes', agent.name).waitFor({ timeout: 30_000 });
    const shot = path.join(ROOT, 'test-results', 'sandbox-check.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await wb.page.screenshot({ path: shot });
    console.log(`sandbox check: the Nodes view shows ${cluster.agents.map((a) => a.name).join(', ')} (screenshot ${path.relative(ROOT, shot)})`);
    return true;
  } catch (e) {
    console.error(`sandbox check failed: ${(e as Error).message}`);
    return false;
  } finally {
    await wb.close();
  }
}

async function serve(cluster: ClusterState, chef: GoiardiState): Promise<CodeServerHandle> {
  const userDataDir = path.join(STATE_DIR, 'user-data');
  const extensionsDir = path.join(STATE_DIR, 'extensions');
  fs.rmSync(extensionsDir, { recursive: true, force: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  installExtension({ vsix: VSIX, extensionsDir, userDataDir });
  return startCodeServer({
    port: Number(process.env.SANDBOX_PORT) || 8080,
    userDataDir,
    extensionsDir,
    env: { CONSUL_HTTP_ADDR: serverAddr(cluster) },
    settings: chefSettings(chef),
  });
}

async function main(): Promise<number> {
  const checkOnly = process.argv.includes('--check');
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: npm run sandbox builds it`);
  fs.mkdirSync(STATE_DIR, { recursive: true });
  console.log('starting the Consul cluster…');
  const cluster = await startCluster({ basePort: SANDBOX_PORT, baseDir: path.join(STATE_DIR, 'cluster'), withSecure: false });
  let codeServer: CodeServerHandle | undefined;
  let chef: GoiardiState | undefined;
  const stopAll = async () => {
    await codeServer?.stop();
    if (chef) await stopGoiardi(chef);
    await stopCluster(cluster);
  };
  try {
    await seedKv(cluster);
    console.log(`cluster ready in ${cluster.readyMs.cluster} ms: ${cluster.agents.map((a) => `${a.name} (${a.httpAddr})`).join(', ')}`);
    console.log('starting the Chef server (goiardi)…');
    chef = await startGoiardi({ port: Number(process.env.SANDBOX_CHEF_PORT) || SANDBOX_CHEF_PORT, confRoot: path.join(STATE_DIR, 'goiardi') });
    const seeded = await seedChef(goiardiClient(chef));
    console.log(`goiardi ready in ${chef.readyMs} ms at ${chef.url}: Chef nodes ${seeded.nodes.join(', ')} with their run history`);
    if (checkOnly) return (await check(cluster, chef)) ? 0 : 1;
    codeServer = await serve(cluster, chef);
    const url = `${codeServer.url}?folder=${encodeURIComponent(WORKSPACE)}`;
    console.log(`\nVS Code with Chef + Consul Ops: ${url}\n(Consul HTTP API: http://${serverAddr(cluster)}; Chef server: ${chef.url}, client ${chef.adminClient}, key ${chef.adminKeyPath}) — Ctrl-C stops everything.`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    console.log('\nstopping…');
    return 0;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
