import { assertWithinRateLimit } from '../shared/connections/rate-limit';
import { ForbiddenError } from '../shared/errors';
import { webSocketRoute } from '../shared/middleware/chain';
import { sendCommandSchema } from '../shared/protocol';
import { commandPublisher } from '../shared/runtime/commands';
import { config } from '../shared/runtime/config';
import { connectionRepository } from '../shared/runtime/connections';
import { commandTopic } from '../shared/topics';

/** sendCommand: publish to devices/{deviceId}/commands (QoS 1) through the IoT data plane. */
export const handler = webSocketRoute(
  sendCommandSchema,
  async ({ input, connectionId, principal }) => {
    if (!principal?.commands) throw new ForbiddenError('The token does not allow sending commands');
    await assertWithinRateLimit(
      connectionRepository(),
      connectionId,
      config().rateLimit,
      'sendCommand',
    );
    const { commandId } = await commandPublisher().publish(input.deviceId, input.command);
    return {
      type: 'commandSent',
      commandId,
      deviceId: input.deviceId,
      topic: commandTopic(input.deviceId),
    };
  },
);
