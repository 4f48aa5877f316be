/**
 * exec.echo3: `echo hi` on three nodes through RemoteExecJob against the real
 * `consul exec` CLI, measured interleaved in one run. The CLI ends after a
 * fixed quiet wait; the job ends when the last expected node has exited.
 */
import { spawn } from 'node:child_process';
import { connect } from '../../src/core/consul/client';
import { RemoteExecJob } from '../../src/core/exec/remoteExecJob';
import { BenchResults, median, round, timeMs } from './stats';

const ROUNDS = 9;
const WARMUP = 1;
/** Far above the CLI's ~2.3 s: a hung CLI must not hang the benchmark. */
const CLI_LIMIT_MS = 30_000;

export function runCli(consulBin: string, serverAddr: string, nodes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(consulBin, ['exec', `-http-addr=${serverAddr}`, 'echo', 'hi'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const limit = setTimeout(() => child.kill('SIGKILL'), CLI_LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      if (code !== 0) reject(new Error(`consul exec ended with ${code ?? signal}: ${out.trim()}`));
      else if (!out.includes(`${nodes} / ${nodes} node(s) completed`)) reject(new Error(`consul exec did not reach all ${nodes} nodes: ${out.trim()}`));
      else resolve();
    });
  });
}

export async function benchExec(serverAddr: string, consulBin: string, agents: { name: string; httpAddr: string }[]): Promise<BenchResults> {
  const targets = agents.map((a) => a.name);
  const connection = await connect({ name: 'bench', address: serverAddr }, undefined);
  const runOurs = async () => {
    const results = await new RemoteExecJob(connection, { command: 'echo hi', targets, timeoutMs: 10_000 }).run();
    const failed = results.filter((r) => r.status !== 'success');
    if (failed.length) throw new Error(`remote exec failed: ${JSON.stringify(failed)}`);
  };
  const ours: number[] = [];
  const cli: number[] = [];
  try {
    // Warm-up: the keep-alive connection, the JIT, and the agents' first fork.
    for (let i = 0; i < WARMUP; i++) {
      await runOurs();
      await runCli(consulBin, serverAddr, targets.length);
    }
    for (let i = 0; i < ROUNDS; i++) {
      // Alternating who goes first keeps any drift in the cluster from favouring one side.
      if (i % 2) {
        cli.push(await timeMs(() => runCli(consulBin, serverAddr, targets.length)));
        ours.push(await timeMs(runOurs));
      } else {
        ours.push(await timeMs(runOurs));
        cli.push(await timeMs(() => runCli(consulBin, serverAddr, targets.length)));
      }
    }
  } finally {
    connection.dispose();
  }
  const oursMs = median(ours);
  const cliMs = median(cli);
  return {
    'exec.echo3.ours_ms': { value: round(oursMs), unit: 'ms', target: 'informational' },
    'exec.echo3.cli_ms': { value: round(cliMs), unit: 'ms', target: 'informational' },
    'exec.echo3.ratio': { value: round(oursMs / cliMs), unit: 'x', target: '<= 0.12' },
  };
}
