import { connectionRepository } from '../shared/runtime/connections';
import { connectionRoute } from '../shared/middleware/chain';

/** $connect: remember the connection. A new client receives all telemetry until it subscribes. */
export const handler = connectionRoute(async ({ connectionId }) => {
  await connectionRepository().save({ connectionId, connectedAt: Date.now() });
});
