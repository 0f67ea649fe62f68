/**
 * Devices for the browser tests: mqtt.js clients with certificates from the offline stack's local
 * CA, connecting over mutual TLS as a real device does (client id = thing name).
 */
import type { MqttClient } from 'mqtt';
import {
  connectDevice as connectMqtt,
  deviceCredentials,
  type DeviceCredentials,
} from '../support/devices';

export interface TestDevice {
  id: string;
  client: MqttClient;
  /** Readings published so far. */
  published: number;
  /** Publishes one reading (QoS 1) to devices/{id}/telemetry. */
  publishReading(): Promise<void>;
  /** Answers every command on devices/{id}/commands with an ack on its telemetry topic. */
  acknowledgeCommands(onCommand?: (command: { commandId: string }) => void): Promise<void>;
  close(): Promise<void>;
}

/** Connects device `id`, issuing its certificate now unless `credentials` are given. */
export async function connectDevice(
  localCloudDir: string,
  mqttPort: number,
  id: string,
  credentials: DeviceCredentials = deviceCredentials(localCloudDir, id),
): Promise<TestDevice> {
  // Fifty handshakes at once on a small machine take longer than the support's default.
  const client = await connectMqtt(mqttPort, credentials, { connectTimeout: 20_000 });
  const telemetryTopic = `devices/${id}/telemetry`;
  const device: TestDevice = {
    id,
    client,
    published: 0,
    async publishReading() {
      const seq = device.published++;
      await client.publishAsync(telemetryTopic, JSON.stringify(reading(seq)), { qos: 1 });
    },
    async acknowledgeCommands(onCommand) {
      client.on('message', (_topic, payload) => {
        const command = JSON.parse(payload.toString()) as { commandId: string; command: unknown };
        onCommand?.(command);
        const ack = { type: 'ack', commandId: command.commandId, status: 'done', ts: Date.now() };
        void client.publishAsync(telemetryTopic, JSON.stringify(ack), { qos: 1 });
      });
      await client.subscribeAsync(`devices/${id}/commands`, { qos: 1 });
    },
    close: () => client.endAsync(),
  };
  return device;
}

/** A plausible reading that varies with its sequence number. */
export function reading(seq: number) {
  return {
    seq,
    ts: Date.now(),
    temperature: Math.round((21 + 3 * Math.sin(seq / 5)) * 100) / 100,
    humidity: Math.round((45 + 10 * Math.cos(seq / 7)) * 10) / 10,
    pressure: Math.round((1013 + 2 * Math.sin(seq / 11)) * 10) / 10,
    battery: Math.max(0, 100 - seq * 0.1),
    rssi: -60 - (seq % 15),
  };
}
