import * as z from 'zod/mini';
import { UnknownActionError } from '../shared/errors';
import { webSocketRoute } from '../shared/middleware/chain';
import { ACTIONS } from '../shared/protocol';

/** $default: anything that is not a known action. Invalid JSON is answered by the chain. */
export const handler = webSocketRoute(z.unknown(), async ({ input }) => {
  const action = (input as { action?: unknown } | null)?.action;
  throw new UnknownActionError(action, ACTIONS);
});
