import { mayCommand } from '../shared/auth/tokens';
import { prepareCommand } from '../shared/commands';
import { ForbiddenError } from '../shared/errors';
import { webSocketRoute } from '../shared/middleware/chain';
import { sendCommandSchema } from '../shared/protocol';
import { commandPublisher } from '../shared/runtime/commands';
import { takeActionToken } from '../shared/runtime/rate-limit';

/** sendCommand: publish to devices/{deviceId}/commands (QoS 1) through the IoT data plane. */
export const handler = webSocketRoute(
  sendCommandSchema,
  async ({ input, principal }) => {
    if (!principal?.commands) throw new ForbiddenError('The token does not allow sending commands');
    if (!mayCommand(principal, input.deviceId)) {
      throw new ForbiddenError(
        `The token's topics do not include device "${input.deviceId}": it may not command it`,
        { deviceId: input.deviceId, topics: principal.topics },
      );
    }
    const command = prepareCommand(input.deviceId, input.command);
    await commandPublisher().publish(command);
    return {
      type: 'commandSent',
      commandId: command.message.commandId,
      deviceId: command.deviceId,
      topic: command.topic,
    };
  },
  { meter: takeActionToken },
);
