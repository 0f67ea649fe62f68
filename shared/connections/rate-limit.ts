import { RateLimitedError } from '../errors';
import type { ConnectionRepository, TokenBucket } from './repository';

/** Throws a RATE_LIMITED error when the connection has used up its bucket for now. */
export async function assertWithinRateLimit(
  repository: ConnectionRepository,
  connectionId: string,
  bucket: TokenBucket,
  action: string,
): Promise<void> {
  const result = await repository.takeToken(connectionId, bucket, Date.now());
  if (!result.allowed) throw new RateLimitedError(action, result.retryAfterMs);
}
