/**
 * The MQTT broker restarts in the middle of a stream: QoS 1 devices reconnect by themselves and
 * every reading still arrives (duplicates allowed, as QoS 1 allows them).
 */
import { afterAll, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startMqttEndpoint, type MqttEndpoint } from '../../local/iot/broker/mqtt-endpoint';
import { ensureLocalCa, ensureServerCertificate } from '../../local/iot/identity';
import { connectDevice, deviceCredentials } from '../support/devices';
import { printReport, tally } from '../support/fault-report';
import { freePorts } from '../support/ports';

let dir: string;
let endpoint: MqttEndpoint | undefined;
afterAll(async () => {
  await endpoint?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('QoS 1 devices ride out a broker restart without losing a reading', async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'broker-restart-'));
  const ca = ensureLocalCa(dir);
  const server = ensureServerCertificate(dir, ca);
  const tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem };
  const [port] = (await freePorts(1)) as [number];
  const received: string[] = [];
  const start = () =>
    startMqttEndpoint({
      host: 'localhost',
      port,
      tls,
      onClientPublish: (message) =>
        received.push(String(JSON.parse(message.payload.toString()).seq)),
    });

  endpoint = await start();
  const device = await connectDevice(port, deviceCredentials(dir, 'sensor-1'), {
    clean: false,
    reconnectPeriod: 100,
  });
  const total = 60;
  const sent: string[] = [];
  const publishes: Promise<unknown>[] = [];
  for (let seq = 0; seq < total; seq++) {
    if (seq === 20) {
      // Mid-stream: the broker goes away and comes back on the same port.
      await endpoint.stop();
      endpoint = await start();
    }
    sent.push(String(seq));
    publishes.push(
      device.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ seq }), { qos: 1 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Every QoS 1 publish resolves only once the broker acknowledged it.
  await Promise.all(publishes);
  await device.endAsync();

  const report = tally(sent, received);
  printReport('broker restarted mid-stream', report);
  expect(report.lost).toBe(0);
  expect(report.delivered).toBe(total);
}, 60_000);
