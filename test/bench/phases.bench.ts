/**
 * phases.overhead_ms_per_phase: a five-phase ordered run of no-op commands on
 * all three nodes through the exec engine; what each phase costs beyond the
 * commands themselves (a node's ack-to-exit span), median of several runs.
 * metronome's polling costs at least 1 s per phase.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '../../src/core/consul/client';
import { mergeEvents } from '../../src/core/plans/merge';
import { parsePlan } from '../../src/core/plans/parse';
import { ExecRun } from '../../src/core/runs/execEngine';
import type { RunSnapshot } from '../../src/core/runs/model';
import { DEFAULT_OPERATION_SETTINGS } from '../../src/core/runs/phaseRunner';
import { RunRegistry } from '../../src/core/runs/registry';
import { BenchResults, median, round } from './stats';

const PHASES = 5;
const RUNS = 5;

const PLAN = `events:
  bench:
    ordered_tasks:
${Array.from({ length: PHASES }, () => '      - task: noop').join('\n')}
tasks:
  noop:
    operations:
      - execute:
          script: "true"
`;

/** Run time not spent inside a node's command, per phase. */
export function overheadPerPhase(run: RunSnapshot): number {
  const total = (run.endedAt ?? 0) - run.startedAt;
  const commands = run.phases.reduce((sum, p) => sum + Math.max(0, ...p.nodes.map((n) => (n.endedAt ?? 0) - (n.startedAt ?? n.endedAt ?? 0))), 0);
  return (total - commands) / run.phases.length;
}

export async function benchPhases(serverAddr: string): Promise<BenchResults> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-bench-pattern-'));
  const file = path.join(folder, 'task.yml');
  fs.writeFileSync(file, PLAN);
  const { plan } = parsePlan(PLAN, file);
  if (!plan) throw new Error('the benchmark plan does not parse');
  const merged = mergeEvents([plan]).get('bench')!;
  const connection = await connect({ name: 'bench', address: serverAddr }, undefined);
  const registry = new RunRegistry();
  const overheads: number[] = [];
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      const run = await new ExecRun(connection, registry, { event: 'bench', merged, plans: [plan], startedBy: 'bench', settings: DEFAULT_OPERATION_SETTINGS }).done;
      if (run.status !== 'success') throw new Error(`benchmark run ended ${run.status}: ${run.message}`);
      // The first run warms the connection and the agents.
      if (i > 0) overheads.push(overheadPerPhase(run));
    }
  } finally {
    registry.dispose();
    connection.dispose();
    fs.rmSync(folder, { recursive: true, force: true });
  }
  return { 'phases.overhead_ms_per_phase': { value: round(median(overheads)), unit: 'ms', target: '<= 50' } };
}
