/**
 * The $connect authorizer and token scopes, through the real offline stack: the handshake is
 * refused without a valid token, and a token's limits hold on every action.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient } from '../support/ws-client';

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
  ])('is refused with %s', async (_name, makeToken) => {
    const token = await makeToken();
    const target = token ? url(token) : stack.bareWebsocketUrl;
    await expect(connectClient(target)).rejects.toThrow(/handshake refused: (401|403)/);
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

describe('the per-connection rate limit', () => {
  it('answers RATE_LIMITED once the burst is spent, and the connection stays usable', async () => {
    const client = await connectClient(url(await stack.token()));
    // The bucket holds 20; 30 quick messages must hit the limit (bounded loop, loopback only).
    for (let i = 0; i < 30; i++) client.send({ action: 'sendMessage', message: `m${i}` });
    const limited = await client.waitFor(
      (frame) => frame.type === 'error' && frame.code === 'RATE_LIMITED',
    );
    expect(limited.details).toEqual({ retryAfterMs: expect.any(Number) });
    const sent = client.frames.filter((frame) => frame.type === 'sent').length;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThan(30);
    await client.close();
  });
});

async function forged(secret: string): Promise<string> {
  return new SignJWT({ commands: true })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setIssuer('telemetry-dev')
    .setAudience('telemetry-websocket')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}
