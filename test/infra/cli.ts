// Start/stop the Consul test cluster from scripts (benchmarks, sandbox, CI):
//   node out/test/infra/cli.js start --state <file> [--no-secure] [--base-dir <dir>] [--base-port <n>] [--with-chef [--chef-port <n>]]
//   node out/test/infra/cli.js stop  --state <file> [--clean]
// `start` leaves the agents running and records their PIDs in the state file;
// `stop` kills exactly those PIDs and is safe to repeat. --with-chef also starts
// goiardi (authenticated, in memory; default port base port + 45 on 127.0.0.1),
// seeds it (test/infra/chefSeed.ts) and records it as the state's `chef` section.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allAgents, ClusterState, readState, startCluster, stopCluster, writeState } from './cluster';
import { GoiardiState, goiardiClient, startGoiardi, stopGoiardi } from './goiardi';
import { seedChef } from './chefSeed';

interface Args { command: string; state: string; secure: boolean; baseDir?: string; basePort?: number; clean: boolean; withChef: boolean; chefPort?: number }

const USAGE = 'usage: cli.js start --state <file> [--no-secure] [--base-dir <dir>] [--base-port <n>] [--with-chef [--chef-port <n>]]\n       cli.js stop --state <file> [--clean]';

function parseArgs(argv: string[]): Args {
  const args: Args = { command: argv[0] ?? '', state: '', secure: true, clean: false, withChef: false };
  for (let i = 1; i < argv.length; i++) {
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case '--state': args.state = value(); break;
      case '--base-dir': args.baseDir = value(); break;
      case '--base-port': args.basePort = Number(value()); break;
      case '--no-secure': args.secure = false; break;
      case '--clean': args.clean = true; break;
      case '--with-chef': args.withChef = true; break;
      case '--chef-port': args.chefPort = Number(value()); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!['start', 'stop'].includes(args.command) || !args.state) throw new Error(USAGE);
  return args;
}

function summary(s: ClusterState): string {
  const agents = s.agents.map((a) => `${a.name}@${a.httpAddr}`).join(' ');
  const secure = s.secure ? `; ${s.secure.agent.datacenter} https://${s.secure.httpsAddr} ready in ${s.readyMs.secure} ms` : '';
  return `${s.datacenter} ready in ${s.readyMs.cluster} ms: ${agents}${secure}; state ${s.baseDir}`;
}

async function start(args: Args): Promise<void> {
  // Ctrl-C during start must not leave detached agents behind.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const state: ClusterState & { chef?: GoiardiState } = await startCluster({ withSecure: args.secure, baseDir: args.baseDir, basePort: args.basePort, signal: abort.signal });
  writeState(args.state, state);
  console.log(summary(state));
  if (args.withChef) {
    try {
      state.chef = await startGoiardi({ port: args.chefPort ?? state.basePort + 45, confRoot: path.join(state.baseDir, 'goiardi'), signal: abort.signal });
      writeState(args.state, state);
      const seeded = await seedChef(goiardiClient(state.chef));
      console.log(`goiardi ${state.chef.url} (pid ${state.chef.pid}) ready in ${state.chef.readyMs} ms; seeded nodes ${seeded.nodes.join(' ')}; admin key ${state.chef.adminKeyPath}`);
    } catch (e) {
      // A half-started suite must not leave the agents behind.
      if (state.chef) await stopGoiardi(state.chef);
      await stopCluster(state);
      throw e;
    }
  }
}

async function stop(args: Args): Promise<void> {
  if (!fs.existsSync(args.state)) {
    console.log(`no state file ${args.state}; nothing to stop`);
    return;
  }
  const state = readState(args.state) as ClusterState & { chef?: GoiardiState };
  if (state.chef) await stopGoiardi(state.chef);
  await stopCluster(state, { removeBaseDir: args.clean });
  console.log(`stopped ${allAgents(state).map((a) => `${a.name}(${a.pid})`).join(' ')}${state.chef ? ` goiardi(${state.chef.pid})` : ''}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await (args.command === 'start' ? start(args) : stop(args));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
