/**
 * Faults on the way from forwardTelemetry to the clients, against the real twins (dynalite, an
 * HTTP @connections server). Each test prints sent / delivered / duplicated / lost.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as forwardTelemetry } from '../../handlers/forwardTelemetry';
import { PartialDeliveryError } from '../../shared/errors';
import { resetLazyValues } from '../../shared/runtime/lazy';
import { startDynamoFaultProxy, type DynamoFaultProxy } from '../support/dynamodb-fault-proxy';
import { printReport, tally } from '../support/fault-report';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
let proxy: DynamoFaultProxy;

beforeAll(async () => {
  // Reads without ConsistentRead see the table of 250 ms ago, as DynamoDB's may (issue 12).
  process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS = '250';
  env = await startHandlerEnv();
  delete process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS;
  proxy = await startDynamoFaultProxy(env.db.endpoint);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;
  resetLazyValues();
});
afterAll(async () => {
  await proxy.close();
  await env.stop();
});

beforeEach(async () => {
  for (const item of await env.items()) {
    await disconnect(webSocketEvent(item.connectionId as string, '$disconnect'), lambdaContext());
  }
  env.api.posts.length = 0;
  env.api.gone.clear();
  env.api.outage = undefined;
});

const reading = (i: number) => ({
  deviceId: 'sensor-1',
  receivedAt: 1_767_225_600_000 + i,
  topic: 'devices/sensor-1/telemetry',
  messageId: `message-${i}`,
  seq: i,
});
const ids = (count: number) => Array.from({ length: count }, (_, i) => `message-${i}`);
const idsReceivedBy = (connectionId: string) =>
  env.api.framesFor(connectionId).map((frame) => (frame as { id: string }).id);

async function openConnections(count: number, prefix: string): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await Promise.all(names.map((id) => connect(webSocketEvent(id, '$connect'), lambdaContext())));
  return names;
}

/** Forwards each message as Lambda's async invoke would: retried (twice) when it throws. */
async function forwardWithLambdaRetries(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await forwardTelemetry(reading(i), lambdaContext());
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
  }
}

describe('fault injection', () => {
  it('10 % of connections are stale (410): all removed, every live client served', async () => {
    const live = await openConnections(45, 'live');
    const stale = await openConnections(5, 'stale');
    stale.forEach((id) => env.api.gone.add(id));
    // Connected long ago: their 410 means gone, not a handshake still in progress.
    for (const id of stale) await env.backdate(id, 60_000);

    await forwardWithLambdaRetries(10);

    const reports = live.map((id) => tally(ids(10), idsReceivedBy(id)));
    const total = reports.reduce(
      (sum, r) => ({
        sent: sum.sent + r.sent,
        delivered: sum.delivered + r.delivered,
        duplicated: sum.duplicated + r.duplicated,
        lost: sum.lost + r.lost,
      }),
      { sent: 0, delivered: 0, duplicated: 0, lost: 0 },
    );
    printReport('10% stale connections', total);
    expect(total.lost).toBe(0);
    expect(total.delivered).toBe(450);
    const remaining = (await env.items()).map((item) => item.connectionId as string);
    expect(remaining.sort()).toEqual([...live].sort());
  });

  it('the management API answers 429 and 500 for a stretch: every message delivered', async () => {
    const clients = await openConnections(10, 'client');
    // 429 for the next 15 requests, then 500 for 15 more: a stretch of failures that the
    // broadcaster's jittered retries ride out.
    const startRequests = env.api.requests;
    env.api.failNext([...Array(15).fill(429), ...Array(15).fill(500)]);
    await forwardWithLambdaRetries(5);

    for (const id of clients) {
      const report = tally(ids(5), idsReceivedBy(id));
      expect(report.lost).toBe(0);
    }
    printReport('management API 429/500 stretch', tally(ids(5), idsReceivedBy('client-0')));
    expect(env.api.requests - startRequests).toBe(50 + 30);
  });

  // The handler keeps 1 s of the Lambda's remaining time in hand: with 2.5 s left, the
  // broadcast's deadline is 1.5 s away, and nothing may run past it.
  const DEADLINE_MS = 1_500;
  const SLACK_MS = 150;
  const shortContext = () => ({ ...lambdaContext(), getRemainingTimeInMillis: () => 2_500 });

  it('a management API that stays down fails the event loudly, by the deadline, so Lambda retries and dead-letters it', async () => {
    await openConnections(3, 'down');
    env.api.outage = 500;
    // 400 ms per answer: six tries (the retry policy's most) with their backoff take > 2.4 s,
    // so only the deadline check can end this by 1.5 s.
    env.api.latencyMs = 400;
    const started = Date.now();
    try {
      await expect(forwardTelemetry(reading(0), shortContext())).rejects.toBeInstanceOf(
        PartialDeliveryError,
      );
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS + SLACK_MS);
    } finally {
      env.api.outage = undefined;
      env.api.latencyMs = 0;
    }
  });

  it.each(['hang', 'reset'] as const)(
    'a management API whose posts %s: the event fails by the deadline, not at the Lambda timeout',
    async (fault) => {
      await openConnections(3, fault);
      env.api.fault = fault;
      const started = Date.now();
      try {
        await expect(forwardTelemetry(reading(0), shortContext())).rejects.toBeInstanceOf(
          PartialDeliveryError,
        );
        const elapsed = Date.now() - started;
        console.log(`fault "${fault}": the event failed after ${elapsed} ms`);
        expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
        // A hung post is given up on at the deadline, not earlier (nothing else ends it).
        if (fault === 'hang') expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - SLACK_MS);
      } finally {
        env.api.fault = undefined;
      }
    },
  );

  it('DynamoDB throttles reads: the SDK backs off and every message is delivered', async () => {
    const clients = await openConnections(5, 'throttled');
    proxy.throttled = 0;
    proxy.throttleNext(2);
    await forwardWithLambdaRetries(5);
    expect(proxy.throttled).toBe(2);
    const report = tally(ids(5), idsReceivedBy(clients[0]!));
    printReport('DynamoDB throttling', report);
    for (const id of clients) expect(tally(ids(5), idsReceivedBy(id)).lost).toBe(0);
  });
});
