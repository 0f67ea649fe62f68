/**
 * The $connect authorizer and token scopes, through the real offline stack: the handshake is
 * refused without a valid token, and a token's limits hold on every action.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { IOT_PAYLOAD_MAX_BYTES } from '../../shared/commands';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient } from '../support/ws-client';
import { ensureLocalTokenSecret } from '../../local/auth/token-secret';

let stack: OfflineStack;
beforeAll(async () => {
  stack = await startOfflineStack();
}, 120_000);
afterAll(() => stack?.stop(), 30_000);

const url = (token: string) => `${stack.bareWebsocketUrl}?token=${token}`;

describe('the handshake', () => {
  it.each([
    ['no token', () => Promise.resolve('')],
    ['an expired token', () => stack.token({ ttlSeconds: -60 })],
    ['a token signed with another secret', () => forged('another-secret')],
    ['a token of another stage', () => stack.token({ stage: 'prod' })],
    ['garbage', () => Promise.resolve('not.a.jwt')],
    // Issue 11, item 9: what a leaked secret could mint, and what `npm run token` never would.
    ['a token issued an hour in the future', () => forged(SECRET_OF_STACK, { iatOffset: 3600 })],
    ['a token that expires in the year 9999', () => forged(SECRET_OF_STACK, { exp: 253402300799 })],
    // Longer than a token can be (API Gateway: a WebSocket URL is at most 4096 characters).
    ['an 8 KB token', () => Promise.resolve(`${'a'.repeat(4000)}.${'b'.repeat(4000)}.c`)],
  ])('is refused with %s', async (_name, makeToken) => {
    const token = await makeToken();
    const target = token ? url(token) : stack.bareWebsocketUrl;
    await expect(connectClient(target)).rejects.toThrow(/handshake refused: (401|403)/);
  });

  it('is refused with a 100 KB token like any other invalid token: 403', async () => {
    const token = `${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.c`;
    const answer = await handshake(`/?token=${token}`);
    expect(answer.status).toBe(403);
    expect(answer).toEqual(await handshake('/?token=not.a.jwt'));
    // The cloud serves on: a valid token still connects.
    const client = await connectClient(url(await stack.token()));
    await client.close();
  });

  it('is accepted with a valid token', async () => {
    const client = await connectClient(url(await stack.token()));
    client.send({ action: 'sendMessage', message: 'hello' });
    await expect(client.waitFor((frame) => frame.type === 'sent')).resolves.toMatchObject({
      delivered: 1,
    });
    await client.close();
  });
});

describe('token scopes', () => {
  it('a token without the commands claim may not send commands', async () => {
    const client = await connectClient(url(await stack.token({ commands: false })));
    client.send({ action: 'sendCommand', deviceId: 'sensor-1', command: 'reboot' });
    await expect(client.waitFor((frame) => frame.type === 'error')).resolves.toMatchObject({
      code: 'FORBIDDEN',
    });
    await client.close();
  });

  it('a token limited to some topics may subscribe within them only', async () => {
    const client = await connectClient(url(await stack.token({ topics: ['devices/sensor-7/#'] })));
    client.send({ action: 'subscribe', topics: ['devices/+/telemetry'] });
    await expect(client.waitFor((frame) => frame.type === 'error')).resolves.toMatchObject({
      code: 'FORBIDDEN',
      details: { outside: ['devices/+/telemetry'] },
    });
    client.send({ action: 'subscribe', topics: ['devices/sensor-7/telemetry'] });
    await expect(client.waitFor((frame) => frame.type === 'subscribed')).resolves.toEqual({
      type: 'subscribed',
      topics: ['devices/sensor-7/#', 'devices/sensor-7/telemetry'],
    });
    await client.close();
  });
});

describe('commands within the token’s topics (issue 11, item 8)', () => {
  it('a token limited to devices/sensor-1/# commands sensor-1, not sensor-2', async () => {
    const token = await stack.token({ topics: ['devices/sensor-1/#'], commands: true });
    const client = await connectClient(url(token));
    client.send({ action: 'sendCommand', deviceId: 'sensor-2', command: 'reboot' });
    await expect(client.waitFor((frame) => frame.type === 'error')).resolves.toMatchObject({
      code: 'FORBIDDEN',
      details: { deviceId: 'sensor-2', topics: ['devices/sensor-1/#'] },
    });
    // Published through the offline data plane, which accepts only the Lambda's SigV4 signature.
    client.send({ action: 'sendCommand', deviceId: 'sensor-1', command: 'reboot' });
    await expect(client.waitFor((frame) => frame.type === 'commandSent')).resolves.toMatchObject({
      deviceId: 'sensor-1',
      topic: 'devices/sensor-1/commands',
    });
    await client.close();
  });
});

describe('an oversized command (issue 11, item 11)', () => {
  it('a 131 030-byte frame answers MESSAGE_TOO_LARGE with IoT Core’s limit', async () => {
    const client = await connectClient(url(await stack.token({ commands: true })));
    const overhead = JSON.stringify({ action: 'sendCommand', deviceId: 'sensor-1', command: '' });
    const frame = JSON.stringify({
      action: 'sendCommand',
      deviceId: 'sensor-1',
      command: 'x'.repeat(131_030 - overhead.length),
    });
    expect(Buffer.byteLength(frame)).toBe(131_030);
    client.send(frame);
    const error = await client.waitFor((received) => received.type === 'error');
    expect(error).toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      details: { limit: IOT_PAYLOAD_MAX_BYTES },
    });
    expect(String(error.message)).toContain(`the limit is ${IOT_PAYLOAD_MAX_BYTES} bytes`);
    await client.close();
  });
});

describe('chat frames (issue 11, item 10)', () => {
  it('name the sender by an opaque alias, never by its connection id', async () => {
    const alice = await connectClient(url(await stack.token()));
    const bob = await connectClient(url(await stack.token()));
    alice.send({ action: 'sendMessage', message: 'one' });
    alice.send({ action: 'sendMessage', message: 'two' });
    bob.send({ action: 'sendMessage', message: 'three' });
    const seen = (message: string) =>
      bob.waitFor((frame) => frame.type === 'message' && frame.message === message);
    const [one, two, three] = await Promise.all([seen('one'), seen('two'), seen('three')]);

    expect(one.from).toEqual(expect.any(String));
    expect(two.from).toBe(one.from); // one alias per connection
    expect(three.from).not.toBe(one.from);
    const connectionIds = await storedConnectionIds();
    expect(connectionIds.length).toBeGreaterThanOrEqual(2);
    for (const frame of [one, three]) {
      expect(connectionIds).not.toContain(frame.from);
      for (const id of connectionIds) expect(String(frame.from)).not.toContain(id);
    }
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe('the per-connection rate limit', () => {
  it('answers RATE_LIMITED once the burst is spent, and the connection stays usable', async () => {
    const client = await connectClient(url(await stack.token()));
    // The bucket holds 20 and refills 5 per second; 40 quick frames of the cheapest action
    // (unsubscribe: one conditional write) must hit it (bounded loop, loopback only).
    for (let i = 0; i < 40; i++) client.send({ action: 'unsubscribe', topics: [`t/${i}`] });
    const limited = await client.waitFor(
      (frame) => frame.type === 'error' && frame.code === 'RATE_LIMITED',
    );
    expect(limited.details).toEqual({ retryAfterMs: expect.any(Number) });
    await client.waitFor(() => client.frames.length >= 40, 30_000);
    const answered = client.frames.filter((frame) => frame.type === 'unsubscribed').length;
    expect(answered).toBeGreaterThanOrEqual(20);
    expect(answered).toBeLessThan(40);
    // Usable again once the bucket refilled: the connection was never dropped.
    await new Promise((resolve) => setTimeout(resolve, 250));
    client.send({ action: 'sendMessage', message: 'after the limit' });
    await client.waitFor((frame) => frame.type === 'sent');
    await client.close();
  });
});

/** The stack's own secret: forged() then makes tokens only their claims make invalid. */
const SECRET_OF_STACK = Symbol('the stack secret');

