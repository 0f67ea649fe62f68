/**
 * The offline WebSocket API answers hostile clients as API Gateway does, and one client's frames
 * never take the stack down for the others: after each case, telemetry still reaches a viewer.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { VERSION_ITEM_ID } from '../../shared/connections/repository';
import { deadLetterDirectory } from '../../local/iot/core';
import { DeadLetterStore } from '../../local/iot/dead-letters';
import { WEBSOCKET_FRAME_MAX_BYTES, WEBSOCKET_MESSAGE_MAX_BYTES } from '../../shared/limits';
import { MAX_COMMAND_DEPTH } from '../../shared/protocol';
import {
  connectDevice,
  deviceCredentials,
  httpsPublish,
  type DeviceCredentials,
} from '../support/devices';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, sendInFrames, type TestClient } from '../support/ws-client';

let stack: OfflineStack;
let sensor: DeviceCredentials;
let viewer: TestClient;
let db: DynamoDBDocumentClient;
let marker = 0;

beforeAll(async () => {
  stack = await startOfflineStack();
  sensor = deviceCredentials(stack.localCloudDir, 'sensor-1');
  viewer = await connectClient(stack.websocketUrl);
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: `http://localhost:${stack.ports.dynamodb}` }),
  );
}, 120_000);
afterAll(async () => {
  db?.destroy();
  await viewer?.close();
  await stack?.stop();
}, 30_000);

async function stillServing(client: TestClient = viewer): Promise<void> {
  const mine = ++marker;
  const answer = await httpsPublish(
    stack.ports.https,
    '/topics/devices/sensor-1/telemetry?qos=1',
    JSON.stringify({ temperature: 20, marker: mine }),
    sensor,
  );
  expect(answer.status).toBe(200);
  await client.waitFor(
    (frame) => frame.type === 'telemetry' && (frame.data as { marker?: number }).marker === mine,
  );
}

async function connectionIds(): Promise<string[]> {
  const { Items = [] } = await db.send(new ScanCommand({ TableName: 'telemetry-dev-connections' }));
  return Items.map((item) => item.connectionId as string).filter((id) => id !== VERSION_ITEM_ID);
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A client frame as RFC 6455 §5.2 lays it out, masked unless told otherwise. */
function rawFrame(
  firstByte: number,
  payload: Buffer,
  { masked = true, declaredLength }: { masked?: boolean; declaredLength?: number } = {},
) {
  const length = declaredLength ?? payload.length;
  const header =
    length < 126
      ? Buffer.from([firstByte, (masked ? 0x80 : 0) | length])
      : Buffer.concat([Buffer.from([firstByte, (masked ? 0x80 : 0) | 127]), uint64(length)]);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, body]);
}
function uint64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(value));
  return buffer;
}

// RFC 6455 frames ws (and API Gateway) refuse: each closes only the connection that sent it.
const MALFORMED: [string, Buffer][] = [
  ['invalid UTF-8 in a text frame', rawFrame(0x81, Buffer.from([0xff, 0xfe, 0xfd]))],
  ['RSV1 set without an extension', rawFrame(0xc1, Buffer.from('hi'))],
  ['close code 999', rawFrame(0x88, Buffer.from([0x03, 0xe7]))],
  ['an orphan continuation frame', rawFrame(0x80, Buffer.from('hi'))],
  ['reserved opcode 3', rawFrame(0x83, Buffer.from('hi'))],
  ['an unmasked client frame', rawFrame(0x81, Buffer.from('hi'), { masked: false })],
  ['a fragmented control frame', rawFrame(0x09, Buffer.from('hi'))],
  [
    'a header declaring 200 MiB',
    rawFrame(0x82, Buffer.alloc(16), { declaredLength: 200 * 2 ** 20 }),
  ],
];

describe('malformed WebSocket frames close only their own connection', () => {
  it.each(MALFORMED)('%s', async (_name, frame) => {
    const attacker = await connectClient(stack.websocketUrl);
    const closed = new Promise<number>((resolve) => attacker.socket.once('close', resolve));
    (attacker.socket as unknown as { _socket: net.Socket })._socket.write(frame);
    expect(await closed).toBeGreaterThanOrEqual(1000);
    await stillServing();
  });
});

describe('the $connect authorizer’s identity source', () => {
  const handshake = (url: string) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => {
        socket.close();
        reject(new Error('the handshake was accepted'));
      });
      socket.once('error', () => undefined);
    });

  // "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers": a missing identity
  // source is refused with 401 before the authorizer runs; a token it denies gets 403.
  it('no token: 401; an empty token: 401; a bad token: 403', async () => {
    expect(await handshake(stack.bareWebsocketUrl)).toBe(401);
    expect(await handshake(`${stack.bareWebsocketUrl}?token=`)).toBe(401);
    expect(await handshake(`${stack.bareWebsocketUrl}?token=not-a-jwt`)).toBe(403);
    await stillServing();
  });
});

