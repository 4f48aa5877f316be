/**
 * Time limits in tests guard behaviour ("at once", "live", "never hangs"),
 * not speed: speed is measured by `npm run bench`. On a slow or loaded
 * machine, CCO_TIME_FACTOR (default 1, e.g. 3) multiplies every limit.
 */
export const TIME_FACTOR = Math.max(1, Number(process.env.CCO_TIME_FACTOR) || 1);

/** A time limit in ms, scaled for this machine. */
export function limit(ms: number): number {
  return ms * TIME_FACTOR;
}
