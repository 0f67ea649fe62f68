/**
 * Load without loss (issue 11): the offline IoT Core's rules engine queues at most a bounded
 * backlog. While it is full, devices are held back — the QoS 1 PUBACK and the HTTPS answer wait
 * until the message is queued — the depth is reported, and a stop with a backlog writes what it
 * could not deliver to the dead-letter store with the reason "offline cloud stopped", so that
 * every accepted message is either delivered or dead-lettered: none is dropped without a record.
 *
 * AWS IoT Core developer guide, "MQTT", QoS options
 * (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-qos): a QoS 1 message is
 * sent until a PUBACK is received and is not complete before — so a PUBACK withheld until the
 * message is queued loses nothing, and one sent before would promise what a stop could break.
 * "AWS IoT errors" (iot-errors.html): the message broker answers 503 Service unavailable.
 *
 * Real components: the offline IoT Core (aedes behind mutual TLS, the HTTPS device endpoint),
 * mqtt.js devices with certificates from its CA, and a real HTTP server speaking the Lambda invoke
 * API whose answers the test releases (tests/support/held-lambda.ts).
 */
import { afterAll, afterEach, beforeAll, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startOfflineIotCore, type OfflineIotCore } from '../../local/iot/core';
import { rulesFromFunctions } from '../../local/iot/rules/engine';
import {
  connectDevice,
  deviceCredentials,
  httpsPublish,
  type DeviceCredentials,
  type HttpsAnswer,
} from '../support/devices';
import { startHeldLambda, waitUntil, type HeldLambda } from '../support/held-lambda';
import { freePorts } from '../support/ports';

const SQL = "SELECT *, topic(2) AS deviceId FROM 'devices/+/telemetry'";
const ALLOW_ALL = [
  {
    name: 'test-allow-all',
    document: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow' as const, Action: 'iot:*', Resource: '*' }],
    },
  },
];

