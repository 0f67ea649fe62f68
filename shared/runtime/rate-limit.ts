import { assertWithinRateLimit } from '../connections/rate-limit';
import { config } from './config';
import { connectionRepository } from './connections';

/** The meter of every client action (webSocketRoute's `meter`): the connection's token bucket. */
export const takeActionToken = (
  connectionId: string,
  action: string,
  arrivedAt: number,
): Promise<void> =>
  assertWithinRateLimit(
    connectionRepository(),
    connectionId,
    config().rateLimit,
    action,
    arrivedAt,
  );
