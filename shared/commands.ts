/**
 * Commands from WebSocket clients to devices, published through the IoT data plane to
 * `devices/{id}/commands` at QoS 1.
 */
import { randomUUID } from 'node:crypto';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { CommandFailedError, MessageTooLargeError } from './errors';
import type { DeviceCommand, SendCommandRequest } from './protocol';
import { commandTopic } from './topics';

/**
 * The largest payload IoT Core accepts in a publish, 128 KB ("AWS IoT Core message broker limits
 * and quotas"; the data plane answers a larger one with 413 RequestEntityTooLargeException).
 */
export const IOT_PAYLOAD_MAX_BYTES = 128 * 1024;

/** A command as its device will receive it, checked against IoT Core's limit. */
export interface PreparedCommand {
  deviceId: string;
  topic: string;
  message: DeviceCommand;
  payload: Buffer;
}

/**
 * Wraps the client's command in its envelope and measures the exact bytes that will be published:
 * a command that fits in a 128 KB WebSocket message can still outgrow IoT Core's limit once its
 * id and timestamp are added. It is refused here, before anything is published.
 */
export function prepareCommand(
  deviceId: string,
  command: SendCommandRequest['command'],
  now = new Date(),
): PreparedCommand {
  const message: DeviceCommand = { commandId: randomUUID(), command, issuedAt: now.toISOString() };
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  if (payload.length > IOT_PAYLOAD_MAX_BYTES) {
    throw new MessageTooLargeError(
      payload.length,
      IOT_PAYLOAD_MAX_BYTES,
      `The command's message to device "${deviceId}" (its envelope included)`,
    );
  }
  return { deviceId, topic: commandTopic(deviceId), message, payload };
}

export interface CommandPublisher {
  publish(command: PreparedCommand): Promise<void>;
}

export class IotCommandPublisher implements CommandPublisher {
  private readonly client: IoTDataPlaneClient;

  /**
   * `endpoint`: the data-plane URL or host. Without it the SDK uses the region's ATS data
   * endpoint (data-ats.iot.{region}.amazonaws.com), which SigV4 ties to this account — no
   * DescribeEndpoint call and no `iot:DescribeEndpoint` on "*" needed.
   */
  constructor(endpoint: string | undefined) {
    this.client = new IoTDataPlaneClient(endpoint ? { endpoint: withScheme(endpoint) } : {});
  }

  async publish(command: PreparedCommand): Promise<void> {
    try {
      await this.client.send(
        new PublishCommand({
          topic: command.topic,
          qos: 1,
          contentType: 'application/json',
          payload: command.payload,
        }),
      );
    } catch (error) {
      throw new CommandFailedError(command.deviceId, error);
    }
  }
}

const withScheme = (host: string): string => (/^https?:\/\//.test(host) ? host : `https://${host}`);
