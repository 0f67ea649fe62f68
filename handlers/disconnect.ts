import { connectionRepository } from '../shared/runtime/connections';
import { connectionRoute } from '../shared/middleware/chain';

/** $disconnect: forget the connection (best effort in AWS; the TTL catches what is missed). */
export const handler = connectionRoute('DISCONNECT', async ({ connectionId }) => {
  await connectionRepository().remove(connectionId);
});
