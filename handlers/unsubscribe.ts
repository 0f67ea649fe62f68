import { assertWithinRateLimit } from '../shared/connections/rate-limit';
import { config } from '../shared/runtime/config';
import { connectionRepository } from '../shared/runtime/connections';
import { webSocketRoute } from '../shared/middleware/chain';
import { unsubscribeSchema } from '../shared/protocol';

/** unsubscribe: drops filters; a connection that never subscribed keeps receiving everything. */
export const handler = webSocketRoute(unsubscribeSchema, async ({ input, connectionId }) => {
  await assertWithinRateLimit(
    connectionRepository(),
    connectionId,
    config().rateLimit,
    'unsubscribe',
  );
  const topics = await connectionRepository().unsubscribe(connectionId, input.topics);
  return { type: 'unsubscribed', topics };
});
