/**
 * Commands from WebSocket clients to devices, published through the IoT data plane to
 * `devices/{id}/commands` at QoS 1.
 */
import { randomUUID } from 'node:crypto';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { CommandFailedError } from './errors';
import type { DeviceCommand, SendCommandRequest } from './protocol';
import { commandTopic } from './topics';

export interface CommandPublisher {
  publish(deviceId: string, command: SendCommandRequest['command']): Promise<DeviceCommand>;
}

export class IotCommandPublisher implements CommandPublisher {
  private client: Promise<IoTDataPlaneClient> | undefined;

  /** `endpoint` is the data-plane host; when absent it is discovered once (iot:DescribeEndpoint). */
  constructor(private readonly endpoint: string | undefined) {}

  async publish(deviceId: string, command: SendCommandRequest['command']): Promise<DeviceCommand> {
    const message: DeviceCommand = {
      commandId: randomUUID(),
      command,
      issuedAt: new Date().toISOString(),
    };
    try {
      const client = await this.dataPlane();
      await client.send(
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

  private dataPlane(): Promise<IoTDataPlaneClient> {
    this.client ??= this.discover().then(
      (host) => new IoTDataPlaneClient({ endpoint: withScheme(host) }),
    );
    // A failed discovery is retried on the next command instead of being cached.
    this.client.catch(() => (this.client = undefined));
    return this.client;
  }

  private async discover(): Promise<string | undefined> {
    if (this.endpoint) return this.endpoint;
    const { endpointAddress } = await new IoTClient({}).send(
      new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }),
    );
    return endpointAddress;
  }
}

const withScheme = (host: string | undefined): string | undefined =>
  host === undefined || /^https?:\/\//.test(host) ? host : `https://${host}`;
