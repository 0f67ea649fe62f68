/**
 * The rate limit of every client action (shared/connections/rate-limit.ts and the connection
 * repository's takeToken, a GCRA token bucket in one attribute): a burst of 20, then 5 per second
 * (README, "WebSocket protocol"), exact under concurrent takes, and a warm instance that answers
 * refusals from memory. Against dynalite, as the handlers run offline.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionTables } from '../../local/dynamodb/connection-tables';
import { startLocalDynamoDb } from '../../local/dynamodb/server';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as unsubscribe } from '../../handlers/unsubscribe';
import { DynamoConnectionRepository } from '../../shared/connections/repository';
import { startDynamoFaultProxy } from '../support/dynamodb-fault-proxy';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { TEST_TABLE } from '../support/local-dynamodb';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(() => env.stop());

const call = async (
  route: typeof unsubscribe,
  connectionId: string,
  routeKey: string,
  body?: string,
) => route(webSocketEvent(connectionId, routeKey, body), lambdaContext(routeKey));
const frame = (response: { body?: string }) => JSON.parse(response.body ?? 'null');

async function clearTable() {
  for (const item of await env.items()) {
    await call(disconnect, item.connectionId as string, '$disconnect');
  }
}

/**
 * A repository whose DynamoDB client records the name of every command it sends, and may do
 * something of its own just before one is sent.
 */
function countingRepository(before?: (command: string) => Promise<void>) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.db.endpoint }));
  const requests: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(String(context.commandName));
      await before?.(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return { repository: new DynamoConnectionRepository(client, TEST_TABLE, 3600), requests };
}

