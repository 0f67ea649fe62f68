import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect';
import { handler as defaultRoute } from '../../handlers/default';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as sendCommand } from '../../handlers/sendCommand';
import { handler as sendMessage } from '../../handlers/sendMessage';
import { handler as subscribe } from '../../handlers/subscribe';
import { handler as unsubscribe } from '../../handlers/unsubscribe';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { TEST_TABLE } from '../support/local-dynamodb';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(() => env.stop());

const call = async (
  route: typeof sendMessage,
  connectionId: string,
  routeKey: string,
  body?: string,
) => route(webSocketEvent(connectionId, routeKey, body), lambdaContext(routeKey));
const changeLogEntries = async () =>
  (
    await DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.db.endpoint })).send(
      new ScanCommand({ TableName: `${TEST_TABLE}-changes`, ConsistentRead: true }),
    )
  ).Items?.length ?? 0;
const frame = (response: { body?: string }) => JSON.parse(response.body ?? 'null');

async function clearTable() {
  for (const item of await env.items()) {
    await call(disconnect, item.connectionId as string, '$disconnect');
  }
  env.api.posts.length = 0;
  env.api.gone.clear();
}

describe('$connect and $disconnect', () => {
  beforeEach(clearTable);

  it('stores a connection with a TTL past API Gateway’s 2 h limit, then forgets it', async () => {
    const before = Math.floor(Date.now() / 1000);
    expect(await call(connect, 'c-1', '$connect')).toEqual({ statusCode: 200 });
    const [item] = await env.items();
    expect(item).toMatchObject({ connectionId: 'c-1' });
    expect(item?.expiresAt as number).toBeGreaterThanOrEqual(before + 2 * 60 * 60);

    expect(await call(disconnect, 'c-1', '$disconnect')).toEqual({ statusCode: 200 });
    expect(await env.items()).toEqual([]);
  });
});

describe('sendMessage', () => {
  beforeEach(clearTable);

  it('broadcasts to every connection, the sender included, and reports the delivery', async () => {
    for (const id of ['a', 'b', 'c']) await call(connect, id, '$connect');
    const response = await call(
      sendMessage,
      'a',
      'sendMessage',
      '{"action":"sendMessage","message":"hi"}',
    );

    expect(frame(response)).toMatchObject({ type: 'sent', delivered: 3, gone: 0, failed: 0 });
    // `from` is the sender's opaque alias, never its connection id (issue 11, item 10).
    const from = (env.api.framesFor('a')[0] as { from?: unknown } | undefined)?.from;
    expect(from).toEqual(expect.any(String));
    expect(from).not.toBe('a');
    for (const id of ['a', 'b', 'c']) {
      expect(env.api.framesFor(id)).toEqual([
        expect.objectContaining({ type: 'message', from, message: 'hi' }),
      ]);
    }
  });

  it('removes a stale (410 Gone) connection and still delivers to the others', async () => {
    for (const id of ['live-1', 'stale', 'live-2']) await call(connect, id, '$connect');
    env.api.gone.add('stale');
    await env.backdate('stale', 60_000); // past the grace period of the connect race
    const response = await call(
      sendMessage,
      'live-1',
      'sendMessage',
      '{"action":"sendMessage","message":"x"}',
    );

    expect(frame(response)).toMatchObject({ delivered: 2, gone: 1, failed: 0 });
    expect(env.api.framesFor('live-2')).toHaveLength(1);
    expect((await env.items()).map((item) => item.connectionId).sort()).toEqual([
      'live-1',
      'live-2',
    ]);
  });

  // AWS Knowledge Center, "410 GoneException when calling PostToConnection": API Gateway answers
  // 410 for a connection whose $connect has not completed yet, while its item already exists.
  it('keeps a connection that answers 410 within the grace period after its $connect', async () => {
    for (const id of ['sender', 'connecting']) await call(connect, id, '$connect');
    env.api.gone.add('connecting');
    const first = await call(
      sendMessage,
      'sender',
      'sendMessage',
      '{"action":"sendMessage","message":"1"}',
    );
    expect(frame(first)).toMatchObject({ delivered: 1, gone: 1, failed: 0 });
    expect((await env.items()).map((item) => item.connectionId).sort()).toEqual([
      'connecting',
      'sender',
    ]);

    // The handshake completes: the next broadcast reaches it.
    env.api.gone.delete('connecting');
    const second = await call(
      sendMessage,
      'sender',
      'sendMessage',
      '{"action":"sendMessage","message":"2"}',
    );
    expect(frame(second)).toMatchObject({ delivered: 2, gone: 0 });
    expect(env.api.framesFor('connecting')).toEqual([
      expect.objectContaining({ type: 'message', message: '2' }),
    ]);

    // A 410 after the grace period means gone: the item is removed.
    env.api.gone.add('connecting');
    await env.backdate('connecting', 60_000);
    await call(sendMessage, 'sender', 'sendMessage', '{"action":"sendMessage","message":"3"}');
    expect((await env.items()).map((item) => item.connectionId)).toEqual(['sender']);
  });

  it('counts a connection the API fails for without stopping the others', async () => {
    for (const id of ['ok', 'broken']) await call(connect, id, '$connect');
    env.api.failing.set('broken', 400);
    const response = await call(
      sendMessage,
      'ok',
      'sendMessage',
      '{"action":"sendMessage","message":"x"}',
    );
    env.api.failing.clear();

    expect(frame(response)).toMatchObject({ delivered: 1, gone: 0, failed: 1 });
    expect(env.api.framesFor('ok')).toHaveLength(1);
    expect((await env.items()).map((item) => item.connectionId).sort()).toEqual(['broken', 'ok']);
  });
});