let dir: string;
let lambda: HeldLambda;
let core: OfflineIotCore | undefined;
let warnings: string[];
const devices: MqttClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rules-backpressure-'));
});
afterEach(async () => {
  for (const device of devices.splice(0)) device.end(true);
  await core?.stop();
  core = undefined;
  await lambda?.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function startCore(
  name: string,
  maxQueuedRuleActions: number,
): Promise<{ core: OfflineIotCore; sensor: DeviceCredentials }> {
  lambda = await startHeldLambda();
  warnings = [];
  const [mqttPort, httpsPort, dataPlanePort] = (await freePorts(3)) as [number, number, number];
  const stateDir = path.join(dir, name);
  core = await startOfflineIotCore({
    host: 'localhost',
    mqttPort,
    httpsPort,
    dataPlanePort,
    stateDir,
    rules: rulesFromFunctions(
      { forwardTelemetry: { events: [{ iot: { sql: SQL } }] } },
      (key) => `telemetry-test-${key}`,
    ),
    policies: ALLOW_ALL,
    region: 'us-east-1',
    lambdaEndpoint: lambda.endpoint,
    maxQueuedRuleActions,
    stopDrainMs: 100,
    onWarning: (line) => warnings.push(line),
  });
  return { core, sensor: deviceCredentials(stateDir, 'sensor-1') };
}

async function device(core: OfflineIotCore, credentials: DeviceCredentials): Promise<MqttClient> {
  const client = await connectDevice(core.mqtt.port, credentials);
  devices.push(client);
  return client;
}

/** A QoS 1 publish, and whether its PUBACK has arrived (`acked`) or it failed (`failed`). */
function publish(client: MqttClient, seq: number) {
  const state = { acked: false, failed: false };
  const done = new Promise<void>((resolve) =>
    client.publish('devices/sensor-1/telemetry', JSON.stringify({ seq }), { qos: 1 }, (error) => {
      if (error) state.failed = true;
      else state.acked = true;
      resolve();
    }),
  );
  return { state, done };
}

const seqs = (payloads: Record<string, unknown>[]) =>
  payloads.map((payload) => Number(payload.seq)).sort((a, b) => a - b);

it('holds the QoS 1 PUBACK while the backlog is full, reports the depth, and acks once there is room', async () => {
  const { core, sensor } = await startCore('mqtt', 3);
  const client = await device(core, sensor);
  for (let seq = 0; seq < 3; seq++) await publish(client, seq).done;
  expect(core.backlog()).toMatchObject({ depth: 3, capacity: 3 });

  const fourth = publish(client, 3);
  await waitUntil(() => core.backlog().waiting === 1, 'the fourth message waits for room');
  expect(fourth.state).toEqual({ acked: false, failed: false });
  expect(core.backlog()).toMatchObject({ depth: 3, inFlight: 2, waiting: 1 });
  expect(warnings).toContainEqual(
    expect.stringMatching(/backlog full: 3 of 3 rule actions queued; devices are held back/),
  );

  await waitUntil(() => lambda.held() === 2, 'two invocations are in flight');
  lambda.release(1);
  await fourth.done;
  expect(fourth.state.acked).toBe(true);

  lambda.open();
  await waitUntil(() => lambda.delivered.length === 4, 'all four are delivered');
  expect(seqs(lambda.delivered)).toEqual([0, 1, 2, 3]);
  expect(lambda.delivered[0]).toMatchObject({ deviceId: 'sensor-1' });
  await waitUntil(() => core.backlog().depth === 0, 'the backlog is empty');
  expect(warnings.at(-1)).toMatch(/backlog cleared: 0 queued \(peak 3 of 3\)/);
});

it('holds the HTTPS answer while the backlog is full, and answers 200 once the message is queued', async () => {
  const { core, sensor } = await startCore('https', 2);
  const client = await device(core, sensor);
  for (let seq = 0; seq < 2; seq++) await publish(client, seq).done;

  let answer: HttpsAnswer | undefined;
  const posted = httpsPublish(
    core.https.port,
    '/topics/devices/sensor-1/telemetry?qos=1',
    JSON.stringify({ seq: 2 }),
    sensor,
  ).then((result) => (answer = result));
  await waitUntil(() => core.backlog().waiting === 1, 'the HTTPS message waits for room');
  expect(answer).toBeUndefined();

  await waitUntil(() => lambda.held() === 2, 'two invocations are in flight');
  lambda.release(1);
  await posted;
  expect(answer?.status).toBe(200);
  lambda.open();
  await waitUntil(() => lambda.delivered.length === 3, 'all three are delivered');
  expect(seqs(lambda.delivered)).toEqual([0, 1, 2]);
});

it('a stop with a backlog dead-letters the rest with the reason: published = delivered + dead-lettered', async () => {
  const capacity = 8;
  const { core: stopping, sensor } = await startCore('stop', capacity);
  const client = await device(stopping, sensor);
  const total = 20;
  const publishes = Array.from({ length: total }, (_, seq) => ({ seq, ...publish(client, seq) }));

  // Three are delivered; then the functions stall, the backlog fills and the device is held back.
  for (let delivered = 1; delivered <= 3; delivered++) {
    await waitUntil(() => lambda.held() > 0, 'an invocation is in flight');
    lambda.release(1);
    await waitUntil(() => stopping.backlog().delivered === delivered, `${delivered} delivered`);
  }
  const accepted = 3 + capacity;
  await waitUntil(
    () =>
      stopping.backlog().waiting > 0 && publishes.filter((p) => p.state.acked).length === accepted,
    'the backlog is full, its messages acknowledged, and the device held back',
  );

  // And an HTTPS device waits for room too, when the stack stops.
  const waitingOverMqtt = stopping.backlog().waiting;
  const posted = httpsPublish(
    stopping.https.port,
    '/topics/devices/sensor-1/telemetry?qos=1',
    JSON.stringify({ seq: 'https' }),
    sensor,
  ).catch((error: Error) => ({ status: 0, body: error.message }));
  await waitUntil(
    () => stopping.backlog().waiting === waitingOverMqtt + 1,
    'the HTTPS message waits as well',
  );

  await stopping.stop();
  core = undefined;
  client.end(true);
  await Promise.all(publishes.map((p) => p.done));

  const published = publishes.filter((p) => p.state.acked).map((p) => p.seq);
  const letters = await stopping.deadLetters.list();
  const delivered = seqs(lambda.delivered);
  const deadLettered = letters.map((letter) => Number(letter.output?.seq));
  expect(published).toHaveLength(accepted);
  expect(delivered).toHaveLength(3);
  expect(deadLettered).toHaveLength(capacity);
  expect([...delivered, ...deadLettered].sort((a, b) => a - b)).toEqual(published);
  for (const letter of letters) {
    expect(letter).toMatchObject({
      topic: 'devices/sensor-1/telemetry',
      reason: expect.stringMatching(/^offline cloud stopped/),
      output: expect.objectContaining({ deviceId: 'sensor-1' }),
    });
  }
  expect(warnings).toContainEqual(
    expect.stringMatching(/stopping with 8 rule action\(s\) unfinished .*dead-letter store/),
  );
  // The held-back messages were never acknowledged: the devices still have them to send again.
  expect((await posted).status).not.toBe(200);
  expect(publishes.filter((p) => !p.state.acked).length).toBe(total - accepted);
});
