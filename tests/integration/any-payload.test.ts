/**
 * Every payload a device publishes reaches the WebSocket clients, against the whole offline
 * stack with clients nobody here wrote (mosquitto_pub, curl) and mqtt.js: text as the seed's
 * devices send it, binary, empty and JSON values (JSON nested 10 000 levels deep: tests/bad-input/
 * websocket-api.test.ts).
 *
 * AWS: "Working with binary payloads" (AWS IoT developer guide) — a Lambda action takes a
 * non-JSON payload only base64-encoded, hence the rule's encode(*, 'base64'); "MQTT message
 * payload" — AWS IoT does not specify what a payload holds.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deadLetterDirectory } from '../../local/iot/core';
import { DeadLetterStore } from '../../local/iot/dead-letters';
import { connectDevice, deviceCredentials, type DeviceCredentials } from '../support/devices';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { requireTools } from '../support/tools';
import { connectClient, type TestClient } from '../support/ws-client';

const run = promisify(execFile);

const TEXT = 'Hello, IoT, This is Mayuri';
// Not UTF-8 (0xff, 0xc3 0x28), with a NUL: bytes no text decoder accepts.
const binaryFor = (tag: number) => Buffer.from([0xff, 0x00, tag, 0xc3, 0x28]);

let stack: OfflineStack;
let viewer: TestClient;
let scratch: string;

beforeAll(async () => {
  stack = await startOfflineStack();
  viewer = await connectClient(stack.websocketUrl);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'any-payload-'));
}, 120_000);

afterAll(async () => {
  await viewer?.close();
  await stack?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}, 30_000);

type Frame = Record<string, unknown>;
const from = (deviceId: string, match: (frame: Frame) => boolean) => (frame: Frame) =>
  frame.type === 'telemetry' && frame.deviceId === deviceId && match(frame);

/** The four payloads each client sends, and the frame each must become. */
async function expectAllFour(deviceId: string, tag: number): Promise<void> {
  const binary = binaryFor(tag);
  const frames = await Promise.all([
    viewer.waitFor(from(deviceId, (frame) => frame.kind === 'text')),
    viewer.waitFor(from(deviceId, (frame) => frame.kind === 'binary')),
    viewer.waitFor(from(deviceId, (frame) => frame.kind === 'empty')),
    viewer.waitFor(from(deviceId, (frame) => frame.kind === 'object')),
  ]);
  const envelope = {
    type: 'telemetry',
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    topic: `devices/${deviceId}/telemetry`,
    deviceId,
    receivedAt: expect.any(Number),
  };
  expect(frames).toEqual([
    { ...envelope, kind: 'text', size: TEXT.length, data: {}, text: TEXT },
    { ...envelope, kind: 'binary', size: 5, data: {}, base64: binary.toString('base64') },
    { ...envelope, kind: 'empty', size: 0, data: {} },
    {
      ...envelope,
      kind: 'object',
      size: expect.any(Number),
      data: { temperature: 21.5, marker: tag },
    },
  ]);
}