describe('subscribe and unsubscribe', () => {
  beforeEach(clearTable);

  it('keeps the sorted filter set and reports it', async () => {
    await call(connect, 's', '$connect');
    const added = await call(
      subscribe,
      's',
      'subscribe',
      '{"action":"subscribe","topics":["devices/sensor-7/#","devices/+/telemetry"]}',
    );
    expect(frame(added)).toEqual({
      type: 'subscribed',
      topics: ['devices/+/telemetry', 'devices/sensor-7/#'],
    });

    const removed = await call(
      unsubscribe,
      's',
      'unsubscribe',
      '{"action":"unsubscribe","topics":["devices/+/telemetry"]}',
    );
    expect(frame(removed)).toEqual({ type: 'unsubscribed', topics: ['devices/sensor-7/#'] });
  });

  it('leaves a client that never subscribed receiving everything', async () => {
    await call(connect, 'u', '$connect');
    const removed = await call(
      unsubscribe,
      'u',
      'unsubscribe',
      '{"action":"unsubscribe","topics":["a/b"]}',
    );
    expect(frame(removed)).toEqual({ type: 'unsubscribed', topics: null });
  });
});

describe('sendCommand', () => {
  it('answers an error frame when the IoT data plane cannot be reached', async () => {
    await call(connect, 'c', '$connect');
    process.env.IOT_DATA_ENDPOINT = 'http://127.0.0.1:9'; // discard port: nothing listens
    const { resetLazyValues } = await import('../../shared/runtime/lazy');
    resetLazyValues();
    const response = await call(
      sendCommand,
      'c',
      'sendCommand',
      '{"action":"sendCommand","deviceId":"sensor-1","command":{"reboot":true}}',
    );
    delete process.env.IOT_DATA_ENDPOINT;
    resetLazyValues();
    expect(response.statusCode).toBe(502);
    expect(frame(response)).toMatchObject({
      type: 'error',
      code: 'COMMAND_FAILED',
      details: { deviceId: 'sensor-1' },
    });
  });
});