describe('rate limit: burst of 20, then 5 per second (README), on every action', () => {
  beforeEach(clearTable);
  const bucket = { perSecond: 5, burst: 20 };
  const repository = () =>
    new DynamoConnectionRepository(
      DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.db.endpoint })),
      TEST_TABLE,
      3600,
    );

  it('gives exactly the burst to 30 concurrent takes at one instant, then refills 5 per second', async () => {
    await call(connect, 'busy', '$connect');
    const connections = repository();
    const t0 = 1_800_000_000_000;
    const results = await Promise.all(
      Array.from({ length: 30 }, () => connections.takeToken('busy', bucket, t0)),
    );
    expect(results.filter((result) => result.allowed)).toHaveLength(20);
    expect(await connections.takeToken('busy', bucket, t0)).toEqual({
      allowed: false,
      retryAfterMs: 200,
    });
    // One token 200 ms later, and only one.
    expect(await connections.takeToken('busy', bucket, t0 + 200)).toEqual({ allowed: true });
    expect(await connections.takeToken('busy', bucket, t0 + 200)).toMatchObject({ allowed: false });
    // An idle second later: five more.
    const later = await Promise.all(
      Array.from({ length: 8 }, () => connections.takeToken('busy', bucket, t0 + 1200)),
    );
    expect(later.filter((result) => result.allowed)).toHaveLength(5);
  });

  it('answers RATE_LIMITED past the burst and the connection stays usable', async () => {
    await call(connect, 'steady', '$connect');
    const body = '{"action":"unsubscribe","topics":["x/y"]}';
    let allowed = 0;
    let refused: { code?: string; details: { retryAfterMs: number } } | undefined;
    // Until the first refusal (bounded): at least the burst of 20 goes through first.
    for (let i = 0; i < 100 && !refused; i++) {
      const answer = frame(await call(unsubscribe, 'steady', 'unsubscribe', body));
      if (answer.type === 'unsubscribed') allowed++;
      else refused = answer;
    }
    expect(allowed).toBeGreaterThanOrEqual(20);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED' });
    const retryAfterMs = refused?.details.retryAfterMs ?? Number.NaN;
    expect(retryAfterMs).toBeLessThanOrEqual(200);
    // Usable after its retry-after (plus the millisecond rounding of the answer): the bucket
    // refilled, the connection is still registered.
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs + 5));
    expect(frame(await call(unsubscribe, 'steady', 'unsubscribe', body)).type).toBe('unsubscribed');
  });

  it('counts frames by when they arrived, not by when their invocation ran', async () => {
    await call(connect, 'queued', '$connect');
    const body = '{"action":"unsubscribe","topics":["x/y"]}';
    // requestTimeEpoch is when API Gateway received the frame ("WebSocket API mapping template
    // reference for API Gateway", $context.requestTimeEpoch).
    // 21 frames that reached API Gateway at once, whose invocations queued: by the time they run,
    // more than one refill interval (200 ms) has passed. The bucket still sees a burst of 21.
    const events = Array.from({ length: 21 }, () => webSocketEvent('queued', 'unsubscribe', body));
    const arrived = Date.now() - 1_000;
    for (const event of events) event.requestContext.requestTimeEpoch = arrived;
    const answers = [];
    for (const event of events) answers.push(frame(await unsubscribe(event, lambdaContext())));
    expect(answers.slice(0, 20).map((answer) => answer.type)).toEqual(
      Array(20).fill('unsubscribed'),
    );
    expect(answers[20]).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    // A frame arriving now finds the refill of the second since.
    expect(frame(await call(unsubscribe, 'queued', 'unsubscribe', body)).type).toBe('unsubscribed');
  });

  it('a warm instance refuses an over-limit take without a DynamoDB call, and only while it must', async () => {
    await call(connect, 'flooder', '$connect');
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.db.endpoint }));
    const requests: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        requests.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const warm = new DynamoConnectionRepository(client, TEST_TABLE, 3600);
    const t0 = 1_800_000_000_000;
    for (let i = 0; i < 20; i++)
      expect(await warm.takeToken('flooder', bucket, t0)).toEqual({ allowed: true });
    // The first refusal reads the stored schedule; the next ones are answered from memory.
    expect(await warm.takeToken('flooder', bucket, t0)).toEqual({
      allowed: false,
      retryAfterMs: 200,
    });
    requests.length = 0;
    expect(await warm.takeToken('flooder', bucket, t0 + 50)).toEqual({
      allowed: false,
      retryAfterMs: 150,
    });
    expect(requests).toEqual([]);
    // Another instance took nothing meanwhile: at the retry-after the stored schedule allows one.
    expect(await warm.takeToken('flooder', bucket, t0 + 200)).toEqual({ allowed: true });
    expect(requests.length).toBeGreaterThan(0);
    // What the memory refuses, the table refuses too (a cold instance agrees).
    expect(await repository().takeToken('flooder', bucket, t0 + 200)).toMatchObject({
      allowed: false,
    });
    expect(await warm.takeToken('flooder', bucket, t0 + 200)).toMatchObject({ allowed: false });
  });

  it('an unregistered connection is not metered as allowed', async () => {
    expect(await repository().takeToken('nobody', bucket, Date.now())).toEqual({
      allowed: false,
      unregistered: true,
    });
  });
  it('a warm instance refuses the take after the burst from what it remembers, without a call', async () => {
    await call(connect, 'flooder', '$connect');
    const { repository: warm, requests } = countingRepository();
    const t0 = 1_800_000_000_000;
    for (let i = 0; i < 20; i++) await warm.takeToken('flooder', bucket, t0);
    requests.length = 0;
    // The 20th take set the schedule 4 s ahead: a burst (3.8 s) and one interval past now.
    expect(await warm.takeToken('flooder', bucket, t0)).toEqual({
      allowed: false,
      retryAfterMs: 200,
    });
    expect(requests).toEqual([]);
  });

  it('with a burst of one, the take after a fresh start is refused from memory', async () => {
    await call(connect, 'single', '$connect');
    const { repository: warm, requests } = countingRepository();
    const single = { perSecond: 5, burst: 1 };
    const t0 = 1_800_000_000_000;
    expect(await warm.takeToken('single', single, t0)).toEqual({ allowed: true });
    requests.length = 0;
    expect(await warm.takeToken('single', single, t0 + 50)).toEqual({
      allowed: false,
      retryAfterMs: 150,
    });
    expect(requests).toEqual([]);
  });

  it('remembers each connection apart: a second connection does not make it forget the first', async () => {
    for (const id of ['first', 'second']) await call(connect, id, '$connect');
    const { repository: warm, requests } = countingRepository();
    const t0 = 1_800_000_000_000;
    for (let i = 0; i < 20; i++) await warm.takeToken('first', bucket, t0);
    expect(await warm.takeToken('second', bucket, t0)).toEqual({ allowed: true });
    requests.length = 0;
    expect(await warm.takeToken('first', bucket, t0)).toMatchObject({ allowed: false });
    expect(requests).toEqual([]);
  });

  it('a route over the limit answers RATE_LIMITED with the action and when to retry, and does nothing', async () => {
    await call(connect, 'ahead', '$connect');
    // Another instance used the whole burst 10 s from now: the schedule is 14 s ahead.
    const start = Date.now();
    for (let i = 0; i < 20; i++) await repository().takeToken('ahead', bucket, start + 10_000);
    const [before] = await env.items();
    const response = await call(
      unsubscribe,
      'ahead',
      'unsubscribe',
      '{"action":"unsubscribe","topics":["x/y"]}',
    );
    const end = Date.now();
    expect(response.statusCode).toBe(429);
    const answer = frame(response);
    expect(answer).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    // The schedule less the burst's 3.8 s, from the moment of the take (between start and end).
    const retryAfterMs = answer.details.retryAfterMs as number;
    expect(retryAfterMs).toBeLessThanOrEqual(10_200);
    expect(retryAfterMs).toBeGreaterThanOrEqual(10_200 - (end - start));
    expect(answer.message).toBe(`Too many unsubscribe requests; retry in ${retryAfterMs} ms`);
    expect(await env.items()).toEqual([before]);
  });
  it('a route within the limit acts; on a connection the backend does not know it answers NOT_REGISTERED', async () => {
    await call(connect, 'known', '$connect');
    const body = '{"action":"unsubscribe","topics":["x/y"]}';
    expect(frame(await call(unsubscribe, 'known', 'unsubscribe', body)).type).toBe('unsubscribed');
    const response = await call(unsubscribe, 'stranger', 'unsubscribe', body);
    expect(response.statusCode).toBe(410);
    expect(frame(response)).toMatchObject({ type: 'error', code: 'NOT_REGISTERED' });
    expect((await env.items()).map((item) => item.connectionId)).toEqual(['known']);
  });

  // A schedule read as "now" is not over the limit, whatever the burst (one: at the limit's edge;
  // two: a token to spare), so the take is tried again.
  it.each([1, 2])(
    'a take that races its connection’s $connect write (the item lands between its updates) is allowed (burst %i)',
    async (burst) => {
      let raced = false;
      const id = `late-${burst}`;
      const { repository: racing } = countingRepository(async (command) => {
        // Just before the read that explains a refusal: the $connect's item is written now.
        if (command === 'GetItemCommand' && !raced) {
          raced = true;
          await call(connect, id, '$connect');
        }
      });
      expect(await racing.takeToken(id, { perSecond: 5, burst }, Date.now())).toEqual({
        allowed: true,
      });
      expect(raced).toBe(true);
    },
  );

  it('a DynamoDB error other than a failed condition fails the take instead of refusing it', async () => {
    await call(connect, 'throttled', '$connect');
    const proxy = await startDynamoFaultProxy(env.db.endpoint);
    try {
      // No SDK retries: the throttled update is the take's answer.
      const client = DynamoDBDocumentClient.from(
        new DynamoDBClient({ endpoint: proxy.endpoint, maxAttempts: 1 }),
      );
      const throttled = new DynamoConnectionRepository(client, TEST_TABLE, 3600);
      proxy.throttleNext(1);
      await expect(throttled.takeToken('throttled', bucket, Date.now())).rejects.toMatchObject({
        name: 'ProvisionedThroughputExceededException',
      });
      expect(proxy.throttled).toBe(1);
      client.destroy();
    } finally {
      await proxy.close();
    }
  });
});

