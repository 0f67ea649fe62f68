import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  ApiGatewayManagementApiClient,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as forwardTelemetry } from '../../handlers/forwardTelemetry';
import { handler as subscribe } from '../../handlers/subscribe';
import { logger } from '../../shared/logger';
import { resetLazyValues } from '../../shared/runtime/lazy';
import { MAX_JSON_DEPTH } from '../../shared/telemetry/payload';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';
import { MESSAGE_PAYLOAD_MAX_BYTES } from '../support/management-api';

let env: HandlerEnv;
beforeAll(async () => {
  // DynamoDB as loose as AWS's: reads without ConsistentRead see the table of 250 ms ago
  // (issue 12: the fan-out must not depend on dynalite always being consistent).
  process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS = '250';
  env = await startHandlerEnv();
});
afterAll(async () => {
  await env.stop();
  delete process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS;
});

beforeEach(async () => {
  // A hundred at a time, as the fan-out test opens its 1 200 (one by one, they took most of the
  // hook's 60 s on a loaded machine).
  const ids = (await env.items()).map((item) => item.connectionId as string);
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(
      ids
        .slice(i, i + 100)
        .map((id) => disconnect(webSocketEvent(id, '$disconnect'), lambdaContext())),
    );
  }
  env.api.posts.length = 0;
  env.api.gone.clear();
  env.api.tooLarge = 0;
});

const open = (id: string) => connect(webSocketEvent(id, '$connect'), lambdaContext());
const subscribeTo = (id: string, topics: string[]) =>
  subscribe(
    webSocketEvent(id, 'subscribe', JSON.stringify({ action: 'subscribe', topics })),
    lambdaContext(),
  );

const READING = JSON.stringify({ temperature: 21.5, humidity: 40 });

/**
 * The event the topic rule's SQL (serverless.yml custom.telemetryRuleSql) produces:
 * `SELECT encode(*, 'base64') AS payload, topic() AS topic, …`.
 */
const ruleOutput = (deviceId: string, payload: string | Buffer = READING) => ({
  payload: Buffer.from(payload).toString('base64'),
  topic: `devices/${deviceId}/telemetry`,
  deviceId,
  receivedAt: 1_767_225_600_000,
  messageId: `m-${deviceId}`,
});

/** What every client receives for one payload (the frame minus its envelope). */
async function forwarded(payload: string | Buffer): Promise<Record<string, unknown>> {
  await open('viewer');
  expect(await forwardTelemetry(ruleOutput('sensor-1', payload), lambdaContext())).toEqual({
    delivered: 1,
    gone: 0,
    failed: 0,
  });
  const [frame] = env.api.framesFor('viewer') as Record<string, unknown>[];
  expect(frame).toMatchObject({
    type: 'telemetry',
    id: 'm-sensor-1',
    topic: 'devices/sensor-1/telemetry',
    deviceId: 'sensor-1',
  });
  const envelope = new Set(['type', 'id', 'topic', 'deviceId', 'receivedAt']);
  return Object.fromEntries(Object.entries(frame!).filter(([key]) => !envelope.has(key)));
}