describe('bad input: an error frame on the client’s own connection, nothing written', () => {
  beforeEach(clearTable);

  const oversized = JSON.stringify({ action: 'sendMessage', message: 'x'.repeat(128 * 1024) });
  const cases: [string, string, typeof sendMessage, string, string][] = [
    ['invalid JSON', 'INVALID_JSON', defaultRoute, '$default', '{"action":'],
    ['an unknown action', 'UNKNOWN_ACTION', defaultRoute, '$default', '{"action":"explode"}'],
    ['no action at all', 'UNKNOWN_ACTION', defaultRoute, '$default', '{"message":"hi"}'],
    ['a JSON array', 'UNKNOWN_ACTION', defaultRoute, '$default', '[1,2]'],
    ['an empty frame', 'INVALID_JSON', defaultRoute, '$default', ''],
    ['a JSON null', 'UNKNOWN_ACTION', defaultRoute, '$default', 'null'],
    [
      'a missing message',
      'VALIDATION_FAILED',
      sendMessage,
      'sendMessage',
      '{"action":"sendMessage"}',
    ],
    [
      'a message of the wrong type',
      'VALIDATION_FAILED',
      sendMessage,
      'sendMessage',
      '{"action":"sendMessage","message":42}',
    ],
    [
      'an empty message',
      'VALIDATION_FAILED',
      sendMessage,
      'sendMessage',
      '{"action":"sendMessage","message":""}',
    ],
    ['a message over 128 KB', 'MESSAGE_TOO_LARGE', sendMessage, 'sendMessage', oversized],
    [
      'a filter with # inside',
      'VALIDATION_FAILED',
      subscribe,
      'subscribe',
      '{"action":"subscribe","topics":["a/#/b"]}',
    ],
    [
      'a filter with a partial +',
      'VALIDATION_FAILED',
      subscribe,
      'subscribe',
      '{"action":"subscribe","topics":["devices/sensor+/x"]}',
    ],
    [
      'a filter with 8 slashes',
      'VALIDATION_FAILED',
      subscribe,
      'subscribe',
      '{"action":"subscribe","topics":["a/b/c/d/e/f/g/h/i"]}',
    ],
    [
      'an empty filter list',
      'VALIDATION_FAILED',
      subscribe,
      'subscribe',
      '{"action":"subscribe","topics":[]}',
    ],
    [
      'topics not a list',
      'VALIDATION_FAILED',
      subscribe,
      'subscribe',
      '{"action":"subscribe","topics":"devices/#"}',
    ],
    [
      'an invalid device id',
      'VALIDATION_FAILED',
      sendCommand,
      'sendCommand',
      '{"action":"sendCommand","deviceId":"a/b","command":"x"}',
    ],
    [
      'a missing command',
      'VALIDATION_FAILED',
      sendCommand,
      'sendCommand',
      '{"action":"sendCommand","deviceId":"sensor-1"}',
    ],
  ];

  it.each(cases)('%s → %s', async (_name, code, route, routeKey, body) => {
    await call(connect, 'bad', '$connect');
    const [before] = await env.items();
    const response = await call(route, 'bad', routeKey, body);

    expect(frame(response)).toMatchObject({ type: 'error', code, message: expect.any(String) });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(await env.items()).toEqual([before]);
    expect(env.api.posts).toEqual([]);
  });

  it('names the valid actions when the action is unknown', async () => {
    const response = await call(defaultRoute, 'bad', '$default', '{"action":"explode"}');
    expect(frame(response).message).toContain('sendMessage, subscribe, unsubscribe, sendCommand');
  });
});

describe('a frame on a connection the backend does not know does nothing', () => {
  beforeEach(clearTable);

  it.each([
    ['sendMessage', sendMessage, '{"action":"sendMessage","message":"hi"}'],
    ['sendCommand', sendCommand, '{"action":"sendCommand","deviceId":"sensor-1","command":"x"}'],
    ['subscribe', subscribe, '{"action":"subscribe","topics":["devices/#"]}'],
    ['unsubscribe', unsubscribe, '{"action":"unsubscribe","topics":["devices/#"]}'],
  ])('%s answers NOT_REGISTERED and neither writes nor posts', async (routeKey, route, body) => {
    await call(connect, 'registered', '$connect');
    const changesBefore = await changeLogEntries();
    const response = await call(route, 'ghost', routeKey, body);
    expect(response.statusCode).toBe(410);
    expect(frame(response)).toMatchObject({ type: 'error', code: 'NOT_REGISTERED' });
    expect(env.api.posts).toEqual([]);
    expect((await env.items()).map((item) => item.connectionId)).toEqual(['registered']);
    // No change was logged either: warm fan-outs have nothing to reread.
    expect(await changeLogEntries()).toBe(changesBefore);
  });
});

