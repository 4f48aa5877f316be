/**
 * Agents going away and coming back. Kept in its own file, run after the
 * event tests: a restarted agent may drop user events fired right after it
 * rejoins (serf ignores events older than its join time), which is Consul's
 * behaviour, not ours, and would only blur what those tests measure.
 */
import * as assert from 'node:assert/strict';
import { connect } from '../../src/core/consul/client';
import { stopAgent } from '../infra/cluster';
import { clusterFromEnv, restartAndRecord } from '../support/env';
import { liveCatalog, until } from '../support/live';

describe('recovery when an agent goes away', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();

  it('shows an unreachable agent as an error and recovers when it comes back', async () => {
    const agent = cluster.agents.find((a) => a.role === 'client')!;
    const direct = await connect({ name: 'client', address: agent.httpAddr }, undefined);
    const query = liveCatalog(direct);
    const sub = query.subscribe();
    try {
      await until(query, (s) => s.kind === 'ready', 5000);
      await stopAgent(cluster, agent.name);
      // A stopping agent may still answer the open long-poll with a 500 before its port closes.
      const failed = await until(query, (s) => s.kind === 'error' && s.error.kind === 'unreachable', 5000);
      assert.ok(failed.kind === 'error');
      assert.match(failed.error.message, new RegExp(`${agent.httpAddr.replace(/\./g, '\\.')}: connection refused`));
      await restartAndRecord(cluster, agent.name);
      await until(query, (s) => s.kind === 'ready', 10_000);
    } finally {
      sub.dispose();
      query.dispose();
      direct.dispose();
      // Later tests need the agent whatever happened here.
      await restartAndRecord(cluster, agent.name);
    }
  });
});
