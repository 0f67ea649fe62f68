/**
 * The one backoff of the project (Lambda retries, the simulated devices, the dashboard):
 * exponential, capped, with "equal jitter" ("Exponential Backoff And Jitter", AWS Architecture
 * Blog) — half the step is always waited, the other half is random, so clients that failed
 * together spread out and each still backs off. Pure: no timers, no I/O (the page imports it too).
 */
export interface Backoff {
  /** The first retry's step, before jitter. */
  initialMs: number;
  /** No step exceeds this. */
  maxMs: number;
}

/** The delay before retry number `retry` (1 for the first): initialMs · 2^(retry−1), capped. */
export function backoffDelay(
  retry: number,
  policy: Backoff,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, retry - 1), 30));
  return Math.round(step / 2 + random() * (step / 2));
}
