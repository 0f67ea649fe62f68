import { ForbiddenError } from '../shared/errors';
import { webSocketRoute } from '../shared/middleware/chain';
import { subscribeSchema } from '../shared/protocol';
import { connectionRepository } from '../shared/runtime/connections';
import { takeActionToken } from '../shared/runtime/rate-limit';
import { filterCovers } from '../shared/topics';

/** subscribe: from now on the connection receives only telemetry matching its filters. */
export const handler = webSocketRoute(
  subscribeSchema,
  async ({ input, connectionId, principal }) => {
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
  { meter: takeActionToken },
);
