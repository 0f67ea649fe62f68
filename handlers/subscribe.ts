import { connectionRepository } from '../shared/runtime/connections';
import { webSocketRoute } from '../shared/middleware/chain';
import { subscribeSchema } from '../shared/protocol';

/** subscribe: from now on the connection receives only telemetry matching its filters. */
export const handler = webSocketRoute(subscribeSchema, async ({ input, connectionId }) => {
  const topics = await connectionRepository().subscribe(connectionId, input.topics);
  return { type: 'subscribed', topics };
});
