import { connectionRepository } from '../shared/runtime/connections';
import { connectionRoute } from '../shared/middleware/chain';

/**
 * $connect: remember the connection. A client receives all telemetry until it subscribes —
 * unless its token limits its topics: then it starts subscribed to exactly those.
 */
export const handler = connectionRoute('CONNECT', async ({ connectionId, principal }) => {
  await connectionRepository().save({
    connectionId,
    connectedAt: Date.now(),
    topics: principal?.topics ?? null,
  });
});
