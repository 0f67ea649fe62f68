import { ConnectionNotRegisteredError, RateLimitedError } from '../errors';
import type { ConnectionRepository, TokenBucket } from './repository';

/**
 * Every client action takes a token first. Throws RATE_LIMITED when the connection has used up
 * its bucket for now, and NOT_REGISTERED when the backend does not know the connection: then
 * nothing else is done for the frame (no publish, no broadcast, no write).
 */
export async function assertWithinRateLimit(
  repository: ConnectionRepository,
  connectionId: string,
  bucket: TokenBucket,
  action: string,
  /** When the frame arrived: the bucket counts frames by their arrival. */
  now: number,
): Promise<void> {
  const result = await repository.takeToken(connectionId, bucket, now);
  if (result.allowed) return;
  if ('unregistered' in result) throw new ConnectionNotRegisteredError();
  throw new RateLimitedError(action, result.retryAfterMs);
}