describe('frames naming $connect or $disconnect go to $default', () => {
  it.each(['$disconnect', '$connect'])('{"action":"%s"}', async (action) => {
    const client = await connectClient(stack.websocketUrl);
    client.send({ action: 'subscribe', topics: ['devices/sensor-1/#'] });
    await client.waitFor((frame) => frame.type === 'subscribed');
    client.send({ action });
    const answer = await client.waitFor((frame) => frame.type === 'error');
    expect(answer).toMatchObject({ code: 'UNKNOWN_ACTION' });
    // Still registered with its subscription: the next reading for sensor-1 reaches it.
    await stillServing(client);
    client.send({ action: 'subscribe', topics: ['devices/sensor-2/#'] });
    const subscribed = await client.waitFor(
      (frame) => frame.type === 'subscribed' && (frame.topics as string[]).length === 2,
    );
    expect(subscribed.topics).toEqual(['devices/sensor-1/#', 'devices/sensor-2/#']);
    await client.close();
  });
});

describe('API Gateway’s size quotas: a frame over 32 KB or a message over 128 KB closes with 1009', () => {
  // "Quotas for configuring and running a WebSocket in API Gateway": WebSocket frame size 32 KB,
  // message payload size 128 KB; "if a larger message (or larger frame size) is received, the
  // connection is closed with code 1009".
  const closeCode = (client: TestClient) =>
    new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
  /** A message no route takes: $default answers it UNKNOWN_ACTION, so it reached a function. */
  const unknownAction = (bytes: number) => {
    const frame = JSON.stringify({ action: 'no-such-action', pad: '' });
    return JSON.stringify({ action: 'no-such-action', pad: 'x'.repeat(bytes - frame.length) });
  };

  it('one frame of 32 KB reaches the function; one byte more closes that connection only', async () => {
    const client = await connectClient(stack.websocketUrl);
    client.socket.send(unknownAction(WEBSOCKET_FRAME_MAX_BYTES));
    await expect(client.waitFor((frame) => frame.type === 'error')).resolves.toMatchObject({
      code: 'UNKNOWN_ACTION',
    });
    const closed = closeCode(client);
    client.socket.send(unknownAction(WEBSOCKET_FRAME_MAX_BYTES + 1));
    await expect(closed).resolves.toBe(1009);
    await stillServing();
  });

  it('128 KB in 32 KB frames reaches the function; one byte more closes the connection', async () => {
    const client = await connectClient(stack.websocketUrl);
    sendInFrames(client.socket, unknownAction(WEBSOCKET_MESSAGE_MAX_BYTES));
    await expect(client.waitFor((frame) => frame.type === 'error')).resolves.toMatchObject({
      code: 'UNKNOWN_ACTION',
    });
    const closed = closeCode(client);
    sendInFrames(client.socket, unknownAction(WEBSOCKET_MESSAGE_MAX_BYTES + 1));
    await expect(closed).resolves.toBe(1009);
    await stillServing();
  });
});

describe('JSON nested deeper than anyone should (issue 11, item 4)', () => {
  // AWS IoT does not bound a payload's nesting ("MQTT message payload"); the offline rules engine
  // must neither crash on it nor lose it: the reading is delivered (as text, README's table of
  // frame kinds), nothing is dead-lettered.
  it.each([5_000, 10_000])(
    'telemetry nested %i levels is acknowledged and delivered (as text), not lost',
    async (levels) => {
      const payload = `{"marker":${levels},"a":` + '['.repeat(levels) + ']'.repeat(levels) + '}';
      const credentials = deviceCredentials(stack.localCloudDir, `deep-${levels}`);
      const device = await connectDevice(stack.ports.mqtt, credentials);
      // QoS 1: publishAsync resolves on the PUBACK.
      await device.publishAsync(`devices/deep-${levels}/telemetry`, payload, { qos: 1 });
      await device.endAsync();
      await expect(
        viewer.waitFor(
          (frame) => frame.type === 'telemetry' && frame.deviceId === `deep-${levels}`,
          20_000,
        ),
      ).resolves.toMatchObject({ kind: 'text', size: payload.length, text: payload });
      const letters = await new DeadLetterStore(deadLetterDirectory(stack.localCloudDir)).list();
      expect(
        letters.filter((letter) => letter.topic === `devices/deep-${levels}/telemetry`),
      ).toEqual([]);
    },
  );

  it(`a command nested 10 000 levels answers VALIDATION_FAILED (at most ${MAX_COMMAND_DEPTH}), and the client stays served`, async () => {
    // The stack's token has the commands claim and no topic limits.
    const client = await connectClient(stack.websocketUrl);
    const command = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    client.send(`{"action":"sendCommand","deviceId":"sensor-1","command":${command}}`);
    await expect(client.waitFor((frame) => frame.type === 'error')).resolves.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining(`nested more than ${MAX_COMMAND_DEPTH} levels`),
    });
    await stillServing(client);
    await client.close();
  });
});

