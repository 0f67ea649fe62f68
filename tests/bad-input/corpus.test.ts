/**
 * The bad-input corpus: malformed or hostile inputs on every way in — WebSocket frames, MQTT,
 * HTTPS and the command-line tools. Each gets its defined answer, and after each one the local
 * cloud still serves the next valid message end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { deadLetterDirectory } from '../../local/iot/core';
import { DeadLetterStore } from '../../local/iot/dead-letters';
import {
  connectDevice,
  deviceCredentials,
  httpsPublish,
  publishExpectingDisconnect,
  type DeviceCredentials,
} from '../support/devices';
import { REPO_ROOT, startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, type TestClient } from '../support/ws-client';

const run = promisify(execFile);

let stack: OfflineStack;
let sensor1: DeviceCredentials;
let viewer: TestClient;
let marker = 0;

beforeAll(async () => {
  stack = await startOfflineStack();
  sensor1 = deviceCredentials(stack.localCloudDir, 'sensor-1');
  viewer = await connectClient(stack.websocketUrl);
}, 120_000);
afterAll(async () => {
  await viewer?.close();
  await stack?.stop();
}, 30_000);

/** A valid reading still goes device → rule → forwardTelemetry → WebSocket client. */
async function stillServing(): Promise<void> {
  const mine = ++marker;
  const answer = await httpsPublish(
    stack.ports.https,
    '/topics/devices/sensor-1/telemetry?qos=1',
    JSON.stringify({ temperature: 20, marker: mine }),
    sensor1,
  );
  expect(answer.status).toBe(200);
  await viewer.waitFor(
    (frame) => frame.type === 'telemetry' && (frame.data as { marker?: number }).marker === mine,
  );
}

describe('WebSocket frames → a JSON error frame, the connection stays open', () => {
  const filters = (count: number) =>
    Array.from({ length: count }, (_, i) => `devices/d-${i}/telemetry`);
  const cases: [string, string, string][] = [
    ['plain text', 'hello', 'INVALID_JSON'],
    ['truncated JSON', '{"action":', 'INVALID_JSON'],
    ['an array', '[1,2,3]', 'UNKNOWN_ACTION'],
    ['null', 'null', 'UNKNOWN_ACTION'],
    ['a number', '42', 'UNKNOWN_ACTION'],
    ['an unknown action', '{"action":"selfDestruct"}', 'UNKNOWN_ACTION'],
    ['a numeric action', '{"action":123}', 'UNKNOWN_ACTION'],
    ['a prototype-polluting action', '{"action":"__proto__"}', 'UNKNOWN_ACTION'],
    ['sendMessage without a message', '{"action":"sendMessage"}', 'VALIDATION_FAILED'],
    [
      'sendMessage with an empty message',
      '{"action":"sendMessage","message":""}',
      'VALIDATION_FAILED',
    ],
    [
      'sendMessage with an object',
      '{"action":"sendMessage","message":{"a":1}}',
      'VALIDATION_FAILED',
    ],
    ['subscribe without topics', '{"action":"subscribe"}', 'VALIDATION_FAILED'],
    ['subscribe with no filters', '{"action":"subscribe","topics":[]}', 'VALIDATION_FAILED'],
    ['subscribe with an empty filter', '{"action":"subscribe","topics":[""]}', 'VALIDATION_FAILED'],
    [
      'subscribe with # mid-filter',
      '{"action":"subscribe","topics":["a/#/b"]}',
      'VALIDATION_FAILED',
    ],
    ['subscribe with a partial +', '{"action":"subscribe","topics":["a+/b"]}', 'VALIDATION_FAILED'],
    [
      'subscribe with 51 filters',
      JSON.stringify({ action: 'subscribe', topics: filters(51) }),
      'VALIDATION_FAILED',
    ],
    [
      'subscribe with a 300-byte filter',
      JSON.stringify({ action: 'subscribe', topics: ['x'.repeat(300)] }),
      'VALIDATION_FAILED',
    ],
    [
      'unsubscribe with a string',
      '{"action":"unsubscribe","topics":"devices/#"}',
      'VALIDATION_FAILED',
    ],
    ['sendCommand without a device', '{"action":"sendCommand","command":"x"}', 'VALIDATION_FAILED'],
    [
      'sendCommand to a path',
      '{"action":"sendCommand","deviceId":"../etc","command":"x"}',
      'VALIDATION_FAILED',
    ],
    [
      'sendCommand to a 129-char id',
      JSON.stringify({ action: 'sendCommand', deviceId: 'd'.repeat(129), command: 'x' }),
      'VALIDATION_FAILED',
    ],
    [
      'sendCommand without a command',
      '{"action":"sendCommand","deviceId":"sensor-1"}',
      'VALIDATION_FAILED',
    ],
    [
      'sendCommand with a number',
      '{"action":"sendCommand","deviceId":"sensor-1","command":42}',
      'VALIDATION_FAILED',
    ],
  ];

  it.each(cases)('%s → %s', async (_name, frame, code) => {
    const before = viewer.frames.length;
    viewer.send(frame);
    const error = await viewer.waitFor(
      (received) => viewer.frames.indexOf(received) >= before && received.type === 'error',
    );
    expect(error).toMatchObject({ code, message: expect.any(String) });
    expect(viewer.socket.readyState).toBe(viewer.socket.OPEN);
    await stillServing();
  });
});