async function forged(
  secret: string | typeof SECRET_OF_STACK,
  times: { iatOffset?: number; exp?: number } = {},
): Promise<string> {
  const key = secret === SECRET_OF_STACK ? ensureLocalTokenSecret(stack.localCloudDir) : secret;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ commands: true })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setIssuer('telemetry-dev')
    .setAudience('telemetry-websocket')
    .setIssuedAt(now + (times.iatOffset ?? 0))
    .setExpirationTime(times.exp ?? now + (times.iatOffset ?? 0) + 3600)
    .sign(new TextEncoder().encode(key));
}

/** A raw WebSocket handshake: the status and body, whatever they are. */
function handshake(target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: 'localhost',
      port: stack.ports.websocket,
      path: target,
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
      },
    });
    request.once('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.once('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 101, body: '' });
    });
    request.once('error', reject);
    request.end();
  });
}

async function storedConnectionIds(): Promise<string[]> {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: `http://127.0.0.1:${stack.ports.dynamodb}` }),
  );
  try {
    const { Items = [] } = await client.send(
      new ScanCommand({ TableName: 'telemetry-dev-connections' }),
    );
    return Items.map((item) => String(item.connectionId)).filter((id) => !id.startsWith('#'));
  } finally {
    client.destroy();
  }
}
