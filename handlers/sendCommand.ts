import { commandPublisher } from '../shared/runtime/commands';
import { webSocketRoute } from '../shared/middleware/chain';
import { sendCommandSchema } from '../shared/protocol';
import { commandTopic } from '../shared/topics';

/** sendCommand: publish to devices/{deviceId}/commands (QoS 1) through the IoT data plane. */
export const handler = webSocketRoute(sendCommandSchema, async ({ input }) => {
  const { commandId } = await commandPublisher().publish(input.deviceId, input.command);
  return {
    type: 'commandSent',
    commandId,
    deviceId: input.deviceId,
    topic: commandTopic(input.deviceId),
  };
});