describe('forwardTelemetry', () => {
  it('sends a telemetry frame to every client that has not subscribed', async () => {
    await open('x');
    await open('y');
    const report = await forwardTelemetry(ruleOutput('sensor-1'), lambdaContext());

    expect(report).toEqual({ delivered: 2, gone: 0, failed: 0 });
    const expected = {
      type: 'telemetry',
      id: 'm-sensor-1',
      topic: 'devices/sensor-1/telemetry',
      deviceId: 'sensor-1',
      receivedAt: 1_767_225_600_000,
      kind: 'object',
      size: Buffer.byteLength(READING),
      data: { temperature: 21.5, humidity: 40 },
    };
    expect(env.api.framesFor('x')).toEqual([expected]);
    expect(env.api.framesFor('y')).toEqual([expected]);
  });

  it('sends only to the clients whose filters match the topic', async () => {
    await open('all');
    await open('only-7');
    await open('everything-telemetry');
    await subscribeTo('only-7', ['devices/sensor-7/#']);
    await subscribeTo('everything-telemetry', ['devices/+/telemetry']);

    await forwardTelemetry(ruleOutput('sensor-1'), lambdaContext());
    await forwardTelemetry(ruleOutput('sensor-7'), lambdaContext());

    const devicesSeen = (id: string) =>
      env.api.framesFor(id).map((frame) => (frame as { deviceId: string }).deviceId);
    expect(devicesSeen('all')).toEqual(['sensor-1', 'sensor-7']);
    expect(devicesSeen('only-7')).toEqual(['sensor-7']);
    expect(devicesSeen('everything-telemetry')).toEqual(['sensor-1', 'sensor-7']);
  });

  it('removes stale connections and serves the live ones', async () => {
    for (const id of ['live', 'stale-1', 'stale-2']) await open(id);
    env.api.gone.add('stale-1');
    env.api.gone.add('stale-2');
    // Connected long enough ago that a 410 means gone, not "handshake still running".
    for (const id of ['stale-1', 'stale-2']) await env.backdate(id, 60_000);

    expect(await forwardTelemetry(ruleOutput('sensor-1'), lambdaContext())).toEqual({
      delivered: 1,
      gone: 2,
      failed: 0,
    });
    expect((await env.items()).map((item) => item.connectionId)).toEqual(['live']);
  });

  describe('every payload arrives, in the shape the README documents', () => {
    it('a JSON object in data, as always', async () => {
      await expect(forwarded('{"temperature":21.5}')).resolves.toEqual({
        kind: 'object',
        size: 20,
        data: { temperature: 21.5 },
      });
    });

    it("plain text, as the seed's devices send it", async () => {
      await expect(forwarded('Hello, IoT, This is Mayuri')).resolves.toEqual({
        kind: 'text',
        size: 26,
        data: {},
        text: 'Hello, IoT, This is Mayuri',
      });
    });

    it('UTF-8 text keeps its characters', async () => {
      await expect(forwarded('température 21,5 °C')).resolves.toMatchObject({
        kind: 'text',
        size: Buffer.byteLength('température 21,5 °C'),
        text: 'température 21,5 °C',
      });
    });

    it('bytes that are not UTF-8, base64-encoded', async () => {
      const bytes = Buffer.from([0x00, 0xff, 0x10, 0xc3, 0x28]);
      await expect(forwarded(bytes)).resolves.toEqual({
        kind: 'binary',
        size: 5,
        data: {},
        base64: bytes.toString('base64'),
      });
    });

    it('valid UTF-8 with control characters is binary, not text', async () => {
      const bytes = Buffer.from([0x01, 0x02, 0x41]);
      await expect(forwarded(bytes)).resolves.toMatchObject({ kind: 'binary', base64: 'AQJB' });
    });

    it('an empty payload', async () => {
      await expect(forwarded('')).resolves.toEqual({ kind: 'empty', size: 0, data: {} });
    });

    it.each([
      ['an array', '[1,2,3]', [1, 2, 3]],
      ['a number', '42.5', 42.5],
      ['a string', '"on"', 'on'],
      ['a boolean', 'true', true],
      ['null', 'null', null],
    ])('any other JSON value: %s', async (_name, payload, value) => {
      await expect(forwarded(payload)).resolves.toEqual({
        kind: 'json',
        size: payload.length,
        data: {},
        value,
      });
    });

    it(`JSON nested within ${MAX_JSON_DEPTH} levels is unpacked`, async () => {
      const payload = '{"a":'.repeat(MAX_JSON_DEPTH - 1) + '[1]' + '}'.repeat(MAX_JSON_DEPTH - 1);
      await expect(forwarded(payload)).resolves.toMatchObject({ kind: 'object' });
    });

    it('JSON nested 10 000 levels arrives as text instead of overflowing the stack', async () => {
      const payload = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
      await expect(forwarded(payload)).resolves.toEqual({
        kind: 'text',
        size: payload.length,
        data: {},
        text: payload,
      });
    });

    it('an event of the earlier SQL (fields merged) still arrives as data', async () => {
      await open('viewer');
      await forwardTelemetry(
        { temperature: 3, topic: 'devices/old/telemetry', deviceId: 'old', receivedAt: 1 },
        lambdaContext(),
      );
      expect(env.api.framesFor('viewer')).toEqual([
        expect.objectContaining({ kind: 'object', data: { temperature: 3 } }),
      ]);
    });
  });

  describe("frames over API Gateway's 128 KB message limit", () => {
    it('the stand-in @connections API answers 413 PayloadTooLargeException, as API Gateway', async () => {
      const client = new ApiGatewayManagementApiClient({
        // The handlers' own credentials (tests/support/setup-env.ts): the stand-in checks SigV4.
        endpoint: env.api.endpoint,
        maxAttempts: 1,
      });
      const post = (bytes: number) =>
        client.send(
          new PostToConnectionCommand({ ConnectionId: 'c1', Data: Buffer.alloc(bytes, 0x61) }),
        );
      await expect(post(MESSAGE_PAYLOAD_MAX_BYTES)).resolves.toBeDefined();
      const refused = await post(MESSAGE_PAYLOAD_MAX_BYTES + 1).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PayloadTooLargeException);
      expect(refused).toMatchObject({ $metadata: { httpStatusCode: 413 } });
      client.destroy();
    });

    it('are replaced for every client by a tooLarge frame; the event succeeds and says so in the log', async () => {
      await open('a');
      await open('b');
      const warn = jest.spyOn(logger, 'warn');
      // A 100 KB binary payload: base64 makes it 133 KB, too large for one message.
      const bytes = Buffer.alloc(100 * 1024, 0xff);
      try {
        const report = await forwardTelemetry(ruleOutput('sensor-1', bytes), lambdaContext());
        expect(report).toEqual({ delivered: 2, gone: 0, failed: 0 });
        const notice = {
          type: 'telemetry',
          id: 'm-sensor-1',
          topic: 'devices/sensor-1/telemetry',
          deviceId: 'sensor-1',
          receivedAt: 1_767_225_600_000,
          kind: 'tooLarge',
          payloadKind: 'binary',
          size: bytes.length,
          frameSize: expect.any(Number),
          limit: MESSAGE_PAYLOAD_MAX_BYTES,
          data: {},
        };
        expect(env.api.framesFor('a')).toEqual([notice]);
        expect(env.api.framesFor('b')).toEqual([notice]);
        const [sent] = env.api.framesFor('a') as { frameSize: number }[];
        expect(sent!.frameSize).toBeGreaterThan(MESSAGE_PAYLOAD_MAX_BYTES);
        expect(env.api.tooLarge).toBe(0);
        expect(warn).toHaveBeenCalledWith(
          expect.stringContaining('over the WebSocket message limit'),
          expect.objectContaining({ id: 'm-sensor-1', topic: 'devices/sensor-1/telemetry' }),
        );
      } finally {
        warn.mockRestore();
      }
    });

    it('a frame just within the limit is sent whole', async () => {
      await open('a');
      // 96 KB of bytes: base64 is exactly 128 KB, so the frame's envelope tips it over; 95 KB fits.
      const bytes = Buffer.alloc(95 * 1024, 0xff);
      await forwardTelemetry(ruleOutput('sensor-1', bytes), lambdaContext());
      const [frame] = env.api.framesFor('a') as { kind: string; base64: string }[];
      expect(frame).toMatchObject({ kind: 'binary', base64: bytes.toString('base64') });
      expect(env.api.posts[0]!.body.length).toBeLessThanOrEqual(MESSAGE_PAYLOAD_MAX_BYTES);
    });
  });

  it('rejects an event without a device id so Lambda retries and dead-letters it', async () => {
    await expect(forwardTelemetry({ payload: '', receivedAt: 1 }, lambdaContext())).rejects.toThrow(
      /deviceId/,
    );
  });

  it('fans out to 1 200 connections with exactly BROADCAST_CONCURRENCY requests in flight at most', async () => {
    // 7, well under the SDK's own socket pool (50 sockets): only the broadcaster's bound can
    // hold the fan-out to it, and with 5 ms of latency per post it does reach it.
    const bound = 7;
    const ids = Array.from({ length: 1200 }, (_, i) => `bulk-${i}`);
    for (let i = 0; i < ids.length; i += 100) await Promise.all(ids.slice(i, i + 100).map(open));
    process.env.BROADCAST_CONCURRENCY = String(bound);
    resetLazyValues();
    env.api.latencyMs = 5;
    env.api.resetMaxInFlight();
    try {
      const report = await forwardTelemetry(ruleOutput('sensor-2'), lambdaContext());
      expect(report).toEqual({ delivered: 1200, gone: 0, failed: 0 });
    } finally {
      env.api.latencyMs = 0;
      delete process.env.BROADCAST_CONCURRENCY;
      resetLazyValues();
    }
    expect(new Set(env.api.posts.map((post) => post.connectionId)).size).toBe(1200);
    expect(env.api.maxInFlight()).toBe(bound);
  });
});