describe('abandoned handshakes leave no connection behind', () => {
  it('a client that goes away while $connect runs gets its $disconnect', async () => {
    const before = await connectionIds();
    const token = await stack.token({ topics: ['devices/sensor-9/#'] });
    for (let i = 0; i < 10; i++) {
      const socket = net.connect(stack.ports.websocket, 'localhost');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        [
          `GET /?token=${token} HTTP/1.1`,
          `Host: localhost:${stack.ports.websocket}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
      // The whole request, then goodbye: $connect runs for a client that is already gone.
      socket.end();
      socket.on('error', () => undefined);
    }
    // $connect completes for each (its row is written) after the client has gone: the API
    // notices the socket never opened and runs $disconnect.
    const abandoned = () =>
      Promise.resolve(stack.output().match(/never opened after \$connect: \$disconnect/g) ?? []);
    expect(await eventually(abandoned, (lines) => lines.length >= 10)).toHaveLength(10);
    const after = await eventually(connectionIds, (ids) => ids.length === before.length);
    expect(after.sort()).toEqual(before.sort());
    await stillServing();
  });
});

describe('stage throttling (resources/websocket-stage.yml: 100 per second, burst 200)', () => {
  // "Protect your WebSocket APIs in API Gateway": requests over the route's token bucket get
  // 429 Too Many Requests; none reaches a function.
  it('a flood of 400 frames: every frame is answered, the excess by the throttle, and others are served', async () => {
    const flooder = await connectClient(stack.websocketUrl);
    for (let i = 0; i < 400; i++) flooder.send({ action: 'no-such-action', i });
    await eventually(
      async () => flooder.frames.length,
      (count) => count >= 400,
    );
    const throttled = flooder.frames.filter((frame) => frame.message === 'Too Many Requests');
    const answered = flooder.frames.filter((frame) => frame.code === 'UNKNOWN_ACTION');
    expect(throttled.length + answered.length).toBe(400);
    expect(throttled.length).toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThanOrEqual(200);
    await stillServing();
    await flooder.close();
  });
});

describe('the @connections management API (SigV4, under the stage, API Gateway’s limits)', () => {
  // "Use @connections commands in your backend service": callers sign with SigV4 (IAM
  // execute-api:ManageConnections); the endpoint is https://{api-id}.execute-api.{region}
  // .amazonaws.com/{stage}/@connections/{connection_id}. Quotas: a message is at most 128 KB.
  const management = (secretAccessKey = OFFLINE_CREDENTIALS.secretAccessKey, stage = 'dev') =>
    new ApiGatewayManagementApiClient({
      endpoint: `http://localhost:${stack.ports.websocket}/${stage}`,
      region: OFFLINE_REGION,
      credentials: { accessKeyId: OFFLINE_CREDENTIALS.accessKeyId, secretAccessKey },
      maxAttempts: 1,
    });
  const post = (client: ApiGatewayManagementApiClient, id: string, data: string) =>
    client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from(data) }));
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => ({ name: 'none', status: 200 }),
      (error: { name: string; $metadata?: { httpStatusCode?: number } }) => ({
        name: error.name,
        status: error.$metadata?.httpStatusCode,
      }),
    );

  it('unsigned and wrongly signed calls get 403 and reach no one', async () => {
    const ids = await connectionIds();
    const framesBefore = viewer.frames.length;
    for (const id of ids) {
      const unsigned = await fetch(
        `http://localhost:${stack.ports.websocket}/dev/@connections/${id}`,
        {
          method: 'POST',
          body: JSON.stringify({ type: 'telemetry', forged: true }),
        },
      );
      expect(unsigned.status).toBe(403);
      const deleted = await fetch(`http://localhost:${stack.ports.websocket}/@connections/${id}`, {
        method: 'DELETE',
      });
      expect(deleted.status).toBe(403);
      expect(await failure(post(management('wrong-secret'), id, '{"forged":true}'))).toEqual({
        name: 'ForbiddenException',
        status: 403,
      });
    }
    await stillServing();
    expect(viewer.frames.slice(framesBefore).some((frame) => 'forged' in frame)).toBe(false);
  });

  it('a signed post reaches the client; over 128 KB is 413; an unknown id is 410 GoneException', async () => {
    const listener = await connectClient(stack.websocketUrl);
    const client = management();
    const mine = await connectionIds();
    // Every registered connection gets the signed frame, the new listener among them.
    for (const id of mine) await post(client, id, '{"type":"hello"}');
    await listener.waitFor((frame) => frame.type === 'hello');
    const someone = mine[0] as string;
    expect(await failure(post(client, someone, 'x'.repeat(128 * 1024 + 1)))).toEqual({
      name: 'PayloadTooLargeException',
      status: 413,
    });
    expect(await failure(post(client, 'no-such-connection', '{}'))).toEqual({
      name: 'GoneException',
      status: 410,
    });
    expect(await failure(post(management(undefined, 'prod'), someone, '{}'))).toMatchObject({
      status: 403,
    });
    client.destroy();
    await listener.close();
  });
});