describe('clients nobody here wrote', () => {
  if (!requireTools(['mosquitto_pub', 'curl'])) return;

  /** The device's certificate, key and the CA as files, as the command-line clients want them. */
  async function files(credentials: DeviceCredentials) {
    const dir = await mkdtemp(path.join(scratch, `${credentials.thingName}-`));
    const paths = {
      ca: path.join(dir, 'ca.pem'),
      cert: path.join(dir, 'cert.pem'),
      key: path.join(dir, 'key.pem'),
      binary: path.join(dir, 'payload.bin'),
    };
    await writeFile(paths.ca, credentials.ca);
    await writeFile(paths.cert, credentials.cert);
    await writeFile(paths.key, credentials.key, { mode: 0o600 });
    return paths;
  }

  it('mosquitto_pub: text, binary, empty and a JSON object all reach a WebSocket client', async () => {
    const device = deviceCredentials(stack.localCloudDir, 'mosq-1');
    const paths = await files(device);
    await writeFile(paths.binary, binaryFor(1));
    const publish = (...message: string[]) =>
      run('mosquitto_pub', [
        ...['--cafile', paths.ca, '--cert', paths.cert, '--key', paths.key],
        ...['-h', 'localhost', '-p', String(stack.ports.mqtt), '-i', 'mosq-1', '-q', '1'],
        ...['-t', 'devices/mosq-1/telemetry', ...message],
      ]);
    await publish('-m', TEXT);
    await publish('-f', paths.binary);
    await publish('-n'); // a zero-length message
    await publish('-m', JSON.stringify({ temperature: 21.5, marker: 1 }));
    await expectAllFour('mosq-1', 1);
  });

  it('curl over HTTPS: text, binary, empty and a JSON object all reach a WebSocket client', async () => {
    const device = deviceCredentials(stack.localCloudDir, 'curl-1');
    const paths = await files(device);
    await writeFile(paths.binary, binaryFor(2));
    const post = async (...data: string[]) => {
      const { stdout } = await run('curl', [
        ...['--silent', '--show-error', '--fail-with-body'],
        ...['--cert', paths.cert, '--key', paths.key, '--cacert', paths.ca, '-X', 'POST'],
        ...data,
        `https://localhost:${stack.ports.https}/topics/devices/curl-1/telemetry?qos=1`,
      ]);
      expect(JSON.parse(stdout)).toMatchObject({ message: 'OK' });
    };
    await post('--data-binary', TEXT);
    await post('--data-binary', `@${paths.binary}`);
    await post('--data-binary', '');
    await post('--data-binary', JSON.stringify({ temperature: 21.5, marker: 2 }));
    await expectAllFour('curl-1', 2);
  });
});

describe('JSON values', () => {
  it('a JSON array and a number arrive as JSON values', async () => {
    const credentials = deviceCredentials(stack.localCloudDir, 'values-1');
    const device = await connectDevice(stack.ports.mqtt, credentials);
    await device.publishAsync('devices/values-1/telemetry', '[1,2,3]', { qos: 1 });
    await device.publishAsync('devices/values-1/telemetry', '42', { qos: 1 });
    await device.endAsync();
    const values = await Promise.all(
      [[1, 2, 3], 42].map((value) =>
        viewer.waitFor(
          from('values-1', (frame) => JSON.stringify(frame.value) === JSON.stringify(value)),
        ),
      ),
    );
    expect(values.map((frame) => frame.kind)).toEqual(['json', 'json']);
  });
});

describe('a frame over API Gateway’s 128 KB message limit', () => {
  // API Gateway quotas for WebSocket APIs: a message is at most 128 KB, and the offline
  // @connections answers 413 above it. A 120 KB binary payload (within IoT Core's 128 KB)
  // becomes ~160 KB of base64 in the frame: every client gets a notice instead, nothing fails.
  it('reaches every client as kind "tooLarge" with its size, and is not dead-lettered', async () => {
    const second = await connectClient(stack.websocketUrl);
    const credentials = deviceCredentials(stack.localCloudDir, 'big-1');
    const device = await connectDevice(stack.ports.mqtt, credentials);
    const payload = Buffer.alloc(120 * 1024, 0xff);
    await device.publishAsync('devices/big-1/telemetry', payload, { qos: 1 });
    await device.endAsync();
    for (const client of [viewer, second]) {
      const notice = await client.waitFor(
        from('big-1', () => true),
        20_000,
      );
      expect(notice).toMatchObject({ kind: 'tooLarge', size: payload.length, data: {} });
      expect(notice).not.toHaveProperty('base64');
    }
    await second.close();
    const letters = await new DeadLetterStore(deadLetterDirectory(stack.localCloudDir)).list();
    expect(letters.filter((letter) => letter.topic === 'devices/big-1/telemetry')).toEqual([]);
  });
});
