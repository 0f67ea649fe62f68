/**
 * Retrying PostToConnection: transient failures (429, 5xx, network) are retried with full-jitter
 * exponential backoff until a deadline; anything else fails at once.
 */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 50,
  maxDelayMs: 2_000,
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

/**
 * Runs `attempt` until it succeeds, fails for good, runs out of tries, or the next wait would
 * pass `deadline` (epoch ms) — then the last error is thrown.
 */
export async function retrying<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  deadline: number,
  random: () => number = Math.random,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransient(error) || tries >= policy.attempts) throw error;
      const delay = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (tries - 1));
      if (Date.now() + delay >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