describe('MQTT → refused as IoT Core refuses, the broker keeps serving, nothing leaks', () => {
  /**
   * Publishes a reading with a marker of its own where the broker must refuse it; once a later
   * valid reading has reached the viewer (stillServing), the refused marker must not have: frames
   * of one device arrive in order, and a reading to another device's topic would arrive too.
   */
  const closesConnection = async (topic: string, pad = '', qos: 0 | 1 | 2 = 1) => {
    const refused = 10_000 + ++marker;
    const payload = JSON.stringify({ temperature: 1, marker: refused, pad });
    await publishExpectingDisconnect(stack.ports.mqtt, sensor1, topic, payload, qos);
    await stillServing();
    expect(
      viewer.frames.filter(
        (frame) => (frame.data as { marker?: number } | undefined)?.marker === refused,
      ),
    ).toEqual([]);
  };

  it.each([
    ['a wildcard + topic', 'devices/+/telemetry'],
    ['a wildcard # topic', 'devices/#'],
    ['a reserved $aws topic', '$aws/things/sensor-1/shadow/update'],
    ['a topic with 8 slashes', 'devices/sensor-1/telemetry/a/b/c/d/e'],
    ['another device’s topic', 'devices/sensor-2/telemetry'],
    ['its own command topic', 'devices/sensor-1/commands'],
  ])('publishing to %s closes the connection', async (_name, topic) => {
    await closesConnection(topic);
  });

  it('a 129 KB payload closes the connection', async () => {
    await closesConnection('devices/sensor-1/telemetry', 'a'.repeat(129 * 1024));
  });

  it('QoS 2 closes the connection', async () => {
    await closesConnection('devices/sensor-1/telemetry', '', 2);
  });

  it('a client id that is not the thing name is refused at CONNECT', async () => {
    await expect(
      connectDevice(stack.ports.mqtt, { ...sensor1, thingName: 'sensor-9' }),
    ).rejects.toThrow(/Not authorized/i);
    await stillServing();
  });

  it('subscribing to every device’s commands gets the SUBACK failure code', async () => {
    const device: MqttClient = await connectDevice(stack.ports.mqtt, sensor1);
    const refused = await device
      .subscribeAsync('devices/+/commands', { qos: 1 })
      .catch((error) => error);
    expect(refused).toMatchObject({ packet: { granted: [128] } });
    await device.endAsync();
    await stillServing();
  });

  it('a payload that is not UTF-8 reaches the clients as binary, nothing dead-lettered', async () => {
    const store = new DeadLetterStore(deadLetterDirectory(stack.localCloudDir));
    const before = (await store.list()).length;
    const device = await connectDevice(stack.ports.mqtt, sensor1);
    const bytes = Buffer.from([0xc3, 0x28, 0xff]);
    await device.publishAsync('devices/sensor-1/telemetry', bytes, { qos: 1 });
    await device.endAsync();
    await viewer.waitFor(
      (frame) => frame.type === 'telemetry' && frame.base64 === bytes.toString('base64'),
    );
    expect((await store.list()).length).toBe(before);
    await stillServing();
  });
});

