/** Exponential backoff with jitter, for MQTT reconnects and HTTPS retries. */
import { backoffDelay as sharedBackoff } from '../../shared/backoff';

export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** No delay exceeds this. */
  maxMs: number;
}

export const MQTT_RECONNECT: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };
export const HTTPS_RETRY: BackoffPolicy & { attempts: number } = {
  baseMs: 200,
  maxMs: 5_000,
  attempts: 5,
};

/** The delay before retry number `attempt` (0 for the first): the project's one backoff. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  return sharedBackoff(attempt + 1, { initialMs: policy.baseMs, maxMs: policy.maxMs }, random);
}

/** A sleep that `cancel` ends early (resolving false). */
export function cancellableSleep(ms: number): { done: Promise<boolean>; cancel(): void } {
  let finish: (completed: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  const timer = setTimeout(() => finish(true), ms);
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
      finish(false);
    },
  };
}
