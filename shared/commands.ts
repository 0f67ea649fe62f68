/**
 * Commands from WebSocket clients to devices, published through the IoT data plane to
 * `devices/{id}/commands` at QoS 1.
 */
import { randomUUID } from 'node:crypto';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { CommandFailedError } from './errors';
import type { DeviceCommand, SendCommandRequest } from './protocol';
import { commandTopic } from './topics';

export interface CommandPublisher {
  publish(deviceId: string, command: SendCommandRequest['command']): Promise<DeviceCommand>;
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

  async publish(deviceId: string, command: SendCommandRequest['command']): Promise<DeviceCommand> {
    const message: DeviceCommand = {
      commandId: randomUUID(),
      command,
      issuedAt: new Date().toISOString(),
    };
    try {
      await this.client.send(
        new PublishCommand({
          topic: commandTopic(deviceId),
          qos: 1,
          contentType: 'application/json',
          payload: Buffer.from(JSON.stringify(message)),
        }),
      );
    } catch (error) {
      throw new CommandFailedError(deviceId, error);
    }
    return message;
  }
}

const withScheme = (host: string): string => (/^https?:\/\//.test(host) ? host : `https://${host}`);
