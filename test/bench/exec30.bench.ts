/**
 * exec.nodes30: `echo hi` on every agent of a 30-agent loopback cluster
 * (one server, the two demo clients and 27 more), through RemoteExecJob
 * against the real `consul exec` CLI, interleaved in one run. Starts and
 * stops its own cluster: 30 agents are too many to keep beside the others.
 */
import { connect } from '../../src/core/consul/client';
import { RemoteExecJob } from '../../src/core/exec/remoteExecJob';
import { startCluster, stopCluster } from '../infra/cluster';
import { runCli } from './exec.bench';
import { BenchResults, median, round, timeMs } from './stats';

const AGENTS = 30;
const ROUNDS = 5;

export async function benchExec30(basePort: number): Promise<BenchResults> {
  // The demo cluster has three agents.
  const cluster = await startCluster({ basePort, withSecure: false, extraClients: AGENTS - 3, timeoutMs: 120_000 });
  const server = cluster.agents.find((a) => a.role === 'server')!.httpAddr;
  const targets = cluster.agents.map((a) => a.name);
  if (targets.length !== AGENTS) throw new Error(`the cluster has ${targets.length} agents, not ${AGENTS}`);
  const connection = await connect({ name: 'bench', address: server }, undefined);
  const runOurs = async () => {
    const results = await new RemoteExecJob(connection, { command: 'echo hi', targets, timeoutMs: 30_000 }).run();
    const failed = results.filter((r) => r.status !== 'success');
    if (failed.length) throw new Error(`remote exec failed on ${failed.length} node(s): ${JSON.stringify(failed.slice(0, 3))}`);
  };
  const cli = () => runCli(cluster.consulBin, server, AGENTS);
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    // Warm-up: the keep-alive connection, the JIT, and every agent's first fork.
    await runOurs();
    await cli();
    for (let i = 0; i < ROUNDS; i++) {
      // Alternating who goes first keeps any drift in the cluster from favouring one side.
      if (i % 2) {
        theirs.push(await timeMs(cli));
        ours.push(await timeMs(runOurs));
      } else {
        ours.push(await timeMs(runOurs));
        theirs.push(await timeMs(cli));
      }
    }
  } finally {
    connection.dispose();
    await stopCluster(cluster, { removeBaseDir: true });
  }
  const oursMs = median(ours);
  const cliMs = median(theirs);
  return {
    'exec.nodes30.ours_ms': { value: round(oursMs), unit: 'ms', target: 'informational' },
    'exec.nodes30.cli_ms': { value: round(cliMs), unit: 'ms', target: 'informational' },
    'exec.nodes30.ratio': { value: round(oursMs / cliMs), unit: 'x', target: '<= 0.2' },
  };
}
