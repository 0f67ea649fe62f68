/**
 * Retrying PostToConnection: transient failures (429, 5xx, network, no answer in time) are
 * retried with jittered exponential backoff until a deadline; anything else fails at once.
 *
 * The deadline bounds both the waits and each attempt: an attempt is given only the time left,
 * so a post that hangs ends at the deadline instead of running into the Lambda's own timeout.
 */
import { backoffDelay as sharedBackoff } from '../backoff';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest one attempt may take (further bounded by the time left to the deadline). */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 50,
  maxDelayMs: 2_000,
  requestTimeoutMs: 3_000,
};

export function isTransient(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
    ?.httpStatusCode;
  if (status !== undefined) return status === 429 || status >= 500;
  // No HTTP answer at all: the connection failed, reset or timed out.
  const code = (error as { code?: string } | null)?.code;
  const name = (error as { name?: string } | null)?.name;
  return (
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code ?? '') ||
    ['TimeoutError', 'RequestTimeout'].includes(name ?? '')
  );
}

/** The project's one backoff (shared/backoff.ts) with this policy's steps. */
export function backoffDelay(policy: RetryPolicy, tries: number, random: () => number): number {
  return sharedBackoff(tries, { initialMs: policy.baseDelayMs, maxMs: policy.maxDelayMs }, random);
}

/**
 * Runs `attempt(timeoutMs)` until it succeeds, fails for good, runs out of tries, or the deadline
 * (epoch ms) leaves no time for another one — then the last error is thrown.
 */
export async function retrying<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  policy: RetryPolicy,
  deadline: number,
  random: () => number = Math.random,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt(Math.min(policy.requestTimeoutMs, deadline - Date.now()));
    } catch (error) {
      if (!isTransient(error) || tries >= policy.attempts) throw error;
      const delay = backoffDelay(policy, tries, random);
      if (Date.now() + delay >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