describe('$connect and $disconnect act only on their own lifecycle event', () => {
  beforeEach(clearTable);

  it('a MESSAGE event naming $disconnect does not forget a live connection', async () => {
    await call(connect, 'live', '$connect');
    const forged = webSocketEvent('live', 'sendMessage', '{"action":"$disconnect"}');
    const response = await disconnect(forged, lambdaContext('disconnect'));
    expect(response.statusCode).toBe(400);
    expect(frame(response)).toMatchObject({ type: 'error', code: 'UNKNOWN_ACTION' });
    expect((await env.items()).map((item) => item.connectionId)).toEqual(['live']);
  });

  it('a MESSAGE event naming $connect does not reset subscriptions', async () => {
    await call(connect, 'live', '$connect');
    await call(subscribe, 'live', 'subscribe', '{"action":"subscribe","topics":["devices/a/#"]}');
    const forged = webSocketEvent('live', 'sendMessage', '{"action":"$connect"}');
    const response = await connect(forged, lambdaContext('connect'));
    expect(frame(response)).toMatchObject({ type: 'error', code: 'UNKNOWN_ACTION' });
    const [item] = await env.items();
    expect(item?.topics).toEqual(new Set(['devices/a/#']));
  });
});

describe('requestId: every answer to an action echoes it (README, protocol)', () => {
  beforeEach(clearTable);

  it.each([
    ['sendMessage', sendMessage, { action: 'sendMessage', message: 'hi' }, 'sent'],
    ['subscribe', subscribe, { action: 'subscribe', topics: ['devices/#'] }, 'subscribed'],
    ['unsubscribe', unsubscribe, { action: 'unsubscribe', topics: ['devices/#'] }, 'unsubscribed'],
  ])('%s answers with the requestId it was sent', async (routeKey, route, body, type) => {
    await call(connect, 'r', '$connect');
    const response = await call(
      route,
      'r',
      routeKey,
      JSON.stringify({ ...body, requestId: 'q-1' }),
    );
    expect(frame(response)).toMatchObject({ type, requestId: 'q-1' });
  });

  it.each([
    ['a validation error', subscribe, 'subscribe', { action: 'subscribe', topics: [] }],
    ['an unknown action', defaultRoute, '$default', { action: 'explode' }],
    [
      'an unregistered connection',
      sendMessage,
      'sendMessage',
      { action: 'sendMessage', message: 'x' },
    ],
  ])('the error frame of %s echoes it too', async (_case, route, routeKey, body) => {
    const response = await call(
      route,
      'nobody',
      routeKey,
      JSON.stringify({ ...body, requestId: 'q-2' }),
    );
    expect(frame(response)).toMatchObject({ type: 'error', requestId: 'q-2' });
  });

  it('refuses a requestId longer than 64 characters, and does not echo it', async () => {
    await call(connect, 'r', '$connect');
    const requestId = 'x'.repeat(65);
    const response = await call(
      subscribe,
      'r',
      'subscribe',
      JSON.stringify({ action: 'subscribe', topics: ['devices/#'], requestId }),
    );
    expect(frame(response)).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    expect(frame(response)).not.toHaveProperty('requestId');
  });

  it('answers without a requestId when none was sent', async () => {
    await call(connect, 'r', '$connect');
    const response = await call(
      subscribe,
      'r',
      'subscribe',
      '{"action":"subscribe","topics":["a/b"]}',
    );
    expect(frame(response)).not.toHaveProperty('requestId');
  });
});
