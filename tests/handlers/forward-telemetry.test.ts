import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as forwardTelemetry } from '../../handlers/forwardTelemetry';
import { handler as subscribe } from '../../handlers/subscribe';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(() => env.stop());

beforeEach(async () => {
  for (const item of await env.items()) {
    await disconnect(webSocketEvent(item.connectionId as string, '$disconnect'), lambdaContext());
  }
  env.api.posts.length = 0;
  env.api.gone.clear();
});

const open = (id: string) => connect(webSocketEvent(id, '$connect'), lambdaContext());
const subscribeTo = (id: string, topics: string[]) =>
  subscribe(
    webSocketEvent(id, 'subscribe', JSON.stringify({ action: 'subscribe', topics })),
    lambdaContext(),
  );

/** The event the topic rule's SQL produces for a reading from sensor-1. */
const ruleOutput = (deviceId: string) => ({
  temperature: 21.5,
  humidity: 40,
  topic: `devices/${deviceId}/telemetry`,
  deviceId,
  receivedAt: 1_767_225_600_000,
  messageId: `m-${deviceId}`,
});

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

  it('rejects an event without a device id so Lambda retries and dead-letters it', async () => {
    await expect(
      forwardTelemetry({ temperature: 1, receivedAt: 1 }, lambdaContext()),
    ).rejects.toThrow(/deviceId/);
  });

  it('fans out to 1 200 connections with at most BROADCAST_CONCURRENCY requests in flight', async () => {
    const ids = Array.from({ length: 1200 }, (_, i) => `bulk-${i}`);
    for (let i = 0; i < ids.length; i += 100) await Promise.all(ids.slice(i, i + 100).map(open));
    env.api.latencyMs = 5;
    const report = await forwardTelemetry(ruleOutput('sensor-2'), lambdaContext());
    env.api.latencyMs = 0;
    expect(report).toEqual({ delivered: 1200, gone: 0, failed: 0 });
    expect(new Set(env.api.posts.map((post) => post.connectionId)).size).toBe(1200);
    expect(env.api.maxInFlight()).toBeLessThanOrEqual(50);
    expect(env.api.maxInFlight()).toBeGreaterThan(1);
  });
});

describe('the connection snapshot of a warm instance', () => {
  it('reads one item per message while nothing changes, and sees a change at once', async () => {
    const { DynamoConnectionRepository } = await import('../../shared/connections/repository');
    const { ConnectionSnapshot } = await import('../../shared/connections/snapshot');
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.db.endpoint }));
    const repository = new DynamoConnectionRepository(client, 'telemetry-test-connections', 3600);
    let scans = 0;
    const counting = Object.assign(Object.create(repository) as typeof repository, {
      pages: () => {
        scans++;
        return repository.pages();
      },
    });
    const snapshot = new ConnectionSnapshot(counting, 60_000);

    await open('first');
    expect((await snapshot.current()).map((c) => c.connectionId)).toEqual(['first']);
    for (let i = 0; i < 5; i++) await snapshot.current();
    expect(scans).toBe(1);

    const before = await env.version();
    await open('second');
    expect(await env.version()).toBe(before + 1);
    expect((await snapshot.current()).map((c) => c.connectionId).sort()).toEqual([
      'first',
      'second',
    ]);
    expect(scans).toBe(2);
    client.destroy();
  });
});
