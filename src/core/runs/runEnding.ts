/**
 * How an engine ends a run it was asked to stop, and how long it may spend
 * on the way out. A user's cancel and the editor's shutdown both abort the
 * run's signal; shutdown() aborts with RunShutdown, and such a run ends
 * `interrupted`: nobody chose to stop it, its editor went away.
 */
import { FINAL_WRITE_BUDGET_MS } from './recorder';
import { CLEANUP_TIMEOUT_MS } from './runSession';

export class RunShutdown extends Error {
  constructor() {
    super('The editor shut down while the run was in progress.');
    this.name = 'RunShutdown';
  }
}

export function isShutdown(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof RunShutdown;
}

/**
 * Time for the final records and for each cleanup request (lock, session).
 * A run that ended by itself keeps trying to record its end for a while; a
 * cancelled one is wanted gone now; at shutdown VS Code gives only seconds.
 */
export function endBudget(signal: AbortSignal): { finalWriteMs: number; cleanupMs: number } {
  if (isShutdown(signal)) return { finalWriteMs: 2000, cleanupMs: 1000 };
  if (signal.aborted) return { finalWriteMs: 5000, cleanupMs: CLEANUP_TIMEOUT_MS };
  return { finalWriteMs: FINAL_WRITE_BUDGET_MS, cleanupMs: CLEANUP_TIMEOUT_MS };
}

/** The sentence added to a run's message when its last records could not be written. */
export function historyIncomplete(error: Error, session: boolean): string {
  return `The history in KV is incomplete: ${error.message}${session ? ' Readers of KV see the run as interrupted once its session is gone.' : ''}`;
}
