/** The MQTT endpoint on its own: the MQTT features devices rely on, and IoT Core's limits. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import {
  startMqttEndpoint,
  type MqttEndpoint,
  type PublishedMessage,
} from '../../local/iot/broker/mqtt-endpoint';
import { ensureLocalCa, ensureServerCertificate } from '../../local/iot/identity';
import { connectDevice, deviceCredentials, type DeviceCredentials } from '../support/devices';

let dir: string;
let endpoint: MqttEndpoint;
const published: PublishedMessage[] = [];
const device: Record<string, DeviceCredentials> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mqtt-endpoint-'));
  const ca = ensureLocalCa(dir);
  const server = ensureServerCertificate(dir, ca);
  endpoint = await startMqttEndpoint({
    host: 'localhost',
    port: 0,
    tls: { key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem },
    onClientPublish: (message) => published.push(message),
  });
  for (const name of ['d-1', 'd-2', 'd-3', 'd-4']) device[name] = deviceCredentials(dir, name);
});

afterAll(async () => {
  await endpoint.stop();
  await rm(dir, { recursive: true, force: true });
});

const connect = (name: string, options = {}) =>
  connectDevice(endpoint.port, device[name]!, options);
const nextMessage = (client: MqttClient) =>
  new Promise<{ topic: string; payload: string }>((resolve) =>
    client.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
  );
const closedBy = (client: MqttClient) =>
  new Promise<void>((resolve) => client.once('close', () => resolve()));

describe('MQTT features', () => {
  it('reports who published: client id and the certificate id', async () => {
    const client = await connect('d-1');
    await client.publishAsync('devices/d-1/telemetry', '{"a":1}', { qos: 1 });
    await client.endAsync();
    expect(published.at(-1)).toMatchObject({
      topic: 'devices/d-1/telemetry',
      clientId: 'd-1',
      qos: 1,
      identity: { thingName: 'd-1', certificateId: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
  });

  it('keeps retained messages for later subscribers', async () => {
    const publisher = await connect('d-1');
    await publisher.publishAsync('devices/d-1/status', 'online', { qos: 1, retain: true });
    await publisher.endAsync();
    const subscriber = await connect('d-2');
    const message = nextMessage(subscriber);
    await subscriber.subscribeAsync('devices/+/status', { qos: 1 });
    await expect(message).resolves.toEqual({ topic: 'devices/d-1/status', payload: 'online' });
    await subscriber.endAsync();
    // An empty retained message clears it, as MQTT defines.
    await endpoint.publish({
      topic: 'devices/d-1/status',
      payload: Buffer.alloc(0),
      qos: 1,
      retain: true,
    });
  });

  it('publishes the last will when a device drops', async () => {
    const watcher = await connect('d-2');
    await watcher.subscribeAsync('devices/d-1/status', { qos: 1 });
    const will = nextMessage(watcher);
    const dying = await connect('d-1', {
      will: { topic: 'devices/d-1/status', payload: 'lost', qos: 1, retain: false },
    });
    dying.stream.destroy(); // no DISCONNECT: the broker must send the will
    await expect(will).resolves.toEqual({ topic: 'devices/d-1/status', payload: 'lost' });
    await watcher.endAsync();
  });

  it('queues QoS 1 messages for a persistent session while the device is away', async () => {
    const first = await connect('d-2', { clean: false });
    await first.subscribeAsync('devices/d-2/commands', { qos: 1 });
    await first.endAsync();
    await endpoint.publish({
      topic: 'devices/d-2/commands',
      payload: Buffer.from('while-away'),
      qos: 1,
    });
    const back = await connectDevice(endpoint.port, device['d-2']!, {
      clean: false,
      manualConnect: false,
    });
    await expect(nextMessage(back)).resolves.toEqual({
      topic: 'devices/d-2/commands',
      payload: 'while-away',
    });
    await back.endAsync();
  });

  it('supports + and # subscriptions', async () => {
    const client = await connect('d-2');
    await client.subscribeAsync(['fleet/#', 'site/+/alarm'], { qos: 0 });
    const topics: string[] = [];
    const both = new Promise<void>((resolve) =>
      client.on('message', (topic) => topics.push(topic) === 2 && resolve()),
    );
    for (const topic of ['fleet/a/b/c', 'site/x/other', 'site/x/alarm']) {
      await endpoint.publish({ topic, payload: Buffer.from('x'), qos: 0 });
    }
    await both;
    expect(topics).toEqual(['fleet/a/b/c', 'site/x/alarm']);
    await client.endAsync();
  });
});

describe('shared subscriptions (AWS IoT Core Developer Guide, "MQTT" → "Shared Subscriptions")', () => {
  it('each message goes to one member of the group, MQTT 3.1.1 and 5 alike; plain subscribers get all; no retained', async () => {
    await endpoint.publish({
      topic: 'jobs/old',
      payload: Buffer.from('retained'),
      qos: 1,
      retain: true,
    });
    const members = [
      await connect('d-1', { protocolVersion: 5 }),
      await connect('d-2', { protocolVersion: 4 }),
    ];
    const plain = await connect('d-3', { protocolVersion: 5 });
    const got = new Map<MqttClient, string[]>([...members, plain].map((c) => [c, []]));
    for (const client of [...members, plain]) {
      client.on('message', (_topic, payload) => got.get(client)!.push(payload.toString()));
    }
    for (const member of members) {
      const granted = await member.subscribeAsync('$share/workers/jobs/#', { qos: 1 });
      expect(granted[0]?.qos).toBe(1);
    }
    await plain.subscribeAsync('jobs/#', { qos: 1 });
    const sent = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6'];
    for (const job of sent) {
      await endpoint.publish({ topic: `jobs/${job}`, payload: Buffer.from(job), qos: 1 });
    }
    const plainGot = got.get(plain)!;
    while (plainGot.filter((p) => p.startsWith('j')).length < sent.length) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const shared = members.flatMap((member) => got.get(member)!);
    while (shared.length < sent.length) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      shared.splice(0, shared.length, ...members.flatMap((member) => got.get(member)!));
    }
    // Every job exactly once across the group, each member some; the retained one to none.
    expect([...shared].sort()).toEqual(sent);
    for (const member of members) expect(got.get(member)!.length).toBeGreaterThan(0);
    expect(plainGot).toEqual(['retained', ...sent]);
    // Unsubscribing the shared filter leaves the group: the other member gets everything.
    await members[0]!.unsubscribeAsync('$share/workers/jobs/#');
    const before = got.get(members[1]!)!.length;
    for (const job of ['k1', 'k2']) {
      await endpoint.publish({ topic: `jobs/${job}`, payload: Buffer.from(job), qos: 1 });
    }
    while (got.get(members[1]!)!.length < before + 2) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(got.get(members[1]!)!.slice(before)).toEqual(['k1', 'k2']);
    for (const client of [...members, plain]) await client.endAsync();
    await endpoint.publish({ topic: 'jobs/old', payload: Buffer.alloc(0), qos: 1, retain: true });
  });
});

describe('IoT Core limits', () => {
  it('refuses a QoS 2 subscription with the SUBACK failure code', async () => {
    const client = await connect('d-1');
    const refused = await client
      .subscribeAsync('devices/d-1/commands', { qos: 2 })
      .catch((error) => error);
    expect(refused).toMatchObject({ packet: { granted: [128] } });
    await client.endAsync();
  });

  it.each([
    ['a reserved $aws topic', '$aws/things/d-1/shadow/update'],
    ['a topic with 8 slashes', 'a/b/c/d/e/f/g/h/i'],
    ['a topic over 256 bytes', `devices/${'x'.repeat(260)}`],
  ])('closes the connection on a publish to %s', async (_name, topic) => {
    const client = await connect('d-1');
    const closed = closedBy(client);
    const before = published.length;
    client.publish(topic, 'x', { qos: 1 });
    await closed;
    client.end(true);
    expect(published.length).toBe(before);
  });

  // "AWS IoT Core message broker and protocol limits and quotas": a client id is at most 128
  // bytes. The certificate here is for a thing whose name (and CN) is 128 characters long, so
  // its own name passes every other rule; one byte more is refused by the length rule alone,
  // with its own CONNACK code (2, Identifier rejected) rather than the thing-name rule's
  // Not authorized (5).
  it('takes a client id of 128 bytes and refuses one of 129 with Identifier rejected', async () => {
    const thing = 't'.repeat(128);
    const credentials = deviceCredentials(dir, thing);
    const client = await connectDevice(endpoint.port, credentials);
    await client.endAsync();
    const refused = await connectDevice(endpoint.port, { ...credentials, thingName: `${thing}x` })
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ message: expect.stringMatching(/Identifier rejected/i) });
    expect(refused).toMatchObject({ code: 2 });
  });
});
