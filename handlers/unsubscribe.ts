import { connectionRepository } from '../shared/runtime/connections';
import { takeActionToken } from '../shared/runtime/rate-limit';
import { webSocketRoute } from '../shared/middleware/chain';
import { unsubscribeSchema } from '../shared/protocol';

/** unsubscribe: drops filters; a connection that never subscribed keeps receiving everything. */
export const handler = webSocketRoute(
  unsubscribeSchema,
  async ({ input, connectionId }) => {
    const topics = await connectionRepository().unsubscribe(connectionId, input.topics);
    return { type: 'unsubscribed', topics };
  },
  { meter: takeActionToken },
);
