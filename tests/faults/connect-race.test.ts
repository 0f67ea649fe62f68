/**
 * The connect race, end to end. API Gateway answers 410 to PostToConnection for a connection
 * whose $connect has not completed (AWS Knowledge Center: "Why do I get a 410 GoneException
 * when I call PostToConnection?"), and so does the offline API: the item is written, the socket
 * is not open yet. A fan-out in that window must not unregister the client for good.
 *
 * 20 viewers connect while a device streams about 100 readings per second; afterwards every
 * viewer is registered (it can subscribe) and receives the next reading.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { connectDevice, deviceCredentials } from '../support/devices';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, type TestClient } from '../support/ws-client';

let stack: OfflineStack;
let device: MqttClient;
const viewers: TestClient[] = [];

beforeAll(async () => {
  stack = await startOfflineStack();
  device = await connectDevice(stack.ports.mqtt, deviceCredentials(stack.localCloudDir, 'racer'));
}, 120_000);
afterAll(async () => {
  await Promise.all(viewers.map((viewer) => viewer.close()));
  device?.end(true);
  await stack?.stop();
}, 30_000);

const publish = (body: object) =>
  new Promise<void>((resolve, reject) =>
    device.publish('devices/racer/telemetry', JSON.stringify(body), { qos: 1 }, (error) =>
      error ? reject(error) : resolve(),
    ),
  );

it('viewers connecting during a 100 msg/s stream all end up registered and receiving', async () => {
  let streaming = true;
  let sequence = 0;
  const stream = (async () => {
    // Bounded: stops when the viewers are in, or after 1 500 readings whatever happens.
    while (streaming && sequence < 1_500) {
      void publish({ sequence: sequence++ });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  for (let i = 0; i < 20; i++) viewers.push(await connectClient(stack.websocketUrl));
  streaming = false;
  await stream;

  // Registered: a subscribe (which needs the connection's item) succeeds for each.
  for (const viewer of viewers) {
    viewer.send({ action: 'subscribe', topics: ['devices/racer/telemetry'] });
  }
  for (const viewer of viewers) {
    const answer = await viewer.waitFor(
      (frame) => frame.type === 'subscribed' || frame.type === 'error',
    );
    expect(answer).toMatchObject({ type: 'subscribed' });
  }
  // Receiving: the reading after the stream reaches all 20.
  await publish({ final: true });
  for (const viewer of viewers) {
    await viewer.waitFor(
      (frame) => frame.type === 'telemetry' && (frame.data as { final?: boolean }).final === true,
      30_000,
    );
  }
  expect(sequence).toBeGreaterThan(0);
  process.stdout.write(`connect race: ${sequence} readings streamed while 20 viewers connected\n`);
}, 120_000);