describe('the connection snapshot of a warm instance', () => {
  it('scans once, then reads only the change log, and sees a change at once', async () => {
    const { DynamoConnectionRepository } = await import('../../shared/connections/repository');
    const { ConnectionSnapshot } = await import('../../shared/connections/snapshot');
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.db.endpoint }));
    const repository = new DynamoConnectionRepository(client, 'telemetry-test-connections', 3600);
    const snapshot = new ConnectionSnapshot(repository, 60_000);

    const sent: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );

    await open('first');
    expect((await snapshot.current()).map((c) => c.connectionId)).toEqual(['first']);
    sent.length = 0;
    for (let i = 0; i < 5; i++) await snapshot.current();
    expect(snapshot.stats).toMatchObject({ scans: 1, catchUps: 5, refreshed: 0 });
    // Nothing changed: each catch-up is one read of the shards' counters, no Query of a shard.
    expect(sent).toEqual(Array(5).fill('BatchGetItemCommand'));
    sent.length = 0;

    await open('second');
    await subscribeTo('first', ['devices/sensor-1/telemetry']);
    expect(await snapshot.current()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ connectionId: 'second', topics: null }),
        expect.objectContaining({ connectionId: 'first', topics: ['devices/sensor-1/telemetry'] }),
      ]),
    );
    // The counters, then a Query of each shard that changed (one or two: two connections), then
    // the connections those entries name.
    const queries = sent.filter((name) => name === 'QueryCommand').length;
    expect(queries).toBeGreaterThanOrEqual(1);
    expect(queries).toBeLessThanOrEqual(2);
    expect(sent[0]).toBe('BatchGetItemCommand');
    await disconnect(webSocketEvent('second', '$disconnect'), lambdaContext());
    expect((await snapshot.current()).map((c) => c.connectionId)).toEqual(['first']);
    // No rescan: the three changes were read from the log, and only those connections again.
    expect(snapshot.stats).toMatchObject({ scans: 1, refreshed: 3 });
    client.destroy();
  });
});
