import { assertWithinRateLimit } from '../shared/connections/rate-limit';
import { ForbiddenError } from '../shared/errors';
import { webSocketRoute } from '../shared/middleware/chain';
import { subscribeSchema } from '../shared/protocol';
import { config } from '../shared/runtime/config';
import { connectionRepository } from '../shared/runtime/connections';
import { filterCovers } from '../shared/topics';

/** subscribe: from now on the connection receives only telemetry matching its filters. */
export const handler = webSocketRoute(
  subscribeSchema,
  async ({ input, connectionId, principal }) => {
    await assertWithinRateLimit(
      connectionRepository(),
      connectionId,
      config().rateLimit,
      'subscribe',
    );
    const allowed = principal?.topics ?? null;
    if (allowed !== null) {
      const outside = input.topics.filter(
        (filter) => !allowed.some((scope) => filterCovers(scope, filter)),
      );
      if (outside.length > 0) {
        throw new ForbiddenError(
          `The token does not allow these topic filters: ${outside.join(', ')}`,
          {
            outside,
            allowed,
          },
        );
      }
    }
    const topics = await connectionRepository().subscribe(connectionId, input.topics);
    return { type: 'subscribed', topics };
  },
);
