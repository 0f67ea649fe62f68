import { connectionAlias } from '../shared/auth/tokens';
import { recordFanOut } from '../shared/metrics';
import { broadcaster } from '../shared/runtime/broadcaster';
import { takeActionToken } from '../shared/runtime/rate-limit';
import { webSocketRoute } from '../shared/middleware/chain';
import { sendMessageSchema, type ChatFrame } from '../shared/protocol';

/** sendMessage: the seed's broadcast to every connected client (the sender included). */
export const handler = webSocketRoute(
  sendMessageSchema,
  async ({ input, connectionId, event, context }) => {
    const authorizer = (event.requestContext as { authorizer?: Record<string, unknown> | null })
      .authorizer;
    const frame: ChatFrame = {
      type: 'message',
      id: context.awsRequestId,
      // Never the connection id: with it, any client could post to or close the sender's socket.
      from: connectionAlias(authorizer, connectionId),
      message: input.message,
      sentAt: new Date().toISOString(),
    };
    const started = Date.now();
    const { delivered, gone, failed } = await broadcaster().broadcast(frame);
    recordFanOut({ delivered, gone, failed }, Date.now() - started);
    return { type: 'sent', id: frame.id, delivered, gone, failed };
  },
  { meter: takeActionToken },
);
