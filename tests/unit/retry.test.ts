/**
 * The PostToConnection retry policy (shared/connections/retry.ts) on its own, with exact values:
 * which failures are retried, how long each wait is, and what bounds the retries. The handler
 * and fault tests exercise it against real servers; these pin the numbers they cannot see.
 *
 * Transient errors are those the AWS SDK retries itself ("Retry behavior", AWS SDKs and Tools
 * Reference Guide): throttling (429), server errors (5xx) and network failures or timeouts.
 */
import { describe, expect, it, jest } from '@jest/globals';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  isTransient,
  retrying,
  type RetryPolicy,
} from '../../shared/connections/retry';

const status = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

describe('isTransient', () => {
  it.each([
    [status(429), true],
    [status(500), true],
    [status(502), true],
    [status(599), true],
    [status(400), false],
    [status(403), false],
    [status(410), false],
    [status(413), false],
    [status(499), false],
    [{ code: 'ECONNRESET' }, true],
    [{ code: 'ECONNREFUSED' }, true],
    [{ code: 'EPIPE' }, true],
    [{ code: 'ETIMEDOUT' }, true],
    [{ code: 'EAI_AGAIN' }, true],
    [{ code: 'ENOTFOUND' }, false],
    [{ name: 'TimeoutError' }, true],
    [{ name: 'RequestTimeout' }, true],
    [{ name: 'GoneException' }, false],
    [new Error('boom'), false],
    [null, false],
    [undefined, false],
    // An HTTP answer decides, whatever the error's name says.
    [{ ...status(400), name: 'TimeoutError' }, false],
  ])('%j → %s', (error, transient) => {
    expect(isTransient(error)).toBe(transient);
  });
});

describe('backoffDelay (equal jitter)', () => {
  const policy: RetryPolicy = {
    attempts: 6,
    baseDelayMs: 50,
    maxDelayMs: 300,
    requestTimeoutMs: 1,
  };

  it('waits half the exponential step for sure and up to the whole step', () => {
    expect([1, 2, 3].map((tries) => backoffDelay(policy, tries, () => 0))).toEqual([25, 50, 100]);
    expect([1, 2, 3].map((tries) => backoffDelay(policy, tries, () => 1))).toEqual([50, 100, 200]);
    expect(backoffDelay(policy, 2, () => 0.5)).toBe(75);
  });

  it('caps the step at maxDelayMs', () => {
    expect(backoffDelay(policy, 4, () => 1)).toBe(300);
    expect(backoffDelay(policy, 10, () => 0)).toBe(150);
  });

  it('has the documented defaults: 6 tries, 50 ms base, 2 s cap, 3 s per attempt', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      attempts: 6,
      baseDelayMs: 50,
      maxDelayMs: 2_000,
      requestTimeoutMs: 3_000,
    });
  });
});

describe('retrying', () => {
  const fast: RetryPolicy = { attempts: 4, baseDelayMs: 2, maxDelayMs: 8, requestTimeoutMs: 500 };
  const far = () => Date.now() + 60_000;

  /** An attempt that fails with these errors in turn, then succeeds; records its timeouts. */
  function scripted(errors: unknown[]) {
    const timeouts: number[] = [];
    const attempt = async (timeoutMs: number) => {
      timeouts.push(timeoutMs);
      const error = errors.shift();
      if (error !== undefined) throw error;
      return 'ok';
    };
    return { attempt, timeouts };
  }

  it('returns the first success without retrying', async () => {
    const { attempt, timeouts } = scripted([]);
    await expect(retrying(attempt, fast, far())).resolves.toBe('ok');
    expect(timeouts).toHaveLength(1);
  });

  it('retries transient failures until one succeeds', async () => {
    const { attempt, timeouts } = scripted([status(429), status(503), { code: 'ECONNRESET' }]);
    await expect(retrying(attempt, fast, far())).resolves.toBe('ok');
    expect(timeouts).toHaveLength(4);
  });

  it('fails at once on a failure that is not transient', async () => {
    const gone = status(410);
    const { attempt, timeouts } = scripted([gone]);
    await expect(retrying(attempt, fast, far())).rejects.toBe(gone);
    expect(timeouts).toHaveLength(1);
  });

  it('gives up after `attempts` tries with the last error', async () => {
    const errors = [status(500), status(501), status(502), status(503), status(504)];
    const last = errors[3];
    const { attempt, timeouts } = scripted(errors);
    await expect(retrying(attempt, fast, far())).rejects.toBe(last);
    expect(timeouts).toHaveLength(4);
  });

  it('gives each attempt requestTimeoutMs, or less when the deadline is nearer', async () => {
    const { attempt, timeouts } = scripted([]);
    await retrying(attempt, fast, far());
    expect(timeouts).toEqual([500]);

    const near = scripted([]);
    await retrying(near.attempt, fast, Date.now() + 200);
    expect(near.timeouts[0]).toBeLessThanOrEqual(200);
    expect(near.timeouts[0]).toBeGreaterThan(100);
  });

  it('does not wait past the deadline: the error comes back instead', async () => {
    const slow: RetryPolicy = { ...fast, baseDelayMs: 10_000, maxDelayMs: 10_000 };
    const throttled = status(429);
    const { attempt, timeouts } = scripted([throttled]);
    const started = Date.now();
    await expect(retrying(attempt, slow, Date.now() + 1_000)).rejects.toBe(throttled);
    expect(timeouts).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('does not retry when the wait would end exactly at the deadline', async () => {
    // A frozen clock: the first attempt gets the 25 ms left, the backoff is 25 ms (random = 0),
    // and an attempt that starts at the deadline would have no time at all.
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const policy: RetryPolicy = {
        attempts: 4,
        baseDelayMs: 50,
        maxDelayMs: 50,
        requestTimeoutMs: 500,
      };
      const unavailable = status(503);
      const { attempt, timeouts } = scripted([unavailable]);
      const outcome = retrying(attempt, policy, 1_000_025, () => 0).catch(
        (error: unknown) => error,
      );
      await jest.advanceTimersByTimeAsync(100);
      await expect(outcome).resolves.toBe(unavailable);
      expect(timeouts).toEqual([25]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('waits the backoff between tries (random = 0: half of each step)', async () => {
    const spaced: RetryPolicy = {
      attempts: 3,
      baseDelayMs: 80,
      maxDelayMs: 1_000,
      requestTimeoutMs: 1,
    };
    const { attempt } = scripted([status(500), status(500)]);
    const started = Date.now();
    await retrying(attempt, spaced, far(), () => 0);
    // 40 ms, then 80 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
  });
});
