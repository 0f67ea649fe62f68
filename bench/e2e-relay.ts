/**
 * The no-Lambda limit of the end-to-end path: the same MQTT (8883-style, mutual TLS) and HTTPS
 * device endpoints the offline IoT Core uses, an in-process subscriber on devices/+/telemetry,
 * and a bare `ws` server that writes each message to every WebSocket client. No rule, no
 * Lambda, no DynamoDB, no API Gateway. Runs as its own process, as the offline stack does.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { startMqttEndpoint } from '../local/iot/broker/mqtt-endpoint';
import { startDeviceHttpsEndpoint } from '../local/iot/endpoints/device-https';
import { ensureLocalCa, ensureServerCertificate } from '../local/iot/identity';
import { childInput, childReady } from './support/child';

export interface RelayInput {
  /** A LOCAL_CLOUD_DIR whose CA signed the devices' certificates (the stack's). */
  stateDir: string;
}

export interface RelayPorts {
  mqtt: number;
  https: number;
  websocket: number;
}

const { stateDir } = childInput<RelayInput>();
const ca = ensureLocalCa(stateDir);
const server = ensureServerCertificate(stateDir, ca);
const tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem };

const mqtt = await startMqttEndpoint({ host: 'localhost', port: 0, tls });
const https = await startDeviceHttpsEndpoint({
  host: 'localhost',
  port: 0,
  tls,
  publish: (request) => mqtt.publish(request),
});
const sockets = new WebSocketServer({ host: 'localhost', port: 0 });
await new Promise<void>((resolve) => sockets.once('listening', resolve));

await new Promise<void>((resolve) =>
  mqtt.broker.subscribe(
    'devices/+/telemetry',
    (packet, done) => {
      const topic = packet.topic;
      let data: unknown;
      try {
        data = JSON.parse(packet.payload.toString());
      } catch {
        return done();
      }
      const frame = JSON.stringify({
        type: 'telemetry',
        id: randomUUID(),
        topic,
        deviceId: topic.split('/')[1],
        receivedAt: Date.now(),
        data,
      });
      for (const client of sockets.clients) client.send(frame);
      done();
    },
    resolve,
  ),
);

const ports: RelayPorts = {
  mqtt: mqtt.port,
  https: https.port,
  websocket: (sockets.address() as AddressInfo).port,
};
childReady(ports);

const stop = async () => {
  for (const client of sockets.clients) client.terminate();
  sockets.close();
  await Promise.all([mqtt.stop(), https.stop()]);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// The parent's end: when it goes, so does the relay.
process.stdin.resume();
process.stdin.once('end', () => void stop());
