/** Shared by integration, extension-host and UI tests: the running cluster and small waits. */
import { ClusterState, readState, restartAgent, writeState } from '../infra/cluster';

export function clusterFromEnv(): ClusterState {
  const file = process.env.CCO_CLUSTER_STATE;
  if (!file) throw new Error('CCO_CLUSTER_STATE is not set: run the tests through `npm test`, which starts the cluster.');
  return readState(file);
}

export function serverAgent(state: ClusterState) {
  const server = state.agents.find((a) => a.role === 'server');
  if (!server) throw new Error('the cluster state names no server agent');
  return server;
}

/** Polls a condition a bounded number of times; only for the tests' own observations. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * Restarts an agent and records its new PID in the state file. Each test file
 * holds its own copy of the state: only this agent's entry is written back,
 * so no file overwrites another's restart with a stale PID.
 */
export async function restartAndRecord(state: ClusterState, name: string): Promise<void> {
  const agent = await restartAgent(state, name);
  const file = process.env.CCO_CLUSTER_STATE;
  if (!file) return;
  const onDisk = readState(file);
  for (const a of [...onDisk.agents, ...(onDisk.secure ? [onDisk.secure.agent] : [])]) if (a.name === name) a.pid = agent.pid;
  writeState(file, onDisk);
}