describe('HTTPS → the status IoT Core answers', () => {
  it.each([
    ['a wildcard topic', 400, '/topics/devices/%23?qos=1', '{}', true],
    ['qos=5', 400, '/topics/devices/sensor-1/telemetry?qos=5', '{}', true],
    ['qos=abc', 400, '/topics/devices/sensor-1/telemetry?qos=abc', '{}', true],
    ['retain=maybe', 400, '/topics/devices/sensor-1/telemetry?retain=maybe', '{}', true],
    ['a broken percent-encoding', 400, '/topics/devices/%ZZ/telemetry', '{}', true],
    ['a reserved topic', 400, '/topics/%24aws/things/x/shadow/update', '{}', true],
    [
      'a 200 KB body',
      413,
      '/topics/devices/sensor-1/telemetry?qos=1',
      'x'.repeat(200 * 1024),
      true,
    ],
    ['no certificate', 403, '/topics/devices/sensor-1/telemetry?qos=1', '{}', false],
    ['another device’s topic', 403, '/topics/devices/sensor-2/telemetry?qos=1', '{}', true],
    ['no topic at all', 404, '/nothing-here', '{}', true],
  ])('%s → %i, and the message goes nowhere', async (_name, status, url, body, withCertificate) => {
    // A reading with a marker of its own, so a leak past the refusal would show at the viewer.
    const refused = 10_000 + ++marker;
    const answer = await httpsPublish(
      stack.ports.https,
      url,
      body === '{}' ? JSON.stringify({ temperature: 1, marker: refused }) : body,
      withCertificate ? sensor1 : { ca: sensor1.ca },
    );
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body)).toEqual({
      message: expect.any(String),
      traceId: expect.any(String),
    });
    await stillServing();
    expect(
      viewer.frames.filter(
        (frame) => (frame.data as { marker?: number } | undefined)?.marker === refused,
      ),
    ).toEqual([]);
  });

  it('an empty body is accepted (IoT Core allows empty messages) and reaches the clients as kind "empty"', async () => {
    // The deployed rule encodes the payload (encode(*, 'base64')), so an empty one is a
    // message like any other: forwarded, not dead-lettered.
    const store = new DeadLetterStore(deadLetterDirectory(stack.localCloudDir));
    const before = (await store.list()).length;
    const from = viewer.frames.length;
    const answer = await httpsPublish(
      stack.ports.https,
      '/topics/devices/sensor-1/telemetry?qos=1',
      '',
      sensor1,
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ message: 'OK', traceId: expect.any(String) });
    const frame = await viewer.waitFor(
      (received) =>
        viewer.frames.indexOf(received) >= from &&
        received.type === 'telemetry' &&
        received.kind === 'empty',
    );
    expect(frame).toMatchObject({
      deviceId: 'sensor-1',
      topic: 'devices/sensor-1/telemetry',
      kind: 'empty',
      size: 0,
      data: {},
    });
    expect((await store.list()).length).toBe(before);
    await stillServing();
  });
});

describe('command-line tools → usage on stderr and exit code 2', () => {
  const tool = (script: string, args: string[]) =>
    run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, script), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOCAL_CLOUD_DIR: stack.localCloudDir },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it.each([
    ['device:create without --thing', 'scripts/devices/create.ts', []],
    ['device:create with a bad thing name', 'scripts/devices/create.ts', ['--thing', 'bad name!']],
    [
      'device:create with an unknown option',
      'scripts/devices/create.ts',
      ['--thing', 'x', '--bogus'],
    ],
    ['token with a bad TTL', 'scripts/token.ts', ['--ttl', 'forever']],
    ['token with a bad filter', 'scripts/token.ts', ['--topics', 'a/#/b']],
    ['dlq with an unknown command', 'scripts/dlq.ts', ['purge-everything']],
    [
      'dataset with a non-numeric device count',
      'scripts/dataset/generate.ts',
      ['--devices', 'many'],
    ],
  ])('%s', async (_name, script, args) => {
    const { code, stderr } = await tool(script, args);
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage/i);
  });
});