describe('rate limit on a table whose eventually consistent reads lag (as DynamoDB may)', () => {
  it('explains a refusal from a consistent read: a connection just written is limited, not unknown', async () => {
    // Eventually consistent reads see the table as it was 3 s ago: before the save.
    const lagging = await startLocalDynamoDb({
      host: '127.0.0.1',
      port: 0,
      resources: connectionTables(TEST_TABLE),
      eventualConsistencyMs: 3_000,
    });
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: lagging.endpoint }));
    try {
      const single = { perSecond: 5, burst: 1 };
      const t0 = 1_800_000_000_000;
      await new DynamoConnectionRepository(client, TEST_TABLE, 3600).save({
        connectionId: 'fresh',
        connectedAt: Date.now(),
      });
      const first = new DynamoConnectionRepository(client, TEST_TABLE, 3600);
      expect(await first.takeToken('fresh', single, t0)).toEqual({ allowed: true });
      // Another (cold) instance: no memory, so the refusal is read from the table.
      const cold = new DynamoConnectionRepository(client, TEST_TABLE, 3600);
      expect(await cold.takeToken('fresh', single, t0 + 50)).toEqual({
        allowed: false,
        retryAfterMs: 150,
      });
    } finally {
      client.destroy();
      await lagging.stop();
    }
  });
});
